"""Self-checks for the chapters' exercises.

Each ``check_*`` takes the reader's function, runs it on cases with known
answers, and prints whether it is right (or what went wrong, with a hint). It
never raises on a wrong answer, so a notebook with an unfinished exercise
still runs to the end.
"""

from __future__ import annotations

import cmath
import contextlib
import io
import math
import random
from collections.abc import Callable

import numpy as np
import torch

from lib import fastconv as _fastconv
from lib import fourier, integer
from lib import nas as _nas
from lib import picker as _picker
from lib import sharing as _sharing
from lib.xnor import pack_bits
from lib.coding import canonical_code, deep_compression_bits, huffman_code
from lib.quantization import linear_quantize
from lib.workbench import measure, models


def _report(name: str, failures: list[str]) -> None:
    if failures:
        print(f"✗ {name}: not yet.\n  " + "\n  ".join(failures[:3]))
    else:
        print(f"✓ {name}: correct.")


def check_rotate(rotate: Callable[[complex, float], complex] | None) -> bool | None:
    """Check ``rotate(z, theta)``, which should turn ``z`` by ``theta`` radians counter-clockwise."""
    if rotate is None:
        print("Not attempted yet: define rotate(z, theta) and run this cell again.")
        return
    cases = [(1 + 0j, math.pi / 2), (2 + 1j, math.pi), (-1 + 3j, 0.3), (0.5 - 2j, -1.2), (3 + 0j, 2 * math.pi)]
    failures = []
    for z, theta in cases:
        want = z * cmath.exp(1j * theta)
        try:
            got = complex(rotate(z, theta))
        except Exception as err:  # the reader's code may raise anything
            failures.append(f"rotate({z}, {theta:.3f}) raised {type(err).__name__}: {err}")
            continue
        if abs(got - want) > 1e-9 * max(1.0, abs(want)):
            hint = " (hint: did you turn the wrong way?)" if abs(got - z * cmath.exp(-1j * theta)) < 1e-9 else ""
            failures.append(f"rotate({z}, {theta:.3f}) gave {got:.4f}, expected {want:.4f}{hint}")
    _report("rotate", failures)


def _compare(name: str, fn, cases, reference, tol: float, show=repr) -> bool | None:
    """Run ``fn(*case)`` for each case and compare with ``reference(*case)`` within ``tol``; return
    True (right), False (wrong) or None (not attempted), so that a reference solution's cell can
    ``assert`` it and the book's build fails if the reference is wrong."""
    if fn is None:
        print(f"Not attempted yet: define {name} and run this cell again.")
        return None
    failures = []
    for case in cases:
        want = np.asarray(reference(*case))
        try:
            got = np.asarray(fn(*case), dtype=want.dtype if np.iscomplexobj(want) else None)
        except Exception as err:  # the reader's code may raise anything
            failures.append(f"{name}({', '.join(str(show(c)) for c in case)}) raised {type(err).__name__}: {err}")
            continue
        if got.shape != want.shape:
            failures.append(f"{name}({', '.join(str(show(c)) for c in case)}) has shape {got.shape}, expected {want.shape}")
        elif not np.all(np.abs(got - want) <= tol * np.maximum(1.0, np.abs(want))):
            failures.append(f"{name}({', '.join(str(show(c)) for c in case)}) gave {np.round(got, 4)}, expected {np.round(want, 4)}")
    _report(name, failures)
    return not failures


def _short(x) -> str:
    if isinstance(x, np.ndarray):
        return f"<array of {len(x)}>"
    return f"{x:.3g}" if isinstance(x, (float, complex)) else repr(x)


def check_exp_series(exp_series) -> bool | None:
    """``exp_series(z, terms)`` = the sum of the first ``terms`` terms of Σ z^k / k!."""
    def ref(z, terms):
        total, term = 0j, 1 + 0j
        for k in range(terms):
            total += term
            term *= z / (k + 1)
        return total

    cases = [(1j * 0.5, 1), (1j * 1.0, 3), (1j * math.pi, 12), (2 + 1j, 8), (-1.0 + 0j, 20), (1j * math.pi, 40)]
    return _compare("exp_series", exp_series, cases, ref, 1e-9, _short)


def check_exp_polar(exp_polar) -> bool | None:
    """``exp_polar(x, y)`` = e^{x+iy}, built as a stretch e^x and a turn by y."""
    cases = [(0.0, 0.0), (1.0, 0.0), (0.0, math.pi / 2), (0.5, 2.0), (-1.2, -0.7), (0.0, math.pi)]
    return _compare("exp_polar", exp_polar, cases, lambda x, y: cmath.exp(complex(x, y)), 1e-9, _short)


def _signals():
    t = np.linspace(0, 2, 4001)
    return [(fourier.tone(t, 3.0) + 1, t, 3.0), (fourier.tone(t, 3.0) + 1, t, 2.2),
            (fourier.chord(t, [2.0, 3.0], [1.0, 0.5], [0.3, -1.0]), t, 2.0), (np.exp(-t), t, 0.7)]


def check_center_of_mass(center_of_mass) -> bool | None:
    """``center_of_mass(signal, t, f)``: the average position of the wound samples."""
    return _compare("center_of_mass", center_of_mass, _signals(), fourier.center_of_mass, 2e-3, _short)


