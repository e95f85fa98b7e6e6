r"""Neural architecture search on a CPU-sized proxy: three searchers, one budget, one objective.

The proxy task is scikit-learn's 8x8 digits (1,077 training images, 360 validation, 360
test; :func:`lib.workbench.data.digits` with ``val_size=360``): every candidate of
:mod:`lib.nas`'s search space is trained from scratch for :data:`EPOCHS` epochs (Adam, the
workbench's :func:`lib.workbench.train.fit`), scored on the *validation* split, and its
batch-1 latency measured on this CPU (:func:`lib.workbench.measure.latency`, one thread).
The fitness is MnasNet's reward, validation accuracy times ``(latency / TARGET_MS) ** -0.07``.

- :func:`search` runs random search or regularised evolution for ``budget`` evaluations;
- :func:`darts` trains a first-order DARTS supernet with a latency term from a measured
  per-operation table, derives the arg-max genotype after every epoch and evaluates it
  exactly like the other searchers' candidates;
- :func:`finalists` retrains each searcher's best genotype and the hand-designed networks
  with the same recipe and reads the test split once for each.

Every search records the CPU seconds it spent (``time.process_time``) after each
evaluation, so searchers are compared at equal cost. Searches and trainings are kept in
the one cache (:mod:`lib.core.cache`); the latencies measured during a search are part of
that search (as a real search logs them); the chapter re-measures the finalists afresh.
"""

from __future__ import annotations

import time

import torch
from torch import nn

from lib import nas
from lib.core import cache
from lib.core.checks import check_choice, check_int, check_real
from lib.workbench.data import Split, digits
from lib.workbench.measure import count_macs, count_params, latency
from lib.workbench.models import mlp, plain_cnn
from lib.workbench.train import TrainConfig, error_rate, fit

#: Epochs each candidate is trained for during a search (the proxy's low fidelity).
EPOCHS = 4

#: Epochs and seeds of the final training of each finalist (searched or hand-designed).
FINAL_EPOCHS = 10
FINAL_SEEDS = (0, 1, 2)

#: MnasNet's latency target T in milliseconds. With alpha = beta it only scales every reward by
#: the same constant, so it changes no ranking.
TARGET_MS = 0.5

#: MnasNet's exponent (alpha = beta = -0.07, the soft constraint).
W = -0.07

#: The hand-designed networks the searchers are set against (built for 8x8 digits).
HAND_DESIGNED = ("plain_cnn", "plain_cnn_wide", "mlp_300_100")


def proxy_data(seed: int = 0) -> Split:
    """Digits as 1x8x8 images: 1,077 train / 360 validation / 360 test."""
    d = digits(seed=seed, val_size=360)
    image = lambda X: X.view(-1, 1, 8, 8)
    return Split(image(d.X_train), d.y_train, image(d.X_test), d.y_test, d.num_classes, image(d.X_val), d.y_val)


def recipe(seed: int = 0, epochs: int = EPOCHS) -> TrainConfig:
    """The one training recipe of every candidate (``epochs`` = :data:`EPOCHS`) and finalist
    (:data:`FINAL_EPOCHS`): Adam at 0.01, cosine decay, batches of 64."""
    return TrainConfig(dataset="digits", num_epochs=epochs, lr=0.01, optimizer="adam", batch_size=64,
                       weight_decay=0.0, seed=seed)


def measure_ms(net: nn.Module, runs: int = 40) -> float:
    """Median batch-1 latency of ``net`` on one 1x8x8 image, in milliseconds."""
    return latency(net, torch.zeros(1, 1, 8, 8), warmup=5, runs=runs)["median_ms"]


def hand_network(name: str, seed: int = 0) -> nn.Module:
    """A hand-designed network of :data:`HAND_DESIGNED` (flattening in front of the perceptron)."""
    check_choice("name", name, HAND_DESIGNED)
    if name == "plain_cnn":
        return plain_cnn((16, 32), seed=seed)
    if name == "plain_cnn_wide":
        return plain_cnn((32, 64), seed=seed)
    return nn.Sequential(nn.Flatten(), mlp([64, 300, 100, 10], seed=seed))


def evaluate(net: nn.Module, data: Split, seed: int = 0, epochs: int = EPOCHS) -> dict:
    """Train ``net`` with :func:`recipe`; return its validation error, latency (ms), parameters, MACs."""
    fit(net, data, recipe(seed, epochs), evaluate=lambda _: {})
    return {"val_error": error_rate(net, data.X_val, data.y_val), "latency_ms": measure_ms(net),
            "params": count_params(net), "macs": count_macs(net, (1, 8, 8))["total"]}


def fitness(val_error: float, latency_ms: float) -> float:
    """MnasNet's reward of a candidate (:func:`lib.nas.mnas_reward` with :data:`W`, :data:`TARGET_MS`)."""
    return nas.mnas_reward(1.0 - val_error, latency_ms, TARGET_MS, W, W)


