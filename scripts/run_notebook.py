"""Execute notebooks in a fresh kernel, as the build does, and report each one's time and errors.

Usage: ``python scripts/run_notebook.py chapters/NAME.ipynb [...] [--out DIR]``. The
executed copy (with outputs) is written to ``DIR`` (default ``/tmp/fc-executed``)
for reading; the notebook in ``chapters/`` is left as committed (no outputs).
Exits 1 if any cell raised.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def run(path: Path, out: Path) -> bool:
    nb = nbformat.read(path, as_version=4)
    t0 = time.perf_counter()
    ok = True
    try:
        NotebookClient(nb, timeout=3600, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    except CellExecutionError as err:
        ok = False
        print(f"{path.name}: FAILED\n{str(err)[-3000:]}", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out / path.name)
    print(f"{path.name}: {'ok' if ok else 'FAILED'} in {time.perf_counter() - t0:.1f} s (executed copy: {out / path.name})")
    return ok


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("/tmp/fc-executed"))
    args = parser.parse_args()
    results = [run(p.resolve(), args.out) for p in args.notebooks]
    sys.exit(0 if all(results) else 1)
