r"""Seismic phase picking: synthetic three-component data, PhaseNet's labels and scores,
and the classical pickers it replaced.

A *phase picker* reads a three-component seismogram (vertical Z, north N, east E) and
marks the samples where the P and the S waves arrive. Everything but the network:
:func:`synthetic_events` (exact labels: iasp91 travel times through ``obspy.taup`` [5]_,
P strongest on Z and S on the horizontals, noise between Peterson's models [4]_);
PhaseNet's targets, pick rule and scores [1]_ (:func:`phase_labels`,
:func:`picks_from_probability`, :func:`pick_scores`, :func:`pick_residuals`); the classical
pickers, ObsPy's STA/LTA [2]_ and AR-AIC [3]_ [6]_ (:func:`sta_lta_picks`, :func:`ar_picks`);
and real recordings shipped inside ObsPy (:func:`example_events`).

References
----------
.. [1] W. Zhu and G. C. Beroza, "PhaseNet: a deep-neural-network-based seismic arrival-time
   picking method", Geophysical Journal International 216 (2019), arXiv:1803.03211.
.. [2] R. V. Allen, "Automatic earthquake recognition and timing from single traces",
   Bulletin of the Seismological Society of America 68(5), 1521-1532 (1978).
.. [3] T. Akazawa, "A technique for automatic detection of onset time of P- and S-phases in
   strong motion records", 13th World Conference on Earthquake Engineering (2004): the
   reference ObsPy's ``ar_pick`` documentation gives.
.. [4] J. Peterson, "Observations and modeling of seismic background noise", U.S. Geological
   Survey Open-File Report 93-322 (1993).
.. [5] B. L. N. Kennett and E. R. Engdahl, "Traveltimes for global earthquake location and
   phase identification", Geophysical Journal International 105(2), 429-465 (1991).
.. [6] M. Leonard and B. L. N. Kennett, "Multi-component autoregressive techniques for the
   analysis of seismograms", Physics of the Earth and Planetary Interiors 113, 247-263 (1999).
"""

from __future__ import annotations

from functools import lru_cache
from numbers import Integral
from pathlib import Path

import numpy as np
import obspy
import scipy.fft as sp_fft
from obspy.geodetics import kilometers2degrees
from obspy.signal.filter import bandpass
from obspy.signal.spectral_estimation import get_nhnm, get_nlnm
from obspy.signal.trigger import ar_pick, classic_sta_lta, trigger_onset
from obspy.taup import TauPyModel
from obspy.taup.taup_time import TauPTime
from scipy.signal import resample_poly

from lib.core.checks import check_int, check_real

__all__ = ["synthetic_events", "phase_labels", "picks_from_probability", "pick_scores",
           "pick_residuals", "sta_lta_picks", "ar_picks", "example_events", "travel_times",
           "DISTANCE_KM", "DEPTH_KM", "P_PHASES", "S_PHASES"]

DISTANCE_KM = (10.0, 150.0)  #: epicentral distances drawn (uniform, km): local events
DEPTH_KM = (0, 40)  #: source depths drawn (whole kilometres, uniform)
P_PHASES, S_PHASES = ("p", "P", "Pn"), ("s", "S", "Sn")  #: "the P" is the earliest of these
SNR_WINDOW = 2.0  #: seconds before and after P over which the SNR is defined
P_MIN_OFFSET, S_MIN_MARGIN = 3.0, 2.0  #: P at least 3 s into the window, S 2 s before its end
_KM_STEP = 0.1  # spacing of the travel-time tables in distance (km)


# --------------------------------------------------------------------------- checks
def _rate(sampling_rate) -> float:
    return check_real("sampling_rate", sampling_rate, 0.0, lo_open=True)


def _waveforms(waveforms) -> np.ndarray:
    w = np.asarray(waveforms)
    if w.ndim != 3 or w.shape[1] != 3 or w.shape[2] < 2:
        raise ValueError(f"waveforms must have shape (n, 3, T) with components Z, N, E, got {w.shape}")
    return w.astype(np.float64)


def _true_picks(true_picks, pred_picks) -> tuple[list, list]:
    true = list(true_picks)
    pred = [list(p) for p in pred_picks]
    if len(true) != len(pred):
        raise ValueError(f"true_picks and pred_picks must have one entry per event, "
                         f"got {len(true)} and {len(pred)}")
    values = [t for t in true if t is not None] + [p for row in pred for p in row]
    if any(isinstance(v, bool) or not isinstance(v, Integral) for v in values):
        raise ValueError("true_picks and pred_picks must hold integer sample indices (None: no true pick)")
    return true, pred


