r"""Case study: train a PhaseNet-style picker on synthetic seismograms, then compress it.

1. **Data** (:func:`dataset`): three-component synthetic events from :mod:`lib.seismic`
   (iasp91 travel times, shaped noise, SNR drawn per event), each trace normalised
   (:func:`lib.picker.normalize_traces`); PhaseNet's Gaussian labels. Train, validation and
   test events come from different seeds.
2. **The picker** (:func:`train_picker`): :class:`lib.picker.PhaseNetLike` trained through the
   book's one loop (:func:`lib.workbench.train.fit`) with the cross-entropy against the
   per-sample label probabilities (``nn.CrossEntropyLoss`` accepts probability targets of the
   logits' shape, so the loop's default loss already fits). A student is trained the same way
   with the distillation loss of :mod:`lib.distill` (every sample of every trace one example).
3. **Compression** (:func:`variant`): magnitude pruning (:mod:`lib.pruning`), filter pruning
   (:mod:`lib.structured`), per-channel weight quantisation after training and with
   quantisation-aware fine-tuning (:mod:`lib.qat`), a distilled smaller student, a
   depthwise-separable student, and combinations. Every setting is chosen on the
   validation split (:func:`choose`); the test split is scored once per reported picker.
4. **Scoring** (:func:`score`): PhaseNet's rule (a pick is a peak of probability above 0.5;
   it counts when within 0.1 s of the true arrival), precision, recall, F1 and the residuals
   of the matched picks, by :mod:`lib.seismic`; the classical pickers (STA/LTA and the AR
   picker, :mod:`lib.seismic`) tuned on the same validation events (:func:`classical`).

Everything trained or scored is kept in the one cache (:mod:`lib.core.cache`); latencies are
measured afresh (:func:`latency_ms`).

References
----------
.. [1] W. Zhu, G. C. Beroza, "PhaseNet: a deep-neural-network-based seismic arrival-time
   picking method", Geophysical Journal International 216(1), 2019, arXiv:1803.03211.
.. [2] G. Hinton, O. Vinyals, J. Dean, "Distilling the Knowledge in a Neural Network", 2014,
   arXiv:1503.02531.
.. [3] S. Han, H. Mao, W. J. Dally, "Deep Compression", ICLR 2016, arXiv:1510.00149.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from lib import picker, seismic
from lib.core import cache
from lib.core.checks import check_choice, check_int, check_real
from lib.distill import distillation_loss
from lib.pruning import global_magnitude_prune, remove_reparametrization
from lib.qat import dequantize_state_dict, quantize_model, quantize_state_dict
from lib.structured import group_magnitude_prune
from lib.workbench.data import Split
from lib.workbench.measure import count_macs, latency, storage_bits
from lib.workbench.train import TrainConfig, fit

__all__ = ["DATA", "TEACHER", "STUDENT", "SEPARABLE", "dataset", "train_picker", "variant", "build", "score",
           "soft_loss", "stored_bits", "macs", "latency_ms", "classical", "choose", "specs", "table_rows",
           "headline", "bench"]

SAMPLING_RATE = 100.0
#: The synthetic data: events per split, SNR range (dB) and seed.
DATA = {"n_train": 2000, "n_val": 300, "n_test": 600, "snr_lo": 0.0, "snr_hi": 20.0, "seed": 0}
#: The uncompressed picker: PhaseNet's widths and kernel.
#: P and S samples weigh 5 times a noise sample in the loss (about 1 % of the samples are near a pick:
#: unweighted, a few minutes of CPU training leave the P probability flat).
TEACHER = {"kind": "train", "widths": [8, 11, 16, 22, 32], "separable": False, "epochs": 4, "lr": 0.01,
           "batch": 16, "class_weight": [5.0, 5.0, 1.0], "seed": 0}
#: A student of about a quarter of the teacher's parameters, distilled (twice the epochs: it is cheaper
#: per step, and trained on the labels alone for 8 epochs it never lifted its P probability above 0.5).
STUDENT = {**TEACHER, "widths": [4, 6, 8, 11, 16], "epochs": 8, "teacher": TEACHER, "alpha": 0.5, "T": 2.0}
#: The teacher's widths with depthwise-separable convolutions (LPPN-like), distilled.
SEPARABLE = {**STUDENT, "widths": TEACHER["widths"], "separable": True}


# --------------------------------------------------------------------------- data
def _dataset(n_train: int, n_val: int, n_test: int, snr_lo: float, snr_hi: float, seed: int) -> dict:
    out = {}
    for i, (split, n) in enumerate((("train", n_train), ("val", n_val), ("test", n_test))):
        wave, p, s, meta = seismic.synthetic_events(n, seed=seed + 1000 * i, snr_db=(snr_lo, snr_hi),
                                                    sampling_rate=SAMPLING_RATE)
        out[f"X_{split}"] = picker.normalize_traces(wave).to(torch.float16)  # half the disk; N(0, 1) values
        out[f"p_{split}"], out[f"s_{split}"] = torch.as_tensor(p), torch.as_tensor(s)
        out[f"snr_{split}"] = torch.as_tensor(np.asarray(meta["snr_db"], dtype=np.float32))
        out[f"distance_{split}"] = torch.as_tensor(np.asarray(meta["distance_km"], dtype=np.float32))
    return out


_dataset_memo = cache.memo(_dataset, name="seismic-data", store="torch")


def dataset(**overrides) -> dict:
    """The synthetic events of :data:`DATA` (with ``overrides``): per split ``X_`` (normalised
    float32 ``(n, 3, 3000)``), ``p_``, ``s_`` (sample indices), ``snr_`` and ``distance_``."""
    unknown = set(overrides) - set(DATA)
    if unknown:
        raise ValueError(f"overrides must be keys of DATA {sorted(DATA)}, got {sorted(unknown)}")
    d = dict(_dataset_memo(**{**DATA, **overrides}))
    for split in ("train", "val", "test"):
        d[f"X_{split}"] = d[f"X_{split}"].float()
    return d


def labels(p_index, s_index, length: int = 3000) -> torch.Tensor:
    """PhaseNet's targets (P, S, noise) for the arrivals, as a float32 tensor."""
    return torch.as_tensor(seismic.phase_labels(np.asarray(p_index), np.asarray(s_index), length,
                                                sampling_rate=SAMPLING_RATE))


