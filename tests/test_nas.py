"""lib.nas: the search space against lib.compact's formulas, the MnasNet reward, the Pareto front
against brute force, the searchers' invariants on toy objectives, and first-order DARTS against
autograd; lib.experiments.nas's helpers on synthetic records."""

import itertools
import math
import random

import numpy as np
import pytest
import torch
from torch import nn

from lib import compact, nas
from lib.core import config
from lib.experiments import nas as nas_exp


@pytest.fixture(autouse=True)
def one_thread():
    """One PyTorch thread, as the book runs: on a loaded machine two threads spin-wait for each other."""
    with config.threads(1):
        yield


def _bn(c):
    return 2 * c  # BatchNorm's weight and bias


@pytest.mark.parametrize("op", nas.OPS)
@pytest.mark.parametrize("c,size", [(16, 8), (32, 4)])
def test_every_op_keeps_shape(op, c, size):
    x = torch.randn(3, c, size, size)
    assert nas.make_op(op, c)(x).shape == x.shape


@pytest.mark.parametrize("c", [16, 32])
def test_op_params_match_compact_formulas(c):
    count = lambda m: sum(p.numel() for p in m.parameters())
    want = {"conv3x3": compact.params("standard", c, c, 3) + _bn(c),
            "conv1x1": compact.params("standard", c, c, 1) + _bn(c),
            "sep3x3": compact.params("depthwise_separable", c, c, 3) + _bn(c),
            "sep5x5": compact.params("depthwise_separable", c, c, 5) + _bn(c),
            "asym3x3": compact.params("asymmetric", c, c, 3) + _bn(c),
            "fire": compact.params("fire", c, c // 4, c // 2, c - c // 2) + _bn(c),
            "maxpool3x3": _bn(c), "skip": 0}
    assert set(want) == set(nas.OPS)
    for op, n in want.items():
        assert count(nas.make_op(op, c)) == n, op


def test_skip_positions_cost_nothing():
    count = lambda m: sum(p.numel() for p in m.parameters())
    all_skip = nas.build_network(("skip",) * nas.NUM_POSITIONS)
    g = ("conv3x3", "skip", "skip", "skip", "sep3x3", "skip")
    net = nas.build_network(g)
    extra = count(nas.make_op("conv3x3", 16)) + count(nas.make_op("sep3x3", 32))
    assert count(net) == count(all_skip) + extra
    assert count(all_skip) == 9 * 16 + _bn(16) + 16 * 32 + _bn(32) + 32 * 10 + 10


def test_build_network_is_seeded():
    g = ("fire", "asym3x3", "sep5x5", "conv1x1", "maxpool3x3", "conv3x3")
    x = torch.randn(4, 1, 8, 8)
    a, b, c = nas.build_network(g, seed=1), nas.build_network(g, seed=1), nas.build_network(g, seed=2)
    a.eval(), b.eval(), c.eval()
    torch.testing.assert_close(a(x), b(x))
    assert not torch.allclose(a(x), c(x))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="genotype"):
        nas.build_network(("conv3x3",) * 5)
    with pytest.raises(ValueError, match="genotype"):
        nas.build_network(("conv7x7",) * 6)
    with pytest.raises(ValueError, match="name"):
        nas.make_op("conv7x7", 8)
    with pytest.raises(ValueError, match="target"):
        nas.mnas_reward(0.9, 1.0, 0.0)
    with pytest.raises(ValueError, match="latency"):
        nas.mnas_reward(0.9, -1.0, 1.0)
    with pytest.raises(ValueError, match="budget"):
        nas.random_search(len, 0)
    with pytest.raises(ValueError, match="sample"):
        nas.regularized_evolution(len, 10, population=4, sample=5)
    with pytest.raises(ValueError, match="same shape"):
        nas.expected_latency(torch.zeros(6, 8), torch.zeros(6, 7))
    with pytest.raises(ValueError, match="searcher"):
        nas_exp.search("bayesian", 3)


# --------------------------------------------------------------------------- reward and front
def test_mnas_reward_formula():
    acc, lat, T = 0.93, 2.5, 1.7
    assert nas.mnas_reward(acc, lat, T) == pytest.approx(acc * (lat / T) ** -0.07, rel=1e-12)
    # the paper's rationale: twice the latency is worth about 5 % relative accuracy
    ratio = nas.mnas_reward(0.9 * 1.05, 2.0, 1.0) / nas.mnas_reward(0.9, 1.0, 1.0)
    assert ratio == pytest.approx(1.0, abs=0.003)
    # hard constraint: alpha = 0, beta = -1
    assert nas.mnas_reward(0.8, 0.5, 1.0, 0.0, -1.0) == pytest.approx(0.8)
    assert nas.mnas_reward(0.8, 2.0, 1.0, 0.0, -1.0) == pytest.approx(0.4)
    np.testing.assert_allclose(nas.mnas_reward([0.8, 0.9], [1.0, 1.0], 1.0), [0.8, 0.9])


