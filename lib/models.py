"""Models written for the book (PyPI torchvision does not import beside torch 2.13)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._checks import check_int


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
