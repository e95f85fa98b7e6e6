"""lib.quantization against PyTorch's fake-quantisation ops and observers, and the invariants of
uniform quantisation, k-means weight sharing and vector quantisation."""

from __future__ import annotations

import math

import pytest
import torch
from torch.ao.quantization.observer import MinMaxObserver, PerChannelMinMaxObserver

from lib import quantization as Q

torch.set_num_threads(1)


def random_case(g, bits, symmetric):
    """A random tensor, scale and zero point for ``bits``-bit codes, with values exactly at half steps."""
    qmin, qmax = Q.quant_range(bits, symmetric)
    scale = float(10 ** (torch.rand(1, generator=g) * 4 - 3))
    zp = int(torch.randint(qmin, qmax + 1, (1,), generator=g))
    x = torch.randn(300, generator=g) * scale * (qmax - qmin) / 3
    k = torch.randint(qmin - zp - 3, qmax - zp + 3, (200,), generator=g).float()
    ties = (k + 0.5) * torch.tensor(scale, dtype=torch.float32)  # x / s lands on (or next to) a half step
    return torch.cat([x, ties, torch.zeros(1)]), scale, zp, qmin, qmax


# --------------------------------------------------------------------------- uniform quantisation
@pytest.mark.parametrize("bits", range(2, 9))
@pytest.mark.parametrize("symmetric", [False, True])
def test_fake_quantize_equals_pytorch_exactly(bits, symmetric):
    g = torch.Generator().manual_seed(bits * 2 + int(symmetric))
    for _ in range(40):
        x, scale, zp, qmin, qmax = random_case(g, bits, symmetric)
        for dtype in (torch.float32, torch.float64):
            xx = x.to(dtype)
            ref = torch.fake_quantize_per_tensor_affine(xx, scale, zp, qmin, qmax)
            assert torch.equal(Q.fake_quantize(xx, scale, zp, qmin, qmax), ref)
        q = Q.linear_quantize(x, scale, zp, qmin, qmax)
        assert q.dtype == torch.int64 and int(q.min()) >= qmin and int(q.max()) <= qmax
        assert torch.equal(Q.dequantize(q, scale, zp), torch.fake_quantize_per_tensor_affine(x, scale, zp, qmin, qmax))


def test_ties_are_decided_as_pytorch_decides_them():
    # x / s = 7.4999995 rounds to 7, but PyTorch computes x * (1/s) = 7.5, a tie, which rounds to even 8.
    x = torch.tensor([2.25])
    assert float(torch.round(x / torch.tensor(0.3))) == 7.0
    assert int(Q.linear_quantize(x, 0.3, 0, 0, 15)) == 8
    assert torch.equal(Q.fake_quantize(x, 0.3, 0, 0, 15), torch.fake_quantize_per_tensor_affine(x, 0.3, 0, 0, 15))
    # exact halves round half to even
    assert Q.linear_quantize(torch.tensor([0.5, 1.5, 2.5, -0.5, -1.5]), 1.0, 0, -8, 7).tolist() == [0, 2, 2, 0, -2]


def test_fake_quantize_gradient_is_pytorchs_straight_through_estimator():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2000, generator=g) * 3
    weights = torch.randn(2000, generator=g)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    (Q.fake_quantize(a, 0.05, 3, 0, 63) * weights).sum().backward()
    (torch.fake_quantize_per_tensor_affine(b, 0.05, 3, 0, 63) * weights).sum().backward()
    assert torch.equal(a.grad, b.grad)
    assert 0 < int((a.grad == 0).sum()) < 2000  # some values were clipped, some were not


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
@pytest.mark.parametrize("symmetric", [False, True])
def test_fake_quantize_per_channel_equals_pytorch(axis, symmetric):
    g = torch.Generator().manual_seed(axis + 10 + 10 * int(symmetric))
    for bits in range(2, 9):
        qmin, qmax = Q.quant_range(bits, symmetric)
        x = torch.randn(6, 5, 4, generator=g)
        n = x.shape[axis]
        scale = torch.rand(n, generator=g) * 0.3 + 0.01
        zp = torch.randint(qmin, qmax + 1, (n,), generator=g, dtype=torch.int32)
        x = torch.cat([x, (torch.randint(-20, 20, x.shape, generator=g) + 0.5) * scale.reshape(
            [n if d == axis % 3 else 1 for d in range(3)])], dim=(axis + 1) % 3)  # half steps of each channel
        ours = Q.fake_quantize_per_channel(x, scale, zp, axis, qmin, qmax)
        ref = torch.fake_quantize_per_channel_affine(x, scale, zp, axis % 3, qmin, qmax)  # PyTorch: axis >= 0 only
        assert torch.equal(ours, ref)