# --------------------------------------------------------------------------- training
def _config(spec: dict, steps: int = 0, lr: float | None = None) -> TrainConfig:
    """Adam, cosine schedule; ``spec``'s epochs, or ``steps`` mini-batches (a fine-tuning)."""
    return TrainConfig(model="phasenet_like", dataset="synthetic", optimizer="adam", batch_size=spec["batch"],
                       num_epochs=spec["epochs"], num_steps=steps, lr=spec["lr"] if lr is None else lr,
                       weight_decay=0.0, seed=spec["seed"])


def _weighted_ce(spec: dict):
    weight = torch.tensor(spec["class_weight"])
    return lambda out, y, _rows=None: nn.functional.cross_entropy(out, y, weight=weight)


def _split(d: dict) -> Split:
    length = d["X_train"].shape[-1]
    return Split(d["X_train"], labels(d["p_train"], d["s_train"], length), d["X_train"][:0],
                 d["X_train"][:0], 3, d["X_val"], labels(d["p_val"], d["s_val"], length))


def _val_loss(split: Split):
    def evaluate(net):
        with torch.no_grad():
            net.eval()
            loss = nn.functional.cross_entropy(net(split.X_val), split.y_val).item()
        return {"val_loss": loss}
    return evaluate


def new_net(spec: dict) -> picker.PhaseNetLike:
    return picker.PhaseNetLike(spec["widths"], separable=spec["separable"], seed=spec["seed"])


def soft_loss(out: torch.Tensor, teacher_logits: torch.Tensor, y: torch.Tensor, T: float) -> torch.Tensor:
    """Hinton et al.'s soft term (:func:`lib.distill.distillation_loss` with ``alpha=1``), every sample of
    every trace one example of three classes, on the samples near a pick only: where the teacher or
    the label gives P or S at least 1 %. Elsewhere both say noise, and on the 99 % of samples that
    are noise a batch mean would drown the few that matter (the weighted cross-entropy teaches noise)."""
    flat = lambda z: z.permute(0, 2, 1).reshape(-1, z.shape[1])  # noqa: E731
    s, t, target = flat(out), flat(teacher_logits), flat(y)
    near = (torch.softmax(t, dim=1)[:, 2] < 0.99) | (target[:, 2] < 0.99)
    if not near.any():
        return s.sum() * 0.0
    return distillation_loss(s[near], t[near], target[near].argmax(dim=1), T, 1.0)


