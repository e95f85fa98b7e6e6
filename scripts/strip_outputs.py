"""Remove outputs and execution counts from notebooks (they are built, not committed).

Usage: ``python scripts/strip_outputs.py [NOTEBOOK ...]`` (default: every notebook in chapters/).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def strip(path: Path) -> bool:
    nb = nbformat.read(path, as_version=4)
    changed = False
    for cell in nb.cells:
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None):
            cell.outputs, cell.execution_count, changed = [], None, True
    if nb.metadata.pop("widgets", None) is not None:
        changed = True
    if changed:
        nbformat.write(nb, path)
    return changed


if __name__ == "__main__":
    paths = [Path(p) for p in sys.argv[1:]] or sorted((ROOT / "chapters").glob("*.ipynb"))
    for p in paths:
        if strip(p):
            print(f"stripped {p}")
