"""The book's plan: every chapter of both parts, and which ones are written.

A chapter counts as available when ``_toc.yml`` lists its file; the opening
chapter prints this plan at build time, so "coming" marks never go stale.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

#: (part, [(file under chapters/ without suffix, title, what it covers)])
PLAN: list[tuple[str, list[tuple[str, str, str]]]] = [
    ("Start here", [
        ("how_to_use", "How to use this book", "what is inside, the three ways to read it, the two kinds of widget"),
    ]),
    ("Part I: the Fourier transform as a winding machine", [
        ("euler_rotation", "Euler's formula as rotation",
         "symmetries of the square, numbers as actions, i as a quarter turn, Euler's formula on the unit circle"),
        ("exponentials", "Exponentials turn sliding into stretching and turning",
         "aˣ⁺ʸ = aˣ·aʸ; real slides stretch, imaginary slides rotate"),
        ("winding_machine", "The winding machine",
         "two notes in one signal, winding at frequency f, the centre of mass, the almost-Fourier transform"),
        ("fourier_formula", "From the machine to the formula",
         "the clockwise rotation, the 1/(t₂ − t₁) factor and why it goes, phase, signal length"),
        ("fft", "From the integral to the FFT",
         "sampling and the DFT, radix-2 and any-length FFTs, O(n log n) measured, the convolution theorem"),
        ("inverse_filtering", "Running the machine backwards",
         "linearity, the inverse transform, a signal rebuilt from its largest coefficients (Parseval), "
         "and filtering a chord you can hear"),
    ]),
    ("Part II: compressing and accelerating neural networks", [
        ("why_compress", "Why compress, and the map of methods",
         "the workbench, the families of methods and which combine"),
        ("magnitude_pruning", "Magnitude pruning", "train, prune, fine-tune, iterate; CSR storage; Deep Compression's first stage"),
        ("pruning_granularity", "Granularity of pruning", "weights, vectors, kernels, filters and channels"),
        ("pruning_criteria", "Choosing what to remove",
         "magnitude, APoZ, Optimal Brain Damage, Network Slimming, Taylor importance, FPGM, group lasso"),
        ("pruning_speed", "Pruning that is really faster", "masked vs removed vs sparse kernels, measured"),
        ("linear_quantization", "Linear quantisation", "scale and zero point, per-tensor and per-channel, calibration"),
        ("fake_quantization", "Fake quantisation and quantisation-aware training", "the straight-through estimator"),
        ("quantization_speed", "When quantisation is faster", "int8 kernels vs float32 on this CPU, power-of-two grids"),
        ("binary_networks", "Binary networks", "BinaryConnect, BNN, XNOR-Net, DoReFa-Net, XNOR and popcount"),
        ("weight_sharing", "Weight sharing by clustering", "k-means, Hessian-weighted k-means, product and residual quantisation"),
        ("huffman", "Huffman coding", "code lengths against entropy, coding indices"),
        ("deep_compression", "Deep Compression end to end", "prune, share, Huffman-code: every bit counted"),
        ("fast_convolution", "FFT and Winograd convolution",
         "the convolution theorem at work, the crossover kernel size, Winograd's minimal filtering and its error"),
        ("low_rank", "Low-rank and tensor decompositions",
         "SVD of fully connected layers, CP and Tucker convolutions, tensor train, block terms; why low rank faded"),
        ("structured_matrices", "Structured layers",
         "circulant, Fastfood and ACDC layers on MNIST, and the width from which they are faster"),
        ("hashing", "Hashing and sharing",
         "HashedNets against an equal-size network, low rank and random edge removal at 1/8 and 1/64; "
         "cross-layer sharing (storage, not MACs); LCNN's dictionary lookups"),
        ("distillation", "Knowledge distillation",
         "soft targets and temperature, why T², a real teacher's dark knowledge, Hinton et al.'s MNIST "
         "experiment on one core, student width and temperature"),
        ("compact_convolutions", "Compact convolutions",
         "depthwise-separable, factorised and fire blocks: formulas, six MNIST variants trained and timed, "
         "and why a depthwise layer saves less time than MACs"),
        ("nas", "Neural architecture search",
         "random search, regularised evolution and DARTS on one CPU budget, with MnasNet's reward on "
         "measured latency, against hand-designed networks"),
        ("combining", "Combining methods",
         "which methods stack and which fight (prune, share, Huffman; compact then prune; low rank then "
         "quantise; distil then prune), every Part II result on one chart with its Pareto front, and a "
         "validation-chosen Deep Compression past 39x on LeNet-5"),
        ("seismic_case_study", "Case study: compressing a seismic phase picker",
         "a PhaseNet-style U-Net on synthetic seismograms from a real Earth model, where its parameters sit, "
         "compressed with Part II's methods and their combinations, against STA/LTA and the AR picker, then "
         "run on ObsPy's real example events"),
    ]),
    ("For readers of the Chinese notes", [
        ("glossary", "Glossary: Chinese and English", "every term the study notes use, linked to where the book explains it"),
        ("notes_map", "From the notes to the book", "each section of each note and the chapter that covers it"),
    ]),
]


def available() -> set[str]:
    """Chapter files (``chapters/<name>``) listed in ``_toc.yml``."""
    text = (ROOT / "_toc.yml").read_text()
    return set(re.findall(r"chapters/([A-Za-z0-9_]+)", text))


def toc_html(part_prefix: str = "") -> str:
    """The plan as an HTML table: written chapters link to their page, the rest say "coming".

    ``part_prefix`` keeps only the parts whose title starts with it (e.g. ``"Part II"``).
    """
    ready = available()
    rows = []
    for part, chapters in PLAN:
        if not part.startswith(part_prefix):
            continue
        rows.append(f'<tr><th colspan="3" style="text-align:left;padding-top:0.8em">{html.escape(part)}</th></tr>')
        for name, title, covers in chapters:
            if name in ready:
                status = "available"
                title_html = f'<a href="{name}.html">{html.escape(title)}</a>'
            else:
                status = "<em>coming</em>"
                title_html = html.escape(title)
            rows.append(f"<tr><td>{title_html}</td><td>{html.escape(covers)}</td><td>{status}</td></tr>")
    return ('<table class="fc-plan"><thead><tr><th>Chapter</th><th>What it covers</th><th>Status</th>'
            "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
