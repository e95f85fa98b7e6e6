"""lib.seismic: the synthetic generator's contract, PhaseNet's labels and scores, the
classical pickers and ObsPy's real example events."""

from __future__ import annotations

import numpy as np
import pytest
from obspy.geodetics import kilometers2degrees
from obspy.taup import TauPyModel

from lib import seismic
from lib.seismic import (ar_picks, example_events, phase_labels, pick_residuals, pick_scores,
                         picks_from_probability, sta_lta_picks, synthetic_events)

FS = 100.0


@pytest.fixture(scope="module")
def events():
    return synthetic_events(300, seed=11, snr_db=(0.0, 20.0))


# --------------------------------------------------------------------------- generator
def test_shapes_dtypes_and_meta(events):
    w, p, s, meta = events
    assert w.shape == (300, 3, 3000) and w.dtype == np.float32
    assert p.dtype == np.int64 and s.dtype == np.int64 and p.shape == s.shape == (300,)
    for key in ("distance_km", "depth_km", "snr_db", "back_azimuth", "sp_time"):
        assert meta[key].shape == (300,)
    assert np.all(np.isfinite(w))
    assert meta["distance_km"].min() >= 10 and meta["distance_km"].max() <= 150
    assert meta["depth_km"].min() >= 0 and meta["depth_km"].max() <= 40


def test_p_before_s_inside_the_window(events):
    w, p, s, _ = events
    assert np.all(p >= seismic.P_MIN_OFFSET * FS)
    assert np.all(p < s) and np.all(s < w.shape[2])


def test_same_seed_same_data_and_different_seeds_differ():
    a = synthetic_events(5, seed=3)
    b = synthetic_events(5, seed=3)
    c = synthetic_events(5, seed=4)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and np.array_equal(a[2], b[2])
    assert not np.array_equal(a[0], c[0]) and not np.array_equal(a[1], c[1])


def test_s_minus_p_is_iasp91_within_one_sample(events):
    """The S-P time in samples agrees with a direct obspy.taup call to within one sample."""
    w, p, s, meta = events
    model = TauPyModel("iasp91")
    for i in range(0, 300, 25):
        arrivals = model.get_travel_times(source_depth_in_km=float(meta["depth_km"][i]),
                                          distance_in_degree=kilometers2degrees(meta["distance_km"][i]),
                                          phase_list=list(seismic.P_PHASES + seismic.S_PHASES))
        t_p = min(a.time for a in arrivals if a.name[0] in "pP")
        t_s = min(a.time for a in arrivals if a.name[0] in "sS")
        assert abs((s[i] - p[i]) - (t_s - t_p) * FS) <= 1.0, i
        assert abs(meta["sp_time"][i] - (t_s - t_p)) < 0.002, i


@pytest.mark.parametrize("rate", [50.0, 200.0])
def test_other_sampling_rates_keep_the_contract(rate):
    w, p, s, meta = synthetic_events(20, seed=4, sampling_rate=rate)
    assert w.shape == (20, 3, int(30 * rate))
    assert np.all(p < s) and np.all(s < w.shape[2] - seismic.S_MIN_MARGIN * rate + 1)
    assert np.all(np.abs((s - p) - meta["sp_time"] * rate) <= 0.5 + 1e-9)   # rounding only


def test_travel_times_table_matches_taup_off_the_grid():
    model = TauPyModel("iasp91")
    for dist, depth in [(12.34, 0), (57.89, 19), (101.01, 20), (149.9, 35), (88.8, 40)]:
        t_p, t_s = seismic.travel_times([dist], [depth])
        arrivals = model.get_travel_times(source_depth_in_km=float(depth),
                                          distance_in_degree=kilometers2degrees(dist),
                                          phase_list=list(seismic.P_PHASES + seismic.S_PHASES))
        assert abs(t_p[0] - min(a.time for a in arrivals if a.name[0] in "pP")) < 0.002
        assert abs(t_s[0] - min(a.time for a in arrivals if a.name[0] in "sS")) < 0.002


