"""Part I's animations: each draws with :mod:`lib.fourier` (or :mod:`lib.groups`) rather
than re-deriving the mathematics, and moves with ``ValueTracker``s."""

from __future__ import annotations

import re

import numpy as np
from manim import (DOWN, LEFT, ORIGIN, RIGHT, UP, Arrow, Axes, Circle, Create, Dot, FadeIn, FadeOut, Line,
                   ManimColor, MarkupText, Polygon, Rotate, Scene, Square, ValueTracker, VGroup, VMobject,
                   always_redraw)

from lib import fourier
from lib.groups import SQUARE_SYMMETRIES, compose
from lib.core.theme import PALETTE

INK, MUTED, GRID = (ManimColor(PALETTE[k]) for k in ("ink", "muted", "grid"))
BLUE, ORANGE, GREEN, RED, PURPLE = (ManimColor(PALETTE[k]) for k in ("blue", "orange", "green", "red", "purple"))


#: Space left under a caption at the bottom of the frame: a browser draws its video controls over
#: the lowest ~40 px of the picture, and a caption there was hidden whenever the reader hovered.
CAPTION_BUFF = 1.0


def markup(text: str) -> str:
    """``text`` as Pango markup, ``^(...)`` and ``^x`` raised as exponents (no LaTeX is installed).

    >>> markup("e^(iθ) = −1 and e^z, a < b")
    'e<sup>iθ</sup> = −1 and e<sup>z</sup>, a &lt; b'
    """
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"\^(?:\(([^()]*)\)|(\w))", lambda m: f"<sup>{m.group(1) or m.group(2)}</sup>", text)


def label(text: str, size: int = 26, color=INK) -> MarkupText:
    return MarkupText(markup(text), font_size=size, color=color, font="DejaVu Sans")


def plane(radius: float = 2.6) -> VGroup:
    """Two axes through the origin, in the book's muted grey."""
    return VGroup(Line(LEFT * radius, RIGHT * radius, color=MUTED, stroke_width=2),
                  Line(DOWN * radius, UP * radius, color=MUTED, stroke_width=2))


def curve(points: np.ndarray, color, width: float = 3) -> VMobject:
    m = VMobject(color=color, stroke_width=width)
    m.set_points_as_corners(points)
    return m


# ------------------------------------------------------------------ chapter 1
class EulerRotation(Scene):
    """e^{iθ} walks round the unit circle; its shadows are cos θ and sin θ."""

    def construct(self):
        theta = ValueTracker(0.0)
        R = 2.2
        origin = LEFT * 2.5
        circle = Circle(radius=R, color=INK, stroke_width=2).move_to(origin)
        axes = plane(2.9).move_to(origin)

        def tip():
            t = theta.get_value()
            return origin + R * np.array([np.cos(t), np.sin(t), 0])

        vector = always_redraw(lambda: Line(origin, tip(), color=BLUE, stroke_width=6))
        dot = always_redraw(lambda: Dot(tip(), color=BLUE, radius=0.1))
        cos_bar = always_redraw(lambda: Line(origin, [tip()[0], origin[1], 0], color=ORANGE, stroke_width=8))
        sin_bar = always_redraw(lambda: Line(origin, [origin[0], tip()[1], 0], color=GREEN, stroke_width=8))
        readout = always_redraw(lambda: label(
            f"θ = {theta.get_value():.2f}\ncos θ = {round(np.cos(theta.get_value()), 2) + 0.0:+.2f}"  # + 0.0: no "−0.00"
            f"\nsin θ = {round(np.sin(theta.get_value()), 2) + 0.0:+.2f}",
            24).move_to(RIGHT * 3.6 + UP * 0.3))
        title = label("e^(iθ) = cos θ + i sin θ", 32).to_edge(UP)
        self.add(axes, circle, title)
        self.play(Create(vector), FadeIn(dot), FadeIn(cos_bar), FadeIn(sin_bar), FadeIn(readout), run_time=0.8)
        self.play(theta.animate.set_value(np.pi / 2), run_time=1.5)
        self.wait(0.4)
        self.play(theta.animate.set_value(np.pi), run_time=1.5)
        note = label("θ = π: e^(iπ) = −1, so e^(iπ) + 1 = 0", 26, RED).to_edge(DOWN, buff=CAPTION_BUFF)
        self.play(FadeIn(note))
        self.wait(0.6)
        self.play(theta.animate.set_value(2 * np.pi), FadeOut(note), run_time=2.5)
        self.wait(0.4)


