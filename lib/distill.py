r"""Knowledge distillation: training a small network on a large one's softened outputs.

A trained classifier's logits :math:`v` say more than its arg-max: the probabilities it gives to
the *wrong* classes record which classes it finds alike (a 7 that looks a little like a 1, a 3
that looks a little like an 8: "dark knowledge"). At temperature :math:`T` the softmax

.. math::

    p_i(T) = \frac{e^{v_i / T}}{\sum_j e^{v_j / T}}

spreads that mass out so it can be learned (:func:`soft_targets`; :math:`T = 1` is the ordinary
softmax, :math:`T \to \infty` the uniform distribution). The student, with logits :math:`z` and
softened outputs :math:`q(T)`, minimises (:func:`distillation_loss`)

.. math::

    L = \alpha\, T^2\, \mathrm{KL}\big(p(T) \,\|\, q(T)\big)
        + (1 - \alpha)\, \mathrm{CE}\big(\operatorname{softmax}(z), y\big),

each term averaged over the batch. The soft term's gradient with respect to a student logit is
:math:`\partial\,\mathrm{KL} / \partial z_i = (q_i - p_i) / T` per example
(:func:`soft_gradient`), and for :math:`T` large next to the logits
:math:`q_i - p_i \approx (z_i - v_i) / (C\,T)` (logits of zero mean, :math:`C` classes), so the
gradient shrinks like :math:`1/T^2`. The factor :math:`T^2` undoes that, keeping the balance
between the soft and hard terms the same whatever temperature is tried.

What the teacher thinks alike is read off its softened outputs averaged per true class
(:func:`class_similarity`, :func:`most_alike`). A class missing from the transfer set gets too
low a bias in the student; :func:`shift_bias` and :func:`best_bias_shift` raise it by the amount
that minimises the error on held-out data (Hinton et al. chose it on the test set; this book
chooses it on the validation split).

References
----------
.. [1] G. Hinton, O. Vinyals, J. Dean, "Distilling the Knowledge in a Neural Network",
   NIPS 2014 Deep Learning Workshop, arXiv:1503.02531.
.. [2] C. Buciluǎ, R. Caruana, A. Niculescu-Mizil, "Model Compression", KDD 2006.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from lib.core.checks import check_int, check_real

__all__ = ["soft_targets", "distillation_loss", "soft_gradient", "class_similarity", "most_alike",
           "shift_bias", "best_bias_shift"]


def _check_logits(name: str, logits) -> torch.Tensor:
    if not isinstance(logits, torch.Tensor) or logits.dim() != 2 or logits.shape[1] < 2:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"{name} must be a 2-D tensor (batch, classes >= 2), got {shape}")
    return logits


def _check_temperature(T) -> float:
    return check_real("T", T, 0.0, 1e6, lo_open=True)


def soft_targets(logits: torch.Tensor, T: float = 1.0) -> torch.Tensor:
    r"""The softmax at temperature ``T``: :math:`p_i = e^{v_i/T} / \sum_j e^{v_j/T}`, row by row.

    Parameters
    ----------
    logits : tensor (batch, classes)
    T : float > 0
        1 is the ordinary softmax; larger spreads the probability over the wrong classes.

    Returns
    -------
    tensor (batch, classes)
        Rows summing to 1.

    References
    ----------
    Hinton, Vinyals, Dean, "Distilling the Knowledge in a Neural Network", arXiv:1503.02531, eq. (1).

    >>> soft_targets(torch.tensor([[2.0, 0.0]]), T=2.0).round(decimals=3)
    tensor([[0.7310, 0.2690]])
    """
    _check_logits("logits", logits)
    T = _check_temperature(T)
    return torch.softmax(logits / T, dim=1)


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, target: torch.Tensor,
                      T: float, alpha: float) -> torch.Tensor:
    r"""Hinton et al.'s distillation loss: the softened KL to the teacher, times :math:`T^2`, mixed with
    the ordinary cross-entropy on the labels.

    .. math::

        L = \alpha\,T^2\,\frac1N\sum_n \mathrm{KL}\big(p_n(T)\,\|\,q_n(T)\big)
            + (1-\alpha)\,\frac1N\sum_n -\log q_{n, y_n}(1)

    with :math:`p(T)` = ``soft_targets(teacher_logits, T)`` and :math:`q(T)` the same for the student.
    The teacher's logits are treated as constants (no gradient flows into the teacher).

    Parameters
    ----------
    student_logits, teacher_logits : tensor (batch, classes), same shape
    target : int64 tensor (batch,)
        The true labels (used by the hard term only).
    T : float > 0
        Temperature of both softmaxes in the soft term (the hard term uses 1).
    alpha : float in [0, 1]
        Weight of the soft term; 1 trains on the teacher alone, 0 on the labels alone.

    Returns
    -------
    scalar tensor

    References
    ----------
    Hinton, Vinyals, Dean, "Distilling the Knowledge in a Neural Network", arXiv:1503.02531, sec. 2.

    >>> z = torch.tensor([[1.0, 0.0, -1.0]])
    >>> float(distillation_loss(z, z, torch.tensor([0]), T=4.0, alpha=1.0))  # same logits: KL = 0
    0.0
    """
    _check_logits("student_logits", student_logits)
    _check_logits("teacher_logits", teacher_logits)
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"student_logits and teacher_logits must have the same shape, got "
                         f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}")
    if not isinstance(target, torch.Tensor) or target.shape != student_logits.shape[:1]:
        shape = tuple(target.shape) if isinstance(target, torch.Tensor) else type(target).__name__
        raise ValueError(f"target must be a tensor of shape ({student_logits.shape[0]},), got {shape}")
    T = _check_temperature(T)
    alpha = check_real("alpha", alpha, 0.0, 1.0)
    log_p = F.log_softmax(teacher_logits.detach() / T, dim=1)    # teacher, softened
    log_q = F.log_softmax(student_logits / T, dim=1)             # student, softened
    soft = (log_p.exp() * (log_p - log_q)).sum(dim=1).mean()     # KL(p || q), batch mean
    hard = F.cross_entropy(student_logits, target)               # ordinary loss, T = 1
    return alpha * T**2 * soft + (1 - alpha) * hard


def soft_gradient(student_logits: torch.Tensor, teacher_logits: torch.Tensor, T: float) -> torch.Tensor:
    r"""The gradient of the soft term (one example's KL, without the :math:`T^2`) with respect to the
    student's logits: :math:`\partial\,\mathrm{KL} / \partial z_i = (q_i - p_i) / T`, row by row.

    For :math:`T` large next to the logits (and logits of zero mean over :math:`C` classes) this is
    about :math:`(z_i - v_i) / (C\,T^2)`: it falls like :math:`1/T^2`, which the :math:`T^2` in
    :func:`distillation_loss` compensates.

    References
    ----------
    Hinton, Vinyals, Dean, "Distilling the Knowledge in a Neural Network", arXiv:1503.02531, eqs. (2)-(4).

    >>> soft_gradient(torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0]]), T=3.0)
    tensor([[0., 0.]])
    """
    _check_logits("student_logits", student_logits)
    _check_logits("teacher_logits", teacher_logits)
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"student_logits and teacher_logits must have the same shape, got "
                         f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}")
    T = _check_temperature(T)
    return (soft_targets(student_logits, T) - soft_targets(teacher_logits, T)) / T


def class_similarity(logits: torch.Tensor, y: torch.Tensor, T: float = 1.0) -> torch.Tensor:
    r"""``S[i, j]`` = the mean softened probability the network gives class ``j`` on examples of class ``i``.

    Rows sum to 1; the diagonal is the confidence in the right class, and the largest off-diagonal
    entries of a row name the classes the network finds most like ``i`` (its dark knowledge).
    A class with no example gives a row of NaN.

    >>> class_similarity(torch.tensor([[2.0, 0.0], [0.0, 2.0]]), torch.tensor([0, 1]), T=1e6).round(decimals=2)
    tensor([[0.5000, 0.5000],
            [0.5000, 0.5000]])
    """
    _check_logits("logits", logits)
    if not isinstance(y, torch.Tensor) or y.shape != logits.shape[:1]:
        raise ValueError(f"y must be a tensor of shape ({logits.shape[0]},), got {getattr(y, 'shape', y)!r}")
    C = logits.shape[1]
    p = soft_targets(logits, T).double()
    sums = torch.zeros(C, C, dtype=torch.float64).index_add_(0, y, p)
    counts = torch.bincount(y, minlength=C).double()
    return (sums / counts[:, None]).to(logits.dtype)


def most_alike(similarity: torch.Tensor, k: int = 5) -> list[tuple[int, int, float]]:
    """The ``k`` largest off-diagonal entries of a :func:`class_similarity` matrix, as ``(true class,
    class it resembles, mean probability)``, largest first.

    >>> most_alike(torch.tensor([[0.9, 0.1], [0.3, 0.7]]), k=1)
    [(1, 0, 0.3)]
    """
    if not isinstance(similarity, torch.Tensor) or similarity.dim() != 2 or similarity.shape[0] != similarity.shape[1]:
        raise ValueError(f"similarity must be a square 2-D tensor, got {getattr(similarity, 'shape', similarity)!r}")
    C = similarity.shape[0]
    k = check_int("k", k, 1, C * (C - 1))
    off = similarity.clone().double()
    off.fill_diagonal_(float("-inf"))
    values, flat = off.flatten().nan_to_num(nan=float("-inf")).topk(k)
    return [(int(i) // C, int(i) % C, round(float(v), 6)) for v, i in zip(values, flat)]


def shift_bias(logits: torch.Tensor, cls: int, delta: float) -> torch.Tensor:
    """``logits`` with ``delta`` added to column ``cls``: the same as adding ``delta`` to the bias of
    the output unit ``cls`` (the correction for a class missing from the transfer set).

    >>> shift_bias(torch.zeros(1, 3), 1, 3.5)
    tensor([[0.0000, 3.5000, 0.0000]])
    """
    _check_logits("logits", logits)
    cls = check_int("cls", cls, 0, logits.shape[1] - 1)
    delta = check_real("delta", delta)
    out = logits.clone()
    out[:, cls] += delta
    return out


def best_bias_shift(logits: torch.Tensor, y: torch.Tensor, cls: int, deltas: Sequence[float]) -> tuple[float, int]:
    """The shift of class ``cls``'s bias, among ``deltas``, with the fewest errors on ``(logits, y)``
    (the smallest such shift on a tie); returns ``(delta, errors)``. Use held-out data, not the test set.

    >>> best_bias_shift(torch.tensor([[0.0, 1.0], [0.0, 1.0]]), torch.tensor([0, 0]), 0, [0.0, 2.0])
    (2.0, 0)
    """
    _check_logits("logits", logits)
    if not isinstance(y, torch.Tensor) or y.shape != logits.shape[:1]:
        raise ValueError(f"y must be a tensor of shape ({logits.shape[0]},), got {getattr(y, 'shape', y)!r}")
    if len(deltas) == 0:
        raise ValueError("deltas must list at least one shift, got none")
    best = None
    for delta in sorted(float(d) for d in deltas):
        errors = int((shift_bias(logits, cls, delta).argmax(dim=1) != y).sum())
        if best is None or errors < best[1]:
            best = (delta, errors)
    return best