# --------------------------------------------------------------------------- travel times
_model = lru_cache(maxsize=1)(lambda: TauPyModel("iasp91"))  # loaded on first use (about 1 s)


def _first_arrival(phases, degrees: np.ndarray) -> np.ndarray:
    """Earliest time over ``phases`` at each distance: between two samples of a branch
    (:math:`x_i, t_i`, ray parameter :math:`p_i = dt/dx`), the cubic Hermite interpolant."""
    best = np.full(len(degrees), np.inf)
    x_all = np.radians(degrees)
    for phase in phases:
        x, t, p = phase.dist, phase.time, phase.ray_param
        for i in range(len(x) - 1):
            h = x[i + 1] - x[i]
            sel = (x_all >= min(x[i], x[i + 1])) & (x_all <= max(x[i], x[i + 1]))
            if h == 0 or not sel.any():
                continue
            s = (x_all[sel] - x[i]) / h
            h00, h10 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s
            h01, h11 = -2 * s**3 + 3 * s**2, s**3 - s**2
            value = h00 * t[i] + h10 * h * p[i] + h01 * t[i + 1] + h11 * h * p[i + 1]
            best[sel] = np.minimum(best[sel], value)
    return best


@lru_cache(maxsize=64)
def _table(depth_km: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distance km, first P time s, first S time s) on a 0.1 km grid, for one source depth."""
    km = np.arange(DISTANCE_KM[0] - 1.0, DISTANCE_KM[1] + 1.0 + _KM_STEP / 2, _KM_STEP)
    deg = np.array([kilometers2degrees(k) for k in km])
    times = []
    for names in (P_PHASES, S_PHASES):
        tt = TauPTime(_model().model, list(names), float(depth_km), 0.0)
        tt.depth_correct(float(depth_km))
        tt.recalc_phases()
        times.append(_first_arrival(tt.phases, deg))
    return km, times[0], times[1]


def travel_times(distance_km, depth_km) -> tuple[np.ndarray, np.ndarray]:
    r"""First P and first S travel times (s) in iasp91 for local sources, from cached tables.

    Per whole-kilometre depth, ``obspy.taup``'s [5]_ branch tables are evaluated once on a
    0.1 km grid (cubic Hermite, the ray parameter as slope: within a millisecond of a direct
    ``TauPyModel.get_travel_times`` call) and kept in memory; distances in between are
    interpolated linearly. "First P": the earliest of ``P_PHASES``; likewise S.
    ``distance_km`` (within ``DISTANCE_KM``) and ``depth_km`` (whole km, within ``DEPTH_KM``).

    >>> t_p, t_s = travel_times([100.0], [10])
    >>> round(float(t_s[0] - t_p[0]), 2)   # S-P time at 100 km, 10 km deep
    12.57
    """
    dist = np.atleast_1d(np.asarray(distance_km, dtype=float))
    depth = np.atleast_1d(np.asarray(depth_km))
    if dist.shape != depth.shape or not np.issubdtype(depth.dtype, np.integer):
        raise ValueError(f"distance_km and depth_km (whole km) must have one shape, got {dist.shape}, {depth!r}")
    for d in dist:
        check_real("distance_km", float(d), *DISTANCE_KM)
    for z in depth:
        check_int("depth_km", int(z), *DEPTH_KM)
    t_p, t_s = np.empty_like(dist), np.empty_like(dist)
    for z in np.unique(depth):
        km, tp, ts = _table(int(z))
        sel = depth == z
        t_p[sel], t_s[sel] = np.interp(dist[sel], km, tp), np.interp(dist[sel], km, ts)
    return t_p, t_s


# --------------------------------------------------------------------------- noise
@lru_cache(maxsize=8)
def _noise_models(length: int, sampling_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Peterson's NLNM and NHNM as *velocity* PSDs (dB) on the rfft frequency grid."""
    f = np.fft.rfftfreq(length, 1.0 / sampling_rate)
    f[0] = f[1]  # the mean is removed later; avoid log(0)
    out = []
    for get in (get_nlnm, get_nhnm):
        periods, acc_db = get()
        order = np.argsort(1.0 / periods)
        freq, acc = 1.0 / periods[order], acc_db[order]
        acc_f = np.interp(np.log10(f), np.log10(freq), acc)  # flat beyond the model's ends
        out.append(acc_f - 20 * np.log10(2 * np.pi * f))  # acceleration -> velocity PSD
    return out[0], out[1]


