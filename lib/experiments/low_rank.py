r"""The low-rank chapter's experiments: SVD, CP, Tucker, tensor train and block terms on real layers.

Every decomposition comes from :mod:`lib.lowrank` / :mod:`lib.tensors`; this module only applies
them to the book's trained networks, fine-tunes with :func:`lib.workbench.train.fit` and keeps the
results in the one cache (:mod:`lib.core.cache`). Latencies are never cached: the ``*_latency``
functions measure afresh.

- **SVD of LeNet-300-100** (the book's baseline, :func:`lib.workbench.train.baseline`): one energy
  fraction sets every layer's rank (:func:`lib.lowrank.energy_rank`); each candidate is fine-tuned
  and the one kept is chosen on the *validation* split (:func:`svd_search`); the test set is read
  once, for the dense network and the chosen one.
- **CP and Tucker on the BatchNorm VGG** (the dense network Network Slimming starts from,
  :data:`VGG_CONFIG`, so its training is shared): conv2 and conv3 replaced by Lebedev et al.'s four
  layers or Kim et al.'s three, then a short fine-tuning (:func:`decompose_vgg`).
- **Tensor train** (:func:`tt_lenet`): LeNet-300-100's 784x300 first layer as a TT-matrix
  (:class:`lib.lowrank.TTLinear`), 784 = 4·7·4·7 and 300 = 5·6·2·5.
- **One layer, five decompositions** at equal parameter count (:func:`five_way`).

References
----------
.. [1] V. Lebedev, Y. Ganin, M. Rakhuba, I. Oseledets, V. Lempitsky, "Speeding-up Convolutional
   Neural Networks Using Fine-tuned CP-Decomposition", ICLR 2015, arXiv:1412.6553.
.. [2] Y.-D. Kim, E. Park, S. Yoo, T. Choi, L. Yang, D. Shin, "Compression of Deep Convolutional
   Neural Networks for Fast and Low Power Mobile Applications", ICLR 2016, arXiv:1511.06530.
.. [3] A. Novikov, D. Podoprikhin, A. Osokin, D. Vetrov, "Tensorizing Neural Networks",
   NeurIPS 2015, arXiv:1509.06569.
.. [4] I. V. Oseledets, "Tensor-Train Decomposition", SIAM J. Sci. Comput. 33(5), 2011.
"""

from __future__ import annotations

import copy
import functools
import math

import torch
from torch import nn

from lib import lowrank
from lib.core import cache, config
from lib.core.checks import check_choice, check_int, check_real
from lib.workbench.data import Split
from lib.workbench.measure import count_macs, count_params, latency
from lib.workbench.train import TrainConfig, baseline, error_rate, fit, load_data, train_cached

__all__ = ["PAPERS", "FC_LAYERS", "FACTORS", "TOLERANCE", "RANK_FRACTIONS", "VGG_CONFIG", "VGG_CONVS",
           "lenet", "vgg", "vgg_dense_errors", "spectra", "svd_net", "svd_rank_point", "factor_ranks", "svd_search", "svd_nets", "svd_latency",
           "cp_degenerate", "cp_curves", "tucker_point", "decompose_vgg", "vgg_nets", "vgg_latency",
           "conv_latency", "linear_speed", "TT_IN", "TT_OUT", "TT_RANKS", "tt_bound", "tt_lenet", "BUDGETS",
           "DECOMPOSITIONS", "five_way", "svd_factor_point", "tt_point",
           "CP_STARTS", "cp_point", "tucker_widget_point", "five_way_point"]

#: The papers' own figures, as printed, and where they were checked.
PAPERS = {
    "lebedev2015": {"speedup": 8.5, "accuracy_before": 91, "accuracy_after": 90, "classes": 36,
                    "alexnet_conv2_speedup": 4,
                    "source": "https://pith.science/p/1412.6553 (the arXiv abstract)"},
    "kim2016": {"alexnet_smaller": 5.46, "alexnet_faster": 2.72, "phone": "Samsung Galaxy S6",
                "source": None},  # not verified: the abstract gives no numbers, the paper's text was not reachable
    "novikov2015": {"fc_compression": 200_000, "network_compression": 7,
                    "source": "https://ar5iv.labs.arxiv.org/html/1509.06569 (the abstract)"},
}

#: LeNet-300-100's three Linear layers, by their index in the Sequential, and the book's names.
FC_LAYERS = {"fc1": 0, "fc2": 2, "fc3": 4}

#: The compression factors the validation search tries: fc1 and fc2 each get the rank that shrinks them
#: about this much, :math:`r = \lfloor mn / (c(m + n)) \rfloor`; fc3 (1,010 parameters) stays dense.
FACTORS = (4, 6, 9, 12)

#: How much validation error a factorised LeNet may add over the dense one to be chosen: 0.1 point.
TOLERANCE = 0.001

#: Ranks of the rank slider, as fractions of the full rank min(m, n).
RANK_FRACTIONS = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0)

#: The BatchNorm VGG's dense training, exactly Network Slimming's baseline
#: (:func:`lib.experiments.slimming.slimming_config`), so the trained network is shared.
VGG_CONFIG = {"model": "vgg_small", "num_epochs": 3, "lr": 0.05, "seed": 0}

#: The VGG convolutions decomposed (indices in the Sequential): conv2 (64x32x3x3) and conv3
#: (128x64x3x3). conv1 has one input channel and 288 weights: nothing to gain.
VGG_CONVS = {"conv2": 4, "conv3": 8}

#: Validation images used for the VGG's validation errors (a CNN pass over 5,000 costs seconds).
VGG_VAL = 2000


