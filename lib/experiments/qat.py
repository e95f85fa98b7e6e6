"""Quantisation-aware training, through the one training loop, and the fake-quantisation chapter's runs.

:func:`qat_finetune` is QAT as the book runs it: SGD with momentum through the fake quantisers of
:mod:`lib.qat` (the straight-through gradients live in the layers), the learning rate decaying to
0 on a cosine over a fixed number of mini-batches. It is a call to :func:`lib.workbench.train.fit`,
so the batches, the optimiser and the schedule are the book's one loop's; the same loop trains
PyTorch's ``prepare_qat`` model in :func:`pytorch_qat`, and the two end bit for bit equal.

Protocol: the learning curves are measured on the validation split (held out of MNIST's
training images); the test error is read once per result, after training. The settings (300
steps, learning rate 0.01, batch 64) are fixed in advance, not tuned.
"""

from __future__ import annotations

import copy
import hashlib
import warnings

import torch
import torch.ao.quantization as tq
from torch import nn

from lib import qat
from lib.core import cache
from lib.core.checks import check_choice, check_int, check_real
from lib.workbench import train
from lib.workbench.data import Split

#: The LeNet-5 the chapter quantises: the book's baseline (lr 0.01, 15 epochs on MNIST's 55,000 training images).
LENET5 = train.baseline("lenet5")
#: Images the activation ranges are calibrated on (the first of the training split).
NUM_CALIBRATION = 1024


def qat_finetune(qnet: nn.Module, X: torch.Tensor, y: torch.Tensor, num_steps: int = 300, lr: float = 0.01,
                 batch_size: int = 64, momentum: float = 0.9, seed: int = 0, eval_every: int = 0,
                 X_eval: torch.Tensor | None = None, y_eval: torch.Tensor | None = None) -> list[tuple[int, float]]:
    r"""Quantisation-aware training: fine-tune a fake-quantised network with SGD, in place.

    :func:`lib.workbench.train.fit` with ``num_steps`` mini-batches of ``batch_size`` (a seeded
    shuffle of ``X``, reshuffled each pass), cross-entropy computed *through the fake quantisers*,
    the straight-through gradient, SGD with momentum (no weight decay) on the float weights behind
    the rounding, and the learning rate decaying from ``lr`` to 0 on a cosine,

    .. math::

        \eta_t = \tfrac12\,\eta_0\,\big(1 + \cos(\pi t / T)\big).

    The activation ranges stay as :func:`lib.qat.calibrate` froze them (quantisers left observing
    keep tracking them, as PyTorch's do early in QAT). The same ``seed`` gives the same result.

    Parameters
    ----------
    qnet : nn.Module
        From :func:`lib.qat.quantize_model` (then :func:`lib.qat.calibrate`, if it quantises
        activations).
    X, y : tensors
        Training inputs and labels.
    num_steps : int >= 1
    lr : float in (0, 10]
    batch_size : int >= 1
    momentum : float in [0, 1)
    seed : int
        Seed of the batch order.
    eval_every : int >= 0
        Measure the error on ``(X_eval, y_eval)`` (a validation split) before training and every
        ``eval_every`` steps, and after the last (0: never).

    Returns
    -------
    list of (step, error)
        The learning curve, starting at step 0 (empty when ``eval_every`` is 0).

    References
    ----------
    .. [1] B. Jacob et al., "Quantization and Training of Neural Networks for Efficient
       Integer-Arithmetic-Only Inference", CVPR 2018, arXiv:1712.05877.

    >>> torch.manual_seed(0) and None
    >>> X, y = torch.randn(32, 4), torch.randint(0, 2, (32,))
    >>> qnet = qat.quantize_model(nn.Sequential(nn.Linear(4, 2)), weight_bits=4)
    >>> [s for s, _ in qat_finetune(qnet, X, y, num_steps=4, batch_size=8, eval_every=2, X_eval=X, y_eval=y)]
    [0, 2, 4]
    """
    num_steps = check_int("num_steps", num_steps, 1)
    check_real("lr", lr, 0.0, 10.0, lo_open=True)
    batch_size = check_int("batch_size", batch_size, 1)
    check_real("momentum", momentum, 0.0, 1.0, hi_open=True)
    seed = check_int("seed", seed, 0, 2**63 - 1)
    eval_every = check_int("eval_every", eval_every, 0)
    if len(X) != len(y) or len(y) == 0:
        raise ValueError(f"X and y must have the same, non-zero length, got {len(X)} and {len(y)}")
    if eval_every and (X_eval is None or y_eval is None):
        raise ValueError("X_eval and y_eval must be given when eval_every > 0")
    if any(not (fq.observer_enabled or fq.observed) for fq in qnet.modules() if isinstance(fq, qat.EMAFakeQuantize)):
        raise ValueError("qnet has activation quantisers with no range and no observer: call calibrate(qnet, X) first")
    cfg = train.TrainConfig(optimizer="sgd", lr=lr, momentum=momentum, weight_decay=0.0, lr_decay="cosine",
                            batch_size=batch_size, num_steps=num_steps, seed=seed)
    data = Split(X, y, X[:0], y[:0], int(y.max()) + 1)

    def evaluate(net):
        return {"error": train.error_rate(net, X_eval, y_eval)} if eval_every else {}

    start = [(0, train.error_rate(qnet, X_eval, y_eval))] if eval_every else []
    history = train.fit(qnet, data, cfg, evaluate=evaluate, eval_every=eval_every)
    return start + [(h["step"], h["error"]) for h in history] if eval_every else []