def _station_noise(rng, n: int, length: int, sampling_rate: float, level: np.ndarray) -> np.ndarray:
    """(n, 3, length) float32 noise whose PSD is NLNM + level * (NHNM - NLNM) dB, unit std per trace."""
    low, high = _noise_models(length, sampling_rate)
    psd_db = low[None, :] + level[:, None] * (high - low)[None, :]
    amp = (10 ** (psd_db / 20)).astype(np.float32)
    amp[:, 0] = 0.0
    white = sp_fft.rfft(rng.standard_normal((n, 3, length), dtype=np.float32), axis=-1)
    noise = sp_fft.irfft(white * amp[:, None, :], n=length, axis=-1)
    return noise / noise.std(axis=-1, keepdims=True)


# --------------------------------------------------------------------------- signals
def _band_noise(rng, n: int, length: int, sampling_rate: float, centre: np.ndarray) -> np.ndarray:
    """(n, length) float32 white noise in a Gaussian band (centre, std centre/2 Hz), unit std."""
    f = np.fft.rfftfreq(length, 1.0 / sampling_rate)
    gain = np.exp(-0.5 * ((f[None, :] - centre[:, None]) / (0.5 * centre[:, None])) ** 2).astype(np.float32)
    x = sp_fft.irfft(sp_fft.rfft(rng.standard_normal((n, length), dtype=np.float32)) * gain, n=length)
    return x / x.std(axis=-1, keepdims=True)


def _envelope(t: np.ndarray, onset: np.ndarray, rise: np.ndarray, decay: np.ndarray) -> np.ndarray:
    r"""Onset-then-coda envelope :math:`(1 - e^{-\tau/r}) e^{-\tau/d}` for :math:`\tau = t - t_0 \ge 0`."""
    tau = np.maximum(t[None, :] - onset[:, None], 0.0).astype(np.float32)
    rise, decay = rise[:, None].astype(np.float32), decay[:, None].astype(np.float32)
    return -np.expm1(-tau / rise) * np.exp(-tau / decay)


