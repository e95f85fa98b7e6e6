"""The one cache: everything computed and kept (weights, sweeps, reproductions, videos).

An entry's key is the full configuration of the computation *and* the source
code it can reach, so

- a code change never serves a stale number: edit a function the computation
  calls, or any ``lib`` module it reaches (directly or through the imports of
  the modules it reaches), and the entry is recomputed;
- an unrelated edit recomputes nothing: a colour in the theme, a widget, a
  chapter that does not use it, a topic the computation never imports;
- the key is the same in every process and on every machine (SHA-256 of the
  files' bytes under their paths relative to ``lib/``, and of the
  configuration as sorted JSON; no ``id``, no ``hash()``).

Entries live under :func:`cache_dir` (``$FC_CACHE``, else
``~/.cache/from-fourier-to-compression``). Two processes that need the same
entry at once (two notebooks of a parallel build) take a file lock: one
computes, the other waits and reads its result.

What a computation reaches is found statically (no execution): the module of
the function, the ``lib`` modules and ``lib`` objects named in its code and in
the code of the same-module functions it calls, then everything those modules
import from ``lib``, transitively (:func:`lib_files`). Import ``lib`` names at
the top of a module, as this library does, and they are all seen.
"""

from __future__ import annotations

import ast
import fcntl
import functools
import hashlib
import inspect
import json
import math
import os
import threading
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from lib.core.checks import check_choice

#: The ``lib/`` folder: every path in a key is relative to it.
LIB = Path(__file__).resolve().parent.parent


def cache_dir(*parts: str) -> Path:
    """The user cache folder ``parts`` (created): ``$FC_CACHE``, else ``$XDG_CACHE_HOME/from-fourier-to-compression``.

    Outside the repository, so a clean clone reuses it; CI points ``FC_CACHE`` at
    an empty folder to prove what a new machine gets.
    """
    root = os.environ.get("FC_CACHE") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    ) / "from-fourier-to-compression"
    path = Path(root).joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_key(config: Any) -> str:
    """A short, stable hash of a JSON-able config (dataclasses are converted with ``vars``).

    >>> config_key({"a": 1, "b": 2}) == config_key({"b": 2, "a": 1})
    True
    """
    if hasattr(config, "__dataclass_fields__"):
        config = vars(config)
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def to_json(value: Any) -> Any:
    """Convert results to JSON-able values; NaN and infinities become ``None`` (shown as a dash).

    NumPy arrays and scalars and torch tensors become lists and floats, tuples
    become lists, dictionary keys become strings.

    >>> to_json({"x": (1, float("nan"))})
    {'x': [1, None]}
    """
    if hasattr(value, "detach"):  # torch tensor
        value = value.detach().cpu().numpy()
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    raise ValueError(f"values must be numbers, strings, lists or dicts, got {type(value).__name__}")


# --------------------------------------------------------------------------- what a computation reaches

def _is_lib(name: str) -> bool:
    return name == "lib" or name.startswith("lib.")


def module_file(name: str) -> Path | None:
    """The source file of the ``lib`` module ``name`` (``lib.x.y``), or ``None`` if there is none."""
    parts = name.split(".")[1:]
    if not parts:
        return LIB / "__init__.py"
    rel = Path(*parts)
    for candidate in (LIB / rel.with_suffix(".py"), LIB / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_imports(path: Path) -> set[str]:
    """Dotted names of the ``lib`` modules the file at ``path`` imports, anywhere in it (AST, no execution).

    ``from lib.x import y`` yields ``lib.x`` and ``lib.x.y`` (``y`` may itself be a module).
    """
    parts = path.resolve().relative_to(LIB).with_suffix("").parts   # ("widgets", "base") or ("core", "__init__")
    package = ".".join(("lib",) + parts[:-1])                          # the package a relative import starts from
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if _is_lib(a.name)}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{base}.{node.module}" if node.module else base
            elif node.module and _is_lib(node.module):
                base = node.module
            else:
                continue
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    return found


def reached_modules(fn: Callable) -> set[str]:
    """The ``lib`` modules a function (or class) names: its own module if it is in ``lib``, and any
    ``lib`` module or ``lib`` object named in its code or in the code of same-module functions it calls."""
    found: set[str] = set()
    seen: set[types.CodeType] = set()

    def owner_of(obj) -> str | None:
        if isinstance(obj, types.ModuleType):
            return obj.__name__ if _is_lib(obj.__name__) else None
        owner = getattr(obj, "__module__", None)
        return owner if isinstance(owner, str) and _is_lib(owner) else None

    def visit(f):
        if isinstance(f, type):
            if owner_of(f):
                found.add(owner_of(f))
            for base in f.__mro__[1:]:
                if owner_of(base):
                    found.add(owner_of(base))
            for member in vars(f).values():
                visit(getattr(member, "__func__", member))
            return
        code = getattr(f, "__code__", None)
        if code is None or code in seen:
            return
        seen.add(code)
        if owner_of(f):
            found.add(owner_of(f))
        g = getattr(f, "__globals__", {})
        stack = [code]
        while stack:
            c = stack.pop()
            stack += [k for k in c.co_consts if isinstance(k, types.CodeType)]
            imports_lib = any(_is_lib(n) for n in c.co_names)
            for n in c.co_names:
                if n.startswith("lib."):                          # import lib.x inside the function
                    found.add(n)
                elif imports_lib and n.isidentifier() and module_file(f"lib.{n}") is not None:
                    found.add(f"lib.{n}")                         # from lib import x inside the function
                obj = g.get(n)
                if obj is None:
                    continue
                if owner_of(obj):
                    found.add(owner_of(obj))
                elif isinstance(obj, types.FunctionType) and obj.__globals__ is g:
                    visit(obj)                                    # a helper beside it (a notebook's, say)
                elif isinstance(obj, type) and obj.__module__ == g.get("__name__"):
                    visit(obj)

    visit(fn)
    return found


