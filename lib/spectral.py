r"""Running the winding machine backwards: linearity, the inverse transform and filtering.

The transform of :mod:`lib.fourier` is *linear*: wind a sum of signals and the centre
of mass is the sum of the centres of mass, because winding multiplies every sample
by the same turning arrow and an average of sums is the sum of the averages,

.. math::

    \widehat{a g + b h}(f) = a\,\hat g(f) + b\,\hat h(f).

So a spectrum can be edited one frequency at a time, and the edit undone: the
*inverse transform* winds the spectrum the other way (counter-clockwise) and adds
up the arrows,

.. math::

    g(t) = \int_{-\infty}^{\infty} \hat g(f)\, e^{+2\pi i f t}\, df
    \qquad\text{(discrete: } x_j = \tfrac1n \textstyle\sum_k X_k\, e^{+2\pi i jk/n}\text{)},

which :func:`inverse_fourier` computes over a finite band of frequencies and
:func:`lib.fourier.ifft` computes exactly for sampled signals. Put together:

- :func:`band_stop` transforms a sampled signal, sets to zero every frequency in a band
  (both signs: a real tone lives at :math:`+f` and :math:`-f`) and transforms back: a
  filter that removes one note of a chord;
- :func:`keep_largest` keeps only the :math:`k` largest coefficients and transforms back:
  the signal rebuilt from a few frequencies. By Parseval's theorem its squared error is
  exactly the energy of the coefficients dropped, :math:`\lVert x - x_k\rVert^2 =
  \frac1n\sum_{\text{dropped}} |X_j|^2`, the idea behind transform coding (JPEG, MP3)
  and a first taste of Part II.

References
----------
.. [1] G. Sanderson, "But what is the Fourier Transform? A visual introduction", 3Blue1Brown (2018):
   the closing remarks on the inverse transform and editing sound by frequency.
.. [2] A. V. Oppenheim and R. W. Schafer, *Discrete-Time Signal Processing*, 3rd ed., Pearson
   (2010), chapter 8 (the DFT, its inverse and Parseval's relation).
"""

from __future__ import annotations

import numpy as np

from lib import fourier
from lib.core.checks import check_int, check_real

__all__ = ["inverse_fourier", "frequencies", "band_stop", "keep_largest", "dropped_energy"]


def _samples(name: str, x) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 1 or len(x) < 2 or not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"{name} must be a 1-D array of at least 2 numbers, got shape {x.shape} "
                         f"and dtype {x.dtype}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite (no NaN or infinity)")
    return x


def inverse_fourier(spectrum, freqs, t) -> np.ndarray:
    r"""The inverse transform over a band of frequencies,
    :math:`g(t) \approx \int_{f_{\min}}^{f_{\max}} \hat g(f)\,e^{+2\pi i f t}\,df`
    (trapezoid rule over ``freqs``), at every time in ``t``.

    Give it :func:`lib.fourier.fourier` of a signal on a fine grid of frequencies from
    :math:`-F` to :math:`F` and it rebuilds the signal, up to what lies outside the band
    and the window's edges. The arrows turn counter-clockwise here, where the forward
    transform's turn clockwise: that sign is the whole difference.

    Parameters
    ----------
    spectrum : complex array, shape (m,)
    freqs : increasing real array, shape (m,), m >= 2
    t : real array of times

    Returns
    -------
    complex array of shape (len(t),)

    >>> f = np.linspace(-4, 4, 801)
    >>> g_hat = np.where(np.abs(np.abs(f) - 2) < 0.5, 1.0, 0.0)   # a band around +-2 Hz
    >>> bool(abs(inverse_fourier(g_hat, f, [0.0])[0] - 2.0) < 0.02)   # area under the spectrum
    True
    """
    spectrum = _samples("spectrum", spectrum).astype(complex)
    freqs = _samples("freqs", freqs).astype(float)
    if len(freqs) != len(spectrum):
        raise ValueError(f"freqs must have one entry per spectrum value ({len(spectrum)}), got {len(freqs)}")
    if np.any(np.diff(freqs) <= 0):
        raise ValueError("freqs must be strictly increasing")
    t = np.atleast_1d(np.asarray(t, dtype=float))
    if t.ndim != 1 or not np.all(np.isfinite(t)):
        raise ValueError(f"t must be a finite 1-D array of times, got shape {t.shape}")
    arrows = spectrum[None, :] * np.exp(2j * np.pi * freqs[None, :] * t[:, None])
    df = np.diff(freqs)
    return (arrows[:, 1:] + arrows[:, :-1]) @ df / 2


