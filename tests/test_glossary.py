"""The glossary and the notes-to-book map: every link resolves, and the map follows the notes.

Anchors are computed from the chapters' markdown headings with docutils' ``make_id``
(what Sphinx gives a section), so no build is needed; one test checks that rule
against a built page when there is one.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from lib.book import glossary, notes_map, plan

PLANNED = {name for _, chapters in plan.PLAN for name, _, _ in chapters} | set(glossary.PENDING)


def targets():
    """(where, chapter, anchor) for every glossary entry and map row that points into the book."""
    for e in glossary.entries():
        if e.chapter is not None:
            yield f"glossary {e.zh!r}", e.chapter, e.anchor
    for r in notes_map.MAP:
        for chapter, anchor in r.targets:
            yield f"map {r.note}: {r.part or r.heading!r}", chapter, anchor


def test_every_target_chapter_is_in_the_plan():
    bad = [(w, c) for w, c, _ in targets() if c not in PLANNED]
    assert bad == []


def test_every_anchor_of_a_written_chapter_is_one_of_its_headings():
    ready = plan.available()
    bad = [(w, c, a) for w, c, a in targets() if c in ready and a is not None and a not in glossary.headings(c)]
    assert bad == []


def test_written_chapters_are_linked_to_a_heading_that_exists():
    """The rendered pages link only to pages the book has, and to ids those pages have."""
    ready = plan.available()
    for page in (glossary.glossary_html(), notes_map.map_html()):
        for chapter, anchor in re.findall(r'href="([a-z0-9_]+)\.html(?:#([a-z0-9-]+))?"', page):
            assert chapter in ready
            if anchor:
                assert anchor in glossary.headings(chapter), (chapter, anchor)


def test_a_chapter_not_yet_written_says_coming(monkeypatch):
    """A chapter missing from the table of contents is shown as coming, not linked."""
    monkeypatch.setattr(notes_map, "available", lambda: {"fft"})
    monkeypatch.setattr(glossary, "available", lambda: {"fft"})
    page = glossary.glossary_html()
    assert 'href="fft.html#the-dft-by-its-definition"' in page
    assert "winding_machine.html" not in page and "The winding machine <em>(coming)</em>" in page
    assert "From the machine to the formula <em>(coming)</em>" in notes_map.map_html()


def test_a_renamed_section_falls_back_to_the_chapter_page():
    html = glossary.link_html("fft", "no-such-section", {"fft"})
    assert html == '<a href="fft.html">From the integral to the FFT</a>'


def test_heading_ids_follow_docutils():
    assert glossary.heading_id("Step 4: drop the 1/(t₂ − t₁)") == "step-4-drop-the-1-t2-t1"
    assert glossary.heading_id("Tucker: a core between two 1×1 convolutions") == \
        "tucker-a-core-between-two-11-convolutions"
    assert glossary.heading_id("Wall-clock: Winograd in PyTorch against `conv2d`") == \
        "wall-clock-winograd-in-pytorch-against-conv2d"
    assert glossary.heading_id("O(n²) against O(n log n), measured") == "o-n2-against-o-n-log-n-measured"


def test_heading_ids_match_a_built_page():
    """Where the book has been built, every section id on a page is one computed from its notebook."""
    built = plan.ROOT / "_build" / "html" / "chapters"
    pages = sorted(built.glob("*.html")) if built.exists() else []
    if not pages:
        pytest.skip("no built book")
    checked = 0
    for page in pages:
        name = page.stem
        nb = plan.ROOT / "chapters" / f"{name}.ipynb"
        if not nb.exists() or nb.stat().st_mtime > page.stat().st_mtime:
            continue  # the page is older than its notebook
        ids = set(re.findall(r'<section[^>]*\bid="([^"]+)"', page.read_text()))
        assert set(glossary.headings(name)) <= ids, name
        checked += 1
    if not checked:
        pytest.skip("every built page is older than its notebook")


def test_enough_entries_and_no_duplicates():
    es = glossary.entries()
    assert len(es) >= 200
    assert [k for k, n in Counter(e.zh for e in es).items() if n > 1] == []
    assert [k for k, n in Counter(e.en for e in es).items() if n > 1] == []
    for e in es:
        assert e.zh.strip() and e.en.strip() and e.meaning.strip(), e
        assert len(e.meaning) <= 90, e  # one line
        assert e.anchor is None or e.chapter is not None, e


@pytest.mark.parametrize("term", ["缠绕", "质心", "相位", "伪量化", "知识蒸馏", "深度可分离卷积", "震相拾取"])
def test_the_terms_the_issue_names_are_there(term):
    assert any(e.zh.startswith(term) for e in glossary.entries())
    assert any(term in e.zh for e in glossary.entries() if e.chapter is not None)


def test_pruning_is_there():
    assert any(e.zh == "网络剪枝（剪枝）" and e.chapter == "magnitude_pruning" for e in glossary.entries())


def test_labels():
    assert notes_map.label('#### <span id="a">**1. Survey**</span>') == "1. Survey"
    assert notes_map.label("## 剪枝$^{[2]}$") == "剪枝"
    assert notes_map.label("### 1.1.2. 指数函数 Exponentiation") == "1.1.2. 指数函数 Exponentiation"


@pytest.fixture(scope="module")
def notes():
    if not notes_map.NOTES_DIR.exists():
        pytest.skip(f"the study notes are not at {notes_map.NOTES_DIR}")
    return {name: notes_map.note_sections((notes_map.NOTES_DIR / name).read_text()) for name in notes_map.NOTES}


def test_every_map_row_names_a_section_of_its_note(notes):
    """So the map follows the notes: a heading, and a part inside that heading's text, as the note writes them."""
    for row in notes_map.MAP:
        bodies = [body for heading, body in notes[row.note] if heading == row.heading]
        assert bodies, (row.note, row.heading)
        if row.part:
            assert any(row.part in body for body in bodies), (row.note, row.heading, row.part)


def test_every_heading_of_every_note_is_on_the_map(notes):
    mapped = {(r.note, r.heading) for r in notes_map.MAP if r.part is None}
    missing = [(n, h) for n, sections in notes.items() for h, _ in sections if (n, h) not in mapped]
    assert missing == []


def test_the_map_lists_the_notes_in_order(notes):
    """Rows follow each note's own order of headings."""
    for name, sections in notes.items():
        order = {}
        for i, (h, _) in enumerate(sections):
            order.setdefault(h, i)
        seen = [order[r.heading] for r in notes_map.MAP if r.note == name]
        assert seen == sorted(seen), name


def test_status_and_coverage():
    ready = {"winding_machine"}
    row = notes_map.Row("n", "h", None, "e", (("winding_machine", None), ("fft", None)))
    assert notes_map.status(row, ready) == "partly coming"
    assert notes_map.status(row._replace(targets=(("fft", None),)), ready) == "coming"
    assert notes_map.status(row._replace(targets=()), ready) == "not in the plan"
    assert notes_map.status(row._replace(content=False), ready) == "nothing to cover"
    assert sum(notes_map.coverage().values()) == len(notes_map.MAP)


def test_headings_inside_fences_and_directives_are_not_sections():
    text = "# Title\n:::{admonition} Answer\n:class: dropdown\n## inside\n:::\n```python\n# comment\n```\n## Real"
    assert glossary.markdown_headings(text) == ["Title", "Real"]