class SquareMoves(Scene):
    """A quarter turn, then a flip: the two moves together equal a single flip."""

    def construct(self):
        mats = {label_: m for label_, m in SQUARE_SYMMETRIES.values()}
        square = Square(side_length=2.6, color=INK, stroke_width=4)
        f_letter = VGroup(Line([-0.4, -0.7, 0], [-0.4, 0.7, 0]), Line([-0.4, 0.7, 0], [0.45, 0.7, 0]),
                          Line([-0.4, 0.05, 0], [0.25, 0.05, 0])).set_color(BLUE).set_stroke(width=10)
        shape = VGroup(square, f_letter)
        ghost = shape.copy().set_stroke(opacity=0.45).shift(RIGHT * 4)  # the untouched square, for the single move
        title = label("Symmetries compose: do one move, then another", 30).to_edge(UP)
        status = label("start", 28, MUTED).to_edge(DOWN, buff=CAPTION_BUFF)
        self.add(title, shape, status)
        self.wait(0.5)
        self.play(Rotate(shape, angle=np.pi / 2), run_time=1.2)
        self.play(status.animate.become(label("quarter turn r", 28, ORANGE).to_edge(DOWN, buff=CAPTION_BUFF)))
        self.play(shape.animate.apply_matrix(mats["h"]), run_time=1.2)
        self.play(status.animate.become(label("then flip h", 28, ORANGE).to_edge(DOWN, buff=CAPTION_BUFF)))
        self.wait(0.4)
        single = compose("r", "h")
        ghost.apply_matrix(mats[single], about_point=ghost.get_center())
        self.play(FadeIn(ghost), status.animate.become(
            label(f"same as the single move {single}: a flip over a diagonal", 28, GREEN).to_edge(DOWN, buff=CAPTION_BUFF)))
        self.wait(1.5)


# ------------------------------------------------------------------ chapter 2
class SlideToTurn(Scene):
    """Sliding z along the real axis stretches e^z; sliding along the imaginary axis turns it."""

    def construct(self):
        x, y = ValueTracker(0.0), ValueTracker(0.0)
        left_o, right_o = LEFT * 3.5 + DOWN * 0.3, RIGHT * 3.0 + DOWN * 0.3
        self.add(plane(2.3).move_to(left_o), plane(2.8).move_to(right_o),
                 label("input z = x + iy", 26).move_to(left_o + UP * 2.6),
                 label("output e^z", 26).move_to(right_o + UP * 2.6),
                 Circle(radius=1.0, color=GRID, stroke_width=2).move_to(right_o))
        zin = always_redraw(lambda: Dot(left_o + 0.7 * np.array([x.get_value(), y.get_value(), 0]), color=BLUE, radius=0.1))

        def out():
            r, a = np.exp(x.get_value()), y.get_value()
            return right_o + np.array([r * np.cos(a), r * np.sin(a), 0])

        zout = always_redraw(lambda: Dot(out(), color=BLUE, radius=0.1))
        arrow = always_redraw(lambda: Line(right_o, out(), color=BLUE, stroke_width=4))
        caption = label("slide right: e^z stretches away from 0", 26, ORANGE).to_edge(DOWN, buff=CAPTION_BUFF)
        self.add(zin, zout, arrow)
        self.play(FadeIn(caption))
        self.play(x.animate.set_value(0.9), run_time=1.5)
        self.play(x.animate.set_value(-0.7), run_time=1.5)
        self.play(x.animate.set_value(0.0), run_time=1.0)
        self.play(caption.animate.become(label("slide up: e^z turns counter-clockwise", 26, GREEN).to_edge(DOWN, buff=CAPTION_BUFF)))
        self.play(y.animate.set_value(np.pi), run_time=2.0)
        self.play(caption.animate.become(label("slide up by π: half a turn, e^(iπ) = −1", 26, RED).to_edge(DOWN, buff=CAPTION_BUFF)))
        self.wait(1.0)


