"""Measurement: wall-clock timing done carefully (warm-up, repeats, median and spread).

Timings are reported, never asserted: they depend on the machine. The thread
count in force (``torch.get_num_threads``, which :func:`lib.core.config.set_threads`
pins) is reported with them.
"""

from __future__ import annotations

import copy
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from lib.core.checks import check_choice, check_int, check_real
from lib.pruning import magnitude_prune


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
    12
    """
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
    if hasattr(flat, "detach"):  # a torch tensor, possibly one that requires grad
        flat = flat.detach().cpu().numpy()
    positions = np.flatnonzero(np.asarray(flat).reshape(-1))
    if positions.size == 0:
        return 0
    skipped = np.diff(np.concatenate([[-1], positions])) - 1  # zeros before each non-zero
    return int(positions.size + np.sum(skipped // (1 << index_bits)))


# --------------------------------------------------------------------------- compute
def count_macs(net, input_shape: tuple[int, ...], nonzero_only: bool = False) -> dict[str, int]:
    """Multiply-accumulates per example of every Linear and Conv2d layer (and ``"total"``).

    A layer applied several times in one forward pass (cross-layer sharing) is counted at every
    call: sharing saves storage, not arithmetic. ``nonzero_only`` counts only products with a non-zero weight: the work a
    sparse kernel could skip, not what a dense kernel does.
    """
    macs: dict[str, int] = {}
    hooks = []

    def hook(name):
        def fn(module, inputs, output):
            w = module.weight.detach()
            used = int((w != 0).sum()) if nonzero_only else w.numel()
            # Linear: each weight once per call; Conv2d: once per output position
            per_call = used if isinstance(module, nn.Linear) else used * output.shape[-1] * output.shape[-2]
            macs[name] = macs.get(name, 0) + per_call
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
    macs = count_macs(net, input_shape)
    rows = []
    for name, module in net.named_modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            params = module.weight.numel() + (module.bias.numel() if module.bias is not None else 0)
            kind = "conv" if isinstance(module, nn.Conv2d) else "fc"
            rows.append({"name": f"{kind}{sum(r['kind'] == kind for r in rows) + 1}", "module": name,
                         "kind": kind, "params": params, "macs": macs[name]})
    return rows


# --------------------------------------------------------------------------- sparse kernels
class SparseLinear(nn.Module):
    r"""A linear layer whose weight is stored in compressed sparse row (CSR) form.

    ``y = W x + b`` computed as :math:`(W_{\mathrm{csr}} X^\top)^\top + b`: the CSR matrix is the left
    operand, which is the case PyTorch's CPU kernels (Intel MKL's sparse BLAS in the standard
    wheels) handle best. In torch 2.13 on CPU, ``torch.addmm(b[:, None], W_csr, X.T).T`` (the bias
    fused in) was the fastest of the spellings tried, ``W_csr @ X.T`` and ``torch.sparse.mm`` a few
    percent behind, while ``F.linear(X, W_csr, b)`` and ``X @ W_csr.T`` (a transposed, CSC-like right
    operand) were up to 5x slower at batch 256.

    The three CSR arrays (``values``; ``col_indices``, the column of each value; ``crow_indices``,
    where each row starts in them) and the bias are buffers, so they are in ``state_dict`` and move
    with ``.to()``. :attr:`weight` is a ``torch.sparse_csr_tensor`` over the same memory, made once
    (making it costs a few microseconds, a third of a dense 300x784 product at batch 1); since a CSR
    tensor can be neither deep-copied nor pickled, copies and pickles rebuild it from the buffers.
    For inference only: nothing here is a trainable parameter.

    Build one with :meth:`from_dense`.
    """
    def __init__(self, crow_indices, col_indices, values, shape: tuple[int, int], bias=None):
        super().__init__()
        self.in_features, self.out_features = int(shape[1]), int(shape[0])
        self.register_buffer("crow_indices", crow_indices)
        self.register_buffer("col_indices", col_indices)
        self.register_buffer("values", values)
        self.register_buffer("bias", bias)
        self._wrap()

    def _wrap(self):
        """(Re)make :attr:`weight` over the current buffers (no copy; invariants checked in from_dense)."""
        self.weight = torch.sparse_csr_tensor(self.crow_indices, self.col_indices, self.values,
                                              (self.out_features, self.in_features), check_invariants=False)

    def _apply(self, fn, recurse=True):  # .to(), .double(), ...: new buffers, so a new wrapper
        super()._apply(fn, recurse)
        self._wrap()
        return self

    def __getstate__(self):  # copy.deepcopy and pickle: leave the CSR wrapper out ...
        state = self.__dict__.copy()
        state.pop("weight", None)
        return state

    def __setstate__(self, state):  # ... and make it again from the copied buffers
        super().__setstate__(state)
        self._wrap()

    @classmethod
    def from_dense(cls, linear: nn.Linear) -> "SparseLinear":
        """The same layer with its zero weights dropped; for a pruned layer, the effective
        (masked) ``weight`` is used."""
        if not isinstance(linear, nn.Linear):
            raise ValueError(f"linear must be an nn.Linear, got {type(linear).__name__}")
        with warnings.catch_warnings():  # PyTorch flags its CSR support as beta, once per process
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            csr = linear.weight.detach().to_sparse_csr()
        bias = None if linear.bias is None else linear.bias.detach().clone()
        return cls(csr.crow_indices().clone(), csr.col_indices().clone(), csr.values().clone(),
                   tuple(linear.weight.shape), bias)

    @property
    def nnz(self) -> int:
        """Stored (non-zero) weights."""
        return self.values.numel()

    def forward(self, x):
        if x.shape[-1] != self.in_features:
            raise ValueError(f"x must have {self.in_features} features in its last dimension, "
                             f"got shape {tuple(x.shape)}")
        rows = x if x.ndim == 2 else x.reshape(-1, self.in_features)
        if self.bias is None:
            out = (self.weight @ rows.T).T
        else:
            out = torch.addmm(self.bias[:, None], self.weight, rows.T).T
        return out if x.ndim == 2 else out.reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        density = self.nnz / (self.in_features * self.out_features)
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"nnz={self.nnz} ({density:.1%}), bias={self.bias is not None}")


def sparsify(net):
    """A deep copy of ``net`` with every ``nn.Linear`` (at any depth) replaced by a :class:`SparseLinear`.

    Pruned layers (``torch.nn.utils.prune`` reparametrisations) contribute their effective weight
    ``weight_orig * weight_mask``; the original ``net`` is left as it is.
    """
    if not isinstance(net, nn.Module):
        raise ValueError(f"net must be an nn.Module, got {type(net).__name__}")
    if isinstance(net, nn.Linear):
        return SparseLinear.from_dense(net)
    # A pruned module's `weight` (weight_orig * weight_mask) is not a leaf tensor, which deepcopy
    # refuses; it is recomputed before every forward pass, so the copy may start from a detached clone.
    memo = {}
    for module in net.modules():
        for name, value in vars(module).items():
            if isinstance(value, torch.Tensor) and not value.is_leaf:
                memo[id(value)] = value.detach().clone()
    out = copy.deepcopy(net, memo)
    for parent in list(out.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear):
                setattr(parent, child_name, SparseLinear.from_dense(child))
    return out


def sparse_vs_dense(out_features: int, in_features: int, sparsities, batch_sizes, seed: int = 0,
                    runs: int = 7, min_time: float = 0.02) -> list[dict]:
    r"""Time a dense linear layer against :class:`SparseLinear` on the same magnitude-pruned weight.

    For each sparsity a seeded ``nn.Linear(in_features, out_features)`` (PyTorch's default
    initialisation) is pruned by magnitude (:func:`lib.pruning.magnitude_prune`), and for each batch
    size ``torch.nn.functional.linear`` on the dense matrix is timed against the CSR layer on a seeded
    random batch with :func:`time_call` (``runs`` rounds of at least ``min_time`` seconds; medians),
    under ``torch.inference_mode``, in whatever thread count is in force (``torch.set_num_threads``;
    reported). Nothing is asserted about the times: they depend on the machine, the thread count and
    the kernels PyTorch was built with.

    Storage of the weight (bias excluded): dense :math:`4n` bytes (float32); CSR
    :math:`4\,\mathrm{nnz}` for the values, :math:`8\,\mathrm{nnz}` for the column indices and
    :math:`8(\text{rows} + 1)` for the row pointers (PyTorch's indices are int64), read from the tensors.
    CSR is smaller than dense only below a density of about one third.

    Returns
    -------
    list of dict
        Per (sparsity, batch): ``sparsity`` (requested), ``nnz``, ``batch``, ``dense_ms``, ``sparse_ms``
        (medians; ``sparse_ms`` times the whole ``SparseLinear`` call), ``speedup`` (dense over sparse time),
        ``sparse_kernel_ms`` (the CSR product alone, ``torch.addmm`` on a ready-made CSR tensor: the gap to
        ``sparse_ms`` is Python overhead, microseconds that matter at batch 1), ``dense_bytes``,
        ``csr_bytes``, ``threads`` and ``max_abs_diff`` (between the two outputs).
    """
    out_features = check_int("out_features", out_features, 1)
    in_features = check_int("in_features", in_features, 1)
    sparsities, batch_sizes = list(sparsities), list(batch_sizes)
    if not sparsities or not batch_sizes:
        raise ValueError("sparsities and batch_sizes must each list at least one value")
    for i, s in enumerate(sparsities):
        check_real(f"sparsities[{i}]", s, 0.0, 1.0)
    for i, b in enumerate(batch_sizes):
        check_int(f"batch_sizes[{i}]", b, 1)
    check_int("seed", seed, 0, 2**32 - 1)
    runs = check_int("runs", runs, 1)
    min_time = check_real("min_time", min_time, 0.0, 60.0)

    rows = []
    for i, s in enumerate(sparsities):
        with torch.random.fork_rng():
            torch.manual_seed(seed + i)
            dense = nn.Linear(in_features, out_features)
        magnitude_prune(dense, "weight", amount=float(s))
        weight, bias = dense.weight.detach().contiguous(), dense.bias.detach()
        layer = SparseLinear.from_dense(dense)
        csr_bytes = sum(t.numel() * t.element_size() for t in (layer.values, layer.col_indices, layer.crow_indices))
        for b in batch_sizes:
            x = torch.randn(b, in_features, generator=torch.Generator().manual_seed(seed + 1000 + b))
            with torch.inference_mode():
                diff = (layer(x) - nn.functional.linear(x, weight, bias)).abs().max().item()
                t_dense = time_call(nn.functional.linear, x, weight, bias, repeat=runs, min_time=min_time)
                t_sparse = time_call(layer, x, repeat=runs, min_time=min_time)
                csr, bias_column = layer.weight, bias[:, None]
                t_kernel = time_call(lambda: torch.addmm(bias_column, csr, x.T), repeat=runs, min_time=min_time)
            rows.append({"sparsity": float(s), "nnz": layer.nnz, "batch": b,
                         "dense_ms": t_dense["median"] * 1e3, "sparse_ms": t_sparse["median"] * 1e3,
                         "speedup": t_dense["median"] / t_sparse["median"],
                         "sparse_kernel_ms": t_kernel["median"] * 1e3,
                         "dense_bytes": weight.numel() * weight.element_size(), "csr_bytes": csr_bytes,
                         "threads": torch.get_num_threads(), "max_abs_diff": diff})
    return rows


def activation_bytes(net, input_shape: tuple[int, ...], batch: int = 1, bytes_per_value: int = 4) -> dict[str, int]:
    """Memory taken by the outputs of every leaf module of ``net`` in one inference pass.

    Returns ``total`` (every layer's output summed: what a framework keeps if nothing is freed,
    as in training), ``peak`` (the largest single output) and ``input``, in bytes for
    ``batch`` examples of ``input_shape`` at ``bytes_per_value`` (4 for float32).

    >>> from lib.workbench.models import mlp
    >>> activation_bytes(mlp([4, 3, 2]), (4,), batch=2)
    {'total': 64, 'peak': 24, 'input': 32}
    """
    batch = check_int("batch", batch, 1)
    bytes_per_value = check_int("bytes_per_value", bytes_per_value, 1, 16)
    sizes: list[int] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: sizes.append(out.numel()))
             for m in net.modules() if not list(m.children())]
    try:
        was_training = net.training
        net.eval()
        with torch.no_grad():
            net(torch.zeros(batch, *input_shape))
        net.train(was_training)
    finally:
        for h in hooks:
            h.remove()
    n_in = batch * int(torch.tensor(input_shape).prod())
    return {"total": sum(sizes) * bytes_per_value, "peak": max(sizes, default=0) * bytes_per_value,
            "input": n_in * bytes_per_value}