# --------------------------------------------------------------------------- the trained networks
@functools.lru_cache(maxsize=None)
def _data(model: str) -> Split:
    """MNIST as ``model`` takes it, read once per process (a widget's grid asks for it at every point)."""
    return load_data(TrainConfig(model=model))


def lenet() -> tuple[nn.Sequential, Split]:
    """The book's trained LeNet-300-100 (:func:`lib.workbench.train.baseline`) in eval mode, and MNIST (flat).
    The data are shared between calls: read, never modify them."""
    net, _ = train_cached(baseline("lenet_300_100"))
    return net.eval(), _data("lenet_300_100")


def vgg() -> tuple[nn.Sequential, Split]:
    """The dense BatchNorm VGG trained as :data:`VGG_CONFIG` (shared with Network Slimming), and MNIST (images).
    The data are shared between calls: read, never modify them."""
    net, _ = train_cached(TrainConfig(**VGG_CONFIG))
    return net.eval(), _data("vgg_small")


def _vgg_dense_errors() -> dict:
    net, data = vgg()
    return {"test": error_rate(net, data.X_test, data.y_test)}


_vgg_dense_errors_memo = cache.memo(_vgg_dense_errors, name="low-rank-vgg-dense")


def vgg_dense_errors() -> dict:
    """The dense VGG's test error (``test``: a CNN pass over 10,000 images), computed once and cached."""
    return _vgg_dense_errors_memo()


def _check_layer(layer: str) -> str:
    return check_choice("layer", layer, list(FC_LAYERS))


def spectra() -> dict[str, list[float]]:
    """Singular values of LeNet-300-100's three trained weight matrices, largest first."""
    net, _ = lenet()
    return {name: torch.linalg.svdvals(net[i].weight.detach()).tolist() for name, i in FC_LAYERS.items()}


# --------------------------------------------------------------------------- 1. SVD of LeNet-300-100
def svd_net(net: nn.Sequential, ranks: dict[str, int]) -> nn.Sequential:
    r"""A copy of LeNet-300-100 with each Linear named in ``ranks`` replaced by :func:`lib.lowrank.svd_linear`.

    A layer whose factors would not be smaller, :math:`r(m + n) \ge mn`, is kept dense.
    """
    out = copy.deepcopy(net)
    for name, rank in ranks.items():
        layer = out[FC_LAYERS[_check_layer(name)]]
        m, n = layer.out_features, layer.in_features
        rank = check_int(f"ranks[{name!r}]", rank, 1, min(m, n))
        if rank * (m + n) < m * n:
            out[FC_LAYERS[name]] = lowrank.svd_linear(layer, rank)
    return out


def _svd_rank_point(layer: str, fraction: float) -> dict:
    net, data = lenet()
    W = net[FC_LAYERS[layer]].weight.detach()
    m, n = W.shape
    rank = max(1, round(fraction * min(m, n)))
    s = torch.linalg.svdvals(W.double())
    two = lowrank.svd_linear(net[FC_LAYERS[layer]], rank)      # the two layers: W is approximated by A @ B
    small = copy.deepcopy(net)
    small[FC_LAYERS[layer]] = two
    W_r = (two[1].weight @ two[0].weight).detach().double()
    return {"rank": rank, "params": lowrank.svd_params(m, n, rank), "dense_params": m * n,
            "ratio": lowrank.svd_ratio(m, n, rank),
            "rel_error": float(torch.linalg.norm(W.double() - W_r) / torch.linalg.norm(W.double())),
            "eckart_young": float(s[rank:].square().sum().sqrt() / s.square().sum().sqrt()),
            "val_error": error_rate(small, data.X_val, data.y_val), "spectrum": s.tolist()}


_svd_rank_point_memo = cache.memo(_svd_rank_point, name="low-rank-svd-point")


def svd_rank_point(layer: str = "fc1", fraction: float = 0.1) -> dict:
    r"""One layer of LeNet-300-100 at rank :math:`r = \max(1, \mathrm{round}(f \min(m, n)))`, nothing fine-tuned.

    Returns ``rank``, ``params`` (:math:`r(m+n)`), ``dense_params`` (:math:`mn`), ``ratio``
    (:math:`mn / r(m+n)`), ``rel_error`` (measured :math:`\lVert W - AB\rVert_F / \lVert W\rVert_F`),
    ``eckart_young`` (the same from the discarded singular values: equal up to float32 rounding),
    ``val_error`` (the network with only this layer factorised, on the 5,000 validation images) and
    ``spectrum`` (the layer's singular values).
    """
    _check_layer(layer)
    fraction = check_real("fraction", fraction, 0.0, 1.0, lo_open=True)
    return _svd_rank_point_memo(layer=layer, fraction=fraction)


def _finetune(net: nn.Module, data: Split, cfg: TrainConfig) -> None:
    """Fine-tune in place with the one loop; no validation pass inside (the callers measure what they need)."""
    fit(net, data, cfg, desc="fine-tuning", evaluate=lambda _net: {})


def factor_ranks(factor: float) -> dict[str, int]:
    r"""The ranks of :func:`svd_search`'s candidate ``factor`` :math:`c`: :math:`r = \max(1, \lfloor mn / (c(m+n)) \rfloor)`
    for fc1 (784 -> 300) and fc2 (300 -> 100).

    >>> factor_ranks(6)
    {'fc1': 36, 'fc2': 12}
    """
    factor = check_real("factor", factor, 1.0, 1000.0, lo_open=True)
    return {"fc1": max(1, int(300 * 784 / (factor * 1084))), "fc2": max(1, int(100 * 300 / (factor * 400)))}