def test_fake_quantize_per_channel_on_float64_computes_in_double_like_pytorch():
    # issue 11: (q - z) * s was rounded to float32, where PyTorch's per-channel kernel works in double
    x = torch.tensor([[0.3, 0.7, 1.1]], dtype=torch.float64)
    scale, zp = torch.full((3,), 0.1), torch.zeros(3, dtype=torch.int32)
    ours = Q.fake_quantize_per_channel(x, scale, zp, 1, -128, 127)
    assert ours.dtype == torch.float64
    assert torch.equal(ours, torch.fake_quantize_per_channel_affine(x, scale, zp, 1, -128, 127))
    by_formula = torch.tensor([[3.0, 7.0, 11.0]], dtype=torch.float64) * scale.double()  # PyTorch's formula, in double
    assert torch.equal(ours, by_formula)
    assert not torch.equal(ours, by_formula.float().double())  # float32 rounding would show here
    g = torch.Generator().manual_seed(11)
    for axis in (0, 1):
        for _ in range(100):
            x = torch.randn(7, 9, generator=g, dtype=torch.float64) * 2
            n = x.shape[axis]
            scale = torch.rand(n, generator=g) * 0.2 + 0.005
            zp = torch.randint(-20, 20, (n,), generator=g, dtype=torch.int32)
            ref = torch.fake_quantize_per_channel_affine(x, scale, zp, axis, -128, 127)
            assert torch.equal(Q.fake_quantize_per_channel(x, scale, zp, axis, -128, 127), ref)


def test_quantisers_return_an_empty_tensor_empty_as_pytorch_does():
    for shape in [(0,), (0, 3), (2, 0, 3)]:
        for dtype in (torch.float32, torch.float64):
            e = torch.empty(shape, dtype=dtype)
            ref = torch.fake_quantize_per_tensor_affine(e, 0.1, 0, -128, 127)
            got = Q.fake_quantize(e, 0.1, 0, -128, 127)
            assert got.shape == ref.shape == e.shape and got.dtype == ref.dtype
            assert Q.linear_quantize(e, 0.1, 0, -128, 127).shape == e.shape
        if len(shape) > 1:
            n = shape[-1]
            args = (torch.full((n,), 0.1), torch.zeros(n, dtype=torch.int32), len(shape) - 1, -128, 127)
            got = Q.fake_quantize_per_channel(torch.empty(shape), *args)
            assert got.shape == torch.fake_quantize_per_channel_affine(torch.empty(shape), *args).shape == shape


def test_infinities_are_clamped_to_the_grid_ends_as_pytorch_does():
    inf = math.inf
    for dtype in (torch.float32, torch.float64):
        x = torch.tensor([inf, -inf, 0.26, -0.3], dtype=dtype)
        a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
        ours = Q.fake_quantize(a, 0.1, 3, -8, 7)
        ref = torch.fake_quantize_per_tensor_affine(b, 0.1, 3, -8, 7)
        assert torch.equal(ours, ref)
        assert ours[0].item() == pytest.approx(0.4) and ours[1].item() == pytest.approx(-1.1)  # (7-3)s, (-8-3)s
        ours.sum().backward()
        ref.sum().backward()
        assert torch.equal(a.grad, b.grad) and a.grad[:2].tolist() == [0.0, 0.0]
    assert Q.linear_quantize(torch.tensor([inf, -inf]), 0.1, 0, -8, 7).tolist() == [7, -8]
    # per channel: -inf as PyTorch; +inf to the high end, where PyTorch's kernel gives the low end
    # (its cast of an infinite code to int64 before clamping), the difference the docstring states
    x = torch.tensor([[-inf, inf, 0.26]])
    scale, zp = torch.full((3,), 0.1), torch.zeros(3, dtype=torch.int32)
    ours = Q.fake_quantize_per_channel(x, scale, zp, 1, -8, 7)
    ref = torch.fake_quantize_per_channel_affine(x, scale, zp, 1, -8, 7)
    assert ours[0, 0] == ref[0, 0] and ours[0, 2] == ref[0, 2]
    assert ours[0, 1].item() == pytest.approx(0.7)
    with pytest.raises(ValueError, match="nan"):
        Q.fake_quantize(torch.tensor([1.0, math.nan]), 0.1, 0, -8, 7)


