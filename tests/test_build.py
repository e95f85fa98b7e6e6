"""The book builds with warnings as errors, every listed chapter is a page, and no
page refers a browser to another host for code, styles or fonts."""

from __future__ import annotations

import json
import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import build  # scripts/ is on sys.path (tests/conftest.py)
from lib import book

ROOT = Path(__file__).resolve().parent.parent


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


# ---- the parallel build prints exactly what a serial build prints
#: Cheap notebooks that train (the opening chapter's digits networks) or compute from scratch.
SIDE_BY_SIDE = ["how_to_use", "exponentials"]
_ID = re.compile(r"[0-9a-f]{32}|0x[0-9a-f]+")  # widget model ids, object addresses


def _texts(nb) -> list[str]:
    """Every output a reader sees as text (plain, HTML, stdout, widget views) and the widgets' embedded
    state (a sweep's computed values), widget ids and object addresses masked."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    out = [_ID.sub("<id>", json.dumps(sorted(json.dumps(m.get("state", {}), sort_keys=True) for m in state.values())))]
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o.output_type == "stream" and o.name == "stdout":  # stderr (progress bars) is not in the page
                out.append(o.text)
            for kind in ("text/plain", "text/html", "application/vnd.jupyter.widget-view+json"):
                value = o.get("data", {}).get(kind)
                if value is not None:
                    out.append(_ID.sub("<id>", value if isinstance(value, str) else json.dumps(value, sort_keys=True)))
    return out


def _run(paths, n_jobs, tmp, monkeypatch):
    """Execute ``paths`` in a pool of ``n_jobs`` processes, each with an empty user cache of its own."""
    results = []
    for i, batch in enumerate([paths] if n_jobs > 1 else [[p] for p in paths]):
        monkeypatch.setenv("FC_CACHE", str(tmp / f"cache-{n_jobs}-{i}"))
        with ProcessPoolExecutor(max_workers=n_jobs) as pool:
            results += list(pool.map(build._execute, batch))
    assert all(err is None for _, _, _, err in results), [err for *_, err in results if err]
    return {Path(path).stem: _texts(nb) for path, nb, _, _ in results}


def test_notebooks_side_by_side_print_what_they_print_alone(tmp_path, monkeypatch):
    paths = [str(ROOT / "chapters" / f"{n}.ipynb") for n in SIDE_BY_SIDE]
    alone = _run(paths, 1, tmp_path, monkeypatch)
    together = _run(paths, 2, tmp_path, monkeypatch)
    for name in SIDE_BY_SIDE:
        assert len(together[name]) == len(alone[name])
        for a, b in zip(alone[name], together[name]):
            assert a == b
    assert all(alone[n] for n in SIDE_BY_SIDE)  # they do print something
    assert len(alone["how_to_use"][0]) > 10_000  # the sweep's trained values are compared too
