r"""The hashing-and-sharing chapter's experiments: HashedNets on MNIST, ALBERT-style cross-layer
sharing and LCNN lookup convolutions on scikit-learn's digits.

**HashedNets** (Chen et al. 2015), CPU-sized: a network with one hidden layer of :data:`HIDDEN`
*virtual* units (784-1000-10), each layer compressed by the same factor :math:`1/c` (the layer
stores :math:`\lceil mn/c \rceil` weights), against four networks with the same stored weights:

- ``dense``: an ordinary 784-:math:`h`-10 network, :math:`h` chosen so its weights match;
- ``lowrank``: each layer a product of two factors of rank :math:`r = \lfloor K/(m+n) \rfloor`
  (at least 1);
- ``rer``: random edge removal, the 784-1000-10 network with all but :math:`K` random weights of
  each layer fixed at zero (``torch.nn.utils.prune``);
- ``hashed``: :class:`lib.hashing.HashedLinear` layers.

Every network trains :data:`EPOCHS` epochs on MNIST's 55,000 training images (SGD, momentum 0.9,
cosine decay) at each learning rate of :data:`LRS`; the rate is chosen per method and factor on
the 5,000 validation images, and only the chosen network reads the test set (once).
Biases (one per unit) are stored by every method and not counted in the budget.

Protocol for the digits experiments: scikit-learn's 1,797 8x8 digits, 1,437 for training (of
which 200 held out for validation) and 360 for test; settings are fixed in advance and all are
reported (no choice is made by a test error).
"""

from __future__ import annotations

import math
from dataclasses import asdict

import torch
from torch import nn
from torch.nn.utils import prune

from lib import hashing
from lib.core import cache
from lib.core.checks import check_choice, check_int
from lib.workbench.data import digits
from lib.workbench.train import TrainConfig, error_rate, fit, load_data

__all__ = ["HIDDEN", "FACTORS", "METHODS", "LRS", "EPOCHS", "budget", "hashed_mlp", "hashed_run",
           "hashednets", "layer_budgets", "stack_macs", "albert_net", "albert_point", "albert_sweep",
           "lcnn_net", "lcnn_point", "lcnn_sweep", "bucket_view", "bench"]

#: Virtual hidden width of the one-hidden-layer network.
HIDDEN = 1000
#: Compression factors c (each layer stores 1/c of its weights).
FACTORS = (8, 64)
#: The methods compared at equal storage.
METHODS = ("hashed", "dense", "lowrank", "rer")
#: Learning rates tried; one is chosen per method and factor on the validation split.
LRS = (0.02, 0.1)
#: Training epochs of every MNIST network.
EPOCHS = 2
SIZES = ((784, HIDDEN), (HIDDEN, 10))


def budget(m: int, n: int, factor: int) -> int:
    """Stored weights of an ``m x n`` layer at compression ``1/factor``: :math:`\\lceil mn/c \\rceil`.

    >>> budget(784, 1000, 64)
    12250
    """
    return math.ceil(check_int("m", m, 1) * check_int("n", n, 1) / check_int("factor", factor, 1))


def layer_budgets(factor: int) -> list[int]:
    """The budget of each of the two layers of the 784-1000-10 network."""
    return [budget(m, n, factor) for m, n in SIZES]


