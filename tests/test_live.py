"""Reading mode 2: the same widgets in a live JupyterLab, now talking to a kernel.

Starts JupyterLab on 127.0.0.1 (no token, a temporary root), opens a notebook
in Debian's Chromium, runs it, and checks that a Sweep's slider, once the
kernel has answered the handshake, stops between grid points and shows a
value that Python computed on request, and that a browser-computed widget's
value syncs back to Python.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from tests import browser as B

ROOT = Path(__file__).resolve().parent.parent

CELLS = [
    "from lib.widgets import ComplexRotation, Sweep, readout\n"
    "sweep = Sweep(lambda a: {'square': a * a}, {'a': [1, 2, 3]}, panels=[readout('square', fmt='.4f')],\n"
    "              live={'a': (0, 10, 0.25)}, progress=False)\n"
    "sweep",
    "rotation = ComplexRotation(theta=0.5)\nrotation",
    "print('theta from the browser:', round(rotation.theta, 2))",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "live.ipynb")
    port = free_port()
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
           f"--ServerApp.root_dir={root}", "--IdentityProvider.token=", "--ServerApp.password=",
           "--ServerApp.disable_check_xsrf=True", "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.extension_manager=readonly",
           "--allow-root"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while True:
        try:
            urllib.request.urlopen(base + "api/status", timeout=2)
            break
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("JupyterLab did not start")
            time.sleep(0.5)
    yield base
    proc.terminate()
    proc.wait(timeout=20)


def test_widgets_are_live_in_jupyterlab(lab):
    with B.browser() as b:
        # JupyterLab loads dozens of scripts; under a loaded CI machine "load" can take a while,
        # so wait for the DOM and then for the notebook itself.
        page, log = B.open_page(b, lab + "lab/tree/live.ipynb", lab, viewport=(1400, 1000),
                                wait_until="domcontentloaded", timeout_ms=120000)
        try:
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120000)
            page.wait_for_function("() => document.body.innerText.includes('Python 3 (ipykernel) | Idle')", timeout=120000)
            for _ in range(20):  # run the two widget cells; retry while the kernel connects
                page.click(".jp-Notebook .jp-Cell:nth-child(1) .jp-InputPrompt")
                page.keyboard.press("Shift+Enter")
                page.keyboard.press("Shift+Enter")
                try:
                    page.wait_for_function("document.querySelectorAll('.fc-widget[data-frame]').length >= 2",
                                           timeout=3000)
                    break
                except Exception:
                    continue

            sweep = page.query_selector(".fc-widget[data-widget=Sweep]")
            page.wait_for_function("el => JSON.parse(el.dataset.state).live === true", arg=sweep, timeout=30000)
            slider = sweep.query_selector("input[type=range]")
            assert slider.evaluate("el => [el.min, el.max, el.step]") == ["0", "10", "0.25"]
            slider.evaluate("el => { el.value = '2.5'; el.dispatchEvent(new Event('input')); }")
            page.wait_for_function(
                "el => { const s = JSON.parse(el.dataset.state); return !s.onGrid && s.result.square === 6.25; }",
                arg=sweep, timeout=30000)
            assert "6.2500" in sweep.query_selector(".fc-readout").inner_text()

            rotation = page.query_selector(".fc-widget[data-widget=ComplexRotation]")
            rslider = rotation.query_selector("input[type=range]")
            rslider.evaluate("el => { el.value = '2'; el.dispatchEvent(new Event('input')); }")
            page.wait_for_timeout(500)  # let the change reach the kernel
            page.click(".jp-Notebook .jp-Cell:nth-child(3) .jp-InputPrompt")
            page.keyboard.press("Shift+Enter")  # the last cell: print the value Python now holds
            page.wait_for_function(
                "() => document.body.innerText.includes('theta from the browser: 2.0')", timeout=30000)
            state = json.loads(rotation.get_attribute("data-state"))
            assert state["theta"] == 2.0
        except Exception:
            page.screenshot(path=str(ROOT / "_build" / "test_live_failure.png"))
            print("console:", log.console_errors[-10:], "page errors:", log.page_errors[-5:], "external:", log.external[:5])
            raise
        finally:
            page.context.close()
