"""The pruning-criteria chapter's experiments: channel criteria compared on one VGG-small, a
per-layer sensitivity scan, Optimal Brain Damage against magnitude, and group lasso.

These compare methods; nothing is tuned on them. The channel experiments read the error on
the validation split (the numbers a practitioner would choose a criterion or a per-layer rate
by); the digits experiments, which choose nothing, read digits' test split.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from lib import channels, pruning, structured
from lib.core import cache
from lib.core.checks import check_choice, check_real
from lib.experiments.slimming import slimming_config, slimming_nets
from lib.workbench.data import Split, digits
from lib.workbench.models import mlp, plain_cnn
from lib.workbench.train import TrainConfig, error_rate, fit, load_data

__all__ = ["CALIBRATION", "CRITERIA", "remove_by", "sensitivity", "obd_mlp", "obd_vs_magnitude", "group_lasso_run"]

#: Training images the data-driven criteria (APoZ, Taylor) look at; BatchNorm is recalibrated on twice as many.
CALIBRATION = 1000

#: The criteria compared: :data:`lib.channels.CRITERIA` on the plain net, and ``"slim"`` (|gamma| of the
#: sparsity-trained net).
CRITERIA = ("l1", "l2", "fpgm", "apoz", "taylor", "bn_gamma", "slim", "random")


def _mnist() -> Split:
    return load_data(TrainConfig(**slimming_config()["baseline"]))


def _scored(criterion: str) -> tuple[nn.Module, list[str], dict]:
    """The network a criterion prunes, its convolutions, and every convolution's channel scores."""
    baseline, slim = slimming_nets()
    data = _mnist()
    X, y = data.X_train[:CALIBRATION], data.y_train[:CALIBRATION]
    net = slim if criterion == "slim" else baseline
    crit = "bn_gamma" if criterion == "slim" else criterion
    convs = [n for n, m in net.named_modules() if isinstance(m, nn.Conv2d)]
    return net, convs, {n: channels.channel_scores(net, n, crit, X=X, y=y, seed=0) for n in convs}


def _conv2_bars(scores: torch.Tensor, keep: torch.Tensor) -> dict:
    """conv2's scores sorted, split into the kept and the removed channels (divided by the largest)."""
    order = torch.argsort(scores)
    kept = torch.isin(order, keep)
    return {"score_kept": torch.where(kept, scores[order], 0.0) / scores.abs().max(),
            "score_removed": torch.where(~kept, scores[order], 0.0) / scores.abs().max(),
            "rank": list(range(len(scores)))}


def _remove_by(criterion: str, removed: float) -> dict:
    net, convs, scores = _scored(criterion)
    data = _mnist()
    plan = channels.channel_plan(net, scores, removed, scope="layer")
    small = channels.remove_channels(net, plan, (1, 28, 28))
    before = error_rate(small, data.X_val, data.y_val)
    after = error_rate(channels.recalibrate_batchnorm(small, data.X_train[:2 * CALIBRATION]), data.X_val, data.y_val)
    return {"error": before, "error_recal": after, **_conv2_bars(scores[convs[1]], plan[convs[1]])}


_remove_by_memo = cache.memo(_remove_by, name="criteria-remove-by")


def _scores(criterion: str) -> dict:
    _, convs, scores = _scored(criterion)
    return _conv2_bars(scores[convs[1]], torch.arange(len(scores[convs[1]])))


_scores_memo = cache.memo(_scores, name="criteria-scores")


def remove_by(criterion: str, removed: float) -> dict:
    """Remove ``removed`` of every convolution's channels of VGG-small by one criterion, no fine-tuning.

    Returns
    -------
    dict
        ``error`` (validation error right after removal), ``error_recal`` (after
        :func:`lib.channels.recalibrate_batchnorm`), and conv2's scores sorted, split into
        ``score_kept`` / ``score_removed`` (divided by the largest), with ``rank``.
    """
    check_choice("criterion", criterion, CRITERIA)
    removed = check_real("removed", removed, 0.0, 1.0, hi_open=True)
    if removed == 0 and criterion not in ("l1", "slim"):
        # Removing nothing leaves the same network whatever the criterion: reuse its errors (computed
        # once, under "l1"), and only score conv2's channels afresh for the bars.
        return {**_remove_by_memo(criterion="l1", removed=0.0), **_scores_memo(criterion=criterion)}
    return _remove_by_memo(criterion=criterion, removed=removed)


