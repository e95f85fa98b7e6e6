"""Training and evaluation loops: seeded, small, CPU-sized."""

from __future__ import annotations

import torch
from torch import nn

from ._checks import check_int, check_real
from .data import Split, corrupt_labels, digits, subset
from .models import mlp


@torch.no_grad()
def accuracy(net: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of ``X`` whose arg-max prediction equals ``y``."""
    net.eval()
    return (net(X).argmax(dim=1) == y).float().mean().item()


@torch.no_grad()
def confusion_matrix(net: nn.Module, X: torch.Tensor, y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``C[i, j]`` = number of examples of class ``i`` predicted as ``j``."""
    net.eval()
    y_hat = net(X).argmax(dim=1)
    return torch.bincount(y * num_classes + y_hat, minlength=num_classes**2).reshape(num_classes, num_classes)


def train_steps(net: nn.Module, X: torch.Tensor, y: torch.Tensor, num_steps: int = 300,
                lr: float = 1e-2, batch_size: int = 64, seed: int = 0,
                eval_every: int = 0, X_eval: torch.Tensor | None = None,
                y_eval: torch.Tensor | None = None) -> list[tuple[int, float]]:
    """Train ``net`` with Adam and cross-entropy for a fixed number of mini-batch steps.

    A fixed step budget (rather than a fixed number of epochs) gives every
    training-set size the same amount of optimisation, so a learning curve shows
    the effect of data alone.

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
        loss_fn(net(X[idx]), y[idx]).backward()
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
