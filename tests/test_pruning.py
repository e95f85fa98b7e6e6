"""lib.pruning and lib.surgery against torch.nn.utils.prune, the invariants of masking, and the
pruning experiments (lib.experiments.han2015, lib.experiments.magnitude_pruning) on digits."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from lib import pruning, surgery
from lib.experiments import han2015
from lib.experiments import magnitude_pruning as mp
from lib.workbench import data, models, train


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


@pytest.mark.parametrize("amount", [0.0, 0.3, 0.9, 1.0, 17, 500])
def test_global_prune_with_scores_equals_global_unstructured(amount):
    """Custom scores (negative ones and many ties included), some pairs left to their weights, a mask
    already in place: the same masks as PyTorch's global_unstructured with L1Unstructured."""
    g = torch.Generator().manual_seed(2)
    ours, ref = models.lenet5(seed=2), models.lenet5(seed=2)
    for net in (ours, ref):
        prune.l1_unstructured(net[0], "weight", amount=0.5)  # an earlier mask: its zeros are not counted again
    pairs = lambda net: [(net[0], "weight"), (net[2], "weight"), (net[7], "weight")]  # noqa: E731
    raw = [torch.randint(-3, 4, p.weight.shape, generator=g).float() for p in (ours[0], ours[2])]  # ties galore
    pruning.global_prune(pairs(ours), amount, importance_scores={(ours[0], "weight"): raw[0], (ours[2], "weight"): raw[1]})
    prune.global_unstructured(pairs(ref), pruning_method=prune.L1Unstructured, amount=amount,
                              importance_scores={(ref[0], "weight"): raw[0], (ref[2], "weight"): raw[1]})
    for (m1, _), (m2, _) in zip(pairs(ours), pairs(ref)):
        assert torch.equal(m1.weight_mask, m2.weight_mask)
        assert torch.equal(m1.weight, m2.weight)


def test_global_prune_scores_decide_and_bad_arguments_raise():
    a = nn.Linear(4, 2)
    scores = torch.arange(8.0).reshape(2, 4)  # weight 0 least important, weight 7 most
    pruning.global_prune([(a, "weight")], 3, importance_scores={(a, "weight"): scores})
    assert a.weight_mask.reshape(-1).tolist() == [0, 0, 0, 1, 1, 1, 1, 1]  # whatever the weights' sizes
    b = nn.Linear(4, 2)
    with pytest.raises(ValueError, match="importance_scores"):
        pruning.global_prune([(b, "weight")], 1, importance_scores={(b, "weight"): torch.ones(3)})
    with pytest.raises(ValueError, match="importance_scores"):
        pruning.global_prune([(b, "weight")], 1, importance_scores=[torch.ones(2, 4)])
    with pytest.raises(ValueError, match="amount"):
        pruning.global_prune([(b, "weight")], 9)
    with pytest.raises(ValueError, match="parameters"):
        pruning.global_prune([(b, "weights")], 1)
    assert pruning.check_amount(0.25, 10) == 2 and pruning.check_amount(10, 10) == 10


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


@pytest.mark.parametrize("amount, error", [(1.1, ValueError), (-10, ValueError), (-0.1, ValueError),
                                           ("x", TypeError), (None, TypeError)])
def test_magnitude_pruning_rejects_a_bad_amount_at_construction_as_pytorch_does(amount, error):
    with pytest.raises(error):
        prune.L1Unstructured(amount)  # PyTorch's own method: the behaviour matched
    with pytest.raises(error, match="amount"):
        pruning.MagnitudePruning(amount)
    for good in (0, 5, 0.0, 0.5, 1.0):
        prune.L1Unstructured(good)
        pruning.MagnitudePruning(good)


