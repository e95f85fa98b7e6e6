"""Fast checks of the combining chapter's helpers (no training, no cached runs)."""

import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from lib.coding import deep_compression_bits
from lib.experiments import combining as C
from lib.quantization import kmeans_quantize

PART_II = {"magnitude_pruning", "pruning_granularity", "pruning_criteria", "pruning_speed", "linear_quantization",
           "fake_quantization", "quantization_speed", "binary_networks", "weight_sharing", "huffman",
           "deep_compression", "fast_convolution", "low_rank", "structured_matrices", "hashing", "distillation",
           "compact_convolutions", "nas"}


def _pt(c, d, family="pruning"):
    return {"chapter": "x", "method": "m", "family": family, "network": "n", "compression": c, "delta": d}


def _brute_front(points, x="compression"):
    """Every point no other beats on both axes (x larger-or-equal, delta smaller-or-equal, one strictly)."""
    keep = []
    for i, p in enumerate(points):
        dominated = any((q[x] >= p[x] and q["delta"] <= p["delta"] and (q[x] > p[x] or q["delta"] < p["delta"]))
                        for q in points)
        duplicate = any(q[x] == p[x] and q["delta"] == p["delta"] for q in points[:i])
        if not dominated and not duplicate:
            keep.append(i)
    return keep


@pytest.mark.parametrize("seed", range(6))
def test_pareto_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    pts = [_pt(float(c), float(d)) for c, d in zip(rng.integers(1, 9, 25), rng.integers(-3, 5, 25) / 10)]
    front = C.pareto(pts)
    assert sorted(front) == _brute_front(pts)
    xs = [pts[i]["compression"] for i in front]
    assert xs == sorted(xs, reverse=True)  # largest compression first
    ds = [pts[i]["delta"] for i in front]
    assert ds == sorted(ds, reverse=True)  # along the front, more compression costs more error


def test_pareto_small_cases():
    assert C.pareto([]) == []
    pts = [_pt(10, 0.5), _pt(5, 0.0), _pt(4, 0.2), _pt(20, 2.0)]
    assert C.pareto(pts) == [3, 0, 1]   # (4, 0.2) is beaten by (5, 0.0)
    assert C.pareto([_pt(2, 1.0), _pt(2, 1.0)]) == [0]


def test_stacked_ratio_against_a_hand_count():
    # 1,000 weights, 100 kept, 5-bit codes and 5-bit gaps, 31 float32 centroids:
    # 32,000 bits against 100 * 10 + 31 * 32 = 1,992 bits
    assert C.stacked_ratio(1000, 100, 5, 5, 31) == pytest.approx(32_000 / 1_992)
    # no pruning, no index: 32 / b, less the codebook
    assert C.stacked_ratio(4096, 4096, 4, 0, 0) == 8.0
    # pruning alone times sharing alone bounds the stack from above
    assert C.stacked_ratio(1000, 100, 5, 5, 31) < (1000 / 100) * (32 / 5)


def test_stacked_ratio_agrees_with_deep_compression_bits_without_padding():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(40, 50, generator=g)
    w[torch.rand(40, 50, generator=g) > 0.3] = 0     # gaps of at most 31 are rare at 30 % kept: check it
    codebook, labels = kmeans_quantize(w, 2 ** 4 - 1, mask=w != 0)
    row = deep_compression_bits(codebook, labels, 5, 4)
    assert row["padding"] == 0
    nonzero = int((w != 0).sum())
    used = row["used_clusters"]
    assert row["fixed_total"] == nonzero * (4 + 5) + 32 * used
    assert C.stacked_ratio(w.numel(), nonzero, 4, 5, used) == pytest.approx(row["dense"] / row["fixed_total"])


@pytest.mark.parametrize("bad", [dict(weights=0), dict(nonzero=2000), dict(value_bits=0), dict(codebook=-1)])
def test_stacked_ratio_rejects_bad_arguments(bad):
    args = {"weights": 1000, "nonzero": 100, "value_bits": 5, "index_bits": 5, "codebook": 31, **bad}
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        C.stacked_ratio(**args)


def test_sharing_with_zeros_apart_keeps_the_sparsity():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(20, 30), nn.ReLU(), nn.Linear(30, 5))
    with torch.no_grad():
        for m in (net[0], net[2]):
            m.weight[torch.rand_like(m.weight) < 0.8] = 0
    apart, stats_apart = C._share_layers(net, {"0": 2, "2": 2}, exclude_zeros=True)
    mixed, stats_mixed = C._share_layers(net, {"0": 2, "2": 2}, exclude_zeros=False)
    for name in ("0", "2"):
        w = dict(net.named_modules())[name].weight
        assert stats_apart[name]["zeros_kept"] == 1.0
        assert torch.equal(dict(apart.named_modules())[name].weight == 0, w == 0)
        assert stats_apart[name]["distinct"] <= 2 ** 2          # 3 centroids and the zero
        assert stats_mixed[name]["distinct"] <= 2 ** 2
    assert net[0].weight.eq(0).float().mean() > 0.7             # the original is untouched


def test_chart_view_draws_what_the_selectors_ask():
    pts = [_pt(2, 0.05, "pruning"), _pt(8, 0.3, "quantisation"), _pt(30, 0.0, "combinations"),
           _pt(64, 5.0, "combinations")]
    for p in pts[:2]:
        p["speedup"] = 1.5
    every = C.chart_view(pts, "size", "all")
    assert every["shown"] == 3 and every["above"] == 1 and every["best"] == 30
    assert len(every["x"]) == len(every["front"]) == len(every["pruning"])
    only = C.chart_view(pts, "size", "quantisation")
    assert only["shown"] == 1 and all(v is None for v in only["pruning"])
    assert only["x"] != every["x"] or only["pruning"] != every["pruning"]
    lat = C.chart_view(pts, "latency", "all")
    assert lat["shown"] == 2 and math.log2(1.5) - 0.1 < min(v for v in lat["x"]) + 0.1
    with pytest.raises(ValueError, match="view"):
        C.chart_view(pts, "speed", "all")
    with pytest.raises(ValueError, match="family"):
        C.chart_view(pts, "size", "everything")


def test_every_part_ii_chapter_is_on_the_chart_or_says_why():
    import inspect
    named = set(C.OFF_CHART)
    src = inspect.getsource(C)
    named |= {c for c in PART_II if f'"{c}"' in src.split("OFF_CHART =")[0]}
    assert PART_II <= named, sorted(PART_II - named)
    assert set(C.SOURCES) <= set(C.FAMILIES)
    assert C.EXTRA_SOURCES == []          # the hook for later chapters, empty until one is added


def test_family_is_checked():
    with pytest.raises(ValueError, match="family"):
        C._point("x", "m", "magic", "n", 2.0, 0.01, 0.01)
    p = C._point("x", "m", "pruning", "n", 2.0, 0.012, 0.010)
    assert p["delta"] == pytest.approx(0.2)


def test_stretch_candidates_have_fewer_bits_than_deep_compression():
    from lib.experiments.deep_compression import DEEP_COMPRESSION_SETTINGS
    dc_bits = DEEP_COMPRESSION_SETTINGS["lenet5"]["weight_bits"]
    for conv, fc in C.STRETCH_CANDIDATES:
        assert conv < dc_bits["0"] and fc < dc_bits["5"]
    totals = [c + f for c, f in C.STRETCH_CANDIDATES]
    assert totals == sorted(totals)       # fewest bits first: the first that passes validation is kept
    assert list(itertools.accumulate(C.INDEX_BITS, max)) == list(C.INDEX_BITS)