def _search(searcher: str, budget: int, seed: int) -> dict:
    torch.manual_seed(seed)
    data = proxy_data()
    records: list[dict] = []
    start = time.process_time()

    def score(genotype: tuple) -> float:
        r = evaluate(nas.build_network(genotype, seed=seed), data, seed)
        r.update(genotype=list(genotype), fitness=fitness(r["val_error"], r["latency_ms"]),
                 cpu_s=time.process_time() - start)
        records.append(r)
        return r["fitness"]

    if searcher == "random":
        nas.random_search(score, budget, seed)
    else:
        nas.regularized_evolution(score, budget, population=8, sample=3, seed=seed)
    return {"searcher": searcher, "budget": budget, "records": records, "cpu_s": time.process_time() - start}


_search_memo = cache.memo(_search, name="nas-search")


def search(searcher: str = "random", budget: int = 24, seed: int = 0) -> dict:
    """Run ``searcher`` (``"random"`` or ``"evolution"``) for ``budget`` evaluations, cached.

    Regularised evolution uses a population of 8 and tournaments of 3, scaled to this budget
    (Real et al. evolved far larger populations over thousands of models).

    Returns
    -------
    dict
        ``records``: per evaluation, in order, ``genotype``, ``val_error``, ``latency_ms``,
        ``params``, ``macs``, ``fitness`` and ``cpu_s`` (CPU seconds spent so far); ``cpu_s``.
    """
    check_choice("searcher", searcher, ("random", "evolution"))
    budget = check_int("budget", budget, 1)
    seed = check_int("seed", seed, 0, 2**31 - 1)
    return _search_memo(searcher=searcher, budget=budget, seed=seed)


def latency_table(widths: tuple[int, int] = (16, 32), runs: int = 40) -> torch.Tensor:
    """Measured batch-1 latency (ms) of every operation at every position (positions x ops)."""
    half = nas.NUM_POSITIONS // 2
    rows = []
    for i in range(nas.NUM_POSITIONS):
        c, size = (widths[0], 8) if i < half else (widths[1], 4)
        x = torch.zeros(1, c, size, size)
        rows.append([latency(nas.make_op(op, c), x, warmup=5, runs=runs)["median_ms"] for op in nas.OPS])
    return torch.tensor(rows)


def _darts(epochs: int, latency_weight: float, seed: int) -> dict:
    torch.manual_seed(seed)
    data = proxy_data()
    start = time.process_time()
    table = latency_table()
    net = nas.SuperNet(seed=seed)
    w_opt = torch.optim.Adam(net.weights(), lr=0.01)
    a_opt = torch.optim.Adam([net.alpha], lr=0.03, betas=(0.5, 0.999))
    g = torch.Generator().manual_seed(seed)
    n, n_val, bs = len(data.y_train), len(data.y_val), 64
    records, alphas = [], []
    for epoch in range(1, epochs + 1):
        order, val_order = torch.randperm(n, generator=g), torch.randint(0, n_val, (n,), generator=g)
        for i in range(0, n - bs + 1, bs):
            t, v = order[i:i + bs], val_order[i:i + bs]
            nas.darts_step(net, w_opt, a_opt, (data.X_train[t], data.y_train[t]), (data.X_val[v], data.y_val[v]),
                           table, latency_weight)
        genotype = net.genotype()
        alphas.append(torch.softmax(net.alpha.detach(), dim=1).tolist())
        r = evaluate(nas.build_network(genotype, seed=seed), data, seed)
        r.update(genotype=list(genotype), fitness=fitness(r["val_error"], r["latency_ms"]), epoch=epoch,
                 cpu_s=time.process_time() - start)
        records.append(r)
    return {"searcher": "darts", "records": records, "alphas": alphas, "latency_table": table.tolist(),
            "latency_weight": latency_weight, "cpu_s": time.process_time() - start}


_darts_memo = cache.memo(_darts, name="nas-darts")


def darts(epochs: int = 7, latency_weight: float = 0.07, seed: int = 0) -> dict:
    r"""First-order DARTS on the proxy, cached: ``epochs`` passes of alternating steps
    (:func:`lib.nas.darts_step`: :math:`\alpha` on a validation batch with the latency term
    ``latency_weight`` times the log of the expected latency from :func:`latency_table`, then the
    weights on a training batch); after every epoch the arg-max genotype is trained from scratch
    and evaluated like any other candidate.

    Returns ``records`` (as :func:`search`'s, plus ``epoch``), ``alphas`` (softmax of
    :math:`\alpha` after each epoch), ``latency_table`` and ``cpu_s``.
    """
    epochs = check_int("epochs", epochs, 1)
    latency_weight = check_real("latency_weight", latency_weight, 0.0, 10.0)
    seed = check_int("seed", seed, 0, 2**31 - 1)
    return _darts_memo(epochs=epochs, latency_weight=latency_weight, seed=seed)


def best(records: list[dict]) -> dict:
    """The record of highest fitness (the first one on ties)."""
    return max(records, key=lambda r: r["fitness"])


