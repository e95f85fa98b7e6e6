"""Measurement: wall-clock timing done carefully (warm-up, repeats, median and spread).

Timings are reported, never asserted: they depend on the machine. The thread
count in force (``torch.get_num_threads``, which :func:`lib.config.set_threads`
pins) is reported with them.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from ._checks import check_int, check_real


def time_call(fn: Callable[..., Any], *args: Any, repeat: int = 7, min_time: float = 0.05,
              warmup: int = 1, **kwargs: Any) -> dict[str, float]:
    """Time ``fn(*args, **kwargs)``: ``warmup`` untimed calls, then ``repeat`` rounds of enough
    calls to last at least ``min_time`` seconds each.

    Returns
    -------
    dict
        ``median``, ``q1``, ``q3`` (seconds per call, over rounds), ``calls`` per round.

    >>> r = time_call(sum, range(100), repeat=3, min_time=0.001)
    >>> r["median"] > 0
    True
    """
    repeat = check_int("repeat", repeat, 1)
    check_real("min_time", min_time, 0, 60)
    warmup = check_int("warmup", warmup, 0)
    for _ in range(warmup):
        fn(*args, **kwargs)
    calls = 1
    while True:  # find a number of calls that lasts min_time
        t0 = time.perf_counter()
        for _ in range(calls):
            fn(*args, **kwargs)
        elapsed = time.perf_counter() - t0
        if elapsed >= min_time or calls >= 1 << 20:
            break
        calls *= 2 if elapsed == 0 else max(2, min(10, int(min_time / elapsed) + 1))
    rounds = [elapsed / calls]
    for _ in range(repeat - 1):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn(*args, **kwargs)
        rounds.append((time.perf_counter() - t0) / calls)
    q = statistics.quantiles(rounds, n=4) if len(rounds) > 1 else [rounds[0]] * 3
    return {"median": statistics.median(rounds), "q1": q[0], "q3": q[2], "calls": calls}


# --------------------------------------------------------------------------- size
def count_params(net) -> int:
    """Parameters a model stores (a pruned weight's ``weight_orig`` counts once, its mask not at all)."""
    return sum(t.numel() for t in _weights(net).values())


def count_nonzero(net) -> int:
    """Non-zero entries of the effective weights and biases (after masks are applied)."""
    return sum(int((t != 0).sum()) for t in _weights(net).values())


def _weights(net) -> dict:
    """Effective tensors by name: ``module.weight`` (masked if pruned), biases, BatchNorm affine."""
    out = {}
    for mname, module in net.named_modules():
        for pname, _ in list(module.named_parameters(recurse=False)):
            name = pname[:-5] if pname.endswith("_orig") else pname
            out[f"{mname}.{name}" if mname else name] = getattr(module, name).detach()
    return out


def _bits_for(n: int) -> int:
    return max(1, (max(1, n) - 1).bit_length())


def storage_bits(weight, fmt: str = "dense", value_bits: int = 32, index_bits: int | None = None) -> int:
    r"""Bits needed to store one weight tensor in a given format.

    Parameters
    ----------
    weight : tensor or array
        The (possibly sparse) weights; zeros are not stored by the sparse formats.
    fmt : {"dense", "csr", "relative"}
        ``"dense"``: every entry, ``value_bits`` each.
        ``"csr"``: compressed sparse rows of the 2-D view (rows = first dimension):
        ``nnz * (value_bits + index_bits)`` plus ``(rows + 1)`` row pointers of
        ``index_bits`` (default 32, as common sparse libraries store them).
        ``"relative"``: Deep Compression's format: non-zeros in order, each with a
        ``index_bits``-bit count of zeros skipped since the previous entry (default 5,
        the paper's choice for fully connected layers; 8 for convolutions); a run of
        more than :math:`2^b - 1` zeros is bridged by stored zero "padding" entries.
    value_bits : int
        Bits per stored value (32 for float32; fewer after weight sharing).

    >>> import torch
    >>> storage_bits(torch.tensor([0., 0., 1.5, 0., 2.]), "relative", value_bits=4, index_bits=2)
    16
    """
    import numpy as np

    from ._checks import check_choice

    check_choice("fmt", fmt, ("dense", "csr", "relative"))
    value_bits = check_int("value_bits", value_bits, 1, 64)
    w = weight.detach().cpu().numpy() if hasattr(weight, "detach") else np.asarray(weight)
    flat = w.reshape(-1)
    if fmt == "dense":
        return flat.size * value_bits
    nnz = int(np.count_nonzero(flat))
    if fmt == "csr":
        index_bits = check_int("index_bits", 32 if index_bits is None else index_bits, 1, 64)
        rows = w.shape[0] if w.ndim else 1
        return nnz * (value_bits + index_bits) + (rows + 1) * index_bits
    index_bits = check_int("index_bits", 5 if index_bits is None else index_bits, 1, 32)
    return relative_index_entries(flat, index_bits) * (value_bits + index_bits)


def relative_index_entries(flat, index_bits: int) -> int:
    """Entries (non-zeros plus padding zeros) in Deep Compression's relative-index format."""
    import numpy as np

    positions = np.flatnonzero(np.asarray(flat).reshape(-1))
    if positions.size == 0:
        return 0
    skipped = np.diff(np.concatenate([[-1], positions])) - 1  # zeros before each non-zero
    return int(positions.size + np.sum(skipped // (1 << index_bits)))


# --------------------------------------------------------------------------- compute
def count_macs(net, input_shape: tuple[int, ...], nonzero_only: bool = False) -> dict[str, int]:
    """Multiply-accumulates per example of every Linear and Conv2d layer (and ``"total"``).

    ``nonzero_only`` counts only products with a non-zero weight: the work a
    sparse kernel could skip, not what a dense kernel does.
    """
    import torch
    from torch import nn

    macs: dict[str, int] = {}
    hooks = []

    def hook(name):
        def fn(module, inputs, output):
            w = module.weight.detach()
            used = int((w != 0).sum()) if nonzero_only else w.numel()
            if isinstance(module, nn.Linear):
                macs[name] = used
            else:  # Conv2d: each weight is used once per output position
                macs[name] = used * output.shape[-1] * output.shape[-2]
        return fn

    for name, module in net.named_modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            hooks.append(module.register_forward_hook(hook(name)))
    try:
        was_training = net.training
        net.eval()
        with torch.no_grad():
            net(torch.zeros(1, *input_shape))
        net.train(was_training)
    finally:
        for h in hooks:
            h.remove()
    macs["total"] = sum(macs.values())
    return macs


def latency(net, x, warmup: int = 10, runs: int = 50) -> dict[str, float]:
    """Inference time of ``net(x)`` in milliseconds: median and spread over ``runs`` after ``warmup``.

    Returns ``median_ms``, ``p10_ms``, ``p90_ms``, ``batch`` and ``threads`` (PyTorch's
    intra-op thread count in force, which the caller should pin and report).
    """
    import torch

    warmup = check_int("warmup", warmup, 0)
    runs = check_int("runs", runs, 3)
    net.eval()
    times = []
    with torch.inference_mode():
        for _ in range(warmup):
            net(x)
        for _ in range(runs):
            t0 = time.perf_counter()
            net(x)
            times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return {"median_ms": statistics.median(times), "p10_ms": times[int(0.1 * (runs - 1))],
            "p90_ms": times[int(0.9 * (runs - 1))], "batch": int(x.shape[0]), "threads": torch.get_num_threads()}


def layer_costs(net, input_shape: tuple[int, ...]) -> list[dict]:
    """Per Linear/Conv2d layer: ``name``, ``kind``, ``params`` (weight and bias) and ``macs`` per example.

    Shows where a model's size and its compute live: in a CNN the convolutions do most
    of the multiply-accumulates while the fully connected layers hold most of the weights.
    """
    from torch import nn

    macs = count_macs(net, input_shape)
    rows = []
    for name, module in net.named_modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            params = module.weight.numel() + (module.bias.numel() if module.bias is not None else 0)
            kind = "conv" if isinstance(module, nn.Conv2d) else "fc"
            rows.append({"name": f"{kind}{sum(r['kind'] == kind for r in rows) + 1}", "module": name,
                         "kind": kind, "params": params, "macs": macs[name]})
    return rows
