r"""Deep Compression reproduced: prune, share, fine-tune, Huffman-code MNIST's two LeNets.

The pipeline of Han, Mao and Dally [1]_, on the pruned networks of
:mod:`lib.experiments.han2015`:

1. **Prune**: start from :func:`lib.experiments.han2015.han2015_net` (about 8 % of the
   weights kept).
2. **Share**: cluster each layer's kept weights into :math:`2^b - 1` centroids by k-means
   (linear initialisation, :func:`lib.quantization.share_weights`), code 0 being the zero.
3. **Fine-tune** the centroids (and the biases) with :func:`lib.workbench.train.fit`: each
   centroid's gradient is the sum of its weights' gradients, and every weight keeps its cluster.
4. **Code**: count the relative-index format, the codebooks and the Huffman-coded gaps and
   codes, tables included (:func:`lib.coding.deep_compression_bits`).

Protocol: the only choice made here, the fine-tuning learning rate, is made on MNIST's 5,000
held-out validation images (:data:`DEEP_COMPRESSION_SETTINGS` ``lrs``: the candidate with the
lowest validation error after fine-tuning wins, the lower validation loss on a tie); the code and gap widths
are the paper's. The test set is read once per reported result. The fine-tuned network and its
numbers are kept together in the one cache (:mod:`lib.core.cache`), keyed by the settings and
by the code they ran, so :func:`reproduce_deep_compression` and :func:`compressed_net` never
disagree.

References
----------
.. [1] S. Han, H. Mao, W. J. Dally, "Deep Compression: Compressing Deep Neural Networks with
   Pruning, Trained Quantization and Huffman Coding", ICLR 2016, arXiv:1510.00149.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from torch import nn

from lib.coding import deep_compression_bits
from lib.core import cache
from lib.core.checks import check_choice, check_int, check_real
from lib.experiments.han2015 import PRUNABLE, dense_config, han2015_net, reproduce_han2015
from lib.pipeline import STAGES, decode_net, storage_breakdown
from lib.pruning import remove_reparametrization
from lib.quantization import kmeans_quantize, share_weights
from lib.workbench import measure
from lib.workbench.train import build, error_rate, fit, load_data

__all__ = ["DEEP_COMPRESSION", "PAPER_LAYERS", "PAPER_SIZE", "PAPER_TOTAL_X", "MODELS", "LAYER_NAMES",
           "DEEP_COMPRESSION_SETTINGS", "deep_compression_settings", "reproduce_deep_compression",
           "compressed_net", "deep_compression_labels", "rebuild_net", "STAGE_LABELS", "KINDS", "stage_point",
           "width_point", "paper_layer_rows", "verdict", "fine_tuning_sentence"]

#: Han, Mao and Dally (2016), Table 1: test error (%) of the reference and the compressed network,
#: and the compression (original size over compressed size).
DEEP_COMPRESSION = {
    "lenet_300_100": {"dense_error": 1.64, "error": 1.58, "compression": 40},
    "lenet5": {"dense_error": 0.80, "error": 0.74, "compression": 39},
}

#: The same Table 1's parameter sizes, as printed.
PAPER_SIZE = {"lenet_300_100": "1070 KB → 27 KB", "lenet5": "1720 KB → 44 KB"}

#: The paper's Table 2 (LeNet-300-100) and Table 3 (LeNet-5), as printed, one row per layer and a
#: total: name, weights, % kept by pruning, weight bits (P+Q), weight bits (P+Q+H), index bits (P+Q),
#: index bits (P+Q+H), compressed size in % of the original (P+Q) and (P+Q+H). P: pruning,
#: Q: quantisation (sharing), H: Huffman coding.
PAPER_LAYERS = {
    "lenet_300_100": [("ip1", "235K", 8, 6, 4.4, 5, 3.7, 3.1, 2.32), ("ip2", "30K", 9, 6, 4.4, 5, 4.3, 3.8, 3.04),
                      ("ip3", "1K", 26, 6, 4.3, 5, 3.2, 15.7, 12.70), ("total", "266K", 8, 6, 5.1, 5, 3.7, 3.1, 2.49)],
    "lenet5": [("conv1", "0.5K", 66, 8, 7.2, 5, 1.5, 78.5, 67.45), ("conv2", "25K", 12, 8, 7.2, 5, 3.9, 6.0, 5.28),
               ("ip1", "400K", 8, 5, 4.5, 5, 4.5, 2.7, 2.45), ("ip2", "5K", 19, 5, 5.2, 5, 3.7, 6.9, 6.13),
               ("total", "431K", 8, 5.3, 4.1, 5, 4.4, 3.05, 2.55)],
}

#: The same tables' compression of the whole network after P, P+Q and P+Q+H, as printed.
PAPER_TOTAL_X = {"lenet_300_100": (12, 32, 40), "lenet5": (12, 33, 39)}

#: The networks, by builder name, as the book names them.
MODELS = {"lenet_300_100": "LeNet-300-100", "lenet5": "LeNet-5"}

#: The book's names of the prunable layers, in the order of :data:`lib.experiments.han2015.PRUNABLE`.
LAYER_NAMES = {"lenet_300_100": ["fc1", "fc2", "fc3"], "lenet5": ["conv1", "conv2", "fc1", "fc2"]}

#: Per model: code width of each layer's shared weights (2**bits - 1 centroids plus the zero) and of
#: the gaps, as in the paper's Tables 2 and 3; k-means initialisation and iterations; centroid
#: fine-tuning: epochs, the candidate learning rates ``lrs`` (one is chosen on the validation
#: split), SGD momentum and weight decay.
DEEP_COMPRESSION_SETTINGS = {
    "lenet_300_100": {"weight_bits": {"0": 5, "2": 5, "4": 5}, "index_bits": 5, "init": "linear", "iters": 30,
                      "epochs": 1, "lrs": [3e-4, 1e-3, 3e-3], "momentum": 0.9, "weight_decay": 0.0},
    "lenet5": {"weight_bits": {"0": 8, "2": 8, "5": 5, "7": 5}, "index_bits": 5, "init": "linear", "iters": 30,
               "epochs": 1, "lrs": [3e-4, 1e-3, 3e-3], "momentum": 0.9, "weight_decay": 0.0},
}


def deep_compression_settings(model: str = "lenet_300_100", **settings) -> dict:
    """The model's :data:`DEEP_COMPRESSION_SETTINGS` with ``settings`` applied, validated.

    ``weight_bits`` may be one int for every prunable layer; it becomes one width per layer.
    ``lrs`` may be one learning rate. Raises ValueError naming a bad setting before any work.

    >>> deep_compression_settings("lenet_300_100", weight_bits=3)["weight_bits"]
    {'0': 3, '2': 3, '4': 3}
    """
    check_choice("model", model, sorted(DEEP_COMPRESSION_SETTINGS))
    unknown = set(settings) - set(DEEP_COMPRESSION_SETTINGS[model])
    if unknown:
        raise ValueError(f"settings must be among {sorted(DEEP_COMPRESSION_SETTINGS[model])!r}, "
                         f"got {sorted(unknown)!r}")
    st = {**DEEP_COMPRESSION_SETTINGS[model], **{k: v for k, v in settings.items() if v is not None}}
    layers = PRUNABLE[model]
    bits = st["weight_bits"] if isinstance(st["weight_bits"], dict) else {n: st["weight_bits"] for n in layers}
    if sorted(bits) != sorted(layers):
        raise ValueError(f"weight_bits must give a width for each of the layers {layers!r}, got {sorted(bits)!r}")
    st["weight_bits"] = {n: check_int(f"weight_bits[{n!r}]", bits[n], 1, 16) for n in layers}
    st["index_bits"] = check_int("index_bits", st["index_bits"], 1, 16)
    st["iters"] = check_int("iters", st["iters"], 1)
    st["epochs"] = check_int("epochs", st["epochs"], 0)
    lrs = st["lrs"] if isinstance(st["lrs"], (list, tuple)) else [st["lrs"]]
    if not lrs:
        raise ValueError("lrs must hold at least one learning rate, got []")
    st["lrs"] = [check_real("lrs", lr, 0.0, 10.0, lo_open=True) for lr in lrs]
    st["momentum"] = check_real("momentum", st["momentum"], 0.0, 1.0, hi_open=True)
    st["weight_decay"] = check_real("weight_decay", st["weight_decay"], 0.0, 1.0)
    return st


def _shared_han_net(model: str, st: dict) -> tuple[nn.Module, dict]:
    """Steps 1 and 2: the pruned network, each prunable layer k-means shared (deterministic)."""
    net = remove_reparametrization(han2015_net(model))
    modules = dict(net.named_modules())
    shared = {name: share_weights(modules[name], 2 ** st["weight_bits"][name] - 1, st["init"], st["iters"],
                                  mask=modules[name].weight.detach() != 0)
              for name in PRUNABLE[model]}
    return net, shared


@torch.no_grad()
def _loss(net: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    """Mean cross-entropy of ``net`` on ``X``, in eval mode."""
    net.eval()
    return sum(float(nn.functional.cross_entropy(net(X[i:i + batch_size]), y[i:i + batch_size], reduction="sum"))
               for i in range(0, len(y), batch_size)) / len(y)


def _compress(model: str, weight_bits: dict, index_bits: int, init: str, iters: int, epochs: int, lrs: list,
              momentum: float, weight_decay: float) -> dict:
    """The whole pipeline once: the fine-tuned network's ``state`` and the ``result``."""
    st = {"weight_bits": weight_bits, "index_bits": index_bits, "init": init, "iters": iters, "epochs": epochs,
          "lrs": lrs, "momentum": momentum, "weight_decay": weight_decay}
    pruned = reproduce_han2015(model)
    cfg = dense_config(model)
    data = load_data(cfg)
    net, shared = _shared_han_net(model, st)
    shared_val = error_rate(net, data.X_val, data.y_val)
    shared_error = error_rate(net, data.X_test, data.y_test)
    start = {k: v.clone() for k, v in net.state_dict().items()}
    tried, best = [], None

    def validate(net):  # 5,000 images: ties in the error are common, the loss breaks them
        return {"val_error": error_rate(net, data.X_val, data.y_val), "val_loss": _loss(net, data.X_val, data.y_val)}

    for lr in lrs if epochs else []:  # each candidate from the same shared network; chosen on validation
        net.load_state_dict(start)
        ft = replace(cfg, num_epochs=epochs, lr=lr, momentum=momentum, weight_decay=weight_decay)
        val = fit(net, data, ft, evaluate=validate, desc="fine-tuning the shared weights")[-1]
        tried.append({"lr": lr, "val_error": val["val_error"], "val_loss": val["val_loss"]})
        if best is None or (val["val_error"], val["val_loss"]) < best[0]:
            best = ((val["val_error"], val["val_loss"]), lr, {k: v.clone() for k, v in net.state_dict().items()})
    if best is not None:
        net.load_state_dict(best[2])
    modules = dict(net.named_modules())
    rows = []
    for name, book_name in zip(PRUNABLE[model], LAYER_NAMES[model]):
        p = shared[name]
        codebook = p.codebook.detach()
        row = deep_compression_bits(codebook, p.labels, index_bits, weight_bits[name])
        pruned_bits = measure.storage_bits(codebook[p.labels], "relative", 32, index_bits)
        kind = "conv" if isinstance(modules[name], nn.Conv2d) else "fc"
        rows.append({"name": name, "layer": book_name, "kind": kind, **row, "pruned_bits": pruned_bits,
                     "codebook_values": codebook.tolist()})
    bias_bits = 32 * sum(modules[n].bias.numel() for n in PRUNABLE[model] if modules[n].bias is not None)
    dense = sum(r["dense"] for r in rows)
    total = sum(r["total"] for r in rows)
    pq = sum(r["fixed_total"] for r in rows)
    pruned_bits = sum(r["pruned_bits"] for r in rows)
    result = {"model": model, "settings": st, "lr": best[1] if best else None, "tried": tried,
              "dense_error": pruned["dense_error"], "dense_val_error": pruned["dense_val_error"],
              "pruned_error": pruned["pruned_error"], "pruned_val_error": pruned["pruned_val_error"],
              "shared_error": shared_error, "shared_val_error": shared_val,
              "error": error_rate(net, data.X_test, data.y_test), "val_error": best[0][0] if best else shared_val,
              "layers": rows, "dense_bits": dense, "pruned_bits": pruned_bits, "pq_bits": pq, "total_bits": total,
              "bias_bits": bias_bits, "compression_pruned": dense / pruned_bits, "compression_pq": dense / pq,
              "compression": dense / total, "compression_with_biases": (dense + bias_bits) / (total + bias_bits),
              "paper": DEEP_COMPRESSION[model]}
    return {"state": net.state_dict(), "result": result}


