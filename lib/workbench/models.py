"""Models written for the book (PyPI torchvision does not import beside torch 2.13)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from lib.core.checks import check_int


def mlp(sizes: Sequence[int], seed: int = 0) -> nn.Sequential:
    """A multilayer perceptron ``sizes[0] -> ... -> sizes[-1]`` with ReLU between layers.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first; at least two (a single linear layer).
    seed : int
        Seed of the weight initialisation (PyTorch's default scheme).

    >>> net = mlp([64, 32, 10])
    >>> net(torch.zeros(2, 64)).shape
    torch.Size([2, 10])
    """
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least 2 widths (input and output), got {list(sizes)!r}")
    for i, s in enumerate(sizes):
        check_int(f"sizes[{i}]", s, 1)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)


def lenet_300_100(seed: int = 0) -> nn.Sequential:
    """LeNet-300-100: a 784-300-100-10 perceptron with ReLU, 266,610 parameters.

    The fully connected network of LeCun et al. (1998) as used by Han et al. (2015),
    "Learning both Weights and Connections for Efficient Neural Networks", arXiv:1506.02626.

    >>> sum(p.numel() for p in lenet_300_100().parameters())
    266610
    """
    return mlp([784, 300, 100, 10], seed=seed)


def lenet5(seed: int = 0) -> nn.Sequential:
    """LeNet-5 as in Caffe's MNIST example and Han et al. (2015): conv 20@5x5, max-pool,
    conv 50@5x5, max-pool, fc 500, fc 10 (431,080 parameters). Input (n, 1, 28, 28).

    >>> sum(p.numel() for p in lenet5().parameters())
    431080
    """
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return nn.Sequential(
            nn.Conv2d(1, 20, 5), nn.MaxPool2d(2),
            nn.Conv2d(20, 50, 5), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10))


def _conv_stages(channels: Sequence[int], in_channels: int, num_classes: int, seed: int,
                 batchnorm: bool) -> nn.Sequential:
    """Stages of conv 3x3 (-> BatchNorm) -> ReLU -> max-pool 2x2, then global average pooling and
    one linear layer. Without BatchNorm the convolutions carry a bias."""
    if not channels:
        raise ValueError("channels must list at least one stage width, got ()")
    for i, c in enumerate(channels):
        check_int(f"channels[{i}]", c, 1)
    check_int("in_channels", in_channels, 1)
    check_int("num_classes", num_classes, 2)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        layers: list[nn.Module] = []
        prev = in_channels
        for c in channels:
            conv = nn.Conv2d(prev, c, 3, padding=1, bias=not batchnorm)
            layers += [conv, nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2)] if batchnorm else [conv, nn.ReLU(), nn.MaxPool2d(2)]
            prev = c
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(prev, num_classes)]
        return nn.Sequential(*layers)


def vgg_small(channels: Sequence[int] = (32, 64, 128), in_channels: int = 1, num_classes: int = 10,
              seed: int = 0) -> nn.Sequential:
    """A small VGG-style CNN with BatchNorm, for channel pruning (Network Slimming).

    Each stage is conv 3x3 -> BatchNorm -> ReLU -> max-pool 2x2; then global average
    pooling and one linear layer. The BatchNorm scale factors are the channel
    importances Network Slimming penalises (Liu et al. 2017, arXiv:1708.06519).

    >>> vgg_small()(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """
    return _conv_stages(channels, in_channels, num_classes, seed, batchnorm=True)


def plain_cnn(channels: Sequence[int] = (16, 32), in_channels: int = 1, num_classes: int = 10,
              seed: int = 0) -> nn.Sequential:
    """A small CNN *without* BatchNorm: conv 3x3 -> ReLU -> max-pool 2x2 per stage, global average
    pooling, one linear layer.

    For group-lasso pruning (Structured Sparsity Learning): with a BatchNorm after each
    convolution a filter's scale would not matter to the output, and the penalty could shrink
    every filter together at no cost instead of zeroing some of them.

    >>> plain_cnn()(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    """
    return _conv_stages(channels, in_channels, num_classes, seed, batchnorm=False)
