r"""Entropy coding and the storage of a compressed layer: Huffman codes and Deep Compression's bit count.

A quantised layer stores small integers (cluster indices, index gaps), and they are far from
equally frequent. A **Huffman code** (Huffman 1952) gives frequent symbols short codewords and
rare ones long codewords; among all prefix-free codes it has the least expected length
:math:`L`, and that length is within one bit of the entropy,

.. math::

    H = -\sum_s p_s \log_2 p_s \;\le\; L = \sum_s p_s \ell_s \;<\; H + 1 .

Huffman's algorithm repeatedly merges the two lightest subtrees (:func:`huffman_tree`); the
path from the root to a leaf, 0 for the first child and 1 for the second, is the symbol's
codeword (:func:`huffman_code`). Only the codeword *lengths* need to be stored: a decoder
rebuilds the canonical code from them (:func:`canonical_code`, :func:`huffman_table_bits`).

**Deep Compression** (Han et al. 2016) stores a pruned, weight-shared layer as a list of
entries, one per non-zero weight: the gap since the previous entry in a few bits, and the
index of its shared value. Gaps too long for the index width are bridged by padding entries
(:func:`relative_entries`). :func:`deep_compression_bits` counts every stored bit, with or
without Huffman coding of the two streams; :mod:`lib.pipeline` writes those bits to bytes and
reads them back, and :mod:`lib.experiments.deep_compression` runs the whole pipeline (prune,
share, fine-tune, code) on LeNet-300-100 and LeNet-5.

References
----------
.. [1] D. A. Huffman, "A Method for the Construction of Minimum-Redundancy Codes",
   Proceedings of the IRE 40(9), 1952.
.. [2] S. Han, H. Mao, W. J. Dally, "Deep Compression: Compressing Deep Neural Networks with
   Pruning, Trained Quantization and Huffman Coding", ICLR 2016, arXiv:1510.00149.
.. [3] T. M. Cover, J. A. Thomas, *Elements of Information Theory*, 2nd ed., Wiley 2006, ch. 5.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from numbers import Integral, Real

import numpy as np
import torch

from lib.core.checks import check_int

__all__ = ["huffman_tree", "huffman_code", "tree_layout", "huffman_encode", "huffman_decode", "is_prefix_free", "kraft_sum",
           "code_lengths", "expected_length", "entropy", "canonical_code", "huffman_table_bits",
           "relative_entries", "relative_decode", "deep_compression_bits"]


# --------------------------------------------------------------------------- Huffman codes
def _check_frequencies(frequencies) -> list[tuple[Hashable, float]]:
    """The (symbol, count) pairs in a fixed order: sorted by symbol if symbols sort, else as given."""
    if not isinstance(frequencies, Mapping) or not frequencies:
        raise ValueError(f"frequencies must be a non-empty mapping of symbol to count, got {frequencies!r}")
    for symbol, count in frequencies.items():
        if (isinstance(count, bool) or not isinstance(count, Real) or not math.isfinite(float(count))
                or count <= 0):
            raise ValueError(f"frequencies must hold positive finite counts, got {count!r} for symbol {symbol!r}")
    try:
        symbols = sorted(frequencies)
    except TypeError:  # symbols of mixed types: keep the mapping's order
        symbols = list(frequencies)
    # plain Python numbers, so that the tree is JSON-able even when the counts came from NumPy
    return [(s, int(frequencies[s]) if isinstance(frequencies[s], Integral) else float(frequencies[s]))
            for s in symbols]


def huffman_tree(frequencies: Mapping[Hashable, Real]) -> list[dict]:
    r"""Huffman's algorithm, step by step: the tree as a list of nodes, the root last.

    Start with one leaf per symbol, weighted by its count. Repeatedly remove the two lightest
    trees and join them under a new node whose weight is their sum, until one tree is left.

    Ties are broken deterministically by creation order: leaves are numbered in the order of
    the sorted symbols (the mapping's order if the symbols do not sort), merged nodes after them
    in the order they are made, and of two trees of equal weight the older one is taken first.
    The first tree taken becomes child 0 (bit ``0``), the second child 1 (bit ``1``).

    Returns
    -------
    list of dict
        One dict per node, in creation order (so ``nodes[i]["id"] == i``): ``id``, ``weight``,
        ``symbol`` (``None`` for a merged node), ``children`` (ids, ``[]`` for a leaf) and ``code``
        (the bits on the path from the root; a lone symbol gets ``"0"``). JSON-able when the
        symbols are.

    >>> for node in huffman_tree({"a": 3, "b": 1, "c": 1}):
    ...     print(node["id"], node["weight"], node["symbol"], node["children"], node["code"])
    0 3 a [] 1
    1 1 b [] 00
    2 1 c [] 01
    3 2 None [1, 2] 0
    4 5 None [3, 0]
    """
    items = _check_frequencies(frequencies)
    nodes = [{"id": i, "weight": count, "symbol": symbol, "children": [], "code": ""}
             for i, (symbol, count) in enumerate(items)]
    heap = [(node["weight"], node["id"]) for node in nodes]
    heapq.heapify(heap)
    while len(heap) > 1:
        w0, first = heapq.heappop(heap)
        w1, second = heapq.heappop(heap)
        nodes.append({"id": len(nodes), "weight": w0 + w1, "symbol": None, "children": [first, second], "code": ""})
        heapq.heappush(heap, (w0 + w1, len(nodes) - 1))
    if len(nodes) == 1:  # one symbol: a code still needs one bit per symbol
        nodes[0]["code"] = "0"
    for node in reversed(nodes):  # parents are made after their children: walk from the root down
        for bit, child in enumerate(node["children"]):
            nodes[child]["code"] = node["code"] + str(bit)
    return nodes


def huffman_code(frequencies: Mapping[Hashable, Real]) -> dict[Hashable, str]:
    """An optimal prefix-free code for ``frequencies`` (symbol to positive count): symbol to bit string.

    The leaves of :func:`huffman_tree` (see there for the tie-breaking). One symbol gets ``"0"``.

    >>> huffman_code({"a": 3, "b": 1, "c": 1})
    {'a': '1', 'b': '00', 'c': '01'}
    """
    return {node["symbol"]: node["code"] for node in huffman_tree(frequencies) if not node["children"]}


def tree_layout(nodes: list[dict]) -> list[dict]:
    r"""Where to draw each node of a :func:`huffman_tree`: leaves side by side, depth downwards.

    A depth-first walk from the root, child 0 before child 1, meets the leaves in their order
    from left to right: the :math:`i`-th leaf met stands at :math:`x = i`. An internal node stands
    midway between its two children, and every node at :math:`y` = its depth, the number of
    edges from the root. The edge to child 0 carries bit ``0``, the edge to child 1 bit ``1``, so
    a leaf's depth is the length of its codeword (with two or more symbols; a lone symbol is the
    root, at depth 0, though its codeword ``"0"`` has one bit). Each subtree occupies its own run
    of slots, so no two leaves overlap and no edges cross.

    Parameters
    ----------
    nodes : list of dict
        The output of :func:`huffman_tree`: ``nodes[i]["id"] == i``, children before parents, the
        root last.

    Returns
    -------
    list of dict
        One dict per node, in the same order: ``id``, ``x``, ``y``, ``parent`` (id, ``None`` for the
        root), ``edge`` (the bit on the edge from the parent, ``""`` for the root), ``leaf``,
        ``label`` (the symbol as text for a leaf, ``""`` otherwise), ``p`` (weight over the root's
        weight) and ``code``. JSON-able, for :func:`lib.widgets.tree`.

    >>> for n in tree_layout(huffman_tree({"a": 3, "b": 1, "c": 1})):
    ...     print(n["label"] or "-", n["x"], n["y"], n["parent"], repr(n["edge"]), n["code"])
    a 2 1 4 '1' 1
    b 0 2 3 '0' 00
    c 1 2 3 '1' 01
    - 0.5 1 4 '0' 0
    - 1.25 0 None '' 
    """
    if not isinstance(nodes, list) or not nodes:
        raise ValueError(f"nodes must be a non-empty list of nodes from huffman_tree, got {nodes!r:.80}")
    parent: dict[int, tuple[int, str]] = {}
    for i, node in enumerate(nodes):
        if not isinstance(node, Mapping) or node.get("id") != i or not {"children", "weight", "code"} <= set(node):
            raise ValueError(f"nodes must be huffman_tree's list (node i with id i, children, weight, code), "
                             f"got {node!r:.80} at position {i}")
        for bit, child in enumerate(node["children"]):
            if not isinstance(child, int) or not 0 <= child < i or child in parent:
                raise ValueError(f"nodes must form a tree with children made before their parent, but node {i} "
                                 f"has child {child!r}")
            parent[child] = (i, str(bit))
    root = len(nodes) - 1
    if len(parent) != root:
        raise ValueError(f"nodes must form one tree with the root last, but {root - len(parent)} other node(s) "
                         f"have no parent")
    x: dict[int, float] = {}
    depth = {root: 0}
    stack, slot = [root], 0
    while stack:  # depth-first, child 0 first: leaves in left-to-right order
        i = stack.pop()
        for child in nodes[i]["children"]:
            depth[child] = depth[i] + 1
        if nodes[i]["children"]:
            stack.extend(reversed(nodes[i]["children"]))
        else:
            x[i], slot = slot, slot + 1
    for i, node in enumerate(nodes):  # children come first, so their positions are known
        if node["children"]:
            x[i] = sum(x[c] for c in node["children"]) / len(node["children"])
    total = nodes[root]["weight"]
    return [{"id": i, "x": x[i], "y": depth[i], "parent": parent[i][0] if i in parent else None,
             "edge": parent[i][1] if i in parent else "", "leaf": not node["children"],
             "label": "" if node["children"] else str(node.get("symbol")), "p": node["weight"] / total,
             "code": node["code"]} for i, node in enumerate(nodes)]


def is_prefix_free(code: Mapping[Hashable, str]) -> bool:
    """Whether no codeword is a prefix of another (so that a bit string decodes one way only).

    After sorting, a codeword that is a prefix of another is directly followed by one that
    starts with it, so comparing neighbours suffices.
    """
    words = sorted(_check_code(code).values())
    return all(not b.startswith(a) for a, b in zip(words, words[1:]))


def kraft_sum(code: Mapping[Hashable, str]) -> float:
    r"""Kraft's sum :math:`\sum_s 2^{-\ell_s}`: at most 1 for any prefix-free code, exactly 1 for a
    complete one (every Huffman code with two or more symbols)."""
    return sum(2.0 ** -len(word) for word in _check_code(code).values())


def _check_code(code) -> Mapping[Hashable, str]:
    if not isinstance(code, Mapping) or not code:
        raise ValueError(f"code must be a non-empty mapping of symbol to bit string, got {code!r}")
    for symbol, word in code.items():
        if not isinstance(word, str) or not word or set(word) - {"0", "1"}:
            raise ValueError(f"code must map each symbol to a non-empty string of 0s and 1s, "
                             f"got {word!r} for {symbol!r}")
    return code


def huffman_encode(symbols: Iterable[Hashable], code: Mapping[Hashable, str]) -> str:
    """The bit string of ``symbols``: their codewords, concatenated.

    >>> huffman_encode("abca", {"a": "1", "b": "00", "c": "01"})
    '100011'
    """
    _check_code(code)
    out = []
    for s in symbols:
        if s not in code:
            raise ValueError(f"symbols must all have a codeword, got {s!r}, which is not in the code")
        out.append(code[s])
    return "".join(out)


def huffman_decode(bits: str, code: Mapping[Hashable, str]) -> list:
    """The symbols a bit string encodes, read codeword by codeword (``code`` must be prefix-free).

    >>> huffman_decode("100011", {"a": "1", "b": "00", "c": "01"})
    ['a', 'b', 'c', 'a']
    """
    if not is_prefix_free(code):
        raise ValueError("code must be prefix-free, or a bit string could decode in more than one way")
    if not isinstance(bits, str) or set(bits) - {"0", "1"}:
        raise ValueError(f"bits must be a string of 0s and 1s, got {bits!r:.60}")
    lookup = {word: symbol for symbol, word in code.items()}
    longest = max(len(word) for word in lookup)
    out, start = [], 0
    for end in range(1, len(bits) + 1):
        word = bits[start:end]
        if word in lookup:
            out.append(lookup[word])
            start = end
        elif len(word) >= longest:
            raise ValueError(f"bits must decode with the code, but {word!r} at position {start} begins no codeword")
    if start != len(bits):
        raise ValueError(f"bits must end at a codeword boundary, but {bits[start:]!r} is left over")
    return out


def code_lengths(code: Mapping[Hashable, str]) -> dict[Hashable, int]:
    """Symbol to the length of its codeword, in bits."""
    return {symbol: len(word) for symbol, word in _check_code(code).items()}


def expected_length(code: Mapping[Hashable, str], frequencies: Mapping[Hashable, Real]) -> float:
    r"""Average bits per symbol, :math:`L = \sum_s p_s \ell_s` with :math:`p_s` the normalised counts.

    >>> expected_length({"a": "1", "b": "00", "c": "01"}, {"a": 3, "b": 1, "c": 1})
    1.4
    """
    items = _check_frequencies(frequencies)
    _check_code(code)
    missing = [s for s, _ in items if s not in code]
    if missing:
        raise ValueError(f"frequencies name symbols the code lacks: {missing[:5]!r}")
    total = sum(c for _, c in items)
    return sum(c * len(code[s]) for s, c in items) / total


def entropy(frequencies: Mapping[Hashable, Real]) -> float:
    r"""Shannon entropy of the normalised counts, :math:`H = -\sum_s p_s \log_2 p_s`, bits per symbol.

    >>> entropy({"a": 1, "b": 1, "c": 1, "d": 1})
    2.0
    """
    items = _check_frequencies(frequencies)
    total = sum(c for _, c in items)
    return -sum(c / total * math.log2(c / total) for _, c in items) + 0.0  # + 0.0: no "-0.0" for one symbol


def canonical_code(code: Mapping[Hashable, str]) -> dict[Hashable, str]:
    r"""The canonical prefix code with the same codeword lengths (as DEFLATE and JPEG store them).

    Symbols are sorted by (length, symbol); the first gets all zeros, and each next codeword is
    the previous one plus one, shifted left when the length grows. A decoder that knows only
    the lengths can rebuild it, which is why a Huffman table need store lengths alone
    (:func:`huffman_table_bits`). Same lengths, so same expected length: still optimal.

    >>> canonical_code({"a": "1", "b": "00", "c": "01"})
    {'a': '0', 'b': '10', 'c': '11'}
    """
    lengths = code_lengths(code)
    try:
        order = sorted(lengths, key=lambda s: (lengths[s], s))
    except TypeError:
        order = sorted(lengths, key=lambda s: lengths[s])
    out, value, previous = {}, 0, lengths[order[0]]
    for i, s in enumerate(order):
        if i:
            value = (value + 1) << (lengths[s] - previous)
        previous = lengths[s]
        out[s] = format(value, f"0{lengths[s]}b")
    return {s: out[s] for s in code}


def huffman_table_bits(code: Mapping[int, str], symbol_bits: int, length_bits: int = 5) -> int:
    r"""Bits to store a Huffman code for integer symbols in :math:`[0, 2^{b})`, :math:`b` = ``symbol_bits``.

    Convention: the code is stored as a *canonical* code (:func:`canonical_code`), so only each
    symbol's codeword length is stored, in ``length_bits`` bits (5 bits allow lengths up to 31),
    in the cheaper of two layouts, plus one bit saying which:

    * dense: the length of every symbol of the alphabet in turn, 0 for an unused one:
      :math:`2^b \cdot` ``length_bits``;
    * sparse: the number of used symbols (:math:`b + 1` bits), then each used symbol and its length:
      :math:`(b + 1) + n_\text{used}\,(b + \text{length\_bits})`.

    >>> huffman_table_bits({0: "0", 3: "10", 7: "11"}, symbol_bits=3)  # sparse: 1 + 4 + 3 * 8
    29
    >>> huffman_table_bits({s: format(s, "03b") for s in range(8)}, symbol_bits=3)  # dense: 1 + 8 * 5
    41
    """
    symbol_bits = check_int("symbol_bits", symbol_bits, 1, 32)
    length_bits = check_int("length_bits", length_bits, 1, 16)
    lengths = code_lengths(code)
    for s in lengths:
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s < 2**symbol_bits:
            raise ValueError(f"code must have integer symbols in [0, {2**symbol_bits - 1}] "
                             f"(symbol_bits={symbol_bits}), got {s!r}")
    longest = max(lengths.values())
    if longest >= 2**length_bits:
        raise ValueError(f"length_bits must hold the longest codeword length ({longest}), got {length_bits}")
    dense = 2**symbol_bits * length_bits
    sparse = (symbol_bits + 1) + len(lengths) * (symbol_bits + length_bits)
    return 1 + min(dense, sparse)


# --------------------------------------------------------------------------- Deep Compression's storage format
def relative_entries(labels, index_bits: int, zero_code: int = 0):
    r"""A layer's codes as Deep Compression stores them: (gap, code) entries for the non-zero weights.

    ``labels`` holds one code per weight (e.g. from :func:`lib.quantization.kmeans_quantize` with a
    mask), ``zero_code`` marking the pruned, zero weights. Walking the flattened labels, each
    non-zero weight becomes one entry: the number of zeros skipped since the previous entry (its
    *gap*), which must fit in ``index_bits`` bits, and its code. A gap of :math:`2^b` or more is
    bridged by *padding* entries: each stands for :math:`2^b - 1` skipped zeros plus a stored zero
    weight (gap :math:`2^b - 1`, code ``zero_code``), so a run of :math:`g` zeros costs
    :math:`\lfloor g / 2^b \rfloor` padding entries (the count of
    :func:`lib.workbench.measure.relative_index_entries`).

    Returns
    -------
    (Tensor, Tensor)
        ``gaps`` and ``codes``, ``int64``, one per entry (padding included), in storage order.

    >>> import torch
    >>> gaps, codes = relative_entries(torch.tensor([0, 3, 0, 0, 0, 0, 0, 1, 2]), index_bits=2)
    >>> gaps.tolist(), codes.tolist()
    ([1, 3, 1, 0], [3, 0, 1, 2])
    """
    index_bits = check_int("index_bits", index_bits, 1, 32)
    flat = _check_labels(labels).reshape(-1).numpy()
    zero_code = check_int("zero_code", zero_code)
    span = 2**index_bits
    positions = np.flatnonzero(flat != zero_code)
    zeros_before = np.diff(np.concatenate([[-1], positions])) - 1  # zeros skipped before each non-zero
    padding = zeros_before // span
    last = np.cumsum(padding + 1) - 1  # where each real entry lands, after its padding entries
    gaps = np.full(int(last[-1]) + 1 if len(last) else 0, span - 1, dtype=np.int64)
    codes = np.full(len(gaps), zero_code, dtype=np.int64)
    gaps[last] = zeros_before % span
    codes[last] = flat[positions]
    return torch.from_numpy(gaps), torch.from_numpy(codes)


def relative_decode(gaps, codes, size: int, zero_code: int = 0):
    """Rebuild the flat labels of length ``size`` from :func:`relative_entries` (the inverse)."""
    size = check_int("size", size, 0)
    gaps, codes = _check_labels(gaps), _check_labels(codes)
    if gaps.shape != codes.shape or gaps.dim() != 1:
        raise ValueError(f"gaps and codes must be 1-D and of equal length, got shapes {tuple(gaps.shape)} "
                         f"and {tuple(codes.shape)}")
    positions = torch.cumsum(gaps + 1, 0) - 1
    if len(positions) and int(positions[-1]) >= size:
        raise ValueError(f"size must exceed the last entry's position ({int(positions[-1])}), got {size}")
    out = torch.full((size,), zero_code, dtype=torch.int64)
    out[positions] = codes
    return out


def _check_labels(labels):
    if not isinstance(labels, torch.Tensor) or labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ValueError(f"labels must be an integer tensor, got {getattr(labels, 'dtype', type(labels).__name__)}")
    return labels.detach().cpu().long()


def _huffman_bits(stream, symbol_bits: int, length_bits: int) -> tuple[int, int]:
    """Bits of ``stream`` (a 1-D integer tensor) Huffman-coded with its own code, and of that code's table."""
    if len(stream) == 0:
        return 0, 0
    counts = Counter(stream.tolist())
    code = huffman_code(counts)
    return sum(counts[s] * len(code[s]) for s in counts), huffman_table_bits(code, symbol_bits, length_bits)


