r"""Binary and few-bit networks: weights and activations of one bit (or a few), trained with the
straight-through estimator, and the XNOR + popcount arithmetic that replaces multiply-accumulate.

**Binarisation** keeps only the sign, with the book's convention :math:`\operatorname{sign}(0) = +1`:

.. math::

    x^b = \operatorname{sign}(x) = \begin{cases} +1 & x \ge 0 \\ -1 & x < 0. \end{cases}

Its derivative is zero almost everywhere, so training uses the *straight-through estimator*
(STE) of Hubara et al.: the backward pass treats ``sign`` as the hard tanh
:math:`\operatorname{clip}(x, -1, 1)`, passing the gradient where :math:`|x| \le 1` and
cancelling it elsewhere (:func:`binarize`). The layers here (:class:`BinaryLinear`,
:class:`BinaryConv2d`) keep a real-valued *latent* weight that the optimiser updates, and use a
binarised (or few-bit) copy of it in every forward pass:

- ``"sign"``: :math:`W^b = \operatorname{sign}(W)` (BinaryConnect, BNN). The latent weights are
  clipped to :math:`[-1, 1]` after each step (:func:`clip_latent_weights_`).
- ``"xnor"``: :math:`\alpha\,\operatorname{sign}(W)` with one :math:`\alpha = \operatorname{mean}|W|`
  per output channel, the scale that minimises :math:`\lVert W - \alpha B \rVert^2` (XNOR-Net).
- ``"dorefa"``: DoReFa-Net's :math:`k`-bit weights, :math:`2\,q_k\!\big(\tfrac{\tanh W}{2\max|\tanh W|}
  + \tfrac12\big) - 1` on the grid of :math:`2^k` values in :math:`[-1, 1]`
  (:func:`dorefa_weight`; :math:`k = 1` is :math:`\operatorname{mean}|W|\operatorname{sign}(W)`).

Activations: :class:`SignActivation` (BNN; with ``scale=True`` XNOR-Net's per-example
:math:`\beta = \operatorname{mean}|x|`), :class:`DoReFaActivation` (:math:`q_k(\operatorname{clip}(x,
0, 1))`), and DoReFa's gradient quantiser :class:`QuantizeGrad` (identity forward, noisy
:math:`k`-bit gradient backward). :func:`binary_mlp` assembles a perceptron from them;
:func:`lib.experiments.binary.fit_binary` trains it (Adam, an exponentially decaying learning
rate, :func:`clip_latent_weights_` after every step) through the one training loop.

The XNOR + popcount arithmetic that runs such a network on bits is :mod:`lib.xnor`.

References
----------
.. [1] M. Courbariaux, Y. Bengio, J.-P. David, "BinaryConnect: Training Deep Neural Networks with
   binary weights during propagations", NeurIPS 2015, arXiv:1511.00363.
.. [2] I. Hubara, M. Courbariaux, D. Soudry, R. El-Yaniv, Y. Bengio, "Binarized Neural Networks",
   NeurIPS 2016, arXiv:1602.02830.
.. [3] M. Rastegari, V. Ordonez, J. Redmon, A. Farhadi, "XNOR-Net: ImageNet Classification Using
   Binary Convolutional Neural Networks", ECCV 2016, arXiv:1603.05279.
.. [4] S. Zhou, Y. Wu, Z. Ni, X. Zhou, H. Wen, Y. Zou, "DoReFa-Net: Training Low Bitwidth
   Convolutional Neural Networks with Low Bitwidth Gradients", 2016, arXiv:1606.06160.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lib.core.checks import check_choice, check_int, check_real

__all__ = ["binarize", "xnor_scale", "quantize_k", "dorefa_weight", "dorefa_activation", "quantize_grad",
           "BinaryLinear", "BinaryConv2d", "SignActivation", "DoReFaActivation", "QuantizeGrad",
           "clip_latent_weights_", "binary_mlp", "storage_bits"]

WEIGHT_MODES = ("float", "sign", "xnor", "dorefa")
ACTIVATIONS = ("relu", "sign", "xnor", "dorefa")


def _check_tensor(name: str, x) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    return x


# --------------------------------------------------------------------------- sign and the STE
class _SignSTE(torch.autograd.Function):
    """sign with sign(0) = +1 forward; the hard tanh's gradient, 1 where |x| <= 1, backward."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


