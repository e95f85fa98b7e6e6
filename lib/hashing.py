r"""Fewer weights by design: hashed layers, cross-layer sharing, lookup convolutions.

**HashedNets** (Chen et al. 2015) keep a layer's usual :math:`m \times n` *virtual* weight
matrix but store only a vector :math:`w` of :math:`K \ll mn` real weights. Entry
:math:`(i, j)` is read from bucket :math:`h(i, j) \in \{0, \dots, K-1\}`, with a sign
:math:`\xi(i, j) \in \{-1, +1\}` from a second hash:

.. math::

    V_{ij} = \xi(i, j)\, w_{h(i, j)}, \qquad
    \frac{\partial L}{\partial w_k} = \sum_{(i, j):\, h(i, j) = k} \xi(i, j)\,
    \frac{\partial L}{\partial V_{ij}},

so the gradient of a shared weight is the signed sum of the gradients of the entries in its
bucket (:func:`bucket_gradient`). The hashes are recomputed from ``(seed, i, j)``, never
stored: :func:`hash_index` and :func:`hash_sign` use the SplitMix64 mixer (integer arithmetic
modulo :math:`2^{64}`), the same on every machine and process, unlike Python's ``hash()``.
:class:`HashedLinear` is the layer.

**Cross-layer sharing** (ALBERT, Lan et al. 2019) applies one block :math:`N` times instead of
:math:`N` different blocks (:class:`SharedStack`): :math:`N` times fewer parameters, the same
multiply-accumulates (MACs).

**Lookup-based convolution** (LCNN, Bagherinezhad et al. 2017): every filter's column at a
kernel offset is a sparse combination of :math:`s` vectors of a shared dictionary
:math:`D \in \mathbb{R}^{m \times c}` (:class:`LookupConv2d`):

.. math::

    W[o, :, a, b] = \sum_{t=1}^{s} C[o, a, b, t]\, D[I[o, a, b, t], :],

so the layer convolves the input with the dictionary once (a :math:`1 \times 1` convolution,
:math:`m c` MACs a position) and then *looks up* and adds :math:`s` shifted dictionary outputs
per filter offset (:math:`o k^2 s` MACs a position) instead of :math:`o c k^2`
(:func:`lookup_conv`, :func:`lookup_macs`).

References
----------
.. [1] W. Chen, J. T. Wilson, S. Tyree, K. Q. Weinberger, Y. Chen, "Compressing Neural Networks
   with the Hashing Trick", ICML 2015, arXiv:1504.04788.
.. [2] Z. Lan, M. Chen, S. Goodman, K. Gimpel, P. Sharma, R. Soricut, "ALBERT: A Lite BERT for
   Self-supervised Learning of Language Representations", ICLR 2020, arXiv:1909.11942.
.. [3] H. Bagherinezhad, M. Rastegari, A. Farhadi, "LCNN: Lookup-based Convolutional Neural
   Network", CVPR 2017, arXiv:1611.06473.
.. [4] G. L. Steele, D. Lea, C. H. Flood, "Fast splittable pseudorandom number generators",
   OOPSLA 2014 (SplitMix64).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lib.core.checks import check_int

__all__ = ["splitmix64", "hash_index", "hash_sign", "HashedLinear", "bucket_gradient", "bucket_sizes",
           "SharedStack", "LookupConv2d", "lookup_conv", "lookup_macs", "conv_macs"]

_MASK = (1 << 64) - 1
_SIGN_SALT = 0x5BD1E995  # a different stream for the sign hash


# --------------------------------------------------------------------------- hash functions
def splitmix64(x) -> np.ndarray:
    r"""The SplitMix64 finaliser of unsigned 64-bit integers, elementwise (wraps modulo :math:`2^{64}`).

    :math:`z = x + \mathtt{0x9E3779B97F4A7C15}`; :math:`z \leftarrow (z \oplus (z \gg 30))
    \cdot \mathtt{0xBF58476D1CE4E5B9}`; :math:`z \leftarrow (z \oplus (z \gg 27)) \cdot
    \mathtt{0x94D049BB133111EB}`; return :math:`z \oplus (z \gg 31)`.

    >>> int(splitmix64(np.array([0], dtype=np.uint64))[0])
    16294208416658607535
    """
    z = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _keys(rows: int, cols: int, seed: int, salt: int) -> np.ndarray:
    base = splitmix64(np.array([(seed * 0x100000001B3 + salt) & _MASK], dtype=np.uint64))[0]
    flat = np.arange(rows * cols, dtype=np.uint64).reshape(rows, cols)
    with np.errstate(over="ignore"):
        return splitmix64(flat ^ base)


def hash_index(rows: int, cols: int, n_buckets: int, seed: int = 0) -> torch.Tensor:
    r"""The bucket :math:`h(i, j) = \mathrm{mix}(i n + j \oplus \mathrm{mix}(\mathrm{seed})) \bmod K`
    of every entry of a ``rows x cols`` matrix, as an int64 tensor.

    >>> hash_index(2, 3, 4).tolist() == hash_index(2, 3, 4).tolist()
    True
    """
    rows, cols = check_int("rows", rows, 1), check_int("cols", cols, 1)
    n_buckets = check_int("n_buckets", n_buckets, 1)
    seed = check_int("seed", seed, 0, 2**32 - 1)
    h = _keys(rows, cols, seed, 0) % np.uint64(n_buckets)
    return torch.from_numpy(h.astype(np.int64))


def hash_sign(rows: int, cols: int, seed: int = 0) -> torch.Tensor:
    r"""The sign :math:`\xi(i, j) = \pm 1` of every entry (the top bit of a second, salted hash), float32.

    >>> sorted(hash_sign(4, 4).unique().tolist())
    [-1.0, 1.0]
    """
    rows, cols = check_int("rows", rows, 1), check_int("cols", cols, 1)
    seed = check_int("seed", seed, 0, 2**32 - 1)
    top = (_keys(rows, cols, seed, _SIGN_SALT) >> np.uint64(63)).astype(np.float32)
    return torch.from_numpy(1.0 - 2.0 * top)


# --------------------------------------------------------------------------- HashedNets
class HashedLinear(nn.Module):
    """A linear layer whose ``out_features x in_features`` virtual matrix is read from ``n_weights``
    real weights by a hash: ``V[i, j] = sign(i, j) * w[h(i, j)]`` and ``y = x V^T + b``
    (:func:`hash_index` gives h, :func:`hash_sign` the sign; formula in the module docstring).

    Only ``weight`` (``n_weights`` values) and ``bias`` are parameters and saved in the
    ``state_dict``; the bucket and sign tables are recomputed from ``seed`` (non-persistent buffers).
    The real weights start uniform in ``[-1/sqrt(in_features), 1/sqrt(in_features)]``, like ``nn.Linear``'s,
    so the virtual matrix starts with the same distribution.

    Parameters
    ----------
    in_features, out_features : int
    n_weights : int >= 1
        :math:`K`, the number of real weights (compression factor :math:`K / (mn)`).
    seed : int
        Seed of both hashes (different seeds, different assignments).
    bias : bool

    >>> layer = HashedLinear(6, 4, n_weights=5)
    >>> layer.virtual_weight().shape, layer.weight.numel()
    (torch.Size([4, 6]), 5)
    """

    def __init__(self, in_features: int, out_features: int, n_weights: int, seed: int = 0, bias: bool = True):
        super().__init__()
        self.in_features = check_int("in_features", in_features, 1)
        self.out_features = check_int("out_features", out_features, 1)
        self.n_weights = check_int("n_weights", n_weights, 1)
        self.seed = check_int("seed", seed, 0, 2**32 - 1)
        if not isinstance(bias, bool):
            raise ValueError(f"bias must be True or False, got {bias!r}")
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(n_weights).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound)) if bias else None
        self.register_buffer("index", hash_index(out_features, in_features, n_weights, seed), persistent=False)
        self.register_buffer("sign", hash_sign(out_features, in_features, seed), persistent=False)

    def virtual_weight(self) -> torch.Tensor:
        """The ``out_features x in_features`` matrix :math:`V_{ij} = \\xi(i, j) w_{h(i, j)}`."""
        return self.sign * self.weight[self.index]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.virtual_weight(), self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"n_weights={self.n_weights}, seed={self.seed}, bias={self.bias is not None}")


def bucket_gradient(grad_virtual: torch.Tensor, index: torch.Tensor, sign: torch.Tensor,
                    n_weights: int) -> torch.Tensor:
    """The gradient of the real weights from the gradient of the virtual matrix:
    ``g[k]`` = the sum over the entries with ``h(i, j) = k`` of ``sign(i, j) * dL/dV[i, j]``.

    >>> bucket_gradient(torch.ones(2, 2), torch.tensor([[0, 1], [1, 1]]), torch.ones(2, 2), 3).tolist()
    [1.0, 3.0, 0.0]
    """
    n_weights = check_int("n_weights", n_weights, 1)
    if grad_virtual.shape != index.shape or sign.shape != index.shape:
        raise ValueError(f"grad_virtual, index and sign must have one shape, got {tuple(grad_virtual.shape)}, "
                         f"{tuple(index.shape)} and {tuple(sign.shape)}")
    g = torch.zeros(n_weights, dtype=grad_virtual.dtype)
    return g.index_add_(0, index.reshape(-1), (sign * grad_virtual).reshape(-1))


def bucket_sizes(layer: HashedLinear) -> torch.Tensor:
    """How many virtual entries share each real weight (a Binomial(mn, 1/K) spread around mn/K).

    >>> int(bucket_sizes(HashedLinear(8, 8, n_weights=4)).sum())
    64
    """
    if not isinstance(layer, HashedLinear):
        raise ValueError(f"layer must be a HashedLinear, got {type(layer).__name__}")
    return torch.bincount(layer.index.reshape(-1), minlength=layer.n_weights)


# --------------------------------------------------------------------------- cross-layer sharing
class SharedStack(nn.Module):
    """``block`` applied ``depth`` times, ``x = x + block(x)`` (residual), with one set of
    weights (``shared=True``, ALBERT) or with ``depth`` independent copies (``shared=False``).

    Both have the same MACs; the shared one stores ``depth`` times fewer block parameters.

    >>> blk = nn.Linear(4, 4)
    >>> sum(p.numel() for p in SharedStack(blk, 3).parameters()), sum(
    ...     p.numel() for p in SharedStack(blk, 3, shared=False).parameters())
    (20, 60)
    """

    def __init__(self, block: nn.Module, depth: int, shared: bool = True):
        super().__init__()
        self.depth = check_int("depth", depth, 1)
        if not isinstance(block, nn.Module):
            raise ValueError(f"block must be an nn.Module, got {type(block).__name__}")
        self.shared = bool(shared)
        copies = 1 if shared else depth
        self.blocks = nn.ModuleList([copy.deepcopy(block) for _ in range(copies)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for d in range(self.depth):
            x = x + self.blocks[0 if self.shared else d](x)
        return x


# --------------------------------------------------------------------------- LCNN
def conv_macs(in_channels: int, out_channels: int, kernel_size: int, positions: int) -> int:
    """MACs of a dense convolution: :math:`o\\,c\\,k^2` per output position.

    >>> conv_macs(16, 32, 3, 10)
    46080
    """
    return (check_int("in_channels", in_channels, 1) * check_int("out_channels", out_channels, 1)
            * check_int("kernel_size", kernel_size, 1) ** 2 * check_int("positions", positions, 0))


def lookup_macs(in_channels: int, out_channels: int, kernel_size: int, dict_size: int, n_lookups: int,
                positions: int) -> int:
    """MACs of a lookup convolution: :math:`m\\,c` (dictionary) :math:`+\\; o\\,k^2 s` (lookups) per position.

    >>> lookup_macs(16, 32, 3, 8, 1, 10)
    4160
    """
    c = check_int("in_channels", in_channels, 1)
    o = check_int("out_channels", out_channels, 1)
    k = check_int("kernel_size", kernel_size, 1)
    m = check_int("dict_size", dict_size, 1)
    s = check_int("n_lookups", n_lookups, 1)
    return (m * c + o * k * k * s) * check_int("positions", positions, 0)


def lookup_conv(x: torch.Tensor, dictionary: torch.Tensor, index: torch.Tensor, coef: torch.Tensor,
                padding: int = 0) -> torch.Tensor:
    """A convolution computed by lookups: ``S = conv1x1(x, D)`` (the dictionary's outputs), then
    for every filter ``o`` and offset ``(a, b)``, ``y[o] += sum_t C[o, a, b, t] * S[I[o, a, b, t]]``
    shifted by ``(a, b)``. Equals ``conv2d(x, W)`` with ``W`` rebuilt by
    :meth:`LookupConv2d.dense_weight`. ``x`` is (batch, c, H, W); ``dictionary`` (m, c);
    ``index`` (int64) and ``coef`` (o, k, k, s).
    """
    o, k, _, s = coef.shape
    S = F.pad(F.conv2d(x, dictionary[:, :, None, None]), (padding,) * 4)     # (batch, m, H+2p, W+2p)
    h_out, w_out = S.shape[2] - k + 1, S.shape[3] - k + 1
    y = x.new_zeros(x.shape[0], o, h_out, w_out)
    for a in range(k):
        for b in range(k):
            window = S[:, :, a:a + h_out, b:b + w_out]                         # the dictionary outputs at offset (a, b)
            picked = window[:, index[:, a, b, :]]                              # (batch, o, s, h_out, w_out): lookups
            y = y + (coef[None, :, a, b, :, None, None] * picked).sum(2)
    return y


class LookupConv2d(nn.Module):
    r"""A :math:`k \times k` convolution whose weights are :math:`s` lookups per filter offset into a
    shared dictionary of ``dict_size`` vectors of length ``in_channels`` (LCNN).

    The lookup indices are fixed at construction (seeded, uniform); the dictionary and the
    coefficients are learnt. Training uses ``conv2d`` with the rebuilt dense weight (the same
    function, faster in PyTorch); :func:`lookup_conv` is how the lookups compute it.

    >>> conv = LookupConv2d(3, 5, 3, dict_size=4, n_lookups=1, padding=1)
    >>> conv(torch.zeros(2, 3, 8, 8)).shape
    torch.Size([2, 5, 8, 8])
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dict_size: int,
                 n_lookups: int = 1, padding: int = 0, seed: int = 0):
        super().__init__()
        self.in_channels = check_int("in_channels", in_channels, 1)
        self.out_channels = check_int("out_channels", out_channels, 1)
        self.kernel_size = check_int("kernel_size", kernel_size, 1)
        self.dict_size = check_int("dict_size", dict_size, 1)
        self.n_lookups = check_int("n_lookups", n_lookups, 1, dict_size)
        self.padding = check_int("padding", padding, 0)
        seed = check_int("seed", seed, 0, 2**32 - 1)
        g = torch.Generator().manual_seed(seed)
        shape = (out_channels, kernel_size, kernel_size)
        index = torch.stack([torch.randperm(dict_size, generator=g)[:n_lookups]
                             for _ in range(math.prod(shape))]).reshape(*shape, n_lookups)
        self.register_buffer("index", index)
        self.dictionary = nn.Parameter(torch.randn(dict_size, in_channels, generator=g) / math.sqrt(in_channels))
        fan_in = kernel_size * kernel_size * n_lookups
        self.coef = nn.Parameter(torch.randn(*shape, n_lookups, generator=g) / math.sqrt(fan_in))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def dense_weight(self) -> torch.Tensor:
        """:math:`W[o, :, a, b] = \\sum_t C[o,a,b,t] D[I[o,a,b,t], :]`, shape (o, c, k, k)."""
        w = (self.coef[..., None] * self.dictionary[self.index]).sum(3)      # (o, k, k, c)
        return w.permute(0, 3, 1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.dense_weight(), self.bias, padding=self.padding)

    def macs_per_position(self) -> int:
        """:func:`lookup_macs` for one output position."""
        return lookup_macs(self.in_channels, self.out_channels, self.kernel_size, self.dict_size, self.n_lookups, 1)
