r"""The Huffman chapter's experiments: the codes of a geometric source and of the streams Deep
Compression stores for LeNet-300-100.

Nothing is chosen here (no setting is tuned), so no validation split is involved: the streams
are the cluster indices and gaps of :func:`lib.experiments.deep_compression.deep_compression_labels`,
and the widgets show the Huffman code of each (:func:`describe_code`).

References
----------
.. [1] D. A. Huffman, "A Method for the Construction of Minimum-Redundancy Codes",
   Proceedings of the IRE 40(9), 1952.
.. [2] S. Han, H. Mao, W. J. Dally, "Deep Compression", ICLR 2016, arXiv:1510.00149.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from functools import lru_cache

import numpy as np

from lib import coding
from lib.core.checks import check_choice, check_int, check_real
from lib.experiments.deep_compression import LAYER_NAMES, PRUNABLE, deep_compression_labels

__all__ = ["STREAMS", "geometric", "describe_code", "geometric_point", "layers", "stream_counts", "stream_point"]

#: The two streams of a stored layer: relative indices (gaps) and cluster indices.
STREAMS = ("gaps", "clusters")


def geometric(n: int, ratio: float) -> np.ndarray:
    r"""Probabilities of a geometric source of ``n`` symbols, :math:`p_s \propto r^s` (``ratio`` = :math:`r`).

    >>> geometric(3, 0.5).round(4).tolist()
    [0.5714, 0.2857, 0.1429]
    """
    n = check_int("n", n, 1)
    ratio = check_real("ratio", ratio, 0.0, 1.0, lo_open=True)
    p = ratio ** np.arange(n)
    return p / p.sum()


def describe_code(counts: Mapping[Hashable, float], alphabet: Iterable[Hashable], fixed: int) -> dict:
    r"""The Huffman code of ``counts`` (symbol to count) and everything the chapter's widgets show about it.

    Returns
    -------
    dict
        ``tree`` (:func:`lib.coding.tree_layout`), per symbol of ``alphabet``: ``symbols``, ``p``
        (normalised count, 0 for an unused symbol), ``length`` (codeword length, ``None`` if
        unused) and ``ideal`` (:math:`-\log_2 p_s`); ``H`` (entropy), ``L`` (expected length),
        ``fixed`` (the fixed-length code's bits), ``redundancy`` :math:`L - H` and ``saving``
        :math:`1 - L / \text{fixed}`.

    >>> d = describe_code({"a": 2, "b": 1, "c": 1}, "abc", 2)
    >>> d["length"], d["H"], d["L"], d["saving"]
    ([1, 2, 2], 1.5, 1.5, 0.25)
    """
    fixed = check_int("fixed", fixed, 1)
    alphabet = list(alphabet)
    nodes = coding.huffman_tree(counts)
    code = {n["symbol"]: n["code"] for n in nodes if not n["children"]}
    total = sum(counts.values())
    H, L = coding.entropy(counts), coding.expected_length(code, counts)
    layout = [{**n, "p": round(n["p"], 5)} for n in coding.tree_layout(nodes)]
    return {"tree": layout, "symbols": alphabet, "p": [round(counts.get(s, 0) / total, 6) for s in alphabet],
            "length": [len(code[s]) if s in code else None for s in alphabet],
            "ideal": [round(-math.log2(counts[s] / total), 4) if s in counts else None for s in alphabet],
            "H": H, "L": L, "fixed": fixed, "redundancy": L - H, "saving": 1 - L / fixed}


def geometric_point(n: int = 8, ratio: float = 0.7) -> dict:
    """:func:`describe_code` of the geometric source :func:`geometric`, against a fixed
    :math:`\\lceil \\log_2 n \\rceil`-bit code."""
    p = geometric(n, ratio)
    return describe_code({s: float(p[s]) for s in range(n)}, range(n), max(1, math.ceil(math.log2(n))))


@lru_cache(maxsize=2)
def _layers(model: str) -> tuple[dict, ...]:
    return tuple(deep_compression_labels(model))


def layers(model: str = "lenet_300_100") -> list[dict]:
    """:func:`lib.experiments.deep_compression.deep_compression_labels` of ``model`` (computed once per
    process), each layer with its book name added under ``layer`` (fc1, fc2, ...)."""
    check_choice("model", model, sorted(PRUNABLE))
    names = dict(zip(PRUNABLE[model], LAYER_NAMES[model]))
    return [{**lay, "layer": names[lay["name"]]} for lay in _layers(model)]


def stream_counts(layer: str, stream: str, model: str = "lenet_300_100") -> Counter:
    """How often each symbol occurs in one stream (``"gaps"`` or ``"clusters"``) of one layer (by book
    name, e.g. ``"fc1"``), as Deep Compression stores it (:func:`lib.coding.relative_entries`)."""
    check_choice("stream", stream, STREAMS)
    check_choice("layer", layer, LAYER_NAMES.get(model, []))
    lay = next(lay for lay in layers(model) if lay["layer"] == layer)
    gaps, codes = coding.relative_entries(lay["labels"], lay["index_bits"])
    return Counter((gaps if stream == STREAMS[0] else codes).tolist())


def stream_point(layer: str = "fc1", stream: str = "gaps", model: str = "lenet_300_100") -> dict:
    """:func:`describe_code` of one stored stream against its fixed width, plus ``entries``, the
    Huffman table's bits per entry (``table_per_entry``, :func:`lib.coding.huffman_table_bits`) and
    the ``saving`` over the fixed width with the table counted."""
    counts = stream_counts(layer, stream, model)
    lay = next(lay for lay in layers(model) if lay["layer"] == layer)
    width = lay["index_bits"] if stream == STREAMS[0] else lay["weight_bits"]
    out = describe_code(counts, range(2 ** width), width)
    out["entries"] = sum(counts.values())
    out["table_per_entry"] = coding.huffman_table_bits(coding.huffman_code(counts), width) / out["entries"]
    out["saving"] = 1 - (out["L"] + out["table_per_entry"]) / width
    return out
