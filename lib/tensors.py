r"""Tensor decompositions, written to be read: CP, Tucker, tensor train and block terms.

A weight tensor :math:`\mathcal{X} \in \mathbb{R}^{I_1 \times \dots \times I_N}` (a Conv2d kernel is
:math:`C_\text{out} \times C_\text{in} \times k_h \times k_w`) is replaced by a few small factors.
The layouts are tensorly's, so every result here can be checked against it.

The vocabulary (Kolda & Bader 2009):

* ``unfold(X, n)``, the mode-:math:`n` unfolding :math:`X_{(n)}`: mode :math:`n` becomes the rows,
  the other modes (in order, the first slowest) the columns;
* ``mode_dot(X, M, n)``, the mode-:math:`n` product :math:`\mathcal{X} \times_n M`: every mode-:math:`n`
  fibre multiplied by the matrix :math:`M`, :math:`(\mathcal{X} \times_n M)_{(n)} = M X_{(n)}`;
* ``khatri_rao([A, B, ...])``, the column-wise Kronecker product :math:`A \odot B \odot \dots`.

The layer builders that turn these factors into PyTorch layers are in :mod:`lib.lowrank`.

References
----------
.. [1] T. G. Kolda, B. W. Bader, "Tensor Decompositions and Applications", SIAM Review 51(3), 2009.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral

import numpy as np
import torch

from lib.core.checks import check_choice, check_int, check_real

__all__ = ["as_tensor", "unfold", "fold", "mode_dot", "khatri_rao", "cp_to_tensor", "cp_als", "btd_to_tensor",
           "btd_als", "tucker_to_tensor", "tucker_hosvd", "tucker_hooi", "tt_to_tensor", "tt_svd"]


# --------------------------------------------------------------------------- 0. vocabulary
def as_tensor(name: str, X, ndim: int | None = None, min_ndim: int = 1) -> torch.Tensor:
    """``X`` as a floating-point torch tensor (NumPy arrays are converted), with its dimensions checked."""
    if isinstance(X, np.ndarray):
        X = torch.from_numpy(X)
    if not isinstance(X, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor or numpy.ndarray, got {type(X).__name__}")
    if ndim is not None and X.dim() != ndim:
        raise ValueError(f"{name} must be a {ndim}-D tensor, got shape {tuple(X.shape)}")
    if X.dim() < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {tuple(X.shape)}")
    if X.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(X.shape)}")
    return X if X.is_floating_point() else X.to(torch.get_default_dtype())


def unfold(X: torch.Tensor, mode: int) -> torch.Tensor:
    r"""The mode-``mode`` unfolding :math:`X_{(n)}`, shape :math:`(I_n, \prod_{k \ne n} I_k)`.

    >>> unfold(torch.arange(24.).reshape(2, 3, 4), 1).shape
    torch.Size([3, 8])
    """
    return torch.movedim(X, mode, 0).reshape(X.shape[mode], -1)


def fold(M: torch.Tensor, mode: int, shape: Sequence[int]) -> torch.Tensor:
    """The inverse of :func:`unfold`: the tensor of ``shape`` whose mode-``mode`` unfolding is ``M``."""
    moved = [shape[mode]] + [s for k, s in enumerate(shape) if k != mode]
    return torch.movedim(M.reshape(moved), 0, mode)


def mode_dot(X: torch.Tensor, M: torch.Tensor, mode: int) -> torch.Tensor:
    r"""The mode-:math:`n` product :math:`\mathcal{X} \times_n M` (``M`` of shape ``(J, I_n)``)."""
    return torch.movedim(torch.tensordot(M, X, dims=([1], [mode])), 0, mode)


def khatri_rao(matrices: Sequence[torch.Tensor]) -> torch.Tensor:
    r"""Column-wise Kronecker product: column :math:`r` is :math:`a_r \otimes b_r \otimes \dots`.

    With :math:`I \times R` and :math:`J \times R` inputs the result is :math:`IJ \times R`, the first
    matrix's row index varying slowest (as in tensorly), which is the column order of :func:`unfold`.

    >>> khatri_rao([torch.ones(2, 3), torch.ones(4, 3)]).shape
    torch.Size([8, 3])
    """
    out = matrices[0]
    for M in matrices[1:]:
        out = (out[:, None, :] * M[None, :, :]).reshape(-1, out.shape[1])
    return out


def _check_ranks(name: str, ranks, maxima: Sequence[int], modes: Sequence[int]) -> list[int]:
    """``ranks`` (an int for every mode, or one int per mode of ``modes``) checked against the mode sizes."""
    if isinstance(ranks, Integral) and not isinstance(ranks, bool):
        ranks = [int(ranks)] * len(modes)
    if not isinstance(ranks, Sequence) or len(ranks) != len(modes):
        raise ValueError(f"{name} must be an int or a sequence of {len(modes)} ints (one per mode "
                         f"{list(modes)}), got {ranks!r}")
    return [check_int(f"{name}[{i}]", r, 1, maxima[m]) for i, (r, m) in enumerate(zip(ranks, modes))]


def _relative_error(X: torch.Tensor, X_hat: torch.Tensor) -> float:
    return float(torch.linalg.norm(X - X_hat) / torch.linalg.norm(X))


def _check_modes(modes, ndim: int) -> list[int]:
    """``modes`` (None: all of them) as a sorted list of distinct mode indices of an ``ndim``-way tensor."""
    if modes is None:
        return list(range(ndim))
    if not isinstance(modes, Sequence) or not modes or len(set(modes)) != len(modes):
        raise ValueError(f"modes must be a non-empty sequence of distinct modes in [0, {ndim - 1}], got {modes!r}")
    return sorted(check_int(f"modes[{i}]", m, 0, ndim - 1) for i, m in enumerate(modes))


def _leading_left_singular_vectors(M: torch.Tensor, rank: int) -> torch.Tensor:
    """``rank`` orthonormal columns spanning M's leading left singular subspace (completed if M has fewer)."""
    U, _, _ = torch.linalg.svd(M, full_matrices=M.shape[1] < rank)
    return U[:, :rank]


