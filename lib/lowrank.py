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

import math

import numpy as np
import torch
from scipy.optimize import brentq, minimize_scalar
from torch import nn

from lib.core.checks import check_choice, check_int, check_real
from lib.tensors import as_tensor, cp_als, tt_svd, tucker_hooi, unfold
from lib.tensors import (btd_als, btd_to_tensor, cp_to_tensor, fold, khatri_rao, mode_dot,  # noqa: F401
                         tt_to_tensor, tucker_hosvd, tucker_to_tensor)

__all__ = ["truncated_svd", "svd_linear", "svd_params", "svd_ratio", "energy_rank", "vbmf_rank", "tucker2_ranks",
           "cp_conv2d", "tucker_conv2d", "TTLinear", "count_params", "macs", "tt_params", "tt_macs",
           "cp_als", "cp_to_tensor", "tucker_hosvd", "tucker_hooi", "tucker_to_tensor", "tt_svd", "tt_to_tensor",
           "btd_als", "btd_to_tensor"]


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
    first.to(W)
    second.to(W)
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


# --------------------------------------------------------------------------- 2. rank selection
def energy_rank(s, energy: float) -> int:
    r"""The smallest rank :math:`r` whose singular values keep a fraction ``energy`` of the squared total:
    :math:`\sum_{i \le r} \sigma_i^2 \ge \text{energy} \cdot \sum_i \sigma_i^2`.

    ``s`` is a 1-D tensor of singular values (any order); ``energy`` in ``(0, 1]``.

    >>> energy_rank(torch.tensor([3., 2., 1.]), 0.9)  # 9 + 4 = 13 of 14 is 93 %
    2
    """
    s = as_tensor("s", s, ndim=1)
    energy = check_real("energy", energy, 0, 1, lo_open=True)
    kept = torch.sort(s.double().square(), descending=True).values.cumsum(0)
    return min(int((kept < energy * kept[-1] * (1 - 1e-12)).sum()) + 1, len(s))


def _evb_gain(tau: np.ndarray, alpha: float) -> np.ndarray:
    """How much keeping a component lowers the free energy (in units of the noise), as a function of tau."""
    return tau - np.log1p(tau) - alpha * np.log1p(tau / alpha)


