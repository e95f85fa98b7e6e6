"""Every built page in a real browser (Debian's Chromium), over HTTP and from file://.

For each page: no request leaves the local server, no console or page error,
math is typeset, every widget renders; for every slider, moving it (keyboard,
then mouse) changes what its widget draws. The network is blocked: any
request to another host is aborted and fails the test.
"""

from __future__ import annotations

import contextlib
import json
import math

import pytest

from tests import browser as B

MODES = ["http", "file"]


def page_ids():
    from lib import book

    return sorted(f"chapters/{name}.html" for name in book.available())


@pytest.fixture(params=MODES)
def mode(request):
    return request.param


@contextlib.contextmanager
def opened(chromium, rel, mode):
    """A built page in a fresh browser context (closed afterwards): yields ``(page, log)``."""
    b, base = chromium
    url = base + rel if mode == "http" else (B.HTML / rel).as_uri()
    page, log = B.open_page(b, url, base)
    try:
        yield page, log
    finally:
        page.context.close()


@pytest.mark.parametrize("rel", page_ids())
def test_page_loads_offline_and_renders(chromium, built_book, rel, mode):
    with opened(chromium, rel, mode) as (page, log):
        n = B.expected_widgets(built_book / rel)
        if n:
            B.wait_for_widgets(page, n)
        html = (built_book / rel).read_text()
        if "math notranslate" in html:  # the page has math: MathJax must typeset it
            page.wait_for_function("document.querySelectorAll('mjx-container').length > 0", timeout=20000)
            raw = page.evaluate("Array.from(document.querySelectorAll('.math')).filter(e => !e.querySelector('mjx-container')).length")
            assert raw == 0, "math left untypeset"
        page.wait_for_timeout(300)
        assert log.external == [], f"requests to other hosts: {log.external}"
        assert log.failed == [], f"failed requests: {log.failed}"
        assert log.page_errors == [], log.page_errors
        assert log.console_errors == [], log.console_errors
        page.wait_for_timeout(700)  # a second render of the same views would show up by now
        drawn = page.evaluate("document.querySelectorAll('.fc-widget[data-frame]').length")
        assert drawn == n, f"{n} widget views but {drawn} drawn widgets"
        scripts = page.evaluate("Array.from(document.scripts).map(s => s.src).filter(Boolean)")
        assert len(scripts) == len(set(scripts)), "a script is loaded twice"
        if n:  # every module of the widget manager finds its fonts in html-manager/dist/, whichever loads first
            urls = page.evaluate("""() => ['@jupyter-widgets/base', '@jupyter-widgets/base7', '@jupyter-widgets/controls',
                '@jupyter-widgets/controls7', '@jupyter-widgets/html-manager',
                '@jupyter-widgets/html-manager/dist/libembed-amd'].map(m => window.require.toUrl(m))""")
            folders = {u.rsplit("/", 1)[0] for u in urls}
            assert len(folders) == 1 and next(iter(folders)).endswith("/_static/vendor/html-manager/dist"), folders


@pytest.mark.parametrize("rel", page_ids())
def test_every_slider_changes_its_drawing(chromium, built_book, rel, mode):
    n = B.expected_widgets(built_book / rel)
    if not n:
        pytest.skip("no widgets on this page")
    with opened(chromium, rel, mode) as (page, log):
        B.wait_for_widgets(page, n)
        handles = B.sliders(page)
        assert handles, "widgets but no sliders"
        for i, s in enumerate(handles):
            if s.evaluate("el => el.disabled"):
                continue
            before = B.snapshot(s)
            B.move_with_keyboard(page, s)
            B.wait_for_frame(page, s, before["frame"])
            after_key = B.snapshot(s)
            assert after_key["state"] != before["state"], f"slider {i}: drawn values unchanged (keyboard)"
            assert after_key["pixels"] != before["pixels"], f"slider {i}: pixels unchanged (keyboard)"
            B.move_with_mouse(page, s, 0.3)
            B.wait_for_frame(page, s, after_key["frame"])
            after_mouse = B.snapshot(s)
            assert after_mouse["pixels"] != after_key["pixels"], f"slider {i}: pixels unchanged (mouse)"
        assert log.page_errors == [] and log.console_errors == [], log.page_errors + log.console_errors


