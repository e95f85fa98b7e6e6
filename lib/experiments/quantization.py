"""The linear-quantisation and quantisation-speed chapters' experiments on LeNet-5 and LeNet-300-100.

Post-training rounding of a trained network's weights (and layer inputs) to a grid, measured by
the test error: one result per setting, every setting reported (nothing here is chosen by a test
error). Activation ranges are calibrated on training images. Where a chapter picks a setting
(the clipping range of :func:`best_clip_fraction`), it is picked without the test set.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import torch
import torch.ao.quantization as tq
from torch import nn

from lib import integer
from lib import quantization as Q
from lib.core import cache
from lib.core.checks import check_choice, check_real
from lib.workbench import train

#: The trained networks of these chapters.
LENET5 = train.baseline("lenet5")
LENET300 = train.baseline("lenet_300_100")
#: Positions of LeNet-5's conv and linear layers in its Sequential.
LENET5_LAYERS = {"conv1": "0", "conv2": "2", "fc1": "5", "fc2": "7"}
#: Training images the activation ranges are calibrated on.
NUM_CALIBRATION = 512


def load(cfg: train.TrainConfig = LENET5):
    """A trained network of these chapters (from the one cache) and its data."""
    net, _ = train.train_cached(cfg)
    return net, train.load_data(cfg)


# --------------------------------------------------------------------------- rounding LeNet-5's weights
def quantise_weight(w: torch.Tensor, bits: int, scheme: str, granularity: str) -> tuple[torch.Tensor, float]:
    """``w`` rounded to a ``bits``-bit min/max grid, ``"symmetric"`` or ``"asymmetric"``, one grid
    ``"per tensor"`` or ``"per channel"`` (output channels); also the step (the median one per channel)."""
    symmetric = check_choice("scheme", scheme, ("symmetric", "asymmetric")) == "symmetric"
    check_choice("granularity", granularity, ("per tensor", "per channel"))
    qmin, qmax = Q.quant_range(bits, symmetric=symmetric)
    if granularity == "per channel":
        scale, zp = Q.per_channel_qparams(w, bits, axis=0, symmetric=symmetric)
        return Q.fake_quantize_per_channel(w, scale, zp, 0, qmin, qmax), float(scale.median())
    scale, zp = Q.qparams(w, bits, symmetric=symmetric)
    return Q.fake_quantize(w, scale, zp, qmin, qmax), scale


def quantise_weights(net: nn.Module, bits: int, scheme: str = "symmetric", granularity: str = "per channel") -> nn.Module:
    """A copy of LeNet-5 ``net`` with every conv and linear weight rounded by :func:`quantise_weight`."""
    out = copy.deepcopy(net)
    modules = dict(out.named_modules())
    with torch.no_grad():
        for name in LENET5_LAYERS.values():
            modules[name].weight.copy_(quantise_weight(modules[name].weight, bits, scheme, granularity)[0])
    return out


@cache.memo(store="json")
def weights_point(bits: int, scheme: str, granularity: str, bins: int = 80) -> dict:
    """LeNet-5 with all its weights rounded: the test error, and conv2's levels, step, MSE and histograms."""
    net, d = load(LENET5)
    conv2 = net[2].weight.detach()
    edge = float(conv2.abs().max()) * 1.05
    edges = np.linspace(-edge, edge, bins + 1)
    wq, step = quantise_weight(conv2, bits, scheme, granularity)
    err = (wq - conv2).flatten().numpy()
    lim = max(step, float(np.abs(err).max()))
    ebins = np.linspace(-lim, lim, 41)
    return {"error": train.error_rate(quantise_weights(net, bits, scheme, granularity), d.X_test, d.y_test),
            "levels": int(torch.unique(wq).numel()), "step": step, "mse": float((err ** 2).mean()),
            "centres": 0.5 * (edges[1:] + edges[:-1]),
            "before": np.histogram(conv2.numpy(), edges)[0], "after": np.histogram(wq.numpy(), edges)[0],
            "err_centres": 0.5 * (ebins[1:] + ebins[:-1]), "err_hist": np.histogram(err, ebins)[0],
            "half_step": step / 2, "minus_half_step": -step / 2}


