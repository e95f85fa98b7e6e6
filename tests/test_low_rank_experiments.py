"""Light tests of the low-rank chapter's experiments (lib.experiments.low_rank): argument checks, rank
and size bookkeeping, and the tiny computations. Nothing here trains a network or needs the cache's
trained weights; memoised calls write to a temporary cache."""

from __future__ import annotations

import pytest
import torch

from lib import lowrank
from lib.experiments import low_rank as LR
from lib.workbench.models import lenet_300_100


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FC_CACHE", str(tmp_path))
    return tmp_path


def test_factor_ranks_shrink_each_layer_about_c_times():
    for c in (2, 4, 6, 9, 12):
        ranks = LR.factor_ranks(c)
        for name, (m, n) in (("fc1", (300, 784)), ("fc2", (100, 300))):
            r = ranks[name]
            assert r * (m + n) <= m * n / c < (r + 1) * (m + n)   # the largest rank within the factor
    assert LR.factor_ranks(10_00) == {"fc1": 1, "fc2": 1}


@pytest.mark.parametrize("bad", [0, 1.0, -3, "6", float("nan")])
def test_factor_ranks_rejects_bad_factors(bad):
    with pytest.raises(ValueError, match="factor"):
        LR.factor_ranks(bad)


def test_svd_net_replaces_only_layers_that_get_smaller():
    net = lenet_300_100(seed=0).eval()
    small = LR.svd_net(net, {"fc1": 20, "fc2": 99, "fc3": 10})
    assert isinstance(small[0], torch.nn.Sequential)              # 20 * 1084 < 235,200: factorised
    assert isinstance(small[2], torch.nn.Linear)                  # 99 * 400 > 30,000: kept dense
    assert isinstance(small[4], torch.nn.Linear)                  # 10 * 110 > 1,000: kept dense ...
    assert small[4] is not net[4]                                 # ... as a copy
    x = torch.randn(5, 784, generator=torch.Generator().manual_seed(0))
    A, B = lowrank.truncated_svd(net[0].weight.detach().double(), 20)
    want = torch.relu(x @ (A @ B).float().T + net[0].bias)
    assert torch.allclose(small[1](small[0](x)), want, atol=1e-5)
    assert net[0].weight.shape == (300, 784)                      # the original is untouched


def test_svd_net_at_full_rank_keeps_the_layer():
    net = lenet_300_100(seed=0).eval()
    same = LR.svd_net(net, {"fc1": 300})
    x = torch.randn(3, 784, generator=torch.Generator().manual_seed(1))
    assert torch.equal(same(x), net(x))


@pytest.mark.parametrize("ranks, match", [({"fc4": 3}, "layer"), ({"fc1": 0}, "fc1"), ({"fc2": 101}, "fc2")])
def test_svd_net_rejects_bad_ranks(ranks, match):
    with pytest.raises(ValueError, match=match):
        LR.svd_net(lenet_300_100(seed=0), ranks)


@pytest.mark.parametrize("call, match", [
    (lambda: LR.svd_search(factors=[]), "factors"),
    (lambda: LR.svd_search(factors=[0.5]), "factors"),
    (lambda: LR.svd_search(finetune_epochs=-1), "finetune_epochs"),
    (lambda: LR.svd_search(lr=0), "lr"),
    (lambda: LR.svd_rank_point("fc9", 0.1), "layer"),
    (lambda: LR.svd_rank_point("fc1", 0.0), "fraction"),
    (lambda: LR.cp_curves(layer="conv1"), "layer"),
    (lambda: LR.cp_curves(init="hosvd"), "init"),
    (lambda: LR.cp_curves(rank=0), "rank"),
    (lambda: LR.cp_point(8, "ones"), "start"),
    (lambda: LR.tucker_point(0.0), "energy"),
    (lambda: LR.decompose_vgg("svd"), "method"),
    (lambda: LR.decompose_vgg("cp", cp_fraction=1.5), "cp_fraction"),
    (lambda: LR.decompose_vgg("cp", steps=-1), "steps"),
    (lambda: LR.tt_lenet(ranks=[]), "ranks"),
    (lambda: LR.tt_lenet(ranks=[0]), "ranks"),
    (lambda: LR.tt_bound(1.0), "eps"),
    (lambda: LR.five_way(budget=0), "budget"),
    (lambda: LR.five_way(layer="fc1"), "layer"),
    (lambda: LR.cp_degenerate(n_iters=[]), "n_iters"),
    (lambda: LR.linear_speed(n=1), "n"),
    (lambda: LR.linear_speed(ranks=[0]), "ranks"),
    (lambda: LR.vgg_latency({}), "nets"),
    (lambda: LR.svd_factor_point(5), None),
])
def test_bad_arguments_raise_before_any_work(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_tt_core_shapes_match_tt_svd():
    X = torch.randn(16, 8, 3, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for k in (1, 2, 3, 5, 16):
        cores = lowrank.tt_svd(X, max_rank=k)
        assert [tuple(G.shape) for G in cores] == [tuple(G.shape) for G in LR._tt_shapes(X.shape, k)]


def test_largest_rank_within_a_budget():
    assert LR._largest(lambda k: 10 * k, 95, 100) == 9
    assert LR._largest(lambda k: 10 * k, 5, 100) == 1            # even rank 1 is over: rank 1
    assert LR._largest(lambda k: 10 * k, 10_000, 7) == 7         # capped


def test_linear_speed_rows(tmp_cache):
    rows = LR.linear_speed(n=64, ranks=(4, 16), batches=(1, 3), runs=3)
    assert [(r["rank"], r["batch"]) for r in rows] == [(4, 1), (16, 1), (4, 3), (16, 3)]
    assert all(r["dense_ms"] > 0 and r["lowrank_ms"] > 0 for r in rows)
    assert [r["param_ratio"] for r in rows[:2]] == [8.0, 2.0]


def test_cp_degenerate_error_falls_and_weights_grow(tmp_cache):
    out = LR.cp_degenerate(n_iters=(10, 200))
    (a, b) = out["rows"]
    assert b["error"] < a["error"] and b["max_weight"] > a["max_weight"]
    assert len(out["errors"]) == 200 and out["errors"][-1] == pytest.approx(b["error"])
    assert out["errors"][-1] > 1e-4                               # no exact rank-2 fit exists
