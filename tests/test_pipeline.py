"""lib.pipeline: Deep Compression's layers written to bytes hold exactly the counted bits and read back exactly."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from lib import coding, pipeline
from lib.experiments import deep_compression
from lib.workbench import measure
from lib.book.exercises import check_fixed_bits
from lib.quantization import kmeans_quantize, share_weights

torch.set_num_threads(1)


def random_layer(shape, density, k, seed, unused=0):
    """A pruned, shared layer: ``codebook`` (zero first, ``k`` centroids, the last ``unused`` of them
    given to no weight) and ``labels`` with about ``density`` of the weights kept."""
    g = torch.Generator().manual_seed(seed)
    kept = torch.rand(shape, generator=g) < density
    labels = torch.randint(1, k - unused + 1, shape, generator=g) * kept
    codebook = torch.cat([torch.zeros(1), torch.randn(k, generator=g)])
    return codebook, labels


CASES = [((300, 100), 0.08, 31, 5, 0), ((20, 1, 5, 5), 0.66, 255, 5, 100), ((10, 100), 0.2, 31, 3, 4),
         ((1000,), 0.01, 7, 2, 0), ((50, 50), 0.9, 3, 8, 0), ((64,), 0.5, 1, 1, 0)]


@pytest.mark.parametrize("huffman", [True, False])
@pytest.mark.parametrize("shape,density,k,index_bits,unused", CASES)
def test_round_trip_restores_every_weight_and_costs_exactly_the_counted_bits(shape, density, k, index_bits, unused,
                                                                             huffman):
    codebook, labels = random_layer(shape, density, k, seed=len(shape) + k, unused=unused)
    blob = pipeline.encode_layer(codebook, labels, index_bits, huffman=huffman)
    counted = coding.deep_compression_bits(codebook, labels, index_bits, huffman=huffman)
    payload = pipeline.header_bits(len(shape), counted["weight_bits"]) + counted["total"]
    assert len(blob) == math.ceil(payload / 8)
    got_codebook, got_labels = pipeline.decode_layer(blob)
    assert got_labels.shape == labels.shape
    assert torch.equal(got_codebook[got_labels], codebook[labels])
    assert len(got_codebook) == 1 + counted["used_clusters"]  # unused centroids are not stored


def test_codes_are_renumbered_over_the_used_centroids_only():
    codebook = torch.tensor([0.0, -1.0, 0.25, 0.5, 2.0])
    labels = torch.tensor([0, 4, 0, 2, 4, 0])
    got_codebook, got_labels = pipeline.decode_layer(pipeline.encode_layer(codebook, labels))
    assert got_codebook.tolist() == [0.0, 0.25, 2.0]
    assert got_labels.tolist() == [0, 2, 0, 1, 2, 0]


def test_hand_count_of_a_tiny_fixed_width_layer():
    # labels 0 3 0 0 0 0 0 1 2 with 2-bit gaps: gaps 1, then 5 zeros = one padding entry (3 zeros + a stored
    # zero) and a gap of 1, then 0: four entries of 2 + 2 bits, and three 32-bit centroids
    codebook, labels = torch.tensor([0.0, -1.0, 0.5, 2.0]), torch.tensor([0, 3, 0, 0, 0, 0, 0, 1, 2])
    blob = pipeline.encode_layer(codebook, labels, index_bits=2, huffman=False)
    assert pipeline.header_bits(1, 2) == 3 + 32 + 5 + 5 + 1 + 32 + 2
    assert len(blob) == math.ceil((pipeline.header_bits(1, 2) + 4 * 4 + 3 * 32) / 8)


def test_huffman_streams_decode_with_the_libraries_own_decoder():
    """After the header and the codebook: the gaps' table, the gaps as canonical Huffman codewords,
    the codes' table, the codes as canonical Huffman codewords (as lib.coding encodes them)."""
    codebook, labels = random_layer((40, 30), 0.2, 15, seed=3)
    assert len(torch.unique(labels[labels != 0])) == 15  # every centroid used: no renumbering
    gaps, codes = coding.relative_entries(labels, 4)
    bits = "".join(format(b, "08b") for b in pipeline.encode_layer(codebook, labels, 4, huffman=True))
    pos = pipeline.header_bits(2, 4) + 15 * 32
    for stream, symbol_bits in ((gaps.tolist(), 4), (codes.tolist(), 4)):
        code = coding.canonical_code(coding.huffman_code({s: stream.count(s) for s in set(stream)}))
        pos += coding.huffman_table_bits(code, symbol_bits)
        n = len(coding.huffman_encode(stream, code))
        assert coding.huffman_decode(bits[pos:pos + n], code) == stream
        pos += n
    assert set(bits[pos:]) <= {"0"} and len(bits) - pos < 8  # only the padding to a whole byte is left