def vbmf_rank(M, return_sigma2: bool = False):
    r"""The rank empirical variational Bayesian matrix factorisation (EVBMF) keeps, by its analytic solution.

    Model: :math:`M = AB^\top + E` with Gaussian priors on the columns of :math:`A, B` (their variances
    estimated from the data: "empirical") and noise :math:`E` of variance :math:`\sigma^2` (also
    estimated). Nakajima et al. (2013) solved it in closed form: with :math:`L \le M'` the sides of the
    matrix, :math:`\alpha = L / M'` and singular values :math:`\gamma_h`, component :math:`h` survives
    iff :math:`\gamma_h > \sigma \sqrt{M' \bar{x}}`, where :math:`\bar{x} = (1 + \bar{\tau})(1 +
    \alpha / \bar{\tau})` and :math:`\bar\tau` solves :math:`\tau = \log(1 + \tau) + \alpha \log(1 +
    \tau / \alpha)` (about :math:`2.5129 \sqrt{\alpha}`, here solved exactly). The noise variance
    :math:`\sigma^2` minimises the free energy, which with :math:`x_h = \gamma_h^2 / (M' \sigma^2)` is

    .. math:: \sum_h (x_h - \log x_h) - \sum_{h: x_h > \bar x} \bigl(\tau_h - \log(1 + \tau_h)
              - \alpha \log(1 + \tau_h / \alpha)\bigr),

    :math:`\tau_h` the root of :math:`x_h = (1 + \tau)(1 + \alpha / \tau)` above :math:`\sqrt\alpha`:
    every component costs :math:`x - \log x` as noise, and a component kept gains the bracket back.
    It is minimised over :math:`\sigma^2` between bounds from the same paper (at most
    :math:`\lceil L/(1+\alpha) \rceil - 1` components can survive).

    Kim et al. (2016) chose the Tucker-2 ranks of each convolution this way, on the kernel's input- and
    output-channel unfoldings (:func:`tucker2_ranks`).

    Parameters
    ----------
    M : torch.Tensor
        A 2-D matrix.
    return_sigma2 : bool
        Also return the estimated noise variance.

    Returns
    -------
    int (and float)
        The rank (0 when everything looks like noise).

    References
    ----------
    S. Nakajima, M. Sugiyama, S. D. Babacan, R. Tomioka, "Global Analytic Solution of Fully-observed
    Variational Bayesian Matrix Factorization", JMLR 14, 2013.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> M = torch.randn(60, 5, generator=g) @ torch.randn(5, 40, generator=g)
    >>> vbmf_rank(M + 0.3 * torch.randn(60, 40, generator=g))
    5
    """
    M = as_tensor("M", M, ndim=2)
    gamma = torch.linalg.svdvals(M.double()).numpy()
    L, big = min(M.shape), max(M.shape)
    alpha = L / big
    tau_bar = brentq(lambda t: _evb_gain(t, alpha), 0.1 * math.sqrt(alpha) + 1e-3, 10 + 10 * math.sqrt(alpha))
    x_bar = (1 + tau_bar) * (1 + alpha / tau_bar)

    def free_energy(sigma2: float) -> float:
        x = gamma**2 / (big * sigma2)
        kept = x[x > x_bar]
        tau = 0.5 * (kept - 1 - alpha + np.sqrt((kept - 1 - alpha) ** 2 - 4 * alpha))
        return float(np.sum(x - np.log(x + 1e-300)) - np.sum(_evb_gain(tau, alpha)))

    most = max(math.ceil(L / (1 + alpha)) - 1, 0)  # components that can possibly survive
    upper = np.sum(gamma**2) / (L * big)
    lower = max(gamma[most] ** 2 / (big * x_bar), np.mean(gamma[most:] ** 2) / big)
    if upper <= 0:
        return (0, 0.0) if return_sigma2 else 0
    sigma2 = minimize_scalar(free_energy, bounds=(min(lower, upper), upper), method="bounded").x
    rank = int(np.sum(gamma > math.sqrt(big * sigma2 * x_bar)))
    return (rank, float(sigma2)) if return_sigma2 else rank


def tucker2_ranks(weight, method: str = "vbmf", energy: float = 0.9) -> tuple[int, int]:
    r"""Tucker-2 ranks ``(R3, R4)`` of a Conv2d kernel ``(out, in, kh, kw)``: input- and output-channel ranks.

    ``method="vbmf"`` applies :func:`vbmf_rank` to the input-channel unfolding (mode 3 in Kim et al.'s
    :math:`d \times d \times S \times T` layout, ``unfold(weight, 1)`` here) and the output-channel one
    (mode 4, ``unfold(weight, 0)``), as Kim et al. (2016) did; ``method="energy"`` keeps a fraction
    ``energy`` of each unfolding's squared singular values (:func:`energy_rank`). Ranks are at least 1.

    >>> w = torch.randn(16, 8, 3, 3, generator=torch.Generator().manual_seed(0))
    >>> tucker2_ranks(w, "energy", 1.0)
    (8, 16)
    """
    weight = as_tensor("weight", weight, ndim=4)
    check_real("energy", energy, 0, 1, lo_open=True)
    check_choice("method", method, ("vbmf", "energy"))
    ranks = []
    for mode in (1, 0):
        M = unfold(weight.detach(), mode)
        r = vbmf_rank(M) if method == "vbmf" else energy_rank(torch.linalg.svdvals(M), energy)
        ranks.append(max(r, 1))
    return ranks[0], ranks[1]


