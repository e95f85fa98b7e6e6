r"""Curvature: the diagonal of the loss's Hessian, and the saliency it gives each weight.

Optimal Brain Damage (LeCun, Denker and Solla 1990) ranks weights by
:math:`s_k = \tfrac12 h_{kk} w_k^2`; Hessian-weighted k-means (Choi, El-Khamy and
Lee 2017) weighs each weight's rounding error by the same :math:`h_{kk}`. Both
need the diagonal of the Hessian of the mean cross-entropy, computed here three
ways: exactly (:func:`hessian_diagonal`, one Hessian-vector product per
parameter chunk), by the Gauss-Newton approximation from per-example Jacobians
(:func:`gauss_newton_diagonal`), and in closed form for the ``nn.Linear`` layers
of an MLP (:func:`linear_gauss_newton_diagonal`). For a ReLU network the three agree.

References
----------
.. [1] Y. LeCun, J. S. Denker, S. A. Solla, "Optimal Brain Damage", NeurIPS 1990.
.. [2] Y. Choi, M. El-Khamy, J. Lee, "Towards the Limit of Network Quantization", ICLR 2017,
   arXiv:1612.01543.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.func import functional_call, grad, jacrev, jvp, vmap

from lib.core.checks import check_choice, check_int

__all__ = ["hessian_diagonal", "gauss_newton_diagonal", "obd_saliency", "linear_gauss_newton_diagonal"]


def _named_params(net: nn.Module, params: Sequence[str] | None) -> dict[str, torch.Tensor]:
    """The parameters named in ``params`` (default: all), detached, validated against ``net``."""
    available = dict(net.named_parameters())
    if params is None:
        return {name: p.detach() for name, p in available.items()}
    if isinstance(params, str) or not list(params):
        raise ValueError(f"params must list at least one parameter name, got {params!r}")
    for name in params:
        if name not in available:
            raise ValueError(f"params names {name!r}, which is not in net.named_parameters() "
                             f"({', '.join(available)})")
    return {name: available[name].detach() for name in params}


def _check_batch(X: torch.Tensor, y: torch.Tensor | None = None) -> None:
    if not isinstance(X, torch.Tensor) or X.ndim < 1 or len(X) == 0:
        raise ValueError(f"X must be a non-empty tensor of examples, got {type(X).__name__}")
    if y is not None and (not isinstance(y, torch.Tensor) or y.shape != (len(X),)):
        raise ValueError(f"y must be a tensor of {len(X)} class indices, got shape "
                         f"{tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__}")


def hessian_diagonal(net: nn.Module, X: torch.Tensor, y: torch.Tensor, params: Sequence[str] | None = None,
                     chunk: int = 128) -> dict[str, torch.Tensor]:
    r"""The exact diagonal of the Hessian of the mean cross-entropy, :math:`h_{kk} = \partial^2 L / \partial w_k^2`.

    :math:`L(\theta) = \frac1N \sum_n \ell(f(x_n; \theta), y_n)` on the batch ``(X, y)``. Diagonal entry
    :math:`k` is entry :math:`k` of the Hessian-vector product :math:`H e_k`; each product costs about
    two passes over the batch (forward-mode differentiation of the gradient,
    :func:`torch.func.jvp` of :func:`torch.func.grad`), and :func:`torch.func.vmap` runs ``chunk``
    basis vectors at once. Only each parameter's own block of :math:`H` is touched, since its diagonal
    is the diagonal of the whole. Cost: one Hessian-vector product per parameter entry, so this is
    for small nets (a 64-32-10 MLP on 1,437 digits: about a second), not LeNet-300-100.

    The model is evaluated in ``eval`` mode (BatchNorm uses its running statistics).

    Parameters
    ----------
    net : nn.Module
    X, y : tensors
        Inputs and class indices.
    params : sequence of str, optional
        Parameter names as in ``net.named_parameters()`` (a pruned layer's is ``"<layer>.weight_orig"``);
        default all.
    chunk : int >= 1
        Basis vectors per vectorised batch (memory grows with it).

    Returns
    -------
    dict of str to Tensor
        Per parameter name, a tensor of its shape.
    """
    _check_batch(X, y)
    chunk = check_int("chunk", chunk, 1)
    chosen = _named_params(net, params)
    frozen = {name: p.detach() for name, p in net.named_parameters()}
    was_training = net.training
    net.eval()
    out = {}
    try:
        for name, p in chosen.items():
            def loss(w, name=name):
                return nn.functional.cross_entropy(functional_call(net, {**frozen, name: w}, (X,)), y)

            def hvp(v, loss=loss, p=p):
                return jvp(grad(loss), (p,), (v,))[1]

            n = p.numel()
            diag = torch.empty(n, dtype=p.dtype)
            for start in range(0, n, chunk):
                idx = torch.arange(start, min(n, start + chunk))
                basis = torch.zeros(len(idx), n, dtype=p.dtype)
                basis[torch.arange(len(idx)), idx] = 1.0
                products = vmap(hvp)(basis.view(len(idx), *p.shape)).reshape(len(idx), n)
                diag[idx] = products[torch.arange(len(idx)), idx]
            out[name] = diag.view_as(p)
    finally:
        net.train(was_training)
    return out


def gauss_newton_diagonal(net: nn.Module, X: torch.Tensor, params: Sequence[str] | None = None,
                          chunk: int = 64) -> dict[str, torch.Tensor]:
    r"""The diagonal of the Gauss-Newton (Levenberg-Marquardt) approximation of the cross-entropy Hessian.

    Writing :math:`z_n = f(x_n; \theta)` for the logits and :math:`J_n = \partial z_n / \partial\theta`,

    .. math::

        H = \frac1N \sum_n J_n^\top \nabla_z^2 \ell \, J_n
            + \frac1N \sum_n \sum_c \frac{\partial \ell}{\partial z_{nc}} \nabla_\theta^2 z_{nc},
        \qquad \nabla_z^2 \ell = \operatorname{diag}(p_n) - p_n p_n^\top,

    and Gauss-Newton keeps the first term only: positive semi-definite, and independent of the labels.
    With :math:`A_n = \operatorname{diag}(\sqrt{p_n}) - p_n \sqrt{p_n}^\top` (so :math:`A_n A_n^\top = \nabla_z^2 \ell`),
    :math:`G_{kk} = \frac1N \sum_n \sum_c \big((A_n^\top J_n)_{ck}\big)^2`, from per-example Jacobians
    (:func:`torch.func.jacrev` under :func:`torch.func.vmap`, ``chunk`` examples at a time).

    LeCun, Denker and Solla's Optimal Brain Damage used this approximation (computed by a
    second-order back-propagation); on the small nets here the exact diagonal
    (:func:`hessian_diagonal`) is affordable too. For a ReLU network the two are equal: every logit is
    piecewise linear in any single weight, so :math:`\partial^2 z_{nc} / \partial w_k^2 = 0` and the
    second term has no diagonal.

    Returns
    -------
    dict of str to Tensor
        Per parameter name (as in ``net.named_parameters()``), a non-negative tensor of its shape.
    """
    _check_batch(X)
    chunk = check_int("chunk", chunk, 1)
    chosen = _named_params(net, params)
    frozen = {name: p.detach() for name, p in net.named_parameters()}
    was_training = net.training
    net.eval()
    try:
        def projected_logits(w, x, a):  # A^T z for one example: C numbers whose gradients we square
            return a.T @ functional_call(net, {**frozen, **w}, (x[None],))[0]

        total = {name: torch.zeros_like(p) for name, p in chosen.items()}
        for start in range(0, len(X), chunk):
            x = X[start:start + chunk]
            with torch.no_grad():
                prob = torch.softmax(functional_call(net, frozen, (x,)), dim=1)
            root = prob.sqrt()
            a = torch.diag_embed(root) - prob[:, :, None] * root[:, None, :]
            jac = vmap(jacrev(projected_logits), in_dims=(None, 0, 0))(chosen, x, a)  # name: (n, C, *shape)
            for name in total:
                total[name] += jac[name].pow(2).sum(dim=(0, 1))
    finally:
        net.train(was_training)
    return {name: t / len(X) for name, t in total.items()}


def obd_saliency(net: nn.Module, X: torch.Tensor, y: torch.Tensor, params: Sequence[str] | None = None,
                 curvature: str = "exact") -> dict[str, torch.Tensor]:
    r"""Optimal Brain Damage saliencies :math:`s_k = \tfrac12 h_{kk} w_k^2` (LeCun, Denker and Solla 1990).

    Expanding the loss around the trained weights, deleting weight :math:`k` (:math:`\delta w_k = -w_k`)
    changes it by

    .. math::

        \delta L \approx g_k\,\delta w_k + \tfrac12 h_{kk}\,\delta w_k^2 + \tfrac12\sum_{j \ne k} h_{jk}\,\delta w_j \delta w_k ,

    and OBD keeps the middle term only: the gradient :math:`g` vanishes at a minimum (assumed), and
    the off-diagonal couplings are dropped (assumed small), which is what makes the scores additive.
    Magnitude pruning is the special case :math:`h_{kk}` = constant.

    The exact :math:`h_{kk}` (``curvature="exact"``) can be negative in general (the trained point is
    not an exact minimum, and the second-order term of a smooth activation can dominate), and then so
    is :math:`s_k`; it is non-negative for ReLU nets and always for ``curvature="gauss-newton"``.

    Parameters
    ----------
    curvature : {"exact", "gauss-newton"}
        :func:`hessian_diagonal` or :func:`gauss_newton_diagonal`.

    Returns
    -------
    dict of str to Tensor
        Per parameter name, the saliencies (a pruned layer's masked weights have saliency 0:
        their effective weight is 0).
    """
    check_choice("curvature", curvature, ("exact", "gauss-newton"))
    chosen = _named_params(net, params)
    h = (hessian_diagonal(net, X, y, list(chosen)) if curvature == "exact"
         else gauss_newton_diagonal(net, X, list(chosen)))
    modules = dict(net.named_modules())
    out = {}
    for name, p in chosen.items():
        w = p
        if name.endswith("_orig"):  # a pruned parameter: the effective weight is weight_orig * mask
            owner, _, attr = name.rpartition(".")
            w = p * getattr(modules[owner], attr[:-5] + "_mask")
        out[name] = 0.5 * h[name] * w.pow(2)
    return out


def linear_gauss_newton_diagonal(net: nn.Module, X: torch.Tensor, batch_size: int = 4096) -> dict[str, torch.Tensor]:
    r"""The Gauss-Newton diagonal of the mean cross-entropy for every ``nn.Linear`` weight, in closed form.

    The importance :math:`h_i` of Hessian-weighted k-means (Choi et al. 2017). It is the quantity
    :func:`gauss_newton_diagonal` computes from per-example Jacobians, but for a linear
    layer :math:`u = W a + b` it factorises: :math:`\partial u_{r} / \partial W_{rj} = a_j`, so with
    :math:`\delta_{n,c} = \partial (A_n^\top z_n)_c / \partial u` (back-propagated to the layer's output),

    .. math::

        G_{rj} = \frac1N \sum_n \Big(\sum_c \delta_{n,c,r}^2\Big)\, a_{n,j}^2,
        \qquad A_n A_n^\top = \operatorname{diag}(p_n) - p_n p_n^\top,

    one matrix product per layer after :math:`C` (number of classes) backward passes per batch,
    instead of a Jacobian of every logit with respect to every weight for every example. Cheap
    enough for the whole training set of LeNet-300-100 (seconds, not minutes). For a ReLU network
    it is also the *exact* Hessian diagonal: each logit is piecewise linear in any single weight,
    so the term the Gauss-Newton approximation drops has no diagonal.

    Parameters
    ----------
    net : nn.Module
        A classifier whose output is the logits; evaluated in ``eval`` mode. Every ``nn.Linear``
        it holds (``net.named_modules()``) gets a diagonal; other layers are passed through.
    X : tensor
        Inputs, a batch in the first dimension.
    batch_size : int >= 1
        Examples per pass (memory grows with it; the result does not depend on it beyond rounding).

    Returns
    -------
    dict of str to Tensor
        ``"<module name>.weight"`` to a non-negative tensor of that weight's shape.

    References
    ----------
    .. [1] Y. LeCun, J. Denker, S. Solla, "Optimal Brain Damage", NeurIPS 1989 (the diagonal
       Gauss-Newton approximation).
    .. [2] Y. Choi, M. El-Khamy, J. Lee, "Towards the Limit of Network Quantization", ICLR 2017,
       arXiv:1612.01543.

    >>> net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    >>> h = linear_gauss_newton_diagonal(net, torch.randn(5, 4))
    >>> {name: tuple(t.shape) for name, t in h.items()}
    {'0.weight': (3, 4), '2.weight': (2, 3)}
    """
    if not isinstance(net, nn.Module):
        raise ValueError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    if not isinstance(X, torch.Tensor) or X.ndim < 1 or len(X) == 0 or not X.dtype.is_floating_point:
        raise ValueError(f"X must be a non-empty floating-point tensor of examples, got "
                         f"{tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__}")
    batch_size = check_int("batch_size", batch_size, 1)
    layers = {name: m for name, m in net.named_modules() if isinstance(m, nn.Linear)}
    if not layers:
        raise ValueError("net must contain at least one nn.Linear layer")
    total = {name: torch.zeros_like(m.weight, dtype=torch.float64) for name, m in layers.items()}
    seen: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def keep(name):  # forward hook: remember the layer's input a and output u
        return lambda m, inputs, output: seen.__setitem__(name, (inputs[0].detach(), output))

    hooks = [m.register_forward_hook(keep(name)) for name, m in layers.items()]
    was_training = net.training
    net.eval()
    try:
        for start in range(0, len(X), batch_size):
            seen.clear()
            with torch.enable_grad():
                z = net(X[start:start + batch_size])
                if z.ndim != 2:
                    raise ValueError(f"net must return logits of shape (batch, classes), got {tuple(z.shape)}")
                prob = torch.softmax(z.detach(), dim=1)
                root = prob.sqrt()
                a_mat = torch.diag_embed(root) - prob[:, :, None] * root[:, None, :]  # A_n, (n, C, C)
                names = list(seen)
                outputs = [seen[name][1] for name in names]
                s = {name: 0.0 for name in names}
                for c in range(z.shape[1]):  # back-propagate column c of A_n from the logits
                    deltas = torch.autograd.grad(z, outputs, grad_outputs=a_mat[:, :, c], retain_graph=True)
                    for name, d in zip(names, deltas):
                        s[name] = s[name] + d.double().pow(2)
            for name in names:
                total[name] += s[name].T @ seen[name][0].double().pow(2)
    finally:
        for h in hooks:
            h.remove()
        net.train(was_training)
    return {f"{name}.weight": (t / len(X)).to(layers[name].weight.dtype) for name, t in total.items()}
