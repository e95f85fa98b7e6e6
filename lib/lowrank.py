r"""Low-rank layers: a weight replaced by a product of smaller factors.

A fully connected layer :math:`y = Wx + b` with :math:`W \in \mathbb{R}^{m \times n}` stores and
multiplies :math:`mn` weights. If :math:`W \approx AB` with :math:`A \in \mathbb{R}^{m \times r}` and
:math:`B \in \mathbb{R}^{r \times n}`, two thinner layers :math:`y = A(Bx) + b` hold :math:`r(m + n)`:
a compression ratio :math:`mn / (r(m + n))`. The best :math:`A B` is given by the truncated SVD
(Eckart-Young); a convolution kernel is a 4-way tensor, and the tensor decompositions of
:mod:`lib.tensors` (CP, Tucker, tensor train, block terms) play the same role for it.

1. **SVD**: :func:`truncated_svd`, :func:`svd_linear`, :func:`svd_params`, :func:`svd_ratio`.
2. **Rank selection**: :func:`energy_rank` (a fraction of the squared singular values), :func:`vbmf_rank`
   (empirical variational Bayes, as Kim et al. 2016 chose Tucker ranks), :func:`tucker2_ranks`.
3. **Layers**: :func:`cp_conv2d` (Lebedev et al. 2015), :func:`tucker_conv2d` (Kim et al. 2016),
   :class:`TTLinear` (Novikov et al. 2015).
4. **Counting**: :func:`count_params`, :func:`macs`, :func:`tt_params`.

Every decomposition of :mod:`lib.tensors` is re-exported here, so ``lib.lowrank.cp_als`` works too.

References
----------
.. [1] C. Eckart, G. Young, "The approximation of one matrix by another of lower rank",
   Psychometrika 1(3), 1936.
.. [2] V. Lebedev, Y. Ganin, M. Rakhuba, I. Oseledets, V. Lempitsky, "Speeding-up Convolutional
   Neural Networks Using Fine-tuned CP-Decomposition", ICLR 2015, arXiv:1412.6553.
.. [3] Y.-D. Kim, E. Park, S. Yoo, T. Choi, L. Yang, D. Shin, "Compression of Deep Convolutional
   Neural Networks for Fast and Low Power Mobile Applications", ICLR 2016, arXiv:1511.06530.
.. [4] A. Novikov, D. Podoprikhin, A. Osokin, D. Vetrov, "Tensorizing Neural Networks",
   NeurIPS 2015, arXiv:1509.06569.
.. [5] S. Nakajima, M. Sugiyama, S. D. Babacan, R. Tomioka, "Global Analytic Solution of
   Fully-observed Variational Bayesian Matrix Factorization", JMLR 14, 2013.
"""

from __future__ import annotations

import torch
from torch import nn

from lib.core.checks import check_int
from lib.tensors import as_tensor

__all__ = ["truncated_svd", "svd_linear", "svd_params", "svd_ratio", "count_params"]


# --------------------------------------------------------------------------- 1. SVD
def truncated_svd(W, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The best rank-``rank`` approximation :math:`AB` of a matrix ``W``, as two factors.

    With the SVD :math:`W = U \Sigma V^\top` (singular values :math:`\sigma_1 \ge \sigma_2 \ge \dots`),
    keep the leading ``rank`` terms and split each :math:`\sigma_i` evenly between the factors:

    .. math:: A = U_{:, :r} \Sigma_r^{1/2}, \qquad B = \Sigma_r^{1/2} V_{:, :r}^\top .

    The balanced split gives both layers of :func:`svd_linear` weights of the same scale.
    Eckart-Young: no rank-:math:`r` matrix is closer to :math:`W`, and
    :math:`\lVert W - AB \rVert_F = \sqrt{\sum_{i > r} \sigma_i^2}`.

    Parameters
    ----------
    W : torch.Tensor or numpy.ndarray
        A 2-D ``(m, n)`` matrix (a Linear weight is ``(out, in)``).
    rank : int
        In ``[1, min(m, n)]``.

    Returns
    -------
    A, B : torch.Tensor
        Shapes ``(m, rank)`` and ``(rank, n)``, in the dtype of ``W``.

    References
    ----------
    C. Eckart, G. Young, "The approximation of one matrix by another of lower rank", Psychometrika 1936.

    Examples
    --------
    >>> W = torch.tensor([[3., 0.], [0., 1.]])
    >>> A, B = truncated_svd(W, 1)
    >>> A @ B
    tensor([[3., 0.],
            [0., 0.]])
    >>> float(torch.linalg.norm(W - A @ B))  # the discarded singular value
    1.0
    """
    W = as_tensor("W", W, ndim=2)
    rank = check_int("rank", rank, 1, min(W.shape))
    U, S, Vh = torch.linalg.svd(W, full_matrices=False)
    root = S[:rank].sqrt()
    return U[:, :rank] * root, root[:, None] * Vh[:rank]


def svd_linear(linear: nn.Linear, rank: int) -> nn.Sequential:
    r"""A Linear layer replaced by two: ``in -> rank`` (no bias), then ``rank -> out`` (the bias).

    :math:`y = Wx + b \approx A(Bx) + b` with :math:`A, B` from :func:`truncated_svd` (computed in float64,
    stored in the layer's dtype). The output equals the original layer's with the rank-``rank`` weight
    :math:`AB`, and at full rank equals the original layer's.

    Examples
    --------
    >>> small = svd_linear(nn.Linear(300, 100), rank=20)
    >>> [tuple(m.weight.shape) for m in small], count_params(small)
    ([(20, 300), (100, 20)], 8100)
    """
    if not isinstance(linear, nn.Linear):
        raise ValueError(f"linear must be a torch.nn.Linear, got {type(linear).__name__}")
    W = linear.weight.detach()
    A, B = truncated_svd(W.double(), rank)
    first = nn.Linear(linear.in_features, rank, bias=False)
    second = nn.Linear(rank, linear.out_features, bias=linear.bias is not None)
    first.to(W), second.to(W)
    with torch.no_grad():
        first.weight.copy_(B)
        second.weight.copy_(A)
        if linear.bias is not None:
            second.bias.copy_(linear.bias)
    return nn.Sequential(first, second)


def svd_params(m: int, n: int, rank: int) -> int:
    r"""Weights of the two factors of an ``m x n`` matrix at ``rank``: :math:`r(m + n)` (no bias).

    Note 002 counts :math:`r(m + n + 1)`, keeping the :math:`r` singular values apart; here they are
    folded into the factors.

    >>> svd_params(300, 784, 20)
    21680
    """
    m, n = check_int("m", m, 1), check_int("n", n, 1)
    return check_int("rank", rank, 1, min(m, n)) * (m + n)


def svd_ratio(m: int, n: int, rank: int) -> float:
    r"""The compression ratio :math:`mn / (r(m + n))` of a rank-``rank`` factorisation (above 1: smaller).

    >>> round(svd_ratio(784, 300, 20), 2)
    10.85
    """
    return m * n / svd_params(m, n, rank)


# --------------------------------------------------------------------------- 4. counting
def count_params(module: nn.Module) -> int:
    """Parameters a module stores (weights and biases)."""
    return sum(p.numel() for p in module.parameters())
