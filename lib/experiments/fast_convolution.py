"""The fast-convolution chapter's measurements: FFT against direct convolution as the kernel
grows, Winograd's numerical error by tile size, and the wall-clock of the batched Winograd layer.

Timings are measured when called (never cached: they describe this machine now), with the
methods alternated round by round so that a slow moment of a shared machine hits both, and
reported as medians. Run under :func:`lib.core.config.setup` (one PyTorch thread).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from lib.core.checks import check_choice, check_int
from lib.fastconv import fft_conv2d, winograd_conv2d, winograd_counts, winograd_transforms

__all__ = ["POINT_SETS", "alternate", "fft_vs_direct", "crossover", "fft_ops", "tile_error", "winograd_timing",
           "bench"]

#: Named interpolation point sets for the tile explorer (the first m + r - 2 are used); they
#: differ from the first two points on, so every tile size gives three different algorithms.
POINT_SETS = {
    "0, ±1, ±2, ±1/2, ±4 (default)": (0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 4.0, -4.0),
    "0, ±1/2, ±1, ±1/4, ±2": (0.0, 0.5, -0.5, 1.0, -1.0, 0.25, -0.25, 2.0, -2.0),
    "1, 2, 3, ... (no zero, no negatives)": (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0),
}


def alternate(fns: dict[str, Callable[[], object]], repeat: int = 5, calls: int = 1) -> dict[str, float]:
    """Median seconds per call of each function, timed in alternation: round ``i`` times every
    function once (``calls`` calls each) before round ``i + 1`` starts. One untimed warm-up call each."""
    repeat, calls = check_int("repeat", repeat, 1), check_int("calls", calls, 1)
    for fn in fns.values():
        fn()
    rounds: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(calls):
                fn()
            rounds[k].append((time.perf_counter() - t0) / calls)
    return {k: statistics.median(v) for k, v in rounds.items()}


def fft_ops(batch: int, channels: int, size: int, k: int) -> float:
    """Estimated real multiplications of :func:`lib.fastconv.fft_conv2d` at "same" padding: 4 per
    complex multiply-add over the half-spectrum, plus ~2 P log2 P per real 2-D transform
    of P points (half of a complex radix-2 FFT's), for the batch's inputs and outputs and the kernels."""
    p = size + 2 * (k // 2)
    points = p * p
    transforms = (2 * batch * channels + channels * channels) * 2 * points * np.log2(points)
    return float(4 * batch * channels * channels * p * (p // 2 + 1) + transforms)


def fft_vs_direct(kernels: Sequence[int] = (3, 5, 7, 9, 11, 13, 15, 17, 19, 21), sizes: Sequence[int] = (32,),
                  channels: int = 16, batch: int = 8, repeat: int = 5, seed: int = 0) -> dict:
    """Time ``F.conv2d`` against :func:`fft_conv2d` ("same" padding, ``channels`` in and out,
    square images of side ``size``) for each kernel size; alternate rounds, medians.

    Returns ``{size: {"k": [...], "direct_ms": [...], "fft_ms": [...], "direct_macs": [...], "fft_ops": [...]}}``.
    """
    gen = torch.Generator().manual_seed(seed)
    out = {}
    with torch.no_grad():
        for size in sizes:
            rows = {"k": [], "direct_ms": [], "fft_ms": [], "direct_macs": [], "fft_ops": []}
            x = torch.randn(batch, channels, size, size, generator=gen)
            for k in kernels:
                w = torch.randn(channels, channels, k, k, generator=gen) / k
                t = alternate({"direct": lambda: F.conv2d(x, w, padding=k // 2),
                               "fft": lambda: fft_conv2d(x, w, padding=k // 2)}, repeat=repeat)
                rows["k"].append(k)
                rows["direct_ms"].append(1e3 * t["direct"])
                rows["fft_ms"].append(1e3 * t["fft"])
                rows["direct_macs"].append(batch * channels * channels * k * k * size * size)
                rows["fft_ops"].append(fft_ops(batch, channels, size, k))
            out[size] = rows
    return out


def crossover(rows: dict) -> int | None:
    """The smallest kernel size from which the FFT was faster at every larger size measured
    (``None`` if it was slower at the largest)."""
    best = None
    for k, d, f in zip(reversed(rows["k"]), reversed(rows["direct_ms"]), reversed(rows["fft_ms"])):
        if f < d:
            best = k
        else:
            break
    return best


def tile_error(m: int, r: int = 3, dtype: str = "float32", points=None, tiles: int = 400, seed: int = 0) -> dict:
    """Relative error of one ``F(m x m, r x r)`` tile computed in ``dtype`` against float64.

    ``tiles`` random tiles (standard normal data and kernels); every step (the transforms, the
    transform-domain product, the output transform) is computed in NumPy's ``dtype``. The
    direct sum in the same ``dtype`` is the baseline. Errors are
    ``||y - y_64||_2 / ||y_64||_2`` over all tiles; an error that overflows ``dtype`` (or exceeds
    1000) is reported as 1000 with ``overflow`` true.
    """
    m, r = check_int("m", m, 1, 6), check_int("r", r, 1, 5)
    dt = np.dtype(check_choice("dtype", dtype, ["float16", "float32", "float64"]))
    n = m + r - 1
    rng = np.random.default_rng(seed)
    d = rng.standard_normal((tiles, n, n))
    g = rng.standard_normal((tiles, r, r))
    ref = np.stack([np.einsum("tij,tij->t", d[:, i:i + r, j:j + r], g) for i in range(m) for j in range(m)], 1)
    AT, G, BT = (a.astype(dt) for a in winograd_transforms(m, r, points))
    dd, gg = d.astype(dt), g.astype(dt)
    with np.errstate(over="ignore", invalid="ignore"):        # overflow is reported, not warned about
        V = BT @ dd @ BT.T
        U = G @ gg @ G.T
        Y = AT @ (U * V) @ AT.T
    direct = np.stack([np.einsum("tij,tij->t", dd[:, i:i + r, j:j + r], gg) for i in range(m) for j in range(m)], 1)
    norm = np.linalg.norm(ref)
    err = float(np.linalg.norm(Y.reshape(tiles, -1).astype(np.float64) - ref) / norm)
    overflow = not np.isfinite(err) or err > 1e3
    return {"winograd": 1e3 if overflow else err, "overflow": overflow,
            "direct": float(np.linalg.norm(direct.astype(np.float64) - ref) / norm)}


def winograd_timing(ms: Sequence[int] = (2, 4), channels: int = 32, size: int = 32, batch: int = 8,
                    repeat: int = 5, seed: int = 0) -> dict:
    """Median milliseconds of ``F.conv2d`` and :func:`winograd_conv2d` (3x3, padding 1, float32),
    alternated, and the largest difference between their outputs."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, channels, size, size, generator=gen)
    w = torch.randn(channels, channels, 3, 3, generator=gen) / 3
    fns = {"direct": lambda: F.conv2d(x, w, padding=1)}
    fns.update({f"winograd_m{m}": (lambda m=m: winograd_conv2d(x, w, m=m, padding=1)) for m in ms})
    with torch.no_grad():
        t = alternate(fns, repeat=repeat)
        ref = F.conv2d(x.double(), w.double(), padding=1)
        err = {f"winograd_m{m}": float((winograd_conv2d(x, w, m=m, padding=1).double() - ref).abs().max()) for m in ms}
    return {"ms": {k: 1e3 * v for k, v in t.items()}, "max_abs_error": err,
            "shape": {"batch": batch, "channels": channels, "size": size}}


def bench() -> dict:
    """The figures ``make bench`` prints for this chapter (a few seconds on one thread)."""
    rows = fft_vs_direct(repeat=3)[32]
    wino = winograd_timing(repeat=3)
    out = {"fft_crossover_kernel": crossover(rows),
           "fft_over_direct_time_k3": rows["fft_ms"][0] / rows["direct_ms"][0],
           f"fft_over_direct_time_k{rows['k'][-1]}": rows["fft_ms"][-1] / rows["direct_ms"][-1]}
    for m in (2, 4):
        out[f"winograd_F{m}x{m}_3x3_mult_reduction"] = winograd_counts(m, 3)["ratio"]
        for dt in ("float32", "float16"):
            out[f"winograd_F{m}x{m}_3x3_{dt}_rel_error"] = tile_error(m, 3, dt)["winograd"]
        out[f"winograd_m{m}_over_conv2d_time"] = wino["ms"][f"winograd_m{m}"] / wino["ms"]["direct"]
    out["direct_3x3_float16_rel_error"] = tile_error(2, 3, "float16")["direct"]
    return out
