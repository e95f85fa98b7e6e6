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

from lib.core.checks import check_choice, check_int, check_real
from lib.curvature import gauss_newton_diagonal, hessian_diagonal, obd_saliency  # noqa: F401  (lib.pruning.* as before)

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
    _check_amount(amount, sum(s.numel() for s in scores))
    _apply_global_mask(parameters, scores, masks, amount)


def _apply_global_mask(parameters, scores, masks, amount) -> None:
    """Pool the flat ``scores`` and current ``masks`` of the (module, name) ``parameters``, keep the
    highest-scoring weights by one ranking, and give each tensor its share of the pooled mask.
    Like PyTorch's ``global_unstructured``: masked weights score 0 and ``amount`` counts the unmasked
    ones (a ``PruningContainer`` computes the new mask from the old)."""
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

    from lib.workbench.train import accuracy, fit

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


#: The settings that reach Han et al.'s 12x within 0.1 point on our dense baselines (see ``reproduce_han2015``).
HAN_SETTINGS = {
    "lenet_300_100": {"keep": 0.0818, "steps": 10, "finetune_epochs": 5, "final_epochs": 15, "lr": 0.02,
                      "weight_decay": 5e-4},
    "lenet5": {"keep": 0.08, "steps": 8, "finetune_epochs": 3, "final_epochs": 6, "lr": 0.01, "weight_decay": 5e-4},
}


def _han_setup(model: str, overrides: dict):
    from dataclasses import asdict, replace

    from lib.core.cache import config_key
    from lib.workbench.train import TrainConfig

    if model not in PRUNABLE:
        raise ValueError(f"model must be one of {sorted(PRUNABLE)!r}, got {model!r}")
    unknown = set(overrides) - set(HAN_SETTINGS[model])
    if unknown:
        raise ValueError(f"settings must be among {sorted(HAN_SETTINGS[model])!r}, got {sorted(unknown)!r}")
    st = {**HAN_SETTINGS[model], **{k: v for k, v in overrides.items() if v is not None}}
    dense_cfg = TrainConfig(model=model, num_epochs=20 if model == "lenet_300_100" else 15)
    ft = replace(dense_cfg, num_epochs=st["finetune_epochs"], lr=st["lr"], weight_decay=st["weight_decay"])
    key = config_key({"dense": asdict(dense_cfg), "finetune": asdict(ft), "keep": st["keep"], "steps": st["steps"],
                      "final_epochs": st["final_epochs"], "method": "global-magnitude"})
    return st, dense_cfg, ft, key


def reproduce_han2015(model: str = "lenet_300_100", **settings) -> dict:
    """Train the dense model on MNIST, prune it globally by magnitude to ``keep`` of its weights
    in ``steps`` rounds of prune-and-fine-tune, and report what Han et al.'s Table 1 reports.

    ``settings`` override the model's entry of :data:`HAN_SETTINGS`: ``keep`` (final fraction of
    weights), ``steps``, ``finetune_epochs`` per step, ``final_epochs`` after the last step, and the
    fine-tuning ``lr`` and ``weight_decay``.

    Everything is cached by the full configuration (dense weights by :func:`lib.train.train_cached`,
    the result and the pruned weights here), so only a changed setting recomputes.

    Returns
    -------
    dict
        ``dense_error``, ``pruned_error`` (fractions), ``weights``, ``nonzero``, ``compression``,
        per-layer ``layer_kept``, the per-round ``history``, and the paper's numbers under ``paper``.
    """
    import json

    from lib.core.cache import cache_dir
    from lib.workbench.train import accuracy, load_data, train_cached

    st, dense_cfg, ft, key = _han_setup(model, settings)
    keep, steps, final_epochs = st["keep"], st["steps"], st["final_epochs"]
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



# --------------------------------------------------------------------------- dynamic network surgery