@pytest.mark.filterwarnings("ignore:Please use quant_min and quant_max")  # reduce_range, checked on purpose
@pytest.mark.parametrize("symmetric", [False, True])
def test_minmax_qparams_equal_pytorch_observers(symmetric):
    g = torch.Generator().manual_seed(int(symmetric))
    dtype = torch.qint8 if symmetric else torch.quint8
    scheme = torch.per_tensor_symmetric if symmetric else torch.per_tensor_affine
    for i in range(200):
        spread, shift = float(torch.rand(1, generator=g) * 10), float(torch.randn(1, generator=g) * 3)
        x = torch.randn(100, generator=g) * spread + shift
        if i % 10 == 0:
            x = x.abs()  # all positive: the range is widened to include 0
        for num_bits, obs in [(8, MinMaxObserver(dtype=dtype, qscheme=scheme)),
                              (7, MinMaxObserver(dtype=dtype, qscheme=scheme, reduce_range=True))]:
            obs(x)
            scale, zp = obs.calculate_qparams()
            assert Q.qparams(x, num_bits, symmetric=symmetric) == (float(scale), int(zp))
    if symmetric:  # the restricted range [-127, 127], as an observer with a custom range
        obs = MinMaxObserver(dtype=torch.qint8, qscheme=scheme, quant_min=-127, quant_max=127)
        obs(x)
        scale, zp = obs.calculate_qparams()
        assert Q.qparams(x, 8, symmetric=True, restricted=True) == (float(scale), int(zp))
    # an all-zero tensor: the scale is clamped to float32's epsilon, as PyTorch does
    assert Q.qparams(torch.zeros(5), 8, symmetric=symmetric)[0] == torch.finfo(torch.float32).eps


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("symmetric", [False, True])
def test_per_channel_qparams_equal_pytorch_observer(axis, symmetric):
    x = torch.randn(8, 6, 3, generator=torch.Generator().manual_seed(axis))
    obs = PerChannelMinMaxObserver(ch_axis=axis, dtype=torch.qint8 if symmetric else torch.quint8,
                                   qscheme=torch.per_channel_symmetric if symmetric else torch.per_channel_affine)
    obs(x)
    scale, zp = obs.calculate_qparams()
    ours_scale, ours_zp = Q.per_channel_qparams(x, 8, axis, symmetric)
    assert torch.equal(ours_scale, scale) and torch.equal(ours_zp.long(), zp.long())
    assert ours_zp.dtype == torch.int32  # what torch.fake_quantize_per_channel_affine accepts


@pytest.mark.parametrize("method", ["minmax", "percentile", "mse"])
@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("bits", [2, 4, 8])
def test_error_at_most_half_a_step_inside_the_range_and_zero_exact(method, symmetric, bits):
    g = torch.Generator().manual_seed(bits)
    x = torch.cat([torch.randn(500, generator=g) + 0.7, torch.tensor([6.0, -4.0])])  # two outliers
    scale, zp = Q.qparams(x, bits, symmetric, method, grid=50)
    qmin, qmax = Q.quant_range(bits, symmetric)
    assert qmin <= zp <= qmax and (zp == 0 or not symmetric)
    lo, hi = scale * (qmin - zp), scale * (qmax - zp)
    grid = torch.linspace(lo, hi, 10_001)
    err = (Q.fake_quantize(grid, scale, zp, qmin, qmax) - grid).abs()
    assert float(err.max()) <= scale / 2 * (1 + 1e-5)
    assert float(Q.fake_quantize(torch.zeros(3), scale, zp, qmin, qmax).abs().max()) == 0.0  # 0 is on the grid
    inside = (x >= lo) & (x <= hi)
    assert float((Q.fake_quantize(x, scale, zp, qmin, qmax) - x)[inside].abs().max()) <= scale / 2 * (1 + 1e-5)


