r"""Integer inference: the arithmetic that makes quantisation faster, not only smaller.

Fake quantisation (:mod:`lib.quantization`) rounds numbers to a grid and computes in float32:
smaller files, the same time. Real speed needs the multiplications themselves done on small
integers, and everything around them kept cheap. This module writes that arithmetic out:

**Peak throughput** (:func:`cpu_info`, :func:`simd_peaks`). A core's peak is operations per
cycle times the clock; the operations per cycle follow from the vector width and the
instructions the core has (a float32 fused multiply-add, an int8 dot-product instruction).

**Integer-only inference of a layer** (Jacob et al. 2018). With
:math:`x = s_x (q_x - z_x)`, :math:`w = s_w q_w` and :math:`y = s_y (q_y - z_y)`,

.. math::

    q_y = z_y + M \Big( \sum_k (q_{x,k} - z_x)\, q_{w,k} + q_b \Big), \qquad
    M = \frac{s_x s_w}{s_y}, \quad q_b = \Big\lfloor \frac{b}{s_x s_w} \Big\rceil,

where the sum is an int8 x int8 product accumulated in int32 (:func:`integer_linear`), and
the one real number left, :math:`M`, is applied as an integer multiplication and a shift:
:math:`M \approx M_0 \, 2^{-31-n}` with :math:`M_0` a 31-bit integer
(:func:`quantize_multiplier`, :func:`fixed_point_multiply`, :func:`requantize`).

**Power-of-two (logarithmic) weights** (Miyashita et al. 2016; Zhou et al. 2017). Weights
rounded to :math:`\{0, \pm 2^k\}` (:func:`log2_quantize`, :func:`log2_levels`) turn every
multiplication by a weight into a bit shift (:func:`shift_multiply`).

References
----------
.. [1] B. Jacob et al., "Quantization and Training of Neural Networks for Efficient
   Integer-Arithmetic-Only Inference", CVPR 2018, arXiv:1712.05877.
.. [2] D. Miyashita, E. H. Lee, B. Murmann, "Convolutional Neural Networks using Logarithmic
   Data Representation", 2016, arXiv:1603.01025.
.. [3] A. Zhou, A. Yao, Y. Guo, L. Xu, Y. Chen, "Incremental Network Quantization: Towards
   Lossless CNNs with Low-Precision Weights", ICLR 2017, arXiv:1702.03044.
.. [4] H. Wu, P. Judd, X. Zhang, M. Isaev, P. Micikevicius, "Integer Quantization for Deep
   Learning Inference: Principles and Empirical Evaluation", 2020, arXiv:2004.09602.
.. [5] D. Khudia et al., "FBGEMM: Enabling High-Performance Low-Precision Deep Learning
   Inference", 2021, arXiv:2101.05615.
"""

from __future__ import annotations

import copy
import math
import re
import warnings
from pathlib import Path

import torch
import torch.ao.quantization as tq
from torch import nn

from lib.core.checks import check_choice, check_int, check_real

__all__ = ["cpu_info", "simd_peaks", "quantize_multiplier", "rounding_right_shift", "fixed_point_multiply",
           "requantize", "quantize_bias", "integer_linear", "log2_levels", "log2_quantize", "shift_multiply"]


# --------------------------------------------------------------------------- peak throughput
def cpu_info(path: str | Path = "/proc/cpuinfo") -> dict:
    r"""The processor's model name, clock and instruction-set flags, read from ``/proc/cpuinfo``.

    Returns
    -------
    dict
        ``model`` (str, or None), ``clock_ghz`` (float, the ``cpu MHz`` of the first processor
        divided by 1000, or None if the file does not say), ``flags`` (sorted list of str; empty if
        unknown) and ``logical_cpus`` (int, 0 if unknown). In a virtual machine ``cpu MHz`` is the
        clock the hypervisor reports, usually the base clock: the core may run faster (boost).

    >>> sorted(cpu_info("/nonexistent"))
    ['clock_ghz', 'flags', 'logical_cpus', 'model']
    """
    info = {"model": None, "clock_ghz": None, "flags": [], "logical_cpus": 0}
    try:
        text = Path(path).read_text()
    except OSError:
        return info
    info["logical_cpus"] = len(re.findall(r"^processor\s*:", text, flags=re.M))
    if m := re.search(r"^model name\s*:\s*(.+)$", text, flags=re.M):
        info["model"] = m.group(1).strip()
    if m := re.search(r"^cpu MHz\s*:\s*([0-9.]+)", text, flags=re.M):
        info["clock_ghz"] = float(m.group(1)) / 1000
    if m := re.search(r"^flags\s*:\s*(.+)$", text, flags=re.M):
        info["flags"] = sorted(set(m.group(1).split()))
    return info


