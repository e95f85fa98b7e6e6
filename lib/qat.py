r"""Fake quantisation and quantisation-aware training (QAT).

A quantised network can be *stored* as integers and *run* in float: every weight is kept as a
:math:`b`-bit code :math:`q` with a per-channel scale :math:`s` (and zero point :math:`z`), and
turned back into the float :math:`\hat w = s\,(q - z)` when the network is loaded
(:func:`quantize_state_dict`, :func:`dequantize_state_dict`). The file shrinks; the arithmetic,
and so the speed, is that of the float network.

Quantisation-aware training rounds during training too: every forward pass uses the rounded
weights and (optionally) rounded layer inputs, so the loss sees the error the integers will make,
and the backward pass treats the rounding as the identity inside the grid's range and as a wall
outside it, the *straight-through estimator* (Bengio et al. 2013, who credit it to Hinton's 2012
lectures on neural networks). The float weights keep
receiving small updates and a weight moves to the next code once the updates add up.

* :func:`fake_quantize_weight`: per-channel, symmetric, min/max grid of the weight as it is now;
* :class:`EMAFakeQuantize`: per-tensor, asymmetric grid for activations, its range tracked by an
  exponential moving average (``torch.ao.quantization``'s ``MovingAverageMinMaxObserver``);
* :class:`QuantLinear`, :class:`QuantConv2d`: layers that fake-quantise their input and weight;
  :func:`quantize_model` swaps them into a copy of a network;
* :func:`calibrate`: post-training quantisation's range estimate.

Fine-tuning through the fake quantisers is ordinary training (the straight-through gradients are
in the layers): :func:`lib.experiments.qat.qat_finetune` runs it through the one training loop.

Every forward pass is checked in ``tests/test_qat.py`` against PyTorch's ``FakeQuantize`` modules
and ``torch.ao.nn.qat`` layers with the matching qconfig.

References
----------
.. [1] Y. Bengio, N. Léonard, A. Courville, "Estimating or Propagating Gradients Through Stochastic
   Neurons for Conditional Computation", 2013, arXiv:1308.3432.
.. [2] B. Jacob et al., "Quantization and Training of Neural Networks for Efficient
   Integer-Arithmetic-Only Inference", CVPR 2018, arXiv:1712.05877.
.. [3] R. Krishnamoorthi, "Quantizing deep convolutional networks for efficient inference:
   A whitepaper", 2018, arXiv:1806.08342.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.nn import functional as F

from lib import quantization as Q
from lib.core.checks import check_int, check_real

__all__ = ["pack_int4", "unpack_int4", "quantize_state_dict", "dequantize_state_dict",
           "fake_quantize_weight", "EMAFakeQuantize", "QuantLinear", "QuantConv2d", "quantize_model",
           "calibrate"]

_LAYERS = (nn.Linear, nn.Conv2d)


# --------------------------------------------------------------------------- storing integers
def pack_int4(codes: torch.Tensor) -> torch.Tensor:
    """Pack signed 4-bit codes (integers in ``[-8, 7]``) two to a byte.

    Each code is kept as its 4-bit two's complement (``code & 0xF``); entry ``2i`` goes into the low
    half of byte ``i``, entry ``2i + 1`` into the high half. An odd count is padded with a 0.

    >>> pack_int4(torch.tensor([1, -2, 7]))
    tensor([225,   7], dtype=torch.uint8)
    """
    if not isinstance(codes, torch.Tensor) or codes.dtype.is_floating_point or codes.dtype == torch.bool:
        raise ValueError(f"codes must be an integer tensor, got {getattr(codes, 'dtype', type(codes).__name__)}")
    flat = codes.reshape(-1).to(torch.int64)
    if flat.numel() and (int(flat.min()) < -8 or int(flat.max()) > 7):
        raise ValueError(f"codes must lie in [-8, 7] (signed 4-bit), got [{int(flat.min())}, {int(flat.max())}]")
    if flat.numel() % 2:
        flat = torch.cat([flat, flat.new_zeros(1)])
    nibbles = flat & 0xF
    return (nibbles[0::2] | (nibbles[1::2] << 4)).to(torch.uint8)


def unpack_int4(packed: torch.Tensor, numel: int) -> torch.Tensor:
    """The ``numel`` signed 4-bit codes that :func:`pack_int4` packed, as ``int8``.

    >>> unpack_int4(pack_int4(torch.tensor([1, -2, 7])), 3)
    tensor([ 1, -2,  7], dtype=torch.int8)
    """
    if not isinstance(packed, torch.Tensor) or packed.dtype != torch.uint8:
        raise ValueError(f"packed must be a uint8 tensor, got {getattr(packed, 'dtype', type(packed).__name__)}")
    numel = check_int("numel", numel, 0, 2 * packed.numel())
    p = packed.reshape(-1).to(torch.int64)
    nibbles = torch.stack([p & 0xF, p >> 4], dim=1).reshape(-1)[:numel]
    return torch.where(nibbles >= 8, nibbles - 16, nibbles).to(torch.int8)  # sign-extend the 4 bits


def _weight_codes(w: torch.Tensor, num_bits: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-output-channel symmetric codes of ``w`` with their scales and zero points (all 0)."""
    scale, zero_point = Q.per_channel_qparams(w, num_bits, axis=0, symmetric=True)
    qmin, qmax = Q.quant_range(num_bits, symmetric=True)
    shape = [-1] + [1] * (w.dim() - 1)
    inv_scale = 1.0 / scale.reshape(shape)  # PyTorch multiplies by the float32 inverse, see Q.linear_quantize
    codes = torch.clamp(torch.round(w * inv_scale) + zero_point.reshape(shape), qmin, qmax)
    return codes.to(torch.int8), scale, zero_point.to(torch.int8)


