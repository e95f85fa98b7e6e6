"""A glossary for readers of the Chinese study notes: each term, its English, and where the book explains it.

Every entry names a chapter (a file under ``chapters/``, without suffix) and,
where one section explains the term, that section's anchor: the id Sphinx gives
the heading, computed here from the notebook's markdown with docutils' own
:func:`docutils.nodes.make_id` (lowercase, accents dropped, every run of other
characters a hyphen). The page links the chapters ``_toc.yml`` lists and marks
the rest "coming", exactly as :func:`lib.book.plan.toc_html` does for the plan,
so the glossary follows the book as chapters are added. A term the book does
not explain has no chapter (``None``) and says so. ``tests/test_glossary.py``
checks that every chapter is in the plan and every anchor of a written chapter
is one of its headings.
"""

from __future__ import annotations

import html
import json
import re
from functools import lru_cache
from typing import NamedTuple

from docutils.nodes import make_id

from lib.book.plan import PLAN, ROOT, available


class Entry(NamedTuple):
    """One term: as the notes write it, in English, what it means, where the book explains it."""

    zh: str
    en: str
    meaning: str
    chapter: str | None
    anchor: str | None = None


#: Chapters an open issue adds to the book but not yet to :data:`lib.book.plan.PLAN`
#: (issue 15's case study); the plan's title wins once the chapter is listed there.
PENDING: dict[str, str] = {}

E = Entry
# Anchors used more than once.
_SYM = "symmetry-what-you-can-do-to-a-shape-and-leave-it-looking-the-same"
_BRIDGE = "the-exponential-the-bridge-from-sliding-to-turning"
_CCW = "counter-clockwise-and-why-the-fourier-transform-turns-the-other-way"
_COM = "the-centre-of-mass-is-the-feature"
_UNITS = "four-units-of-a-convolution"
_SIX = "six-ways-to-score-a-channel"
_PTRAIN = "training-a-network-to-be-pruned"
_OBD = "second-order-information-optimal-brain-damage"
_SVD = "a-layer-as-a-product-of-two-thin-matrices"
_VQ = "clustering-vectors-product-and-residual-quantisation"
_FASTFOOD = "fastfood-hadamard-gaussian-permutation-hadamard"
_CIRC = "one-vector-a-whole-matrix-circulant-layers"
_CONVTHM = "the-convolution-theorem-multiplying-polynomials-fast"