def _sensitivity(removed: float) -> dict:
    baseline, _ = slimming_nets()
    data = _mnist()
    X, y = data.X_train[:CALIBRATION], data.y_train[:CALIBRATION]
    convs = [n for n, m in baseline.named_modules() if isinstance(m, nn.Conv2d)]
    out = {}
    for i, layer in enumerate(convs):
        scores = {layer: channels.channel_scores(baseline, layer, "taylor", X=X, y=y)}
        small = channels.remove_channels(baseline, channels.channel_plan(baseline, scores, removed, scope="layer"),
                                         (1, 28, 28))
        out[f"conv{i + 1}"] = error_rate(channels.recalibrate_batchnorm(small, data.X_train[:2 * CALIBRATION]),
                                         data.X_val, data.y_val)
    return out


_sensitivity_memo = cache.memo(_sensitivity, name="criteria-sensitivity")


def sensitivity(removed: float) -> dict:
    """Remove ``removed`` of the channels of one convolution at a time (Taylor scores, BatchNorm
    recalibrated, no fine-tuning); per layer (``conv1``, ...) the validation error."""
    removed = check_real("removed", removed, 0.0, 1.0, hi_open=True)
    return _sensitivity_memo(removed=removed)


def obd_mlp() -> tuple[nn.Sequential, Split]:
    """A 64-32-10 MLP trained on digits (Adam, 600 steps of 64), and the data: OBD's test bed (a second)."""
    d = digits()
    net = mlp([64, 32, 10], seed=0)
    fit(net, d, TrainConfig(dataset="digits", optimizer="adam", lr=1e-2, weight_decay=0.0, lr_decay="none",
                            batch_size=64, num_steps=600, seed=0))
    return net.eval(), d


def obd_vs_magnitude(net: nn.Module, data: Split, removed: float) -> dict:
    """Prune fc1 of ``net`` (copies) by OBD saliency (:func:`lib.pruning.obd_prune`) and by magnitude.

    Returns
    -------
    dict
        ``obd`` and ``magnitude`` (test error, no fine-tuning) and ``agree`` (fraction of equal mask entries).
    """
    removed = check_real("removed", removed, 0.0, 1.0)
    a, b = copy.deepcopy(net), copy.deepcopy(net)
    pruning.obd_prune(a, data.X_train, data.y_train, amount=removed, layers=["0"])
    pruning.magnitude_prune(b[0], "weight", amount=removed)
    return {"obd": error_rate(a, data.X_test, data.y_test), "magnitude": error_rate(b, data.X_test, data.y_test),
            "agree": float((a[0].weight_mask == b[0].weight_mask).float().mean())}


def group_lasso_run(lam: float, threshold: float = 1e-2) -> dict:
    """Train a plain CNN on digits (8x8 images) with :math:`\\lambda \\sum_g \\lVert W_g \\rVert_2` over
    filters (:func:`lib.structured.group_lasso_penalty`), then remove the filters whose norm fell
    below ``threshold`` (every layer keeps at least its strongest).

    Returns
    -------
    dict
        ``norms`` (every filter's L2 norm), ``error`` and ``error_removed`` (test error before and
        after removal), ``kept`` (filters kept) and ``filters``.
    """
    lam = check_real("lam", lam, 0.0, 1.0)
    threshold = check_real("threshold", threshold, 0.0)
    d = digits()
    images = Split(d.X_train.reshape(-1, 1, 8, 8), d.y_train, d.X_test.reshape(-1, 1, 8, 8), d.y_test, 10)
    net = plain_cnn(channels=(16, 32), seed=0)
    cfg = TrainConfig(model="plain_cnn", dataset="digits", num_epochs=40, lr=0.05, batch_size=64)
    fit(net, images, cfg, penalty=(lambda n: lam * structured.group_lasso_penalty(n, "filter")) if lam else None)
    convs = {n: m for n, m in net.named_modules() if isinstance(m, nn.Conv2d)}
    norms = {n: structured.group_norms(m.weight.detach(), "filter") for n, m in convs.items()}
    plan = {n: torch.nonzero(v >= threshold).flatten() if (v >= threshold).any() else v.argmax().reshape(1)
            for n, v in norms.items()}
    small = channels.remove_channels(net, plan, (1, 8, 8))
    all_norms = torch.cat(list(norms.values()))
    return {"norms": all_norms, "error": error_rate(net, images.X_test, images.y_test),
            "error_removed": error_rate(small, images.X_test, images.y_test),
            "kept": sum(len(p) for p in plan.values()), "filters": len(all_norms)}
