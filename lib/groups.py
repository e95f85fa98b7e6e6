"""Symmetry as "what you can do to a shape and leave it looking the same".

The eight symmetries of a square (the dihedral group D4) as 2x2 integer
matrices, their composition table, and the check that they form a group.
The opening of Part I uses them before numbers appear: a symmetry is an
*action*, and actions compose.
"""

from __future__ import annotations

import itertools

import numpy as np

#: name -> (short label, matrix acting on column vectors (x, y)); the square's corners are (±1, ±1).
SQUARE_SYMMETRIES: dict[str, tuple[str, np.ndarray]] = {
    "do nothing": ("e", np.array([[1, 0], [0, 1]])),
    "quarter turn": ("r", np.array([[0, -1], [1, 0]])),
    "half turn": ("r²", np.array([[-1, 0], [0, -1]])),
    "three-quarter turn": ("r³", np.array([[0, 1], [-1, 0]])),
    "flip left-right": ("h", np.array([[-1, 0], [0, 1]])),
    "flip top-bottom": ("v", np.array([[1, 0], [0, -1]])),
    "flip over the rising diagonal": ("d", np.array([[0, 1], [1, 0]])),
    "flip over the falling diagonal": ("d′", np.array([[0, -1], [-1, 0]])),
}


def label_of(matrix: np.ndarray) -> str:
    """The short label of a symmetry given as a matrix."""
    m = np.asarray(matrix)
    for label, s in SQUARE_SYMMETRIES.values():
        if m.shape == s.shape and np.array_equal(m, s):
            return label
    raise ValueError(f"matrix is not a symmetry of the square: {m.tolist()!r}")


def compose(first: str, then: str) -> str:
    """The single symmetry equal to doing ``first`` and then ``then`` (labels)."""
    mats = {label: m for label, m in SQUARE_SYMMETRIES.values()}
    for name, value in (("first", first), ("then", then)):
        if value not in mats:
            raise ValueError(f"{name} must be one of {list(mats)!r}, got {value!r}")
    return label_of(mats[then] @ mats[first])


def cayley_table() -> list[list[str]]:
    """``table[i][j]`` = doing symmetry ``j`` first and then symmetry ``i`` (labels in
    :data:`SQUARE_SYMMETRIES` order)."""
    labels = [label for label, _ in SQUARE_SYMMETRIES.values()]
    return [[compose(first, then) for first in labels] for then in labels]


def is_group(table: list[list[str]]) -> bool:
    """Closure, identity, inverses and associativity of a composition table."""
    order = [label for label, _ in SQUARE_SYMMETRIES.values()]
    idx = {label: i for i, label in enumerate(order)}
    op = lambda a, b: table[idx[b]][idx[a]]  # noqa: E731  a first, then b
    closure = all(cell in idx for row in table for cell in row)
    e = "e"
    identity = all(op(a, e) == a == op(e, a) for a in order)
    inverses = all(any(op(a, b) == e for b in order) for a in order)
    assoc = all(op(op(a, b), c) == op(a, op(b, c)) for a, b, c in itertools.product(order, repeat=3))
    return closure and identity and inverses and assoc
