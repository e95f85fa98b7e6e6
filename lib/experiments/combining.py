r"""Combining methods: which stack, which fight, and every Part II result on one chart.

Three parts, each reusing the chapters' own code (no method is written again here):

1. **Stacking experiments** on the LeNet-5 workbench (and, where a chapter's network is
   another, on that chapter's network): pruning then weight sharing then Huffman coding
   (:func:`prune_share_code`), what pruning does to a later k-means (:func:`kmeans_after_pruning`),
   distillation then pruning (:func:`distill_then_prune`), low rank then quantisation
   (:func:`lowrank_then_quantize`). Small, seeded, cached in the one cache.
2. **The book's chart**: :data:`SOURCES` maps each chapter to a collector that calls the chapter's
   own memoised experiment functions *with the arguments its notebook uses*, so the cache returns
   the very runs the chapter printed (never a copied number). Every point is a compression ratio
   against that chapter's own dense baseline and an error change in points over that baseline;
   :data:`OFF_CHART` says why a chapter has no point. :data:`EXTRA_SOURCES` is the hook for
   chapters added later (the seismic case study, say): append a collector.
3. **A stretch result** (:func:`stretch`): Deep Compression on LeNet-5 with fewer bits per code,
   the widths chosen on the validation split, every stored bit counted as the Deep Compression
   chapter counts it, against the paper's 39x at no more than 0.1 point more error.

References
----------
.. [1] S. Han, H. Mao, W. J. Dally, "Deep Compression: Compressing Deep Neural Networks with
   Pruning, Trained Quantization and Huffman Coding", ICLR 2016, arXiv:1510.00149.
.. [2] Y. Cheng, D. Wang, P. Zhou, T. Zhang, "A Survey of Model Compression and Acceleration for
   Deep Neural Networks", arXiv:1710.09282 (which families combine).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from lib import nas as nas_topic
from lib import pipeline, structured
from lib.coding import deep_compression_bits
from lib.core import cache
from lib.core.checks import check_choice, check_int, check_real
from lib.experiments import binary as EB
from lib.experiments import compact_convolutions as ECC
from lib.experiments import deep_compression as dc
from lib.experiments import distillation as ED
from lib.experiments import han2015
from lib.experiments import hashing as EH
from lib.experiments import low_rank as LR
from lib.experiments import magnitude_pruning as MP
from lib.experiments import nas as EN
from lib.experiments import pruning_granularity as PG
from lib.experiments import qat as EQ
from lib.experiments import quantization as EQz
from lib.experiments import sharing as ES
from lib.experiments import structured_matrices as SM
from lib.experiments.slimming import network_slimming, slimmed_net, slimming_nets
from lib.pruning import global_magnitude_prune, remove_reparametrization
from lib.quantization import kmeans_quantize
from lib.workbench import measure
from lib.workbench.data import mnist
from lib.workbench.train import error_rate, load_data, train_cached

__all__ = ["FAMILIES", "SOURCES", "EXTRA_SOURCES", "OFF_CHART", "chart_points", "latency_points", "pareto",
           "chart_view", "stacked_ratio", "kmeans_after_pruning", "prune_share_code", "distill_then_prune",
           "compact_then_prune",
           "lowrank_then_quantize", "STRETCH_CANDIDATES", "stretch", "best_index_bits", "bench"]

#: The method families, in the order the chart's legend lists them.
FAMILIES = ("pruning", "quantisation", "sharing and coding", "low rank and structured", "small networks",
            "combinations")

LENET5 = "lenet5"


# =========================================================================== 1. stacking experiments
def stacked_ratio(weights: int, nonzero: int, value_bits: int, index_bits: int, codebook: int) -> float:
    r"""Compression of one pruned and weight-shared layer against its dense float32 copy.

    .. math:: \frac{32\,n}{k\,(b_v + b_i) + 32\,c}

    for :math:`n` weights of which :math:`k` are kept, each stored as a :math:`b_v`-bit code and a
    :math:`b_i`-bit gap (padding entries ignored), and a codebook of :math:`c` float32 values. The
    savings multiply: pruning alone gives :math:`n/k` fewer entries, sharing alone
    :math:`32/b_v` fewer bits per value, and the gaps and codebook are what the product loses.

    >>> round(stacked_ratio(1000, 100, 5, 5, 31), 2)
    16.06
    """
    weights = check_int("weights", weights, 1)
    nonzero = check_int("nonzero", nonzero, 0, weights)
    value_bits = check_int("value_bits", value_bits, 1, 32)
    index_bits = check_int("index_bits", index_bits, 0, 32)
    codebook = check_int("codebook", codebook, 0)
    return 32 * weights / (nonzero * (value_bits + index_bits) + 32 * codebook)


def _share_layers(net: nn.Module, bits: dict, exclude_zeros: bool) -> tuple[nn.Module, dict]:
    """A copy of ``net`` with each named layer's weight replaced by its k-means shared values."""
    out = copy.deepcopy(net)
    mods = dict(out.named_modules())
    stats = {}
    with torch.no_grad():
        for name, b in bits.items():
            w = mods[name].weight.detach()
            mask = (w != 0) if exclude_zeros else None
            values = w[mask] if exclude_zeros else w
            k = min(2 ** b - 1 if exclude_zeros else 2 ** b, int(torch.unique(values).numel()))  # conv1: 150 weights
            codebook, labels = kmeans_quantize(w, k, mask=mask)
            shared = codebook[labels]
            mods[name].weight.copy_(shared)
            stats[name] = {"distinct": int(torch.unique(shared).numel()), "centroids": k,
                           "zeros_kept": float(((shared == 0) & (w == 0)).sum() / max(1, int((w == 0).sum()))),
                           "nonzero": int((shared != 0).sum())}
    return out, stats