# --------------------------------------------------------------------------- 3. layers
def _check_conv(conv) -> None:
    if not isinstance(conv, nn.Conv2d):
        raise ValueError(f"conv must be a torch.nn.Conv2d, got {type(conv).__name__}")
    if conv.groups != 1:
        raise ValueError(f"conv.groups must be 1 (a grouped or depthwise convolution is already factorised), "
                         f"got {conv.groups}")


def _conv(c_in, c_out, kernel, like: nn.Conv2d, weight, *, bias=None, groups=1, axes=(0, 1)) -> nn.Conv2d:
    """A Conv2d holding ``weight``, with ``like``'s stride, padding, dilation on the spatial ``axes`` it spans."""
    def pick(value, default):
        return tuple(value[i] if i in axes else default for i in (0, 1))
    padding = like.padding if isinstance(like.padding, str) else pick(like.padding, 0)
    layer = nn.Conv2d(c_in, c_out, kernel, stride=pick(like.stride, 1), padding=padding,
                      dilation=pick(like.dilation, 1), groups=groups, bias=bias is not None,
                      padding_mode=like.padding_mode)
    layer.to(like.weight)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(bias)
    return layer


def cp_conv2d(conv: nn.Conv2d, rank: int, n_iter: int = 100, seed: int = 0, init: str = "svd",
              ridge: float = 0.0, cp=None) -> nn.Sequential:
    r"""A Conv2d replaced by Lebedev et al.'s four layers, from a rank-``rank`` CP decomposition of its kernel.

    The kernel (out, in, kh, kw) as a sum of ``rank`` rank-one terms (:func:`cp_als`, run in float64),

    .. math:: \mathcal{K}_{t,s,i,j} \approx \sum_{r=1}^{R} \lambda_r\, T_{t r}\, S_{s r}\, H_{i r}\, W_{j r},

    lets the convolution be computed in four cheap steps: a 1x1 convolution from the input channels to
    :math:`R` (weights :math:`S^\top`), a :math:`k_h \times 1` convolution of each of the :math:`R` channels
    on its own (``groups=R``, weights :math:`H`), a :math:`1 \times k_w` one (weights :math:`W`), and a 1x1
    from :math:`R` to the output channels (weights :math:`T \operatorname{diag}(\lambda)`, and the bias).
    Stride, padding and dilation are split between the two spatial layers by axis. MACs per output position
    drop from :math:`TSk_hk_w` to :math:`R(S + k_h + k_w + T)`. The output equals the original layer's with
    the reconstructed kernel :func:`cp_to_tensor` ``(cp)``.

    Parameters
    ----------
    conv : torch.nn.Conv2d
        With ``groups=1``.
    rank : int
        The CP rank :math:`R`.
    n_iter, seed, init, ridge
        Passed to :func:`cp_als`.
    cp : (weights, factors), optional
        A CP decomposition of ``conv.weight`` already computed (e.g. cached); skips :func:`cp_als`.

    References
    ----------
    V. Lebedev, Y. Ganin, M. Rakhuba, I. Oseledets, V. Lempitsky, "Speeding-up Convolutional Neural
    Networks Using Fine-tuned CP-Decomposition", ICLR 2015, arXiv:1412.6553.

    Examples
    --------
    >>> small = cp_conv2d(nn.Conv2d(16, 32, 3, padding=1), rank=8, n_iter=10)
    >>> [tuple(m.weight.shape) for m in small]
    [(8, 16, 1, 1), (8, 1, 3, 1), (8, 1, 1, 3), (32, 8, 1, 1)]
    """
    _check_conv(conv)
    if cp is None:
        cp = cp_als(conv.weight.detach().double(), rank, n_iter=n_iter, seed=seed, init=init, ridge=ridge)
    weights, (T, S, H, W) = cp
    R = check_int("rank", rank, 1)
    if weights.shape != (R,):
        raise ValueError(f"cp must have rank {R} (weights of shape ({R},)), got {tuple(weights.shape)}")
    kh, kw = conv.kernel_size
    return nn.Sequential(
        _conv(conv.in_channels, R, 1, conv, S.T[:, :, None, None], axes=()),
        _conv(R, R, (kh, 1), conv, H.T[:, None, :, None], groups=R, axes=(0,)),
        _conv(R, R, (1, kw), conv, W.T[:, None, None, :], groups=R, axes=(1,)),
        _conv(R, conv.out_channels, 1, conv, (T * weights)[:, :, None, None], bias=conv.bias, axes=()),
    )