def test_mse_and_percentile_beat_minmax_on_outliers():
    g = torch.Generator().manual_seed(0)
    x = torch.cat([torch.randn(5000, generator=g), torch.tensor([40.0])])
    minmax = Q.quantization_error(x, 4, symmetric=True)
    mse = Q.quantization_error(x, 4, symmetric=True, method="mse")
    pct = Q.quantization_error(x, 4, symmetric=True, method="percentile", percentile=99.9)
    assert mse["mse"] <= minmax["mse"] and pct["mse"] < minmax["mse"]
    assert mse["scale"] < minmax["scale"] and pct["scale"] < minmax["scale"]
    assert minmax["clipped"] == 0.0 and mse["clipped"] > 0.0
    assert mse["sqnr_db"] > minmax["sqnr_db"]
    # the percentile range is the percentile of |x|
    amax = torch.quantile(x.abs().double(), 0.999).item()
    assert math.isclose(pct["scale"], amax / 7.5, rel_tol=1e-6)


def test_quantization_error_reports_consistent_numbers():
    x = torch.linspace(-1, 3, 101)
    r = Q.quantization_error(x, 8)
    x_hat = Q.fake_quantize(x, r["scale"], r["zero_point"], r["quant_min"], r["quant_max"])
    assert math.isclose(r["mse"], float((x_hat.double() - x.double()).pow(2).mean()))
    assert r["max_error"] <= r["scale"] / 2 * (1 + 1e-6)
    assert Q.quantization_error(torch.zeros(4), 4)["sqnr_db"] == math.inf


ZP3 = torch.zeros(3, dtype=torch.int32)


def test_quant_range():
    assert Q.quant_range(4) == (0, 15)
    assert Q.quant_range(4, symmetric=True) == (-8, 7)
    assert Q.quant_range(4, symmetric=True, restricted=True) == (-7, 7)


@pytest.mark.parametrize("call, name", [
    (lambda: Q.quant_range(0), "num_bits"),
    (lambda: Q.qparams(torch.randn(4), 0), "num_bits"),
    (lambda: Q.qparams(torch.randn(4), 8, method="max"), "method"),
    (lambda: Q.qparams(torch.randn(4), 8, method="percentile", percentile=0), "percentile"),
    (lambda: Q.qparams(torch.tensor([1.0, math.inf]), 8), "x"),
    (lambda: Q.qparams(torch.tensor([1, 2]), 8), "x"),
    (lambda: Q.fake_quantize(torch.randn(4), 0.0, 0, 0, 255), "scale"),
    (lambda: Q.fake_quantize(torch.randn(4), -0.1, 0, 0, 255), "scale"),
    (lambda: Q.fake_quantize(torch.randn(4), 1e-60, 0, 0, 255), "scale"),
    (lambda: Q.fake_quantize(torch.randn(4), 0.1, 0, 5, 5), "quant_min"),
    (lambda: Q.fake_quantize(torch.randn(4), 0.1, 300, 0, 255), "zero_point"),
    (lambda: Q.linear_quantize(torch.randn(4), 0.1, 0, 10, 2), "quant_min"),
    (lambda: Q.dequantize(torch.randn(4), 0.1, 0), "q"),
    (lambda: Q.fake_quantize_per_channel(torch.randn(3, 4), torch.ones(4), ZP3, 0, 0, 255), "scale"),
    (lambda: Q.fake_quantize_per_channel(torch.randn(3, 4), -torch.ones(3), ZP3, 0, 0, 255), "scale"),
    (lambda: Q.fake_quantize_per_channel(torch.randn(3, 4), torch.ones(3), torch.zeros(3), 0, 0, 255), "zero_point"),
    (lambda: Q.fake_quantize_per_channel(torch.randn(3, 4), torch.ones(3), ZP3 + 300, 0, 0, 255), "zero_point"),
    (lambda: Q.fake_quantize_per_channel(torch.randn(3, 4), torch.ones(3), ZP3, 2, 0, 255), "axis"),
    (lambda: Q.per_channel_qparams(torch.randn(3, 4), 8, axis=5), "axis"),
])
def test_bad_arguments_raise_valueerror_naming_them(call, name):
    with pytest.raises(ValueError, match=name):
        call()