def simd_peaks(flags, clock_ghz: float | None = None, fma_units: int = 2) -> dict:
    r"""Theoretical float32 and int8 peak throughput of one core, from its instruction-set flags.

    Peak = operations per cycle :math:`\times` clock. With vector registers of :math:`W` bits
    (512 with ``avx512f``, 256 with ``avx2``, else 128) and ``fma_units`` vector units that each
    start one instruction per cycle:

    * **float32**: a fused multiply-add does :math:`W/32` multiply-adds, 2 operations each:
      :math:`u \cdot W/32 \cdot 2` operations per cycle;
    * **int8 with VNNI** (``avx512_vnni``; ``avx_vnni`` for 256 bits): ``vpdpbusd`` multiplies
      4 pairs of 8-bit numbers per 32-bit lane and adds them to an int32 accumulator,
      4 times the work of a float32 FMA: :math:`u \cdot W/32 \cdot 4 \cdot 2`;
    * **int8 without VNNI**: ``vpmaddubsw`` (:math:`W/8` products, summed in pairs to int16),
      ``vpmaddwd`` (widen to int32) and ``vpaddd`` (accumulate): 3 instructions for :math:`W/8`
      multiply-adds, :math:`u \cdot W/8 \cdot 2 / 3`, only 4/3 of the float32 peak.

    The number of units is not in the flags (2 is typical of recent desktop and server cores);
    a measured throughput divided by these peaks says how close a kernel gets.

    Parameters
    ----------
    flags : iterable of str
        Instruction-set flags as in ``/proc/cpuinfo`` (see :func:`cpu_info`).
    clock_ghz : float > 0, optional
        Clock in GHz; without it only the per-cycle numbers are returned.
    fma_units : int >= 1
        Vector multiply-add units per core (assumed).

    Returns
    -------
    dict
        ``width_bits``, ``fp32_per_cycle``, ``int8_per_cycle``, ``int8_instruction``, ``ratio``
        (int8 / float32) and, with a clock, ``fp32_gflops`` and ``int8_gops``.

    References
    ----------
    Wu et al., "Integer Quantization for Deep Learning Inference", arXiv:2004.09602;
    Khudia et al., "FBGEMM", arXiv:2101.05615.

    >>> p = simd_peaks(["avx2", "fma", "avx512f", "avx512_vnni"], clock_ghz=2.0)
    >>> p["fp32_per_cycle"], p["int8_per_cycle"], p["fp32_gflops"], p["int8_gops"]
    (64, 256, 128.0, 512.0)
    """
    flags = set(flags)
    units = check_int("fma_units", fma_units, 1, 16)
    if clock_ghz is not None:
        check_real("clock_ghz", clock_ghz, 0.0, 100.0, lo_open=True)
    width = 512 if "avx512f" in flags else 256 if "avx2" in flags else 128
    fp32 = units * width // 32 * 2
    vnni = "avx512_vnni" in flags if width == 512 else "avx_vnni" in flags
    if vnni:
        int8, instr = units * width // 32 * 4 * 2, "vpdpbusd (VNNI)"
    else:
        int8, instr = units * width // 8 * 2 / 3, "vpmaddubsw + vpmaddwd + vpaddd"
    out = {"width_bits": width, "fp32_per_cycle": fp32, "int8_per_cycle": int8, "int8_instruction": instr,
           "ratio": int8 / fp32}
    if clock_ghz is not None:
        out["fp32_gflops"] = fp32 * clock_ghz
        out["int8_gops"] = int8 * clock_ghz
    return out


