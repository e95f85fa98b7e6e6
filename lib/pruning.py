r"""Pruning: removing weights, and later whole channels, from a trained network.

Unstructured methods plug into PyTorch's own mechanism,
``torch.nn.utils.prune``: each is a :class:`~torch.nn.utils.prune.BasePruningMethod`
subclass with a thin function wrapper, exactly as ``prune.l1_unstructured`` is,
so they apply to any model and compose with PyTorch's methods. The pruned
module keeps ``weight_orig`` (a parameter) and ``weight_mask`` (a buffer), and
computes ``weight = weight_orig * weight_mask`` before every forward pass, so a
pruned weight stays zero through fine-tuning (its gradient is zero too).

``amount`` means what it means in PyTorch: an ``int`` is a count of weights to
remove, a ``float`` in [0, 1] a fraction of them (:func:`check_amount`).
:func:`global_prune` ranks weights of several layers together by any importance
score, as ``prune.global_unstructured`` does; Optimal Brain Damage
(:func:`obd_prune`) is that ranking with curvature-based saliencies
(:mod:`lib.curvature`). Dynamic network surgery's masks are in :mod:`lib.surgery`;
Han et al.'s train-prune-retrain reproduction is an experiment,
:mod:`lib.experiments.han2015`.

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

from lib.core.checks import check_choice
from lib.curvature import gauss_newton_diagonal, hessian_diagonal, obd_saliency  # noqa: F401  (lib.pruning.* as before)

__all__ = ["check_amount", "AmountTypeError", "MagnitudePruning", "magnitude_prune", "global_prune",
           "global_magnitude_prune", "sparsity",
           "remove_reparametrization"]


class AmountTypeError(TypeError, ValueError):
    """``amount`` is not a number: a ``TypeError`` as in ``torch.nn.utils.prune``, and also a
    ``ValueError``, the library's error for a bad argument."""