def _train_picker(spec: dict, data: dict) -> dict:
    d = dataset(**data)
    split = _split(d)
    net = new_net(spec)
    loss = ce = _weighted_ce(spec)
    if spec.get("teacher"):
        teacher = build(spec["teacher"], data)
        teacher_logits = torch.cat([teacher.eval()(split.X_train[i:i + 100]).detach()
                                    for i in range(0, len(split.X_train), 100)])
        alpha, T = spec["alpha"], spec["T"]

        def loss(out, y, rows):
            return alpha * soft_loss(out, teacher_logits[rows], y, T) + (1 - alpha) * ce(out, y)

    history = fit(net, split, _config(spec), loss=loss, evaluate=_val_loss(split), desc="picker")
    return {"state": net.state_dict(), "history": history}


_train_memo = cache.memo(_train_picker, name="seismic-picker", store="torch")


def train_picker(spec: dict, data: dict | None = None) -> tuple[nn.Module, list[dict]]:
    """A trained picker (``spec["kind"] == "train"``), from the cache when it is there."""
    out = _train_memo(spec=spec, data=data or {})
    net = new_net(spec)
    net.load_state_dict(out["state"])
    return net.eval(), out["history"]


def _convs(net: nn.Module) -> list[tuple[nn.Module, str]]:
    return [(m, "weight") for m in net.modules() if isinstance(m, nn.Conv2d)]


def _variant(spec: dict, data: dict) -> dict:
    base = build(spec["base"], data)
    kind, d = spec["kind"], dataset(**data)
    split = _split(d)
    if kind == "prune":  # one global magnitude threshold over every convolution
        global_magnitude_prune(_convs(base), spec["amount"])
    elif kind == "filters":  # the filters (output channels) of smallest L2 norm, in every convolution but the head
        for m, _ in _convs(base)[:-1]:
            if m.groups == 1:
                group_magnitude_prune(m, "weight", spec["amount"], granularity="filter")
    elif kind == "qat":
        base = quantize_model(base, spec["bits"])
    if spec["steps"]:
        fit(base, split, _config(_root(spec), spec["steps"], spec["lr"]), loss=_weighted_ce(_root(spec)),
            evaluate=_val_loss(split), desc=kind)
    if kind in ("prune", "filters"):
        remove_reparametrization(base)
    if kind == "qat":  # the fine-tuned float weights, stored as per-channel integer codes
        net = new_net(_root(spec))
        net.load_state_dict(base.state_dict())
        return {"state": dequantize_state_dict(quantize_state_dict(net, spec["bits"]))}
    return {"state": base.state_dict()}


def _root(spec: dict) -> dict:
    while spec["kind"] != "train":
        spec = spec["base"]
    return spec


_variant_memo = cache.memo(_variant, name="seismic-variant", store="torch")


def variant(kind: str, base: dict, **settings) -> dict:
    """The spec of a compressed picker: ``kind`` applied to the picker ``base`` describes.

    ``"prune"`` (``amount``: fraction of all convolution weights, one global threshold),
    ``"filters"`` (``amount``: fraction of filters in each convolution), ``"qat"`` (``bits``:
    quantisation-aware fine-tuning), ``"ptq"`` (``bits``: rounding after training, no
    fine-tuning); ``steps`` (mini-batches) and ``lr`` of the fine-tuning.
    """
    check_choice("kind", kind, ("prune", "filters", "qat", "ptq"))
    if not isinstance(base, dict) or "kind" not in base:
        raise ValueError(f"base must be a picker spec (a dict with a 'kind'), got {base!r}")
    spec = {"kind": kind, "base": base, "steps": 0, "lr": 0.002, **settings}
    if kind in ("prune", "filters"):
        check_real("amount", spec.get("amount"), 0.0, 1.0)
    else:
        check_int("bits", spec.get("bits"), 2, 16)
    if kind == "ptq":
        spec["steps"] = 0
    return spec