# --------------------------------------------------------------------------- k-means weight sharing
@pytest.mark.parametrize("init", ["linear", "density", "random"])
def test_lloyd_never_increases_the_error_and_converges_to_a_fixed_point(init):
    w = torch.randn(64, 50, generator=torch.Generator().manual_seed(1))
    history = Q.kmeans_history(w, 16, init, iters=100)
    assert all(b <= a * (1 + 1e-12) for a, b in zip(history, history[1:]))
    codebook, labels = Q.kmeans_quantize(w, 16, init, iters=100)
    assert labels.shape == w.shape and codebook.shape == (16,)
    assert torch.equal(codebook, codebook.sort().values)
    shared = codebook[labels]
    assert math.isclose(float((shared.double() - w.double()).pow(2).mean()), history[-1], rel_tol=1e-5)
    # fixed point: every weight is at its nearest centroid, every used centroid is its cluster's mean
    nearest = (w.reshape(-1, 1) - codebook).abs().min(dim=1).values
    assert torch.allclose((w - shared).abs().reshape(-1), nearest, atol=1e-6)
    for k in labels.unique():
        assert torch.isclose(codebook[k], w[labels == k].double().mean().float(), atol=1e-6)


def test_initialisations():
    w = torch.randn(1000, generator=torch.Generator().manual_seed(2))
    linear, _ = Q.kmeans_quantize(w, 5, "linear", iters=0)
    assert torch.allclose(linear, torch.linspace(float(w.min()), float(w.max()), 5))
    density, _ = Q.kmeans_quantize(w, 4, "density", iters=0)
    assert torch.allclose(density, torch.quantile(w, torch.tensor([0.125, 0.375, 0.625, 0.875])))
    random, _ = Q.kmeans_quantize(w, 6, "random", iters=0, seed=3)
    assert all(bool((w == c).any()) for c in random)  # picked among the weights
    # linear spends centroids on the tails, density on the bulk
    assert float(linear.abs().max()) > float(density.abs().max())


def test_same_seed_same_numbers():
    w = torch.randn(500, generator=torch.Generator().manual_seed(3))
    a = Q.kmeans_quantize(w, 8, "random", seed=5)
    b = Q.kmeans_quantize(w, 8, "random", seed=5)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    c = Q.kmeans_quantize(w, 8, "random", seed=6, iters=0)
    d = Q.kmeans_quantize(w, 8, "random", seed=5, iters=0)
    assert not torch.equal(c[0], d[0])
    assert Q.qparams(w, 4, method="mse") == Q.qparams(w, 4, method="mse")


def test_mask_keeps_pruned_weights_exactly_zero():
    g = torch.Generator().manual_seed(4)
    w = torch.randn(40, 30, generator=g)
    mask = torch.rand(40, 30, generator=g) < 0.2
    codebook, labels = Q.kmeans_quantize(w * mask, 7, mask=mask)
    assert codebook.shape == (8,) and float(codebook[0]) == 0.0
    assert bool((labels[~mask] == 0).all()) and bool((labels[mask] >= 1).all()) and int(labels.max()) <= 7
    shared = codebook[labels]
    assert bool((shared[~mask] == 0).all())
    # only kept weights were clustered: same centroids as clustering them alone
    alone, _ = Q.kmeans_quantize(w[mask], 7)
    assert torch.allclose(codebook[1:], alone)


@pytest.mark.parametrize("k", [0, 5])
def test_bad_cluster_counts_raise(k):
    with pytest.raises(ValueError, match="n_clusters"):
        Q.kmeans_quantize(torch.tensor([1.0, 2.0, 2.0, 3.0]), k)  # 3 distinct values
    with pytest.raises(ValueError, match="init"):
        Q.kmeans_quantize(torch.tensor([1.0, 2.0]), 2, init="kmeans++")


