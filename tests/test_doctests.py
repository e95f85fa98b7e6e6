"""Every example in lib's docstrings runs and prints what it claims (a wrong example is a bug too)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import lib

MODULES = sorted(m.name for m in pkgutil.walk_packages(lib.__path__, "lib.")
                 if not m.name.startswith(("lib.scenes", "lib.sphinx_videos")))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.setenv("FC_CACHE", str(tmp_path))  # cache.memo's example writes to the cache
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples in {name} failed"
