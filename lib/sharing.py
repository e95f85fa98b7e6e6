r"""Weight sharing: a learned codebook instead of a uniform grid.

**Scalar k-means** (Deep Compression, Han et al. 2016) clusters a layer's weights into
:math:`k` centroids (the *codebook*), and each weight stores only the :math:`\log_2 k`-bit
index of its centroid (:func:`kmeans_quantize`, Lloyd's algorithm, which minimises

.. math::

    \sum_i h_i\,(w_i - c_{\ell_i})^2

with every :math:`h_i = 1`). The centroids are then fine-tuned: the gradient of a centroid is
the sum of the gradients of the weights that share it (:func:`centroid_gradients`,
:class:`SharedWeights`, :func:`share_weights`). **Hessian-weighted** k-means (Choi et al. 2017)
takes :math:`h_i` = the curvature of the loss (``kmeans_quantize(..., importance=h)``, with
``h`` from :func:`lib.curvature.linear_gauss_newton_diagonal`).

**Vector quantisation** (Gong et al. 2014) clusters short vectors of weights instead of single
weights: product quantisation (:func:`product_quantize`, :func:`pq_reconstruct`,
:func:`pq_compression_ratio`) and residual quantisation (:func:`residual_quantize`,
:func:`rq_reconstruct`, :func:`rq_compression_ratio`).

Every public name here is also importable from :mod:`lib.quantization`, as before.

References
----------
.. [1] S. Han, H. Mao, W. J. Dally, "Deep Compression: Compressing Deep Neural Networks with
   Pruning, Trained Quantization and Huffman Coding", ICLR 2016, arXiv:1510.00149.
.. [2] S. P. Lloyd, "Least squares quantization in PCM", IEEE Trans. Information Theory 28(2), 1982.
.. [3] Y. Choi, M. El-Khamy, J. Lee, "Towards the Limit of Network Quantization", ICLR 2017,
   arXiv:1612.01543.
.. [4] Y. Gong, L. Liu, M. Yang, L. Bourdev, "Compressing Deep Convolutional Networks using
   Vector Quantization", 2014, arXiv:1412.6115.
.. [5] H. Jégou, M. Douze, C. Schmid, "Product Quantization for Nearest Neighbor Search",
   IEEE TPAMI 33(1), 2011.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from lib.core.checks import check_choice, check_int

__all__ = ["kmeans_quantize", "kmeans_history", "centroid_gradients", "SharedWeights", "share_weights",
           "product_quantize", "pq_reconstruct", "pq_compression_ratio",
           "residual_quantize", "rq_reconstruct", "rq_compression_ratio"]


# --------------------------------------------------------------------------- weight sharing by k-means
def _check_mask(mask, weight: torch.Tensor) -> torch.Tensor:
    if not isinstance(mask, torch.Tensor) or mask.shape != weight.shape:
        raise ValueError(f"mask must be a tensor of the weight's shape {tuple(weight.shape)}, got "
                         f"{tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__}")
    if not bool(((mask == 0) | (mask == 1)).all()):
        raise ValueError("mask must hold only 0 and 1 (or False and True)")
    return mask.bool()


def _init_centroids(values: torch.Tensor, n_clusters: int, init: str, seed: int) -> torch.Tensor:
    """Deep Compression's three initialisations, on the 1-D float64 ``values``; sorted."""
    if init == "linear":  # evenly spaced between the smallest and the largest weight
        return torch.linspace(float(values.min()), float(values.max()), n_clusters, dtype=torch.float64)
    if init == "density":  # evenly spaced in the CDF: the (i + 1/2)/k quantiles
        levels = (np.arange(n_clusters) + 0.5) / n_clusters
        return torch.from_numpy(np.quantile(values.numpy(), levels))
    distinct = torch.unique(values)  # "random": k distinct weights, drawn with a seeded generator
    pick = torch.randperm(len(distinct), generator=torch.Generator().manual_seed(seed))[:n_clusters]
    return distinct[pick].sort().values