_compress_memo = cache.memo(_compress, name="deep_compression", store="torch")


def reproduce_deep_compression(model: str = "lenet_300_100", **settings) -> dict:
    """Deep Compression's pipeline (module docstring) on the pruned network of
    :func:`lib.experiments.han2015.reproduce_han2015`, and every bit it stores.

    ``settings`` override the model's entry of :data:`DEEP_COMPRESSION_SETTINGS` (see
    :func:`deep_compression_settings`). Computed once, then read from the cache.

    Returns
    -------
    dict
        Test errors (fractions) ``dense_error``, ``pruned_error``, ``shared_error`` (before
        fine-tuning) and ``error`` (after), each with its validation twin (``dense_val_error``,
        ..., ``val_error``); ``lr`` (the learning rate chosen on validation, ``None`` without
        fine-tuning) and ``tried`` (each candidate's validation error and loss); per-layer ``layers``
        (:func:`lib.coding.deep_compression_bits` plus ``name``, ``layer``, ``kind``,
        ``pruned_bits`` and the fine-tuned ``codebook_values``); totals ``dense_bits``,
        ``pruned_bits``, ``pq_bits`` (pruning + quantisation), ``total_bits`` (+ Huffman),
        ``bias_bits``; ``compression_pruned`` (pruning alone: 32-bit values and their gaps),
        ``compression_pq``, ``compression`` (all three stages), ``compression_with_biases``
        (32-bit biases added to both sides); the resolved ``settings``; and the paper's
        :data:`DEEP_COMPRESSION` entry under ``paper``.

    References
    ----------
    .. [1] S. Han, H. Mao, W. J. Dally, arXiv:1510.00149, Tables 1-3.
    """
    return _compress_memo(model=model, **deep_compression_settings(model, **settings))["result"]