def binarize(x: torch.Tensor) -> torch.Tensor:
    r"""The sign of ``x`` (with :math:`\operatorname{sign}(0) = +1`) and the straight-through gradient.

    Forward :math:`x^b = \operatorname{sign}(x) \in \{-1, +1\}`; backward
    :math:`\partial L/\partial x = \partial L/\partial x^b \cdot 1_{|x| \le 1}`, the gradient of the
    hard tanh :math:`\operatorname{clip}(x, -1, 1)` (Hubara et al. 2016, arXiv:1602.02830):
    the gradient passes straight through where :math:`x` is small, and is cancelled where
    :math:`|x| > 1`, so values already far from zero are not pushed further.

    Parameters
    ----------
    x : float tensor

    Returns
    -------
    tensor of the same shape, dtype and device, every entry -1.0 or +1.0

    >>> binarize(torch.tensor([-0.3, 0.0, 2.0]))
    tensor([-1.,  1.,  1.])
    """
    return _SignSTE.apply(_check_tensor("x", x))


def xnor_scale(w: torch.Tensor) -> torch.Tensor:
    r"""XNOR-Net's weight scale: :math:`\alpha_o = \frac{1}{n}\sum_i |W_{o,i}|`, one per output channel.

    For a fixed binary :math:`B = \operatorname{sign}(W)`, the error :math:`\lVert W - \alpha B\rVert^2
    = \lVert W\rVert^2 - 2\alpha \sum_i |W_i| + n\alpha^2` is smallest at :math:`\alpha = \operatorname{mean}|W|`
    (Rastegari et al. 2016, arXiv:1603.05279).

    Parameters
    ----------
    w : float tensor of shape (out, ...)
        A weight, output channels first (as in ``nn.Linear`` and ``nn.Conv2d``).

    Returns
    -------
    tensor of shape (out, 1, ..., 1)
        Broadcastable against ``w``.

    >>> xnor_scale(torch.tensor([[1.0, -3.0], [0.5, 0.5]])).flatten()
    tensor([2.0000, 0.5000])
    """
    w = _check_tensor("w", w)
    if w.dim() < 2:
        raise ValueError(f"w must have at least 2 dimensions (out, in, ...), got shape {tuple(w.shape)}")
    return w.abs().mean(dim=tuple(range(1, w.dim())), keepdim=True)


class _RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


def quantize_k(x: torch.Tensor, bits: int) -> torch.Tensor:
    r"""DoReFa-Net's :math:`k`-bit quantiser of :math:`x \in [0, 1]`: :math:`q_k(x) = \frac{1}{2^k - 1}
    \big\lfloor (2^k - 1)\,x \big\rceil`, with a straight-through (identity) gradient.

    Parameters
    ----------
    x : float tensor with values in [0, 1]
    bits : int in [1, 16]

    Returns
    -------
    tensor on the grid :math:`\{0, \frac{1}{2^k-1}, \dots, 1\}`

    >>> quantize_k(torch.tensor([0.0, 0.2, 0.5, 0.9]), 2)
    tensor([0.0000, 0.3333, 0.6667, 1.0000])
    """
    x = _check_tensor("x", x)
    bits = check_int("bits", bits, 1, 16)
    n = float(2 ** bits - 1)
    return _RoundSTE.apply(x * n) / n


class _ScaledSignSTE(torch.autograd.Function):
    """DoReFa's 1-bit weight: mean|W| * sign(W) forward, identity gradient backward."""

    @staticmethod
    def forward(ctx, w):
        e = w.abs().mean()
        return torch.where(w >= 0, e, -e)

    @staticmethod
    def backward(ctx, grad):
        return grad


