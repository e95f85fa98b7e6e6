"""lib.fastconv against torch.nn.functional.conv2d (float64), exact Winograd transforms, counts, errors."""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lib.fastconv import (fft_conv2d, kernel_spectrum, overlap_add, transform_counts, winograd_conv2d,
                          winograd_counts, winograd_transforms)

CASES = [(1, 1, 1, 7, 7, 1, 0), (2, 3, 4, 9, 12, 3, 1), (3, 2, 5, 16, 16, 5, 2), (1, 4, 2, 11, 8, 7, 3),
         (2, 1, 3, 10, 10, 4, 0), (4, 5, 6, 8, 8, 8, 0), (2, 3, 3, 6, 9, 2, 4), (1, 2, 2, 17, 5, 5, 2)]


@pytest.mark.parametrize("n,c,o,h,w,k,p", CASES)
def test_fft_conv2d_matches_conv2d(n, c, o, h, w, k, p):
    g = torch.Generator().manual_seed(h * 100 + k)
    x = torch.randn(n, c, h, w, generator=g, dtype=torch.float64)
    wt = torch.randn(o, c, k, k, generator=g, dtype=torch.float64)
    b = torch.randn(o, generator=g, dtype=torch.float64)
    want = F.conv2d(x, wt, b, padding=p)
    got = fft_conv2d(x, wt, b, padding=p)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def test_fft_conv2d_rectangular_kernel_and_reused_spectrum():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 2, 10, 13, generator=g, dtype=torch.float64)
    wt = torch.randn(4, 2, 3, 6, generator=g, dtype=torch.float64)
    spec = kernel_spectrum(wt, (12, 15))
    torch.testing.assert_close(fft_conv2d(x, wt, padding=1, spectrum=spec), F.conv2d(x, wt, padding=1),
                               rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match="spectrum"):
        fft_conv2d(x, wt, padding=0, spectrum=spec)


def test_overlap_add_matches_numpy_convolve():
    rng = np.random.default_rng(0)
    for length, taps, block in [(1000, 9, 64), (37, 5, 8), (5, 5, 100), (64, 1, 1)]:
        s, k = rng.standard_normal(length), rng.standard_normal(taps)
        np.testing.assert_allclose(overlap_add(s, k, block), np.convolve(s, k), atol=1e-10)


@pytest.mark.parametrize("m,r", list(itertools.product(range(1, 7), range(1, 6))))
def test_winograd_transforms_exact(m, r):
    AT, G, BT = winograd_transforms(m, r)
    n = m + r - 1
    assert AT.shape == (m, n) and G.shape == (n, r) and BT.shape == (n, n)
    rng = np.random.default_rng(m * 10 + r)
    # every basis pair (d = e_a, g = e_b) is exact; by bilinearity so is every input
    for a, b in itertools.product(range(n), range(r)):
        d, g = np.eye(n)[a], np.eye(r)[b]
        want = np.array([d[i:i + r] @ g for i in range(m)])
        np.testing.assert_allclose(AT @ ((G @ g) * (BT @ d)), want, atol=1e-12)
    # integer-valued (polynomial) inputs give integer outputs, to rounding
    d, g = rng.integers(-5, 6, n).astype(float), rng.integers(-5, 6, r).astype(float)
    want = np.array([d[i:i + r] @ g for i in range(m)])
    np.testing.assert_allclose(AT @ ((G @ g) * (BT @ d)), want, atol=1e-9)


def test_winograd_f23_matches_printed_matrices_and_custom_points():
    AT, G, BT = winograd_transforms(2, 3)
    np.testing.assert_array_equal(AT, [[1, 1, 1, 0], [0, 1, -1, -1]])
    np.testing.assert_array_equal(BT, [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]])
    np.testing.assert_array_equal(G, [[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]])
    AT, G, BT = winograd_transforms(3, 3, points=[0, 1, 2, 3])
    d, g = np.arange(5.0), np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(AT @ ((G @ g) * (BT @ d)), [d[i:i + 3] @ g for i in range(3)], atol=1e-10)


@pytest.mark.parametrize("m", [1, 2, 3, 4, 6])
@pytest.mark.parametrize("r,p", [(3, 1), (3, 0), (2, 1), (5, 2)])
def test_winograd_conv2d_matches_conv2d(m, r, p):
    g = torch.Generator().manual_seed(m * 7 + r)
    x = torch.randn(2, 3, 11, 14, generator=g, dtype=torch.float64)
    wt = torch.randn(4, 3, r, r, generator=g, dtype=torch.float64)
    torch.testing.assert_close(winograd_conv2d(x, wt, m=m, padding=p), F.conv2d(x, wt, padding=p),
                               rtol=1e-8, atol=1e-8)


def test_multiplication_counts():
    assert winograd_counts(2, 3)["mults_direct"] == 36 and winograd_counts(2, 3)["mults_winograd"] == 16
    assert winograd_counts(2, 3)["ratio"] == 2.25
    assert winograd_counts(4, 3)["mults_direct"] == 144 and winograd_counts(4, 3)["mults_winograd"] == 36
    assert winograd_counts(4, 3)["ratio"] == 4.0
    c = winograd_counts(2, 3)   # F(2,3)'s B^T has 8 nonzeros in 4 rows (4 additions), all +-1
    assert c["adds_data"] == 2 * 4 * 4 and c["mults_data"] == 0
    assert transform_counts(np.array([[1, 0, -1], [0.5, 0, 2], [0, 0, 0]])) == {"adds": 2, "mults": 2}


def test_bad_input_raises_value_error():
    x, w = torch.randn(1, 2, 5, 5), torch.randn(3, 2, 3, 3)
    with pytest.raises(ValueError, match="m must be an integer in \\[1, 6\\], got 7"):
        winograd_transforms(7, 3)
    with pytest.raises(ValueError, match="r must be an integer in \\[1, 5\\], got 0"):
        winograd_transforms(2, 0)
    with pytest.raises(ValueError, match="points"):
        winograd_transforms(2, 3, points=[0, 1, 1])
    with pytest.raises(ValueError, match="input channels"):
        fft_conv2d(x, torch.randn(3, 4, 3, 3))
    with pytest.raises(ValueError, match="padding"):
        fft_conv2d(x, w, padding=-1)
    with pytest.raises(ValueError, match="4-D"):
        winograd_conv2d(x[0], w)
    with pytest.raises(ValueError, match="square"):
        winograd_conv2d(x, torch.randn(3, 2, 3, 2))
    with pytest.raises(ValueError, match="kernel"):
        fft_conv2d(x, torch.randn(3, 2, 7, 7))
    with pytest.raises(ValueError, match="r must be an integer in \\[1, 5\\], got 7"):
        winograd_conv2d(torch.randn(1, 2, 9, 9), torch.randn(3, 2, 7, 7))