def test_centroid_gradients_by_hand_and_by_autograd():
    grad = torch.tensor([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]])
    labels = torch.tensor([[0, 2, 0], [1, 2, 3]])
    expected = torch.tensor([0.1 + 0.3, 0.4, -0.2 + 0.5, -0.6])
    assert torch.allclose(Q.centroid_gradients(grad, labels, 4), expected)
    codebook = torch.randn(4, requires_grad=True)
    (codebook[labels] * grad).sum().backward()  # d/dW of this loss is grad
    assert torch.allclose(codebook.grad, expected)
    with pytest.raises(ValueError, match="labels"):
        Q.centroid_gradients(grad, labels, 3)


def test_share_weights_trains_the_centroids_only():
    from torch import nn

    torch.manual_seed(0)
    layer = nn.Linear(20, 10)
    mask = torch.rand(10, 20) < 0.3
    with torch.no_grad():
        layer.weight.mul_(mask)
    shared = Q.share_weights(layer, 4, mask=mask)
    x = torch.randn(8, 20)
    loss = layer(x).pow(2).sum()
    loss.backward()
    expected = Q.centroid_gradients(_weight_grad(layer, x), shared.labels, 5)[1:]
    assert torch.allclose(shared.centroids.grad, expected, atol=1e-5)
    opt = torch.optim.SGD([p for p in layer.parameters() if p.requires_grad], lr=0.1)
    opt.step()
    assert bool((layer.weight[~mask] == 0).all())
    assert len(layer.weight[mask].unique()) <= 4


def _weight_grad(layer, x):
    """dL/dW for L = sum(layer(x)^2), computed directly."""
    out = x @ layer.weight.detach().T + layer.bias.detach()
    return (2 * out).T @ x