def dorefa_weight(w: torch.Tensor, bits: int) -> torch.Tensor:
    r"""DoReFa-Net's :math:`k`-bit weights in :math:`[-1, 1]`.

    For :math:`k > 1`, :math:`w_q = 2\,q_k\!\Big(\frac{\tanh w}{2\max|\tanh w|} + \frac12\Big) - 1`:
    the tanh squashes large latent weights, the division by the layer's largest one maps the
    layer onto :math:`[0, 1]`, and :math:`q_k` (:func:`quantize_k`) rounds to :math:`2^k`
    evenly spaced values. The gradient flows through tanh and the normalisation, and straight
    through the rounding. For :math:`k = 1`, :math:`w_q = \operatorname{mean}|w|\cdot
    \operatorname{sign}(w)` with an identity gradient (Zhou et al. 2016, arXiv:1606.06160).

    Parameters
    ----------
    w : float tensor
        Latent (real-valued) weights of one layer.
    bits : int in [1, 16]

    Returns
    -------
    tensor of the same shape; for ``bits > 1`` every value is :math:`2j/(2^k - 1) - 1`, :math:`j`
    an integer in :math:`[0, 2^k - 1]`.

    >>> dorefa_weight(torch.tensor([-2.0, -0.1, 0.1, 2.0]), 2)
    tensor([-1.0000, -0.3333,  0.3333,  1.0000])
    """
    w = _check_tensor("w", w)
    bits = check_int("bits", bits, 1, 16)
    if bits == 1:
        return _ScaledSignSTE.apply(w)
    t = torch.tanh(w)
    top = t.abs().max().clamp_min(torch.finfo(w.dtype).tiny)
    return 2 * quantize_k(t / (2 * top) + 0.5, bits) - 1


def dorefa_activation(x: torch.Tensor, bits: int) -> torch.Tensor:
    r"""DoReFa-Net's :math:`k`-bit activation :math:`q_k(\operatorname{clip}(x, 0, 1))`.

    The gradient is 1 inside :math:`[0, 1]` (straight through the rounding) and 0 where
    :math:`x` was clipped.

    >>> dorefa_activation(torch.tensor([-1.0, 0.4, 0.6, 3.0]), 1)
    tensor([0., 0., 1., 1.])
    """
    x = _check_tensor("x", x)
    return quantize_k(torch.clamp(x, 0.0, 1.0), bits)


class _QuantizeGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, bits, noise, generator):
        ctx.bits, ctx.noise, ctx.generator = bits, noise, generator
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return _quantize_gradient(grad, ctx.bits, ctx.noise, ctx.generator), None, None, None


def _quantize_gradient(grad: torch.Tensor, bits: int, noise: bool, generator) -> torch.Tensor:
    n = float(2 ** bits - 1)
    dims = tuple(range(1, grad.dim()))
    top = grad.abs().amax(dim=dims, keepdim=True) if dims else grad.abs()
    top = top.clamp_min(torch.finfo(grad.dtype).tiny)
    r = grad / (2 * top) + 0.5
    if noise:
        r = r + (torch.rand(grad.shape, generator=generator, dtype=grad.dtype) - 0.5) / n
    return 2 * top * (torch.round(torch.clamp(r, 0.0, 1.0) * n) / n - 0.5)


def quantize_grad(x: torch.Tensor, bits: int, noise: bool = True, generator: torch.Generator | None = None):
    r"""Identity forward; DoReFa-Net's :math:`k`-bit gradient quantiser backward.

    With :math:`m = \max|dr|` over each example (all axes but the first),

    .. math::

        \tilde{dr} = 2m\Big[q_k\Big(\operatorname{clip}\big(\tfrac{dr}{2m} + \tfrac12 + N(k), 0, 1\big)\Big)
        - \tfrac12\Big], \qquad N(k) \sim U\big(-\tfrac{1}{2(2^k-1)}, \tfrac{1}{2(2^k-1)}\big),

    the uniform noise making the rounding unbiased on average (stochastic rounding). With
    ``noise=False`` the rounding is deterministic, to the nearest level.

    Parameters
    ----------
    x : float tensor, the first axis the batch
    bits : int in [1, 16]
    noise : bool
        Add DoReFa's uniform noise before rounding (the paper's choice).
    generator : torch.Generator, optional
        Source of the noise, for reproducible training.

    >>> x = torch.tensor([[0.3, -1.0]], requires_grad=True)
    >>> quantize_grad(x, 2, noise=False).mul(torch.tensor([[0.3, -0.9]])).sum().backward()
    >>> x.grad
    tensor([[ 0.3000, -0.9000]])
    """
    x = _check_tensor("x", x)
    bits = check_int("bits", bits, 1, 16)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    return _QuantizeGrad.apply(x, bits, bool(noise), generator)