def synthetic_events(n: int, seed: int, snr_db=(0.0, 20.0), sampling_rate: float = 100.0,
                     duration: float = 30.0):
    r"""Three-component local-earthquake seismograms with exact P and S picks.

    Each event draws an epicentral distance (uniform in ``DISTANCE_KM``, 10-150 km), a
    source depth (whole kilometres, uniform in ``DEPTH_KM``, 0-40 km), a back azimuth
    (uniform in [0, 360) degrees) and an SNR (uniform in ``snr_db``). The S-P time is
    iasp91's (:func:`travel_times`, ``obspy.taup`` [5]_). P is placed on a whole sample,
    uniformly between ``P_MIN_OFFSET`` (3 s) and the latest time that keeps S at least
    ``S_MIN_MARGIN`` (2 s) before the end; S at :math:`t_P + (t_S - t_P)_{\mathrm{iasp91}}`,
    rounded to the nearest sample.

    Each phase is band-limited random motion (P centred on 4-10 Hz, S on 2-6 Hz) under an
    envelope :math:`(1 - e^{-\tau/r})\,e^{-\tau/d}` (rise 0.02-0.1 s; the coda decays over
    :math:`d` = 0.5-1.5 s for P and 1-3 s for S, longer with distance: attenuation). P
    moves along the ray: on Z and, 0.2-0.6 times as strong, radially; S (1.5-5 times P)
    moves radially and transversely, with 0.1-0.3 of it on Z; radial and transverse are
    rotated into N and E by the back azimuth. The noise has the power spectrum
    :math:`\mathrm{NLNM}(f) + u\,(\mathrm{NHNM}(f) - \mathrm{NLNM}(f))` dB (Peterson [4]_,
    converted to velocity; :math:`u` uniform in [0, 1] per event), then unit standard
    deviation. The signal is scaled so that

    .. math:: \mathrm{SNR} = 10 \log_{10} \frac{\overline{s_Z^2}[t_P, t_P + 2\,\mathrm{s})}
                                              {\overline{n_Z^2}[t_P - 2\,\mathrm{s}, t_P)}

    (clean signal on Z in the 2 s after P over the noise on Z in the 2 s before) is the
    drawn value.

    Parameters
    ----------
    n : int
        Number of events, >= 1; ``seed`` (int >= 0) seeds ``numpy.random.default_rng``.
    snr_db : (float, float)
        Range of the SNR in dB, ``lo <= hi``, within [-40, 60].
    sampling_rate, duration : float
        Hz (>= 20, so the pulses are resolved) and window seconds (>= 25, so S-P fits).

    Returns
    -------
    waveforms : float32 array, (n, 3, int(duration * sampling_rate)), components Z, N, E
    p_index, s_index : int64 arrays, (n,), sample indices of the P and S arrivals
    meta : dict of arrays: ``distance_km``, ``depth_km``, ``back_azimuth`` (degrees),
        ``snr_db`` (drawn), ``sp_time`` (s, iasp91), ``p_travel_time`` (s, from the origin),
        ``noise_level`` (:math:`u`), ``amplitude`` (signal scale against unit-std noise).

    >>> w, p, s, meta = synthetic_events(2, seed=0)
    >>> w.shape, w.dtype, bool(np.all(p < s))
    ((2, 3, 3000), dtype('float32'), True)
    """
    n = check_int("n", n, 1)
    check_int("seed", seed, 0)
    fs = check_real("sampling_rate", sampling_rate, 20.0)
    duration = check_real("duration", duration, 25.0)
    if np.shape(snr_db) != (2,) or snr_db[0] > snr_db[1]:
        raise ValueError(f"snr_db must be a pair (lo, hi) of dB with lo <= hi, got {snr_db!r}")
    lo, hi = check_real("snr_db[0]", snr_db[0], -40.0, 60.0), check_real("snr_db[1]", snr_db[1], -40.0, 60.0)

    rng = np.random.default_rng(seed)  # the draws below, in this order, define the data
    length = int(duration * fs)
    distance = rng.uniform(*DISTANCE_KM, n)
    depth = rng.integers(DEPTH_KM[0], DEPTH_KM[1] + 1, n)
    back_azimuth = rng.uniform(0.0, 360.0, n)
    snr = rng.uniform(lo, hi, n)
    t_p, t_s = travel_times(distance, depth)
    sp = t_s - t_p
    first = int(np.ceil(P_MIN_OFFSET * fs))
    last = np.floor((duration - S_MIN_MARGIN - sp) * fs).astype(np.int64)
    p_index = first + np.floor(rng.uniform(0, 1, n) * (last - first + 1)).astype(np.int64)
    s_index = np.rint(p_index + sp * fs).astype(np.int64)

    t = np.arange(length) / fs
    onset_p, onset_s = p_index / fs, p_index / fs + sp
    attenuation = distance / DISTANCE_KM[1]
    env_p = _envelope(t, onset_p, rng.uniform(0.02, 0.1, n), rng.uniform(0.5, 1.5, n) * (1 + attenuation))
    env_s = _envelope(t, onset_s, rng.uniform(0.02, 0.1, n), rng.uniform(1.0, 3.0, n) * (1 + attenuation))
    p_wave = env_p * _band_noise(rng, n, length, fs, rng.uniform(4.0, 10.0, n))
    s_centre = rng.uniform(2.0, 6.0, n)
    sv = env_s * _band_noise(rng, n, length, fs, s_centre)
    sh = env_s * _band_noise(rng, n, length, fs, s_centre)
    s_amp = rng.uniform(1.5, 5.0, n)
    p_radial = rng.uniform(0.2, 0.6, n)
    s_vertical = rng.uniform(0.1, 0.3, n)
    baz = np.radians(back_azimuth)
    # radial points from the source to the station (opposite to the back azimuth),
    # transverse 90 degrees clockwise from it
    col = lambda a: a[:, None].astype(np.float32)  # noqa: E731
    signal = np.empty((n, 3, length), dtype=np.float32)
    signal[:, 0] = p_wave + col(s_amp * s_vertical) * sv
    radial = col(p_radial) * p_wave + col(s_amp) * sv
    transverse = col(s_amp) * sh
    signal[:, 1] = -col(np.cos(baz)) * radial + col(np.sin(baz)) * transverse
    signal[:, 2] = -col(np.sin(baz)) * radial - col(np.cos(baz)) * transverse

    level = rng.uniform(0.0, 1.0, n)
    noise = _station_noise(rng, n, length, fs, level)
    win = int(round(SNR_WINDOW * fs))
    rows = np.arange(n)[:, None]
    after = p_index[:, None] + np.arange(win)[None, :]
    before = p_index[:, None] - win + np.arange(win)[None, :]
    signal_power = np.mean(signal[rows, 0, after].astype(np.float64) ** 2, axis=1)
    noise_power = np.mean(noise[rows, 0, before].astype(np.float64) ** 2, axis=1)
    amplitude = np.sqrt(10 ** (snr / 10) * noise_power / signal_power)
    signal *= amplitude[:, None, None].astype(np.float32)
    waveforms = signal + noise
    meta = {"distance_km": distance, "depth_km": depth, "back_azimuth": back_azimuth, "snr_db": snr,
            "sp_time": sp, "p_travel_time": t_p, "noise_level": level, "amplitude": amplitude}
    return waveforms, p_index, s_index, meta