def _final(genotypes: list, seed: int) -> dict:
    data = proxy_data()
    out = {}
    for label, spec in genotypes:
        runs = []
        for s in FINAL_SEEDS:
            torch.manual_seed(seed + s)
            net = finalist_network(spec, seed + s)
            r = evaluate(net, data, seed + s, FINAL_EPOCHS)
            r["test_error"] = error_rate(net, data.X_test, data.y_test)
            runs.append(r)
        out[label] = {"genotype": spec, "params": runs[0]["params"], "macs": runs[0]["macs"],
                      "latency_ms": runs[0]["latency_ms"],
                      "val_errors": [r["val_error"] for r in runs], "test_errors": [r["test_error"] for r in runs],
                      "val_error": sum(r["val_error"] for r in runs) / len(runs),
                      "test_error": sum(r["test_error"] for r in runs) / len(runs)}
    return out


_final_memo = cache.memo(_final, name="nas-finalists")


def all_runs(budget: int = 24, darts_epochs: int = 7, seed: int = 0) -> dict:
    """The three searches on the same budget: ``{"random", "evolution", "darts"}`` (cached)."""
    return {"random": search("random", budget, seed), "evolution": search("evolution", budget, seed),
            "darts": darts(darts_epochs, 0.07, seed)}


def finalists(budget: int = 24, darts_epochs: int = 7, seed: int = 0) -> dict:
    """Each searcher's best genotype (by validation fitness) and the hand-designed networks, each
    trained :data:`FINAL_EPOCHS` epochs from :data:`FINAL_SEEDS` seeds with the same recipe:
    validation and test errors per seed and their means (the test split read once per trained
    network, here), parameters, MACs, and a latency measured at training time (measure again
    with :func:`measure_ms` on :func:`finalist_network` for a fresh figure). Cached."""
    runs = all_runs(budget, darts_epochs, seed)
    specs = [(name, best(run["records"])["genotype"]) for name, run in runs.items()]
    specs += [(name, name) for name in HAND_DESIGNED]
    return _final_memo(genotypes=specs, seed=seed)


def finalist_network(spec, seed: int = 0) -> nn.Module:
    """The untrained network of a finalist: a genotype (list of operations) or a hand-designed name."""
    return nas.build_network(spec, seed=seed) if isinstance(spec, list) else hand_network(spec, seed)


def trajectories(runs: dict[str, dict], grid_s) -> dict:
    """Best fitness so far of each run at each CPU second of ``grid_s`` (``None`` before its first
    evaluation), and the number of evaluations done by then."""
    out = {}
    for name, run in runs.items():
        best_so_far, count = [], []
        for s in grid_s:
            done = [r for r in run["records"] if r["cpu_s"] <= s]
            best_so_far.append(max(r["fitness"] for r in done) if done else None)
            count.append(len(done))
        out[name] = {"best": best_so_far, "count": count}
    return out


def bench(budget: int = 24, darts_epochs: int = 7, seed: int = 0) -> dict:
    """Headline figures for ``make bench``: each searcher's CPU minutes and best architecture's
    validation error (search), mean test error (final training) and search-time latency, and the
    hand-designed networks' mean test error and latency."""
    runs = all_runs(budget, darts_epochs, seed)
    final = finalists(budget, darts_epochs, seed)
    out = {}
    for name, run in runs.items():
        b = best(run["records"])
        out[f"{name}_cpu_minutes"] = run["cpu_s"] / 60
        out[f"{name}_evaluations"] = len(run["records"])
        out[f"{name}_best_genotype"] = " ".join(b["genotype"])
        out[f"{name}_best_val_error_pct"] = 100 * b["val_error"]
        out[f"{name}_final_test_error_pct"] = 100 * final[name]["test_error"]
        out[f"{name}_best_latency_ms"] = b["latency_ms"]
    for name in HAND_DESIGNED:
        out[f"{name}_test_error_pct"] = 100 * final[name]["test_error"]
        out[f"{name}_latency_ms"] = final[name]["latency_ms"]
    return out


def scatter(points: dict[str, list[tuple[float, float]]], line: list[tuple[float, float]], dx: float,
            dy: float) -> dict:
    """Points drawn as small crosses for :func:`lib.widgets.sweep.series` (which draws lines and
    breaks them at ``None``): each point ``(x, y)`` of series ``key`` becomes a horizontal and a
    vertical stroke of half-widths ``dx``, ``dy``; ``line`` (the Pareto front) is one polyline.
    Returns ``{"x": [...], key: [...], ..., "front": [...]}``, all of one length."""
    keys = list(points)
    out = {"x": []} | {k: [] for k in keys} | {"front": []}

    def add(xs, ys, owner):
        out["x"].extend(xs)
        for k in keys + ["front"]:
            out[k].extend(ys if k == owner else [None] * len(ys))

    for k in keys:
        for x, y in points[k]:
            add([x - dx, x + dx, x, x, x, x], [y, y, None, y - dy, y + dy, None], k)
    if line:
        add([x for x, _ in line], [y for _, y in line], "front")
    return out