def lib_files(*targets) -> list[Path]:
    """The ``lib`` source files that ``targets`` depend on.

    A target is a function or class (see :func:`reached_modules`) or a module name
    (``"lib.scenes.part1"``); the result adds everything those modules import from
    ``lib``, transitively. With no target, every Python file of ``lib``.
    """
    if not targets:
        return sorted(LIB.rglob("*.py"))
    todo: list[str] = []
    for t in targets:
        todo += [t] if isinstance(t, str) else sorted(reached_modules(t))
    files: set[Path] = set()
    while todo:
        path = module_file(todo.pop())
        if path is None or path in files:
            continue
        files.add(path)
        todo += sorted(module_imports(path))
    return sorted(files)


def source_key(*targets) -> str:
    """Hash of :func:`lib_files` of ``targets``: what a change to the code a computation reaches alters."""
    h = hashlib.sha256()
    for path in lib_files(*targets):
        h.update(path.relative_to(LIB).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _own_source(fn) -> str:
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return getattr(fn, "__qualname__", repr(fn))


def key(fn: Callable, kwargs: dict | None = None, extra: Any = None) -> str:
    """The cache key of ``fn(**kwargs)``: its own source, the ``lib`` source it reaches, ``extra`` and ``kwargs``."""
    return _keyed({"source": _own_source(fn), "lib": source_key(fn), "extra": extra}, kwargs)


def _keyed(base: dict, kwargs: dict | None) -> str:
    return config_key({**base, "kwargs": kwargs or {}})


# --------------------------------------------------------------------------- storing and locking

class _Locked:
    """An exclusive lock on ``path`` + ``.lock`` (released on exit, even on error)."""

    def __init__(self, path: Path):
        self.path = path.with_name(path.name + ".lock")

    def __enter__(self):
        self.fh = open(self.path, "w")
        fcntl.flock(self.fh, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


#: Per thread, the seconds spent inside each computation now running, innermost last (see :func:`_log_time`).
_local = threading.local()


def _running() -> list[float]:
    if not hasattr(_local, "running"):
        _local.running = []
    return _local.running


def _log_time(path: Path, seconds: float, own: float) -> None:
    """Append what one computation cost to ``timings.jsonl`` in the cache: its file, its wall
    seconds, and its ``own`` seconds (less the cached computations it called). A first build's
    log says where its minutes go (``scripts/build_costs.py`` sums it)."""
    line = {"path": str(path.relative_to(cache_dir())), "seconds": round(seconds, 2), "own": round(own, 2),
            "pid": os.getpid()}
    with open(cache_dir() / "timings.jsonl", "a") as fh:
        fh.write(json.dumps(line) + "\n")


def get_or_compute(path: Path, compute: Callable[[Path], None]) -> Path:
    """Return ``path``, calling ``compute(tmp)`` first to write it if it does not exist.

    ``compute`` writes a temporary file that replaces ``path`` atomically; a
    second process asking for the same ``path`` meanwhile waits for the first.
    What each computation cost is logged (:func:`_log_time`); a computation that waits here, for
    its own work or for another process's, is charged none of that wait as its own time.
    """
    if path.exists():
        return path
    start = time.perf_counter()
    try:
        with _Locked(path):
            if not path.exists():
                tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
                _running().append(0.0)
                try:
                    compute(tmp)
                finally:
                    inner = _running().pop()
                seconds = time.perf_counter() - start
                tmp.replace(path)
                _log_time(path, seconds, seconds - inner)
    finally:
        if _running():  # the caller's own time excludes this call, computed or waited for
            _running()[-1] += time.perf_counter() - start
    return path


def memo(fn: Callable | None = None, *, name: str | None = None, extra: Any = None, store: str = "json"):
    """Wrap ``fn(**kwargs)`` so its results are computed once and kept in the cache.

    The key is :func:`key`: ``fn``'s source, the ``lib`` source it reaches,
    ``extra`` (whatever else it depends on) and the keyword arguments. ``store``
    is ``"json"`` (results go through :func:`to_json`: numbers, lists, dicts,
    what a widget shows) or ``"torch"`` (``torch.save``: tensors and state dicts,
    loaded with ``weights_only=True``). Use it for training and sweeps, not for
    timings, which must be measured afresh. Usable as ``@memo`` or
    ``@memo(store="torch")``.

    >>> square = memo(lambda x: {"y": x * x}, name="doc-example")
    >>> square(x=3)
    {'y': 9}
    """
    check_choice("store", store, ("json", "torch"))
    if fn is None:
        return functools.partial(memo, name=name, extra=extra, store=store)
    label = name or getattr(fn, "__name__", "fn").strip("<>")
    base = {"source": _own_source(fn), "lib": source_key(fn), "extra": extra}
    suffix = ".json" if store == "json" else ".pt"

    def write(result, tmp: Path) -> None:
        if store == "json":
            tmp.write_text(json.dumps(to_json(result)))
        else:
            torch.save(result, tmp)

    def read(path: Path):
        if store == "json":
            return json.loads(path.read_text())
        return torch.load(path, weights_only=True)

    def cache_path(**kwargs) -> Path:
        return cache_dir("memo", label) / f"{_keyed(base, kwargs)}{suffix}"

    @functools.wraps(fn)
    def wrapper(**kwargs):
        path = get_or_compute(cache_path(**kwargs), lambda tmp: write(fn(**kwargs), tmp))
        return read(path)

    wrapper.cache_path = cache_path
    return wrapper
