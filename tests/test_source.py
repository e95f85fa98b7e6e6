"""The method code a page shows is the library's current source (issue 11)."""

import importlib
import sys
import textwrap

import pytest

from lib.book import source


def test_source_is_read_now(tmp_path, monkeypatch):
    """Editing a module changes what the page would show: nothing is copied or cached."""
    mod = tmp_path / "fc_source_probe.py"
    mod.write_text(textwrap.dedent('''
        def scale(x, k):
            """Multiply."""
            check_real("k", k)
            n = check_int("n", 2)
            if k == 0:
                raise ValueError("k must not be 0")
            return x * k * n
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    probe = importlib.import_module("fc_source_probe")
    full = source.source_text(probe.scale, docstring=True)
    assert '"""Multiply."""' in full and "check_real" in full
    short = source.source_text(probe.scale, skip_checks=True)
    assert short == 'def scale(x, k):\n    n = check_int("n", 2)\n    return x * k * n\n'  # assignments stay
    mod.write_text(mod.read_text().replace("x * k * n", "k * x"))
    sys.modules.pop("fc_source_probe")
    importlib.invalidate_caches()
    probe = importlib.import_module("fc_source_probe")
    assert "return k * x" in source.source_text(probe.scale)


def test_raw_docstring_dropped():
    def f(x):
        r"""Raw: \alpha."""
        return x

    assert source.source_text(f) == "def f(x):\n    return x\n"


def test_show_source_names_the_file():
    from lib import pruning
    md = source.show_source(pruning.magnitude_prune).data
    assert "lib/pruning.py, line" in md and "```python\ndef magnitude_prune" in md


def test_bad_object():
    with pytest.raises(ValueError, match="obj must be a function"):
        source.source_text(3)
