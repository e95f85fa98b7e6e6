r"""Deep Compression's stored form, written to bytes and read back.

:func:`lib.coding.deep_compression_bits` *counts* the bits Deep Compression stores for a pruned,
weight-shared layer. This module *writes* them: :func:`encode_layer` turns a layer's codebook
and codes into a byte string laid out exactly as that count assumes, and :func:`decode_layer`
rebuilds the layer from those bytes alone. The payload is the counted total to the bit; on top
come a small header (the layer's shape and the format's widths, :func:`header_bits`) and at
most 7 bits of padding to a whole byte. A round trip that restores every weight exactly is the
proof that the count leaves nothing out.

Layout of one layer, most significant bit first:

* **header**: the number of dimensions (3 bits) and each dimension (32 bits); ``index_bits - 1``
  and ``weight_bits - 1`` (5 bits each); a Huffman flag (1 bit); the number of entries (32 bits);
  the number of centroids stored, :math:`u` (``weight_bits`` bits);
* **codebook**: the :math:`u` centroids some weight uses, 32-bit floats, in ascending code order
  (the zero is implied; codes are renumbered ``1..u`` over the used centroids);
* **entries** (:func:`lib.coding.relative_entries`): one per non-zero weight plus the padding
  ones, each a gap and a code. Without Huffman coding, all the gaps at ``index_bits`` bits, then
  all the codes at ``weight_bits`` bits. With it, the gaps' Huffman table (a canonical code,
  stored as codeword lengths, :func:`lib.coding.huffman_table_bits`) and the Huffman-coded gaps,
  then the codes' table and the Huffman-coded codes.

:func:`encode_net` writes every weight-shared layer of a network (:func:`shared_layers`) and
:func:`decode_net` loads such files into a network of the same architecture;
:func:`storage_breakdown` splits a reproduction's bit counts
(:func:`lib.experiments.deep_compression.reproduce_deep_compression`) by stage, layer and kind of
data.

References
----------
.. [1] S. Han, H. Mao, W. J. Dally, "Deep Compression: Compressing Deep Neural Networks with
   Pruning, Trained Quantization and Huffman Coding", ICLR 2016, arXiv:1510.00149.
.. [2] S. Han et al., "EIE: Efficient Inference Engine on Compressed Deep Neural Network",
   ISCA 2016, arXiv:1602.01528.
"""

from __future__ import annotations

import struct
from collections import Counter

import torch
from torch import nn

from lib.coding import (canonical_code, code_lengths, deep_compression_bits, huffman_code, relative_decode,
                        relative_entries)
from lib.core.checks import check_int
from lib.quantization import SharedWeights

__all__ = ["encode_layer", "decode_layer", "header_bits", "shared_layers", "encode_net", "decode_net",
           "storage_breakdown", "STAGES", "LENGTH_BITS"]

#: Bits per stored Huffman codeword length (lengths up to 31), as :func:`lib.coding.huffman_table_bits` counts.
LENGTH_BITS = 5

#: The pipeline's stages, in order, as :func:`storage_breakdown` names them.
STAGES = ("dense", "pruned", "shared", "fine-tuned", "huffman")


# --------------------------------------------------------------------------- bits in, bits out
class _Writer:
    """Appends unsigned integers of fixed widths to a string of '0' and '1'."""

    def __init__(self):
        self.chunks: list[str] = []

    def write(self, value: int, width: int) -> None:
        if not 0 <= value < 2**width:
            raise ValueError(f"value {value} does not fit in {width} bits")
        self.chunks.append(format(value, f"0{width}b"))

    def bits(self) -> str:
        return "".join(self.chunks)


class _Reader:
    """Reads fixed-width unsigned integers and Huffman codewords from a string of '0' and '1'."""

    def __init__(self, bits: str):
        self.bits, self.pos = bits, 0

    def read(self, width: int) -> int:
        if self.pos + width > len(self.bits):
            raise ValueError("blob ends too early: it was cut short or is not an encoded layer")
        value = int(self.bits[self.pos:self.pos + width], 2) if width else 0
        self.pos += width
        return value

    def read_symbols(self, lookup: dict[str, int], count: int) -> list[int]:
        longest = max(len(word) for word in lookup)
        out, start, bits = [], self.pos, self.bits
        for _ in range(count):
            end = start + 1
            while bits[start:end] not in lookup:
                if end - start >= longest or end > len(bits):
                    raise ValueError(f"blob holds no codeword at bit {start}: it is not an encoded layer")
                end += 1
            out.append(lookup[bits[start:end]])
            start = end
        self.pos = start
        return out