def _pinned(fn):
    """Run ``fn`` on the book's thread count (:func:`lib.core.config.default_threads`), whatever the caller's:
    a fine-tuning's floating-point sums, and so its result, depend on the number of threads."""
    @functools.wraps(fn)
    def run(**kwargs):
        with config.threads(config.default_threads()):
            return fn(**kwargs)
    return run


def _svd_search(factors: list, finetune_epochs: int, lr: float, seed: int) -> dict:
    net, data = lenet()
    dense_val = error_rate(net, data.X_val, data.y_val)
    cfg = TrainConfig(num_epochs=finetune_epochs, lr=lr, seed=seed)
    search, states = [], []
    for factor in factors:
        ranks = factor_ranks(factor)
        small = svd_net(net, ranks)
        before = error_rate(small, data.X_val, data.y_val)
        if finetune_epochs:
            _finetune(small, data, cfg)
        params = count_params(small)
        search.append({"factor": factor, "ranks": ranks, "params": params, "compression": count_params(net) / params,
                       "val_before": before, "val_after": error_rate(small, data.X_val, data.y_val)})
        states.append(small.state_dict())
    passing = [i for i, p in enumerate(search) if p["val_after"] <= dense_val + TOLERANCE]
    chosen = (min(passing, key=lambda i: search[i]["params"]) if passing
              else min(range(len(search)), key=lambda i: search[i]["val_after"]))
    best = svd_net(net, search[chosen]["ranks"])
    before_test = error_rate(best, data.X_test, data.y_test)
    best.load_state_dict(states[chosen])
    steps_per_epoch = math.ceil(len(data.y_train) / cfg.batch_size)
    result = {"dense_val": dense_val, "dense_params": count_params(net), "search": search, "chosen": chosen,
              "passed": bool(passing), "factor": search[chosen]["factor"], "ranks": search[chosen]["ranks"],
              "params": search[chosen]["params"], "compression": search[chosen]["compression"],
              "val_after": search[chosen]["val_after"],
              "dense_test": error_rate(net, data.X_test, data.y_test), "test_before": before_test,
              "test_after": error_rate(best, data.X_test, data.y_test),
              "finetune_steps": finetune_epochs * steps_per_epoch,
              "baseline_steps": baseline("lenet_300_100").num_epochs * steps_per_epoch}
    return {"result": result, "state": states[chosen]}


_svd_search_memo = cache.memo(_pinned(_svd_search), name="low-rank-svd-search", store="torch")


def _svd_kwargs(factors, finetune_epochs, lr, seed) -> dict:
    factors = [check_real(f"factors[{i}]", c, 1.0, 1000.0, lo_open=True) for i, c in enumerate(factors)]
    if not factors:
        raise ValueError("factors must list at least one compression factor, got []")
    return {"factors": factors, "finetune_epochs": check_int("finetune_epochs", finetune_epochs, 0, 100),
            "lr": check_real("lr", lr, 0.0, 1.0, lo_open=True), "seed": check_int("seed", seed, 0, 2**32 - 1)}


def svd_search(factors=FACTORS, finetune_epochs: int = 3, lr: float = 0.03, seed: int = 0) -> dict:
    r"""Factorise LeNet-300-100 by truncated SVD, fine-tune, and choose the compression on validation.

    For each factor :math:`c` of ``factors``, fc1 and fc2 are replaced by :func:`lib.lowrank.svd_linear` at
    the ranks of :func:`factor_ranks` (fc3 stays dense), the network is fine-tuned ``finetune_epochs`` on
    the 55,000 training images (SGD, momentum 0.9, cosine from ``lr``) and its validation error recorded.
    The candidate kept has the fewest parameters among those whose fine-tuned validation error is at most
    :data:`TOLERANCE` above the dense network's (else the lowest validation error). The test set is then
    read once for the dense network and once for the chosen one (before and after fine-tuning).

    Returns
    -------
    dict
        ``search`` (per factor: ``factor``, ``ranks``, ``params``, ``compression``, ``val_before``,
        ``val_after``), ``chosen`` (its index), ``passed`` (whether any candidate met the tolerance),
        ``factor``, ``ranks``, ``params``, ``compression`` (dense over factorised parameters, biases
        included), ``dense_params``, ``dense_val``, ``val_after``; test errors ``dense_test``,
        ``test_before``, ``test_after``; ``finetune_steps`` against ``baseline_steps`` (the dense training's).
    """
    return _svd_search_memo(**_svd_kwargs(factors, finetune_epochs, lr, seed))["result"]


def svd_nets(factors=FACTORS, finetune_epochs: int = 3, lr: float = 0.03, seed: int = 0):
    """The dense LeNet-300-100 and the factorised, fine-tuned one :func:`svd_search` chose (same arguments), in eval mode."""
    out = _svd_search_memo(**_svd_kwargs(factors, finetune_epochs, lr, seed))
    net, _ = lenet()
    small = svd_net(net, out["result"]["ranks"])
    small.load_state_dict(out["state"])
    return net, small.eval()


def _timed(nets: dict, make_x, batches, runs1: int, runs_big: int) -> dict:
    out = {}
    for b in batches:
        x = make_x(b)
        out[b] = {k: latency(n, x, warmup=3, runs=runs1 if b == 1 else runs_big)["median_ms"] for k, n in nets.items()}
    return out