def test_target_does_not_change_rankings_when_alpha_equals_beta():
    rng = np.random.default_rng(0)
    acc, lat = rng.uniform(0.8, 1.0, 50), rng.uniform(0.1, 2.0, 50)
    order = [np.argsort(nas.mnas_reward(acc, lat, T)) for T in (0.1, 0.5, 3.0)]
    assert all((o == order[0]).all() for o in order)


def _dominated(i, e, t):
    return any(e[j] <= e[i] and t[j] <= t[i] and (e[j] < e[i] or t[j] < t[i]) for j in range(len(e)))


@pytest.mark.parametrize("seed", range(5))
def test_pareto_front_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    e = rng.integers(0, 8, 40) / 100  # ties on purpose
    t = rng.integers(1, 10, 40) / 10
    front = nas.pareto_front(e, t)
    brute = sorted((i for i in range(len(e)) if not _dominated(i, e, t)), key=lambda i: (t[i], e[i]))
    # duplicates of a front point (same error, same latency) are kept once
    assert [(t[i], e[i]) for i in front] == sorted({(t[i], e[i]) for i in brute})
    assert all(np.diff(t[front]) > 0) and all(np.diff(e[front]) < 0)


# --------------------------------------------------------------------------- searchers
def test_mutate_changes_exactly_one_position_and_reaches_everything():
    rng = random.Random(0)
    g = nas.random_genotype(rng)
    seen = set()
    for _ in range(2000):
        child = nas.mutate(g, rng)
        diff = [i for i in range(len(g)) if g[i] != child[i]]
        assert len(diff) == 1 and child[diff[0]] in nas.OPS
        seen.add((diff[0], child[diff[0]]))
    assert seen == {(i, op) for i in range(len(g)) for op in nas.OPS if op != g[i]}


def test_random_search_is_seeded_and_uniform():
    h1 = nas.random_search(lambda g: 0.0, 400, seed=3)
    h2 = nas.random_search(lambda g: 0.0, 400, seed=3)
    assert [h["genotype"] for h in h1] == [h["genotype"] for h in h2] and len(h1) == 400
    counts = np.array([sum(h["genotype"][0] == op for h in h1) for op in nas.OPS])
    expected = 400 / len(nas.OPS)
    assert ((counts - expected) ** 2 / expected).sum() < 24.3  # chi-squared, 7 dof, p = 0.001


def test_evolution_children_descend_from_the_living_population():
    P = 6
    hist = nas.regularized_evolution(lambda g: g.count("conv3x3") + random.Random(str(g)).random(), 80,
                                     population=P, sample=2, seed=1)
    assert len(hist) == 80
    for t in range(P, len(hist)):
        alive = hist[t - P:t]  # aging: exactly the P most recent are alive
        child = hist[t]["genotype"]
        assert any(sum(a != b for a, b in zip(m["genotype"], child)) == 1 for m in alive)


def test_evolution_beats_random_search_on_a_toy_objective():
    target = ("conv3x3", "sep3x3", "fire", "conv1x1", "asym3x3", "sep5x5")
    f = lambda g: sum(a == b for a, b in zip(g, target))
    best = lambda h: max(x["fitness"] for x in h)
    evo = np.mean([best(nas.regularized_evolution(f, 100, population=10, sample=3, seed=s)) for s in range(20)])
    rs = np.mean([best(nas.random_search(f, 100, seed=s)) for s in range(20)])
    assert evo > rs + 0.8  # measured: 4.75 against 3.3 positions right


# --------------------------------------------------------------------------- DARTS
def test_mixed_op_is_a_softmax_weighted_sum():
    torch.manual_seed(0)
    m = nas.MixedOp(8).eval()
    x = torch.randn(2, 8, 4, 4)
    outs = [op(x) for op in m.ops]
    torch.testing.assert_close(m(x, torch.full((len(nas.OPS),), 1 / len(nas.OPS))),
                               sum(outs) / len(nas.OPS))
    k = nas.OPS.index("sep3x3")
    torch.testing.assert_close(m(x, torch.nn.functional.one_hot(torch.tensor(k), len(nas.OPS)).float()), outs[k])