# --------------------------------------------------------------------------- vector quantisation
def test_product_quantization_bits_match_the_formula():
    W = torch.randn(64, 32, generator=torch.Generator().manual_seed(5))
    for s, k in [(4, 8), (8, 16), (1, 4)]:
        codebooks, codes = Q.product_quantize(W, s, k)
        assert codebooks.shape == (s, k, 32 // s) and codes.shape == (64, s)
        stored = 32 * codebooks.numel() + codes.numel() * math.log2(k)
        assert math.isclose(Q.pq_compression_ratio(64, 32, k, s), 32 * W.numel() / stored)
        assert Q.pq_reconstruct(codebooks, codes).shape == W.shape
    codebooks, codes = Q.product_quantize(W, 4, 64)  # one centroid per row: exact
    assert torch.allclose(Q.pq_reconstruct(codebooks, codes), W)


def test_residual_quantization_improves_with_stages_and_matches_the_formula():
    W = torch.randn(64, 8, generator=torch.Generator().manual_seed(6))
    errors = []
    for t in (1, 2, 3):
        codebooks, codes = Q.residual_quantize(W, t, 8)
        errors.append(float((Q.rq_reconstruct(codebooks, codes) - W).pow(2).mean()))
        stored = 32 * codebooks.numel() + codes.numel() * math.log2(8)
        assert math.isclose(Q.rq_compression_ratio(64, 8, 8, t), 32 * W.numel() / stored)
    assert errors[0] > errors[1] > errors[2]
    with pytest.raises(ValueError, match="n_subvectors"):
        Q.product_quantize(W, 3, 4)


# --------------------------------------------------------------------------- Hessian-weighted k-means
@pytest.mark.parametrize("init", ["linear", "density", "random"])
def test_equal_importance_is_plain_kmeans(init):
    w = torch.randn(40, 30, generator=torch.Generator().manual_seed(7))
    plain = Q.kmeans_quantize(w, 8, init, iters=50, seed=1)
    for h in (torch.ones_like(w), torch.full_like(w, 2.5)):
        weighted = Q.kmeans_quantize(w, 8, init, iters=50, seed=1, importance=h)
        assert torch.allclose(weighted[0], plain[0], rtol=1e-6, atol=1e-7) and torch.equal(weighted[1], plain[1])
        assert Q.kmeans_history(w, 8, init, iters=50, seed=1, importance=h) == pytest.approx(
            Q.kmeans_history(w, 8, init, iters=50, seed=1), rel=1e-9)


def test_weighted_lloyd_never_increases_its_objective_and_ends_at_weighted_means():
    g = torch.Generator().manual_seed(8)
    w = torch.randn(2000, generator=g, dtype=torch.float64)
    h = torch.rand(2000, generator=g, dtype=torch.float64) ** 4 * (w.abs() + 0.1)  # skewed importances
    history = Q.kmeans_history(w, 6, "density", iters=200, importance=h)
    assert all(b <= a * (1 + 1e-12) for a, b in zip(history, history[1:]))
    codebook, labels = Q.kmeans_quantize(w, 6, "density", iters=200, importance=h)
    assert history[-1] == pytest.approx(float((h * (codebook[labels] - w) ** 2).sum() / h.sum()), rel=1e-9)
    for k in labels.unique():
        sel = labels == k
        assert float(codebook[k]) == pytest.approx(float((h[sel] * w[sel]).sum() / h[sel].sum()), abs=1e-12)
    nearest = (w[:, None] - codebook[None, :]).abs().min(dim=1).values
    assert torch.allclose((w - codebook[labels]).abs(), nearest, atol=1e-12)
    # the weighting matters: plain k-means ends elsewhere, with a larger weighted objective
    plain, plain_labels = Q.kmeans_quantize(w, 6, "density", iters=200)
    assert not torch.allclose(plain, codebook, atol=1e-3)
    assert float((h * (plain[plain_labels] - w) ** 2).sum() / h.sum()) > history[-1]


def test_weighted_kmeans_equals_sklearn():
    from sklearn.cluster import KMeans

    g = torch.Generator().manual_seed(9)
    w = torch.randn(3000, generator=g, dtype=torch.float64)
    h = torch.rand(3000, generator=g, dtype=torch.float64) + 0.01
    codebook, labels = Q.kmeans_quantize(w, 5, "linear", iters=500, importance=h)
    init = torch.linspace(float(w.min()), float(w.max()), 5, dtype=torch.float64)  # the "linear" start
    km = KMeans(5, init=init.numpy()[:, None], n_init=1, max_iter=500, tol=0.0, algorithm="lloyd")
    km.fit(w.numpy()[:, None], sample_weight=h.numpy())
    assert torch.allclose(codebook, torch.from_numpy(km.cluster_centers_[:, 0]), rtol=0, atol=1e-12)
    assert torch.equal(labels, torch.from_numpy(km.labels_).long())


def test_weighted_kmeans_finds_the_brute_force_optimum_of_a_tiny_case():
    import itertools

    w = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0, 10.0], dtype=torch.float64)
    h = torch.tensor([5.0, 5.0, 1.0, 1.0, 1.0, 0.05], dtype=torch.float64)
    best, best_labels = math.inf, None
    for lab in itertools.product(range(2), repeat=len(w)):  # every split into two clusters
        lab = torch.tensor(lab)
        if len(lab.unique()) < 2:
            continue
        c = torch.stack([(h[lab == j] * w[lab == j]).sum() / h[lab == j].sum() for j in range(2)])
        obj = float((h * (w - c[lab]) ** 2).sum() / h.sum())
        if obj < best:
            best, best_labels = obj, lab
    assert best_labels.tolist() in ([0, 0, 1, 1, 1, 1], [1, 1, 0, 0, 0, 0])  # unweighted, 10.0 would stand alone
    starts = [("linear", 0), ("density", 0)] + [("random", s) for s in range(10)]
    found = min(Q.kmeans_history(w, 2, init, iters=100, seed=s, importance=h)[-1] for init, s in starts)
    assert found == pytest.approx(best, rel=1e-12)


@pytest.mark.parametrize("importance", [torch.ones(3), -torch.ones(4), torch.tensor([1.0, float("nan"), 1.0, 1.0]),
                                        torch.zeros(4), [1.0, 1.0, 1.0, 1.0]])
def test_bad_importance_raises(importance):
    with pytest.raises(ValueError, match="importance"):
        Q.kmeans_quantize(torch.tensor([0.1, 0.2, 0.9, 1.1]), 2, importance=importance)