# --------------------------------------------------------------------------- labels and picks
def phase_labels(p_index, s_index, length: int, sampling_rate: float = 100.0, sigma: float = 0.1):
    r"""PhaseNet's training targets: P, S and noise probabilities per sample.

    .. math:: y_P(t) = e^{-(t - t_P)^2 / 2\sigma^2}, \quad
              y_S(t) = e^{-(t - t_S)^2 / 2\sigma^2}, \quad
              y_N = \operatorname{clip}(1 - y_P - y_S, 0, 1)

    PhaseNet [1]_ trains on Gaussians around the analysts' picks on 100 Hz data; its released
    code (``phasenet/data_reader.py``) uses a standard deviation of 6 samples (0.06 s), cut
    at +-15 samples. The 0.1 s default here is issue 15's choice (the paper's own value
    was not checked for this book).

    ``p_index``, ``s_index``: sample indices, shape (n,); ``length`` samples (>= 1);
    ``sampling_rate`` Hz (> 0); ``sigma`` seconds (> 0). Returns float32 of shape
    (n, 3, length), channels in the order P, S, noise.

    >>> y = phase_labels([10], [30], 50)
    >>> y.shape, int(y[0, 0].argmax()), int(y[0, 1].argmax()), round(float(y[0].sum(0).min()), 6)
    ((1, 3, 50), 10, 30, 1.0)
    """
    length = check_int("length", length, 1)
    fs = _rate(sampling_rate)
    sigma = check_real("sigma", sigma, 0.0, lo_open=True)
    p, s = np.asarray(p_index), np.asarray(s_index)
    if p.ndim != 1 or s.shape != p.shape:
        raise ValueError(f"p_index and s_index must be 1-D of the same length, got shapes {p.shape} and {s.shape}")
    t, width = np.arange(length, dtype=np.float64), sigma * fs
    y_p = np.exp(-0.5 * ((t[None, :] - p[:, None]) / width) ** 2)
    y_s = np.exp(-0.5 * ((t[None, :] - s[:, None]) / width) ** 2)
    y_n = np.clip(1.0 - y_p - y_s, 0.0, 1.0)
    return np.stack([y_p, y_s, y_n], axis=1).astype(np.float32)


def picks_from_probability(prob, threshold: float = 0.5, min_separation: float = 1.0,
                           sampling_rate: float = 100.0) -> list[list[int]]:
    r"""Picks from per-sample probabilities: local maxima above ``threshold``.

    A sample is a candidate when its probability is at least ``threshold``, greater than
    the sample before it and not less than the one after (the first sample of a plateau).
    Candidates are taken from the most probable down; one closer than ``min_separation``
    seconds to a pick already taken is dropped (the higher peak is kept). PhaseNet's released
    code [1]_ picks peaks above 0.5 at least 0.5 s apart.

    ``prob``: probabilities of one phase, shape (T,) or (n, T); ``threshold`` in [0, 1];
    ``min_separation`` seconds (>= 0); ``sampling_rate`` Hz (> 0). Returns one sorted list
    of sample indices per row (one list for a 1-D input).

    >>> picks_from_probability([0, 0.6, 0.2, 0.9, 0.1, 0, 0.7, 0], min_separation=0.03)
    [[3, 6]]
    """
    p = np.atleast_2d(np.asarray(prob, dtype=np.float64))
    if p.ndim != 2 or p.shape[1] < 1:
        raise ValueError(f"prob must be 1-D (T,) or 2-D (n, T), got shape {np.shape(prob)}")
    threshold = check_real("threshold", threshold, 0.0, 1.0)
    min_separation = check_real("min_separation", min_separation, 0.0)
    gap = min_separation * _rate(sampling_rate)
    padded = np.pad(p, ((0, 0), (1, 1)), constant_values=-np.inf)
    peak = (p >= threshold) & (p > padded[:, :-2]) & (p >= padded[:, 2:])
    out = []
    for row, mask in zip(p, peak):
        kept: list[int] = []
        for i in sorted(np.flatnonzero(mask), key=lambda j: (-row[j], j)):
            if all(abs(i - k) >= gap for k in kept):
                kept.append(int(i))
        out.append(sorted(kept))
    return out


