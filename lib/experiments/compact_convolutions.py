"""The compact-convolutions chapter's experiments: one small MNIST CNN with its two middle
convolutions replaced by each compact block of :mod:`lib.compact`, trained, counted and timed;
and the layer-level measurements that explain why fewer MACs is not the same as less time.

- :func:`mnist_results` (cached): every variant of :func:`compact_cnn` trained with the same
  budget; the checkpoint kept is the one with the lowest **validation** error among the
  evaluations along the run (the number of steps chosen on validation), and the test set is
  read once, for that checkpoint.
- :func:`network_latency`, :func:`block_timing`, :func:`depthwise_vs_pointwise`, :func:`dws_split`
  (never cached: they describe this machine now): the fastest of rounds that alternate between
  the things compared (:func:`alternate`). Run under :func:`lib.core.config.setup` (one PyTorch
  thread).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from lib import compact
from lib.core import cache
from lib.core.checks import check_choice, check_int, check_real
from lib.workbench.data import mnist
from lib.workbench.measure import count_macs, count_params, time_call
from lib.workbench.train import TrainConfig, error_rate, fit

__all__ = ["VARIANTS", "CHANNELS", "SQUEEZE_RATIO", "NUM_STEPS", "LR", "trained", "block_for", "compact_cnn", "mnist_results",
           "alternate", "network_latency", "block_timing", "BLOCK_NS", "BLOCK_KS", "depthwise_vs_pointwise",
           "dws_split", "layer_times", "bench"]

#: Widths of the CNN's three convolutions (the first is always a standard 3 x 3: one input channel).
CHANNELS = (16, 32, 64)

#: The fire modules squeeze to 1/8 of their output width (SqueezeNet's squeeze ratio 0.125), then
#: expand half the outputs with 1 x 1 and half with 3 x 3 filters (its pct3x3 = 0.5).
SQUEEZE_RATIO = 0.125

#: Variant name -> (block name in lib.compact.BLOCKS, words for the tables).
VARIANTS = {
    "standard": ("standard", "standard 3×3"),
    "depthwise_separable": ("depthwise_separable", "depthwise-separable 3×3"),
    "asymmetric": ("asymmetric", "1×3 then 3×1"),
    "fire": ("fire", "fire module"),
    "standard_5x5": ("standard", "standard 5×5"),
    "factorized_5x5": ("factorized_5x5", "two 3×3 (for a 5×5)"),
}

#: The training budget of every variant: 600 mini-batches of 64 (0.7 epoch of the 55,000 images), SGD
#: with momentum 0.9 and a cosine schedule from LR, a validation check every 100 steps. LR = 0.2 was the
#: best of 0.05, 0.1 and 0.2 on the validation split in a trial with two of the variants (depthwise-
#: separable and fire, 500 steps); the number of steps kept is chosen on validation in every run.
NUM_STEPS, BATCH, EVALS, LR = 600, 64, 6, 0.2


def block_for(variant: str, in_ch: int, out_ch: int) -> nn.Module:
    """The block a variant puts where the standard CNN has a ``3 x 3`` convolution ``in_ch -> out_ch``.

    The factorised blocks keep the narrower width between their factors (``mid = min(in_ch, out_ch)``):
    where a block doubles the channels, ``mid = out_ch`` would make two ``3 x 3`` cost
    ``9 M (2M) + 9 (2M)^2 = 54 M^2`` weights, more than the ``5 x 5``'s ``50 M^2``.

    >>> block_for("fire", 32, 64)(torch.zeros(1, 32, 7, 7)).shape
    torch.Size([1, 64, 7, 7])
    """
    check_choice("variant", variant, VARIANTS)
    if variant == "standard_5x5":
        return compact.standard_conv(in_ch, out_ch, 5)
    if variant == "fire":
        squeeze = max(1, round(SQUEEZE_RATIO * out_ch))
        return compact.fire(in_ch, squeeze, out_ch // 2, out_ch - out_ch // 2)
    if variant in ("asymmetric", "factorized_5x5"):  # widen in the second factor, the cheaper place
        return compact.build(VARIANTS[variant][0], in_ch, out_ch, mid=min(in_ch, out_ch))
    return compact.build(VARIANTS[variant][0], in_ch, out_ch)


def compact_cnn(variant: str = "standard", channels=CHANNELS, seed: int = 0) -> nn.Sequential:
    """A small MNIST CNN: conv 3x3 of stride 2 -> BN -> ReLU (14 x 14), [block -> BN -> ReLU ->
    max-pool 2x2 (7 x 7), block -> BN -> ReLU], global average pool, linear. The two blocks
    (``net[3]`` and ``net[7]``) are ``variant``'s.

    The blocks carry no bias (a BatchNorm follows each), so their parameters are exactly the
    formulas of :mod:`lib.compact`.

    >>> compact_cnn("depthwise_separable")(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """
    c1, c2, c3 = (check_int(f"channels[{i}]", c, 1) for i, c in enumerate(channels))
    with torch.random.fork_rng():
        torch.manual_seed(check_int("seed", seed, 0))
        return nn.Sequential(
            nn.Conv2d(1, c1, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c1), nn.ReLU(),
            block_for(variant, c1, c2), nn.BatchNorm2d(c2), nn.ReLU(), nn.MaxPool2d(2),
            block_for(variant, c2, c3), nn.BatchNorm2d(c3), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c3, 10))


# --------------------------------------------------------------------------- training
def _train(variant: str, num_steps: int, batch_size: int, evals: int, lr: float, seed: int) -> dict:
    data = mnist()
    net = compact_cnn(variant, seed=seed)
    best = {"val_error": math.inf, "step": 0, "state": None}
    step = {"n": 0}

    def count(_net, s):
        step["n"] = s

    def evaluate(m):
        err = error_rate(m, data.X_val, data.y_val)
        if err < best["val_error"]:
            best.update(val_error=err, step=step["n"], state=copy.deepcopy(m.state_dict()))
        return {"val_error": err}

    cfg = TrainConfig(num_steps=num_steps, batch_size=batch_size, lr=lr, seed=seed)
    history = fit(net, data, cfg, after_step=count, evaluate=evaluate, eval_every=max(1, num_steps // evals),
                  desc=f"training {variant}")
    return {"state": best["state"], "best_step": best["step"], "val_error": best["val_error"],
            "history": [{"step": h["step"], "val_error": h["val_error"]} for h in history]}


_train_memo = cache.memo(_train, name="compact-cnn-train", store="torch")


def trained(variant: str, seed: int = 0) -> tuple[nn.Module, dict]:
    """The trained ``variant`` (its best-on-validation checkpoint) and its training record."""
    check_choice("variant", variant, VARIANTS)
    rec = _train_memo(variant=variant, num_steps=NUM_STEPS, batch_size=BATCH, evals=EVALS, lr=LR, seed=seed)
    net = compact_cnn(variant, seed=seed)
    net.load_state_dict(rec["state"])
    return net.eval(), rec


def _results(variants: list, seed: int) -> dict:
    data = mnist()
    out = {}
    for v in variants:
        net, rec = trained(v, seed)
        macs = count_macs(net, (1, 28, 28))
        out[v] = {"params": count_params(net), "macs": macs["total"],
                  "block_params": count_params(net[3]) + count_params(net[7]),
                  "block_macs": sum(m for name, m in macs.items() if name.split(".")[0] in ("3", "7")),
                  "val_error": rec["val_error"], "best_step": rec["best_step"], "history": rec["history"],
                  "test_error": error_rate(net, data.X_test, data.y_test)}   # read once per variant
    return out


_results_memo = cache.memo(_results, name="compact-cnn-results")


def mnist_results(seed: int = 0) -> dict:
    """Per variant: ``params`` and ``macs`` (per 28x28 image) of the network and of its two blocks
    (``block_params``, ``block_macs``), the best ``val_error`` and its ``best_step``, the validation
    ``history`` and the ``test_error`` of that checkpoint. Cached."""
    return _results_memo(variants=list(VARIANTS), seed=check_int("seed", seed, 0))


# --------------------------------------------------------------------------- timing
def alternate(fns: dict, repeat: int = 5, min_time: float = 0.02) -> dict[str, float]:
    """Seconds per call of each ``fns[name]()``: the fastest of ``repeat`` alternating rounds.

    Each round times every function once with :func:`lib.workbench.measure.time_call` (enough
    calls to last ``min_time``) before the next round starts, so a slow moment of a shared
    machine hits all of them. The fastest round is kept: other processes can only add time to
    a round, so the minimum is the least disturbed estimate of what the code itself costs.
    """
    repeat = check_int("repeat", repeat, 1)
    check_real("min_time", min_time, 0, 10)
    rounds: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            rounds[k].append(time_call(fn, repeat=1, min_time=min_time, warmup=1)["median"])
    return {k: min(v) for k, v in rounds.items()}


def network_latency(batches=(1, 256), repeat: int = 5, seed: int = 0) -> dict:
    """Milliseconds of a forward pass (fastest of alternating rounds) of every variant (trained, eval mode, inference
    mode) at each batch size: ``{batch: {variant: ms}}``. Measured now, never cached."""
    nets = {v: trained(v, seed)[0] for v in VARIANTS}
    out = {}
    for b in batches:
        b = check_int("batch", b, 1)
        x = torch.randn(b, 1, 28, 28, generator=torch.Generator().manual_seed(0))
        with torch.inference_mode():
            t = alternate({v: (lambda n=n: n(x)) for v, n in nets.items()}, repeat=repeat)
        out[b] = {v: 1e3 * s for v, s in t.items()}
    return out


#: The grid of the block-timing widget: channels N (= M) and kernel sizes k.
BLOCK_NS, BLOCK_KS = (16, 32, 64, 128, 256), (3, 5, 7)


def _timed(mods: dict, x: torch.Tensor, repeat: int) -> dict[str, float]:
    with torch.inference_mode():
        return alternate({k: (lambda m=m: m(x)) for k, m in mods.items()}, repeat=repeat, min_time=0.01)


def block_timing(n: int, k: int, size: int = 14, batch: int = 8, repeat: int = 5) -> dict:
    """One block of each kind, ``n -> n`` channels on a ``size x size`` input, against its standard
    convolution: formula ``params``/``macs`` ratios and measured ``speedup`` (standard time / block time).

    The ``k``-dependent blocks (depthwise-separable, asymmetric) are compared with a standard
    ``k x k``; the fire module (squeeze ``n/8``, expand ``n/2 + n/2``) with a standard ``3 x 3``;
    two ``3 x 3`` with a standard ``5 x 5``. Returns also ``ms`` (milliseconds per call) per module.
    Measured now, never cached.
    """
    n, k = check_int("n", n, 2), compact.check_kernel(k)
    size, batch = check_int("size", size, 1), check_int("batch", batch, 1)
    s = max(1, round(SQUEEZE_RATIO * n))
    specs = {  # name: (module, its formula arguments, reference name)
        f"standard_{k}": (compact.standard_conv(n, n, k), ("standard", (n, n, k)), None),
        "standard_3": (compact.standard_conv(n, n, 3), ("standard", (n, n, 3)), None),
        "standard_5": (compact.standard_conv(n, n, 5), ("standard", (n, n, 5)), None),
        "depthwise_separable": (compact.depthwise_separable(n, n, k), ("depthwise_separable", (n, n, k)),
                                f"standard_{k}"),
        "asymmetric": (compact.asymmetric(n, n, k), ("asymmetric", (n, n, k)), f"standard_{k}"),
        "fire": (compact.fire(n, s, n // 2, n - n // 2), ("fire", (n, s, n // 2, n - n // 2)), "standard_3"),
        "factorized_5x5": (compact.factorized_5x5(n, n), ("factorized_5x5", (n, n)), "standard_5"),
    }
    with torch.random.fork_rng():
        torch.manual_seed(0)
        x = torch.randn(batch, n, size, size)
    ms = {name: 1e3 * t for name, t in _timed({nm: sp[0].eval() for nm, sp in specs.items()}, x, repeat).items()}
    out = {"ms": ms}
    for name, (_, (block, args), ref) in specs.items():
        if ref is None:
            continue
        rblock, rargs = specs[ref][1]
        out[name] = {"params": compact.params(block, *args) / compact.params(rblock, *rargs),
                     "macs": compact.macs(block, *args, size=(size, size)) / compact.macs(rblock, *rargs, size=(size, size)),
                     "speedup": ms[ref] / ms[name]}
    return out


def depthwise_vs_pointwise(pairs=((64, 24), (256, 48), (1024, 96)), k: int = 3, size: int = 14,
                           batch: int = 8, repeat: int = 5) -> list[dict]:
    """A depthwise ``k x k`` layer on ``C`` channels against a ``1 x 1`` layer ``P -> P`` doing the
    same MACs (``k^2 C = P^2``): per pair ``C``, ``P``, ``macs``, ``ms`` of each, GMAC/s of each
    and the arithmetic intensity (MACs per byte, :func:`lib.compact.conv_traffic`). Measured now."""
    k = compact.check_kernel(k)
    rows = []
    for c, p in pairs:
        c, p = check_int("C", c, 1), check_int("P", p, 1)
        if k * k * c != p * p:
            raise ValueError(f"pairs must satisfy k^2 C = P^2 (equal MACs), got C = {c}, P = {p}, k = {k}")
        with torch.random.fork_rng():
            torch.manual_seed(0)
            dw, pw = compact.depthwise(c, k).eval(), compact.pointwise(p, p).eval()
            xd, xp = torch.randn(batch, c, size, size), torch.randn(batch, p, size, size)
        with torch.inference_mode():
            t = alternate({"dw": lambda: dw(xd), "pw": lambda: pw(xp)}, repeat=repeat, min_time=0.01)
        td = compact.conv_traffic(c, c, k, groups=c, size=(size, size), batch=batch)
        tp = compact.conv_traffic(p, p, 1, size=(size, size), batch=batch)
        rows.append({"C": c, "P": p, "macs": td["macs"], "dw_ms": 1e3 * t["dw"], "pw_ms": 1e3 * t["pw"],
                     "dw_gmacs": td["macs"] / t["dw"] / 1e9, "pw_gmacs": tp["macs"] / t["pw"] / 1e9,
                     "dw_intensity": td["intensity"], "pw_intensity": tp["intensity"],
                     "dw_mb": td["bytes"] / 1e6, "pw_mb": tp["bytes"] / 1e6})
    return rows


def dws_split(n: int = 64, k: int = 3, size: int = 14, batch: int = 8, repeat: int = 5) -> dict:
    """Inside one depthwise-separable block ``n -> n``: the depthwise factor's share of the MACs
    and its share of the measured time (``mac_share``, ``time_share``, ``ms`` per factor)."""
    n, k = check_int("n", n, 1), compact.check_kernel(k)
    block = compact.depthwise_separable(n, n, k, relu=False).eval()
    dw, pw = block[0], block[1]
    with torch.random.fork_rng():
        torch.manual_seed(0)
        x = torch.randn(batch, n, size, size)
    with torch.inference_mode():
        y = dw(x)
        t = alternate({"dw": lambda: dw(x), "pw": lambda: pw(y)}, repeat=repeat, min_time=0.01)
    return {"mac_share": k * k * n / (k * k * n + n * n), "time_share": t["dw"] / (t["dw"] + t["pw"]),
            "ms": {"dw": 1e3 * t["dw"], "pw": 1e3 * t["pw"]}}


def layer_times(variant: str, batch: int = 256, repeat: int = 5, seed: int = 0) -> list[dict]:
    """Milliseconds spent in each top-level layer of the trained ``variant`` at ``batch``: every
    layer is timed alone on the input it receives in the network (alternating rounds, fastest
    kept). Per layer: ``index``, ``kind`` (the module's class name, ``block`` for the variant's
    blocks), ``ms``, ``macs`` (per batch). Shows where time goes besides the MACs. Measured now."""
    net, _ = trained(variant, seed)
    batch = check_int("batch", batch, 1)
    x = torch.randn(batch, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    inputs = []
    with torch.inference_mode():
        for layer in net:
            inputs.append(x)
            x = layer(x)
        t = alternate({i: (lambda m=m, a=a: m(a)) for i, (m, a) in enumerate(zip(net, inputs))},
                      repeat=repeat, min_time=0.01)
    macs = count_macs(net, (1, 28, 28))
    rows = []
    for i, layer in enumerate(net):
        kind = "block" if i in (3, 7) else type(layer).__name__
        m = sum(v for name, v in macs.items() if name.split(".")[0] == str(i))
        rows.append({"index": i, "kind": kind, "ms": 1e3 * t[i], "macs": m * batch})
    return rows


def bench() -> dict:
    """Headline figures for ``make bench``: per variant the trained network's parameters, MACs,
    test error and latency at batch 1 and 256 (speed-up against the standard network beside its
    MAC ratio); per block at N = 64 and 256 (k = 3) the MAC ratio beside the measured speed-up;
    the depthwise-against-1x1 rates at equal MACs."""
    res = mnist_results()
    lat = network_latency()
    nets = {}
    for v, r in res.items():
        ref = "standard_5x5" if v == "factorized_5x5" else "standard"
        nets[v] = {"params": r["params"], "macs": r["macs"], "test_error_pct": 100 * r["test_error"],
                   "mac_ratio_vs_" + ref: r["macs"] / res[ref]["macs"],
                   **{f"ms_batch{b}": lat[b][v] for b in lat},
                   **{f"speedup_batch{b}_vs_" + ref: lat[b][ref] / lat[b][v] for b in lat}}
    blocks = {}
    for n in (64, 256):
        t = block_timing(n, 3)
        blocks[f"N{n}_k3"] = {b: {"mac_ratio": t[b]["macs"], "speedup": t[b]["speedup"]}
                             for b in ("depthwise_separable", "asymmetric", "fire", "factorized_5x5")}
    return {"networks": nets, "blocks": blocks, "depthwise_vs_1x1": depthwise_vs_pointwise(),
            "threads": torch.get_num_threads()}