def check_amount(amount, n: int | None = None) -> int | None:
    """Validate ``amount`` (weights to remove) as PyTorch does, with an error naming it; return the count.

    An ``int`` is a count in ``[0, n]``; a ``float`` in [0, 1] a fraction of ``n``, rounded
    to a count as ``torch.nn.utils.prune`` rounds it. A value that is not a number raises
    :class:`AmountTypeError` (a ``TypeError``, as PyTorch raises, and a ``ValueError``); a number
    out of range a ``ValueError``. With ``n=None`` (before the tensor is known, as PyTorch's
    pruning methods check at construction) only the type and sign are checked, and None returned.

    >>> check_amount(0.25, 10), check_amount(3, 10), check_amount(3)
    (2, 3, None)
    """
    if isinstance(amount, bool) or not isinstance(amount, (Integral, Real)):
        raise AmountTypeError(f"amount must be an int (a count) or a float in [0, 1] (a fraction), got {amount!r}")
    if n is None:
        if isinstance(amount, Integral) and amount < 0:
            raise ValueError(f"amount must be a non-negative count, got {amount}")
        if not isinstance(amount, Integral) and not 0.0 <= float(amount) <= 1.0:
            raise ValueError(f"amount must be a fraction in [0, 1], got {amount}")
        return None
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
        Weights to remove: a count, or a fraction in [0, 1]. Checked at construction as
        PyTorch's methods check it (a fraction outside [0, 1] or a negative count:
        ``ValueError``; not a number: ``TypeError``), and against the tensor's size when a
        mask is computed.
    """

    PRUNING_TYPE = "unstructured"

    def __init__(self, amount):
        check_amount(amount)
        self.amount = amount

    def compute_mask(self, t: torch.Tensor, default_mask: torch.Tensor) -> torch.Tensor:
        k = check_amount(self.amount, t.nelement())
        mask = default_mask.clone(memory_format=torch.contiguous_format)
        if k:
            # torch.topk on |w| (ties broken as PyTorch's own l1_unstructured breaks them)
            smallest = torch.topk(torch.abs(t).view(-1), k=k, largest=False)
            mask.view(-1)[smallest.indices] = 0
        return mask

    @classmethod
    def apply(cls, module: nn.Module, name: str, amount, importance_scores: torch.Tensor | None = None):
        """Prune ``module.<name>``; the ranking uses ``|importance_scores|`` if given (shaped like
        the parameter), else ``|w|``, as ``prune.L1Unstructured.apply`` does."""
        return super().apply(module, name, amount=amount, importance_scores=importance_scores)


def _check_scores(module: nn.Module, name: str, importance_scores) -> None:
    w = getattr(module, name)
    if importance_scores is not None and (not isinstance(importance_scores, torch.Tensor)
                                          or importance_scores.shape != w.shape):
        raise ValueError(f"importance_scores must be None or a tensor of shape {tuple(w.shape)} (the parameter's), "
                         f"got {getattr(importance_scores, 'shape', type(importance_scores).__name__)!r}")


def magnitude_prune(module: nn.Module, name: str = "weight", amount=0.5,
                    importance_scores: torch.Tensor | None = None) -> nn.Module:
    """Prune ``module.<name>`` by magnitude (or by ``|importance_scores|``), in place; returns ``module``.

    Gives the same mask as ``torch.nn.utils.prune.l1_unstructured(module, name, amount,
    importance_scores=importance_scores)``: the weights with the smallest scores are removed
    (by default the score is the weight itself).

    >>> layer = nn.Linear(4, 3)
    >>> _ = magnitude_prune(layer, "weight", amount=6)
    >>> int((layer.weight == 0).sum())
    6
    """
    if not hasattr(module, name):
        raise ValueError(f"name must be a parameter of the module, got {name!r}")
    check_amount(amount, getattr(module, name).nelement())
    _check_scores(module, name, importance_scores)
    MagnitudePruning.apply(module, name, amount, importance_scores=importance_scores)
    return module


def global_prune(parameters: Sequence[tuple[nn.Module, str]], amount,
                 importance_scores: dict | None = None) -> None:
    r"""Prune the weights of lowest importance across several tensors at once: one ranking, one threshold.

    The importance of a weight is :math:`|s|`, :math:`s` its entry in ``importance_scores[(module, name)]``
    (by default the weight itself, so :math:`|w|`: global magnitude pruning). The scores of
    all tensors are pooled, weights already masked are not counted again (``amount`` applies
    to the remaining ones), and each tensor receives its share of the pooled mask as a
    ``torch.nn.utils.prune`` reparametrisation. This is
    ``prune.global_unstructured(parameters, prune.L1Unstructured, importance_scores=..., amount=...)``
    (the tests check the masks are identical, ties included).

    Parameters
    ----------
    parameters : sequence of (nn.Module, str)
        The tensors pruned together.
    amount : int or float
        Weights to remove: a count, or a fraction in [0, 1] of the remaining ones.
    importance_scores : dict of (nn.Module, str) to Tensor, optional
        A score per weight, shaped like it; a pair left out is scored by its own weight.

    >>> a, b = nn.Linear(4, 3), nn.Linear(3, 2)
    >>> global_prune([(a, "weight"), (b, "weight")], amount=9)
    >>> int((a.weight == 0).sum() + (b.weight == 0).sum())
    9
    """
    parameters = list(parameters)
    if not parameters:
        raise ValueError("parameters must list at least one (module, name) pair, got []")
    importance_scores = {} if importance_scores is None else importance_scores
    if not isinstance(importance_scores, dict):
        raise ValueError(f"importance_scores must be a dict of (module, name) to tensors, got {type(importance_scores).__name__}")
    scores, masks = [], []
    for module, name in parameters:
        if not isinstance(getattr(module, name, None), torch.Tensor):
            raise ValueError(f"parameters names {name!r}, which is not a parameter of {type(module).__name__}")
        w = getattr(module, name)
        s = importance_scores.get((module, name), w)
        if not isinstance(s, torch.Tensor) or s.shape != w.shape:
            raise ValueError(f"importance_scores[({type(module).__name__}, {name!r})] must be a tensor of shape "
                             f"{tuple(w.shape)}, got {getattr(s, 'shape', s)!r}")
        scores.append(s.detach().abs().reshape(-1))
        masks.append(getattr(module, name + "_mask", torch.ones_like(w)).reshape(-1))
    check_amount(amount, sum(s.numel() for s in scores))
    # as global_unstructured: a PruningContainer ranks only the unmasked weights and keeps the old zeros
    scores_all, masks_all = torch.cat(scores), torch.cat(masks)
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


def global_magnitude_prune(parameters: Sequence[tuple[nn.Module, str]], amount,
                           importance_scores: dict | None = None) -> None:
    """Prune the smallest-magnitude weights across several tensors at once (one threshold for all).

    :func:`global_prune` with the weights' own magnitudes as scores (or ``importance_scores``,
    a dict of (module, name) to tensors, where given): the same masks as
    ``prune.global_unstructured(parameters, pruning_method=prune.L1Unstructured, amount=amount,
    importance_scores=importance_scores)``.
    """
    global_prune(parameters, amount, importance_scores=importance_scores)


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


# --------------------------------------------------------------------------- optimal brain damage

def obd_prune(net: nn.Module, X: torch.Tensor, y: torch.Tensor, amount, layers: Sequence[str],
              curvature: str = "exact") -> dict[str, torch.Tensor]:
    r"""Prune the weights of least OBD saliency across ``layers``, one global ranking, in place.

    Weights are ranked by :math:`|s_k|`, the size of the predicted change of the loss. The sign is
    dropped on purpose: a negative :math:`s_k` (negative curvature, possible with the exact diagonal)
    says that the quadratic model predicts a *decrease*, but that prediction extrapolates the model
    well beyond where it holds, and the first-order term it ignores is no longer negligible
    there; so such a weight is treated as being as important as one whose removal is predicted to
    raise the loss by as much. (With ``curvature="gauss-newton"``, OBD's own choice, and for ReLU nets
    every :math:`s_k \ge 0` and the two rankings agree.)

    Masks are applied with :func:`torch.nn.utils.prune.custom_from_mask`, with PyTorch's convention
    for weights already masked: they are not counted again, ``amount`` applies to the remaining ones
    (as in :func:`global_prune`, which does the ranking). Biases are not pruned. Ties in saliency are broken as
    :class:`MagnitudePruning` breaks them.

    Parameters
    ----------
    net : nn.Module
        A trained model, pruned in place.
    X, y : tensors
        The data the saliencies are measured on (usually the training set).
    amount : int or float
        Weights to remove: a count, or a fraction in [0, 1] of the listed layers' remaining weights.
    layers : sequence of str
        Module names whose ``weight`` is pruned.
    curvature : {"exact", "gauss-newton"}
        Which Hessian diagonal (see :func:`obd_saliency`).

    Returns
    -------
    dict of str to Tensor
        The saliencies used, per layer name (before pruning).

    References
    ----------
    .. [4] Y. LeCun, J. S. Denker, S. A. Solla, "Optimal Brain Damage", NeurIPS 1989 (published 1990).
    """
    check_choice("curvature", curvature, ("exact", "gauss-newton"))
    if isinstance(layers, str) or not list(layers):
        raise ValueError(f"layers must list at least one module name, got {layers!r}")
    layers = list(layers)
    modules = dict(net.named_modules())
    names = {}
    for layer in layers:
        module = modules.get(layer)
        if module is None or not hasattr(module, "weight"):
            raise ValueError(f"layers names {layer!r}, which is not a module with a weight in this net")
        names[layer] = f"{layer}.weight_orig" if hasattr(module, "weight_orig") else f"{layer}.weight"
    total = sum(modules[layer].weight.numel() for layer in layers)
    check_amount(amount, total)
    saliency = obd_saliency(net, X, y, list(names.values()), curvature=curvature)
    global_prune([(modules[layer], "weight") for layer in layers], amount,
                 importance_scores={(modules[layer], "weight"): saliency[names[layer]] for layer in layers})
    return {layer: saliency[names[layer]] for layer in layers}


__all__ += ["hessian_diagonal", "gauss_newton_diagonal", "obd_saliency", "obd_prune"]