def _assign(values: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """Index of the nearest centroid (sorted centroids: compare with the midpoints between them).

    A value exactly halfway between two centroids goes to the lower one.
    """
    midpoints = (centroids[1:] + centroids[:-1]) / 2
    return torch.bucketize(values, midpoints, right=False)


def _check_importance(importance, weight: torch.Tensor) -> torch.Tensor:
    """``importance`` as a float64 tensor of ``weight``'s shape, finite and non-negative."""
    if not isinstance(importance, torch.Tensor) or importance.shape != weight.shape:
        raise ValueError(f"importance must be a tensor of the weight's shape {tuple(weight.shape)}, got "
                         f"{tuple(importance.shape) if isinstance(importance, torch.Tensor) else type(importance).__name__}")
    if not (importance.dtype.is_floating_point or importance.dtype in (torch.int32, torch.int64)):
        raise ValueError(f"importance must hold real numbers, got dtype {importance.dtype}")
    h = importance.detach().cpu().double()
    if not bool(torch.isfinite(h).all()) or bool((h < 0).any()):
        raise ValueError(f"importance must be finite and non-negative (clamp a Hessian diagonal at 0), "
                         f"got values in [{float(h.min()):.3g}, {float(h.max()):.3g}]")
    return h


def _lloyd(weight: torch.Tensor, n_clusters: int, init: str, iters: int, seed: int, mask, importance=None):
    """Lloyd's algorithm on the (kept) entries of ``weight``: centroids, labels, (weighted) MSE per iteration."""
    if not isinstance(weight, torch.Tensor) or not weight.dtype.is_floating_point:
        got = getattr(weight, "dtype", type(weight).__name__)
        raise ValueError(f"weight must be a floating-point tensor, got {got}")
    check_choice("init", init, ("linear", "density", "random"))
    iters = check_int("iters", iters, 0)
    seed = check_int("seed", seed, 0, 2**63 - 1)
    w = weight.detach().cpu()
    keep = torch.ones_like(w, dtype=torch.bool) if mask is None else _check_mask(mask.detach().cpu(), w)
    values = w[keep].double()
    if not bool(torch.isfinite(values).all()):
        raise ValueError("weight must contain only finite numbers")
    if values.numel() == 0:
        raise ValueError("mask must keep at least one weight, got an all-zero mask")
    if importance is None:
        h = torch.ones_like(values)
    else:
        h = _check_importance(importance, w)[keep]
        if not float(h.sum()) > 0:
            raise ValueError("importance must be positive for at least one (kept) weight, got all zeros")
    check_int("n_clusters", n_clusters, 1, len(torch.unique(values)))  # at most one centroid per distinct value

    def objective(centroids, labels):  # the h-weighted mean squared error (plain MSE when h = 1)
        return float((h * (centroids[labels] - values).pow(2)).sum() / h.sum())

    centroids = _init_centroids(values, n_clusters, init, seed)
    labels = _assign(values, centroids)
    history = [objective(centroids, labels)]
    hw = h * values
    for _ in range(iters):
        # Update step: each centroid moves to the (h-weighted) mean of its cluster; one with no
        # weight (empty, or all its importances 0) stays put.
        sums = torch.zeros(n_clusters, dtype=torch.float64).index_add_(0, labels, hw)
        mass = torch.zeros(n_clusters, dtype=torch.float64).index_add_(0, labels, h)
        centroids = torch.where(mass > 0, sums / torch.where(mass > 0, mass, 1.0), centroids)
        # Assignment step: each weight joins its nearest centroid (importance scales every distance
        # of one weight alike, so it does not change which centroid is nearest).
        new = _assign(values, centroids)
        history.append(objective(centroids, new))
        if torch.equal(new, labels):
            break
        labels = new
    return centroids, labels, keep, history


def kmeans_quantize(weight: torch.Tensor, n_clusters: int, init: str = "linear", iters: int = 30, seed: int = 0,
                    mask: torch.Tensor | None = None,
                    importance: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Share weights: cluster them into ``n_clusters`` centroids by k-means (Lloyd's algorithm).

    One-dimensional k-means minimises the within-cluster squared error
    :math:`\sum_i h_i (w_i - c_{\ell_i})^2` by alternating two steps, neither of which can increase it:
    assign every weight to its nearest centroid, then move every centroid to the (weighted) mean of
    its weights, :math:`c_k = \sum_{\ell_i = k} h_i w_i \,/\, \sum_{\ell_i = k} h_i`. Plain k-means has
    every :math:`h_i = 1`; **Hessian-weighted** k-means (Choi et al. 2017) takes :math:`h_i` = the
    diagonal of the Hessian of the loss, so that the objective approximates the loss increase
    :math:`\tfrac12 \sum_i h_i\, \delta w_i^2` of a trained (zero-gradient) network and the
    centroids sit where the loss is sensitive. The assignment step is the same either way: a
    weight's :math:`h_i` scales its distance to every centroid alike. It stops after ``iters``
    updates or when no label changes (:func:`kmeans_history` records the objective). Deep
    Compression compares three starting points (unweighted, whatever ``importance`` is):

    ``"linear"``
        Centroids evenly spaced between the smallest and the largest weight. The paper's choice:
        it keeps centroids at the rare large weights, which matter most.
    ``"density"``
        Evenly spaced in the cumulative distribution (the :math:`(i+\frac12)/k` quantiles):
        crowded where the weights are, so few centroids for the large weights.
    ``"random"``
        ``n_clusters`` distinct weights drawn with ``seed``.

    Parameters
    ----------
    weight : tensor
        Any shape.
    n_clusters : int
        Number of shared values, at least 1 and at most the number of distinct (kept) weights.
    mask : tensor, optional
        1 (True) for the weights to cluster, 0 for pruned ones, e.g. a pruned module's
        ``weight_mask``. Pruned weights stay exactly 0 and take no part in the clustering.
    importance : tensor, optional
        :math:`h_i \ge 0`, one per weight (``weight``'s shape), e.g. a Hessian diagonal from
        :func:`lib.curvature.gauss_newton_diagonal` (an exact Hessian diagonal may have negative
        entries: clamp them at 0). Default: all 1, plain k-means. At least one kept weight must
        have :math:`h_i > 0`; a weight with :math:`h_i = 0` still gets the nearest centroid but
        does not pull it.

    Returns
    -------
    codebook : Tensor
        The ``n_clusters`` shared values, in ``weight``'s dtype, sorted ascending. With a ``mask``
        it has ``n_clusters + 1`` entries: ``codebook[0]`` is exactly 0, the code of every pruned
        weight (a sparse format needs a code for zero, see :func:`lib.coding.relative_entries`),
        and ``codebook[1:]`` are the ``n_clusters`` centroids, sorted ascending.
    labels : Tensor
        ``int64``, the shape of ``weight``: the index into ``codebook`` of each weight, so
        ``codebook[labels]`` is the shared-weight tensor. With a ``mask``, label 0 marks the
        pruned weights and kept ones have labels ``1 .. n_clusters``.

    References
    ----------
    .. [1] S. Han, H. Mao, W. J. Dally, "Deep Compression", ICLR 2016, arXiv:1510.00149 (section 3).
    .. [2] Y. Choi, M. El-Khamy, J. Lee, "Towards the Limit of Network Quantization", ICLR 2017,
       arXiv:1612.01543 (Hessian-weighted k-means).

    >>> codebook, labels = kmeans_quantize(torch.tensor([0.1, 0.2, 0.9, 1.1]), 2)
    >>> codebook, labels
    (tensor([0.1500, 1.0000]), tensor([0, 0, 1, 1]))
    >>> kmeans_quantize(torch.tensor([0.1, 0.2, 0.9, 1.1]), 2, importance=torch.tensor([1.0, 3.0, 1.0, 1.0]))[0]
    tensor([0.1750, 1.0000])
    """
    centroids, labels, keep, _ = _lloyd(weight, n_clusters, init, iters, seed, mask, importance)
    if mask is None:
        return centroids.to(weight.dtype), labels.reshape(weight.shape)
    codebook = torch.cat([torch.zeros(1, dtype=torch.float64), centroids]).to(weight.dtype)
    full = torch.zeros(weight.shape, dtype=torch.int64)
    full[keep] = labels + 1
    return codebook, full


def kmeans_history(weight: torch.Tensor, n_clusters: int, init: str = "linear", iters: int = 30, seed: int = 0,
                   mask: torch.Tensor | None = None, importance: torch.Tensor | None = None) -> list[float]:
    r"""The mean squared error :math:`\overline{(w - c_\ell)^2}` over the clustered weights, after the
    initial assignment and after each Lloyd iteration of :func:`kmeans_quantize` (same arguments).

    With ``importance`` :math:`h`, the weighted mean :math:`\sum_i h_i (w_i - c_{\ell_i})^2 / \sum_i h_i`,
    the objective that weighted Lloyd minimises. Never increasing; it stops early once the labels
    no longer change.

    >>> [round(e, 4) for e in kmeans_history(torch.tensor([0.0, 0.1, 0.2, 1.0]), 2, iters=5)]  # centroids 0, 1 -> 0.1, 1
    [0.0125, 0.005]
    """
    return _lloyd(weight, n_clusters, init, iters, seed, mask, importance)[3]


def centroid_gradients(grad: torch.Tensor, labels: torch.Tensor, n_clusters: int) -> torch.Tensor:
    r"""The gradient of each shared value: the sum of the gradients of the weights that share it.

    If :math:`w_i = c_{\ell_i}`, the chain rule gives
    :math:`\partial L/\partial c_k = \sum_i \partial L/\partial w_i \cdot \mathbb 1[\ell_i = k]`
    (Deep Compression, eq. 3): group the weight gradients by label and add them up. This is also
    what autograd computes for ``codebook[labels]``.

    Parameters
    ----------
    grad : tensor
        :math:`\partial L / \partial W`, e.g. ``module.weight.grad``.
    labels : tensor
        Integer labels in ``[0, n_clusters)``, of ``grad``'s shape.
    n_clusters : int
        The codebook length (with a mask from :func:`kmeans_quantize`, the centroids plus the zero).

    >>> centroid_gradients(torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([0, 1, 0, 1]), 3)
    tensor([4., 6., 0.])
    """
    n_clusters = check_int("n_clusters", n_clusters, 1)
    if not isinstance(grad, torch.Tensor) or not isinstance(labels, torch.Tensor) or grad.shape != labels.shape:
        raise ValueError(f"grad and labels must be tensors of the same shape, got "
                         f"{tuple(getattr(grad, 'shape', ()))} and {tuple(getattr(labels, 'shape', ()))}")
    out_of_range = labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= n_clusters)
    if labels.dtype.is_floating_point or out_of_range:
        raise ValueError(f"labels must be integers in [0, {n_clusters - 1}] (n_clusters={n_clusters})")
    return torch.zeros(n_clusters, dtype=grad.dtype).index_add_(0, labels.reshape(-1).long(), grad.reshape(-1))


class SharedWeights(nn.Module):
    r"""A parametrisation ``weight = codebook[labels]`` whose trainable parameters are the centroids.

    Registered with ``torch.nn.utils.parametrize.register_parametrization`` (see :func:`share_weights`),
    ``module.weight`` is recomputed from the centroids at every use, so back-propagation delivers
    :func:`centroid_gradients` to ``centroids`` and fine-tuning moves the shared values while
    every weight keeps its cluster. With ``zero_code=True`` (a pruned layer) label 0 stands for
    an exact 0 that is not trained, and labels ``1..k`` for the ``k`` centroids, as in
    :func:`kmeans_quantize`.
    """

    def __init__(self, codebook: torch.Tensor, labels: torch.Tensor, zero_code: bool = False):
        super().__init__()
        if zero_code and float(codebook[0]) != 0.0:
            raise ValueError(f"codebook[0] must be 0 when zero_code is True, got {float(codebook[0])}")
        self.zero_code = bool(zero_code)
        self.centroids = nn.Parameter((codebook[1:] if zero_code else codebook).detach().clone())
        self.register_buffer("labels", labels.detach().clone())

    @property
    def codebook(self) -> torch.Tensor:
        """All shared values, in the order labels index them (the 0 first with ``zero_code``)."""
        if not self.zero_code:
            return self.centroids
        return torch.cat([torch.zeros(1, dtype=self.centroids.dtype), self.centroids])

    def forward(self, _original: torch.Tensor) -> torch.Tensor:
        return self.codebook[self.labels]


def share_weights(module: nn.Module, n_clusters: int, init: str = "linear", iters: int = 30, name: str = "weight",
                  mask: torch.Tensor | None = None, importance: torch.Tensor | None = None) -> SharedWeights:
    """Cluster ``module.<name>`` (:func:`kmeans_quantize`, optionally ``importance``-weighted) and make
    it shared (:class:`SharedWeights`), in place.

    The original tensor stays in the module (``module.parametrizations.<name>.original``) but no
    longer trains: only the centroids do. Returns the parametrisation.
    """
    if not hasattr(module, name) or not isinstance(getattr(module, name), torch.Tensor):
        raise ValueError(f"name must name a tensor of the module, got {name!r}")
    weight = getattr(module, name).detach()
    codebook, labels = kmeans_quantize(weight, n_clusters, init, iters, mask=mask, importance=importance)
    shared = SharedWeights(codebook, labels, zero_code=mask is not None)
    parametrize.register_parametrization(module, name, shared, unsafe=True)
    getattr(module.parametrizations, name).original.requires_grad_(False)
    return shared


# --------------------------------------------------------------------------- vector quantisation (Gong et al.)
def _kmeans_vectors(X: torch.Tensor, k: int, iters: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's algorithm on the rows of ``X`` (n, d), started from ``k`` distinct rows drawn with ``seed``."""
    distinct = torch.unique(X, dim=0)
    if k > len(distinct):
        raise ValueError(f"n_clusters must be at most the number of distinct sub-vectors ({len(distinct)}), got {k}")
    g = torch.Generator().manual_seed(seed)
    centroids = distinct[torch.randperm(len(distinct), generator=g)[:k]].clone()
    labels = torch.cdist(X, centroids).argmin(dim=1)
    for _ in range(iters):
        sums = torch.zeros_like(centroids).index_add_(0, labels, X)
        counts = torch.bincount(labels, minlength=k)[:, None]
        centroids = torch.where(counts > 0, sums / counts.clamp(min=1), centroids)
        new = torch.cdist(X, centroids).argmin(dim=1)
        if torch.equal(new, labels):
            break
        labels = new
    return centroids, labels


def _check_matrix(W) -> torch.Tensor:
    if not isinstance(W, torch.Tensor) or W.dim() != 2 or not W.dtype.is_floating_point:
        raise ValueError(f"W must be a 2-D floating-point tensor, got "
                         f"{tuple(W.shape) if isinstance(W, torch.Tensor) else type(W).__name__}")
    return W.detach().double()


def product_quantize(W: torch.Tensor, n_subvectors: int, n_clusters: int, iters: int = 25,
                     seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Product quantisation of the rows of a matrix (Gong et al. 2014, section 3.3).

    :math:`W \in \mathbb R^{m \times n}` is cut column-wise into ``s = n_subvectors`` blocks of
    :math:`n/s` columns. In each block the :math:`m` row pieces are clustered into
    :math:`k` = ``n_clusters`` centroids, and each row piece stores the index of its centroid.

    Returns
    -------
    codebooks : Tensor
        Shape ``(s, k, n/s)``: block :math:`j`'s centroids.
    codes : Tensor
        Shape ``(m, s)``, ``int64``: the centroid of row :math:`i` in block :math:`j`.
        :func:`pq_reconstruct` rebuilds the approximation of :math:`W`.

    Storage: :math:`32kn` bits of codebooks and :math:`ms\log_2 k` bits of codes
    (:func:`pq_compression_ratio`). The codebooks cost the same whatever :math:`m`, so PQ pays
    when the rows are many: for a layer with more inputs than outputs, quantise ``W.T``.

    References
    ----------
    .. [1] H. Jégou, M. Douze, C. Schmid, "Product Quantization for Nearest Neighbor Search",
       IEEE TPAMI 33(1), 2011.
    .. [2] Y. Gong, L. Liu, M. Yang, L. Bourdev, "Compressing Deep Convolutional Networks using
       Vector Quantization", 2014, arXiv:1412.6115.

    >>> W = torch.tensor([[0.0, 1.0, 5.0, 5.0], [0.1, 1.0, 5.0, 5.2], [3.0, 3.0, 0.0, 0.0]])
    >>> codebooks, codes = product_quantize(W, n_subvectors=2, n_clusters=2)
    >>> codebooks.shape, codes.shape
    (torch.Size([2, 2, 2]), torch.Size([3, 2]))
    >>> pq_reconstruct(codebooks, codes)
    tensor([[0.0500, 1.0000, 5.0000, 5.1000],
            [0.0500, 1.0000, 5.0000, 5.1000],
            [3.0000, 3.0000, 0.0000, 0.0000]])
    """
    X = _check_matrix(W)
    m, n = X.shape
    s = check_int("n_subvectors", n_subvectors, 1, n)
    if n % s:
        raise ValueError(f"n_subvectors must divide the number of columns ({n}), got {n_subvectors}")
    k = check_int("n_clusters", n_clusters, 1, m)
    iters = check_int("iters", iters, 0)
    books, codes = [], []
    for j, block in enumerate(X.split(n // s, dim=1)):
        c, lab = _kmeans_vectors(block.contiguous(), k, iters, seed + j)
        books.append(c)
        codes.append(lab)
    return torch.stack(books).to(W.dtype), torch.stack(codes, dim=1)


def pq_reconstruct(codebooks: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """The matrix product quantisation stands for: block :math:`j` of row :math:`i` is ``codebooks[j, codes[i, j]]``."""
    s = codebooks.shape[0]
    return torch.cat([codebooks[j][codes[:, j]] for j in range(s)], dim=1)


def pq_compression_ratio(m: int, n: int, k: int, s: int) -> float:
    r"""Compression of product quantisation: :math:`\dfrac{32mn}{32kn + m s \log_2 k}`.

    The :math:`s` codebooks hold :math:`k` centroids of :math:`n/s` floats each (:math:`kn`
    floats together) and each of the :math:`m` rows stores :math:`s` codes of
    :math:`\log_2 k` bits (Gong et al. 2014, section 3.3).

    >>> round(pq_compression_ratio(m=784, n=300, k=16, s=100), 3)
    16.11
    """
    m, n, k, s = check_int("m", m, 1), check_int("n", n, 1), check_int("k", k, 1), check_int("s", s, 1, n)
    return 32 * m * n / (32 * k * n + m * s * math.log2(k))


def residual_quantize(W: torch.Tensor, n_stages: int, n_clusters: int, iters: int = 25,
                      seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Residual quantisation of the rows of a matrix (Gong et al. 2014, section 3.4).

    Stage 1 clusters the rows of :math:`W` into :math:`k` centroids; stage :math:`t` clusters
    what the stages before left over, :math:`W - \sum_{u<t} \text{(stage } u\text{'s reconstruction)}`.
    Each row stores one code per stage, and is approximated by the sum of its centroids.

    Returns
    -------
    codebooks : Tensor
        Shape ``(t, k, n)``.
    codes : Tensor
        Shape ``(m, t)``, ``int64``. :func:`rq_reconstruct` rebuilds the approximation.

    Storage: :math:`32tkn` bits of codebooks and :math:`mt\log_2 k` bits of codes
    (:func:`rq_compression_ratio`).

    >>> W = torch.tensor([[1.0, 0.0], [1.0, 0.5], [-1.0, 0.0], [-1.0, 0.5]])
    >>> codebooks, codes = residual_quantize(W, n_stages=2, n_clusters=2)
    >>> torch.allclose(rq_reconstruct(codebooks, codes), W)  # 2 stages x 2 centroids: 4 sums, exact here
    True
    """
    X = _check_matrix(W)
    m, _ = X.shape
    t = check_int("n_stages", n_stages, 1)
    k = check_int("n_clusters", n_clusters, 1, m)
    iters = check_int("iters", iters, 0)
    residual, books, codes = X.clone(), [], []
    for stage in range(t):
        c, lab = _kmeans_vectors(residual, min(k, len(torch.unique(residual, dim=0))), iters, seed + stage)
        if len(c) < k:  # the residual has fewer distinct rows than k: pad with unused zero centroids
            c = torch.cat([c, torch.zeros(k - len(c), c.shape[1], dtype=c.dtype)])
        books.append(c)
        codes.append(lab)
        residual = residual - c[lab]
    return torch.stack(books).to(W.dtype), torch.stack(codes, dim=1)


def rq_reconstruct(codebooks: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """The matrix residual quantisation stands for: the sum over stages of each row's centroid."""
    return sum(codebooks[t][codes[:, t]] for t in range(codebooks.shape[0]))


def rq_compression_ratio(m: int, n: int, k: int, t: int) -> float:
    r"""Compression of residual quantisation: :math:`\dfrac{32mn}{32tkn + m t \log_2 k}`
    (:math:`t` codebooks of :math:`k` full-length centroids, :math:`t` codes per row).

    >>> round(rq_compression_ratio(m=784, n=300, k=64, t=1), 2)
    12.16
    """
    m, n, k, t = check_int("m", m, 1), check_int("n", n, 1), check_int("k", k, 1), check_int("t", t, 1)
    return 32 * m * n / (32 * t * k * n + m * t * math.log2(k))

