"""Build the book into ``_build/html`` (what ``make book`` runs after set-up).

1. **Execute the notebooks, on every core.** Jupyter Book keeps executed
   notebooks in ``_build/.jupyter_cache`` (``execute_notebooks: cache``), keyed
   by each notebook's code cells, but executes the missing ones one after
   another. This script first executes every notebook the cache lacks in a
   pool of ``FC_JOBS`` processes (default: the number of cores), longest
   first, and stores each result in that same cache, exactly as Jupyter Book
   would; Sphinx then finds every notebook executed. Each kernel runs on one
   PyTorch thread (``lib.core.config.default_threads``), so a notebook prints
   the same numbers whether it ran alone or beside another. Two notebooks
   that need the same trained network share it through the one cache
   (:mod:`lib.core.cache`): one trains, the other waits for it.
2. **Keep the execution cache honest.** Its key cannot see ``lib/``,
   ``_book_static/``, the pinned packages or the vendored JS, so this script
   hashes them too: when any of them changed since the last build, the
   execution cache is dropped (every notebook re-runs, reusing trained
   networks and sweeps from the one cache where their code did not change) and
   Sphinx rebuilds every page (``--all``). With nothing changed, the build only
   checks the cache and finishes in seconds.
3. **Build the HTML** with warnings as errors (``-W --keep-going``).

``python scripts/build.py`` builds; ``FC_JOBS=1`` executes one notebook at a time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import nbformat
import yaml
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn
from jupyter_cache.executors.utils import single_nb_execution
from traitlets.config import Config

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"
STAMP = BUILD / ".inputs-hash"
EXEC_CACHE = BUILD / ".jupyter_cache"
TIMES = BUILD / "notebook-times.json"
#: Each notebook's execution time in a first build with an empty user cache (committed; measured by
#: ``.ci/run``): the order of a first build, when this machine has no times of its own yet.
COLD_TIMES = ROOT / "scripts" / "notebook-cold-seconds.json"
#: The execution time limit of one notebook, as ``_config.yml`` sets it for Jupyter Book.
TIMEOUT = 1800


def inputs_hash() -> str:
    h = hashlib.sha256()
    files = sorted(
        [p for d in ("lib", "_book_static") for p in (ROOT / d).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
        + [ROOT / "requirements.txt", ROOT / "package-lock.json", ROOT / "_vendor" / ".installed"]
    )
    for p in files:
        h.update(str(p.relative_to(ROOT)).encode())
        h.update(p.read_bytes() if p.name != ".installed" else str(p.stat().st_mtime_ns).encode())
    return h.hexdigest()


def toc_notebooks() -> list[Path]:
    """The notebooks the table of contents lists (the root first), as paths."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc.get("parts", []) for c in part.get("chapters", [])]
    return [ROOT / f"{f}.ipynb" for f in files]


def jobs() -> int:
    """How many notebooks run at once: ``FC_JOBS``, else every core."""
    n = int(os.environ.get("FC_JOBS") or os.cpu_count() or 1)
    if n < 1:
        raise ValueError(f"FC_JOBS must be an integer >= 1, got {n}")
    return n


def _execute(path: str) -> tuple[str, dict, float, str | None]:
    """Execute one notebook in a fresh kernel (in a worker process); return it with its time and error."""
    nb = nbformat.read(path, as_version=4)
    env = {"FC_THREADS": os.environ.get("FC_THREADS", "1"), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1"}
    os.environ.update(env)  # the kernel inherits this process's environment
    with tempfile.TemporaryDirectory(prefix="fc-kernel-") as sockets:
        # Kernels talk over Unix sockets in a folder of their own: two kernels starting at once on TCP
        # can pick the same free port (seen: "ZMQError: Address already in use").
        transport = Config({"KernelManager": {"transport": "ipc", "ip": str(Path(sockets) / "kernel")}})
        result = single_nb_execution(nb, cwd=str(Path(path).parent), timeout=TIMEOUT, allow_errors=False,
                                     meta_override=True, config=transport)
    return path, nb, result.time, (result.exc_string if result.err is not None else None)


def execute_missing(n_jobs: int | None = None) -> dict[str, float]:
    """Execute, ``n_jobs`` at a time, every notebook of the table of contents that the execution cache
    lacks, and add each to it. Returns the seconds each took; raises if any failed."""
    cache = get_cache(str(EXEC_CACHE))
    missing = []
    for path in toc_notebooks():
        try:
            cache.match_cache_notebook(nbformat.read(path, as_version=4))
        except KeyError:
            missing.append(path)
    if not missing:
        return {}
    previous = json.loads(TIMES.read_text()) if TIMES.exists() else {}
    cold = json.loads(COLD_TIMES.read_text()) if COLD_TIMES.exists() else {}
    # Longest first, so the last to finish is short: this machine's own times, else a first build's.
    missing.sort(key=lambda p: -previous.get(p.stem, cold.get(p.stem, 0.0)))
    n_jobs = n_jobs or jobs()
    print(f"book: executing {len(missing)} notebook(s), {min(n_jobs, len(missing))} at a time", flush=True)
    times, failures = {}, []
    with ProcessPoolExecutor(max_workers=min(n_jobs, len(missing))) as pool:
        futures = [pool.submit(_execute, str(p)) for p in missing]
        for future in as_completed(futures):
            path, nb, seconds, error = future.result()
            name = Path(path).stem
            if error is None:
                cache.cache_notebook_bundle(CacheBundleIn(nb, path, data={"execution_seconds": seconds}),
                                            check_validity=False, overwrite=True)
                times[name] = seconds
                print(f"book: executed {name} in {seconds:.1f} s", flush=True)
            else:
                failures.append(name)
                print(f"book: {name} FAILED after {seconds:.1f} s\n{error}", file=sys.stderr, flush=True)
    TIMES.write_text(json.dumps({**previous, **times}, indent=1, sort_keys=True))
    if failures:
        raise RuntimeError(f"notebooks failed: {', '.join(sorted(failures))}")
    return times


def build(extra: list[str] | None = None, n_jobs: int | None = None) -> float:
    """Execute what is missing (in parallel), then run the Jupyter Book build with warnings as
    errors; return the seconds taken."""
    t0 = time.perf_counter()
    digest = inputs_hash()
    args = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT), "-W", "--keep-going"]
    if not STAMP.exists() or STAMP.read_text() != digest:
        shutil.rmtree(EXEC_CACHE, ignore_errors=True)
        args.append("--all")
    BUILD.mkdir(exist_ok=True)
    execute_missing(n_jobs)
    args += extra or []
    subprocess.run(args, check=True, cwd=ROOT)
    STAMP.write_text(digest)
    return time.perf_counter() - t0


if __name__ == "__main__":
    try:
        seconds = build(sys.argv[1:])
    except RuntimeError as err:
        sys.exit(f"book: {err}; see the errors above")
    except subprocess.CalledProcessError as err:
        sys.exit(f"book: build failed (exit {err.returncode}); see the warnings above")
    print(f"book: built _build/html in {seconds:.1f} s")
