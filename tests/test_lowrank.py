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


def test_cp_ridge_is_a_tikhonov_term():
    # on a matrix, one sweep from the SVD start solves A = X B (B^T B + mu I)^-1 with B^T B = I (and likewise
    # for B), so every kept singular value is divided by 1 + mu
    X = torch.randn(9, 7, generator=gen(25), dtype=torch.float64)
    plain = lowrank.cp_to_tensor(lowrank.cp_als(X, 3, n_iter=1))
    A, B = lowrank.truncated_svd(X, 3)
    assert torch.allclose(plain, A @ B, atol=1e-12)
    assert torch.allclose(lowrank.cp_to_tensor(lowrank.cp_als(X, 3, n_iter=1, ridge=0.5)), plain / 1.5, atol=1e-12)


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


# --------------------------------------------------------------------------- tensor train
def tt_tensor(shape, rank, noise=0.05, seed=0):
    g = gen(seed)
    ranks = [1] + [rank] * (len(shape) - 1) + [1]
    cores = [torch.randn(ranks[k], n, ranks[k + 1], generator=g, dtype=torch.float64) for k, n in enumerate(shape)]
    X = lowrank.tt_to_tensor(cores)
    E = torch.randn(*shape, generator=g, dtype=torch.float64)
    return X + noise * E * torch.linalg.norm(X) / torch.linalg.norm(E)


def test_tt_to_tensor_equals_tensorly_and_the_definition():
    g = gen(15)
    cores = [torch.randn(r0, n, r1, generator=g, dtype=torch.float64)
             for r0, n, r1 in [(1, 3, 2), (2, 4, 3), (3, 5, 2), (2, 2, 1)]]
    ours = lowrank.tt_to_tensor(cores)
    assert np.allclose(ours.numpy(), tl.tt_to_tensor([G.numpy() for G in cores]), atol=1e-12)
    i = (2, 1, 4, 0)
    product = cores[0][:, i[0]] @ cores[1][:, i[1]] @ cores[2][:, i[2]] @ cores[3][:, i[3]]
    assert torch.isclose(ours[i], product[0, 0])


def test_tt_svd_full_rank_is_exact_with_boundary_ranks_one():
    X = torch.randn(3, 4, 5, 2, generator=gen(16), dtype=torch.float64)
    cores = lowrank.tt_svd(X)
    assert cores[0].shape[0] == 1 and cores[-1].shape[-1] == 1 and all(G.dim() == 3 for G in cores)
    assert [G.shape[1] for G in cores] == [3, 4, 5, 2]
    assert torch.allclose(lowrank.tt_to_tensor(cores), X, atol=1e-12)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("eps", [0.05, 0.2, 0.5, 0.8])
def test_tt_svd_eps_bound(eps, seed):
    shape = [(6, 5, 4, 3), (4, 4, 4, 4, 2), (8, 9, 7)][seed % 3]
    X = tt_tensor(shape, 3, noise=0.3, seed=seed) if seed % 2 else torch.randn(*shape, generator=gen(seed))
    cores = lowrank.tt_svd(X, eps=eps)
    error = rel(X, lowrank.tt_to_tensor(cores))
    assert error <= eps + 1e-12
    # and the bound is not slack by construction: one rank lower somewhere breaks the per-step threshold
    d = X.dim()
    for k, G in enumerate(cores[:-1]):
        if G.shape[-1] > 1:
            caps = [H.shape[-1] for H in cores[:-1]]
            caps[k] -= 1
            # the k-th truncation alone now discards more than eps/sqrt(d-1) of the norm
            lower = lowrank.tt_svd(X, max_rank=caps)
            assert rel(X, lowrank.tt_to_tensor(lower)) > eps / np.sqrt(d - 1) - 1e-12
            break


@pytest.mark.parametrize("shape, true_rank, rank",
                         [((6, 7, 8, 5), 3, 3), ((6, 7, 8, 5), 4, 2), ((4, 4, 4, 4, 4), 3, 3)])