def hashed_mlp(method: str, factor: int, seed: int = 0) -> nn.Module:
    """The network of ``method`` at compression ``1/factor`` (``factor=1``: the full 784-1000-10)."""
    check_choice("method", method, METHODS)
    factor = check_int("factor", factor, 1)
    k1, k2 = layer_budgets(factor)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        if method == "hashed":
            return nn.Sequential(hashing.HashedLinear(784, HIDDEN, k1, seed=seed), nn.ReLU(),
                                 hashing.HashedLinear(HIDDEN, 10, k2, seed=seed + 1))
        if method == "dense":
            h = max(1, round((k1 + k2) / (784 + 10))) if factor > 1 else HIDDEN
            return nn.Sequential(nn.Linear(784, h), nn.ReLU(), nn.Linear(h, 10))
        if method == "lowrank":
            r1, r2 = (max(1, k // (m + n)) for k, (m, n) in zip((k1, k2), SIZES))
            return nn.Sequential(nn.Linear(784, r1, bias=False), nn.Linear(r1, HIDDEN), nn.ReLU(),
                                 nn.Linear(HIDDEN, r2, bias=False), nn.Linear(r2, 10))
        net = nn.Sequential(nn.Linear(784, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 10))
        g = torch.Generator().manual_seed(seed)
        for layer, k in ((net[0], k1), (net[2], k2)):
            mask = torch.zeros(layer.weight.numel())
            mask[torch.randperm(mask.numel(), generator=g)[:k]] = 1.0
            prune.custom_from_mask(layer, "weight", mask.reshape(layer.weight.shape))
        return net


def stored_weights(net: nn.Module) -> int:
    """Weights a network stores, biases left out: non-zero mask entries for a pruned layer."""
    total = 0
    for mod in net.modules():
        if hasattr(mod, "weight_mask"):
            total += int(mod.weight_mask.sum())
        elif isinstance(mod, (nn.Linear, hashing.HashedLinear)):
            total += mod.weight.numel()
    return total


@cache.memo(store="torch")
def hashed_run(method: str, factor: int, lr: float, epochs: int = EPOCHS, seed: int = 0) -> dict:
    """Train one network of :func:`hashed_mlp` on MNIST; its validation error and weights
    (``diverged`` true, validation error 1 and no weights when the loss became NaN)."""
    cfg = TrainConfig(model="lenet_300_100", num_epochs=epochs, lr=lr, seed=seed)
    data = load_data(cfg)
    net = hashed_mlp(method, factor, seed)
    try:
        history = fit(net, data, cfg, desc=f"{method} 1/{factor}")
    except RuntimeError as err:  # diverged at this learning rate: an outcome of the search, never chosen
        if "diverged" not in str(err):
            raise
        return {"val_error": 1.0, "diverged": True, "state": None, "config": asdict(cfg)}
    return {"val_error": history[-1]["val_error"], "diverged": False, "state": net.state_dict(),
            "config": asdict(cfg)}


@cache.memo(store="json")
def hashednets(epochs: int = EPOCHS, seed: int = 0) -> dict:
    """The HashedNets table: for every method and factor (and the uncompressed net, ``factor`` 1),
    the learning rate chosen on validation, its validation error, the test error (read once),
    the stored weights and the hidden width / ranks."""
    data = load_data(TrainConfig(model="lenet_300_100"))
    rows = []
    for factor, methods in [(1, ("dense",))] + [(f, METHODS) for f in FACTORS]:
        for method in methods:
            runs = {lr: hashed_run(method=method, factor=factor, lr=lr, epochs=epochs, seed=seed) for lr in LRS}
            lr = min(LRS, key=lambda r: (runs[r]["val_error"], r))
            net = hashed_mlp(method, factor, seed)
            net.load_state_dict(runs[lr]["state"])
            rows.append({"method": method, "factor": factor, "lr": lr, "val_error": runs[lr]["val_error"],
                         "val_errors": [None if runs[r]["diverged"] else runs[r]["val_error"] for r in LRS],
                         "test_error": error_rate(net, data.X_test, data.y_test),
                         "stored": stored_weights(net), "shape": _shape(method, net)})
    return {"rows": rows, "epochs": epochs, "lrs": list(LRS), "budgets": [layer_budgets(f) for f in FACTORS]}


def _shape(method: str, net: nn.Sequential) -> str:
    if method == "dense":
        return f"784-{net[0].out_features}-10"
    if method == "lowrank":
        return f"ranks {net[0].out_features}, {net[3].out_features}"
    return f"784-{HIDDEN}-10"


# --------------------------------------------------------------------------- bucket view (widget)
def bucket_view(n_weights: int, seed: int = 0, rows: int = 12, cols: int = 16) -> dict:
    """A small :class:`lib.hashing.HashedLinear`'s virtual matrix, its bucket of every entry and
    the bucket sizes, for the chapter's widget (real weights 1, 2, ..., K with the hash signs)."""
    layer = hashing.HashedLinear(cols, rows, n_weights, seed=seed, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.arange(1, n_weights + 1, dtype=torch.float32))
        v = layer.virtual_weight()
    sizes = hashing.bucket_sizes(layer)
    return {"virtual": v.tolist(), "bucket": layer.index.tolist(), "sizes": sizes.tolist(),
            "ids": list(range(n_weights)), "empty": int((sizes == 0).sum()), "largest": int(sizes.max()),
            "mean": rows * cols / n_weights}


# --------------------------------------------------------------------------- ALBERT-style sharing
def stack_macs(net: nn.Module, input_shape: tuple[int, ...]) -> int:
    """MACs per example of every Linear/Conv2d *call* (a shared layer used N times counts N times)."""
    total = 0
    hooks = []

    def hook(module, inputs, output):
        nonlocal total
        w = module.weight
        total += w.numel() * (output.shape[-1] * output.shape[-2] if isinstance(module, nn.Conv2d) else 1)

    for mod in net.modules():
        if isinstance(mod, (nn.Linear, nn.Conv2d)):
            hooks.append(mod.register_forward_hook(hook))
    try:
        with torch.no_grad():
            net.eval()(torch.zeros(1, *input_shape))
    finally:
        for h in hooks:
            h.remove()
    return total


def albert_net(depth: int, shared: bool, width: int = 64, seed: int = 0) -> nn.Module:
    """64 -> ``width`` (embedding), ``depth`` residual blocks LayerNorm-Linear-ReLU (shared or not),
    -> 10. The LayerNorm (as in ALBERT's transformer blocks) keeps a block applied many times from
    blowing up the residual stream."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        block = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.ReLU())
        return nn.Sequential(nn.Linear(64, width), hashing.SharedStack(block, depth, shared), nn.Linear(width, 10))


#: The digits recipe (ALBERT: 40 epochs; LCNN: 20, its nets cost more a step).
DIGITS_CFG = TrainConfig(model="mlp", dataset="digits", num_epochs=40, lr=0.003, batch_size=64, optimizer="adam")


@cache.memo(store="json")
def albert_point(depth: int, shared: bool, width: int = 64, seed: int = 0) -> dict:
    """Train :func:`albert_net` on digits; parameters, MACs and validation/test error."""
    d = digits(seed=0, val_size=200)
    cfg = TrainConfig(**{**asdict(DIGITS_CFG), "seed": seed})
    net = albert_net(depth, shared, width, seed)
    fit(net, d, cfg)
    return {"depth": depth, "shared": shared, "params": sum(p.numel() for p in net.parameters()),
            "macs": stack_macs(net, (64,)), "val_error": error_rate(net, d.X_val, d.y_val),
            "test_error": error_rate(net, d.X_test, d.y_test)}


DEPTHS = (1, 2, 4, 8)


def albert_sweep(seed: int = 0) -> list[dict]:
    """:func:`albert_point` for every depth of :data:`DEPTHS`, shared and not."""
    return [albert_point(depth=n, shared=s, seed=seed) for n in DEPTHS for s in (True, False)]


# --------------------------------------------------------------------------- LCNN
DICT_SIZES = (2, 4, 8, 16)


def lcnn_net(dict_size: int, n_lookups: int = 1, seed: int = 0) -> nn.Module:
    """conv 1->16 3x3, ReLU, then conv 16->32 3x3 (dense when ``dict_size`` is 0, else a
    :class:`lib.hashing.LookupConv2d`), ReLU, 2x2 max-pool, linear 512 -> 10; 8x8 inputs."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        second = (nn.Conv2d(16, 32, 3, padding=1) if dict_size == 0 else
                  hashing.LookupConv2d(16, 32, 3, dict_size, n_lookups, padding=1, seed=seed))
        return nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), second,
                             nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(512, 10))


