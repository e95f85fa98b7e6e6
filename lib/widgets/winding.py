"""The winding machine, computed in the browser as the reader drags."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import traitlets as t

from lib.core.checks import check_choice, check_int, check_real
from lib import fourier
from lib.widgets.base import BookWidget, esm

CONTROLS = ("winding", "freq0", "amp0", "phase0", "freq1", "amp1", "phase1", "offset", "duration",
            "scale", "draw", "sound", "record")


class WindingMachine(BookWidget):
    r"""Wind a signal around the origin; watch its centre of mass and the almost-Fourier plot.

    The signal is ``offset + sum(amp * cos(2π freq t + phase))`` over ``[0, duration]``
    (or a curve the reader draws, or a recording). Three views update together:
    the signal against time, the wound curve :math:`g(t)e^{-2\pi i f t}` with its
    centre of mass, and the centre of mass against the winding frequency.

    Parameters
    ----------
    components : sequence of (freq, amp, phase)
        The tones in the signal (one or two).
    offset : float
        A constant added to the signal (3Blue1Brown's examples lift the wave to
        be non-negative, so its wound curve is lopsided when the frequency matches).
    duration : float
        Length of the signal, in seconds.
    winding_freq : float
        Starting winding frequency (turns per second).
    freq_max : float
        Right end of the frequency axis and of the winding slider.
    samples : int
        Samples of the signal (the trapezoidal rule is exact for the sampled curve).
    scale : {"average", "integral"}
        ``"average"``: centre of mass, with the 1/(t₂ − t₁) factor (the
        almost-Fourier transform); ``"integral"``: without it (the Fourier transform
        over the window).
    show : sequence of str
        Controls to show, from :data:`CONTROLS`.
    sound_scale : float or None
        Multiply frequencies by this to play the signal (e.g. 3 beats per second
        -> 440 Hz with 440/3). None hides the sound button.
    """

    _esm = esm("winding.js")
    components = t.List().tag(sync=True)
    offset = t.Float(0.0).tag(sync=True)
    duration = t.Float(2.0).tag(sync=True)
    winding_freq = t.Float(1.0).tag(sync=True)
    freq_max = t.Float(5.0).tag(sync=True)
    samples = t.Int(1200).tag(sync=True)
    scale = t.Unicode("average").tag(sync=True)
    show = t.List().tag(sync=True)
    sound_scale = t.Float(None, allow_none=True).tag(sync=True)
    custom = t.List().tag(sync=True)
    title = t.Unicode("").tag(sync=True)
    plot = t.Unicode("real").tag(sync=True)

    def __init__(self, components: Sequence[Sequence[float]] = ((3.0, 1.0, 0.0),), *, offset: float = 1.0,
                 duration: float = 2.0, winding_freq: float = 0.5, freq_max: float = 5.0, samples: int = 1200,
                 scale: str = "average", show: Sequence[str] = ("winding",), sound_scale: float | None = None,
                 title: str = "", plot: str = "real", **kwargs):
        comps = []
        if not 1 <= len(components) <= 2:
            raise ValueError(f"components must list 1 or 2 tones, got {len(components)}")
        for i, c in enumerate(components):
            if len(c) != 3:
                raise ValueError(f"components[{i}] must be (freq, amp, phase), got {c!r}")
            comps.append({"freq": check_real(f"components[{i}] freq", c[0], 0, 1e4),
                          "amp": check_real(f"components[{i}] amp", c[1], -10, 10),
                          "phase": check_real(f"components[{i}] phase", c[2], -10, 10)})
        for name in show:
            check_choice("show", name, CONTROLS)
        if any(n.endswith("1") for n in show) and len(comps) < 2:
            raise ValueError("show names a second tone's control but components has only one tone")
        freq_max = check_real("freq_max", freq_max, 0, 1e4, lo_open=True)
        super().__init__(
            components=comps, offset=check_real("offset", offset, -10, 10),
            duration=check_real("duration", duration, 0, 1e3, lo_open=True),
            winding_freq=check_real("winding_freq", winding_freq, 0, freq_max), freq_max=freq_max,
            samples=check_int("samples", samples, 16, 20000), scale=check_choice("scale", scale, ("average", "integral")),
            show=list(show), sound_scale=None if sound_scale is None else check_real("sound_scale", sound_scale, 0, 1e4, lo_open=True),
            title=title, plot=check_choice("plot", plot, ("real", "magnitude")), **kwargs)

    def signal(self) -> tuple[np.ndarray, np.ndarray]:
        """The sampled signal the browser draws: ``(t, g)`` (the drawn curve, if any)."""
        t_ = np.linspace(0.0, self.duration, self.samples)
        if self.custom:
            return np.linspace(0.0, self.duration, len(self.custom)), np.asarray(self.custom, dtype=float)
        g = self.offset + sum(fourier.tone(t_, c["freq"], c["amp"], c["phase"]) for c in self.components)
        return t_, g

    def center_of_mass(self) -> complex:
        """What the browser shows as the centre of mass, computed by :mod:`lib.fourier`."""
        t_, g = self.signal()
        com = fourier.center_of_mass(g, t_, self.winding_freq)
        return com if self.scale == "average" else com * (t_[-1] - t_[0])
