"""The book's widgets: browser-computed views and precomputed sweeps.

Both kinds draw in the browser from state embedded in the page, so their
sliders respond in the static book, in a live notebook, and under test.
"""

from lib.widgets.base import BookWidget
from lib.widgets.rotation import ComplexRotation
from lib.widgets.sweep import Sweep, bars, curve, heatmap, readout, series, tree
from lib.widgets.plane import DFTExplorer, ExpMap, Listen, PlaneActions, SquareSymmetries, TaylorSeries
from lib.widgets.winding import WindingMachine

__all__ = ["BookWidget", "ComplexRotation", "DFTExplorer", "ExpMap", "Listen", "PlaneActions", "SquareSymmetries", "Sweep",
           "TaylorSeries", "WindingMachine", "bars", "curve", "heatmap", "readout", "series", "tree"]