def compressed_net(model: str = "lenet_300_100", **settings) -> nn.Module:
    """The fine-tuned network :func:`reproduce_deep_compression` counts, for writing out.

    The same cache entry as the numbers: the pruned network is shared again (k-means is
    deterministic, so every weight gets the same cluster) and the fine-tuned centroids and
    biases are loaded.

    Returns
    -------
    nn.Module
        In eval mode; every pruned layer's ``weight`` is a :class:`lib.quantization.SharedWeights`
        parametrisation (read the codes with :func:`lib.pipeline.shared_layers`).
    """
    st = deep_compression_settings(model, **settings)
    out = _compress_memo(model=model, **st)
    net, _ = _shared_han_net(model, st)
    net.load_state_dict(out["state"])
    return net.eval()


def deep_compression_labels(model: str = "lenet_300_100", **settings) -> list[dict]:
    """Each layer's codebook and cluster indices, as :func:`reproduce_deep_compression` codes them.

    Steps 1 and 2 of the pipeline: the pruned network, each layer's kept weights clustered by
    :func:`lib.quantization.kmeans_quantize` with the same settings. Fine-tuning (step 3) moves
    the centroids but never a weight's cluster, so these labels are exactly the ones whose gaps
    and codes the reproduction counts: feed them to :func:`lib.coding.relative_entries` or
    :func:`lib.coding.deep_compression_bits` to see the streams themselves. The codebook is the
    one before fine-tuning. Takes a few seconds once the pruned network is cached, so it is not
    cached itself.

    Returns
    -------
    list of dict
        Per prunable layer: ``name``, ``codebook`` (tensor, ``codebook[0] == 0``), ``labels`` (int64
        tensor of the weight's shape, 0 for pruned weights), ``index_bits`` and ``weight_bits``.
    """
    st = deep_compression_settings(model, **settings)
    net = remove_reparametrization(han2015_net(model))
    modules = dict(net.named_modules())
    out = []
    for name in PRUNABLE[model]:
        w = modules[name].weight.detach()
        codebook, labels = kmeans_quantize(w, 2 ** st["weight_bits"][name] - 1, st["init"], st["iters"], mask=w != 0)
        out.append({"name": name, "codebook": codebook, "labels": labels, "index_bits": st["index_bits"],
                    "weight_bits": st["weight_bits"][name]})
    return out


