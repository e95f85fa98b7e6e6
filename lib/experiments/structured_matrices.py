r"""The structured-matrices chapter's experiments: circulant, Fastfood and ACDC layers on MNIST, and their speed.

Every layer comes from :mod:`lib.structured_layers`; this module trains small networks with
:func:`lib.workbench.train.fit`, keeps the trained weights in the one cache (:mod:`lib.core.cache`),
and measures latency afresh (:func:`latency_sweep` is never cached).

- **MNIST** (:func:`mnist_results`): the 784 pixels are zero-padded to :data:`WIDTH` = 1024 (a power of
  two, which Fastfood needs), pass one structured 1024 x 1024 layer and a ReLU, then a dense
  1024 -> 10 classifier. Beside them: the same network with a dense 784 -> 1024 layer, and a dense
  network with 16 hidden units, about the structured networks' parameter count. Each is trained
  with Adam for :data:`NUM_STEPS` mini-batches at each learning rate of :data:`LRS`; the rate is
  chosen on the validation split and the test set is read once, for the chosen network.
- **Speed** (:func:`latency_sweep`, :func:`crossovers`): one layer, dense against each structured
  kind, as the width grows, at batch 1 and :data:`BIG_BATCH`.

:func:`bench` returns the figures ``make bench`` prints.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from lib import structured_layers as sl
from lib.core import cache
from lib.core.checks import check_choice, check_int
from lib.workbench.data import Split
from lib.workbench.measure import count_params, latency
from lib.workbench.train import TrainConfig, error_rate, fit, load_data

__all__ = ["PAPERS", "KINDS", "LAYER_KINDS", "WIDTH", "ACDC_DEPTH", "NARROW", "LRS", "NUM_STEPS",
           "WIDTHS", "BIG_BATCH", "make_layer", "mnist_net", "mnist_results", "matrix_point",
           "latency_sweep", "crossovers", "bench"]

#: The papers' own words and figures, as printed in their abstracts, and where they were checked.
PAPERS = {
    "cheng2015": {"time": "O(d^2) to O(dlogd)", "space": "O(d^2) to O(d)", "fc_share": "more than 90%",
                  "source": "https://ar5iv.labs.arxiv.org/html/1502.03436 (the abstract)"},
    "yang2015": {"costs": "O(nd) to O(n) and O(n log d)", "fc_share": "over 90%",
                 "source": "https://www.arxiv-vanity.com/papers/1412.7149/ (the abstract)"},
    "moczulski2016": {"params": "O(N)", "ops": "O(N log N)",
                      "source": "https://www.cs.ox.ac.uk/publications/publication10204-abstract.html (the abstract)"},
    "le2013": {"faster": 100, "less_memory": 1000, "time": "O(n log d)", "storage": "O(n)",
               "source": "https://ai.google/research/pubs/pub45445 (the abstract; also arXiv:1408.3060)"},
}

#: The structured layers compared, by the name the book uses.
LAYER_KINDS = ("circulant", "fastfood", "acdc")
#: The MNIST networks: the three structured ones, the dense one they replace, a narrow dense one.
KINDS = ("dense", *LAYER_KINDS, "narrow")
#: Width of the structured layers (the pixels are zero-padded from 784).
WIDTH = 1024
#: ACDC factors stacked in the MNIST network and the speed sweep.
ACDC_DEPTH = 4
#: Hidden units of the narrow dense network (about the structured networks' parameter count).
NARROW = 16
#: Adam learning rates tried; each network keeps the one with the lowest validation error.
LRS = (1e-3, 3e-3)
#: Mini-batches of 128 per training run (about 2.8 epochs of the 55,000 training images).
NUM_STEPS = 1200
#: Widths of the speed sweep, and the larger batch timed beside batch 1.
WIDTHS = (256, 512, 1024, 2048, 4096, 8192)
BIG_BATCH = 32


def make_layer(kind: str, n: int, seed: int = 0, depth: int = ACDC_DEPTH) -> nn.Module:
    """One ``n`` x ``n`` layer of ``kind``: ``"dense"`` (:class:`torch.nn.Linear`), ``"circulant"``,
    ``"fastfood"`` or ``"acdc"`` (``depth`` factors)."""
    check_choice("kind", kind, ("dense", *LAYER_KINDS))
    n = check_int("n", n, 1)
    if kind == "dense":
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return nn.Linear(n, n)
    if kind == "circulant":
        return sl.CirculantLinear(n, seed=seed)
    if kind == "fastfood":
        return sl.FastfoodLinear(n, seed=seed)
    return sl.ACDCLinear(n, depth=depth, seed=seed)


def mnist_net(kind: str, seed: int = 0) -> nn.Sequential:
    """The MNIST network of ``kind`` (:data:`KINDS`), untrained and seeded. Input: 784 flattened pixels."""
    check_choice("kind", kind, KINDS)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        if kind == "dense":
            return nn.Sequential(nn.Linear(784, WIDTH), nn.ReLU(), nn.Linear(WIDTH, 10))
        if kind == "narrow":
            return nn.Sequential(nn.Linear(784, NARROW), nn.ReLU(), nn.Linear(NARROW, 10))
        return nn.Sequential(nn.ZeroPad1d((0, WIDTH - 784)), make_layer(kind, WIDTH, seed), nn.ReLU(),
                             nn.Linear(WIDTH, 10))


@functools.lru_cache(maxsize=None)
def _data() -> Split:
    return load_data(TrainConfig(model="mlp"))


def _config(lr: float, num_steps: int, seed: int) -> TrainConfig:
    return TrainConfig(model="mlp", optimizer="adam", lr=lr, weight_decay=0.0, num_steps=num_steps,
                       batch_size=128, seed=seed)


def _train(kind: str, lr: float, num_steps: int, seed: int) -> dict:
    net, data = mnist_net(kind, seed), _data()
    fit(net, data, _config(lr, num_steps, seed), desc=f"{kind} lr={lr:g}", evaluate=lambda _net: {})
    return {"state": net.state_dict(), "val_error": error_rate(net, data.X_val, data.y_val)}


_train_memo = cache.memo(_train, name="structured-mnist-train", store="torch")


def _mnist_results(lrs: list, num_steps: int, seed: int) -> dict:
    data, out = _data(), {}
    for kind in KINDS:
        runs = {lr: _train_memo(kind=kind, lr=lr, num_steps=num_steps, seed=seed) for lr in lrs}
        best = min(lrs, key=lambda lr: runs[lr]["val_error"])
        net = mnist_net(kind, seed)
        net.load_state_dict(runs[best]["state"])
        net.eval()
        hidden = net[0] if kind in ("dense", "narrow") else net[1]
        out[kind] = {"lr": best, "val_error": runs[best]["val_error"],
                     "val_by_lr": [runs[lr]["val_error"] for lr in lrs],
                     "test_error": error_rate(net, data.X_test, data.y_test),   # the one read of the test set
                     "params": count_params(net), "layer_params": count_params(hidden)}
    return out


_mnist_results_memo = cache.memo(_mnist_results, name="structured-mnist-results")


def mnist_results() -> dict:
    r"""Each MNIST network of :data:`KINDS`, trained at each rate of :data:`LRS`, the rate chosen on validation.

    Returns, per kind: ``lr`` (chosen), ``val_error`` (its validation error), ``val_by_lr`` (every
    candidate's), ``test_error`` (the chosen network's, read once), ``params`` (the whole network's)
    and ``layer_params`` (the first layer's: the one that is dense, structured or narrow).
    """
    return _mnist_results_memo(lrs=list(LRS), num_steps=NUM_STEPS, seed=0)


# --------------------------------------------------------------------------- the matrices, for the widget
def matrix_point(kind: str = "circulant", n: int = 16, seed: int = 0) -> dict:
    r"""The :math:`n \times n` matrix of a random member of one family, and its singular values.

    ``kind``: ``"circulant"``, ``"fastfood"``, ``"acdc x1"``, ``"acdc x2"``, ``"acdc x4"`` (factors
    stacked). Every learnable diagonal is drawn :math:`\mathcal N(0, 1)` from ``seed`` (as a trained
    layer would hold arbitrary values, not the near-identity start), then the matrix is multiplied out
    by ``.dense()``. Returns ``matrix``, ``singular`` (largest first), ``index``, ``params`` (without
    bias) and ``dense_params`` (:math:`n^2`); for the circulant, ``fft_abs`` are :math:`|\mathcal F r|`
    sorted, equal to its singular values.
    """
    check_choice("kind", kind, ("circulant", "fastfood", "acdc x1", "acdc x2", "acdc x4"))
    n = check_int("n", n, 2, 256)
    seed = check_int("seed", seed, 0)
    depth = int(kind[-1]) if kind.startswith("acdc") else 1
    layer = make_layer(kind.split()[0], n, seed=seed, depth=depth).double()
    g = torch.Generator().manual_seed(1000 + seed)
    with torch.no_grad():
        for name, p in layer.named_parameters():
            if name != "bias":
                p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))
    W = layer.dense().detach()
    s = torch.linalg.svdvals(W)
    out = {"matrix": W.round(decimals=2).tolist(), "singular": s.tolist(), "index": list(range(1, n + 1)),
           "params": sum(p.numel() for name, p in layer.named_parameters() if name != "bias"), "dense_params": n * n}
    if kind == "circulant":
        out["fft_abs"] = torch.fft.fft(layer.weight.detach()).abs().sort(descending=True).values.tolist()
    return out


# --------------------------------------------------------------------------- speed
def latency_sweep(widths=WIDTHS, batches=(1, BIG_BATCH), seed: int = 0) -> dict:
    """Median latency in ms of one layer of each kind (dense and :data:`LAYER_KINDS`) at each width and batch.

    Measured now with :func:`lib.workbench.measure.latency` in PyTorch's inference mode, never cached.
    Returns ``{batch: {kind: [ms per width]}}`` and ``widths``.
    """
    widths = [check_int("widths[i]", w, 2) for w in widths]   # Fastfood checks that each is a power of two
    out = {"widths": widths}
    g = torch.Generator().manual_seed(seed)
    for b in batches:
        b = check_int("batch", b, 1)
        out[b] = {k: [] for k in ("dense", *LAYER_KINDS)}
        for w in widths:
            x = torch.randn(b, w, generator=g)
            for kind in out[b]:
                layer = make_layer(kind, w, seed=seed).eval()
                runs = 5 if kind == "dense" and w * w * b > 2**29 else 15
                out[b][kind].append(latency(layer, x, warmup=2, runs=runs)["median_ms"])
                del layer
    return out


def crossovers(sweep: dict) -> dict:
    """Per batch and structured kind: the smallest width of ``sweep`` from which the structured layer
    is faster than the dense one at every larger width measured (``None`` if it never is)."""
    widths, out = sweep["widths"], {}
    for b, times in sweep.items():
        if b == "widths":
            continue
        out[b] = {}
        for kind in LAYER_KINDS:
            faster = [s < d for s, d in zip(times[kind], times["dense"])]
            at = None
            for i in range(len(widths) - 1, -1, -1):
                if not faster[i]:
                    break
                at = widths[i]
            out[b][kind] = at
    return out


def bench() -> dict:
    """What ``make bench`` prints: each MNIST network's test error and parameter count (trained once, cached),
    and the width from which each structured layer beats the dense one at batch 1 and :data:`BIG_BATCH`
    (measured now)."""
    res = mnist_results()
    sweep = latency_sweep()
    return {"mnist": {k: {"test_error": r["test_error"], "params": r["params"], "layer_params": r["layer_params"]}
                      for k, r in res.items()},
            "crossover_width": crossovers(sweep),
            "latency_ms": {b: sweep[b] for b in sweep if b != "widths"}, "widths": sweep["widths"]}
