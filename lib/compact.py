r"""Compact convolutions: blocks that do a standard convolution's job with fewer weights.

A standard convolution with ``M`` input channels, ``N`` output channels and a ``k x k``
kernel holds :math:`k^2 M N` weights and, on an output of ``Ho x Wo`` positions, does
:math:`k^2 M N\, H_o W_o` multiply-accumulates (MACs). Four ways to spend less:

* :func:`depthwise_separable` (MobileNet): one ``k x k`` filter per input channel (depthwise),
  then a ``1 x 1`` convolution mixing the channels (pointwise):
  :math:`k^2 M + M N` weights, a fraction :math:`1/N + 1/k^2` of the standard layer's.
* :func:`factorized_5x5` (Inception v3): two stacked ``3 x 3`` convolutions see the same
  ``5 x 5`` window with :math:`18/25` of the weights (when every width is equal).
* :func:`asymmetric` (Inception v3): a ``1 x k`` then a ``k x 1`` convolution, :math:`2/k`
  of a ``k x k`` layer's weights (:math:`6/9` at ``k = 3``).
* :func:`fire` (SqueezeNet): a ``1 x 1`` *squeeze* to few channels, then ``1 x 1`` and
  ``3 x 3`` *expand* convolutions side by side, their outputs concatenated.

Every block has a constructor (a ``torch.nn.Module``, padding "same" so a stride-1 block
keeps the height and width) and two formula functions, ``<block>_params`` and
``<block>_macs``, which the tests check against the modules. The generic :func:`params`
and :func:`macs` dispatch on the block's name (:data:`BLOCKS`).

Conventions of the formulas
---------------------------
* ``params`` counts weights, plus biases when ``bias=True``.
* ``macs`` counts multiply-accumulates **for one example** whose input is ``size = (H, W)``
  (default ``(1, 1)``: the cost per output position of a stride-1 block). Padding is
  "same" (``k // 2``, ``k`` odd), so a stride-``s`` layer's output is
  ``ceil(H / s) x ceil(W / s)``. Biases, ReLUs and concatenations are not counted.
* ``in_ch`` is ``M``, ``out_ch`` is ``N``; factorised blocks have an inner width ``mid``
  (default ``out_ch``); the stride is taken by the first factor.

References
----------
A. G. Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
Applications", arXiv:1704.04861, 2017.
C. Szegedy, V. Vanhoucke, S. Ioffe, J. Shlens, Z. Wojna, "Rethinking the Inception
Architecture for Computer Vision", CVPR 2016, arXiv:1512.00567.
F. N. Iandola, S. Han, M. W. Moskewicz, K. Ashraf, W. J. Dally, K. Keutzer, "SqueezeNet:
AlexNet-level accuracy with 50x fewer parameters and <0.5MB model size", arXiv:1602.07360, 2016.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lib.core.checks import check_choice, check_int

__all__ = ["BLOCKS", "standard_conv", "depthwise", "pointwise", "depthwise_separable",
           "factorized_5x5", "asymmetric", "Fire", "fire", "params", "macs", "build",
           "standard_conv_params", "standard_conv_macs", "depthwise_separable_params",
           "depthwise_separable_macs", "factorized_5x5_params", "factorized_5x5_macs",
           "asymmetric_params", "asymmetric_macs", "fire_params", "fire_macs",
           "separable_ratio", "out_size", "depthwise_conv2d", "separable_conv2d",
           "conv_traffic", "check_kernel"]


# --------------------------------------------------------------------------- checks
def check_kernel(k) -> int:
    """``k`` as an int if it is an odd kernel size in [1, 31] ("same" padding needs it odd)."""
    k = check_int("k", k, 1, 31)
    if k % 2 == 0:
        raise ValueError(f"k must be an odd integer in [1, 31] (for 'same' padding), got {k!r}")
    return k


def _size(size) -> tuple[int, int]:
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise ValueError(f"size must be a pair (H, W) of positive integers, got {size!r}")
    return check_int("size[0]", size[0], 1), check_int("size[1]", size[1], 1)


def out_size(n: int, stride: int = 1) -> int:
    """Output length of a "same"-padded convolution (odd kernel) of ``stride`` over ``n``.

    >>> out_size(28, 1), out_size(28, 2), out_size(7, 2)
    (28, 14, 4)
    """
    n = check_int("n", n, 1)
    stride = check_int("stride", stride, 1)
    return (n - 1) // stride + 1


# --------------------------------------------------------------------------- blocks
def standard_conv(in_ch: int, out_ch: int, k: int = 3, stride: int = 1, *,
                  bias: bool = False) -> nn.Conv2d:
    """A standard ``k x k`` convolution, "same" padding: the reference every block is compared with.

    >>> standard_conv(2, 4, 3).weight.shape
    torch.Size([4, 2, 3, 3])
    """
    in_ch, out_ch, k = check_int("in_ch", in_ch, 1), check_int("out_ch", out_ch, 1), check_kernel(k)
    stride = check_int("stride", stride, 1)
    return nn.Conv2d(in_ch, out_ch, k, stride=stride, padding=k // 2, bias=bias)


def depthwise(ch: int, k: int = 3, stride: int = 1, *, bias: bool = False) -> nn.Conv2d:
    """A depthwise ``k x k`` convolution: one filter per channel (``groups = ch``), no mixing."""
    ch, k, stride = check_int("ch", ch, 1), check_kernel(k), check_int("stride", stride, 1)
    return nn.Conv2d(ch, ch, k, stride=stride, padding=k // 2, groups=ch, bias=bias)


def pointwise(in_ch: int, out_ch: int, stride: int = 1, *, bias: bool = False) -> nn.Conv2d:
    """A ``1 x 1`` convolution: a linear map across channels at every position."""
    in_ch, out_ch = check_int("in_ch", in_ch, 1), check_int("out_ch", out_ch, 1)
    return nn.Conv2d(in_ch, out_ch, 1, stride=check_int("stride", stride, 1), bias=bias)


def _seq(first: nn.Module, second: nn.Module, relu: bool) -> nn.Sequential:
    return nn.Sequential(first, nn.ReLU(), second) if relu else nn.Sequential(first, second)


def depthwise_separable(in_ch: int, out_ch: int, k: int = 3, stride: int = 1, *,
                        bias: bool = False, relu: bool = True) -> nn.Sequential:
    r"""Depthwise ``k x k`` then pointwise ``1 x 1`` (MobileNet, Howard et al. 2017).

    Weights :math:`k^2 M + M N` against :math:`k^2 M N`: a ratio :math:`1/N + 1/k^2`.
    ``relu`` puts a ReLU between the two factors (MobileNet has BatchNorm and ReLU there);
    the block ends linear, the caller adds its own activation.

    >>> depthwise_separable(2, 4, 3)
    Sequential(
      (0): Conv2d(2, 2, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), groups=2, bias=False)
      (1): ReLU()
      (2): Conv2d(2, 4, kernel_size=(1, 1), stride=(1, 1), bias=False)
    )
    """
    return _seq(depthwise(in_ch, k, stride, bias=bias), pointwise(in_ch, out_ch, bias=bias), relu)


def factorized_5x5(in_ch: int, out_ch: int, stride: int = 1, *, mid: int | None = None,
                   bias: bool = False, relu: bool = True) -> nn.Sequential:
    """Two stacked ``3 x 3`` convolutions in place of one ``5 x 5`` (Szegedy et al. 2016, sec. 3.1).

    ``in_ch -> mid -> out_ch`` (``mid`` defaults to ``out_ch``); the first takes the stride.
    Receptive field 5 x 5; weights :math:`9 M P + 9 P N`, which is :math:`18/25` of
    :math:`25 M N` when ``M = P = N``.
    """
    mid = out_ch if mid is None else mid
    return _seq(standard_conv(in_ch, mid, 3, stride, bias=bias),
                standard_conv(mid, out_ch, 3, 1, bias=bias), relu)


def asymmetric(in_ch: int, out_ch: int, k: int = 3, stride: int = 1, *, mid: int | None = None,
               bias: bool = False, relu: bool = True) -> nn.Sequential:
    """A ``1 x k`` then a ``k x 1`` convolution in place of ``k x k`` (Szegedy et al. 2016, sec. 3.2).

    ``in_ch -> mid -> out_ch``; the first factor strides along the width, the second along the
    height. Weights :math:`k M P + k P N`: :math:`2/k` of :math:`k^2 M N` when ``M = P = N``.
    """
    in_ch, out_ch, k = check_int("in_ch", in_ch, 1), check_int("out_ch", out_ch, 1), check_kernel(k)
    mid = check_int("mid", out_ch if mid is None else mid, 1)
    stride = check_int("stride", stride, 1)
    row = nn.Conv2d(in_ch, mid, (1, k), stride=(1, stride), padding=(0, k // 2), bias=bias)
    col = nn.Conv2d(mid, out_ch, (k, 1), stride=(stride, 1), padding=(k // 2, 0), bias=bias)
    return _seq(row, col, relu)


class Fire(nn.Module):
    """SqueezeNet's fire module: squeeze ``1 x 1`` (then ReLU), expand ``1 x 1`` and ``3 x 3``
    side by side, outputs concatenated along the channels (``expand1 + expand3`` of them)."""

    def __init__(self, in_ch: int, squeeze: int, expand1: int, expand3: int, stride: int = 1,
                 *, bias: bool = False):
        super().__init__()
        check_int("expand1", expand1, 0)
        check_int("expand3", expand3, 0)
        if expand1 + expand3 < 1:
            raise ValueError(f"expand1 + expand3 must be at least 1, got {expand1} + {expand3}")
        self.squeeze = pointwise(in_ch, squeeze, stride, bias=bias)
        self.expand1 = pointwise(squeeze, expand1, bias=bias) if expand1 else None
        self.expand3 = standard_conv(squeeze, expand3, 3, bias=bias) if expand3 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.relu(self.squeeze(x))
        return torch.cat([e(s) for e in (self.expand1, self.expand3) if e is not None], dim=1)


def fire(in_ch: int, squeeze: int, expand1: int, expand3: int, stride: int = 1, *,
         bias: bool = False) -> Fire:
    """The fire module (Iandola et al. 2016): weights :math:`M S + S E_1 + 9 S E_3`.

    >>> fire(96, 16, 64, 64)(torch.zeros(1, 96, 8, 8)).shape
    torch.Size([1, 128, 8, 8])
    """
    return Fire(in_ch, squeeze, expand1, expand3, stride, bias=bias)


# --------------------------------------------------------------------------- formulas
def standard_conv_params(in_ch: int, out_ch: int, k: int = 3, *, bias: bool = False) -> int:
    """:math:`k^2 M N` (+ ``N`` biases).

    >>> standard_conv_params(2, 4, 3)   # the note's example: 3 x 3 x 2 x 4
    72
    """
    in_ch, out_ch, k = check_int("in_ch", in_ch, 1), check_int("out_ch", out_ch, 1), check_kernel(k)
    return k * k * in_ch * out_ch + (out_ch if bias else 0)


def standard_conv_macs(in_ch: int, out_ch: int, k: int = 3, stride: int = 1, *,
                       size=(1, 1)) -> int:
    r""":math:`k^2 M N \, H_o W_o`."""
    h, w = _size(size)
    return standard_conv_params(in_ch, out_ch, k) * out_size(h, stride) * out_size(w, stride)


def depthwise_separable_params(in_ch: int, out_ch: int, k: int = 3, *, bias: bool = False) -> int:
    """:math:`k^2 M + M N` (+ ``M + N`` biases).

    >>> depthwise_separable_params(2, 4, 3)   # 3 x 3 x 2 + 1 x 1 x 2 x 4
    26
    """
    in_ch, out_ch, k = check_int("in_ch", in_ch, 1), check_int("out_ch", out_ch, 1), check_kernel(k)
    return k * k * in_ch + in_ch * out_ch + ((in_ch + out_ch) if bias else 0)


def depthwise_separable_macs(in_ch: int, out_ch: int, k: int = 3, stride: int = 1, *,
                             size=(1, 1)) -> int:
    r""":math:`(k^2 M + M N)\, H_o W_o` (both factors work on the strided output grid)."""
    h, w = _size(size)
    return depthwise_separable_params(in_ch, out_ch, k) * out_size(h, stride) * out_size(w, stride)


def separable_ratio(out_ch: int, k: int = 3) -> float:
    r"""Depthwise-separable cost over standard cost, :math:`1/N + 1/k^2` (weights and MACs alike).

    >>> round(separable_ratio(4, 3), 4), round(26 / 72, 4)
    (0.3611, 0.3611)
    """
    out_ch, k = check_int("out_ch", out_ch, 1), check_kernel(k)
    return 1 / out_ch + 1 / k ** 2


def factorized_5x5_params(in_ch: int, out_ch: int, *, mid: int | None = None,
                          bias: bool = False) -> int:
    """:math:`9 M P + 9 P N` (+ ``P + N`` biases).

    >>> factorized_5x5_params(64, 64), standard_conv_params(64, 64, 5)   # 18 : 25
    (73728, 102400)
    """
    mid = out_ch if mid is None else mid
    return standard_conv_params(in_ch, mid, 3, bias=bias) + standard_conv_params(mid, out_ch, 3, bias=bias)


def factorized_5x5_macs(in_ch: int, out_ch: int, stride: int = 1, *, mid: int | None = None,
                        size=(1, 1)) -> int:
    r""":math:`(9 M P + 9 P N)\, H_o W_o`."""
    mid = out_ch if mid is None else mid
    h, w = _size(size)
    ho, wo = out_size(h, stride), out_size(w, stride)
    return standard_conv_macs(in_ch, mid, 3, stride, size=(h, w)) + standard_conv_macs(mid, out_ch, 3, size=(ho, wo))


def asymmetric_params(in_ch: int, out_ch: int, k: int = 3, *, mid: int | None = None,
                      bias: bool = False) -> int:
    """:math:`k M P + k P N` (+ ``P + N`` biases).

    >>> asymmetric_params(64, 64, 3), standard_conv_params(64, 64, 3)   # 6 : 9
    (24576, 36864)
    """
    in_ch, out_ch, k = check_int("in_ch", in_ch, 1), check_int("out_ch", out_ch, 1), check_kernel(k)
    mid = check_int("mid", out_ch if mid is None else mid, 1)
    return k * in_ch * mid + k * mid * out_ch + ((mid + out_ch) if bias else 0)


def asymmetric_macs(in_ch: int, out_ch: int, k: int = 3, stride: int = 1, *,
                    mid: int | None = None, size=(1, 1)) -> int:
    r""":math:`k M P\, H W_o + k P N\, H_o W_o` (the ``1 x k`` factor keeps the full height)."""
    in_ch, out_ch, k = check_int("in_ch", in_ch, 1), check_int("out_ch", out_ch, 1), check_kernel(k)
    mid = check_int("mid", out_ch if mid is None else mid, 1)
    h, w = _size(size)
    ho, wo = out_size(h, stride), out_size(w, stride)
    return k * in_ch * mid * h * wo + k * mid * out_ch * ho * wo


def fire_params(in_ch: int, squeeze: int, expand1: int, expand3: int, *, bias: bool = False) -> int:
    """:math:`M S + S E_1 + 9 S E_3` (+ ``S + E1 + E3`` biases).

    >>> fire_params(96, 16, 64, 64)   # SqueezeNet's fire2
    11776
    """
    m, s = check_int("in_ch", in_ch, 1), check_int("squeeze", squeeze, 1)
    e1, e3 = check_int("expand1", expand1, 0), check_int("expand3", expand3, 0)
    return m * s + s * e1 + 9 * s * e3 + ((s + e1 + e3) if bias else 0)


def fire_macs(in_ch: int, squeeze: int, expand1: int, expand3: int, stride: int = 1, *,
              size=(1, 1)) -> int:
    r""":math:`(M S + S E_1 + 9 S E_3)\, H_o W_o`."""
    h, w = _size(size)
    return fire_params(in_ch, squeeze, expand1, expand3) * out_size(h, stride) * out_size(w, stride)


# --------------------------------------------------------------------------- by name
#: name -> (constructor, params formula, macs formula), every one with the signatures above.
BLOCKS = {
    "standard": (standard_conv, standard_conv_params, standard_conv_macs),
    "depthwise_separable": (depthwise_separable, depthwise_separable_params, depthwise_separable_macs),
    "factorized_5x5": (factorized_5x5, factorized_5x5_params, factorized_5x5_macs),
    "asymmetric": (asymmetric, asymmetric_params, asymmetric_macs),
    "fire": (fire, fire_params, fire_macs),
}


def build(block: str, *args, **kwargs) -> nn.Module:
    """The block named ``block`` (a key of :data:`BLOCKS`), built with its constructor's arguments.

    >>> build("depthwise_separable", 8, 16, k=3)[2].weight.shape
    torch.Size([16, 8, 1, 1])
    """
    return BLOCKS[check_choice("block", block, BLOCKS)][0](*args, **kwargs)


def params(block: str, *args, **kwargs) -> int:
    """Parameter count of the block named ``block`` (the ``<block>_params`` formula).

    >>> params("standard", 2, 4, 3), params("depthwise_separable", 2, 4, 3)
    (72, 26)
    """
    return BLOCKS[check_choice("block", block, BLOCKS)][1](*args, **kwargs)


def macs(block: str, *args, size=(1, 1), **kwargs) -> int:
    """MACs per example on an input of ``size = (H, W)`` (the ``<block>_macs`` formula).

    >>> macs("standard", 16, 32, 3, size=(14, 14))
    903168
    """
    return BLOCKS[check_choice("block", block, BLOCKS)][2](*args, size=size, **kwargs)


# --------------------------------------------------------------------------- from scratch
def _check_depthwise(x, weight) -> int:
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise ValueError(f"x must be a 4-D tensor (batch, channels, height, width), got {type(x).__name__}")
    shape = tuple(weight.shape) if isinstance(weight, torch.Tensor) else weight
    if not isinstance(weight, torch.Tensor) or weight.dim() != 3 or weight.shape[0] != x.shape[1] \
            or weight.shape[1] != weight.shape[2]:
        raise ValueError(f"weight must have shape (C, k, k) with C = x.shape[1] = {x.shape[1]}, got {shape!r}")
    return check_kernel(weight.shape[1])


def depthwise_conv2d(x: torch.Tensor, weight: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """Depthwise convolution written out: channel ``c`` of the output sees channel ``c`` only.

    ``y[n, c, i, j] = sum over (u, v) of x[n, c, s*i + u, s*j + v] * w[c, u, v]`` on the
    zero-padded input ("same" padding, odd ``k``). ``weight`` has shape ``(C, k, k)``. Equals
    ``F.conv2d(x, weight[:, None], stride=stride, padding=k // 2, groups=C)``.

    Each of the ``k * k`` taps multiplies a shifted view of the whole input by one number per
    channel and adds it to the output: ``k^2 C H_o W_o`` MACs, and the input is read ``k^2`` times.
    """
    k = _check_depthwise(x, weight)
    stride = check_int("stride", stride, 1)
    n, c, h, w = x.shape
    xp = F.pad(x, (k // 2,) * 4)                   # zeros around: "same" padding
    ho, wo = out_size(h, stride), out_size(w, stride)
    y = x.new_zeros(n, c, ho, wo)
    for u in range(k):                             # k*k shifted copies of the input, each scaled
        for v in range(k):                         # by one weight per channel: no channel mixing
            patch = xp[:, :, u:u + stride * (ho - 1) + 1:stride, v:v + stride * (wo - 1) + 1:stride]
            y += patch * weight[None, :, u, v, None, None]
    return y


def separable_conv2d(x: torch.Tensor, w_depth: torch.Tensor, w_point: torch.Tensor,
                     stride: int = 1) -> torch.Tensor:
    r"""Depthwise then pointwise: :math:`z_{n,o,i,j} = \sum_c p_{o,c}\, y_{n,c,i,j}`.

    ``w_depth`` is ``(M, k, k)``, ``w_point`` is ``(N, M)``. No ReLU between the factors, so the
    result is one linear map whose ``k x k x M x N`` kernel has rank one in each ``(c, o)``:
    :math:`W_{o,c,u,v} = p_{o,c}\, w_{c,u,v}`.
    """
    if not isinstance(w_point, torch.Tensor) or w_point.dim() != 2 or w_point.shape[1] != x.shape[1]:
        raise ValueError(f"w_point must have shape (N, M) with M = x.shape[1] = {x.shape[1]}")
    y = depthwise_conv2d(x, w_depth, stride)
    return torch.einsum("oc,nchw->nohw", w_point, y)


# --------------------------------------------------------------------------- memory traffic
def conv_traffic(in_ch: int, out_ch: int, k: int = 3, *, groups: int = 1, size=(14, 14),
                 batch: int = 1, bytes_per_value: int = 4) -> dict[str, float]:
    """MACs and the least memory traffic of one stride-1 "same" convolution layer.

    Traffic counts reading the input and the weights once and writing the output once:
    ``batch (M + N) H W + k^2 M N / groups`` values. **Arithmetic intensity** is MACs per byte
    of that traffic; a layer whose intensity is below the machine's MACs-per-byte balance is
    limited by memory, not arithmetic (the roofline model, Williams, Waterman and Patterson,
    CACM 2009). A depthwise layer (``groups = M = N``) has intensity about ``k^2 / 8`` in
    float32 whatever its width; a ``1 x 1`` layer about ``M N / (4 (M + N))``.

    >>> t = conv_traffic(64, 64, 3, groups=64, size=(14, 14))
    >>> t["macs"], round(t["intensity"], 2)
    (112896, 1.1)
    """
    check_int("in_ch", in_ch, 1)
    check_int("out_ch", out_ch, 1)
    check_kernel(k)
    check_int("groups", groups, 1)
    if in_ch % groups or out_ch % groups:
        raise ValueError(f"groups must divide in_ch = {in_ch} and out_ch = {out_ch}, got {groups!r}")
    check_int("batch", batch, 1)
    check_int("bytes_per_value", bytes_per_value, 1, 16)
    h, w = _size(size)
    weights = k * k * in_ch * out_ch // groups                    # read once
    values = batch * (in_ch + out_ch) * h * w + weights           # + input read, output written
    macs = batch * weights * h * w                                # each weight, at every position
    nbytes = values * bytes_per_value
    return {"macs": macs, "bytes": nbytes, "intensity": macs / nbytes}
