"""Part I in a real browser: the page's numbers equal lib.fourier's, videos play, sounds
start, drawing and recording behave. (Every page's sliders are covered by test_browser.py.)"""

from __future__ import annotations

import json

import numpy as np
import pytest

from lib import book, fourier
from tests import browser as B
from tests.test_browser import opened

PART1 = [n for n in ("euler_rotation", "exponentials", "winding_machine", "fourier_formula", "fft") if n in book.available()]


def python_center_of_mass(state: dict) -> complex:
    t = np.linspace(0.0, state["duration"], state["samples"])
    g = state["offset"] + sum(fourier.tone(t, c["freq"], c["amp"], c["phase"]) for c in state["components"])
    com = fourier.center_of_mass(g, t, state["winding_freq"])
    return com if state["scale"] == "average" else com * state["duration"]


def set_slider(page, slider, value) -> None:
    frame = B.snapshot(slider)["frame"]
    slider.evaluate("(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input')); }", value)
    B.wait_for_frame(page, slider, frame)


@pytest.mark.parametrize("name", [n for n in ("winding_machine", "fourier_formula") if n in PART1])
def test_winding_machine_agrees_with_lib_fourier(chromium, built_book, name):
    with opened(chromium, f"chapters/{name}.html", "http") as (page, _):
        B.wait_for_widgets(page, B.expected_widgets(built_book / f"chapters/{name}.html"))
        roots = page.query_selector_all(".fc-widget[data-widget=WindingMachine]")
        assert roots
        checked = 0
        for root in roots:
            for slider in root.query_selector_all("input[type=range]"):
                lo, hi = slider.evaluate("el => [Number(el.min), Number(el.max)]")
                for q in (0.37, 0.81):
                    set_slider(page, slider, lo + q * (hi - lo))
                    state = json.loads(root.get_attribute("data-state"))
                    if state["custom"] or state["recorded"]:
                        continue
                    want = python_center_of_mass(state)
                    assert complex(*state["com"]) == pytest.approx(want, abs=1e-9), state
                    checked += 1
        assert checked >= 4


@pytest.mark.skipif("fft" not in PART1, reason="no FFT chapter")
def test_dft_explorer_agrees_with_numpy(chromium, built_book):
    with opened(chromium, "chapters/fft.html", "http") as (page, _):
        B.wait_for_widgets(page, B.expected_widgets(built_book / "chapters/fft.html"))
        root = page.query_selector(".fc-widget[data-widget=DFTExplorer]")
        n_slider, f_slider = root.query_selector_all("input[type=range]")[:2]
        for n, f in [(32, 5.0), (17, 3.3), (64, 40.0), (128, 12.75)]:
            set_slider(page, n_slider, n)
            set_slider(page, f_slider, min(f, 20))
            s = json.loads(root.get_attribute("data-state"))
            j = np.arange(s["n"]) / s["n"]
            x = np.cos(2 * np.pi * s["freq"] * j) + s["amp2"] * np.cos(2 * np.pi * s["freq2"] * j)
            X = np.fft.fft(x)
            assert np.allclose(np.array(s["re"]) + 1j * np.array(s["im"]), X, atol=1e-9)


@pytest.mark.parametrize("name", PART1)
@pytest.mark.parametrize("mode", ["http", "file"])
def test_videos_play_offline(chromium, built_book, name, mode):
    html = (built_book / f"chapters/{name}.html").read_text()
    if "<video" not in html:
        pytest.skip("no video on this page")
    with opened(chromium, f"chapters/{name}.html", mode) as (page, log):
        count = page.evaluate("document.querySelectorAll('video').length")
        for i in range(count):
            page.evaluate("i => { const v = document.querySelectorAll('video')[i]; v.scrollIntoView(); v.play(); }", i)
            page.wait_for_function(
                "i => { const v = document.querySelectorAll('video')[i]; return v.readyState >= 3 && v.currentTime > 0.3; }",
                arg=i, timeout=20000)
            size = page.evaluate("i => { const v = document.querySelectorAll('video')[i]; return [v.videoWidth, v.duration]; }", i)
            assert size[0] >= 640 and size[1] > 2, size
        assert log.external == [] and log.failed == [] and log.page_errors == []


