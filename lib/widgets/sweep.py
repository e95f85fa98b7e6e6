"""A precomputed-sweep widget: a Python function evaluated over a parameter grid.

When the notebook runs, :class:`Sweep` calls ``fn(**params)`` at every point of
the grid and embeds all the results in the widget's state, so in the static
book any grid point is shown instantly, with no kernel. With a live kernel the
sliders also move between grid points (parameters given a ``live`` range), and
Python computes those values on request and pushes them to the view.

Panels say how to draw a result (see :func:`readout`, :func:`curve`,
:func:`series`, :func:`heatmap`, :func:`bars`, :func:`tree`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import traitlets as t
from tqdm import tqdm  # text bars (stderr): a widget bar would be left as a dead widget in the page

from lib.core.checks import check_real
from lib.widgets.base import BookWidget, esm, to_json


def readout(*keys: str, labels: Sequence[str] | None = None, fmt: str = ".3f") -> dict:
    """Show result values as labelled numbers. ``fmt`` like ``.3f``, ``.1%``, ``.2e``, ``.0d``."""
    labels = list(labels or keys)
    if len(labels) != len(keys):
        raise ValueError(f"labels must have one entry per key ({len(keys)}), got {len(labels)}")
    return {"type": "readout", "items": [{"key": k, "label": lab, "fmt": fmt} for k, lab in zip(keys, labels)]}


def _scale(scale: float) -> float:
    return check_real("scale", scale, 0.0, 1e12, lo_open=True)


def curve(param: str, keys: Sequence[str], *, labels: Sequence[str] | None = None, ylabel: str = "",
          ylim: tuple[float, float] | None = None, xlog: bool = False, title: str = "",
          scale: float = 1.0) -> dict:
    """Plot scalar results against one parameter across the grid, the others held at their
    current values, and mark the current point. Values are drawn times ``scale`` (100 draws an
    error rate kept as a fraction in percent, as readouts with ``fmt=".2%"`` show it); ``ylim``
    is in drawn units."""
    return {"type": "curve", "param": param, "keys": list(keys), "labels": list(labels or keys),
            "ylabel": ylabel, "ylim": list(ylim) if ylim else None, "xlog": xlog, "title": title,
            "scale": _scale(scale)}


def series(x: str, keys: Sequence[str], *, labels: Sequence[str] | None = None, xlabel: str = "",
           ylabel: str = "", ylim: tuple[float, float] | None = None, title: str = "",
           scale: float = 1.0) -> dict:
    """Plot array results ``keys`` against the array result ``x`` of the current grid point
    (values times ``scale``, as in :func:`curve`)."""
    return {"type": "series", "x": x, "keys": list(keys), "labels": list(labels or keys), "xlabel": xlabel,
            "ylabel": ylabel, "ylim": list(ylim) if ylim else None, "title": title, "scale": _scale(scale)}


def heatmap(key: str, *, xlabel: str = "", ylabel: str = "", title: str = "") -> dict:
    """Draw a 2-D array result as an image, its values printed in the cells when they fit."""
    return {"type": "heatmap", "key": key, "xlabel": xlabel, "ylabel": ylabel, "title": title}


def bars(key: str, *, x: str | None = None, xlabel: str = "", ylabel: str = "", title: str = "",
         marks: Sequence[str] = (), labels: str | None = None, ylog: bool = False,
         stack: Sequence[str] = (), legend: Sequence[str] = ()) -> dict:
    """Draw a 1-D array result as bars (at array result ``x`` if given), with vertical lines
    at the results named in ``marks`` (a threshold, a mean; an array result draws one line per
    value, e.g. k-means centroids over a weight histogram). ``labels`` names a
    result holding one text label per bar (layer names, say); ``ylog`` uses a log scale.
    ``stack`` names more array results drawn on top of ``key``'s bars in the next colours
    (kept and pruned counts of a histogram, say), with ``legend`` naming all the series."""
    stack, legend = list(stack), list(legend)
    if stack and ylog:
        raise ValueError("stack and ylog cannot be combined (stacked bars need a linear scale)")
    if legend and len(legend) != 1 + len(stack):
        raise ValueError(f"legend must name {1 + len(stack)} series (key and stack), got {len(legend)}")
    return {"type": "bars", "key": key, "x": x, "xlabel": xlabel, "ylabel": ylabel, "title": title,
            "marks": list(marks), "labels": labels, "ylog": ylog, "stack": stack, "legend": legend}


def tree(key: str, *, title: str = "") -> dict:
    """Draw a tree result: a list of nodes with ``x`` (leaf slots), ``y`` (depth), ``parent`` (an id
    or ``None``), ``edge`` (the text on the edge from the parent), ``leaf`` and ``label``, as
    :func:`lib.coding.tree_layout` returns for a Huffman tree. Edges are drawn with their bits and
    leaves with their labels (and codewords, when they fit), depth increasing downwards, on a
    panel twice as wide as the others. Labels thin out when the leaves are too close."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"key must name a result (a non-empty string), got {key!r}")
    return {"type": "tree", "key": key, "title": title}


