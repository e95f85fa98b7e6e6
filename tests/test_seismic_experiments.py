"""lib.experiments.seismic: storage counts, specs, losses and choices (no training, no data)."""

import pytest
import torch

from lib import picker
from lib.experiments import seismic as ES
from lib.pruning import global_magnitude_prune, remove_reparametrization
from lib.qat import dequantize_state_dict, quantize_state_dict


def test_stored_bits_dense_is_32_per_parameter():
    net = picker.PhaseNetLike((4, 8))
    assert ES.stored_bits(net) == 32 * picker.unet_params((4, 8))


def test_stored_bits_quantised_counts_codes_and_scales():
    net = picker.PhaseNetLike((4, 8))
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    weights = sum(m.weight.numel() for m in convs)
    channels = sum(m.weight.shape[0] for m in convs)
    others = picker.unet_params((4, 8)) - weights
    assert ES.stored_bits(net, 8) == 8 * weights + 32 * channels + 32 * others
    assert ES.stored_bits(net, 4) < ES.stored_bits(net, 8) < ES.stored_bits(net)


def test_stored_bits_sparse_shrinks_with_sparsity():
    net = picker.PhaseNetLike((8, 11, 16))
    dense = ES.stored_bits(net, 8, sparse=True)
    global_magnitude_prune(ES._convs(net), 0.8)
    remove_reparametrization(net)
    sparse = ES.stored_bits(net, 8, sparse=True)
    assert sparse < 0.5 * dense
    assert sparse < ES.stored_bits(net, 8)   # the relative format beats dense at 80 % zeros


def test_int8_round_trip_is_per_channel_quantisation():
    net = picker.PhaseNetLike((4, 8)).eval()
    before = net.down[0][0][0].weight.detach().clone()
    net.load_state_dict(dequantize_state_dict(quantize_state_dict(net, 8)))
    after = net.down[0][0][0].weight.detach()
    step = before.abs().amax(dim=(1, 2, 3), keepdim=True) / 127.5
    assert ((after - before).abs() <= step / 2 + 1e-7).all()
    assert not torch.equal(after, before)


def test_macs_per_window():
    net = picker.PhaseNetLike()
    assert ES.macs(net) > 0
    assert ES.macs(picker.PhaseNetLike(separable=True)) < ES.macs(net) / 3


def test_weighted_ce_with_equal_weights_is_cross_entropy():
    out, y = torch.randn(2, 3, 50), torch.softmax(torch.randn(2, 3, 50), dim=1)
    ce = ES._weighted_ce({"class_weight": [1.0, 1.0, 1.0]})
    assert torch.allclose(ce(out, y), torch.nn.functional.cross_entropy(out, y))
    heavier = ES._weighted_ce({"class_weight": [5.0, 5.0, 1.0]})(out, y)
    assert not torch.allclose(heavier, ce(out, y))


def test_variant_specs_and_validation():
    v = ES.variant("prune", ES.TEACHER, amount=0.8, steps=10)
    assert v["base"] is ES.TEACHER and v["amount"] == 0.8 and v["steps"] == 10
    assert ES.variant("ptq", ES.TEACHER, bits=8, steps=5)["steps"] == 0     # rounding only
    assert ES._root(ES.variant("ptq", v, bits=8)) is ES.TEACHER
    assert [s["kind"] for s in ES._chain(ES.variant("ptq", v, bits=8))] == ["ptq", "prune", "train"]
    for bad in (dict(kind="svd", base=ES.TEACHER), dict(kind="prune", base={}, amount=0.5),
                dict(kind="prune", base=ES.TEACHER, amount=1.5), dict(kind="qat", base=ES.TEACHER, bits=1)):
        with pytest.raises(ValueError):
            ES.variant(bad.pop("kind"), bad.pop("base"), **bad)


def test_choose_takes_the_most_compressed_within_slack(monkeypatch):
    f1 = {0.7: 0.95, 0.8: 0.948, 0.9: 0.90}
    monkeypatch.setattr(ES, "score", lambda spec, split, data=None: {"P": {"f1": f1[spec["amount"]]}})
    cands = [ES.variant("prune", ES.TEACHER, amount=a) for a in (0.7, 0.8, 0.9)]
    assert ES.choose(cands, 0.95)["amount"] == 0.8
    assert ES.choose(cands, 0.99)["amount"] == 0.7          # none within slack: the first
    assert ES.choose(cands, 0.90)["amount"] == 0.9


def test_dataset_rejects_unknown_overrides():
    with pytest.raises(ValueError, match="overrides"):
        ES.dataset(n_events=5)


def test_stored_bits_drops_zero_filters():
    net = picker.PhaseNetLike((4, 8))
    full = ES.stored_bits(net)
    with torch.no_grad():
        net.head.weight[0] = 0                      # one output filter of the head: 4 weights
    assert ES.stored_bits(net) == full - 32 * 4


def test_soft_loss_only_near_picks():
    y = ES.labels([100], [300], 500)
    teacher = torch.log(y.clamp_min(1e-4))                    # a teacher that outputs the labels
    student = torch.zeros(1, 3, 500, requires_grad=True)
    loss = ES.soft_loss(student, teacher, y, T=2.0)
    loss.backward()
    g = student.grad.abs().sum(dim=1)[0]
    assert g[100] > 0 and g[300] > 0                         # near the picks: gradient
    assert g[200] == 0 and g[450] == 0                       # far from them: none
    same = ES.soft_loss(teacher.clone(), teacher, y, T=2.0)
    assert abs(float(same)) < 1e-6                           # student = teacher: no soft loss


def test_headline_chooses_on_validation(monkeypatch):
    val = {"a": 0.90, "b": 0.95, "c": 0.99}
    monkeypatch.setattr(ES, "score", lambda spec, split, data=None: {"P": {"f1": val[spec["id"]]}})
    rows = [{"spec": {"id": "ref"}, "bits": 1000},
            {"spec": {"id": "a"}, "bits": 100}, {"spec": {"id": "b"}, "bits": 90},
            {"spec": {"id": "c"}, "bits": 500},                  # best on validation, but not 10x smaller
            {"spec": None, "bits": 0}]                           # a classical picker: never chosen
    assert ES.headline(rows)["spec"]["id"] == "b"
    assert ES.headline(rows, factor=1.5)["spec"]["id"] == "c"
    assert ES.headline(rows, factor=100) is None


def test_latencies_time_every_call():
    calls = {"a": lambda: sum(range(100)), "b": lambda: sum(range(1000))}
    ms = ES.latencies(calls, rounds=2, runs=3)
    assert set(ms) == {"a", "b"} and all(0 < v < 1e3 for v in ms.values())
    with pytest.raises(ValueError):
        ES.latencies(calls, rounds=0)