def build(spec: dict, data: dict | None = None) -> nn.Module:
    """The picker ``spec`` describes (a plain :class:`~lib.picker.PhaseNetLike`, eval mode)."""
    data = data or {}
    if spec["kind"] == "train":
        return train_picker(spec, data)[0]
    if spec["kind"] == "ptq":
        base = build(spec["base"], data)
        base.load_state_dict(dequantize_state_dict(quantize_state_dict(base, spec["bits"])))
        return base.eval()
    net = new_net(_root(spec))
    net.load_state_dict(_variant_memo(spec=spec, data=data)["state"])
    return net.eval()


# --------------------------------------------------------------------------- scoring
def _picks(prob: torch.Tensor) -> list[list[int]]:
    return seismic.picks_from_probability(prob.numpy(), threshold=0.5, sampling_rate=SAMPLING_RATE)


def _phase_scores(true, pred) -> dict:
    precision, recall, f1 = seismic.pick_scores(list(true), pred, SAMPLING_RATE, tolerance=0.1)
    res = np.asarray(seismic.pick_residuals(list(true), pred, SAMPLING_RATE, tolerance=0.1), dtype=float)
    return {"precision": precision, "recall": recall, "f1": f1,
            "mean_s": float(res.mean()) if res.size else float("nan"),
            "std_s": float(res.std()) if res.size else float("nan")}


def _score(spec: dict, split: str, data: dict) -> dict:
    d = dataset(**data)
    prob = picker.probabilities(build(spec, data), d[f"X_{split}"])
    return {"P": _phase_scores(d[f"p_{split}"].tolist(), _picks(prob[:, 0])),
            "S": _phase_scores(d[f"s_{split}"].tolist(), _picks(prob[:, 1]))}


_score_memo = cache.memo(_score, name="seismic-score", store="json")


def score(spec: dict, split: str = "val", data: dict | None = None) -> dict:
    """``{"P": {...}, "S": {...}}``: precision, recall, F1, residual mean and spread (s) of the
    picker ``spec`` on ``split`` ("val" to choose, "test" to report)."""
    check_choice("split", split, ("val", "test"))
    return _score_memo(spec=spec, split=split, data=data or {})


# --------------------------------------------------------------------------- cost
def _best_index_bits(w: torch.Tensor, value_bits: int) -> int:
    return min(storage_bits(w, "relative", value_bits=value_bits, index_bits=b) for b in (2, 3, 4, 5, 6, 8))


def stored_bits(net: nn.Module, weight_bits: int = 32, sparse: bool = False) -> int:
    r"""Every bit the picker stores: convolution weights at ``weight_bits`` (dense, or in Deep
    Compression's relative-index format when ``sparse``, its index width the cheapest of 2 to 8
    bits per layer), a 32-bit scale per output channel when quantised, and 32 bits for every
    bias and BatchNorm parameter (its running statistics fold into them for inference). A filter
    whose weights are all zero is not stored (a physically smaller layer would drop it; its
    BatchNorm shift still feeds the next layer, so that stays)."""
    weight_bits = check_int("weight_bits", weight_bits, 1, 32)
    total = 0
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            w = m.weight.detach()
            w = w[w.flatten(1).abs().sum(1) > 0]  # a filter of zeros is not stored (filter pruning removes it)
            total += _best_index_bits(w, weight_bits) if sparse else w.numel() * weight_bits
            total += 32 * w.shape[0] * (weight_bits < 32) + (32 * m.bias.numel() if m.bias is not None else 0)
        elif isinstance(m, nn.BatchNorm2d):
            total += 32 * (m.weight.numel() + m.bias.numel())
    return total


def macs(net: nn.Module, nonzero_only: bool = False) -> int:
    """Multiply-accumulates per 30-second window (3 x 3000 samples)."""
    return count_macs(net, (3, 3000), nonzero_only=nonzero_only)["total"]


def latency_ms(net: nn.Module, runs: int = 30) -> float:
    """Median time of one 30-second window through ``net`` on the thread count in force (ms)."""
    x = torch.randn(1, 3, 3000, generator=torch.Generator().manual_seed(0))
    return latency(net, x, warmup=5, runs=runs)["median_ms"]


