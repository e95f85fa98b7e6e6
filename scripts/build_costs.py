"""Where a build's computing time went: the cache's ``timings.jsonl``, summed by computation.

Every cached computation (training, sweeps, reproductions, videos) appends its wall
seconds and its own seconds (less the cached computations it called) to
``timings.jsonl`` in the cache (``lib.core.cache``). After a first build with an
empty cache, ``python scripts/build_costs.py`` lists the computations by their own
time, the largest first, so the minutes of the budget can be found.

    FC_CACHE=$(mktemp -d) make book && FC_CACHE=<that folder> python scripts/build_costs.py
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lib.core.cache import cache_dir  # noqa: E402


def costs(log: Path) -> list[tuple[str, int, float]]:
    """``(computation, count, own seconds)`` per computation in ``log``, the largest first."""
    total, count = defaultdict(float), defaultdict(int)
    for line in log.read_text().splitlines():
        d = json.loads(line)
        name = str(Path(d["path"]).parent)
        total[name] += d["own"]
        count[name] += 1
    return sorted(((n, count[n], total[n]) for n in total), key=lambda r: -r[2])


def main() -> None:
    log = cache_dir() / "timings.jsonl"
    if not log.exists():
        sys.exit(f"no {log}: build the book with an empty cache first (FC_CACHE=$(mktemp -d) make book)")
    rows = costs(log)
    width = max(len(n) for n, _, _ in rows)
    for name, n, seconds in rows:
        print(f"{name:<{width}}  {n:4d} x  {seconds:8.1f} s")
    print(f"{'all':<{width}}  {sum(r[1] for r in rows):4d} x  {sum(r[2] for r in rows):8.1f} s "
          f"({sum(r[2] for r in rows) / 60:.1f} core-minutes)")


if __name__ == "__main__":
    main()
