"""lib.hashing: HashedNets' layer and hashes, cross-layer sharing, lookup convolutions."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lib.hashing import (HashedLinear, LookupConv2d, SharedStack, bucket_gradient, bucket_sizes, conv_macs,
                         hash_index, hash_sign, lookup_conv, lookup_macs, splitmix64)


def test_virtual_weight_is_signed_lookup():
    layer = HashedLinear(7, 5, n_weights=6, seed=3)
    V = layer.virtual_weight()
    idx, sign = hash_index(5, 7, 6, 3), hash_sign(5, 7, 3)
    for i in range(5):
        for j in range(7):
            assert V[i, j].item() == sign[i, j].item() * layer.weight[idx[i, j]].item()
    assert set(V.abs().flatten().tolist()) <= set(layer.weight.abs().tolist())


def test_forward_equals_matmul_with_virtual_matrix():
    torch.manual_seed(0)
    layer = HashedLinear(9, 4, n_weights=5, seed=1)
    x = torch.randn(3, 9)
    want = x @ layer.virtual_weight().T + layer.bias
    torch.testing.assert_close(layer(x), want)
    nobias = HashedLinear(9, 4, n_weights=5, bias=False)
    torch.testing.assert_close(nobias(x), x @ nobias.virtual_weight().T)


def test_gradient_is_signed_sum_over_bucket():
    torch.manual_seed(0)
    layer = HashedLinear(12, 8, n_weights=7, seed=2).double()
    x = torch.randn(5, 12, dtype=torch.double)
    # autograd through an explicit virtual matrix (a leaf), then summed by hand over buckets
    V = layer.virtual_weight().detach().requires_grad_(True)
    (x @ V.T + layer.bias.detach()).pow(2).sum().backward()
    manual = torch.zeros(7, dtype=torch.double)
    for i in range(8):
        for j in range(12):
            manual[layer.index[i, j]] += layer.sign[i, j] * V.grad[i, j]
    layer(x).pow(2).sum().backward()
    torch.testing.assert_close(layer.weight.grad, manual)
    torch.testing.assert_close(bucket_gradient(V.grad, layer.index, layer.sign, 7), manual)


def test_gradcheck():
    layer = HashedLinear(4, 3, n_weights=5).double()
    x = torch.randn(2, 4, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda inp, w: F.linear(inp, layer.sign * w[layer.index]),
                                    (x, layer.weight.detach().clone().requires_grad_(True)))


def test_hashes_deterministic_and_seeded():
    a, b = hash_index(30, 40, 17, seed=5), hash_index(30, 40, 17, seed=5)
    assert torch.equal(a, b)
    assert not torch.equal(a, hash_index(30, 40, 17, seed=6))
    assert not torch.equal(hash_sign(30, 40, 5), hash_sign(30, 40, 6))
    assert int(a.min()) >= 0 and int(a.max()) < 17
    # a fresh interpreter with another PYTHONHASHSEED gives the same buckets (no Python hash())
    code = "from lib.hashing import hash_index; print(hash_index(30, 40, 17, 5).sum().item())"
    root = str(Path(__file__).resolve().parents[1])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123", "PATH": ""}, cwd=root)
    assert int(out.stdout) == int(a.sum())


def test_splitmix64_known_values():
    # SplitMix64 from state 0: the first output is mix(0x9E3779B97F4A7C15)
    assert int(splitmix64(np.array([0], dtype=np.uint64))[0]) == 0xE220A8397B1DCDAF


def test_hash_is_roughly_uniform_and_signs_balanced():
    idx = hash_index(200, 300, 64, seed=0)
    counts = torch.bincount(idx.flatten(), minlength=64).double()
    mean = 200 * 300 / 64
    assert (counts - mean).abs().max() < 6 * mean ** 0.5   # Binomial spread
    assert abs(hash_sign(200, 300).mean().item()) < 0.02


def test_bucket_sizes_and_state_dict():
    layer = HashedLinear(10, 6, n_weights=4)
    assert int(bucket_sizes(layer).sum()) == 60
    assert set(layer.state_dict()) == {"weight", "bias"}    # the hash tables are not stored
    other = HashedLinear(10, 6, n_weights=4)
    other.load_state_dict(layer.state_dict())
    torch.testing.assert_close(other.virtual_weight(), layer.virtual_weight())


@pytest.mark.parametrize("kwargs, name", [({"n_weights": 0}, "n_weights"), ({"in_features": 0}, "in_features"),
                                          ({"out_features": -1}, "out_features"), ({"seed": -1}, "seed"),
                                          ({"n_weights": 2.5}, "n_weights")])
def test_bad_input(kwargs, name):
    args = {"in_features": 3, "out_features": 2, "n_weights": 4, **kwargs}
    with pytest.raises(ValueError, match=name):
        HashedLinear(**args)


def test_bucket_gradient_shapes_checked():
    with pytest.raises(ValueError, match="shape"):
        bucket_gradient(torch.ones(2, 2), torch.zeros(2, 3, dtype=torch.long), torch.ones(2, 2), 3)


def test_shared_stack_same_macs_fewer_params():
    blk = nn.Sequential(nn.Linear(6, 6), nn.ReLU())
    shared, separate = SharedStack(blk, 4), SharedStack(blk, 4, shared=False)
    assert sum(p.numel() for p in separate.parameters()) == 4 * sum(p.numel() for p in shared.parameters())
    x = torch.randn(3, 6)
    # separate copies with equal weights compute the same function as the shared block
    torch.testing.assert_close(shared(x), separate(x))
    y = x
    for _ in range(4):
        y = y + blk(y)
    torch.testing.assert_close(shared(x), y)
    with pytest.raises(ValueError, match="depth"):
        SharedStack(blk, 0)


def test_lookup_conv_equals_dense_conv():
    torch.manual_seed(0)
    conv = LookupConv2d(5, 7, 3, dict_size=6, n_lookups=2, padding=1, seed=4).double()
    x = torch.randn(2, 5, 9, 9, dtype=torch.double)
    dense = F.conv2d(x, conv.dense_weight(), conv.bias, padding=1)
    torch.testing.assert_close(conv(x), dense)
    looked = lookup_conv(x, conv.dictionary, conv.index, conv.coef, padding=1) + conv.bias[None, :, None, None]
    torch.testing.assert_close(looked, dense)
    # each dense filter column is a combination of dictionary vectors: rank <= dict size
    W = conv.dense_weight().permute(0, 2, 3, 1).reshape(-1, 5)
    assert torch.linalg.matrix_rank(W) <= 6
    assert conv.index.shape == (7, 3, 3, 2) and int(conv.index.max()) < 6


def test_lookup_macs_formula():
    assert lookup_macs(16, 32, 3, 8, 1, 64) == (8 * 16 + 32 * 9) * 64
    assert conv_macs(16, 32, 3, 64) == 16 * 32 * 9 * 64
    with pytest.raises(ValueError, match="n_lookups"):
        LookupConv2d(4, 4, 3, dict_size=2, n_lookups=3)
