r"""Structured pruning: removing groups of weights (kernel rows, kernels, filters) instead of single weights.

Unstructured pruning (:mod:`lib.pruning`) zeroes single weights. The tensor keeps its
shape, so a dense kernel does exactly the same work: the savings exist only for a
sparse format or a sparse kernel. *Structured* pruning zeroes whole groups instead,
and when the group is an entire output channel the channel can be cut out of the
network (:mod:`lib.channels`): every tensor becomes smaller, and an ordinary dense
kernel runs faster.

This module holds the groups and the training that empties them.

1. **Granularity** (Mao et al. 2017): for a convolution weight
   :math:`W \in \mathbb{R}^{C_\text{out} \times C_\text{in} \times k_h \times k_w}` the groups are
   single weights, kernel rows ("vectors"), whole :math:`k_h \times k_w` kernels, or whole
   filters :math:`W_{c,:,:,:}`. :func:`group_norms` measures each group and
   :class:`GroupMagnitudePruning` removes the weakest, inside ``torch.nn.utils.prune``.
2. **Training for sparsity**: :func:`slimming_penalty` (:math:`\sum|\gamma|`) and
   :func:`group_lasso_penalty` (:math:`\sum_g \lVert W_g \rVert_2`) push whole groups
   towards zero during training, so that pruning them afterwards costs little
   (Network Slimming end to end: :mod:`lib.experiments.slimming`).

Which channels to remove (criteria, plans) and removing them physically are in
:mod:`lib.channels`.

References
----------
.. [1] H. Mao, S. Han, J. Pool, W. Li, X. Liu, Y. Wang, W. J. Dally, "Exploring the Regularity
   of Sparse Structure in Convolutional Neural Networks", 2017, arXiv:1705.08922.
.. [2] Z. Liu, J. Li, Z. Shen, G. Huang, S. Yan, C. Zhang, "Learning Efficient Convolutional
   Networks through Network Slimming", ICCV 2017, arXiv:1708.06519.
.. [3] W. Wen, C. Wu, Y. Wang, Y. Chen, H. Li, "Learning Structured Sparsity in Deep Neural
   Networks", NeurIPS 2016, arXiv:1608.03665.
"""

from __future__ import annotations

import math
from numbers import Integral

import torch
from torch import nn
from torch.nn.utils import prune

from lib.core.checks import check_choice, check_real
from lib.pruning import check_amount

__all__ = ["GRANULARITIES", "group_norms", "GroupMagnitudePruning", "group_magnitude_prune", "slimming_penalty",
           "group_lasso_penalty"]

#: The groups a weight can be pruned in, finest first (Mao et al. 2017).
GRANULARITIES = ("weight", "vector", "kernel", "filter")


# --------------------------------------------------------------------------- 1. granularity
def _group_dims(weight: torch.Tensor, granularity: str) -> tuple[int, ...]:
    """The axes a group spans (the ones the norm reduces), after validating the pair."""
    check_choice("granularity", granularity, GRANULARITIES)
    if not isinstance(weight, torch.Tensor) or weight.dim() not in (2, 4):
        shape = tuple(weight.shape) if isinstance(weight, torch.Tensor) else type(weight).__name__
        raise ValueError(f"weight must be a 2-D Linear (out, in) or 4-D Conv2d (out, in, kh, kw) weight, got {shape}")
    if weight.dim() == 2 and granularity in ("vector", "kernel"):
        raise ValueError(f"granularity {granularity!r} needs a 4-D Conv2d weight (out, in, kh, kw); a 2-D Linear "
                         "weight has only single weights ('weight') and rows ('filter', one neuron)")
    return {"weight": (), "vector": (3,), "kernel": (2, 3), "filter": tuple(range(1, weight.dim()))}[granularity]


