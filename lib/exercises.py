"""Self-checks for the chapters' exercises.

Each ``check_*`` takes the reader's function, runs it on cases with known
answers, and prints whether it is right (or what went wrong, with a hint). It
never raises on a wrong answer, so a notebook with an unfinished exercise
still runs to the end.
"""

from __future__ import annotations

import cmath
import math
from collections.abc import Callable


def _report(name: str, failures: list[str]) -> None:
    if failures:
        print(f"✗ {name}: not yet.\n  " + "\n  ".join(failures[:3]))
    else:
        print(f"✓ {name}: correct.")


def check_rotate(rotate: Callable[[complex, float], complex] | None) -> None:
    """Check ``rotate(z, theta)``, which should turn ``z`` by ``theta`` radians counter-clockwise."""
    if rotate is None:
        print("Not attempted yet: define rotate(z, theta) and run this cell again.")
        return
    cases = [(1 + 0j, math.pi / 2), (2 + 1j, math.pi), (-1 + 3j, 0.3), (0.5 - 2j, -1.2), (3 + 0j, 2 * math.pi)]
    failures = []
    for z, theta in cases:
        want = z * cmath.exp(1j * theta)
        try:
            got = complex(rotate(z, theta))
        except Exception as err:  # the reader's code may raise anything
            failures.append(f"rotate({z}, {theta:.3f}) raised {type(err).__name__}: {err}")
            continue
        if abs(got - want) > 1e-9 * max(1.0, abs(want)):
            hint = " (hint: did you turn the wrong way?)" if abs(got - z * cmath.exp(-1j * theta)) < 1e-9 else ""
            failures.append(f"rotate({z}, {theta:.3f}) gave {got:.4f}, expected {want:.4f}{hint}")
    _report("rotate", failures)
