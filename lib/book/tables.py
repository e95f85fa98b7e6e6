"""Tables as the book shows them: one function for every page, so every table looks alike.

Cells are written as given (numbers formatted by the caller, HTML allowed, so
a cell can hold a bold figure or a link); the table scrolls sideways on a
narrow screen (``fc-scroll``) and takes the book's style (``fc-table`` in
``_book_static/book.css``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from IPython.display import HTML


#: A number followed by a space and a unit: the space becomes non-breaking, so that a narrow column
#: never wraps the unit away from its number ("0.86 %" stays on one line).
_NUMBER_UNIT = re.compile(r"(\d) (%|‰|ms|µs|us|s|min|x|×|bits?|bytes?|[kKMG]i?B|B|KiB|MiB|GHz|MHz|pt|points?)(?=$|[\s,;:)<])")


def keep_units(cell: str) -> str:
    """``cell`` with the space between each number and its unit made non-breaking.

    >>> keep_units("0.86 % at 12 ms, 3 points") == "0.86\u00a0% at 12\u00a0ms, 3\u00a0points"
    True
    """
    return _NUMBER_UNIT.sub("\\1\u00a0\\2", cell)


def table_html(head: Sequence, rows: Iterable[Sequence], caption: str = "") -> str:
    """The HTML of a table with header ``head`` and ``rows``; every row must have ``len(head)`` cells.

    >>> table_html(["a", "b"], [[1, 2]])
    '<div class="fc-scroll"><table class="fc-table"><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table></div>'
    """
    head = list(head)
    rows = [list(r) for r in rows]
    for i, r in enumerate(rows):
        if len(r) != len(head):
            raise ValueError(f"rows[{i}] must have {len(head)} cells (one per column of head), got {len(r)}")
    cap = f"<caption>{caption}</caption>" if caption else ""
    h = "".join(f"<th>{c}</th>" for c in head)
    b = "".join("<tr>" + "".join(f"<td>{keep_units(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f'<div class="fc-scroll"><table class="fc-table">{cap}<tr>{h}</tr>{b}</table></div>'


def table(head: Sequence, rows: Iterable[Sequence], caption: str = "") -> HTML:
    """:func:`table_html`, displayed in the notebook and the page."""
    return HTML(table_html(head, rows, caption))