def _matches(true: list, pred: list, fs: float, tolerance: float):
    """For each event: the prediction closest to the true pick if within tolerance, else None."""
    limit = tolerance * fs + 1e-9  # compare in samples; the edge itself counts
    found = []
    for t, row in zip(true, pred):
        if t is None or not row:
            found.append(None)
            continue
        best = min(row, key=lambda q: (abs(q - t), q))
        found.append(best if abs(best - t) <= limit else None)
    return found


def pick_scores(true_picks, pred_picks, sampling_rate: float, tolerance: float = 0.1):
    r"""Precision, recall and F1 of picks, by PhaseNet's rule.

    An event whose true pick has a prediction within ``tolerance`` seconds (inclusive) is
    one true positive (TP, at most one per event, however many predictions lie close);
    every other prediction is a false positive (FP), including all predictions on an event
    without that phase (``None``); a true pick with no prediction within ``tolerance`` is a
    false negative (FN). PhaseNet's released code [1]_ (``calculate_metrics``) uses 0.1 s,
    strictly, and counts every prediction within it; here the edge counts and one per event.

    .. math:: P = \frac{TP}{TP + FP}, \quad R = \frac{TP}{TP + FN}, \quad F_1 = \frac{2PR}{P + R}

    A ratio whose denominator is zero is 0.0 (no predictions: precision 0; no true picks:
    recall 0; :math:`P + R = 0`: F1 0), as scikit-learn's ``zero_division`` default does.

    Parameters
    ----------
    true_picks : sequence of int or None
        One true sample index per event, ``None`` where the event has no such phase.
    pred_picks : sequence of sequences of int
        The predicted sample indices of each event.
    sampling_rate, tolerance : float
        Hz (> 0) and seconds (>= 0). Returns ``(precision, recall, f1)``.

    >>> pick_scores([100, 200, None], [[105], [300, 201], [50]], sampling_rate=100.0)
    (0.5, 1.0, 0.6666666666666666)
    """
    true, pred = _true_picks(true_picks, pred_picks)
    fs = _rate(sampling_rate)
    tolerance = check_real("tolerance", tolerance, 0.0)
    matched = _matches(true, pred, fs, tolerance)
    tp = sum(m is not None for m in matched)
    fp = sum(len(row) for row in pred) - tp
    fn = sum(t is not None for t in true) - tp
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def pick_residuals(true_picks, pred_picks, sampling_rate: float, tolerance: float = 0.1) -> np.ndarray:
    r"""Residuals (predicted - true, seconds) of the matched events, in event order.

    For each event counted as a true positive by :func:`pick_scores`, the prediction
    closest to the true pick (the earlier of two equally close). PhaseNet [1]_ reports the
    mean and standard deviation of these residuals.

    Arguments as in :func:`pick_scores`; one residual per matched event (empty when none).

    >>> pick_residuals([100, 200, None], [[105], [300, 198], [50]], sampling_rate=100.0)
    array([ 0.05, -0.02])
    """
    true, pred = _true_picks(true_picks, pred_picks)
    fs = _rate(sampling_rate)
    tolerance = check_real("tolerance", tolerance, 0.0)
    matched = _matches(true, pred, fs, tolerance)
    return np.array([(m - t) / fs for t, m in zip(true, matched) if m is not None], dtype=float)