def check_phase(phase) -> bool | None:
    """``phase(signal, t, f)`` = the angle (radians) of the centre of mass at winding frequency f."""
    t = np.linspace(0, 2, 4001)
    cases = [(fourier.tone(t, 2.0, 1.0, p), t, 2.0) for p in (0.0, 0.6, -1.2, 2.5)]
    return _compare("phase", phase, cases, lambda g, t_, f: np.angle(fourier.center_of_mass(g, t_, f)), 1e-3, _short)


def check_dft(dft) -> bool | None:
    """``dft(x)`` = the discrete Fourier transform of the list or array ``x``."""
    rng = np.random.default_rng(0)
    cases = [(np.array([1.0, 0, 0, 0]),), (np.array([0.0, 1, 0, 0]),), (rng.normal(size=7),), (rng.normal(size=16),)]
    return _compare("dft", dft, cases, np.fft.fft, 1e-9, _short)


def check_dense_kilobytes(dense_kilobytes) -> bool | None:
    """``dense_kilobytes(net)`` = kilobytes (1 kB = 1000 bytes) to store every parameter as float32."""
    nets = [(models.lenet_300_100(),), (models.lenet5(),), (models.vgg_small(),), (models.mlp([64, 10]),)]
    return _compare("dense_kilobytes", dense_kilobytes, nets, lambda net: measure.count_params(net) * 4 / 1000, 1e-9,
             lambda n: type(n).__name__)


def check_csr_bits(csr_bits) -> bool | None:
    """``csr_bits(w)`` = bits to store a 2-D tensor in CSR with 32-bit values and 32-bit indices."""
    g = torch.Generator().manual_seed(0)
    cases = []
    for rows, cols, keep in [(3, 4, 0.5), (30, 20, 0.1), (1, 10, 1.0), (5, 5, 0.0), (100, 784, 0.08)]:
        w = torch.randn(rows, cols, generator=g)
        w[torch.rand(rows, cols, generator=g) >= keep] = 0
        cases.append((w,))
    return _compare("csr_bits", csr_bits, cases, lambda w: measure.storage_bits(w, "csr"), 0,
             lambda w: f"<{tuple(w.shape)} tensor, {int((w != 0).sum())} non-zeros>")


def check_kernel_norms(kernel_norms) -> bool | None:
    """``kernel_norms(w)``: the L2 norm of every k x k kernel of a conv weight (out, in, k, k), shape (out, in)."""
    g = torch.Generator().manual_seed(0)
    cases = [(torch.randn(o, i, k, k, generator=g),) for o, i, k in [(2, 3, 3), (8, 1, 5), (4, 4, 1)]]
    return _compare("kernel_norms", kernel_norms, cases, lambda w: w.pow(2).sum(dim=(2, 3)).sqrt().numpy(), 1e-5,
             lambda w: f"<{tuple(w.shape)} weight>")


def check_apoz(apoz) -> bool | None:
    """``apoz(a)``: per channel, the fraction of exact zeros in activations ``a`` of shape (n, c, h, w)."""
    g = torch.Generator().manual_seed(0)
    cases = [(torch.relu(torch.randn(n, c, h, h, generator=g) + b),) for n, c, h, b in
             [(4, 3, 5, 0.0), (2, 8, 3, -1.0), (10, 1, 2, 0.5)]]
    return _compare("apoz", apoz, cases, lambda a: (a == 0).float().mean(dim=(0, 2, 3)).numpy(), 1e-6,
             lambda a: f"<{tuple(a.shape)} activations>")


def check_conv_macs(conv_macs) -> bool | None:
    """``conv_macs(c_in, c_out, k, h_out, w_out)``: multiply-accumulates of a k x k convolution per image."""
    cases = [(1, 20, 5, 24, 24), (20, 50, 5, 8, 8), (32, 64, 3, 14, 14), (3, 3, 1, 1, 1)]
    return _compare("conv_macs", conv_macs, cases, lambda ci, co, k, h, w: ci * co * k * k * h * w, 0)


def check_quantize(quantize) -> bool | None:
    """``quantize(x, scale, zero_point, qmin, qmax)``: integer codes clamp(round(x / scale) + zero_point)."""
    g = torch.Generator().manual_seed(0)
    cases = [(torch.randn(20, generator=g), 0.05, 128, 0, 255), (torch.randn(7, generator=g) * 3, 0.1, 0, -128, 127),
             (torch.tensor([-1.0, 0.0, 0.24, 0.26, 2.0]), 0.5, 2, 0, 3)]
    return _compare("quantize", quantize, cases, lambda *c: linear_quantize(*c).numpy(), 0,
             lambda c: f"<{len(c)} values>" if hasattr(c, "shape") else repr(c))


