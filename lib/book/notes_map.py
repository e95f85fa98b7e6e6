"""A map from the five Chinese study notes to the book: each section, the chapters that cover it, what is to come.

The book follows five study notes (``../shared/seeds/`` beside the repository).
Each row names a section of a note by its heading, exactly as the note writes it
(markup such as ``**`` and ``<span>`` dropped), and optionally a ``part``: a bold
label inside that section where the note's real subdivisions are not headings
(the four steps of the formula, the survey's families). Targets are (chapter,
anchor) pairs as in :mod:`lib.book.glossary`: written chapters link, the rest say
"coming", and a section the book's plan leaves out says so. ``tests/test_glossary.py``
checks that every heading of every note has a row and every row's heading and
part are in the note, so the map follows the notes.
"""

from __future__ import annotations

import html
import re
from typing import NamedTuple

from lib.book.glossary import chapter_title, links_html, rich
from lib.book.plan import ROOT, available

#: Where the notes live: beside the repository, as the issues cite them (``../shared/seeds/``).
NOTES_DIR = ROOT.parent / "shared" / "seeds"

#: Note file -> what it is, in English.
NOTES: dict[str, str] = {
    "000_a42692cf62849145.txt": "Note 000: signal processing (Euler's formula, the Fourier transform) and pruning",
    "001_fad2eb34e906bccb.txt": "Note 001: fast processing of CNNs (FFT, structured transforms, low precision, "
                                "weight compression)",
    "002_09bea8144f78c03d.txt": "Note 002: a weekly reading log of a compression survey",
    "003_07d0de87c3b0ce3f.txt": "Note 003: machine-learning basics, then quantisation, pruning, distillation, NAS",
    "004_6e822158d798b2d8.txt": "Note 004: a compression survey, and compressing seismic phase pickers",
}


class Row(NamedTuple):
    """One section of a note and where the book covers it.

    ``content=False`` marks navigation, a plan or an empty heading: nothing to cover.
    """

    note: str
    heading: str
    part: str | None
    english: str
    targets: tuple[tuple[str, str | None], ...]
    remark: str = ""
    content: bool = True


R = Row
N0, N1, N2, N3, N4 = sorted(NOTES)
PART1 = (("euler_rotation", None), ("exponentials", None), ("winding_machine", None),
         ("fourier_formula", None), ("fft", None))

