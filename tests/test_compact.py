"""Compact convolutions (lib.compact): every block's parameter and MAC formulas against counts
taken from the modules themselves; the from-scratch depthwise convolution against PyTorch's
grouped conv2d; the paper ratios (1/N + 1/k^2, 18/25, 6/9); invariants and argument checks."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lib import compact as C
from lib.experiments import compact_convolutions as E
from lib.workbench.measure import count_macs, count_params


def _macs_hooked(module: nn.Module, shape) -> int:
    """MACs counted independently of lib.workbench.measure: per Conv2d, output elements times
    the input channels each output reads (in_channels / groups) times the kernel area."""
    total = 0

    def hook(m, _inp, out):
        nonlocal total
        total += out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    hooks = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        module.eval()(torch.zeros(1, *shape))
    for h in hooks:
        h.remove()
    return total


CASES = [  # (block, constructor args, extra formula kwargs shared by both)
    ("standard", (3, 5, 3), {}), ("standard", (8, 4, 5), {}), ("standard", (2, 4, 3), {}),
    ("depthwise_separable", (8, 16, 3), {}), ("depthwise_separable", (5, 7, 5), {}),
    ("depthwise_separable", (2, 4, 3), {}),
    ("factorized_5x5", (6, 10), {}), ("factorized_5x5", (6, 10), {"mid": 3}),
    ("asymmetric", (4, 6, 3), {}), ("asymmetric", (4, 6, 7), {"mid": 5}),
    ("fire", (16, 4, 8, 8), {}), ("fire", (10, 3, 0, 5), {}), ("fire", (10, 3, 6, 0), {}),
]


@pytest.mark.parametrize("block,args,kw", CASES)
@pytest.mark.parametrize("bias", [False, True])
def test_params_formula_matches_module(block, args, kw, bias):
    m = C.build(block, *args, bias=bias, **kw)
    assert C.params(block, *args, bias=bias, **kw) == count_params(m)
    assert C.params(block, *args, bias=bias, **kw) == sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("block,args,kw", CASES)
@pytest.mark.parametrize("stride,size", [(1, (9, 9)), (1, (7, 12)), (2, (13, 10)), (3, (8, 8))])
def test_macs_formula_matches_module(block, args, kw, stride, size):
    m = C.build(block, *args, stride=stride, **kw)
    shape = (args[0], *size)
    want = C.macs(block, *args, stride=stride, size=size, **kw)
    assert want == count_macs(m, shape)["total"]
    assert want == _macs_hooked(m, shape)


@pytest.mark.parametrize("block,args,kw", CASES)
def test_same_padding_keeps_size_and_stride_divides_it(block, args, kw):
    m = C.build(block, *args, **kw).eval()
    x = torch.randn(2, args[0], 11, 9)
    out_ch = sum(args[2:4]) if block == "fire" else args[1]
    assert m(x).shape == (2, out_ch, 11, 9)
    m2 = C.build(block, *args, stride=2, **kw).eval()
    assert m2(x).shape == (2, out_ch, C.out_size(11, 2), C.out_size(9, 2))


def test_the_notes_72_parameter_example():
    """Two input channels, four 3x3 filters: 72 weights; depthwise-separable: 18 + 8 = 26."""
    std, dws = C.standard_conv(2, 4, 3), C.depthwise_separable(2, 4, 3)
    assert count_params(std) == 3 * 3 * 2 * 4 == 72
    assert count_params(dws[0]) == 3 * 3 * 2 == 18 and count_params(dws[2]) == 2 * 4 == 8
    assert count_params(dws) == 26
    assert math.isclose(26 / 72, C.separable_ratio(4, 3))


@pytest.mark.parametrize("m,n,k", list(itertools.product([1, 3, 32], [1, 8, 256], [1, 3, 5, 7])))
def test_separable_ratio_is_one_over_n_plus_one_over_k2(m, n, k):
    r = C.params("depthwise_separable", m, n, k) / C.params("standard", m, n, k)
    assert math.isclose(r, 1 / n + 1 / k ** 2)
    mr = C.macs("depthwise_separable", m, n, k, size=(6, 5)) / C.macs("standard", m, n, k, size=(6, 5))
    assert math.isclose(mr, C.separable_ratio(n, k))


@pytest.mark.parametrize("c", [1, 16, 64])
def test_inception_ratios(c):
    assert C.params("factorized_5x5", c, c) * 25 == C.params("standard", c, c, 5) * 18
    assert C.params("asymmetric", c, c, 3) * 9 == C.params("standard", c, c, 3) * 6
    assert C.params("asymmetric", c, c, 7) * 7 == C.params("standard", c, c, 7) * 2
    assert (C.macs("factorized_5x5", c, c, size=(8, 8)) * 25 == C.macs("standard", c, c, 5, size=(8, 8)) * 18)


def test_fire_counts_squeezenet_fire2():
    """SqueezeNet's fire2: 96 input channels, s1x1 = 16, e1x1 = 64, e3x3 = 64 (Table 1 of the paper)."""
    assert C.fire_params(96, 16, 64, 64) == 96 * 16 + 16 * 64 + 9 * 16 * 64 == 11776
    assert count_params(C.fire(96, 16, 64, 64)) == 11776