def surgery_mask(weight: torch.Tensor, mask: torch.Tensor, keep: float, margin: float = 0.1) -> torch.Tensor:
    r"""One mask update of dynamic network surgery: prune small weights, splice large ones back.

    With :math:`t` the magnitude of the :math:`k`-th largest weight, :math:`k = \mathrm{round}(\text{keep}\cdot n)`
    (so that :math:`|w| \ge t` keeps exactly ``keep`` of them), the thresholds are
    :math:`a = (1 - m)\,t` and :math:`b = (1 + m)\,t`, :math:`m` the ``margin``, and

    .. math::

        T_k \leftarrow \begin{cases} 0 & |w_k| < a \quad\text{(pruned)} \\
                                     T_k & a \le |w_k| < b \quad\text{(unchanged)} \\
                                     1 & |w_k| \ge b \quad\text{(spliced back, or kept)} \end{cases}

    The band :math:`[a, b)` is a hysteresis: a weight hovering near the threshold does not
    flip in and out of the network at every step. With ``margin=0`` this is plain magnitude
    pruning to ``keep`` (ties aside).

    >>> surgery_mask(torch.tensor([0.1, 0.5, 0.95, 1.0]), torch.tensor([1., 1., 0., 1.]), keep=0.5).tolist()
    [0.0, 0.0, 0.0, 1.0]
    """
    keep = check_real("keep", keep, 0.0, 1.0, lo_open=True)
    margin = check_real("margin", margin, 0.0, 1.0, hi_open=True)
    if mask.shape != weight.shape:
        raise ValueError(f"mask must have the weight's shape {tuple(weight.shape)}, got {tuple(mask.shape)}")
    magnitude = weight.detach().abs()
    n = magnitude.numel()
    k = max(1, round(keep * n))
    t = magnitude.reshape(-1).kthvalue(n - k + 1).values  # the k-th largest |w|
    pruned, spliced = magnitude < (1 - margin) * t, magnitude >= (1 + margin) * t
    return torch.where(pruned, 0.0, torch.where(spliced, 1.0, mask)).to(mask.dtype)


