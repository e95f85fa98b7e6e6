"""Every chapter notebook runs top to bottom in a fresh kernel, and is committed without outputs.

The book build (``scripts/build.py``, the ``built_book`` fixture) executes every
notebook of the table of contents in a fresh kernel, two at a time, and stores
each successful execution in Jupyter Book's execution cache; a notebook that
raises fails the build. These tests check that every notebook in ``chapters/``
is in the table of contents and has a successful execution of its *current*
code in that cache, without running it a second time.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from jupyter_cache import get_cache

import build  # scripts/ is on sys.path (tests/conftest.py)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS


def test_every_notebook_is_in_the_table_of_contents():
    assert sorted(build.toc_notebooks()) == NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert not cell["outputs"] and cell["execution_count"] is None, f"{path.name} has outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(built_book, path):
    record = get_cache(str(build.EXEC_CACHE)).match_cache_notebook(nbformat.read(path, as_version=4))
    executed = get_cache(str(build.EXEC_CACHE)).get_cache_bundle(record.pk).nb
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.output_type == "error"]
    assert not errors
    assert all(c.get("execution_count") for c in executed.cells if c.cell_type == "code" and c.source.strip())
