r"""Dynamic network surgery (Guo, Yao and Chen 2016): masks that prune and splice weights back.

Magnitude pruning (:mod:`lib.pruning`) decides once and for all: a pruned weight gets
zero gradient and never comes back. Surgery keeps the dense weights :math:`W` and a 0/1
mask :math:`T` per layer, and while training

* computes the forward pass with :math:`W \odot T`;
* updates **all** of :math:`W` with the gradient taken with respect to the masked weight,
  :math:`\partial L / \partial W := \partial L / \partial (W \odot T)` (a straight-through
  estimator, :func:`masked_weight`), so a pruned weight still moves and can grow back;
* every few steps recomputes :math:`T` from :math:`|W|` with two thresholds
  (:func:`surgery_mask`): prune below :math:`a`, splice back above :math:`b`, leave the band between.

:class:`SurgeryMasks` holds the masks of a network's layers and gives a training loop
the two hooks it needs: ``forward`` (the net with :math:`W \odot T` substituted) and
``after_step`` (the periodic mask update); :func:`lib.experiments.magnitude_pruning.dynamic_surgery`
trains with them through :func:`lib.workbench.train.fit`.

**Thresholds.** The paper's layer-wise thresholds (its released Caffe code) are
:math:`a_k = 0.9\,\max(\mu_k + c_k \sigma_k, 0)` and :math:`b_k = 1.1\,\max(\mu_k + c_k \sigma_k, 0)`,
:math:`\mu_k, \sigma_k` the mean and standard deviation of the layer's :math:`|W|` taken once
from the pretrained weights, and a per-layer factor :math:`c_k` tuned by hand; the mask is
updated with a probability that decays, and biases are masked too. Here the centre
:math:`t` is instead the magnitude quantile that removes ``amount`` of the layer's weights,
recomputed at each update, with the paper's margin :math:`a = (1 - m)t`, :math:`b = (1 + m)t`:
one number sets the target, and comparisons with magnitude pruning at the same amount are
like for like. Updates are deterministic (every ``update_every`` steps) and biases are not
pruned, as in the rest of :mod:`lib.pruning`.

References
----------
.. [1] Y. Guo, A. Yao, Y. Chen, "Dynamic Network Surgery for Efficient DNNs", NeurIPS 2016,
   arXiv:1608.04493.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.func import functional_call
from torch.nn.utils import prune

from lib.core.checks import check_int, check_real

__all__ = ["surgery_mask", "masked_weight", "SurgeryMasks"]


def surgery_mask(weight: torch.Tensor, mask: torch.Tensor, amount: float, margin: float = 0.1) -> torch.Tensor:
    r"""One mask update of dynamic network surgery: prune small weights, splice large ones back.

    With :math:`t` the magnitude of the :math:`k`-th largest weight,
    :math:`k = \max(1, \mathrm{round}((1 - \text{amount})\,n))` (so that :math:`|w| \ge t`
    removes ``amount`` of them), the thresholds are :math:`a = (1 - m)\,t` and
    :math:`b = (1 + m)\,t`, :math:`m` the ``margin``, and

    .. math::

        T_k \leftarrow \begin{cases} 0 & |w_k| < a \quad\text{(pruned)} \\
                                     T_k & a \le |w_k| < b \quad\text{(unchanged)} \\
                                     1 & |w_k| \ge b \quad\text{(spliced back, or kept)} \end{cases}

    The band :math:`[a, b)` is a hysteresis: a weight hovering near the threshold does not
    flip in and out of the network at every step. With ``margin=0`` this is plain magnitude
    pruning of ``amount`` (ties aside).

    Parameters
    ----------
    weight, mask : Tensor
        The dense weight :math:`W` and its current 0/1 mask :math:`T` (same shape).
    amount : float in [0, 1)
        Fraction of the weights the threshold removes.
    margin : float in [0, 1)
        Half-width of the band, relative to :math:`t` (the paper's 0.1).

    References
    ----------
    .. [1] Y. Guo, A. Yao, Y. Chen, arXiv:1608.04493.

    >>> surgery_mask(torch.tensor([0.1, 0.5, 0.95, 1.0]), torch.tensor([1., 1., 0., 1.]), amount=0.5).tolist()
    [0.0, 0.0, 0.0, 1.0]
    """
    amount = check_real("amount", amount, 0.0, 1.0, hi_open=True)
    margin = check_real("margin", margin, 0.0, 1.0, hi_open=True)
    if mask.shape != weight.shape:
        raise ValueError(f"mask must have the weight's shape {tuple(weight.shape)}, got {tuple(mask.shape)}")
    magnitude = weight.detach().abs()
    n = magnitude.numel()
    k = max(1, round((1.0 - amount) * n))
    t = magnitude.reshape(-1).kthvalue(n - k + 1).values  # the k-th largest |w|
    pruned, spliced = magnitude < (1 - margin) * t, magnitude >= (1 + margin) * t
    return torch.where(pruned, 0.0, torch.where(spliced, 1.0, mask)).to(mask.dtype)


def masked_weight(weight: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    r"""``weight * mask`` in the forward pass, the identity in the backward pass (straight-through).

    The value is :math:`w + (wT - w) = wT` exactly (:math:`w + (-w)` is an exact zero), and the
    gradient reaches :math:`w` through the first term only, so
    :math:`\partial L/\partial w = \partial L/\partial (wT)` everywhere, pruned entries included.

    >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
    >>> y = masked_weight(w, torch.tensor([0.0, 1.0]))
    >>> y.sum().backward(); y.tolist(), w.grad.tolist()
    ([0.0, -2.0], [1.0, 1.0])
    """
    return weight + (weight * mask - weight).detach()


class SurgeryMasks:
    """The masks of dynamic network surgery over some layers of a net, and the training hooks.

    At construction the masks are plain magnitude pruning of ``amount`` of each layer's
    weights (no band yet). ``forward(x)`` runs the net with :func:`masked_weight` in place of
    each listed layer's weight; ``after_step(net, step)`` updates the masks with
    :func:`surgery_mask` every ``update_every`` steps; :meth:`attach` ends surgery by
    attaching the masks as ``torch.nn.utils.prune`` reparametrisations
    (``weight = weight_orig * weight_mask``), an ordinary pruned net.

    Parameters
    ----------
    net : nn.Module
        The model; the listed layers must hold a plain (not yet pruned) ``weight`` parameter.
    layers : sequence of str
        Module names, as in ``net.named_modules()``.
    amount : float in [0, 1)
        Fraction of each listed layer's weights removed.
    margin : float in [0, 1)
        Half-width of the hysteresis band (:func:`surgery_mask`).
    update_every : int >= 1
        Optimisation steps between mask updates.

    References
    ----------
    .. [1] Y. Guo, A. Yao, Y. Chen, arXiv:1608.04493.

    >>> net = nn.Sequential(nn.Linear(4, 3))
    >>> masks = SurgeryMasks(net, ["0"], amount=0.5)
    >>> masks.kept(), tuple(masks.forward(torch.zeros(2, 4)).shape)
    (0.5, (2, 3))
    """

    def __init__(self, net: nn.Module, layers: Sequence[str], amount: float, margin: float = 0.1,
                 update_every: int = 1):
        self.amount = check_real("amount", amount, 0.0, 1.0, hi_open=True)
        self.margin = check_real("margin", margin, 0.0, 1.0, hi_open=True)
        self.update_every = check_int("update_every", update_every, 1)
        if isinstance(layers, str) or not list(layers):
            raise ValueError(f"layers must list at least one module name, got {layers!r}")
        modules = dict(net.named_modules())
        for name in layers:
            module = modules.get(name)
            if module is None or not isinstance(getattr(module, "weight", None), nn.Parameter):
                if module is not None and hasattr(module, "weight_orig"):
                    raise ValueError(f"layers names {name!r}, which is already pruned; surgery starts from dense weights")
                raise ValueError(f"layers names {name!r}, which is not a module with a weight parameter in this net")
        self.net = net
        self.modules = {name: modules[name] for name in layers}
        self.weights = {name: m.weight for name, m in self.modules.items()}
        self.masks = {name: surgery_mask(w, torch.ones_like(w), self.amount, margin=0.0)
                      for name, w in self.weights.items()}

    def update(self) -> None:
        """One surgery: recompute every mask from the current weights (:func:`surgery_mask`)."""
        for name, w in self.weights.items():
            self.masks[name] = surgery_mask(w, self.masks[name], self.amount, self.margin)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The net's output with :math:`W \\odot T` (straight-through) in place of each listed weight."""
        masked = {f"{name}.weight": masked_weight(w, self.masks[name]) for name, w in self.weights.items()}
        return functional_call(self.net, masked, (x,))

    def after_step(self, net: nn.Module, step: int) -> None:
        """The training loop's hook: update the masks every ``update_every`` steps."""
        if step % self.update_every == 0:
            self.update()

    def kept(self) -> float:
        """Fraction of the listed layers' weights the masks keep."""
        return sum(int(m.sum()) for m in self.masks.values()) / sum(m.numel() for m in self.masks.values())

    def layer_kept(self) -> dict[str, float]:
        """Per listed layer, the fraction of its weights kept."""
        return {name: int(m.sum()) / m.numel() for name, m in self.masks.items()}

    def attach(self) -> nn.Module:
        """End surgery: attach the masks with ``prune.custom_from_mask``; returns the net."""
        for name, module in self.modules.items():
            prune.custom_from_mask(module, "weight", mask=self.masks[name])
        return self.net