#: (topic, entries) in the order the notes take the topics.
GLOSSARY: list[tuple[str, list[Entry]]] = [
    ("Rotation, symmetry and exponentials (note 000, §1.1.1–1.1.2)", [
        E("欧拉公式", "Euler's formula", "e^{iθ} = cos θ + i sin θ: the point at angle θ on the unit circle",
          "euler_rotation", _BRIDGE),
        E("e^{πi} + 1 = 0", "Euler's identity", "turning 1 by half a turn (π radians) lands on −1",
          "euler_rotation", _BRIDGE),
        E("旋转", "rotation", "turning the plane about the origin; multiplying by e^{iθ} turns it by θ",
          "euler_rotation", "sliding-and-turning-in-the-plane"),
        E("单位圆", "unit circle", "the circle of radius 1 about 0, where every e^{iθ} lies",
          "euler_rotation", _BRIDGE),
        E("对称性", "symmetry", "a move that leaves a shape looking as before; a square has eight",
          "euler_rotation", _SYM),
        E("群", "group", "moves closed under composition, with a do-nothing move and an undo for each",
          "euler_rotation", _SYM),
        E("旋转群", "rotation group", "all rotations about a point, composed by adding their angles",
          "euler_rotation", _SYM),
        E("无限群", "infinite group", "a group with infinitely many moves, such as the rotations by every angle",
          "euler_rotation", _SYM),
        E("数轴", "number line", "the real numbers as points on a line, acted on by adding and multiplying",
          "euler_rotation", "numbers-as-actions"),
        E("平移", "translation (slide)", "adding a number: sliding every point by the same amount",
          "euler_rotation", "numbers-as-actions"),
        E("伸缩", "stretching (scaling)", "multiplying by a positive number: stretching the line about 0",
          "euler_rotation", "numbers-as-actions"),
        E("平面坐标系", "coordinate plane", "points located by two coordinates (x, y)",
          "euler_rotation", "sliding-and-turning-in-the-plane"),
        E("极坐标系", "polar coordinates", "a point given by its distance from 0 and its angle",
          "exponentials", "sliding-in-the-complex-plane"),
        E("虚数单位 i", "imaginary unit i", "the number with i² = −1; as an action, a quarter turn counter-clockwise",
          "euler_rotation", "sliding-and-turning-in-the-plane"),
        E("泰勒公式（泰勒展开）", "Taylor series", "a function as a power series: eˣ = 1 + x + x²/2! + x³/3! + …",
          "euler_rotation", _BRIDGE),
        E("弧度制", "radians", "angles measured so that a full turn is 2π (so 360° = 2π)",
          "euler_rotation", _BRIDGE),
        E("指数函数", "exponential function", "aˣ, which turns adding inputs into multiplying outputs: aˣ⁺ʸ = aˣaʸ",
          "exponentials", "adding-inputs-multiplies-outputs"),
        E("对数函数", "logarithm", "the inverse of aˣ: turns multiplying back into adding", None),
        E("保持群结构", "preserving the group structure (homomorphism)",
          "a map under which composing inputs corresponds to composing outputs",
          "exponentials", "adding-inputs-multiplies-outputs"),
        E("复平面", "complex plane", "the plane of numbers x + iy, real part across and imaginary part up",
          "exponentials", "sliding-in-the-complex-plane"),
        E("实轴", "real axis", "the horizontal axis; a real slide x stretches by eˣ",
          "exponentials", "sliding-in-the-complex-plane"),
        E("虚轴", "imaginary axis", "the vertical axis; e^{iy} of an imaginary slide iy turns by y radians",
          "exponentials", "sliding-in-the-complex-plane"),
        E("逆时针", "counter-clockwise", "the positive direction of turning; e^{iθ} for θ > 0",
          "exponentials", _CCW),
        E("顺时针", "clockwise", "the direction the Fourier transform winds, hence the minus in e^{−2πift}",
          "fourier_formula", "step-1-the-rotation"),
    ]),
    ("The Fourier transform (note 000, §1.1.3)", [
        E("信号处理", "signal processing", "analysing and transforming signals such as sound; Part I's subject",
          "winding_machine", None),
        E("傅里叶变换（傅立叶变换）", "Fourier transform", "ĝ(f) = ∫ g(t) e^{−2πift} dt: how much of each frequency g holds",
          "fourier_formula", "the-formula-step-by-step"),
        E("时域", "time domain", "a signal described as a value at each moment",
          "winding_machine", "sound-is-air-pressure"),
        E("频域", "frequency domain", "the same signal described as a strength (and phase) at each frequency",
          "winding_machine", _COM),
        E("声音的表示", "representing sound", "sound recorded as air pressure against time",
          "winding_machine", "sound-is-air-pressure"),
        E("气压", "air pressure", "what a microphone records; a pure tone makes it a sine wave",
          "winding_machine", "sound-is-air-pressure"),
        E("频率", "frequency", "cycles per second; the note suggests reading it as a speed around a circle",
          "winding_machine", "sound-is-air-pressure"),
        E("赫兹 Hz", "hertz", "one cycle per second; concert A is 440 Hz",
          "winding_machine", "sound-is-air-pressure"),
        E("标准音 A", "concert pitch A", "the tuning note, 440 vibrations a second",
          "winding_machine", "sound-is-air-pressure"),
        E("正弦函数", "sine wave (sinusoid)", "a pure tone: A cos(2πft + φ) or A sin(2πft + φ)",
          "winding_machine", "sound-is-air-pressure"),
        E("音符", "musical note", "one pure tone; a chord is the sum of its notes' pressure curves",
          "winding_machine", "two-notes-at-once"),
        E("振幅（幅值）", "amplitude", "how far a wave swings from zero; the height of a note's peak",
          "winding_machine", "two-notes-at-once"),
        E("缠绕", "winding", "wrapping the signal's graph around the origin, time becoming angle",
          "winding_machine", "winding-a-signal-around-the-origin"),
        E("缠绕频率（绕圈速度）", "winding frequency", "turns per second of the winding: the transform's variable",
          "winding_machine", "winding-a-signal-around-the-origin"),
        E("同步", "in step (synchronised)", "winding at the signal's own frequency: every turn traces the same loop",
          "winding_machine", "winding-a-signal-around-the-origin"),
        E("周期性", "periodicity", "repeating after a fixed time, the period (1/frequency)",
          "winding_machine", "winding-a-signal-around-the-origin"),
        E("质心", "centre of mass", "the average of the wound curve's points at equal time steps; the output",
          "winding_machine", _COM),
        E("近傅里叶变换", "almost-Fourier transform", "the centre of mass as a function of winding frequency",
          "winding_machine", _COM),
        E("采样点", "sample points", "values taken at equally spaced times; their average gives the centre of mass",
          "fourier_formula", "step-3-the-centre-of-mass"),
        E("积分", "integral", "the limit of that average as the sample points crowd together",
          "fourier_formula", "step-3-the-centre-of-mass"),
        E("常数项系数 1/(t₂ − t₁)", "the averaging factor", "divides by the duration; the Fourier transform drops it",
          "fourier_formula", "step-4-drop-the-1-t2-t1"),
        E("积分限", "limits of integration", "the signal's start and end; the transform integrates over all time",
          "fourier_formula", "step-4-drop-the-1-t2-t1"),
        E("实部", "real part", "the x-coordinate of a complex number (of the centre of mass)",
          "fourier_formula", "real-and-imaginary-parts"),
        E("虚部", "imaginary part", "the y-coordinate of a complex number",
          "fourier_formula", "real-and-imaginary-parts"),
        E("相位", "phase", "the angle of the centre of mass: where in its cycle a tone starts",
          "fourier_formula", "phase-is-the-angle-of-the-centre-of-mass"),
        E("原信号的长度", "signal length", "the duration; a longer signal gives a sharper peak",
          "fourier_formula", "signal-length-sets-the-sharpness"),
        E("离散时间傅里叶变换", "discrete-time Fourier transform (DTFT)",
          "the transform of a sampled signal, a function of continuous frequency", "fft",
          "sampling-turns-the-integral-into-a-sum"),
        E("离散傅里叶变换", "discrete Fourier transform (DFT)", "n samples wound at n frequencies and summed",
          "fft", "the-dft-by-its-definition"),
        E("快速傅里叶变换", "fast Fourier transform (FFT)", "the DFT in O(n log n) by splitting even and odd samples",
          "fft", "the-fft-split-transform-the-halves-combine"),
        E("傅里叶逆变换", "inverse Fourier transform", "rebuilding the signal from its transform",
          "inverse_filtering", "the-inverse-transform-wind-the-other-way-and-add-up-the-arrows"),
        E("拉普拉斯变换", "Laplace transform", "a transform with a complex exponent e^{−st}, for systems and ODEs", None),
        E("小波变换", "wavelet transform", "a transform by short, shifted and scaled waves rather than endless tones",
          None),
        E("z 变换", "z-transform", "the discrete-time counterpart of the Laplace transform", None),
    ]),
    ("Pruning (notes 000 §2.1, 001, 002, 003, 004)", [
        E("模型压缩", "model compression", "making a trained network smaller or faster while keeping its accuracy",
          "why_compress", None),
        E("参数修剪和共享", "parameter pruning and sharing", "the survey's family of pruning, quantisation and sharing",
          "why_compress", "the-map-of-methods"),
        E("网络剪枝（剪枝）", "network pruning", "removing the weights, channels or layers that matter least",
          "magnitude_pruning", "the-recipe"),
        E("冗余参数", "redundant parameters", "weights a network can lose without losing accuracy",
          "magnitude_pruning", "why-train-big-then-prune"),
        E("过参数化", "over-parameterised", "having many more weights than the task needs",
          "magnitude_pruning", "why-train-big-then-prune"),
        E("预训练", "pre-training", "training the full network before pruning it",
          "magnitude_pruning", "the-recipe"),
        E("阈值", "threshold", "weights whose magnitude falls below it are pruned",
          "magnitude_pruning", "one-prune-on-a-slider"),
        E("微调（重新训练）", "fine-tuning (retraining)", "training further after a prune to win back accuracy",
          "magnitude_pruning", "the-recipe"),
        E("迭代剪枝", "iterative pruning", "prune a little, fine-tune, repeat until the target size",
          "magnitude_pruning", "iterate-han-et-al-s-result-reproduced"),
        E("基于量值的剪枝", "magnitude-based pruning", "pruning the weights of smallest absolute value",
          "magnitude_pruning", "the-recipe"),
        E("连接剪枝（权重剪枝）", "connection (weight) pruning", "removing single weights between neurons",
          "magnitude_pruning", "the-recipe"),
        E("突触", "synapse", "the biological word for a connection, that is, a weight", "magnitude_pruning",
          "the-recipe"),
        E("恢复被剪枝的权重", "splicing pruned weights back (dynamic network surgery)",
          "letting pruned weights return when they grow important again",
          "magnitude_pruning", "pruned-weights-may-come-back-dynamic-network-surgery"),
        E("稀疏度", "sparsity", "the fraction of weights that are zero",
          "magnitude_pruning", "one-prune-on-a-slider"),
        E("稀疏表示", "sparse representation", "storing only the non-zero values and their positions",
          "magnitude_pruning", "storing-a-sparse-matrix"),
        E("CSR", "compressed sparse row", "non-zeros row by row, their column indices, and each row's start",
          "magnitude_pruning", "storing-a-sparse-matrix"),
        E("CSC", "compressed sparse column", "the same as CSR by columns", "magnitude_pruning",
          "storing-a-sparse-matrix"),
        E("非结构化剪枝", "unstructured pruning", "pruning single weights anywhere; needs sparse formats to pay off",
          "pruning_granularity", _UNITS),
        E("结构化剪枝", "structured pruning", "pruning whole filters or channels, leaving a smaller dense network",
          "pruning_granularity", "removing-channels-for-real"),
        E("细粒度剪枝", "fine-grained pruning", "pruning individual weights (or connections)",
          "pruning_granularity", _UNITS),
        E("粗粒度剪枝", "coarse-grained pruning", "pruning whole vectors, kernels, filters or channels",
          "pruning_granularity", _UNITS),
        E("向量剪枝", "vector-level pruning", "pruning a row of a convolution kernel",
          "pruning_granularity", _UNITS),
        E("核剪枝", "kernel-level pruning", "pruning one k × k kernel: one input channel of one filter",
          "pruning_granularity", _UNITS),
        E("滤波器剪枝", "filter-level pruning", "pruning a whole filter, so the layer has one output channel fewer",
          "pruning_granularity", _UNITS),
        E("通道剪枝", "channel pruning", "removing a channel with its filter, BatchNorm entry and next-layer inputs",
          "pruning_granularity", "removing-channels-for-real"),
        E("神经元剪枝", "neuron pruning", "removing a whole neuron (a fully connected layer's channel)",
          "pruning_granularity", "removing-channels-for-real"),
        E("专用硬件", "specialised hardware (accelerator)", "chips built to run sparse, coded networks, such as EIE",
          "deep_compression", "storage-not-speed"),
        E("通用硬件", "general-purpose hardware", "CPUs and GPUs, which run dense arithmetic fastest",
          "pruning_speed", "three-ways-to-run-a-pruned-network"),
        E("不规则内存访问", "irregular memory access", "reads scattered by sparse indices, which caches handle badly",
          "magnitude_pruning", "is-it-faster"),
        E("稀疏卷积", "sparse convolution", "a convolution with mostly zero kernels, run by skipping the zeros",
          "pruning_speed", "three-ways-to-run-a-pruned-network"),
        E("信道间冗余 / 信道内冗余", "inter- and intra-channel redundancy",
          "repetition across and within a layer's channels, exploited by sparse kernel decompositions", None),
        E("重要性得分", "importance score", "a number per weight or channel that decides what to prune",
          "pruning_criteria", _SIX),
        E("零输出激活（APoZ）", "average percentage of zeros (APoZ)", "the share of a channel's outputs that are zero; mostly zero, little use",
          "pruning_criteria", _SIX),
        E("泰勒展开（重要性）", "Taylor importance", "the first-order change in loss when a channel is removed",
          "pruning_criteria", _SIX),
        E("Gate Decorator", "Gate Decorator", "Taylor importance on BatchNorm scales, ranked over the whole network",
          "pruning_criteria", _SIX),
        E("FPGM（几何中心）", "FPGM (filter pruning via geometric median)",
          "prune the filters nearest the geometric median: the most replaceable ones", "pruning_criteria", _SIX),
        E("敏感度", "sensitivity", "how much accuracy a layer loses when pruned alone",
          "pruning_criteria", "which-layers-can-lose-the-most-a-sensitivity-scan"),
        E("最优脑损伤（OBD）", "Optimal Brain Damage", "saliency ½ h_{kk} w_{k}² from the Hessian's diagonal",
          "pruning_criteria", _OBD),
        E("最优脑外科（OBS）", "Optimal Brain Surgeon", "uses the full inverse Hessian and adjusts the remaining weights",
          "pruning_criteria", _OBD),
        E("海森矩阵", "Hessian", "the matrix of second derivatives of the loss with respect to the weights",
          "pruning_criteria", _OBD),
        E("对角海森近似", "diagonal Hessian approximation", "keeping only the Hessian's diagonal, as OBD does",
          "pruning_criteria", _OBD),
        E("批量归一化（BN 层）", "batch normalisation (BatchNorm)", "normalises each channel, then γx̂ + β per channel",
          "pruning_criteria", _PTRAIN),
        E("缩放因子（尺度因子）", "scaling factor γ", "BatchNorm's per-channel scale; Network Slimming prunes by |γ|",
          "pruning_criteria", _PTRAIN),
        E("偏移参数", "shift β", "BatchNorm's per-channel offset; Network Slimming leaves it unpenalised",
          "pruning_criteria", _PTRAIN),
        E("L1 正则", "L1 regularisation", "adding λ Σ|w| to the loss, which drives many values to exactly zero",
          "pruning_criteria", _PTRAIN),
        E("先验假设", "prior assumption", "what a penalty presumes, e.g. that most channels are unneeded",
          "pruning_criteria", _PTRAIN),
        E("残差网络（通道数目一致性）", "residual network (matching channel counts)",
          "channels added across a skip connection must be pruned together", "pruning_criteria", _PTRAIN),
        E("Network Slimming", "Network Slimming", "L1 on BatchNorm scales in training, then prune small-γ channels",
          "pruning_criteria", _PTRAIN),
        E("稀疏正则化（稀疏约束）", "sparsity regularisation (sparsity constraint)",
          "a training penalty that makes weights or groups zero", "pruning_criteria", _PTRAIN),
        E("组稀疏（群稀疏）", "group sparsity (group lasso)", "λ Σ_{g} ‖W_{g}‖₂: zeroes whole groups of weights",
          "pruning_criteria", _PTRAIN),
        E("结构稀疏学习（SSL）", "Structured Sparsity Learning", "group lasso over filters, channels and kernel shapes",
          "pruning_criteria", _PTRAIN),
        E("l0 正则", "L0 regularisation", "penalising the number of non-zero weights", None),
        E("排他稀疏", "exclusive sparsity", "a penalty making features within a group compete", None),
        E("偏置权重衰减", "biased weight decay", "an early weight decay biased to drive unneeded weights to zero", None),
        E("能量感知剪枝", "energy-aware pruning", "pruning guided by an estimate of each layer's energy use", None),
        E("合并相似滤波器", "merging similar filters", "replacing filters with near-identical outputs by one", None),
        E("Gradient Pruning（梯度剪枝）", "gradient pruning", "pruning guided by gradients (the note gives only the heading)", None),
        E("Fine-grained Pruning in a Bayesian View", "Bayesian fine-grained pruning", "pruning via sparsity-inducing priors", None),
        E("life long learning（终身学习）", "life-long learning", "continual learning, whose weight-importance measures the note suggests borrowing", None),
    ]),
    ("Quantisation, binarisation, sharing and coding (notes 001–004)", [
        E("量化", "quantisation", "storing values with few bits by rounding them to a small set",
          "linear_quantization", None),
        E("低精度", "low precision", "fewer bits per number than 32-bit floating point",
          "linear_quantization", None),
        E("浮点数", "floating-point number", "a number stored as sign, exponent and fraction (float32: 32 bits)",
          "linear_quantization", None),
        E("低比特", "low-bit", "8, 4, 2 or 1 bits per value",
          "linear_quantization", "quantising-a-network-s-weights"),
        E("线性量化", "linear (uniform) quantisation", "an evenly spaced grid: x ≈ s (q − z)",
          "linear_quantization", "a-grid-of-integers"),
        E("拉伸比例 scale", "scale", "the grid's step s", "linear_quantization", "a-grid-of-integers"),
        E("zeroPoint（零点）", "zero point", "the integer z that stands for the real 0",
          "linear_quantization", "a-grid-of-integers"),
        E("非对称量化", "asymmetric quantisation", "a grid with a zero point, fitted to [min, max] stretched to include 0",
          "linear_quantization", "a-grid-of-integers"),
        E("对称量化", "symmetric quantisation", "a grid centred on 0 (zero point 0)",
          "linear_quantization", "a-grid-of-integers"),
        E("ristretto", "Ristretto", "a Caffe-based tool that approximates networks in fixed point and other formats", None),
        E("对数量化", "logarithmic quantisation", "weights rounded to ± powers of two, so products become shifts",
          "quantization_speed", "powers-of-two"),
        E("定点运算", "fixed-point arithmetic", "integer arithmetic with an implied scale",
          "quantization_speed", "integer-only-inference-of-one-layer"),
        E("理论计算峰值", "theoretical peak", "operations per clock cycle × clock frequency",
          "quantization_speed", "peak-operations-per-cycle-clock"),
        E("时钟周期", "clock cycle", "one tick of the processor's clock", "quantization_speed",
          "peak-operations-per-cycle-clock"),
        E("芯片频率", "clock frequency", "clock cycles per second (GHz)", "quantization_speed",
          "peak-operations-per-cycle-clock"),
        E("额外开销", "overhead", "work quantisation adds: conversions and rescaling",
          "quantization_speed", "the-two-conditions"),
        E("激活值", "activations", "the outputs of each layer, recomputed for every input",
          "linear_quantization", "quantising-activations-too"),
        E("运行时内存", "runtime memory", "memory while the network runs: weights plus activations",
          "pruning_speed", "where-memory-goes"),
        E("内存占用", "memory footprint", "how much memory the weights (and activations) take",
          "pruning_speed", "where-memory-goes"),
        E("功耗", "power consumption", "energy per prediction; memory traffic costs more than arithmetic",
          "deep_compression", "storage-not-speed"),
        E("梯度量化", "gradient quantisation", "rounding gradients to few bits, as DoReFa-Net does",
          "binary_networks", "scale-factors-and-a-few-more-bits"),
        E("伪量化", "fake quantisation", "rounding to the grid and back, computing in float",
          "fake_quantization", "storing-integers-computing-in-float"),
        E("二值化", "binarisation", "keeping only the sign of each value: ±1, one bit",
          "binary_networks", "one-bit-and-a-gradient-for-it"),
        E("二值神经网络（BNN）", "binarised neural network", "weights and activations constrained to ±1",
          "binary_networks", "one-bit-and-a-gradient-for-it"),
        E("完全二值化 / 部分二值化", "full / partial binarisation", "all of inputs, weights and outputs binary, or only some",
          "binary_networks", "one-bit-and-a-gradient-for-it"),
        E("随机二值化", "stochastic binarisation", "+1 with a probability that grows with the value",
          "binary_networks", "one-bit-and-a-gradient-for-it"),
        E("XNOR（异或非门）", "XNOR gate", "outputs 1 when its two bits agree: the product of two ±1 values",
          "binary_networks", "the-trained-network-on-bits"),
        E("XNOR-Net", "XNOR-Net", "binary weights and inputs with real scale factors",
          "binary_networks", "scale-factors-and-a-few-more-bits"),
        E("DoReFa-Net", "DoReFa-Net", "few-bit weights, activations and gradients",
          "binary_networks", "scale-factors-and-a-few-more-bits"),
        E("FPGA（Slice）", "FPGA (slice)", "a reconfigurable chip; a slice is one of its logic blocks", None),
        E("GPU 核", "GPU kernel", "a routine run on a graphics processor, e.g. a binary matrix product", None),
        E("近似牛顿算法", "approximate Newton method", "loss-aware binarisation's optimiser, with a diagonal Hessian",
          None),
        E("权值共享", "weight sharing", "many weights stored as one shared value",
          "weight_sharing", None),
        E("权重聚类", "weight clustering", "grouping similar weights and replacing each by its group's centre",
          "weight_sharing", "k-means-as-a-quantiser"),
        E("k 均值聚类（kmeans）", "k-means clustering", "alternately assign points to the nearest centre, move centres",
          "weight_sharing", "k-means-as-a-quantiser"),
        E("标量量化", "scalar quantisation", "quantising numbers one at a time",
          "weight_sharing", "k-means-as-a-quantiser"),
        E("码本", "codebook", "the table of shared values", "weight_sharing", "k-means-as-a-quantiser"),
        E("聚类中心", "centroid", "a cluster's shared value", "weight_sharing", "k-means-as-a-quantiser"),
        E("索引", "index", "the small integer saying which codebook entry a weight uses",
          "weight_sharing", "k-means-as-a-quantiser"),
        E("Hessian 权重（k 均值）", "Hessian-weighted k-means", "k-means weighted by how much each weight matters to the loss",
          "weight_sharing", "hessian-weighted-k-means"),
        E("矢量量化（VQ）", "vector quantisation", "quantising short vectors of weights together",
          "weight_sharing", _VQ),
        E("乘积量化（结构化量化）", "product quantisation", "split the matrix into column blocks, k-means each block's rows",
          "weight_sharing", _VQ),
        E("残差量化", "residual quantisation", "quantise, then quantise what is left, stage by stage",
          "weight_sharing", _VQ),
        E("高阶残差量化（HORQ）", "high-order residual quantisation", "binarisation refined by binarising residuals",
          None),
        E("soft weight-sharing", "soft weight-sharing", "a mixture-of-Gaussians prior that pulls weights together",
          None),
        E("哈夫曼编码（霍夫曼编码）", "Huffman coding", "shorter codewords for more frequent symbols",
          "huffman", "variable-length-codes"),
        E("压缩比（压缩率）", "compression ratio", "original size ÷ compressed size",
          "low_rank", _SVD),
        E("深度压缩（Deep Compression）", "Deep Compression", "prune, share weights by k-means, Huffman-code",
          "deep_compression", None),
    ]),
    ("Convolution, low rank and structured layers (notes 001, 002)", [
        E("卷积", "convolution", "sliding one signal (a kernel) along another, summing products",
          "fft", _CONVTHM),
        E("多项式相乘", "polynomial multiplication", "a convolution of coefficient lists; fast by FFT",
          "fft", _CONVTHM),
        E("点积（逐点乘积）", "pointwise product", "multiplying two transforms entry by entry",
          "fft", _CONVTHM),
        E("傅里叶域", "Fourier domain", "where convolution becomes a pointwise product",
          "fast_convolution", "from-the-convolution-theorem-to-a-convolution-layer"),
        E("填充", "padding", "zeros added around an input (or a kernel, to the input's size)",
          "fast_convolution", "from-the-convolution-theorem-to-a-convolution-layer"),
        E("卷积核（过滤器、滤波器）", "kernel (filter)", "the weights of one output channel of a convolution",
          "pruning_granularity", _UNITS),
        E("通道", "channel", "one of a layer's feature maps", "pruning_granularity", _UNITS),
        E("特征图（特征映射）", "feature map", "one channel of a convolution's output",
          "pruning_granularity", _UNITS),
        E("卷积层 / 全连接层", "convolution layer / fully connected layer",
          "in the workbench CNNs, most of the compute / most of the weights", "why_compress", "where-size-and-compute-live"),
        E("卷积神经网络（CNN）", "convolutional neural network", "the book's workbench: LeNet-5 and a VGG-style net",
          "why_compress", "the-workbench"),
        E("参数量", "parameter count", "how many weights a network stores",
          "why_compress", "where-size-and-compute-live"),
        E("Winograd 最小滤波算法", "Winograd's minimal filtering", "fewer multiplications for small tiles",
          "fast_convolution", "winograd-fewer-multiplications-for-small-tiles"),
        E("变换空间", "transform space", "where Winograd (or FFT) multiplies before transforming back",
          "fast_convolution", "winograd-fewer-multiplications-for-small-tiles"),
        E("步长", "stride", "how far a kernel moves between outputs", None),
        E("低秩矩阵分解（低秩因子分解）", "low-rank matrix factorisation", "W ≈ AB with thin A (m × r) and B (r × n)",
          "low_rank", _SVD),
        E("秩", "rank", "the number of independent rows (or columns) of a matrix",
          "low_rank", _SVD),
        E("列满秩 / 行满秩", "full column rank / full row rank", "columns (rows) linearly independent",
          "low_rank", _SVD),
        E("奇异值分解（SVD）", "singular value decomposition", "W = UΣVᵀ; keep the largest singular values",
          "low_rank", _SVD),
        E("低秩近似", "low-rank approximation", "the best rank-r approximation: keep the r largest singular values",
          "low_rank", _SVD),
        E("空间复杂度 / 时间复杂度", "space / time complexity", "how memory / time grows with size: O(mn) vs O(r(m + n))",
          "low_rank", _SVD),
        E("近似器", "low-rank approximation of kernels", "filters replaced by cheaper low-rank versions",
          "low_rank", None),
        E("张量", "tensor", "an array with more than two indices, like a convolution kernel",
          "low_rank", "cp-a-kernel-as-a-sum-of-rank-one-terms"),
        E("张量分解", "tensor decomposition", "a tensor written as a combination of small factors",
          "low_rank", None),
        E("CP 分解", "CP decomposition", "a sum of R rank-one tensors",
          "low_rank", "cp-a-kernel-as-a-sum-of-rank-one-terms"),
        E("秩一张量", "rank-one tensor", "an outer product of vectors",
          "low_rank", "cp-a-kernel-as-a-sum-of-rank-one-terms"),
        E("Tucker 分解", "Tucker decomposition", "a small core tensor multiplied by a factor on each mode",
          "low_rank", "tucker-a-core-between-two-11-convolutions"),
        E("张量列分解（TT）", "tensor-train decomposition", "a chain of three-index cores",
          "low_rank", "tensor-train"),
        E("块项分解（BTD）", "block term decomposition", "a sum of small Tucker terms",
          "low_rank", "block-terms-and-five-decompositions-on-one-kernel"),
        E("1*1 卷积", "1 × 1 convolution", "mixes the channels at each pixel: one matrix product per pixel",
          "low_rank", "why-low-rank-faded-measured"),
        E("bottleneck 结构", "bottleneck block", "1 × 1, 3 × 3, 1 × 1 convolutions with a narrow middle",
          "low_rank", "why-low-rank-faded-measured"),
        E("结构化矩阵", "structured matrix", "an m × n matrix described by far fewer than mn numbers",
          "structured_matrices", None),
        E("循环矩阵", "circulant matrix", "each column the previous one shifted down; multiplies by FFT",
          "structured_matrices", _CIRC),
        E("循环预测（循环投影）", "circulant projection", "a fully connected layer with a circulant matrix",
          "structured_matrices", _CIRC),
        E("随机符号翻转矩阵", "random sign-flipping matrix", "a diagonal of random ±1",
          "structured_matrices", _CIRC),
        E("元素乘法", "element-wise multiplication (∘)", "multiplying two vectors entry by entry",
          "structured_matrices", _CIRC),
        E("Fastfood 变换", "Fastfood transform", "diagonal, Hadamard and permutation matrices in a product: O(n log n)",
          "structured_matrices", _FASTFOOD),
        E("自适应 Fastfood 变换", "Adaptive Fastfood transform", "Fastfood with learned diagonal matrices",
          "structured_matrices", _FASTFOOD),
        E("Walsh-Hadamard 矩阵", "Walsh–Hadamard matrix", "a ±1 matrix built by doubling; applied in O(n log n)",
          "structured_matrices", _FASTFOOD),
        E("随机排列矩阵", "random permutation matrix", "shuffles the entries of a vector",
          "structured_matrices", _FASTFOOD),
        E("对角矩阵", "diagonal matrix", "non-zero only on the diagonal: one scale per entry",
          "structured_matrices", _FASTFOOD),
        E("离散余弦变换（DCT）", "discrete cosine transform", "a real relative of the DFT",
          "structured_matrices", "acdc-diagonal-cosine-transform-diagonal-inverse"),
        E("ACDC", "ACDC layer", "diagonal A, cosine transform C, diagonal D, inverse cosine transform",
          "structured_matrices", "acdc-diagonal-cosine-transform-diagonal-inverse"),
    ]),
    ("Designing small networks (notes 001, 002, 003, 004)", [
        E("哈希（散列）", "hashing", "mapping each position to a bucket by a fixed pseudo-random function",
          "hashing", None),
        E("哈希函数", "hash function", "the function that picks a weight's bucket", "hashing", None),
        E("散列桶", "hash bucket", "a group of connections sharing one weight", "hashing", None),
        E("HashedNets", "HashedNets", "a layer whose virtual weights are drawn from a small vector by a hash",
          "hashing", None),
        E("哈希冲突", "hash collision", "two connections landing in the same bucket", "hashing", None),
        E("特征哈希", "feature hashing", "hashing input features into a fixed-size vector", "hashing", None),
        E("跨层参数共享（ALBERT）", "cross-layer parameter sharing", "one block's weights used by every layer",
          "hashing", None),
        E("基于查找的卷积网络（LCNN）", "lookup-based CNN", "kernels built from a shared dictionary by lookups",
          "hashing", None),
        E("字典", "dictionary", "the shared set of vectors LCNN's kernels are built from", "hashing", None),
        E("知识蒸馏", "knowledge distillation", "training a small student to imitate a large teacher",
          "distillation", None),
        E("教师网络", "teacher network", "the large trained model whose outputs are imitated",
          "distillation", None),
        E("学生网络", "student network", "the small model trained on the teacher's outputs",
          "distillation", None),
        E("温度", "temperature", "T in softmax(z / T); a higher T softens the probabilities",
          "distillation", None),
        E("softmax", "softmax", "turns scores into probabilities: e^{zᵢ} / Σ_{j} e^{zⱼ}",
          "distillation", None),
        E("集成（ensemble）", "ensemble", "several networks whose predictions are combined",
          "distillation", None),
        E("深度可分离卷积", "depthwise-separable convolution", "a depthwise convolution followed by a pointwise one",
          "compact_convolutions", None),
        E("逐层卷积（深度卷积）", "depthwise convolution", "one k × k filter per channel, channels kept apart",
          "compact_convolutions", None),
        E("逐点卷积", "pointwise convolution", "a 1 × 1 convolution mixing the channels",
          "compact_convolutions", None),
        E("组卷积", "group convolution", "channels split into groups convolved separately",
          "compact_convolutions", None),
        E("分解卷积", "factorised convolution", "a large kernel as smaller ones in sequence (5 × 5 as two 3 × 3)",
          "compact_convolutions", None),
        E("非对称卷积", "asymmetric convolution", "k × k split into 1 × k and k × 1",
          "compact_convolutions", None),
        E("Inception v2 / v3", "Inception v2 / v3", "the networks that introduced these factorised convolutions",
          "compact_convolutions", None),
        E("same padding", "same padding", "padding that keeps a convolution's output the size of its input",
          "compact_convolutions", None),
        E("紧凑网络设计（紧凑卷积滤波器）", "compact network design (compact filters)",
          "architectures cheap by construction", "compact_convolutions", None),
        E("神经网络架构搜索（NAS）", "neural architecture search", "searching for an architecture automatically",
          "nas", None),
        E("方法组合", "combining methods", "applying several compression methods in turn",
          "combining", None),
    ]),
    ("Seismic phase picking (note 004)", [
        E("震相拾取", "seismic phase picking", "marking the arrival times of P and S waves in a seismogram",
          "seismic_case_study", None),
        E("震相", "seismic phase", "a wave type arriving at a station: P (first) or S (later)",
          "seismic_case_study", None),
        E("PhaseNet", "PhaseNet", "a U-Net picker giving P, S and noise probabilities per sample",
          "seismic_case_study", None),
        E("EQTransformer", "EQTransformer", "a detector and picker with attention layers",
          "seismic_case_study", None),
        E("LPPN", "LPPN", "a lightweight phase-picking network", "seismic_case_study", None),
        E("LEQNET / LCANET", "LEQNet, LCANet", "lighter pickers named in the note; the note has no text on them",
          None),
    ]),
    ("Machine-learning basics (note 003 and the end of note 002; mostly assumed, not taught)", [
        E("人工神经网络", "artificial neural network", "layers of weighted sums and non-linearities", None),
        E("贡献度分配问题", "credit assignment problem", "which parts of a model caused an outcome", None),
        E("监督学习 / 无监督学习 / 强化学习", "supervised / unsupervised / reinforcement learning",
          "learning from labels / from data alone / from rewards", None),
        E("符号主义 / 连接主义", "symbolism / connectionism", "AI by explicit symbols and rules / by networks",
          None),
        E("浅层学习", "shallow learning", "a predictor on hand-made features, no feature learning", None),
        E("特征提取 / 特征工程", "feature extraction / engineering", "turning raw data into useful inputs by hand",
          None),
        E("特征选择 / 特征抽取", "feature selection / extraction", "keeping some features / making new ones", None),
        E("SIFT", "scale-invariant feature transform", "a hand-designed image descriptor", None),
        E("PCA / LDA", "principal components / linear discriminant analysis", "linear dimension reduction",
          None),
        E("表示学习", "representation learning", "learning the features themselves", None),
        E("语义鸿沟", "semantic gap", "the distance between low-level features and meaning", None),
        E("局部表示 / 分布式表示", "local / distributed representation", "one unit per value / dense vectors",
          None),
        E("one-hot 向量", "one-hot vector", "all zeros but a single 1", None),
        E("嵌入", "embedding", "a map into a low-dimensional space that keeps relations", None),
        E("反向传播", "backpropagation", "computing gradients layer by layer with the chain rule", None),
        E("梯度", "gradient", "the derivatives of the loss with respect to the weights", None),
        E("激活函数", "activation function", "the non-linearity after a layer, such as ReLU", None),
        E("前馈神经网络", "feed-forward network", "layers applied in sequence; LeNet-300-100 is one",
          "why_compress", "the-workbench"),
        E("MNIST", "MNIST", "70,000 handwritten digits of 28 × 28 pixels, the workbench's data",
          "why_compress", "the-workbench"),
        E("ImageNet / SVHN / CIFAR-10", "ImageNet, SVHN, CIFAR-10", "image data sets the papers report on", None),
        E("验证集", "validation set", "held-out training data on which every setting is chosen",
          "why_compress", "the-workbench"),
        E("超参数", "hyperparameter", "a setting chosen rather than learned (rate, rank, threshold)", None),
        E("凸优化", "convex optimisation", "minimising a bowl-shaped function: any local minimum is global", None),
        E("mini-batch", "mini-batch", "the few examples used for one gradient step", None),
        E("推理", "inference", "running a trained network on new inputs", None),
        E("过拟合", "overfitting", "fitting the training data at the expense of new data", None),
        E("标准化", "standardisation", "shifting and scaling data to mean 0 and variance 1", None),
    ]),
]