def check_fixed_bits(fixed_bits) -> bool | None:
    """``fixed_bits(labels, index_bits, weight_bits)``: the bits of a pruned, weight-shared layer in Deep
    Compression's format without Huffman coding: an ``index_bits`` gap and a ``weight_bits`` code per entry
    (padding entries included) plus 32 bits per centroid in use (the zero, label 0, is not stored)."""
    def reference(labels, index_bits, weight_bits):
        codebook = torch.arange(2**weight_bits, dtype=torch.float32)  # codebook[0] = 0: the pruned weights
        return deep_compression_bits(codebook, labels, index_bits, weight_bits, huffman=False)["fixed_total"]

    g = torch.Generator().manual_seed(0)
    sparse = torch.randint(1, 8, (12, 40), generator=g) * (torch.rand(12, 40, generator=g) < 0.1)
    cases = [(torch.tensor([0, 3, 0, 0, 0, 0, 0, 1, 2]), 2, 2), (sparse, 3, 3), (sparse, 5, 3),
             (torch.tensor([0] * 70 + [5, 5, 0, 5]), 4, 4), (torch.tensor([[1, 1], [1, 1]]), 1, 1)]
    return _compare("fixed_bits", fixed_bits, cases, reference, 0,
             lambda c: f"<{tuple(c.shape)} labels>" if hasattr(c, "shape") else repr(c))


def check_huffman_lengths(huffman_lengths) -> bool | None:
    """``huffman_lengths(counts)``: the codeword lengths of an optimal prefix code for a list of positive counts.

    Ties may be broken either way, so the lengths are not unique: the check asks that they belong
    to a prefix code (Kraft's inequality, every length at least 1) and that their total cost
    :math:`\\sum_s c_s \\ell_s` equals Huffman's.
    """
    if huffman_lengths is None:
        print("Not attempted yet: define huffman_lengths and run this cell again.")
        return
    rng = random.Random(0)
    cases = [[5, 2, 1, 1, 2], [1, 1], [3, 3, 3, 3], [10, 1, 1, 1, 1, 1, 1], [4, 4, 4], [2**k for k in range(8)],
             [rng.randint(1, 60) for _ in range(12)], [rng.randint(1, 1000) for _ in range(33)]]
    failures = []
    for counts in cases:
        code = huffman_code(dict(enumerate(counts)))
        best = sum(c * len(code[i]) for i, c in enumerate(counts))
        shown = f"huffman_lengths({counts if len(counts) <= 12 else f'<{len(counts)} counts>'})"
        try:
            got = [int(length) for length in huffman_lengths(list(counts))]
        except Exception as err:  # the reader's code may raise anything
            failures.append(f"{shown} raised {type(err).__name__}: {err}")
            continue
        if len(got) != len(counts):
            failures.append(f"{shown} gave {len(got)} lengths, expected one per count ({len(counts)})")
            continue
        kraft = sum(2.0 ** -length for length in got)
        total = sum(c * length for c, length in zip(counts, got))
        if min(got) < 1 or kraft > 1 + 1e-12:
            failures.append(f"{shown} gave {got}: no prefix code has these lengths (Kraft sum {kraft:.3g} > 1, "
                            f"or a length below 1)")
        elif total != best:
            failures.append(f"{shown} gave {got}: {total} bits in all, but the optimum is {best} (hint: always "
                            f"merge the two lightest trees, and add 1 to the length of every symbol under both)")
    _report("huffman_lengths", failures)


def check_quantize_multiplier(quantize_multiplier) -> bool | None:
    """``quantize_multiplier(M)`` for 0 < M < 1: integers ``(m0, n)``, 2**30 <= m0 < 2**31, M ~ m0 * 2**(-31 - n)."""
    cases = [(0.75,), (0.0123,), (0.3,), (1e-5,), (0.5,), (0.00048828125,), (1 - 2.0 ** -40,)]
    return _compare("quantize_multiplier", quantize_multiplier, cases, integer.quantize_multiplier, 0)


def check_ste(ste_grad) -> bool | None:
    """``ste_grad(x, grad, scale, zero_point, qmin, qmax)``: the straight-through gradient of fake quantisation,
    ``grad`` where ``round(x / scale) + zero_point`` lies in ``[qmin, qmax]`` and 0 where it was clipped."""
    def reference(x, grad, scale, zero_point, qmin, qmax):
        x = x.clone().requires_grad_()
        torch.fake_quantize_per_tensor_affine(x, scale, zero_point, qmin, qmax).backward(grad)
        return x.grad.numpy()

    g = torch.Generator().manual_seed(0)
    cases = [(torch.randn(12, generator=g) * 2, torch.randn(12, generator=g), 0.1, 5, 0, 15),
             (torch.randn(10, generator=g), torch.ones(10), 0.05, 0, -8, 7),
             (torch.tensor([-3.0, -0.31, 0.0, 0.2, 0.61, 9.0]), torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), 0.2, 1, 0, 3)]
    return _compare("ste_grad", ste_grad, cases, reference, 1e-6,
             lambda c: f"<{len(c)} values>" if hasattr(c, "shape") else repr(c))


def check_xnor_dot(xnor_dot) -> bool | None:
    """``xnor_dot(a_bits, b_bits, n)``: the dot product of two ±1 vectors of length ``n`` from their bits,
    packed by ``lib.xnor.pack_bits`` into 1-D uint64 arrays (bit 1 for +1, padding bits 0)."""
    rng = np.random.default_rng(0)
    vectors = [rng.choice([-1, 1], size=(2, n)) for n in (3, 64, 65, 200, 1000)]
    vectors.append(np.ones((2, 100), dtype=int))
    dots = {}
    cases = []
    for v in vectors:
        a, b = pack_bits(v[0]), pack_bits(v[1])
        dots[(a.tobytes(), b.tobytes())] = int(v[0] @ v[1])
        cases.append((a, b, v.shape[1]))
    return _compare("xnor_dot", xnor_dot, cases, lambda a, b, n: dots[(a.tobytes(), b.tobytes())], 0,
             lambda c: f"<{len(c)} words>" if isinstance(c, np.ndarray) else repr(c))