def tucker_conv2d(conv: nn.Conv2d, ranks, n_iter: int = 50) -> nn.Sequential:
    r"""A Conv2d replaced by Kim et al.'s three layers, from a Tucker-2 decomposition of its kernel.

    The kernel :math:`\mathcal{K} \in \mathbb{R}^{T \times S \times k_h \times k_w}` (out, in, kh, kw)
    is decomposed on its two channel modes only (:func:`tucker_hooi` with ``modes=(0, 1)``):

    .. math:: \mathcal{K}_{t,s,i,j} \approx \sum_{r_3, r_4} \mathcal{C}_{r_4, r_3, i, j}\, U^{(4)}_{t, r_4}
              \, U^{(3)}_{s, r_3},

    which is three convolutions in a row: a 1x1 from :math:`S` to :math:`R_3` channels (weights
    :math:`U^{(3)\top}`), the :math:`k_h \times k_w` core :math:`\mathcal{C}` from :math:`R_3` to :math:`R_4`
    (with the original stride, padding and dilation), and a 1x1 from :math:`R_4` to :math:`T` (weights
    :math:`U^{(4)}`, and the original bias). The decomposition runs in float64; the output equals the
    original layer's with the reconstructed kernel, and at full ranks the original layer's.

    Parameters
    ----------
    conv : torch.nn.Conv2d
        With ``groups=1``.
    ranks : (int, int) or int
        ``(R3, R4)``: the input-channel rank in ``[1, in_channels]`` then the output-channel rank in
        ``[1, out_channels]`` (Kim et al.'s order; :func:`tucker2_ranks` returns them so). An int: both.
    n_iter : int
        HOOI sweeps (0: plain HOSVD).

    Examples
    --------
    >>> conv = nn.Conv2d(32, 64, 3, padding=1)
    >>> small = tucker_conv2d(conv, (8, 16))
    >>> [tuple(m.weight.shape) for m in small]
    [(8, 32, 1, 1), (16, 8, 3, 3), (64, 16, 1, 1)]
    >>> small(torch.randn(1, 32, 10, 10)).shape
    torch.Size([1, 64, 10, 10])
    """
    _check_conv(conv)
    if isinstance(ranks, int) and not isinstance(ranks, bool):
        ranks = (ranks, ranks)
    if not isinstance(ranks, (tuple, list)) or len(ranks) != 2:
        raise ValueError(f"ranks must be an int or a pair (R3, R4) of input- and output-channel ranks, got {ranks!r}")
    r3 = check_int("ranks[0] (input-channel rank R3)", ranks[0], 1, conv.in_channels)
    r4 = check_int("ranks[1] (output-channel rank R4)", ranks[1], 1, conv.out_channels)
    K = conv.weight.detach().double()
    core, (U4, U3, _, _) = tucker_hooi(K, (r4, r3), modes=(0, 1), n_iter=n_iter)
    kh, kw = conv.kernel_size
    return nn.Sequential(
        _conv(conv.in_channels, r3, 1, conv, U3.T[:, :, None, None], axes=()),
        _conv(r3, r4, (kh, kw), conv, core),
        _conv(r4, conv.out_channels, 1, conv, U4[:, :, None, None], bias=conv.bias, axes=()),
    )


