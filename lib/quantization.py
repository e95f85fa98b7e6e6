r"""Quantisation: storing each weight in a few bits instead of 32.

Two families, as in the book:

**Uniform (linear) quantisation** maps a real :math:`x` to an integer on a grid of step
:math:`s` (the *scale*), shifted by an integer *zero point* :math:`z` and clamped to
:math:`[q_\min, q_\max]`:

.. math::

    q = \operatorname{clamp}\big(\lfloor x/s \rceil + z,\; q_\min,\; q_\max\big), \qquad
    \hat x = s\,(q - z).

Integer arithmetic can then do the work (the grid is the same for every weight).
:func:`linear_quantize`, :func:`dequantize` and :func:`fake_quantize` compute exactly what
PyTorch's ``torch.fake_quantize_per_tensor_affine`` and ``..._per_channel_affine`` compute,
bit for bit, ties included (see :func:`linear_quantize` for the one subtlety; the one
difference, :math:`+\infty` per channel, is in :func:`fake_quantize_per_channel`), and
:func:`qparams` chooses :math:`s` and :math:`z` as ``torch.ao.quantization``'s
``MinMaxObserver`` does, or by a percentile or the least squared error.

**Weight sharing** (a learned, non-uniform grid: k-means, Hessian-weighted k-means, product and
residual quantisation) lives in :mod:`lib.sharing`; its public names are re-exported here, so
``lib.quantization.kmeans_quantize``, ``share_weights``, ``SharedWeights``, ``product_quantize``, ...
keep working.

References
----------
.. [1] S. Han, H. Mao, W. J. Dally, "Deep Compression: Compressing Deep Neural Networks with
   Pruning, Trained Quantization and Huffman Coding", ICLR 2016, arXiv:1510.00149.
.. [2] B. Jacob et al., "Quantization and Training of Neural Networks for Efficient
   Integer-Arithmetic-Only Inference", CVPR 2018, arXiv:1712.05877.
.. [3] R. Krishnamoorthi, "Quantizing deep convolutional networks for efficient inference:
   A whitepaper", 2018, arXiv:1806.08342.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from lib.core.checks import check_choice, check_int, check_real
from lib.curvature import linear_gauss_newton_diagonal  # noqa: F401  (lib.quantization.* as before)
from lib.sharing import (  # noqa: F401  (lib.quantization.* as before)
    SharedWeights, centroid_gradients, kmeans_history, kmeans_quantize, pq_compression_ratio, pq_reconstruct,
    product_quantize, residual_quantize, rq_compression_ratio, rq_reconstruct, share_weights)

__all__ = ["quant_range", "linear_quantize", "dequantize", "fake_quantize", "fake_quantize_per_channel",
           "qparams", "per_channel_qparams", "quantization_error",
           "kmeans_quantize", "kmeans_history", "centroid_gradients", "SharedWeights", "share_weights",
           "linear_gauss_newton_diagonal",
           "product_quantize", "pq_reconstruct", "pq_compression_ratio",
           "residual_quantize", "rq_reconstruct", "rq_compression_ratio"]

#: Below this scale PyTorch's observers clamp (``torch.finfo(torch.float32).eps``), so that an
#: all-zero tensor still gets a valid grid.
EPS = float(torch.finfo(torch.float32).eps)


# --------------------------------------------------------------------------- argument checks
def _check_tensor(name: str, x, *, rounding: bool = False) -> torch.Tensor:
    """A float32/float64 tensor. ``rounding=True`` (the quantisers themselves) accepts, as PyTorch's
    ops do, an empty tensor and infinite values (clamped to the grid's ends); NaN is always refused.
    Range estimation (``rounding=False``) needs at least one finite entry and no infinity."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"{name} must be a float32 or float64 tensor, got dtype {x.dtype}")
    if rounding:
        if bool(torch.isnan(x).any()):
            raise ValueError(f"{name} must not contain nan")
        return x
    if x.numel() == 0:
        raise ValueError(f"{name} must have at least one entry, got shape {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} must contain only finite numbers (no inf or nan)")
    return x


def _check_scale(scale) -> float:
    """The scale as PyTorch uses it: a float32 number, strictly positive, with a finite inverse."""
    s = check_real("scale", scale, 0.0, lo_open=True)
    s32 = float(np.float32(s))
    if s32 == 0.0 or not math.isfinite(1.0 / s32):
        raise ValueError(f"scale must be a positive float32 number with a finite inverse, got {scale!r}")
    return s32


def _check_range(quant_min, quant_max, zero_point=None) -> tuple[int, int]:
    lo = check_int("quant_min", quant_min, -2**31, 2**31 - 1)
    hi = check_int("quant_max", quant_max, -2**31, 2**31 - 1)
    if lo >= hi:
        raise ValueError(f"quant_min must be smaller than quant_max, got quant_min={quant_min!r}, "
                         f"quant_max={quant_max!r}")
    if zero_point is not None:
        check_int("zero_point", zero_point, lo, hi)
    return lo, hi


def quant_range(num_bits: int, symmetric: bool = False, restricted: bool = False) -> tuple[int, int]:
    r"""The integers a ``num_bits``-bit code can hold: :math:`[q_\min, q_\max]`.

    Asymmetric (unsigned) codes: :math:`[0, 2^b - 1]`. Symmetric (signed, two's complement):
    :math:`[-2^{b-1}, 2^{b-1} - 1]`; ``restricted`` drops the lone most negative value,
    :math:`[-(2^{b-1} - 1), 2^{b-1} - 1]`, so that the grid is symmetric about zero.

    >>> quant_range(8), quant_range(8, symmetric=True), quant_range(8, True, restricted=True)
    ((0, 255), (-128, 127), (-127, 127))
    """
    num_bits = check_int("num_bits", num_bits, 1, 16)
    if not symmetric:
        if restricted:
            raise ValueError("restricted must be False for an asymmetric (unsigned) range, got True")
        return 0, 2**num_bits - 1
    if restricted and num_bits < 2:
        raise ValueError(f"num_bits must be at least 2 for a restricted symmetric range, got {num_bits}")
    half = 2 ** (num_bits - 1)
    return (-(half - 1) if restricted else -half), half - 1


# --------------------------------------------------------------------------- the uniform quantiser
def _quantize_float(x: torch.Tensor, inv_scale: torch.Tensor, zero_point: torch.Tensor) -> torch.Tensor:
    """``round(x * inv_scale) + zero_point`` in ``x``'s own precision, not yet clamped.

    This is PyTorch's kernel line ``z_point + std::nearbyint(x * inv_scale)``: a product in the
    input's precision, rounded half to even (``torch.round`` is ``nearbyint``), then shifted.
    """
    return torch.round(x * inv_scale.to(x.dtype)) + zero_point.to(x.dtype)


def linear_quantize(x: torch.Tensor, scale: float, zero_point: int, quant_min: int, quant_max: int) -> torch.Tensor:
    r"""The integer codes :math:`q = \operatorname{clamp}(\lfloor x/s \rceil + z, q_\min, q_\max)` (``int64``).

    Rounding is half to even (``torch.round``), and :math:`x/s` is computed the way PyTorch
    computes it: as :math:`x \cdot (1/s)`, with :math:`1/s` rounded to float32 first. The two
    can differ in the last bit, and a last bit decides a tie: with :math:`s = 0.3` (in float32),
    ``x = 2.25`` gives :math:`x/s = 7.4999995` (rounds to 7) but :math:`x \cdot (1/s) = 7.5`
    (a tie, which rounds to the even 8). Matching it makes
    ``dequantize(linear_quantize(x, ...), ...)`` equal to ``torch.fake_quantize_per_tensor_affine``
    for every input.

    Parameters
    ----------
    x : float32 or float64 tensor
    scale : float > 0
        Grid step :math:`s`, used as a float32 number (as PyTorch does).
    zero_point : int in [quant_min, quant_max]
        The code of the real number 0.
    quant_min, quant_max : int
        The code range, e.g. from :func:`quant_range`.

    >>> linear_quantize(torch.tensor([-1.0, 0.0, 0.26, 0.35, 9.0]), 0.1, 10, 0, 15)
    tensor([ 0, 10, 13, 14, 15])
    >>> linear_quantize(torch.tensor([2.25]), 0.3, 0, 0, 15)
    tensor([8])
    """
    _check_tensor("x", x, rounding=True)
    s = _check_scale(scale)
    lo, hi = _check_range(quant_min, quant_max, zero_point)
    inv = torch.tensor(1.0, dtype=torch.float32) / torch.tensor(s, dtype=torch.float32)  # 1.0f / scale
    q = _quantize_float(x, inv, torch.tensor(float(zero_point)))
    return q.clamp(lo, hi).to(torch.int64)


def dequantize(q: torch.Tensor, scale: float, zero_point: int) -> torch.Tensor:
    r"""The reals the codes stand for, :math:`\hat x = s\,(q - z)`, as float32.

    >>> dequantize(torch.tensor([0, 10, 13]), 0.5, 10)
    tensor([-5.0000,  0.0000,  1.5000])
    """
    if not isinstance(q, torch.Tensor) or q.dtype.is_floating_point or q.dtype.is_complex or q.dtype == torch.bool:
        raise ValueError(f"q must be an integer tensor, got {getattr(q, 'dtype', type(q).__name__)}")
    s = _check_scale(scale)
    zp = check_int("zero_point", zero_point, -2**31, 2**31 - 1)
    return (q.to(torch.int64) - zp).to(torch.float32) * torch.tensor(s, dtype=torch.float32)


class _FakeQuantize(torch.autograd.Function):
    r"""Quantise and dequantise in one step, with the straight-through gradient.

    The forward pass is PyTorch's kernel: :math:`\hat x = (\operatorname{clamp}(q, q_\min, q_\max) - z)\,s`
    with the product in float32 for one scale per tensor, and in the input's precision (float64
    for a float64 input) for one scale per channel, as PyTorch's two kernels do. The backward
    pass passes the gradient through unchanged where :math:`q_\min \le q \le q_\max` and blocks
    it where the value was clipped: the
    straight-through estimator (Bengio et al. 2013, who credit it to Hinton's 2012 lectures on
    neural networks) as PyTorch implements it.
    """

    @staticmethod
    def forward(ctx, x, scale, inv_scale, zero_point, quant_min, quant_max, per_channel=False):
        q = _quantize_float(x, inv_scale, zero_point)
        inside = (q >= quant_min) & (q <= quant_max)
        ctx.save_for_backward(inside)
        steps = q.clamp(quant_min, quant_max) - zero_point.to(x.dtype)
        if per_channel:  # PyTorch's per-channel kernel multiplies in the input's precision
            return steps * scale.to(x.dtype)
        return (steps.to(torch.float32) * scale).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (inside,) = ctx.saved_tensors
        return grad * inside, None, None, None, None, None, None


def fake_quantize(x: torch.Tensor, scale: float, zero_point: int, quant_min: int, quant_max: int) -> torch.Tensor:
    r"""Round ``x`` to the grid and back: :math:`s\,(\operatorname{clamp}(\lfloor x/s \rceil + z, q_\min, q_\max) - z)`.

    Equal, bit for bit, to ``torch.fake_quantize_per_tensor_affine(x, scale, zero_point, quant_min,
    quant_max)``, including its gradient (1 inside the range, 0 where ``x`` was clipped), so it can
    stand in for it in quantisation-aware training. Like PyTorch's op it returns an empty tensor
    empty and clamps :math:`\pm\infty` to the grid's ends (gradient 0 there), and a float64
    input gives float64 values rounded to float32's precision, as PyTorch's per-tensor kernel
    does. Stricter than PyTorch about its arguments: ``scale`` must be positive,
    ``quant_min < quant_max``, and NaN is refused (PyTorch maps it to :math:`q_\min`).

    >>> fake_quantize(torch.tensor([0.12, 0.26, 5.0]), 0.1, 0, -8, 7)
    tensor([0.1000, 0.3000, 0.7000])
    """
    _check_tensor("x", x, rounding=True)
    s = _check_scale(scale)
    lo, hi = _check_range(quant_min, quant_max, zero_point)
    scale_t = torch.tensor(s, dtype=torch.float32)
    return _FakeQuantize.apply(x, scale_t, 1.0 / scale_t, torch.tensor(float(zero_point)), lo, hi)


def fake_quantize_per_channel(x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, axis: int,
                              quant_min: int, quant_max: int) -> torch.Tensor:
    r""":func:`fake_quantize` with one scale and zero point per slice ``x.select(axis, c)``.

    Equal to ``torch.fake_quantize_per_channel_affine(x, scale, zero_point, axis, quant_min, quant_max)``
    (same argument order; ``axis`` may also count from the end, as PyTorch's op does not allow):
    ``scale`` a float32 tensor of length ``x.shape[axis]``, ``zero_point``
    an integer tensor of the same length, each within ``[quant_min, quant_max]``.

    On a float64 input, :math:`(q - z)\,s` is computed in float64 (with :math:`s` the float32
    scale widened to double), as PyTorch's per-channel kernel does; on float32, in float32. An
    empty tensor comes back empty. :math:`-\infty` goes to the grid's low end and
    :math:`+\infty` to its high end (gradient 0 for both). Here PyTorch differs: its kernel
    converts the unclamped code to a 64-bit integer before clamping, and :math:`+\infty` has no
    such integer (x86 gives the most negative one), so its op returns the grid's *low* end for
    :math:`+\infty`. NaN is refused (PyTorch maps it to :math:`q_\min`).

    >>> x = torch.tensor([[0.3, 0.7, 1.1]], dtype=torch.float64)
    >>> fake_quantize_per_channel(x, torch.full((3,), 0.1), torch.zeros(3, dtype=torch.int32), 1, -128, 127)
    tensor([[0.3000, 0.7000, 1.1000]], dtype=torch.float64)
    """
    _check_tensor("x", x, rounding=True)
    if x.dim() == 0:
        raise ValueError("x must have at least one dimension (the channel axis), got a 0-d tensor")
    axis = check_int("axis", axis, -x.dim(), x.dim() - 1) % x.dim()
    lo, hi = _check_range(quant_min, quant_max)
    n = x.shape[axis]
    if not isinstance(scale, torch.Tensor) or scale.dtype != torch.float32 or scale.shape != (n,):
        raise ValueError(f"scale must be a float32 tensor of shape ({n},) (one per channel along axis {axis}), "
                         f"got {getattr(scale, 'dtype', type(scale).__name__)} {tuple(getattr(scale, 'shape', ()))}")
    if not bool(((scale > 0) & torch.isfinite(scale) & torch.isfinite(1.0 / scale)).all()):
        raise ValueError(f"scale must be positive with finite inverses, got {scale.tolist()}")
    if (not isinstance(zero_point, torch.Tensor) or zero_point.dtype.is_floating_point or zero_point.dtype == torch.bool
            or zero_point.shape != (n,)):
        got = getattr(zero_point, "dtype", type(zero_point).__name__), tuple(getattr(zero_point, "shape", ()))
        raise ValueError(f"zero_point must be an integer tensor of shape ({n},), got {got[0]} {got[1]}")
    if bool(((zero_point < lo) | (zero_point > hi)).any()):
        raise ValueError(f"zero_point must lie in [{lo}, {hi}] (quant_min, quant_max), got {zero_point.tolist()}")
    shape = [1] * x.dim()
    shape[axis] = n  # broadcast the per-channel numbers along every other axis
    s = scale.reshape(shape)
    return _FakeQuantize.apply(x, s, 1.0 / s, zero_point.reshape(shape).to(torch.float64), lo, hi, True)


# --------------------------------------------------------------------------- choosing scale and zero point
def _range_qparams(lo: torch.Tensor, hi: torch.Tensor, quant_min: int, quant_max: int, symmetric: bool):
    r"""Scale and zero point that fit the real range ``[lo, hi]`` (float32 tensors) to the codes.

    The same float32 operations as ``torch.ao.quantization``'s observers, so the same numbers:

    * the range is widened to include 0, so that 0 (zero padding, ReLU outputs, pruned weights)
      is represented exactly;
    * asymmetric: :math:`s = (\max - \min)/(q_\max - q_\min)`,
      :math:`z = q_\min - \lfloor \min/s \rceil`, clamped to the range;
    * symmetric: :math:`s = \max(|\min|, |\max|) \,/\, \tfrac12 (q_\max - q_\min)` and :math:`z = 0`.
      For the full signed range :math:`[-128, 127]` this divides by 127.5, not 127: the grid
      :math:`[-128 s, 127 s]` then reaches every :math:`x \in [-127.5 s, 127.5 s]` within half a step
      (:math:`+\max` maps to about 127.5 and is clipped to 127, an error of half a step);
    * :math:`s` is at least float32's machine epsilon (an all-zero tensor still gets a grid).
    """
    zero = torch.zeros_like(lo)
    lo, hi = torch.minimum(lo, zero), torch.maximum(hi, zero)
    eps = torch.tensor(EPS, dtype=torch.float32)
    if symmetric:
        amax = torch.maximum(-lo, hi)
        scale = torch.maximum(amax / (float(quant_max - quant_min) / 2), eps)
        zero_point = torch.zeros_like(scale, dtype=torch.int64)
    else:
        scale = torch.maximum((hi - lo) / float(quant_max - quant_min), eps)
        zero_point = torch.clamp(quant_min - torch.round(lo / scale).to(torch.int64), quant_min, quant_max)
    return scale, zero_point


def _mse_search(x: torch.Tensor, lo: float, hi: float, quant_min: int, quant_max: int, symmetric: bool,
                grid: int) -> tuple[float, float]:
    """The clipping range ``(a lo, a hi)``, ``a`` in ``{1, (grid-1)/grid, ..., 1/grid}``, of least MSE."""
    best, best_err = (lo, hi), math.inf
    for i in range(grid, 0, -1):  # from the full range down: ties keep the wider range
        a = i / grid
        s, z = _range_qparams(torch.tensor(a * lo, dtype=torch.float32), torch.tensor(a * hi, dtype=torch.float32),
                              quant_min, quant_max, symmetric)
        err = float((fake_quantize(x, float(s), int(z), quant_min, quant_max).double() - x.double()).pow(2).mean())
        if err < best_err:
            best, best_err = (a * lo, a * hi), err
    return best


def qparams(x: torch.Tensor, num_bits: int = 8, symmetric: bool = False, method: str = "minmax",
            percentile: float = 99.99, restricted: bool = False, grid: int = 100) -> tuple[float, int]:
    r"""A scale and zero point for quantising ``x`` to ``num_bits`` bits, per tensor.

    The codes are :func:`quant_range` ``(num_bits, symmetric, restricted)``: unsigned
    :math:`[0, 2^b - 1]` with a zero point for ``symmetric=False``, signed with zero point 0 for
    ``symmetric=True``. The method chooses the real range the grid covers:

    ``"minmax"``
        :math:`[\min x, \max x]`: nothing is clipped, but a single outlier stretches the grid
        for everyone. The numbers are those of ``torch.ao.quantization.MinMaxObserver``
        (``quint8``/per-tensor affine for 8-bit asymmetric, ``qint8``/per-tensor symmetric for
        8-bit symmetric), computed with the same float32 operations (see below).
    ``"percentile"``
        Clip the outliers: the range is the ``percentile``-th percentile of :math:`|x|`
        (symmetric), or the ``100 - percentile``-th to ``percentile``-th percentiles of
        :math:`x` (asymmetric), linearly interpolated.
    ``"mse"``
        Shrink the min-max range by a factor :math:`a \in \{1, \tfrac{g-1}{g}, \dots, \tfrac1g\}`
        (:math:`g` = ``grid``) and keep the factor of least mean squared error
        :math:`\overline{(\hat x - x)^2}`: clipping a few large values in exchange for a finer
        step for all the others.

    In every case the range is widened to include 0 (so 0 is exactly representable) and then

    .. math::

        s = \frac{\max - \min}{q_\max - q_\min},\quad z = q_\min - \Big\lfloor \frac{\min}{s} \Big\rceil
        \quad\text{(asymmetric)};\qquad
        s = \frac{\max(|\min|, |\max|)}{(q_\max - q_\min)/2},\quad z = 0 \quad\text{(symmetric)},

    with :math:`s \ge` float32's epsilon, as PyTorch's observers do. Two consequences of copying
    them: for the full signed range the symmetric scale divides by :math:`127.5`, not 127 (the
    largest positive value is clipped by half a step, within the usual half-step error); and an
    observer built with ``reduce_range=True`` uses one bit less (:math:`[0, 127]`), which here is
    ``num_bits=7``.

    Parameters
    ----------
    x : float32 or float64 tensor
        The values to quantise (a weight, or a batch of activations).
    num_bits : int in [1, 16]
    symmetric, restricted : bool
        The code range, see :func:`quant_range`.
    method : {"minmax", "percentile", "mse"}
    percentile : float in (0, 100]
        For ``method="percentile"``.
    grid : int
        Number of shrink factors tried by ``method="mse"``.

    Returns
    -------
    (float, int)
        ``scale`` (a float32 number) and ``zero_point``.

    >>> qparams(torch.tensor([-1.0, 0.5, 2.0]), 8)
    (0.0117647061124444, 85)
    """
    _check_tensor("x", x)
    num_bits = check_int("num_bits", num_bits, 1, 16)
    check_choice("method", method, ("minmax", "percentile", "mse"))
    quant_min, quant_max = quant_range(num_bits, symmetric, restricted)
    lo, hi = _method_range(x, method, symmetric, percentile, grid, quant_min, quant_max)
    scale, zero_point = _range_qparams(lo, hi, quant_min, quant_max, symmetric)
    return float(scale), int(zero_point)


def _method_range(x, method, symmetric, percentile, grid, quant_min, quant_max):
    """The real range ``(lo, hi)`` (0-d float32 tensors) that ``method`` chooses for ``x``."""
    if method == "minmax":
        return x.min().float(), x.max().float()
    if method == "percentile":
        p = check_real("percentile", percentile, 0.0, 100.0, lo_open=True)
        values = x.detach().double().cpu().numpy().reshape(-1)
        if symmetric:
            a = float(np.quantile(np.abs(values), p / 100))
            lo, hi = -a, a
        else:
            lo, hi = float(np.quantile(values, 1 - p / 100)), float(np.quantile(values, p / 100))
        return torch.tensor(lo, dtype=torch.float32), torch.tensor(hi, dtype=torch.float32)
    grid = check_int("grid", grid, 1, 10_000)
    lo, hi = _mse_search(x, float(x.min()), float(x.max()), quant_min, quant_max, symmetric, grid)
    return torch.tensor(lo, dtype=torch.float32), torch.tensor(hi, dtype=torch.float32)


def per_channel_qparams(x: torch.Tensor, num_bits: int = 8, axis: int = 0, symmetric: bool = True,
                        restricted: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Min-max :func:`qparams` for each slice ``x.select(axis, c)`` (e.g. each output channel of a weight).

    The numbers of ``torch.ao.quantization.PerChannelMinMaxObserver`` (``ch_axis=axis``).

    Returns
    -------
    (Tensor, Tensor)
        ``scale`` (float32) and ``zero_point`` (int32), one per channel: what
        :func:`fake_quantize_per_channel` and ``torch.fake_quantize_per_channel_affine`` take.
    """
    _check_tensor("x", x)
    if x.dim() == 0:
        raise ValueError("x must have at least one dimension (the channel axis), got a 0-d tensor")
    num_bits = check_int("num_bits", num_bits, 1, 16)
    axis = check_int("axis", axis, -x.dim(), x.dim() - 1) % x.dim()
    quant_min, quant_max = quant_range(num_bits, symmetric, restricted)
    rows = x.detach().movedim(axis, 0).reshape(x.shape[axis], -1)
    lo, hi = rows.min(dim=1).values.float(), rows.max(dim=1).values.float()
    scale, zero_point = _range_qparams(lo, hi, quant_min, quant_max, symmetric)
    return scale, zero_point.to(torch.int32)


def quantization_error(x: torch.Tensor, num_bits: int = 8, symmetric: bool = False, method: str = "minmax",
                       **options) -> dict:
    r"""Quantise ``x`` per tensor (:func:`qparams`, then :func:`fake_quantize`) and measure the damage.

    ``options`` are passed to :func:`qparams` (``percentile``, ``restricted``, ``grid``).

    Returns
    -------
    dict
        ``mse`` (:math:`\overline{(\hat x - x)^2}`), ``max_error`` (:math:`\max|\hat x - x|`),
        ``sqnr_db`` (signal to quantisation noise, :math:`10\log_{10} \overline{x^2}/\text{mse}`; inf
        when exact), ``clipped`` (fraction of entries more than half a step outside the grid, where
        the error exceeds :math:`s/2`), and ``scale``,
        ``zero_point``, ``quant_min``, ``quant_max``.
    """
    scale, zero_point = qparams(x, num_bits, symmetric, method, **options)
    quant_min, quant_max = quant_range(num_bits, symmetric, options.get("restricted", False))
    x_hat = fake_quantize(x, scale, zero_point, quant_min, quant_max)
    err = (x_hat.double() - x.double())
    mse = float(err.pow(2).mean())
    power = float(x.double().pow(2).mean())
    lo, hi = scale * (quant_min - zero_point), scale * (quant_max - zero_point)
    return {"mse": mse, "max_error": float(err.abs().max()),
            "sqnr_db": math.inf if mse == 0 else (10 * math.log10(power / mse) if power > 0 else -math.inf),
            "clipped": float(((x < lo - scale / 2) | (x > hi + scale / 2)).double().mean()),
            "scale": scale, "zero_point": zero_point, "quant_min": quant_min, "quant_max": quant_max}
