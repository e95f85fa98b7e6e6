"""lib.measure: sizes, storage formats, multiply-accumulates, timing."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch
from torch import nn

from lib.workbench import measure, models
from lib import pruning


def test_param_and_nonzero_counts_see_masks():
    net = models.lenet_300_100()
    assert measure.count_params(net) == 266_610
    pruning.magnitude_prune(net[0], amount=0.9)
    assert measure.count_params(net) == 266_610  # weight_orig counted once, the mask not at all
    assert measure.count_nonzero(net) == 266_610 - round(0.9 * 784 * 300) - int((net[0].bias == 0).sum())


def test_storage_dense_and_csr():
    w = torch.zeros(4, 6)
    w[0, 1], w[2, 5], w[3, 0] = 1.0, 2.0, 3.0
    assert measure.storage_bits(w, "dense") == 24 * 32
    assert measure.storage_bits(w, "csr") == 3 * (32 + 32) + 5 * 32
    assert measure.storage_bits(w, "csr", value_bits=8, index_bits=16) == 3 * 24 + 5 * 16


@pytest.mark.parametrize("zeros_before, bits, padding", [(0, 3, 0), (7, 3, 0), (8, 3, 1), (15, 3, 1), (16, 3, 2),
                                                          (31, 5, 0), (32, 5, 1), (100, 5, 3)])
def test_relative_index_padding(zeros_before, bits, padding):
    flat = np.concatenate([np.zeros(zeros_before), [1.0], np.zeros(5), [2.0], np.zeros(50)])
    assert measure.relative_index_entries(flat, bits) == 2 + padding
    assert measure.storage_bits(torch.tensor(flat), "relative", value_bits=4, index_bits=bits) == (2 + padding) * (4 + bits)


def test_relative_index_round_trip_bound():
    """Decoding the entries must reproduce the positions: brute-force check against a reference encoder."""
    rng = np.random.default_rng(0)
    for _ in range(50):
        flat = (rng.random(300) < rng.uniform(0.01, 0.3)) * rng.normal(size=300)
        bits = int(rng.integers(1, 6))
        entries, last = 0, -1
        for p in np.flatnonzero(flat):
            gap = p - last - 1
            while gap > (1 << bits) - 1:   # emit a padding zero after the largest skip
                entries += 1
                gap -= 1 << bits
            entries += 1
            last = p
        assert measure.relative_index_entries(flat, bits) == entries


def test_a_layer_applied_twice_is_counted_twice():
    """Cross-layer sharing saves parameters, not multiply-accumulates."""
    from torch import nn

    layer = nn.Linear(8, 8)

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = layer

        def forward(self, x):
            return self.layer(torch.relu(self.layer(x)))

    assert measure.count_macs(Twice(), (8,)) == {"layer": 2 * 64, "total": 2 * 64}


def test_macs_of_lenets():
    assert measure.count_macs(models.lenet_300_100(), (784,))["total"] == 784 * 300 + 300 * 100 + 100 * 10
    m = measure.count_macs(models.lenet5(), (1, 28, 28))
    assert m["0"] == 20 * 25 * 24 * 24 and m["2"] == 50 * 20 * 25 * 8 * 8
    assert m["total"] == 20 * 25 * 576 + 50 * 500 * 64 + 800 * 500 + 500 * 10
    net = models.lenet_300_100()
    pruning.magnitude_prune(net[0], amount=0.5)
    assert measure.count_macs(net, (784,), nonzero_only=True)["0"] == 784 * 300 // 2


def test_latency_reports_threads_and_spread():
    r = measure.latency(nn.Linear(8, 4), torch.zeros(2, 8), warmup=1, runs=5)
    assert r["p10_ms"] <= r["median_ms"] <= r["p90_ms"] and r["batch"] == 2 and r["threads"] >= 1
    with pytest.raises(ValueError, match="runs"):
        measure.latency(nn.Linear(8, 4), torch.zeros(2, 8), runs=1)


def test_storage_rejects_bad_format():
    with pytest.raises(ValueError, match="fmt"):
        measure.storage_bits(torch.ones(3), "coo")
    with pytest.raises(ValueError, match="value_bits"):
        measure.storage_bits(torch.ones(3), "dense", value_bits=0)


def test_layer_costs_split_size_and_compute():
    rows = measure.layer_costs(models.lenet5(), (1, 28, 28))
    assert [r["name"] for r in rows] == ["conv1", "conv2", "fc1", "fc2"]
    assert sum(r["params"] for r in rows) == 431_080
    conv_macs = sum(r["macs"] for r in rows if r["kind"] == "conv")
    fc_params = sum(r["params"] for r in rows if r["kind"] == "fc")
    assert conv_macs > 0.8 * sum(r["macs"] for r in rows)  # convolutions: most of the compute
    assert fc_params > 0.9 * 431_080                          # fully connected: most of the weights


# --------------------------------------------------------------------------- sparse kernels


@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.95])
@pytest.mark.parametrize("batch", [1, 64])
def test_sparse_linear_equals_the_dense_layer(sparsity, batch, one_thread):
    torch.manual_seed(0)
    dense = nn.Linear(120, 40)
    pruning.magnitude_prune(dense, amount=sparsity)
    layer = measure.SparseLinear.from_dense(dense)
    assert layer.weight.layout == torch.sparse_csr
    assert layer.nnz == int((dense.weight != 0).sum()) == 4800 - round(sparsity * 4800)
    assert torch.equal(layer.weight.to_dense(), dense.weight.detach())
    x = torch.randn(batch, 120)
    with torch.no_grad():
        assert torch.allclose(layer(x), dense(x), atol=1e-5, rtol=0)
        assert torch.allclose(layer(x[0]), dense(x[0]), atol=1e-5, rtol=0)                      # one example, 1-D
        assert layer(x.view(batch, 1, 120)).shape == (batch, 1, 40)                                # leading dims kept
    copied = copy.deepcopy(layer)  # a CSR tensor cannot be deep-copied or pickled; the layer can
    assert copied.values.data_ptr() != layer.values.data_ptr() and torch.equal(copied(x), layer(x))
    assert torch.equal(pickle.loads(pickle.dumps(layer))(x), layer(x))
    assert set(layer.state_dict()) == {"crow_indices", "col_indices", "values", "bias"}
    assert torch.allclose(copied.double()(x.double()), layer(x).double(), atol=1e-5)  # .to() re-wraps the weight
    no_bias = nn.Linear(120, 40, bias=False)
    with torch.no_grad():
        assert torch.allclose(measure.SparseLinear.from_dense(no_bias)(x), no_bias(x), atol=1e-5, rtol=0)


def test_sparsify_replaces_every_linear_and_keeps_the_outputs(one_thread):
    net = models.lenet_300_100(seed=2)
    pruning.global_magnitude_prune([(m, "weight") for m in net if isinstance(m, nn.Linear)], 0.9)
    x = torch.randn(64, 784)
    net(x).sum().backward()  # leaves the pruned `weight`s as non-leaf tensors, which plain deepcopy refuses
    sparse = measure.sparsify(net)
    assert [type(m).__name__ for m in sparse] == ["SparseLinear", "ReLU"] * 2 + ["SparseLinear"]
    assert sum(m.nnz for m in sparse if hasattr(m, "nnz")) == measure.count_nonzero(net) - 410  # minus the biases
    assert isinstance(net[0], nn.Linear) and hasattr(net[0], "weight_mask")  # the original is untouched
    with torch.no_grad():
        assert torch.allclose(sparse(x), net(x), atol=1e-5, rtol=0)
        assert torch.allclose(sparse(x[:1]), net(x[:1]), atol=1e-5, rtol=0)
    nested = nn.Sequential(nn.Sequential(nn.Linear(6, 5), nn.Tanh()), nn.Linear(5, 2))
    assert [type(m).__name__ for m in measure.sparsify(nested).modules()].count("SparseLinear") == 2
    with pytest.raises(ValueError, match="net"):
        measure.sparsify("lenet")
    with pytest.raises(ValueError, match="linear"):
        measure.SparseLinear.from_dense(nn.Conv2d(1, 2, 3))


def test_sparse_vs_dense_reports_structure_not_speed(one_thread):
    rows = measure.sparse_vs_dense(40, 30, sparsities=[0.0, 0.9], batch_sizes=[1, 8], runs=2, min_time=0.001)
    assert [(r["sparsity"], r["batch"]) for r in rows] == [(0.0, 1), (0.0, 8), (0.9, 1), (0.9, 8)]
    for r in rows:
        assert r["nnz"] == 1200 - round(r["sparsity"] * 1200)
        assert min(r["dense_ms"], r["sparse_ms"], r["sparse_kernel_ms"]) > 0
        assert r["speedup"] == pytest.approx(r["dense_ms"] / r["sparse_ms"])
        assert r["dense_bytes"] == 4 * 1200
        assert r["csr_bytes"] == 4 * r["nnz"] + 8 * r["nnz"] + 8 * 41
        assert r["threads"] == torch.get_num_threads() == 1
        assert r["max_abs_diff"] < 1e-5
    for kwargs, name in [({"sparsities": [1.5]}, "sparsities"), ({"batch_sizes": [0]}, "batch_sizes"),
                         ({"sparsities": []}, "sparsities"), ({"out_features": 0}, "out_features"),
                         ({"runs": 0}, "runs")]:
        with pytest.raises(ValueError, match=name):
            measure.sparse_vs_dense(**{"out_features": 4, "in_features": 3, "sparsities": [0.5],
                                       "batch_sizes": [1], **kwargs})