def svd_latency(batches=(1, 256), runs: int = 50) -> dict:
    """Median latency (ms) of the dense and the chosen factorised LeNet-300-100 per batch size, measured now
    (never cached), in the thread count in force: ``{batch: {"dense": ms, "svd": ms}}``."""
    batches = [check_int(f"batches[{i}]", b, 1, 4096) for i, b in enumerate(batches)]
    runs = check_int("runs", runs, 3)
    dense, small = svd_nets()
    _, data = lenet()
    return _timed({"dense": dense, "svd": small}, lambda b: data.X_test[:b], batches, runs, max(3, runs // 5))


# --------------------------------------------------------------------------- 2. CP
def _cp_degenerate(n_iters: list, size: int, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    a, b = (torch.linalg.qr(torch.randn(size, 2, generator=g, dtype=torch.float64))[0]).T
    outer = lambda x, y, z: x[:, None, None] * y[None, :, None] * z[None, None, :]
    X = outer(a, a, b) + outer(a, b, a) + outer(b, a, a)   # rank 3, but a limit of rank-2 tensors
    rows, longest = [], []
    for n_iter in n_iters:   # the same seeded start each time: the first n_iter sweeps of one run
        (weights, _), errors = lowrank.cp_als(X, 2, n_iter=n_iter, seed=seed, tol=0.0, init="random", return_errors=True)
        rows.append({"n_iter": n_iter, "error": errors[-1], "max_weight": float(weights.abs().max())})
        longest = errors if len(errors) > len(longest) else longest
    return {"rows": rows, "errors": longest}


_cp_degenerate_memo = cache.memo(_cp_degenerate, name="low-rank-cp-degenerate")


def cp_degenerate(n_iters=(1, 3, 10, 30, 100, 300, 1000), size: int = 3, seed: int = 0) -> dict:
    r"""CP-ALS at rank 2 on :math:`a \circ a \circ b + a \circ b \circ a + b \circ a \circ a`
    (:math:`a \perp b` unit vectors of length ``size``), a rank-3 tensor that rank-2 tensors approach
    arbitrarily closely but never reach, so no best rank-2 approximation exists (de Silva & Lim 2008).

    Returns ``errors`` (relative error after every sweep of the longest run) and ``rows``: per
    ``n_iter``, the error and the largest weight :math:`\max_r |\lambda_r|` after that many sweeps,
    which keep growing as the two terms cancel each other ever more finely.
    """
    n_iters = [check_int(f"n_iters[{i}]", n, 1, 100_000) for i, n in enumerate(n_iters)]
    if not n_iters:
        raise ValueError("n_iters must list at least one number of sweeps, got []")
    return _cp_degenerate_memo(n_iters=n_iters, size=check_int("size", size, 2, 50), seed=check_int("seed", seed, 0))


def _cp_curves(layer: str, rank: int, init: str, seed: int, n_iter: int) -> dict:
    net, _ = vgg()
    conv = net[VGG_CONVS[layer]]
    K = conv.weight.detach().double()
    (weights, factors), errors = lowrank.cp_als(K, rank, n_iter=n_iter, seed=seed, init=init, tol=0.0,
                                                return_errors=True)
    T, S, kh, kw = K.shape
    return {"errors": errors, "sweeps": list(range(1, len(errors) + 1)), "error": errors[-1],
            "params": rank * (T + S + kh + kw), "dense_params": K.numel(),
            "mac_ratio": T * S * kh * kw / (rank * (S + kh + kw + T)),
            "max_weight": float(weights.abs().max()), "min_weight": float(weights.abs().min())}


_cp_curves_memo = cache.memo(_cp_curves, name="low-rank-cp-curves")


def cp_curves(layer: str = "conv2", rank: int = 16, init: str = "svd", seed: int = 0, n_iter: int = 60) -> dict:
    r"""CP-ALS on a VGG convolution's kernel: the relative error after each sweep.

    Returns ``errors`` and ``sweeps``, the final ``error``, ``params`` (:math:`R(T + S + k_h + k_w)`)
    against ``dense_params``, ``mac_ratio`` (:math:`TSk_hk_w / R(S + k_h + k_w + T)`: the four-layer
    pipeline's saving per output position), and the largest and smallest :math:`|\lambda_r|`.
    """
    check_choice("layer", layer, list(VGG_CONVS))
    check_choice("init", init, ("svd", "random"))
    return _cp_curves_memo(layer=layer, rank=check_int("rank", rank, 1, 4096), init=init,
                           seed=check_int("seed", seed, 0), n_iter=check_int("n_iter", n_iter, 1, 10_000))


# --------------------------------------------------------------------------- 3. Tucker (and CP) on the VGG
def _vgg_ranks(net, method: str, energy: float, cp_fraction: float) -> dict:
    ranks = {}
    for name, i in VGG_CONVS.items():
        w = net[i].weight.detach()
        if method == "cp":
            ranks[name] = max(1, round(cp_fraction * w.shape[0]))
        else:
            ranks[name] = list(lowrank.tucker2_ranks(w, method, energy))
    return ranks


def _decomposed(net, method: str, ranks: dict, n_iter: int = 100) -> nn.Sequential:
    out = copy.deepcopy(net)
    for name, i in VGG_CONVS.items():
        if method == "cp":
            out[i] = lowrank.cp_conv2d(net[i], ranks[name], n_iter=n_iter)
        else:
            out[i] = lowrank.tucker_conv2d(net[i], tuple(ranks[name]), n_iter=min(n_iter, 50))
    return out


def _tucker_point(energy: float) -> dict:
    net, data = vgg()
    ranks = _vgg_ranks(net, "energy", energy, 0.0)
    small = _decomposed(net, "tucker", ranks, n_iter=0)
    errors = {}
    for name, i in VGG_CONVS.items():
        K = net[i].weight.detach().double()
        core, factors = lowrank.tucker_hosvd(K, (ranks[name][1], ranks[name][0]), modes=(0, 1))
        errors[name] = float(torch.linalg.norm(K - lowrank.tucker_to_tensor((core, factors))) / torch.linalg.norm(K))
    return {"ranks": ranks, "macs": count_macs(small, (1, 28, 28))["total"], "params": count_params(small),
            "rel_error": errors, "val_error": error_rate(small, data.X_val[:1000], data.y_val[:1000])}


_tucker_point_memo = cache.memo(_tucker_point, name="low-rank-tucker-point")


def tucker_point(energy: float = 0.9) -> dict:
    """The VGG with conv2 and conv3 Tucker-2-decomposed (HOSVD, no fine-tuning) at the ranks that keep a fraction
    ``energy`` of each channel unfolding's squared singular values: ``ranks`` (``[R3, R4]`` per layer), ``macs``
    and ``params`` of the network, ``rel_error`` per kernel, ``val_error`` on the first 1,000 validation images."""
    return _tucker_point_memo(energy=check_real("energy", energy, 0.0, 1.0, lo_open=True))


def _decompose_vgg(method: str, energy: float, cp_fraction: float, steps: int, batch_size: int, lr: float,
                   seed: int) -> dict:
    net, data = vgg()
    ranks = _vgg_ranks(net, "cp" if method == "cp" else method.split("-")[1], energy, cp_fraction)
    small = _decomposed(net, "cp" if method == "cp" else "tucker", ranks)
    Xv, yv = data.X_val[:VGG_VAL], data.y_val[:VGG_VAL]
    before = error_rate(small, Xv, yv)
    if steps:
        _finetune(small, data, TrainConfig(model="vgg_small", num_steps=steps, batch_size=batch_size, lr=lr, seed=seed))
    result = {"method": method, "ranks": ranks, "val_before": before, "val_after": error_rate(small, Xv, yv),
              "test_after": error_rate(small, data.X_test, data.y_test),
              "macs": count_macs(small, (1, 28, 28))["total"], "dense_macs": count_macs(net, (1, 28, 28))["total"],
              "params": count_params(small), "dense_params": count_params(net),
              "finetune_images": steps * batch_size, "baseline_images": VGG_CONFIG["num_epochs"] * len(data.y_train)}
    result["mac_ratio"] = result["dense_macs"] / result["macs"]
    result["param_ratio"] = result["dense_params"] / result["params"]
    return {"result": result, "state": small.state_dict()}


_decompose_vgg_memo = cache.memo(_pinned(_decompose_vgg), name="low-rank-vgg", store="torch")

_METHODS = ("cp", "tucker-vbmf", "tucker-energy")


def _vgg_kwargs(method, energy, cp_fraction, steps, batch_size, lr, seed) -> dict:
    return {"method": check_choice("method", method, _METHODS),
            "energy": check_real("energy", energy, 0.0, 1.0, lo_open=True),
            "cp_fraction": check_real("cp_fraction", cp_fraction, 0.0, 1.0, lo_open=True),
            "steps": check_int("steps", steps, 0, 100_000), "batch_size": check_int("batch_size", batch_size, 1, 4096),
            "lr": check_real("lr", lr, 0.0, 1.0, lo_open=True), "seed": check_int("seed", seed, 0, 2**32 - 1)}


def decompose_vgg(method: str = "tucker-vbmf", energy: float = 0.9, cp_fraction: float = 0.5, steps: int = 150,
                  batch_size: int = 64, lr: float = 0.01, seed: int = 0) -> dict:
    r"""The BatchNorm VGG with conv2 and conv3 decomposed, then fine-tuned briefly.

    ``method``: ``"cp"`` (Lebedev et al.'s four layers, :func:`lib.lowrank.cp_conv2d`, rank
    ``cp_fraction`` times the output channels, ALS with 100 sweeps), ``"tucker-vbmf"`` (Kim et al.'s three
    layers, :func:`lib.lowrank.tucker_conv2d`, ranks by EVBMF as in the paper) or ``"tucker-energy"``
    (ranks keeping a fraction ``energy`` of each unfolding's squared singular values). Fine-tuning:
    ``steps`` mini-batches of ``batch_size`` training images (SGD, momentum 0.9, cosine from ``lr``).

    Returns
    -------
    dict
        ``ranks``; validation errors (first :data:`VGG_VAL` images) ``val_before`` and ``val_after``
        fine-tuning; ``test_after`` (the test set, read once); ``macs``/``dense_macs``,
        ``params``/``dense_params`` and their ratios; ``finetune_images`` against ``baseline_images``
        (the images the dense training saw).
    """
    return _decompose_vgg_memo(**_vgg_kwargs(method, energy, cp_fraction, steps, batch_size, lr, seed))["result"]


def vgg_nets(method: str = "tucker-vbmf", energy: float = 0.9, cp_fraction: float = 0.5, steps: int = 150,
             batch_size: int = 64, lr: float = 0.01, seed: int = 0) -> tuple[nn.Sequential, nn.Sequential]:
    """The dense VGG and the decomposed, fine-tuned one of :func:`decompose_vgg` (same arguments), in eval mode."""
    kwargs = _vgg_kwargs(method, energy, cp_fraction, steps, batch_size, lr, seed)
    out = _decompose_vgg_memo(**kwargs)
    net, _ = vgg()
    small = _decomposed(net, "cp" if method == "cp" else "tucker", out["result"]["ranks"], n_iter=1)
    small.load_state_dict(out["state"])
    return net, small.eval()


def vgg_latency(nets: dict, batches=(1, 256), runs: int = 40) -> dict:
    """Median latency (ms) of each VGG in ``nets`` (name -> module) on MNIST test images, per batch size,
    measured now (never cached): ``{batch: {name: ms}}``. Batch 1 takes ``runs`` runs, larger batches a fifth."""
    if not nets or not all(isinstance(n, nn.Module) for n in nets.values()):
        raise ValueError(f"nets must map names to torch.nn.Module, got {nets!r}")
    batches = [check_int(f"batches[{i}]", b, 1, 4096) for i, b in enumerate(batches)]
    runs = check_int("runs", runs, 3)
    _, data = vgg()
    return _timed(nets, lambda b: data.X_test[:b], batches, runs, max(3, runs // 8))


def conv_latency(layer: str = "conv3", batches=(1, 256), runs: int = 40) -> dict:
    """One VGG convolution alone, dense against its CP and Tucker replacements from :func:`vgg_nets`, on random
    inputs of its own shape: ``{batch: {"dense", "cp", "tucker": ms}}``, measured now."""
    check_choice("layer", layer, list(VGG_CONVS))
    i = VGG_CONVS[layer]
    dense, cp = vgg_nets("cp")
    _, tucker = vgg_nets("tucker-vbmf")
    side = {4: 14, 8: 7}[i]
    c_in = dense[i].in_channels
    g = torch.Generator().manual_seed(0)
    return _timed({"dense": dense[i], "cp": cp[i], "tucker": tucker[i]},
                  lambda b: torch.randn(b, c_in, side, side, generator=g), batches, runs, max(3, runs // 8))


# --------------------------------------------------------------------------- 6. where it still wins
def linear_speed(n: int = 4096, ranks=(64, 256, 1024), batches=(1, 64), runs: int = 10) -> list[dict]:
    r"""A square ``n x n`` Linear against its rank-:math:`r` factorisation (two Linears, :math:`2nr` weights),
    timed now on random weights and inputs (the speed does not depend on the values).

    Returns one row per (rank, batch): ``rank``, ``batch``, ``dense_ms``, ``lowrank_ms`` (medians),
    ``speedup`` and ``param_ratio`` (:math:`n / 2r`, also the MAC ratio).
    """
    n = check_int("n", n, 2, 16384)
    ranks = [check_int(f"ranks[{i}]", r, 1, n) for i, r in enumerate(ranks)]
    batches = [check_int(f"batches[{i}]", b, 1, 4096) for i, b in enumerate(batches)]
    runs = check_int("runs", runs, 3)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        dense = nn.Linear(n, n)
        nets = {r: nn.Sequential(nn.Linear(n, r, bias=False), nn.Linear(r, n)) for r in ranks}
    rows = []
    for b in batches:
        x = torch.randn(b, n, generator=torch.Generator().manual_seed(b))
        t_dense = latency(dense, x, warmup=2, runs=runs)["median_ms"]
        for r, small in nets.items():
            t = latency(small, x, warmup=2, runs=runs)["median_ms"]
            rows.append({"rank": r, "batch": b, "dense_ms": t_dense, "lowrank_ms": t, "speedup": t_dense / t,
                         "param_ratio": n / (2 * r)})
    return rows


# --------------------------------------------------------------------------- 4. tensor train
#: LeNet-300-100's fc1 as a TT-matrix: 784 = 4·7·4·7 inputs, 300 = 5·5·4·3 outputs.
TT_IN, TT_OUT = (4, 7, 4, 7), (5, 5, 4, 3)

#: The TT-ranks tried (every internal rank equal).
TT_RANKS = (4, 8, 16)


def tt_bound(eps: float = 0.3, seed: int = 0) -> dict:
    r"""TT-SVD of LeNet-300-100's fc1 weight (digits paired as :class:`lib.lowrank.TTLinear` pairs them) with
    relative accuracy ``eps``: the ranks it chose, the measured relative error (Oseledets' bound: at most
    ``eps``), the numbers stored and the dense count. Cheap (four SVDs), so not cached."""
    eps = check_real("eps", eps, 0.0, 1.0, hi_open=True)
    net, _ = lenet()
    layer = lowrank.TTLinear.from_linear(net[0], TT_IN, TT_OUT, eps=eps)
    W = net[0].weight.detach()
    return {"eps": eps, "ranks": list(layer.ranks), "params": lowrank.tt_params(TT_IN, TT_OUT, layer.ranks[1:-1]),
            "dense_params": W.numel(),
            "rel_error": float(torch.linalg.norm(layer.dense().detach() - W) / torch.linalg.norm(W))}


def _tt_forward(net: nn.Sequential):
    """``net(x)`` computed with the TT layer's weight built once per call (:meth:`lib.lowrank.TTLinear.dense`),
    then one dense product: the same function and gradients as the core-by-core forward, and several times
    faster to train at these sizes (building the 300 x 784 weight costs far less than a batch's einsums)."""
    tt, rest = net[0], net[1:]
    return lambda x: rest(nn.functional.linear(x, tt.dense(), tt.bias))


def _tt_lenet(ranks: list, finetune_epochs: int, lr: float, seed: int) -> dict:
    net, data = lenet()
    dense_val = error_rate(net, data.X_val, data.y_val)
    W = net[0].weight.detach()
    cfg = TrainConfig(num_epochs=finetune_epochs, lr=lr, seed=seed)
    rows, states = [], []
    for r in ranks:
        small = copy.deepcopy(net)
        small[0] = lowrank.TTLinear.from_linear(net[0], TT_IN, TT_OUT, max_rank=r)
        forward = _tt_forward(small)
        tt = lowrank.tt_params(TT_IN, TT_OUT, small[0].ranks[1:-1])
        row = {"rank": r, "tt_params": tt, "fc1_compression": W.numel() / tt,
               "network_compression": count_params(net) / count_params(small),
               "tt_macs": lowrank.tt_macs(TT_IN, TT_OUT, small[0].ranks[1:-1]),
               "rel_error": float(torch.linalg.norm(small[0].dense().detach() - W) / torch.linalg.norm(W)),
               "val_before": error_rate(small, data.X_val, data.y_val, forward=forward)}
        if finetune_epochs:
            fit(small, data, cfg, desc="fine-tuning", forward=forward, evaluate=lambda _net: {})
        row["val_after"] = error_rate(small, data.X_val, data.y_val, forward=forward)
        rows.append(row)
        states.append(small.state_dict())
    passing = [i for i, p in enumerate(rows) if p["val_after"] <= dense_val + TOLERANCE]
    chosen = (min(passing, key=lambda i: rows[i]["tt_params"]) if passing
              else min(range(len(rows)), key=lambda i: rows[i]["val_after"]))
    best = copy.deepcopy(net)
    best[0] = lowrank.TTLinear.from_linear(net[0], TT_IN, TT_OUT, max_rank=ranks[chosen])
    best.load_state_dict(states[chosen])
    return {"rows": rows, "chosen": chosen, "passed": bool(passing), "dense_val": dense_val,
            "rank": ranks[chosen], "fc1_compression": rows[chosen]["fc1_compression"],
            "network_compression": rows[chosen]["network_compression"],
            "dense_test": error_rate(net, data.X_test, data.y_test),
            "test_after": error_rate(best, data.X_test, data.y_test)}


_tt_lenet_memo = cache.memo(_pinned(_tt_lenet), name="low-rank-tt-lenet")


def tt_lenet(ranks=TT_RANKS, finetune_epochs: int = 2, lr: float = 0.03, seed: int = 0) -> dict:
    r"""LeNet-300-100 with fc1 replaced by a TT-matrix (:class:`lib.lowrank.TTLinear`, :data:`TT_IN` ->
    :data:`TT_OUT`) from TT-SVD of the trained weight at each TT-rank of ``ranks``, then the whole network
    fine-tuned ``finetune_epochs`` (SGD, momentum 0.9, cosine from ``lr``).

    The rank reported is chosen on validation as in :func:`svd_search` (the fewest TT parameters within
    :data:`TOLERANCE` of the dense validation error, else the lowest validation error); the test set is
    read once for it and once for the dense network.

    Returns
    -------
    dict
        ``rows`` (per rank: ``tt_params``, ``fc1_compression`` (784·300 over the TT numbers),
        ``network_compression``, ``tt_macs``, ``rel_error`` of the weight, ``val_before``, ``val_after``),
        ``chosen``, ``passed``, ``rank``, ``fc1_compression``, ``network_compression``, ``dense_val``,
        ``dense_test``, ``test_after``.
    """
    ranks = [check_int(f"ranks[{i}]", r, 1, 784) for i, r in enumerate(ranks)]
    if not ranks:
        raise ValueError("ranks must list at least one TT-rank, got []")
    return _tt_lenet_memo(ranks=ranks, finetune_epochs=check_int("finetune_epochs", finetune_epochs, 0, 100),
                          lr=check_real("lr", lr, 0.0, 1.0, lo_open=True), seed=check_int("seed", seed, 0))


# --------------------------------------------------------------------------- 5. five decompositions, one layer
#: Parameter budgets of the five-way comparison, as fractions of the kernel's 73,728 weights.
BUDGETS = (1 / 32, 1 / 16, 1 / 8, 1 / 4)

#: The five decompositions, in the order the comparison shows them.
DECOMPOSITIONS = ("SVD", "CP", "Tucker-2", "TT", "BTD")


def _largest(count, budget: float, hi: int) -> int:
    """The largest k in [1, hi] with count(k) <= budget (1 if even k = 1 is over)."""
    best = 1
    for k in range(1, hi + 1):
        if count(k) <= budget:
            best = k
    return best


def _five_way(layer: str, budget: float, n_blocks: int, n_iter: int) -> dict:
    net, _ = vgg()
    K = net[VGG_CONVS[layer]].weight.detach().double()
    T, S, kh, kw = K.shape
    B = budget * K.numel()
    rel = lambda X_hat: float(torch.linalg.norm(K - X_hat) / torch.linalg.norm(K))
    out = {}
    # SVD of the (out, in*kh*kw) unfolding
    r = _largest(lambda k: k * (T + S * kh * kw), B, min(T, S * kh * kw))
    A, Bm = lowrank.truncated_svd(K.reshape(T, -1), r)
    out["SVD"] = {"rank": f"{r}", "params": r * (T + S * kh * kw), "rel_error": rel((A @ Bm).reshape(K.shape))}
    # CP
    R = _largest(lambda k: k * (T + S + kh + kw), B, 4 * T)
    cp = lowrank.cp_als(K, R, n_iter=n_iter)
    out["CP"] = {"rank": f"{R}", "params": R * (T + S + kh + kw), "rel_error": rel(lowrank.cp_to_tensor(cp))}
    # Tucker-2, input rank half the output rank (the kernel has half as many inputs)
    tk_count = lambda k: S * k + T * 2 * k + k * 2 * k * kh * kw
    k = _largest(tk_count, B, S)
    core, factors = lowrank.tucker_hooi(K, (2 * k, k), modes=(0, 1), n_iter=10)
    out["Tucker-2"] = {"rank": f"({k}, {2 * k})", "params": tk_count(k),
                       "rel_error": rel(lowrank.tucker_to_tensor((core, factors)))}
    # tensor train over (out, in, kh, kw)
    def tt_count(k):
        return sum(G.numel() for G in _tt_shapes(K.shape, k))
    k = _largest(tt_count, B, T)
    cores = lowrank.tt_svd(K, max_rank=k)
    out["TT"] = {"rank": f"{k}", "params": sum(G.numel() for G in cores), "rel_error": rel(lowrank.tt_to_tensor(cores))}
    # block terms: n_blocks Tucker-2 blocks, input rank half the output rank
    bt_count = lambda k: n_blocks * tk_count(k)
    k = _largest(bt_count, B, S // n_blocks)
    btd = lowrank.btd_als(K, n_blocks, (2 * k, k), modes=(0, 1), n_iter=n_iter)
    out["BTD"] = {"rank": f"{n_blocks} × ({k}, {2 * k})", "params": bt_count(k),
                  "rel_error": rel(lowrank.btd_to_tensor(btd))}
    return {"dense_params": K.numel(), "budget": B, "methods": out,
            "rel_errors": [out[m]["rel_error"] for m in DECOMPOSITIONS],
            "params": [out[m]["params"] for m in DECOMPOSITIONS], "names": list(DECOMPOSITIONS)}


def _tt_shapes(shape, k: int) -> list[torch.Size]:
    """The core shapes TT-SVD with every rank capped at ``k`` gives a full-rank tensor of ``shape``."""
    dims, shapes, r_prev = list(shape), [], 1
    for i in range(len(dims) - 1):
        r = min(k, r_prev * dims[i], math.prod(dims[i + 1:]))
        shapes.append(torch.empty(r_prev, dims[i], r).shape)
        r_prev = r
    shapes.append(torch.empty(r_prev, dims[-1], 1).shape)
    return [torch.empty(s) for s in shapes]


_five_way_memo = cache.memo(_five_way, name="low-rank-five-way")


def five_way(layer: str = "conv3", budget: float = 1 / 8, n_blocks: int = 4, n_iter: int = 30) -> dict:
    r"""SVD, CP, Tucker-2, TT and BTD of one trained VGG kernel at (at most) the same parameter count.

    Each method gets the largest rank whose factors store at most ``budget`` times the kernel's weights:
    SVD of the :math:`T \times S k_h k_w` unfolding (:func:`lib.lowrank.truncated_svd`), CP by ALS
    (:func:`lib.lowrank.cp_als`, ``n_iter`` sweeps), Tucker-2 on the channel modes with input rank half the
    output rank (:func:`lib.lowrank.tucker_hooi`), TT-SVD over the four modes (:func:`lib.lowrank.tt_svd`),
    and ``n_blocks`` Tucker-2 blocks (:func:`lib.lowrank.btd_als`). Reconstruction only: no network is run.

    Returns ``methods`` (per name: ``rank``, ``params``, ``rel_error``), the same errors and parameter counts
    as lists in :data:`DECOMPOSITIONS` order (``rel_errors``, ``params``, ``names``), ``budget`` (in weights)
    and ``dense_params``.
    """
    check_choice("layer", layer, list(VGG_CONVS))
    return _five_way_memo(layer=layer, budget=check_real("budget", budget, 0.0, 1.0, lo_open=True),
                          n_blocks=check_int("n_blocks", n_blocks, 1, 64), n_iter=check_int("n_iter", n_iter, 1, 1000))


# --------------------------------------------------------------------------- widget points (look-ups, no new work)
def svd_factor_point(factor: float) -> dict:
    """One candidate of :func:`svd_search` (defaults) for a slider: its ranks, parameters, compression and
    validation errors before and after fine-tuning, the dense validation error, and fc1's and fc2's singular
    values with the ranks kept (for bars with a mark)."""
    check_choice("factor", factor, list(FACTORS))
    result = svd_search()
    rows = [p for p in result["search"] if p["factor"] == factor]
    s = spectra()
    row = rows[0]
    return {**{k: row[k] for k in ("params", "compression", "val_before", "val_after")},
            "rank_fc1": row["ranks"]["fc1"], "rank_fc2": row["ranks"]["fc2"], "dense_val": result["dense_val"],
            "spectrum_fc1": s["fc1"], "spectrum_fc2": s["fc2"]}


def tt_point(rank: int) -> dict:
    """One TT-rank of :func:`tt_lenet` (defaults) for a slider: its row, plus the dense validation error."""
    check_choice("rank", rank, list(TT_RANKS))
    result = tt_lenet()
    rows = [r for r in result["rows"] if r["rank"] == rank]
    return {**rows[0], "dense_val": result["dense_val"]}


#: The ALS starts the CP slider offers: name -> (init, seed) of :func:`cp_curves`.
CP_STARTS = {"svd": ("svd", 0), "random, seed 0": ("random", 0), "random, seed 1": ("random", 1)}


def cp_point(rank: int, start: str) -> dict:
    """:func:`cp_curves` on conv2 at ``rank`` from one of :data:`CP_STARTS` (a slider's point)."""
    init, seed = CP_STARTS[check_choice("start", start, list(CP_STARTS))]
    return cp_curves("conv2", rank, init, seed)


def tucker_widget_point(energy: float) -> dict:
    """:func:`tucker_point` at ``energy`` beside the EVBMF network of :func:`decompose_vgg` (its MACs and
    validation error before fine-tuning), with the two kernels' relative errors as ``conv2`` and ``conv3``."""
    point = tucker_point(energy)
    vb = decompose_vgg("tucker-vbmf")
    return {**point, **point["rel_error"], "vbmf_macs": vb["macs"], "vbmf_val": vb["val_before"]}


def five_way_point(budget: float) -> dict:
    """:func:`five_way` on conv3 at ``budget`` (a slider's point)."""
    return five_way("conv3", budget)
