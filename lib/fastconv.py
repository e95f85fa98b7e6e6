r"""Fast convolution: through the Fourier transform, and by Winograd's minimal filtering.

A convolution layer computes, for every image ``n``, output channel ``o`` and position
``(i, j)``, the **cross-correlation** (PyTorch's ``conv2d`` does not flip the kernel)

.. math:: y_{n,o,i,j} = b_o + \sum_c \sum_{u,v} x_{n,c,i+u,j+v}\, w_{o,c,u,v}.

Two ways to do fewer multiplications than this direct sum:

* :func:`fft_conv2d`: the convolution theorem of Part I (:func:`lib.fourier.convolve`)
  turns the sum over ``(u, v)`` into a pointwise product of 2-D spectra; the sum over
  input channels ``c`` is done in the frequency domain, and the kernels' spectra are
  computed once per call and reused for every image of the batch (Mathieu, Henaff and
  LeCun 2014).
* :func:`winograd_conv2d`: small output tiles computed with the minimal number of
  multiplications, :math:`(m+r-1)^2` instead of :math:`m^2r^2`, from transforms
  :func:`winograd_transforms` derived by polynomial interpolation (Cook-Toom; Lavin and
  Gray 2016).

References
----------
M. Mathieu, M. Henaff, Y. LeCun, "Fast Training of Convolutional Networks through FFTs",
ICLR 2014, arXiv:1312.5851.
A. Lavin, S. Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016,
arXiv:1509.09308.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from lib.core.checks import check_int

__all__ = ["DEFAULT_POINTS", "fft_conv2d", "kernel_spectrum", "overlap_add", "winograd_transforms",
           "winograd_counts", "winograd_conv2d", "transform_counts"]

#: Interpolation points used by :func:`winograd_transforms` (the first ``m + r - 2`` of them,
#: plus the point at infinity). Small and dyadic, so every product in the construction is exact
#: in float64; 0 and +-1 give transforms with entries 0 and +-1 only.
DEFAULT_POINTS = (0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 4.0, -4.0)


# --------------------------------------------------------------------------- checks
def _check_conv(x, weight, padding) -> int:
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise ValueError(f"x must be a 4-D tensor (batch, channels, height, width), got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    if not isinstance(weight, torch.Tensor) or weight.dim() != 4:
        raise ValueError(f"weight must be a 4-D tensor (out_channels, in_channels, kh, kw), got "
                         f"{tuple(weight.shape) if isinstance(weight, torch.Tensor) else type(weight).__name__}")
    if weight.shape[1] != x.shape[1]:
        raise ValueError(f"weight.shape[1] (input channels) must equal x.shape[1] = {x.shape[1]}, "
                         f"got {weight.shape[1]}")
    padding = check_int("padding", padding, 0)
    h, w = x.shape[2] + 2 * padding, x.shape[3] + 2 * padding
    if weight.shape[2] > h or weight.shape[3] > w:
        raise ValueError(f"weight's kernel {tuple(weight.shape[2:])} must fit in the padded input "
                         f"({h}, {w}): kernel sizes in [1, {h}] x [1, {w}]")
    return padding


# --------------------------------------------------------------------------- FFT
def kernel_spectrum(weight: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    r"""The conjugated 2-D real spectra of the kernels, zero-padded to ``size``.

    Cross-correlation with :math:`w` is convolution with the flipped kernel, and for a real
    kernel flipping in space is conjugating in frequency:
    :math:`\mathcal F[w(-\cdot)] = \overline{\mathcal F[w]}` (on the circle of length ``size``).
    Compute it once and pass it to :func:`fft_conv2d` as ``spectrum`` to reuse it.

    Parameters
    ----------
    weight : Tensor (out_channels, in_channels, kh, kw)
    size : (int, int)
        The padded input's height and width.

    Returns
    -------
    Tensor (out_channels, in_channels, size[0], size[1] // 2 + 1), complex

    >>> kernel_spectrum(torch.ones(1, 1, 2, 2), (4, 4)).shape
    torch.Size([1, 1, 4, 3])
    """
    if not isinstance(weight, torch.Tensor) or weight.dim() != 4:
        raise ValueError(f"weight must be a 4-D tensor, got {type(weight).__name__}")
    p = check_int("size[0]", size[0], weight.shape[2])
    q = check_int("size[1]", size[1], weight.shape[3])
    return torch.fft.rfft2(weight, s=(p, q)).conj()


def fft_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, padding: int = 0,
               *, spectrum: torch.Tensor | None = None) -> torch.Tensor:
    r"""2-D convolution layer (stride 1) through the convolution theorem; equals ``F.conv2d``.

    With :math:`X = \mathrm{rfft2}(x_\text{padded})` of size :math:`P \times Q` and
    :math:`W` the kernels' spectra at the same size,

    .. math:: y_{n,o} = \mathrm{irfft2}\Big(\sum_c X_{n,c}\,\overline{W_{o,c}}\Big)
              \big[0{:}P-k_h+1,\; 0{:}Q-k_w+1\big] + b_o.

    The product is a *circular* correlation, but the positions kept never wrap around, so
    no further padding is needed. Cost: :math:`N C` forward and :math:`N O` inverse
    transforms of :math:`O(PQ\log PQ)`, :math:`O C` kernel transforms (once per call, shared
    by the batch), and :math:`N O C P (Q/2+1)` complex multiply-adds, whatever the kernel size.

    Parameters
    ----------
    x : Tensor (batch, in_channels, H, W)
    weight : Tensor (out_channels, in_channels, kh, kw)
    bias : Tensor (out_channels,), optional
    padding : int
        Zeros added on every side, as in ``F.conv2d``.
    spectrum : Tensor, optional
        :func:`kernel_spectrum` of ``weight`` at the padded size, computed once and reused.

    Returns
    -------
    Tensor (batch, out_channels, H + 2 padding - kh + 1, W + 2 padding - kw + 1)

    References
    ----------
    Mathieu, Henaff, LeCun, "Fast Training of Convolutional Networks through FFTs", ICLR 2014,
    arXiv:1312.5851.

    >>> x, w = torch.randn(2, 3, 8, 8, dtype=torch.float64), torch.randn(4, 3, 5, 5, dtype=torch.float64)
    >>> torch.allclose(fft_conv2d(x, w, padding=2), F.conv2d(x, w, padding=2))
    True
    """
    padding = _check_conv(x, weight, padding)
    x = F.pad(x, (padding,) * 4)
    (p, q), (kh, kw) = x.shape[2:], weight.shape[2:]
    if spectrum is None:
        spectrum = kernel_spectrum(weight, (p, q))
    elif tuple(spectrum.shape) != (weight.shape[0], weight.shape[1], p, q // 2 + 1):
        raise ValueError(f"spectrum must have shape {(weight.shape[0], weight.shape[1], p, q // 2 + 1)} "
                         f"(kernel_spectrum(weight, {(p, q)})), got {tuple(spectrum.shape)}")
    X = torch.fft.rfft2(x)                                   # (N, C, P, Q/2+1)
    Y = torch.einsum("ncpq,ocpq->nopq", X, spectrum)         # sum over input channels, per frequency
    y = torch.fft.irfft2(Y, s=(p, q))[..., :p - kh + 1, :q - kw + 1]
    return y if bias is None else y + bias.view(1, -1, 1, 1)


def overlap_add(signal, kernel, block: int = 64) -> np.ndarray:
    r"""Full linear convolution of a long 1-D ``signal`` with a short ``kernel``, block by block.

    Each block of ``block`` samples is convolved with the kernel through FFTs of length
    ``block + len(kernel) - 1`` (the kernel's spectrum computed once), and the pieces, each
    ``len(kernel) - 1`` samples longer than its block, are added where they overlap. Equals
    ``numpy.convolve(signal, kernel)``; the FFT length stays small however long the signal.

    >>> np.allclose(overlap_add(np.arange(10.0), [1.0, -1.0], block=3), np.convolve(np.arange(10.0), [1.0, -1.0]))
    True
    """
    signal, kernel = np.asarray(signal, dtype=float), np.asarray(kernel, dtype=float)
    if signal.ndim != 1 or kernel.ndim != 1 or not len(signal) or not len(kernel):
        raise ValueError(f"signal and kernel must be non-empty 1-D arrays, got shapes {signal.shape}, {kernel.shape}")
    block = check_int("block", block, 1)
    size = block + len(kernel) - 1
    K = np.fft.rfft(kernel, size)
    out = np.zeros(len(signal) + len(kernel) - 1)
    for start in range(0, len(signal), block):
        piece = np.fft.irfft(np.fft.rfft(signal[start:start + block], size) * K, size)
        stop = min(start + size, len(out))
        out[start:stop] += piece[:stop - start]
    return out


# --------------------------------------------------------------------------- Winograd
def _check_mr(m, r) -> tuple[int, int]:
    return check_int("m", m, 1, 6), check_int("r", r, 1, 5)


def winograd_transforms(m: int, r: int, points=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Transforms ``(AT, G, BT)`` of the minimal filtering algorithm :math:`F(m, r)`.

    :math:`F(m, r)` computes ``m`` outputs of an ``r``-tap correlation,
    :math:`y_i = \sum_{k<r} d_{i+k} g_k` from :math:`n = m+r-1` inputs, as

    .. math:: y = A^T\big[(G g) \odot (B^T d)\big]

    with only :math:`n` multiplications (the :math:`\odot`). **Construction (Cook-Toom).**
    The *linear convolution* :math:`s = h * g` of ``h`` (length ``m``) and ``g`` is the
    product of the polynomials :math:`h(x) g(x)`, of degree :math:`n-1`. Evaluate both at
    :math:`n-1` points :math:`p_j` and at infinity (the leading coefficient), multiply the
    :math:`n` values pairwise, and interpolate back (Lagrange, or the Chinese remainder
    theorem modulo :math:`\prod_j (x-p_j)`):

    .. math:: s(x) = \sum_j h(p_j)g(p_j)\,\frac{\prod_{k\ne j}(x-p_k)}{N_j}
              + h_{m-1}g_{r-1}\prod_k (x-p_k),\qquad N_j=\prod_{k\ne j}(p_j-p_k).

    In matrices :math:`s = L[(V_r g)\odot(V_m h)]`, with :math:`V_q` the :math:`n\times q`
    Vandermonde matrix of the points (row :math:`[1, p, p^2, \dots]`; the row of infinity
    :math:`[0,\dots,0,1]`) and :math:`L` the interpolation matrix. The correlation is the
    transpose of the convolution (:math:`y = M(g)^T d` where :math:`s = M(g) h`), so
    :math:`A^T = V_m^T`, :math:`G = V_r` and :math:`B^T = L^T`. The denominators
    :math:`N_j` are moved from :math:`B^T` into :math:`G` (which is transformed once per
    kernel), so :math:`B^T`'s rows are the coefficients of :math:`\prod_{k\ne j}(x-p_k)`;
    signs follow Lavin and Gray's printed :math:`F(2,3)`. With dyadic points every step is
    exact in float64.

    Parameters
    ----------
    m : int in [1, 6]
        Outputs per tile.
    r : int in [1, 5]
        Filter taps.
    points : sequence of m + r - 2 distinct finite reals, optional
        Default: the first ``m + r - 2`` of :data:`DEFAULT_POINTS` (0, 1, -1, 2, -2, 1/2, ...).

    Returns
    -------
    AT : ndarray (m, m + r - 1)
    G : ndarray (m + r - 1, r)
    BT : ndarray (m + r - 1, m + r - 1)

    References
    ----------
    A. Lavin, S. Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016,
    arXiv:1509.09308. S. Winograd, "Arithmetic Complexity of Computations", SIAM 1980.

    >>> AT, G, BT = winograd_transforms(2, 3)
    >>> BT.astype(int).tolist()
    [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    >>> G.tolist()
    [[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]]
    """
    m, r = _check_mr(m, r)
    n = m + r - 1
    if points is None:
        pts = np.array(DEFAULT_POINTS[:n - 1], dtype=float)
    else:
        pts = np.asarray(points, dtype=float).ravel()
        if len(pts) != n - 1 or not np.all(np.isfinite(pts)) or len(np.unique(pts)) != len(pts):
            raise ValueError(f"points must be m + r - 2 = {n - 1} distinct finite reals, got {list(points)!r}")
    AT = np.zeros((m, n))
    G = np.zeros((n, r))
    BT = np.zeros((n, n))
    for j, p in enumerate(pts):
        others = np.delete(pts, j)
        N = float(np.prod(p - others))
        AT[:, j] = p ** np.arange(m)                          # evaluate h at p_j (transposed)
        G[j] = p ** np.arange(r) / abs(N)                     # evaluate g at p_j, Lagrange denominator
        BT[j, :n - 1] = np.polynomial.polynomial.polyfromroots(others) * np.sign(N)
    # the point at infinity: leading coefficients; its interpolating polynomial is prod_k (x - p_k)
    AT[m - 1, n - 1] = -1.0
    G[n - 1, r - 1] = 1.0
    BT[n - 1] = -np.polynomial.polynomial.polyfromroots(pts)
    return AT + 0.0, G + 0.0, BT + 0.0                     # + 0.0 turns -0.0 into 0.0


def transform_counts(M: np.ndarray) -> dict[str, int]:
    """Additions and multiplications by constants to apply matrix ``M`` to a vector.

    Counted naively, row by row: a row with ``k`` nonzeros costs ``k - 1`` additions, and each
    nonzero entry other than +-1 one multiplication (no common subexpressions shared between
    rows, so hand-optimised transforms can do a little better).

    >>> transform_counts(np.array([[1, 0, -1], [0.5, 0.5, 0.5]]))
    {'adds': 3, 'mults': 3}
    """
    M = np.asarray(M, dtype=float)
    nnz = (M != 0).sum(axis=1)
    return {"adds": int(np.maximum(nnz - 1, 0).sum()), "mults": int(((M != 0) & (np.abs(M) != 1)).sum())}


def winograd_counts(m: int, r: int, points=None) -> dict[str, float]:
    r"""Operations per output tile of :math:`F(m\times m, r\times r)` against the direct sum.

    Per input channel and output tile: direct :math:`m^2 r^2` multiplications and
    :math:`m^2(r^2-1)` additions; Winograd :math:`n^2` multiplications (:math:`n=m+r-1`),
    plus the data transform :math:`B^T d B` (``2n`` applications of :math:`B^T`) and the
    output transform :math:`A^T Y A` (``n + m`` applications of :math:`A^T`, shared by all
    input channels once the products are summed), counted with :func:`transform_counts`.
    The filter transform is done once per kernel and not counted.

    >>> c = winograd_counts(2, 3)
    >>> c["mults_direct"], c["mults_winograd"], c["ratio"]
    (36, 16, 2.25)
    """
    m, r = _check_mr(m, r)
    n = m + r - 1
    AT, _, BT = winograd_transforms(m, r, points)
    b, a = transform_counts(BT), transform_counts(AT)
    return {"mults_direct": m * m * r * r, "mults_winograd": n * n, "ratio": m * m * r * r / (n * n),
            "adds_direct": m * m * (r * r - 1), "adds_data": 2 * n * b["adds"], "mults_data": 2 * n * b["mults"],
            "adds_output": (n + m) * a["adds"], "mults_output": (n + m) * a["mults"]}


def winograd_conv2d(x: torch.Tensor, weight: torch.Tensor, m: int = 2, padding: int = 0,
                    points=None) -> torch.Tensor:
    r"""2-D convolution layer (stride 1, square ``r x r`` kernels) by Winograd's :math:`F(m\times m, r\times r)`.

    The padded input is cut into tiles :math:`d` of :math:`n\times n` (:math:`n=m+r-1`) with
    stride ``m``; then, per tile,

    .. math:: Y_o = A^T\Big[\sum_c (G\,g_{o,c}\,G^T)\odot(B^T d_c\,B)\Big]A,

    the sum over input channels being one matrix product per transform-domain position
    (``n*n`` batched matmuls of (out, in) by (in, tiles)). Equals ``F.conv2d(x, weight,
    padding=padding)``; the last tiles are zero-padded and cropped.

    Parameters
    ----------
    x : Tensor (batch, in_channels, H, W)
    weight : Tensor (out_channels, in_channels, r, r), r in [1, 5]
    m : int in [1, 6]
        Output tile side.
    padding : int
    points : optional, as in :func:`winograd_transforms`

    References
    ----------
    Lavin, Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016, arXiv:1509.09308.

    >>> x, w = torch.randn(2, 3, 9, 9, dtype=torch.float64), torch.randn(4, 3, 3, 3, dtype=torch.float64)
    >>> torch.allclose(winograd_conv2d(x, w, m=4, padding=1), F.conv2d(x, w, padding=1))
    True
    """
    padding = _check_conv(x, weight, padding)
    r = weight.shape[2]
    if weight.shape[3] != r:
        raise ValueError(f"weight must have a square kernel (kh == kw), got {tuple(weight.shape[2:])}")
    m, r = _check_mr(m, r)
    n = m + r - 1
    AT, G, BT = (torch.as_tensor(a, dtype=x.dtype) for a in winograd_transforms(m, r, points))
    x = F.pad(x, (padding,) * 4)
    ho, wo = x.shape[2] - r + 1, x.shape[3] - r + 1
    th, tw = -(-ho // m), -(-wo // m)                        # tiles down and across
    x = F.pad(x, (0, tw * m + r - 1 - x.shape[3], 0, th * m + r - 1 - x.shape[2]))
    d = x.unfold(2, n, m).unfold(3, n, m)                    # (N, C, th, tw, n, n)
    V = torch.einsum("ij,nctwjk,lk->ilcntw", BT, d, BT)      # B^T d B, positions first
    U = torch.einsum("ij,ocjk,lk->iloc", G, weight, G)       # G g G^T
    N, C = x.shape[:2]
    M = torch.bmm(U.reshape(n * n, -1, C), V.reshape(n * n, C, -1))   # sum over channels, per position
    M = M.reshape(n, n, -1, N, th, tw)
    Y = torch.einsum("ij,jkontw,lk->notiwl", AT, M, AT)      # A^T M A -> (N, O, th, m, tw, m)
    return Y.reshape(N, -1, th * m, tw * m)[..., :ho, :wo]
