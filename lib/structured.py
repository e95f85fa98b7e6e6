r"""Structured pruning: removing groups of weights, whole channels, and the channels themselves.

Unstructured pruning (:mod:`lib.pruning`) zeroes single weights. The tensor keeps its
shape, so a dense kernel does exactly the same work: the savings exist only for a
sparse format or a sparse kernel. *Structured* pruning zeroes whole groups instead,
and when the group is an entire output channel the channel can be cut out of the
network: the next layer loses the matching input channels, every tensor becomes
smaller, and an ordinary dense kernel runs faster.

This module follows that path in four steps.

1. **Granularity** (Mao et al. 2017): for a convolution weight
   :math:`W \in \mathbb{R}^{C_\text{out} \times C_\text{in} \times k_h \times k_w}` the groups are
   single weights, kernel rows ("vectors"), whole :math:`k_h \times k_w` kernels, or whole
   filters :math:`W_{c,:,:,:}`. :func:`group_norms` measures each group and
   :class:`GroupMagnitudePruning` removes the weakest, inside ``torch.nn.utils.prune``.
2. **Which channels** (:func:`channel_scores`): the filter norm (Li et al. 2017), the
   BatchNorm scale :math:`|\gamma|` (Network Slimming, Liu et al. 2017), how often the
   channel is active (APoZ, Hu et al. 2016), a first-order Taylor estimate of the loss
   change (Molchanov et al. 2017), the distance to the geometric median (FPGM, He et al.
   2019), or chance. :func:`channel_plan` turns scores into the channels to keep, per
   layer or with one global threshold.
3. **Masked or removed**: :func:`mask_channels` zeroes the dropped channels in place
   (same shapes, same dense compute: a simulation), :func:`remove_channels` builds the
   physically smaller network. The two compute the same function; the tests check it.
4. **Training for sparsity**: :func:`slimming_penalty` (:math:`\sum|\gamma|`) and
   :func:`group_lasso_penalty` (:math:`\sum_g \lVert W_g \rVert_2`) push whole groups
   towards zero during training, so that pruning them afterwards costs little.
   :func:`network_slimming` reproduces Liu et al. (2017) end to end on MNIST.

Channel pruning needs to know what *follows* a layer (its BatchNorm, its ReLU, the layer
that reads its channels), so those parts work on ``nn.Sequential`` models such as
:func:`lib.models.vgg_small`, :func:`lib.models.lenet5` and :func:`lib.models.mlp`.

References
----------
.. [1] H. Mao, S. Han, J. Pool, W. Li, X. Liu, Y. Wang, W. J. Dally, "Exploring the Regularity
   of Sparse Structure in Convolutional Neural Networks", 2017, arXiv:1705.08922.
.. [2] H. Li, A. Kadav, I. Durdanovic, H. Samet, H. P. Graf, "Pruning Filters for Efficient
   ConvNets", ICLR 2017, arXiv:1608.08710.
.. [3] Z. Liu, J. Li, Z. Shen, G. Huang, S. Yan, C. Zhang, "Learning Efficient Convolutional
   Networks through Network Slimming", ICCV 2017, arXiv:1708.06519.
.. [4] H. Hu, R. Peng, Y.-W. Tai, C.-K. Tang, "Network Trimming: A Data-Driven Neuron Pruning
   Approach towards Efficient Deep Architectures", 2016, arXiv:1607.03250.
.. [5] P. Molchanov, S. Tyree, T. Karras, T. Aila, J. Kautz, "Pruning Convolutional Neural
   Networks for Resource Efficient Inference", ICLR 2017, arXiv:1611.06440.
.. [6] Z. You, K. Yan, J. Ye, M. Ma, P. Wang, "Gate Decorator: Global Filter Pruning Method
   for Accelerating Deep Convolutional Neural Networks", NeurIPS 2019, arXiv:1909.08174.
.. [7] Y. He, P. Liu, Z. Wang, Z. Hu, Y. Yang, "Filter Pruning via Geometric Median for Deep
   Convolutional Neural Networks Acceleration", CVPR 2019, arXiv:1811.00250.
.. [8] W. Wen, C. Wu, Y. Wang, Y. Chen, H. Li, "Learning Structured Sparsity in Deep Neural
   Networks", NeurIPS 2016, arXiv:1608.03665.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Mapping
from numbers import Integral

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune

from lib.core.checks import check_choice, check_int, check_real
from lib.pruning import check_amount, remove_reparametrization

__all__ = ["GRANULARITIES", "CRITERIA", "group_norms", "GroupMagnitudePruning", "group_magnitude_prune",
           "channel_scores", "channel_plan", "mask_channels", "remove_channels", "slimming_penalty",
           "group_lasso_penalty", "test_error", "finetune_curve", "network_slimming", "slimming_config",
           "slimming_nets", "slimmed_net", "slimming_plan"]

#: The groups a weight can be pruned in, finest first (Mao et al. 2017).
GRANULARITIES = ("weight", "vector", "kernel", "filter")

#: The channel-importance criteria of :func:`channel_scores`.
CRITERIA = ("l1", "l2", "bn_gamma", "apoz", "taylor", "fpgm", "random")

_WEIGHT_LAYERS = (nn.Conv2d, nn.Linear)
_BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
#: Modules that act on each channel separately: a removed channel passes through them unchanged.
_CHANNELWISE = (nn.ReLU, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Dropout)


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


# --------------------------------------------------------------------------- the structure around a layer
def _find_layer(net: nn.Module, layer) -> nn.Module:
    """The Conv2d or Linear module named ``layer`` (as in ``net.named_modules()``)."""
    modules = dict(net.named_modules())
    if not isinstance(layer, str) or layer not in modules or not isinstance(modules[layer], _WEIGHT_LAYERS):
        names = [n for n, m in modules.items() if isinstance(m, _WEIGHT_LAYERS)]
        raise ValueError(f"layer must name a Conv2d or Linear module of net (one of {names}), got {layer!r}")
    return modules[layer]


def _following(net: nn.Module, layer: str) -> tuple[list[nn.Module], nn.Module | None]:
    """The modules after ``layer`` in its ``nn.Sequential``, up to the next Conv2d/Linear, and that layer.

    These are the modules the layer's channels flow through unchanged in number
    (BatchNorm, ReLU, pooling, ...). Outside a Sequential, nothing is known to follow.
    """
    parent_name, _, child = layer.rpartition(".")
    parent = net.get_submodule(parent_name) if parent_name else net
    if not isinstance(parent, nn.Sequential):
        return [], None
    children = list(parent._modules.items())
    after = [m for _, m in children[[n for n, _ in children].index(child) + 1:]]
    for i, m in enumerate(after):
        if isinstance(m, _WEIGHT_LAYERS):
            return after[:i], m
    return after, None


def _batchnorm_after(net: nn.Module, layer: str) -> nn.Module | None:
    """The BatchNorm normalising ``layer``'s channels (between it and the next Conv2d/Linear), if any."""
    segment, _ = _following(net, layer)
    return next((m for m in segment if isinstance(m, _BATCHNORMS)), None)


