"""Determinism, threads, caches and plot style, settled in one place.

Every notebook starts with ``lib.config.setup()``; tests and benchmarks call the
same function, so two builds print the same numbers.
"""

from __future__ import annotations

import contextlib
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


@contextlib.contextmanager
def threads(n: int | None = None):
    """Run a block with ``n`` PyTorch threads, then restore the previous count, even on error.

    For work whose result does not depend on the thread count (errors, not timings), so it can
    use every core; ``n=None`` takes all of them.

    >>> import torch
    >>> before = torch.get_num_threads()
    >>> with threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    import torch

    previous = torch.get_num_threads()
    n = check_int("n", (os.cpu_count() or 1) if n is None else n, 1, os.cpu_count() or 1)
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(previous)


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


def _lib_imports(path: Path) -> set[str]:
    """Dotted names of the ``lib`` modules that the file at ``path`` imports (relative or absolute)."""
    import ast

    root = Path(__file__).resolve().parent
    package = ".".join(("lib",) + path.relative_to(root).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name == "lib" or a.name.startswith("lib.")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{base}.{node.module}" if node.module else base
            elif node.module and (node.module == "lib" or node.module.startswith("lib.")):
                base = node.module
            else:
                continue
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}   # "from . import quantization"
    return found


def _module_file(name: str) -> Path | None:
    root = Path(__file__).resolve().parent
    parts = name.split(".")[1:]
    if not parts:
        return root / "__init__.py"
    rel = Path(*parts)
    for candidate in (root / rel.with_suffix(".py"), root / rel / "__init__.py"):
        if candidate.is_file() and candidate.resolve().is_relative_to(root):
            return candidate
    return None


def _fn_lib_modules(fn) -> set[str]:
    """The ``lib`` modules a function can reach: its own module if it lives in ``lib``, and any
    ``lib`` module or ``lib`` object named in its code or in the code of same-module functions it calls."""
    import types

    found, seen = set(), set()

    def visit(f):
        code = getattr(f, "__code__", None)
        if code is None or code in seen:
            return
        seen.add(code)
        module = getattr(f, "__module__", "") or ""
        if module == "lib" or module.startswith("lib."):
            found.add(module)
        g = getattr(f, "__globals__", {})
        stack = [code]
        while stack:
            c = stack.pop()
            stack += [k for k in c.co_consts if isinstance(k, types.CodeType)]
            imports_lib = any(n == "lib" or n.startswith("lib.") for n in c.co_names)
            for n in c.co_names:
                if n.startswith("lib."):                      # import lib.x inside the function
                    found.add(n)
                elif imports_lib and n.isidentifier() and _module_file(f"lib.{n}") is not None:
                    found.add(f"lib.{n}")                     # from lib import x inside the function
                obj = g.get(n)
                if isinstance(obj, types.ModuleType):
                    if obj.__name__ == "lib" or obj.__name__.startswith("lib."):
                        found.add(obj.__name__)
                    continue
                owner = getattr(obj, "__module__", None)
                if isinstance(owner, str) and (owner == "lib" or owner.startswith("lib.")):
                    found.add(owner)
                elif isinstance(obj, types.FunctionType) and obj.__globals__ is g:
                    visit(obj)

    visit(fn)
    return found


def lib_files(fn=None) -> list[Path]:
    """The ``lib`` source files that ``fn`` depends on: the modules it reaches (see
    ``_fn_lib_modules``) and everything they import from ``lib``, transitively. With no
    ``fn``, every Python file of ``lib``."""
    root = Path(__file__).resolve().parent
    if fn is None:
        return sorted(root.rglob("*.py"))
    todo, files = list(_fn_lib_modules(fn)), set()
    while todo:
        path = _module_file(todo.pop())
        if path is None or path in files:
            continue
        files.add(path)
        todo += list(_lib_imports(path))
    return sorted(files)


def _lib_source_hash(fn=None) -> str:
    """Hash of ``lib_files(fn)``: editing a module that ``fn`` cannot reach leaves it alone."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in lib_files(fn):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def memo(fn, *, name: str | None = None, extra: Any = None):
    """Wrap ``fn(**kwargs)`` so its (JSON-able) results are cached on disk.

    The key is the function's source code, the source of the ``lib`` modules it can reach
    (named in its code, or in the code of functions of its own module that it calls, and
    whatever those modules import from ``lib``, transitively), ``extra``
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
    base = {"source": source, "lib": _lib_source_hash(fn), "extra": extra}

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