def test_receptive_field_of_two_3x3_is_5x5():
    """An impulse through two stacked 3x3 (linear, no ReLU) spreads over exactly a 5x5 window."""
    m = C.factorized_5x5(1, 1, relu=False)
    with torch.no_grad():
        for conv in (m[0], m[1]):
            conv.weight.fill_(1.0)
        x = torch.zeros(1, 1, 9, 9)
        x[0, 0, 4, 4] = 1
        y = m(x)[0, 0]
    assert torch.equal((y != 0).nonzero().amin(0), torch.tensor([2, 2]))
    assert torch.equal((y != 0).nonzero().amax(0), torch.tensor([6, 6]))


def test_asymmetric_equals_a_rank_one_kernel():
    """1xk then kx1 with one channel, no ReLU, is the kxk convolution with the outer product kernel."""
    m = C.asymmetric(1, 1, 5, relu=False)
    x = torch.randn(2, 1, 10, 10, dtype=torch.float64)
    m = m.double()
    row, col = m[0].weight[0, 0, 0], m[1].weight[0, 0, :, 0]
    kernel = torch.outer(col, row)[None, None]
    assert torch.allclose(m(x), F.conv2d(x, kernel, padding=2), atol=1e-12)


@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("k", [1, 3, 5])
def test_depthwise_conv2d_matches_grouped_conv(stride, k):
    g = torch.Generator().manual_seed(k * 10 + stride)
    x = torch.randn(3, 6, 11, 8, generator=g, dtype=torch.float64)
    w = torch.randn(6, k, k, generator=g, dtype=torch.float64)
    want = F.conv2d(x, w[:, None], stride=stride, padding=k // 2, groups=6)
    assert torch.allclose(C.depthwise_conv2d(x, w, stride), want, atol=1e-12)


def test_depthwise_channels_do_not_mix():
    x = torch.zeros(1, 4, 7, 7)
    x[0, 2] = torch.randn(7, 7)
    y = C.depthwise_conv2d(x, torch.randn(4, 3, 3))
    assert torch.count_nonzero(y[0, [0, 1, 3]]) == 0 and torch.count_nonzero(y[0, 2]) > 0


def test_separable_conv2d_matches_module_and_its_dense_kernel():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 5, 9, 9, generator=g, dtype=torch.float64)
    m = C.depthwise_separable(5, 7, 3, relu=False).double()
    wd, wp = m[0].weight[:, 0], m[1].weight[:, :, 0, 0]
    y = C.separable_conv2d(x, wd, wp)
    assert torch.allclose(y, m(x), atol=1e-12)
    dense = wp[:, :, None, None] * wd[None]                # W[o, c, u, v] = p[o, c] w[c, u, v]
    assert torch.allclose(y, F.conv2d(x, dense, padding=1), atol=1e-12)


