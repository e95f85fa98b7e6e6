"""lib.coding: Huffman codes against an independent optimum, and Deep Compression's bit count by hand."""

from __future__ import annotations

import heapq
import itertools
import json
import math
import random

import pytest
import torch

from lib import coding
from lib.experiments import deep_compression
from lib.workbench import measure
from lib.quantization import kmeans_quantize

torch.set_num_threads(1)


def brute_force_optimum(counts):
    """Least total length over all codeword-length vectors that satisfy Kraft's inequality
    (every such vector is realised by some prefix code), found by exhaustive search."""
    n = len(counts)
    if n == 1:
        return counts[0]
    best = math.inf
    for lengths in itertools.product(range(1, n), repeat=n):
        if sum(2.0 ** -l for l in lengths) <= 1.0:
            best = min(best, sum(c * l for c, l in zip(counts, lengths)))
    return best


def merge_cost(counts):
    """Huffman's cost as the sum of the weights of all merged nodes (written independently)."""
    heap = list(counts)
    heapq.heapify(heap)
    cost = 0
    while len(heap) > 1:
        merged = heapq.heappop(heap) + heapq.heappop(heap)
        cost += merged
        heapq.heappush(heap, merged)
    return cost


def random_frequencies(rng, n):
    return {f"s{i}": rng.randint(1, 50) for i in range(n)}


@pytest.mark.parametrize("n", range(1, 7))
def test_huffman_is_optimal_against_brute_force(n):
    rng = random.Random(n)
    for _ in range(5):
        freq = random_frequencies(rng, n)
        code = coding.huffman_code(freq)
        total = sum(freq[s] * len(code[s]) for s in freq)
        assert total == brute_force_optimum(list(freq.values()))


def test_huffman_cost_equals_sum_of_merges_and_is_within_a_bit_of_entropy():
    rng = random.Random(0)
    for n in (2, 3, 10, 40, 200):
        freq = random_frequencies(rng, n)
        code = coding.huffman_code(freq)
        assert sum(freq[s] * len(code[s]) for s in freq) == merge_cost(list(freq.values()))
        H, L = coding.entropy(freq), coding.expected_length(code, freq)
        assert H <= L + 1e-12 and L < H + 1


def test_prefix_free_and_complete():
    rng = random.Random(1)
    for n in (2, 5, 33):
        code = coding.huffman_code(random_frequencies(rng, n))
        assert coding.is_prefix_free(code)
        assert coding.kraft_sum(code) == 1.0
    assert not coding.is_prefix_free({"a": "0", "b": "01"})


def test_round_trip_on_random_sequences():
    rng = random.Random(2)
    for n in (1, 2, 7, 30):
        symbols = list(range(n))
        seq = [rng.choice(symbols) for _ in range(500)]
        freq = {s: seq.count(s) for s in set(seq)}
        code = coding.huffman_code(freq)
        bits = coding.huffman_encode(seq, code)
        assert len(bits) == sum(len(code[s]) for s in seq)
        assert coding.huffman_decode(bits, code) == seq


def test_deterministic_tie_breaking_and_one_symbol():
    freq = {"d": 1, "b": 1, "a": 1, "c": 1, "e": 2}
    reordered = dict(reversed(list(freq.items())))
    assert coding.huffman_code(freq) == coding.huffman_code(reordered)
    assert coding.huffman_code({"x": 5}) == {"x": "0"}
    assert coding.huffman_decode("000", {"x": "0"}) == ["x", "x", "x"]
    assert coding.entropy({"x": 5}) == 0.0


def test_tree_is_jsonable_and_matches_the_code():
    freq = {0: 5, 1: 2, 2: 1, 3: 1}
    nodes = coding.huffman_tree(freq)
    json.dumps(nodes)
    assert [n["id"] for n in nodes] == list(range(len(nodes)))
    assert nodes[-1]["weight"] == 9 and nodes[-1]["code"] == ""
    leaves = {n["symbol"]: n["code"] for n in nodes if not n["children"]}
    assert leaves == coding.huffman_code(freq)
    for n in nodes:
        if n["children"]:
            assert n["weight"] == sum(nodes[c]["weight"] for c in n["children"])