def rebuild_net(model: str, blobs: dict[str, bytes], biases: dict[str, torch.Tensor]) -> nn.Module:
    """A fresh, untrained ``model`` whose weight-shared layers are read from ``blobs``
    (:func:`lib.pipeline.encode_net`'s files) and whose biases are ``biases`` (module name to
    tensor): the compressed network as a reader of the files would rebuild it. In eval mode."""
    net = build(dense_config(model))
    modules = dict(net.named_modules())
    unknown = sorted(set(biases) - set(modules))
    if unknown:
        raise ValueError(f"biases must name modules of {model}, got {unknown!r}")
    decode_net(net, blobs)
    with torch.no_grad():
        for name, bias in biases.items():
            modules[name].bias.copy_(bias)
    return net.eval()


# --------------------------------------------------------------------------- what the chapter's widgets show
#: The pipeline's stages as the chapter's widget names them (:data:`lib.pipeline.STAGES`, in order).
STAGE_LABELS = ("dense", "pruned", "+ shared", "+ fine-tuned", "+ Huffman")

#: The kinds of stored data, as :func:`lib.pipeline.storage_breakdown` splits them.
KINDS = ("values", "index", "codebook", "tables")


def _model_key(model: str) -> str:
    by_name = {name: key for key, name in MODELS.items()}
    check_choice("model", model, sorted(MODELS) + sorted(by_name))
    return by_name.get(model, model)