def test_importance_with_a_mask_ignores_the_pruned_weights():
    g = torch.Generator().manual_seed(10)
    w = torch.randn(30, 20, generator=g)
    mask = torch.rand(30, 20, generator=g) < 0.4
    h = torch.rand(30, 20, generator=g)
    codebook, labels = Q.kmeans_quantize(w * mask, 5, mask=mask, importance=h)
    alone, _ = Q.kmeans_quantize(w[mask], 5, importance=h[mask])
    assert float(codebook[0]) == 0.0 and torch.allclose(codebook[1:], alone)
    assert bool((labels[~mask] == 0).all())


def test_linear_gauss_newton_diagonal_equals_the_jacobian_and_exact_hessian_versions():
    from lib.workbench import models
    from lib import pruning

    torch.manual_seed(0)
    net = models.mlp([12, 9, 7, 4], seed=3)
    X, y = torch.randn(50, 12), torch.randint(0, 4, (50,))
    ours = Q.linear_gauss_newton_diagonal(net, X, batch_size=16)
    assert list(ours) == ["0.weight", "2.weight", "4.weight"]
    jac = pruning.gauss_newton_diagonal(net, X, list(ours))
    exact = pruning.hessian_diagonal(net, X, y, list(ours))  # ReLU network: the same diagonal
    for name in ours:
        assert ours[name].shape == dict(net.named_parameters())[name].shape
        assert bool((ours[name] >= 0).all())
        assert torch.allclose(ours[name], jac[name], rtol=1e-4, atol=1e-9)
        assert torch.allclose(ours[name], exact[name], rtol=1e-4, atol=1e-9)
    assert net.training  # mode restored
    with pytest.raises(ValueError, match="batch_size"):
        Q.linear_gauss_newton_diagonal(net, X, batch_size=0)
    with pytest.raises(ValueError, match="X"):
        Q.linear_gauss_newton_diagonal(net, X[:0])
    with pytest.raises(ValueError, match="nn.Linear"):
        Q.linear_gauss_newton_diagonal(torch.nn.ReLU(), X)


def test_check_lloyd_step(capsys):
    from lib.book.exercises import check_lloyd_step

    def lloyd_step(w, c):
        labels = (w[:, None] - c[None, :]).abs().argmin(dim=1)
        return torch.stack([w[labels == j].mean() if bool((labels == j).any()) else c[j] for j in range(len(c))])

    check_lloyd_step(lloyd_step)
    assert "✓" in capsys.readouterr().out
    check_lloyd_step(lambda w, c: c)  # no update
    assert "✗" in capsys.readouterr().out
    check_lloyd_step(lambda w, c: torch.stack([w[(w[:, None] - c).abs().argmin(1) == j].mean() for j in range(len(c))]))
    assert "✗" in capsys.readouterr().out  # an empty cluster must keep its centroid, not become nan
    check_lloyd_step(None)
    assert "Not attempted" in capsys.readouterr().out


def test_sharing_names_are_still_importable_from_lib_quantization():
    from lib import sharing

    for name in sharing.__all__:
        assert getattr(Q, name) is getattr(sharing, name), name
    assert set(sharing.__all__) <= set(Q.__all__)


def test_clip_point_splits_the_error_into_clipping_and_rounding():
    from lib.experiments.quantization import clip_point, quantise_weight

    w = torch.randn(2000, generator=torch.Generator().manual_seed(0))
    for fraction in (0.2, 0.5, 1.0):
        r = clip_point(w, 4, fraction)
        assert r["mse"] == pytest.approx(r["clip_mse"] + r["round_mse"], rel=1e-5)  # float32 sums
    assert clip_point(w, 4, 1.0)["clipped"] == 0.0 and clip_point(w, 4, 0.2)["clipped"] > 0.05
    with pytest.raises(ValueError, match="fraction"):
        clip_point(w, 4, 0.0)
    W = torch.randn(6, 10, generator=torch.Generator().manual_seed(1))
    wq, _ = quantise_weight(W, 3, "symmetric", "per channel")
    assert all(len(torch.unique(row)) <= 8 for row in wq)
    with pytest.raises(ValueError, match="granularity"):
        quantise_weight(W, 3, "symmetric", "per row")
