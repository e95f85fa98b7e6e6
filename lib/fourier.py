r"""The Fourier transform, built as a winding machine and then made fast.

Part I of the book, in code. A signal :math:`g(t)` is wound around the origin
at a winding frequency :math:`f` (:func:`wind`); the centre of mass of the
wound curve (:func:`center_of_mass`) is large only when :math:`f` matches a
frequency in the signal; plotting it against :math:`f` gives the
"almost-Fourier" transform (:func:`almost_fourier`), and dropping its
:math:`1/(t_2 - t_1)` factor gives the Fourier transform over a finite window
(:func:`fourier`). Sampling turns the integral into the DFT (:func:`dft`),
which the FFT computes in :math:`O(n \log n)` (:func:`fft`, :func:`ifft`),
and the convolution theorem (:func:`convolve`) multiplies polynomials with it.

Everything is written from scratch with NumPy array arithmetic; ``numpy.fft``
is used only by the tests, as the reference.

References
----------
.. [1] G. Sanderson, "But what is the Fourier Transform? A visual introduction", 3Blue1Brown (2018).
.. [2] J. W. Cooley and J. W. Tukey, "An algorithm for the machine calculation of complex
   Fourier series", Mathematics of Computation 19 (1965).
.. [3] L. Bluestein, "A linear filtering approach to the computation of discrete Fourier
   transform", IEEE Transactions on Audio and Electroacoustics 18 (1970).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lib.core.checks import check_real

__all__ = ["tone", "chord", "wind", "center_of_mass", "almost_fourier", "fourier", "dft", "fft", "ifft",
           "convolve", "peak_width"]


# --------------------------------------------------------------------------- checks
def _as_array(name: str, x, *, min_len: int = 1, real: bool = False) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise ValueError(f"{name} must be an array of numbers, got dtype {a.dtype}")
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    if len(a) < min_len:
        raise ValueError(f"{name} must have at least {min_len} samples, got {len(a)}")
    if real and np.iscomplexobj(a):
        raise ValueError(f"{name} must be real, got complex values")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite, got NaN or infinity at index {int(np.argmin(np.isfinite(a)))}")
    return a


def _signal_and_time(signal, t) -> tuple[np.ndarray, np.ndarray]:
    g = _as_array("signal", signal, min_len=2)
    t = _as_array("t", t, min_len=2, real=True).astype(float)
    if len(g) != len(t):
        raise ValueError(f"signal and t must have the same length, got {len(g)} and {len(t)}")
    if np.any(np.diff(t) <= 0):
        i = int(np.argmax(np.diff(t) <= 0))
        raise ValueError(f"t must be strictly increasing, but t[{i + 1}] = {t[i + 1]!r} <= t[{i}] = {t[i]!r}")
    return g, t


def _freqs(freqs) -> np.ndarray:
    return _as_array("freqs", np.atleast_1d(freqs), real=True).astype(float)


# --------------------------------------------------------------------------- signals
def tone(t, freq: float, amplitude: float = 1.0, phase: float = 0.0) -> np.ndarray:
    r"""A pure tone :math:`A\cos(2\pi f t + \varphi)` sampled at times ``t``.

    >>> tone(np.array([0.0, 0.25]), 1.0).round(12)
    array([1., 0.])
    """
    t = _as_array("t", t, real=True).astype(float)
    check_real("freq", freq)
    check_real("amplitude", amplitude)
    check_real("phase", phase)
    return amplitude * np.cos(2 * np.pi * freq * t + phase)


def chord(t, freqs: Sequence[float], amplitudes: Sequence[float] | None = None,
          phases: Sequence[float] | None = None) -> np.ndarray:
    """The sum of tones: what the air pressure does when several notes sound together.

    >>> t = np.linspace(0, 1, 5)
    >>> np.allclose(chord(t, [2, 3]), tone(t, 2) + tone(t, 3))
    True
    """
    freqs = list(freqs)
    amplitudes = [1.0] * len(freqs) if amplitudes is None else list(amplitudes)
    phases = [0.0] * len(freqs) if phases is None else list(phases)
    if not freqs or len(amplitudes) != len(freqs) or len(phases) != len(freqs):
        raise ValueError(f"freqs, amplitudes and phases must have the same non-zero length, got "
                         f"{len(freqs)}, {len(amplitudes)} and {len(phases)}")
    return sum(tone(t, f, a, p) for f, a, p in zip(freqs, amplitudes, phases))


# --------------------------------------------------------------------------- the winding machine
def wind(signal, t, winding_freq: float) -> np.ndarray:
    r"""Wind ``signal`` around the origin: :math:`g(t)\,e^{-2\pi i f t}`.

    Each sample becomes a point whose distance from the origin is :math:`g(t)`
    and whose angle turns clockwise (the minus sign) :math:`f` times per unit
    of time.

    Parameters
    ----------
    signal : array of shape (n,), real or complex
        Samples :math:`g(t_k)`.
    t : array of shape (n,)
        Strictly increasing sample times.
    winding_freq : float
        Turns per unit of time.

    Returns
    -------
    complex array of shape (n,)

    >>> wind([1, 1], [0, 0.25], 1).round(12)
    array([1.+0.j, 0.-1.j])
    """
    g, t = _signal_and_time(signal, t)
    f = check_real("winding_freq", winding_freq)
    return g * np.exp(-2j * np.pi * f * t)


def _trapezoid(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Trapezoidal rule along the last axis."""
    dt = np.diff(t)
    return np.sum(0.5 * (y[..., 1:] + y[..., :-1]) * dt, axis=-1)


