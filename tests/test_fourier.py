"""lib.fourier against numpy.fft, scipy.integrate.quad, closed forms and invariants."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

from lib import fourier as F

LENGTHS = [1, 2, 3, 4, 5, 7, 8, 11, 12, 13, 16, 17, 31, 32, 60, 64, 97, 100, 127, 128, 255, 256, 257, 1000, 1024, 4093]


def rand(n, seed=0, complex_=True):
    rng = np.random.default_rng(seed + n)
    x = rng.normal(size=n)
    return x + 1j * rng.normal(size=n) if complex_ else x


@pytest.mark.parametrize("n", LENGTHS)
def test_fft_ifft_match_numpy_for_any_length(n):
    x = rand(n)
    ref = np.fft.fft(x)
    scale = max(1.0, np.abs(ref).max())
    assert np.abs(F.fft(x) - ref).max() / scale < 1e-12
    assert np.abs(F.ifft(x) - np.fft.ifft(x)).max() < 1e-12
    assert np.abs(F.ifft(F.fft(x)) - x).max() < 1e-12
    if n <= 1024:
        assert np.abs(F.dft(x) - ref).max() / scale < 1e-11


@pytest.mark.parametrize("n", [1, 6, 64, 101])
def test_real_inputs_and_lists(n):
    x = rand(n, complex_=False)
    assert np.allclose(F.fft(list(x)), np.fft.fft(x), atol=1e-12)
    X = F.fft(x)
    assert np.allclose(X[1:], np.conj(X[1:][::-1]), atol=1e-10)  # a real signal's spectrum is Hermitian


@pytest.mark.parametrize("n", [16, 50, 129])
def test_parseval(n):
    x = rand(n)
    assert np.sum(np.abs(x) ** 2) == pytest.approx(np.sum(np.abs(F.fft(x)) ** 2) / n, rel=1e-12)


def test_fft_of_a_sampled_tone_has_its_two_lines():
    n, k = 64, 5
    x = np.cos(2 * np.pi * k * np.arange(n) / n)
    X = np.abs(F.fft(x))
    assert set(np.argsort(X)[-2:]) == {k, n - k}
    assert X[k] == pytest.approx(n / 2)


@pytest.mark.parametrize("la, lb", [(1, 1), (3, 2), (10, 7), (64, 65), (100, 3)])
def test_convolve_equals_numpy(la, lb):
    a, b = rand(la, 1, False), rand(lb, 2, False)
    assert np.allclose(F.convolve(a, b), np.convolve(a, b), atol=1e-10)
    assert np.isrealobj(F.convolve(a, b))
    ac, bc = rand(la, 3), rand(lb, 4)
    assert np.allclose(F.convolve(ac, bc), np.convolve(ac, bc), atol=1e-10)


def test_polynomial_product():
    # (1 + 2x)(3 + x + x^2) = 3 + 7x + 3x^2 + 2x^3
    assert np.allclose(F.convolve([1, 2], [3, 1, 1]), [3, 7, 3, 2])


# ---- the winding machine
def test_wind_is_signal_times_clockwise_rotation():
    t = np.linspace(0, 1, 9)
    g = 1 + t
    w = F.wind(g, t, 2.0)
    assert np.allclose(np.abs(w), g)
    assert np.allclose(w, g * (np.cos(4 * np.pi * t) - 1j * np.sin(4 * np.pi * t)))
    assert F.wind([1, 1], [0, 0.25], 1)[1] == pytest.approx(-1j)  # a quarter turn clockwise


def test_center_of_mass_closed_forms():
    t = np.linspace(0, 2, 20001)
    f0 = 3.0
    g = np.cos(2 * np.pi * f0 * t)
    # Winding at the tone's own frequency: the average of cos^2 - i cos sin = 1/2 over whole periods.
    assert F.center_of_mass(g, t, f0) == pytest.approx(0.5, abs=1e-6)
    # Winding at a frequency that fits a whole number of extra turns: the mass balances at 0.
    assert abs(F.center_of_mass(g, t, 4.0)) < 1e-6
    # A constant signal sits at its value when f = 0.
    assert F.center_of_mass(np.full_like(t, 0.7), t, 0.0) == pytest.approx(0.7)
    # A phase shift turns the centre of mass by the same angle: angle = phase at f = f0.
    phi = 0.9
    c = F.center_of_mass(np.cos(2 * np.pi * f0 * t + phi), t, f0)
    assert np.angle(c) == pytest.approx(phi, abs=1e-6) and abs(c) == pytest.approx(0.5, abs=1e-6)


@pytest.mark.parametrize("f", [0.0, 1.3, 2.0, 2.7, 5.0])
def test_center_of_mass_equals_quad(f):
    g = lambda t: np.cos(2 * np.pi * 2 * t) + 0.5 * np.cos(2 * np.pi * 3 * t + 0.4) + 0.2  # noqa: E731
    t0, t1 = 0.1, 1.7
    re = integrate.quad(lambda t: g(t) * np.cos(2 * np.pi * f * t), t0, t1, limit=200)[0]
    im = integrate.quad(lambda t: -g(t) * np.sin(2 * np.pi * f * t), t0, t1, limit=200)[0]
    t = np.linspace(t0, t1, 40001)
    assert F.center_of_mass(g(t), t, f) == pytest.approx(complex(re, im) / (t1 - t0), abs=1e-7)
    assert F.fourier(g(t), t, [f])[0] == pytest.approx(complex(re, im), abs=1e-7)


def test_almost_fourier_is_vectorised_center_of_mass():
    t = np.linspace(0, 1, 501)
    g = F.chord(t, [3, 5], [1.0, 0.5])
    freqs = np.linspace(0, 8, 33)
    assert np.allclose(F.almost_fourier(g, t, freqs), [F.center_of_mass(g, t, f) for f in freqs], atol=1e-13)
    assert np.allclose(F.fourier(g, t, freqs), F.almost_fourier(g, t, freqs) * (t[-1] - t[0]))


@pytest.mark.parametrize("f0", [3.0, 4.4, 7.25])
def test_pure_tone_peaks_at_its_frequency(f0):
    t = np.linspace(0, 4, 8001)
    freqs = np.linspace(0.5, 10, 1901)
    mag = np.abs(F.almost_fourier(F.tone(t, f0), t, freqs))
    assert freqs[np.argmax(mag)] == pytest.approx(f0, abs=0.01)


def test_two_notes_give_two_peaks():
    t = np.linspace(0, 8, 8001)
    g = F.chord(t, [2.0, 3.0])
    freqs = np.linspace(0, 5, 501)
    mag = np.abs(F.almost_fourier(g, t, freqs))
    peaks = [i for i in range(1, len(mag) - 1) if mag[i] > mag[i - 1] and mag[i] > mag[i + 1] and mag[i] > 0.3]
    assert np.allclose(freqs[peaks], [2.0, 3.0], atol=0.011)


def test_peak_width_shrinks_as_one_over_duration():
    freqs = np.linspace(2, 4, 4001)
    widths = []
    for T in [1.0, 2.0, 4.0, 8.0]:
        t = np.linspace(0, T, int(400 * T) + 1)
        widths.append(F.peak_width(freqs, np.abs(F.almost_fourier(F.tone(t, 3.0), t, freqs))))
    widths = np.array(widths)
    # width * T is constant: the sinc's half-maximum width 1.2067 / T (to 1.2 % at T = 1, where the
    # mirror peak at -3 Hz still leaks in, then closer as T grows).
    assert np.allclose(widths * np.array([1, 2, 4, 8]), 1.2067, rtol=0.012)


def test_fourier_peak_grows_with_duration_and_almost_fourier_does_not():
    heights_af, heights_f = [], []
    for T in [1.0, 3.0]:
        t = np.linspace(0, T, int(500 * T) + 1)
        heights_af.append(abs(F.almost_fourier(F.tone(t, 3.0), t, [3.0])[0]))
        heights_f.append(abs(F.fourier(F.tone(t, 3.0), t, [3.0])[0]))
    assert heights_af[0] == pytest.approx(heights_af[1], rel=1e-3)
    assert heights_f[1] == pytest.approx(3 * heights_f[0], rel=1e-3)


# ---- bad input names the argument
@pytest.mark.parametrize("call, name", [
    (lambda: F.wind([1, 2, 3], [0, 1], 1.0), "same length"),
    (lambda: F.center_of_mass([1], [0], 1.0), "signal"),
    (lambda: F.center_of_mass([1, 2, 3], [0, 2, 1], 1.0), "t must be strictly increasing"),
    (lambda: F.center_of_mass([1, np.nan], [0, 1], 1.0), "signal must be finite"),
    (lambda: F.center_of_mass([1, 2], [0, 1], np.nan), "winding_freq"),
    (lambda: F.almost_fourier([1, 2], [0, 1], [1, np.inf]), "freqs"),
    (lambda: F.almost_fourier([1, 2], [0, 1j], [1]), "t must be real"),
    (lambda: F.fft([]), "x must have at least 1"),
    (lambda: F.fft([[1, 2]]), "one-dimensional"),
    (lambda: F.ifft(["a"]), "X must be an array of numbers"),
    (lambda: F.dft([np.nan]), "x must be finite"),
    (lambda: F.convolve([], [1]), "a must have"),
    (lambda: F.chord([0, 1], [1, 2], [1]), "same non-zero length"),
])
def test_bad_input_raises_value_error(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_round_trip_error_in_machine_epsilons_as_the_fft_chapter_states():
    # issue 11: Bluestein's lengths lose a few epsilons more than NumPy (the chapter measures it);
    # this bounds the loss so that a regression in the twiddles or the chirp shows
    eps = np.finfo(float).eps
    rng = np.random.default_rng(11)
    worst = {True: 0.0, False: 0.0}
    for n in range(2, 300):
        x = rng.normal(size=n) + 1j * rng.normal(size=n)
        err = np.linalg.norm(F.ifft(F.fft(x)) - x) / (eps * np.linalg.norm(x))
        worst[n & (n - 1) == 0] = max(worst[n & (n - 1) == 0], err)
    assert worst[True] < 3.0
    assert worst[False] < 8.0
