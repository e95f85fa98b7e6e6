"""lib.lowrank and lib.tensors against torch.linalg and tensorly (the reference), and their invariants."""

from __future__ import annotations

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
