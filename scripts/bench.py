"""Benchmarks for the book (``make bench``): prints a table and writes ``_build/bench.json``.

Figures, all measured on the machine that runs this script:

- clean build: ``rm -rf _build`` then the full build (every notebook executed);
- no-change rebuild: the same build again (target < 60 s);
- per-notebook execution time in a fresh kernel;
- per-page weight: bytes of the HTML plus every distinct file the page requests in Chromium
  (sizes on disk, so a video counts whole even if the browser fetched part of it);
- slider-to-frame: for every slider of every widget, the time from dispatching
  an ``input`` event to the end of the widget's redraw (the ``fc:frame`` event),
  median and 95th percentile over many moves, each move in its own animation
  frame as in a real drag (targets: p95 < 16 ms browser-computed, < 50 ms
  precomputed). The wait for the display's next refresh (up to 16.7 ms at
  60 Hz, set by the screen, not the widget) is reported separately.

Speed targets are reported, never asserted: tests stay deterministic.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import build  # noqa: E402

from lib import book  # noqa: E402
from tests import browser as B  # noqa: E402

MOVES = int(os.environ.get("FC_BENCH_MOVES", "120"))

# Runs in the page: move one slider MOVES times, one move per animation frame.
SLIDER_JS = """async ([el, moves]) => {
  const root = el.closest('.fc-widget');
  const lo = Number(el.min), hi = Number(el.max), step = Number(el.step) || 1;
  const n = Math.max(1, Math.round((hi - lo) / step));
  const draw = [], frame = [];
  let drawnAt = 0;
  root.addEventListener('fc:frame', e => { drawnAt = e.detail.t; });
  for (let i = 0; i < moves; i++) {
    await new Promise(r => requestAnimationFrame(r));
    const k = i % (2 * n), pos = k <= n ? k : 2 * n - k;   // sweep back and forth
    el.value = String(lo + ((pos * 7919) % (n + 1)) * step);
    const t0 = performance.now();
    drawnAt = 0;
    el.dispatchEvent(new Event('input', { bubbles: true }));
    if (!drawnAt) continue;                                  // value did not change: no frame
    draw.push(drawnAt - t0);
    await new Promise(r => requestAnimationFrame(r));
    frame.push(performance.now() - t0);
  }
  return { draw, frame };
}"""


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def bench_builds() -> dict:
    shutil.rmtree(ROOT / "_build", ignore_errors=True)
    clean = build.build(["-q"])
    again = build.build(["-q"])
    return {"clean_build_s": round(clean, 2), "no_change_rebuild_s": round(again, 2)}


def bench_notebooks() -> dict:
    import nbformat
    from nbclient import NotebookClient

    out = {}
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        t0 = time.perf_counter()
        NotebookClient(nb, timeout=1800, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        out[path.stem] = round(time.perf_counter() - t0, 2)
    return out


def files_bytes(urls: list[str], base: str) -> int:
    """Size on disk of every distinct built file the page requested (videos counted whole)."""
    from urllib.parse import unquote, urlparse

    paths = {unquote(urlparse(u).path) for u in urls if u.startswith(base)}
    files = [B.HTML / p.lstrip("/") for p in paths]
    return sum(f.stat().st_size for f in files if f.is_file())


def bench_pages() -> tuple[dict, list]:
    weights, sliders = {}, []
    with B.serve() as base, B.browser() as b:
        for name in sorted(book.available()):
            rel = f"chapters/{name}.html"
            page, log = B.open_page(b, base + rel, base)
            n = B.expected_widgets(B.HTML / rel)
            if n:
                B.wait_for_widgets(page, n)
            page.wait_for_timeout(500)
            weights[rel] = {"bytes": files_bytes(log.requests, base), "requests": len(set(log.requests))}
            for i, s in enumerate(B.sliders(page)):
                if s.evaluate("el => el.disabled"):
                    continue
                kind, widget = s.evaluate(
                    "el => [el.closest('.fc-widget').dataset.kind, el.closest('.fc-widget').dataset.widget]")
                label = s.evaluate("el => el.getAttribute('aria-label')")
                r = page.evaluate(SLIDER_JS, [s, MOVES])
                sliders.append({
                    "page": rel, "widget": widget, "kind": kind, "slider": label, "moves": len(r["draw"]),
                    "draw_median_ms": round(statistics.median(r["draw"]), 3),
                    "draw_p95_ms": round(pct(r["draw"], 0.95), 3),
                    "next_frame_median_ms": round(statistics.median(r["frame"]), 2),
                    "target_p95_ms": 16 if kind == "browser" else 50,
                })
            page.context.close()
    return weights, sliders


def bench_fft() -> dict:
    """Own FFT against numpy.fft (ratio reported, not asserted) and the O(n^2) DFT crossover."""
    import numpy as np

    from lib.core import config
    from lib import fourier
    from lib.workbench.measure import time_call

    config.set_threads(1)
    rows = []
    for p in range(10, 21):
        x = np.random.default_rng(p).normal(size=2 ** p)
        own = time_call(fourier.fft, x, repeat=5, min_time=0.05)["median"]
        ref = time_call(np.fft.fft, x, repeat=5, min_time=0.05)["median"]
        rows.append({"n": 2 ** p, "own_ms": round(own * 1e3, 4), "numpy_ms": round(ref * 1e3, 4),
                     "ratio": round(own / ref, 2)})
    crossover = None
    for p in range(2, 11):
        x = np.random.default_rng(p).normal(size=2 ** p)
        if time_call(fourier.fft, x, repeat=5, min_time=0.02)["median"] < time_call(fourier.dft, x, repeat=5, min_time=0.02)["median"]:
            crossover = 2 ** p
            break
    prime = 4099
    x = np.random.default_rng(1).normal(size=prime)
    blue = time_call(fourier.fft, x, repeat=5, min_time=0.05)["median"]
    return {"fft_vs_numpy": rows, "dft_crossover_n": crossover,
            "bluestein_n4099_ms": round(blue * 1e3, 3)}


def bench_pruning() -> dict:
    """Han et al. (2015) on MNIST: dense and pruned error and compression, beside the paper's Table 1.
    Cached by configuration: the first run trains (about 1.5 min for LeNet-300-100, about 10 for LeNet-5)."""
    from lib.experiments import han2015

    out = {}
    for model in ("lenet_300_100", "lenet5"):
        r = han2015.reproduce_han2015(model)  # amount chosen on the validation split, as in the book
        out[model] = {k: r[k] for k in ("amount", "dense_val_error", "pruned_val_error", "dense_error", "pruned_error",
                                        "weights", "nonzero", "compression", "layer_kept", "paper", "search")}
    return out


def bench_deep_compression() -> dict:
    """Deep Compression (prune, share by k-means, Huffman-code) on MNIST, every stored bit counted;
    cached by configuration (built on the cached Han et al. pruning)."""
    from lib.experiments import deep_compression

    out = {}
    for model in ("lenet_300_100", "lenet5"):
        r = deep_compression.reproduce_deep_compression(model)
        out[model] = {k: r[k] for k in ("dense_error", "error", "compression_pruned", "compression_pq", "compression",
                                        "compression_with_biases", "paper")}
    return out


def bench_int8() -> dict:
    """Both LeNets in float32 and in int8 with PyTorch's quantised kernels (``lib.integer.int8_model``,
    x86 backend, 512 calibration images): test error and latency at batch 1 and 256, 1 thread."""
    import torch

    from lib import integer
    from lib.workbench import measure, train

    torch.set_num_threads(1)
    out = {}
    for model in ("lenet_300_100", "lenet5"):
        cfg = train.baseline(model)
        d = train.load_data(cfg)
        net, _ = train.train_cached(cfg)
        nets = {"float32": net.eval(), "int8": integer.int8_model(net, d.X_train[:512])}
        r = {k: {"error": train.error_rate(n, d.X_test, d.y_test)} for k, n in nets.items()}
        for b, runs in ((1, 200), (256, 20)):
            for k, n in nets.items():
                r[k][f"batch{b}_ms"] = measure.latency(n, d.X_test[:b], warmup=10, runs=runs)["median_ms"]
        out[model] = {**r, "speedup": {b: r["float32"][f"batch{b}_ms"] / r["int8"][f"batch{b}_ms"] for b in (1, 256)}}
    return out


def bench_structured() -> dict:
    """Network Slimming on VGG-small (cached training; latencies measured afresh by the function on a
    first run only, so they are re-measured here) and CSR against dense for LeNet-300-100's fc1."""
    import copy

    import torch

    from lib import channels
    from lib.experiments import slimming
    from lib.workbench import measure

    s = slimming.network_slimming()
    torch.set_num_threads(1)
    baseline, slim = slimming.slimming_nets()
    small = slimming.slimmed_net()
    masked = channels.mask_channels(copy.deepcopy(slim), slimming.slimming_plan())
    lat = {}
    for b in (1, 256):
        x = torch.randn(b, 1, 28, 28)
        runs = 200 if b == 1 else 20
        lat[b] = {k: measure.latency(n, x, warmup=10, runs=runs)["median_ms"]
                  for k, n in (("dense", baseline), ("masked", masked), ("removed", small))}
    sparse = measure.sparse_vs_dense(300, 784, sparsities=[0.5, 0.8, 0.9, 0.95, 0.98, 0.99], batch_sizes=[1, 256])
    crossover = {b: min([r["sparsity"] for r in sparse if r["batch"] == b and r["speedup"] > 1], default=None)
                 for b in (1, 256)}
    return {"slimming": {"dense_error": s["dense_error"], "pruned_error": s["pruned_error"],
                         "prune_fraction": s["config"]["prune_fraction"], "mac_ratio": s["mac_ratio"],
                         "param_ratio": s["param_ratio"],
                         "speedup_removed": {b: lat[b]["dense"] / lat[b]["removed"] for b in lat},
                         "speedup_masked": {b: lat[b]["dense"] / lat[b]["masked"] for b in lat}},
            "csr_fc1": sparse, "csr_crossover_sparsity": crossover, "threads": 1}


