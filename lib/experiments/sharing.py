"""The weight-sharing chapter's experiments on LeNet-300-100: k-means starts, fine-tuned centroids,
Hessian weighting, and vector quantisation of fc1.

Protocol: every network here is trained on MNIST's 55,000 training images; fine-tuning reads the
validation split for its curve; each reported result reads the test set once. Nothing is chosen
by a test error: the chapter compares settings fixed in advance (bits, initialisation, iterations,
sub-vector length) and reports them all.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lib import sharing
from lib.core import cache
from lib.core.checks import check_choice, check_int
from lib.curvature import linear_gauss_newton_diagonal
from lib.workbench import train

#: The network the chapter shares: the book's dense LeNet-300-100 (20 epochs, as in the pruning chapters).
NET = train.baseline("lenet_300_100")
#: Positions of the three nn.Linear layers in the Sequential.
LAYERS = {"fc1": 0, "fc2": 2, "fc3": 4}


def trained_net() -> tuple[nn.Module, object]:
    """The float LeNet-300-100 (from the one cache) and its data."""
    net, _ = train.train_cached(NET)
    return net, train.load_data(NET)


def share_all(net: nn.Module, bits: int, init: str = "linear", iters: int = 30,
              importance: dict | None = None) -> tuple[nn.Module, dict]:
    """A copy of ``net`` whose three weight matrices hold ``2**bits`` shared values each
    (:func:`lib.sharing.kmeans_quantize`, optionally Hessian-weighted), and the codebooks by layer."""
    bits = check_int("bits", bits, 1, 16)
    model, books = copy.deepcopy(net), {}
    for name, i in LAYERS.items():
        layer = model[i]
        h = None if importance is None else importance[f"{i}.weight"]
        books[name], labels = sharing.kmeans_quantize(layer.weight.detach(), 2 ** bits, init, iters, importance=h)
        with torch.no_grad():
            layer.weight.copy_(books[name][labels])
    return model, books


def train_loss(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """Mean cross-entropy of ``model`` on ``(X, y)``."""
    with torch.no_grad():
        return float(F.cross_entropy(model.eval()(X), y))


@cache.memo(store="json")
def init_point(bits: int, init: str, iters: int, bins: int = 80) -> dict:
    """Share all three layers with ``init`` and ``iters`` Lloyd iterations: test error, fc1's MSE
    (overall and on its largest 1 % of weights), its outermost centroid, and what the widget draws."""
    net, d = trained_net()
    fc1 = net[0].weight.detach()
    edge = float(fc1.abs().max()) * 1.02
    edges = np.linspace(-edge, edge, bins + 1)
    largest = fc1.abs() >= torch.quantile(fc1.abs().flatten(), 0.99)
    model, books = share_all(net, bits, init, iters)
    err = model[0].weight.detach() - fc1
    return {"error": train.error_rate(model, d.X_test, d.y_test), "mse": float(err.pow(2).mean()),
            "big_mse": float(err[largest].pow(2).mean()), "outer": float(books["fc1"].abs().max()),
            "centres": 0.5 * (edges[1:] + edges[:-1]), "hist": np.histogram(fc1.numpy(), edges)[0],
            "centroids": books["fc1"].numpy()}


@cache.memo(store="torch")
def hessian() -> dict:
    """The Gauss-Newton diagonal of LeNet-300-100's loss on its training images
    (:func:`lib.curvature.linear_gauss_newton_diagonal`)."""
    net, d = trained_net()
    return linear_gauss_newton_diagonal(net, d.X_train)


@cache.memo(store="json")
def finetune(bits: int, weighting: str, epochs: int = 2, lr: float = 3e-3, batch_size: int = 128) -> dict:
    """Share every layer (plain or Hessian-weighted k-means), then fine-tune the centroids and biases
    with Adam (cosine schedule) through :func:`lib.workbench.train.fit`.

    Returns ``before``/``after`` (test errors, read once each), ``val`` (the validation error after
    each epoch) and ``trained`` (the number of trained numbers).
    """
    check_choice("weighting", weighting, ("plain", "hessian"))
    net, d = trained_net()
    h = hessian() if weighting == "hessian" else None
    model = copy.deepcopy(net)
    for i in LAYERS.values():
        sharing.share_weights(model[i], 2 ** bits, importance=None if h is None else h[f"{i}.weight"])
    before = train.error_rate(model, d.X_test, d.y_test)
    params = [p for p in model.parameters() if p.requires_grad]   # the centroids and the biases
    cfg = train.TrainConfig(optimizer="adam", lr=lr, weight_decay=0.0, lr_decay="cosine", num_epochs=epochs,
                            batch_size=batch_size, seed=0)
    history = train.fit(model, d, cfg, params=params)
    return {"before": before, "after": train.error_rate(model, d.X_test, d.y_test),
            "val": [r["val_error"] for r in history], "trained": sum(p.numel() for p in params)}


@cache.memo(store="json")
def compare_weighting(bits: int) -> dict:
    """Plain against Hessian-weighted k-means at ``bits`` bits, no fine-tuning: test error and
    training loss of each."""
    net, d = trained_net()
    out = {}
    for weighting, importance in (("plain", None), ("hessian", hessian())):
        model, _ = share_all(net, bits, importance=importance)
        out[weighting] = {"error": train.error_rate(model, d.X_test, d.y_test),
                          "loss": train_loss(model, d.X_train, d.y_train)}
    return out


@cache.memo(store="json")
def vq_point(method: str, size: int, k: int, iters: int = 15) -> dict:
    """fc1 alone replaced by its k-means, product- or residual-quantised version.

    ``size`` is the bits (k-means), the sub-vector length (PQ, on ``fc1.T``'s rows) or the number of
    stages (RQ). Returns the compression ``counted`` from the stored bits and by ``formula``, fc1's
    mean squared error and the test error.
    """
    check_choice("method", method, ("k-means", "PQ", "RQ"))
    net, d = trained_net()
    fc1 = net[0].weight.detach()
    Wt = fc1.T.contiguous()
    m, n = Wt.shape
    if method == "k-means":
        book, lab = sharing.kmeans_quantize(fc1, k)
        approx = book[lab]
        formula = 32 * m * n / (m * n * math.log2(k) + 32 * k)
    elif method == "PQ":
        book, lab = sharing.product_quantize(Wt, n // size, k, iters=iters)
        approx, formula = sharing.pq_reconstruct(book, lab).T, sharing.pq_compression_ratio(m, n, k, n // size)
    else:
        book, lab = sharing.residual_quantize(Wt, size, k, iters=iters)
        approx, formula = sharing.rq_reconstruct(book, lab).T, sharing.rq_compression_ratio(m, n, k, size)
    bits = 32 * book.numel() + lab.numel() * math.log2(k)
    model = copy.deepcopy(net)
    with torch.no_grad():
        model[0].weight.copy_(approx)
    return {"counted": 32 * fc1.numel() / bits, "formula": formula, "mse": float((approx - fc1).pow(2).mean()),
            "error": train.error_rate(model, d.X_test, d.y_test)}