def entries() -> list[Entry]:
    """Every entry, in the glossary's order."""
    return [e for _, group in GLOSSARY for e in group]


def rich(text: str) -> str:
    """``text`` as HTML: escaped, with ``^{...}`` as a superscript and ``_{...}`` as a subscript.

    >>> rich("e^{iθ} < Σ_{g} w")
    'e<sup>iθ</sup> &lt; Σ<sub>g</sub> w'
    """
    text = html.escape(text)
    text = re.sub(r"\^\{([^{}]*)\}", r"<sup>\1</sup>", text)
    return re.sub(r"_\{([^{}]*)\}", r"<sub>\1</sub>", text)


def chapter_title(name: str) -> str:
    """The chapter's title from the plan (or :data:`PENDING`)."""
    for _, chapters in PLAN:
        for file, title, _ in chapters:
            if file == name:
                return title
    if name in PENDING:
        return PENDING[name]
    raise ValueError(f"name must be a chapter of lib.book.plan.PLAN or PENDING, got {name!r}")


def heading_id(text: str) -> str:
    """The id Sphinx gives a markdown heading ``text``: docutils' ``make_id`` of its plain text.

    >>> heading_id("Step 4: drop the 1/(t₂ − t₁)")
    'step-4-drop-the-1-t2-t1'
    >>> heading_id("Whole networks with [PyTorch's](https://pytorch.org) kernels")
    'whole-networks-with-pytorch-s-kernels'
    """
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link shows its text
    return make_id(text)