def _is_classifier(net: nn.Module, layer: str) -> bool:
    """Is ``layer`` the last Conv2d/Linear of ``net``, whose outputs are the classes?"""
    names = [n for n, m in net.named_modules() if isinstance(m, _WEIGHT_LAYERS)]
    return layer == names[-1]


def _out_channels(module: nn.Module) -> int:
    return module.weight.shape[0]


def _deepcopy(net: nn.Module) -> nn.Module:
    """``copy.deepcopy``, also for a pruned net.

    A pruned module's ``weight`` is recomputed as ``weight_orig * weight_mask`` before each
    forward pass; after a pass with gradients it is not a leaf tensor, and PyTorch refuses
    to deep-copy it. It is recomputed anyway, so the copy receives a detached clone.
    """
    memo = {}
    for m in net.modules():
        for hook in m._forward_pre_hooks.values():
            if isinstance(hook, prune.BasePruningMethod):
                t = getattr(m, hook._tensor_name)
                memo[id(t)] = t.detach().clone()
    return copy.deepcopy(net, memo)


class _Modes:
    """Remember every submodule's train/eval flag and restore them on exit."""

    def __init__(self, net: nn.Module):
        self.net = net

    def __enter__(self):
        self.flags = [(m, m.training) for m in self.net.modules()]
        return self

    def __exit__(self, *exc):
        for m, flag in self.flags:
            m.training = flag


# --------------------------------------------------------------------------- 2. which channels
def _check_data(X, y, batch_size, need_y: bool):
    if not isinstance(X, torch.Tensor) or X.dim() < 2 or len(X) == 0:
        raise ValueError(f"X must be a tensor of example inputs (n, ...), got {X if X is None else type(X).__name__}")
    if need_y and (not isinstance(y, torch.Tensor) or y.shape != (len(X),)):
        raise ValueError(f"y must be a tensor of {len(X)} class labels matching X, got "
                         f"{y if y is None else tuple(getattr(y, 'shape', ()))}")
    return check_int("batch_size", batch_size, 1)