def frequencies(n: int, sample_rate: float) -> np.ndarray:
    r"""The frequency (Hz) of each DFT bin of ``n`` samples at ``sample_rate``: bin :math:`k`
    is :math:`k\,r/n` for :math:`k < n/2` and :math:`(k-n)\,r/n` above (the negative
    frequencies), as ``numpy.fft.fftfreq(n, 1 / sample_rate)``.

    >>> frequencies(4, 8.0)
    array([ 0.,  2., -4., -2.])
    """
    n = check_int("n", n, 1)
    sample_rate = check_real("sample_rate", sample_rate, 0.0, lo_open=True)
    k = np.arange(n)
    return np.where(k < (n + 1) // 2, k, k - n) * sample_rate / n


def band_stop(x, sample_rate: float, lo: float, hi: float) -> np.ndarray:
    r"""Remove every frequency :math:`f` with :math:`lo \le |f| \le hi` (Hz) from the real
    signal ``x`` sampled at ``sample_rate``: transform (:func:`lib.fourier.fft`), set those
    bins to zero, transform back (:func:`lib.fourier.ifft`).

    Zeroing :math:`+f` and :math:`-f` together keeps the spectrum conjugate-symmetric, so
    the result is real (its imaginary part is rounding, dropped). Linearity is what makes
    this a filter: the signal is a sum of tones, the transform is the same sum of peaks,
    and removing one peak removes that tone and nothing else, when the tones fall on the
    DFT's bins (a whole number of cycles in the window); otherwise each tone leaks into
    neighbouring bins and a sharp band leaves a little of it, and rings.

    >>> r, n = 64.0, 64
    >>> j = np.arange(n) / r
    >>> x = np.cos(2 * np.pi * 5 * j) + np.cos(2 * np.pi * 12 * j)
    >>> np.allclose(band_stop(x, r, 10, 14), np.cos(2 * np.pi * 5 * j))
    True
    """
    x = _samples("x", x)
    if np.iscomplexobj(x):
        raise ValueError("x must be a real signal (band_stop returns a real one)")
    sample_rate = check_real("sample_rate", sample_rate, 0.0, lo_open=True)
    lo = check_real("lo", lo, 0.0, sample_rate / 2)
    hi = check_real("hi", hi, lo, sample_rate / 2)
    X = fourier.fft(x)
    f = np.abs(frequencies(len(x), sample_rate))
    X[(f >= lo) & (f <= hi)] = 0
    return fourier.ifft(X).real


def _order(X: np.ndarray) -> np.ndarray:
    """Bin indices by decreasing magnitude; ties (a real signal's k and n - k) broken by index."""
    return np.lexsort((np.arange(len(X)), -np.round(np.abs(X), 9)))


def keep_largest(x, k: int) -> np.ndarray:
    r"""The real signal ``x`` rebuilt from its ``k`` largest DFT coefficients (by magnitude):
    the other :math:`n - k` are set to zero before the inverse transform.

    A real signal's coefficients come in conjugate pairs :math:`X_j, X_{n-j}` of equal
    size; the result is real when ``k`` keeps whole pairs (odd ``k`` keeps one half of a
    pair and the imaginary part, which is dropped, is half that pair). Its squared error is
    :func:`dropped_energy` exactly (Parseval).

    >>> x = np.cos(2 * np.pi * 3 * np.arange(16) / 16) + 0.1
    >>> np.allclose(keep_largest(x, 2), np.cos(2 * np.pi * 3 * np.arange(16) / 16))
    True
    """
    x = _samples("x", x)
    if np.iscomplexobj(x):
        raise ValueError("x must be a real signal")
    k = check_int("k", k, 0, len(x))
    X = fourier.fft(x)
    kept = np.zeros_like(X)
    top = _order(X)[:k]
    kept[top] = X[top]
    return fourier.ifft(kept).real


def dropped_energy(x, k: int) -> float:
    r""":math:`\frac1n \sum_{\text{dropped}} |X_j|^2`, the energy of the coefficients that
    :func:`keep_largest` drops, which equals :math:`\lVert x - x_k \rVert^2` (Parseval) when
    the kept coefficients are whole conjugate pairs.

    >>> x = np.arange(8.0)
    >>> bool(np.isclose(dropped_energy(x, 0), np.sum(x ** 2)))
    True
    """
    x = _samples("x", x)
    k = check_int("k", k, 0, len(x))
    X = fourier.fft(x)
    dropped = _order(X)[k:]
    return float(np.sum(np.abs(X[dropped]) ** 2) / len(x))