def _digest(net: nn.Module) -> str:
    """SHA-256 of all parameters' bytes: equal digests, bit-for-bit equal networks."""
    return hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in net.parameters())).hexdigest()


def _lenet5() -> tuple[nn.Module, Split]:
    net, _ = train.train_cached(LENET5)
    return net, train.load_data(LENET5)


def _quant_layers(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, (qat.QuantConv2d, qat.QuantLinear))]


@cache.memo(store="json", extra={"torch": torch.__version__})
def ptq_and_qat(bits: int, mode: str, num_steps: int = 300, lr: float = 0.01) -> dict:
    """Post-training quantisation of LeNet-5, then ``num_steps`` of QAT; errors before and after.

    ``mode`` is ``"weights only"`` or ``"weights and activations"`` (both at ``bits`` bits).
    Returns ``ptq``/``qat`` (test errors, read once each), ``ptq_val``/``qat_val``, ``changed``
    (fraction of rounded weights QAT moved to another code), the validation learning curve
    (``step``, ``curve``; step 0 is PTQ) and ``digest`` (SHA-256 of the trained parameters).
    """
    check_choice("mode", mode, ("weights only", "weights and activations"))
    net, d = _lenet5()
    qnet = qat.quantize_model(net, weight_bits=bits, act_bits=bits if mode == "weights and activations" else None)
    qat.calibrate(qnet, d.X_train[:NUM_CALIBRATION])          # PTQ: record the input ranges, then freeze them
    ptq, ptq_val = train.error_rate(qnet, d.X_test, d.y_test), train.error_rate(qnet, d.X_val, d.y_val)
    before = [m.quantized_weight() for m in _quant_layers(qnet)]
    history = qat_finetune(qnet, d.X_train, d.y_train, num_steps=num_steps, lr=lr, batch_size=64, seed=0,
                           eval_every=25, X_eval=d.X_val, y_eval=d.y_val)
    after = [m.quantized_weight() for m in _quant_layers(qnet)]
    changed = sum(int((u != v).sum()) for u, v in zip(before, after)) / sum(u.numel() for u in before)
    return {"ptq": ptq, "ptq_val": ptq_val, "qat": train.error_rate(qnet, d.X_test, d.y_test),
            "qat_val": history[-1][1], "changed": changed, "step": [s for s, _ in history],
            "curve": [e for _, e in history], "digest": _digest(qnet)}


def pytorch_qat_model(net: nn.Module, bits: int) -> nn.Module:
    """PyTorch's eager QAT (``prepare_qat``) with :mod:`lib.qat`'s placement: a ``QuantStub`` before
    every Conv2d/Linear fake-quantises its input (moving-average range, asymmetric ``bits``-bit
    codes), and the layer its weight (per output channel, symmetric); outputs are not rounded."""
    act = tq.FakeQuantize.with_args(observer=tq.MovingAverageMinMaxObserver, averaging_constant=0.01,
                                    quant_min=0, quant_max=2**bits - 1, dtype=torch.quint8)
    weight = tq.FakeQuantize.with_args(observer=tq.MovingAveragePerChannelMinMaxObserver, averaging_constant=1.0,
                                       quant_min=-2**(bits - 1), quant_max=2**(bits - 1) - 1, dtype=torch.qint8,
                                       qscheme=torch.per_channel_symmetric, ch_axis=0)
    model = nn.Sequential()
    for layer in copy.deepcopy(net):
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            stub = tq.QuantStub()  # fake-quantises the layer's input ...
            stub.qconfig = tq.QConfig(activation=act, weight=weight)
            layer.qconfig = tq.QConfig(activation=nn.Identity, weight=weight)  # ... and the layer its weight
            model.append(stub)
        model.append(layer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to the torchao package
        return tq.prepare_qat(model.train())


def pytorch_calibrate(model: nn.Module, X: torch.Tensor, batch_size: int = 256) -> nn.Module:
    """:func:`lib.qat.calibrate`'s protocol on a ``prepare_qat`` model: observe without rounding, then freeze."""
    stubs = [m.activation_post_process for m in model.modules() if isinstance(m, tq.QuantStub)]
    for fq in stubs:
        fq.enable_observer()
        fq.disable_fake_quant()
    model.eval()
    with torch.no_grad():
        for i in range(0, len(X), batch_size):
            model(X[i:i + batch_size])
    for fq in stubs:
        fq.disable_observer()
        fq.enable_fake_quant()
    return model


@cache.memo(store="json", extra={"torch": torch.__version__})
def pytorch_qat(bits: int, num_steps: int = 300, lr: float = 0.01) -> dict:
    """:func:`ptq_and_qat` (weights and activations) with PyTorch's ``prepare_qat`` modules instead of
    :mod:`lib.qat`'s: the test error after QAT and the parameters' SHA-256 digest."""
    net, d = _lenet5()
    model = pytorch_calibrate(pytorch_qat_model(net, bits), d.X_train[:NUM_CALIBRATION])
    qat_finetune(model, d.X_train, d.y_train, num_steps=num_steps, lr=lr, batch_size=64, seed=0)
    return {"error": train.error_rate(model, d.X_test, d.y_test), "digest": _digest(model)}