def channel_scores(net: nn.Module, layer: str, criterion: str, X: torch.Tensor | None = None,
                   y: torch.Tensor | None = None, batch_size: int = 256, seed: int = 0) -> torch.Tensor:
    r"""One importance score per output channel of ``layer``; higher means more important.

    For output channel :math:`c` with filter :math:`W_c` (its weights, flattened) and
    output map :math:`a_c` (after the BatchNorm if one follows):

    ``"l1"``, ``"l2"``
        :math:`\lVert W_c \rVert_1` or :math:`\lVert W_c \rVert_2`: small filters produce weak
        maps (Li et al. 2017, who prune by :math:`L_1`, layer by layer).
    ``"bn_gamma"``
        :math:`|\gamma_c|` of the BatchNorm that follows: the BatchNorm output is
        :math:`\gamma_c \hat a_c + \beta_c`, so a small scale silences the normalised map
        (Network Slimming, Liu et al. 2017). Scales are comparable across layers, which
        makes a single global threshold meaningful.
    ``"apoz"``
        :math:`1 - \mathrm{APoZ}_c`, the fraction of the channel's values after the next
        ReLU that are *not* zero, over the examples ``X`` and all positions: a channel that
        is almost always off carries little (Hu et al. 2016).
    ``"taylor"``
        :math:`\frac1N \sum_n \bigl|\sum_m \frac{\partial L_n}{\partial a_{c,m}} a_{c,m}\bigr|`,
        :math:`m` running over the channel's positions: the first-order Taylor estimate of
        how much example :math:`n`'s cross-entropy :math:`L_n` changes if the map is set to
        zero, in absolute value, averaged over ``X`` (Molchanov et al. 2017). It is
        computed as Gate Decorator computes it (You et al. 2019): a gate :math:`\phi_c = 1`
        multiplies the map, and :math:`\partial L_n / \partial \phi_c` is exactly the inner sum.
        On a BatchNorm, Gate Decorator's :math:`|\gamma_c\, \partial L / \partial \gamma_c|`
        is the same expansion for setting :math:`\gamma_c` to zero, which leaves
        :math:`\beta_c`; it equals this score when :math:`\beta_c = 0`.
    ``"fpgm"``
        :math:`\sum_{c'} \lVert W_c - W_{c'} \rVert_2`: filters close to the geometric median
        of the layer's filters (small sum) can be replaced by the others, whatever their
        norm (He et al. 2019).
    ``"random"``
        Uniform random numbers, seeded by ``seed``: the baseline every criterion must beat.

    Parameters
    ----------
    net : nn.Module
        The network; it is left as it was (parameters, train/eval flags, no hooks left).
    layer : str
        A Conv2d or Linear module name, as in ``net.named_modules()``.
    criterion : {"l1", "l2", "bn_gamma", "apoz", "taylor", "fpgm", "random"}
    X, y : tensor, optional
        Examples (``"apoz"``, ``"taylor"``) and labels (``"taylor"``); run in eval mode.
    batch_size : int
        Examples per forward pass.
    seed : int
        Seed of ``"random"``.

    Returns
    -------
    tensor of shape (C_out,)
    """
    module = _find_layer(net, layer)
    check_choice("criterion", criterion, CRITERIA)
    seed = check_int("seed", seed, 0, 2**63 - 1)
    w = module.weight.detach()
    if criterion in ("l1", "l2"):
        return group_norms(w, "filter", p=1 if criterion == "l1" else 2)
    if criterion == "fpgm":
        flat = w.reshape(len(w), -1)
        return torch.cdist(flat[None], flat[None])[0].sum(dim=1)
    if criterion == "random":
        return torch.rand(len(w), generator=torch.Generator().manual_seed(seed))
    if criterion == "bn_gamma":
        bn = _batchnorm_after(net, layer)
        if bn is None or bn.weight is None:
            raise ValueError(f"criterion 'bn_gamma' needs a BatchNorm (with a scale) after layer {layer!r}, "
                             "and there is none")
        return bn.weight.detach().abs().clone()
    if criterion == "apoz":
        batch_size = _check_data(X, y, batch_size, need_y=False)
        return _apoz_scores(net, layer, X, batch_size)
    batch_size = _check_data(X, y, batch_size, need_y=True)
    return _taylor_scores(net, layer, X, y, batch_size)


def _apoz_scores(net, layer, X, batch_size):
    segment, _ = _following(net, layer)
    relu = next((m for m in segment if isinstance(m, nn.ReLU)), None)
    if relu is None:
        raise ValueError(f"criterion 'apoz' needs a ReLU after layer {layer!r} (before the next layer), "
                         "and there is none")
    zeros = torch.zeros(_out_channels(_find_layer(net, layer)), dtype=torch.float64)
    count = 0

    def hook(module, inputs, output):
        nonlocal count
        per_channel = output.transpose(0, 1).reshape(output.shape[1], -1)  # (C, n * positions)
        zeros.add_((per_channel == 0).sum(dim=1).double())
        count += per_channel.shape[1]

    handle = relu.register_forward_hook(hook)
    try:
        with _Modes(net), torch.no_grad():
            net.eval()
            for i in range(0, len(X), batch_size):
                net(X[i:i + batch_size])
    finally:
        handle.remove()
    return (1.0 - zeros / count).float()


def _taylor_scores(net, layer, X, y, batch_size):
    bn = _batchnorm_after(net, layer)
    target = bn if bn is not None else _find_layer(net, layer)
    gates: list[torch.Tensor] = []

    def hook(module, inputs, output):
        # a gate of ones, one per example and channel: d(loss)/d(gate) = sum over positions of dL/da * a
        gate = torch.ones(output.shape[:2] + (1,) * (output.dim() - 2), dtype=output.dtype, requires_grad=True)
        gates.append(gate)
        return output * gate

    total = torch.zeros(_out_channels(_find_layer(net, layer)), dtype=torch.float64)
    handle = target.register_forward_hook(hook)
    try:
        with _Modes(net), torch.enable_grad():
            net.eval()  # running BatchNorm statistics: examples independent, so each gets its own gradient
            for i in range(0, len(X), batch_size):
                gates.clear()
                loss = F.cross_entropy(net(X[i:i + batch_size]), y[i:i + batch_size], reduction="sum")
                (grad,) = torch.autograd.grad(loss, gates[0])
                total += grad.reshape(grad.shape[:2]).abs().sum(dim=0).double()
    finally:
        handle.remove()
    return (total / len(X)).float()


