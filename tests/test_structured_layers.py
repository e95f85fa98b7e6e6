"""lib.structured_layers against SciPy (float64), dense equivalence, gradients, parameter counts, errors."""

import numpy as np
import pytest
import scipy.fft
import scipy.linalg
import torch

from lib import structured_layers as sl

LAYERS = {
    "circulant": lambda n, seed=0: sl.CirculantLinear(n, seed=seed),
    "fastfood": lambda n, seed=0: sl.FastfoodLinear(n, seed=seed),
    "acdc": lambda n, seed=0: sl.ACDCLinear(n, seed=seed),
    "acdc3": lambda n, seed=0: sl.ACDCLinear(n, depth=3, seed=seed),
}


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("n", [1, 2, 4, 16, 128])
@pytest.mark.parametrize("lead", [(), (3,), (2, 5)])
def test_fwht_equals_scipy_hadamard(n, lead):
    x = _rand(*lead, n, seed=n)
    want = x.numpy() @ scipy.linalg.hadamard(n)
    np.testing.assert_allclose(sl.fwht(x).numpy(), want, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(sl.hadamard(n).numpy(), scipy.linalg.hadamard(n))


def test_fwht_twice_is_n_times_identity():
    x = _rand(4, 64)
    torch.testing.assert_close(sl.fwht(sl.fwht(x)), 64 * x)


@pytest.mark.parametrize("n", [1, 2, 7, 16, 33])
def test_circulant_matvec_equals_scipy(n):
    c, x = _rand(n, seed=1), _rand(6, n, seed=2)
    want = (scipy.linalg.circulant(c.numpy()) @ x.numpy().T).T
    np.testing.assert_allclose(sl.circulant_matvec(c, x).numpy(), want, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(sl.circulant_matrix(c).numpy(), scipy.linalg.circulant(c.numpy()))


def test_circulant_batched_vectors_broadcast():
    c, x = _rand(3, 8, seed=3), _rand(3, 8, seed=4)
    for i in range(3):
        want = scipy.linalg.circulant(c[i].numpy()) @ x[i].numpy()
        np.testing.assert_allclose(sl.circulant_matvec(c, x)[i].numpy(), want, atol=1e-10)


@pytest.mark.parametrize("n", [1, 2, 5, 8, 64, 100])
def test_dct_idct_equal_scipy_ortho(n):
    x = _rand(4, n, seed=n)
    np.testing.assert_allclose(sl.dct(x).numpy(), scipy.fft.dct(x.numpy(), norm="ortho"), atol=1e-10)
    np.testing.assert_allclose(sl.idct(x).numpy(), scipy.fft.idct(x.numpy(), norm="ortho"), atol=1e-10)
    np.testing.assert_allclose(sl.dct_matrix(n).numpy(), scipy.fft.dct(np.eye(n), norm="ortho", axis=0), atol=1e-12)
    torch.testing.assert_close(sl.idct(sl.dct(x)), x)


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("n", [1, 4, 32])
def test_dense_equivalence(kind, n):
    layer = LAYERS[kind](n).double()
    with torch.no_grad():                      # move the bias and diagonals off their initial values
        for p in layer.parameters():
            p.add_(_rand(*p.shape, seed=7))
    x = _rand(5, n, seed=8)
    torch.testing.assert_close(layer(x), x @ layer.dense().T + layer.bias, rtol=1e-10, atol=1e-10)
    assert layer.dense().shape == (n, n)


def test_circulant_dense_is_scipy_circulant_times_signs():
    layer = sl.CirculantLinear(16, seed=3).double()
    want = scipy.linalg.circulant(layer.weight.detach().numpy()) * layer.signs.numpy()[None, :]
    np.testing.assert_allclose(layer.dense().detach().numpy(), want)


@pytest.mark.parametrize("kind", list(LAYERS))
def test_gradients_match_dense_autograd(kind):
    n = 16
    layer = LAYERS[kind](n, seed=1).double()
    x, target = _rand(7, n, seed=2), _rand(7, n, seed=3)
    fast = ((torch.tanh(layer(x)) - target) ** 2).sum()
    g_fast = torch.autograd.grad(fast, list(layer.parameters()))
    slow = ((torch.tanh(x @ layer.dense().T + layer.bias) - target) ** 2).sum()
    g_slow = torch.autograd.grad(slow, list(layer.parameters()))
    for a, b in zip(g_fast, g_slow):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)
        assert b.abs().max() > 0


def test_parameter_counts_linear_in_n():
    for n in (16, 256, 4096):
        count = {k: sum(p.numel() for p in f(n).parameters()) for k, f in LAYERS.items()}
        assert count == {"circulant": 2 * n, "fastfood": 4 * n, "acdc": 3 * n, "acdc3": 7 * n}


def test_same_seed_same_layer_other_seed_other():
    for kind, f in LAYERS.items():
        torch.testing.assert_close(f(16, seed=4).dense(), f(16, seed=4).dense())
        assert not torch.allclose(f(16, seed=4).dense(), f(16, seed=5).dense()), kind


def test_identity_like_acdc_with_unit_diagonals_is_permutation_product():
    layer = sl.ACDCLinear(8, depth=1, bias=False)
    with torch.no_grad():
        layer.A.fill_(1.0)
        layer.D.fill_(1.0)
    torch.testing.assert_close(layer.dense(), torch.eye(8), atol=1e-6, rtol=0)


@pytest.mark.parametrize("call, match", [
    (lambda: sl.fwht(torch.zeros(2, 6)), r"x.shape\[-1\] must be a power of two.*got 6"),
    (lambda: sl.FastfoodLinear(12), r"n must be a power of two.*got 12"),
    (lambda: sl.hadamard(3), r"n must be a power of two.*got 3"),
    (lambda: sl.CirculantLinear(0), r"n must be an integer in \[1, inf\], got 0"),
    (lambda: sl.ACDCLinear(8, depth=0), r"depth must be an integer in \[1, 64\], got 0"),
    (lambda: sl.CirculantLinear(8)(torch.zeros(2, 9)), r"x must have last axis of length 8.*\(2, 9\)"),
    (lambda: sl.circulant_matvec(torch.zeros(4), torch.zeros(5)), r"x must have last axis of length 4"),
    (lambda: sl.circulant_matrix(torch.zeros(2, 4)), r"c must be one-dimensional"),
    (lambda: sl.dct([1.0, 2.0]), r"x must be a torch.Tensor"),
    (lambda: sl.fwht(torch.zeros(())), r"x must have at least 1 dimension"),
])
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
