"""A method's own code on its page, read from the library when the book builds.

A Part II page shows the 10-40 lines that *are* the method (the function that
prunes, fake-quantises, clusters, codes) rather than a copy that could drift
from what runs: :func:`show_source` reads the function's source with
:mod:`inspect` at build time and displays it as a highlighted code block, with
the file and line it comes from. The plumbing (argument checks, docstrings) can
be left out so the page shows the idea.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from pathlib import Path

from IPython.display import Markdown

ROOT = Path(__file__).resolve().parent.parent.parent


def _strip_docstring(code: str) -> str:
    """``code`` without the docstring that opens its first ``def``/``class`` body."""
    return re.sub(r'(\n[ \t]+)[rRuU]?("""|\'\'\')[\s\S]*?\2[ \t]*\n', "\n", code, count=1)


def source_text(obj, *, docstring: bool = False, skip_checks: bool = False) -> str:
    """The source of ``obj`` (a function, method or class) as the library holds it now.

    ``docstring=False`` drops the docstring; ``skip_checks=True`` drops the lines
    that only validate arguments (bare ``check_...(...)`` calls on one line, and
    ``if ...: raise ValueError(...)`` pairs of lines), leaving the method. An assignment
    ``x = check_...(...)`` stays: it defines a name the code uses.

    >>> print(source_text(source_text).splitlines()[0])
    def source_text(obj, *, docstring: bool = False, skip_checks: bool = False) -> str:
    """
    if not (inspect.isfunction(obj) or inspect.ismethod(obj) or inspect.isclass(obj)):
        raise ValueError(f"obj must be a function, method or class, got {type(obj).__name__}")
    code = textwrap.dedent(inspect.getsource(obj))
    if not docstring:
        code = _strip_docstring(code)
    if skip_checks:
        code = re.sub(r"\n[ \t]*if [^\n]*:\n[ \t]*raise (Value|Type)Error\([^\n]*\)[ \t]*(?=\n)", "", code)
        code = "\n".join(line for line in code.splitlines()
                         if not re.match(r"\s*check_\w+\(.*\)\s*$", line))
    return code.rstrip() + "\n"


def where(obj) -> str:
    """``lib/<file>.py, line N`` for ``obj``."""
    path = Path(inspect.getsourcefile(obj)).resolve()
    try:
        path = path.relative_to(ROOT)
    except ValueError:
        pass
    return f"{path}, line {inspect.getsourcelines(obj)[1]}"


def show_source(obj, *, docstring: bool = False, skip_checks: bool = True) -> Markdown:
    """Display ``obj``'s current source as a Python code block, headed by where it lives."""
    name = getattr(obj, "__qualname__", getattr(obj, "__name__", "?"))
    return Markdown(f"`{name}` from `{where(obj)}` (read from the library when this page was built):\n\n"
                    f"```python\n{source_text(obj, docstring=docstring, skip_checks=skip_checks)}```\n")