def test_an_all_zero_layer_stores_no_entries_and_reads_back_as_zeros():
    codebook, labels = torch.tensor([0.0, 1.0]), torch.zeros(3, 4, dtype=torch.int64)
    for huffman in (True, False):
        blob = pipeline.encode_layer(codebook, labels, huffman=huffman)
        assert len(blob) == math.ceil(pipeline.header_bits(2, 1) / 8)
        got_codebook, got_labels = pipeline.decode_layer(blob)
        assert torch.equal(got_codebook[got_labels], torch.zeros(3, 4))


def _shared_net() -> nn.Sequential:
    """A small MLP whose two layers are pruned (|w| <= 0.1) and shared by k-means (7 centroids and the zero)."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(20, 8), nn.ReLU(), nn.Linear(8, 3))
    for m in (net[0], net[2]):
        with torch.no_grad():
            m.weight.mul_(m.weight.abs() > 0.1)
        share_weights(m, 7, mask=m.weight.detach() != 0)
    return net


def test_a_shared_module_round_trips_through_shared_layers():
    net = _shared_net()
    layers = pipeline.shared_layers(net)
    assert list(layers) == ["0", "2"]
    for name, (codebook, labels) in layers.items():
        weight = dict(net.named_modules())[name].weight.detach()
        assert torch.equal(codebook[labels], weight)
        got_codebook, got_labels = pipeline.decode_layer(pipeline.encode_layer(codebook, labels))
        assert torch.equal(got_codebook[got_labels], weight)


def test_a_network_written_and_read_back_computes_the_same():
    net = _shared_net()
    blobs = pipeline.encode_net(net)
    assert list(blobs) == ["0", "2"] and all(isinstance(b, bytes) for b in blobs.values())
    fresh = nn.Sequential(nn.Linear(20, 8), nn.ReLU(), nn.Linear(8, 3))
    fresh.load_state_dict({k: v for k, v in net.state_dict().items() if k.endswith("bias")}, strict=False)
    assert pipeline.decode_net(fresh, blobs) is fresh
    x = torch.randn(16, 20)
    assert torch.equal(fresh(x), net(x))
    assert not hasattr(fresh[0], "parametrizations")  # plain weights, no parametrisation
    assert sum(len(b) for b in blobs.values()) < 4 * (20 * 8 + 8 * 3) / 2  # well under the float32 weights


def test_storage_breakdown_sums_to_the_stage_totals():
    rows = []
    for i, (shape, density, k, index_bits, unused) in enumerate(CASES[:3]):
        codebook, labels = random_layer(shape, density, k, seed=i, unused=unused)
        row = coding.deep_compression_bits(codebook, labels, 5)
        row["name"] = str(i)
        row["pruned_bits"] = measure.storage_bits(codebook[labels], "relative", 32, 5)
        rows.append(row)
    result = {"layers": rows, "dense_bits": sum(r["dense"] for r in rows),
              "pruned_bits": sum(r["pruned_bits"] for r in rows), "pq_bits": sum(r["fixed_total"] for r in rows),
              "total_bits": sum(r["total"] for r in rows)}
    out = pipeline.storage_breakdown(result)
    assert tuple(out) == pipeline.STAGES
    want = dict(zip(pipeline.STAGES, ["dense_bits", "pruned_bits", "pq_bits", "pq_bits", "total_bits"]))
    for stage, key in want.items():
        assert sum(sum(kinds.values()) for kinds in out[stage].values()) == result[key]
    assert all(out["pruned"][r["name"]]["values"] == 32 * r["entries"] for r in rows)


def test_a_kmeans_shared_layer_decodes_to_the_same_floats():
    g = torch.Generator().manual_seed(1)
    w = torch.randn(30, 40, generator=g) * (torch.rand(30, 40, generator=g) < 0.1)
    codebook, labels = kmeans_quantize(w, 31, mask=w != 0)
    got_codebook, got_labels = pipeline.decode_layer(pipeline.encode_layer(codebook, labels))
    assert torch.equal(got_codebook[got_labels], codebook[labels])


# --------------------------------------------------------------------------- bad input
def test_bad_arguments_raise_clear_errors():
    codebook, labels = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([0, 1, 2])
    with pytest.raises(ValueError, match="codebook\\[0\\]"):
        pipeline.encode_layer(torch.tensor([1.0, 2.0]), labels.clamp(max=1))
    with pytest.raises(ValueError, match="labels"):
        pipeline.encode_layer(codebook, torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="index_bits"):
        pipeline.encode_layer(codebook, labels, index_bits=0)
    with pytest.raises(ValueError, match="blob"):
        pipeline.decode_layer(b"")
    with pytest.raises(ValueError, match="blob"):
        pipeline.decode_layer("not bytes")
    blob = pipeline.encode_layer(codebook, labels)
    with pytest.raises(ValueError, match="blob"):
        pipeline.decode_layer(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="blob"):
        pipeline.decode_layer(blob + b"\xff")
    with pytest.raises(ValueError, match="ndim"):
        pipeline.header_bits(0, 5)
    with pytest.raises(ValueError, match="model"):
        deep_compression.compressed_net("resnet")
    with pytest.raises(ValueError, match="settings"):
        deep_compression.compressed_net("lenet5", depth=3)
    with pytest.raises(ValueError, match="weight_bits"):
        deep_compression.compressed_net("lenet5", weight_bits={"0": 8})
    with pytest.raises(ValueError, match="blobs"):
        pipeline.decode_net(nn.Linear(3, 2), {})
    with pytest.raises(ValueError, match="blobs"):
        pipeline.decode_net(nn.Sequential(nn.Linear(3, 2)), {"5": blob})
    with pytest.raises(ValueError, match="shape"):
        pipeline.decode_net(nn.Sequential(nn.Linear(3, 2)), {"0": blob})
    with pytest.raises(ValueError, match="net"):
        pipeline.shared_layers(nn.Linear(3, 2))
    with pytest.raises(ValueError, match="result"):
        pipeline.storage_breakdown({"dense_bits": 1})


# --------------------------------------------------------------------------- the chapter's exercise
def test_check_fixed_bits(capsys):
    def right(labels, index_bits, weight_bits):
        flat = labels.reshape(-1)
        pos = torch.nonzero(flat).flatten()
        gaps = torch.diff(pos, prepend=torch.tensor([-1])) - 1
        entries = len(pos) + int((gaps // 2**index_bits).sum())
        return entries * (index_bits + weight_bits) + 32 * len(torch.unique(flat[flat != 0]))

    def no_padding(labels, index_bits, weight_bits):
        flat = labels.reshape(-1)
        return int((flat != 0).sum()) * (index_bits + weight_bits) + 32 * len(torch.unique(flat[flat != 0]))

    check_fixed_bits(right)
    assert "✓" in capsys.readouterr().out
    check_fixed_bits(no_padding)
    assert "✗" in capsys.readouterr().out
    check_fixed_bits(None)
    assert "Not attempted" in capsys.readouterr().out