# ------------------------------------------------------------------ chapter 3
class TwoNotes(Scene):
    """Two notes, and the one curve of air pressure they make together."""

    def construct(self):
        t = np.linspace(0, 2, 600)
        axes = [Axes(x_range=[0, 2, 0.5], y_range=[-2, 2, 1], x_length=10, y_length=1.6,
                     axis_config={"color": MUTED, "include_ticks": False}).shift(UP * s) for s in (2.2, 0.2, -2.2)]
        notes = [(3.0, BLUE, "A: 3 beats per second (440 Hz, slowed down)"),
                 (2.0, ORANGE, "D: 2 beats per second (about 294 Hz, slowed down)")]
        waves = []
        for ax, (freq, color, text) in zip(axes, notes):
            g = fourier.tone(t, freq)
            waves.append(ax.plot_line_graph(t, g, line_color=color, add_vertex_dots=False, stroke_width=3))
            self.add(ax, label(text, 22, color).next_to(ax, UP, buff=0.05))
        total = fourier.chord(t, [3.0, 2.0])
        self.play(Create(waves[0]), Create(waves[1]), run_time=2)
        sum_graph = axes[2].plot_line_graph(t, total, line_color=PURPLE, add_vertex_dots=False, stroke_width=3)
        self.add(axes[2], label("together: the pressure your ear receives", 22, PURPLE).next_to(axes[2], UP, buff=0.05))
        self.play(Create(sum_graph), run_time=2)
        self.wait(1.5)


class WindingSweep(Scene):
    """Wind a 3-beats-per-second signal at a sweeping frequency; trace the centre of mass's x-coordinate."""

    def construct(self):
        t = np.linspace(0, 4.5, 900)
        g = fourier.tone(t, 3.0) + 1.0  # lifted, as in the chapter: the wound curve is lopsided at f = 3
        f = ValueTracker(0.2)
        R = 1.15
        origin = LEFT * 3.6 + DOWN * 0.2
        ax = Axes(x_range=[0, 5, 1], y_range=[-0.3, 1.1, 0.5], x_length=6.2, y_length=3.6,
                  axis_config={"color": MUTED, "include_ticks": True}).move_to(RIGHT * 2.8 + DOWN * 0.2)
        self.add(plane(2.7).move_to(origin), ax,
                 label("winding the signal", 24).move_to(origin + UP * 2.9),
                 label("x of the centre of mass", 24).next_to(ax, UP, buff=0.15),
                 label("winding frequency f → 5", 20, MUTED).next_to(ax, DOWN, buff=0.1))

        def wound_points():
            w = fourier.wind(g, t, f.get_value())
            return np.c_[w.real, w.imag, np.zeros_like(t)] * R + origin

        wound = always_redraw(lambda: curve(wound_points(), BLUE, 2))
        com = always_redraw(lambda: Dot(origin + R * np.array([*_c(fourier.center_of_mass(g, t, f.get_value())), 0]),
                                        color=RED, radius=0.11))
        freqs = np.linspace(0.2, 5, 400)
        af = fourier.almost_fourier(g, t, freqs).real
        traced = always_redraw(lambda: curve(
            np.array([ax.c2p(fr, v) for fr, v in zip(freqs, af) if fr <= f.get_value()] or [ax.c2p(0.2, af[0])]),
            RED, 3))
        readout = always_redraw(lambda: label(f"f = {f.get_value():.2f} turns per second", 24).to_edge(DOWN, buff=CAPTION_BUFF))
        self.add(wound, com, traced, readout)
        self.play(f.animate.set_value(2.6), run_time=4, rate_func=lambda x: x)
        self.play(f.animate.set_value(3.0), run_time=2.5, rate_func=lambda x: x)
        self.wait(0.8)
        self.play(f.animate.set_value(5.0), run_time=3, rate_func=lambda x: x)
        self.wait(0.6)


def _c(z: complex) -> tuple[float, float]:
    return z.real, z.imag


