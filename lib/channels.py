r"""Channel pruning: which output channels to remove, and removing them from the network.

When the group pruned is an entire output channel (:mod:`lib.structured`'s ``"filter"``
granularity), the channel can be cut out: the next layer loses the matching input
channels, every tensor becomes smaller, and an ordinary dense kernel runs faster.

1. **Which channels** (:func:`channel_scores`): the filter norm (Li et al. 2017), the
   BatchNorm scale :math:`|\gamma|` (Network Slimming, Liu et al. 2017), how often the
   channel is active (APoZ, Hu et al. 2016), a first-order Taylor estimate of the loss
   change (Molchanov et al. 2017), the distance to the geometric median (FPGM, He et al.
   2019), or chance. :func:`channel_plan` turns scores into the channels to keep, per
   layer or with one global threshold.
2. **Masked or removed**: :func:`mask_channels` zeroes the dropped channels in place
   (same shapes, same dense compute: a simulation), :func:`remove_channels` builds the
   physically smaller network, and :func:`recalibrate_batchnorm` re-measures the BatchNorm
   statistics the removal changed. Masked and removed compute the same function; the tests
   check it.

Channel pruning needs to know what *follows* a layer (its BatchNorm, its ReLU, the layer
that reads its channels), so it works on ``nn.Sequential`` models such as
:func:`lib.workbench.models.vgg_small`, ``lenet5`` and ``mlp``.

References
----------
.. [1] H. Li, A. Kadav, I. Durdanovic, H. Samet, H. P. Graf, "Pruning Filters for Efficient
   ConvNets", ICLR 2017, arXiv:1608.08710.
.. [2] Z. Liu, J. Li, Z. Shen, G. Huang, S. Yan, C. Zhang, "Learning Efficient Convolutional
   Networks through Network Slimming", ICCV 2017, arXiv:1708.06519.
.. [3] H. Hu, R. Peng, Y.-W. Tai, C.-K. Tang, "Network Trimming: A Data-Driven Neuron Pruning
   Approach towards Efficient Deep Architectures", 2016, arXiv:1607.03250.
.. [4] P. Molchanov, S. Tyree, T. Karras, T. Aila, J. Kautz, "Pruning Convolutional Neural
   Networks for Resource Efficient Inference", ICLR 2017, arXiv:1611.06440.
.. [5] Z. You, K. Yan, J. Ye, M. Ma, P. Wang, "Gate Decorator: Global Filter Pruning Method
   for Accelerating Deep Convolutional Neural Networks", NeurIPS 2019, arXiv:1909.08174.
.. [6] Y. He, P. Liu, Z. Wang, Z. Hu, Y. Yang, "Filter Pruning via Geometric Median for Deep
   Convolutional Neural Networks Acceleration", CVPR 2019, arXiv:1811.00250.
"""

from __future__ import annotations

import copy
import math
from numbers import Integral
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune

from lib.core.checks import check_choice, check_int, check_real
from lib.pruning import remove_reparametrization
from lib.structured import group_norms

__all__ = ["CRITERIA", "channel_scores", "channel_plan", "mask_channels", "remove_channels", "recalibrate_batchnorm",
           "batchnorm_scales"]

#: The channel-importance criteria of :func:`channel_scores`.
CRITERIA = ("l1", "l2", "bn_gamma", "apoz", "taylor", "fpgm", "random")

_WEIGHT_LAYERS = (nn.Conv2d, nn.Linear)
_BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
#: Modules that act on each channel separately: a removed channel passes through them unchanged.
_CHANNELWISE = (nn.ReLU, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Dropout)


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


# --------------------------------------------------------------------------- 1. which channels
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


# --------------------------------------------------------------------------- 2. masked or removed
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
            prune.custom_from_mask(m, pname, mask=rows.reshape(rows.shape + (1,) * (t.dim() - 1)).expand(t.shape).clone())
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


def batchnorm_scales(net: nn.Module) -> list[float]:
    r"""Every BatchNorm scale :math:`|\gamma|` of ``net``, in module order (for a histogram)."""
    return torch.cat([m.weight.detach().abs() for m in net.modules() if isinstance(m, _BATCHNORMS)]).tolist()