def _kmeans_after_pruning(bits: list) -> dict:
    data = load_data(han2015.dense_config(LENET5))
    dense = train_cached(han2015.dense_config(LENET5))[0].eval()
    pruned = remove_reparametrization(han2015.han2015_net(LENET5)).eval()
    layers = han2015.PRUNABLE[LENET5]
    rows = []
    for b in bits:
        row = {"bits": b}
        for key, net, exclude in (("dense", dense, False), ("pruned_with_zeros", pruned, False),
                                  ("pruned_zeros_apart", pruned, True)):
            shared, stats = _share_layers(net, {n: b for n in layers}, exclude)
            row[key] = {"test_error": error_rate(shared, data.X_test, data.y_test),
                        "nonzero": sum(s["nonzero"] for s in stats.values()),
                        "zeros_kept": float(np.mean([s["zeros_kept"] for s in stats.values()])),
                        "fc1_distinct": stats[layers[2]]["distinct"]}
        rows.append(row)
    weights = sum(dict(dense.named_modules())[n].weight.numel() for n in layers)
    return {"rows": rows, "weights": weights,
            "pruned_nonzero": sum(int((dict(pruned.named_modules())[n].weight != 0).sum()) for n in layers),
            "dense_error": error_rate(dense, data.X_test, data.y_test),
            "pruned_error": error_rate(pruned, data.X_test, data.y_test)}


_kmeans_after_pruning_memo = cache.memo(_kmeans_after_pruning, name="combining-kmeans-after-pruning")


def kmeans_after_pruning(bits=(2, 3, 4, 5)) -> dict:
    """k-means weight sharing (every layer of LeNet-5 at ``b`` bits, no fine-tuning) on the dense
    network, and on Han et al.'s pruned one (:func:`lib.experiments.han2015.han2015_net`) two ways:
    clustering the zeros with the rest (:math:`2^b` centroids) or keeping them apart as code 0
    (:math:`2^b - 1` centroids, as Deep Compression does). Cached.

    Returns
    -------
    dict
        ``rows``: per width ``bits``, for ``dense``, ``pruned_with_zeros`` and ``pruned_zeros_apart``:
        ``test_error`` (no choice is made from it), ``nonzero`` (weights not exactly 0 after sharing),
        ``zeros_kept`` (mean over layers of the fraction of zero weights still exactly 0) and
        ``fc1_distinct`` (distinct values in fc1); also ``weights``, ``pruned_nonzero`` and the dense and
        pruned networks' test errors (``dense_error``, ``pruned_error``).
    """
    bits = [check_int(f"bits[{i}]", b, 1, 8) for i, b in enumerate(bits)]
    return _kmeans_after_pruning_memo(bits=bits)