def channel_plan(net: nn.Module, scores: Mapping[str, torch.Tensor], amount: float,
                 scope: str = "layer") -> dict[str, torch.Tensor]:
    r"""The output channels to keep in each layer, from their scores.

    ``scope="layer"`` removes :math:`\operatorname{round}(\text{amount} \cdot C)` lowest-scoring
    channels of each layer of :math:`C` channels (every layer shrinks by the same
    fraction, as in Li et al. 2017). ``scope="global"`` pools all the scores and removes
    the :math:`\operatorname{round}(\text{amount} \cdot \sum C)` lowest overall, one
    threshold for all layers (Network Slimming's global :math:`|\gamma|` threshold): the
    layers then shrink unevenly, by how much each can spare. This only makes sense for
    scores on a common scale (such as :math:`|\gamma|`).

    Every layer keeps at least one channel (its best), so a global cut may remove a few
    fewer than asked.

    Parameters
    ----------
    net : nn.Module
        The network the layer names refer to.
    scores : dict of str to tensor
        Per Conv2d/Linear layer name, one score per output channel (:func:`channel_scores`).
    amount : float in [0, 1)
        Fraction of the channels to remove.
    scope : {"layer", "global"}

    Returns
    -------
    dict of str to LongTensor
        The kept channel indices of each layer, sorted.
    """
    amount = check_real("amount", amount, 0.0, 1.0, hi_open=True)
    check_choice("scope", scope, ("layer", "global"))
    if not isinstance(scores, Mapping) or not scores:
        raise ValueError(f"scores must map layer names to per-channel scores, got {scores!r}")
    flat = {}
    for name, s in scores.items():
        module = _find_layer(net, name)
        s = torch.as_tensor(s).detach().reshape(-1).double()
        if len(s) != _out_channels(module):
            raise ValueError(f"scores[{name!r}] must have one score per output channel ({_out_channels(module)}), "
                             f"got {len(s)}")
        flat[name] = s
    if scope == "layer":
        plan = {}
        for name, s in flat.items():
            drop = min(round(amount * len(s)), len(s) - 1)
            plan[name] = torch.sort(torch.topk(s, len(s) - drop).indices).values
        return plan
    pooled = torch.cat(list(flat.values()))
    dropped = torch.zeros(len(pooled), dtype=torch.bool)
    dropped[torch.argsort(pooled, stable=True)[:round(amount * len(pooled))]] = True
    plan, start = {}, 0
    for name, s in flat.items():
        keep = torch.nonzero(~dropped[start:start + len(s)]).squeeze(1)
        if len(keep) == 0:  # never empty a layer: keep its best channel
            keep = torch.argmax(s).reshape(1)
        plan[name] = keep
        start += len(s)
    return plan


# --------------------------------------------------------------------------- 3. masked or removed
def _check_plan(net: nn.Module, plan) -> dict[str, torch.Tensor]:
    """Validate a plan (layer name -> kept output channels) against ``net``; return it as LongTensors."""
    if not isinstance(plan, Mapping):
        raise ValueError(f"plan must map layer names to kept channel indices, got {type(plan).__name__}")
    checked = {}
    for name, keep in plan.items():
        module = _find_layer(net, name)
        if _is_classifier(net, name):
            raise ValueError(f"plan names layer {name!r}, the final classifier: its outputs are the classes, "
                             "which cannot be removed")
        keep = torch.as_tensor(keep)
        c = _out_channels(module)
        if (keep.dim() != 1 or len(keep) == 0 or keep.is_floating_point() or keep.dtype == torch.bool
                or not torch.equal(keep, torch.unique(keep)) or int(keep.min()) < 0 or int(keep.max()) >= c):
            raise ValueError(f"plan[{name!r}] must be sorted, distinct channel indices in [0, {c - 1}], at least one, "
                             f"got {keep.tolist() if keep.dim() == 1 else keep}")
        checked[name] = keep.long()
    return checked


def mask_channels(net: nn.Module, plan: Mapping[str, torch.Tensor]) -> nn.Module:
    """Zero the output channels a plan drops, in place, with ``torch.nn.utils.prune`` masks; returns ``net``.

    For each planned layer the rows of ``weight`` (and ``bias``) of dropped channels are
    masked, and so are the scale *and* shift of the BatchNorm that follows: a dropped
    channel then outputs exactly zero, as if it were absent. Shapes and compute are
    unchanged; this is what "pruned" means in most papers' accuracy tables.
    """
    plan = _check_plan(net, plan)
    for name, keep in plan.items():
        module = _find_layer(net, name)
        targets = [(module, "weight"), (module, "bias")]
        bn = _batchnorm_after(net, name)
        if bn is not None:
            targets += [(bn, "weight"), (bn, "bias")]
        for m, pname in targets:
            t = getattr(m, pname, None)
            if t is None:
                continue
            rows = torch.zeros(t.shape[0], dtype=t.dtype)
            rows[keep] = 1
            prune.custom_from_mask(m, pname, mask=_expand(rows, t.shape).clone())
    return net