class Sweep(BookWidget):
    """Evaluate ``fn`` on a grid now; show any grid point instantly later.

    Parameters
    ----------
    fn : callable
        ``fn(**params) -> dict`` of numbers, arrays and small nested lists (NumPy
        arrays and tensors are converted). Must be deterministic: the book prints
        what it returns.
    grid : mapping of str to sequence
        Parameter name to the values evaluated, in slider order. Values are
        numbers or strings.
    panels : list of dict
        How to draw a result: :func:`readout`, :func:`curve`, :func:`series`,
        :func:`heatmap`, :func:`bars`.
    labels, formats : mapping, optional
        Slider label and number format (as in :func:`readout`) per parameter.
    start : mapping, optional
        The grid value each slider starts at (default: the first).
    live : mapping of str to (min, max, step), optional
        With a live kernel these parameters move freely in ``[min, max]`` and
        off-grid values are computed by ``fn`` on request.
    title : str
        Shown above the widget.

    Examples
    --------
    >>> w = Sweep(lambda a: {"square": a * a}, {"a": [1, 2, 3]}, panels=[readout("square")], progress=False)
    >>> w.results
    [{'square': 1}, {'square': 4}, {'square': 9}]
    """

    _esm = esm("sweep.js")
    title = t.Unicode("").tag(sync=True)
    params = t.List().tag(sync=True)
    results = t.List().tag(sync=True)
    panels = t.List().tag(sync=True)
    index = t.List().tag(sync=True)

    def __init__(self, fn: Callable[..., Mapping[str, Any]], grid: Mapping[str, Sequence[Any]], *,
                 panels: Sequence[dict], labels: Mapping[str, str] | None = None,
                 formats: Mapping[str, str] | None = None, start: Mapping[str, Any] | None = None,
                 live: Mapping[str, tuple[float, float, float]] | None = None, title: str = "",
                 progress: bool = True, **kwargs):
        if not callable(fn):
            raise ValueError(f"fn must be callable, got {fn!r}")
        if not grid:
            raise ValueError("grid must name at least one parameter, got an empty mapping")
        labels, formats, start, live = dict(labels or {}), dict(formats or {}), dict(start or {}), dict(live or {})
        params = []
        for name, values in grid.items():
            values = list(values)
            if not values:
                raise ValueError(f"grid[{name!r}] must list at least one value, got []")
            if len(set(map(repr, values))) != len(values):
                raise ValueError(f"grid[{name!r}] has repeated values: {values!r}")
            first = values.index(start[name]) if name in start and start[name] in values else 0
            if name in start and start[name] not in values:
                raise ValueError(f"start[{name!r}] must be one of grid[{name!r}] = {values!r}, got {start[name]!r}")
            spec = {"name": name, "label": labels.get(name, name), "values": to_json(values),
                    "fmt": formats.get(name, ""), "start": first, "live": None}
            if name in live:
                lo, hi, step = (float(v) for v in live[name])
                check_real(f"live[{name!r}] step", step, 0, hi - lo, lo_open=True)
                if not all(isinstance(v, (int, float)) and lo <= v <= hi for v in values):
                    raise ValueError(f"live[{name!r}] = {live[name]!r} must contain every grid value {values!r}")
                spec["live"] = [lo, hi, step]
            params.append(spec)
        unknown = set(labels) | set(formats) | set(start) | set(live)
        unknown -= set(grid)
        if unknown:
            raise ValueError(f"labels/formats/start/live name parameters not in grid: {sorted(unknown)!r}")
        self._fn = fn
        self._names = list(grid)
        points = list(itertools.product(*(grid[n] for n in self._names)))
        results = [self._evaluate(dict(zip(self._names, p)))
                   for p in tqdm(points, desc=title or "sweep", disable=not progress, leave=False)]
        super().__init__(title=title, params=params, results=results, panels=list(panels),
                         index=[p["start"] for p in params], **kwargs)
        self.on_msg(self._on_msg)

    def _evaluate(self, point: dict) -> dict:
        out = self._fn(**point)
        if not isinstance(out, Mapping):
            raise ValueError(f"fn must return a mapping of result names to values, got {type(out).__name__}")
        return to_json(out)

    def result(self, **point: Any) -> dict:
        """The stored result at a grid point (every parameter given by name)."""
        idx = []
        for spec in self.params:
            if spec["name"] not in point:
                raise ValueError(f"result() needs a value for {spec['name']!r}")
            values = spec["values"]
            if point[spec["name"]] not in values:
                raise ValueError(f"{spec['name']} must be one of {values!r}, got {point[spec['name']]!r}")
            idx.append(values.index(point[spec["name"]]))
        flat = 0
        for i, spec in zip(idx, self.params):
            flat = flat * len(spec["values"]) + i
        return self.results[flat]

    def _on_msg(self, _widget, content, _buffers) -> None:
        """Front-end requests with a live kernel: a handshake, then off-grid points."""
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "hello":
            self.send({"type": "live"})
        elif kind == "compute":
            try:
                point = self._clamp(content.get("values", {}))
                self.send({"type": "result", "id": content.get("id"), "result": self._evaluate(point)})
            except Exception as err:  # shown in the widget instead of a dead view
                self.send({"type": "error", "id": content.get("id"), "message": f"{type(err).__name__}: {err}"})

    def _clamp(self, values: Mapping[str, Any]) -> dict:
        point = {}
        for spec in self.params:
            v = values.get(spec["name"], spec["values"][spec["start"]])
            if spec["live"] is not None:
                lo, hi, step = spec["live"]
                v = min(hi, max(lo, float(v)))
                if float(step).is_integer() and all(isinstance(g, int) for g in spec["values"]):
                    v = int(round(v))  # an integer parameter (a count) stays an integer
            elif v not in spec["values"]:
                raise ValueError(f"{spec['name']} must be one of {spec['values']!r}, got {v!r}")
            point[spec["name"]] = v
        return point