def _float_bits(x: float) -> int:
    return struct.unpack(">I", struct.pack(">f", x))[0]


def _bits_float(n: int) -> float:
    return struct.unpack(">f", struct.pack(">I", n))[0]


def _write_table(w: _Writer, lengths: dict[int, int], symbol_bits: int) -> None:
    """A canonical Huffman code's lengths, in the cheaper layout (as ``huffman_table_bits`` counts)."""
    dense = 2**symbol_bits * LENGTH_BITS
    sparse = (symbol_bits + 1) + len(lengths) * (symbol_bits + LENGTH_BITS)
    if sparse <= dense:
        w.write(1, 1)
        w.write(len(lengths), symbol_bits + 1)
        for s in sorted(lengths):
            w.write(s, symbol_bits)
            w.write(lengths[s], LENGTH_BITS)
    else:
        w.write(0, 1)
        for s in range(2**symbol_bits):
            w.write(lengths.get(s, 0), LENGTH_BITS)


def _read_table(r: _Reader, symbol_bits: int) -> dict[str, int]:
    """Read a table written by ``_write_table``: codeword to symbol, for the canonical code."""
    if r.read(1):
        lengths = {}
        for _ in range(r.read(symbol_bits + 1)):
            s = r.read(symbol_bits)
            lengths[s] = r.read(LENGTH_BITS)
    else:
        lengths = {s: n for s in range(2**symbol_bits) if (n := r.read(LENGTH_BITS))}
    if not lengths or min(lengths.values()) == 0:
        raise ValueError("blob holds an empty or invalid Huffman table: it is not an encoded layer")
    # canonical_code needs only each symbol's codeword length; any word of that length stands in
    canonical = canonical_code({s: "0" * n for s, n in lengths.items()})
    return {word: s for s, word in canonical.items()}


def _huffman(w: _Writer, stream: list[int], symbol_bits: int) -> None:
    """Write a Huffman table for ``stream`` and then the stream, canonically coded."""
    code = canonical_code(huffman_code(Counter(stream)))
    _write_table(w, code_lengths(code), symbol_bits)
    w.chunks.extend(code[s] for s in stream)


# --------------------------------------------------------------------------- one layer
def header_bits(ndim: int, weight_bits: int) -> int:
    r"""Bits of :func:`encode_layer`'s header for a layer of ``ndim`` dimensions:
    :math:`3 + 32\,\text{ndim} + 5 + 5 + 1 + 32 + \text{weight\_bits}`.

    >>> header_bits(2, 5)  # a fully connected layer with 5-bit codes
    115
    """
    ndim = check_int("ndim", ndim, 1, 7)
    weight_bits = check_int("weight_bits", weight_bits, 1, 32)
    return 3 + 32 * ndim + 5 + 5 + 1 + 32 + weight_bits