def latencies(calls: dict, rounds: int = 5, runs: int = 10) -> dict[str, float]:
    """Time per call (ms) of every ``calls[name]()``: the median of ``runs`` calls, the fastest of
    ``rounds`` rounds that visit the calls in turn, so that a busy moment of a shared machine slows
    one round of every picker rather than all the rounds of one."""
    rounds, runs = check_int("rounds", rounds, 1), check_int("runs", runs, 1)
    best = {name: float("inf") for name in calls}
    with torch.inference_mode():
        for _ in range(rounds):
            for name, call in calls.items():
                call()  # warm-up
                times = []
                for _ in range(runs):
                    t0 = time.perf_counter()
                    call()
                    times.append(time.perf_counter() - t0)
                best[name] = min(best[name], 1e3 * float(np.median(times)))
    return best


# --------------------------------------------------------------------------- classical pickers
STA_LTA_GRID = {"sta": [0.2, 0.5], "lta": [2.0, 5.0], "on": [3.0, 5.0, 8.0]}
AR_GRID = {"f1": [1.0, 2.0], "f2": [10.0, 20.0]}


def _classical(data: dict) -> dict:
    d = dataset(**data)
    raw = {s: d[f"X_{s}"].numpy().astype(np.float64) for s in ("val", "test")}
    out = {}
    best = None
    for sta in STA_LTA_GRID["sta"]:
        for lta in STA_LTA_GRID["lta"]:
            for on in STA_LTA_GRID["on"]:
                pred = seismic.sta_lta_picks(raw["val"], SAMPLING_RATE, sta=sta, lta=lta, on=on, off=1.5)
                f1 = _phase_scores(d["p_val"].tolist(), pred)["f1"]
                if best is None or f1 > best[0]:
                    best = (f1, {"sta": sta, "lta": lta, "on": on, "off": 1.5})
    pred = seismic.sta_lta_picks(raw["test"], SAMPLING_RATE, **best[1])
    out["sta_lta"] = {"settings": best[1], "val_f1": best[0], "P": _phase_scores(d["p_test"].tolist(), pred)}
    best = None
    for f1_ in AR_GRID["f1"]:
        for f2 in AR_GRID["f2"]:
            p, s = seismic.ar_picks(raw["val"], SAMPLING_RATE, f1=f1_, f2=f2)
            f1 = _phase_scores(d["p_val"].tolist(), p)["f1"]
            if best is None or f1 > best[0]:
                best = (f1, {"f1": f1_, "f2": f2})
    p, s = seismic.ar_picks(raw["test"], SAMPLING_RATE, **best[1])
    out["ar"] = {"settings": best[1], "val_f1": best[0], "P": _phase_scores(d["p_test"].tolist(), p),
                 "S": _phase_scores(d["s_test"].tolist(), s)}
    return out


_classical_memo = cache.memo(_classical, name="seismic-classical", store="json")


def classical(data: dict | None = None) -> dict:
    """STA/LTA and the AR picker, their settings chosen on validation F1 (P), scored on test."""
    return _classical_memo(data=data or {})


# --------------------------------------------------------------------------- choices and the table
#: What the validation search tries.
PRUNE_AMOUNTS = (0.7, 0.8, 0.9)
FILTER_AMOUNTS = (0.25, 0.5)
PTQ_BITS = (8, 6, 4)
#: Mini-batches of every fine-tuning (a third of an epoch).
FINETUNE_STEPS = 40
#: How much validation P F1 a compression may lose and still be chosen.
SLACK = 0.005


def choose(candidates: list[dict], reference: float, data: dict | None = None) -> dict:
    """The last (most compressed) candidate whose validation P F1 is within :data:`SLACK` of
    ``reference``; the first one when none is."""
    chosen = candidates[0]
    for spec in candidates:
        if score(spec, "val", data)["P"]["f1"] >= reference - SLACK:
            chosen = spec
    return chosen


def specs(data: dict | None = None) -> dict[str, dict]:
    """The pickers of the table, each compression's setting chosen on the validation split."""
    ref = score(TEACHER, "val", data)["P"]["f1"]
    pruned = choose([variant("prune", TEACHER, amount=a, steps=FINETUNE_STEPS) for a in PRUNE_AMOUNTS], ref, data)
    filters = choose([variant("filters", TEACHER, amount=a, steps=FINETUNE_STEPS) for a in FILTER_AMOUNTS], ref, data)
    ptq = choose([variant("ptq", TEACHER, bits=b) for b in PTQ_BITS], ref, data)
    return {
        "uncompressed": TEACHER,
        "magnitude pruning": pruned,
        "filter pruning": filters,
        "int8 (after training)": variant("ptq", TEACHER, bits=8),
        f"int{ptq['bits']} (after training)": ptq,
        "int4 (QAT)": variant("qat", TEACHER, bits=4, steps=FINETUNE_STEPS),
        "distilled student": STUDENT,
        "separable student": SEPARABLE,
        "pruned + int8": variant("ptq", pruned, bits=8),
        f"pruned + int{ptq['bits']}": variant("ptq", pruned, bits=ptq["bits"]),
        "student + int8": variant("ptq", STUDENT, bits=8),
        "separable + int8": variant("ptq", SEPARABLE, bits=8),
    }