def _check_tt_shapes(in_shape, out_shape, ranks) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """Validated ``(in_shape, out_shape, ranks)``, ranks with the two boundary 1s: ``(1, r_1, ..., r_{d-1}, 1)``."""
    if not isinstance(in_shape, (tuple, list)) or len(in_shape) < 2:
        raise ValueError(f"in_shape must be a sequence of at least 2 ints (a factorisation of in_features), "
                         f"got {in_shape!r}")
    d = len(in_shape)
    if not isinstance(out_shape, (tuple, list)) or len(out_shape) != d:
        raise ValueError(f"out_shape must be a sequence of {d} ints, as many as in_shape has, got {out_shape!r}")
    n = tuple(check_int(f"in_shape[{k}]", v, 1) for k, v in enumerate(in_shape))
    m = tuple(check_int(f"out_shape[{k}]", v, 1) for k, v in enumerate(out_shape))
    if isinstance(ranks, int) and not isinstance(ranks, bool):
        ranks = [ranks] * (d - 1)
    if not isinstance(ranks, (tuple, list)) or len(ranks) != d - 1:
        raise ValueError(f"ranks must be an int or a sequence of {d - 1} ints (the internal TT-ranks), got {ranks!r}")
    sizes = [a * b for a, b in zip(m, n)]
    r = tuple(check_int(f"ranks[{k}]", v, 1, min(math.prod(sizes[:k + 1]), math.prod(sizes[k + 1:])))
              for k, v in enumerate(ranks))
    return n, m, (1, *r, 1)