def _straight_through(weight: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``weight * mask`` in the forward pass, the identity in the backward pass.

    The value is ``w + (w*T - w) = w*T`` exactly (``w + (-w)`` is an exact zero), and the
    gradient reaches ``w`` through the first term only, so ``dL/dw = dL/d(w*T)`` everywhere,
    pruned entries included.
    """
    return weight + (weight * mask - weight).detach()


def dynamic_surgery(net: nn.Module, data, keep: float, layers: Sequence[str], cfg, margin: float = 0.1,
                    update_every: int = 1, record_every: int = 0) -> dict:
    r"""Dynamic network surgery (Guo, Yao and Chen 2016): train with masks that can both prune and
    revive ("splice") weights, then leave the net pruned to about ``keep`` of its weights.

    Magnitude pruning decides once and for all: a pruned weight gets zero gradient and never
    comes back. Surgery keeps the dense weights :math:`W` and a 0/1 mask :math:`T` per layer and

    * computes the forward pass with :math:`W \odot T`;
    * updates **all** of :math:`W` with the gradient taken with respect to the masked weight,
      :math:`\partial L / \partial W := \partial L / \partial (W \odot T)` (a straight-through
      estimator), so a pruned weight still moves and can grow back above the threshold;
    * every ``update_every`` steps recomputes :math:`T` from :math:`|W|` with two thresholds
      (:func:`surgery_mask`): prune below :math:`a`, splice back above :math:`b`, leave the band between.

    **Thresholds.** The paper's layer-wise thresholds (its released Caffe code) are
    :math:`a_k = 0.9\,\max(\mu_k + c_k \sigma_k, 0)` and :math:`b_k = 1.1\,\max(\mu_k + c_k \sigma_k, 0)`,
    :math:`\mu_k, \sigma_k` the mean and standard deviation of the layer's :math:`|W|` taken once
    from the pretrained weights, and a per-layer factor :math:`c_k` (``c_rate``) tuned by hand; the mask
    is updated with a probability :math:`(1 + \gamma\,\text{iter})^{-\text{power}}` that decays, and
    biases are masked too. The kept fraction that results is whatever :math:`c_k` gives. Here the centre
    :math:`t` is instead the magnitude quantile that keeps ``keep`` of the layer's weights,
    recomputed at each update, with the paper's margin :math:`a = (1 - m)t`, :math:`b = (1 + m)t`: one
    number sets the target instead of a factor per layer searched for it, and comparisons with
    magnitude pruning at the same kept fraction are like for like. Updates are deterministic (every
    ``update_every`` steps) and biases are not pruned, as in the rest of :mod:`lib.pruning`.

    The loop is :func:`lib.train.fit`'s (SGD with momentum and weight decay, cross-entropy, batch
    order seeded by ``cfg.seed``, cosine learning rate if ``cfg.lr_decay == "cosine"``), with the
    masked weights substituted by :func:`torch.func.functional_call`. The first mask update happens
    before the first step, so the masks start as magnitude pruning of the weights given. At the end
    the masks are attached with :func:`torch.nn.utils.prune.custom_from_mask`, so the net looks like
    any other pruned net here (``weight_orig``, ``weight_mask``).

    Parameters
    ----------
    net : nn.Module
        A (usually trained, dense) model; trained and pruned in place.
    data : lib.data.Split
        Training and test data.
    keep : float in (0, 1]
        Target fraction of each listed layer's weights kept.
    layers : sequence of str
        Module names (as in ``net.named_modules()``) whose ``weight`` is pruned; not already pruned.
    cfg : lib.train.TrainConfig
        Training settings: ``num_epochs``, ``lr``, ``momentum``, ``weight_decay``, ``batch_size``,
        ``seed``, ``lr_decay``.
    margin : float in [0, 1)
        Half-width of the hysteresis band, relative to the threshold (the paper's 0.1).
    update_every : int >= 1
        Optimisation steps between mask updates.
    record_every : int >= 0
        Steps between records in ``history``; 0 records at the end of every epoch.

    Returns
    -------
    dict
        ``kept`` (fraction over the listed layers), ``layer_kept`` (per layer), ``compression``
        (dense count over kept), ``test_error``, and ``history``: per record ``epoch``, ``step``,
        ``loss`` (mean training loss since the previous record), ``kept``, ``layer_kept``, ``test_error``,
        ``spliced`` and ``pruned`` (weights whose mask went 0 to 1, and 1 to 0, between the previous
        record and this one; the first record compares with the dense start).

    References
    ----------
    .. [3] Y. Guo, A. Yao, Y. Chen, "Dynamic Network Surgery for Efficient DNNs", NeurIPS 2016,
       arXiv:1608.04493.
    """
    from torch.func import functional_call

    from lib.workbench.train import accuracy

    keep = check_real("keep", keep, 0.0, 1.0, lo_open=True)
    margin = check_real("margin", margin, 0.0, 1.0, hi_open=True)
    update_every = check_int("update_every", update_every, 1)
    record_every = check_int("record_every", record_every, 0)
    num_epochs = check_int("num_epochs", cfg.num_epochs, 1)
    check_real("lr", cfg.lr, 0.0, 10.0, lo_open=True)
    batch_size = check_int("batch_size", cfg.batch_size, 1)
    check_choice("lr_decay", cfg.lr_decay, ("cosine", "none"))
    if isinstance(layers, str) or not list(layers):
        raise ValueError(f"layers must list at least one module name, got {layers!r}")
    layers = list(layers)
    modules = dict(net.named_modules())
    for name in layers:
        module = modules.get(name)
        if module is None or not isinstance(getattr(module, "weight", None), nn.Parameter):
            if module is not None and hasattr(module, "weight_orig"):
                raise ValueError(f"layers names {name!r}, which is already pruned; surgery starts from dense weights")
            raise ValueError(f"layers names {name!r}, which is not a module with a weight parameter in this net")

    weights = {name: modules[name].weight for name in layers}
    masks = {name: torch.ones_like(w, requires_grad=False) for name, w in weights.items()}
    total = sum(w.numel() for w in weights.values())

    def surgery():
        for name, w in weights.items():
            masks[name] = surgery_mask(w, masks[name], keep, margin)

    def forward(x):  # the net with W * T in place of each listed layer's W
        masked = {f"{name}.weight": _straight_through(w, masks[name]) for name, w in weights.items()}
        return functional_call(net, masked, (x,))

    opt = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    steps_per_epoch = (len(data.y_train) + batch_size - 1) // batch_size
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, num_epochs * steps_per_epoch))
             if cfg.lr_decay == "cosine" else torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0))
    g = torch.Generator().manual_seed(cfg.seed)
    loss_fn = nn.CrossEntropyLoss()

    history: list[dict] = []
    previous = {name: torch.ones_like(m) for name, m in masks.items()}
    loss_sum, loss_count = 0.0, 0

    def record(epoch: int, step: int):
        nonlocal previous, loss_sum, loss_count
        with torch.no_grad():
            net.eval()
            error = 1.0 - (forward(data.X_test).argmax(dim=1) == data.y_test).float().mean().item()
        kept = sum(int(m.sum()) for m in masks.values())
        history.append({
            "epoch": epoch, "step": step, "loss": loss_sum / max(1, loss_count), "kept": kept / total,
            "layer_kept": {name: int(m.sum()) / m.numel() for name, m in masks.items()},
            "test_error": error,
            "spliced": sum(int(((previous[n] == 0) & (masks[n] == 1)).sum()) for n in layers),
            "pruned": sum(int(((previous[n] == 1) & (masks[n] == 0)).sum()) for n in layers)})
        previous = {name: m.clone() for name, m in masks.items()}
        loss_sum, loss_count = 0.0, 0

    for name, w in weights.items():  # start from plain magnitude pruning to `keep` (no band yet)
        masks[name] = surgery_mask(w, masks[name], keep, margin=0.0)
    step = 0
    for epoch in range(1, num_epochs + 1):
        order = torch.randperm(len(data.y_train), generator=g)
        for i in range(0, len(order), batch_size):
            if step % update_every == 0:
                surgery()
            idx = order[i:i + batch_size]
            net.train()
            opt.zero_grad()
            loss = loss_fn(forward(data.X_train[idx]), data.y_train[idx])
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            loss_sum, loss_count = loss_sum + loss.item() * len(idx), loss_count + len(idx)
            if record_every and step % record_every == 0:
                record(epoch, step)
        if not record_every:
            record(epoch, step)

    for name in layers:  # hand back an ordinary pruned net: weight = weight_orig * weight_mask
        prune.custom_from_mask(modules[name], "weight", mask=masks[name])
    kept = sum(int(m.sum()) for m in masks.values())
    return {"kept": kept / total, "layer_kept": {name: int(m.sum()) / m.numel() for name, m in masks.items()},
            "compression": total / kept, "test_error": 1.0 - accuracy(net, data.X_test, data.y_test),
            "history": history}


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
    (as in :func:`global_magnitude_prune`). Biases are not pruned. Ties in saliency are broken as
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
    _check_amount(amount, total)
    saliency = obd_saliency(net, X, y, list(names.values()), curvature=curvature)
    scores = [saliency[names[layer]].abs().reshape(-1) for layer in layers]
    masks = [getattr(modules[layer], "weight_mask", torch.ones_like(modules[layer].weight)).reshape(-1)
             for layer in layers]
    _apply_global_mask([(modules[layer], "weight") for layer in layers], scores, masks, amount)
    return {layer: saliency[names[layer]] for layer in layers}


__all__ += ["surgery_mask", "dynamic_surgery", "hessian_diagonal", "gauss_newton_diagonal", "obd_saliency",
            "obd_prune"]


# --------------------------------------------------------------------------- the book's pruning experiments
def han2015_net(model: str = "lenet_300_100", **settings) -> nn.Module:
    """The network :func:`reproduce_han2015` pruned, its masks in place as ``torch.nn.utils.prune``
    reparametrisations (runs the reproduction first if it is not cached)."""
    from lib.core.cache import cache_dir
    from lib.workbench.train import build

    reproduce_han2015(model, **settings)
    _, dense_cfg, _, key = _han_setup(model, settings)
    net = build(dense_cfg)
    modules = dict(net.named_modules())
    for name in PRUNABLE[model]:
        prune.identity(modules[name], "weight")
    net.load_state_dict(torch.load(cache_dir("pruned") / f"han2015-{model}-{key}.pt", weights_only=True))
    for name in PRUNABLE[model]:  # ``weight`` is recomputed before each forward pass; do it now for readers of it
        m = modules[name]
        setattr(m, "weight", m.weight_orig * m.weight_mask)
    return net.eval()


def dense_at_equal_size(model: str = "lenet_300_100", kept: float = 0.08, seed: int = 0) -> dict:
    r"""Train a small dense perceptron with as many weights as ``model`` pruned to ``kept`` of them.

    Both hidden layers of LeNet-300-100 shrink by the same factor :math:`s`, the root of
    :math:`784\cdot300s + 300s\cdot100s + 100s\cdot10 = \text{kept}\cdot266{,}200`, and the small
    network is trained from scratch with the dense model's own recipe. Cached by configuration.

    Returns
    -------
    dict
        ``kept``, ``hidden`` (the two widths), ``weights`` and ``test_error``.
    """
    import json
    import math

    from lib.core.cache import cache_dir, config_key
    from lib.workbench.models import mlp
    from lib.workbench.train import TrainConfig, accuracy, fit, load_data

    check_choice("model", model, ["lenet_300_100"])
    kept = check_real("kept", kept, 0.0, 1.0, lo_open=True)
    cfg = TrainConfig(model=model, num_epochs=20, seed=seed)
    full = 784 * 300 + 300 * 100 + 100 * 10
    a, b = 300 * 100, 784 * 300 + 100 * 10
    s = (-b + math.sqrt(b * b + 4 * a * kept * full)) / (2 * a)
    h1, h2 = max(1, round(300 * s)), max(1, round(100 * s))
    path = cache_dir("pruned") / f"small-dense-{config_key({'cfg': vars(cfg), 'hidden': [h1, h2]})}.json"
    if path.exists():
        return json.loads(path.read_text())
    data = load_data(cfg)
    net = mlp([784, h1, h2, 10], seed=seed)
    fit(net, data, cfg, desc=f"dense 784-{h1}-{h2}-10")
    result = {"kept": kept, "hidden": [h1, h2], "weights": 784 * h1 + h1 * h2 + h2 * 10,
              "test_error": 1.0 - accuracy(net, data.X_test, data.y_test)}
    path.write_text(json.dumps(result))
    return result


def surgery_vs_iterative(model: str = "lenet_300_100", keep: float = 0.018, epochs: int = 10,
                         lr: float = 0.01, seed: int = 0) -> dict:
    """Dynamic network surgery against Han et al.'s loop at the same kept fraction and epoch budget.

    Both start from the cached dense ``model``. Surgery trains ``epochs`` epochs with
    :func:`dynamic_surgery`; the baseline prunes globally by magnitude in 5 geometric steps of
    ``epochs // 5`` epochs each (:func:`iterative_magnitude_prune`). Cached by configuration.

    Returns
    -------
    dict
        ``kept``, ``test_error``, ``spliced`` (weights revived over training) for surgery, and
        ``baseline_kept``, ``baseline_error``, ``dense_error``.
    """
    import copy
    import json
    from dataclasses import replace

    from lib.core.cache import cache_dir, config_key
    from lib.workbench.train import TrainConfig, accuracy, load_data, train_cached

    check_choice("model", model, sorted(PRUNABLE))
    keep = check_real("keep", keep, 0.0, 1.0, lo_open=True)
    epochs = check_int("epochs", epochs, 5)
    dense_cfg = TrainConfig(model=model, num_epochs=20 if model == "lenet_300_100" else 15)
    cfg = replace(dense_cfg, num_epochs=epochs, lr=lr, weight_decay=5e-4, seed=seed)
    path = cache_dir("pruned") / f"surgery-{model}-{config_key({'dense': vars(dense_cfg), 'cfg': vars(cfg), 'keep': keep})}.json"
    if path.exists():
        return json.loads(path.read_text())
    data = load_data(dense_cfg)
    dense, _ = train_cached(dense_cfg, data)
    net = copy.deepcopy(dense)
    dns = dynamic_surgery(net, data, keep, PRUNABLE[model], cfg, record_every=0)
    base = copy.deepcopy(dense)
    history = iterative_magnitude_prune(base, data, keep, 5, replace(cfg, num_epochs=epochs // 5), 0,
                                        layers=PRUNABLE[model])
    result = {"kept": dns["kept"], "test_error": dns["test_error"],
              "spliced": sum(h["spliced"] for h in dns["history"]),
              "baseline_kept": history[-1]["kept"], "baseline_error": history[-1]["test_error"],
              "dense_error": 1.0 - accuracy(dense, data.X_test, data.y_test)}
    path.write_text(json.dumps(result))
    return result


__all__ += ["HAN_SETTINGS", "han2015_net", "dense_at_equal_size", "surgery_vs_iterative"]
