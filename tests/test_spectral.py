"""lib.spectral: linearity, the inverse transform and filtering, against numpy.fft and invariants."""

from __future__ import annotations

import numpy as np
import pytest

from lib import fourier, spectral

RNG = np.random.default_rng(0)


def test_the_transform_is_linear():
    t = np.linspace(0, 2, 2001)
    g, h = fourier.tone(t, 3.0), fourier.tone(t, 5.0, phase=0.4)
    freqs = np.linspace(0, 8, 161)
    a, b = 1.7, -0.6
    both = fourier.fourier(a * g + b * h, t, freqs)
    apart = a * fourier.fourier(g, t, freqs) + b * fourier.fourier(h, t, freqs)
    assert np.allclose(both, apart, atol=1e-12)


def test_inverse_fourier_rebuilds_a_chord_from_its_transform():
    t = np.linspace(0, 4, 4001)
    g = fourier.chord(t, [2.0, 3.0], [1.0, 0.5])
    f = np.linspace(-6, 6, 2401)
    back = spectral.inverse_fourier(fourier.fourier(g, t, f), f, t[1000:3001])
    # away from the window's edges the rebuilt signal is the signal, and real
    assert np.max(np.abs(back.real - g[1000:3001])) < 0.03
    assert np.max(np.abs(back.imag)) < 0.03


def test_inverse_fourier_is_the_discrete_inverse_on_the_dft_grid():
    # on the bins of a DFT (spacing r/n, from -r/2), the trapezoid sum is the inverse DFT up to the end terms
    n, r = 32, 32.0
    x = RNG.normal(size=n)
    X = np.fft.fft(x) / r                            # the integral's scale: dt = 1/r
    f = spectral.frequencies(n, r)
    order = np.argsort(f)
    f, X = f[order], X[order]
    f, X = np.append(f, -f[0]), np.append(X, X[0])   # close the period so the trapezoid is a plain sum
    t = np.arange(n) / r
    assert np.allclose(spectral.inverse_fourier(X, f, t), x, atol=1e-12)


def test_frequencies_match_numpy():
    for n in (1, 2, 7, 8, 33):
        assert np.allclose(spectral.frequencies(n, 100.0), np.fft.fftfreq(n, 1 / 100.0))


def test_band_stop_against_numpy_and_keeps_what_is_outside_the_band():
    for n in (64, 100, 257):
        x = RNG.normal(size=n)
        r, lo, hi = 50.0, 8.0, 13.0
        X = np.fft.fft(x)
        f = np.abs(np.fft.fftfreq(n, 1 / r))
        X[(f >= lo) & (f <= hi)] = 0
        got = spectral.band_stop(x, r, lo, hi)
        assert got.dtype.kind == "f"
        assert np.allclose(got, np.fft.ifft(X).real, atol=1e-10)
        # nothing outside the band changes, nothing inside survives
        G = np.fft.fft(got)
        keep = (f < lo) | (f > hi)
        assert np.allclose(G[keep], np.fft.fft(x)[keep], atol=1e-9)
        assert np.allclose(G[~keep], 0, atol=1e-9)


def test_band_stop_removes_one_note_of_a_chord_exactly_on_the_bins():
    r, n = 800.0, 1600
    j = np.arange(n) / r
    low, high = np.sin(2 * np.pi * 220 * j), 0.5 * np.sin(2 * np.pi * 330 * j)
    assert np.allclose(spectral.band_stop(low + high, r, 300, 360), low, atol=1e-10)


def test_keep_largest_error_is_the_dropped_energy():
    x = RNG.normal(size=128)
    for k in (0, 2, 10, 64, 127, 128):
        if k % 2 == 1 and k < 128:  # odd k keeps half a conjugate pair; check an even k instead
            continue
        err = np.sum((x - spectral.keep_largest(x, k)) ** 2)
        assert np.isclose(err, spectral.dropped_energy(x, k), rtol=1e-9, atol=1e-9)
    assert np.allclose(spectral.keep_largest(x, 128), x)
    assert np.allclose(spectral.keep_largest(x, 0), 0)


def test_keep_largest_energy_falls_as_k_grows():
    x = np.cumsum(RNG.normal(size=100))       # a random walk: energy at low frequencies
    e = [spectral.dropped_energy(x, k) for k in range(0, 101, 10)]
    assert all(a >= b for a, b in zip(e, e[1:]))
    assert e[1] < 0.1 * e[0]                  # ten coefficients carry most of a random walk


@pytest.mark.parametrize("call, match", [
    (lambda: spectral.band_stop([1.0], 10.0, 1, 2), "x must be a 1-D array"),
    (lambda: spectral.band_stop(np.ones(8), 0.0, 1, 2), "sample_rate"),
    (lambda: spectral.band_stop(np.ones(8), 10.0, 3, 2), "hi"),
    (lambda: spectral.band_stop(np.ones(8), 10.0, 1, 6), "hi"),
    (lambda: spectral.band_stop(np.ones(8) + 1j, 10.0, 1, 2), "real"),
    (lambda: spectral.band_stop([1.0, np.nan], 10.0, 1, 2), "finite"),
    (lambda: spectral.keep_largest(np.ones(8), 9), "k must be an integer in \\[0, 8\\]"),
    (lambda: spectral.keep_largest(np.ones(8), -1), "k must"),
    (lambda: spectral.dropped_energy(np.ones(8), 2.5), "k must be an integer"),
    (lambda: spectral.frequencies(0, 1.0), "n must"),
    (lambda: spectral.inverse_fourier([1, 2], [0, 1, 2], [0.0]), "freqs must have one entry"),
    (lambda: spectral.inverse_fourier([1, 2], [1, 0], [0.0]), "increasing"),
])
def test_bad_input_is_a_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
