"""Training and evaluation loops: seeded, small, CPU-sized."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import nn
from tqdm import tqdm

from ._checks import check_int, check_real
from .config import cache_dir, config_key
from .data import Split, corrupt_labels, digits, subset
from .models import mlp


@torch.no_grad()
def accuracy(net: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    """Fraction of ``X`` whose arg-max prediction equals ``y`` (evaluated ``batch_size`` at a time,
    so a CNN on MNIST's 10,000 test images does not need gigabytes of activations)."""
    batch_size = check_int("batch_size", batch_size, 1)
    net.eval()
    correct = sum(int((net(X[i:i + batch_size]).argmax(dim=1) == y[i:i + batch_size]).sum())
                  for i in range(0, len(y), batch_size))
    return correct / max(1, len(y))


@torch.no_grad()
def confusion_matrix(net: nn.Module, X: torch.Tensor, y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``C[i, j]`` = number of examples of class ``i`` predicted as ``j``."""
    net.eval()
    y_hat = net(X).argmax(dim=1)
    return torch.bincount(y * num_classes + y_hat, minlength=num_classes**2).reshape(num_classes, num_classes)


def train_steps(net: nn.Module, X: torch.Tensor, y: torch.Tensor, num_steps: int = 300,
                lr: float = 1e-2, batch_size: int = 64, seed: int = 0,
                eval_every: int = 0, X_eval: torch.Tensor | None = None,
                y_eval: torch.Tensor | None = None,
                penalty: Callable[[nn.Module], torch.Tensor] | None = None) -> list[tuple[int, float]]:
    """Train ``net`` with Adam and cross-entropy for a fixed number of mini-batch steps.

    A fixed step budget (rather than a fixed number of epochs) gives every
    training-set size the same amount of optimisation, so a learning curve shows
    the effect of data alone.

    ``penalty(net)``, if given, is added to the loss at every step (a sparsity penalty, say).

    Returns
    -------
    list of (step, accuracy)
        Accuracy on ``(X_eval, y_eval)`` every ``eval_every`` steps (empty when 0).
    """
    num_steps = check_int("num_steps", num_steps, 1)
    check_real("lr", lr, 0.0, 10.0, lo_open=True)
    batch_size = check_int("batch_size", batch_size, 1)
    eval_every = check_int("eval_every", eval_every, 0)
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}")
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    bs = min(batch_size, len(y))
    history: list[tuple[int, float]] = []
    order = torch.randperm(len(y), generator=g)
    pos = 0
    for step in range(1, num_steps + 1):
        if pos + bs > len(y):
            order, pos = torch.randperm(len(y), generator=g), 0
        idx = order[pos:pos + bs]
        pos += bs
        net.train()
        opt.zero_grad()
        loss = loss_fn(net(X[idx]), y[idx])
        if penalty is not None:
            loss = loss + penalty(net)
        loss.backward()
        opt.step()
        if eval_every and step % eval_every == 0 and X_eval is not None:
            history.append((step, accuracy(net, X_eval, y_eval)))
    return history


def learning_curve_point(n_train: int, label_noise: float = 0.0, hidden: int = 64,
                         num_steps: int = 300, seed: int = 0, data: Split | None = None) -> dict:
    """Train a digits MLP on ``n_train`` examples with a fraction of wrong labels.

    The opening chapter's sweep: one real training run per grid point.

    Parameters
    ----------
    n_train : int in [10, 1437]
        Training examples used (a nested, seeded subset).
    label_noise : float in [0, 0.9]
        Fraction of those training labels replaced by a wrong class. Test labels stay clean.
    hidden : int
        Width of the hidden layer of the 64-hidden-10 MLP.
    num_steps : int
        Adam steps of batch 64 (the same budget for every ``n_train``).

    Returns
    -------
    dict
        ``test_acc`` and ``train_acc`` (on the labels the model saw), ``curve``
        (test accuracy every 25 steps), ``steps``, and ``confusion`` (10x10 test counts).
    """
    data = data or digits()
    n_train = check_int("n_train", n_train, 10, len(data.y_train))
    check_real("label_noise", label_noise, 0.0, 0.9)
    X, y = subset(data.X_train, data.y_train, n_train, seed=seed)
    y = corrupt_labels(y, label_noise, data.num_classes, seed=seed)
    net = mlp([X.shape[1], hidden, data.num_classes], seed=seed)
    history = train_steps(net, X, y, num_steps=num_steps, seed=seed, eval_every=25,
                          X_eval=data.X_test, y_eval=data.y_test)
    return {
        "test_acc": accuracy(net, data.X_test, data.y_test),
        "train_acc": accuracy(net, X, y),
        "steps": [s for s, _ in history],
        "curve": [a for _, a in history],
        "confusion": confusion_matrix(net, data.X_test, data.y_test, data.num_classes).tolist(),
    }


# --------------------------------------------------------------------------- the workbench's training loop

@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a trained model; its hash names the cached weights.

    CPU-sized defaults: LeNet-300-100 on MNIST in about 15 s on 2 cores.
    """

    model: str = "lenet_300_100"      # a builder in lib.models
    dataset: str = "mnist"            # "mnist" or "digits"
    num_epochs: int = 15
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 1e-4
    batch_size: int = 128
    seed: int = 0
    lr_decay: str = "cosine"          # "cosine" or "none"


def build(cfg: TrainConfig):
    """The untrained model named by ``cfg.model``, seeded."""
    from . import models

    builder = getattr(models, cfg.model, None)
    if builder is None or not callable(builder):
        raise ValueError(f"model must name a builder in lib.models (lenet_300_100, lenet5, vgg_small, ...), got {cfg.model!r}")
    return builder(seed=cfg.seed)


def load_data(cfg: TrainConfig) -> Split:
    from .data import mnist

    flat = cfg.model in ("lenet_300_100", "mlp")
    if cfg.dataset == "mnist":
        return mnist(flatten=flat)
    if cfg.dataset == "digits":
        return digits(seed=cfg.seed)
    raise ValueError(f"dataset must be 'mnist' or 'digits', got {cfg.dataset!r}")


def fit(net: nn.Module, data: Split, cfg: TrainConfig, desc: str = "training",
        penalty: Callable[[nn.Module], torch.Tensor] | None = None) -> list[dict]:
    """Train ``net`` in place with SGD + momentum and cross-entropy; return per-epoch history.

    Masks from ``torch.nn.utils.prune`` stay fixed: the forward pass uses
    ``weight_orig * weight_mask``, so a pruned weight gets zero gradient and is
    never revived (fine-tuning a pruned net is just calling ``fit`` again).

    ``penalty``, if given, is called on ``net`` at every step and its value added to the
    loss that is minimised, e.g. :func:`lib.structured.slimming_penalty` scaled by
    a factor lambda for Network Slimming's sparsity training. The reported ``loss`` stays
    the cross-entropy alone; without a penalty training is exactly as before.
    """
    if penalty is not None and not callable(penalty):
        raise ValueError(f"penalty must be a callable net -> scalar tensor, or None, got {penalty!r}")
    check_int("num_epochs", cfg.num_epochs, 0)
    check_real("lr", cfg.lr, 0.0, 10.0, lo_open=True)
    opt = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    steps = max(1, cfg.num_epochs * ((len(data.y_train) + cfg.batch_size - 1) // cfg.batch_size))
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) if cfg.lr_decay == "cosine"
             else torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0))
    g = torch.Generator().manual_seed(cfg.seed)
    loss_fn = nn.CrossEntropyLoss()
    history = []
    for epoch in tqdm(range(cfg.num_epochs), desc=desc, leave=False):
        net.train()
        order = torch.randperm(len(data.y_train), generator=g)
        total = 0.0
        for i in range(0, len(order), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            opt.zero_grad()
            loss = loss_fn(net(data.X_train[idx]), data.y_train[idx])
            (loss if penalty is None else loss + penalty(net)).backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        history.append({"epoch": epoch + 1, "loss": total / len(order),
                        "test_acc": accuracy(net, data.X_test, data.y_test)})
    return history


def train_cached(cfg: TrainConfig, data: Split | None = None) -> tuple[nn.Module, list[dict]]:
    """Train the model ``cfg`` describes, or load it if a run with the same config is cached.

    Weights live in ``lib.config.cache_dir("weights")`` under the hash of the
    full config, so an unchanged rebuild never retrains and a changed setting
    always does.
    """
    path = cache_dir("weights") / f"{cfg.model}-{config_key(asdict(cfg))}"
    net = build(cfg)
    if path.with_suffix(".pt").exists():
        net.load_state_dict(torch.load(path.with_suffix(".pt"), weights_only=True))
        return net, json.loads(path.with_suffix(".json").read_text())
    data = data or load_data(cfg)
    threads = torch.get_num_threads()
    torch.set_num_threads(min(2, os.cpu_count() or 1))  # train on up to 2 cores; timings elsewhere pin 1
    try:
        history = fit(net, data, cfg, desc=f"training {cfg.model}")
    finally:
        torch.set_num_threads(threads)
    torch.save(net.state_dict(), path.with_suffix(".tmp"))
    path.with_suffix(".json").write_text(json.dumps(history))
    path.with_suffix(".tmp").replace(path.with_suffix(".pt"))
    return net, history