# ------------------------------------------------------------------ chapter 4
class PhaseTurns(Scene):
    """Delay the signal and the centre of mass turns: its angle is the phase."""

    def construct(self):
        t = np.linspace(0, 3, 900)
        phase = ValueTracker(0.0)
        R = 2.4
        origin = LEFT * 2.5
        self.add(plane(2.8).move_to(origin), label("winding at the signal's own frequency", 24).to_edge(UP))

        def g():
            return fourier.tone(t, 2.0, 1.0, phase.get_value())

        wound = always_redraw(lambda: curve(
            np.c_[fourier.wind(g(), t, 2.0).real, fourier.wind(g(), t, 2.0).imag, 0 * t] * R + origin, BLUE, 2))

        def com_point():
            c = fourier.center_of_mass(g(), t, 2.0)
            return origin + 2 * R * np.array([c.real, c.imag, 0])  # doubled so it is easy to see

        arrow = always_redraw(lambda: Arrow(origin, com_point(), buff=0, color=RED, stroke_width=6))
        readout = always_redraw(lambda: label(
            f"phase shift: {np.degrees(phase.get_value()):.0f}°\nangle of centre of mass: "
            f"{np.degrees(np.angle(fourier.center_of_mass(g(), t, 2.0))):.0f}°", 24).move_to(RIGHT * 3.5))
        self.add(wound, arrow, readout)
        self.play(phase.animate.set_value(np.pi / 2), run_time=2.5)
        self.wait(0.4)
        self.play(phase.animate.set_value(np.pi), run_time=2.5)
        self.wait(0.8)


class SignalLength(Scene):
    """A longer signal gives a narrower peak: the transform of 1, 2 and 6 seconds of the same tone."""

    def construct(self):
        freqs = np.linspace(1, 5, 500)
        ax = Axes(x_range=[1, 5, 1], y_range=[0, 0.55, 0.25], x_length=10, y_length=4.6,
                  axis_config={"color": MUTED}).shift(DOWN * 0.4)
        self.add(ax, label("how long the tone lasts sets how sharp its peak is", 26).to_edge(UP),
                 label("winding frequency (3 is the tone)", 20, MUTED).next_to(ax, DOWN, buff=0.1))
        for i, (T, color) in enumerate(((1.0, ORANGE), (2.0, GREEN), (6.0, BLUE))):
            t = np.linspace(0, T, int(300 * T) + 1)
            mag = np.abs(fourier.almost_fourier(fourier.tone(t, 3.0), t, freqs))
            width = fourier.peak_width(freqs, mag)
            graph = ax.plot_line_graph(freqs, mag, line_color=color, add_vertex_dots=False, stroke_width=4)
            tag = label(f"{T:.0f} s: peak width {width:.2f}", 22, color).move_to(ax.c2p(4.3, 0.5 - 0.085 * i))  # one line apart
            self.play(Create(graph), FadeIn(tag), run_time=1.5)
        self.wait(1.5)


class ScaleFactor(Scene):
    """With the 1/T factor (centre of mass) the peak keeps its height as the signal lengthens;
    without it (the integral) the peak grows in proportion to the length."""

    def construct(self):
        freqs = np.linspace(2, 4, 300)
        T = ValueTracker(1.0)
        left = Axes(x_range=[2, 4, 1], y_range=[0, 0.6, 0.25], x_length=5.2, y_length=3.6,
                    axis_config={"color": MUTED}).move_to(LEFT * 3.3 + DOWN * 0.3)
        right = Axes(x_range=[2, 4, 1], y_range=[0, 3.2, 1], x_length=5.2, y_length=3.6,
                     axis_config={"color": MUTED}).move_to(RIGHT * 3.3 + DOWN * 0.3)
        self.add(left, right, label("centre of mass (× 1/T)", 24, BLUE).next_to(left, UP),
                 label("integral (no 1/T)", 24, ORANGE).next_to(right, UP))

        def mags(kind):
            t = np.linspace(0, T.get_value(), int(200 * T.get_value()) + 1)
            fn = fourier.almost_fourier if kind == "avg" else fourier.fourier
            return np.abs(fn(fourier.tone(t, 3.0), t, freqs))

        g1 = always_redraw(lambda: left.plot_line_graph(freqs, mags("avg"), line_color=BLUE, add_vertex_dots=False))
        g2 = always_redraw(lambda: right.plot_line_graph(freqs, mags("int"), line_color=ORANGE, add_vertex_dots=False))
        readout = always_redraw(lambda: label(f"signal length T = {T.get_value():.1f} s", 26).to_edge(DOWN, buff=CAPTION_BUFF))
        self.add(g1, g2, readout)
        self.play(T.animate.set_value(6.0), run_time=5)
        self.wait(1.0)


__all__ = ["EulerRotation", "SquareMoves", "SlideToTurn", "TwoNotes", "WindingSweep", "PhaseTurns", "SignalLength",
           "ScaleFactor", "ORIGIN"]
