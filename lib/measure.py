"""Measurement: wall-clock timing done carefully (warm-up, repeats, median and spread).

Timings are reported, never asserted: they depend on the machine. The thread
count in force (``torch.get_num_threads``, which :func:`lib.config.set_threads`
pins) is reported with them.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from ._checks import check_int, check_real


def time_call(fn: Callable[..., Any], *args: Any, repeat: int = 7, min_time: float = 0.05,
              warmup: int = 1, **kwargs: Any) -> dict[str, float]:
    """Time ``fn(*args, **kwargs)``: ``warmup`` untimed calls, then ``repeat`` rounds of enough
    calls to last at least ``min_time`` seconds each.

    Returns
    -------
    dict
        ``median``, ``q1``, ``q3`` (seconds per call, over rounds), ``calls`` per round.

    >>> r = time_call(sum, range(100), repeat=3, min_time=0.001)
    >>> r["median"] > 0
    True
    """
    repeat = check_int("repeat", repeat, 1)
    check_real("min_time", min_time, 0, 60)
    warmup = check_int("warmup", warmup, 0)
    for _ in range(warmup):
        fn(*args, **kwargs)
    calls = 1
    while True:  # find a number of calls that lasts min_time
        t0 = time.perf_counter()
        for _ in range(calls):
            fn(*args, **kwargs)
        elapsed = time.perf_counter() - t0
        if elapsed >= min_time or calls >= 1 << 20:
            break
        calls *= 2 if elapsed == 0 else max(2, min(10, int(min_time / elapsed) + 1))
    rounds = [elapsed / calls]
    for _ in range(repeat - 1):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn(*args, **kwargs)
        rounds.append((time.perf_counter() - t0) / calls)
    q = statistics.quantiles(rounds, n=4) if len(rounds) > 1 else [rounds[0]] * 3
    return {"median": statistics.median(rounds), "q1": q[0], "q3": q[2], "calls": calls}