@pytest.mark.parametrize("amount", [0, 5, 0.3, 0.9, 1.0])
def test_importance_scores_give_pytorchs_masks(amount):
    g = torch.Generator().manual_seed(3)
    ours = layers(4)[0]
    ref = copy.deepcopy(ours)
    scores = torch.randn(ours.weight.shape, generator=g)  # unrelated to the weights, so the test can fail
    pruning.magnitude_prune(ours, "weight", amount=amount, importance_scores=scores)
    prune.l1_unstructured(ref, "weight", amount=amount, importance_scores=scores)
    assert torch.equal(ours.weight_mask, ref.weight_mask)
    if 0 < amount < 1.0:  # the scores, not the weights, decided
        by_weight = pruning.magnitude_prune(layers(4)[0], "weight", amount=amount).weight_mask
        assert not torch.equal(by_weight, ours.weight_mask)
    # the method's own apply, as prune.L1Unstructured.apply
    a = layers(5)[1]
    b = copy.deepcopy(a)
    conv_scores = torch.rand(a.weight.shape, generator=g)
    pruning.MagnitudePruning.apply(a, "weight", amount, importance_scores=conv_scores)
    prune.L1Unstructured.apply(b, "weight", amount, importance_scores=conv_scores)
    assert torch.equal(a.weight_mask, b.weight_mask)
    # and once more on top (iterative pruning ranks the remaining weights by the new scores)
    pruning.magnitude_prune(a, "weight", amount=0.5, importance_scores=-conv_scores)
    prune.l1_unstructured(b, "weight", amount=0.5, importance_scores=-conv_scores)
    assert torch.equal(a.weight_mask, b.weight_mask)
    # global: the same scores, pooled over two layers
    net_a = nn.Sequential(nn.Linear(10, 8), nn.ReLU(), nn.Linear(8, 4))
    net_b = copy.deepcopy(net_a)
    sc = {0: torch.randn(8, 10, generator=g), 2: torch.randn(4, 8, generator=g)}
    pruning.global_magnitude_prune([(net_a[i], "weight") for i in (0, 2)], amount,
                                   importance_scores={(net_a[i], "weight"): sc[i] for i in (0, 2)})
    prune.global_unstructured([(net_b[i], "weight") for i in (0, 2)], pruning_method=prune.L1Unstructured,
                              amount=amount, importance_scores={(net_b[i], "weight"): sc[i] for i in (0, 2)})
    for i in (0, 2):
        assert torch.equal(net_a[i].weight_mask, net_b[i].weight_mask)
    with pytest.raises(ValueError, match="importance_scores"):
        pruning.magnitude_prune(nn.Linear(3, 2), amount=1, importance_scores=torch.ones(3))


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
    d = data.digits()
    net = models.mlp([64, 64, 32, 10], seed=0)
    train.fit(net, d, train.TrainConfig(dataset="digits", num_epochs=20, lr=0.05, batch_size=32))
    amount = {"0": 0.9, "2": 0.8, "4": 0.5}
    hist = han2015.iterative_magnitude_prune(net, d, amount, steps=3,
                                             finetune=train.TrainConfig(dataset="digits", num_epochs=3, lr=0.01,
                                                                      batch_size=32),
                                             final_epochs=3)
    assert [h["step"] for h in hist] == [1, 2, 3]
    assert hist[0]["kept"] > hist[1]["kept"] > hist[2]["kept"]
    for name, a in amount.items():
        m = dict(net.named_modules())[name]
        assert int(m.weight_mask.sum()) == round((1 - a) * m.weight.numel())  # exact, not approximately
        assert torch.all(m.weight[m.weight_mask == 0] == 0)
    total = sum(dict(net.named_modules())[n].weight.numel() for n in amount)
    kept = sum(round((1 - a) * dict(net.named_modules())[n].weight.numel()) for n, a in amount.items())
    assert hist[-1]["compression"] == pytest.approx(total / kept)
    assert all(h["val_error"] is None for h in hist)  # digits() holds out no validation images
    assert train.error_rate(net, d.X_test, d.y_test) < 0.15  # still a working classifier at 5x fewer weights
    with pytest.raises(ValueError, match="amount"):
        han2015.iterative_magnitude_prune(net, d, {"9": 0.5}, 1, train.TrainConfig())
    with pytest.raises(ValueError, match="steps"):
        han2015.iterative_magnitude_prune(net, d, amount, 0, train.TrainConfig())