def remove_channels(net: nn.Module, plan: Mapping[str, torch.Tensor], input_shape: tuple[int, ...]) -> nn.Sequential:
    r"""A new, physically smaller copy of ``net`` without the channels a plan drops.

    For each planned layer, keeping the output channels :math:`K`:

    * its ``weight`` and ``bias`` keep the rows :math:`K`;
    * the BatchNorm that follows keeps :math:`\gamma_K, \beta_K` and its running mean and
      variance at :math:`K`;
    * the next Conv2d keeps the input channels :math:`K` (``weight[:, K]``); a next Linear
      after ``Flatten`` keeps, for each :math:`c \in K`, the block of :math:`H W` features
      that channel :math:`c` flattened into (features :math:`cHW, \dots, cHW + HW - 1`).
      The spatial size :math:`H \times W` comes from a forward pass of zeros of
      ``input_shape``.

    The copy computes the same function as :func:`mask_channels` (up to rounding) with
    smaller tensors, so an ordinary dense kernel does less work. ``net`` is untouched;
    pruning masks in it are applied (the copy holds the effective weights, no masks).

    Parameters
    ----------
    net : nn.Sequential
        Made of Conv2d (``groups=1``), Linear, BatchNorm1d/2d, ReLU, MaxPool2d, AvgPool2d,
        AdaptiveAvgPool2d, Flatten and Dropout.
    plan : dict of str to LongTensor
        Kept output channels per layer (:func:`channel_plan`); not the final classifier.
    input_shape : tuple of int
        Shape of one input example, e.g. ``(1, 28, 28)``.
    """
    if not isinstance(net, nn.Sequential):
        raise ValueError(f"net must be an nn.Sequential (remove_channels follows the channels layer by layer), "
                         f"got {type(net).__name__}")
    supported = _WEIGHT_LAYERS + _BATCHNORMS + _CHANNELWISE + (nn.Flatten,)
    for name, m in net.named_children():
        if not isinstance(m, supported) or (isinstance(m, nn.Conv2d) and m.groups != 1) or (
                isinstance(m, nn.Flatten) and (m.start_dim, m.end_dim) != (1, -1)):
            raise ValueError(f"net contains module {name!r} ({m}), which remove_channels does not support; "
                             "supported: Conv2d (groups=1), Linear, BatchNorm1d/2d, ReLU, MaxPool2d, AvgPool2d, "
                             "AdaptiveAvgPool2d, Flatten(start_dim=1) and Dropout")
    plan = _check_plan(net, plan)
    if (not isinstance(input_shape, (tuple, list, torch.Size)) or not input_shape
            or not all(isinstance(s, Integral) and not isinstance(s, bool) and s >= 1 for s in input_shape)):
        raise ValueError(f"input_shape must be the shape of one example, a tuple of positive ints, got {input_shape!r}")

    small = remove_reparametrization(_deepcopy(net))
    flatten_in: dict[int, torch.Size] = {}  # index of each Flatten -> the shape it receives
    hooks = [m.register_forward_hook(lambda mod, inp, out, i=i: flatten_in.__setitem__(i, inp[0].shape))
             for i, m in enumerate(small) if isinstance(m, nn.Flatten)]
    try:
        with _Modes(small), torch.no_grad():
            small.eval()
            small(torch.zeros(1, *input_shape))
    except RuntimeError as err:
        raise ValueError(f"input_shape {tuple(input_shape)} does not fit net: {err}") from err
    finally:
        for h in hooks:
            h.remove()

    def cut(tensor, index, dim=0):
        return tensor.detach().index_select(dim, index).clone()

    names = [n for n, _ in net.named_children()]
    keep = None  # indices of the channels (or features) still flowing, None when all of them are
    for i, m in enumerate(small):
        if isinstance(m, _WEIGHT_LAYERS):
            if keep is not None:  # this layer reads only the kept channels
                m.weight = nn.Parameter(cut(m.weight, keep, dim=1))
                if isinstance(m, nn.Conv2d):
                    m.in_channels = len(keep)
                else:
                    m.in_features = len(keep)
            keep = plan.get(names[i])
            if keep is not None:  # and writes only its kept channels
                m.weight = nn.Parameter(cut(m.weight, keep))
                if m.bias is not None:
                    m.bias = nn.Parameter(cut(m.bias, keep))
                if isinstance(m, nn.Conv2d):
                    m.out_channels = len(keep)
                else:
                    m.out_features = len(keep)
        elif isinstance(m, _BATCHNORMS) and keep is not None:
            if m.affine:
                m.weight = nn.Parameter(cut(m.weight, keep))
                m.bias = nn.Parameter(cut(m.bias, keep))
            if m.track_running_stats:
                m.running_mean = cut(m.running_mean, keep)
                m.running_var = cut(m.running_var, keep)
            m.num_features = len(keep)
        elif isinstance(m, nn.Flatten) and keep is not None:
            # channel c became the features c*HW ... c*HW + HW - 1
            block = math.prod(flatten_in[i][2:])
            keep = (keep[:, None] * block + torch.arange(block)).reshape(-1)
    return small


# --------------------------------------------------------------------------- 4. training for sparsity
def slimming_penalty(net: nn.Module) -> torch.Tensor:
    r"""Network Slimming's sparsity penalty :math:`\sum_\gamma |\gamma|` over every BatchNorm scale.

    Added to the loss as :math:`\lambda \sum |\gamma|` (Liu et al. 2017 use
    :math:`\lambda = 10^{-4}`), its subgradient :math:`\lambda \operatorname{sign}(\gamma)`
    pulls every scale towards zero at a constant rate, which the loss resists only for
    the channels it needs: the scales split into a useful group and a near-zero group.

    >>> from lib.models import vgg_small
    >>> slimming_penalty(vgg_small(channels=(4, 8))).item()  # PyTorch initialises gamma = 1
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


# --------------------------------------------------------------------------- Network Slimming, end to end
@torch.no_grad()
def test_error(net: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    """Fraction of ``X`` misclassified, in eval mode and in batches (a whole MNIST test set at
    once needs gigabytes of activations); the net's train/eval flags are restored."""
    batch_size = check_int("batch_size", batch_size, 1)
    if len(X) != len(y) or len(y) == 0:
        raise ValueError(f"X and y must have the same, non-zero length, got {len(X)} and {len(y)}")
    with _Modes(net):
        net.eval()
        wrong = sum(int((net(X[i:i + batch_size]).argmax(1) != y[i:i + batch_size]).sum())
                    for i in range(0, len(y), batch_size))
    return wrong / len(y)