# --------------------------------------------------------------------------- fixed-point requantisation
def quantize_multiplier(multiplier: float) -> tuple[int, int]:
    r"""Write a real multiplier :math:`M \in [2^{-32}, 1)` as a 31-bit integer and a shift.

    :math:`M = M_0' \, 2^{-n}` with :math:`M_0' \in [\tfrac12, 1)` (exactly: ``math.frexp``), and
    :math:`M_0'` is stored as the integer :math:`M_0 = \lfloor M_0' \, 2^{31} \rceil \in [2^{30}, 2^{31})`,
    so :math:`M \approx M_0 \, 2^{-31-n}` with a relative error below :math:`2^{-31}`
    (Jacob et al. 2018, section 2.2). If rounding reaches :math:`2^{31}`, :math:`M_0` is halved
    and :math:`n` decreased.

    Returns
    -------
    (M0, n) : (int, int)
        :math:`2^{30} \le M_0 < 2^{31}` and :math:`-1 \le n \le 31` (:math:`n = -1` only when
        :math:`M` is so close to 1 that it rounds up to it).

    References
    ----------
    Jacob et al., arXiv:1712.05877, eq. (6).

    >>> quantize_multiplier(0.75)
    (1610612736, 0)
    >>> m0, n = quantize_multiplier(0.0123)
    >>> n, abs(m0 * 2.0 ** (-31 - n) - 0.0123) < 1e-11
    (6, True)
    """
    m = check_real("multiplier", multiplier, 2.0 ** -32, 1.0, hi_open=True)
    frac, exp = math.frexp(m)  # m = frac * 2**exp, 0.5 <= frac < 1
    m0, n = round(frac * 2**31), -exp
    if m0 == 2**31:  # frac rounded up to 1.0
        m0, n = 2**30, n - 1
    return m0, n


def _check_int_tensor(name: str, x) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.dtype.is_floating_point or x.dtype.is_complex or x.dtype == torch.bool:
        raise ValueError(f"{name} must be an integer tensor, got {getattr(x, 'dtype', type(x).__name__)}")
    return x


def rounding_right_shift(x: torch.Tensor, shift) -> torch.Tensor:
    r"""Divide integers by :math:`2^s` and round to nearest, ties away from zero: :math:`\lfloor x / 2^s \rceil`.

    A plain right shift ``x >> s`` rounds towards :math:`-\infty`; adding 1 when the bits shifted
    out are more than half (at least half, for negative ``x``) rounds to nearest. This is gemmlowp's
    ``RoundingDivideByPOT``, the rounding of Jacob et al.'s reference code.

    Parameters
    ----------
    x : integer tensor
    shift : int or integer tensor in [0, 62]
        Broadcast against ``x`` (one shift per output channel, say).

    >>> rounding_right_shift(torch.tensor([5, 6, 7, -5, -6, -7]), 2)
    tensor([ 1,  2,  2, -1, -2, -2])
    """
    x = _check_int_tensor("x", x).to(torch.int64)
    if isinstance(shift, torch.Tensor):
        _check_int_tensor("shift", shift)
        if shift.numel() and (int(shift.min()) < 0 or int(shift.max()) > 62):
            raise ValueError(f"shift must lie in [0, 62], got values in [{int(shift.min())}, {int(shift.max())}]")
        s = shift.to(torch.int64)
    else:
        s = torch.tensor(check_int("shift", shift, 0, 62), dtype=torch.int64)
    mask = (torch.ones_like(s) << s) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0).to(torch.int64)
    return (x >> s) + (remainder > threshold).to(torch.int64)


def fixed_point_multiply(acc: torch.Tensor, m0, n) -> torch.Tensor:
    r"""Integer :math:`\lfloor \text{acc} \cdot M_0 \, 2^{-31-n} \rceil`: the real multiplier :math:`M`
    applied with one integer multiplication and one rounding shift.

    ``acc`` holds int32 values and :math:`M_0 < 2^{31}`, so the product fits in 64 bits. (Jacob
    et al.'s code rounds twice, in a 32-bit high multiply and then in the shift; one rounding of
    the 64-bit product is as cheap on a 64-bit machine and never less accurate.)

    Parameters
    ----------
    acc : integer tensor
        Accumulators, within the int32 range.
    m0, n : int or integer tensors
        From :func:`quantize_multiplier` (tensors broadcast against ``acc``: one per channel).

    >>> m0, n = quantize_multiplier(0.25)
    >>> fixed_point_multiply(torch.tensor([4, 6, -6, 1000]), m0, n)
    tensor([  1,   2,  -2, 250])
    """
    acc = _check_int_tensor("acc", acc).to(torch.int64)
    if acc.numel() and (int(acc.min()) < -2**31 or int(acc.max()) > 2**31 - 1):
        raise ValueError(f"acc must hold int32 values, got values in [{int(acc.min())}, {int(acc.max())}]")
    m0 = torch.as_tensor(m0, dtype=torch.int64)
    n = torch.as_tensor(n, dtype=torch.int64)
    if m0.numel() and (int(m0.min()) < 2**30 or int(m0.max()) >= 2**31):
        raise ValueError(f"m0 must lie in [2**30, 2**31), got {m0.tolist()}")
    if n.numel() and (int(n.min()) < -1 or int(n.max()) > 31):
        raise ValueError(f"n must lie in [-1, 31], got {n.tolist()}")
    return rounding_right_shift(acc * m0, 31 + n)


