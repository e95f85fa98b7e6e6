"""The pruning-speed chapter's experiment: how VGG-small collapses and recovers as channels are removed.

The networks are Network Slimming's (:mod:`lib.experiments.slimming`): the plainly trained
baseline and the sparsity-trained one. Nothing is chosen from these curves; the recovery is
read on the validation split, as every learning curve in the book is.
"""

from __future__ import annotations

import torch
from torch import nn

from lib import channels
from lib.core import cache
from lib.core.checks import check_real
from lib.experiments.slimming import finetune_curve, slimming_config, slimming_nets
from lib.workbench.data import Split
from lib.workbench.measure import count_macs, latency
from lib.workbench.train import TrainConfig, error_rate, load_data

__all__ = ["SUBSET", "remove_by_gamma", "recovery", "removal_point"]

#: Training images the one epoch of fine-tuning sees (a fifth of MNIST's training split).
SUBSET = 10_000


def remove_by_gamma(net: nn.Module, removed: float) -> nn.Sequential:
    """``net`` with the ``removed`` fraction of its convolution channels of smallest BatchNorm
    :math:`|\\gamma|` cut out, one global threshold (:func:`lib.channels.channel_plan`)."""
    removed = check_real("removed", removed, 0.0, 1.0, hi_open=True)
    convs = [n for n, m in net.named_modules() if isinstance(m, nn.Conv2d)]
    scores = {n: channels.channel_scores(net, n, "bn_gamma") for n in convs}
    return channels.remove_channels(net, channels.channel_plan(net, scores, removed, scope="global"), (1, 28, 28))


def _recovery(removed: float) -> dict:
    baseline, slim = slimming_nets()
    data = load_data(TrainConfig(**slimming_config()["baseline"]))
    subset = Split(data.X_train[:SUBSET], data.y_train[:SUBSET], data.X_test, data.y_test, data.num_classes,
                   data.X_val, data.y_val)
    out = {}
    for key, net in (("slim", slim), ("plain", baseline)):
        small = remove_by_gamma(net, removed)
        start = error_rate(small, data.X_val, data.y_val)
        curve = [(0.0, start)] + finetune_curve(small, subset, epochs=1, lr=0.01, seed=0, points_per_epoch=8)
        out[key] = [e for _, e in curve]
        out["epoch"] = [f for f, _ in curve]
    return out


_recovery_memo = cache.memo(_recovery, name="channel-recovery")


def recovery(removed: float) -> dict:
    """Remove ``removed`` of the channels of both VGG-smalls by :math:`|\\gamma|` and fine-tune each
    one epoch on :data:`SUBSET` training images.

    Returns
    -------
    dict
        ``epoch`` (fractions of the epoch) and, for ``"slim"`` (sparsity-trained) and ``"plain"``,
        the validation error at those points (the first right after removal).
    """
    removed = check_real("removed", removed, 0.0, 1.0, hi_open=True)
    return _recovery_memo(removed=removed)


def removal_point(removed: float, dense_ms: dict) -> dict:
    """One point of the chapter's slider: :func:`recovery`, the multiply-accumulates saved, and the
    speed-up measured now (latencies are never cached) against ``dense_ms`` (batch size to the
    sparsity-trained dense net's median milliseconds, from :func:`lib.workbench.measure.latency`)."""
    r = dict(recovery(removed))
    _, slim = slimming_nets()
    small = remove_by_gamma(slim, removed)
    r["mac_ratio"] = count_macs(slim, (1, 28, 28))["total"] / count_macs(small, (1, 28, 28))["total"]
    for b in dense_ms:
        x = torch.randn(int(b), 1, 28, 28, generator=torch.Generator().manual_seed(0))
        runs = (20, 200) if int(b) == 1 else (3, 10)
        r[f"speedup{b}"] = dense_ms[b] / latency(small, x, warmup=runs[0], runs=runs[1])["median_ms"]
    r["slim_start"], r["plain_start"] = r["slim"][0], r["plain"][0]  # epoch 0: before any fine-tuning
    r["slim_end"], r["plain_end"] = r["slim"][-1], r["plain"][-1]
    return r
