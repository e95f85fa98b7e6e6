r"""Pruning: removing weights, and later whole channels, from a trained network.

Unstructured methods plug into PyTorch's own mechanism,
``torch.nn.utils.prune``: each is a :class:`~torch.nn.utils.prune.BasePruningMethod`
subclass with a thin function wrapper, exactly as ``prune.l1_unstructured`` is,
so they apply to any model and compose with PyTorch's methods. The pruned
module keeps ``weight_orig`` (a parameter) and ``weight_mask`` (a buffer), and
computes ``weight = weight_orig * weight_mask`` before every forward pass, so a
pruned weight stays zero through fine-tuning (its gradient is zero too).

``amount`` means what it means in PyTorch: an ``int`` is a count of weights to
remove, a ``float`` in [0, 1] a fraction of them.

References
----------
.. [1] S. Han, J. Pool, J. Tran, W. J. Dally, "Learning both Weights and Connections for
   Efficient Neural Networks", NeurIPS 2015, arXiv:1506.02626.
.. [2] S. Han, H. Mao, W. J. Dally, "Deep Compression", ICLR 2016, arXiv:1510.00149.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from numbers import Integral, Real

import torch
from torch import nn
from torch.nn.utils import prune

__all__ = ["MagnitudePruning", "magnitude_prune", "global_magnitude_prune", "sparsity", "remove_reparametrization"]


def _check_amount(amount, n: int) -> int:
    """Validate ``amount`` as PyTorch does, but with a ValueError naming it; return the count to prune."""
    if isinstance(amount, bool) or not isinstance(amount, (Integral, Real)):
        raise ValueError(f"amount must be an int (a count) or a float in [0, 1] (a fraction), got {amount!r}")
    if isinstance(amount, Integral):
        if not 0 <= amount <= n:
            raise ValueError(f"amount must be a count in [0, {n}] (the tensor has {n} entries), got {amount}")
        return int(amount)
    if not 0.0 <= float(amount) <= 1.0:
        raise ValueError(f"amount must be a fraction in [0, 1], got {amount}")
    return round(float(amount) * n)


class MagnitudePruning(prune.BasePruningMethod):
    r"""Remove the weights of smallest magnitude :math:`|w|` (Han et al. 2015).

    The mask keeps the :math:`n - k` largest :math:`|w|` and zeroes the :math:`k`
    smallest, :math:`k` given by ``amount``. Among weights already masked, new
    removals are chosen from the remaining ones only (PyTorch's iterative
    pruning convention), so pruning twice by 50 % leaves 25 %.

    Parameters
    ----------
    amount : int or float
        Weights to remove: a count, or a fraction in [0, 1].
    """

    PRUNING_TYPE = "unstructured"

    def __init__(self, amount):
        self.amount = amount

    def compute_mask(self, t: torch.Tensor, default_mask: torch.Tensor) -> torch.Tensor:
        k = _check_amount(self.amount, t.nelement())
        mask = default_mask.clone(memory_format=torch.contiguous_format)
        if k:
            # torch.topk on |w| (ties broken as PyTorch's own l1_unstructured breaks them)
            smallest = torch.topk(torch.abs(t).view(-1), k=k, largest=False)
            mask.view(-1)[smallest.indices] = 0
        return mask

    @classmethod
    def apply(cls, module: nn.Module, name: str, amount):
        return super().apply(module, name, amount=amount)


def magnitude_prune(module: nn.Module, name: str = "weight", amount=0.5) -> nn.Module:
    """Prune ``module.<name>`` by magnitude, in place; returns ``module``.

    Gives the same mask as ``torch.nn.utils.prune.l1_unstructured(module, name, amount)``.

    >>> layer = nn.Linear(4, 3)
    >>> _ = magnitude_prune(layer, "weight", amount=6)
    >>> int((layer.weight == 0).sum())
    6
    """
    if not hasattr(module, name):
        raise ValueError(f"name must be a parameter of the module, got {name!r}")
    _check_amount(amount, getattr(module, name).nelement())
    MagnitudePruning.apply(module, name, amount)
    return module


def global_magnitude_prune(parameters: Sequence[tuple[nn.Module, str]], amount) -> None:
    """Prune the smallest-magnitude weights across several tensors at once (one threshold for all).

    Gives the same masks as ``prune.global_unstructured(parameters, pruning_method=prune.L1Unstructured,
    amount=amount)``: the scores of all tensors are pooled, weights already masked
    are never counted again, and each tensor receives its share of the pooled mask.
    """
    parameters = list(parameters)
    if not parameters:
        raise ValueError("parameters must list at least one (module, name) pair, got []")
    scores, masks = [], []
    for module, name in parameters:
        if not hasattr(module, name):
            raise ValueError(f"parameters names {name!r}, which is not a parameter of {type(module).__name__}")
        w = getattr(module, name)
        scores.append(w.detach().abs().reshape(-1))
        masks.append(getattr(module, name + "_mask", torch.ones_like(w)).reshape(-1))
    scores_all, masks_all = torch.cat(scores), torch.cat(masks)
    _check_amount(amount, scores_all.nelement())
    # Like PyTorch: masked weights score 0, and the count is taken over the unmasked ones.
    method = MagnitudePruning(amount)
    method._tensor_name = "global"
    container = prune.PruningContainer()
    container._tensor_name = "global"
    container.add_pruning_method(method)
    final = container.compute_mask(scores_all * masks_all, default_mask=masks_all)
    start = 0
    for (module, name), s in zip(parameters, scores):
        piece = final[start:start + s.numel()].view_as(getattr(module, name))
        start += s.numel()
        prune.custom_from_mask(module, name, mask=piece)


def sparsity(tensors: Iterable[torch.Tensor]) -> float:
    """Fraction of entries that are exactly zero, over all ``tensors``."""
    zeros = total = 0
    for t in tensors:
        zeros += int((t == 0).sum())
        total += t.numel()
    if total == 0:
        raise ValueError("tensors must contain at least one entry")
    return zeros / total


def remove_reparametrization(net: nn.Module) -> nn.Module:
    """Make every pruning permanent (``weight`` becomes a plain parameter holding the zeros)."""
    for module in net.modules():
        for hook in list(module._forward_pre_hooks.values()):
            if isinstance(hook, prune.BasePruningMethod):
                prune.remove(module, hook._tensor_name)
    return net


def iterative_magnitude_prune(net: nn.Module, data, keep, steps: int, finetune, final_epochs: int = 0,
                              layers: Sequence[str] | None = None) -> list[dict]:
    r"""Han et al.'s train-prune-retrain loop: prune by magnitude towards a kept fraction in
    ``steps`` geometric steps, fine-tuning after each.

    At step :math:`s` of :math:`S` the kept fraction is :math:`k^{s/S}`, so each step removes
    the same fraction of what is left. Masks stay fixed while fine-tuning.

    Parameters
    ----------
    net : nn.Module
        A trained model, pruned in place.
    data : lib.data.Split
        Training and test data.
    keep : dict of str to float, or float
        Per layer (module name as in ``net.named_modules()``) the fraction of its weights
        kept at the end; or one fraction for the ``layers`` together, pruned with a single
        global threshold (:func:`global_magnitude_prune`), which lets the layers share
        the cut unevenly.
    steps : int
        Prune-and-fine-tune rounds.
    finetune : lib.train.TrainConfig
        Fine-tuning settings for each round (its ``seed`` is offset by the round).
    final_epochs : int
        Extra fine-tuning epochs after the last round.
    layers : sequence of str, optional
        The layers a global ``keep`` applies to.

    Returns
    -------
    list of dict
        Per round: ``step``, ``kept`` (fraction of the pruned layers' weights), ``compression``
        (their dense count over non-zeros), per-layer ``layer_kept`` and ``test_error``.
    """
    from dataclasses import replace

    from .train import accuracy, fit

    if isinstance(steps, bool) or not isinstance(steps, Integral) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    modules = dict(net.named_modules())
    names = list(keep) if isinstance(keep, dict) else list(layers or [])
    if not names:
        raise ValueError("keep must map layer names to fractions, or be one fraction with layers=[...]")
    fractions = keep if isinstance(keep, dict) else {n: keep for n in names}
    for name in names:
        if name not in modules or not hasattr(modules[name], "weight"):
            raise ValueError(f"keep names {name!r}, which is not a module with a weight in this net")
        k = fractions[name]
        if isinstance(k, bool) or not isinstance(k, Real) or not 0.0 < float(k) <= 1.0:
            raise ValueError(f"keep[{name!r}] must be a fraction in (0, 1], got {k!r}")

    def kept_count(m):
        return int(m.weight_mask.sum()) if hasattr(m, "weight_mask") else m.weight.numel()

    history = []
    total = sum(modules[n].weight.numel() for n in names)
    for s in range(1, steps + 1):
        if isinstance(keep, dict):
            for name in names:
                m = modules[name]
                target = round(float(fractions[name]) ** (s / steps) * m.weight.numel())
                magnitude_prune(m, "weight", amount=max(0, kept_count(m) - target))
        else:
            target = round(float(keep) ** (s / steps) * total)
            current = sum(kept_count(modules[n]) for n in names)
            global_magnitude_prune([(modules[n], "weight") for n in names], max(0, current - target))
        epochs = finetune.num_epochs + (final_epochs if s == steps else 0)
        fit(net, data, replace(finetune, num_epochs=epochs, seed=finetune.seed + s), desc=f"prune step {s}/{steps}")
        kept = sum(kept_count(modules[n]) for n in names)
        history.append({"step": s, "kept": kept / total, "compression": total / kept,
                        "layer_kept": {n: kept_count(modules[n]) / modules[n].weight.numel() for n in names},
                        "test_error": 1.0 - accuracy(net, data.X_test, data.y_test)})
    return history


#: Han et al. (2015), Table 1: dense and pruned test error (%), parameters, and compression.
HAN_2015 = {
    "lenet_300_100": {"dense_error": 1.64, "pruned_error": 1.59, "params": 267_000, "compression": 12},
    "lenet5": {"dense_error": 0.80, "pruned_error": 0.77, "params": 431_000, "compression": 12},
}

#: The layers pruned in each model (every Linear and Conv2d weight), by module name.
PRUNABLE = {"lenet_300_100": ["0", "2", "4"], "lenet5": ["0", "2", "5", "7"]}


def reproduce_han2015(model: str = "lenet_300_100", keep: float = 0.0818, steps: int = 10,
                      finetune_epochs: int = 5, final_epochs: int = 15, lr: float = 0.02,
                      weight_decay: float = 5e-4) -> dict:
    """Train the dense model on MNIST, prune it globally by magnitude to ``keep`` of its weights
    in ``steps`` rounds of prune-and-fine-tune, and report what Han et al.'s Table 1 reports.

    Everything is cached by the full configuration (dense weights by :func:`lib.train.train_cached`,
    the result and the pruned weights here), so only a changed setting recomputes.

    Returns
    -------
    dict
        ``dense_error``, ``pruned_error`` (fractions), ``weights``, ``nonzero``, ``compression``,
        per-layer ``layer_kept``, the per-round ``history``, and the paper's numbers under ``paper``.
    """
    import json
    from dataclasses import asdict, replace

    from .config import cache_dir, config_key
    from .train import TrainConfig, accuracy, load_data, train_cached

    if model not in PRUNABLE:
        raise ValueError(f"model must be one of {sorted(PRUNABLE)!r}, got {model!r}")
    dense_cfg = TrainConfig(model=model, num_epochs=20 if model == "lenet_300_100" else 15)
    ft = replace(dense_cfg, num_epochs=finetune_epochs, lr=lr, weight_decay=weight_decay)
    key = config_key({"dense": asdict(dense_cfg), "finetune": asdict(ft), "keep": keep, "steps": steps,
                      "final_epochs": final_epochs, "method": "global-magnitude"})
    path = cache_dir("pruned") / f"han2015-{model}-{key}"
    if path.with_suffix(".json").exists():
        return json.loads(path.with_suffix(".json").read_text())
    data = load_data(dense_cfg)
    net, _ = train_cached(dense_cfg, data)
    dense_error = 1.0 - accuracy(net, data.X_test, data.y_test)
    history = iterative_magnitude_prune(net, data, keep, steps, ft, final_epochs, layers=PRUNABLE[model])
    modules = dict(net.named_modules())
    weights = sum(modules[n].weight.numel() for n in PRUNABLE[model])
    nonzero = sum(int(modules[n].weight_mask.sum()) for n in PRUNABLE[model])
    result = {"model": model, "dense_error": dense_error, "pruned_error": history[-1]["test_error"],
              "weights": weights, "nonzero": nonzero, "compression": weights / nonzero,
              "layer_kept": history[-1]["layer_kept"], "history": history, "paper": HAN_2015[model]}
    torch.save(net.state_dict(), path.with_suffix(".pt"))
    path.with_suffix(".json").write_text(json.dumps(result))
    return result