def requantize(acc: torch.Tensor, multiplier, zero_point: int, quant_min: int = 0, quant_max: int = 255,
               axis: int = -1) -> torch.Tensor:
    r"""Turn int32 accumulators into output codes: :math:`\operatorname{clamp}(z_y + \lfloor M \cdot \text{acc} \rceil, q_\min, q_\max)`,
    with :math:`M` applied in fixed point (:func:`quantize_multiplier`, :func:`fixed_point_multiply`).

    Parameters
    ----------
    acc : integer tensor
        int32 accumulators (including the bias).
    multiplier : float or 1-D float tensor
        :math:`M = s_x s_w / s_y`, one per tensor or one per channel along ``axis``.
    zero_point : int
        Output zero point :math:`z_y`, within ``[quant_min, quant_max]``.
    quant_min, quant_max : int
        The output code range (``[0, 255]`` for uint8; ``[z_y, 255]`` applies a fused ReLU).

    >>> requantize(torch.tensor([-400, 0, 37, 400, 9000]), 0.1, 10)
    tensor([  0,  10,  14,  50, 255])
    """
    _check_int_tensor("acc", acc)
    lo, hi = check_int("quant_min", quant_min), check_int("quant_max", quant_max)
    if lo >= hi:
        raise ValueError(f"quant_min must be smaller than quant_max, got {quant_min} and {quant_max}")
    zp = check_int("zero_point", zero_point, lo, hi)
    if isinstance(multiplier, torch.Tensor) and multiplier.dim() > 0:
        if multiplier.dim() != 1 or acc.dim() == 0 or multiplier.numel() != acc.shape[axis]:
            raise ValueError(f"multiplier must be a number or a 1-D tensor with one entry per channel "
                             f"({acc.shape[axis] if acc.dim() else 0} along axis {axis}), got shape {tuple(multiplier.shape)}")
        pairs = [quantize_multiplier(float(m)) for m in multiplier]
        shape = [1] * acc.dim()
        shape[axis] = -1
        m0 = torch.tensor([p[0] for p in pairs]).reshape(shape)
        n = torch.tensor([p[1] for p in pairs]).reshape(shape)
    else:
        m0, n = quantize_multiplier(float(multiplier))
    return (fixed_point_multiply(acc, m0, n) + zp).clamp(lo, hi)


def quantize_bias(bias: torch.Tensor, input_scale: float, weight_scale) -> torch.Tensor:
    r"""The bias as int32 codes on the accumulator's grid: :math:`q_b = \lfloor b / (s_x s_w) \rceil`.

    The accumulator :math:`\sum_k (q_{x,k} - z_x) q_{w,k}` counts in units of :math:`s_x s_w`, so
    the bias is rounded to that same step (zero point 0) and simply added (Jacob et al. 2018,
    section 2.4). The scales are multiplied in float32, as PyTorch's kernels do; rounding is half
    to even. Returned as ``int64`` holding int32 values.

    >>> quantize_bias(torch.tensor([0.1, -0.05]), 0.02, 0.5)
    tensor([10, -5])
    """
    if not isinstance(bias, torch.Tensor) or not bias.dtype.is_floating_point or bias.dim() != 1:
        raise ValueError(f"bias must be a 1-D float tensor, got {getattr(bias, 'dtype', type(bias).__name__)} "
                         f"{tuple(getattr(bias, 'shape', ()))}")
    sx = check_real("input_scale", input_scale, 0.0, lo_open=True)
    sw = torch.as_tensor(weight_scale, dtype=torch.float32)
    if not bool((sw > 0).all()) or sw.dim() > 1 or (sw.dim() == 1 and sw.numel() != bias.numel()):
        raise ValueError(f"weight_scale must be positive, one number or one per output ({bias.numel()}), "
                         f"got {sw.tolist()}")
    step = torch.tensor(sx, dtype=torch.float32) * sw
    q = torch.round(bias.to(torch.float64) / step.to(torch.float64))
    if bool((q.abs() > 2**31 - 1).any()):
        raise ValueError("bias is too large for int32 codes at this input_scale * weight_scale")
    return q.to(torch.int64)


