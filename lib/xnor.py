r"""Binary networks on bits: XNOR and popcount instead of multiply-accumulate.

For vectors :math:`a, b \in \{-1, +1\}^n` stored as bits (1 for +1),

.. math::

    a\cdot b = n - 2\,\operatorname{popcount}(a \oplus b):

a disagreement costs 2, an agreement nothing. One 64-bit XOR and one popcount do the work of
64 multiply-accumulates (:func:`pack_bits`, :func:`xnor_matmul`); :func:`xnor_peak` models how
much of that an ideal kernel could turn into speed on a given processor. At inference a binary
layer's BatchNorm and sign fold into one integer comparison per neuron
(:func:`bn_sign_threshold`), so a whole binary perceptron (:func:`lib.binary.binary_mlp`) runs
on bits alone.

References
----------
.. [1] I. Hubara, M. Courbariaux, D. Soudry, R. El-Yaniv, Y. Bengio, "Binarized Neural Networks",
   NeurIPS 2016, arXiv:1602.02830.
.. [2] M. Rastegari, V. Ordonez, J. Redmon, A. Farhadi, "XNOR-Net: ImageNet Classification Using
   Binary Convolutional Neural Networks", ECCV 2016, arXiv:1603.05279.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from lib.core.checks import check_int

__all__ = ["bn_sign_threshold", "pack_bits", "xnor_matmul", "xnor_peak"]


def bn_sign_threshold(bn: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Fold an inference-mode BatchNorm followed by sign into one comparison per channel.

    :math:`\operatorname{sign}\big(\gamma\frac{y - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta\big) = +1`
    exactly when :math:`y \ge \tau` (for :math:`\gamma > 0`) or :math:`y \le \tau` (for
    :math:`\gamma < 0`), with :math:`\tau = \mu - \beta\sqrt{\sigma^2+\epsilon}/\gamma`. A binary
    layer's output :math:`y` is an integer, so at inference BatchNorm and the activation become one
    integer threshold per neuron (a channel with :math:`\gamma = 0` outputs :math:`\operatorname{sign}\beta`;
    it gets :math:`\tau = \mp\infty`).

    Returns
    -------
    (threshold, flip)
        Float64 thresholds :math:`\tau` and a boolean tensor, True where :math:`\gamma < 0`.
        The activation is ``where(flip, y <= threshold, y >= threshold)`` as +1/-1.

    >>> bn = torch.nn.BatchNorm1d(2).eval()
    >>> bn_sign_threshold(bn)
    (tensor([0., 0.], dtype=torch.float64), tensor([False, False]))
    """
    if not isinstance(bn, nn.BatchNorm1d) or bn.running_mean is None:
        raise ValueError(f"bn must be an nn.BatchNorm1d with running statistics, got {bn!r}")
    mu = bn.running_mean.double()
    std = torch.sqrt(bn.running_var.double() + bn.eps)
    gamma = bn.weight.detach().double() if bn.affine else torch.ones_like(mu)
    beta = bn.bias.detach().double() if bn.affine else torch.zeros_like(mu)
    flip = gamma < 0
    safe = torch.where(gamma == 0, torch.ones_like(gamma), gamma)
    constant = torch.where(beta >= 0, -math.inf, math.inf)  # gamma = 0: always sign(beta)
    tau = torch.where(gamma != 0, mu - beta * std / safe, constant)
    return tau, flip