def test_supernet_genotype_is_argmax_and_weights_exclude_alpha():
    net = nas.SuperNet()
    with torch.no_grad():
        for i in range(nas.NUM_POSITIONS):
            net.alpha[i, (3 * i) % len(nas.OPS)] = 1.0
    assert net.genotype() == tuple(nas.OPS[(3 * i) % len(nas.OPS)] for i in range(nas.NUM_POSITIONS))
    assert all(p is not net.alpha for p in net.weights())
    assert len(net.weights()) + 1 == len(list(net.parameters()))
    assert net(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


def test_expected_latency_and_its_gradient():
    g = torch.Generator().manual_seed(0)
    alpha = torch.randn(6, len(nas.OPS), generator=g, requires_grad=True)
    table = torch.rand(6, len(nas.OPS), generator=g)
    e = nas.expected_latency(alpha, table)
    assert e.detach().item() == pytest.approx(float((torch.softmax(alpha.detach(), 1) * table).sum()), rel=1e-6)
    e.backward()
    p = torch.softmax(alpha.detach(), 1)
    want = p * (table - (p * table).sum(1, keepdim=True))  # d/d alpha of sum p t
    torch.testing.assert_close(alpha.grad, want)


def test_first_order_darts_step_against_autograd():
    torch.manual_seed(0)
    net = nas.SuperNet(widths=(4, 4))
    with torch.no_grad():
        net.alpha.normal_()
    table = torch.rand(nas.NUM_POSITIONS, len(nas.OPS)) + 0.1
    xt, yt = torch.randn(8, 1, 8, 8), torch.randint(0, 10, (8,))
    xv, yv = torch.randn(8, 1, 8, 8), torch.randint(0, 10, (8,))
    lam, lr = 0.3, 0.5
    # the expected alpha update: gradient of L_val + lam log E[LAT] at the current weights (no
    # second-order term), in train mode as the step runs
    ref = nas.SuperNet(widths=(4, 4))
    ref.load_state_dict(net.state_dict())
    ref.train()
    obj = nn.functional.cross_entropy(ref(xv), yv) + lam * torch.log(nas.expected_latency(ref.alpha, table))
    (g_alpha,) = torch.autograd.grad(obj, ref.alpha)
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    w_opt = torch.optim.SGD(net.weights(), lr=0.0)
    a_opt = torch.optim.SGD([net.alpha], lr=lr)
    nas.darts_step(net, w_opt, a_opt, (xt, yt), (xv, yv), table, lam)
    torch.testing.assert_close(net.alpha.detach(), before["alpha"] - lr * g_alpha, rtol=1e-5, atol=1e-6)
    for n, p in net.named_parameters():
        if n != "alpha":
            torch.testing.assert_close(p.detach(), before[n])  # lr 0: weights unchanged


def test_darts_latency_term_alone_picks_the_cheapest_op():
    torch.manual_seed(0)
    net = nas.SuperNet(widths=(4, 4))
    table = torch.ones(nas.NUM_POSITIONS, len(nas.OPS))
    cheap = nas.OPS.index("conv1x1")
    table[:, cheap] = 0.01
    x, y = torch.randn(16, 1, 8, 8), torch.randint(0, 10, (16,))
    w_opt = torch.optim.SGD(net.weights(), lr=0.01)
    a_opt = torch.optim.Adam([net.alpha], lr=0.1)
    for _ in range(30):
        nas.darts_step(net, w_opt, a_opt, (x, y), (x, y), table, 10.0)
    assert net.genotype() == ("conv1x1",) * nas.NUM_POSITIONS


# --------------------------------------------------------------------------- experiment helpers
def test_fitness_and_trajectories_on_synthetic_records():
    assert nas_exp.fitness(0.05, nas_exp.TARGET_MS) == pytest.approx(0.95)
    recs = [{"fitness": f, "cpu_s": s} for f, s in [(0.5, 1.0), (0.4, 2.0), (0.9, 3.0)]]
    tr = nas_exp.trajectories({"a": {"records": recs}}, [0.5, 1.0, 2.5, 3.0])
    assert tr["a"]["best"] == [None, 0.5, 0.5, 0.9] and tr["a"]["count"] == [0, 1, 2, 3]
    assert nas_exp.best(recs)["fitness"] == 0.9


@pytest.mark.parametrize("name", nas_exp.HAND_DESIGNED)
def test_hand_designed_networks_take_digit_images(name):
    assert nas_exp.hand_network(name)(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