def integer_linear(x_codes: torch.Tensor, x_scale: float, x_zero_point: int, w_codes: torch.Tensor, w_scale,
                   bias: torch.Tensor | None, out_scale: float, out_zero_point: int, relu: bool = False) -> torch.Tensor:
    r"""A quantised fully connected layer computed with integers only (Jacob et al. 2018).

    .. math::

        \text{acc}_{ij} = \sum_k (q_{x,ik} - z_x)\, q_{w,jk} + q_{b,j}, \qquad
        q_{y,ij} = \operatorname{clamp}\big(z_y + \lfloor M_j \, \text{acc}_{ij} \rceil,\; q_\min, 255\big),

    with :math:`M_j = s_x s_{w,j} / s_y` in fixed point (:func:`requantize`), :math:`q_b` from
    :func:`quantize_bias`, and :math:`q_\min = z_y` with a fused ReLU (else 0). Activations are
    uint8 codes with a zero point, weights int8 codes with zero point 0 (symmetric, per tensor or
    per output channel), as PyTorch's x86 and fbgemm backends use them. The products are exact in
    int32 (the matrix product here runs in int64 for clarity, and the sum is checked to fit int32).

    Parameters
    ----------
    x_codes : integer tensor (batch, in_features), values in [0, 255]
    x_scale, x_zero_point : float > 0, int in [0, 255]
    w_codes : integer tensor (out_features, in_features), values in [-128, 127]
    w_scale : float, or float tensor (out_features,)
    bias : float tensor (out_features,) or None
    out_scale, out_zero_point : float > 0, int in [0, 255]
    relu : bool
        Clamp at the zero point (a fused ReLU).

    Returns
    -------
    Tensor
        ``int64`` output codes in [0, 255], shape (batch, out_features).

    References
    ----------
    Jacob et al., arXiv:1712.05877, section 2.

    >>> x = torch.tensor([[131, 120]]); w = torch.tensor([[10, -20], [5, 5]])
    >>> integer_linear(x, 0.1, 128, w, 0.05, torch.tensor([0.0, 1.0]), 0.2, 100)
    tensor([[105, 104]])
    """
    _check_int_tensor("x_codes", x_codes)
    _check_int_tensor("w_codes", w_codes)
    if x_codes.dim() != 2 or w_codes.dim() != 2 or x_codes.shape[1] != w_codes.shape[1]:
        raise ValueError(f"x_codes (batch, in) and w_codes (out, in) must be 2-D with the same in_features, got "
                         f"{tuple(x_codes.shape)} and {tuple(w_codes.shape)}")
    if x_codes.numel() and (int(x_codes.min()) < 0 or int(x_codes.max()) > 255):
        raise ValueError("x_codes must lie in [0, 255] (uint8)")
    if w_codes.numel() and (int(w_codes.min()) < -128 or int(w_codes.max()) > 127):
        raise ValueError("w_codes must lie in [-128, 127] (int8)")
    sx = check_real("x_scale", x_scale, 0.0, lo_open=True)
    zx = check_int("x_zero_point", x_zero_point, 0, 255)
    sy = check_real("out_scale", out_scale, 0.0, lo_open=True)
    zy = check_int("out_zero_point", out_zero_point, 0, 255)
    out = w_codes.shape[0]
    sw = torch.as_tensor(w_scale, dtype=torch.float32)
    if sw.dim() == 1 and sw.numel() != out:
        raise ValueError(f"w_scale must be one number or one per output channel ({out}), got {sw.numel()}")

    acc = (x_codes.to(torch.int64) - zx) @ w_codes.to(torch.int64).T   # int8 x int8 products, summed
    if bias is not None:
        acc = acc + quantize_bias(bias, sx, sw)
    if acc.numel() and (int(acc.abs().max()) > 2**31 - 1):
        raise ValueError("the accumulators overflow int32: the layer is too wide for these codes")
    multiplier = (torch.tensor(sx, dtype=torch.float32) * sw).to(torch.float64) / sy
    return requantize(acc, multiplier if multiplier.dim() else float(multiplier), zy, zy if relu else 0, 255)


