"""The widget layer on the Python side: sweeps, live requests, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lib.widgets import ComplexRotation, Sweep, bars, curve, heatmap, readout, series
from lib.widgets.base import esm, to_json


def small_sweep(**kw):
    return Sweep(lambda a, b: {"sum": a + b, "arr": np.arange(3) * a}, {"a": [1, 2, 3], "b": [10, 20]},
                 panels=[readout("sum")], progress=False, **kw)


def test_sweep_evaluates_the_grid_in_order():
    w = small_sweep()
    assert [r["sum"] for r in w.results] == [11, 21, 12, 22, 13, 23]
    assert w.result(a=3, b=10) == {"sum": 13, "arr": [0, 3, 6]}
    assert w.index == [0, 0]
    with pytest.raises(ValueError, match="b must be one of"):
        w.result(a=1, b=15)


def test_sweep_start_and_validation():
    assert small_sweep(start={"a": 2, "b": 20}).index == [1, 1]
    with pytest.raises(ValueError, match=r"start\['a'\]"):
        small_sweep(start={"a": 7})
    with pytest.raises(ValueError, match="not in grid"):
        small_sweep(labels={"c": "nope"})
    with pytest.raises(ValueError, match="repeated"):
        Sweep(lambda a: {}, {"a": [1, 1]}, panels=[], progress=False)
    with pytest.raises(ValueError, match="at least one value"):
        Sweep(lambda a: {}, {"a": []}, panels=[], progress=False)
    with pytest.raises(ValueError, match="mapping"):
        Sweep(lambda a: 3, {"a": [1]}, panels=[], progress=False)
    with pytest.raises(ValueError, match="contain every grid value"):
        small_sweep(live={"a": (2, 3, 0.5)})


def test_to_json_converts_arrays_and_hides_nan():
    out = to_json({"t": torch.tensor([1.5, float("nan")]), "n": np.float32(2.0), "i": np.int64(3),
                   "x": float("inf"), "s": "ok", "nested": [np.arange(2)]})
    assert out == {"t": [1.5, None], "n": 2.0, "i": 3, "x": None, "s": "ok", "nested": [[0, 1]]}
    with pytest.raises(ValueError, match="object"):
        to_json({"bad": object()})


def test_live_kernel_handshake_and_off_grid_compute(monkeypatch):
    w = small_sweep(live={"a": (0, 5, 0.5)})
    sent = []
    monkeypatch.setattr(w, "send", lambda content, buffers=None: sent.append(content))
    w._on_msg(w, {"type": "hello"}, [])
    assert sent[-1] == {"type": "live"}
    w._on_msg(w, {"type": "compute", "id": 7, "values": {"a": 2.5, "b": 20}}, [])
    assert sent[-1] == {"type": "result", "id": 7, "result": {"sum": 22.5, "arr": [0.0, 2.5, 5.0]}}
    w._on_msg(w, {"type": "compute", "id": 8, "values": {"a": 99, "b": 10}}, [])  # clamped to the live range
    assert sent[-1]["result"]["sum"] == 15
    w._on_msg(w, {"type": "compute", "id": 9, "values": {"a": 1, "b": 15}}, [])  # b has no live range
    assert sent[-1]["type"] == "error" and "b must be one of" in sent[-1]["message"]


def test_panel_helpers_validate():
    assert readout("a", "b", fmt=".1%")["items"][1] == {"key": "b", "label": "b", "fmt": ".1%"}
    with pytest.raises(ValueError, match="labels"):
        readout("a", labels=["x", "y"])
    for spec in (curve("a", ["k"]), series("x", ["y"]), heatmap("m"), bars("h", marks=["t"])):
        assert spec["type"] in {"curve", "series", "heatmap", "bars"}


def test_curves_and_series_carry_a_drawing_scale():
    assert curve("a", ["e"])["scale"] == 1.0 and curve("a", ["e"], scale=100)["scale"] == 100.0
    assert series("x", ["e"], scale=100)["scale"] == 100.0
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="scale"):
            curve("a", ["e"], scale=bad)
    # the scale reaches the browser's drawing code (values times scale, the current point too)
    js = esm("sweep.js")
    assert "s.scale" in js and "scaled(r[key])" in js


def test_complex_rotation_validates_theta():
    assert ComplexRotation(theta=1.0).theta == 1.0
    for bad in (-0.1, 7.0, float("nan")):
        with pytest.raises(ValueError, match="theta"):
            ComplexRotation(theta=bad)


def test_modules_are_self_contained():
    for name in ("rotation.js", "sweep.js"):
        src = esm(name)
        assert "const FC = " in src and src.rstrip().endswith("export default { render };")
    assert math.isfinite(ComplexRotation().theta)


def test_tree_panel_spec_and_a_sweep_of_huffman_trees():
    from lib import coding
    from lib.widgets import tree

    assert tree("t", title="Huffman tree") == {"type": "tree", "key": "t", "title": "Huffman tree"}
    for bad in ("", None, 3):
        with pytest.raises(ValueError, match="key"):
            tree(bad)
    w = Sweep(lambda n: {"tree": coding.tree_layout(coding.huffman_tree({s: s + 1 for s in range(n)}))},
              {"n": [1, 2, 5, 33]}, panels=[tree("tree")], start={"n": 5}, progress=False)
    assert w.panels == [{"type": "tree", "key": "tree", "title": ""}]
    nodes = w.result(n=33)["tree"]
    assert len(nodes) == 65 and sum(node["leaf"] for node in nodes) == 33
    assert set(nodes[0]) >= {"x", "y", "parent", "edge", "leaf", "label", "code"}  # what sweep.js reads
    assert w.result(n=1)["tree"][0]["parent"] is None
    src = esm("sweep.js")
    assert 'spec.type === "tree"' in src and "function drawTree" in src
