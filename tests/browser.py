"""Headless Chromium (Debian's, driven by playwright) for the browser tests and the benchmark.

Never ``playwright install``: the browser is ``/usr/bin/chromium`` from apt.
Every request is logged; any request to a host other than the local server
(or a ``file://`` URL) is aborted and recorded, so a test can assert that
none happened.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--allow-file-access-from-files"]


@contextlib.contextmanager
def serve(directory: Path = HTML) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 at a free port; yield the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


@dataclass
class PageLog:
    requests: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def is_local(url: str, base: str) -> bool:
    u = urlparse(url)
    if u.scheme in ("file", "data", "blob", "about"):
        return True
    b = urlparse(base)
    return u.scheme in ("http", "https") and u.netloc == b.netloc and b.netloc != ""


@contextlib.contextmanager
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield b
        finally:
            b.close()


def open_page(b, url: str, base: str, viewport=(1280, 900), wait_until: str = "load", timeout_ms: int = 30000):
    """Open ``url`` in a fresh context; return (page, log). Non-local requests are blocked."""
    ctx = b.new_context(viewport={"width": viewport[0], "height": viewport[1]}, service_workers="block")
    page = ctx.new_page()
    log = PageLog()

    def route(r):
        url_ = r.request.url
        log.requests.append(url_)
        if is_local(url_, base):
            r.continue_()
        else:
            log.external.append(url_)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: log.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: log.page_errors.append(str(e)))
    page.on("requestfailed", lambda r: log.failed.append(f"{r.url} ({r.failure})"))
    page.goto(url, wait_until=wait_until, timeout=timeout_ms)
    return page, log


def wait_for_widgets(page, expected: int, timeout_ms: int = 20000) -> None:
    """Wait until ``expected`` widgets have drawn their first frame."""
    page.wait_for_function(
        "n => document.querySelectorAll('.fc-widget[data-frame]').length >= n", arg=expected, timeout=timeout_ms)


def expected_widgets(path: Path) -> int:
    """How many widget views the page embeds (one view script per widget)."""
    return path.read_text().count('<script type="application/vnd.jupyter.widget-view+json">')


SNAPSHOT_JS = """root => ({
  frame: Number(root.dataset.frame || 0),
  state: root.dataset.state || '',
  pixels: Array.from(root.querySelectorAll('canvas')).map(c => c.toDataURL()).join('|'),
})"""


def snapshot(slider_handle) -> dict:
    """What the widget around ``slider_handle`` has drawn: frame count, drawn values, canvas pixels."""
    return slider_handle.evaluate(f"el => ({SNAPSHOT_JS})(el.closest('.fc-widget'))")


def wait_for_frame(page, slider_handle, after: int, timeout_ms: int = 10000) -> None:
    page.wait_for_function("([el, n]) => Number(el.closest('.fc-widget').dataset.frame) > n",
                           arg=[slider_handle, after], timeout=timeout_ms)


def sliders(page) -> list:
    return page.query_selector_all(".fc-widget input[type=range]")


def move_with_keyboard(page, slider_handle) -> None:
    """Focus the slider and press End (or Home if it is already at its maximum)."""
    at_max = slider_handle.evaluate("el => Number(el.value) >= Number(el.max)")
    slider_handle.focus()
    page.keyboard.press("Home" if at_max else "End")


def move_with_mouse(page, slider_handle, fraction: float) -> None:
    """Click the slider track at ``fraction`` of its width."""
    slider_handle.scroll_into_view_if_needed()
    box = slider_handle.bounding_box()
    page.mouse.click(box["x"] + fraction * box["width"], box["y"] + box["height"] / 2)
