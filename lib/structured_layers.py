r"""Structured linear layers: circulant, Fastfood and ACDC, each O(n) parameters and O(n log n) time.

A dense layer :math:`y = Wx + b` with :math:`W \in \mathbb{R}^{n \times n}` stores :math:`n^2` weights and
does :math:`n^2` multiply-accumulates. The layers here replace :math:`W` by a product of diagonal
matrices (the parameters) and fixed fast transforms (no parameters):

- **circulant** (Cheng et al. [1]_): :math:`W = \operatorname{circ}(r)\,D`, one vector :math:`r` and
  fixed random signs :math:`D`; the product is two FFTs and a pointwise product (the convolution
  theorem of Part I, :func:`lib.fourier.convolve`);
- **Fastfood** (Le, Sarlós and Smola [2]_; learnable diagonals as in Deep Fried Convnets [3]_):
  :math:`W = \tfrac1n S H G \Pi H B`, with :math:`H` the Walsh-Hadamard matrix (:func:`fwht`) and
  :math:`\Pi` a fixed permutation;
- **ACDC** (Moczulski et al. [4]_): :math:`W = C^{\top} D\, C A`, :math:`C` the orthonormal DCT-II
  (:func:`dct`), stacked ``depth`` times with fixed permutations between the factors.

Every layer has ``.dense()``, the equivalent :math:`n \times n` matrix built *explicitly* from its
factors (not by running the fast path), so ``layer(x) == x @ layer.dense().T + layer.bias``.

References
----------
.. [1] Y. Cheng, F. X. Yu, R. S. Feris, S. Kumar, A. Choudhary, S.-F. Chang, "An exploration of
   parameter redundancy in deep networks with circulant projections", ICCV 2015, arXiv:1502.03436.
.. [2] Q. Le, T. Sarlós, A. Smola, "Fastfood: Approximating Kernel Expansions in Loglinear Time",
   ICML 2013, arXiv:1408.3060.
.. [3] Z. Yang, M. Moczulski, M. Denil, N. de Freitas, A. Smola, L. Song, Z. Wang, "Deep Fried
   Convnets", ICCV 2015, arXiv:1412.7149.
.. [4] M. Moczulski, M. Denil, J. Appleyard, N. de Freitas, "ACDC: A Structured Efficient Linear
   Layer", ICLR 2016, arXiv:1511.05946.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lib.core.checks import check_int

__all__ = ["fwht", "hadamard", "circulant_matvec", "circulant_matrix", "dct", "idct", "dct_matrix",
           "CirculantLinear", "FastfoodLinear", "ACDCLinear"]


# --------------------------------------------------------------------------- checks
def _check_pow2(name: str, n) -> int:
    n = check_int(name, n, 1)
    if n & (n - 1):
        raise ValueError(f"{name} must be a power of two in [1, inf) (1, 2, 4, 8, ...), got {n!r}")
    return n


def _check_tensor(name: str, x, min_dim: int = 1) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() < min_dim or x.shape[-1] < 1:
        raise ValueError(f"{name} must have at least {min_dim} dimension(s) and a last axis of length >= 1, "
                         f"got shape {tuple(x.shape)}")
    return x


def _check_width(name: str, x: torch.Tensor, n: int) -> None:
    if x.dim() < 1 or x.shape[-1] != n:
        raise ValueError(f"{name} must have last axis of length {n} (the layer's width), got shape {tuple(x.shape)}")


# --------------------------------------------------------------------------- Walsh-Hadamard
def fwht(x: torch.Tensor) -> torch.Tensor:
    r"""The fast Walsh-Hadamard transform along the last axis, unnormalised: ``x @ hadamard(n)``.

    :math:`H_1 = [1]`, :math:`H_{2m} = \begin{bmatrix} H_m & H_m \\ H_m & -H_m \end{bmatrix}`
    (Sylvester's construction, as ``scipy.linalg.hadamard``). Each of the :math:`\log_2 n` stages
    pairs entries :math:`h` apart inside blocks of :math:`2h` and replaces :math:`(a, b)` by
    :math:`(a + b, a - b)`: :math:`O(n \log n)` additions, no multiplications. :math:`H` is symmetric
    and :math:`H^2 = nI`, so applying ``fwht`` twice multiplies by :math:`n`.

    >>> fwht(torch.tensor([1., 0., 0., 0.]))
    tensor([1., 1., 1., 1.])
    """
    x = _check_tensor("x", x)
    n = _check_pow2("x.shape[-1]", x.shape[-1])
    lead = x.shape[:-1]
    h = 1
    while h < n:
        pairs = x.reshape(*lead, n // (2 * h), 2, h)          # blocks of 2h: first half a, second half b
        a, b = pairs[..., 0, :], pairs[..., 1, :]
        x = torch.stack((a + b, a - b), dim=-2).reshape(*lead, n)
        h *= 2
    return x


def hadamard(n: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    r"""The :math:`n \times n` Sylvester-Hadamard matrix (entries :math:`\pm 1`), by Kronecker products.

    >>> hadamard(2)
    tensor([[ 1.,  1.],
            [ 1., -1.]], dtype=torch.float64)
    """
    n = _check_pow2("n", n)
    H = torch.ones(1, 1, dtype=dtype)
    while H.shape[0] < n:
        H = torch.kron(torch.tensor([[1.0, 1.0], [1.0, -1.0]], dtype=dtype), H)
    return H


# --------------------------------------------------------------------------- circulant
def circulant_matvec(c: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""The product :math:`\operatorname{circ}(c)\,x` along the last axis, by FFTs: equal to
    ``scipy.linalg.circulant(c) @ x``.

    :math:`\operatorname{circ}(c)_{ij} = c_{(i - j) \bmod n}` (first column :math:`c`), so
    :math:`(\operatorname{circ}(c)x)_i = \sum_j c_{(i-j) \bmod n} x_j` is the *circular* convolution
    :math:`c \circledast x`, and by the convolution theorem
    :math:`c \circledast x = \mathcal F^{-1}(\mathcal F c \cdot \mathcal F x)`: two real FFTs, a
    pointwise product and an inverse FFT, :math:`O(n \log n)` (Part I's :func:`lib.fourier.convolve`
    does the same for the linear convolution, with zero padding). ``c`` and ``x`` broadcast over the
    leading axes.

    >>> circulant_matvec(torch.tensor([1., 2., 3.]), torch.tensor([1., 0., 0.]))
    tensor([1., 2., 3.])
    """
    c = _check_tensor("c", c)
    x = _check_tensor("x", x)
    n = c.shape[-1]
    _check_width("x", x, n)
    return torch.fft.irfft(torch.fft.rfft(c) * torch.fft.rfft(x), n=n)


def circulant_matrix(c: torch.Tensor) -> torch.Tensor:
    r"""The :math:`n \times n` matrix :math:`\operatorname{circ}(c)_{ij} = c_{(i-j) \bmod n}` (as ``scipy.linalg.circulant``)."""
    c = _check_tensor("c", c)
    if c.dim() != 1:
        raise ValueError(f"c must be one-dimensional, got shape {tuple(c.shape)}")
    n = c.shape[0]
    i = torch.arange(n)
    return c[(i[:, None] - i[None, :]) % n]


# --------------------------------------------------------------------------- DCT
def _makhoul_order(n: int) -> torch.Tensor:
    """Indices of Makhoul's reordering: even samples, then odd samples reversed."""
    i = torch.arange(n)
    return torch.cat((i[::2], i[1::2].flip(0)))


def dct(x: torch.Tensor) -> torch.Tensor:
    r"""The orthonormal DCT-II along the last axis, by one FFT: equal to ``scipy.fft.dct(x, norm="ortho")``.

    :math:`X_k = s_k \sum_{m=0}^{n-1} x_m \cos\frac{\pi k (2m+1)}{2n}`, :math:`s_0 = \sqrt{1/n}`,
    :math:`s_k = \sqrt{2/n}`. Makhoul's algorithm: reorder :math:`v = (x_0, x_2, x_4, \dots, x_5, x_3, x_1)`
    (even samples, then odd ones reversed); then :math:`X_k = s_k\, \mathrm{Re}\bigl(e^{-i\pi k/2n} (\mathcal F v)_k\bigr)`.
    Built with ``torch.fft`` rather than a precomputed :math:`n \times n` cosine matrix so that the
    layer keeps its :math:`O(n \log n)` time and :math:`O(n)` memory; :func:`dct_matrix` is that matrix,
    for ``.dense()`` and the tests.

    >>> dct(torch.ones(4)).round(decimals=6)
    tensor([2., 0., 0., 0.])
    """
    x = _check_tensor("x", x)
    n = x.shape[-1]
    V = torch.fft.fft(x[..., _makhoul_order(n)])
    k = torch.arange(n, dtype=x.dtype)
    twiddle = torch.exp(-1j * math.pi * k / (2 * n)).to(V.dtype)
    scale = torch.full((n,), math.sqrt(2 / n), dtype=x.dtype)
    scale[0] = math.sqrt(1 / n)
    return (V * twiddle).real * scale


def idct(X: torch.Tensor) -> torch.Tensor:
    r"""The inverse of :func:`dct` (the orthonormal DCT-III), by one inverse FFT: ``scipy.fft.idct(X, norm="ortho")``.

    Undo the scaling to :math:`Y_k = 2\,\mathrm{Re}(Z_k)` with :math:`Z_k = e^{-i\pi k/2n} V_k`; since
    :math:`v` is real, :math:`Y_{n-k} = -2\,\mathrm{Im}(Z_k)`, so :math:`V_k = e^{i\pi k/2n}(Y_k - iY_{n-k})/2`
    (with :math:`Y_n = 0`); then :math:`v = \mathcal F^{-1} V` and the reordering is undone.

    >>> idct(dct(torch.tensor([1., 2., 3.]))).round(decimals=6)
    tensor([1., 2., 3.])
    """
    X = _check_tensor("X", X)
    n = X.shape[-1]
    scale = torch.full((n,), math.sqrt(2 * n), dtype=X.dtype)
    scale[0] = math.sqrt(4 * n)
    Y = X * scale
    Y_rev = torch.cat((torch.zeros_like(Y[..., :1]), Y[..., 1:].flip(-1)), dim=-1)   # Y_{n-k}, Y_n = 0
    k = torch.arange(n, dtype=X.dtype)
    V = torch.exp(1j * math.pi * k / (2 * n)) * torch.complex(Y, -Y_rev) / 2
    v = torch.fft.ifft(V).real
    return v[..., torch.argsort(_makhoul_order(n))]


def dct_matrix(n: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    r"""The orthonormal DCT-II matrix :math:`C_{km} = s_k \cos\frac{\pi k(2m+1)}{2n}`; :math:`C^{-1} = C^{\top}`.

    >>> C = dct_matrix(8); torch.allclose(C @ C.T, torch.eye(8, dtype=C.dtype))
    True
    """
    n = check_int("n", n, 1)
    k = torch.arange(n, dtype=dtype)[:, None]
    m = torch.arange(n, dtype=dtype)[None, :]
    C = torch.cos(math.pi * k * (2 * m + 1) / (2 * n)) * math.sqrt(2 / n)
    C[0] /= math.sqrt(2)
    return C


# --------------------------------------------------------------------------- layers
def _signs(n: int, g: torch.Generator) -> torch.Tensor:
    return torch.randint(0, 2, (n,), generator=g).float() * 2 - 1


class CirculantLinear(nn.Module):
    r"""Circulant projection with random sign flips (Cheng et al. [1]_): :math:`y = \operatorname{circ}(r)\,D x + b`.

    ``r`` (``weight``, learnable, :math:`n` numbers) defines the whole matrix; :math:`D` is a fixed
    diagonal of random :math:`\pm 1` (a buffer, ``signs``) that breaks the shift symmetry of the
    input; ``bias`` is :math:`b`. Parameters: :math:`2n` (with bias). Time: :math:`O(n \log n)` via
    :func:`circulant_matvec`. ``r`` starts :math:`\mathcal N(0, 1/n)`, so the matrix's singular values
    :math:`|\mathcal F r|` are of order 1, like a dense layer's.

    >>> layer = CirculantLinear(8)
    >>> x = torch.randn(3, 8)
    >>> torch.allclose(layer(x), x @ layer.dense().T + layer.bias, atol=1e-5)
    True
    """

    def __init__(self, n: int, bias: bool = True, seed: int = 0):
        super().__init__()
        self.n = check_int("n", n, 1)
        g = torch.Generator().manual_seed(check_int("seed", seed, 0))
        self.weight = nn.Parameter(torch.randn(self.n, generator=g) / math.sqrt(self.n))
        self.register_buffer("signs", _signs(self.n, g))
        self.bias = nn.Parameter(torch.zeros(self.n)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_width("x", x, self.n)
        y = circulant_matvec(self.weight, x * self.signs)
        return y if self.bias is None else y + self.bias

    def dense(self) -> torch.Tensor:
        """The :math:`n \\times n` matrix :math:`\\operatorname{circ}(r)\\,D`."""
        return circulant_matrix(self.weight) * self.signs


class FastfoodLinear(nn.Module):
    r"""Adaptive Fastfood (Le et al. [2]_, Yang et al. [3]_): :math:`y = \tfrac1n\, S H G \Pi H B\, x + b`.

    :math:`H` is the Walsh-Hadamard matrix (:func:`fwht`, no parameters; :math:`H/\sqrt n` is
    orthogonal, hence the :math:`1/n` for two of them), :math:`\Pi` a fixed random permutation
    (buffer ``perm``: :math:`(\Pi z)_i = z_{\mathrm{perm}_i}`), and :math:`S, G, B` learnable diagonals,
    as in Deep Fried Convnets. Fastfood draws :math:`B` as random signs and :math:`G` Gaussian;
    :math:`S` starts at ones here (Fastfood's :math:`S` rescales rows to the lengths of Gaussian rows;
    with learning it is a free scale). Parameters: :math:`3n` (+ :math:`n` bias); time
    :math:`O(n \log n)`. ``n`` must be a power of two.

    >>> layer = FastfoodLinear(8)
    >>> x = torch.randn(3, 8)
    >>> torch.allclose(layer(x), x @ layer.dense().T + layer.bias, atol=1e-5)
    True
    """

    def __init__(self, n: int, bias: bool = True, seed: int = 0):
        super().__init__()
        self.n = _check_pow2("n", n)
        g = torch.Generator().manual_seed(check_int("seed", seed, 0))
        self.B = nn.Parameter(_signs(self.n, g))
        self.G = nn.Parameter(torch.randn(self.n, generator=g))
        self.S = nn.Parameter(torch.ones(self.n))
        self.register_buffer("perm", torch.randperm(self.n, generator=g))
        self.bias = nn.Parameter(torch.zeros(self.n)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_width("x", x, self.n)
        z = fwht(x * self.B)                   # H B x
        z = z[..., self.perm] * self.G         # G Π H B x
        y = fwht(z) * self.S / self.n          # S H G Π H B x / n
        return y if self.bias is None else y + self.bias

    def dense(self) -> torch.Tensor:
        """The :math:`n \\times n` matrix :math:`\\tfrac1n S H G \\Pi H B`, multiplied out."""
        H = hadamard(self.n, dtype=self.G.dtype)
        P = torch.eye(self.n, dtype=self.G.dtype)[self.perm]
        return self.S[:, None] * (H @ (self.G[:, None] * (P @ H)) * self.B[None, :]) / self.n


class ACDCLinear(nn.Module):
    r"""ACDC (Moczulski et al. [4]_), ``depth`` factors stacked: :math:`y = \Bigl(\prod_{k} C^{\top} D_k C A_k P_k\Bigr) x + b`.

    One factor is :math:`C^{\top} D C A` (column-vector form of the paper's :math:`ACDC^{-1}`):
    scale by the diagonal :math:`A`, orthonormal DCT-II :math:`C` (:func:`dct`, by FFT), scale by
    :math:`D`, inverse DCT. A single factor is a very restricted operator; the paper stacks them,
    with fixed permutations between factors (buffers ``perms``; the first is the identity) so that
    the cascade mixes all coordinates. The diagonals start near the identity,
    :math:`1 + \mathcal N(0, \sigma^2)` with ``sigma`` 0.1 (a choice here), so a deep stack starts
    close to a permutation rather than collapsing or exploding. Parameters: :math:`2n \cdot`
    ``depth`` (+ :math:`n` bias); time :math:`O(\texttt{depth} \cdot n \log n)`.

    >>> layer = ACDCLinear(8, depth=3)
    >>> x = torch.randn(3, 8)
    >>> torch.allclose(layer(x), x @ layer.dense().T + layer.bias, atol=1e-5)
    True
    """

    def __init__(self, n: int, depth: int = 1, bias: bool = True, seed: int = 0, sigma: float = 0.1):
        super().__init__()
        self.n = check_int("n", n, 1)
        self.depth = check_int("depth", depth, 1, 64)
        g = torch.Generator().manual_seed(check_int("seed", seed, 0))
        self.A = nn.Parameter(1 + sigma * torch.randn(self.depth, self.n, generator=g))
        self.D = nn.Parameter(1 + sigma * torch.randn(self.depth, self.n, generator=g))
        perms = [torch.arange(self.n)] + [torch.randperm(self.n, generator=g) for _ in range(self.depth - 1)]
        self.register_buffer("perms", torch.stack(perms))
        self.bias = nn.Parameter(torch.zeros(self.n)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_width("x", x, self.n)
        for k in range(self.depth):                      # the factor k = 0 acts first
            x = idct(dct(x[..., self.perms[k]] * self.A[k]) * self.D[k])
        return x if self.bias is None else x + self.bias

    def dense(self) -> torch.Tensor:
        """The :math:`n \\times n` matrix, factor by factor from :func:`dct_matrix`."""
        C = dct_matrix(self.n, dtype=self.A.dtype)
        eye = torch.eye(self.n, dtype=self.A.dtype)
        W = eye
        for k in range(self.depth):
            factor = C.T @ (self.D[k][:, None] * C) * self.A[k][None, :] @ eye[self.perms[k]]
            W = factor @ W
        return W