def clip_point(w: torch.Tensor, bits: int, fraction: float) -> dict:
    """Round ``w`` on a symmetric grid whose range is ``fraction`` of ``max|w|``: the mean squared
    error, split into what clipping and what rounding contribute, and the fraction clipped."""
    check_real("fraction", fraction, 0.0, 1.0, lo_open=True)
    c = fraction * float(w.abs().max())
    qmin, qmax = Q.quant_range(bits, symmetric=True)
    s = c / ((qmax - qmin) / 2)
    wq = Q.fake_quantize(w, s, 0, qmin, qmax)
    err2 = (wq - w) ** 2
    clipped = w.abs() > s * (qmax + 0.5)
    return {"mse": float(err2.mean()), "clip_mse": float(err2[clipped].sum() / w.numel()),
            "round_mse": float(err2[~clipped].sum() / w.numel()), "clipped": float(clipped.float().mean())}


def with_activation_quantisation(net: nn.Module, bits: int, calibration: torch.Tensor) -> nn.Module:
    """``net`` (changed in place) with the input of every conv and linear layer fake-quantised on an
    asymmetric ``bits``-bit grid, its min/max range recorded on ``calibration``."""
    layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    ranges = {}
    hooks = [m.register_forward_pre_hook(lambda m, inp: ranges.setdefault(m, []).append(inp[0].detach()))
             for m in layers]
    with torch.no_grad():
        net(calibration)
    for h in hooks:
        h.remove()
    qmin, qmax = Q.quant_range(bits)
    for m in layers:
        s, z = Q.qparams(torch.cat([t.flatten() for t in ranges[m]]), bits)
        m.register_forward_pre_hook(lambda m, inp, s=s, z=z: (Q.fake_quantize(inp[0], s, z, qmin, qmax),))
    return net


@cache.memo(store="json")
def activation_point(bits: int) -> dict:
    """LeNet-5's test error with weights rounded (symmetric, per channel), then also its layer inputs."""
    net, d = load(LENET5)
    w_only = quantise_weights(net, bits)
    both = with_activation_quantisation(copy.deepcopy(w_only), bits, d.X_train[:NUM_CALIBRATION])
    return {"weights": train.error_rate(w_only, d.X_test, d.y_test), "both": train.error_rate(both, d.X_test, d.y_test)}


# --------------------------------------------------------------------------- power-of-two weights
POW2_SCHEMES = ["uniform", "powers of two (log rounding)", "powers of two (nearest)"]


