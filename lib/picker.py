r"""A seismic phase picker: a PhaseNet-style 1-D U-Net, and where its parameters sit.

PhaseNet (Zhu & Beroza 2019) frames phase picking as segmentation: a window of three
components (Z, N, E; 30 s at 100 Hz, :math:`T = 3000` samples) goes in, and for every
sample :math:`t` a probability of *P arrival*, *S arrival* and *noise* comes out,

.. math::

    p_{c}(t) = \frac{e^{z_c(t)}}{\sum_{c'} e^{z_{c'}(t)}}, \qquad c \in \{P, S, N\},

trained with the cross-entropy against labels that are Gaussians of width
:math:`\sigma` around the true arrivals (the noise label is one minus the others). A pick
is a peak of :math:`p_P` or :math:`p_S` above 0.5.

The network is a U-Net (Ronneberger et al. 2015) in one dimension: each level of the
down branch convolves ("same" padding) and then downsamples by a strided convolution;
the up branch upsamples, convolves, concatenates the skip connection of the same level
and convolves again; a :math:`1 \times 1` convolution gives the three logits.
:class:`PhaseNetLike` has PhaseNet's layout with the widths, kernel and stride as
settings, and an option (``separable=True``) that replaces every convolution of
kernel :math:`k > 1` by a depthwise then a pointwise convolution, as light pickers such
as LEQNet and (by secondary accounts; we could not check the paper) LPPN do to cut weights and
multiply-accumulates (:mod:`lib.compact` derives the
ratio :math:`1/N + 1/k`; in one dimension :math:`k` replaces :math:`k^2`).

The convolutions are ``nn.Conv2d`` with kernels of height 1 acting on the trace viewed as
an image of one row: mathematically a 1-D convolution, and every tool of the book that
counts, prunes and quantises ``Conv2d`` weights (:mod:`lib.pruning`, :mod:`lib.qat`,
:mod:`lib.structured`, the workbench's MAC counter) applies unchanged. Upsampling is
nearest-neighbour repetition followed by a convolution (PhaseNet uses a transposed
convolution; the weights are the same in number).

:func:`parameter_table` lists where a model's parameters sit, block by block;
:func:`phasenet_layers` counts, from its architecture, the layers of PhaseNet as
SeisBench instantiates it (268,443 parameters) and of SeisBench's ``PhaseNetLight``
(23,305).

References
----------
.. [1] W. Zhu, G. C. Beroza, "PhaseNet: a deep-neural-network-based seismic arrival-time
   picking method", Geophysical Journal International 216(1), 261-273, 2019,
   arXiv:1803.03211.
.. [2] S. M. Mousavi, W. L. Ellsworth, W. Zhu, L. Y. Chuang, G. C. Beroza, "Earthquake
   transformer -- an attentive deep-learning model for simultaneous earthquake detection
   and phase picking", Nature Communications 11, 3952, 2020.
.. [3] J. Woollam et al., "SeisBench -- A Toolbox for Machine Learning in Seismology", 2022,
   arXiv:2111.00786; the layer counts of :func:`phasenet_layers` come from its source,
   ``seisbench/models/phasenet.py``.
.. [6] J. Lim et al., "LEQNet: Light Earthquake Deep Neural Network for Earthquake Detection
   and Phase Picking", Frontiers in Earth Science 10, 848237, 2022 (depthwise-separable
   convolutions among its means of making EQTransformer light).
.. [4] O. Ronneberger, P. Fischer, T. Brox, "U-Net: Convolutional Networks for Biomedical
   Image Segmentation", MICCAI 2015, arXiv:1505.04597.
.. [5] A. G. Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile
   Vision Applications", 2017, arXiv:1704.04861.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lib.core.checks import check_int

__all__ = ["conv", "PhaseNetLike", "unet_params", "parameter_table", "phasenet_layers", "normalize_traces",
           "probabilities"]

#: PhaseNet's widths in its original (TensorFlow) form, 8 * 2**(i / 2) rounded down.
PHASENET_WIDTHS = (8, 11, 16, 22, 32)


def _check_widths(widths) -> tuple[int, ...]:
    widths = tuple(widths)
    if not 1 <= len(widths) <= 8:
        raise ValueError(f"widths must list 1 to 8 channel counts, got {widths!r}")
    return tuple(check_int(f"widths[{i}]", w, 1, 4096) for i, w in enumerate(widths))


def conv(in_ch: int, out_ch: int, k: int, stride: int = 1, separable: bool = False) -> nn.Sequential:
    """A 1-D convolution (as a Conv2d of height 1, "same" padding), BatchNorm and ReLU.

    With ``separable`` and ``k > 1``: a depthwise convolution (one ``k``-tap filter per input
    channel, ``groups=in_ch``) then a pointwise ``1 x 1`` convolution, :math:`k M + M N`
    weights instead of :math:`k M N`.

    >>> sum(p.numel() for p in conv(8, 16, 7).parameters())  # 8*16*7 weights + 2*16 BatchNorm
    928
    >>> sum(p.numel() for p in conv(8, 16, 7, separable=True).parameters())  # 8*7 + 8*16 + 2*16
    216
    """
    in_ch, out_ch = check_int("in_ch", in_ch, 1), check_int("out_ch", out_ch, 1)
    k, stride = check_int("k", k, 1, 99), check_int("stride", stride, 1, 99)
    pad = (0, k // 2)
    if separable and k > 1:
        layers = [nn.Conv2d(in_ch, in_ch, (1, k), (1, stride), pad, groups=in_ch, bias=False),
                  nn.Conv2d(in_ch, out_ch, 1, bias=False)]
    else:
        layers = [nn.Conv2d(in_ch, out_ch, (1, k), (1, stride), pad, bias=False)]
    return nn.Sequential(*layers, nn.BatchNorm2d(out_ch), nn.ReLU())


class PhaseNetLike(nn.Module):
    """A PhaseNet-style U-Net: ``(n, 3, T)`` waveforms in, ``(n, 3, T)`` logits (P, S, noise) out.

    Parameters
    ----------
    widths : sequence of int
        Channels at each level, finest first (PhaseNet's 8, 11, 16, 22, 32 by default).
    kernel_size : int
        Taps of every convolution (7 in PhaseNet).
    stride : int
        Downsampling factor between levels (4 in PhaseNet).
    separable : bool
        Depthwise-separable convolutions everywhere the kernel is wider than 1.
    in_channels, classes : int
        Components in (3) and classes out (3).
    seed : int
        Seeds the initial weights.

    >>> net = PhaseNetLike(widths=(4, 8), seed=0)
    >>> net(torch.zeros(2, 3, 300)).shape
    torch.Size([2, 3, 300])
    """

    def __init__(self, widths=PHASENET_WIDTHS, kernel_size: int = 7, stride: int = 4, separable: bool = False,
                 in_channels: int = 3, classes: int = 3, seed: int = 0):
        super().__init__()
        w = _check_widths(widths)
        k, s = check_int("kernel_size", kernel_size, 1, 99), check_int("stride", stride, 2, 16)
        in_channels, classes = check_int("in_channels", in_channels, 1), check_int("classes", classes, 1)
        self.widths, self.kernel_size, self.stride, self.separable = w, k, s, bool(separable)
        with torch.random.fork_rng():
            torch.manual_seed(check_int("seed", seed, 0))
            self.stem = conv(in_channels, w[0], k)  # three components: never worth separating
            self.down = nn.ModuleList()
            for i in range(len(w)):
                same = conv(w[i - 1] if i else w[0], w[i], k, separable=separable)
                self.down.append(nn.ModuleList([same] + ([conv(w[i], w[i], k, s, separable)] if i < len(w) - 1
                                                         else [])))
            self.up = nn.ModuleList(
                nn.ModuleList([nn.Upsample(scale_factor=(1, s)), conv(w[i + 1], w[i], k, separable=separable),
                               conv(2 * w[i], w[i], k, separable=separable)])
                for i in reversed(range(len(w) - 1)))
            self.head = nn.Conv2d(w[0], classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x.unsqueeze(2))            # (n, C, T) -> (n, C, 1, T): one row of samples
        skips = []
        for level in self.down:
            x = level[0](x)                      # convolve at this resolution
            if len(level) > 1:
                skips.append(x)                  # keep it for the up branch
                x = level[1](x)                  # strided convolution: T -> ceil(T / stride)
        for (upsample, conv_up, conv_same), skip in zip(self.up, reversed(skips)):
            x = conv_up(upsample(x))[..., :skip.shape[-1]]  # repeat each sample, crop to the skip
            x = conv_same(torch.cat([skip, x], dim=1))      # merge the same level's detail
        return self.head(x).squeeze(2)           # logits (n, 3, T)


def unet_params(widths=PHASENET_WIDTHS, kernel_size: int = 7, in_channels: int = 3, classes: int = 3,
                separable: bool = False) -> int:
    r"""Parameters of :class:`PhaseNetLike`, counted by hand from its layout.

    A convolution block from :math:`M` to :math:`N` channels with kernel :math:`k` holds
    :math:`kMN` weights (:math:`kM + MN` separable) and :math:`2N` BatchNorm parameters; with
    widths :math:`w_0, \dots, w_L`: the stem :math:`(C_\text{in} \to w_0)`, per level a
    "same" convolution :math:`(w_{i-1} \to w_i)` and, except at the bottom, a strided one
    :math:`(w_i \to w_i)`; per up level :math:`(w_{i+1} \to w_i)` and :math:`(2w_i \to w_i)`;
    the head :math:`w_0 \cdot \text{classes} + \text{classes}`.

    >>> unet_params(), unet_params(separable=True)
    (39084, 8429)
    """
    w, k = _check_widths(widths), check_int("kernel_size", kernel_size, 1, 99)

    def block(m, n, sep=separable):
        return (k * m + m * n if sep and k > 1 else k * m * n) + 2 * n

    total = block(in_channels, w[0], False) + w[0] * classes + classes
    for i, n in enumerate(w):
        total += block(w[i - 1] if i else w[0], n) + (block(n, n) if i < len(w) - 1 else 0)
    for i in range(len(w) - 1):
        total += block(w[i + 1], w[i]) + block(2 * w[i], w[i])
    return total


def _block_name(name: str) -> str:
    parts = name.split(".")
    if parts[0] == "down":
        return f"down {int(parts[1]) + 1}, " + ("same" if parts[2] == "0" else "strided")
    if parts[0] == "up":
        return f"up {int(parts[1]) + 1}, " + ("after upsampling" if parts[2] == "1" else "after merge")
    return parts[0]


def parameter_table(model: nn.Module) -> list[dict]:
    """Where ``model``'s parameters sit: one row per block (a convolution with its BatchNorm).

    Returns
    -------
    list of dict
        ``block`` (a readable name), ``shape`` (the convolution weights' shapes),
        ``params`` and ``share`` (fraction of the model's parameters), in forward order.

    >>> rows = parameter_table(PhaseNetLike(widths=(4, 8)))
    >>> [r["block"] for r in rows][:3], sum(r["params"] for r in rows) == unet_params((4, 8))
    (['stem', 'down 1, same', 'down 1, strided'], True)
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module, got {type(model).__name__}")
    rows: dict[str, dict] = {}
    for name, p in model.named_parameters():
        block = _block_name(name.rsplit(".", 2)[0] if name.count(".") >= 2 else name)
        row = rows.setdefault(block, {"block": block, "shape": [], "params": 0})
        row["params"] += p.numel()
        if p.dim() >= 2:
            row["shape"].append(tuple(p.shape[:2]) + tuple(d for d in p.shape[2:] if d > 1))
    total = sum(r["params"] for r in rows.values())
    return [{**r, "share": r["params"] / total} for r in rows.values()]


def phasenet_layers(light: bool = False) -> list[dict]:
    r"""PhaseNet's layers as SeisBench instantiates it, and their parameters, counted from the layout.

    ``seisbench.models.PhaseNet`` (v0.3 and later): a kernel-7 input convolution (3 to 8
    channels, with bias), five levels of widths :math:`8 \cdot 2^i` (8 to 128), each a
    "same" convolution and (but the last) a stride-4 convolution, all without bias and each
    followed by BatchNorm (:math:`2N` parameters); four up levels, a transposed convolution
    and a "same" convolution on the concatenation; a :math:`1 \times 1` output convolution
    with bias. Total 268,443. ``light=True``: ``PhaseNetLight``, one strided convolution per
    level with widths 8, 11, 16, 22, 32, biases, and transposed convolutions reading the
    concatenations: 23,305.

    Returns
    -------
    list of dict
        ``layer``, ``shape`` (out, in, taps) and ``params`` (weights, bias and the BatchNorm after it).

    >>> sum(r["params"] for r in phasenet_layers()), sum(r["params"] for r in phasenet_layers(True))
    (268443, 23305)
    """
    rows = []

    def add(layer, m, n, k, bias, bn=True):
        rows.append({"layer": layer, "shape": (n, m, k), "params": k * m * n + bias * n + 2 * n * bn})

    if light:
        w = PHASENET_WIDTHS
        add("input 1x1", 3, 8, 1, True)
        for i in range(1, 5):
            add(f"down {i}, strided", w[i - 1], w[i], 7, True)
        for i, (m, n) in enumerate(((32, 22), (44, 16), (32, 11), (22, 8)), 1):
            add(f"up {i}, transposed", m, n, 7, True)
        add("output 1x1", 16, 3, 1, True, bn=False)
        return rows
    w = [8 * 2**i for i in range(5)]
    add("input", 3, 8, 7, True)
    for i in range(5):
        add(f"down {i + 1}, same", w[i - 1] if i else 8, w[i], 7, False)
        if i < 4:
            add(f"down {i + 1}, strided", w[i], w[i], 7, False)
    for i in range(4):
        add(f"up {i + 1}, transposed", w[4 - i], w[3 - i], 7, False)
        add(f"up {i + 1}, same", 2 * w[3 - i], w[3 - i], 7, False)
    add("output 1x1", 8, 3, 1, True, bn=False)
    return rows


def normalize_traces(waveforms) -> torch.Tensor:
    r"""Each component minus its mean, divided by its standard deviation (PhaseNet's input scaling).

    :math:`\tilde x_c(t) = (x_c(t) - \bar x_c) / (\sigma_c + 10^{-10})`, per trace and component,
    so the picker sees shapes, not amplitudes (a distant event and a near one look alike).

    >>> x = normalize_traces(np.array([[[1.0, 3.0], [2.0, 2.0], [0.0, 4.0]]]))
    >>> x.dtype, x[0, 0].tolist()
    (torch.float32, [-1.0, 1.0])
    """
    x = torch.as_tensor(np.asarray(waveforms, dtype=np.float32))
    if x.dim() != 3:
        raise ValueError(f"waveforms must have shape (n, components, samples), got {tuple(x.shape)}")
    x = x - x.mean(dim=-1, keepdim=True)
    return x / (x.std(dim=-1, unbiased=False, keepdim=True) + 1e-10)


@torch.no_grad()
def probabilities(net: nn.Module, X: torch.Tensor, batch_size: int = 100) -> torch.Tensor:
    """Per-sample softmax probabilities ``(n, 3, T)`` (P, S, noise) of ``net`` on ``X``, in eval mode.

    >>> p = probabilities(PhaseNetLike(widths=(4, 8)), torch.randn(2, 3, 100))
    >>> bool(torch.allclose(p.sum(dim=1), torch.ones(2, 100)))
    True
    """
    batch_size = check_int("batch_size", batch_size, 1)
    was_training = net.training
    net.eval()
    try:
        out = torch.cat([torch.softmax(net(X[i:i + batch_size]), dim=1) for i in range(0, len(X), batch_size)])
    finally:
        net.train(was_training)
    return out