def encode_layer(codebook: torch.Tensor, labels: torch.Tensor, index_bits: int = 5, weight_bits: int | None = None,
                 huffman: bool = True) -> bytes:
    r"""Write a pruned, weight-shared layer in Deep Compression's format, as bytes.

    The layer is ``codebook[labels]``, ``codebook[0] == 0`` marking the pruned weights, as
    :func:`lib.quantization.kmeans_quantize` returns it with a mask. The payload is exactly the
    ``total`` of :func:`lib.coding.deep_compression_bits` with the same arguments; the header
    (:func:`header_bits`) and the padding to a whole byte come on top. The module docstring gives
    the layout; :func:`decode_layer` reads it back.

    Parameters
    ----------
    codebook : tensor
        1-D, ``codebook[0] == 0``; stored as 32-bit floats (only the centroids some weight uses).
    labels : integer tensor
        One code per weight, any shape of at most 7 dimensions, each below :math:`2^{32}`.
    index_bits, weight_bits, huffman
        As in :func:`lib.coding.deep_compression_bits`.

    Returns
    -------
    bytes
        :math:`\lceil (\text{header} + \text{total}) / 8 \rceil` bytes.

    References
    ----------
    S. Han, H. Mao, W. J. Dally, "Deep Compression", ICLR 2016, arXiv:1510.00149, section 2
    (relative indices and padding) and section 4 (Huffman coding).

    >>> blob = encode_layer(torch.tensor([0.0, -1.0, 0.5, 2.0]),
    ...                     torch.tensor([0, 3, 0, 0, 0, 0, 0, 1, 2]), index_bits=2, huffman=False)
    >>> len(blob), header_bits(1, 2) + 4 * (2 + 2) + 3 * 32  # 4 entries (one padding), 3 centroids
    (24, 192)
    """
    if not isinstance(labels, torch.Tensor):
        raise ValueError(f"labels must be an integer tensor, got {type(labels).__name__}")
    count = deep_compression_bits(codebook, labels, index_bits, weight_bits, huffman=huffman)  # validates too
    total = count["total"]  # 0 when nothing is kept
    index_bits, weight_bits = count["index_bits"], count["weight_bits"]
    labels = labels.detach().cpu().long()
    if labels.dim() > 7 or any(n >= 2**32 for n in labels.shape) or labels.dim() == 0:
        raise ValueError(f"labels must have 1 to 7 dimensions, each below 2**32, got shape {tuple(labels.shape)}")
    used = torch.unique(labels[labels != 0])  # the centroids that are stored, ascending
    renumber = torch.zeros(len(codebook), dtype=torch.int64)
    renumber[used] = torch.arange(1, len(used) + 1)
    gaps, codes = relative_entries(renumber[labels], index_bits)

    w = _Writer()
    w.write(labels.dim(), 3)
    for n in labels.shape:
        w.write(n, 32)
    w.write(index_bits - 1, 5)
    w.write(weight_bits - 1, 5)
    w.write(int(bool(huffman)), 1)
    w.write(len(gaps), 32)
    w.write(len(used), weight_bits)
    for value in codebook.detach().cpu().float()[used].tolist():
        w.write(_float_bits(value), 32)
    if huffman and len(gaps):
        _huffman(w, gaps.tolist(), index_bits)
        _huffman(w, codes.tolist(), weight_bits)
    elif not huffman:
        for g in gaps.tolist():
            w.write(g, index_bits)
        for c in codes.tolist():
            w.write(c, weight_bits)
    bits = w.bits()
    assert len(bits) == header_bits(labels.dim(), weight_bits) + total, "layout and count disagree"
    bits += "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big") if bits else b""


def decode_layer(blob: bytes) -> tuple[torch.Tensor, torch.Tensor]:
    """Rebuild ``(codebook, labels)`` from :func:`encode_layer`'s bytes alone.

    The codebook holds the zero and the stored centroids (``float32``); the labels have the
    layer's shape, renumbered over the stored centroids, so ``codebook[labels]`` equals the
    encoded layer's ``codebook[labels]`` exactly.

    >>> codebook, labels = decode_layer(encode_layer(torch.tensor([0.0, -1.0, 0.5, 2.0]),
    ...                                              torch.tensor([[0, 3, 0], [0, 0, 1]])))
    >>> codebook[labels]
    tensor([[ 0.,  2.,  0.],
            [ 0.,  0., -1.]])
    """
    if not isinstance(blob, (bytes, bytearray)) or not blob:
        raise ValueError(f"blob must be the non-empty bytes encode_layer returns, got {type(blob).__name__}")
    r = _Reader("".join(format(b, "08b") for b in blob))
    ndim = r.read(3)
    if ndim == 0:
        raise ValueError("blob names a layer of 0 dimensions: it is not an encoded layer")
    shape = [r.read(32) for _ in range(ndim)]
    index_bits, weight_bits = r.read(5) + 1, r.read(5) + 1
    huffman, entries = r.read(1), r.read(32)
    used = r.read(weight_bits)
    centroids = [_bits_float(r.read(32)) for _ in range(used)]
    if huffman and entries:
        gaps = r.read_symbols(_read_table(r, index_bits), entries)
        codes = r.read_symbols(_read_table(r, weight_bits), entries)
    else:
        gaps = [r.read(index_bits) for _ in range(entries)]
        codes = [r.read(weight_bits) for _ in range(entries)]
    if len(r.bits) - r.pos >= 8 or "1" in r.bits[r.pos:]:
        raise ValueError("blob has bits left over after the last entry: it is not an encoded layer")
    size = 1
    for n in shape:
        size *= n
    if codes and max(codes) > used:
        raise ValueError(f"blob's codes go up to {max(codes)} but it stores only {used} centroids")
    labels = relative_decode(torch.tensor(gaps, dtype=torch.int64), torch.tensor(codes, dtype=torch.int64), size)
    codebook = torch.tensor([0.0] + centroids, dtype=torch.float32)
    return codebook, labels.reshape(shape)


