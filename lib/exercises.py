"""Self-checks for the chapters' exercises.

Each ``check_*`` takes the reader's function, runs it on cases with known
answers, and prints whether it is right (or what went wrong, with a hint). It
never raises on a wrong answer, so a notebook with an unfinished exercise
still runs to the end.
"""

from __future__ import annotations

import cmath
import math
from collections.abc import Callable


def _report(name: str, failures: list[str]) -> None:
    if failures:
        print(f"✗ {name}: not yet.\n  " + "\n  ".join(failures[:3]))
    else:
        print(f"✓ {name}: correct.")


def check_rotate(rotate: Callable[[complex, float], complex] | None) -> None:
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


def _compare(name: str, fn, cases, reference, tol: float, show=repr) -> None:
    """Run ``fn(*case)`` for each case and compare with ``reference(*case)`` within ``tol``."""
    import numpy as np

    if fn is None:
        print(f"Not attempted yet: define {name} and run this cell again.")
        return
    failures = []
    for case in cases:
        want = np.asarray(reference(*case))
        try:
            got = np.asarray(fn(*case), dtype=want.dtype if np.iscomplexobj(want) else None)
        except Exception as err:  # the reader's code may raise anything
            failures.append(f"{name}{tuple(show(c) for c in case)} raised {type(err).__name__}: {err}")
            continue
        if got.shape != want.shape:
            failures.append(f"{name}{tuple(show(c) for c in case)} has shape {got.shape}, expected {want.shape}")
        elif not np.all(np.abs(got - want) <= tol * np.maximum(1.0, np.abs(want))):
            failures.append(f"{name}{tuple(show(c) for c in case)} gave {np.round(got, 4)}, expected {np.round(want, 4)}")
    _report(name, failures)


def _short(x) -> str:
    import numpy as np

    if isinstance(x, np.ndarray):
        return f"<array of {len(x)}>"
    return f"{x:.3g}" if isinstance(x, (float, complex)) else repr(x)


def check_exp_series(exp_series) -> None:
    """``exp_series(z, terms)`` = the sum of the first ``terms`` terms of Σ z^k / k!."""
    def ref(z, terms):
        total, term = 0j, 1 + 0j
        for k in range(terms):
            total += term
            term *= z / (k + 1)
        return total

    cases = [(1j * 0.5, 1), (1j * 1.0, 3), (1j * math.pi, 12), (2 + 1j, 8), (-1.0 + 0j, 20), (1j * math.pi, 40)]
    _compare("exp_series", exp_series, cases, ref, 1e-9, _short)


def check_exp_polar(exp_polar) -> None:
    """``exp_polar(x, y)`` = e^{x+iy}, built as a stretch e^x and a turn by y."""
    cases = [(0.0, 0.0), (1.0, 0.0), (0.0, math.pi / 2), (0.5, 2.0), (-1.2, -0.7), (0.0, math.pi)]
    _compare("exp_polar", exp_polar, cases, lambda x, y: cmath.exp(complex(x, y)), 1e-9, _short)


def _signals():
    import numpy as np

    from . import fourier

    t = np.linspace(0, 2, 4001)
    return [(fourier.tone(t, 3.0) + 1, t, 3.0), (fourier.tone(t, 3.0) + 1, t, 2.2),
            (fourier.chord(t, [2.0, 3.0], [1.0, 0.5], [0.3, -1.0]), t, 2.0), (np.exp(-t), t, 0.7)]


def check_center_of_mass(center_of_mass) -> None:
    """``center_of_mass(signal, t, f)``: the average position of the wound samples."""
    from . import fourier

    _compare("center_of_mass", center_of_mass, _signals(), fourier.center_of_mass, 2e-3, _short)


def check_phase(phase) -> None:
    """``phase(signal, t, f)`` = the angle (radians) of the centre of mass at winding frequency f."""
    import numpy as np

    from . import fourier

    t = np.linspace(0, 2, 4001)
    cases = [(fourier.tone(t, 2.0, 1.0, p), t, 2.0) for p in (0.0, 0.6, -1.2, 2.5)]
    _compare("phase", phase, cases, lambda g, t_, f: np.angle(fourier.center_of_mass(g, t_, f)), 1e-3, _short)