def stage_point(model: str = "lenet_300_100", stage: str = "pruned") -> dict:
    """One network after one stage of the pipeline, in kilobytes (1 kB = 8,000 bits).

    ``model`` is a key or a name of :data:`MODELS`; ``stage`` one of :data:`STAGE_LABELS`.
    Returns each layer's kB per kind of data (:data:`KINDS`), ``layer_names``, the test ``error``
    after the stage (Huffman coding is lossless), ``dense_error``, the network's ``kb`` and
    ``compression``, every stage's size ``stage_kb`` and names ``stage_names``, and ``here`` (the
    stage's position).
    """
    m = _model_key(model)
    check_choice("stage", stage, STAGE_LABELS)
    r = reproduce_deep_compression(m)
    s = STAGE_LABELS.index(stage)
    breakdown = storage_breakdown(r)
    totals = [sum(sum(kinds.values()) for kinds in breakdown[st].values()) for st in STAGES]
    errors = [r["dense_error"], r["pruned_error"], r["shared_error"], r["error"], r["error"]]
    layers = breakdown[STAGES[s]]
    return {**{k: [layers[n][k] / 8000 for n in layers] for k in KINDS}, "layer_names": LAYER_NAMES[m],
            "error": errors[s], "dense_error": r["dense_error"], "kb": totals[s] / 8000,
            "compression": totals[0] / totals[s], "stage_kb": [t / 8000 for t in totals],
            "stage_names": ["dense", "pruned", "shared", "tuned", "Huffman"], "here": s}


def width_point(bits: int = 5, model: str = "lenet_300_100", bins: int = 80) -> dict:
    """The pipeline with ``bits``-bit codes in every layer (:math:`2^b - 1` shared values plus the
    zero), its own k-means and fine-tuning: errors (test and validation, before and after
    fine-tuning, and the dense network's), ``compression`` with and without (``compression_pq``)
    Huffman coding, fc1's Huffman bits per code, and a histogram of the first layer's kept
    weights (``centres``, ``hist``) with its fine-tuned shared values (``centroids``)."""
    bits = check_int("bits", bits, 1, 16)
    m = _model_key(model)
    bins = check_int("bins", bins, 1)
    r = reproduce_deep_compression(m, weight_bits=bits)
    first = PRUNABLE[m][0]
    w = dict(remove_reparametrization(han2015_net(m)).named_modules())[first].weight.detach()
    kept = w[w != 0].numpy()
    edge = float(np.abs(kept).max()) * 1.02
    edges = np.linspace(-edge, edge, bins + 1)
    layer = r["layers"][0]
    return {"error": r["error"], "shared_error": r["shared_error"], "dense_error": r["dense_error"],
            "val_error": r["val_error"], "shared_val_error": r["shared_val_error"],
            "dense_val_error": r["dense_val_error"], "compression": r["compression"],
            "compression_pq": r["compression_pq"], "code_bits": layer["avg_weight_bits"],
            "centres": 0.5 * (edges[1:] + edges[:-1]), "hist": np.histogram(kept, edges)[0],
            "centroids": layer["codebook_values"][1:]}


def _cell(ours, theirs) -> str:
    return f"{ours} <span style='opacity:.6'>({theirs})</span>"


