"""lib.measure: sizes, storage formats, multiply-accumulates, timing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lib import measure, models, pruning


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
