"""The one cache (``lib.core.cache``): stale-proof, no spurious recomputation, stable keys, one writer.

The edits are made to a copy of ``lib/`` in a temporary folder, and every
computation runs in a fresh Python process importing that copy, as a reader's
next build would.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lib.core import cache

ROOT = Path(__file__).resolve().parent.parent

#: A chapter experiment as the book writes them: a memoised function that reaches lib.fourier.
PROBE = '''
"""A memoised computation for tests/test_cache.py: logs each real computation."""
import os
import time

import numpy as np

from lib import fourier
from lib.core import cache


def _spectrum_peak(n: int) -> dict:
    with open(os.environ["PROBE_LOG"], "a") as f:
        f.write("computed\\n")
    time.sleep(float(os.environ.get("PROBE_SLEEP", "0")))  # long enough for a second process to arrive
    t = np.arange(n) / n
    return {"peak": int(np.argmax(np.abs(fourier.dft(np.cos(2 * np.pi * 3 * t)))[: n // 2]))}


spectrum_peak = cache.memo(_spectrum_peak, name="probe")
'''


@pytest.fixture
def lib_copy(tmp_path):
    """A copy of ``lib/`` (with the probe experiment) importable from ``tmp_path``."""
    shutil.copytree(ROOT / "lib", tmp_path / "lib", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "lib" / "experiments" / "probe.py").write_text(PROBE)
    return tmp_path


def run(root: Path, code: str, tmp: Path) -> str:
    """Run ``code`` in a fresh interpreter that imports ``lib`` from ``root``; return its stdout."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), "FC_CACHE": str(tmp / "cache"),
           "PROBE_LOG": str(tmp / "log"), "HOME": str(tmp)}
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=root, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


CALL = "from lib.experiments.probe import spectrum_peak; print(spectrum_peak(n=64))"
KEY = """
from lib.core import cache
from lib.workbench import train
print(cache.key(train._train, {"cfg": "x"}))
"""


def computations(tmp: Path) -> int:
    log = tmp / "log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_reused_until_the_code_it_reaches_changes(lib_copy):
    lib = lib_copy / "lib"
    assert run(lib_copy, CALL, lib_copy) == "{'peak': 3}" and computations(lib_copy) == 1
    run(lib_copy, CALL, lib_copy)
    assert computations(lib_copy) == 1                      # a second build reuses it
    # unrelated edits recompute nothing: a colour, a widget, a topic it never imports, the training loop
    edit(lib / "core" / "theme.py", '"#', '"#0')
    edit(lib / "widgets" / "sweep.py", '"""', '"""Edited. ')
    edit(lib / "pruning.py", "def sparsity(", "def sparsity_(")
    edit(lib / "workbench" / "train.py", "def error_rate(", "def error_rate_(")
    run(lib_copy, CALL, lib_copy)
    assert computations(lib_copy) == 1
    # an edit to the code it reaches recomputes: lib.fourier, and lib.core.checks which fourier imports
    edit(lib / "fourier.py", "def dft(", "def dft_unused():\n    pass\n\n\ndef dft(")
    run(lib_copy, CALL, lib_copy)
    assert computations(lib_copy) == 2
    edit(lib / "core" / "checks.py", '"""', '"""Edited. ')
    run(lib_copy, CALL, lib_copy)
    assert computations(lib_copy) == 3
    # and so does an edit to the computation itself
    edit(lib / "experiments" / "probe.py", "t = np.arange(n) / n", "t = np.arange(n) / float(n)")
    run(lib_copy, CALL, lib_copy)
    assert computations(lib_copy) == 4


def test_trained_weights_are_keyed_by_the_training_code(lib_copy):
    lib = lib_copy / "lib"
    before = run(lib_copy, KEY, lib_copy)
    edit(lib / "core" / "theme.py", '"#', '"#0')                     # colours: unrelated
    edit(lib / "quantization.py", '"""', '"""Edited. ')               # a topic training never imports
    assert run(lib_copy, KEY, lib_copy) == before
    edit(lib / "workbench" / "models.py", '"""', '"""Edited. ')       # the models it builds: reached
    after_models = run(lib_copy, KEY, lib_copy)
    assert after_models != before
    edit(lib / "workbench" / "train.py", "opt.step()", "opt.step()  # edited")  # the loop itself
    assert run(lib_copy, KEY, lib_copy) not in (before, after_models)


def test_keys_are_the_same_in_every_process():
    """No id(), no hash(): the key computed here equals the one a fresh interpreter computes."""
    from lib.workbench import train

    here = cache.key(train._train, {"cfg": "x"})
    there = subprocess.run([sys.executable, "-c", KEY], cwd=ROOT, capture_output=True, text=True,
                           env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "123"})
    assert there.returncode == 0, there.stderr
    assert there.stdout.strip() == here