# --------------------------------------------------------------------------- XNOR and popcount
def pack_bits(x) -> np.ndarray:
    r"""Pack the signs of ``x`` along its last axis into 64-bit words: bit 1 for :math:`x \ge 0`
    (:math:`+1`), bit 0 for :math:`x < 0` (:math:`-1`).

    A row of :math:`n` values takes :math:`\lceil n/64\rceil` words; the padding bits at the end
    are 0 in every row, so they agree between any two rows and add nothing to a popcount of
    their XOR (:func:`xnor_matmul` then uses the true :math:`n`).

    Parameters
    ----------
    x : array-like or tensor of shape (n,) or (m, n), finite
        Typically :math:`\pm1` values.

    Returns
    -------
    numpy.ndarray of uint64, shape (ceil(n/64),) or (m, ceil(n/64))

    >>> pack_bits([1, -1, 1, 1])
    array([13], dtype=uint64)
    """
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    if a.dtype.kind not in "biuf" or a.ndim not in (1, 2) or a.shape[-1] == 0:
        raise ValueError(f"x must be a real 1-D or 2-D array with at least one column, got dtype {a.dtype}, "
                         f"shape {a.shape}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ValueError("x must be finite, got NaN or infinity")
    n = a.shape[-1]
    words = (n + 63) // 64
    bits = np.zeros(a.shape[:-1] + (words * 64,), dtype=bool)
    bits[..., :n] = a >= 0
    packed = np.packbits(bits, axis=-1, bitorder="little")  # 8 bytes per word, lowest bit first
    return np.ascontiguousarray(packed).view("<u8").astype(np.uint64, copy=False)


def xnor_matmul(a_bits: np.ndarray, b_bits: np.ndarray, n: int, block: int = 64) -> np.ndarray:
    r"""The matrix of dot products of :math:`\pm1` rows, from their packed bits:
    :math:`C_{ij} = n - 2\sum_w \operatorname{popcount}(a_{iw} \oplus b_{jw})`.

    Equal, exactly, to ``A @ B.T`` for the :math:`\pm1` matrices that :func:`pack_bits` packed.
    For each 64-bit word position :math:`w` it XORs every row of ``a_bits`` with every row of
    ``b_bits`` (an outer XOR), counts the ones with NumPy's ``bitwise_count`` and adds the counts
    up; ``block`` rows of ``a_bits`` at a time, so the temporary arrays (``block * len(b_bits)``
    words) stay in cache. Each NumPy call is one pass over memory: there is no fused
    XOR-popcount-accumulate kernel as there is a fused multiply-add GEMM for floats.

    Parameters
    ----------
    a_bits : uint64 array of shape (m, words)
    b_bits : uint64 array of shape (k, words)
    n : int in [64 * (words - 1) + 1, 64 * words]
        The true length of the rows (before padding).
    block : int >= 1

    Returns
    -------
    numpy.ndarray of int64, shape (m, k)

    >>> a = np.array([[1, -1, 1], [-1, -1, 1]]); b = np.array([[1, 1, 1]])
    >>> xnor_matmul(pack_bits(a), pack_bits(b), 3)
    array([[ 1],
           [-1]])
    """
    for name, arr in (("a_bits", a_bits), ("b_bits", b_bits)):
        if not isinstance(arr, np.ndarray) or arr.dtype != np.uint64 or arr.ndim != 2:
            raise ValueError(f"{name} must be a 2-D uint64 array from pack_bits, got "
                             f"{getattr(arr, 'dtype', type(arr).__name__)} of shape {getattr(arr, 'shape', None)}")
    if a_bits.shape[1] != b_bits.shape[1]:
        raise ValueError(f"a_bits and b_bits must have the same number of words, got {a_bits.shape[1]} and "
                         f"{b_bits.shape[1]}")
    m, words = a_bits.shape
    k = b_bits.shape[0]
    n = check_int("n", n, max(1, 64 * (words - 1) + 1), 64 * words)
    block = check_int("block", block, 1)
    a_t, b_t = np.ascontiguousarray(a_bits.T), np.ascontiguousarray(b_bits.T)  # one word position per row
    out = np.empty((m, k), dtype=np.int64)
    rows = min(block, m)
    xor = np.empty((rows, k), dtype=np.uint64)
    ones = np.empty((rows, k), dtype=np.uint8)
    acc = np.empty((rows, k), dtype=np.int32)
    for i in range(0, m, rows):
        r = min(rows, m - i)
        acc[:r] = 0
        for w in range(words):
            np.bitwise_xor(a_t[w, i:i + r, None], b_t[w, None, :], out=xor[:r])
            np.bitwise_count(xor[:r], out=ones[:r])
            np.add(acc[:r], ones[:r], out=acc[:r])
        out[i:i + r] = n - 2 * acc[:r].astype(np.int64)
    return out


def xnor_peak(flags, units: int = 2) -> dict:
    r"""Binary multiply-accumulates per cycle an ideal fused XNOR-popcount kernel could reach on one
    core, against float32 multiply-accumulates of fused multiply-add, from the instruction-set flags.

    A float32 FMA on a :math:`W`-bit register does :math:`W/32` multiply-accumulates. The binary
    kernel needs three instructions per :math:`W` bits: XOR, popcount (``vpopcntq``, AVX-512's
    ``avx512_vpopcntdq``) and add, so :math:`W/3` binary multiply-accumulates per instruction.
    Without a vector popcount, the scalar ``popcnt`` handles 64 bits, again with an XOR and an add.
    With ``units`` vector units each starting one instruction per cycle:

    .. math::

        \text{float32: } u\,\frac{W}{32}, \qquad \text{binary: } u\,\frac{W_\text{pop}}{3},
        \qquad \text{ratio } \frac{32\,W_\text{pop}}{3\,W}.

    The 64 multiply-accumulates per 64-bit word are an operation count; this ratio is the
    instruction count, the better guide to speed (a model: memory traffic is ignored).

    Parameters
    ----------
    flags : iterable of str
        As in ``/proc/cpuinfo`` (``lib.integer.cpu_info``).
    units : int >= 1
        Vector units per core (assumed; 2 is typical).

    Returns
    -------
    dict
        ``width_bits`` (float vectors), ``popcount_bits`` (bits per popcount instruction),
        ``fp32_macs_per_cycle``, ``binary_macs_per_cycle`` and ``ratio``.

    >>> xnor_peak(["avx2", "avx512f", "avx512_vpopcntdq"])["ratio"]
    10.666666666666666
    """
    flags = set(flags)
    units = check_int("units", units, 1, 16)
    width = 512 if "avx512f" in flags else 256 if "avx2" in flags else 128
    pop = 512 if "avx512_vpopcntdq" in flags else 64
    fp32, binary_ = units * width / 32, units * pop / 3
    return {"width_bits": width, "popcount_bits": pop, "fp32_macs_per_cycle": fp32,
            "binary_macs_per_cycle": binary_, "ratio": binary_ / fp32}