def test_snr_as_requested_on_average(events):
    """SNR estimated from the noisy traces: (power after P - power before) / power before on Z."""
    w, p, s, meta = events
    rows = np.arange(len(p))[:, None]
    win = int(seismic.SNR_WINDOW * FS)
    after = (w[rows, 0, p[:, None] + np.arange(win)].astype(float) ** 2).mean(1)
    before = (w[rows, 0, p[:, None] - win + np.arange(win)].astype(float) ** 2).mean(1)
    estimate = 10 * np.log10(np.maximum(after - before, 1e-9) / before)
    assert abs(np.median(estimate - meta["snr_db"])) < 1.0
    strong = synthetic_events(50, seed=5, snr_db=(10.0, 10.0))[3]["snr_db"]
    assert np.allclose(strong, 10.0)


def test_p_is_on_the_vertical_and_s_on_the_horizontals():
    w, p, s, _ = synthetic_events(100, seed=2, snr_db=(30.0, 30.0))
    rows = np.arange(100)[:, None]
    near_p = w[rows, :, p[:, None] + np.arange(30)].astype(float) ** 2   # (n, 30, 3)
    near_s = w[rows, :, s[:, None] + np.arange(30)].astype(float) ** 2
    assert np.median(near_p[..., 0].sum(1) / near_p[..., 1:].sum((1, 2))) > 1.0
    assert np.median(near_s[..., 1:].sum((1, 2)) / near_s[..., 0].sum(1)) > 3.0


# --------------------------------------------------------------------------- labels and picks
def test_phase_labels_peaks_and_sum():
    p, s = np.array([500, 800]), np.array([1200, 1000])
    y = phase_labels(p, s, 3000)
    assert y.shape == (2, 3, 3000) and y.dtype == np.float32
    assert list(y[:, 0].argmax(1)) == [500, 800] and list(y[:, 1].argmax(1)) == [1200, 1000]
    assert np.allclose(y.sum(1), 1.0, atol=1e-6)
    assert y[0, 0, 510] == pytest.approx(np.exp(-0.5), rel=1e-5)   # one sigma = 0.1 s = 10 samples
    assert y.min() >= 0 and y.max() <= 1


def test_picks_from_probability_constructed_traces():
    t = np.arange(1000)
    trace = 0.9 * np.exp(-0.5 * ((t - 200) / 10) ** 2) + 0.7 * np.exp(-0.5 * ((t - 260) / 10) ** 2) \
        + 0.6 * np.exp(-0.5 * ((t - 700) / 10) ** 2) + 0.4 * np.exp(-0.5 * ((t - 900) / 10) ** 2)
    assert picks_from_probability(trace) == [[200, 700]]          # 260 is within 1 s of 200; 900 below 0.5
    assert picks_from_probability(trace, min_separation=0.5) == [[200, 260, 700]]
    assert picks_from_probability(trace, threshold=0.3, min_separation=0.5) == [[200, 260, 700, 900]]
    both = picks_from_probability(np.stack([trace, np.zeros(1000)]))
    assert both == [[200, 700], []]
    plateau = np.array([0, 0.8, 0.8, 0.8, 0])
    assert picks_from_probability(plateau) == [[1]]


def test_pick_scores_hand_worked():
    # event 0: one hit (5 samples off); event 1: a miss at 300 and a hit at 201; event 2 has no P
    assert pick_scores([100, 200, None], [[105], [300, 201], [50]], FS) == (0.5, 1.0, pytest.approx(2 / 3))
    # several predictions near one true pick: one TP, the other is an FP
    assert pick_scores([100], [[98, 102]], FS) == (0.5, 1.0, pytest.approx(2 / 3))
    # a missed event is an FN; an event with no prediction adds nothing to precision
    assert pick_scores([100, 500], [[100], []], FS) == (1.0, 0.5, pytest.approx(2 / 3))
    # the tolerance edge counts: 10 samples = 0.1 s at 100 Hz; 11 samples does not
    assert pick_scores([100], [[110]], FS) == (1.0, 1.0, 1.0)
    assert pick_scores([100], [[89]], FS) == (0.0, 0.0, 0.0)
    assert pick_scores([1000], [[1060]], 200.0, tolerance=0.3) == (1.0, 1.0, 1.0)