def test_canonical_code_and_table_bits():
    code = coding.huffman_code({0: 5, 1: 2, 2: 1, 3: 1})
    canon = coding.canonical_code(code)
    assert coding.code_lengths(canon) == coding.code_lengths(code)
    assert coding.is_prefix_free(canon)
    assert canon == {0: "0", 1: "10", 2: "110", 3: "111"}
    # 4 symbols of 2 bits: dense 4 * 5 = 20 < sparse 3 + 4 * 7 = 31, plus the layout bit
    assert coding.huffman_table_bits(code, symbol_bits=2) == 21
    # 2 of 256 symbols: sparse 9 + 2 * 13 = 35 < dense 256 * 5
    assert coding.huffman_table_bits({7: "0", 200: "1"}, symbol_bits=8) == 36
    with pytest.raises(ValueError, match="code"):
        coding.huffman_table_bits({300: "0", 1: "1"}, symbol_bits=8)


@pytest.mark.parametrize("call, name", [
    (lambda: coding.huffman_code({}), "frequencies"),
    (lambda: coding.huffman_code({"a": 0, "b": 1}), "frequencies"),
    (lambda: coding.huffman_code({"a": -2}), "frequencies"),
    (lambda: coding.huffman_code([("a", 1)]), "frequencies"),
    (lambda: coding.entropy({"a": math.nan}), "frequencies"),
    (lambda: coding.huffman_encode("abz", {"a": "0", "b": "1"}), "symbols"),
    (lambda: coding.huffman_decode("0120", {"a": "0", "b": "1"}), "bits"),
    (lambda: coding.huffman_decode("10", {"a": "0", "b": "11"}), "bits"),  # "10" starts no codeword
    (lambda: coding.huffman_decode("011", {"a": "0", "b": "10"}), "bits"),  # trailing "1"
    (lambda: coding.huffman_decode("01", {"a": "0", "b": "01"}), "code"),  # not prefix-free
    (lambda: coding.expected_length({"a": "0"}, {"a": 1, "b": 1}), "frequencies"),
    (lambda: coding.huffman_table_bits({0: "0"}, symbol_bits=0), "symbol_bits"),
])
def test_bad_arguments_raise_valueerror_naming_them(call, name):
    with pytest.raises(ValueError, match=name):
        call()


# --------------------------------------------------------------------------- Deep Compression's format
@pytest.mark.parametrize("index_bits", [1, 2, 3, 5, 8])
def test_relative_entries_count_and_round_trip(index_bits):
    g = torch.Generator().manual_seed(index_bits)
    for density in (0.02, 0.1, 0.5):
        labels = torch.randint(1, 9, (3000,), generator=g) * (torch.rand(3000, generator=g) < density)
        gaps, codes = coding.relative_entries(labels, index_bits)
        assert len(gaps) == measure.relative_index_entries(labels, index_bits)
        assert int(gaps.max()) < 2**index_bits and int(gaps.min()) >= 0
        assert int((codes != 0).sum()) == int((labels != 0).sum())
        assert torch.equal(coding.relative_decode(gaps, codes, len(labels)), labels)


def test_deep_compression_bits_by_hand():
    # Nine weights, index width 2 (gaps up to 3). Non-zeros at 1, 7, 8 with codes 3, 1, 2.
    # Entries: (gap 1, code 3); 5 zeros before position 7 > 3, so a padding (gap 3, code 0)
    # covers positions 2-5; then (gap 1, code 1) and (gap 0, code 2).
    codebook = torch.tensor([0.0, -1.0, 0.5, 2.0])
    labels = torch.tensor([0, 3, 0, 0, 0, 0, 0, 1, 2])
    r = coding.deep_compression_bits(codebook, labels, index_bits=2)
    assert (r["weights"], r["nonzero"], r["padding"], r["entries"]) == (9, 3, 1, 4)
    assert (r["clusters"], r["used_clusters"], r["weight_bits"]) == (3, 3, 2)
    assert (r["dense"], r["index"], r["codes"], r["codebook"]) == (288, 8, 8, 96)
    assert r["fixed_total"] == 8 + 8 + 96
    # Huffman: gaps {1: 2, 3: 1, 0: 1} -> lengths 1, 2, 2 -> 6 bits; codes {3, 0, 1, 2} once each -> 8 bits.
    # Each table: 4 symbols of 2 bits, dense layout 4 x 5 bits + 1 layout bit = 21.
    assert (r["huffman_index"], r["huffman_index_table"]) == (6, 21)
    assert (r["huffman_codes"], r["huffman_codes_table"]) == (8, 21)
    assert r["huffman_total"] == r["total"] == 6 + 21 + 8 + 21 + 96
    assert r["compression"] == 288 / r["total"]
    assert coding.deep_compression_bits(codebook, labels, 2, huffman=False)["total"] == 112


