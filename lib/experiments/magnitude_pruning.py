r"""The magnitude-pruning chapter's experiments: one prune on a slider, small dense networks of equal
size, and dynamic network surgery against Han et al.'s loop.

Every choice (how much to prune, when to stop) is read from the validation split; the test
error is measured once per reported result. Results are kept in the one cache
(:mod:`lib.core.cache`), keyed by the arguments and by the code they ran.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from torch import nn

from lib import pruning
from lib.core import cache
from lib.core.checks import check_choice, check_int, check_real
from lib.experiments.han2015 import PRUNABLE, dense_config, iterative_magnitude_prune
from lib.surgery import SurgeryMasks
from lib.workbench import measure
from lib.workbench.data import Split
from lib.workbench.models import mlp
from lib.workbench.train import TrainConfig, error_rate, fit, load_data, train_cached

__all__ = ["prune_once", "dynamic_surgery", "dense_at_equal_size", "surgery_vs_iterative"]

#: Bins of the fc1 weight histograms of :func:`prune_once`.
HIST_BINS = 60


def _prune_once(amount: float, scope: str) -> dict:
    cfg = dense_config("lenet_300_100")
    data = load_data(cfg)
    dense, _ = train_cached(cfg)
    layers = PRUNABLE["lenet_300_100"]
    fc1_dense = dense[0].weight.detach()
    edge = float(fc1_dense.abs().quantile(0.999))
    bins = np.linspace(-edge, edge, HIST_BINS + 1)
    net = copy.deepcopy(dense)
    mods = dict(net.named_modules())
    if scope == "global":
        pruning.global_magnitude_prune([(mods[n], "weight") for n in layers], amount=amount)
    else:
        for n in layers:
            pruning.magnitude_prune(mods[n], "weight", amount=amount)
    before = error_rate(net, data.X_test, data.y_test)
    mask = net[0].weight_mask.bool()
    w = fc1_dense.clamp(-edge, edge).numpy()
    t = float(fc1_dense[mask].abs().min()) if mask.any() else edge
    fit(net, data, replace(cfg, num_epochs=1, lr=0.01, weight_decay=5e-4), desc="fine-tuning")
    survivors = net[0].weight.detach()
    weights = [mods[n].weight for n in layers]
    sizes = {f: sum(measure.storage_bits(w, f) for w in weights) / 8000 for f in ("dense", "csr", "relative")}
    return {"error_before": before, "error_after": error_rate(net, data.X_test, data.y_test),
            "threshold": t, "minus_threshold": -t, "centres": 0.5 * (bins[1:] + bins[:-1]),
            "kept_hist": np.histogram(w[mask.numpy()], bins)[0], "pruned_hist": np.histogram(w[~mask.numpy()], bins)[0],
            "survivor_hist": np.histogram(survivors[mask].clamp(-edge, edge).numpy(), bins)[0],
            "pixel_mask": net[0].weight_mask.sum(dim=0).reshape(28, 28),
            "layer_kept": [float(mods[n].weight_mask.mean()) for n in layers], "layer_names": ["fc1", "fc2", "fc3"],
            "compression": sum(w.numel() for w in weights) / sum(int((w != 0).sum()) for w in weights),
            "dense_kb": sizes["dense"], "csr_kb": sizes["csr"], "relative_kb": sizes["relative"]}


_prune_once_memo = cache.memo(_prune_once, name="prune-once")


def prune_once(amount: float, scope: str = "global") -> dict:
    """Prune the dense LeNet-300-100 once by magnitude, then fine-tune it one epoch with the masks fixed.

    Nothing is chosen from these numbers (it is a picture of one prune), so both errors are the
    test error.

    Parameters
    ----------
    amount : float in [0, 1)
        Fraction of the weights of fc1, fc2, fc3 removed.
    scope : {"global", "per layer"}
        One threshold for the three layers (:func:`lib.pruning.global_magnitude_prune`), or each
        layer pruned by ``amount`` (:func:`lib.pruning.magnitude_prune`).

    Returns
    -------
    dict
        ``error_before``/``error_after`` (test error right after pruning and after fine-tuning),
        ``threshold``, fc1's weight histograms (``centres``, ``kept_hist``, ``pruned_hist``,
        ``survivor_hist``), ``pixel_mask`` (fc1 connections kept per input pixel), ``layer_kept``,
        ``compression``, and the storage in kB: ``dense_kb``, ``csr_kb``, ``relative_kb``.
    """
    amount = check_real("amount", amount, 0.0, 1.0, hi_open=True)
    check_choice("scope", scope, ("global", "per layer"))
    return _prune_once_memo(amount=amount, scope=scope)


def dynamic_surgery(net: nn.Module, data: Split, amount: float, layers: Sequence[str], cfg: TrainConfig,
                    margin: float = 0.1, update_every: int = 1, record_every: int = 0) -> dict:
    r"""Dynamic network surgery (Guo, Yao and Chen 2016): train with masks that prune and splice
    weights back, then leave the net pruned by about ``amount``.

    The training run is :func:`lib.workbench.train.fit` with the hooks of
    :class:`lib.surgery.SurgeryMasks`: ``forward`` (the net with :math:`W \odot T`,
    straight-through) and ``after_step`` (the masks updated every ``update_every`` steps). The
    masks start as magnitude pruning of the weights given; at the end they are attached as
    ``torch.nn.utils.prune`` reparametrisations, so the net looks like any other pruned net.

    Parameters
    ----------
    net : nn.Module
        A (usually trained, dense) model; trained and pruned in place.
    data : lib.workbench.data.Split
        Trained on the training split; records measure the validation error.
    amount : float in [0, 1)
        Fraction of each listed layer's weights removed.
    layers : sequence of str
        Module names whose ``weight`` is pruned; not already pruned.
    cfg : lib.workbench.train.TrainConfig
        Training settings (``num_epochs``, ``lr``, ``momentum``, ``weight_decay``, ``batch_size``,
        ``seed``, ``lr_decay``).
    margin : float in [0, 1)
        Half-width of the hysteresis band, relative to the threshold (the paper's 0.1).
    update_every : int >= 1
        Optimisation steps between mask updates.
    record_every : int >= 0
        Steps between records in ``history``; 0 records at the end of every epoch.

    Returns
    -------
    dict
        ``kept`` (fraction over the listed layers), ``layer_kept``, ``compression`` (dense count
        over kept), ``val_error`` and ``history``: per record ``epoch``, ``step``, ``loss``,
        ``kept``, ``layer_kept``, ``val_error``, ``spliced`` and ``pruned`` (weights whose mask
        went 0 to 1, and 1 to 0, since the previous record; the first compares with the dense start).

    References
    ----------
    .. [1] Y. Guo, A. Yao, Y. Chen, "Dynamic Network Surgery for Efficient DNNs", NeurIPS 2016,
       arXiv:1608.04493.
    """
    record_every = check_int("record_every", record_every, 0)
    check_int("num_epochs", cfg.num_epochs, 1)
    masks = SurgeryMasks(net, layers, amount, margin, update_every)
    previous = {name: m.new_ones(m.shape) for name, m in masks.masks.items()}

    def evaluate(net):
        nonlocal previous
        now = masks.masks
        out = {"kept": masks.kept(), "layer_kept": masks.layer_kept(),
               "val_error": error_rate(net, data.X_val, data.y_val, forward=masks.forward),
               "spliced": sum(int(((previous[n] == 0) & (now[n] == 1)).sum()) for n in now),
               "pruned": sum(int(((previous[n] == 1) & (now[n] == 0)).sum()) for n in now)}
        previous = {name: m.clone() for name, m in now.items()}
        return out

    history = fit(net, data, cfg, forward=masks.forward, after_step=masks.after_step, evaluate=evaluate,
                  eval_every=record_every, desc="dynamic surgery")
    masks.attach()
    kept = masks.kept()
    return {"kept": kept, "layer_kept": masks.layer_kept(), "compression": 1.0 / kept,
            "val_error": error_rate(net, data.X_val, data.y_val), "history": history}


def _small_dense(hidden: list, seed: int) -> dict:
    cfg = replace(dense_config("lenet_300_100"), seed=seed)
    data = load_data(cfg)
    net = mlp([784, hidden[0], hidden[1], 10], seed=seed)
    fit(net, data, cfg, desc=f"dense 784-{hidden[0]}-{hidden[1]}-10")
    return {"val_error": error_rate(net, data.X_val, data.y_val), "test_error": error_rate(net, data.X_test, data.y_test)}


_small_dense_memo = cache.memo(_small_dense, name="small-dense")


def dense_at_equal_size(model: str = "lenet_300_100", amount: float = 0.92, seed: int = 0) -> dict:
    r"""Train a small dense perceptron with as many weights as ``model`` pruned by ``amount``.

    Both hidden layers of LeNet-300-100 shrink by the same factor :math:`s`, the root of
    :math:`784\cdot300s + 300s\cdot100s + 100s\cdot10 = (1 - \text{amount})\cdot266{,}200`, and the
    small network is trained from scratch with the dense model's own recipe (:func:`dense_config`).

    Returns
    -------
    dict
        ``amount``, ``kept`` (1 - amount), ``hidden`` (the two widths), ``weights``, ``val_error``
        and ``test_error``.
    """
    check_choice("model", model, ["lenet_300_100"])
    amount = check_real("amount", amount, 0.0, 1.0, hi_open=True)
    seed = check_int("seed", seed, 0, 2**32 - 1)
    kept = 1.0 - amount
    full = 784 * 300 + 300 * 100 + 100 * 10
    a, b = 300 * 100, 784 * 300 + 100 * 10
    s = (-b + math.sqrt(b * b + 4 * a * kept * full)) / (2 * a)
    h1, h2 = max(1, round(300 * s)), max(1, round(100 * s))
    return {"amount": amount, "kept": kept, "hidden": [h1, h2], "weights": 784 * h1 + h1 * h2 + h2 * 10,
            **_small_dense_memo(hidden=[h1, h2], seed=seed)}


def _surgery_vs_iterative(model: str, amount: float, epochs: int, lr: float, seed: int) -> dict:
    dense_cfg = dense_config(model)
    cfg = replace(dense_cfg, num_epochs=epochs, lr=lr, weight_decay=5e-4, seed=seed)
    data = load_data(dense_cfg)
    dense, _ = train_cached(dense_cfg)
    net = copy.deepcopy(dense)
    dns = dynamic_surgery(net, data, amount, PRUNABLE[model], cfg, record_every=0)
    base = copy.deepcopy(dense)
    history = iterative_magnitude_prune(base, data, amount, 5, replace(cfg, num_epochs=epochs // 5), 0,
                                        layers=PRUNABLE[model])
    return {"kept": dns["kept"], "val_error": dns["val_error"], "test_error": error_rate(net, data.X_test, data.y_test),
            "spliced": sum(h["spliced"] for h in dns["history"]),
            "baseline_kept": history[-1]["kept"], "baseline_val_error": history[-1]["val_error"],
            "baseline_error": error_rate(base, data.X_test, data.y_test),
            "dense_error": error_rate(dense, data.X_test, data.y_test)}


_surgery_vs_iterative_memo = cache.memo(_surgery_vs_iterative, name="surgery-vs-iterative")


def surgery_vs_iterative(model: str = "lenet_300_100", amount: float = 0.982, epochs: int = 10,
                         lr: float = 0.01, seed: int = 0) -> dict:
    """Dynamic network surgery against Han et al.'s loop at the same amount and epoch budget.

    Both start from the cached dense ``model``. Surgery trains ``epochs`` epochs with
    :func:`dynamic_surgery`; the baseline prunes globally by magnitude in 5 geometric steps of
    ``epochs // 5`` epochs each (:func:`lib.experiments.han2015.iterative_magnitude_prune`).
    Nothing is tuned on the result: the test errors are read once.

    Returns
    -------
    dict
        ``kept``, ``val_error``, ``test_error``, ``spliced`` (weights revived over training) for
        surgery; ``baseline_kept``, ``baseline_val_error``, ``baseline_error``; ``dense_error``.
    """
    check_choice("model", model, sorted(PRUNABLE))
    amount = check_real("amount", amount, 0.0, 1.0, hi_open=True)
    epochs = check_int("epochs", epochs, 5)
    lr = check_real("lr", lr, 0.0, 10.0, lo_open=True)
    seed = check_int("seed", seed, 0, 2**32 - 1)
    return _surgery_vs_iterative_memo(model=model, amount=amount, epochs=epochs, lr=lr, seed=seed)