def test_conv_traffic_intensity():
    dw = C.conv_traffic(256, 256, 3, groups=256, size=(14, 14))
    pw = C.conv_traffic(48, 48, 1, size=(14, 14))
    assert dw["macs"] == pw["macs"] == 9 * 256 * 196
    assert dw["intensity"] < 9 / 8 and pw["intensity"] > 4 * dw["intensity"]
    assert dw["bytes"] == (2 * 256 * 196 + 9 * 256) * 4


@pytest.mark.parametrize("fn,args,kw", [
    (C.standard_conv, (0, 4), {}), (C.standard_conv, (2, 4, 4), {}), (C.depthwise_separable, (2, 4, 0), {}),
    (C.asymmetric, (2, 4, 3), {"mid": 0}), (C.fire, (4, 2, 0, 0), {}), (C.fire, (4, 0, 2, 2), {}),
    (C.standard_conv_macs, (2, 4, 3), {"size": (0, 3)}), (C.standard_conv_macs, (2, 4, 3), {"size": 5}),
    (C.params, ("nope", 2, 4), {}), (C.separable_ratio, (0,), {}),
    (C.conv_traffic, (6, 6, 3), {"groups": 4}), (C.out_size, (5, 0), {}),
])
def test_bad_arguments_raise_value_error(fn, args, kw):
    with pytest.raises(ValueError):
        fn(*args, **kw)


def test_depthwise_conv2d_rejects_mismatched_weight():
    with pytest.raises(ValueError, match="weight"):
        C.depthwise_conv2d(torch.zeros(1, 3, 5, 5), torch.zeros(4, 3, 3))
    with pytest.raises(ValueError, match="k must be an odd"):
        C.depthwise_conv2d(torch.zeros(1, 3, 5, 5), torch.zeros(3, 2, 2))


# --------------------------------------------------------------------------- the chapter's networks
@pytest.mark.parametrize("variant", list(E.VARIANTS))
def test_chapter_networks_block_costs_are_the_formulas(variant):
    net = E.compact_cnn(variant)
    c1, c2, c3 = E.CHANNELS
    name = E.VARIANTS[variant][0]
    if variant == "fire":
        args = [(c1, c2 // 8, c2 // 2, c2 // 2), (c2, c3 // 8, c3 // 2, c3 // 2)]
    elif variant == "standard_5x5":
        args = [(c1, c2, 5), (c2, c3, 5)]
    else:
        args = [(c1, c2), (c2, c3)]
    kw = [{"mid": c1}, {"mid": c2}] if variant in ("asymmetric", "factorized_5x5") else [{}, {}]
    assert count_params(net[3]) == C.params(name, *args[0], **kw[0])
    assert count_params(net[7]) == C.params(name, *args[1], **kw[1])
    macs = count_macs(net, (1, 28, 28))
    blocks = sum(m for n, m in macs.items() if n.split(".")[0] in ("3", "7"))
    assert blocks == C.macs(name, *args[0], size=(14, 14), **kw[0]) + C.macs(name, *args[1], size=(7, 7), **kw[1])


def test_chapter_factorised_blocks_are_cheaper_than_their_references():
    p = {v: sum(count_params(E.compact_cnn(v)[i]) for i in (3, 7)) for v in E.VARIANTS}
    assert p["factorized_5x5"] < p["standard_5x5"] and p["asymmetric"] < p["standard"]
    assert p["depthwise_separable"] < p["standard"] and p["fire"] < p["standard"]


def test_chapter_networks_are_seeded():
    a, b = E.compact_cnn("fire", seed=3), E.compact_cnn("fire", seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    c = E.compact_cnn("fire", seed=4)
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))