# --------------------------------------------------------------------------- 1. CP
def cp_to_tensor(cp) -> torch.Tensor:
    r"""The full tensor of a CP decomposition ``(weights, factors)``: a sum of ``rank`` outer products,
    :math:`\mathcal{X} = \sum_r \lambda_r\, a^{(1)}_r \circ a^{(2)}_r \circ \dots \circ a^{(N)}_r`.

    Unfolded on mode 0 this is :math:`X_{(1)} = A^{(1)} \operatorname{diag}(\lambda)
    (A^{(2)} \odot \dots \odot A^{(N)})^\top`, which is how it is computed.

    >>> cp_to_tensor((torch.tensor([2.]), [torch.tensor([[1.], [2.]]), torch.tensor([[1.], [0.], [1.]])]))
    tensor([[2., 0., 2.],
            [4., 0., 4.]])
    """
    weights, factors = cp
    shape = [A.shape[0] for A in factors]
    return fold((factors[0] * weights) @ khatri_rao(factors[1:]).T, 0, shape)


def cp_als(X, rank: int, n_iter: int = 100, seed: int = 0, tol: float = 1e-8, init: str = "svd",
           ridge: float = 0.0, return_errors: bool = False):
    r"""CP decomposition (CANDECOMP/PARAFAC) by alternating least squares.

    Approximates :math:`\mathcal{X}` by ``rank`` rank-one terms,
    :math:`\sum_{r} \lambda_r\, a^{(1)}_r \circ \dots \circ a^{(N)}_r`. With every factor but
    :math:`A^{(n)}` fixed the problem is linear least squares, solved in closed form:

    .. math:: A^{(n)} \leftarrow X_{(n)} \bigl(\textstyle\bigodot_{k \ne n} A^{(k)}\bigr)
              \Bigl(\mathop{\ast}_{k \ne n} A^{(k)\top} A^{(k)} + \mu I\Bigr)^{+}

    (:math:`\odot` Khatri-Rao, :math:`\ast` element-wise product of the small :math:`R \times R` Gram
    matrices, :math:`\mu` = ``ridge``, 0 by default; :math:`^{+}` the pseudo-inverse), then the columns of
    :math:`A^{(n)}` are normalised and their norms kept in :math:`\lambda`. One sweep updates every mode.
    Unlike the SVD, the best rank-:math:`R` CP approximation may not exist and ALS can stall or creep
    (Lebedev et al. 2015 report exactly this instability at low rank): the error history shows it.

    Parameters
    ----------
    X : torch.Tensor
        At least 2-D.
    rank : int
        Number of rank-one terms, in ``[1, prod(shape) / max(shape)]`` (a bound on any tensor's CP rank).
    n_iter : int
        Maximum number of sweeps.
    seed : int
        Seeds the random starting columns.
    tol : float
        Stop when the relative error improves by less than ``tol`` in a sweep.
    init : {"svd", "random"}
        ``"svd"``: factor :math:`n` starts as the leading left singular vectors of :math:`X_{(n)}`
        (columns beyond the mode size: seeded Gaussian); ``"random"``: all seeded Gaussian.
    ridge : float
        :math:`\mu \ge 0`, a Tikhonov term that keeps the solves stable when columns become collinear.
    return_errors : bool
        Also return the relative error :math:`\lVert \mathcal{X} - \hat{\mathcal{X}} \rVert_F /
        \lVert \mathcal{X} \rVert_F` after every sweep.

    Returns
    -------
    (weights, factors) or ((weights, factors), errors)
        tensorly's layout: ``weights`` shape ``(rank,)``, ``factors[n]`` shape ``(X.shape[n], rank)`` with
        unit-norm columns.

    References
    ----------
    T. G. Kolda, B. W. Bader, "Tensor Decompositions and Applications", SIAM Review 51(3), 2009 (§3.4).
    V. Lebedev et al., "Speeding-up Convolutional Neural Networks Using Fine-tuned CP-Decomposition",
    ICLR 2015, arXiv:1412.6553.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> a, b, c = (torch.randn(n, 2, generator=g, dtype=torch.float64) for n in (4, 5, 6))
    >>> X = cp_to_tensor((torch.ones(2, dtype=torch.float64), [a, b, c]))  # an exact rank-2 tensor
    >>> (weights, factors), errors = cp_als(X, 2, return_errors=True)
    >>> errors[-1] < 1e-6
    True
    """
    X = as_tensor("X", X, min_ndim=2)
    rank = check_int("rank", rank, 1, math.prod(X.shape) // max(X.shape))
    n_iter, tol = check_int("n_iter", n_iter, 1), check_real("tol", tol, 0)
    ridge = check_real("ridge", ridge, 0)
    check_choice("init", init, ("svd", "random"))
    g = torch.Generator().manual_seed(check_int("seed", seed))
    factors = [torch.randn(n, rank, generator=g, dtype=torch.float64).to(X.dtype) for n in X.shape]
    if init == "svd":
        for mode in range(X.dim()):
            U = _leading_left_singular_vectors(unfold(X, mode), min(rank, X.shape[mode]))
            factors[mode][:, :U.shape[1]] = U
    weights = torch.ones(rank, dtype=X.dtype)
    errors = []
    for _ in range(n_iter):
        for mode in range(X.dim()):
            others = [A for k, A in enumerate(factors) if k != mode]
            gram = math.prod(A.T @ A for A in others)  # the element-wise product of the R x R Grams
            gram = gram + ridge * torch.eye(rank, dtype=X.dtype)
            A = unfold(X, mode) @ khatri_rao(others) @ torch.linalg.pinv(gram, hermitian=True)
            weights = torch.linalg.norm(A, dim=0)
            factors[mode] = A / torch.where(weights > 0, weights, 1)
        errors.append(_relative_error(X, cp_to_tensor((weights, factors))))
        if len(errors) > 1 and abs(errors[-2] - errors[-1]) < tol:
            break
    return ((weights, factors), errors) if return_errors else (weights, factors)


# --------------------------------------------------------------------------- 2. Tucker
def tucker_to_tensor(tucker) -> torch.Tensor:
    r"""The full tensor of a Tucker decomposition ``(core, factors)``:
    :math:`\mathcal{X} = \mathcal{G} \times_1 U_1 \times_2 U_2 \dots \times_N U_N`.

    >>> core, factors = torch.ones(1, 1), [torch.tensor([[1.], [2.]]), torch.tensor([[3.], [4.]])]
    >>> tucker_to_tensor((core, factors))
    tensor([[3., 4.],
            [6., 8.]])
    """
    core, factors = tucker
    X = core
    for mode, U in enumerate(factors):
        X = mode_dot(X, U, mode)
    return X


def tucker_hosvd(X, ranks, modes: Sequence[int] | None = None) -> tuple[torch.Tensor, list[torch.Tensor]]:
    r"""Truncated higher-order SVD (De Lathauwer et al. 2000): each factor from its own unfolding.

    For every decomposed mode :math:`n`, :math:`U_n` holds the ``ranks[n]`` leading left singular vectors of
    :math:`X_{(n)}`; the core is the projection :math:`\mathcal{G} = \mathcal{X} \times_1 U_1^\top \dots
    \times_N U_N^\top`. Not the best approximation of those ranks (:func:`tucker_hooi` improves it),
    but within a factor :math:`\sqrt{N}` of it, and exact at full ranks.

    Parameters
    ----------
    X : torch.Tensor
        The tensor, at least 2-D.
    ranks : int or sequence of int
        One rank per decomposed mode, each in ``[1, X.shape[mode]]`` (an int: the same for all).
    modes : sequence of int, optional
        The modes to decompose (default: all). A mode left out keeps its full size in the core and gets an
        identity factor, so the result has one factor per mode whatever ``modes`` is. ``modes=(0, 1)`` on a
        Conv2d kernel is Kim et al.'s "Tucker-2" (output and input channels only).

    Returns
    -------
    core : torch.Tensor
        Shape ``ranks`` on the decomposed modes, ``X.shape`` on the others.
    factors : list of torch.Tensor
        ``factors[n]`` of shape ``(X.shape[n], core.shape[n])``, orthonormal columns.

    References
    ----------
    L. De Lathauwer, B. De Moor, J. Vandewalle, "A Multilinear Singular Value Decomposition",
    SIAM J. Matrix Anal. Appl. 21(4), 2000.

    Examples
    --------
    >>> X = torch.randn(4, 5, 6, generator=torch.Generator().manual_seed(0))
    >>> core, factors = tucker_hosvd(X, (4, 5, 6))  # full ranks: exact
    >>> bool(torch.allclose(tucker_to_tensor((core, factors)), X, atol=1e-5))
    True
    >>> core, factors = tucker_hosvd(X, (2, 3), modes=(0, 1))
    >>> tuple(core.shape), [tuple(U.shape) for U in factors]
    ((2, 3, 6), [(4, 2), (5, 3), (6, 6)])
    """
    X = as_tensor("X", X, min_ndim=2)
    modes = _check_modes(modes, X.dim())
    ranks = _check_ranks("ranks", ranks, X.shape, modes)
    factors = [torch.eye(size, dtype=X.dtype) for size in X.shape]
    for mode, rank in zip(modes, ranks):
        factors[mode] = _leading_left_singular_vectors(unfold(X, mode), rank)
    return _project(X, factors), factors


def _project(X: torch.Tensor, factors: Sequence[torch.Tensor], skip: int | None = None) -> torch.Tensor:
    r"""The core :math:`\mathcal{X} \times_k U_k^\top` over every mode but ``skip``."""
    for mode, U in enumerate(factors):
        if mode != skip:
            X = mode_dot(X, U.T, mode)
    return X


def tucker_hooi(X, ranks, modes: Sequence[int] | None = None, n_iter: int = 50, tol: float = 1e-8,
                return_errors: bool = False):
    r"""Tucker decomposition by higher-order orthogonal iteration (De Lathauwer et al. 2000).

    Starting from :func:`tucker_hosvd`, each sweep updates one factor at a time with the others fixed:
    project :math:`\mathcal{X}` on the other factors, :math:`\mathcal{Y} = \mathcal{X} \times_{k \ne n}
    U_k^\top`, and take the leading left singular vectors of :math:`Y_{(n)}`. With orthonormal factors
    the squared error is :math:`\lVert \mathcal{X} \rVert^2 - \lVert \mathcal{G} \rVert^2`, so each step
    (which maximises :math:`\lVert \mathcal{G} \rVert` over one factor) can only lower it.

    Parameters
    ----------
    X, ranks, modes
        As in :func:`tucker_hosvd`.
    n_iter : int
        Maximum number of sweeps (0: the HOSVD itself).
    tol : float
        Stop when a sweep lowers the relative error by less than ``tol``.
    return_errors : bool
        Also return the relative error :math:`\lVert \mathcal{X} - \hat{\mathcal{X}} \rVert_F /
        \lVert \mathcal{X} \rVert_F` after the HOSVD start and after each sweep.

    Returns
    -------
    (core, factors) or ((core, factors), errors)
        As in :func:`tucker_hosvd`.

    Examples
    --------
    >>> X = torch.randn(6, 7, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> (core, factors), errors = tucker_hooi(X, (3, 3, 3), return_errors=True)
    >>> errors[-1] <= errors[0]  # HOOI never does worse than its HOSVD start
    True
    """
    X = as_tensor("X", X, min_ndim=2)
    n_iter = check_int("n_iter", n_iter, 0)
    tol = check_real("tol", tol, 0)
    core, factors = tucker_hosvd(X, ranks, modes)
    modes = _check_modes(modes, X.dim())
    norm_X = torch.linalg.norm(X)
    errors = [float((norm_X**2 - torch.linalg.norm(core)**2).clamp(min=0).sqrt() / norm_X)]
    for _ in range(n_iter):
        for mode in modes:
            Y = _project(X, factors, skip=mode)
            factors[mode] = _leading_left_singular_vectors(unfold(Y, mode), core.shape[mode])
        core = _project(X, factors)
        errors.append(float((norm_X**2 - torch.linalg.norm(core)**2).clamp(min=0).sqrt() / norm_X))
        if errors[-2] - errors[-1] < tol:
            break
    return ((core, factors), errors) if return_errors else (core, factors)


# --------------------------------------------------------------------------- 3. tensor train
def tt_to_tensor(cores: Sequence[torch.Tensor]) -> torch.Tensor:
    r"""The full tensor of a tensor train: :math:`\mathcal{X}_{i_1 \dots i_d} = G_1[i_1] G_2[i_2] \cdots G_d[i_d]`,
    each :math:`G_k[i_k]` an :math:`r_{k-1} \times r_k` matrix (``cores[k]`` has shape
    ``(r_{k-1}, n_k, r_k)``, :math:`r_0 = r_d = 1`), contracted core by core.

    >>> cores = [torch.ones(1, 2, 3), torch.ones(3, 4, 1)]
    >>> tt_to_tensor(cores)
    tensor([[3., 3., 3., 3.],
            [3., 3., 3., 3.]])
    """
    X = cores[0]
    for G in cores[1:]:
        X = torch.tensordot(X, G, dims=([-1], [0]))  # join on the shared rank index
    return X.reshape([G.shape[1] for G in cores])


def tt_svd(X, max_rank=None, eps: float | None = None) -> list[torch.Tensor]:
    r"""Tensor-train decomposition by sequential truncated SVDs (TT-SVD, Oseledets 2011, Algorithm 1).

    Split off one mode at a time: reshape what remains to :math:`(r_{k-1} n_k) \times (n_{k+1} \cdots n_d)`,
    take its SVD, keep :math:`r_k` singular vectors as the core :math:`G_k` (reshaped to
    :math:`r_{k-1} \times n_k \times r_k`) and carry :math:`\Sigma V^\top` on to the next mode. Each
    truncation discards at most :math:`\delta = \varepsilon \lVert \mathcal{X} \rVert_F / \sqrt{d - 1}`
    (the smallest :math:`r_k` whose discarded singular values have norm :math:`\le \delta`), and the errors
    of the :math:`d - 1` steps add in squares, so

    .. math:: \lVert \mathcal{X} - \hat{\mathcal{X}} \rVert_F \le \varepsilon \lVert \mathcal{X} \rVert_F .

    With neither ``max_rank`` nor ``eps`` every singular value is kept and the train reproduces ``X``
    exactly (to rounding).

    Parameters
    ----------
    X : torch.Tensor
        At least 2-D, shape :math:`(n_1, \dots, n_d)`.
    max_rank : int or sequence of int, optional
        A cap on every internal rank :math:`r_1, \dots, r_{d-1}` (an int), or one cap each (``d - 1`` ints),
        each at least 1. With ``eps`` too, the smaller rank wins (and the bound may no longer hold).
    eps : float, optional
        The relative error allowed, in ``[0, 1)``.

    Returns
    -------
    list of torch.Tensor
        ``d`` cores, ``cores[k]`` of shape ``(r_k, n_{k+1}, r_{k+1})`` counting from 0, first and last rank 1.

    References
    ----------
    I. V. Oseledets, "Tensor-Train Decomposition", SIAM J. Sci. Comput. 33(5), 2011.

    Examples
    --------
    >>> X = torch.randn(4, 5, 6, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> [tuple(G.shape) for G in tt_svd(X, max_rank=3)]
    [(1, 4, 3), (3, 5, 3), (3, 6, 3), (3, 7, 1)]
    >>> cores = tt_svd(X, eps=0.3)
    >>> float(torch.linalg.norm(X - tt_to_tensor(cores)) / torch.linalg.norm(X)) <= 0.3
    True
    """
    X = as_tensor("X", X, min_ndim=2)
    d = X.dim()
    if max_rank is None or isinstance(max_rank, Integral):
        max_rank = [max_rank] * (d - 1)
    if not isinstance(max_rank, Sequence) or len(max_rank) != d - 1:
        raise ValueError(f"max_rank must be None, an int or a sequence of {d - 1} ints (one per internal rank), "
                         f"got {max_rank!r}")
    caps = [None if c is None else check_int(f"max_rank[{k}]", c, 1) for k, c in enumerate(max_rank)]
    eps = 0.0 if eps is None else check_real("eps", eps, 0, 1, hi_open=True)
    delta = eps * float(torch.linalg.norm(X)) / math.sqrt(d - 1)  # what each of the d - 1 truncations may drop
    cores, rest, r_prev = [], X, 1
    for k in range(d - 1):
        U, S, Vh = torch.linalg.svd(rest.reshape(r_prev * X.shape[k], -1), full_matrices=False)
        tail = S.square().flip(0).cumsum(0).flip(0).sqrt()  # tail[r] = norm of S[r:], what rank r discards
        rank = int((tail > delta).sum()) if delta > 0 else len(S)
        rank = max(1, min(rank, caps[k] or rank))
        cores.append(U[:, :rank].reshape(r_prev, X.shape[k], rank))
        rest, r_prev = S[:rank, None] * Vh[:rank], rank
    cores.append(rest.reshape(r_prev, X.shape[-1], 1))
    return cores


# --------------------------------------------------------------------------- 4. block terms
def _block_factors(cores: Sequence[torch.Tensor], factors: Sequence[torch.Tensor], b: int) -> list[torch.Tensor]:
    """Block ``b``'s factors: its slice of each stacked factor (a mode not decomposed shares its factor)."""
    out = []
    for n, F in enumerate(factors):
        r = cores[0].shape[n]
        out.append(F[:, b * r:(b + 1) * r] if F.shape[1] == len(cores) * r else F)
    return out


def btd_to_tensor(btd) -> torch.Tensor:
    r"""The full tensor of a block-term decomposition ``(cores, factors)``: a sum of Tucker terms,
    :math:`\mathcal{X} = \sum_b \mathcal{G}_b \times_1 U^{(1)}_b \times_2 \dots \times_N U^{(N)}_b`.

    ``factors[n]`` stacks the blocks' factors side by side, :math:`[U^{(n)}_1, \dots, U^{(n)}_B]`; a factor
    with as many columns as one core has on that mode (a mode left out of :func:`btd_als`'s ``modes``)
    is shared by every block. Equivalently, one Tucker decomposition whose core is block-diagonal.

    >>> cores = [torch.ones(1, 1), 2 * torch.ones(1, 1)]
    >>> factors = [torch.tensor([[1., 0.], [0., 1.]]), torch.tensor([[1., 0.], [0., 1.]])]
    >>> btd_to_tensor((cores, factors))
    tensor([[1., 0.],
            [0., 2.]])
    """
    cores, factors = btd
    return sum(tucker_to_tensor((G, _block_factors(cores, factors, b))) for b, G in enumerate(cores))


def btd_als(X, n_blocks: int, block_ranks, modes: Sequence[int] | None = None, n_iter: int = 100, seed: int = 0,
            tol: float = 1e-8, init: str = "svd", return_errors: bool = False):
    r"""Block-term decomposition in rank-:math:`(L, M, N)` terms (De Lathauwer 2008), by alternating least squares.

    A sum of ``n_blocks`` small Tucker terms, each with core shape ``block_ranks``:

    .. math:: \mathcal{X} \approx \sum_{b=1}^{B} \mathcal{G}_b \times_1 U^{(1)}_b \times_2 U^{(2)}_b
              \cdots \times_N U^{(N)}_b .

    It lies between CP (blocks of rank :math:`(1, \dots, 1)`) and Tucker (one block). Stacking the blocks'
    factors, :math:`U^{(n)} = [U^{(n)}_1, \dots, U^{(n)}_B]`, makes it one Tucker decomposition with a
    block-diagonal core, and ALS alternates two exact least-squares steps:

    * **a mode's stacked factor**, the others fixed: with :math:`\mathcal{M} = \mathcal{G} \times_{k \ne n}
      U^{(k)}` (block-diagonal core :math:`\mathcal{G}`), :math:`X_{(n)} \approx U^{(n)} M_{(n)}` is linear,
      :math:`U^{(n)} \leftarrow X_{(n)} M_{(n)}^{+}`. Each block's slice is then orthonormalised
      (:math:`U^{(n)}_b = QR`, :math:`R` moved into :math:`\mathcal{G}_b`), which leaves the sum unchanged;
    * **each block's core**, the rest fixed: it fits what the other blocks leave,
      :math:`\mathcal{G}_b \leftarrow (\mathcal{X} - \sum_{c \ne b} \text{term}_c) \times_k U^{(k)\top}_b`.

    Parameters
    ----------
    X : torch.Tensor
        At least 2-D.
    n_blocks : int
        :math:`B \ge 1`.
    block_ranks : int or sequence of int
        One block's core size on each decomposed mode, each in ``[1, X.shape[mode]]``.
    modes : sequence of int, optional
        Modes to decompose (default: all); the others keep their full size in every core and share an
        identity factor (on a Conv2d kernel, ``modes=(0, 1)`` gives a sum of Tucker-2 terms).
    n_iter, seed, tol, return_errors
        As in :func:`cp_als`.
    init : {"svd", "random"}
        ``"svd"``: mode :math:`n`'s leading left singular vectors dealt out to the blocks in turn (block
        :math:`b` gets columns :math:`b r_n, \dots`), seeded Gaussian columns beyond the mode size;
        ``"random"``: seeded Gaussian factors.

    Returns
    -------
    (cores, factors) or ((cores, factors), errors)
        ``cores``: a list of ``n_blocks`` tensors of shape ``block_ranks`` (full size on modes not
        decomposed); ``factors[n]``: ``(X.shape[n], n_blocks * block_ranks[n])``, block :math:`b` in columns
        :math:`[b r_n, (b + 1) r_n)` (identity on modes not decomposed). :func:`btd_to_tensor` reconstructs.

    References
    ----------
    L. De Lathauwer, "Decompositions of a Higher-Order Tensor in Block Terms - Part II: Definitions and
    Uniqueness", SIAM J. Matrix Anal. Appl. 30(3), 2008.
    P. Wang, J. Cheng, "Accelerating Convolutional Neural Networks for Mobile Applications", ACM Multimedia 2016.

    Examples
    --------
    >>> X = torch.randn(6, 6, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> (cores, factors), errors = btd_als(X, 2, (2, 2, 2), n_iter=20, return_errors=True)
    >>> [tuple(G.shape) for G in cores], [tuple(F.shape) for F in factors]
    ([(2, 2, 2), (2, 2, 2)], [(6, 4), (6, 4), (6, 4)])
    >>> errors[-1] < errors[0]
    True
    """
    X = as_tensor("X", X, min_ndim=2)
    n_blocks = check_int("n_blocks", n_blocks, 1)
    modes = _check_modes(modes, X.dim())
    ranks = _check_ranks("block_ranks", block_ranks, X.shape, modes)
    n_iter, tol = check_int("n_iter", n_iter, 1), check_real("tol", tol, 0)
    check_choice("init", init, ("svd", "random"))
    g = torch.Generator().manual_seed(check_int("seed", seed))
    core_shape, factors = list(X.shape), [torch.eye(n, dtype=X.dtype) for n in X.shape]
    for n, r in zip(modes, ranks):
        core_shape[n] = r
        factors[n] = torch.randn(X.shape[n], n_blocks * r, generator=g, dtype=torch.float64).to(X.dtype)
        if init == "svd":
            U = _leading_left_singular_vectors(unfold(X, n), min(n_blocks * r, X.shape[n]))
            factors[n][:, :U.shape[1]] = U
    cores = [torch.zeros(core_shape, dtype=X.dtype) for _ in range(n_blocks)]

    def orthonormalise(n):  # U_b = QR, R into the core: the same sum, better-conditioned factors
        r = core_shape[n]
        for b in range(n_blocks):
            Q, R = torch.linalg.qr(factors[n][:, b * r:(b + 1) * r])
            factors[n][:, b * r:(b + 1) * r] = Q
            cores[b] = mode_dot(cores[b], R, n)

    def fit_cores():
        for b in range(n_blocks):
            rest = X - sum(btd_to_tensor(([G], _block_factors(cores, factors, c))) for c, G in enumerate(cores)
                           if c != b)
            cores[b] = _project(rest, _block_factors(cores, factors, b))

    for n in modes:
        orthonormalise(n)
    fit_cores()
    errors = [_relative_error(X, btd_to_tensor((cores, factors)))]
    for _ in range(n_iter):
        for n in modes:
            M = _block_diagonal(cores, modes)
            for k, U in enumerate(factors):
                if k != n:
                    M = mode_dot(M, U, k)
            factors[n] = unfold(X, n) @ torch.linalg.pinv(unfold(M, n))
            orthonormalise(n)
        fit_cores()
        errors.append(_relative_error(X, btd_to_tensor((cores, factors))))
        if errors[-2] - errors[-1] < tol:
            break
    return ((cores, factors), errors) if return_errors else (cores, factors)


def _block_diagonal(cores: Sequence[torch.Tensor], modes: Sequence[int]) -> torch.Tensor:
    """The cores placed along the diagonal of the decomposed ``modes`` (zeros elsewhere)."""
    shape = [s * len(cores) if n in modes else s for n, s in enumerate(cores[0].shape)]
    out = cores[0].new_zeros(shape)
    for b, G in enumerate(cores):
        out[tuple(slice(b * s, (b + 1) * s) if n in modes else slice(None) for n, s in enumerate(G.shape))] = G
    return out
