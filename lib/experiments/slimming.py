r"""Network Slimming (Liu et al. 2017) reproduced on MNIST with the workbench's VGG-small.

1. *Sparsity training*: train ``vgg_small`` with the loss :math:`L + \lambda \sum |\gamma|`
   (:func:`lib.structured.slimming_penalty`, through :func:`lib.workbench.train.fit`'s
   ``penalty`` hook), otherwise exactly as the plain baseline.
2. *Prune*: remove a fraction of all channels with the smallest :math:`|\gamma|`, one global
   threshold (:func:`lib.channels.channel_plan`), physically (:func:`lib.channels.remove_channels`).
   The fraction is chosen on the validation split (:func:`network_slimming`).
3. *Fine-tune* the smaller network, recording its validation error along the way.

Test errors are read once per reported network. Everything trained is kept in the one
cache (:mod:`lib.core.cache`); latencies are not cached (they are measured afresh where shown).

References
----------
.. [1] Z. Liu, J. Li, Z. Shen, G. Huang, S. Yan, C. Zhang, "Learning Efficient Convolutional
   Networks through Network Slimming", ICCV 2017, arXiv:1708.06519.
"""

from __future__ import annotations

import copy
from dataclasses import asdict

import torch
from torch import nn

from lib import channels
from lib.core import cache
from lib.core.checks import check_int, check_real
from lib.structured import slimming_penalty
from lib.workbench.data import Split
from lib.workbench.measure import count_macs, count_params
from lib.workbench.models import vgg_small
from lib.workbench.train import TrainConfig, build, error_rate, fit, load_data, train_cached

__all__ = ["FRACTIONS", "SLACK", "slimming_config", "finetune_curve", "network_slimming", "slimming_nets",
           "slimmed_net", "slimming_plan"]

#: The fractions of channels the validation search tries (:func:`network_slimming`).
FRACTIONS = (0.4, 0.5, 0.55, 0.6, 0.7)

#: How much validation error removal may add, before fine-tuning, for a fraction to be chosen: 0.5 point.
SLACK = 0.005


def slimming_config(lam: float = 1e-2, epochs: int = 3, finetune_epochs: int = 2, lr: float = 0.05,
                    finetune_lr: float = 0.01, seed: int = 0) -> dict:
    """The full, validated configuration of :func:`network_slimming` (same arguments), JSON-able.

    Keys: ``baseline`` (the :class:`lib.workbench.train.TrainConfig` of both trainings, as a dict),
    ``lam``, ``finetune_epochs``, ``finetune_lr``.

    >>> slimming_config()["baseline"]["model"]
    'vgg_small'
    """
    lam = check_real("lam", lam, 0.0, 1.0)
    epochs = check_int("epochs", epochs, 1)
    finetune_epochs = check_int("finetune_epochs", finetune_epochs, 0)
    lr = check_real("lr", lr, 0.0, 10.0, lo_open=True)
    finetune_lr = check_real("finetune_lr", finetune_lr, 0.0, 10.0, lo_open=True)
    seed = check_int("seed", seed, 0, 2**32 - 1)
    base_cfg = TrainConfig(model="vgg_small", num_epochs=epochs, lr=lr, seed=seed)
    return {"baseline": asdict(base_cfg), "lam": lam, "finetune_epochs": finetune_epochs, "finetune_lr": finetune_lr}