def check_dft(dft) -> None:
    """``dft(x)`` = the discrete Fourier transform of the list or array ``x``."""
    import numpy as np

    rng = np.random.default_rng(0)
    cases = [(np.array([1.0, 0, 0, 0]),), (np.array([0.0, 1, 0, 0]),), (rng.normal(size=7),), (rng.normal(size=16),)]
    _compare("dft", dft, cases, np.fft.fft, 1e-9, _short)


def check_dense_kilobytes(dense_kilobytes) -> None:
    """``dense_kilobytes(net)`` = kilobytes (1 kB = 1000 bytes) to store every parameter as float32."""
    from . import measure, models

    nets = [(models.lenet_300_100(),), (models.lenet5(),), (models.vgg_small(),), (models.mlp([64, 10]),)]
    _compare("dense_kilobytes", dense_kilobytes, nets, lambda net: measure.count_params(net) * 4 / 1000, 1e-9,
             lambda n: type(n).__name__)


def check_csr_bits(csr_bits) -> None:
    """``csr_bits(w)`` = bits to store a 2-D tensor in CSR with 32-bit values and 32-bit indices."""
    import torch

    from . import measure

    g = torch.Generator().manual_seed(0)
    cases = []
    for rows, cols, keep in [(3, 4, 0.5), (30, 20, 0.1), (1, 10, 1.0), (5, 5, 0.0), (100, 784, 0.08)]:
        w = torch.randn(rows, cols, generator=g)
        w[torch.rand(rows, cols, generator=g) >= keep] = 0
        cases.append((w,))
    _compare("csr_bits", csr_bits, cases, lambda w: measure.storage_bits(w, "csr"), 0,
             lambda w: f"<{tuple(w.shape)} tensor, {int((w != 0).sum())} non-zeros>")


def check_kernel_norms(kernel_norms) -> None:
    """``kernel_norms(w)``: the L2 norm of every k x k kernel of a conv weight (out, in, k, k), shape (out, in)."""
    import torch

    g = torch.Generator().manual_seed(0)
    cases = [(torch.randn(o, i, k, k, generator=g),) for o, i, k in [(2, 3, 3), (8, 1, 5), (4, 4, 1)]]
    _compare("kernel_norms", kernel_norms, cases, lambda w: w.pow(2).sum(dim=(2, 3)).sqrt().numpy(), 1e-5,
             lambda w: f"<{tuple(w.shape)} weight>")


def check_apoz(apoz) -> None:
    """``apoz(a)``: per channel, the fraction of exact zeros in activations ``a`` of shape (n, c, h, w)."""
    import torch

    g = torch.Generator().manual_seed(0)
    cases = [(torch.relu(torch.randn(n, c, h, h, generator=g) + b),) for n, c, h, b in
             [(4, 3, 5, 0.0), (2, 8, 3, -1.0), (10, 1, 2, 0.5)]]
    _compare("apoz", apoz, cases, lambda a: (a == 0).float().mean(dim=(0, 2, 3)).numpy(), 1e-6,
             lambda a: f"<{tuple(a.shape)} activations>")


def check_conv_macs(conv_macs) -> None:
    """``conv_macs(c_in, c_out, k, h_out, w_out)``: multiply-accumulates of a k x k convolution per image."""
    cases = [(1, 20, 5, 24, 24), (20, 50, 5, 8, 8), (32, 64, 3, 14, 14), (3, 3, 1, 1, 1)]
    _compare("conv_macs", conv_macs, cases, lambda ci, co, k, h, w: ci * co * k * k * h * w, 0)


def check_quantize(quantize) -> None:
    """``quantize(x, scale, zero_point, qmin, qmax)``: integer codes clamp(round(x / scale) + zero_point)."""
    import torch

    from .quantization import linear_quantize

    g = torch.Generator().manual_seed(0)
    cases = [(torch.randn(20, generator=g), 0.05, 128, 0, 255), (torch.randn(7, generator=g) * 3, 0.1, 0, -128, 127),
             (torch.tensor([-1.0, 0.0, 0.24, 0.26, 2.0]), 0.5, 2, 0, 3)]
    _compare("quantize", quantize, cases, lambda *c: linear_quantize(*c).numpy(), 0,
             lambda c: f"<{len(c)} values>" if hasattr(c, "shape") else repr(c))