def prune_share_code(model: str = LENET5) -> dict:
    """Deep Compression's stages taken apart: the cost of each method alone and of the stack.

    Reads the Deep Compression chapter's run (:func:`lib.experiments.deep_compression.reproduce_deep_compression`,
    default settings: 8-bit codes in the convolutions, 5-bit in the fully connected layers) and shares
    the *dense* network's layers at the same widths (:math:`2^b` centroids each, k-means, no training:
    a few seconds, not cached). Errors are test fractions; costs are changes in points.

    Returns
    -------
    dict
        ``dense_error``; ``prune_cost`` (pruned and fine-tuned), ``share_cost`` (the dense network
        shared), ``sum_of_costs``, ``stack_cost`` (pruned and shared, before fine-tuning), ``tuned_cost``
        (after fine-tuning); ``prune_x`` (pruning alone, bits: 32-bit values and gaps), ``share_x``
        (sharing alone: codes and codebooks), ``product_x``, ``stack_x`` (pruned + shared, gaps and
        codebooks counted), ``huffman_x``.
    """
    check_choice("model", model, [LENET5])
    r = dc.reproduce_deep_compression(model)
    bits = r["settings"]["weight_bits"]
    dense = train_cached(han2015.dense_config(model))[0].eval()
    data = load_data(han2015.dense_config(model))
    shared, stats = _share_layers(dense, bits, exclude_zeros=False)
    mods = dict(dense.named_modules())
    sizes = {n: mods[n].weight.numel() for n in bits}
    share_bits = sum(sizes[n] * b + 32 * stats[n]["centroids"] for n, b in bits.items())
    d = r["dense_error"]
    out = {"dense_error": d, "prune_cost": 100 * (r["pruned_error"] - d),
           "share_cost": 100 * (error_rate(shared, data.X_test, data.y_test) - d),
           "stack_cost": 100 * (r["shared_error"] - d), "tuned_cost": 100 * (r["error"] - d),
           "prune_x": r["compression_pruned"], "share_x": 32 * sum(sizes.values()) / share_bits,
           "stack_x": r["compression_pq"], "huffman_x": r["compression"]}
    out["sum_of_costs"] = out["prune_cost"] + out["share_cost"]
    out["product_x"] = out["prune_x"] * out["share_x"]
    return out