# --------------------------------------------------------------------------- layers
class _BinaryWeight:
    """Shared by BinaryLinear and BinaryConv2d: the quantised copy of the latent weight."""

    def _setup(self, weight: str, weight_bits: int) -> None:
        self.mode = check_choice("weight", weight, WEIGHT_MODES)
        self.weight_bits = check_int("weight_bits", weight_bits, 1, 16)
        if self.mode in ("sign", "xnor") and self.weight_bits != 1:
            raise ValueError(f"weight_bits must be 1 for weight={weight!r}, got {weight_bits!r}")

    @property
    def bits(self) -> int:
        """Bits stored per weight: 32 for float, ``weight_bits`` otherwise."""
        return 32 if self.mode == "float" else self.weight_bits

    @property
    def clips_latent(self) -> bool:
        """Whether the latent weights are kept in [-1, 1] (BinaryConnect's rule, for sign and xnor)."""
        return self.mode in ("sign", "xnor")

    def quantized_weight(self) -> torch.Tensor:
        """The weight the forward pass uses (with the straight-through gradient to the latent one)."""
        w = self.weight
        if self.mode == "sign":
            return binarize(w)
        if self.mode == "xnor":
            return xnor_scale(w) * binarize(w)
        if self.mode == "dorefa":
            return dorefa_weight(w, self.weight_bits)
        return w

    def extra_repr(self) -> str:
        return super().extra_repr() + f", weight={self.mode!r}, weight_bits={self.bits}"


class BinaryLinear(_BinaryWeight, nn.Linear):
    r"""A linear layer whose forward pass uses binarised (or DoReFa :math:`k`-bit) weights.

    The parameter ``weight`` is the real-valued latent weight the optimiser updates; the forward
    pass computes :math:`x\,Q(W)^\top + b` with :math:`Q` chosen by ``weight``: ``"sign"``
    (BinaryConnect and BNN, arXiv:1511.00363, 1602.02830), ``"xnor"`` (:math:`\alpha_o
    \operatorname{sign}(W)`, XNOR-Net, arXiv:1603.05279), ``"dorefa"`` (:func:`dorefa_weight`,
    arXiv:1606.06160) or ``"float"`` (no quantisation).

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
        Binary networks usually drop it: the BatchNorm that follows has its own shift.
    weight : {"sign", "xnor", "dorefa", "float"}
    weight_bits : int
        1 for ``"sign"`` and ``"xnor"``; 1 to 16 for ``"dorefa"``.

    >>> layer = BinaryLinear(3, 2, weight="sign")
    >>> sorted(layer.quantized_weight().unique().tolist())
    [-1.0, 1.0]
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = False, weight: str = "sign",
                 weight_bits: int = 1):
        check_int("in_features", in_features, 1)
        check_int("out_features", out_features, 1)
        self._setup(weight, weight_bits)
        super().__init__(in_features, out_features, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.quantized_weight(), self.bias)


class BinaryConv2d(_BinaryWeight, nn.Conv2d):
    r"""A 2-D convolution whose forward pass uses binarised (or DoReFa :math:`k`-bit) weights.

    As :class:`BinaryLinear`, with :math:`\alpha` (``weight="xnor"``) one per output filter.
    Remaining keyword arguments (``stride``, ``padding``, ...) are ``nn.Conv2d``'s.

    >>> conv = BinaryConv2d(1, 4, 3, weight="xnor")
    >>> conv(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 4, 6, 6])
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, bias: bool = False,
                 weight: str = "sign", weight_bits: int = 1, **kwargs):
        check_int("in_channels", in_channels, 1)
        check_int("out_channels", out_channels, 1)
        self._setup(weight, weight_bits)
        super().__init__(in_channels, out_channels, kernel_size, bias=bias, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.quantized_weight(), self.bias)


