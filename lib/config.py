"""Determinism, threads, caches and plot style, settled in one place.

Every notebook starts with ``lib.config.setup()``; tests and benchmarks call the
same function, so two builds print the same numbers.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np

from ._checks import check_int

#: The book's default seed.
SEED = 0


def seed_everything(seed: int = SEED) -> None:
    """Seed Python, NumPy and PyTorch (CPU) so that runs repeat exactly."""
    check_int("seed", seed, 0, 2**32 - 1)
    random.seed(seed)
    np.random.seed(seed)
    import torch

    torch.manual_seed(seed)


def set_threads(n: int | None = None) -> int:
    """Pin PyTorch's intra-op threads (default: ``FC_THREADS`` or 1) and return the count.

    One thread makes timings and floating-point reductions repeatable; benchmarks
    that report multi-threaded figures set and report their own count.
    """
    import torch

    if n is None:
        n = int(os.environ.get("FC_THREADS", "1"))
    n = check_int("n", n, 1, os.cpu_count() or 1)
    torch.set_num_threads(n)
    return n


def cache_dir(*parts: str) -> Path:
    """The user cache for trained weights and rendered videos (``FC_CACHE`` overrides).

    Defaults to ``$XDG_CACHE_HOME/from-fourier-to-compression`` (``~/.cache/...``),
    outside the repository, so clean clones and CI reuse it.
    """
    root = os.environ.get("FC_CACHE") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    ) / "from-fourier-to-compression"
    path = Path(root).joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_key(config: Any) -> str:
    """A short, stable hash of a JSON-able config (dataclasses are converted with ``vars``)."""
    if hasattr(config, "__dataclass_fields__"):
        config = vars(config)
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def use_book_style() -> None:
    """Apply the book's matplotlib style (colours and fonts shared with the widgets)."""
    import matplotlib as mpl

    from .theme import mpl_rc

    mpl.rcParams.update(mpl_rc())


def setup(seed: int = SEED, threads: int | None = None) -> None:
    """What every chapter runs first: seeds, thread count, plot style."""
    seed_everything(seed)
    set_threads(threads)
    use_book_style()


def _lib_source_hash() -> str:
    """Hash of every Python file of ``lib``: a change anywhere in the library invalidates memoised results."""
    h = hashlib.sha256()
    root = Path(__file__).resolve().parent
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def memo(fn, *, name: str | None = None, extra: Any = None):
    """Wrap ``fn(**kwargs)`` so its (JSON-able) results are cached on disk.

    The key is the function's source code, the source of all of ``lib``, ``extra``
    (whatever else the function depends on: a config, a model name) and the
    keyword arguments. A rebuild with nothing changed reuses the results (a sweep
    that fine-tunes a network at every grid point need not retrain); any change to
    the code recomputes them. Use it for training, not for timings, which must be
    measured afresh.

    >>> square = memo(lambda x: {"y": x * x}, name="doc-example")
    >>> square(x=3)
    {'y': 9}
    """
    import functools
    import inspect

    from .widgets.base import to_json

    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        source = getattr(fn, "__qualname__", repr(fn))
    label = name or getattr(fn, "__name__", "fn").strip("<>")
    base = {"source": source, "lib": _lib_source_hash(), "extra": extra}

    @functools.wraps(fn)
    def wrapper(**kwargs):
        path = cache_dir("memo", label) / f"{config_key({**base, 'kwargs': kwargs})}.json"
        if path.exists():
            return json.loads(path.read_text())
        result = to_json(fn(**kwargs))
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(result))
        tmp.replace(path)
        return result

    return wrapper
