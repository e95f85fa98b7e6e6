"""Part I's browser-computed widgets: symmetry, numbers as actions, the exponential, the DFT.

Each is a thin view: the browser computes and draws; the Python class holds the
starting values (synced back when a kernel is live) and validates them.
"""

from __future__ import annotations

import math

import traitlets as t

from lib.core.checks import check_choice, check_int, check_real
from lib.groups import SQUARE_SYMMETRIES
from lib.widgets.base import BookWidget, esm


class SquareSymmetries(BookWidget):
    """Press the eight moves of the square and compose them; turn the square and a circle freely."""

    _esm = esm("symmetry.js")
    moves = t.List().tag(sync=True)

    def __init__(self, **kwargs):
        moves = [{"name": name, "label": label, "m": m.tolist()} for name, (label, m) in SQUARE_SYMMETRIES.items()]
        super().__init__(moves=moves, **kwargs)


class PlaneActions(BookWidget):
    """Numbers as actions: on the line (``mode="line"``: add slides, multiply stretches) or in the
    plane (``mode="plane"``: add w slides, multiply by z = r e^{iφ} stretches and turns)."""

    _esm = esm("actions.js")
    mode = t.Unicode("plane").tag(sync=True)
    params = t.Dict().tag(sync=True)
    title = t.Unicode("").tag(sync=True)

    def __init__(self, mode: str = "plane", title: str = "", **params):
        check_choice("mode", mode, ("line", "plane"))
        if mode == "line":
            p = {"add": check_real("add", params.pop("add", 1.0), -3, 3),
                 "mul": check_real("mul", params.pop("mul", 2.0), -2, 2)}
        else:
            p = {"a": check_real("a", params.pop("a", 0.0), -2, 2), "b": check_real("b", params.pop("b", 0.0), -2, 2),
                 "r": check_real("r", params.pop("r", 1.0), 0.2, 2), "phi": check_real("phi", params.pop("phi", 90.0), -180, 180)}
        if params:
            raise ValueError(f"unknown parameters for mode {mode!r}: {sorted(params)!r}")
        super().__init__(mode=mode, params=p, title=title or ("Numbers as actions on the line" if mode == "line"
                                                              else "Complex numbers as actions on the plane"))


class TaylorSeries(BookWidget):
    """The partial sums of e^{iθ} = Σ (iθ)^k/k! as a chain of arrows."""

    _esm = esm("taylor.js")
    theta = t.Float(math.pi / 2).tag(sync=True)
    terms = t.Int(4).tag(sync=True)

    def __init__(self, theta: float = math.pi / 2, terms: int = 4, **kwargs):
        super().__init__(theta=check_real("theta", theta, 0, 2 * math.pi), terms=check_int("terms", terms, 1, 20), **kwargs)


class ExpMap(BookWidget):
    """z = x + iy on the left and e^z on the right: x stretches, y turns."""

    _esm = esm("expmap.js")
    x = t.Float(0.0).tag(sync=True)
    y = t.Float(1.0).tag(sync=True)

    def __init__(self, x: float = 0.0, y: float = 1.0, **kwargs):
        super().__init__(x=check_real("x", x, -1.5, 1), y=check_real("y", y, -math.pi, math.pi), **kwargs)


class DFTExplorer(BookWidget):
    """Sample one window of a tone (plus an optional second) n times; show the DFT magnitudes."""

    _esm = esm("dft.js")
    n = t.Int(32).tag(sync=True)
    freq = t.Float(5.0).tag(sync=True)
    freq2 = t.Float(12.0).tag(sync=True)
    amp2 = t.Float(0.0).tag(sync=True)

    def __init__(self, n: int = 32, freq: float = 5.0, freq2: float = 12.0, amp2: float = 0.0, **kwargs):
        super().__init__(n=check_int("n", n, 4, 128), freq=check_real("freq", freq, 0, 20),
                         freq2=check_real("freq2", freq2, 0, 20), amp2=check_real("amp2", amp2, 0, 1), **kwargs)


#: Note frequencies in Hz (equal temperament, A4 = 440 Hz).
NOTES = {"A4": 440.0, "D4": 293.66, "C#5": 554.37, "E5": 659.26}


class Listen(BookWidget):
    """Buttons that play notes and chords (Web Audio, in the page), with their waveform drawn."""

    _esm = esm("listen.js")
    presets = t.List().tag(sync=True)
    title = t.Unicode("Listen").tag(sync=True)
    window_ms = t.Int(20).tag(sync=True)

    def __init__(self, presets=None, title: str = "Listen: the notes this chapter winds", window_ms: int = 20, **kwargs):
        presets = presets or [("A (440 Hz)", [NOTES["A4"]]), ("D (294 Hz)", [NOTES["D4"]]),
                              ("A and D together", [NOTES["A4"], NOTES["D4"]]),
                              ("A major chord (A, C♯, E)", [NOTES["A4"], NOTES["C#5"], NOTES["E5"]])]
        clean = []
        for i, (name, freqs) in enumerate(presets):
            if not freqs:
                raise ValueError(f"presets[{i}] must list at least one frequency")
            clean.append({"label": str(name), "freqs": [check_real(f"presets[{i}] frequency", f, 20, 20000) for f in freqs]})
        super().__init__(presets=clean, title=title, window_ms=check_int("window_ms", window_ms, 5, 60), **kwargs)