def center_of_mass(signal, t, winding_freq: float) -> complex:
    r"""Centre of mass of the wound signal.

    .. math:: \frac{1}{t_{\max} - t_{\min}} \int_{t_{\min}}^{t_{\max}} g(t)\, e^{-2\pi i f t}\, dt,

    computed with the trapezoidal rule over the samples.

    >>> t = np.linspace(0, 1, 1001)
    >>> round(abs(center_of_mass(np.cos(2 * np.pi * 3 * t), t, 3.0)), 3)
    0.5
    """
    g, t = _signal_and_time(signal, t)
    f = check_real("winding_freq", winding_freq)
    return complex(_trapezoid(g * np.exp(-2j * np.pi * f * t), t) / (t[-1] - t[0]))


def _transform(g: np.ndarray, t: np.ndarray, freqs: np.ndarray, chunk: int = 2**22) -> np.ndarray:
    out = np.empty(len(freqs), dtype=complex)
    step = max(1, chunk // len(t))
    for i in range(0, len(freqs), step):
        f = freqs[i:i + step, None]
        out[i:i + step] = _trapezoid(g[None, :] * np.exp(-2j * np.pi * f * t[None, :]), t)
    return out


def almost_fourier(signal, t, freqs) -> np.ndarray:
    r""":func:`center_of_mass` at every winding frequency in ``freqs`` (vectorised).

    The "almost-Fourier transform": its peaks sit at the frequencies in the
    signal, and their height does not depend on how long the signal lasts.

    Returns
    -------
    complex array of shape (len(freqs),)
    """
    g, t = _signal_and_time(signal, t)
    return _transform(g, t, _freqs(freqs)) / (t[-1] - t[0])


def fourier(signal, t, freqs) -> np.ndarray:
    r"""The Fourier transform over the sampled window:
    :math:`\hat g(f) = \int_{t_{\min}}^{t_{\max}} g(t)\,e^{-2\pi i f t}\,dt`.

    :func:`almost_fourier` without the :math:`1/(t_{\max}-t_{\min})` factor, so a
    tone that lasts twice as long gives a peak twice as high (and half as wide).
    """
    g, t = _signal_and_time(signal, t)
    return _transform(g, t, _freqs(freqs))


# --------------------------------------------------------------------------- DFT and FFT
def dft(x) -> np.ndarray:
    r"""The discrete Fourier transform by its definition, :math:`O(n^2)`:
    :math:`X_k = \sum_{j=0}^{n-1} x_j\, e^{-2\pi i jk/n}`.

    Equal to ``numpy.fft.fft(x)``.

    >>> dft([1, 0, 0, 0])
    array([1.+0.j, 1.+0.j, 1.+0.j, 1.+0.j])
    """
    x = _as_array("x", x).astype(complex)
    n = len(x)
    k = np.arange(n)
    return np.exp(-2j * np.pi * (np.outer(k, k) % n) / n) @ x  # jk mod n keeps the angles accurate


def _bit_reverse(n: int) -> np.ndarray:
    bits = n.bit_length() - 1
    idx = np.arange(n)
    rev = np.zeros(n, dtype=np.int64)
    for b in range(bits):
        rev |= ((idx >> b) & 1) << (bits - 1 - b)
    return rev


def _fft_pow2(x: np.ndarray) -> np.ndarray:
    """Iterative radix-2 Cooley-Tukey on a power-of-two length (last axis)."""
    n = x.shape[-1]
    y = x[..., _bit_reverse(n)].astype(complex)
    m = 1
    while m < n:  # combine pairs of length-m transforms into length-2m ones
        twiddle = np.exp(-1j * np.pi * np.arange(m) / m)
        y = y.reshape(*x.shape[:-1], n // (2 * m), 2, m)
        even, odd = y[..., 0, :], y[..., 1, :] * twiddle
        y = np.concatenate([even + odd, even - odd], axis=-1).reshape(*x.shape[:-1], n)
        m *= 2
    return y


def _fft_bluestein(x: np.ndarray) -> np.ndarray:
    r"""Any length :math:`n` through a power-of-two convolution (Bluestein's chirp z).

    With :math:`jk = \tfrac12\,(j^2 + k^2 - (k-j)^2)`,
    :math:`X_k = w_k^* \sum_j (x_j w_j^*)\, w_{k-j}` where :math:`w_m = e^{i\pi m^2/n}`:
    a convolution, computed with zero-padded radix-2 FFTs of length :math:`\ge 2n-1`.
    """
    n = len(x)
    m = 1 << (2 * n - 2).bit_length()
    k = np.arange(n)
    w = np.exp(1j * np.pi * (k * k % (2 * n)) / n)  # k^2 mod 2n keeps the angle accurate
    a = np.zeros(m, dtype=complex)
    a[:n] = x * np.conj(w)
    b = np.zeros(m, dtype=complex)
    b[:n] = w
    b[m - n + 1:] = w[1:][::-1]
    conv = _ifft_pow2(_fft_pow2(a) * _fft_pow2(b))
    return np.conj(w) * conv[:n]


def _ifft_pow2(X: np.ndarray) -> np.ndarray:
    return np.conj(_fft_pow2(np.conj(X))) / X.shape[-1]


def fft(x) -> np.ndarray:
    r"""The fast Fourier transform, equal to ``numpy.fft.fft(x)`` for any length ``n >= 1``.

    Powers of two use iterative radix-2 decimation in time: the transform of
    length :math:`n` is two transforms of length :math:`n/2` (even and odd
    samples) joined by :math:`n/2` "butterflies", so :math:`\log_2 n` stages of
    :math:`O(n)` work. Other lengths use Bluestein's algorithm, which rewrites
    the DFT as a convolution and computes that with power-of-two FFTs, still
    :math:`O(n \log n)`. That route costs accuracy: on such lengths a round trip
    ``ifft(fft(x))`` errs by a few machine epsilons more than NumPy's mixed-radix FFT (the
    FFT chapter measures both at build time).

    >>> np.allclose(fft([1, 2, 3]), np.fft.fft([1, 2, 3]))
    True
    """
    x = _as_array("x", x).astype(complex)
    n = len(x)
    if n & (n - 1) == 0:
        return _fft_pow2(x)
    return _fft_bluestein(x)


def ifft(X) -> np.ndarray:
    r"""The inverse transform, :math:`x_j = \frac1n \sum_k X_k e^{+2\pi i jk/n}`, equal to
    ``numpy.fft.ifft``. It is the forward transform of the conjugate, conjugated and scaled.

    >>> np.allclose(ifft(fft([1, 2, 3, 4, 5])), [1, 2, 3, 4, 5])
    True
    """
    X = _as_array("X", X).astype(complex)
    return np.conj(fft(np.conj(X))) / len(X)


def convolve(a, b) -> np.ndarray:
    r"""Full linear convolution via the convolution theorem: :math:`a * b = \mathcal F^{-1}(\mathcal F a \cdot \mathcal F b)`.

    Multiplying two polynomials convolves their coefficient lists, so
    ``convolve(p, q)`` gives the coefficients of :math:`p(x)\,q(x)` in
    :math:`O(n \log n)` instead of :math:`O(n^2)`. Equal to ``numpy.convolve``;
    real inputs give a real result.

    >>> convolve([1, 1], [1, 1]).round(12)   # (1 + x)^2 = 1 + 2x + x^2
    array([1., 2., 1.])
    """
    a = _as_array("a", a)
    b = _as_array("b", b)
    n = len(a) + len(b) - 1
    m = 1 << (n - 1).bit_length()
    fa = _fft_pow2(np.concatenate([a.astype(complex), np.zeros(m - len(a))]))
    fb = _fft_pow2(np.concatenate([b.astype(complex), np.zeros(m - len(b))]))
    out = _ifft_pow2(fa * fb)[:n]
    return out.real if not (np.iscomplexobj(a) or np.iscomplexobj(b)) else out


def peak_width(freqs, magnitude) -> float:
    """Full width at half maximum of the highest peak of ``magnitude`` over ``freqs``
    (linear interpolation between samples)."""
    f = _as_array("freqs", freqs, min_len=3, real=True).astype(float)
    y = _as_array("magnitude", magnitude, min_len=3, real=True).astype(float)
    if len(f) != len(y):
        raise ValueError(f"freqs and magnitude must have the same length, got {len(f)} and {len(y)}")
    i = int(np.argmax(y))
    half = y[i] / 2
    lo = i
    while lo > 0 and y[lo] > half:
        lo -= 1
    hi = i
    while hi < len(y) - 1 and y[hi] > half:
        hi += 1
    if y[lo] > half or y[hi] > half:
        raise ValueError("the peak does not fall to half its height inside freqs; widen the range")
    left = f[lo] + (half - y[lo]) * (f[lo + 1] - f[lo]) / (y[lo + 1] - y[lo])
    right = f[hi - 1] + (half - y[hi - 1]) * (f[hi] - f[hi - 1]) / (y[hi] - y[hi - 1])
    return float(right - left)
