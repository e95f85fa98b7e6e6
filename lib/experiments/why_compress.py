"""The opening chapter of Part II: what the book's networks cost, and what they achieve."""

from __future__ import annotations

from lib.core.checks import check_choice
from lib.experiments.han2015 import dense_config
from lib.workbench import measure, models
from lib.workbench.train import error_rate, load_data, train_cached

__all__ = ["MODELS", "cost_shares", "dense_test_error"]

#: The book's three networks: builder and input shape.
MODELS = {"LeNet-300-100": (models.lenet_300_100, (784,)), "LeNet-5": (models.lenet5, (1, 28, 28)),
          "VGG-small": (models.vgg_small, (1, 28, 28))}


def cost_shares(model: str) -> dict:
    """Where ``model``'s weights and multiply-accumulates live (:func:`lib.workbench.measure.layer_costs`).

    Returns
    -------
    dict
        ``layers``, ``params`` and ``macs`` per layer, their totals, ``fc_param_share`` (weights in
        fully connected layers) and ``conv_mac_share`` (multiply-accumulates in convolutions).
    """
    check_choice("model", model, list(MODELS))
    build, shape = MODELS[model]
    rows = measure.layer_costs(build(), shape)
    params, macs = [r["params"] for r in rows], [r["macs"] for r in rows]
    conv = [r["kind"] == "conv" for r in rows]
    return {"layers": [r["name"] for r in rows], "params": params, "macs": macs,
            "total_params": sum(params), "total_macs": sum(macs),
            "fc_param_share": sum(p for p, c in zip(params, conv) if not c) / sum(params),
            "conv_mac_share": sum(m for m, c in zip(macs, conv) if c) / sum(macs)}


def dense_test_error(model: str) -> float:
    """MNIST test error of the book's dense ``model`` (``"lenet_300_100"`` or ``"lenet5"``), trained once."""
    cfg = dense_config(model)
    net, _ = train_cached(cfg)
    data = load_data(cfg)
    return error_rate(net, data.X_test, data.y_test)
