"""The base of every widget: an ``anywidget`` whose front end draws by itself.

A widget's ES module is ``js/common.js`` (shared helpers) followed by the
widget's own file, and its CSS is the theme variables from :mod:`lib.theme`
followed by ``js/widgets.css``. Because the module draws without Python, the
same widget works in the static book (state embedded in the page), in a live
notebook, and in tests driven by a real browser.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import anywidget

from lib.core.cache import to_json  # noqa: F401  (re-exported: widgets take their values through it)
from lib.core.theme import CYCLE, FONT, PALETTE, css_font_family, widget_css

JS = Path(__file__).parent / "js"


@cache
def esm(name: str) -> str:
    """The palette (from :mod:`lib.theme`) + ``common.js`` + ``name``: one self-contained ES module.

    The palette is baked in so the first frame has the book's colours even
    before the page has applied the widget's CSS.
    """
    palette = dict(PALETTE, cycle=[PALETTE[c] for c in CYCLE], font=css_font_family(), size=FONT["size"])
    return (f"const FC_PALETTE = {json.dumps(palette)};\n" + (JS / "common.js").read_text()
            + "\n" + (JS / name).read_text())


@cache
def css() -> str:
    return widget_css() + (JS / "widgets.css").read_text()


class BookWidget(anywidget.AnyWidget):
    """Base class: the book's CSS; subclasses set ``_esm = esm("their.js")``."""

    _css = css()