def test_deep_compression_bits_of_a_shared_pruned_layer():
    g = torch.Generator().manual_seed(7)
    w = torch.randn(100, 80, generator=g)
    mask = torch.rand(100, 80, generator=g) < 0.1
    codebook, labels = kmeans_quantize(w * mask, 31, mask=mask)
    r = coding.deep_compression_bits(codebook, labels, index_bits=5)
    assert r["weight_bits"] == 5 and r["nonzero"] == int(mask.sum())
    # the fixed-width entries are measure.storage_bits' relative format at 5-bit values
    assert r["index"] + r["codes"] == measure.storage_bits(codebook[labels], "relative", value_bits=5, index_bits=5)
    assert r["huffman_index"] < r["index"] and r["huffman_codes"] < r["codes"]
    assert r["avg_index_bits"] == r["huffman_index"] / r["entries"]
    unused = torch.cat([codebook, torch.tensor([9.0])])  # a centroid no weight points at is not stored
    assert coding.deep_compression_bits(unused, labels, 5)["codebook"] == r["codebook"]


@pytest.mark.parametrize("call, name", [
    (lambda: coding.deep_compression_bits(torch.tensor([1.0, 2.0]), torch.tensor([0, 1])), "codebook"),
    (lambda: coding.deep_compression_bits(torch.tensor([0.0, 2.0]), torch.tensor([0, 2])), "labels"),
    (lambda: coding.deep_compression_bits(torch.tensor([0.0, 2.0]), torch.tensor([0.0, 1.0])), "labels"),
    (lambda: coding.deep_compression_bits(torch.zeros(5), torch.tensor([0, 1]), weight_bits=2), "weight_bits"),
    (lambda: coding.deep_compression_bits(torch.zeros(5), torch.tensor([0, 1]), index_bits=0), "index_bits"),
    (lambda: coding.relative_entries(torch.tensor([0.5]), 2), "labels"),
    (lambda: deep_compression.reproduce_deep_compression("resnet"), "model"),
    (lambda: deep_compression.reproduce_deep_compression("lenet5", bits=3), "settings"),
    (lambda: deep_compression.reproduce_deep_compression("lenet5", weight_bits={"0": 8}), "weight_bits"),
    (lambda: deep_compression.reproduce_deep_compression("lenet5", lrs=[]), "lrs"),
    (lambda: deep_compression.reproduce_deep_compression("lenet5", lrs=[0.0]), "lrs"),
    (lambda: deep_compression.reproduce_deep_compression("lenet5", epochs=-1), "epochs"),
])
def test_deep_compression_bad_arguments(call, name):
    with pytest.raises(ValueError, match=name):
        call()


# --------------------------------------------------------------------------- drawing the tree
def _leaves_under(layout, i):
    kids = [n["id"] for n in layout if n["parent"] == i]
    if not kids:
        return [i]
    return [leaf for k in kids for leaf in _leaves_under(layout, k)]