def quantize_state_dict(net: nn.Module, num_bits: int = 8) -> dict:
    r"""``net``'s state dict with every Linear/Conv2d weight replaced by integer codes.

    Each weight :math:`W` (output channels first) becomes per-channel symmetric codes
    :math:`q = \operatorname{clamp}(\lfloor W_c / s_c \rceil, -2^{b-1}, 2^{b-1} - 1)`,
    :math:`s_c = \max|W_c| / (2^{b-1} - \tfrac12)` (the scale of
    ``torch.ao.quantization.PerChannelMinMaxObserver`` with ``per_channel_symmetric``). The entry
    ``<name>.weight`` is replaced by

    * ``<name>.weight.codes``: ``int8`` for 5 to 8 bits; for 2 to 4 bits two codes per byte
      (``uint8``, :func:`pack_int4`);
    * ``<name>.weight.scale`` (``float32``) and ``<name>.weight.zero_point`` (``int8``, all 0 for a
      symmetric grid), one per output channel;
    * ``<name>.weight.shape`` (``int64``).

    Biases and every other entry are kept as they are (in float32 they cost little: PyTorch's
    quantised layers keep float biases too). ``num_bits`` is stored under ``"num_bits"``.
    :func:`dequantize_state_dict` restores a float state dict.

    Parameters
    ----------
    net : nn.Module
        Must contain at least one ``nn.Linear`` or ``nn.Conv2d``.
    num_bits : int in [2, 8]

    >>> qsd = quantize_state_dict(nn.Linear(3, 2), num_bits=4)
    >>> sorted(qsd), qsd["weight.codes"].dtype
    (['bias', 'num_bits', 'weight.codes', 'weight.scale', 'weight.shape', 'weight.zero_point'], torch.uint8)
    """
    num_bits = check_int("num_bits", num_bits, 2, 8)
    if not isinstance(net, nn.Module):
        raise ValueError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    weights = {f"{name}.weight" if name else "weight" for name, m in net.named_modules() if isinstance(m, _LAYERS)}
    if not weights:
        raise ValueError("net must contain at least one nn.Linear or nn.Conv2d layer")
    out: dict = {"num_bits": num_bits}
    for key, value in net.state_dict().items():
        if key not in weights:
            out[key] = value.detach().clone()
            continue
        codes, scale, zero_point = _weight_codes(value.detach().float(), num_bits)
        out[f"{key}.codes"] = pack_int4(codes) if num_bits <= 4 else codes
        out[f"{key}.scale"], out[f"{key}.zero_point"] = scale, zero_point
        out[f"{key}.shape"] = torch.tensor(value.shape, dtype=torch.int64)
    return out