# --------------------------------------------------------------------------- the whole network
def shared_layers(net: nn.Module) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Module name to ``(codebook, labels)`` for every weight-shared layer of ``net`` (a
    :class:`lib.quantization.SharedWeights` parametrisation of its ``weight``), in module order."""
    out = {}
    for name, module in net.named_modules():
        plist = getattr(getattr(module, "parametrizations", None), "weight", None)
        if plist is not None and isinstance(plist[0], SharedWeights):
            out[name] = (plist[0].codebook.detach().clone(), plist[0].labels.clone())
    if not out:
        raise ValueError("net must have at least one weight shared by lib.quantization.share_weights, found none")
    return out


def encode_net(net: nn.Module, index_bits: int = 5, huffman: bool = True) -> dict[str, bytes]:
    """Module name to :func:`encode_layer`'s bytes, for every weight-shared layer of ``net``.

    Only the weights are written (each at its own code width, the narrowest that holds its
    codebook); biases and other parameters are not. The layers must be pruned and shared
    (``codebook[0] == 0``, as :func:`lib.quantization.share_weights` makes them with a ``mask``).

    >>> from lib.quantization import share_weights
    >>> layer = nn.Linear(8, 4)
    >>> _ = share_weights(layer, 3, mask=layer.weight.detach().abs() > 0.1)  # pruned, then shared
    >>> net = nn.Sequential(layer)
    >>> blobs = encode_net(net)
    >>> torch.equal(decode_net(nn.Sequential(nn.Linear(8, 4)), blobs)[0].weight, layer.weight)
    True
    """
    return {name: encode_layer(codebook, labels, index_bits=index_bits, huffman=huffman)
            for name, (codebook, labels) in shared_layers(net).items()}


def decode_net(net: nn.Module, blobs: dict[str, bytes]) -> nn.Module:
    """Load :func:`encode_net`'s files into ``net`` (same architecture): each named module's
    ``weight`` becomes the decoded ``codebook[labels]``, a plain float tensor. Returns ``net``."""
    modules = dict(net.named_modules())
    if not isinstance(blobs, dict) or not blobs:
        raise ValueError(f"blobs must be the non-empty dict encode_net returns, got {type(blobs).__name__}")
    missing = sorted(set(blobs) - set(modules))
    if missing:
        raise ValueError(f"blobs must name modules of net, got {missing!r}, which net lacks")
    with torch.no_grad():
        for name, blob in blobs.items():
            codebook, labels = decode_layer(blob)
            weight = modules[name].weight
            if tuple(labels.shape) != tuple(weight.shape):
                raise ValueError(f"blobs[{name!r}] holds a layer of shape {tuple(labels.shape)}, but net's "
                                 f"{name!r} has weights of shape {tuple(weight.shape)}")
            weight.copy_(codebook[labels])
    return net


def storage_breakdown(result: dict) -> dict[str, dict[str, dict[str, int]]]:
    """Split a :func:`lib.experiments.deep_compression.reproduce_deep_compression` result's bits by stage, layer and kind.

    For each stage of :data:`STAGES` and each layer (by module name), the bits of:
    ``values`` (32-bit weights before sharing, fixed-width or Huffman-coded codes after),
    ``index`` (the gaps of the relative-index format, fixed-width or Huffman-coded), ``codebook``
    (32-bit centroids) and ``tables`` (the two Huffman tables). Padding entries are included in
    ``values`` and ``index``. Sharing and fine-tuning store the same bits (only the centroids'
    values change), and each stage's sum over layers and kinds equals the result's
    ``dense_bits``, ``pruned_bits``, ``pq_bits``, ``pq_bits`` and ``total_bits``.
    """
    if not isinstance(result, dict) or "layers" not in result:
        raise ValueError("result must be the dict lib.experiments.deep_compression.reproduce_deep_compression returns")
    out: dict[str, dict[str, dict[str, int]]] = {s: {} for s in STAGES}
    for r in result["layers"]:
        n, value_bits = r["name"], 32
        shared = {"values": r["codes"], "index": r["index"], "codebook": r["codebook"], "tables": 0}
        out["dense"][n] = {"values": r["dense"], "index": 0, "codebook": 0, "tables": 0}
        out["pruned"][n] = {"values": value_bits * r["entries"], "index": r["index"], "codebook": 0, "tables": 0}
        out["shared"][n] = dict(shared)
        out["fine-tuned"][n] = dict(shared)
        out["huffman"][n] = {"values": r["huffman_codes"], "index": r["huffman_index"], "codebook": r["codebook"],
                             "tables": r["huffman_index_table"] + r["huffman_codes_table"]}
    return out