def group_norms(weight: torch.Tensor, granularity: str, p: float = 2) -> torch.Tensor:
    r"""The :math:`L_p` norm of every group of ``weight``.

    For a Conv2d weight :math:`W` of shape :math:`(C_\text{out}, C_\text{in}, k_h, k_w)`:

    ``"weight"``
        each weight alone, :math:`w_{o,i,r,s}`, whose norm is :math:`|w|`; shape unchanged;
    ``"vector"``
        a kernel row :math:`W_{o,i,r,:}`; shape :math:`(C_\text{out}, C_\text{in}, k_h)`;
    ``"kernel"``
        a 2-D kernel :math:`W_{o,i,:,:}`; shape :math:`(C_\text{out}, C_\text{in})`;
    ``"filter"``
        a whole filter :math:`W_{o,:,:,:}`, everything that makes output channel :math:`o`;
        shape :math:`(C_\text{out},)`;

    with :math:`\lVert W_g \rVert_p = \bigl(\sum_{w \in g} |w|^p\bigr)^{1/p}`. A Linear weight
    :math:`(C_\text{out}, C_\text{in})` has ``"weight"`` and ``"filter"`` (a row: the weights
    into one neuron) only. The result is differentiable, so it can serve as a penalty.

    >>> group_norms(torch.ones(4, 3, 2, 2), "kernel").shape
    torch.Size([4, 3])
    >>> group_norms(torch.ones(4, 3, 2, 2), "filter", p=1)
    tensor([12., 12., 12., 12.])
    """
    dims = _group_dims(weight, granularity)
    p = check_real("p", p, 0.0, math.inf, lo_open=True)
    if not dims:
        return weight.abs()
    return torch.linalg.vector_norm(weight, ord=p, dim=dims)