def test_iterative_global_pruning_hits_the_total_exactly():
    d = data.digits(val_size=100)
    net = models.mlp([64, 64, 32, 10], seed=0)
    train.fit(net, d, train.TrainConfig(dataset="digits", num_epochs=10, lr=0.05, batch_size=32))
    hist = han2015.iterative_magnitude_prune(net, d, 0.8, steps=2, layers=["0", "2", "4"],
                                             finetune=train.TrainConfig(dataset="digits", num_epochs=2, lr=0.01,
                                                                        batch_size=32))
    total = 64 * 64 + 64 * 32 + 32 * 10
    assert round(hist[-1]["kept"] * total) == round(0.2 * total)
    assert len(set(round(v, 3) for v in hist[-1]["layer_kept"].values())) > 1  # the layers share the cut unevenly
    assert hist[-1]["val_error"] == train.error_rate(net, d.X_val, d.y_val)  # validation, not test
    with pytest.raises(ValueError, match="amount"):
        han2015.iterative_magnitude_prune(net, d, 0.5, steps=1, finetune=train.TrainConfig())
    with pytest.raises(ValueError, match="amount"):
        han2015.iterative_magnitude_prune(net, d, 1.5, steps=1, layers=["0"], finetune=train.TrainConfig())


def test_reproduce_han2015_validates_and_knows_the_paper():
    with pytest.raises(ValueError, match="model"):
        han2015.reproduce_han2015("vgg_small")
    with pytest.raises(ValueError, match="settings"):
        han2015.reproduce_han2015("lenet5", keep=0.1)
    with pytest.raises(ValueError, match="amount"):
        han2015.reproduce_han2015("lenet5", amount=1.0)
    with pytest.raises(ValueError, match="amount"):
        han2015.choose_amount("lenet5", amount=0.9)
    assert han2015.HAN_2015["lenet_300_100"]["pruned_error"] == 1.59
    assert list(han2015.CANDIDATES) == sorted(han2015.CANDIDATES, reverse=True)  # largest first
    assert han2015.dense_config("lenet_300_100").num_epochs == 20
    for model, layers in han2015.PRUNABLE.items():
        net = getattr(models, model)()
        assert all(hasattr(dict(net.named_modules())[n], "weight") for n in layers)
        prunable = sum(dict(net.named_modules())[n].weight.numel() for n in layers)
        biases = sum(m.bias.numel() for m in net.modules() if getattr(m, "bias", None) is not None)
        assert prunable + biases == sum(p.numel() for p in net.parameters())  # every weight is a candidate


# --------------------------------------------------------------------------- dynamic network surgery, OBD


