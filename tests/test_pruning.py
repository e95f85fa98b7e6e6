"""lib.pruning against torch.nn.utils.prune, and the invariants of masking."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from lib import models, pruning


def layers(seed=0):
    torch.manual_seed(seed)
    return nn.Linear(30, 20), nn.Conv2d(3, 8, 3)


@pytest.mark.parametrize("amount", [0, 1, 7, 0.0, 0.3, 0.5, 0.9, 1.0])
def test_magnitude_prune_equals_l1_unstructured(amount):
    for ours, ref in zip(layers(), layers()):
        pruning.magnitude_prune(ours, "weight", amount=amount)
        prune.l1_unstructured(ref, "weight", amount=amount)
        assert torch.equal(ours.weight_mask, ref.weight_mask)
        assert torch.equal(ours.weight, ref.weight)


def test_magnitude_prune_with_ties_equals_pytorch():
    a, b = nn.Linear(8, 8), nn.Linear(8, 8)
    with torch.no_grad():
        w = torch.tensor([1.0, -1.0, 2.0, 0.5, -0.5, 0.5, 3.0, 1.0]).repeat(8, 1)
        a.weight.copy_(w)
        b.weight.copy_(w)
    pruning.magnitude_prune(a, amount=0.4)
    prune.l1_unstructured(b, "weight", amount=0.4)
    assert torch.equal(a.weight_mask, b.weight_mask)


@pytest.mark.parametrize("amount", [0.2, 0.5, 0.95, 1000])
def test_global_magnitude_prune_equals_global_unstructured(amount):
    ours, ref = models.lenet_300_100(seed=1), models.lenet_300_100(seed=1)
    params = lambda net: [(m, "weight") for m in net if isinstance(m, nn.Linear)]  # noqa: E731
    pruning.global_magnitude_prune(params(ours), amount)
    prune.global_unstructured(params(ref), pruning_method=prune.L1Unstructured, amount=amount)
    for (m1, _), (m2, _) in zip(params(ours), params(ref)):
        assert torch.equal(m1.weight_mask, m2.weight_mask)


@pytest.mark.parametrize("amount", [0.25, 0.5, 0.9])
def test_iterative_pruning_matches_pytorch_and_is_exact(amount):
    a, b = models.lenet_300_100(), models.lenet_300_100()
    for _ in range(3):  # prune, prune again: only the surviving weights are candidates
        pruning.magnitude_prune(a[0], amount=amount)
        prune.l1_unstructured(b[0], "weight", amount=amount)
    assert torch.equal(a[0].weight_mask, b[0].weight_mask)
    n = a[0].weight.numel()
    kept = n
    for _ in range(3):
        kept -= round(amount * kept)
    assert int(a[0].weight_mask.sum()) == kept  # exact achieved sparsity


def test_all_ones_mask_changes_nothing_forward_or_backward():
    torch.manual_seed(0)
    net = models.lenet5()
    ref = copy.deepcopy(net)
    x = torch.randn(4, 1, 28, 28)
    for m in net:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            pruning.magnitude_prune(m, amount=0)
    y, y_ref = net(x), ref(x)
    assert torch.equal(y, y_ref)
    y.sum().backward()
    y_ref.sum().backward()
    for m, r in zip(net, ref):
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            assert torch.equal(m.weight_orig.grad, r.weight.grad)


def test_pruned_weights_get_zero_gradient_and_stay_zero():
    torch.manual_seed(0)
    layer = nn.Linear(10, 5)
    pruning.magnitude_prune(layer, amount=0.6)
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        layer(torch.randn(8, 10)).pow(2).sum().backward()
        assert torch.all(layer.weight_orig.grad[layer.weight_mask == 0] == 0)
        opt.step()
    assert pruning.sparsity([layer.weight]) == pytest.approx(0.6)
    pruning.remove_reparametrization(layer)
    assert not hasattr(layer, "weight_mask") and pruning.sparsity([layer.weight]) == pytest.approx(0.6)


@pytest.mark.parametrize("amount, words", [(1.5, "fraction in [0, 1]"), (-1, "count in [0, 600]"),
                                            (601, "count in [0, 600]"), ("half", "int"), (True, "int")])
def test_bad_amount_raises_value_error(amount, words):
    with pytest.raises(ValueError, match="amount") as err:
        pruning.magnitude_prune(nn.Linear(30, 20), amount=amount)
    assert words in str(err.value)
    with pytest.raises(ValueError, match="name"):
        pruning.magnitude_prune(nn.Linear(3, 2), "weights", amount=0.5)
    with pytest.raises(ValueError, match="parameters"):
        pruning.global_magnitude_prune([], 0.5)


def test_same_seed_same_masks():
    a, b = models.lenet5(seed=3), models.lenet5(seed=3)
    for net in (a, b):
        pruning.global_magnitude_prune([(m, "weight") for m in net if isinstance(m, (nn.Conv2d, nn.Linear))], 0.8)
    assert all(torch.equal(x, y) for x, y in zip(a.buffers(), b.buffers()))


def test_iterative_magnitude_prune_reaches_each_layers_target_exactly():
    from lib import data, train

    d = data.digits()
    net = models.mlp([64, 64, 32, 10], seed=0)
    train.fit(net, d, train.TrainConfig(dataset="digits", num_epochs=20, lr=0.05, batch_size=32))
    keep = {"0": 0.1, "2": 0.2, "4": 0.5}
    hist = pruning.iterative_magnitude_prune(net, d, keep, steps=3,
                                             finetune=train.TrainConfig(dataset="digits", num_epochs=3, lr=0.01,
                                                                      batch_size=32),
                                             final_epochs=3)
    assert [h["step"] for h in hist] == [1, 2, 3]
    assert hist[0]["kept"] > hist[1]["kept"] > hist[2]["kept"]
    for name, k in keep.items():
        m = dict(net.named_modules())[name]
        assert int(m.weight_mask.sum()) == round(k * m.weight.numel())  # exact, not approximately
        assert torch.all(m.weight[m.weight_mask == 0] == 0)
    total = sum(dict(net.named_modules())[n].weight.numel() for n in keep)
    kept = sum(round(k * dict(net.named_modules())[n].weight.numel()) for n, k in keep.items())
    assert hist[-1]["compression"] == pytest.approx(total / kept)
    assert hist[-1]["test_error"] < 0.15  # still a working classifier at 5x fewer weights
    with pytest.raises(ValueError, match="keep"):
        pruning.iterative_magnitude_prune(net, d, {"9": 0.5}, 1, train.TrainConfig())
    with pytest.raises(ValueError, match="steps"):
        pruning.iterative_magnitude_prune(net, d, keep, 0, train.TrainConfig())


def test_iterative_global_pruning_hits_the_total_exactly():
    from lib import data, train

    d = data.digits()
    net = models.mlp([64, 64, 32, 10], seed=0)
    train.fit(net, d, train.TrainConfig(dataset="digits", num_epochs=10, lr=0.05, batch_size=32))
    hist = pruning.iterative_magnitude_prune(net, d, 0.2, steps=2, layers=["0", "2", "4"],
                                             finetune=train.TrainConfig(dataset="digits", num_epochs=2, lr=0.01,
                                                                        batch_size=32))
    total = 64 * 64 + 64 * 32 + 32 * 10
    assert round(hist[-1]["kept"] * total) == round(0.2 * total)
    assert len(set(round(v, 3) for v in hist[-1]["layer_kept"].values())) > 1  # the layers share the cut unevenly
    with pytest.raises(ValueError, match="keep"):
        pruning.iterative_magnitude_prune(net, d, 0.5, steps=1, finetune=train.TrainConfig())
    with pytest.raises(ValueError, match="keep"):
        pruning.iterative_magnitude_prune(net, d, 1.5, steps=1, layers=["0"], finetune=train.TrainConfig())


def test_reproduce_han2015_validates_and_knows_the_paper():
    with pytest.raises(ValueError, match="model"):
        pruning.reproduce_han2015("vgg_small")
    assert pruning.HAN_2015["lenet_300_100"]["pruned_error"] == 1.59
    for model, layers in pruning.PRUNABLE.items():
        net = getattr(models, model)()
        assert all(hasattr(dict(net.named_modules())[n], "weight") for n in layers)
        prunable = sum(dict(net.named_modules())[n].weight.numel() for n in layers)
        biases = sum(m.bias.numel() for m in net.modules() if getattr(m, "bias", None) is not None)
        assert prunable + biases == sum(p.numel() for p in net.parameters())  # every weight is a candidate