def dequantize_state_dict(qsd: dict) -> dict:
    r"""The float state dict a :func:`quantize_state_dict` result stands for: :math:`\hat W_c = s_c (q - z_c)`.

    Loaded into the original architecture (``net.load_state_dict``), it gives exactly the network
    whose weights were fake-quantised per channel (:func:`fake_quantize_weight`): the same float32
    products, bit for bit.

    >>> layer = nn.Linear(3, 2)
    >>> w_hat = dequantize_state_dict(quantize_state_dict(layer, 8))["weight"]
    >>> torch.equal(w_hat, fake_quantize_weight(layer.weight, 8))
    True
    """
    if not isinstance(qsd, dict) or "num_bits" not in qsd:
        raise ValueError("qsd must be a dict made by quantize_state_dict (it has no 'num_bits' entry)")
    num_bits = check_int("qsd['num_bits']", qsd["num_bits"], 2, 8)
    out = {}
    for key, value in qsd.items():
        if key == "num_bits" or key.endswith((".scale", ".zero_point", ".shape")):
            continue
        if not key.endswith(".codes"):
            out[key] = value
            continue
        name = key[: -len(".codes")]
        shape = [int(n) for n in qsd[f"{name}.shape"]]
        codes = unpack_int4(value, math.prod(shape)) if num_bits <= 4 else value
        view = [-1] + [1] * (len(shape) - 1)
        scale, zero_point = qsd[f"{name}.scale"].reshape(view), qsd[f"{name}.zero_point"].reshape(view)
        out[name] = (codes.reshape(shape).to(torch.float32) - zero_point.to(torch.float32)) * scale
    return out


# --------------------------------------------------------------------------- fake quantisers
def fake_quantize_weight(weight: torch.Tensor, num_bits: int) -> torch.Tensor:
    r"""Round a weight to its per-output-channel symmetric ``num_bits``-bit grid, and back.

    The grid is fitted to the weight as it is now (min/max per channel, as Jacob et al. do for
    weights during QAT): :math:`s_c = \max|W_c| / (2^{b-1} - \tfrac12)`, :math:`z_c = 0`, codes in
    :math:`[-2^{b-1}, 2^{b-1} - 1]`. The scale is a constant for autograd; the gradient with respect
    to the weight is the straight-through estimator (1 where the code was not clipped).

    Equal to ``torch.ao.quantization.FakeQuantize`` with ``PerChannelMinMaxObserver``
    (``qint8``, ``per_channel_symmetric``, ``ch_axis=0``) on its first call.

    >>> fake_quantize_weight(torch.tensor([[0.3, -0.1], [1.0, 0.26]]), 2)
    tensor([[0.2000, 0.0000],
            [0.6667, 0.0000]])
    """
    num_bits = check_int("num_bits", num_bits, 2, 16)
    scale, zero_point = Q.per_channel_qparams(weight.detach(), num_bits, axis=0, symmetric=True)
    qmin, qmax = Q.quant_range(num_bits, symmetric=True)
    return Q.fake_quantize_per_channel(weight, scale, zero_point, 0, qmin, qmax)