# --------------------------------------------------------------------------- classical pickers
def sta_lta_picks(waveforms, sampling_rate: float, sta: float = 0.5, lta: float = 2.0, on: float = 3.0,
                  off: float = 1.5, freqmin: float | None = 1.0, freqmax: float | None = 20.0) -> list[list[int]]:
    r"""P picks by STA/LTA triggering on the vertical component (Allen [2]_, through ObsPy).

    The Z trace is band-passed (``freqmin`` to ``freqmax`` Hz, a causal 4-corner
    Butterworth, so no energy leaks before the onset; ``None`` skips it), then

    .. math:: c(t) = \frac{\tfrac{1}{N_s}\sum_{k<N_s} x^2(t-k)}{\tfrac{1}{N_l}\sum_{k<N_l} x^2(t-k)}

    (``obspy.signal.trigger.classic_sta_lta``, :math:`N_s` and :math:`N_l` the samples in
    ``sta`` and ``lta`` seconds; :math:`c = 0` over the first :math:`N_l` samples). A trigger
    switches on when :math:`c` rises above ``on`` and off when it falls below ``off``
    (``trigger_onset``); each switch-on sample is a pick (S often triggers too). The
    defaults (0.5 s, 2 s, 3, 1.5) are a starting point, not tuned: tune on a validation split.

    ``waveforms`` (n, 3, T) in Z, N, E order; ``sampling_rate`` Hz; ``0 < sta < lta``
    seconds; ``0 < off <= on``; band corners ``0 < freqmin < freqmax < sampling_rate / 2``.
    Returns the P picks (sample indices) of each event.

    >>> w, p, s, meta = synthetic_events(1, seed=3, snr_db=(20.0, 20.0))
    >>> picks = sta_lta_picks(w, 100.0)
    >>> abs(picks[0][0] - int(p[0])) <= 30   # within 0.3 s
    True
    """
    w = _waveforms(waveforms)
    fs = _rate(sampling_rate)
    lta = check_real("lta", lta, 0.0, w.shape[2] / fs, lo_open=True)
    sta = check_real("sta", sta, 0.0, lta, lo_open=True, hi_open=True)
    on = check_real("on", on, 0.0, lo_open=True)
    off = check_real("off", off, 0.0, on, lo_open=True)
    band = _band(freqmin, freqmax, fs)
    n_sta, n_lta = max(1, int(round(sta * fs))), int(round(lta * fs))
    out = []
    for z in w[:, 0]:
        if band:
            z = bandpass(z, band[0], band[1], fs, corners=4, zerophase=False)
        cft = classic_sta_lta(z, n_sta, n_lta)
        out.append([int(a) for a, _ in trigger_onset(cft, on, off)])
    return out


def _band(freqmin, freqmax, fs: float):
    if freqmin is None or freqmax is None:
        return None
    freqmax = check_real("freqmax", freqmax, 0.0, fs / 2, lo_open=True, hi_open=True)
    freqmin = check_real("freqmin", freqmin, 0.0, freqmax, lo_open=True, hi_open=True)
    return freqmin, freqmax


def ar_picks(waveforms, sampling_rate: float, f1: float = 1.0, f2: float = 20.0, lta_p: float = 1.0,
             sta_p: float = 0.1, lta_s: float = 4.0, sta_s: float = 1.0, m_p: int = 2, m_s: int = 8,
             l_p: float = 0.1, l_s: float = 0.2):
    r"""P and S picks by the autoregressive AIC picker (ObsPy's ``ar_pick``, after Akazawa [3]_).

    ``obspy.signal.trigger.ar_pick`` band-passes the three components (``f1`` to ``f2`` Hz),
    finds a rough P by STA/LTA on Z (``sta_p``, ``lta_p`` s) and a rough S on the
    horizontals (``sta_s``, ``lta_s`` s), then refines each with autoregressive models of
    order ``m_p`` / ``m_s`` fitted over ``l_p`` / ``l_s`` s before and after: the pick is
    where the Akaike information criterion of the two-model split is smallest (after [3]_;
    multi-component AR picking: [6]_). The defaults are the values ObsPy's regression test
    of ``ar_pick`` uses (there on 200 Hz data).

    ``waveforms`` (n, 3, T) in Z, N, E order; ``sampling_rate`` Hz; corners
    ``0 < f1 < f2 < sampling_rate / 2``; the windows in seconds (> 0); AR orders >= 1.
    Returns ``(p_picks, s_picks)``: one list per event holding one sample index, or
    nothing where ``ar_pick`` fails or returns a time outside the trace.

    >>> w, p, s, meta = synthetic_events(1, seed=3, snr_db=(20.0, 20.0))
    >>> p_picks, s_picks = ar_picks(w, 100.0)
    >>> abs(p_picks[0][0] - int(p[0])) <= 30   # within 0.3 s
    True
    """
    w = _waveforms(waveforms)
    fs = _rate(sampling_rate)
    f2 = check_real("f2", f2, 0.0, fs / 2, lo_open=True, hi_open=True)
    f1 = check_real("f1", f1, 0.0, f2, lo_open=True, hi_open=True)
    for name, value in (("lta_p", lta_p), ("sta_p", sta_p), ("lta_s", lta_s), ("sta_s", sta_s),
                        ("l_p", l_p), ("l_s", l_s)):
        check_real(name, value, 0.0, w.shape[2] / fs, lo_open=True)
    m_p, m_s = check_int("m_p", m_p, 1), check_int("m_s", m_s, 1)
    length = w.shape[2]
    p_out, s_out = [], []
    for z, north, east in w.astype(np.float32):
        try:
            t_p, t_s = ar_pick(z, north, east, fs, f1, f2, lta_p, sta_p, lta_s, sta_s, m_p, m_s, l_p, l_s)
        except (ValueError, RuntimeError):
            t_p = t_s = -1.0
        for out, t in ((p_out, t_p), (s_out, t_s)):
            k = int(round(t * fs))
            out.append([k] if 0 < k < length else [])
    return p_out, s_out


