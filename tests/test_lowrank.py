"""lib.lowrank and lib.tensors against torch.linalg and tensorly (the reference), and their invariants."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import tensorly as tl
import torch
from tensorly.tenalg import svd_interface
from torch import nn

from lib import lowrank

torch.set_num_threads(1)
tl.set_backend("numpy")


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def low_rank_matrix(m, n, r, noise=0.0, seed=0):
    g = gen(seed)
    M = torch.randn(m, r, generator=g, dtype=torch.float64) @ torch.randn(r, n, generator=g, dtype=torch.float64)
    return M + noise * torch.randn(m, n, generator=g, dtype=torch.float64)


def rel(X, Y):
    return float(torch.linalg.norm(torch.as_tensor(X) - torch.as_tensor(Y)) / torch.linalg.norm(torch.as_tensor(X)))


# --------------------------------------------------------------------------- SVD
@pytest.mark.parametrize("shape, rank", [((30, 20), 1), ((30, 20), 7), ((20, 30), 20), ((64, 9), 3)])
def test_truncated_svd_is_eckart_young(shape, rank):
    W = torch.randn(*shape, generator=gen(1), dtype=torch.float64)
    A, B = lowrank.truncated_svd(W, rank)
    assert A.shape == (shape[0], rank) and B.shape == (rank, shape[1])
    S = torch.linalg.svdvals(W)
    error = torch.linalg.matrix_norm(W - A @ B)
    assert torch.isclose(error, S[rank:].square().sum().sqrt(), rtol=1e-10, atol=1e-10)
    assert torch.linalg.matrix_rank(A @ B) == rank
    # balanced: both factors carry sqrt(sigma)
    assert torch.allclose(torch.linalg.norm(A, dim=0), torch.linalg.norm(B, dim=1))
    assert torch.allclose(torch.linalg.norm(A, dim=0), S[:rank].sqrt())


def test_truncated_svd_beats_other_rank_r_approximations():
    W = torch.randn(40, 25, generator=gen(2), dtype=torch.float64)
    r = 5
    A, B = lowrank.truncated_svd(W, r)
    best = torch.linalg.matrix_norm(W - A @ B)
    g = gen(3)
    for _ in range(20):  # random rank-r matrices, each with its best possible scale of projection
        P = torch.randn(40, r, generator=g, dtype=torch.float64)
        Q, _ = torch.linalg.qr(P)
        assert torch.linalg.matrix_norm(W - Q @ (Q.T @ W)) > best
        Q2, _ = torch.linalg.qr(torch.randn(25, r, generator=g, dtype=torch.float64))  # and on the right
        assert torch.linalg.matrix_norm(W - (W @ Q2) @ Q2.T) > best
    # and no worse than tensorly's truncated SVD or numpy's
    U, S, V = svd_interface(W.numpy(), n_eigenvecs=r)
    assert best <= np.linalg.norm(W.numpy() - (U * S) @ V) + 1e-10
    u, s, vt = np.linalg.svd(W.numpy())
    assert abs(best - np.linalg.norm(W.numpy() - (u[:, :r] * s[:r]) @ vt[:r])) < 1e-10


def test_truncated_svd_accepts_numpy_and_keeps_dtype():
    A, B = lowrank.truncated_svd(np.eye(3, dtype=np.float32), 2)
    assert isinstance(A, torch.Tensor) and A.dtype == torch.float32


@pytest.mark.parametrize("bias", [True, False])
def test_svd_linear_is_the_layer_with_the_reconstructed_weight(bias):
    torch.manual_seed(0)
    linear = nn.Linear(30, 20, bias=bias).double()
    x = torch.randn(7, 30, dtype=torch.float64)
    small = lowrank.svd_linear(linear, 6)
    A, B = lowrank.truncated_svd(linear.weight.detach(), 6)
    expected = nn.functional.linear(x, A @ B, linear.bias)
    assert torch.allclose(small(x), expected, atol=1e-12)
    assert not torch.allclose(small(x), linear(x), atol=1e-3)  # rank 6 of 20 really is an approximation
    full = lowrank.svd_linear(linear, 20)
    assert torch.allclose(full(x), linear(x), atol=1e-12)
    assert lowrank.count_params(small) == lowrank.svd_params(20, 30, 6) + (20 if bias else 0)
    assert small[0].bias is None


def test_svd_linear_float32_and_gradients():
    torch.manual_seed(0)
    linear = nn.Linear(50, 40)
    small = lowrank.svd_linear(linear, 40)
    x = torch.randn(5, 50)
    assert small[0].weight.dtype == torch.float32
    assert torch.allclose(small(x), linear(x), atol=1e-5)
    small(x).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in small.parameters())


def test_svd_counts():
    assert lowrank.svd_params(300, 784, 20) == 20 * (300 + 784)
    assert lowrank.svd_ratio(300, 784, 20) == pytest.approx(300 * 784 / (20 * 1084))


@pytest.mark.parametrize("call, match", [
    (lambda: lowrank.truncated_svd(torch.ones(4, 3), 0), r"rank must be an integer in \[1, 3\], got 0"),
    (lambda: lowrank.truncated_svd(torch.ones(4, 3), 4), r"rank .*\[1, 3\]"),
    (lambda: lowrank.truncated_svd(torch.ones(4, 3, 2), 1), r"W must be a 2-D tensor"),
    (lambda: lowrank.truncated_svd([[1.0]], 1), r"W must be a torch.Tensor"),
    (lambda: lowrank.truncated_svd(torch.ones(4, 3), 1.5), r"rank must be an integer"),
    (lambda: lowrank.svd_linear(nn.Conv2d(1, 1, 1), 1), r"linear must be a torch.nn.Linear"),
    (lambda: lowrank.svd_linear(nn.Linear(5, 3), 4), r"rank .*\[1, 3\]"),
    (lambda: lowrank.svd_params(3, 5, 9), r"rank .*\[1, 3\]"),
])
def test_svd_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------- Tucker
def low_rank_tensor(shape, ranks, noise=0.05, seed=0):
    """A random Tucker tensor of multilinear ranks ``ranks`` plus Gaussian noise (relative size ``noise``)."""
    g = gen(seed)
    X = torch.randn(*ranks, generator=g, dtype=torch.float64)
    for mode, (n, r) in enumerate(zip(shape, ranks)):
        X = lowrank.mode_dot(X, torch.randn(n, r, generator=g, dtype=torch.float64), mode)
    E = torch.randn(*shape, generator=g, dtype=torch.float64)
    return X + noise * E * torch.linalg.norm(X) / torch.linalg.norm(E)


def test_tucker_full_rank_is_exact_and_orthonormal():
    X = torch.randn(4, 5, 6, generator=gen(0), dtype=torch.float64)
    for fn in (lowrank.tucker_hosvd, lowrank.tucker_hooi):
        core, factors = fn(X, X.shape)
        assert torch.allclose(lowrank.tucker_to_tensor((core, factors)), X, atol=1e-12)
        for U in factors:
            assert torch.allclose(U.T @ U, torch.eye(U.shape[1], dtype=U.dtype), atol=1e-12)


def test_tucker_to_tensor_equals_tensorly():
    g = gen(4)
    core = torch.randn(2, 3, 4, generator=g, dtype=torch.float64)
    factors = [torch.randn(n, r, generator=g, dtype=torch.float64) for n, r in zip((5, 6, 7), core.shape)]
    ours = lowrank.tucker_to_tensor((core, factors))
    theirs = tl.tucker_to_tensor((core.numpy(), [U.numpy() for U in factors]))
    assert np.allclose(ours.numpy(), theirs, atol=1e-12)


@pytest.mark.parametrize("shape, ranks", [((12, 10, 8), (3, 4, 2)), ((16, 8, 3, 3), (5, 4, 3, 3))])
def test_tucker_hooi_matches_tensorly(shape, ranks):
    X = low_rank_tensor(shape, ranks, noise=0.3, seed=5)
    fit = [r - 1 if r > 1 else 1 for r in ranks]  # below the true ranks, so the fit is not trivial
    (core, factors), errors = lowrank.tucker_hooi(X, fit, n_iter=100, tol=1e-12, return_errors=True)
    assert core.shape == tuple(fit) and [U.shape for U in factors] == list(zip(shape, fit))
    ours = rel(X, lowrank.tucker_to_tensor((core, factors)))
    assert ours == pytest.approx(errors[-1], rel=1e-6)
    assert all(b <= a + 1e-12 for a, b in zip(errors, errors[1:]))  # HOOI never increases the error
    with warnings.catch_warnings():  # tensorly warns when a rank exceeds the product of the others
        warnings.simplefilter("ignore")
        theirs_cp = tl.decomposition.tucker(X.numpy(), rank=fit, init="svd", n_iter_max=100, tol=1e-12)
    theirs = rel(X, torch.from_numpy(tl.tucker_to_tensor(theirs_cp)))
    print(f"Tucker {shape} ranks {fit}: ours {ours:.5f}, tensorly {theirs:.5f}")
    assert ours <= theirs * 1.02
    hosvd = rel(X, lowrank.tucker_to_tensor(lowrank.tucker_hosvd(X, fit)))
    assert ours <= hosvd + 1e-12


def test_tucker2_only_some_modes_matches_tensorly_partial_tucker():
    X = low_rank_tensor((16, 12, 3, 3), (4, 3, 3, 3), noise=0.3, seed=6)
    core, factors = lowrank.tucker_hooi(X, (3, 2), modes=(0, 1), n_iter=100, tol=1e-12)
    assert core.shape == (3, 2, 3, 3) and factors[2].shape == (3, 3)
    assert torch.equal(factors[2], torch.eye(3, dtype=X.dtype))
    ours = rel(X, lowrank.tucker_to_tensor((core, factors)))
    (tcore, tfactors), _ = tl.decomposition.partial_tucker(X.numpy(), rank=[3, 2], modes=[0, 1], init="svd",
                                                           n_iter_max=100, tol=1e-12)
    theirs = rel(X, torch.from_numpy(tl.tenalg.multi_mode_dot(tcore, tfactors, modes=[0, 1])))
    assert ours <= theirs * 1.02


def test_tucker_error_falls_as_rank_rises():
    X = torch.randn(8, 8, 8, generator=gen(7), dtype=torch.float64)
    errors = [rel(X, lowrank.tucker_to_tensor(lowrank.tucker_hooi(X, r))) for r in range(1, 9)]
    assert all(b < a for a, b in zip(errors, errors[1:])) and errors[-1] < 1e-12


# --------------------------------------------------------------------------- rank selection
def test_energy_rank():
    s = torch.tensor([4.0, 2.0, 1.0, 1.0])  # squares 16, 4, 1, 1 of 22
    assert [lowrank.energy_rank(s, e) for e in (0.5, 16 / 22, 0.8, 21 / 22, 1.0)] == [1, 1, 2, 3, 4]
    assert lowrank.energy_rank(s.flip(0), 0.5) == 1  # order does not matter


@pytest.mark.parametrize("m, n, r, noise, seed", [(60, 40, 5, 0.5, 0), (100, 30, 8, 1.0, 1), (64, 64, 3, 0.2, 2),
                                                  (40, 90, 10, 0.5, 3)])
def test_vbmf_recovers_the_rank_of_low_rank_plus_noise(m, n, r, noise, seed):
    M = low_rank_matrix(m, n, r, noise=noise, seed=seed)
    rank, sigma2 = lowrank.vbmf_rank(M, return_sigma2=True)
    assert rank == r
    assert sigma2 == pytest.approx(noise**2, rel=0.25)  # it also estimates the noise variance
    assert lowrank.vbmf_rank(M.T) == r


def test_vbmf_on_pure_noise_keeps_little():
    M = torch.randn(80, 60, generator=gen(9), dtype=torch.float64)
    assert lowrank.vbmf_rank(M) <= 2


def test_tucker2_ranks():
    g = gen(10)
    K = torch.einsum("ta,sb,abij->tsij", torch.randn(32, 6, generator=g), torch.randn(24, 4, generator=g),
                     torch.randn(6, 4, 3, 3, generator=g))
    K = K + 0.05 * K.std() * torch.randn(K.shape, generator=g)
    assert lowrank.tucker2_ranks(K) == (4, 6)
    assert lowrank.tucker2_ranks(K, "energy", 0.99) == (4, 6)
    assert lowrank.tucker2_ranks(K, "energy", 1.0) == (24, 32)


# --------------------------------------------------------------------------- layers
def reconstructed_conv(conv, weight, x):
    return nn.functional.conv2d(x, weight, conv.bias, conv.stride, conv.padding, conv.dilation)


CONVS = [dict(in_channels=6, out_channels=8, kernel_size=3),
         dict(in_channels=6, out_channels=8, kernel_size=3, padding=1, stride=2),
         dict(in_channels=5, out_channels=7, kernel_size=(3, 5), padding=(1, 2), dilation=(2, 1), bias=False),
         dict(in_channels=4, out_channels=6, kernel_size=3, padding="same"),
         dict(in_channels=4, out_channels=6, kernel_size=(2, 3), stride=(1, 2), padding=(0, 1))]


@pytest.mark.parametrize("kwargs", CONVS)
def test_tucker_conv2d_is_the_layer_with_the_reconstructed_kernel(kwargs):
    torch.manual_seed(0)
    conv = nn.Conv2d(**kwargs).double()
    x = torch.randn(2, conv.in_channels, 11, 12, dtype=torch.float64)
    small = lowrank.tucker_conv2d(conv, (3, 4))
    core, factors = lowrank.tucker_hooi(conv.weight.detach(), (4, 3), modes=(0, 1))
    K = lowrank.tucker_to_tensor((core, factors))
    assert torch.allclose(small(x), reconstructed_conv(conv, K, x), atol=1e-10)
    assert not torch.allclose(small(x), conv(x), atol=1e-3)
    full = lowrank.tucker_conv2d(conv, (conv.in_channels, conv.out_channels))
    assert torch.allclose(full(x), conv(x), atol=1e-10)


def test_tucker_conv2d_float32_gradients_and_reflect_padding():
    torch.manual_seed(0)
    conv = nn.Conv2d(8, 12, 3, padding=1, padding_mode="reflect")
    full = lowrank.tucker_conv2d(conv, (8, 12))
    x = torch.randn(3, 8, 9, 9)
    assert torch.allclose(full(x), conv(x), atol=1e-5)
    full(x).square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in full.parameters())


@pytest.mark.parametrize("call, match", [
    (lambda: lowrank.tucker_hooi(torch.ones(3, 4, 5), (1, 2)), r"ranks must be an int or a sequence of 3"),
    (lambda: lowrank.tucker_hooi(torch.ones(3, 4, 5), (1, 5, 2)), r"ranks\[1\] must be an integer in \[1, 4\]"),
    (lambda: lowrank.tucker_hosvd(torch.ones(3, 4, 5), (0, 1, 1)), r"ranks\[0\] must be an integer in \[1, 3\]"),
    (lambda: lowrank.tucker_hosvd(torch.ones(3, 4, 5), 2, modes=(0, 3)), r"modes\[1\] .*\[0, 2\]"),
    (lambda: lowrank.tucker_hosvd(torch.ones(3), 1), r"X must have at least 2 dimensions"),
    (lambda: lowrank.tucker_hooi(torch.ones(3, 4), 1, n_iter=-1), r"n_iter"),
    (lambda: lowrank.tucker_conv2d(nn.Conv2d(4, 4, 3, groups=2), 2), r"conv.groups must be 1"),
    (lambda: lowrank.tucker_conv2d(nn.Linear(4, 4), 2), r"conv must be a torch.nn.Conv2d"),
    (lambda: lowrank.tucker_conv2d(nn.Conv2d(4, 6, 3), (5, 2)), r"R3.*\[1, 4\], got 5"),
    (lambda: lowrank.tucker_conv2d(nn.Conv2d(4, 6, 3), (1, 2, 3)), r"ranks must be an int or a pair"),
    (lambda: lowrank.energy_rank(torch.ones(3), 0.0), r"energy must be in \(0, 1\]"),
    (lambda: lowrank.vbmf_rank(torch.ones(3)), r"M must be a 2-D tensor"),
    (lambda: lowrank.tucker2_ranks(torch.ones(3, 3, 3, 3), "svd"), r"method must be one of"),
])
def test_tucker_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------- CP
def cp_tensor(shape, rank, noise=0.05, seed=0):
    g = gen(seed)
    factors = [torch.randn(n, rank, generator=g, dtype=torch.float64) for n in shape]
    X = lowrank.cp_to_tensor((torch.ones(rank, dtype=torch.float64), factors))
    E = torch.randn(*shape, generator=g, dtype=torch.float64)
    return X + noise * E * torch.linalg.norm(X) / torch.linalg.norm(E)


def test_cp_to_tensor_equals_tensorly():
    g = gen(11)
    weights = torch.rand(3, generator=g, dtype=torch.float64)
    factors = [torch.randn(n, 3, generator=g, dtype=torch.float64) for n in (4, 5, 2, 3)]
    ours = lowrank.cp_to_tensor((weights, factors))
    theirs = tl.cp_to_tensor((weights.numpy(), [A.numpy() for A in factors]))
    assert np.allclose(ours.numpy(), theirs, atol=1e-12)
    # and by the definition: a sum of weighted outer products
    by_hand = sum(weights[r] * torch.einsum("a,b,c,d->abcd", *(A[:, r] for A in factors)) for r in range(3))
    assert torch.allclose(ours, by_hand, atol=1e-12)


@pytest.mark.parametrize("shape, true_rank, rank", [((10, 12, 14), 4, 4), ((10, 12, 14), 6, 3), ((16, 8, 3, 3), 5, 5)])
def test_cp_als_matches_tensorly(shape, true_rank, rank):
    X = cp_tensor(shape, true_rank, noise=0.1, seed=12)
    (weights, factors), errors = lowrank.cp_als(X, rank, n_iter=200, tol=1e-10, return_errors=True)
    assert weights.shape == (rank,) and [A.shape for A in factors] == [(n, rank) for n in shape]
    assert torch.allclose(torch.linalg.norm(factors[0], dim=0), torch.ones(rank, dtype=X.dtype))
    ours = rel(X, lowrank.cp_to_tensor((weights, factors)))
    assert ours == pytest.approx(errors[-1], rel=1e-9)
    assert all(b <= a + 1e-10 for a, b in zip(errors, errors[1:]))  # ALS never increases the error
    with warnings.catch_warnings():  # tensorly warns when the rank exceeds a mode's size (its svd init pads)
        warnings.simplefilter("ignore")
        theirs_cp = tl.decomposition.parafac(X.numpy(), rank, n_iter_max=200, tol=1e-10, init="svd")
    theirs = rel(X, torch.from_numpy(tl.cp_to_tensor(theirs_cp)))
    print(f"CP {shape} rank {rank}: ours {ours:.5f}, tensorly {theirs:.5f}")
    assert ours <= theirs * 1.03


def test_cp_als_is_seeded_and_recovers_an_exact_tensor():
    X = cp_tensor((6, 7, 8), 3, noise=0.0, seed=13)
    a = lowrank.cp_als(X, 3, init="random", seed=1, n_iter=500, tol=0)
    b = lowrank.cp_als(X, 3, init="random", seed=1, n_iter=500, tol=0)
    assert all(torch.equal(x, y) for x, y in zip(a[1], b[1]))
    assert rel(X, lowrank.cp_to_tensor(a)) < 1e-6
    c = lowrank.cp_als(X, 3, init="random", seed=2, n_iter=3)
    assert not torch.equal(a[1][0], c[1][0])


def test_cp_ridge_and_rank_above_mode_size():
    X = torch.randn(3, 4, 5, generator=gen(14), dtype=torch.float64)
    (_, factors), errors = lowrank.cp_als(X, 6, ridge=1e-6, return_errors=True)  # 6 > 3 and 4: svd init pads
    assert factors[0].shape == (3, 6) and errors[-1] < errors[0]


@pytest.mark.parametrize("kwargs", CONVS)
def test_cp_conv2d_is_the_layer_with_the_reconstructed_kernel(kwargs):
    torch.manual_seed(0)
    conv = nn.Conv2d(**kwargs).double()
    x = torch.randn(2, conv.in_channels, 11, 12, dtype=torch.float64)
    cp = lowrank.cp_als(conv.weight.detach(), 4, n_iter=20)
    small = lowrank.cp_conv2d(conv, 4, cp=cp)
    assert [m.groups for m in small] == [1, 4, 4, 1]
    assert torch.allclose(small(x), reconstructed_conv(conv, lowrank.cp_to_tensor(cp), x), atol=1e-10)
    assert small(x).shape == conv(x).shape
    assert torch.allclose(lowrank.cp_conv2d(conv, 4, n_iter=20)(x), small(x), atol=1e-10)  # same as its own ALS


def test_cp_conv2d_float32_reflect_and_gradients():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect")
    small = lowrank.cp_conv2d(conv, 6, n_iter=30)
    K = lowrank.cp_to_tensor(lowrank.cp_als(conv.weight.detach().double(), 6, n_iter=30)).float()
    x = torch.randn(2, 3, 8, 8)
    expected = nn.functional.conv2d(nn.functional.pad(x, (1, 1, 1, 1), mode="reflect"), K, conv.bias)
    assert small[0].weight.dtype == torch.float32
    assert torch.allclose(small(x), expected, atol=1e-5)
    small(x).square().sum().backward()
    assert all(p.grad is not None for p in small.parameters())


@pytest.mark.parametrize("call, match", [
    (lambda: lowrank.cp_als(torch.ones(3, 4), 0), r"rank must be an integer in \[1, 3\], got 0"),
    (lambda: lowrank.cp_als(torch.ones(3, 4, 5), 13), r"rank .*\[1, 12\]"),
    (lambda: lowrank.cp_als(torch.ones(3), 1), r"X must have at least 2 dimensions"),
    (lambda: lowrank.cp_als(torch.ones(3, 4), 1, init="hosvd"), r"init must be one of"),
    (lambda: lowrank.cp_als(torch.ones(3, 4), 1, ridge=-1.0), r"ridge"),
    (lambda: lowrank.cp_als("X", 1), r"X must be a torch.Tensor"),
    (lambda: lowrank.cp_conv2d(nn.Conv2d(4, 4, 3, groups=4), 2), r"conv.groups must be 1"),
    (lambda: lowrank.cp_conv2d(nn.Conv2d(2, 2, 3), 0), r"rank must be an integer in \[1,"),
])
def test_cp_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call()