@pytest.mark.parametrize("n", [2, 3, 7, 33, 120])
def test_tree_layout_invariants(n):
    rng = random.Random(n)
    freq = {s: rng.randint(1, 1000) for s in range(n)}
    nodes = coding.huffman_tree(freq)
    layout = coding.tree_layout(nodes)
    json.dumps(layout)
    assert [node["id"] for node in layout] == list(range(len(nodes)))
    code = coding.huffman_code(freq)
    leaves = [node for node in layout if node["leaf"]]
    # one leaf per slot: no two leaves overlap
    assert sorted(node["x"] for node in leaves) == list(range(n))
    # left to right is the order of the codewords (0 goes left, 1 right)
    assert [node["code"] for node in sorted(leaves, key=lambda node: node["x"])] == sorted(code.values())
    for node in leaves:  # depth = codeword length, labelled with the symbol
        assert node["y"] == len(code[int(node["label"])]) == len(node["code"])
    root = layout[-1]
    assert root["parent"] is None and root["y"] == 0 and root["edge"] == "" and root["p"] == 1.0
    for node in layout[:-1]:
        parent = layout[node["parent"]]
        assert node["y"] == parent["y"] + 1  # every child one level below its parent
        assert node["edge"] == node["code"][-1] and node["code"] == parent["code"] + node["edge"]
        assert (node["x"] < parent["x"]) == (node["edge"] == "0")  # child 0 on the left
        assert node["p"] == pytest.approx(nodes[node["id"]]["weight"] / sum(freq.values()))
    for node in layout:  # a subtree's leaves fill a run of slots, so edges cannot cross
        if not node["leaf"]:
            xs = sorted(layout[i]["x"] for i in _leaves_under(layout, node["id"]))
            assert xs == list(range(int(xs[0]), int(xs[0]) + len(xs)))
            assert xs[0] < node["x"] < xs[-1]


def test_tree_layout_of_one_symbol_and_bad_input():
    assert coding.tree_layout(coding.huffman_tree({"x": 3})) == [
        {"id": 0, "x": 0, "y": 0, "parent": None, "edge": "", "leaf": True, "label": "x", "p": 1.0, "code": "0"}]
    nodes = coding.huffman_tree({"a": 1, "b": 2, "c": 3})
    for bad in ([], "tree", nodes[:-1], [nodes[1], nodes[0]] + nodes[2:], [{"id": 0}]):
        with pytest.raises(ValueError, match="nodes"):
            coding.tree_layout(bad)


def test_deep_compression_labels_validates_before_any_work():
    with pytest.raises(ValueError, match="model"):
        deep_compression.deep_compression_labels("resnet")
    with pytest.raises(ValueError, match="settings"):
        deep_compression.deep_compression_labels("lenet5", bits=3)
    with pytest.raises(ValueError, match="weight_bits"):
        deep_compression.deep_compression_labels("lenet_300_100", weight_bits={"0": 5})


def test_deep_compression_settings_resolve_one_width_per_layer():
    st = deep_compression.deep_compression_settings("lenet5", weight_bits=4, lrs=0.01)
    assert st["weight_bits"] == {"0": 4, "2": 4, "5": 4, "7": 4} and st["lrs"] == [0.01]
    assert deep_compression.deep_compression_settings("lenet5") == {
        **deep_compression.DEEP_COMPRESSION_SETTINGS["lenet5"]}  # the defaults are valid as they stand
    for model, rows in deep_compression.PAPER_LAYERS.items():  # one paper row per layer, plus the total
        assert len(rows) == len(deep_compression.LAYER_NAMES[model]) + 1 == len(deep_compression.PRUNABLE[model]) + 1