class EMAFakeQuantize(nn.Module):
    r"""Fake-quantise a tensor on an asymmetric ``num_bits``-bit grid whose range is a moving average.

    While ``observer_enabled``, every call updates the range with the batch's minimum and maximum:
    the first batch sets it, and afterwards

    .. math::

        m \leftarrow m + c\,(\min x - m), \qquad M \leftarrow M + c\,(\max x - M),

    with ``averaging_constant`` :math:`c` (PyTorch's ``MovingAverageMinMaxObserver``; Jacob et al.
    smooth activation ranges the same way). The grid is then :func:`lib.quantization.qparams` of
    :math:`[m, M]` on codes :math:`[0, 2^b - 1]`, and, while ``fake_quant_enabled``, the output is
    :func:`lib.quantization.fake_quantize` of the input (gradient: the straight-through estimator).
    Before any batch has been observed the input passes through unchanged.

    Equal, output and gradient, to ``torch.ao.quantization.FakeQuantize(observer=MovingAverageMinMaxObserver,
    quant_min=0, quant_max=2**num_bits - 1, dtype=torch.quint8, averaging_constant=c)``.

    Parameters
    ----------
    num_bits : int in [2, 8]
    averaging_constant : float in (0, 1]
        1 keeps only the latest batch's range.

    >>> fq = EMAFakeQuantize(num_bits=8, averaging_constant=0.5)
    >>> _ = fq(torch.tensor([0.0, 2.0])); _ = fq(torch.tensor([0.0, 4.0]))
    >>> float(fq.max_val), fq.scale_zero_point()
    (3.0, (0.0117647061124444, 0))
    """

    def __init__(self, num_bits: int = 8, averaging_constant: float = 0.01):
        super().__init__()
        self.num_bits = check_int("num_bits", num_bits, 2, 8)
        self.averaging_constant = check_real("averaging_constant", averaging_constant, 0.0, 1.0, lo_open=True)
        self.quant_min, self.quant_max = Q.quant_range(self.num_bits)
        self.observer_enabled = True
        self.fake_quant_enabled = True
        self.register_buffer("min_val", torch.tensor(float("inf")))
        self.register_buffer("max_val", torch.tensor(float("-inf")))

    @property
    def observed(self) -> bool:
        """Whether a range has been recorded yet."""
        return bool(torch.isfinite(self.min_val))

    @torch.no_grad()
    def observe(self, x: torch.Tensor) -> None:
        """Update the running range with ``x``'s minimum and maximum (PyTorch's float32 expression)."""
        lo, hi = torch.aminmax(x.detach().float())
        if not self.observed:
            self.min_val.copy_(lo)
            self.max_val.copy_(hi)
        else:
            self.min_val.copy_(self.min_val + self.averaging_constant * (lo - self.min_val))
            self.max_val.copy_(self.max_val + self.averaging_constant * (hi - self.max_val))

    def scale_zero_point(self) -> tuple[float, int]:
        """The grid of the current range: :func:`lib.quantization.qparams` of ``[min_val, max_val]``."""
        if not self.observed:
            raise ValueError("no range observed yet: call the module on a batch with observer_enabled=True first")
        return Q.qparams(torch.stack([self.min_val, self.max_val]), self.num_bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.observer_enabled:
            self.observe(x)
        if not self.fake_quant_enabled or not self.observed:
            return x
        scale, zero_point = self.scale_zero_point()
        return Q.fake_quantize(x, scale, zero_point, self.quant_min, self.quant_max)

    def extra_repr(self) -> str:
        return (f"num_bits={self.num_bits}, averaging_constant={self.averaging_constant}, "
                f"range=[{float(self.min_val):.4g}, {float(self.max_val):.4g}]")


class _QuantMixin:
    """What QuantLinear and QuantConv2d share: a weight bit width and an input fake-quantiser."""

    def _setup(self, weight_bits: int, act_bits: int | None, averaging_constant: float) -> None:
        self.weight_bits = check_int("weight_bits", weight_bits, 2, 16)
        if act_bits is None:
            self.input_quant = nn.Identity()
        else:
            self.input_quant = EMAFakeQuantize(check_int("act_bits", act_bits, 2, 8), averaging_constant)

    def quantized_weight(self) -> torch.Tensor:
        """The weight the forward pass uses: :func:`fake_quantize_weight` of ``self.weight``."""
        return fake_quantize_weight(self.weight, self.weight_bits)

    @classmethod
    def from_float(cls, layer, weight_bits: int, act_bits: int | None = None, averaging_constant: float = 0.01):
        """A quantised copy of a float layer: the same shape and options, its weight and bias copied."""
        if type(layer) is not cls._float_type:
            raise ValueError(f"layer must be an nn.{cls._float_type.__name__}, got {type(layer).__name__}")
        with torch.random.fork_rng(devices=[]):  # the constructor's random initialisation is overwritten:
            new = cls(**cls._options(layer), weight_bits=weight_bits, act_bits=act_bits,  # leave the global
                      averaging_constant=averaging_constant)                              # generator alone
        with torch.no_grad():
            new.weight.copy_(layer.weight)
            if layer.bias is not None:
                new.bias.copy_(layer.bias)
        return new.train(layer.training)


class QuantLinear(_QuantMixin, nn.Linear):
    r"""``nn.Linear`` computing :math:`\hat x \hat W^\top + b`: its input fake-quantised by an
    :class:`EMAFakeQuantize` (unless ``act_bits`` is None) and its weight by
    :func:`fake_quantize_weight`. The bias stays float.

    >>> layer = QuantLinear(4, 2, weight_bits=2)
    >>> layer(torch.ones(1, 4)).shape, len(torch.unique(layer.quantized_weight()[0])) <= 4
    (torch.Size([1, 2]), True)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, weight_bits: int = 8,
                 act_bits: int | None = None, averaging_constant: float = 0.01):
        super().__init__(in_features, out_features, bias)
        self._setup(weight_bits, act_bits, averaging_constant)

    _float_type = nn.Linear

    @staticmethod
    def _options(layer: nn.Linear) -> dict:
        return {"in_features": layer.in_features, "out_features": layer.out_features, "bias": layer.bias is not None}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(self.input_quant(x), self.quantized_weight(), self.bias)


class QuantConv2d(_QuantMixin, nn.Conv2d):
    r"""``nn.Conv2d`` with a fake-quantised input and weight (see :class:`QuantLinear`).

    >>> QuantConv2d(1, 3, 5, weight_bits=4, act_bits=8)(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 3, 24, 24])
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, weight_bits: int = 8,
                 act_bits: int | None = None, averaging_constant: float = 0.01, **kwargs):
        super().__init__(in_channels, out_channels, kernel_size, **kwargs)
        self._setup(weight_bits, act_bits, averaging_constant)

    _float_type = nn.Conv2d

    @staticmethod
    def _options(layer: nn.Conv2d) -> dict:
        return {"in_channels": layer.in_channels, "out_channels": layer.out_channels, "kernel_size": layer.kernel_size,
                "stride": layer.stride, "padding": layer.padding, "dilation": layer.dilation, "groups": layer.groups,
                "bias": layer.bias is not None, "padding_mode": layer.padding_mode}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(self.input_quant(x), self.quantized_weight(), self.bias)