def test_two_processes_compute_an_entry_once(lib_copy):
    """A parallel build's two notebooks asking for the same entry: one computes, the other waits and reads."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(lib_copy), "FC_CACHE": str(lib_copy / "cache"),
           "PROBE_LOG": str(lib_copy / "log"), "HOME": str(lib_copy), "PROBE_SLEEP": "4"}
    procs = [subprocess.Popen([sys.executable, "-c", CALL], cwd=lib_copy, env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300)[0].strip() for p in procs]
    assert outs == ["{'peak': 3}"] * 2
    assert computations(lib_copy) == 1


def test_memo_stores_tensors_with_torch(tmp_path, monkeypatch):
    import torch

    monkeypatch.setenv("FC_CACHE", str(tmp_path))
    calls = []

    def weights(seed):
        calls.append(seed)
        return {"state": {"w": torch.randn(3, generator=torch.Generator().manual_seed(seed))}, "history": [1.5]}

    cached = cache.memo(weights, name="test-weights", store="torch")
    a, b = cached(seed=1), cached(seed=1)
    assert calls == [1] and torch.equal(a["state"]["w"], b["state"]["w"]) and b["history"] == [1.5]
    assert cached.cache_path(seed=1).suffix == ".pt"
    with pytest.raises(ValueError, match="store"):
        cache.memo(weights, store="pickle")


def test_memo_json_results_are_the_same_first_time_and_after():
    """The first call returns what later calls read back (tuples as lists, NaN as None)."""
    import math

    f = cache.memo(lambda x: {"pair": (x, math.nan)}, name="doc-nan")
    assert f(x=2) == f(x=2) == {"pair": [2, None]}


def test_lib_files_follow_imports_transitively():
    names = {p.relative_to(cache.LIB).as_posix() for p in cache.lib_files("lib.scenes.part1")}
    assert {"scenes/part1.py", "groups.py", "fourier.py", "core/theme.py"} <= names  # SquareMoves draws lib.groups
    assert "workbench/train.py" not in names and "widgets/sweep.py" not in names


def test_each_computation_logs_its_own_seconds(tmp_path, monkeypatch):
    """``timings.jsonl`` gets one line per real computation (none for a read), and a computation that
    calls another cached one is charged only its own time."""
    import json
    import time

    monkeypatch.setenv("FC_CACHE", str(tmp_path))
    inner = cache.memo(lambda n: (time.sleep(0.2), n)[1], name="test-inner")
    outer = cache.memo(lambda n: (time.sleep(0.1), inner(n=n))[1], name="test-outer")
    assert outer(n=1) == outer(n=1) == 1
    lines = [json.loads(s) for s in (tmp_path / "timings.jsonl").read_text().splitlines()]
    by_name = {Path(d["path"]).parent.name: d for d in lines}
    assert len(lines) == 2 and set(by_name) == {"test-inner", "test-outer"}
    assert by_name["test-outer"]["seconds"] >= 0.3 - 0.01
    assert 0.1 - 0.01 <= by_name["test-outer"]["own"] < by_name["test-outer"]["seconds"] - 0.15


def _hold_entry(path, held):
    """Another process's computation of ``path``: it holds the entry's lock for 0.4 s."""
    cache.get_or_compute(path, lambda tmp: (held.set(), time.sleep(0.4), tmp.write_text("1")))


def test_waiting_for_another_process_is_not_own_time(tmp_path, monkeypatch):
    """A computation that waits for an entry another process is computing is not charged the wait
    as its own time (only the seconds it spent working)."""
    import json
    import multiprocessing

    monkeypatch.setenv("FC_CACHE", str(tmp_path))
    inner = cache.memo(lambda n: n, name="test-held")
    path = inner.cache_path(n=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    ctx = multiprocessing.get_context("fork")
    held = ctx.Event()
    other = ctx.Process(target=_hold_entry, args=(path, held))
    other.start()
    held.wait(30)
    outer = cache.memo(lambda n: inner(n=n) + 1, name="test-waiter")
    assert outer(n=1) == 2
    other.join(30)
    lines = {Path(d["path"]).parent.name: d for d in map(json.loads, (tmp_path / "timings.jsonl").read_text().splitlines())}
    assert lines["test-waiter"]["seconds"] >= 0.2 and lines["test-waiter"]["own"] < 0.15


def test_video_captions_raise_exponents_and_escape_the_rest():
    from lib.scenes import Video, caption_html  # lib.scenes imports manim only when a scene renders

    assert caption_html("e^(iθ) turns, e^z stretches") == "e<sup>iθ</sup> turns, e<sup>z</sup> stretches"
    assert caption_html("a < b & snake_case^") == "a &lt; b &amp; snake_case^"
    assert "<sup>iπ</sup>" in Video(Path("x.mp4"), "e^(iπ) = −1")._repr_html_()