# --------------------------------------------------------------------------- real recordings
#: (name, files, sampling rate Hz, window start s into the files, P s, S s, (window lo, hi) s, station, date, reference)
_RJOB, _UH3 = "loc_RJOB20050801145719850.{}", "BW.UH3._.SH{}.D.2010.147.cut.slist.gz"
_NO_PICKS = ("No reference picks: ObsPy's coincidence-trigger test only asserts that a network "
             "STA/LTA trigger switched on between {} and {} UTC (reference_window).")
_EXAMPLES = (  # name, files, rate (Hz), start (s into the files), P, S, window (s), station, date, reference
    ("RJOB 2005-08-01", _RJOB, "zne", 200.0, 20.0, 30.635, 31.165, None, "RJOB", "2005-08-01 14:57 UTC",
     "P and S from ObsPy's regression test of ar_pick (test_trigger.py: P = 30.635 s, S = 31.165 s "
     "+- 0.05 s after the file's start): the output of the AR-AIC algorithm, not an analyst's picks; "
     "the test itself calls the S time machine-dependent."),
    ("UH3 2010-05-27 16:24", _UH3, "ZNE", 50.0, 20.0, None, None, (27.33, 31.33), "BW.UH3",
     "2010-05-27 16:24 UTC", _NO_PICKS.format("16:24:31", "16:24:35")),
    ("UH3 2010-05-27 16:27", _UH3, "ZNE", 50.0, 196.33, None, None, (203.33, 209.33), "BW.UH3",
     "2010-05-27 16:27 UTC", _NO_PICKS.format("16:27:27", "16:27:33")),
)


def _read_component(path: Path) -> np.ndarray:
    if path.name.startswith("loc_"):
        return np.loadtxt(path, dtype=np.float64)
    return obspy.read(str(path))[0].data.astype(np.float64)


def example_events(duration: float = 30.0) -> list[dict]:
    r"""A handful of real local-earthquake recordings that ship inside the ObsPy package.

    Read from ``obspy/signal/tests/data`` (no download), resampled to 100 Hz
    (``scipy.signal.resample_poly``), cut to ``duration`` seconds with the event about
    10 s in, each component's mean removed. A demonstration, not a benchmark: the only
    picks are the output of ObsPy's AR picker in its own regression test (RJOB); for the
    station UH3 events, ObsPy's tests give only a window in which a network trigger fired.

    ``duration`` in [20, 30] s. Returns one dict per event: ``name``, ``waveforms``
    (float32, (3, T), Z, N, E), ``sampling_rate`` (100.0), ``p_index`` and ``s_index``
    (sample indices or None), ``reference_window`` ((lo, hi) sample indices or None),
    ``reference`` (where the picks come from and what they are), ``station``, ``date``.

    >>> events = example_events()
    >>> [(e["station"], e["waveforms"].shape, e["p_index"]) for e in events][:1]
    [('RJOB', (3, 3000), 1064)]
    """
    duration = check_real("duration", duration, 20.0, 30.0)
    folder = Path(obspy.__file__).parent / "signal" / "tests" / "data"
    fs, length = 100.0, int(duration * 100.0)
    out = []
    for name, pattern, comps, rate, start, t_p, t_s, window, station, date, reference in _EXAMPLES:
        paths = [folder / pattern.format(c) for c in comps]
        for p in paths:
            if not p.exists():
                raise FileNotFoundError(f"ObsPy's test data file {p} is missing; install the full "
                                        f"ObsPy wheel (pip install obspy==1.5.1)")
        up, down = (2, 1) if rate == 50.0 else (1, 2)
        cut = slice(int(round(start * rate)), int(round((start + duration) * rate)))
        w = np.stack([resample_poly(_read_component(p)[cut], up, down)[:length] for p in paths])
        w -= w.mean(axis=1, keepdims=True)
        to_index = lambda t: None if t is None else int(np.floor((t - start) * fs + 0.5))  # noqa: E731
        out.append({"name": name, "waveforms": w.astype(np.float32), "sampling_rate": fs,
                    "p_index": to_index(t_p), "s_index": to_index(t_s),
                    "reference_window": None if window is None else tuple(to_index(t) for t in window),
                    "reference": reference, "station": station, "date": date})
    return out