def test_check_huffman_lengths(capsys):
    from lib.book.exercises import check_huffman_lengths

    def right(counts):
        code = coding.huffman_code(dict(enumerate(counts)))
        return [len(code[i]) for i in range(len(counts))]

    check_huffman_lengths(right)
    assert "✓" in capsys.readouterr().out
    check_huffman_lengths(lambda counts: [max(1, math.ceil(math.log2(len(counts))))] * len(counts))  # fixed length
    out = capsys.readouterr().out
    assert "✗" in out and "optimum" in out
    check_huffman_lengths(lambda counts: [1] * len(counts))  # not a prefix code
    assert "Kraft" in capsys.readouterr().out
    check_huffman_lengths(lambda counts: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out
    check_huffman_lengths(None)
    assert "Not attempted" in capsys.readouterr().out


def test_deep_compression_bits_of_a_layer_with_nothing_kept():
    r = coding.deep_compression_bits(torch.tensor([0.0, 1.0]), torch.zeros(10, dtype=torch.long), index_bits=2)
    assert r["nonzero"] == 0 and r["total"] == 0 and r["compression"] == math.inf


# --------------------------------------------------------------------------- the chapters' experiments (no training)
def test_describe_code_of_a_geometric_source():
    from lib.experiments import huffman

    for n, ratio in [(1, 0.5), (5, 1.0), (8, 0.5), (32, 0.2)]:
        p = huffman.geometric(n, ratio)
        assert p.sum() == pytest.approx(1.0) and all(p[i] >= p[i + 1] for i in range(n - 1))
        d = huffman.geometric_point(n, ratio)
        code = coding.huffman_code({s: float(p[s]) for s in range(n)})
        assert d["length"] == [len(code[s]) for s in range(n)]
        assert d["H"] - 1e-12 <= d["L"] < d["H"] + 1 if n > 1 else d["L"] == 1  # one symbol still costs a bit
        assert d["redundancy"] == pytest.approx(d["L"] - d["H"])
        assert d["saving"] == pytest.approx(1 - d["L"] / d["fixed"])
        json.dumps(d)  # what a widget stores
    assert huffman.geometric_point(8, 1.0)["L"] == huffman.geometric_point(8, 1.0)["H"] == 3.0
    d = huffman.describe_code({0: 3, 2: 1}, range(4), 2)  # unused symbols: no length, probability 0
    assert d["length"] == [1, None, 1, None] and d["p"] == [0.75, 0, 0.25, 0]
    with pytest.raises(ValueError, match="ratio"):
        huffman.geometric(4, 0.0)
    with pytest.raises(ValueError, match="n"):
        huffman.geometric(0, 0.5)
    with pytest.raises(ValueError, match="stream"):
        huffman.stream_counts("fc1", "signs")
    with pytest.raises(ValueError, match="layer"):
        huffman.stream_counts("conv9", "gaps")


def _fake_result(error, dense_error, compression, lr=3e-4, shared_error=0.0152, shared_val=0.021, val=0.02):
    return {"paper": {"compression": 40}, "error": error, "dense_error": dense_error, "compression": compression,
            "lr": lr, "shared_error": shared_error, "shared_val_error": shared_val, "val_error": val}


def test_sentences_say_what_happened_whichever_way_it_went():
    good = deep_compression.verdict(_fake_result(0.0150, 0.0149, 43.4))
    assert "at least the paper's 40×" in good and "+0.01 points, within" in good
    bad = deep_compression.verdict(_fake_result(0.0164, 0.0149, 38.2))
    assert "1.8× short of the paper's 40×" in bad and "+0.15 points, 0.05 point beyond" in bad
    edge = deep_compression.verdict(_fake_result(0.0159, 0.0149, 39.96))  # 40.0 and +0.10 as printed
    assert "at least" in edge and "within" in edge
    up = deep_compression.fine_tuning_sentence(_fake_result(0.0154, 0.0149, 40, shared_error=0.0152, val=0.0216))
    assert "from 2.10 % to 2.16 % (up)" in up and "from 1.52 % to 1.54 % (up)" in up
    same = deep_compression.fine_tuning_sentence(_fake_result(0.0152, 0.0149, 40, shared_error=0.0152))
    assert "left the test error unchanged at 1.52 %" in same and "(down)" in same
    assert "no fine-tuning" in deep_compression.fine_tuning_sentence(_fake_result(0.01, 0.01, 40, lr=None))
    with pytest.raises(ValueError, match="result"):
        deep_compression.verdict({})


def test_paper_layer_rows_have_a_cell_per_column():
    g = torch.Generator().manual_seed(0)
    results = {}
    for model, names in deep_compression.LAYER_NAMES.items():
        layers = []
        for _ in names:
            labels = torch.randint(0, 8, (40, 30), generator=g) * (torch.rand(40, 30, generator=g) < 0.2)
            layers.append(coding.deep_compression_bits(torch.arange(8.0), labels, 5))
        dense = sum(r["dense"] for r in layers)
        results[model] = {"layers": layers, "compression_pq": dense / sum(r["fixed_total"] for r in layers),
                          "compression": dense / sum(r["total"] for r in layers)}
    rows = deep_compression.paper_layer_rows(results)
    assert len(rows) == sum(len(n) + 2 for n in deep_compression.LAYER_NAMES.values())
    assert all(len(r) == 9 for r in rows)
    assert "= 40×)" in rows[4][8] and "= 39×)" in rows[-1][8]  # the totals carry the paper's factors
