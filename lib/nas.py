r"""Neural architecture search: a small search space, three searchers and the Pareto front.

The *search space* is a fixed skeleton with :data:`NUM_POSITIONS` free positions; an
architecture (a *genotype*) names one operation of :data:`OPS` for each position:

    stem conv 3x3 (1 -> w1) | stage 1: positions 0..k-1 at w1 channels |
    max-pool 2x2, conv 1x1 (w1 -> w2) | stage 2: positions k..2k-1 at w2 channels |
    global average pool, linear (w2 -> classes)

Every operation maps ``C`` channels to ``C`` channels at the same resolution (so any
choice fits anywhere) and is followed by BatchNorm and ReLU, except ``skip`` (the
identity: the position is removed). Searchers differ only in how they choose what to
evaluate next:

- :func:`random_search`: genotypes drawn uniformly.
- :func:`regularized_evolution`: aging evolution (Real et al. 2019): a tournament of
  ``sample`` members of the population picks a parent, one mutation
  (:func:`mutate`) makes the child, and the *oldest* member dies.
- DARTS (Liu et al. 2019): every position holds a :class:`MixedOp`, a softmax-weighted sum
  of all operations; network weights and architecture weights are trained by alternating
  gradient steps (:func:`darts_step`, the first-order variant), and the genotype is the
  arg-max of each position's weights (:meth:`SuperNet.genotype`).

The objective that trades error against latency is MnasNet's reward
(:func:`mnas_reward`); :func:`pareto_front` finds the architectures no other one beats on
both error and latency at once.

References
----------
.. [1] E. Real, A. Aggarwal, Y. Huang, Q. V. Le, "Regularized Evolution for Image Classifier
   Architecture Search", AAAI 2019, arXiv:1802.01548.
.. [2] H. Liu, K. Simonyan, Y. Yang, "DARTS: Differentiable Architecture Search", ICLR 2019,
   arXiv:1806.09055.
.. [3] M. Tan, B. Chen, R. Pang, V. Vasudevan, M. Sandler, A. Howard, Q. V. Le, "MnasNet:
   Platform-Aware Neural Architecture Search for Mobile", CVPR 2019, arXiv:1807.11626.
.. [4] L. Li, A. Talwalkar, "Random Search and Reproducibility for Neural Architecture Search",
   UAI 2019, arXiv:1902.07638.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from lib import compact
from lib.core.checks import check_int, check_real

#: The operations a position can hold (each maps C channels to C channels, same resolution): a
#: standard 3x3 and 1x1 convolution, the compact blocks of :mod:`lib.compact` (depthwise-separable
#: 3x3 and 5x5, the asymmetric 1x3-then-3x1 factorisation, SqueezeNet's fire module), max-pooling,
#: and the identity.
OPS = ("conv3x3", "conv1x1", "sep3x3", "sep5x5", "asym3x3", "fire", "maxpool3x3", "skip")

#: Free positions in the skeleton: two stages of three.
NUM_POSITIONS = 6


def make_op(name: str, channels: int) -> nn.Module:
    """The operation ``name`` of :data:`OPS` on ``channels`` channels, followed by BatchNorm and
    ReLU (``skip`` is a bare identity). The fire module squeezes to ``channels // 4`` and expands
    to ``channels // 2`` + ``channels // 2``.

    >>> make_op("sep3x3", 8)(torch.zeros(2, 8, 4, 4)).shape
    torch.Size([2, 8, 4, 4])
    """
    if name not in OPS:
        raise ValueError(f"name must be one of {OPS}, got {name!r}")
    c = check_int("channels", channels, 2)
    if name == "skip":
        return nn.Identity()
    core = {"conv3x3": lambda: compact.standard_conv(c, c, 3),
            "conv1x1": lambda: compact.pointwise(c, c),
            "sep3x3": lambda: compact.depthwise_separable(c, c, 3, relu=False),
            "sep5x5": lambda: compact.depthwise_separable(c, c, 5, relu=False),
            "asym3x3": lambda: compact.asymmetric(c, c, 3, relu=False),
            "fire": lambda: compact.fire(c, max(1, c // 4), c // 2, c - c // 2),
            "maxpool3x3": lambda: nn.MaxPool2d(3, stride=1, padding=1)}[name]()
    return nn.Sequential(core, nn.BatchNorm2d(c), nn.ReLU())


def check_genotype(genotype: Sequence[str], positions: int = NUM_POSITIONS) -> tuple[str, ...]:
    """``genotype`` as a tuple, after checking it names ``positions`` operations of :data:`OPS`."""
    genotype = tuple(genotype)
    if len(genotype) != positions or any(op not in OPS for op in genotype):
        raise ValueError(f"genotype must name {positions} operations from {OPS}, got {genotype!r}")
    return genotype


def _skeleton(cells: Sequence[nn.Module], widths: tuple[int, int], in_channels: int, num_classes: int):
    """The fixed parts around the searched ``cells`` (first half in stage 1, the rest in stage 2)."""
    w1, w2 = widths
    half = len(cells) // 2
    return [nn.Conv2d(in_channels, w1, 3, padding=1, bias=False), nn.BatchNorm2d(w1), nn.ReLU(),
            *cells[:half],
            nn.MaxPool2d(2), nn.Conv2d(w1, w2, 1, bias=False), nn.BatchNorm2d(w2), nn.ReLU(),
            *cells[half:],
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(w2, num_classes)]


def build_network(genotype: Sequence[str], widths: tuple[int, int] = (16, 32), in_channels: int = 1,
                  num_classes: int = 10, seed: int = 0) -> nn.Sequential:
    """The network a genotype describes (see the module docstring), seeded.

    A ``skip`` position is an ``nn.Identity``: it costs nothing to run.

    >>> net = build_network(("conv3x3", "skip", "sep3x3", "conv1x1", "fire", "maxpool3x3"))
    >>> net(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    """
    genotype = check_genotype(genotype)
    w1, w2 = (check_int("widths[0]", widths[0], 2), check_int("widths[1]", widths[1], 2))
    check_int("in_channels", in_channels, 1)
    check_int("num_classes", num_classes, 2)
    half = NUM_POSITIONS // 2
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        cells = [make_op(op, w1 if i < half else w2) for i, op in enumerate(genotype)]
        return nn.Sequential(*_skeleton(cells, (w1, w2), in_channels, num_classes))


# --------------------------------------------------------------------------- objective
def mnas_reward(accuracy, latency, target: float, alpha: float = -0.07, beta: float = -0.07):
    r"""MnasNet's reward: :math:`\mathrm{ACC}(m) \times [\mathrm{LAT}(m) / T]^w`, with
    :math:`w = \alpha` if :math:`\mathrm{LAT}(m) \le T` and :math:`w = \beta` otherwise.

    Tan et al. chose :math:`\alpha = \beta = -0.07` so that a model twice as slow must be
    about 5 % more accurate (relative) to score the same: :math:`2^{-0.07} \approx 1/1.05`
    (soft constraint); :math:`\alpha = 0, \beta = -1` makes the target a hard constraint.

    >>> round(mnas_reward(0.9, 2.0, 1.0) / mnas_reward(0.9, 1.0, 1.0), 4)
    0.9526
    """
    check_real("target", target, 0.0, lo_open=True)
    accuracy, latency = np.asarray(accuracy, dtype=float), np.asarray(latency, dtype=float)
    if np.any(latency <= 0) or np.any((accuracy < 0) | (accuracy > 1)):
        raise ValueError("latency must be > 0 and accuracy in [0, 1]")
    w = np.where(latency <= target, alpha, beta)
    out = accuracy * (latency / target) ** w
    return float(out) if out.ndim == 0 else out


def pareto_front(errors: Sequence[float], latencies: Sequence[float]) -> list[int]:
    """Indices of the non-dominated points, by increasing latency: point ``i`` is on the front
    unless some ``j`` has ``error[j] <= error[i]`` and ``latency[j] <= latency[i]`` with one
    of the two strictly smaller (both are minimised). Of several identical points the first
    (smallest index) is kept.

    >>> pareto_front([0.10, 0.05, 0.08, 0.05], [1.0, 3.0, 2.5, 4.0])
    [0, 2, 1]
    """
    e, t = np.asarray(errors, dtype=float), np.asarray(latencies, dtype=float)
    if e.shape != t.shape or e.ndim != 1:
        raise ValueError(f"errors and latencies must be 1-D and of equal length, got {e.shape} and {t.shape}")
    front, best = [], np.inf
    for i in sorted(range(len(e)), key=lambda i: (t[i], e[i])):  # sweep by latency, keep new error minima
        if e[i] < best:
            front.append(i)
            best = e[i]
    return front


# --------------------------------------------------------------------------- discrete searchers
def random_genotype(rng: random.Random, positions: int = NUM_POSITIONS) -> tuple[str, ...]:
    """A genotype drawn uniformly: each position's operation independently from :data:`OPS`."""
    return tuple(rng.choice(OPS) for _ in range(positions))


def mutate(genotype: Sequence[str], rng: random.Random) -> tuple[str, ...]:
    """Real et al.'s *op mutation*: one position, chosen uniformly, gets a different operation.

    >>> g = ("skip",) * 6
    >>> sum(a != b for a, b in zip(g, mutate(g, random.Random(0))))
    1
    """
    genotype = check_genotype(genotype, len(genotype))
    i = rng.randrange(len(genotype))
    child = list(genotype)
    child[i] = rng.choice([op for op in OPS if op != genotype[i]])
    return tuple(child)


def random_search(evaluate: Callable[[tuple], float], budget: int, seed: int = 0) -> list[dict]:
    """Evaluate ``budget`` genotypes drawn uniformly; ``evaluate(genotype)`` returns a fitness
    (higher is better). Returns the history: ``{"genotype", "fitness"}`` in evaluation order.

    >>> h = random_search(lambda g: g.count("skip"), 20)
    >>> len(h), max(x["fitness"] for x in h) >= 2
    (20, True)
    """
    budget = check_int("budget", budget, 1)
    rng = random.Random(seed)
    history = []
    for _ in range(budget):
        g = random_genotype(rng)
        history.append({"genotype": g, "fitness": evaluate(g)})
    return history


def regularized_evolution(evaluate: Callable[[tuple], float], budget: int, population: int = 8,
                          sample: int = 3, seed: int = 0) -> list[dict]:
    """Aging evolution (Real et al. 2019, Algorithm 1) with ``budget`` evaluations in all.

    Fill the population with random genotypes; then, until the budget is spent: draw
    ``sample`` members at random, mutate the fittest of them, evaluate and add the child,
    and remove the *oldest* member (not the worst: the age is the regulariser).

    >>> h = regularized_evolution(lambda g: g.count("skip"), 60, population=10, sample=3)
    >>> max(x["fitness"] for x in h[30:]) > max(x["fitness"] for x in h[:10])
    True
    """
    budget = check_int("budget", budget, 1)
    population = check_int("population", population, 2)
    sample = check_int("sample", sample, 1, population)
    rng = random.Random(seed)
    alive: deque[dict] = deque()
    history = []
    while len(history) < budget:
        if len(history) < population:
            g = random_genotype(rng)
        else:
            parent = max(rng.sample(list(alive), sample), key=lambda m: m["fitness"])
            g = mutate(parent["genotype"], rng)
        member = {"genotype": g, "fitness": evaluate(g)}
        history.append(member)
        alive.append(member)
        if len(alive) > population:
            alive.popleft()  # the oldest dies
    return history


# --------------------------------------------------------------------------- DARTS
class MixedOp(nn.Module):
    r"""DARTS' continuous relaxation of one position: :math:`\bar o(x) = \sum_{o} \frac{\exp
    \alpha_o}{\sum_{o'} \exp \alpha_{o'}}\, o(x)` over every operation of :data:`OPS`
    (Liu et al. 2019, eq. 1). The :math:`\alpha` live in the :class:`SuperNet`."""

    def __init__(self, channels: int):
        super().__init__()
        self.ops = nn.ModuleList(make_op(name, channels) for name in OPS)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return sum(w * op(x) for w, op in zip(weights, self.ops))


class SuperNet(nn.Module):
    """The whole search space in one network: the skeleton of :func:`build_network` with a
    :class:`MixedOp` at every position and ``alpha`` (positions x operations), the architecture
    weights, initialised at zero (every operation equally likely)."""

    def __init__(self, widths: tuple[int, int] = (16, 32), in_channels: int = 1, num_classes: int = 10,
                 seed: int = 0):
        super().__init__()
        w1, w2 = check_int("widths[0]", widths[0], 2), check_int("widths[1]", widths[1], 2)
        half = NUM_POSITIONS // 2
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.mixed = nn.ModuleList(MixedOp(w1 if i < half else w2) for i in range(NUM_POSITIONS))
            layers = _skeleton([], (w1, w2), in_channels, num_classes)
        self.stem, self.transition, self.head = (nn.Sequential(*layers[:3]), nn.Sequential(*layers[3:7]),
                                                 nn.Sequential(*layers[7:]))
        self.alpha = nn.Parameter(torch.zeros(NUM_POSITIONS, len(OPS)))

    def weights(self) -> list[torch.Tensor]:
        """The network weights (everything but ``alpha``)."""
        return [p for name, p in self.named_parameters() if name != "alpha"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(self.alpha, dim=1)
        x = self.stem(x)
        for i, mixed in enumerate(self.mixed):
            if i == NUM_POSITIONS // 2:
                x = self.transition(x)
            x = mixed(x, probs[i])
        return self.head(x)

    def genotype(self) -> tuple[str, ...]:
        """The discrete architecture: the operation of largest ``alpha`` at each position."""
        return tuple(OPS[i] for i in self.alpha.argmax(dim=1).tolist())


def expected_latency(alpha: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    r"""Differentiable latency of a supernet: :math:`\sum_i \sum_o \mathrm{softmax}(\alpha_i)_o\,
    t_{i,o}` from a table ``t`` of measured per-operation latencies (positions x operations), the
    device-aware term FBNet and ProxylessNAS add to DARTS' loss."""
    if alpha.shape != table.shape:
        raise ValueError(f"alpha and table must have the same shape, got {tuple(alpha.shape)} and {tuple(table.shape)}")
    return (torch.softmax(alpha, dim=1) * table).sum()


def darts_step(net: SuperNet, w_opt, a_opt, train_batch, val_batch, latency_table: torch.Tensor | None = None,
               latency_weight: float = 0.0) -> dict:
    r"""One step of first-order DARTS (Liu et al. 2019, Algorithm 1 with :math:`\xi = 0`).

    1. Architecture step on a *validation* batch: descend
       :math:`\nabla_\alpha [\mathcal L_{val}(w, \alpha) + \lambda \log \mathrm{E}[\mathrm{LAT}](\alpha)]`
       at the current weights :math:`w` (the first-order approximation ignores how :math:`w`
       would move with :math:`\alpha`). With cross-entropy standing in for :math:`-\log`
       accuracy, :math:`\lambda = 0.07` makes this minus the log of MnasNet's reward
       (:func:`mnas_reward`, :math:`w = -0.07`) up to a constant.
    2. Weight step on a *training* batch: descend :math:`\nabla_w \mathcal L_{train}(w, \alpha)`.
    """
    loss_fn = nn.CrossEntropyLoss()
    net.train()
    a_opt.zero_grad()
    val_loss = loss_fn(net(val_batch[0]), val_batch[1])
    objective = val_loss
    if latency_table is not None and latency_weight:
        objective = objective + latency_weight * torch.log(expected_latency(net.alpha, latency_table))
    objective.backward()
    a_opt.step()
    w_opt.zero_grad()
    train_loss = loss_fn(net(train_batch[0]), train_batch[1])
    train_loss.backward()
    w_opt.step()
    return {"train_loss": train_loss.item(), "val_loss": val_loss.item()}