def test_tt_svd_matches_tensorly(shape, true_rank, rank):
    X = tt_tensor(shape, true_rank, noise=0.2, seed=17)
    cores = lowrank.tt_svd(X, max_rank=rank)
    assert [G.shape[-1] for G in cores[:-1]] == [min(rank, G.shape[0] * G.shape[1]) for G in cores[:-1]]
    ours = rel(X, lowrank.tt_to_tensor(cores))
    theirs = rel(X, torch.from_numpy(tl.tt_to_tensor(tl.decomposition.tensor_train(X.numpy(), rank=rank))))
    print(f"TT {shape} rank {rank}: ours {ours:.5f}, tensorly {theirs:.5f}")
    assert ours <= theirs * 1.02


def test_tt_svd_error_falls_as_rank_rises():
    X = torch.randn(5, 6, 7, 4, generator=gen(18), dtype=torch.float64)
    errors = [rel(X, lowrank.tt_to_tensor(lowrank.tt_svd(X, max_rank=r))) for r in (1, 2, 4, 8, 16, 30)]
    assert all(b < a for a, b in zip(errors, errors[1:])) and errors[-1] < 1e-12


# --------------------------------------------------------------------------- TTLinear
def test_tt_linear_forward_dense_params_and_gradients():
    layer = lowrank.TTLinear((4, 7, 4, 7), (5, 5, 4, 3), ranks=(3, 6, 4), seed=0).double()
    x = torch.randn(6, 784, generator=gen(19), dtype=torch.float64)
    with torch.no_grad():
        layer.bias.copy_(torch.randn(300, generator=gen(20)))
    W = layer.dense()
    assert W.shape == (300, 784)
    assert torch.allclose(layer(x), x @ W.T + layer.bias, atol=1e-12)
    # the definition, one entry: W((i1,j1),...,(id,jd)) = G1[i1,j1] ... Gd[id,jd]
    i, j = (4, 2, 3, 1), (3, 6, 0, 5)
    entry = torch.eye(1, dtype=torch.float64)
    for G, ik, jk in zip(layer.cores, i, j):
        entry = entry @ G[:, ik, jk, :]
    row, col = np.ravel_multi_index(i, (5, 5, 4, 3)), np.ravel_multi_index(j, (4, 7, 4, 7))
    assert torch.isclose(W[row, col], entry[0, 0])
    expected = 1 * 5 * 4 * 3 + 3 * 5 * 7 * 6 + 6 * 4 * 4 * 4 + 4 * 3 * 7 * 1
    assert lowrank.tt_params((4, 7, 4, 7), (5, 5, 4, 3), (3, 6, 4)) == expected
    assert lowrank.count_params(layer) == expected + 300
    x3 = x.reshape(2, 3, 784)  # leading dimensions are kept, as nn.Linear does
    assert torch.allclose(layer(x3), layer(x).reshape(2, 3, 300))
    layer(x).square().sum().backward()
    assert all(G.grad is not None and G.grad.abs().sum() > 0 for G in layer.cores) and layer.bias.grad is not None


def test_tt_linear_init_is_seeded_and_kaiming_scaled():
    a = lowrank.TTLinear((8, 8, 8), (4, 4, 4), 5, seed=1)
    b = lowrank.TTLinear((8, 8, 8), (4, 4, 4), 5, seed=1)
    assert all(torch.equal(x, y) for x, y in zip(a.cores, b.cores))
    variances = [lowrank.TTLinear((8, 8, 8), (4, 4, 4), 5, seed=s).dense().var().item() for s in range(20)]
    assert np.mean(variances) == pytest.approx(2 / 512, rel=0.2)
    assert lowrank.TTLinear((8, 8, 8), (4, 4, 4), 5, bias=False).bias is None


