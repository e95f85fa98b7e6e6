"""The granularity chapter's experiment: LeNet-5's convolutions pruned by single weights, kernel
rows, kernels or whole filters, fine-tuned, counted and timed.

Nothing is chosen from these numbers (they compare granularities at equal amounts), so the
errors shown are the test error.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import torch
from torch import nn

from lib import channels, structured
from lib.core import cache
from lib.core.checks import check_choice, check_real
from lib.experiments.han2015 import dense_config
from lib.workbench import measure
from lib.workbench.data import Split
from lib.workbench.train import error_rate, fit, load_data, train_cached

__all__ = ["CONVS", "SUBSET", "pruned", "filter_plan", "granularity_point"]

#: LeNet-5's two convolutions: conv1 (20x1x5x5) and conv2 (50x20x5x5).
CONVS = ["0", "2"]

#: Training images the one epoch of fine-tuning sees.
SUBSET = 5_000


def pruned(granularity: str, amount: float) -> tuple[nn.Sequential, dict]:
    """A copy of the dense LeNet-5 with ``amount`` of each convolution's groups of one ``granularity``
    removed by magnitude (whole filters with their biases, so a removed channel outputs zero);
    returns the net and its modules by name."""
    check_choice("granularity", granularity, structured.GRANULARITIES)
    amount = check_real("amount", amount, 0.0, 1.0, hi_open=True)
    net = copy.deepcopy(train_cached(dense_config("lenet5"))[0])
    mods = dict(net.named_modules())
    if granularity == "filter":
        norms = {n: structured.group_norms(mods[n].weight.detach(), "filter") for n in CONVS}
        channels.mask_channels(net, channels.channel_plan(net, norms, amount, scope="layer"))
    else:
        for n in CONVS:
            structured.group_magnitude_prune(mods[n], "weight", amount=amount, granularity=granularity)
    return net, mods


def filter_plan(mods: dict) -> dict:
    """The filters of each convolution that still hold a weight (the channels to keep)."""
    return {n: torch.nonzero(structured.group_norms(mods[n].weight.detach(), "filter") > 0).flatten() for n in CONVS}


def _trained(granularity: str, amount: float) -> dict:
    cfg = dense_config("lenet5")
    data = load_data(cfg)
    subset = Split(data.X_train[:SUBSET], data.y_train[:SUBSET], data.X_test, data.y_test, 10, data.X_val, data.y_val)
    net, mods = pruned(granularity, amount)
    before = error_rate(net, data.X_test, data.y_test)
    fit(net, subset, replace(cfg, num_epochs=1, lr=0.01, weight_decay=5e-4), desc="fine-tuning")
    macs = measure.count_macs(net, (1, 28, 28))
    nz = measure.count_macs(net, (1, 28, 28), nonzero_only=True)
    conv_w = [mods[n].weight.detach() for n in CONVS]
    r = {"error_before": before, "error_after": error_rate(net, data.X_test, data.y_test),
         "weights_kept": sum(int((w != 0).sum()) for w in conv_w) / sum(w.numel() for w in conv_w),
         "nonzero_macs": sum(nz[n] for n in CONVS), "dense_macs": sum(macs[n] for n in CONVS),
         "indices": sum(int((structured.group_norms(w, granularity) > 0).sum()) for w in conv_w),
         "kernels_kept": (mods["2"].weight.detach().abs().sum(dim=(2, 3)) > 0).float().T}
    if granularity == "filter":  # whole filters go, and with them the next layer's input channels
        small = channels.remove_channels(net, filter_plan(mods), (1, 28, 28))
        r["dense_macs"] = sum(measure.count_macs(small, (1, 28, 28))[n] for n in CONVS)
        r["indices"] = 0
    return r


_trained_memo = cache.memo(_trained, name="granularity-point")


def granularity_point(granularity: str, amount: float) -> dict:
    """Prune LeNet-5's convolutions (:func:`pruned`), fine-tune one epoch on :data:`SUBSET` images
    (cached), and time the result at batch 1 against the dense net now (never cached).

    Returns
    -------
    dict
        ``error_before``/``error_after`` (test error), ``weights_kept``, ``nonzero_macs``,
        ``dense_macs`` (what a dense kernel runs: fewer only when filters are removed), ``indices``
        (groups to index), ``kernels_kept`` (conv2's kernels holding weights), ``latency_ms``, ``speedup``.
    """
    check_choice("granularity", granularity, structured.GRANULARITIES)
    amount = check_real("amount", amount, 0.0, 1.0, hi_open=True)
    # Removing nothing gives one network whatever the unit: fine-tune it once, count its groups per unit.
    r = dict(_trained_memo(granularity=granularity if amount > 0 else "weight", amount=amount))
    dense = train_cached(dense_config("lenet5"))[0].eval()
    net, mods = pruned(granularity, amount)
    if amount == 0:
        r["indices"] = 0 if granularity == "filter" else sum(
            int((structured.group_norms(mods[n].weight.detach(), granularity) > 0).sum()) for n in CONVS)
    if granularity == "filter":
        net = channels.remove_channels(net, filter_plan(mods), (1, 28, 28))
    x1 = torch.randn(1, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    dense_ms, pruned_ms = [], []
    for _ in range(3):  # dense and pruned timed in alternation, so that both see the same machine state
        dense_ms.append(measure.latency(dense, x1, warmup=5, runs=60)["median_ms"])
        pruned_ms.append(measure.latency(net, x1, warmup=5, runs=60)["median_ms"])
    r["latency_ms"] = float(np.median(pruned_ms))
    r["speedup"] = float(np.median(dense_ms)) / r["latency_ms"]
    return r