def check_lloyd_step(lloyd_step) -> bool | None:
    """``lloyd_step(w, centroids)``: one Lloyd iteration on the 1-D tensor ``w``: assign every weight to
    its nearest centroid, then return the new centroids (each cluster's mean; an empty one stays put)."""
    def reference(w, c):
        labels = (w[:, None] - c[None, :]).abs().argmin(dim=1)
        return torch.stack([w[labels == j].mean() if bool((labels == j).any()) else c[j]
                            for j in range(len(c))]).numpy()

    g = torch.Generator().manual_seed(0)
    cases = [(torch.tensor([0.0, 0.1, 0.2, 0.9, 1.0, 1.4], dtype=torch.float64), torch.tensor([0.0, 1.0], dtype=torch.float64)),
             (torch.randn(500, generator=g, dtype=torch.float64), torch.linspace(-2, 2, 5, dtype=torch.float64)),
             (torch.randn(300, generator=g, dtype=torch.float64) * 0.1, torch.tensor([-0.3, 0.05, 0.02, 5.0], dtype=torch.float64))]
    return _compare("lloyd_step", lloyd_step, cases, reference, 1e-9,
             lambda t: f"<{len(t)} values>")


def check_bucket_gradient(bucket_gradient) -> bool | None:
    """``bucket_gradient(grad_v, index, sign, n_weights)``: the gradient of HashedNets' real weights,
    ``g[k] = sum of sign[i, j] * grad_v[i, j] over the entries with index[i, j] == k`` (a 1-D tensor
    of length ``n_weights``; a bucket no entry uses gets 0)."""
    def reference(grad_v, index, sign, n_weights):
        g = torch.zeros(n_weights, dtype=grad_v.dtype)
        return g.index_add_(0, index.reshape(-1), (sign * grad_v).reshape(-1)).numpy()

    g = torch.Generator().manual_seed(0)
    cases = [(torch.ones(2, 2, dtype=torch.float64), torch.tensor([[0, 1], [1, 1]]), torch.ones(2, 2, dtype=torch.float64), 3)]
    for rows, cols, k in ((4, 6, 5), (30, 20, 7), (8, 8, 100)):
        sign = torch.randint(0, 2, (rows, cols), generator=g).double() * 2 - 1
        cases.append((torch.randn(rows, cols, generator=g, dtype=torch.float64),
                      torch.randint(0, k, (rows, cols), generator=g), sign, k))
    return _compare("bucket_gradient", bucket_gradient, cases, reference, 1e-9,
             lambda c: f"<{tuple(c.shape)} tensor>" if isinstance(c, torch.Tensor) else repr(c))


def check_distillation_loss(distillation_loss) -> bool | None:
    """``distillation_loss(student_logits, teacher_logits, target, T, alpha)``: Hinton et al.'s loss,
    ``alpha * T**2 * KL(softmax(teacher / T) || softmax(student / T))`` averaged over the batch, plus
    ``(1 - alpha) * cross_entropy(student_logits, target)``."""
    def reference(s, t, y, T, alpha):
        kl = torch.nn.functional.kl_div(torch.log_softmax(s / T, dim=1), torch.softmax(t / T, dim=1),
                                        reduction="batchmean")
        return float(alpha * T**2 * kl + (1 - alpha) * torch.nn.functional.cross_entropy(s, y))

    g = torch.Generator().manual_seed(0)
    cases = []
    for n, c, T, alpha in ((4, 10, 1.0, 0.5), (8, 10, 20.0, 0.9), (3, 5, 4.0, 1.0), (6, 10, 2.0, 0.0), (5, 3, 0.5, 0.3)):
        s, t = torch.randn(n, c, generator=g, dtype=torch.float64) * 3, torch.randn(n, c, generator=g, dtype=torch.float64) * 3
        cases.append((s, t, torch.randint(0, c, (n,), generator=g), T, alpha))
    return _compare("distillation_loss", distillation_loss, cases, reference, 1e-6,
             lambda x: f"<logits {tuple(x.shape)}>" if isinstance(x, torch.Tensor) and x.dim() == 2
             else f"<labels of {len(x)}>" if isinstance(x, torch.Tensor) else repr(x))


def check_separable_macs(separable_macs) -> bool | None:
    """``separable_macs(m, n, k, h, w)``: multiply-accumulates of a depthwise-separable block (depthwise
    k x k on m channels, then 1 x 1 from m to n channels) on an h x w input, stride 1, "same" padding."""
    cases = [(2, 4, 3, 1, 1), (2, 4, 3, 5, 5), (32, 64, 3, 14, 14), (16, 16, 5, 7, 9), (1, 1, 1, 1, 1)]
    return _compare("separable_macs", separable_macs, cases, lambda m, n, k, h, w: (k * k * m + m * n) * h * w, 0)


def check_fire_params(fire_params) -> bool | None:
    """``fire_params(m, s, e1, e3)``: weights (no biases) of a fire module: squeeze 1 x 1 from m to s
    channels, then expand 1 x 1 (e1 filters) and 3 x 3 (e3 filters) side by side."""
    cases = [(96, 16, 64, 64), (128, 16, 64, 64), (512, 64, 256, 256), (8, 1, 0, 4), (3, 2, 5, 0)]
    return _compare("fire_params", fire_params, cases, lambda m, s, e1, e3: m * s + s * e1 + 9 * s * e3, 0)