MAP: list[Row] = [
    # --- note 000
    R(N0, "1. 信号处理", None, "Signal processing", PART1, "Part I follows this half of the note in order."),
    R(N0, "1.1. 傅里叶变换", None, "The Fourier transform", PART1),
    R(N0, "1.1.1. 欧拉公式与旋转", None, "Euler's formula and rotation",
      (("euler_rotation", "sliding-and-turning-in-the-plane"),
       ("euler_rotation", "the-exponential-the-bridge-from-sliding-to-turning")),
      "i as a quarter turn; e^{πi} = −1 as half a turn; the Taylor series carried onto the unit circle."),
    R(N0, "1.1.1.1. 对称性 symmetry", None, "Symmetry",
      (("euler_rotation", "symmetry-what-you-can-do-to-a-shape-and-leave-it-looking-the-same"),
       ("euler_rotation", "numbers-as-actions")),
      "The square's eight symmetries, the rotation group, numbers as slides and stretches."),
    R(N0, "1.1.2. 指数函数 Exponentiation", None, "Exponentiation",
      (("exponentials", "adding-inputs-multiplies-outputs"), ("exponentials", "sliding-in-the-complex-plane")),
      "aˣ⁺ʸ = aˣaʸ; real slides stretch, imaginary slides turn."),
    R(N0, "1.1.3. 傅里叶变换", None, "The Fourier transform",
      (("winding_machine", None), ("fft", "the-dft-by-its-definition"), ("fft", "the-inverse-transform"),
       ("inverse_filtering", None)),
      "The DFT and the FFT are in the FFT chapter; the inverse, linearity and filtering (with sound) in "
      "'Running the machine backwards'; the Laplace, wavelet and z-transforms the note lists are not in "
      "the book's plan."),
    R(N0, "1.1.3.1. [ 声音的表示 ]", None, "Representing sound",
      (("winding_machine", "sound-is-air-pressure"),), "A (440 Hz) and D (294 Hz), and their sum."),
    R(N0, "1.1.3.2. [ 可视化方法 ]", None, "The picture",
      (("winding_machine", "winding-a-signal-around-the-origin"), ("winding_machine", "two-notes-at-once")),
      "The chapter winds the note's 3-beats-per-second signal at any frequency on a slider; the note "
      "shows 0.79, 1.55 and 3 turns per second."),
    R(N0, "1.1.3.2. [ 可视化方法 ]", "绕圈记录法：同一事物的不同角度", "Winding: another view of the same signal",
      (("winding_machine", "winding-a-signal-around-the-origin"),)),
    R(N0, "1.1.3.2. [ 可视化方法 ]", "质心记录法：新维度的特征提取", "The centre of mass as the feature",
      (("winding_machine", "the-centre-of-mass-is-the-feature"),),
      "The centre of mass against winding frequency: the almost-Fourier transform."),
    R(N0, "1.1.3.3. [ 公式表示 ]", None, "The formula",
      (("fourier_formula", "the-formula-step-by-step"),), "The almost-Fourier transform, written step by step."),
    R(N0, "1.1.3.3. [ 公式表示 ]", "第一步：旋转的表示", "Step 1: the rotation",
      (("fourier_formula", "step-1-the-rotation"),), "e^{2πift} turns f times a second (the note's example: f = 1/10)."),
    R(N0, "1.1.3.3. [ 公式表示 ]", "第二步：缠绕的表示", "Step 2: the winding",
      (("fourier_formula", "step-2-wind-the-signal"),), "Clockwise by convention: g(t) e^{−2πift}."),
    R(N0, "1.1.3.3. [ 公式表示 ]", "第三步：质心的表示", "Step 3: the centre of mass",
      (("fourier_formula", "step-3-the-centre-of-mass"),), "The note starts from a square's sample points, the chapter from an average of samples; both end "
      "at the integral."),
    R(N0, "1.1.3.3. [ 公式表示 ]", "最终步：整理积分限和系数", "Last step: the limits and the factor",
      (("fourier_formula", "step-4-drop-the-1-t2-t1"),), "Dropping 1/(t₂ − t₁); integrating over all time."),
    R(N0, "1.1.3.4. [ 相位 ]", None, "Phase",
      (("fourier_formula", "real-and-imaginary-parts"), ("fourier_formula", "phase-is-the-angle-of-the-centre-of-mass")),
      "Real and imaginary parts; the angle of the centre of mass is the phase."),
    R(N0, "1.1.3.5. [ 原信号的长度 ]", None, "Signal length",
      (("fourier_formula", "signal-length-sets-the-sharpness"),),
      "A longer signal narrows the peak and packs its side lobes closer: the note's \"denser\" (更加密集)."),
    R(N0, "2. 模型压缩", None, "Model compression", (("why_compress", None),), "Part II."),
    R(N0, "2.1. 网络剪枝", None, "Network pruning",
      (("magnitude_pruning", "the-recipe"), ("magnitude_pruning", "storing-a-sparse-matrix"),
       ("pruning_criteria", "training-a-network-to-be-pruned"), ("pruning_criteria", "six-ways-to-score-a-channel")),
      "Deep Compression's prune and retrain loop, CSR/CSC, Network Slimming and its four gaps, Gate Decorator, "
      "FPGM. Gate Decorator's grouping of residual channels is not covered."),
    # --- note 001
    R(N1, "Fast Processing of CNNs", None, "Fast processing of CNNs", (("why_compress", "the-map-of-methods"),),
      "The note summarises a survey's chapter on speeding up CNNs."),
    R(N1, "FFT", None, "FFT convolution and Winograd",
      (("fft", "the-convolution-theorem-multiplying-polynomials-fast"),
       ("fast_convolution", "from-the-convolution-theorem-to-a-convolution-layer"),
       ("fast_convolution", "winograd-fewer-multiplications-for-small-tiles")),
      "Mathieu et al.'s three savings and what the transformed kernels cost in memory; Winograd's "
      "minimal filtering for small kernels; both measured."),
    R(N1, "Structured Transforms", None, "Low rank and structured transforms",
      (("low_rank", "a-layer-as-a-product-of-two-thin-matrices"), ("low_rank", "tensor-train"),
       ("structured_matrices", "one-vector-a-whole-matrix-circulant-layers"),
       ("structured_matrices", "fastfood-hadamard-gaussian-permutation-hadamard"),
       ("structured_matrices", "acdc-diagonal-cosine-transform-diagonal-inverse")),
      "Low-rank factors and their compression ratio, SVD, tensor train; Adaptive Fastfood, circulant "
      "and ACDC layers, and the width from which they are faster."),
    R(N1, "Low Precision", None, "Low precision", (("binary_networks", None),),
      "BNN, XNOR-Net and DoReFa-Net; full and partial binarisation. The note's FPGA area figures are not "
      "discussed."),
    R(N1, "Weight Compression", None, "Weight compression",
      (("weight_sharing", None), ("magnitude_pruning", None), ("hashing", None)),
      "Vector quantisation, pruning and hashing."),
    R(N1, "Vector Quantization(VQ)", None, "Vector quantisation",
      (("weight_sharing", "k-means-as-a-quantiser"),
       ("weight_sharing", "clustering-vectors-product-and-residual-quantisation")),
      "Scalar k-means, product and residual quantisation; HORQ is not in the plan."),
    R(N1, "Pruning 剪枝", None, "Pruning",
      (("magnitude_pruning", "the-recipe"), ("magnitude_pruning", "pruned-weights-may-come-back-dynamic-network-surgery"),
       ("pruning_criteria", "six-ways-to-score-a-channel")),
      "Magnitude pruning, weights that come back, filters that output zeros (APoZ). Energy-aware pruning "
      "and merging similar filters are not in the plan."),
    R(N1, "Hash", None, "Hashing", (("hashing", None),), "HashedNets, and hashing with pruning."),
    R(N1, "Sparse Convolution", None, "Sparse convolution",
      (("pruning_criteria", "training-a-network-to-be-pruned"), ("pruning_speed", "three-ways-to-run-a-pruned-network"),
       ("hashing", None)),
      "SSL in the criteria chapter, sparse kernels measured, LCNN in the hashing chapter; the sparse "
      "decomposition of kernels the note cites first is not in the plan."),
    # --- note 002
    R(N2, "快速跳转", None, "Quick links", (), "Links to the two weeks.", False),
    R(N2, "20190502-20190508", None, "Week of 2 May 2019", (), "The log's first week; its reading follows.", False),
    R(N2, "周计划", None, "Plan for the week", (),
      "A course report, retraining AlphaPose, compression papers.", False),
    R(N2, "周总结", None, "Summary of the week", (), "What was read and done.", False),
    R(N2, "1. A Survey of Model Compression and Acceleration for Deep Neural Networks，2017 CVPR", None,
      "Cheng et al.'s survey", (("why_compress", "the-map-of-methods"),),
      "The survey's families organise Part II."),
    R(N2, "1. A Survey of Model Compression and Acceleration for Deep Neural Networks，2017 CVPR",
      "Parameter pruning and sharing", "Parameter pruning and sharing", (("why_compress", "the-map-of-methods"),)),
    R(N2, "1. A Survey of Model Compression and Acceleration for Deep Neural Networks，2017 CVPR",
      "Quantization and binarization", "Quantisation and binarisation",
      (("low_rank", "a-layer-as-a-product-of-two-thin-matrices"), ("weight_sharing", "k-means-as-a-quantiser"),
       ("weight_sharing", "clustering-vectors-product-and-residual-quantisation"),
       ("weight_sharing", "hessian-weighted-k-means"), ("binary_networks", None)),
      "Gong et al.'s comparison: SVD (low-rank chapter), binarisation, k-means and product "
      "quantisation; Hessian-weighted k-means; the loss-aware binarisation the note cites is not in the plan."),
    R(N2, "1. A Survey of Model Compression and Acceleration for Deep Neural Networks，2017 CVPR",
      "Pruning and Sharing", "Pruning and sharing",
      (("magnitude_pruning", None), ("pruning_criteria", "second-order-information-optimal-brain-damage"),
       ("pruning_criteria", "training-a-network-to-be-pruned")),
      "OBD and OBS, pruning a pre-trained model, sparsity constraints (group sparsity); biased weight "
      "decay and soft weight-sharing are not in the plan."),
    R(N2, "1. A Survey of Model Compression and Acceleration for Deep Neural Networks，2017 CVPR",
      "Designing Structural matrix", "Structured matrices", (("structured_matrices", None),)),
    R(N2, "模型压缩总览阅读", None, "An overview of model compression",
      (("why_compress", "the-map-of-methods"),),
      "Low rank, pruning, quantisation, distillation and compact design."),
    R(N2, "模型压缩总览阅读", "Low-rank", "Low rank", (("low_rank", "a-layer-as-a-product-of-two-thin-matrices"),)),
    R(N2, "模型压缩总览阅读", "Tensor分解", "Tensor decompositions",
      (("low_rank", "cp-a-kernel-as-a-sum-of-rank-one-terms"),
       ("low_rank", "tucker-a-core-between-two-11-convolutions"), ("low_rank", "tensor-train"),
       ("low_rank", "block-terms-and-five-decompositions-on-one-kernel")), "CP, Tucker, tensor train, BTD."),
    R(N2, "模型压缩总览阅读", "为什么low-rank不再流行", "Why low rank went out of fashion",
      (("low_rank", "why-low-rank-faded-measured"),), "Four reasons, measured; the note's (1 × 1 convolutions, cheap bottlenecks, depthwise and group "
      "convolutions) are the second: such networks are already low-rank."),
    R(N2, "模型压缩总览阅读", "Structured pruning", "Structured pruning",
      (("pruning_criteria", "training-a-network-to-be-pruned"), ("pruning_speed", "network-slimming-measured")),
      "On weights: group sparsity (exclusive sparsity is not in the plan); on feature maps: Network Slimming."),
    R(N2, "模型压缩总览阅读", "Filter Pruning", "Filter, gradient and Bayesian pruning",
      (("pruning_granularity", "removing-channels-for-real"),),
      "Headings only in the note; gradient pruning and Bayesian pruning are not in the plan."),
    R(N2, "20190509-201905015", None, "Week of 9 May 2019", (),
      "AlphaPose retraining and PyTorch notes (one-hot labels, standardisation, style losses): outside the "
      "book.", False),
    # --- note 003
    R(N3, "神经网络与深度学习", None, "Neural networks and deep learning", (),
      "A textbook's outline; the book assumes these basics (see the glossary's last group)."),
    R(N3, "机器学习基础", None, "Machine-learning basics", (), "Assumed, not taught."),
    R(N3, "绪论", None, "Introduction", (), "Credit assignment, neural networks, the fields of AI."),
    R(N3, "机器学习概述", None, "Machine learning overview", (), "Symbolism and connectionism."),
    R(N3, "机器学习", None, "Machine learning", (), "Feature extraction and engineering, SIFT, PCA, LDA."),
    R(N3, "表示学习", None, "Representation learning", (), "One-hot and distributed representations, embeddings."),
    *[R(N3, h, None, en, (), "Heading only: empty in the note.", False) for h, en in [
        ("线性模型", "Linear models"), ("基础模型", "Basic models"),
        ("前馈神经网络", "Feed-forward networks"), ("卷积神经网络", "Convolutional networks"),
        ("循环神经网络", "Recurrent networks"), ("网络优化与正则化", "Optimisation and regularisation"),
        ("注意力机制与外部记忆", "Attention and external memory"), ("无监督学习", "Unsupervised learning"),
        ("模型独立的学习方式", "Model-independent learning"), ("进阶模型", "Advanced models"),
        ("概率图模型", "Probabilistic graphical models"), ("深度信念网络", "Deep belief networks"),
        ("深度生成模型", "Deep generative models"), ("深度强化学习", "Deep reinforcement learning"),
        ("序列生成模型", "Sequence generation models")]],
    R(N3, "模型压缩", None, "Model compression", (("why_compress", None),)),
    R(N3, "量化", None, "Quantisation", (("linear_quantization", None), ("quantization_speed", None)),
      "Low-bit fixed point, and the accuracy lost at 4 and 2 bits."),
    R(N3, "压缩参数", None, "Compressing parameters", (("weight_sharing", "k-means-as-a-quantiser"),),
      "Han et al.'s k-means weight sharing."),
    R(N3, "提升速度", None, "Speeding up",
      (("quantization_speed", "peak-operations-per-cycle-clock"), ("quantization_speed", "the-two-conditions"),
       ("quantization_speed", "powers-of-two"), ("binary_networks", "is-it-faster-here")),
      "Theoretical peak; the two conditions; binary, linear and logarithmic quantisation (Ristretto is not "
      "in the plan)."),
    R(N3, "降低内存", None, "Reducing memory",
      (("linear_quantization", "quantising-activations-too"), ("pruning_speed", "where-memory-goes")),
      "Activations, not weights, dominate runtime memory at large batch sizes."),
    R(N3, "剪枝", None, "Pruning",
      (("pruning_granularity", "four-units-of-a-convolution"), ("magnitude_pruning", "the-recipe")),
      "Four granularities; train, rank, remove, fine-tune, iterate."),
    R(N3, "知识蒸馏", None, "Knowledge distillation", (("distillation", None),), "Empty in the note."),
    R(N3, "Neural Architecture Search(NAS)", None, "Neural architecture search", (("nas", None),),
      "Empty in the note."),
    R(N3, "参考资料", None, "References", (), "The note's sources.", False),
    # --- note 004
    R(N4, "神经网络压缩调研", None, "A survey of network compression", (("why_compress", None),)),
    R(N4, "背景", None, "Background", (("magnitude_pruning", "why-train-big-then-prune"),),
      "Small models fit small devices, but a good small network is hard to train directly."),
    R(N4, "现有的深度模型压缩方法", None, "Existing compression methods",
      (("why_compress", "the-map-of-methods"), ("combining", None)), "Four families, and which combine."),
    R(N4, "NetWork Prunning 网络剪枝", None, "Network pruning",
      (("magnitude_pruning", "the-recipe"), ("pruning_granularity", "removing-channels-for-real"),
       ("pruning_criteria", "six-ways-to-score-a-channel")),
      "Weight against neuron pruning; a neuron's importance by how often it outputs zero; the life-long "
      "learning idea is not in the plan."),
    R(N4, "设计结构化矩阵", None, "Structured matrices", (("structured_matrices", None),),
      "Fewer than mn parameters against the bias a structure imposes; the chapter measures when such "
      "layers are faster."),
    R(N4, "知识蒸馏", None, "Knowledge distillation", (("distillation", None),),
      "Teacher and student, ensembles, temperature."),
    R(N4, "权值共享", None, "Weight sharing across layers", (("hashing", None),),
      "ALBERT: twelve layers, one set of parameters; storage falls, compute does not."),
    R(N4, "Parameter Quantization（参数量化）", None, "Parameter quantisation",
      (("linear_quantization", None), ("weight_sharing", "k-means-as-a-quantiser"),
       ("huffman", "variable-length-codes")), "Fewer bits, weight clustering, Huffman coding."),
    R(N4, "量化和二进制化", None, "Quantisation and binarisation",
      (("quantization_speed", None), ("deep_compression", None)),
      "8-bit quantisation; Deep Compression's prune, share and code."),
    R(N4, "伪量化", None, "Fake quantisation", (("fake_quantization", "storing-integers-computing-in-float"),),
      "The note says it compresses but does not speed up; the chapter measures why."),
    R(N4, "Architecture Design（Depth Separable Convolution）", None, "Depthwise-separable convolution",
      (("compact_convolutions", None),), "Depthwise then pointwise; the note's 72-parameter example."),
    R(N4, "分解卷积", None, "Factorised convolutions", (("compact_convolutions", None),),
      "5 × 5 as two 3 × 3 (18/25); 7 × 7 as 1 × 7 and 7 × 1."),
    R(N4, "现有的神经网络压缩方法的论文", None, "Papers on compression", (), "Empty in the note.", False),
    R(N4, "现有的震相拾取网络压缩方法的论文-重点讲解", None, "Compressing seismic phase pickers (the focus)",
      (("seismic_case_study", None),)),
    R(N4, "LPPN", None, "LPPN", (("seismic_case_study", None),), "Empty in the note."),
    R(N4, "EQTransformer", None, "EQTransformer", (("seismic_case_study", None),), "Empty in the note."),
    R(N4, "PhaseNet", None, "PhaseNet", (("seismic_case_study", None),),
      "Where PhaseNet's parameters sit, layer by layer."),
    R(N4, "LEQNET", None, "LEQNet", (), "Empty in the note.", False),
    R(N4, "LCANET", None, "LCANet", (), "Empty in the note.", False),
]