def test_pick_scores_zero_division_conventions():
    assert pick_scores([100, None], [[], []], FS) == (0.0, 0.0, 0.0)      # no predictions
    assert pick_scores([None, None], [[5], []], FS) == (0.0, 0.0, 0.0)    # no true picks
    assert pick_scores([None], [[]], FS) == (0.0, 0.0, 0.0)


def test_pick_residuals():
    r = pick_residuals([100, 200, None, 400], [[105], [300, 198], [50], [450]], FS)
    assert np.allclose(r, [0.05, -0.02])
    assert pick_residuals([100], [[95, 105]], FS).tolist() == [-0.05]   # a tie goes to the earlier
    assert pick_residuals([100], [[]], FS).shape == (0,)


# --------------------------------------------------------------------------- classical pickers
@pytest.fixture(scope="module")
def clean():
    return synthetic_events(10, seed=21, snr_db=(25.0, 25.0))


def test_sta_lta_finds_a_clean_p(clean):
    w, p, s, _ = clean
    picks = sta_lta_picks(w, FS)
    assert all(row and abs(row[0] - true) <= 0.3 * FS for row, true in zip(picks, p))


def test_ar_pick_finds_a_clean_p_and_an_s_after_it(clean):
    w, p, s, _ = clean
    p_picks, s_picks = ar_picks(w, FS)
    assert all(row and abs(row[0] - true) <= 0.3 * FS for row, true in zip(p_picks, p))
    assert sum(map(len, s_picks)) >= 7
    assert all(q[0] > row[0] for row, q in zip(p_picks, s_picks) if q)


# --------------------------------------------------------------------------- real events
def test_example_events_load_with_picks_inside_the_window():
    events = example_events()
    assert len(events) >= 2
    for e in events:
        assert e["waveforms"].shape == (3, 3000) and e["waveforms"].dtype == np.float32
        assert e["sampling_rate"] == 100.0 and e["reference"]
        for key in ("p_index", "s_index"):
            assert e[key] is None or 0 <= e[key] < 3000
        if e["reference_window"] is not None:
            lo, hi = e["reference_window"]
            assert 0 <= lo < hi < 3000
    rjob = events[0]
    assert rjob["p_index"] == 1064 and rjob["s_index"] == 1117   # 30.635 s and 31.165 s, window from 20 s
    # the signal really starts there: quiet before P, loud after
    z = rjob["waveforms"][0]
    assert np.abs(z[1070:1270]).max() > 10 * np.abs(z[800:1050]).max()


def test_classical_pickers_on_the_real_event_near_its_reference():
    rjob = example_events()[0]
    p_picks, _ = ar_picks(rjob["waveforms"][None], 100.0)
    assert abs(p_picks[0][0] - rjob["p_index"]) <= 10


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, match", [
    (lambda: synthetic_events(0, 1), "n"),
    (lambda: synthetic_events(3, 1, sampling_rate=0.0), "sampling_rate"),
    (lambda: synthetic_events(3, 1, snr_db=(10, 0)), "snr_db"),
    (lambda: synthetic_events(3, 1, duration=10.0), "duration"),
    (lambda: phase_labels([1, 2], [3], 100), "p_index"),
    (lambda: phase_labels([1], [3], 100, sigma=0.0), "sigma"),
    (lambda: picks_from_probability(np.zeros((2, 3, 4))), "prob"),
    (lambda: picks_from_probability([0.1, 0.2], threshold=1.5), "threshold"),
    (lambda: pick_scores([1, 2], [[1]], FS), "true_picks"),
    (lambda: pick_scores([1], [[1]], -1.0), "sampling_rate"),
    (lambda: pick_scores([1.5], [[1]], FS), "integer"),
    (lambda: pick_residuals([1], [[1]], FS, tolerance=-0.1), "tolerance"),
    (lambda: sta_lta_picks(np.zeros((2, 2, 100)), FS), "waveforms"),
    (lambda: sta_lta_picks(np.zeros((1, 3, 1000)), FS, sta=3.0, lta=2.0), "sta"),
    (lambda: ar_picks(np.zeros((1, 3, 1000)), FS, f1=30.0, f2=20.0), "f1"),
    (lambda: seismic.travel_times([5.0], [10]), "distance_km"),
    (lambda: example_events(duration=60.0), "duration"),
])
def test_bad_arguments_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()