test_error.__test__ = False  # a library function, not a test for pytest to collect


def finetune_curve(net: nn.Module, data, epochs: int, lr: float, seed: int = 0, points_per_epoch: int = 4,
                   batch_size: int = 128) -> list[tuple[float, float]]:
    """Fine-tune ``net`` in place and return its recovery curve: (epochs done, test error) pairs.

    The loop of :func:`lib.train.fit` (SGD with momentum 0.9, weight decay :math:`10^{-4}`,
    cosine decay from ``lr`` to 0 over all ``epochs``, seeded batch order), with the test
    error measured ``points_per_epoch`` times an epoch. Masks from ``torch.nn.utils.prune``
    stay in force, so a masked net can be fine-tuned too.
    """
    epochs = check_int("epochs", epochs, 0)
    check_real("lr", lr, 0.0, 10.0, lo_open=True)
    seed = check_int("seed", seed, 0, 2**63 - 1)
    points_per_epoch = check_int("points_per_epoch", points_per_epoch, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    n = len(data.y_train)
    steps_per_epoch = (n + batch_size - 1) // batch_size
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, epochs * steps_per_epoch))
    g = torch.Generator().manual_seed(seed)
    checkpoints = {max(1, round(steps_per_epoch * j / points_per_epoch)) for j in range(1, points_per_epoch + 1)}
    curve = []
    for epoch in range(epochs):
        order = torch.randperm(n, generator=g)
        for step in range(steps_per_epoch):
            net.train()
            idx = order[step * batch_size:(step + 1) * batch_size]
            opt.zero_grad()
            F.cross_entropy(net(data.X_train[idx]), data.y_train[idx]).backward()
            opt.step()
            sched.step()
            if step + 1 in checkpoints:
                curve.append((epoch + (step + 1) / steps_per_epoch, test_error(net, data.X_test, data.y_test)))
    return curve


def _latencies(net: nn.Module, X: torch.Tensor) -> dict[str, float]:
    from lib.workbench.measure import latency

    return {"batch1": latency(net, X[:1], warmup=20, runs=200)["median_ms"],
            "batch256": latency(net, X[:256], warmup=5, runs=20)["median_ms"]}


def _gammas(net: nn.Module) -> list[float]:
    return torch.cat([m.weight.detach().abs() for m in net.modules() if isinstance(m, _BATCHNORMS)]).tolist()