def markdown_headings(text: str) -> list[str]:
    r"""The text of every heading in markdown ``text`` that makes a section: not inside a code fence
    or a MyST directive (```` ``` ````, ``~~~``, ``:::``, nested), where a ``#`` line is not a heading.

    >>> markdown_headings("# A\n```{admonition} x\n## not\n```python\n# no\n```\n```\n:::{note}\n# no\n:::\n## B")
    ['A', 'B']
    """
    found, fences = [], []
    for line in text.splitlines():
        m = re.match(r"^\s*(`{3,}|~{3,}|:{3,})(.*)$", line)
        if m:
            mark, rest = m.groups()
            if fences and mark[0] == fences[-1][0] and len(mark) >= len(fences[-1]) and not rest.strip():
                fences.pop()
            else:
                fences.append(mark)
            continue
        h = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if h and not fences:
            found.append(h.group(1))
    return found


@lru_cache(maxsize=None)
def _headings(name: str, mtime: float) -> tuple[tuple[str, str], ...]:
    nb = json.loads((ROOT / "chapters" / f"{name}.ipynb").read_text())
    found, seen = [], set()
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        for text in markdown_headings("".join(cell["source"])):
            hid = heading_id(text)
            if hid and hid not in seen:  # a repeated heading gets a numbered id: not a stable link
                seen.add(hid)
                found.append((hid, text))
    return tuple(found)