def finetune_curve(net: nn.Module, data: Split, epochs: int, lr: float, seed: int = 0,
                   points_per_epoch: int = 4, batch_size: int = 128) -> list[tuple[float, float]]:
    """Fine-tune ``net`` in place with :func:`lib.workbench.train.fit` and return its recovery curve:
    (epochs done, validation error) pairs, ``points_per_epoch`` an epoch.

    SGD with momentum 0.9, weight decay :math:`10^{-4}`, cosine decay from ``lr`` to 0 over all
    ``epochs``, seeded batch order. Masks from ``torch.nn.utils.prune`` stay in force.
    """
    epochs = check_int("epochs", epochs, 0)
    check_real("lr", lr, 0.0, 10.0, lo_open=True)
    seed = check_int("seed", seed, 0, 2**32 - 1)
    points_per_epoch = check_int("points_per_epoch", points_per_epoch, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    if epochs == 0:
        return []
    steps_per_epoch = (len(data.y_train) + batch_size - 1) // batch_size
    cfg = TrainConfig(num_epochs=epochs, lr=lr, seed=seed, batch_size=batch_size)
    history = fit(net, data, cfg, eval_every=max(1, steps_per_epoch // points_per_epoch), desc="fine-tuning")
    return [(h["step"] / steps_per_epoch, h["val_error"]) for h in history]


def _plan(net: nn.Module, fraction: float) -> dict:
    convs = [n for n, m in net.named_modules() if isinstance(m, nn.Conv2d)]
    return channels.channel_plan(net, {n: channels.channel_scores(net, n, "bn_gamma") for n in convs}, fraction,
                                 "global")


def _slimming(lam: float, epochs: int, finetune_epochs: int, lr: float, finetune_lr: float, seed: int) -> dict:
    config = slimming_config(lam, epochs, finetune_epochs, lr, finetune_lr, seed)
    base_cfg = TrainConfig(**config["baseline"])
    data = load_data(base_cfg)
    baseline, _ = train_cached(base_cfg)
    slim = build(base_cfg)
    fit(slim, data, base_cfg, desc="sparsity training", penalty=lambda net: lam * slimming_penalty(net))
    slim_val = error_rate(slim, data.X_val, data.y_val)

    # the fraction: the largest whose removal costs at most SLACK of validation error before fine-tuning
    search = []
    for fraction in FRACTIONS:
        small = channels.remove_channels(slim, _plan(slim, fraction), (1, 28, 28))
        search.append({"fraction": fraction, "val_error": error_rate(small, data.X_val, data.y_val)})
    passing = [s["fraction"] for s in search if s["val_error"] <= slim_val + SLACK]
    fraction = max(passing) if passing else min(FRACTIONS)

    plan = _plan(slim, fraction)
    masked = channels.mask_channels(copy.deepcopy(slim), plan)
    pruned = channels.remove_channels(slim, plan, (1, 28, 28))
    base_pruned = channels.remove_channels(baseline, _plan(baseline, fraction), (1, 28, 28))
    gammas = {n: channels.channel_scores(slim, n, "bn_gamma") for n in plan}
    dropped = torch.cat([g[torch.isin(torch.arange(len(g)), plan[n], invert=True)] for n, g in gammas.items()])
    before = error_rate(pruned, data.X_val, data.y_val)
    curve = finetune_curve(pruned, data, finetune_epochs, finetune_lr, seed)
    macs = {"dense": count_macs(baseline, (1, 28, 28))["total"], "removed": count_macs(pruned, (1, 28, 28))["total"]}
    params = {"dense": count_params(baseline), "removed": count_params(pruned)}
    result = {
        "config": {**config, "prune_fraction": fraction}, "prune_fraction": fraction, "search": search,
        "slim_val_error": slim_val,
        "dense_error": error_rate(baseline, data.X_test, data.y_test),
        "slim_trained_error": error_rate(slim, data.X_test, data.y_test),
        "pruned_error_before_finetune": error_rate(channels.remove_channels(slim, plan, (1, 28, 28)),
                                                   data.X_test, data.y_test),
        "masked_error": error_rate(masked, data.X_test, data.y_test),
        "baseline_pruned_error_before_finetune": error_rate(base_pruned, data.X_test, data.y_test),
        "pruned_error": error_rate(pruned, data.X_test, data.y_test),
        "recovery": [[0.0, before]] + [list(p) for p in curve],
        "channels_before": {n: int(m.weight.shape[0]) for n, m in slim.named_modules() if n in plan},
        "channels_after": {n: len(plan[n]) for n in plan},
        "gamma_threshold": float(dropped.max()) if len(dropped) else 0.0,
        "gammas_slim": channels.batchnorm_scales(slim), "gammas_baseline": channels.batchnorm_scales(baseline),
        "params": params, "param_ratio": params["dense"] / params["removed"],
        "macs": macs, "mac_ratio": macs["dense"] / macs["removed"],
    }
    return {"result": result, "slim": slim.state_dict(), "pruned": pruned.state_dict()}


_slimming_memo = cache.memo(_slimming, name="slimming", store="torch")


def network_slimming(lam: float = 1e-2, epochs: int = 3, finetune_epochs: int = 2, lr: float = 0.05,
                     finetune_lr: float = 0.01, seed: int = 0) -> dict:
    r"""Reproduce Network Slimming (Liu et al. 2017) on MNIST with :func:`lib.workbench.models.vgg_small`.

    The plain baseline (:class:`lib.workbench.train.TrainConfig` with ``model="vgg_small"``,
    ``lr``, ``num_epochs=epochs``, ``seed``; :func:`lib.workbench.train.train_cached`) and the
    sparsity-trained net (same, plus :math:`\lambda \sum |\gamma|`) are trained on MNIST's 55,000
    training images. The fraction of channels removed is the largest of :data:`FRACTIONS` whose
    removal (no fine-tuning) raises the *validation* error by at most :data:`SLACK` over the
    sparsity-trained net's; the removed network is then fine-tuned ``finetune_epochs`` at
    ``finetune_lr`` (cosine decay), its validation error recorded four times an epoch.

    Parameters
    ----------
    lam : float
        :math:`\lambda`, the weight of the penalty. The paper's :math:`10^{-4}` is for 160 epochs
        on CIFAR: the penalty moves each scale by at most :math:`\eta\lambda` per step, about 0.035
        in total over 3 MNIST epochs at :math:`\lambda = 10^{-3}`, too little to separate anything;
        :math:`10^{-2}` moves each scale by up to about 0.35, enough to drive the unneeded ones to zero.
    epochs, finetune_epochs : int
        Training and fine-tuning epochs.
    lr, finetune_lr : float
        Initial learning rates (SGD, momentum 0.9, cosine decay).
    seed : int
        Seed of the initialisation and the batch order.

    Notes
    -----
    A scale followed (through ReLU and pooling) by a convolution and *another* BatchNorm is nearly
    scale-invariant: multiplying all of a layer's :math:`\gamma` and :math:`\beta` by :math:`s > 0`
    leaves the next BatchNorm's output unchanged. The penalty then shrinks such layers' scales *as a
    whole*, so a global threshold set much above the zeros empties those layers first. And a channel
    with :math:`\gamma = 0` still outputs the constant :math:`\mathrm{ReLU}(\beta)`; removing it (or
    masking :math:`\beta` too, as :func:`lib.channels.mask_channels` does) shifts the next layer a
    little, which fine-tuning absorbs.

    Returns
    -------
    dict
        ``config`` (with the chosen ``prune_fraction``), ``prune_fraction``, ``search`` (validation
        error after removal per fraction tried), ``slim_val_error``; test errors (fractions):
        ``dense_error`` (baseline), ``slim_trained_error``, ``pruned_error_before_finetune``,
        ``masked_error`` (masked instead of removed: equal up to rounding), ``pruned_error`` (after
        fine-tuning), ``baseline_pruned_error_before_finetune`` (the baseline pruned at the same
        fraction by its own :math:`|\gamma|`); ``recovery``: ``[epochs, validation error]`` pairs from
        ``[0, error before fine-tuning]``; ``channels_before`` / ``channels_after`` per convolution;
        ``gamma_threshold`` (the largest pruned :math:`|\gamma|`); ``params``, ``macs``
        (``{"dense", "removed"}``), ``param_ratio``, ``mac_ratio``; ``gammas_slim``,
        ``gammas_baseline`` (every :math:`|\gamma|`, for a histogram).

    References
    ----------
    .. [1] Z. Liu et al., arXiv:1708.06519.
    """
    config = slimming_config(lam, epochs, finetune_epochs, lr, finetune_lr, seed)
    kwargs = {"lam": config["lam"], "epochs": config["baseline"]["num_epochs"], "finetune_epochs": config["finetune_epochs"],
              "lr": config["baseline"]["lr"], "finetune_lr": config["finetune_lr"], "seed": config["baseline"]["seed"]}
    return _slimming_memo(**kwargs)["result"]


def _stored(kwargs: dict) -> dict:
    config = slimming_config(**kwargs)
    return _slimming_memo(lam=config["lam"], epochs=config["baseline"]["num_epochs"],
                          finetune_epochs=config["finetune_epochs"], lr=config["baseline"]["lr"],
                          finetune_lr=config["finetune_lr"], seed=config["baseline"]["seed"])


def slimming_nets(**kwargs) -> tuple[nn.Sequential, nn.Sequential]:
    r"""The two dense VGG-smalls of :func:`network_slimming` (same keyword arguments), in eval mode:
    trained plainly (the baseline) and with the penalty :math:`\lambda \sum |\gamma|`."""
    config = slimming_config(**kwargs)
    out = _stored(kwargs)
    base_cfg = TrainConfig(**config["baseline"])
    baseline, _ = train_cached(base_cfg)
    slim = build(base_cfg)
    slim.load_state_dict(out["slim"])
    return baseline.eval(), slim.eval()


def slimmed_net(**kwargs) -> nn.Sequential:
    """The pruned and fine-tuned VGG-small of :func:`network_slimming` (same keyword arguments), in eval mode."""
    config = slimming_config(**kwargs)
    out = _stored(kwargs)
    net = vgg_small(channels=tuple(out["result"]["channels_after"].values()), seed=config["baseline"]["seed"])
    net.load_state_dict(out["pruned"])
    return net.eval()


def slimming_plan(**kwargs) -> dict[str, torch.Tensor]:
    """The channel plan :func:`network_slimming` applied (same keyword arguments): the channels kept
    per convolution under the global :math:`|\\gamma|` threshold of the sparsity-trained net."""
    _, slim = slimming_nets(**kwargs)
    return _plan(slim, _stored(kwargs)["result"]["prune_fraction"])