def network_slimming(prune_fraction: float = 0.55, lam: float = 1e-2, epochs: int = 3, finetune_epochs: int = 2,
                     lr: float = 0.05, finetune_lr: float = 0.01, seed: int = 0) -> dict:
    r"""Reproduce Network Slimming (Liu et al. 2017) on MNIST with :func:`lib.models.vgg_small`.

    1. *Sparsity training*: train ``vgg_small`` for ``epochs`` with the loss
       :math:`L + \lambda \sum |\gamma|` (:func:`slimming_penalty`), otherwise exactly as the
       dense baseline (:class:`lib.train.TrainConfig` with ``model="vgg_small"``, ``lr``,
       ``num_epochs=epochs``, ``seed``), which is trained too (cached by
       :func:`lib.train.train_cached`).
    2. *Prune*: remove the ``prune_fraction`` of all channels with the smallest
       :math:`|\gamma|`, one global threshold (:func:`channel_plan`), physically
       (:func:`remove_channels`).
    3. *Fine-tune* the smaller network for ``finetune_epochs`` at ``finetune_lr``
       (cosine decay), recording the test error four times an epoch.
    4. *Measure*, on one thread: latency of the dense, masked (:func:`mask_channels`: same
       shapes) and removed networks at batch 1 and 256; multiply-accumulates; parameters.

    Results are cached in ``lib.cache.cache_dir("slimming")`` by the full configuration
    (the JSON below, and a ``.pt`` with the ``"slim"`` and ``"pruned"`` state dicts; the
    pruned one loads into ``vgg_small(channels=tuple(channels_after.values()))``).

    Parameters
    ----------
    prune_fraction : float in [0, 1)
        Fraction of the BatchNorm channels removed. The default removes about the
        channels whose :math:`|\gamma|` the penalty drove to zero (58 % of them below
        :math:`10^{-6}` with the defaults); beyond that the cut reaches live channels.
    lam : float
        :math:`\lambda`, the weight of the penalty. The paper's :math:`10^{-4}` is for
        160 epochs on CIFAR: the penalty moves each scale by at most
        :math:`\eta\lambda` per step, about 0.035 in total over 3 MNIST epochs at
        :math:`\lambda = 10^{-3}`, too little to separate anything. :math:`10^{-2}` splits
        the scales into zeros and survivors; :math:`3 \cdot 10^{-2}` costs accuracy.
    epochs, finetune_epochs : int
        Training and fine-tuning epochs over MNIST's 60,000 images.
    lr, finetune_lr : float
        Initial learning rates (SGD, momentum 0.9, cosine decay).
    seed : int
        Seed of the initialisation and the batch order.

    Notes
    -----
    Two things the histogram of :math:`|\gamma|` shows that the paper does not dwell on.
    A scale followed (through ReLU and pooling) by a convolution and *another*
    BatchNorm is nearly scale-invariant: multiplying all of a layer's :math:`\gamma` and
    :math:`\beta` by :math:`s > 0` leaves the next BatchNorm's output unchanged. The
    penalty then shrinks such layers' scales *as a whole* (here the first two stages
    end with all :math:`|\gamma| < 0.1` while the last keeps scales near 1), so a global
    threshold set much above the zeros empties those layers first. And a channel with
    :math:`\gamma = 0` still outputs the constant :math:`\mathrm{ReLU}(\beta)`; removing
    it (or masking :math:`\beta` too, as :func:`mask_channels` does) shifts the next
    layer a little, which fine-tuning absorbs.

    Returns
    -------
    dict
        ``config``; test errors (fractions): ``dense_error`` (baseline, no penalty),
        ``slim_trained_error`` (after sparsity training), ``pruned_error_before_finetune``
        (pruned, not fine-tuned), ``masked_error`` (the same masked instead of removed:
        equal up to rounding), ``pruned_error`` (after
        fine-tuning), ``baseline_pruned_error_before_finetune`` (the baseline pruned at the
        same fraction by its own :math:`|\gamma|`: why sparsity training matters);
        ``recovery``: list of ``[epoch_fraction, error]`` from ``[0, pruned_error_before_finetune]``;
        ``channels_before`` / ``channels_after`` (per BatchNorm'd conv, by module name);
        ``gamma_threshold`` (the largest pruned :math:`|\gamma|`); ``params`` and ``macs``
        (``{"dense", "removed"}``), ``param_ratio``, ``mac_ratio`` (dense / removed);
        ``latency``: ``{"dense", "masked", "removed"}`` x ``{"batch1", "batch256"}``, median ms;
        ``speedup_masked``, ``speedup_removed`` (dense / other, per batch size); ``threads``
        (1, for the latencies); ``gammas_slim``, ``gammas_baseline``: all :math:`|\gamma|`
        of the sparsity-trained and the baseline nets, for a histogram.
    """
    import json

    from lib.workbench.measure import count_macs, count_params
    from lib.workbench.train import TrainConfig, build, fit, load_data, train_cached

    config = slimming_config(prune_fraction, lam, epochs, finetune_epochs, lr, finetune_lr, seed)
    path = _slimming_path(config)
    if path.with_suffix(".json").exists() and path.with_suffix(".pt").exists():
        return json.loads(path.with_suffix(".json").read_text())
    base_cfg = TrainConfig(**config["baseline"])

    data = load_data(base_cfg)
    threads = torch.get_num_threads()
    try:
        baseline, _ = train_cached(base_cfg, data)
        torch.set_num_threads(min(2, os.cpu_count() or 1))  # train on up to 2 cores, as train_cached does
        slim = build(base_cfg)
        fit(slim, data, base_cfg, desc="sparsity training",
            penalty=lambda net: config["lam"] * slimming_penalty(net))

        convs = [n for n, m in slim.named_modules() if isinstance(m, nn.Conv2d)]
        gammas = {n: channel_scores(slim, n, "bn_gamma") for n in convs}
        plan = channel_plan(slim, gammas, config["prune_fraction"], "global")
        masked = mask_channels(copy.deepcopy(slim), plan)
        pruned = remove_channels(slim, plan, (1, 28, 28))
        base_plan = channel_plan(baseline, {n: channel_scores(baseline, n, "bn_gamma") for n in convs},
                                 config["prune_fraction"], "global")
        dropped = torch.cat([g[torch.isin(torch.arange(len(g)), plan[n], invert=True)] for n, g in gammas.items()])
        result = {
            "config": config,
            "dense_error": test_error(baseline, data.X_test, data.y_test),
            "slim_trained_error": test_error(slim, data.X_test, data.y_test),
            "pruned_error_before_finetune": test_error(pruned, data.X_test, data.y_test),
            "masked_error": test_error(masked, data.X_test, data.y_test),
            "baseline_pruned_error_before_finetune": test_error(remove_channels(baseline, base_plan, (1, 28, 28)),
                                                            data.X_test, data.y_test),
            "channels_before": {n: _out_channels(_find_layer(slim, n)) for n in convs},
            "channels_after": {n: len(plan[n]) for n in convs},
            "gamma_threshold": float(dropped.max()) if len(dropped) else 0.0,
            "gammas_slim": _gammas(slim),
            "gammas_baseline": _gammas(baseline),
        }
        curve = finetune_curve(pruned, data, config["finetune_epochs"], config["finetune_lr"], base_cfg.seed)
        result["recovery"] = [[0.0, result["pruned_error_before_finetune"]]] + [list(p) for p in curve]
        result["pruned_error"] = curve[-1][1] if curve else result["pruned_error_before_finetune"]

        torch.set_num_threads(1)
        macs = {"dense": count_macs(baseline, (1, 28, 28))["total"], "removed": count_macs(pruned, (1, 28, 28))["total"]}
        params = {"dense": count_params(baseline), "removed": count_params(pruned)}
        lat = {k: _latencies(m, data.X_test) for k, m in (("dense", slim), ("masked", masked), ("removed", pruned))}
        result.update({
            "params": params, "param_ratio": params["dense"] / params["removed"],
            "macs": macs, "mac_ratio": macs["dense"] / macs["removed"],
            "latency": lat,
            "speedup_masked": {b: lat["dense"][b] / lat["masked"][b] for b in lat["dense"]},
            "speedup_removed": {b: lat["dense"][b] / lat["removed"][b] for b in lat["dense"]},
            "threads": torch.get_num_threads(),
        })
    finally:
        torch.set_num_threads(threads)
    torch.save({"slim": slim.state_dict(), "pruned": pruned.state_dict()}, path.with_suffix(".pt"))
    path.with_suffix(".json").write_text(json.dumps(result))
    return result


