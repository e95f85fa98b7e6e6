"""Determinism, threads and plot style, settled in one place.

Every notebook starts with ``lib.core.config.setup()``; tests and benchmarks call
the same function, so two builds print the same numbers. What is computed and
kept (weights, sweeps, reproductions, videos) goes through :mod:`lib.core.cache`.
"""

from __future__ import annotations

import contextlib
import os
import random

import matplotlib as mpl
import numpy as np
import torch

from lib.core.checks import check_int
from lib.core.theme import mpl_rc

#: The book's default seed.
SEED = 0


def seed_everything(seed: int = SEED) -> None:
    """Seed Python, NumPy and PyTorch (CPU) so that runs repeat exactly."""
    check_int("seed", seed, 0, 2**32 - 1)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def default_threads() -> int:
    """The thread count every computation uses unless it says otherwise: ``FC_THREADS`` or 1.

    One thread, whatever the machine: floating-point reductions then run in the
    same order everywhere, so a trained network and every number printed from it
    are the same on a laptop, on CI and in a parallel build (which runs one
    notebook per core rather than one notebook on every core).
    """
    return check_int("FC_THREADS", int(os.environ.get("FC_THREADS", "1")), 1, os.cpu_count() or 1)


def set_threads(n: int | None = None) -> int:
    """Pin PyTorch's intra-op threads (default: :func:`default_threads`) and return the count.

    One thread makes timings and floating-point reductions repeatable; benchmarks
    that report multi-threaded figures set and report their own count.
    """
    n = check_int("n", default_threads() if n is None else n, 1, os.cpu_count() or 1)
    torch.set_num_threads(n)
    return n


@contextlib.contextmanager
def threads(n: int | None = None):
    """Run a block with ``n`` PyTorch threads, then restore the previous count, even on error.

    For timings that report a multi-threaded figure; ``n=None`` takes every core.

    >>> before = torch.get_num_threads()
    >>> with threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    previous = torch.get_num_threads()
    n = check_int("n", (os.cpu_count() or 1) if n is None else n, 1, os.cpu_count() or 1)
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(previous)


def use_book_style() -> None:
    """Apply the book's matplotlib style (colours and fonts shared with the widgets)."""
    mpl.rcParams.update(mpl_rc())


def setup(seed: int = SEED, threads: int | None = None) -> None:
    """What every chapter runs first: seeds, thread count, plot style."""
    seed_everything(seed)
    set_threads(threads)
    use_book_style()