def test_tt_linear_from_linear():
    torch.manual_seed(0)
    linear = nn.Linear(60, 24).double()
    x = torch.randn(5, 60, dtype=torch.float64)
    exact = lowrank.TTLinear.from_linear(linear, (3, 4, 5), (2, 3, 4))
    assert torch.allclose(exact(x), linear(x), atol=1e-10)
    assert torch.allclose(exact.dense(), linear.weight, atol=1e-10)
    small = lowrank.TTLinear.from_linear(linear, (3, 4, 5), (2, 3, 4), max_rank=3)
    assert max(small.ranks) == 3 and lowrank.count_params(small) < lowrank.count_params(linear)
    # its dense weight is TT-SVD of the paired-digit tensor, so the eps bound carries over
    bounded = lowrank.TTLinear.from_linear(linear, (3, 4, 5), (2, 3, 4), eps=0.4)
    assert rel(linear.weight.detach(), bounded.dense().detach()) <= 0.4
    f32 = lowrank.TTLinear.from_linear(nn.Linear(12, 6), (3, 4), (2, 3))
    assert f32.cores[0].dtype == torch.float32


def test_macs_counts():
    conv = nn.Conv2d(16, 32, 3, padding=1, stride=2)
    assert lowrank.macs(conv, (16, 10, 10)) == 32 * 16 * 9 * 25
    cp = lowrank.cp_conv2d(conv, 4, n_iter=2)  # 1x1 at 10x10, kx1 (stride 2 in h) at 5x10, 1xk at 5x5, 1x1 at 5x5
    assert lowrank.macs(cp, (16, 10, 10)) == 16 * 4 * 100 + 4 * 3 * 50 + 4 * 3 * 25 + 4 * 32 * 25
    assert lowrank.macs(lowrank.svd_linear(nn.Linear(50, 40), 5), (50,)) == 5 * 90
    assert lowrank.macs(lowrank.TTLinear((4, 5), (2, 3), 2), (20,)) == lowrank.tt_macs((4, 5), (2, 3), 2)
    assert lowrank.tt_macs((4, 5), (2, 3), 2) == 1 * 1 * 4 * 2 * 2 * 5 + 2 * 2 * 5 * 3 * 1 * 1


@pytest.mark.parametrize("call, match", [
    (lambda: lowrank.tt_svd(torch.ones(3, 4, 5), max_rank=0), r"max_rank\[0\] must be an integer in \[1, inf\]"),
    (lambda: lowrank.tt_svd(torch.ones(3, 4, 5), max_rank=(2, 2, 2)), r"max_rank must be None, an int or .* 2 ints"),
    (lambda: lowrank.tt_svd(torch.ones(3, 4, 5), eps=1.0), r"eps must be in \[0, 1\)"),
    (lambda: lowrank.tt_svd(torch.ones(3), eps=0.1), r"X must have at least 2 dimensions"),
    (lambda: lowrank.TTLinear((4, 5), (2, 3, 4), 2), r"out_shape must be a sequence of 2 ints"),
    (lambda: lowrank.TTLinear((20,), (6,), 2), r"in_shape must be a sequence of at least 2"),
    (lambda: lowrank.TTLinear((4, 5), (2, 3), 9), r"ranks\[0\] must be an integer in \[1, 8\]"),
    (lambda: lowrank.TTLinear((4, 5), (2, 3), (2, 2)), r"ranks must be an int or a sequence of 1"),
    (lambda: lowrank.TTLinear((4, 0), (2, 3), 1), r"in_shape\[1\] must be an integer in \[1, inf\]"),
    (lambda: lowrank.TTLinear.from_linear(nn.Linear(12, 6), (3, 5), (2, 3)), r"must multiply to the layer's"),
    (lambda: lowrank.TTLinear.from_linear(nn.Linear(12, 6), (3, 4), (2, 3), max_rank=0), r"max_rank"),
])
def test_tt_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------- block terms
def random_btd(shape, n_blocks, block_ranks, seed=0):
    g = gen(seed)
    cores = [torch.randn(*block_ranks, generator=g, dtype=torch.float64) for _ in range(n_blocks)]
    factors = [torch.randn(n, n_blocks * r, generator=g, dtype=torch.float64) for n, r in zip(shape, block_ranks)]
    return cores, factors