# --------------------------------------------------------------------------- power-of-two weights
def log2_levels(num_bits: int, max_exponent: int) -> torch.Tensor:
    r"""The values a ``num_bits``-bit power-of-two code can hold, sorted: 0 and :math:`\pm 2^k`.

    One bit is the sign; the other :math:`b-1` bits hold :math:`2^{b-1}` magnitudes: zero and the
    :math:`L = 2^{b-1} - 1` powers :math:`2^{k_\max - L + 1}, \dots, 2^{k_\max}`. (Zhou et al.'s INQ
    spends one bit on zero instead and keeps :math:`2^{b-2}` powers.) Two bits give the ternary
    :math:`\{0, \pm 2^{k_\max}\}`.

    >>> log2_levels(3, 0)
    tensor([-1.0000, -0.5000, -0.2500,  0.0000,  0.2500,  0.5000,  1.0000])
    """
    b = check_int("num_bits", num_bits, 2, 8)
    kmax = check_int("max_exponent", max_exponent, -100, 100)
    powers = 2.0 ** torch.arange(kmax - (2 ** (b - 1) - 1) + 1, kmax + 1, dtype=torch.float64)
    return torch.cat([-powers.flip(0), torch.zeros(1, dtype=torch.float64), powers]).to(torch.float32)


def log2_quantize(w: torch.Tensor, num_bits: int, max_exponent: int | None = None,
                  rounding: str = "log") -> torch.Tensor:
    r"""Round weights to powers of two: every output is 0 or :math:`\pm 2^k`,
    :math:`k_\max - L + 1 \le k \le k_\max`, :math:`L = 2^{b-1} - 1` (see :func:`log2_levels`).

    ``rounding="log"`` (Miyashita et al. 2016) rounds in the log domain,
    :math:`k = \lfloor \log_2 |w| \rceil` clipped to the range: the nearest power of two by ratio.
    A weight below :math:`2^{k_\min - 1/2}` becomes 0. ``rounding="linear"`` (Zhou et al.'s INQ)
    picks the nearest level by difference: the boundary between :math:`2^k` and :math:`2^{k+1}` is
    their mean :math:`1.5 \cdot 2^k`, and a weight below :math:`2^{k_\min - 1}` becomes 0. Above the
    largest power a weight is clipped to :math:`\pm 2^{k_\max}`.

    Parameters
    ----------
    w : float tensor
    num_bits : int in [2, 8]
        Bits per weight, the sign included.
    max_exponent : int, optional
        :math:`k_\max`. By default, the exponent :math:`\max|w|` itself rounds to (with the chosen
        rounding), so the largest weight is represented as well as the grid allows.
    rounding : {"log", "linear"}

    Returns
    -------
    Tensor
        ``w``'s shape and dtype.

    References
    ----------
    Miyashita et al., arXiv:1603.01025, eq. (3); Zhou et al., arXiv:1702.03044, eq. (4).

    >>> log2_quantize(torch.tensor([0.9, -0.3, 0.2, 0.05, 0.0]), 3)
    tensor([ 1.0000, -0.2500,  0.2500,  0.0000,  0.0000])
    >>> log2_quantize(torch.tensor([0.36]), 3, rounding="log"), log2_quantize(torch.tensor([0.36]), 3, rounding="linear")
    (tensor([0.5000]), tensor([0.2500]))
    """
    if not isinstance(w, torch.Tensor) or not w.dtype.is_floating_point or w.numel() == 0:
        raise ValueError(f"w must be a non-empty float tensor, got {getattr(w, 'dtype', type(w).__name__)}")
    if not bool(torch.isfinite(w).all()):
        raise ValueError("w must contain only finite numbers (no inf or nan)")
    b = check_int("num_bits", num_bits, 2, 8)
    check_choice("rounding", rounding, ("log", "linear"))
    a = w.detach().to(torch.float64).abs()
    if max_exponent is None:
        top = float(a.max())
        if top == 0.0:
            return torch.zeros_like(w)
        max_exponent = round(math.log2(top)) if rounding == "log" else math.floor(math.log2(top / 0.75))
    kmax = check_int("max_exponent", max_exponent, -100, 100)
    kmin = kmax - (2 ** (b - 1) - 1) + 1
    tiny = torch.finfo(torch.float64).tiny
    if rounding == "log":
        k = torch.round(torch.log2(a.clamp(min=tiny)))
        zero = a < 2.0 ** (kmin - 0.5)
    else:
        k = torch.floor(torch.log2(a.clamp(min=tiny) / 0.75))  # 2^k <= |w| / 0.75 < 2^(k+1): nearest by difference
        zero = a < 2.0 ** (kmin - 1)
    k = k.clamp(kmin, kmax)
    out = torch.where(zero, torch.zeros_like(a), torch.sign(w.detach().to(torch.float64)) * 2.0 ** k)
    return out.to(w.dtype)