def slimming_config(prune_fraction: float = 0.55, lam: float = 1e-2, epochs: int = 3, finetune_epochs: int = 2,
                    lr: float = 0.05, finetune_lr: float = 0.01, seed: int = 0) -> dict:
    """The full, validated configuration of :func:`network_slimming` (same arguments), JSON-able.

    Its hash names the cache; chapters pass it to ``lib.cache.memo`` so that results
    derived from the slimming networks are recomputed when the networks change. Keys:
    ``method``, ``baseline`` (the :class:`lib.train.TrainConfig` of both trainings, as a
    dict), ``lam``, ``prune_fraction``, ``finetune_epochs``, ``finetune_lr``.
    """
    from dataclasses import asdict

    from lib.workbench.train import TrainConfig

    prune_fraction = check_real("prune_fraction", prune_fraction, 0.0, 1.0, hi_open=True)
    lam = check_real("lam", lam, 0.0, 1.0)
    epochs = check_int("epochs", epochs, 1)
    finetune_epochs = check_int("finetune_epochs", finetune_epochs, 0)
    lr = check_real("lr", lr, 0.0, 10.0, lo_open=True)
    finetune_lr = check_real("finetune_lr", finetune_lr, 0.0, 10.0, lo_open=True)
    seed = check_int("seed", seed, 0, 2**32 - 1)
    base_cfg = TrainConfig(model="vgg_small", num_epochs=epochs, lr=lr, seed=seed)
    return {"method": "network-slimming", "baseline": asdict(base_cfg), "lam": lam,
            "prune_fraction": prune_fraction, "finetune_epochs": finetune_epochs, "finetune_lr": finetune_lr}


def _slimming_path(config: dict):
    from lib.core.cache import cache_dir, config_key

    return cache_dir("slimming") / f"vgg_small-{config_key(config)}"


def slimming_nets(**kwargs) -> tuple[nn.Sequential, nn.Sequential]:
    r"""The two dense VGG-smalls of :func:`network_slimming` (same keyword arguments): trained
    plainly (the baseline) and with the penalty :math:`\lambda \sum |\gamma|`, in eval mode.

    Runs :func:`network_slimming` first if its results are not cached yet.
    """
    from lib.workbench.train import TrainConfig, build, train_cached

    config = slimming_config(**kwargs)
    network_slimming(**kwargs)
    baseline, _ = train_cached(TrainConfig(**config["baseline"]))
    slim = build(TrainConfig(**config["baseline"]))
    slim.load_state_dict(torch.load(_slimming_path(config).with_suffix(".pt"), weights_only=True)["slim"])
    return baseline.eval(), slim.eval()


def slimmed_net(**kwargs) -> nn.Sequential:
    """The pruned and fine-tuned VGG-small of :func:`network_slimming` (same keyword arguments), in eval mode."""
    from lib.workbench.models import vgg_small

    config = slimming_config(**kwargs)
    result = network_slimming(**kwargs)
    net = vgg_small(channels=tuple(result["channels_after"].values()), seed=config["baseline"]["seed"])
    net.load_state_dict(torch.load(_slimming_path(config).with_suffix(".pt"), weights_only=True)["pruned"])
    return net.eval()


def slimming_plan(**kwargs) -> dict[str, torch.Tensor]:
    """The channel plan :func:`network_slimming` applied (same keyword arguments): the channels kept
    per convolution under the global :math:`|\\gamma|` threshold of the sparsity-trained net."""
    config = slimming_config(**kwargs)
    _, slim = slimming_nets(**kwargs)
    convs = [n for n, m in slim.named_modules() if isinstance(m, nn.Conv2d)]
    return channel_plan(slim, {n: channel_scores(slim, n, "bn_gamma") for n in convs},
                        config["prune_fraction"], "global")


@torch.no_grad()
def recalibrate_batchnorm(net: nn.Module, X: torch.Tensor, batch_size: int = 500) -> nn.Module:
    """Re-estimate every BatchNorm layer's running mean and variance on ``X``, in place; returns ``net``.

    Removing channels changes what the following layers receive, so the statistics their
    BatchNorm layers stored during training no longer match. A few forward passes in
    training mode with a cumulative average (``momentum=None``) measure them again; no
    weight changes and no gradient is computed. The net is left in eval mode.
    """
    batch_size = check_int("batch_size", batch_size, 1)
    if len(X) == 0:
        raise ValueError("X must hold at least one example to recalibrate on")
    norms = [m for m in net.modules() if isinstance(m, _BATCHNORMS)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: every batch counts equally
    net.train()
    try:
        for i in range(0, len(X), batch_size):
            net(X[i:i + batch_size])
    finally:
        for m, momentum in zip(norms, saved):
            m.momentum = momentum
        net.eval()
    return net


__all__ += ["recalibrate_batchnorm"]