def label(heading_line: str) -> str:
    """A note's heading as the map names it: no ``#``, ``**``, ``<span>`` tags or ``$^{[n]}$`` citations.

    >>> label('## <span id="x">**1. A Survey**</span>')
    '1. A Survey'
    >>> label("## 量化$^{[1]}$")
    '量化'
    """
    text = re.sub(r"^#{1,6}\s+", "", heading_line.strip())
    text = re.sub(r"</?span[^>]*>", "", text)
    text = re.sub(r"\$\^\{\[\d+\]\}\$", "", text)
    return text.replace("**", "").strip()


def note_sections(text: str) -> list[tuple[str, str]]:
    """``(heading label, the section's text up to the next heading)`` for every heading of a note."""
    sections, current, body = [], None, []
    for line in text.splitlines():
        if re.match(r"^#{1,6}\s", line):
            if current is not None:
                sections.append((current, "\n".join(body)))
            current, body = label(line), []
        else:
            body.append(line)
    if current is not None:
        sections.append((current, "\n".join(body)))
    return sections


def status(row: Row, ready: set[str]) -> str:
    """"covered", "partly coming", "coming", "not in the plan" or "nothing to cover"."""
    if not row.content:
        return "nothing to cover"
    if not row.targets:
        return "not in the plan"
    written = [c in ready for c, _ in row.targets]
    return "covered" if all(written) else "coming" if not any(written) else "partly coming"


