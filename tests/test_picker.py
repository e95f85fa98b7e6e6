"""The PhaseNet-style picker (lib/picker.py): hand counts, shapes, softmax, the separable variant."""

import pytest
import torch
from torch import nn

from lib import picker
from lib.workbench.measure import count_macs


def hand_count(widths, k, separable=False):
    """Parameters written out layer by layer (weights k*m*n, or k*m + m*n separable; BatchNorm 2n)."""
    def block(m, n, sep):
        return (k * m + m * n if sep and k > 1 else k * m * n) + 2 * n
    w = list(widths)
    total = block(3, w[0], False) + 3 * w[0] + 3                         # stem and head
    total += sum(block(w[i - 1] if i else w[0], w[i], separable) for i in range(len(w)))  # "same" convs
    total += sum(block(w[i], w[i], separable) for i in range(len(w) - 1))               # strided convs
    total += sum(block(w[i + 1], w[i], separable) + block(2 * w[i], w[i], separable)   # up branch
                 for i in range(len(w) - 1))
    return total


@pytest.mark.parametrize("widths,k", [((8, 11, 16, 22, 32), 7), ((4, 8), 3), ((5,), 5), ((2, 3, 4), 1)])
@pytest.mark.parametrize("separable", [False, True])
def test_parameter_count_matches_hand_count(widths, k, separable):
    net = picker.PhaseNetLike(widths, kernel_size=k, separable=separable)
    n = sum(p.numel() for p in net.parameters())
    assert n == hand_count(widths, k, separable) == picker.unet_params(widths, k, separable=separable)


def test_phasenet_default_count_written_out():
    # stem 3*8*7+16, levels (same, strided), up levels (after upsampling, after merge), head 8*3+3
    down = (8*8*7 + 16) + (8*8*7 + 16) + (8*11*7 + 22) + (11*11*7 + 22) + (11*16*7 + 32) + (16*16*7 + 32) \
        + (16*22*7 + 44) + (22*22*7 + 44) + (22*32*7 + 64)
    up = (32*22*7 + 44) + (44*22*7 + 44) + (22*16*7 + 32) + (32*16*7 + 32) + (16*11*7 + 22) + (22*11*7 + 22) \
        + (11*8*7 + 16) + (16*8*7 + 16)
    assert picker.unet_params() == 3*8*7 + 16 + down + up + 27 == 39084


def test_separable_is_smaller_and_cheaper():
    dense, sep = picker.PhaseNetLike(), picker.PhaseNetLike(separable=True)
    assert picker.unet_params(separable=True) < picker.unet_params() / 4
    assert count_macs(sep, (3, 3000))["total"] < count_macs(dense, (3, 3000))["total"] / 3


@pytest.mark.parametrize("T", [3000, 1000, 301, 17])
def test_output_shape_and_softmax(T):
    net = picker.PhaseNetLike(seed=1)
    x = torch.randn(2, 3, T)
    assert net(x).shape == (2, 3, T)
    p = picker.probabilities(net, x, batch_size=1)
    assert torch.allclose(p.sum(dim=1), torch.ones(2, T), atol=1e-6)
    assert (p >= 0).all()


def test_seeded_and_eval_mode_restored():
    a, b = picker.PhaseNetLike(seed=3), picker.PhaseNetLike(seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    c = picker.PhaseNetLike(seed=4)
    assert not torch.equal(a.head.weight, c.head.weight)
    a.train()
    picker.probabilities(a, torch.randn(1, 3, 64))
    assert a.training


def test_convolutions_are_one_dimensional():
    # A sample only sees samples within the receptive field: changing the last sample leaves the first unchanged.
    net = picker.PhaseNetLike(widths=(4, 4), kernel_size=3, stride=2).eval()
    x = torch.randn(1, 3, 200)
    y = x.clone()
    y[..., -1] += 10
    with torch.no_grad():
        assert torch.allclose(net(x)[..., :100], net(y)[..., :100])
        assert not torch.allclose(net(x)[..., -1], net(y)[..., -1])


def test_parameter_table_sums_and_orders():
    net = picker.PhaseNetLike()
    rows = picker.parameter_table(net)
    assert sum(r["params"] for r in rows) == picker.unet_params()
    assert abs(sum(r["share"] for r in rows) - 1) < 1e-12
    assert rows[0]["block"] == "stem" and rows[-1]["block"] == "head"
    assert len(rows) == 1 + 9 + 8 + 1


def test_phasenet_layers_seisbench_counts():
    assert sum(r["params"] for r in picker.phasenet_layers()) == 268443
    assert sum(r["params"] for r in picker.phasenet_layers(light=True)) == 23305
    # the bottom of the U (128 channels) holds most of PhaseNet's weights
    rows = picker.phasenet_layers()
    bottom = sum(r["params"] for r in rows if r["layer"] in ("down 5, same", "up 1, transposed", "up 1, same"))
    assert bottom / 268443 > 0.6


def test_normalize_traces():
    x = picker.normalize_traces(torch.randn(4, 3, 500) * 7 + 3)
    assert torch.allclose(x.mean(-1), torch.zeros(4, 3), atol=1e-5)
    assert torch.allclose(x.std(-1, unbiased=False), torch.ones(4, 3), atol=1e-4)
    assert torch.equal(picker.normalize_traces(torch.zeros(1, 3, 10)), torch.zeros(1, 3, 10))


@pytest.mark.parametrize("bad", [dict(widths=()), dict(widths=(0, 4)), dict(kernel_size=0), dict(stride=1)])
def test_bad_arguments(bad):
    with pytest.raises(ValueError):
        picker.PhaseNetLike(**bad)
    with pytest.raises(ValueError):
        picker.normalize_traces(torch.zeros(3, 10))
    with pytest.raises(ValueError):
        picker.parameter_table("net")


def test_works_with_the_books_tools():
    from lib.pruning import magnitude_prune
    from lib.qat import dequantize_state_dict, quantize_state_dict
    net = picker.PhaseNetLike(widths=(4, 8))
    qsd = quantize_state_dict(net, 8)
    net.load_state_dict(dequantize_state_dict(qsd))
    magnitude_prune(net.down[0][0][0], "weight", amount=0.5)
    assert float((net.down[0][0][0].weight == 0).float().mean()) == 0.5
    assert isinstance(net.head, nn.Conv2d)