def paper_layer_rows(results: dict) -> list[tuple]:
    """Rows of the chapter's table setting our layers beside the paper's Tables 2 and 3.

    ``results`` maps model to :func:`reproduce_deep_compression`'s result. Per model a title row,
    one row per layer and a total; each cell is ours followed by the paper's figure in brackets
    (:data:`PAPER_LAYERS`, :data:`PAPER_TOTAL_X`): weights, % kept, average weight and index bits
    per stored entry (padding included) before and after Huffman coding, and the compressed size
    in % of the 32-bit original (codebook and tables included); the total row adds the
    compression factors. Nine cells per row.
    """
    rows = []
    keys = ["weights", "nonzero", "entries", "codes", "huffman_codes", "index", "huffman_index", "fixed_total",
            "total", "dense"]

    def row(name, paper, counts, times=None):
        weights, nonzero, entries, codes, huff_codes, index, huff_index, fixed, total, dense = counts
        _, pw, pk, pwb, pwh, pib, pih, ppq, ph = paper
        ours = [f"{100 * nonzero / weights:.0f} %", f"{100 * fixed / dense:.2f} %", f"{100 * total / dense:.2f} %"]
        theirs = [f"{pk} %", f"{ppq} %", f"{ph} %"]
        if times:  # the total row: the compression factors too, ours and the paper's
            ours = [f"{o} = {x:.1f}×" for o, x in zip(ours, times[0])]
            theirs = [f"{t} = {x}×" for t, x in zip(theirs, times[1])]
        return (_cell(name, paper[0]), _cell(f"{weights:,}", pw), _cell(ours[0], theirs[0]),
                _cell(f"{codes / entries:.1f}", pwb), _cell(f"{huff_codes / entries:.1f}", pwh),
                _cell(f"{index / entries:.1f}", pib), _cell(f"{huff_index / entries:.1f}", pih),
                _cell(ours[1], theirs[1]), _cell(ours[2], theirs[2]))

    for m, r in results.items():
        m = _model_key(m)
        rows.append((f"<b>{MODELS[m]}</b>",) + ("",) * 8)
        for name, paper, layer in zip(LAYER_NAMES[m], PAPER_LAYERS[m], r["layers"]):
            rows.append(row(name, paper, [layer[k] for k in keys]))
        sums = [sum(layer[k] for layer in r["layers"]) for k in keys]
        ours_x = (sums[0] / sums[1], r["compression_pq"], r["compression"])
        rows.append(row("total", PAPER_LAYERS[m][-1], sums, times=(ours_x, PAPER_TOTAL_X[m])))
    return rows


def verdict(result: dict) -> str:
    """One sentence on a result against the paper's Table 1, whichever way it went: the
    compression against the paper's, and the test error's change against the paper's bar of
    0.1 point, both as printed (two decimals)."""
    if not isinstance(result, dict) or "paper" not in result:
        raise ValueError("result must be the dict reproduce_deep_compression returns")
    p = result["paper"]
    gap = round(100 * (result["error"] - result["dense_error"]), 2)
    c = result["compression"]
    size = (f"{c:.1f}×, at least the paper's {p['compression']}×" if round(c, 1) >= p["compression"]
            else f"{c:.1f}×, {p['compression'] - c:.1f}× short of the paper's {p['compression']}×")
    if gap <= 0.10:
        err = f"{gap:+.2f} points, within the paper's 0.1 point"
    else:
        err = f"{gap:+.2f} points, {gap - 0.1:.2f} point beyond the paper's 0.1"
    return f"{size}, with a test-error change of {err}"


def _moved(what: str, before: float, after: float) -> str:
    """How an error moved, as printed (two decimals, in %)."""
    b, a = round(100 * before, 2), round(100 * after, 2)
    if a == b:
        return f"left the {what} unchanged at {a:.2f} %"
    return f"took the {what} from {b:.2f} % to {a:.2f} % ({'down' if a < b else 'up'})"


def fine_tuning_sentence(result: dict) -> str:
    """One sentence on what fine-tuning the centroids did, on validation and on test, whichever way
    it went: "fine-tuning at learning rate 0.0003 (chosen on validation) took the validation error
    from 2.14 % to 2.00 % (down) and the test error from 1.54 % to 1.50 % (down)"."""
    if not isinstance(result, dict) or "shared_val_error" not in result:
        raise ValueError("result must be the dict reproduce_deep_compression returns")
    if result["lr"] is None:
        return "no fine-tuning was run (epochs=0)"
    return (f"fine-tuning at learning rate {result['lr']:g} (chosen on validation) "
            f"{_moved('validation error', result['shared_val_error'], result['val_error'])} and "
            f"{_moved('test error', result['shared_error'], result['error'])}")