class SignActivation(nn.Module):
    r"""Binary activation :math:`\operatorname{sign}(x)` with the hard-tanh straight-through gradient.

    With ``scale=True``, XNOR-Net's :math:`\beta\,\operatorname{sign}(x)`, :math:`\beta` the mean of
    :math:`|x|` over each example (all axes but the first; XNOR-Net averages over channels at each
    position of a convolution, which for a fully connected layer is this). The gradient also flows
    through :math:`\beta`.

    >>> SignActivation()(torch.tensor([[-0.5, 0.0, 2.0]]))
    tensor([[-1.,  1.,  1.]])
    >>> SignActivation(scale=True)(torch.tensor([[-0.5, 0.0, 2.0]]))
    tensor([[-0.8333,  0.8333,  0.8333]])
    """

    def __init__(self, scale: bool = False):
        super().__init__()
        self.scale = bool(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = binarize(x)
        if not self.scale:
            return b
        return x.abs().mean(dim=tuple(range(1, x.dim())), keepdim=True) * b

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


class DoReFaActivation(nn.Module):
    r"""DoReFa-Net's :math:`k`-bit activation, :math:`q_k(\operatorname{clip}(x, 0, 1))` (:func:`dorefa_activation`).

    >>> DoReFaActivation(2)(torch.tensor([-1.0, 0.3, 0.5, 2.0]))
    tensor([0.0000, 0.3333, 0.6667, 1.0000])
    """

    def __init__(self, bits: int):
        super().__init__()
        self.bits = check_int("bits", bits, 1, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dorefa_activation(x, self.bits)

    def extra_repr(self) -> str:
        return f"bits={self.bits}"


class QuantizeGrad(nn.Module):
    """Identity forward, DoReFa's ``bits``-bit gradient backward (:func:`quantize_grad`), with its own
    seeded noise generator so that training repeats exactly.

    >>> QuantizeGrad(6)(torch.ones(2, 3)).shape
    torch.Size([2, 3])
    """

    def __init__(self, bits: int, noise: bool = True, seed: int = 0):
        super().__init__()
        self.bits = check_int("bits", bits, 1, 16)
        self.noise = bool(noise)
        self.generator = torch.Generator().manual_seed(check_int("seed", seed, 0, 2**63 - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return quantize_grad(x, self.bits, self.noise, self.generator)

    def extra_repr(self) -> str:
        return f"bits={self.bits}, noise={self.noise}"


@torch.no_grad()
def clip_latent_weights_(net: nn.Module, bound: float = 1.0) -> nn.Module:
    r"""Clip the latent weights of every ``"sign"`` or ``"xnor"`` layer to :math:`[-\text{bound},
    \text{bound}]`, in place (BinaryConnect's rule, applied after each optimiser step).

    Outside :math:`[-1, 1]` a latent weight no longer changes its sign's gradient (the STE is zero
    there) and would drift without bound; clipping keeps every weight within reach of a sign flip.

    >>> layer = BinaryLinear(2, 1)
    >>> _ = layer.weight.data.fill_(3.0)
    >>> clip_latent_weights_(layer).weight.data
    tensor([[1., 1.]])
    """
    bound = check_real("bound", bound, 0.0, math.inf, lo_open=True)
    if not isinstance(net, nn.Module):
        raise ValueError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    for m in net.modules():
        if isinstance(m, _BinaryWeight) and m.clips_latent:
            m.weight.clamp_(-bound, bound)
    return net


# --------------------------------------------------------------------------- a binary perceptron
def binary_mlp(sizes, weights: str = "sign", activations: str = "sign", weight_bits: int = 1,
               act_bits: int = 1, grad_bits: int = 32, binary_input: bool = False, batchnorm: bool = True,
               seed: int = 0) -> nn.Sequential:
    r"""A perceptron ``sizes[0] -> ... -> sizes[-1]`` with binarised or few-bit weights and activations.

    Every layer's weights are quantised as ``weights`` says (the first and the last included), and
    each hidden layer is Linear -> BatchNorm -> activation, the order of BNN and DoReFa-Net
    (XNOR-Net normalises before the binarisation too: BatchNorm -> sign -> Linear is the same chain
    seen from the next layer). The output layer is Linear -> BatchNorm when ``weights`` is not
    ``"float"``: a sum of :math:`n` products of :math:`\pm1` is of order :math:`\sqrt n`, too large
    for softmax logits without a learned scale.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first.
    weights : {"float", "sign", "xnor", "dorefa"}
        See :class:`BinaryLinear`.
    activations : {"relu", "sign", "xnor", "dorefa"}
        Float ReLU; BNN's sign; XNOR-Net's :math:`\beta\operatorname{sign}`; DoReFa's
        :math:`q_k(\operatorname{clip}(x, 0, 1))` with ``act_bits`` bits.
    weight_bits, act_bits : int
        For ``"dorefa"`` weights and activations.
    grad_bits : int in [1, 32]
        Below 32, DoReFa's noisy gradient quantiser (:class:`QuantizeGrad`) after every linear layer.
    binary_input : bool
        Binarise the input too (``sign`` of the standardised pixel): "full" binarisation, where
        even the first layer computes XNOR and popcount. Otherwise the first layer sees real inputs
        ("partial").
    batchnorm : bool
        BatchNorm after every linear layer (without it, binary networks train badly).
    seed : int
        Seed of the initialisation (PyTorch's default scheme).

    Returns
    -------
    nn.Sequential

    >>> net = binary_mlp([784, 64, 10])
    >>> net(torch.zeros(5, 784)).shape
    torch.Size([5, 10])
    """
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least 2 widths (input and output), got {sizes!r}")
    for i, s in enumerate(sizes):
        check_int(f"sizes[{i}]", s, 1)
    check_choice("weights", weights, WEIGHT_MODES)
    check_choice("activations", activations, ACTIVATIONS)
    weight_bits = check_int("weight_bits", weight_bits, 1, 16) if weights == "dorefa" else 1
    act_bits = check_int("act_bits", act_bits, 1, 16)
    grad_bits = check_int("grad_bits", grad_bits, 1, 32)
    check_int("seed", seed, 0, 2**32 - 1)

    def act():
        if activations == "relu":
            return nn.ReLU()
        if activations == "dorefa":
            return DoReFaActivation(act_bits)
        return SignActivation(scale=activations == "xnor")

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        layers: list[nn.Module] = [SignActivation()] if binary_input else []
        last = len(sizes) - 2
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(BinaryLinear(a, b, bias=not batchnorm, weight=weights, weight_bits=weight_bits))
            if grad_bits < 32:
                layers.append(QuantizeGrad(grad_bits, seed=seed * 1000 + i))
            if batchnorm and (i < last or weights != "float"):
                layers.append(nn.BatchNorm1d(b))
            if i < last:
                layers.append(act())
        return nn.Sequential(*layers)


def storage_bits(net: nn.Module) -> dict[str, int]:
    r"""Bits to store a network: its weights at their bits, everything else in float32.

    Returns
    -------
    dict
        ``weights`` (bits of the quantised weights), ``other`` (biases, BatchNorm's scale, shift
        and running statistics, 32 bits each) and ``total``.

    >>> storage_bits(binary_mlp([4, 3], batchnorm=False))
    {'weights': 12, 'other': 96, 'total': 108}
    """
    if not isinstance(net, nn.Module):
        raise ValueError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    wbits, other = 0, 0
    for m in net.modules():
        for name, p in list(m.named_parameters(recurse=False)) + list(m.named_buffers(recurse=False)):
            if not p.is_floating_point():
                continue  # BatchNorm's num_batches_tracked is bookkeeping, not stored for inference
            if name == "weight" and isinstance(m, (nn.Linear, nn.Conv2d)):
                wbits += p.numel() * (m.bits if isinstance(m, _BinaryWeight) else 32)
            else:
                other += 32 * p.numel()
    return {"weights": wbits, "other": other, "total": wbits + other}
