"""lib.binary: the sign and its straight-through gradient (against PyTorch's hard tanh), XNOR-Net's
optimal scale, DoReFa-Net's quantisers, the layers, and XNOR + popcount against float matrix products."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lib import binary as B
from lib import xnor as XN
from lib.experiments.binary import fit_binary
from lib.workbench.data import Split

torch.set_num_threads(1)


# --------------------------------------------------------------------------- sign and the STE
def test_sign_of_zero_is_plus_one_and_values_are_pm1():
    x = torch.tensor([-2.0, -1e-30, -0.0, 0.0, 1e-30, 3.0])
    assert B.binarize(x).tolist() == [-1.0, -1.0, 1.0, 1.0, 1.0, 1.0]
    y = B.binarize(torch.randn(1000, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    assert y.dtype == torch.float64 and set(y.unique().tolist()) == {-1.0, 1.0}


def test_ste_gradient_is_the_hard_tanh_gradient():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5000, generator=g) * 2
    x = x[(x.abs() - 1).abs() > 1e-6]  # PyTorch's hardtanh cancels the gradient at exactly +-1; the BNN paper keeps it
    upstream = torch.randn(len(x), generator=g)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    (B.binarize(a) * upstream).sum().backward()
    (F.hardtanh(b) * upstream).sum().backward()
    assert torch.equal(a.grad, b.grad)
    assert torch.equal(a.grad, upstream * (x.abs() <= 1))  # the analytic expectation


def test_ste_passes_the_gradient_at_the_boundary():
    x = torch.tensor([-1.0, 1.0, 1.0001, -1.0001], requires_grad=True)
    B.binarize(x).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 0.0, 0.0]


# --------------------------------------------------------------------------- XNOR-Net
def test_mean_abs_is_the_least_squares_scale():
    g = torch.Generator().manual_seed(1)
    w = torch.randn(6, 40, generator=g, dtype=torch.float64) * torch.rand(6, 1, generator=g, dtype=torch.float64)
    b = torch.sign(w)
    alpha = B.xnor_scale(w).flatten()
    grid = torch.linspace(0, 2, 20001, dtype=torch.float64)
    for o in range(6):
        errs = ((w[o][None, :] - grid[:, None] * b[o][None, :]) ** 2).sum(1)
        best = float(grid[errs.argmin()])
        assert abs(best - float(alpha[o])) <= 1e-4
        assert float(((w[o] - alpha[o] * b[o]) ** 2).sum()) <= float(errs.min()) + 1e-12


def test_xnor_scale_shapes_for_conv_weights():
    w = torch.randn(4, 3, 5, 5, generator=torch.Generator().manual_seed(2))
    a = B.xnor_scale(w)
    assert a.shape == (4, 1, 1, 1) and torch.allclose(a.flatten(), w.abs().flatten(1).mean(1))


def test_a_per_channel_scale_is_absorbed_by_batchnorm():
    # The chapter's claim: XNOR-Net's alpha makes no difference to the forward pass when BatchNorm follows.
    g = torch.Generator().manual_seed(3)
    y = torch.randn(64, 8, generator=g) * 5
    alpha = torch.rand(8, generator=g) + 0.1
    bn = nn.BatchNorm1d(8, eps=1e-12)
    torch.testing.assert_close(bn(y * alpha), bn(y), rtol=1e-5, atol=1e-5)


def test_scaled_sign_activation_uses_mean_abs_per_example():
    x = torch.tensor([[-0.5, 0.0, 2.0], [1.0, -1.0, 4.0]])
    out = B.SignActivation(scale=True)(x)
    torch.testing.assert_close(out, x.abs().mean(1, keepdim=True) * torch.tensor([[-1.0, 1, 1], [1, -1, 1]]))


def test_xnor_weight_gradient_is_the_papers_formula():
    # d/dW_i of alpha * sign(W): alpha * 1_{|W_i| <= 1} * g_i + sign(W_i) / n * sum_j g_j sign(W_j)
    g = torch.Generator().manual_seed(4)
    w = (torch.rand(3, 10, generator=g) * 2.4 - 1.2).requires_grad_()
    up = torch.randn(3, 10, generator=g)
    (B.xnor_scale(w) * B.binarize(w) * up).sum().backward()
    with torch.no_grad():
        s, alpha = torch.where(w >= 0, 1.0, -1.0), w.abs().mean(1, keepdim=True)
        want = alpha * (w.abs() <= 1) * up + s / 10 * (up * s).sum(1, keepdim=True)
    torch.testing.assert_close(w.grad, want)


# --------------------------------------------------------------------------- DoReFa-Net
@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_dorefa_weights_land_on_the_k_bit_grid_in_minus_one_one(bits):
    w = torch.randn(50, 30, generator=torch.Generator().manual_seed(bits)) * 0.7
    q = B.dorefa_weight(w, bits)
    n = 2 ** bits - 1
    j = (q + 1) / 2 * n
    assert torch.allclose(j, j.round(), atol=1e-4)
    assert float(q.min()) >= -1 - 1e-6 and float(q.max()) <= 1 + 1e-6
    assert len(q.unique()) <= 2 ** bits
    i = w.abs().argmax()
    assert abs(float(q.flatten()[i].abs()) - 1.0) < 1e-6  # the largest weight maps to +-1
    assert torch.equal(torch.sign(q[q != 0]), torch.sign(w[q != 0]))


def test_dorefa_one_bit_is_mean_abs_times_sign_with_identity_gradient():
    w = torch.tensor([-0.2, 0.0, 0.5, -3.0], requires_grad=True)
    q = B.dorefa_weight(w, 1)
    e = 0.925
    assert torch.allclose(q, torch.tensor([-e, e, e, -e]))
    q.backward(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert w.grad.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_dorefa_weight_gradient_matches_the_float_path():
    # Straight through the rounding: the gradient equals that of the same expression without rounding.
    w = torch.randn(20, generator=torch.Generator().manual_seed(5))
    a, b = w.clone().requires_grad_(), w.clone().requires_grad_()
    up = torch.arange(20.0)
    (B.dorefa_weight(a, 3) * up).sum().backward()
    t = torch.tanh(b)
    ((2 * (t / (2 * t.abs().max()) + 0.5) - 1) * up).sum().backward()
    torch.testing.assert_close(a.grad, b.grad)


def test_quantize_k_and_activation():
    x = torch.linspace(-1, 2, 301, requires_grad=True)
    q = B.dorefa_activation(x, 2)
    assert set(torch.round(q * 3).tolist()) == {0.0, 1.0, 2.0, 3.0}
    q.sum().backward()
    inside = (x >= 0) & (x <= 1)
    assert torch.equal(x.grad, inside.float())
    assert B.quantize_k(torch.tensor([0.5]), 1).item() == 0.0  # round half to even, as torch.round


def test_gradient_quantiser_identity_forward_and_grid_backward():
    g = torch.Generator().manual_seed(6)
    x = torch.randn(8, 5, requires_grad=True)
    up = torch.randn(8, 5, generator=g)
    y = B.quantize_grad(x, 3, noise=False)
    assert torch.equal(y, x)
    y.backward(up)
    m = up.abs().amax(1, keepdim=True)
    levels = (x.grad / (2 * m) + 0.5) * 7
    assert torch.allclose(levels, levels.round(), atol=1e-4)
    assert torch.all((x.grad - up).abs() <= m / 7 + 1e-6)  # within half a step (step 2m/7)


def test_noisy_gradient_quantiser_is_unbiased_and_seeded():
    up = torch.tensor([[0.3, -0.55, 1.0, 0.05]]).repeat(20000, 1)
    up[:, 2] = 1.0  # the per-example maximum
    x = torch.zeros_like(up, requires_grad=True)
    B.quantize_grad(x, 2, generator=torch.Generator().manual_seed(0)).backward(up)
    assert torch.allclose(x.grad.mean(0), up[0], atol=0.02)
    x2 = torch.zeros_like(up, requires_grad=True)
    B.quantize_grad(x2, 2, generator=torch.Generator().manual_seed(0)).backward(up)
    assert torch.equal(x.grad, x2.grad)


# --------------------------------------------------------------------------- layers and networks
def test_layers_compute_with_the_quantised_weight():
    g = torch.Generator().manual_seed(7)
    x = torch.randn(5, 12, generator=g)
    lin = B.BinaryLinear(12, 4, weight="sign")
    torch.testing.assert_close(lin(x), F.linear(x, torch.where(lin.weight >= 0, 1.0, -1.0)))
    conv = B.BinaryConv2d(3, 4, 3, padding=1, weight="xnor")
    img = torch.randn(2, 3, 6, 6, generator=g)
    w = conv.weight
    ref = F.conv2d(img, w.abs().mean((1, 2, 3), keepdim=True) * torch.where(w >= 0, 1.0, -1.0), padding=1)
    torch.testing.assert_close(conv(img), ref)
    d = B.BinaryLinear(12, 4, weight="dorefa", weight_bits=2)
    torch.testing.assert_close(d(x), F.linear(x, B.dorefa_weight(d.weight, 2)))
    f = B.BinaryLinear(12, 4, weight="float")
    torch.testing.assert_close(f(x), F.linear(x, f.weight))


def test_clipping_applies_to_sign_and_xnor_layers_only():
    net = nn.Sequential(B.BinaryLinear(3, 3, weight="sign"), B.BinaryLinear(3, 3, weight="xnor"),
                        B.BinaryLinear(3, 3, weight="dorefa", weight_bits=2), nn.Linear(3, 3))
    with torch.no_grad():
        for m in net:
            m.weight.fill_(2.5)
    B.clip_latent_weights_(net)
    assert [float(m.weight.detach().max()) for m in net] == [1.0, 1.0, 2.5, 2.5]


def test_binary_mlp_layout_and_storage():
    net = B.binary_mlp([784, 256, 256, 10])
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["BinaryLinear", "BatchNorm1d", "SignActivation"] * 2 + ["BinaryLinear", "BatchNorm1d"]
    s = B.storage_bits(net)
    weights = 784 * 256 + 256 * 256 + 256 * 10
    assert s["weights"] == weights and s["other"] == 32 * 4 * (256 + 256 + 10)
    full = B.binary_mlp([784, 256, 10], binary_input=True, weights="dorefa", activations="dorefa", weight_bits=2,
                        act_bits=2, grad_bits=6)
    assert type(full[0]).__name__ == "SignActivation" and any(isinstance(m, B.QuantizeGrad) for m in full)
    assert B.storage_bits(full)["weights"] == 2 * (784 * 256 + 256 * 10)
    flt = B.binary_mlp([20, 8, 3], weights="float", activations="relu")
    assert type(flt[-1]).__name__ == "BinaryLinear" and B.storage_bits(flt)["weights"] == 32 * (20 * 8 + 8 * 3)


def test_training_is_deterministic_and_keeps_latent_weights_clipped():
    g = torch.Generator().manual_seed(8)
    X = torch.randn(300, 20, generator=g)
    y = (X[:, 0] + X[:, 1] > 0).long()
    runs = []
    for _ in range(2):
        net = B.binary_mlp([20, 32, 2], weights="xnor", activations="xnor", seed=3)
        hist = fit_binary(net, Split(X, y, X, y, 2, X, y), num_epochs=3, lr=0.05, lr_end=0.001, batch_size=50,
                          seed=1, eval_every=3)
        runs.append((hist, [p.detach().clone() for p in net.parameters()]))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))
    assert [h["epoch"] for h in runs[0][0]] == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    assert all(float(m.weight.detach().abs().max()) <= 1.0 for m in net if isinstance(m, B.BinaryLinear))
    assert runs[0][0][-1]["val_error"] < 0.25  # it learns a linearly separable rule


def test_batchnorm_and_sign_fold_into_integer_thresholds():
    g = torch.Generator().manual_seed(9)
    bn = nn.BatchNorm1d(7).eval()
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(7, generator=g) * 5)
        bn.running_var.copy_(torch.rand(7, generator=g) * 20 + 0.5)
        bn.weight.copy_(torch.tensor([1.5, -0.7, 0.0, 0.0, 2.0, -3.0, 0.3]))
        bn.bias.copy_(torch.tensor([0.4, 0.2, 0.5, -0.5, -1.0, 0.0, 0.1]))
    y = torch.arange(-30, 31, dtype=torch.float32)[:, None].repeat(1, 7)
    want = torch.where(bn(y) >= 0, 1.0, -1.0)
    tau, flip = XN.bn_sign_threshold(bn)
    got = torch.where(torch.where(flip, y.double() <= tau, y.double() >= tau), 1.0, -1.0)
    assert torch.equal(got, want)


# --------------------------------------------------------------------------- XNOR and popcount
@pytest.mark.parametrize("n", [1, 7, 63, 64, 65, 128, 200, 1000])
def test_xnor_matmul_equals_the_float_product_exactly(n):
    rng = np.random.default_rng(n)
    for m, k in [(1, 1), (3, 5), (70, 9)]:
        A = rng.choice([-1.0, 1.0], size=(m, n)).astype(np.float32)
        W = rng.choice([-1.0, 1.0], size=(k, n)).astype(np.float32)
        a, w = XN.pack_bits(A), XN.pack_bits(W)
        assert a.shape == (m, (n + 63) // 64) and a.dtype == np.uint64
        got = XN.xnor_matmul(a, w, n, block=4)
        assert got.dtype == np.int64 and np.array_equal(got, (A @ W.T).astype(np.int64))
        assert np.array_equal(got, XN.xnor_matmul(a, w, n))  # the block size changes nothing


def test_pack_bits_layout_and_inputs():
    assert XN.pack_bits([1, -1, 1, 1]).tolist() == [13]
    assert XN.pack_bits(torch.tensor([0.0, -0.5])).tolist() == [1]  # sign(0) = +1 -> bit 1
    row = np.ones(130)
    assert XN.pack_bits(row).tolist() == [2**64 - 1, 2**64 - 1, 3]  # padding bits stay 0
    assert XN.pack_bits(np.ones((2, 3), dtype=np.int8)).shape == (2, 1)


def test_xnor_peak_model():
    p = XN.xnor_peak(["avx2", "avx512f", "avx512_vpopcntdq"], units=2)
    assert p["fp32_macs_per_cycle"] == 32 and abs(p["binary_macs_per_cycle"] - 1024 / 3) < 1e-12
    assert XN.xnor_peak(["avx2"])["popcount_bits"] == 64


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize("call, name", [
    (lambda: B.binarize([1.0, 2.0]), "x"),
    (lambda: B.binarize(torch.tensor([1, 2])), "x"),
    (lambda: B.xnor_scale(torch.ones(3)), "w"),
    (lambda: B.quantize_k(torch.ones(3), 0), "bits"),
    (lambda: B.dorefa_weight(torch.ones(3), 17), "bits"),
    (lambda: B.quantize_grad(torch.ones(3), 2, generator=3), "generator"),
    (lambda: B.BinaryLinear(3, 2, weight="ternary"), "weight"),
    (lambda: B.BinaryLinear(3, 2, weight="sign", weight_bits=2), "weight_bits"),
    (lambda: B.BinaryLinear(0, 2), "in_features"),
    (lambda: B.DoReFaActivation(0), "bits"),
    (lambda: B.binary_mlp([784]), "sizes"),
    (lambda: B.binary_mlp([784, 10], activations="tanh"), "activations"),
    (lambda: B.binary_mlp([784, 10], grad_bits=33), "grad_bits"),
    (lambda: B.clip_latent_weights_(nn.Linear(2, 2), bound=0), "bound"),
    (lambda: fit_binary(B.binary_mlp([4, 2]), Split(torch.ones(3, 4), torch.ones(2).long(), torch.ones(3, 4),
                                                    torch.ones(3).long(), 2)), "X_train and y_train"),
    (lambda: fit_binary(B.binary_mlp([4, 2]), Split(torch.ones(3, 4), torch.ones(3).long(), torch.ones(3, 4),
                                                    torch.ones(3).long(), 2), lr=0.01, lr_end=0.1), "lr_end"),
    (lambda: fit_binary(B.binary_mlp([4, 2]), (torch.ones(3, 4), torch.ones(3).long())), "data"),
    (lambda: XN.pack_bits(np.array([1.0, np.nan])), "x"),
    (lambda: XN.pack_bits(np.ones((2, 2, 2))), "x"),
    (lambda: XN.pack_bits(["a", "b"]), "x"),
    (lambda: XN.xnor_matmul(np.ones((2, 1)), XN.pack_bits(np.ones((2, 3))), 3), "a_bits"),
    (lambda: XN.xnor_matmul(XN.pack_bits(np.ones((2, 70))), XN.pack_bits(np.ones((2, 3))), 3), "a_bits and b_bits"),
    (lambda: XN.xnor_matmul(XN.pack_bits(np.ones((2, 70))), XN.pack_bits(np.ones((2, 70))), 64), "n"),
    (lambda: XN.xnor_matmul(XN.pack_bits(np.ones((2, 70))), XN.pack_bits(np.ones((2, 70))), 129), "n"),
    (lambda: XN.bn_sign_threshold(nn.Linear(2, 2)), "bn"),
    (lambda: B.storage_bits("net"), "net"),
    (lambda: XN.xnor_peak(["avx2"], units=0), "units"),
])
def test_bad_arguments_raise_valueerror_naming_them(call, name):
    with pytest.raises(ValueError, match=name):
        call()


# --------------------------------------------------------------------------- the exercise checker
def test_check_xnor_dot(capsys):
    from lib.book.exercises import check_xnor_dot

    check_xnor_dot(lambda a, b, n: n - 2 * int(np.bitwise_count(a ^ b).sum()))
    assert "✓" in capsys.readouterr().out
    check_xnor_dot(lambda a, b, n: 64 * len(a) - 2 * int(np.bitwise_count(a ^ b).sum()))  # forgot the padding
    assert "✗" in capsys.readouterr().out
    check_xnor_dot(None)
    assert "Not attempted" in capsys.readouterr().out