def coverage() -> dict[str, int]:
    """How many rows of the map have each :func:`status`."""
    ready = available()
    out: dict[str, int] = {}
    for row in MAP:
        s = status(row, ready)
        out[s] = out.get(s, 0) + 1
    return out


def to_come() -> list[Row]:
    """Rows with content that no written chapter covers yet (coming, or not in the plan)."""
    ready = available()
    return [r for r in MAP if r.content and not any(c in ready for c, _ in r.targets)]


def _book_cell(row: Row, ready: set[str]) -> str:
    if not row.content:
        return "—"
    if not row.targets:
        return "<em>not in the plan</em>"
    return links_html(row.targets, ready)


def map_html() -> str:
    """The map as one HTML table, a header row per note: section, where the book covers it, remark."""
    ready = available()
    rows = []
    for note, about in NOTES.items():
        rows.append(f'<tr><th colspan="3" style="text-align:left;padding-top:0.8em">{html.escape(about)}'
                    f' <small>({html.escape(note)})</small></th></tr>')
        for row in (r for r in MAP if r.note == note):
            zh = html.escape(row.part if row.part else row.heading)
            indent = "&emsp;· " if row.part else ""
            st = status(row, ready)
            remark = rich(row.remark)
            if st == "partly coming":
                missing = sorted({chapter_title(c) for c, _ in row.targets if c not in ready})
                remark = (f"<em>Still to come:</em> {html.escape(', '.join(missing))}. " + remark).strip()
            rows.append(f'<tr><td style="white-space:normal">{indent}<span lang="zh">{zh}</span><br>'
                        f"<small>{html.escape(row.english)}</small></td>"
                        f'<td style="white-space:normal">{_book_cell(row, ready)}</td>'
                        f'<td style="white-space:normal;color:inherit">{remark}</td></tr>')
    return ('<div class="fc-scroll"><table class="fc-plan"><thead><tr><th>Section of the note</th>'
            "<th>In the book</th><th>Remark</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></div>")