def bench_low_rank() -> dict:
    """Low-rank decompositions (issue 13): SVD of LeNet-300-100 (rank chosen on validation), CP and Tucker on the
    BatchNorm VGG (MAC ratio, error after fine-tuning, speed-up at batch 1 and 256, 1 thread), a TT layer on MNIST,
    each beside the papers' figures. Cached by configuration; latencies measured afresh."""
    import torch

    from lib.experiments import low_rank

    torch.set_num_threads(1)
    svd = low_rank.svd_search()
    svd_lat = low_rank.svd_latency()
    vgg = {m: low_rank.decompose_vgg(m) for m in ("cp", "tucker-vbmf")}
    nets = {"dense": low_rank.vgg()[0], "cp": low_rank.vgg_nets("cp")[1], "tucker-vbmf": low_rank.vgg_nets("tucker-vbmf")[1]}
    lat = low_rank.vgg_latency(nets)
    tt = low_rank.tt_lenet()
    return {"svd": {k: svd[k] for k in ("factor", "ranks", "params", "dense_params", "compression", "passed",
                                        "dense_test", "test_before", "test_after")},
            "svd_speedup": {b: t["dense"] / t["svd"] for b, t in svd_lat.items()},
            "vgg_dense_test": low_rank.vgg_dense_errors()["test"],
            "vgg": {m: {"ranks": r["ranks"], "mac_ratio": r["mac_ratio"], "param_ratio": r["param_ratio"],
                        "test_after": r["test_after"], "speedup": {b: lat[b]["dense"] / lat[b][m] for b in lat}}
                    for m, r in vgg.items()},
            "tt": {k: tt[k] for k in ("rank", "fc1_compression", "network_compression", "dense_test", "test_after")},
            "paper": low_rank.PAPERS, "threads": 1}