@cache.memo(store="json")
def lcnn_point(dict_size: int, n_lookups: int = 1, seed: int = 0) -> dict:
    """Train :func:`lcnn_net` on digits: the second layer's parameters and MACs, and the errors."""
    d = digits(seed=0, val_size=200)
    cfg = TrainConfig(**{**asdict(DIGITS_CFG), "seed": seed, "num_epochs": 20})
    net = lcnn_net(dict_size, n_lookups, seed)
    fit(net, d, cfg)
    layer = net[3]
    if dict_size == 0:
        params, macs = layer.weight.numel(), hashing.conv_macs(16, 32, 3, 64)
    else:
        params = layer.dictionary.numel() + layer.coef.numel()
        macs = layer.macs_per_position() * 64
    return {"dict_size": dict_size, "n_lookups": n_lookups, "params": params, "macs": macs,
            "val_error": error_rate(net, d.X_val, d.y_val), "test_error": error_rate(net, d.X_test, d.y_test)}


def lcnn_sweep(seed: int = 0) -> list[dict]:
    """:func:`lcnn_point` for the dense layer and every dictionary size of :data:`DICT_SIZES`."""
    return [lcnn_point(dict_size=m, seed=seed) for m in (0,) + DICT_SIZES]


def bench() -> dict:
    """Headline figures: test errors (%) of HashedNets and the equal-size network at 1/8 and 1/64,
    and the shared/unshared parameter and MAC counts at depth 8."""
    rows = hashednets()["rows"]
    out = {}
    for r in rows:
        if r["factor"] > 1 and r["method"] in ("hashed", "dense"):
            out[f"{r['method']}_1/{r['factor']}_test_error_%"] = round(100 * r["test_error"], 2)
    pts = {(p["depth"], p["shared"]): p for p in albert_sweep()}
    out["albert_depth8_params_shared_vs_not"] = [pts[(8, True)]["params"], pts[(8, False)]["params"]]
    out["albert_depth8_macs_shared_vs_not"] = [pts[(8, True)]["macs"], pts[(8, False)]["macs"]]
    return out
