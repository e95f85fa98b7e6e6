"""The library's shape, checked by parsing every module (AST; nothing is executed).

The rule (``lib/__init__.py``): a file directly in ``lib/`` is a topic and a
folder is machinery; each layer imports only the layers below it and itself:

    core  <  topics  <  workbench  <  experiments  <  views (widgets, scenes, book)

and imports sit at the top of modules, except optional heavy packages.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parent.parent / "lib"

#: Rank of each layer; a module may import a lower rank or its own layer.
RANK = {"core": 0, "topic": 1, "workbench": 2, "experiments": 3, "widgets": 4, "scenes": 4, "book": 4}
#: Views do not import one another (a widget never needs a scene).
VIEWS = {"widgets", "scenes", "book"}
#: Third-party packages that may be imported inside a function: optional, heavy, needed by one path.
LAZY_OK = {"manim", "av", "playwright"}
#: Topic modules a reader should be able to hold in mind.
MAX_TOPIC_LINES = 600


def layer(module: str) -> str:
    """``lib.x`` -> "topic"; ``lib.core.y`` -> "core"; ``lib`` (the package) -> "core"."""
    parts = module.split(".")
    if len(parts) == 1:
        return "core"
    if (LIB / parts[1]).is_dir():
        return parts[1]
    return "topic"


def module_name(path: Path) -> str:
    parts = path.relative_to(LIB).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(("lib",) + parts)


def lib_imports(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, imported lib module) for every import of ``lib`` in ``source``, relative ones resolved."""
    package = module if is_package else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "lib"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            if name.split(".")[0] != "lib":
                continue
            if name == "lib":  # from lib import fourier, core -> each name is a module
                found += [(node.lineno, f"lib.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, name))
    return found


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """Every import in ``source`` (the module ``module``) that breaks the layering rule."""
    mine = layer(module)
    bad = []
    for line, target in lib_imports(source, module, is_package):
        theirs = layer(target)
        if RANK[theirs] > RANK[mine] or (mine in VIEWS and theirs in VIEWS and theirs != mine):
            bad.append(f"{module}:{line} ({mine}) imports {target} ({theirs})")
    return bad


def lazy_imports(source: str, module: str) -> list[str]:
    """Imports inside functions, other than the optional heavy packages of ``LAZY_OK``."""
    bad = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Import):
                    names = [a.name for a in sub.names]
                elif isinstance(sub, ast.ImportFrom) and not sub.level:
                    names = [sub.module or ""]
                elif isinstance(sub, ast.ImportFrom):
                    names = ["lib (relative)"]
                else:
                    continue
                bad += [f"{module}:{sub.lineno} imports {n} inside {node.name}()"
                        for n in names if n.split(".")[0] not in LAZY_OK]
    return bad


MODULES = sorted(LIB.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(LIB).as_posix())
def test_imports_follow_the_layers(path):
    assert violations(path.read_text(), module_name(path), path.name == "__init__.py") == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(LIB).as_posix())
def test_imports_at_the_top(path):
    assert lazy_imports(path.read_text(), module_name(path)) == []


def test_topic_modules_are_small_enough_to_read():
    long = {p.name: n for p in LIB.glob("*.py") if (n := len(p.read_text().splitlines())) > MAX_TOPIC_LINES}
    assert long == {}


def test_the_check_catches_a_planted_import():
    """The rule is not vacuous: a topic that imports the workbench, experiments, widgets or
    scenes fails, as does a relative import that climbs into them; allowed ones pass."""
    for planted in ("from lib.workbench.train import fit", "from lib.experiments import han2015",
                    "import lib.widgets", "from lib.scenes import render", "from lib import workbench"):
        assert violations(planted + "\n", "lib.pruning"), planted
    assert violations("from .workbench import train\n", "lib.pruning")
    assert violations("from lib.experiments import x\n", "lib.workbench.train")
    assert violations("from lib.widgets import Sweep\n", "lib.scenes.part1")
    assert violations("from lib import fourier, pruning\nfrom lib.core import cache\n", "lib.coding") == []
    assert violations("from lib.workbench import train\n", "lib.experiments.han2015") == []
    assert lazy_imports("def f():\n    from lib.workbench import train\n", "lib.pruning")
    assert lazy_imports("def f():\n    import manim\n", "lib.scenes") == []