def bench_fast_convolution() -> dict:
    """FFT against direct convolution (crossover kernel size) and Winograd's counts, errors and times (1 thread)."""
    import torch

    from lib.experiments import fast_convolution

    torch.set_num_threads(1)
    return fast_convolution.bench()


def bench_structured_matrices() -> dict:
    """Circulant, Fastfood and ACDC layers: MNIST error and parameters beside dense (cached training), and the
    width from which each is faster than a dense layer (timings fresh, 1 thread)."""
    import torch

    from lib.experiments import structured_matrices

    torch.set_num_threads(1)
    return structured_matrices.bench()


def bench_chapter(name: str):
    """A chapter's headline figures from ``lib.experiments.<name>.bench()`` (cached training; timings fresh,
    1 thread): the chapters written from issue 14 on each provide one."""
    def run() -> dict:
        import importlib

        import torch

        torch.set_num_threads(1)
        return importlib.import_module(f"lib.experiments.{name}").bench()
    return run


#: (key, what it measures) of the chapters whose figures come from their own bench().
CHAPTER_BENCHES = [
    ("hashing", "HashedNets at 1/8 and 1/64 against equal-size, low-rank and random edge removal; sharing; LCNN"),
    ("distillation", "the distilled student against the same student alone; temperature and width"),
    ("compact_convolutions", "depthwise-separable, factorised and fire blocks: MAC ratio against measured speed-up"),
    ("nas", "random search, regularised evolution and DARTS on one budget, against hand-designed networks"),
    ("combining", "stacked methods on LeNet-5, the book's chart and its Pareto front, the stretch against 39x"),
    ("seismic", "the PhaseNet-style picker against STA/LTA and the AR picker; compressed pickers; latency per window"),
]