# --------------------------------------------------------------------------- neural architecture search


def check_mnas_reward(mnas_reward) -> bool | None:
    """``mnas_reward(acc, lat, target, alpha, beta)``: MnasNet's ACC * (LAT / T) ** w, with
    w = alpha when LAT <= T and beta otherwise (Tan et al. 2019)."""
    cases = [(0.9, 1.0, 1.0, -0.07, -0.07), (0.95, 2.0, 1.0, -0.07, -0.07), (0.8, 0.5, 1.0, 0.0, -1.0),
             (0.8, 2.0, 1.0, 0.0, -1.0), (0.97, 0.3, 0.45, -0.07, -0.15), (0.97, 0.6, 0.45, -0.07, -0.15)]
    return _compare("mnas_reward", mnas_reward, cases, lambda *c: _nas.mnas_reward(c[0], c[1], c[2], c[3], c[4]), 1e-9)


def check_pareto_front(pareto_front) -> bool | None:
    """``pareto_front(errors, latencies)``: indices of the points no other point beats on both (lower
    or equal on each, lower on one), ordered by increasing latency; of identical points keep one."""
    rng = np.random.default_rng(0)
    cases = [([0.10, 0.05, 0.08, 0.05], [1.0, 3.0, 2.5, 4.0]), ([0.02], [0.4]),
             ([0.1, 0.1, 0.2], [1.0, 2.0, 0.5])]
    for n in (10, 30):
        cases.append((list(rng.integers(0, 6, n) / 100), list(rng.integers(1, 8, n) / 10)))
    return _compare("pareto_front", pareto_front, cases, _nas.pareto_front, 0, lambda c: f"<{len(c)} values>")


# --------------------------------------------------------------------------- issue 11: checks that also return a verdict


def check_winograd_mults(winograd_mults) -> bool | None:
    """``winograd_mults(m, r)`` = (direct multiplications, Winograd multiplications) per 2-D output
    tile of F(m x m, r x r)."""
    def reference(m, r):
        cnt = _fastconv.winograd_counts(m, r)
        return (cnt["mults_direct"], cnt["mults_winograd"])

    cases = [(m, r) for m in range(1, 7) for r in range(1, 6)]
    return _compare("winograd_mults", winograd_mults, cases, reference, 0)