def quantize_model(net: nn.Module, weight_bits: int, act_bits: int | None = None,
                   averaging_constant: float = 0.01) -> nn.Module:
    """A copy of ``net`` with every ``nn.Linear`` and ``nn.Conv2d`` replaced by its fake-quantised twin.

    Weights are fake-quantised per output channel (symmetric, ``weight_bits``); with ``act_bits``
    the *input* of every such layer is fake-quantised too (asymmetric, per tensor, range by moving
    average, see :class:`EMAFakeQuantize`). The input ranges are unknown until :func:`calibrate` has
    seen data. ``net`` itself is left untouched.

    >>> qnet = quantize_model(nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)), 4, 8)
    >>> [type(m).__name__ for m in qnet]
    ['QuantLinear', 'ReLU', 'QuantLinear']
    """
    if not isinstance(net, nn.Module):
        raise ValueError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    check_int("weight_bits", weight_bits, 2, 16)
    if act_bits is not None:
        check_int("act_bits", act_bits, 2, 8)
    check_real("averaging_constant", averaging_constant, 0.0, 1.0, lo_open=True)
    if not any(isinstance(m, _LAYERS) for m in net.modules()):
        raise ValueError("net must contain at least one nn.Linear or nn.Conv2d layer")
    qnet = copy.deepcopy(net)

    def swap(parent: nn.Module) -> None:
        for name, child in parent.named_children():
            kind = {nn.Linear: QuantLinear, nn.Conv2d: QuantConv2d}.get(type(child))
            if kind is not None:
                setattr(parent, name, kind.from_float(child, weight_bits, act_bits, averaging_constant))
            else:
                swap(child)

    swap(qnet)
    return qnet


def _act_quantizers(net: nn.Module) -> list[EMAFakeQuantize]:
    return [m for m in net.modules() if isinstance(m, EMAFakeQuantize)]


@torch.no_grad()
def calibrate(qnet: nn.Module, X: torch.Tensor, batch_size: int = 256) -> nn.Module:
    """Record every activation range on ``X``, then freeze the ranges: post-training quantisation.

    The activation quantisers observe the batches of ``X`` with rounding switched off (each layer
    sees the float inputs of the weight-quantised network, as PyTorch's observers do in
    calibration), then stop observing and start rounding. A network without activation quantisers
    is returned unchanged. Returns ``qnet`` (changed in place).
    """
    batch_size = check_int("batch_size", batch_size, 1)
    if not isinstance(X, torch.Tensor) or len(X) == 0:
        raise ValueError(f"X must be a non-empty tensor of inputs, got {type(X).__name__}")
    quantizers = _act_quantizers(qnet)
    for fq in quantizers:
        fq.observer_enabled, fq.fake_quant_enabled = True, False
    qnet.eval()
    for i in range(0, len(X), batch_size):
        qnet(X[i:i + batch_size])
    for fq in quantizers:
        fq.observer_enabled, fq.fake_quant_enabled = False, True
    return qnet