@pytest.fixture(scope="module")
def digits_mlp():
    """A 64-32-10 MLP trained on digits (about a second), and the data."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    d = data.digits(val_size=200)
    net = models.mlp([64, 32, 10], seed=0)
    train.fit(net, d, train.TrainConfig(dataset="digits", num_epochs=10, lr=0.05, batch_size=32))
    torch.set_num_threads(threads)
    return net, d


def test_surgery_mask_prunes_below_a_splices_above_b_and_keeps_the_band():
    w = torch.tensor([0.1, 0.5, 0.85, 0.95, 1.05, 1.2, 2.0, 3.0])
    t = 1.2  # amount=0.625 keeps 3 of 8: the 3rd largest |w| is the centre
    mask = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0])
    new = surgery.surgery_mask(w, mask, amount=5 / 8, margin=0.25)  # a = 0.9, b = 1.5
    a, b = 0.75 * t, 1.25 * t
    assert torch.equal(new[w.abs() < a], torch.zeros(3))                 # pruned, whatever they were
    assert torch.equal(new[w.abs() >= b], torch.ones(2))                 # kept or spliced back
    band = (w.abs() >= a) & (w.abs() < b)
    assert torch.equal(new[band], mask[band])                           # unchanged
    # without a band it is magnitude pruning of exactly `amount`
    w = torch.randn(20, 30, generator=torch.Generator().manual_seed(0))
    plain = surgery.surgery_mask(w, torch.zeros_like(w), amount=0.75, margin=0.0)
    ref = nn.Linear(30, 20)
    with torch.no_grad():
        ref.weight.copy_(w)
    pruning.magnitude_prune(ref, amount=0.75)
    assert torch.equal(plain, ref.weight_mask)
    for kwargs, name in [({"amount": 1.0}, "amount"), ({"amount": -0.5}, "amount"),
                         ({"amount": 0.5, "margin": 1.0}, "margin")]:
        with pytest.raises(ValueError, match=name):
            surgery.surgery_mask(w, torch.ones_like(w), **kwargs)
    with pytest.raises(ValueError, match="mask"):
        surgery.surgery_mask(w, torch.ones(3), amount=0.5)


def test_straight_through_masks_forward_but_not_gradient():
    w = torch.randn(4, 5, requires_grad=True)
    mask = (torch.rand(4, 5, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    upstream = torch.randn(4, 5)
    masked = surgery.masked_weight(w, mask)
    assert torch.equal(masked, w.detach() * mask)      # forward: exactly W * T
    (masked * upstream).sum().backward()
    assert torch.equal(w.grad, upstream)               # backward: dL/dW = dL/d(W*T), pruned entries too


def surgery_cfg(**kw):
    return train.TrainConfig(dataset="digits", **{"num_epochs": 5, "lr": 0.05, "batch_size": 32, **kw})


def test_dynamic_surgery_hits_keep_revives_weights_and_leaves_a_pruned_net(digits_mlp, one_thread):
    net0, d = digits_mlp
    net = copy.deepcopy(net0)
    result = mp.dynamic_surgery(net, d, amount=0.9, layers=["0", "2"], cfg=surgery_cfg())
    assert abs(result["kept"] - 0.1) < 0.01
    assert all(abs(k - 0.1) < 0.02 for k in result["layer_kept"].values())
    hist = result["history"]
    assert [h["epoch"] for h in hist] == [1, 2, 3, 4, 5]
    assert hist[-1]["kept"] == pytest.approx(result["kept"])
    assert hist[0]["spliced"] == 0 and hist[0]["pruned"] > 0.8 * (64 * 32 + 32 * 10)  # from dense
    assert sum(h["spliced"] for h in hist[1:]) > 0                                  # weights grew back
    for name in ["0", "2"]:
        m = dict(net.named_modules())[name]
        assert set(m.weight_mask.unique().tolist()) <= {0.0, 1.0}
        assert torch.equal(m.weight, m.weight_orig * m.weight_mask)
        assert int(m.weight_mask.sum()) == round(result["layer_kept"][name] * m.weight.numel())
    assert result["val_error"] == pytest.approx(hist[-1]["val_error"], abs=1e-6)  # the net as returned
    assert result["val_error"] < 0.2

    again = copy.deepcopy(net0)
    result2 = mp.dynamic_surgery(again, d, amount=0.9, layers=["0", "2"], cfg=surgery_cfg())
    assert result2 == result
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values()))


def test_dynamic_surgery_records_every_n_steps(digits_mlp, one_thread):
    net0, d = digits_mlp
    net = copy.deepcopy(net0)
    result = mp.dynamic_surgery(net, d, amount=0.7, layers=["0"], cfg=surgery_cfg(num_epochs=2),
                                margin=0.0, update_every=5, record_every=10)
    steps = 2 * ((len(d.y_train) + 31) // 32)
    assert [h["step"] for h in result["history"]] == list(range(10, steps, 10)) + [steps]  # and the last step
    assert result["layer_kept"]["0"] == pytest.approx(0.3, abs=1 / 2048)  # margin 0: magnitude pruning
    assert not hasattr(net[2], "weight_mask")  # layers not listed stay dense


@pytest.mark.parametrize("kwargs, name", [({"amount": 1.0}, "amount"), ({"amount": 1.2}, "amount"), ({"margin": 1.0}, "margin"),
                                          ({"update_every": 0}, "update_every"), ({"record_every": -1}, "record_every"),
                                          ({"layers": []}, "layers"), ({"layers": ["1"]}, "layers"),
                                          ({"layers": "0"}, "layers"), ({"cfg": {"lr_decay": "step"}}, "lr_decay"),
                                          ({"cfg": {"num_epochs": 0}}, "num_epochs"), ({"cfg": {"lr": 0.0}}, "lr")])
def test_dynamic_surgery_bad_args_raise_value_error(kwargs, name):
    args = {"amount": 0.5, "layers": ["0"], "cfg": surgery_cfg(), **kwargs}
    if isinstance(args["cfg"], dict):
        args["cfg"] = surgery_cfg(**args["cfg"])
    with pytest.raises(ValueError, match=name):
        mp.dynamic_surgery(models.mlp([64, 8, 10]), data.digits(val_size=100), **args)


def test_dynamic_surgery_refuses_an_already_pruned_layer():
    net = models.mlp([64, 8, 10])
    pruning.magnitude_prune(net[0], amount=0.5)
    with pytest.raises(ValueError, match="already pruned"):
        mp.dynamic_surgery(net, data.digits(val_size=100), 0.5, ["0"], surgery_cfg())


def _flat_loss(net, X, y):
    """The mean cross-entropy as a function of all parameters flattened into one vector."""
    from torch.func import functional_call

    names = [n for n, _ in net.named_parameters()]
    shapes = [p.shape for _, p in net.named_parameters()]

    def loss(theta):
        params, i = {}, 0
        for n, s in zip(names, shapes):
            params[n] = theta[i:i + s.numel()].view(s)
            i += s.numel()
        return nn.functional.cross_entropy(functional_call(net, params, (X,)), y)

    return loss, torch.cat([p.detach().reshape(-1) for p in net.parameters()])


def tiny_nets():
    torch.manual_seed(0)
    relu = models.mlp([5, 4, 3], seed=1).double()
    tanh = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3)).double()
    X = torch.randn(20, 5, dtype=torch.float64)
    y = torch.randint(0, 3, (20,))
    return relu, tanh, X, y


def test_hessian_diagonal_equals_the_diagonal_of_the_full_hessian(one_thread):
    for net in tiny_nets()[:2]:
        X, y = tiny_nets()[2:]
        loss, theta = _flat_loss(net, X, y)
        full = torch.autograd.functional.hessian(loss, theta)
        ours = pruning.hessian_diagonal(net, X, y, chunk=7)  # several chunks per parameter
        assert list(ours) == [n for n, _ in net.named_parameters()]
        flat = torch.cat([ours[n].reshape(-1) for n, _ in net.named_parameters()])
        assert torch.allclose(flat, full.diagonal(), atol=1e-5, rtol=0)
        part = pruning.hessian_diagonal(net, X, y, params=["2.weight"])
        assert list(part) == ["2.weight"] and torch.allclose(part["2.weight"], ours["2.weight"], atol=1e-12)
    relu, _, X, y = tiny_nets()
    with pytest.raises(ValueError, match="params"):
        pruning.hessian_diagonal(relu, X, y, params=["0.weights"])
    with pytest.raises(ValueError, match="y"):
        pruning.hessian_diagonal(relu, X, y[:3])
    with pytest.raises(ValueError, match="chunk"):
        pruning.hessian_diagonal(relu, X, y, chunk=0)


def test_gauss_newton_diagonal_formula_and_relation_to_the_exact_one(one_thread):
    relu, tanh, X, y = tiny_nets()
    for net in (relu, tanh):
        # reference: G = mean_n J_n^T (diag p - p p^T) J_n from full Jacobians of the logits
        names = [n for n, _ in net.named_parameters()]
        _, theta = _flat_loss(net, X, y)

        def logits(t, net=net, names=names):
            from torch.func import functional_call

            params, i = {}, 0
            for n, p in net.named_parameters():
                params[n] = t[i:i + p.numel()].view(p.shape)
                i += p.numel()
            return functional_call(net, params, (X,))

        J = torch.autograd.functional.jacobian(logits, theta)  # (N, C, P)
        p = torch.softmax(logits(theta), dim=1)
        H = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
        G = torch.einsum("ncp,ncd,ndp->p", J, H, J) / len(X)
        ours = pruning.gauss_newton_diagonal(net, X, chunk=6)
        assert torch.allclose(torch.cat([ours[n].reshape(-1) for n in names]), G, atol=1e-10)
        assert all(bool((t >= 0).all()) for t in ours.values())
    exact = pruning.hessian_diagonal(relu, X, y)
    gn = pruning.gauss_newton_diagonal(relu, X)
    assert all(torch.allclose(exact[n], gn[n], atol=1e-10) for n in exact)  # ReLU: piecewise linear per weight
    exact, gn = pruning.hessian_diagonal(tanh, X, y), pruning.gauss_newton_diagonal(tanh, X)
    assert exact["0.weight"].min() < 0                                  # tanh: negative curvature happens
    assert torch.allclose(exact["2.weight"], gn["2.weight"], atol=1e-10)  # logits are linear in the last layer
    assert not torch.allclose(exact["0.weight"], gn["0.weight"], atol=1e-3)


def test_obd_saliency_is_half_h_w_squared(one_thread):
    _, tanh, X, y = tiny_nets()
    s = pruning.obd_saliency(tanh, X, y)
    h = pruning.hessian_diagonal(tanh, X, y)
    for n, p in tanh.named_parameters():
        assert torch.allclose(s[n], 0.5 * h[n] * p.detach() ** 2, atol=1e-14)
    assert s["0.weight"].min() < 0  # the exact diagonal can make a saliency negative
    gn = pruning.obd_saliency(tanh, X, y, curvature="gauss-newton")
    assert all(bool((t >= 0).all()) for t in gn.values())
    with pytest.raises(ValueError, match="curvature"):
        pruning.obd_saliency(tanh, X, y, curvature="lm")


def test_obd_prune_is_exact_ranked_and_deterministic(digits_mlp, one_thread):
    net0, d = digits_mlp
    X, y = d.X_train[:400], d.y_train[:400]
    a, b = copy.deepcopy(net0), copy.deepcopy(net0)
    saliency = pruning.obd_prune(a, X, y, 0.8, ["0"])
    pruning.obd_prune(b, X, y, 0.8, ["0"])
    assert torch.equal(a[0].weight_mask, b[0].weight_mask)                 # deterministic
    assert int((a[0].weight_mask == 0).sum()) == round(0.8 * 64 * 32)      # exact sparsity
    assert torch.equal(a[0].weight, a[0].weight_orig * a[0].weight_mask)
    s = saliency["0"].abs()
    assert s[a[0].weight_mask == 0].max() <= s[a[0].weight_mask == 1].min()  # the smallest |s_k| went
    # A second round on the same layer counts only the surviving weights, as PyTorch's pruning does.
    pruning.obd_prune(a, X, y, 0.5, ["0"], curvature="gauss-newton")
    assert int(a[0].weight_mask.sum()) == round(0.2 * 2048) - round(0.5 * round(0.2 * 2048))
    # Global ranking over two layers: the total is exact, the split is the saliencies' choice.
    c = copy.deepcopy(net0)
    pruning.obd_prune(c, X, y, 1000, ["0", "2"], curvature="gauss-newton")
    assert int((c[0].weight_mask == 0).sum() + (c[2].weight_mask == 0).sum()) == 1000
    for kwargs, name in [({"amount": 1.5}, "amount"), ({"layers": ["1"]}, "layers"), ({"layers": []}, "layers"),
                         ({"curvature": "lm"}, "curvature")]:
        with pytest.raises(ValueError, match=name):
            pruning.obd_prune(copy.deepcopy(net0), X, y, **{"amount": 0.5, "layers": ["0"], **kwargs})


def test_surgery_masks_hooks():
    net = models.mlp([6, 5, 3], seed=0)
    masks = surgery.SurgeryMasks(net, ["0"], amount=0.6, margin=0.0, update_every=3)
    assert masks.kept() == pytest.approx(12 / 30)  # magnitude pruning to start with
    x = torch.randn(4, 6)
    ref = copy.deepcopy(net)
    with torch.no_grad():
        ref[0].weight.mul_(masks.masks["0"])
    assert torch.allclose(masks.forward(x), ref(x))  # the net with W * T
    with torch.no_grad():
        net[0].weight.copy_(torch.arange(30.0).reshape(5, 6))  # now the last 12 weights are the largest
    masks.after_step(net, 1)
    assert masks.kept() == pytest.approx(12 / 30) and masks.masks["0"].reshape(-1)[:10].sum() > 0  # not yet
    masks.after_step(net, 3)
    assert masks.masks["0"].reshape(-1).tolist() == [0.0] * 18 + [1.0] * 12  # updated every 3 steps
    masks.attach()
    assert torch.equal(net[0].weight_mask, masks.masks["0"]) and not hasattr(net[2], "weight_mask")
    with pytest.raises(ValueError, match="layers"):
        surgery.SurgeryMasks(models.mlp([6, 5, 3]), ["1"], amount=0.5)
    with pytest.raises(ValueError, match="update_every"):
        surgery.SurgeryMasks(models.mlp([6, 5, 3]), ["0"], amount=0.5, update_every=0)


def test_chapter_experiments_validate():
    with pytest.raises(ValueError, match="amount"):
        mp.prune_once(1.0)
    with pytest.raises(ValueError, match="scope"):
        mp.prune_once(0.5, scope="local")
    with pytest.raises(ValueError, match="model"):
        mp.dense_at_equal_size("lenet5")
    with pytest.raises(ValueError, match="amount"):
        mp.dense_at_equal_size(amount=1.0)
    with pytest.raises(ValueError, match="epochs"):
        mp.surgery_vs_iterative(epochs=4)