def _expand(group_values: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Broadcast one value per group back to the full weight shape."""
    view = group_values.reshape(group_values.shape + (1,) * (len(shape) - group_values.dim()))
    return view.expand(shape)


class GroupMagnitudePruning(prune.BasePruningMethod):
    r"""Remove the groups of smallest :math:`L_p` norm: whole kernel rows, kernels or filters.

    The mask keeps the groups of largest :math:`\lVert W_g \rVert_p` and zeroes the
    :math:`k` smallest, :math:`k` given by ``amount`` as a count or a fraction *of groups*.
    With ``granularity="filter"`` this is PyTorch's ``prune.ln_structured(..., n=p, dim=0)``;
    with ``"weight"`` it is ``prune.l1_unstructured``.

    Pruning again respects the earlier mask, as PyTorch does: norms are taken of the
    effective (masked) weight, groups already entirely zero are no longer candidates, and
    ``amount`` counts among the groups that remain, so pruning twice by 50 % leaves 25 %.

    ``PRUNING_TYPE`` is ``"global"``: PyTorch then hands :meth:`compute_mask` the whole
    tensor and the previous mask. (With ``"unstructured"`` it would hand over only the
    surviving entries as a flat vector, and the groups would be lost; ``"structured"``
    means "slices along one ``dim``", which kernels and kernel rows are not.) The mask
    itself is full-shaped, like an unstructured one.

    Parameters
    ----------
    amount : int or float
        Groups to remove: a count, or a fraction in [0, 1] of the remaining groups.
    granularity : {"weight", "vector", "kernel", "filter"}
        The group (see :func:`group_norms`).
    p : float
        The norm's order; 2 (Euclidean) by default, 1 as in Li et al. (2017).
    """

    PRUNING_TYPE = "global"

    def __init__(self, amount, granularity: str, p: float = 2):
        check_choice("granularity", granularity, GRANULARITIES)
        self.amount = amount
        self.granularity = granularity
        self.p = check_real("p", p, 0.0, math.inf, lo_open=True)

    def compute_mask(self, t: torch.Tensor, default_mask: torch.Tensor) -> torch.Tensor:
        t = t.detach()
        norms = group_norms(t * default_mask, self.granularity, self.p)
        # a group is still a candidate if any of its weights is unmasked
        alive = group_norms(default_mask.to(t.dtype), self.granularity, 1) > 0
        candidates = torch.nonzero(alive.reshape(-1)).squeeze(1)
        k = _check_group_amount(self.amount, len(candidates))
        mask = default_mask.clone(memory_format=torch.contiguous_format)
        if k:
            smallest = torch.topk(norms.reshape(-1)[candidates], k=k, largest=False).indices
            keep = torch.ones(norms.numel(), dtype=mask.dtype, device=mask.device)
            keep[candidates[smallest]] = 0
            mask *= _expand(keep.reshape(norms.shape), mask.shape)
        return mask

    @classmethod
    def apply(cls, module: nn.Module, name: str, amount, granularity: str, p: float = 2):
        return super().apply(module, name, amount=amount, granularity=granularity, p=p)


def _check_group_amount(amount, n: int) -> int:
    """``amount`` as a count of groups, validated like ``lib.pruning``'s (the message speaks of groups)."""
    if isinstance(amount, Integral) and not isinstance(amount, bool) and not 0 <= amount <= n:
        raise ValueError(f"amount must be a count in [0, {n}] (there are {n} groups to prune from), got {amount}")
    return check_amount(amount, n)


def group_magnitude_prune(module: nn.Module, name: str = "weight", amount=0.5, granularity: str = "kernel",
                          p: float = 2) -> nn.Module:
    """Prune the groups of smallest norm of ``module.<name>``, in place; returns ``module``.

    >>> conv = nn.Conv2d(3, 8, 3)
    >>> _ = group_magnitude_prune(conv, amount=6, granularity="filter")
    >>> int((conv.weight.flatten(1).abs().sum(1) == 0).sum())
    6
    """
    if not isinstance(name, str) or not isinstance(getattr(module, name, None), torch.Tensor):
        raise ValueError(f"name must be a parameter of the module, got {name!r}")
    weight = getattr(module, name)
    check_real("p", p, 0.0, math.inf, lo_open=True)
    _check_group_amount(amount, group_norms(weight.detach(), granularity).numel())
    GroupMagnitudePruning.apply(module, name, amount, granularity, p)
    return module


# --------------------------------------------------------------------------- 2. training for sparsity
def slimming_penalty(net: nn.Module) -> torch.Tensor:
    r"""Network Slimming's sparsity penalty :math:`\sum_\gamma |\gamma|` over every BatchNorm scale.

    Added to the loss as :math:`\lambda \sum |\gamma|` (Liu et al. 2017 use
    :math:`\lambda = 10^{-4}`), its subgradient :math:`\lambda \operatorname{sign}(\gamma)`
    pulls every scale towards zero at a constant rate, which the loss resists only for
    the channels it needs: the scales split into a useful group and a near-zero group.

    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 8, 3), nn.BatchNorm2d(8))
    >>> slimming_penalty(net).item()  # PyTorch initialises gamma = 1
    12.0
    """
    scales = [m.weight for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine]
    if not scales:
        raise ValueError("net must contain a BatchNorm layer with a scale (affine=True) for the slimming penalty")
    return sum(s.abs().sum() for s in scales)


def group_lasso_penalty(net: nn.Module, granularity: str = "filter") -> torch.Tensor:
    r"""Structured Sparsity Learning's group lasso :math:`\sum_{\text{conv}} \sum_g \lVert W_g \rVert_2`.

    The :math:`L_2` norm of a group is not differentiable at zero, like :math:`|x|`, so
    minimising :math:`\lambda \sum_g \lVert W_g \rVert_2` drives whole groups (filters,
    kernels, kernel rows) to exactly zero rather than shrinking all weights a little
    (Wen et al. 2016). ``granularity="weight"`` gives the plain :math:`L_1` penalty.
    Sums over every Conv2d layer of ``net``.
    """
    check_choice("granularity", granularity, GRANULARITIES)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError("net must contain a Conv2d layer for the group lasso penalty")
    return sum(group_norms(m.weight, granularity, p=2).sum() for m in convs)