def shift_multiply(x: torch.Tensor, exponent: int) -> torch.Tensor:
    r"""Multiply integers by :math:`2^k` with a bit shift: ``x << k`` for :math:`k \ge 0`, ``x >> -k`` for :math:`k < 0`.

    A left shift by :math:`k` equals multiplication by :math:`2^k` (as long as the result fits the
    type); an arithmetic right shift equals :math:`\lfloor x / 2^{-k} \rfloor`, division rounded
    towards :math:`-\infty` (use :func:`rounding_right_shift` to round to nearest). In hardware a
    shift is wiring, where a multiplier is an array of adders: that, not CPU speed, is the point
    of power-of-two weights.

    >>> shift_multiply(torch.tensor([3, -3, 5]), 2), shift_multiply(torch.tensor([3, -3, 5]), -1)
    (tensor([ 12, -12,  20]), tensor([ 1, -2,  2]))
    """
    _check_int_tensor("x", x)
    k = check_int("exponent", exponent, -62, 62)
    return x << k if k >= 0 else x >> -k


# --------------------------------------------------------------------------- whole networks on PyTorch's int8 kernels
def int8_model(net: torch.nn.Module, calibration: torch.Tensor, backend: str = "x86") -> torch.nn.Module:
    """``net`` converted to int8 with PyTorch's eager-mode static quantisation, as the book does it.

    The recipe: wrap the float network between a ``QuantStub`` (input to uint8) and a
    ``DeQuantStub`` (output back to float); fuse every ``Linear``/``Conv2d`` directly followed by
    a ``ReLU`` among ``net``'s children; take the backend's default qconfig (int8 weights,
    symmetric per output channel; uint8 activations, histogram-calibrated); insert observers;
    run ``calibration`` through; convert every module to its quantised kernel. ``net`` itself is
    not modified. ``torch.ao.quantization`` announces its move to ``torchao``; that warning is
    silenced here.

    Parameters
    ----------
    net : nn.Module
        A float network whose children are applied in order (an ``nn.Sequential``).
    calibration : Tensor
        Inputs whose activations fix the quantisation ranges (a few hundred training images).
    backend : {"x86", "fbgemm", "qnnpack", "onednn"}
        The quantised engine, also set as ``torch.backends.quantized.engine``.

    Returns
    -------
    nn.Module
        The converted model (float in, float out), in eval mode.

    Examples
    --------
    >>> torch.manual_seed(0) and None
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    >>> q = int8_model(net, torch.randn(64, 4))
    >>> type(q.net[0]).__name__, q(torch.randn(3, 4)).shape
    ('LinearReLU', torch.Size([3, 2]))
    """
    if not isinstance(net, nn.Module):
        raise ValueError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    if not isinstance(calibration, torch.Tensor) or calibration.numel() == 0:
        raise ValueError("calibration must be a non-empty tensor of inputs")
    check_choice("backend", backend, ("x86", "fbgemm", "qnnpack", "onednn"))

    class Quantisable(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.quant, self.net, self.dequant = tq.QuantStub(), copy.deepcopy(inner), tq.DeQuantStub()

        def forward(self, x):
            return self.dequant(self.net(self.quant(x)))

    kids = list(net.named_children())
    fuse = [[f"net.{a}", f"net.{b}"] for (a, m), (b, r) in zip(kids, kids[1:])
            if isinstance(m, (nn.Linear, nn.Conv2d)) and isinstance(r, nn.ReLU)]
    torch.backends.quantized.engine = backend
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = tq.fuse_modules(Quantisable(net).eval(), fuse)
        model.qconfig = tq.get_default_qconfig(backend)
        tq.prepare(model, inplace=True)
        with torch.no_grad():
            model(calibration)
        return tq.convert(model).eval()


__all__ += ["int8_model"]