class TTLinear(nn.Module):
    r"""A fully connected layer whose weight matrix is a tensor train (a "TT-matrix"), Novikov et al. (2015).

    Factor the sizes, :math:`N = \prod_k n_k` inputs and :math:`M = \prod_k m_k` outputs, and index the
    weight by digit pairs; each entry is a product of small matrices, one per pair:

    .. math:: W\bigl((i_1, j_1), \dots, (i_d, j_d)\bigr) = G_1[i_1, j_1]\, G_2[i_2, j_2] \cdots G_d[i_d, j_d],

    :math:`G_k[i_k, j_k]` an :math:`r_{k-1} \times r_k` matrix (``cores[k]`` has shape
    ``(r_{k-1}, m_k, n_k, r_k)``, :math:`r_0 = r_d = 1`). The layer stores
    :math:`\sum_k r_{k-1} m_k n_k r_k` numbers (:func:`tt_params`) instead of :math:`MN`, and ``forward``
    multiplies core by core (``einsum``) without ever forming :math:`W`: ``y = x W^T + b``, with
    :meth:`dense` the :math:`M \times N` matrix (output and input indices in row-major digit order, so it
    matches ``x.reshape(-1, *in_shape)``).

    Initialisation: Gaussian cores, the same standard deviation :math:`\sigma` in each, chosen so that an
    entry of :math:`W` (a sum of :math:`\prod_k r_k` products of :math:`d` entries) has variance
    :math:`\prod_k r_k\, \sigma^{2d} = 2 / N`, Kaiming's for a ReLU layer; bias zero.

    Parameters
    ----------
    in_shape, out_shape : sequence of int
        :math:`(n_1, \dots, n_d)` and :math:`(m_1, \dots, m_d)`, the same length :math:`d \ge 2`.
    ranks : int or sequence of int
        The internal TT-ranks :math:`r_1, \dots, r_{d-1}` (an int: all equal); :math:`r_k` is at most
        :math:`\min(\prod_{j \le k} m_j n_j, \prod_{j > k} m_j n_j)`, beyond which it adds nothing.
    bias : bool
    seed : int, optional
        Seeds the initial cores (default: PyTorch's global generator).

    References
    ----------
    A. Novikov, D. Podoprikhin, A. Osokin, D. Vetrov, "Tensorizing Neural Networks", NeurIPS 2015,
    arXiv:1509.06569.

    Examples
    --------
    >>> layer = TTLinear((4, 7, 4, 7), (5, 5, 4, 3), ranks=8, seed=0)  # 784 -> 300
    >>> layer(torch.randn(2, 784)).shape, count_params(layer), 784 * 300 + 300
    (torch.Size([2, 300]), 3892, 235500)
    >>> x = torch.randn(3, 784)
    >>> bool(torch.allclose(layer(x), x @ layer.dense().T + layer.bias, atol=1e-5))
    True
    """

    def __init__(self, in_shape, out_shape, ranks, bias: bool = True, seed: int | None = None):
        super().__init__()
        self.in_shape, self.out_shape, self.ranks = _check_tt_shapes(in_shape, out_shape, ranks)
        self.in_features, self.out_features = math.prod(self.in_shape), math.prod(self.out_shape)
        d = len(self.in_shape)
        std = (2 / self.in_features / math.prod(self.ranks)) ** (1 / (2 * d))
        g = None if seed is None else torch.Generator().manual_seed(check_int("seed", seed))
        self.cores = nn.ParameterList(
            nn.Parameter(std * torch.randn(self.ranks[k], self.out_shape[k], self.in_shape[k], self.ranks[k + 1],
                                           generator=g))
            for k in range(d))
        self.bias = nn.Parameter(torch.zeros(self.out_features)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # z[b, outputs done, rank, inputs left]: each core turns one input digit into one output digit
        z = x.reshape(-1, 1, 1, self.in_features)
        for G in self.cores:
            r, m, n, s = G.shape
            B, M, _, N = z.shape
            z = torch.einsum("bMrnN,rmns->bMmsN", z.reshape(B, M, r, n, N // n), G).reshape(B, M * m, s, N // n)
        y = z.reshape(*x.shape[:-1], self.out_features)
        return y if self.bias is None else y + self.bias

    def dense(self) -> torch.Tensor:
        """The full weight matrix, shape ``(out_features, in_features)`` (for checking; forward never builds it)."""
        W = torch.ones(1, 1, 1, dtype=self.cores[0].dtype, device=self.cores[0].device)  # W[outputs, inputs, rank]
        for G in self.cores:
            r, m, n, s = G.shape
            W = torch.einsum("MNr,rmns->MmNns", W, G).reshape(W.shape[0] * m, W.shape[1] * n, s)
        return W[..., 0]

    @classmethod
    def from_linear(cls, linear: nn.Linear, in_shape, out_shape, max_rank=None, eps: float | None = None):
        r"""A TTLinear approximating ``linear``: TT-SVD (:func:`tt_svd`) of its weight with digits paired.

        The weight :math:`(M, N)` is reshaped to :math:`(m_1, \dots, m_d, n_1, \dots, n_d)`, permuted to
        :math:`(m_1, n_1, \dots, m_d, n_d)` and merged to :math:`(m_1 n_1, \dots, m_d n_d)`; its tensor
        train, each core split back to :math:`(r_{k-1}, m_k, n_k, r_k)`, is the layer's. ``max_rank`` and
        ``eps`` are :func:`tt_svd`'s (neither: exact). The bias is copied.

        >>> linear = nn.Linear(12, 6)
        >>> tt = TTLinear.from_linear(linear, (3, 4), (2, 3))
        >>> bool(torch.allclose(tt.dense(), linear.weight, atol=1e-6))
        True
        """
        if not isinstance(linear, nn.Linear):
            raise ValueError(f"linear must be a torch.nn.Linear, got {type(linear).__name__}")
        n, m, _ = _check_tt_shapes(in_shape, out_shape, 1)
        if math.prod(n) != linear.in_features or math.prod(m) != linear.out_features:
            raise ValueError(f"in_shape {tuple(n)} and out_shape {tuple(m)} must multiply to the layer's "
                             f"({linear.in_features}, {linear.out_features}), got ({math.prod(n)}, {math.prod(m)})")
        d = len(n)
        W = linear.weight.detach().double().reshape(*m, *n)
        W = W.permute([p for k in range(d) for p in (k, d + k)]).reshape([a * b for a, b in zip(m, n)])
        cores = tt_svd(W, max_rank=max_rank, eps=eps)
        layer = cls(n, m, [G.shape[-1] for G in cores[:-1]], bias=linear.bias is not None).to(linear.weight)
        with torch.no_grad():
            for core, G in zip(layer.cores, cores):
                core.copy_(G.reshape(core.shape))
            if linear.bias is not None:
                layer.bias.copy_(linear.bias)
        return layer

    def extra_repr(self) -> str:
        return f"in_shape={self.in_shape}, out_shape={self.out_shape}, ranks={self.ranks}, bias={self.bias is not None}"


# --------------------------------------------------------------------------- 4. counting
def count_params(module: nn.Module) -> int:
    """Parameters a module stores (weights and biases)."""
    return sum(p.numel() for p in module.parameters())


def tt_params(in_shape, out_shape, ranks) -> int:
    r"""Numbers a TT-matrix stores, :math:`\sum_k r_{k-1} m_k n_k r_k` (no bias); ``ranks`` as in :class:`TTLinear`.

    Novikov et al.'s compression factor of a layer is :math:`MN` over this.

    >>> tt_params((4, 7, 4, 7), (5, 5, 4, 3), 8), 784 * 300
    (3592, 235200)
    """
    n, m, r = _check_tt_shapes(in_shape, out_shape, ranks)
    return sum(r[k] * m[k] * n[k] * r[k + 1] for k in range(len(n)))


def tt_macs(in_shape, out_shape, ranks) -> int:
    r"""Multiply-accumulates of :class:`TTLinear`'s core-by-core forward, per example.

    Core :math:`k` meets the :math:`m_1 \cdots m_{k-1}` output digits already made and the
    :math:`n_{k+1} \cdots n_d` input digits still waiting:
    :math:`\sum_k (\prod_{j<k} m_j)\, r_{k-1} n_k m_k r_k\, (\prod_{j>k} n_j)`.

    At rank 8 this 784 -> 300 layer does more work than the dense one: a TT layer saves memory, not
    necessarily time.

    >>> tt_macs((4, 7, 4, 7), (5, 5, 4, 3), 8), 784 * 300
    (540960, 235200)
    """
    n, m, r = _check_tt_shapes(in_shape, out_shape, ranks)
    return sum(math.prod(m[:k]) * r[k] * n[k] * m[k] * r[k + 1] * math.prod(n[k + 1:]) for k in range(len(n)))


def macs(module: nn.Module, input_shape) -> int:
    r"""Multiply-accumulates of one example through ``module``: its Linear, Conv2d and :class:`TTLinear` layers.

    A Linear costs in x out; a Conv2d :math:`C_\text{out} (C_\text{in}/g) k_h k_w` per output position
    (so depthwise layers are cheap); a TTLinear :func:`tt_macs`. Runs one zero example of shape
    ``input_shape`` (without the batch dimension) through the module with forward hooks.

    >>> conv = nn.Conv2d(64, 64, 3, padding=1)
    >>> macs(conv, (64, 8, 8)), macs(tucker_conv2d(conv, (16, 16), n_iter=0), (64, 8, 8))
    (2359296, 278528)
    """
    counted = []

    def hook(layer, inputs, output):
        rows = output[0].numel() // output.shape[-1]  # a Linear applies to every row of its (one) example
        if isinstance(layer, TTLinear):
            counted.append(tt_macs(layer.in_shape, layer.out_shape, layer.ranks[1:-1]) * rows)
        elif isinstance(layer, nn.Linear):
            counted.append(layer.weight.numel() * rows)
        else:
            counted.append(layer.weight.numel() * output.shape[-1] * output.shape[-2])

    hooks = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, (nn.Linear, nn.Conv2d, TTLinear))]
    try:
        with torch.no_grad():
            p = next(module.parameters())
            module(torch.zeros(1, *input_shape, dtype=p.dtype, device=p.device))
    finally:
        for h in hooks:
            h.remove()
    return sum(counted)