def check_fft_layer_products(fft_layer_products) -> bool | None:
    """``fft_layer_products(n, c, o, p, q)`` = complex multiply-adds of the FFT layer's pointwise
    products, N·O·C·P·(Q/2+1) (rfft2 keeps Q // 2 + 1 columns of a real P x Q image's spectrum)."""
    cases = [(1, 1, 1, 4, 4), (8, 16, 24, 38, 38), (2, 3, 5, 7, 9), (1, 64, 64, 34, 34), (3, 1, 2, 1, 1)]
    return _compare("fft_layer_products", fft_layer_products, cases,
                    lambda n, c, o, p, q: n * o * c * p * (q // 2 + 1), 0)




def passes(check: Callable, fn) -> bool:
    """Run ``check(fn)`` (any ``check_*`` here), show what it prints, and return whether it said
    correct: a reference solution's cell ends with ``assert passes(check_x, solution)``, so the book's
    build fails if the reference is wrong."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        verdict = check(fn)
    print(out.getvalue(), end="")
    return verdict is True or (verdict is None and out.getvalue().startswith("✓"))




def check_pq_ratio(pq_ratio) -> bool | None:
    """``pq_ratio(m, n, k, s)`` = compression of product quantisation of an m x n matrix (rows cut
    into s sub-vectors, k centroids per block, 32-bit codebooks): 32mn / (32kn + m s log2 k)."""
    cases = [(784, 300, 16, 100), (784, 300, 256, 30), (100, 10, 2, 10), (1000, 64, 64, 8), (8, 8, 8, 1)]
    return _compare("pq_ratio", pq_ratio, cases, _sharing.pq_compression_ratio, 1e-9, lambda c: c)


def check_svd_error(svd_error) -> bool | None:
    """``svd_error(singular_values, r)`` = the relative Frobenius error of the best rank-r
    approximation (Eckart-Young): sqrt(sum of sigma_i^2 for i > r) / sqrt(sum of all sigma_i^2)."""
    rng = np.random.default_rng(0)
    cases = [(np.array([3.0, 4.0]), 1), (np.array([2.0, 1.0, 0.5]), 0), (np.array([5.0, 1.0, 1.0, 1.0]), 4)]
    for n, r in ((10, 3), (50, 7), (300, 36)):
        cases.append((np.sort(np.abs(rng.standard_normal(n)))[::-1] * np.exp(-np.arange(n) / 20), r))
    return _compare("svd_error", svd_error, cases,
                    lambda s, r: np.sqrt(np.sum(np.asarray(s, dtype=float)[r:] ** 2) / np.sum(np.asarray(s, dtype=float) ** 2)),
                    1e-9, lambda c: f"<{len(c)} singular values>" if isinstance(c, np.ndarray) else c)


def check_circulant_singular_values(circulant_singular_values) -> bool | None:
    """``circulant_singular_values(r)`` = the singular values of circ(r) for a 1-D NumPy array ``r``,
    largest first: the moduli of the discrete Fourier transform of ``r``, sorted."""
    rng = np.random.default_rng(0)
    cases = [(np.array([1.0, 0.0, 0.0, 0.0]),), (np.array([1.0, 1.0, 1.0, 1.0]),), (np.array([0.0, 1.0, 0.0]),),
             (rng.standard_normal(8),), (rng.standard_normal(15),), (rng.standard_normal(64),)]
    return _compare("circulant_singular_values", circulant_singular_values, cases,
                    lambda r: np.sort(np.abs(np.fft.fft(r)))[::-1], 1e-9, lambda c: f"<{len(c)} numbers>")


# --------------------------------------------------------------------------- ex2 (issue 11): pruning, quantisation, coding



def _tensor_case(c) -> str:
    if isinstance(c, torch.Tensor):
        return repr(c.tolist()) if c.numel() <= 12 else f"<{tuple(c.shape)} tensor, {int((c != 0).sum())} non-zeros>"
    return repr(c)


def check_relative_entries(relative_entries) -> bool | None:
    """``relative_entries(w, index_bits)``: the entries Deep Compression's relative-index format stores
    for ``w`` read in row-major order: one per non-zero, plus a padding zero wherever a run of zeros
    is longer than an ``index_bits``-bit gap can say (2**index_bits - 1); trailing zeros are not stored."""
    g = torch.Generator().manual_seed(0)
    w = torch.randn(30, 40, generator=g)
    w[torch.rand(30, 40, generator=g) > 0.05] = 0
    cases = [(torch.tensor([0.0, 0, 1.5, 0, 2]), 2), (torch.tensor([0.0] * 7 + [1.0]), 3),
             (torch.tensor([0.0] * 8 + [1.0]), 3), (torch.tensor([0.0] * 16 + [1.0, 2.0]), 3),
             (torch.tensor([1.0] + [0.0] * 20), 2), (torch.zeros(4, 5), 2), (w, 5), (w, 3)]
    return _compare("relative_entries", relative_entries, cases, measure.relative_index_entries, 0, _tensor_case)


# --------------------------------------------------------------------------- issue 11: Part I (ex1)


def check_small_slides(walk) -> bool | None:
    """``walk(y, steps)``: the point reached from 1 by sliding up by ``y`` in ``steps`` equal small slides,
    each of which multiplies the point by ``1 + i y / steps`` (the exponential's derivative at 0 is 1),
    i.e. ``(1 + i y / steps) ** steps``; it tends to e^{iy} as ``steps`` grows."""
    cases = [(math.pi, 1), (math.pi, 4), (1.0, 10), (0.0, 5), (-2.0, 100), (math.pi, 10_000), (2.5, 1_000)]
    return _compare("walk", walk, cases, lambda y, steps: complex(1.0, y / steps) ** steps, 1e-9, _short)


def check_advance(advance) -> bool | None:
    """``advance(signal, t, f0)``: how many seconds earlier the peaks of the tone ``signal`` come than
    those of cos(2π f0 t), read from the angle φ of its centre of mass at ``f0`` (φ in (-π, π]):
    φ / (2π f0). Positive means earlier (a positive phase advances a tone)."""
    if advance is None:
        print("Not attempted yet: define advance(signal, t, f0) and run this cell again.")
        return None
    t = np.linspace(0, 2, 4001)
    failures = []
    for f0, phi in [(2.0, 0.0), (2.0, 0.6), (2.0, -1.2), (2.0, 2.5), (0.5, 1.0), (3.0, -3.0)]:
        want = phi / (2 * math.pi * f0)
        shown = f"advance(<cos(2π·{f0:g}t {phi:+.1f})>, t, {f0:g})"
        try:
            got = float(advance(fourier.tone(t, f0, 1.0, phi), t, f0))
        except Exception as err:  # the reader's code may raise anything
            failures.append(f"{shown} raised {type(err).__name__}: {err}")
            continue
        if abs(got - want) > 1e-3:
            hint = ""
            if want and abs(got + want) < 1e-3:
                hint = " (hint: the sign: a positive phase makes every peak come earlier)"
            elif want and abs(got - phi) < 1e-3:
                hint = " (hint: that is an angle in radians; convert it to seconds at f0 turns per second)"
            failures.append(f"{shown} gave {got:.4f} s, expected {want:.4f} s{hint}")
    _report("advance", failures)
    return not failures




def check_unet_params(unet_params) -> bool | None:
    """``unet_params(widths, k)`` = parameters of ``lib.picker.PhaseNetLike(widths, kernel_size=k)``:
    every convolution block k·m·n weights (no bias) and 2n BatchNorm parameters; the stem 3 -> w0;
    per level a "same" block w_{i-1} -> w_i (w0 -> w0 at the first) and, except at the bottom, a
    strided block w_i -> w_i; per up level w_{i+1} -> w_i and 2w_i -> w_i; the head w0·3 + 3."""
    cases = [((8, 11, 16, 22, 32), 7), ((4, 8), 3), ((5,), 5), ((2, 3, 4), 1), ((16, 32, 64), 9)]
    return _compare("unet_params", unet_params, cases, lambda w, k: _picker.unet_params(w, k), 0)


# --------------------------------------------------------------------------- issue 15: combining methods (comb)


def check_stacked_ratio(stacked_ratio) -> bool | None:
    """``stacked_ratio(weights, nonzero, value_bits, index_bits, codebook)``: the compression of a pruned,
    weight-shared layer against its float32 copy, 32 * weights / (nonzero * (value_bits + index_bits)
    + 32 * codebook): each kept weight stores a code and a gap, the codebook stores float32 values
    (padding entries ignored)."""
    def reference(weights, nonzero, value_bits, index_bits, codebook):
        return 32 * weights / (nonzero * (value_bits + index_bits) + 32 * codebook)

    cases = [(1000, 100, 5, 5, 31), (4096, 4096, 4, 0, 0), (400_000, 32_000, 5, 5, 31), (25_000, 3_000, 8, 5, 255),
             (1000, 1000, 32, 0, 0), (500_000, 10, 2, 4, 3)]
    return _compare("stacked_ratio", stacked_ratio, cases, reference, 1e-9, _short)


def check_asym_qparams(asym_qparams) -> bool | None:
    """``asym_qparams(x_min, x_max, num_bits)`` = ``(scale, zero_point)`` of an asymmetric min/max grid
    on codes 0 .. 2**num_bits - 1: the range stretched to include 0, s = (u - l) / (2**b - 1),
    z = -round(l / s) (an integer: 0 is exact)."""
    def reference(x_min, x_max, num_bits):
        lo, hi = min(x_min, 0.0), max(x_max, 0.0)
        s = (hi - lo) / (2**num_bits - 1)
        return (s, min(max(-round(lo / s), 0), 2**num_bits - 1))

    cases = [(-1.0, 3.0, 8), (0.5, 2.0, 8), (-2.0, -0.5, 4), (-0.35, 0.65, 4), (-1.234, 5.678, 8),
             (-0.12, 0.2, 2), (-4.0, 0.01, 8)]
    return _compare("asym_qparams", asym_qparams, cases, reference, 1e-6)


def check_remove_tone(remove_tone) -> bool | None:
    """``remove_tone(x, k)``: the real signal ``x`` (n samples) with the tone of ``k`` cycles per window
    removed: its DFT with bins ``k`` and ``n - k`` set to zero (one bin when they coincide, k = 0 or
    k = n/2), transformed back, as a real array."""
    if remove_tone is None:
        print("Not attempted yet: define remove_tone(x, k) and run this cell again.")
        return None

    def reference(x, k):
        X = np.fft.fft(x)
        X[k] = X[-k % len(x)] = 0
        return np.fft.ifft(X).real

    def one_bin(x, k):
        X = np.fft.fft(x)
        X[k] = 0
        return np.fft.ifft(X)

    rng = np.random.default_rng(0)
    j32 = np.arange(32)
    cases = [(np.cos(2 * np.pi * 5 * j32 / 32) + 0.5 * np.sin(2 * np.pi * 12 * j32 / 32), 5),
             (rng.normal(size=16), 3), (rng.normal(size=16) + 2.0, 0), (rng.normal(size=8), 4),
             (rng.normal(size=15), 7), (rng.normal(size=100), 1)]
    failures = []
    for x, k in cases:
        want = reference(x, k)
        shown = f"remove_tone(<{len(x)} samples>, {k})"
        try:
            got = np.asarray(remove_tone(x.copy(), k))
        except Exception as err:  # the reader's code may raise anything
            failures.append(f"{shown} raised {type(err).__name__}: {err}")
            continue
        if got.shape != want.shape:
            failures.append(f"{shown} has shape {got.shape}, expected {want.shape}")
        elif np.iscomplexobj(got) and np.abs(got.imag).max() > 1e-9:
            hint = " (hint: a real tone lives in two bins, k and n - k)" if np.allclose(got, one_bin(x, k)) else ""
            failures.append(f"{shown} is complex, largest imaginary part {np.abs(got.imag).max():.2g}{hint}")
        elif not np.allclose(got.real, want, atol=1e-9):
            failures.append(f"{shown} is off by up to {np.abs(got.real - want).max():.3g}")
    _report("remove_tone", failures)
    return not failures


def check_canonical_code(canonical_codewords) -> bool | None:
    """``canonical_codewords(lengths)``: the canonical prefix code of symbols 0 .. n-1 with the given
    codeword lengths, as a list of bit strings (sorted by length then symbol; the first all zeros;
    each next the previous plus one, widened with zeros when the length grows)."""
    if canonical_codewords is None:
        print("Not attempted yet: define canonical_codewords and run this cell again.")
        return None
    rng = random.Random(0)
    cases = [[1, 2, 3, 3], [2, 2, 2, 2], [3, 1, 3, 2], [5, 5, 4, 3, 2, 1], [1], [4, 4, 3, 3, 3, 3, 3, 2]]
    counts = [rng.randint(1, 200) for _ in range(20)]
    code = huffman_code(dict(enumerate(counts)))
    cases.append([len(code[i]) for i in range(len(counts))])
    failures = []
    for lengths in cases:
        want = canonical_code({i: "0" * n for i, n in enumerate(lengths)})
        want = [want[i] for i in range(len(lengths))]
        shown = f"canonical_codewords({lengths if len(lengths) <= 8 else f'<{len(lengths)} lengths>'})"
        try:
            got = [str(w) for w in canonical_codewords(list(lengths))]
        except Exception as err:  # the reader's code may raise anything
            failures.append(f"{shown} raised {type(err).__name__}: {err}")
            continue
        if got == want:
            continue
        if len(got) != len(want) or any(len(g) != n for g, n in zip(got, lengths)):
            failures.append(f"{shown} gave {got}: the codewords must have the given lengths, in the symbols' order")
        else:
            failures.append(f"{shown} gave {got}, expected {want} (hint: sort by length, then by symbol)")
    _report("canonical_codewords", failures)
    return not failures


def check_int_threshold(int_threshold) -> bool | None:
    """``int_threshold(gamma, beta, mean, var, eps)``: the integer t such that, for every integer y, BatchNorm
    then sign gives +1 exactly when y >= t (gamma > 0) or y <= t (gamma < 0); sign(0) = +1."""
    def reference(gamma, beta, mean, var, eps):
        tau = mean - beta * math.sqrt(var + eps) / gamma
        return math.ceil(tau) if gamma > 0 else math.floor(tau)

    cases = [(1.0, 0.0, 3.0, 4.0, 0.0), (-1.0, 0.0, 3.0, 4.0, 0.0), (0.5, 0.3, 10.2, 9.0, 1e-5),
             (-0.5, 0.3, 10.2, 9.0, 1e-5), (2.0, -1.5, -4.7, 25.0, 1e-5), (-0.8, -1.5, -4.7, 25.0, 1e-5),
             (1.3, 2.0, 0.0, 1.0, 0.0), (-1.3, 2.0, 0.0, 1.0, 0.0)]
    for gamma, beta, mean, var, eps in cases:  # the reference is right: brute force over integers
        tau = reference(gamma, beta, mean, var, eps)
        for y in range(tau - 3, tau + 4):
            plus = gamma * (y - mean) / math.sqrt(var + eps) + beta >= 0
            assert plus == (y >= tau if gamma > 0 else y <= tau)
    return _compare("int_threshold", int_threshold, cases, reference, 0)


def check_fc_inputs_kept(fc_inputs_kept) -> bool | None:
    """``fc_inputs_kept(kept, h, w)``: the input features of a fully connected layer after a flatten
    that survive when the channels with ``kept == False`` are removed: channel c owns features
    c*h*w .. (c+1)*h*w - 1; a 1-D integer tensor, increasing."""
    def reference(kept, h, w):
        return torch.arange(len(kept) * h * w).reshape(len(kept), h * w)[kept].reshape(-1).numpy()

    g = torch.Generator().manual_seed(0)
    cases = [(torch.tensor([True, False, True]), 2, 2), (torch.tensor([False, True]), 1, 3),
             (torch.tensor([True] * 4), 3, 1), (torch.tensor([False] * 3), 2, 2),
             (torch.rand(8, generator=g) < 0.5, 2, 2), (torch.tensor([True, False, False, True, True]), 2, 3)]
    return _compare("fc_inputs_kept", fc_inputs_kept, cases, reference, 0,
                    lambda c: repr(c.tolist()) if isinstance(c, torch.Tensor) and c.numel() <= 8
                    else f"<{c.numel()} channels, {int(c.sum())} kept>" if isinstance(c, torch.Tensor) else repr(c))


def check_ema_range(ema_range) -> bool | None:
    """``ema_range(batches, c)`` = ``(lo, hi)`` of a moving-average min/max observer after the list of
    tensors ``batches``: the first batch's min and max, then m <- m + c (batch min - m), the same for
    the max; compared with ``torch.ao.quantization.MovingAverageMinMaxObserver(averaging_constant=c)``."""
    def reference(batches, c):
        observer = torch.ao.quantization.MovingAverageMinMaxObserver(averaging_constant=c)
        for x in batches:
            observer(x)
        return (float(observer.min_val), float(observer.max_val))

    g = torch.Generator().manual_seed(0)
    cases = [([torch.tensor([-1.0, 2.0])], 0.01), ([torch.tensor([-1.0, 2.0]), torch.tensor([-3.0, 1.0])], 0.01),
             ([torch.tensor([0.5, 2.0]), torch.tensor([1.0])], 0.5), ([torch.randn(30, generator=g) for _ in range(4)], 1.0),
             ([torch.randn(64, generator=g) * (1 + k) for k in range(20)], 0.01),
             ([torch.rand(10, generator=g) + 1 for _ in range(5)], 0.3)]
    return _compare("ema_range", ema_range, cases, reference, 1e-5,
                    lambda c: f"<{len(c)} batches>" if isinstance(c, list) else repr(c))


def check_inverse_dft(inverse_dft) -> bool | None:
    """``inverse_dft(X)``: the inverse DFT ``x_j = (1/n) sum_k X_k e^{+2 pi i jk/n}`` of a complex array,
    equal to ``numpy.fft.ifft`` (the chapter asks for it from the forward ``lib.fourier.dft``)."""
    rng = np.random.default_rng(3)
    cases = [(np.array([1.0 + 0j]),), (np.array([4.0, 0, 0, 0], dtype=complex),),
             (rng.normal(size=6) + 1j * rng.normal(size=6),), (fourier.dft(np.arange(8.0)),),
             (rng.normal(size=13) + 0j,)]
    return _compare("inverse_dft", inverse_dft, cases, np.fft.ifft, 1e-9, show=_short)