def round_weight(w: torch.Tensor, bits: int, scheme: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``w`` rounded to a symmetric uniform grid or to powers of two (:func:`lib.integer.log2_quantize`),
    and the grid's levels."""
    check_choice("scheme", scheme, POW2_SCHEMES)
    if scheme == "uniform":
        qmin, qmax = Q.quant_range(bits, symmetric=True)
        s, _ = Q.qparams(w, bits, symmetric=True)
        return Q.fake_quantize(w, s, 0, qmin, qmax), s * torch.arange(qmin, qmax + 1, dtype=torch.float32)
    q = integer.log2_quantize(w, bits, rounding="log" if "log" in scheme else "linear")
    return q, integer.log2_levels(bits, int(torch.log2(q.abs().max())))


@cache.memo(store="json")
def rounded_error(bits: int, scheme: str) -> dict:
    """LeNet-5's test error with every weight rounded by :func:`round_weight`."""
    net, d = load(LENET5)
    out = copy.deepcopy(net)
    modules = dict(out.named_modules())
    with torch.no_grad():
        for name in LENET5_LAYERS.values():
            modules[name].weight.copy_(round_weight(modules[name].weight, bits, scheme)[0])
    return {"error": train.error_rate(out, d.X_test, d.y_test)}


# --------------------------------------------------------------------------- int8 against fake quantisation
class Quantisable(nn.Module):
    """A float network between a ``QuantStub`` (input to uint8) and a ``DeQuantStub`` (output back)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.quant, self.net, self.dequant = tq.QuantStub(), copy.deepcopy(net), tq.DeQuantStub()

    def forward(self, x):
        return self.dequant(self.net(self.quant(x)))


def fusions(net: nn.Module) -> list[list[str]]:
    """``[["net.0", "net.1"], ...]``: every Linear or Conv2d among ``net``'s children directly followed by a ReLU."""
    kids = list(net.named_children())
    return [[f"net.{a}", f"net.{b}"] for (a, m), (b, r) in zip(kids, kids[1:])
            if isinstance(m, (nn.Linear, nn.Conv2d)) and isinstance(r, nn.ReLU)]


def qat_fake_model(net: nn.Module, calibration: torch.Tensor) -> nn.Module:
    """PyTorch's quantisation-aware-training form of ``net``, evaluated: ``FakeQuantize`` modules round
    weights and activations (the x86 default QAT qconfig), ranges observed on ``calibration``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to the torchao package
        model = tq.fuse_modules_qat(Quantisable(net).train(), fusions(net))
        model.qconfig = tq.get_default_qat_qconfig("x86")
        tq.prepare_qat(model, inplace=True)
    with torch.no_grad():
        model(calibration)
    model.apply(tq.disable_observer)
    return model.eval()


def lib_fake_model(net: nn.Module, calibration: torch.Tensor) -> nn.Module:
    """``net`` with its weights rounded once in place (8 bits, symmetric per channel) and every layer
    input rounded by a hook (8 bits, asymmetric, range calibrated), with :mod:`lib.quantization`."""
    model = copy.deepcopy(net).eval()
    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    seen = {}
    hooks = [m.register_forward_pre_hook(lambda m, inp: seen.__setitem__(m, inp[0].detach())) for m in layers]
    with torch.no_grad():
        model(calibration)
    for h in hooks:
        h.remove()
    qmin, qmax = Q.quant_range(8, symmetric=True)
    for m in layers:
        with torch.no_grad():
            s, z = Q.per_channel_qparams(m.weight, 8, axis=0, symmetric=True)
            m.weight.copy_(Q.fake_quantize_per_channel(m.weight, s, z, 0, qmin, qmax))
        s, z = Q.qparams(seen[m], 8)
        m.register_forward_pre_hook(lambda m, inp, s=s, z=z: (Q.fake_quantize(inp[0], s, z, 0, 255),))
    return model


def int8_variant(net: nn.Module, calibration: torch.Tensor) -> nn.Module:
    """:func:`lib.integer.int8_model` with the x86 backend."""
    return integer.int8_model(net, calibration, backend="x86")


#: The arithmetic compared in the quantisation-speed chapter: name -> builder(net, calibration).
BUILDERS = {"float32": lambda net, X: net, "int8 (PyTorch kernels)": int8_variant,
            "fake-quantised (PyTorch QAT modules)": qat_fake_model, "fake-quantised (lib.quantization)": lib_fake_model}
NETS = {"LeNet-300-100": LENET300, "LeNet-5": LENET5}


def variant_models(name: str) -> tuple[dict, object]:
    """Every :data:`BUILDERS` variant of the network ``name`` (``"LeNet-300-100"`` or ``"LeNet-5"``), and its data."""
    net, d = load(NETS[check_choice("name", name, list(NETS))])
    return {k: build(net, d.X_train[:NUM_CALIBRATION]) for k, build in BUILDERS.items()}, d


@cache.memo(store="json")
def variant_errors(name: str) -> dict:
    """The test error of every :data:`BUILDERS` variant of the network ``name``."""
    models, d = variant_models(name)
    return {k: train.error_rate(m, d.X_test, d.y_test) for k, m in models.items()}