def _bits_of(spec: dict, net: nn.Module) -> int:
    bits = spec["bits"] if spec["kind"] in ("ptq", "qat") else 32
    sparse = any(s["kind"] == "prune" for s in _chain(spec))
    return stored_bits(net, bits, sparse)


def _chain(spec: dict) -> list[dict]:
    out = [spec]
    while out[-1]["kind"] != "train":
        out.append(out[-1]["base"])
    return out


def table_rows(data: dict | None = None, with_latency: bool = True) -> list[dict]:
    """One row per picker: ``name``, ``params`` (non-zero), ``bits``, ``macs`` (dense kernel),
    ``latency_ms`` (one window, measured now by :func:`latencies`), and test ``P``/``S`` scores; the
    classical pickers last."""
    rows, calls = [], {}
    x = torch.randn(1, 3, 3000, generator=torch.Generator().manual_seed(0))
    for name, spec in specs(data).items():
        net = build(spec, data)
        s = score(spec, "test", data)
        calls[name] = lambda net=net: net(x)
        rows.append({"name": name, "spec": spec, "params": sum(int((p != 0).sum()) for p in net.parameters()),
                     "bits": _bits_of(spec, net), "macs": macs(net), "P": s["P"], "S": s["S"]})
    c = classical(data)
    wave = dataset(**(data or {}))["X_test"][:1].numpy().astype(np.float64)
    calls["STA/LTA"] = lambda: seismic.sta_lta_picks(wave, SAMPLING_RATE, **c["sta_lta"]["settings"])
    calls["AR picker"] = lambda: seismic.ar_picks(wave, SAMPLING_RATE, **c["ar"]["settings"])
    rows.append({"name": "STA/LTA", "spec": None, "params": 0, "bits": 0, "macs": 0, "P": c["sta_lta"]["P"],
                 "S": None})
    rows.append({"name": "AR picker", "spec": None, "params": 0, "bits": 0, "macs": 0, "P": c["ar"]["P"],
                 "S": c["ar"]["S"]})
    ms = latencies(calls) if with_latency else {}
    for r in rows:
        r["latency_ms"] = ms.get(r["name"], float("nan"))
    return rows


def headline(rows: list[dict], data: dict | None = None, factor: float = 10.0) -> dict | None:
    """Of the pickers at least ``factor`` times smaller in stored bits than the uncompressed one (the
    first row), the one with the best *validation* P F1 (the fewer bits on a tie); None if there is none."""
    small = [r for r in rows if r["spec"] is not None and r["bits"] * factor <= rows[0]["bits"]]
    if not small:
        return None
    return max(small, key=lambda r: (score(r["spec"], "val", data)["P"]["f1"], -r["bits"]))


def bench(data: dict | None = None) -> dict:
    """The case study's headline figures (for ``make bench``)."""
    table = table_rows(data)
    rows = {r["name"]: r for r in table}
    ref = rows["uncompressed"]
    best = headline(table, data)
    out = {"picker_params": ref["params"], "picker_bits": ref["bits"], "picker_latency_ms": ref["latency_ms"],
           "picker_P_f1": ref["P"]["f1"], "picker_S_f1": ref["S"]["f1"],
           "picker_P_residual_std_s": ref["P"]["std_s"],
           "sta_lta_P_f1": rows["STA/LTA"]["P"]["f1"], "ar_P_f1": rows["AR picker"]["P"]["f1"],
           "ar_S_f1": rows["AR picker"]["S"]["f1"]}
    if best is not None:
        out.update({"compressed_name": best["name"], "compressed_ratio": ref["bits"] / best["bits"],
                    "compressed_P_f1": best["P"]["f1"], "compressed_latency_ms": best["latency_ms"]})
    return out