def deep_compression_bits(codebook, labels, index_bits: int = 5, weight_bits: int | None = None,
                          huffman: bool = True, value_bits: int = 32, length_bits: int = 5) -> dict:
    r"""Every bit Deep Compression stores for one pruned, weight-shared layer.

    The layer is ``codebook[labels]`` with ``codebook[0] == 0`` the zero of the pruned weights,
    as :func:`lib.quantization.kmeans_quantize` returns it when given a mask. Stored are:

    * the **entries** (:func:`relative_entries`): one per non-zero weight plus the padding ones,
      each with an ``index_bits``-bit gap and a ``weight_bits``-bit code (a padding entry carries
      the zero code, so the code alphabet is the :math:`k` centroids plus the zero:
      :math:`k + 1 \le 2^{\text{weight\_bits}}`);
    * the **codebook**: the centroids at ``value_bits`` bits each. The zero is implied, and so is
      nothing else: a centroid no weight uses (an empty cluster, common when :math:`k` is close to
      the number of weights, e.g. 255 centroids for LeNet-5's 400 first-layer weights) is not
      stored, the codes being renumbered over the used ones;
    * with ``huffman``: the gaps and the codes each Huffman-coded with their own code
      (:func:`huffman_code` of the layer's counts) instead of fixed-width, plus each code's table
      (:func:`huffman_table_bits`, with ``index_bits`` and ``weight_bits`` as symbol widths).

    Parameters
    ----------
    codebook : tensor
        The shared values, ``codebook[0] == 0``.
    labels : integer tensor
        One code per weight (any shape), in ``[0, len(codebook))``; 0 marks a zero weight.
    index_bits : int
        Width of a gap. The paper uses 5 bits for LeNet (Table 2, 3), and for AlexNet 8 bits for
        convolutions and 5 for fully connected layers.
    weight_bits : int, optional
        Width of a fixed-length code, by default :math:`\lceil \log_2(k+1) \rceil`.

    Returns
    -------
    dict
        ``weights``, ``nonzero``, ``padding`` and ``entries`` (counts); ``clusters`` (:math:`k`),
        ``used_clusters``, ``index_bits``, ``weight_bits``; bit counts ``dense`` (32 per weight), ``index``
        (entries x index_bits), ``codes`` (entries x weight_bits), ``codebook``, ``fixed_total``
        (their sum: pruning + quantisation); with ``huffman`` also ``huffman_index``,
        ``huffman_index_table``, ``huffman_codes``, ``huffman_codes_table``, ``huffman_total`` and
        the average bits per entry ``avg_index_bits`` and ``avg_weight_bits``; ``total`` (the
        Huffman total when ``huffman``, else the fixed one) and ``compression`` (dense / total).

    >>> import torch
    >>> r = deep_compression_bits(torch.tensor([0.0, -1.0, 0.5, 2.0, 3.0]),  # centroid 4 is unused
    ...                           torch.tensor([0, 3, 0, 0, 0, 0, 0, 1, 2]), index_bits=2, huffman=False)
    >>> r["entries"], r["index"], r["codes"], r["codebook"], r["fixed_total"]
    (4, 8, 12, 96, 116)
    """
    if not isinstance(codebook, torch.Tensor) or codebook.dim() != 1 or len(codebook) < 2:
        raise ValueError(f"codebook must be a 1-D tensor with the zero and at least one centroid, got "
                         f"{tuple(codebook.shape) if isinstance(codebook, torch.Tensor) else type(codebook).__name__}")
    if float(codebook[0]) != 0.0:
        raise ValueError(f"codebook[0] must be 0 (the code of pruned weights), got {float(codebook[0])}")
    labels = _check_labels(labels)
    if labels.numel() == 0 or int(labels.min()) < 0 or int(labels.max()) >= len(codebook):
        raise ValueError(f"labels must index the codebook, in [0, {len(codebook) - 1}]")
    index_bits = check_int("index_bits", index_bits, 1, 32)
    k = len(codebook) - 1
    needed = max(1, math.ceil(math.log2(k + 1)))
    weight_bits = check_int("weight_bits", needed if weight_bits is None else weight_bits, needed, 32)
    value_bits = check_int("value_bits", value_bits, 1, 64)

    gaps, codes = relative_entries(labels, index_bits)
    nonzero = int((labels != 0).sum())
    used = len(torch.unique(labels[labels != 0]))
    entries = len(gaps)
    out = {"weights": labels.numel(), "nonzero": nonzero, "padding": entries - nonzero, "entries": entries,
           "clusters": k, "used_clusters": used, "index_bits": index_bits, "weight_bits": weight_bits,
           "dense": 32 * labels.numel(), "index": entries * index_bits, "codes": entries * weight_bits,
           "codebook": used * value_bits}
    out["fixed_total"] = out["index"] + out["codes"] + out["codebook"]
    out["total"] = out["fixed_total"]
    if huffman:
        out["huffman_index"], out["huffman_index_table"] = _huffman_bits(gaps, index_bits, length_bits)
        out["huffman_codes"], out["huffman_codes_table"] = _huffman_bits(codes, weight_bits, length_bits)
        out["huffman_total"] = (out["huffman_index"] + out["huffman_index_table"] + out["huffman_codes"]
                                + out["huffman_codes_table"] + out["codebook"])
        out["avg_index_bits"] = out["huffman_index"] / max(1, entries)
        out["avg_weight_bits"] = out["huffman_codes"] / max(1, entries)
        out["total"] = out["huffman_total"]
    out["compression"] = out["dense"] / out["total"] if out["total"] else math.inf  # nothing kept: nothing stored
    return out
