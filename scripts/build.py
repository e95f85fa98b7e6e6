"""Build the book into ``_build/html`` (what ``make book`` runs after set-up).

Jupyter Book executes each notebook and caches the result in
``_build/.jupyter_cache`` (``execute_notebooks: cache``), keyed by the
notebook's code cells. That key cannot see ``lib/``, ``_book_static/``, the pinned packages or
the vendored JS, so this script hashes them too: when any of them changed since the
last build, the execution cache is dropped (every notebook re-runs) and Sphinx
rebuilds every page (``--all``), which also re-copies the static files. With
nothing changed, the build only checks the cache and finishes in seconds.
Trained weights and rendered videos have their own cache (``lib.cache.cache_dir``).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"
STAMP = BUILD / ".inputs-hash"


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


def build(extra: list[str] | None = None) -> float:
    """Run the Jupyter Book build with warnings as errors; return seconds taken."""
    digest = inputs_hash()
    args = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT), "-W", "--keep-going"]
    if not STAMP.exists() or STAMP.read_text() != digest:
        shutil.rmtree(BUILD / ".jupyter_cache", ignore_errors=True)
        args.append("--all")
    args += extra or []
    t0 = time.perf_counter()
    subprocess.run(args, check=True, cwd=ROOT)
    BUILD.mkdir(exist_ok=True)
    STAMP.write_text(digest)
    return time.perf_counter() - t0


if __name__ == "__main__":
    try:
        seconds = build(sys.argv[1:])
    except subprocess.CalledProcessError as err:
        sys.exit(f"book: build failed (exit {err.returncode}); see the warnings above")
    print(f"book: built _build/html in {seconds:.1f} s")
