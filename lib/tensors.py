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

from lib.core.checks import check_int

__all__ = ["as_tensor", "unfold", "fold", "mode_dot", "khatri_rao"]


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


def _mode_sizes(X: torch.Tensor) -> list[int]:
    return list(X.shape)


def _prod(xs) -> int:
    return math.prod(int(x) for x in xs)
