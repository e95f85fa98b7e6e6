"""The book builds with warnings as errors, every listed chapter is a page, and no
page refers a browser to another host for code, styles or fonts."""

from __future__ import annotations

import re

from lib import book


def test_every_toc_chapter_is_a_page(built_book):
    assert (built_book / "index.html").exists()
    for name in book.available():
        assert (built_book / "chapters" / f"{name}.html").exists(), name


def test_pages_load_nothing_from_other_hosts(built_book):
    pattern = re.compile(r'<(?:script|link|img|source|video|audio)\b[^>]*(?:src|href)="(https?:)?//', re.I)
    for page in built_book.rglob("*.html"):
        hits = pattern.findall(page.read_text())
        assert not hits, f"{page.relative_to(built_book)} loads from another host"


def test_vendored_scripts_are_served_locally(built_book):
    vendor = built_book / "_static" / "vendor"
    for f in ["require.js", "widgets-config.js", "html-manager/dist/embed-amd.js",
              "anywidget/index.js", "mathjax/tex-chtml.js"]:
        assert (vendor / f).is_file(), f


def test_widget_state_is_embedded(built_book):
    html = (built_book / "chapters" / "how_to_use.html").read_text()
    assert html.count("application/vnd.jupyter.widget-state+json") == 1
    assert html.count("application/vnd.jupyter.widget-view+json") >= 2