def test_btd_to_tensor_is_a_sum_of_tucker_terms_and_a_block_diagonal_tucker():
    cores, factors = random_btd((5, 6, 7), 3, (2, 1, 3), seed=21)
    X = lowrank.btd_to_tensor((cores, factors))
    terms = sum(tl.tucker_to_tensor((G.numpy(), [F[:, b * r:(b + 1) * r].numpy() for F, r in zip(factors, G.shape)]))
                for b, G in enumerate(cores))
    assert np.allclose(X.numpy(), terms, atol=1e-12)
    block_diagonal = torch.zeros(6, 3, 9, dtype=torch.float64)
    for b, G in enumerate(cores):
        block_diagonal[2 * b:2 * b + 2, b:b + 1, 3 * b:3 * b + 3] = G
    assert torch.allclose(X, lowrank.tucker_to_tensor((block_diagonal, factors)), atol=1e-12)


def test_btd_als_recovers_an_exact_block_term_tensor():
    X = lowrank.btd_to_tensor(random_btd((7, 8, 9), 3, (2, 2, 2), seed=22))
    (cores, factors), errors = lowrank.btd_als(X, 3, (2, 2, 2), n_iter=500, tol=0, return_errors=True)
    assert errors[-1] < 1e-8 and rel(X, lowrank.btd_to_tensor((cores, factors))) == pytest.approx(errors[-1], abs=1e-12)
    assert all(b <= a + 1e-12 for a, b in zip(errors, errors[1:]))  # every step is an exact least-squares fit


def test_btd_between_cp_and_tucker():
    X = cp_tensor((8, 9, 10), 6, noise=0.2, seed=23)
    one_block = rel(X, lowrank.btd_to_tensor(lowrank.btd_als(X, 1, (3, 3, 3), n_iter=200, tol=1e-12)))
    tucker = rel(X, lowrank.tucker_to_tensor(lowrank.tucker_hooi(X, (3, 3, 3), n_iter=200, tol=1e-12)))
    assert one_block == pytest.approx(tucker, rel=1e-6)
    rank_one_blocks = rel(X, lowrank.btd_to_tensor(lowrank.btd_als(X, 4, 1, n_iter=300, tol=1e-12)))
    cp = rel(X, lowrank.cp_to_tensor(lowrank.cp_als(X, 4, n_iter=300, tol=1e-12)))
    assert rank_one_blocks == pytest.approx(cp, rel=1e-3)
    print(f"BTD (8, 9, 10): 1 block {one_block:.5f} vs Tucker {tucker:.5f}; rank-1 blocks {rank_one_blocks:.5f} "
          f"vs CP {cp:.5f}")


def test_btd_tucker2_blocks_on_a_kernel():
    K = torch.randn(16, 12, 3, 3, generator=gen(24), dtype=torch.float64)
    (cores, factors), errors = lowrank.btd_als(K, 2, (3, 2), modes=(0, 1), n_iter=30, return_errors=True)
    assert [G.shape for G in cores] == [(3, 2, 3, 3)] * 2
    assert [F.shape for F in factors] == [(16, 6), (12, 4), (3, 3), (3, 3)]
    assert torch.equal(factors[3], torch.eye(3, dtype=K.dtype))
    assert errors[-1] < errors[0] and rel(K, lowrank.btd_to_tensor((cores, factors))) == pytest.approx(errors[-1])
    a = lowrank.btd_als(K, 2, (3, 2), modes=(0, 1), n_iter=5, init="random", seed=3)
    b = lowrank.btd_als(K, 2, (3, 2), modes=(0, 1), n_iter=5, init="random", seed=3)
    assert all(torch.equal(x, y) for x, y in zip(a[1], b[1]))


@pytest.mark.parametrize("call, match", [
    (lambda: lowrank.btd_als(torch.ones(3, 4, 5), 0, 1), r"n_blocks must be an integer in \[1, inf\], got 0"),
    (lambda: lowrank.btd_als(torch.ones(3, 4, 5), 2, (1, 2)), r"block_ranks must be an int or a sequence of 3"),
    (lambda: lowrank.btd_als(torch.ones(3, 4, 5), 2, (1, 5, 1)), r"block_ranks\[1\] must be an integer in \[1, 4\]"),
    (lambda: lowrank.btd_als(torch.ones(3, 4, 5), 2, 1, init="hosvd"), r"init must be one of"),
    (lambda: lowrank.btd_als(torch.ones(3), 2, 1), r"X must have at least 2 dimensions"),
])
def test_btd_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call()