def _pruned_copy(net: nn.Module, amount: float) -> nn.Module:
    out = copy.deepcopy(net)
    layers = [m for m in out.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    if amount > 0:
        global_magnitude_prune([(m, "weight") for m in layers], amount)
        remove_reparametrization(out)
    return out.eval()


def distill_then_prune(width: int = 300, amounts=(0.0, 0.5, 0.8, 0.9, 0.95, 0.98)) -> dict:
    """The distillation chapter's student of ``width`` (one of :data:`lib.experiments.distillation.WIDTHS`),
    trained alone and distilled at the temperature that chapter chose on validation, each pruned
    globally by magnitude (no fine-tuning): does the distilled student's lead survive pruning?
    Evaluation only (a few seconds), not cached.

    Returns ``amounts``, ``T`` and per amount the validation and test errors of both students
    (``alone_val``, ``alone_test``, ``distilled_val``, ``distilled_test``, lists), and ``params``.
    """
    width = check_choice("width", width, list(ED.WIDTHS))
    amounts = [check_real(f"amounts[{i}]", a, 0.0, 1.0, hi_open=True) for i, a in enumerate(amounts)]
    T = ED.width_sweep()["per_width"][str(width)]["best_T"]
    nets = {"alone": ED.student(width, None, seed=0)[0], "distilled": ED.student(width, float(T), ED.ALPHA, seed=0)[0]}
    data = mnist(flatten=True)
    out = {"amounts": amounts, "T": T, "params": sum(p.numel() for p in nets["alone"].parameters())}
    for key, net in nets.items():
        small = [_pruned_copy(net, a) for a in amounts]
        out[f"{key}_val"] = [error_rate(s, data.X_val, data.y_val) for s in small]
        out[f"{key}_test"] = [error_rate(s, data.X_test, data.y_test) for s in small]
    return out


def compact_then_prune(amounts=(0.0, 0.2, 0.4, 0.6)) -> dict:
    """The compact-convolutions chapter's standard and depthwise-separable CNNs
    (:func:`lib.experiments.compact_convolutions.trained`, cached there), every convolution and linear
    weight pruned globally by magnitude, no fine-tuning: do compact layers leave room for pruning?
    Evaluation only, not cached.

    Returns ``amounts`` and per variant (``standard``, ``depthwise_separable``): ``params`` and the test
    errors ``test`` (list, one per amount; no choice is made from them).
    """
    amounts = [check_real(f"amounts[{i}]", a, 0.0, 1.0, hi_open=True) for i, a in enumerate(amounts)]
    data = mnist()
    out = {"amounts": amounts}
    for v in ("standard", "depthwise_separable"):
        net = ECC.trained(v)[0]
        out[v] = {"params": sum(p.numel() for p in net.parameters()),
                  "test": [error_rate(_pruned_copy(net, a), data.X_test, data.y_test) for a in amounts]}
    return out


def _quantised(net: nn.Module, bits: int) -> nn.Module:
    """A copy with every Linear weight rounded to a symmetric per-output-channel ``bits``-bit grid."""
    out = copy.deepcopy(net)
    with torch.no_grad():
        for m in out.modules():
            if isinstance(m, nn.Linear):
                m.weight.copy_(EQz.quantise_weight(m.weight, bits, "symmetric", "per channel")[0])
    return out.eval()


def lowrank_then_quantize(bits=(8, 6, 4, 3, 2)) -> dict:
    """The low-rank chapter's dense and SVD-factorised LeNet-300-100 (:func:`lib.experiments.low_rank.svd_nets`,
    the factor chosen there on validation), each with every Linear weight (each factor, for the
    factorised one) rounded to ``bits`` bits, symmetric, one grid per output channel, no fine-tuning.
    Evaluation only, not cached.

    Returns ``bits``, per width the test and validation errors ``dense_test``, ``dense_val``,
    ``lowrank_test``, ``lowrank_val`` (lists) and the float errors ``dense_float`` and ``lowrank_float``;
    ``compression`` (the factorised network's parameter ratio, as the chapter reports it).
    """
    bits = [check_int(f"bits[{i}]", b, 2, 16) for i, b in enumerate(bits)]
    dense, small = LR.svd_nets()
    _, data = LR.lenet()
    out = {"bits": bits, "compression": LR.svd_search()["compression"]}
    for key, net in (("dense", dense), ("lowrank", small)):
        out[f"{key}_float"] = error_rate(net, data.X_test, data.y_test)
        qs = [_quantised(net, b) for b in bits]
        out[f"{key}_test"] = [error_rate(q, data.X_test, data.y_test) for q in qs]
        out[f"{key}_val"] = [error_rate(q, data.X_val, data.y_val) for q in qs]
    return out


# =========================================================================== 2. the book's chart
def _point(chapter: str, method: str, family: str, network: str, compression: float, error: float,
           dense_error: float, counted: str = "bits") -> dict:
    return {"chapter": chapter, "method": method, "family": check_choice("family", family, FAMILIES),
            "network": network, "compression": float(compression), "error": float(error),
            "dense_error": float(dense_error), "delta": 100 * (float(error) - float(dense_error)), "counted": counted}


def _magnitude_pruning() -> list[dict]:
    # The chapter's calls: reproduce_han2015(m) for both LeNets; prune_once over its slider's grid.
    # Size in bits: Deep Compression's "pruned" stage counts the same network (32-bit values and 5-bit gaps).
    pts = []
    for m in ("lenet_300_100", LENET5):
        h, d = han2015.reproduce_han2015(m), dc.reproduce_deep_compression(m)
        pts.append(_point("magnitude_pruning", "iterative magnitude pruning", "pruning", dc.MODELS[m],
                          d["compression_pruned"], h["pruned_error"], h["dense_error"]))
    dense = han2015.reproduce_han2015("lenet_300_100")["dense_error"]
    for a in (0.8, 0.92, 0.97, 0.99):
        r = MP.prune_once(amount=a, scope="global")
        pts.append(_point("magnitude_pruning", f"one-shot pruning, {100 * a:.0f} % removed", "pruning",
                          "LeNet-300-100", r["dense_kb"] / r["relative_kb"], r["error_after"], dense))
    return pts


def _pruning_speed() -> list[dict]:
    s = network_slimming()
    return [_point("pruning_speed", "Network Slimming (channels removed)", "pruning", "VGG-small",
                   s["params"]["dense"] / s["params"]["removed"], s["pruned_error"], s["dense_error"], "parameters")]


def _quantisation() -> list[dict]:
    dense5 = han2015.reproduce_han2015(LENET5)["dense_error"]
    pts = []
    for b in (8, 4, 3, 2):  # linear_quantization: weights_point over its grid (symmetric, one grid per channel)
        r = EQz.weights_point(bits=b, scheme="symmetric", granularity="per channel")
        pts.append(_point("linear_quantization", f"{b}-bit weights, rounded (PTQ)", "quantisation", "LeNet-5",
                          32 / b, r["error"], dense5, "bits per weight (scales not counted)"))
    for b in (4, 3, 2):  # fake_quantization: ptq_and_qat(bits, mode)
        r = EQ.ptq_and_qat(bits=b, mode="weights only")
        pts.append(_point("fake_quantization", f"{b}-bit weights, QAT", "quantisation", "LeNet-5",
                          32 / b, r["qat"], dense5, "bits per weight (scales not counted)"))
    e = EQz.variant_errors(name="LeNet-5")
    pts.append(_point("quantization_speed", "int8 (PyTorch kernels)", "quantisation", "LeNet-5", 4.0,
                      e["int8 (PyTorch kernels)"], e["float32"], "bits per weight (scales not counted)"))
    runs = {name: EB.train_variant(name=name) for name in EB.VARIANTS}
    ref = runs["float32"]
    for name in ("BinaryConnect", "BNN", "XNOR-Net", "DoReFa W2 A2"):
        pts.append(_point("binary_networks", name, "quantisation", "MLP 784-256-256-10",
                          ref["storage"]["total"] / runs[name]["storage"]["total"], runs[name]["test_error"],
                          ref["test_error"]))
    return pts


def _sharing_and_coding() -> list[dict]:
    net, _ = ES.trained_net()
    weights = sum(m.weight.numel() for m in net.modules() if isinstance(m, nn.Linear))
    n_layers = sum(isinstance(m, nn.Linear) for m in net.modules())
    dense = han2015.reproduce_han2015("lenet_300_100")["dense_error"]
    pts = []
    for b in (1, 2, 3):  # weight_sharing: finetune(bits=b, weighting="plain")
        r = ES.finetune(bits=b, weighting="plain")
        pts.append(_point("weight_sharing", f"k-means, {b}-bit codes, fine-tuned", "sharing and coding",
                          "LeNet-300-100", stacked_ratio(weights, weights, b, 0, n_layers * 2 ** b), r["after"], dense))
    h = EH.hashednets()
    base = next(r for r in h["rows"] if r["factor"] == 1)
    for r in h["rows"]:
        if r["method"] == "hashed":
            pts.append(_point("hashing", f"HashedNets, 1/{r['factor']}", "sharing and coding", "MLP 784-1000-10",
                              base["stored"] / r["stored"], r["test_error"], base["test_error"], "parameters"))
    return pts


def _low_rank_and_structured() -> list[dict]:
    s = LR.svd_search()
    pts = [_point("low_rank", f"SVD of fc1 and fc2 ({s['factor']:g}x asked)", "low rank and structured",
                  "LeNet-300-100", s["compression"], s["test_after"], s["dense_test"], "parameters")]
    tt = LR.tt_lenet()
    pts.append(_point("low_rank", "tensor train (fc1)", "low rank and structured", "LeNet-300-100",
                      tt["network_compression"], tt["test_after"], tt["dense_test"], "parameters"))
    vgg_dense = LR.vgg_dense_errors()["test"]
    for label, kwargs in (("CP (conv2, conv3)", {"method": "cp"}), ("Tucker (conv2, conv3)", {"method": "tucker-vbmf"})):
        r = LR.decompose_vgg(**kwargs)
        pts.append(_point("low_rank", label, "low rank and structured", "VGG-small",
                          r["dense_params"] / r["params"], r["test_after"], vgg_dense, "parameters"))
    res = SM.mnist_results()
    for kind, r in res.items():
        if kind != "dense":
            pts.append(_point("structured_matrices", f"{kind} first layer", "low rank and structured",
                              "MLP (structured first layer)", res["dense"]["params"] / r["params"], r["test_error"],
                              res["dense"]["test_error"], "parameters"))
    return pts


def _small_networks() -> list[dict]:
    rep = ED.reproduction(temperatures=(4.0, 20.0))
    teacher_error = rep["teacher"] / rep["test_size"]
    sweep = ED.width_sweep()
    pts = [_point("distillation", f"distilled student, width {w}", "small networks", "LeNet-5 teacher → MLP",
                  rep["params"]["teacher"] / r["params"], r["distilled_test"], teacher_error, "parameters")
           for w, r in sweep["per_width"].items()]
    res = ECC.mnist_results()
    for v, r in res.items():
        ref = "standard_5x5" if v == "factorized_5x5" else "standard"
        if v not in ("standard", "standard_5x5"):
            pts.append(_point("compact_convolutions", ECC.VARIANTS[v][1], "small networks", "small CNN",
                              res[ref]["params"] / r["params"], r["test_error"], res[ref]["test_error"], "parameters"))
    return pts


def _deep_compression() -> list[dict]:
    pts = []
    for m in ("lenet_300_100", LENET5):
        r = dc.reproduce_deep_compression(m)
        pts.append(_point("deep_compression", "pruned + shared (P+Q)", "combinations", dc.MODELS[m],
                          r["compression_pq"], r["error"], r["dense_error"]))
        pts.append(_point("huffman", "P+Q, then Huffman coded (P+Q+H)", "combinations", dc.MODELS[m],
                          r["compression"], r["error"], r["dense_error"]))
    for b in (2, 3, 4, 6):  # the chapter's width slider (5 bits is the point above)
        w = dc.width_point(bits=b)
        pts.append(_point("deep_compression", f"P+Q+H, {b}-bit codes", "combinations", "LeNet-300-100",
                          w["compression"], w["error"], w["dense_error"]))
    return pts


#: Chapter -> collector of its points, each calling the chapter's own cached experiments with the
#: chapter's arguments. The chart iterates over these and :data:`EXTRA_SOURCES`.
SOURCES: dict[str, Callable[[], list[dict]]] = {
    "pruning": lambda: _magnitude_pruning() + _pruning_speed(),
    "quantisation": _quantisation,
    "sharing and coding": _sharing_and_coding,
    "low rank and structured": _low_rank_and_structured,
    "small networks": _small_networks,
    "combinations": _deep_compression,
}

#: Hook for chapters added later (e.g. the seismic case study): collectors returning points built
#: like the others (chapter, method, family, network, compression, error, dense_error, ...).
EXTRA_SOURCES: list[Callable[[], list[dict]]] = []

#: Part II chapters with no (size, error) point, and why.
OFF_CHART = {
    "pruning_granularity": "convolutions only (6 % of LeNet-5's weights): the whole network's size barely "
                           "moves; its result is a latency, on the second view",
    "pruning_criteria": "compares criteria by validation error right after removal, without fine-tuning",
    "fast_convolution": "FFT and Winograd convolution compute the same function faster: no size change",
    "nas": "the searched networks are not compressed copies of a baseline (on 8×8 digits they are larger "
           "than the hand-designed CNN and more accurate); their search is on latency against error",
}


def chart_points(extra: bool = True) -> list[dict]:
    """Every point of :data:`SOURCES` (and of :data:`EXTRA_SOURCES` when ``extra``), in family order."""
    pts = [p for family in FAMILIES if family in SOURCES for p in SOURCES[family]()]
    if extra:
        pts += [p for source in EXTRA_SOURCES for p in source()]
    return pts


def _speedup(dense: nn.Module, net: nn.Module, x: torch.Tensor, rounds: int = 3) -> float:
    """Median dense latency over median ``net`` latency at input ``x``, timed in alternation."""
    d, n = [], []
    with torch.inference_mode():
        for _ in range(rounds):
            d.append(measure.latency(dense, x, warmup=5, runs=40)["median_ms"])
            n.append(measure.latency(net, x, warmup=5, runs=40)["median_ms"])
    return float(np.median(d) / np.median(n))


def latency_points() -> list[dict]:
    """Speed-up at batch 1 (one thread, measured now, never cached) against error change, for the
    chapters whose result is a latency: each point is :func:`_point`'s dict plus ``speedup``."""
    g = torch.Generator().manual_seed(0)
    img = torch.randn(1, 1, 28, 28, generator=g)
    pts = []
    s = network_slimming()
    base, _ = slimming_nets()
    p = _point("pruning_speed", "Network Slimming", "pruning", "VGG-small", 1, s["pruned_error"], s["dense_error"])
    pts.append({**p, "speedup": _speedup(base, slimmed_net(), img)})
    dense5 = han2015.reproduce_han2015(LENET5)["dense_error"]
    for gran in structured.GRANULARITIES:
        r = PG.granularity_point(gran, 0.7)
        p = _point("pruning_granularity", f"70 % of conv {gran}s removed", "pruning", "LeNet-5", 1,
                   r["error_after"], dense5)
        pts.append({**p, "speedup": r["speedup"]})
    for name in ("LeNet-300-100", "LeNet-5"):
        models, d = EQz.variant_models(name)
        e = EQz.variant_errors(name=name)
        x = d.X_test[:1]
        p = _point("quantization_speed", "int8 (PyTorch kernels)", "quantisation", name, 4, e["int8 (PyTorch kernels)"],
                   e["float32"])
        pts.append({**p, "speedup": _speedup(models["float32"], models["int8 (PyTorch kernels)"], x)})
    lat = ECC.network_latency(batches=(1,))[1]
    res = ECC.mnist_results()
    for v, r in res.items():
        ref = "standard_5x5" if v == "factorized_5x5" else "standard"
        if v not in ("standard", "standard_5x5"):
            p = _point("compact_convolutions", ECC.VARIANTS[v][1], "small networks", "small CNN", 1, r["test_error"],
                       res[ref]["test_error"])
            pts.append({**p, "speedup": lat[ref] / lat[v]})
    s = LR.svd_search()
    t = LR.svd_latency(batches=(1,))[1]
    p = _point("low_rank", "SVD of fc1 and fc2", "low rank and structured", "LeNet-300-100", 1, s["test_after"],
               s["dense_test"])
    pts.append({**p, "speedup": t["dense"] / t["svd"]})
    return pts


def pareto(points: list[dict], x: str = "compression") -> list[int]:
    """Indices of the points no other point beats on both axes: larger ``x`` (compression or
    speed-up) and smaller error change ``delta``; by increasing ``x``'s reciprocal (largest first).
    :func:`lib.nas.pareto_front` with ``1/x`` as the cost."""
    if not points:
        return []
    return nas_topic.pareto_front([p["delta"] for p in points], [1.0 / p[x] for p in points])


def chart_view(points: list[dict], view: str, family: str, cap: float = 3.0) -> dict:
    """One grid point of the chapter's widget: the points of ``family`` (or ``"all"``) as crosses,
    x = log2 of compression (``view="size"``) or of speed-up (``view="latency"``), y = error change
    in points (capped at ``cap``; points above are counted, not drawn), and the front of all points
    of the view as a line (:func:`lib.experiments.nas.scatter` draws them for :func:`lib.widgets.sweep.series`).
    ``points``: :func:`chart_points` for the size view, :func:`latency_points` for the latency view."""
    check_choice("view", view, ("size", "latency"))
    check_choice("family", family, ("all",) + FAMILIES)
    key = "compression" if view == "size" else "speedup"
    pts = [p for p in points if key in p]
    front = [pts[i] for i in pareto(pts, key)]
    shown = {f: [(math.log2(p[key]), p["delta"]) for p in pts if p["family"] == f and p["delta"] <= cap
                 and family in ("all", f)] for f in FAMILIES}
    out = EN.scatter(shown, [(math.log2(p[key]), p["delta"]) for p in front if p["delta"] <= cap], dx=0.08, dy=cap / 60)
    out["shown"] = sum(len(v) for v in shown.values())
    out["above"] = sum(1 for p in pts if p["delta"] > cap and family in ("all", p["family"]))
    best = [p for p in pts if p["delta"] <= 0.1 and family in ("all", p["family"])]
    out["best"] = max((p[key] for p in best), default=float("nan"))
    return out


# =========================================================================== 3. the stretch result
#: Code widths tried (conv layers, fc layers), fewest bits first; Deep Compression's are (8, 5).
STRETCH_CANDIDATES = ((4, 3), (5, 4))

#: Gap widths the recount tries (size only: the error does not depend on them).
INDEX_BITS = (3, 4, 5, 6, 7, 8, 9, 10)


def _settings(conv: int, fc: int) -> dict:
    layers = han2015.PRUNABLE[LENET5]
    return {"weight_bits": {layers[0]: conv, layers[1]: conv, layers[2]: fc, layers[3]: fc}}


def best_index_bits(model: str = LENET5, **settings) -> dict:
    """Recount the Deep Compression run of ``settings`` with every gap width of :data:`INDEX_BITS`
    (as the Deep Compression chapter's table does: :func:`lib.coding.deep_compression_bits` on the
    fine-tuned network's codes) and keep the smallest total: ``index_bits``, ``total_bits``,
    ``compression`` and ``by_width`` (compression per width). Lossless, so no data is read."""
    r = dc.reproduce_deep_compression(model, **settings)
    shared = pipeline.shared_layers(dc.compressed_net(model, **settings))
    by = {}
    for ib in INDEX_BITS:
        by[ib] = sum(deep_compression_bits(cb, lab, ib, r["settings"]["weight_bits"][n])["total"]
                     for n, (cb, lab) in shared.items())
    ib = min(by, key=lambda k: (by[k], k))
    return {"index_bits": ib, "total_bits": by[ib], "compression": r["dense_bits"] / by[ib],
            "by_width": {k: r["dense_bits"] / v for k, v in by.items()}}


def stretch() -> dict:
    """Deep Compression on LeNet-5 with fewer bits per code, chosen on validation.

    Each candidate of :data:`STRETCH_CANDIDATES` runs the Deep Compression chapter's own pipeline
    (:func:`lib.experiments.deep_compression.reproduce_deep_compression`: the same pruned network,
    k-means, one epoch of centroid fine-tuning) at the learning rate that chapter chose on validation;
    the kept candidate has the fewest bits among those whose validation error is at most 0.1 point
    above the dense network's (else Deep Compression's own widths). Its gap width is then chosen by
    size alone (:func:`best_index_bits`). The test set is read once per candidate, by the pipeline.

    Returns
    -------
    dict
        ``candidates`` (per candidate: ``conv_bits``, ``fc_bits``, ``val_error``, ``error``,
        ``compression`` at 5-bit gaps, ``passed``), ``chosen`` (the kept widths, or ``None``),
        ``baseline`` (Deep Compression's own run: ``error``, ``compression``, ``val_error``, and its
        best gap width's ``compression_best_index``), ``dense_error``, ``dense_val_error``, ``lr``,
        ``error``, ``val_error``, ``compression`` (5-bit gaps), ``index_bits``, ``best_compression``
        (at that gap width), ``paper`` (39) and ``by_width``.
    """
    base = dc.reproduce_deep_compression(LENET5)
    lr = base["lr"]
    rows, chosen = [], None
    for conv, fc in STRETCH_CANDIDATES:
        r = dc.reproduce_deep_compression(LENET5, lrs=[lr], **_settings(conv, fc))
        ok = r["val_error"] <= r["dense_val_error"] + han2015.TOLERANCE + 1e-12
        rows.append({"conv_bits": conv, "fc_bits": fc, "val_error": r["val_error"], "error": r["error"],
                     "compression": r["compression"], "passed": ok})
        if ok and chosen is None:
            chosen = (conv, fc)
    settings = {"lrs": [lr], **_settings(*chosen)} if chosen else {}
    r = dc.reproduce_deep_compression(LENET5, **settings)
    best = best_index_bits(LENET5, **settings)
    return {"candidates": rows, "chosen": chosen, "lr": lr,
            "baseline": {"error": base["error"], "val_error": base["val_error"], "compression": base["compression"],
                         "compression_best_index": best_index_bits(LENET5)["compression"]},
            "dense_error": r["dense_error"], "dense_val_error": r["dense_val_error"], "error": r["error"],
            "val_error": r["val_error"], "compression": r["compression"], "index_bits": best["index_bits"],
            "best_compression": best["compression"], "by_width": best["by_width"],
            "paper": dc.DEEP_COMPRESSION[LENET5]["compression"]}


def stretch_point(result: dict | None = None) -> dict:
    """The stretch result (:func:`stretch`'s ``result``, computed if not given) as a chart point."""
    s = result if result is not None else stretch()
    widths = f"{s['chosen'][0]}-bit conv, {s['chosen'][1]}-bit fc codes" if s["chosen"] else "Deep Compression's widths"
    return _point("combining", f"P+Q+H, {widths}, {s['index_bits']}-bit gaps", "combinations", "LeNet-5",
                  s["best_compression"], s["error"], s["dense_error"])


def bench() -> dict:
    """Headline figures for ``make bench``: the stretch result against the paper's 39x, the
    stacking experiment's costs and ratios, and the chart's point count and front."""
    s = stretch()
    psc = prune_share_code()
    pts = chart_points()
    front = [pts[i] for i in pareto(pts)]
    return {"stretch_compression": s["best_compression"], "stretch_error_change_points": 100 * (s["error"] - s["dense_error"]),
            "stretch_widths": s["chosen"], "stretch_index_bits": s["index_bits"],
            "deep_compression_lenet5_compression": s["baseline"]["compression"], "paper_compression": s["paper"],
            "prune_share_code": psc, "chart_points": len(pts),
            "front": [(p["chapter"], p["method"], p["compression"], p["delta"]) for p in front]}
