"""A browser-computed widget: multiplying by e^{iθ} rotates the plane."""

from __future__ import annotations

import math

import traitlets as t

from lib.core.checks import check_real
from lib.widgets.base import BookWidget, esm


class ComplexRotation(BookWidget):
    """Drag θ and watch e^{iθ} = cos θ + i sin θ move round the unit circle.

    Everything is computed in the browser as the reader drags (the slider, the
    point on the circle, or the arrow keys on the picture). The left panel is
    the complex plane with the projections cos θ and sin θ; the right panel
    unrolls them as waves against θ. ``theta`` syncs back to Python when a
    kernel is live.

    Parameters
    ----------
    theta : float in [0, 2π]
        Starting angle in radians.

    >>> w = ComplexRotation(theta=math.pi / 2)
    >>> round(w.theta, 4)
    1.5708
    """

    _esm = esm("rotation.js")
    theta = t.Float(0.8).tag(sync=True)

    def __init__(self, theta: float = 0.8, **kwargs):
        super().__init__(theta=check_real("theta", theta, 0.0, 2 * math.pi), **kwargs)