def main() -> None:
    results = {"machine": {"python": platform.python_version(), "cpu_count": os.cpu_count(),
                           "platform": platform.platform()}}
    steps = [("build", "clean build and no-change rebuild", bench_builds),
             ("notebooks_s", "notebooks in fresh kernels", bench_notebooks),
             ("fft", "FFT against numpy.fft", bench_fft),
             ("pruning", "Han et al. 2015 pruning on MNIST (cached by config)", bench_pruning),
             ("deep_compression", "Deep Compression on MNIST (cached by config)", bench_deep_compression),
             ("structured", "Network Slimming and sparse kernels (cached training; timings fresh)", bench_structured),
             ("int8", "int8 (PyTorch's quantised kernels) against float32 (timings fresh)", bench_int8),
             ("low_rank", "SVD, CP, Tucker and TT on MNIST (cached by config; timings fresh)", bench_low_rank),
             ("fast_convolution", "FFT and Winograd convolution (timings fresh)", bench_fast_convolution),
             ("structured_matrices", "circulant, Fastfood and ACDC layers (cached training; timings fresh)",
              bench_structured_matrices),
             *[(key, label, bench_chapter(key)) for key, label in CHAPTER_BENCHES],
             ("pages", "pages and sliders in Chromium", bench_pages)]
    for key, label, fn in steps:
        print(f"bench: {label} ...", flush=True)
        results[key] = fn()
    results["pages"], results["sliders"] = results["pages"]
    (ROOT / "_build").mkdir(exist_ok=True)
    (ROOT / "_build" / "bench.json").write_text(json.dumps(results, indent=2))

    b = results["build"]
    print(f"\nclean build            {b['clean_build_s']:8.1f} s")
    print(f"no-change rebuild      {b['no_change_rebuild_s']:8.1f} s   (target < 60 s)")
    for name, s in results["notebooks_s"].items():
        print(f"notebook {name:<22}{s:6.1f} s")
    for rel, w in results["pages"].items():
        print(f"page {rel:<34}{w['bytes'] / 1e6:6.2f} MB in {w['requests']} requests")
    fft = results["fft"]
    print(f"\n{'n':>9}{'own fft':>12}{'numpy.fft':>12}{'ratio':>8}")
    for r in fft["fft_vs_numpy"]:
        print(f"{r['n']:>9}{r['own_ms']:>9.3f} ms{r['numpy_ms']:>9.3f} ms{r['ratio']:>7.1f}x")
    print(f"own FFT beats the O(n^2) DFT from n = {fft['dft_crossover_n']}; "
          f"Bluestein FFT at prime n = 4099: {fft['bluestein_n4099_ms']} ms")
    print(f"\n{'model':<15}{'dense err':>10}{'pruned err':>11}{'change':>8}{'compression':>12}   paper (dense, pruned, x)")
    for model, r in results["pruning"].items():
        p = r["paper"]
        print(f"{model:<15}{100 * r['dense_error']:>9.2f}%{100 * r['pruned_error']:>10.2f}%"
              f"{100 * (r['pruned_error'] - r['dense_error']):>+7.2f}{r['compression']:>11.1f}x"
              f"   {p['dense_error']:.2f}%, {p['pruned_error']:.2f}%, {p['compression']}x")
    for model, r in results["deep_compression"].items():
        print(f"Deep Compression {model}: error {100 * r['dense_error']:.2f}% -> {100 * r['error']:.2f}%, "
              f"{r['compression_pruned']:.1f}x pruned, {r['compression_pq']:.1f}x + shared, {r['compression']:.1f}x + Huffman "
              f"(paper: {r['paper']})")
    st = results["structured"]
    sl = st["slimming"]
    print(f"\nNetwork Slimming, VGG-small on MNIST: {100 * sl['prune_fraction']:.0f} % of channels removed, error "
          f"{100 * sl['dense_error']:.2f}% -> {100 * sl['pruned_error']:.2f}%, MACs {sl['mac_ratio']:.2f}x fewer; "
          f"speed-up removed {sl['speedup_removed'][1]:.2f}x (batch 1) / {sl['speedup_removed'][256]:.2f}x (batch 256), "
          f"masked {sl['speedup_masked'][1]:.2f}x / {sl['speedup_masked'][256]:.2f}x (1 thread)")
    print(f"CSR beats dense for a 300x784 layer from sparsity {st['csr_crossover_sparsity'][1]} (batch 1), "
          f"{st['csr_crossover_sparsity'][256]} (batch 256)")
    for model, r in results["int8"].items():
        print(f"int8 {model}: error {100 * r['float32']['error']:.2f}% -> {100 * r['int8']['error']:.2f}%; "
              f"latency {r['float32']['batch1_ms']:.3f} -> {r['int8']['batch1_ms']:.3f} ms at batch 1 "
              f"({r['speedup'][1]:.2f}x), {r['float32']['batch256_ms']:.2f} -> {r['int8']['batch256_ms']:.2f} ms "
              f"at batch 256 ({r['speedup'][256]:.2f}x), 1 thread")
    lr = results["low_rank"]
    sv = lr["svd"]
    print(f"\nSVD LeNet-300-100 (c = {sv['factor']:g}, ranks {sv['ranks']}, chosen on validation): {sv['compression']:.1f}x "
          f"fewer parameters, test error {100 * sv['dense_test']:.2f}% -> {100 * sv['test_after']:.2f}%; speed-up "
          f"{lr['svd_speedup'][1]:.2f}x (batch 1) / {lr['svd_speedup'][256]:.2f}x (batch 256)")
    for m, r in lr["vgg"].items():
        print(f"{m} VGG conv2+conv3 {r['ranks']}: {r['mac_ratio']:.1f}x fewer MACs, test error "
              f"{100 * lr['vgg_dense_test']:.2f}% -> {100 * r['test_after']:.2f}%, speed-up {r['speedup'][1]:.2f}x (batch 1) / "
              f"{r['speedup'][256]:.2f}x (batch 256), 1 thread")
    tt = lr["tt"]
    print(f"TT fc1 (rank {tt['rank']}): fc1 {tt['fc1_compression']:.0f}x, network {tt['network_compression']:.1f}x, test error "
          f"{100 * tt['dense_test']:.2f}% -> {100 * tt['test_after']:.2f}%")
    print("papers: Lebedev 2015 8.5x CPU speed-up at ~1 point (char CNN); Kim 2016 AlexNet 5.46x smaller, 2.72x faster "
          "(Galaxy S6; not verified here); Novikov 2015 FC layer up to 200,000x, network up to 7x")
    fc = results["fast_convolution"]
    print(f"\nFFT convolution beats conv2d from kernel {fc['fft_crossover_kernel']} (16 channels, 32x32, batch 8); "
          f"FFT / direct time at 3x3: {fc['fft_over_direct_time_k3']:.1f}x")
    for m in (2, 4):
        print(f"Winograd F({m}x{m},3x3): {fc[f'winograd_F{m}x{m}_3x3_mult_reduction']:.2f}x fewer multiplications, "
              f"relative error float32 {fc[f'winograd_F{m}x{m}_3x3_float32_rel_error']:.1e}, float16 "
              f"{fc[f'winograd_F{m}x{m}_3x3_float16_rel_error']:.1e} (direct float16: {fc['direct_3x3_float16_rel_error']:.1e}); "
              f"time / conv2d {fc[f'winograd_m{m}_over_conv2d_time']:.1f}x")
    sm = results["structured_matrices"]
    for kind, r in sm["mnist"].items():
        print(f"structured layer {kind:<12} test error {100 * r['test_error']:.2f}%, {r['layer_params']:,} layer parameters, "
              f"{r['params']:,} in the network")
    for b, widths in sm["crossover_width"].items():
        print(f"batch {b}: faster than dense from width " + ", ".join(f"{k} {w}" for k, w in widths.items()))
    for key, label in CHAPTER_BENCHES:  # each chapter's own headline figures, as its bench() returns them
        print(f"\n{key} ({label}):\n" + json.dumps(results[key], indent=1, default=str)[:4000])
    print(f"\n{'widget':<18}{'slider':<30}{'draw median':>12}{'draw p95':>10}{'target':>8}{'next frame':>12}")
    for s in results["sliders"]:
        ok = "ok" if s["draw_p95_ms"] < s["target_p95_ms"] else "MISSED"
        print(f"{s['widget']:<18}{s['slider'][:29]:<30}{s['draw_median_ms']:>9.2f} ms{s['draw_p95_ms']:>7.2f} ms"
              f"{s['target_p95_ms']:>5} ms{s['next_frame_median_ms']:>9.1f} ms  {ok}")
    print("\nwritten to _build/bench.json")


if __name__ == "__main__":
    main()
