"""The opening chapter's experiment: how much data, and how clean, a small network needs.

No choice is made from these curves (nothing is tuned), so the test set is the
one they show: the point is the gap between what the network saw and what it
did not.
"""

from __future__ import annotations

from lib.core.checks import check_int, check_real
from lib.workbench.data import Split, corrupt_labels, digits, subset
from lib.workbench.models import mlp
from lib.workbench.train import TrainConfig, confusion_matrix, error_rate, fit


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
    cfg = TrainConfig(dataset="digits", optimizer="adam", lr=1e-2, weight_decay=0.0, lr_decay="none",
                      batch_size=64, num_steps=num_steps, seed=seed)
    history = fit(net, Split(X, y, data.X_test, data.y_test, data.num_classes), cfg, eval_every=25,
                  evaluate=lambda net: {"test_acc": 1 - error_rate(net, data.X_test, data.y_test)})
    return {
        "test_acc": 1 - error_rate(net, data.X_test, data.y_test),
        "train_acc": 1 - error_rate(net, X, y),
        "steps": [h["step"] for h in history],
        "curve": [h["test_acc"] for h in history],
        "confusion": confusion_matrix(net, data.X_test, data.y_test, data.num_classes).tolist(),
    }