@pytest.mark.skipif("winding_machine" not in PART1, reason="no winding chapter")
def test_sound_buttons_play_and_recording_explains(chromium, built_book):
    with opened(chromium, "chapters/winding_machine.html", "http") as (page, log):
        B.wait_for_widgets(page, B.expected_widgets(built_book / "chapters/winding_machine.html"))
        buttons = page.query_selector_all(".fc-widget button")
        played = 0
        for b in buttons:
            if b.inner_text().startswith("▶"):
                b.scroll_into_view_if_needed()
                b.click()
                note = b.evaluate("el => el.closest('.fc-widget').querySelector('.fc-note').textContent")
                assert note.startswith("Playing"), note
                played += 1
        assert played >= 6  # four presets and two winding machines
        record = next(b for b in buttons if "Record" in b.inner_text())
        record.click()
        page.wait_for_function(
            "el => el.closest('.fc-widget').querySelector('.fc-note').textContent.length > 0", arg=record, timeout=10000)
        assert log.page_errors == []


@pytest.mark.skipif("winding_machine" not in PART1, reason="no winding chapter")
def test_draw_your_own_signal(chromium, built_book):
    with opened(chromium, "chapters/winding_machine.html", "http") as (page, log):
        B.wait_for_widgets(page, B.expected_widgets(built_book / "chapters/winding_machine.html"))
        root = [r for r in page.query_selector_all(".fc-widget[data-widget=WindingMachine]")
                if "Draw your own" in r.inner_text()][0]
        root.query_selector("button:has-text('Draw your own')").click()
        canvas = root.query_selector("canvas")
        canvas.scroll_into_view_if_needed()
        before = json.loads(root.get_attribute("data-state"))
        pixels = root.evaluate("r => r.querySelectorAll('canvas')[2].toDataURL()")
        box = canvas.bounding_box()
        page.mouse.move(box["x"] + 80, box["y"] + 40)
        page.mouse.down()
        for k in range(1, 20):
            page.mouse.move(box["x"] + 80 + 25 * k, box["y"] + 40 + (60 if k % 2 else 0))
        page.mouse.up()
        after = json.loads(root.get_attribute("data-state"))
        assert after["custom"] > 0 and after["com"] != before["com"]
        assert root.evaluate("r => r.querySelectorAll('canvas')[2].toDataURL()") != pixels  # the spectrum moved
        root.query_selector("button:has-text('Back to the tones')").click()
        assert json.loads(root.get_attribute("data-state"))["custom"] == 0
        assert log.page_errors == []


def python_values(kind: str, s: dict) -> list[tuple[object, object]]:
    """(browser value, Python value) pairs for one drawn state of a browser-computed widget."""
    import cmath
    import math

    if kind == "TaylorSeries":
        z, total, term = 1j * s["theta"], 0j, 1 + 0j
        for k in range(s["terms"]):
            total, term = total + term, term * z / (k + 1)
        return [(complex(*s["sum"]), total), (s["error"], abs(total - cmath.exp(1j * s["theta"])))]
    if kind == "ExpMap":
        return [(complex(*s["exp"]), np.exp(complex(s["x"], s["y"])))]
    if kind == "PlaneActions" and "phi" in s:
        z = s["r"] * cmath.exp(1j * math.radians(s["phi"]))
        return [(complex(*s["z"]), z), (complex(*s["one"]), z * 1 + complex(s["a"], s["b"]))]
    if kind == "PlaneActions":
        return [(s["one"], s["mul"] * 1 + s["add"]), (s["zero"], s["add"])]
    if kind == "ComplexRotation":
        return [(complex(s["re"], s["im"]), cmath.exp(1j * s["theta"]))]
    return []


@pytest.mark.parametrize("name", [n for n in ("euler_rotation", "exponentials") if n in PART1])
def test_plane_widgets_agree_with_python(chromium, built_book, name):
    with opened(chromium, f"chapters/{name}.html", "http") as (page, _):
        B.wait_for_widgets(page, B.expected_widgets(built_book / f"chapters/{name}.html"))
        moves, compared = 0, 0
        for root in page.query_selector_all(".fc-widget[data-kind=browser]"):
            kind = root.get_attribute("data-widget")
            for slider in root.query_selector_all("input[type=range]"):
                lo, hi = slider.evaluate("el => [Number(el.min), Number(el.max)]")
                set_slider(page, slider, lo + 0.63 * (hi - lo))
                pairs = python_values(kind, json.loads(root.get_attribute("data-state")))
                moves += bool(pairs)
                for got, want in pairs:
                    assert got == pytest.approx(want, abs=1e-9), (kind, got, want)
                    compared += 1
        assert moves >= 2 and compared >= moves  # every slider of a known widget was checked