def test_rotation_widget_agrees_with_numpy(chromium):
    """The browser's e^{iθ} equals NumPy's at every angle the reader can reach."""
    import numpy as np

    with opened(chromium, "chapters/how_to_use.html", "http") as (page, _):
        B.wait_for_widgets(page, 2)
        root = page.query_selector(".fc-widget[data-widget=ComplexRotation]")
        s = root.query_selector("input[type=range]")
        for value in [0.0, 0.5, math.pi / 2, 2.0, math.pi, 4.4, 2 * math.pi]:
            frame = B.snapshot(s)["frame"]
            s.evaluate("(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input')); }", value)
            B.wait_for_frame(page, s, frame)
            state = json.loads(B.snapshot(s)["state"])
            z = np.exp(1j * state["theta"])
            assert abs(state["theta"] - value) < 0.006  # the slider's step is 0.01
            assert state["re"] == pytest.approx(z.real, abs=1e-12)
            assert state["im"] == pytest.approx(z.imag, abs=1e-12)


def test_sweep_widget_shows_the_python_results(chromium):
    """Each grid point the page shows is exactly what Python computed for it."""
    with opened(chromium, "chapters/how_to_use.html", "http") as (page, _):
        B.wait_for_widgets(page, 2)
        root = page.query_selector(".fc-widget[data-widget=Sweep]")
        embedded = page.evaluate("""() => {
            const s = document.querySelector('script[type="application/vnd.jupyter.widget-state+json"]');
            const st = JSON.parse(s.textContent).state;
            return Object.values(st).map(m => m.state).find(x => Array.isArray(x.results) && x.params);
        }""")
        size, noise = (root.query_selector_all("input[type=range]"))
        for i_size, i_noise in [(0, 0), (3, 2), (6, 6)]:
            for s, v in ((size, i_size), (noise, i_noise)):
                frame = B.snapshot(s)["frame"]
                s.evaluate("(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input')); }", v)
                if B.snapshot(s)["frame"] == frame:
                    B.wait_for_frame(page, s, frame)
            state = json.loads(B.snapshot(size)["state"])
            flat = i_size * len(embedded["params"][1]["values"]) + i_noise
            want = embedded["results"][flat]
            assert state["values"] == [embedded["params"][0]["values"][i_size], embedded["params"][1]["values"][i_noise]]
            assert state["result"]["test_acc"] == want["test_acc"]
            shown = root.query_selector(".fc-readout").inner_text()
            assert f"{100 * want['test_acc']:.1f} %" in shown


#: Every visible printed output and table on a page at 1280 px, and how far it runs past its box or
#: past the text column (px); a cut-off line often hides the number that is the point of the cell.
OVERFLOW_JS = """() => {
  const col = document.querySelector('article.bd-article') || document.querySelector('main');
  const right = col.getBoundingClientRect().right;
  const out = [];
  for (const el of document.querySelectorAll('div.cell_output pre, div.cell_output table, div.fc-scroll, article table')) {
    if (!el.offsetParent || el.clientWidth === 0) continue;            // hidden (e.g. a widget's fallback)
    const over = Math.max(el.scrollWidth - el.clientWidth, Math.round(el.getBoundingClientRect().right - right));
    if (over > 2) {
      const lines = (el.innerText || '').split('\\n');
      out.push(`${el.tagName.toLowerCase()} ${over} px too wide: ${lines.reduce((a, b) => a.length > b.length ? a : b, '').slice(0, 80)}`);
    }
  }
  return out;
}"""


@pytest.mark.parametrize("rel", page_ids())
def test_no_output_or_table_wider_than_the_column(chromium, built_book, rel):
    with opened(chromium, rel, "http") as (page, log):
        n = B.expected_widgets(built_book / rel)
        if n:
            B.wait_for_widgets(page, n)
        page.wait_for_timeout(300)
        assert page.evaluate(OVERFLOW_JS) == []