def headings(name: str) -> dict[str, str]:
    """``{id: heading text}`` for every markdown heading of ``chapters/<name>.ipynb`` ({} if it does not exist)."""
    path = ROOT / "chapters" / f"{name}.ipynb"
    if not path.exists():
        return {}
    return dict(_headings(name, path.stat().st_mtime))


def link_html(chapter: str | None, anchor: str | None, ready: set[str]) -> str:
    """Where the book explains something: a link if the chapter is written, its title and "coming" if not.

    An anchor that is no longer a heading of the chapter (a renamed section) links to
    the chapter's top rather than to nowhere; ``tests/test_glossary.py`` catches it.
    """
    if chapter is None:
        return "<em>not in this book</em>"
    title = html.escape(chapter_title(chapter))
    if chapter not in ready:
        return f"{title} <em>(coming)</em>"
    sections = headings(chapter)
    if anchor and anchor in sections:
        section = html.escape(sections[anchor].replace("`", "").replace("$", ""))
        return (f'<a href="{chapter}.html#{anchor}">{section}</a>'
                f'<br><small>{title}</small>')
    return f'<a href="{chapter}.html">{title}</a>'


def links_html(targets, ready: set[str]) -> str:
    """:func:`link_html` for several (chapter, anchor) targets, each chapter's title said once.

    >>> links_html([("fft", "the-inverse-transform"), ("fft", "the-dft-by-its-definition")], {"fft"})
    '<a href="fft.html#the-inverse-transform">The inverse transform</a><br><a href="fft.html#the-dft-by-its-definition">The DFT, by its definition</a><br><small>From the integral to the FFT</small>'
    """
    groups: list[tuple[str, list[str | None]]] = []
    for chapter, anchor in targets:
        if groups and groups[-1][0] == chapter:
            groups[-1][1].append(anchor)
        else:
            groups.append((chapter, [anchor]))
    out = []
    for chapter, anchors in groups:
        sections = [a for a in anchors if a] if chapter in ready else []
        sections = [a for a in sections if a in headings(chapter)]
        if len(sections) > 1:
            out += [link_html(chapter, a, ready).split("<br>")[0] for a in sections]
            out.append(f"<small>{html.escape(chapter_title(chapter))}</small>")
        else:
            out.append(link_html(chapter, anchors[0], ready))
    return "<br>".join(out)


_CELL = 'style="white-space:normal"'


def glossary_html() -> str:
    """The glossary as one HTML table, grouped by topic: Chinese, English, meaning, where in the book."""
    ready = available()
    rows = []
    for topic, group in GLOSSARY:
        rows.append(f'<tr><th colspan="4" style="text-align:left;padding-top:0.8em">{html.escape(topic)}</th></tr>')
        for e in group:
            rows.append(f'<tr><td lang="zh">{rich(e.zh)}</td><td>{html.escape(e.en)}</td>'
                        f"<td>{rich(e.meaning)}</td>"
                        f"<td {_CELL}>{link_html(e.chapter, e.anchor, ready)}</td></tr>")
    return ('<div class="fc-scroll"><table class="fc-plan"><thead><tr><th lang="zh">中文</th><th>English</th>'
            "<th>Meaning</th><th>In the book</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></div>")


def counts() -> dict[str, int]:
    """How many entries there are, and how many point to a written chapter, a coming one, or none."""
    ready = available()
    es = entries()
    return {
        "entries": len(es),
        "written": sum(e.chapter in ready for e in es),
        "coming": sum(e.chapter is not None and e.chapter not in ready for e in es),
        "outside": sum(e.chapter is None for e in es),
    }
