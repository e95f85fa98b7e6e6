"""The one training loop and the one error function, used by every method that trains.

:func:`fit` is a plain mini-batch loop (seeded batch order, SGD with momentum or
Adam, cross-entropy, a learning-rate schedule) with four hooks, which is all the
methods of this book need:

- ``forward(x)`` replaces ``net(x)`` (dynamic network surgery computes the pass
  with masked weights substituted);
- ``penalty(net)`` is added to the loss (Network Slimming's L1 on BatchNorm
  scales, group lasso);
- ``loss(outputs, labels, rows)`` replaces cross-entropy, ``rows`` being the
  batch's row numbers in the training split (distillation's soft targets are
  looked up by row);
- ``after_step(net, step)`` runs after every optimiser step (re-applying masks,
  clipping binary networks' latent weights, updating surgery's masks);
- ``evaluate(net)`` is called every ``eval_every`` steps (0: at the end of every
  epoch) and its dictionary joins the history, for learning and recovery curves.
  By default it measures the error on the validation split, never the test set:
  schedules and thresholds are chosen on validation, and the test set is read
  once per reported result, by the caller, with :func:`error_rate`.

:func:`train_cached` trains a workbench model once and keeps its weights in the
one cache (:mod:`lib.core.cache`), keyed by the configuration and by the code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from tqdm import tqdm

from lib.core import cache
from lib.core.checks import check_choice, check_int, check_real
from lib.workbench import models
from lib.workbench.data import Split, digits, mnist


@torch.no_grad()
def error_rate(net: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 1000,
               forward: Callable[[torch.Tensor], torch.Tensor] | None = None) -> float:
    """Fraction of ``X`` whose arg-max prediction differs from ``y``: the book's one error function.

    Evaluated in eval mode, ``batch_size`` examples at a time (a CNN on MNIST's
    10,000 test images at once needs gigabytes of activations); every module's
    train/eval flag is restored afterwards. ``forward`` replaces ``net(x)``.

    >>> error_rate(nn.Linear(2, 2), torch.zeros(4, 2), torch.tensor([0, 1, 0, 1]))
    0.5
    """
    batch_size = check_int("batch_size", batch_size, 1)
    if len(X) != len(y) or len(y) == 0:
        raise ValueError(f"X and y must have the same, non-zero length, got {len(X)} and {len(y)}")
    modes = {m: m.training for m in net.modules()}
    net.eval()
    run = forward or net
    try:
        wrong = sum(int((run(X[i:i + batch_size]).argmax(dim=1) != y[i:i + batch_size]).sum())
                    for i in range(0, len(y), batch_size))
    finally:
        for m, training in modes.items():
            m.training = training
    return wrong / len(y)


error_rate.__test__ = False


@torch.no_grad()
def confusion_matrix(net: nn.Module, X: torch.Tensor, y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``C[i, j]`` = number of examples of class ``i`` predicted as ``j``."""
    net.eval()
    y_hat = net(X).argmax(dim=1)
    return torch.bincount(y * num_classes + y_hat, minlength=num_classes**2).reshape(num_classes, num_classes)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run; its hash names the cached weights.

    CPU-sized defaults: LeNet-300-100 on MNIST in about half a minute on one core.

    ``num_steps`` > 0 trains for that many mini-batches instead of ``num_epochs``
    passes (a fixed budget, whatever the data size: learning curves, QAT); batches
    are then drawn from a seeded shuffle, reshuffled whenever a full batch no
    longer fits.
    """

    model: str = "lenet_300_100"      # a builder in lib.workbench.models
    dataset: str = "mnist"            # "mnist" or "digits"
    num_epochs: int = 15
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 1e-4
    batch_size: int = 128
    seed: int = 0
    lr_decay: str = "cosine"          # "cosine", "exponential" (to lr_end) or "none"
    optimizer: str = "sgd"            # "sgd" (with momentum) or "adam"
    lr_end: float = 0.0               # last learning rate of the exponential schedule
    num_steps: int = 0                # > 0: this many mini-batches instead of num_epochs passes


#: The book's trained baselines: one recipe per workbench model on MNIST, shared by every chapter, so
#: a network trained for one chapter is the one the next chapter compresses (and is trained once).
#: LeNet-5 uses lr 0.01: at 0.05 its first epoch diverges on the 55,000-image training split.
BASELINES = {
    "lenet_300_100": TrainConfig(model="lenet_300_100", num_epochs=20),
    "lenet5": TrainConfig(model="lenet5", num_epochs=15, lr=0.01),
}


def baseline(model: str = "lenet_300_100") -> TrainConfig:
    """The training recipe of the book's baseline ``model`` (:data:`BASELINES`).

    >>> baseline("lenet5").lr
    0.01
    """
    check_choice("model", model, sorted(BASELINES))
    return BASELINES[model]


#: Models that take flattened inputs; the others take images.
FLAT_INPUT = ("lenet_300_100", "mlp")


def build(cfg: TrainConfig) -> nn.Module:
    """The untrained model named by ``cfg.model``, seeded."""
    builder = getattr(models, cfg.model, None)
    if builder is None or not callable(builder):
        raise ValueError(f"model must name a builder in lib.workbench.models (lenet_300_100, lenet5, vgg_small, ...), "
                         f"got {cfg.model!r}")
    return builder(seed=cfg.seed)


def load_data(cfg: TrainConfig) -> Split:
    """The data ``cfg`` trains on: MNIST with its validation split, or digits; flattened for the MLPs
    (:data:`FLAT_INPUT`), images of one channel for the CNNs."""
    check_choice("dataset", cfg.dataset, ("mnist", "digits"))
    flat = cfg.model in FLAT_INPUT
    if cfg.dataset == "mnist":
        return mnist(flatten=flat)
    d = digits(seed=cfg.seed)
    if flat:
        return d
    image = lambda X: X.view(-1, 1, 8, 8)  # the CNNs see digits as 8x8 images
    return Split(image(d.X_train), d.y_train, image(d.X_test), d.y_test, d.num_classes, image(d.X_val), d.y_val)


def _batches(n: int, batch_size: int, num_epochs: int, num_steps: int, g: torch.Generator):
    """Yield ``(epoch, index tensor)`` for every step: whole passes, or ``num_steps`` full batches."""
    if num_steps:
        bs = min(batch_size, n)
        order, pos, epoch = torch.randperm(n, generator=g), 0, 1
        for _ in range(num_steps):
            if pos + bs > n:
                order, pos, epoch = torch.randperm(n, generator=g), 0, epoch + 1
            yield epoch, order[pos:pos + bs]
            pos += bs
        return
    for epoch in range(1, num_epochs + 1):
        order = torch.randperm(n, generator=g)
        for i in range(0, n, batch_size):
            yield epoch, order[i:i + batch_size]


@torch.enable_grad()  # training inside a caller's no_grad block (a cached computation that trains) still learns
def fit(net: nn.Module, data: Split, cfg: TrainConfig, *, desc: str = "training",
        forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
        penalty: Callable[[nn.Module], torch.Tensor] | None = None,
        after_step: Callable[[nn.Module, int], None] | None = None,
        evaluate: Callable[[nn.Module], dict] | None = None,
        eval_every: int = 0, params=None, progress: bool = False,
        loss: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> list[dict]:
    """Train ``net`` in place on ``data``'s training split; return the history.

    Every step: ``net.train()``, a mini-batch from a shuffle seeded by ``cfg.seed``,
    cross-entropy of ``forward(x)`` (default ``net(x)``), or ``loss(outputs, labels,
    rows)`` if given, plus ``penalty(net)`` if given, one optimiser step (SGD with ``cfg.momentum`` and ``cfg.weight_decay``,
    or Adam), one scheduler step (cosine to 0, exponential to ``cfg.lr_end``, or
    constant, over the whole run), then ``after_step(net, step)``.

    Masks from ``torch.nn.utils.prune`` stay fixed: the forward pass uses
    ``weight_orig * weight_mask``, so a pruned weight gets zero gradient and is
    never revived (fine-tuning a pruned net is calling ``fit`` again).

    Parameters
    ----------
    net : nn.Module
    data : Split
        Trained on ``X_train``/``y_train``; evaluated on ``X_val``/``y_val`` by default.
    cfg : TrainConfig
        Optimiser, schedule, batch size, seed, and ``num_epochs`` or ``num_steps``.
    forward, penalty, after_step, evaluate, loss : callables, optional
        The hooks described in the module docstring. ``evaluate(net)`` returns a dict;
        the default is ``{"val_error": error_rate(net, X_val, y_val)}`` (nothing when
        the split has no validation part).
    eval_every : int >= 0
        Steps between history records; 0 records at the end of every epoch (or
        only at the end, with ``num_steps``). The last step is always recorded.
    params : iterable of tensors, optional
        What the optimiser updates (default ``net.parameters()``).
    progress : bool
        Show a progress bar (``desc``) while training.

    Returns
    -------
    list of dict
        Per record: ``epoch`` (fractional), ``step``, ``loss`` (mean training
        loss since the previous record, penalty excluded) and what
        ``evaluate`` returned.

    >>> from lib.workbench.data import digits
    >>> d = digits(val_size=100)
    >>> _ = torch.manual_seed(0)
    >>> hist = fit(nn.Linear(64, 10), d, TrainConfig(dataset="digits", num_epochs=3, lr=0.5))
    >>> [h["epoch"] for h in hist], hist[-1]["val_error"] < min(0.2, hist[0]["val_error"])
    ([1.0, 2.0, 3.0], True)
    """
    for hook, fn in (("forward", forward), ("penalty", penalty), ("after_step", after_step), ("evaluate", evaluate),
                     ("loss", loss)):
        if fn is not None and not callable(fn):
            raise ValueError(f"{hook} must be a callable or None, got {fn!r}")
    num_epochs = check_int("num_epochs", cfg.num_epochs, 0)
    num_steps = check_int("num_steps", cfg.num_steps, 0)
    check_real("lr", cfg.lr, 0.0, 10.0, lo_open=True)
    batch_size = check_int("batch_size", cfg.batch_size, 1)
    check_choice("optimizer", cfg.optimizer, ("sgd", "adam"))
    check_choice("lr_decay", cfg.lr_decay, ("cosine", "exponential", "none"))
    eval_every = check_int("eval_every", eval_every, 0)
    n = len(data.y_train)
    if n == 0 or len(data.X_train) != n:
        raise ValueError(f"the training split must be non-empty with as many inputs as labels, got {len(data.X_train)} and {n}")
    total = num_steps or max(1, num_epochs * ((n + batch_size - 1) // batch_size))
    steps_per_epoch = ((n // min(batch_size, n)) if num_steps else (n + batch_size - 1) // batch_size)

    params = list(net.parameters() if params is None else params)
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.lr_decay == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, total)
    elif cfg.lr_decay == "exponential":
        check_real("lr_end", cfg.lr_end, 0.0, cfg.lr, lo_open=True)
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, (cfg.lr_end / cfg.lr) ** (1.0 / max(1, total - 1)))
    else:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
    if evaluate is None:
        has_val = len(data.y_val) > 0

        def evaluate(net):
            return {"val_error": error_rate(net, data.X_val, data.y_val, forward=forward)} if has_val else {}

    run = forward or net
    cross_entropy = nn.CrossEntropyLoss()
    loss_fn = (lambda out, y, _rows: cross_entropy(out, y)) if loss is None else loss
    g = torch.Generator().manual_seed(cfg.seed)
    history: list[dict] = []
    loss_sum, seen, step, last_epoch = 0.0, 0, 0, 1

    def record(epoch_float: float) -> None:
        nonlocal loss_sum, seen
        history.append({"epoch": epoch_float, "step": step, "loss": loss_sum / max(1, seen), **evaluate(net)})
        loss_sum, seen = 0.0, 0

    for epoch, idx in tqdm(_batches(n, batch_size, num_epochs, num_steps, g), total=total, desc=desc,
                           leave=False, disable=not progress):
        if not eval_every and not num_steps and epoch != last_epoch:
            record(float(last_epoch))
        last_epoch = epoch
        net.train()
        opt.zero_grad()
        value = loss_fn(run(data.X_train[idx]), data.y_train[idx], idx)
        if not math.isfinite(value.item()):
            raise RuntimeError(f"training diverged at step {step + 1} of {total} (loss {value.item()}): "
                               f"lower cfg.lr (now {cfg.lr})")
        (value if penalty is None else value + penalty(net)).backward()
        opt.step()
        sched.step()
        step += 1
        if after_step is not None:
            after_step(net, step)
        loss_sum, seen = loss_sum + value.item() * len(idx), seen + len(idx)
        if eval_every and step % eval_every == 0 and step < total:
            record(step / steps_per_epoch)
    if step:
        record(step / steps_per_epoch if (eval_every or num_steps) else float(last_epoch))
    return history


def _train(cfg: TrainConfig) -> dict:
    net = build(cfg)
    history = fit(net, load_data(cfg), cfg, desc=f"training {cfg.model}", progress=True)
    return {"state": net.state_dict(), "history": history}


_train_memo = cache.memo(_train, name="weights", store="torch")


def train_cached(cfg: TrainConfig) -> tuple[nn.Module, list[dict]]:
    """Train the model ``cfg`` describes, or load it from the cache (:mod:`lib.core.cache`).

    The key is the full config and the code training reaches (this module, the
    data, the models), so an unchanged rebuild never retrains and a change to a
    setting or to that code always does. Trained on the thread count of
    :func:`lib.core.config.default_threads` (one), so the weights are the same on
    every machine.
    """
    if not isinstance(cfg, TrainConfig):
        raise ValueError(f"cfg must be a TrainConfig, got {cfg!r}")
    out = _train_memo(cfg=cfg)
    net = build(cfg)
    net.load_state_dict(out["state"])
    return net, out["history"]
