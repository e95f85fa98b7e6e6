"""lib.structured (group pruning against torch.nn.utils.prune, penalties), lib.channels (criteria, masked ==
removed) and lib.experiments.slimming on digits."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from lib import channels, structured
from lib.experiments import slimming
from lib.workbench import data, models, train
from lib.workbench.measure import count_params

torch.set_num_threads(1)

SHAPE = (1, 28, 28)


def layers(seed=0):
    torch.manual_seed(seed)
    return nn.Conv2d(3, 12, 3), nn.Linear(30, 20)


def randomise_batchnorm(net, seed=0):
    """Non-trivial BatchNorm parameters and statistics, so that slicing them wrongly would show."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(torch.randn(m.bias.shape, generator=g))
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return net


def nets():
    """(name, model in eval mode, input shape, layers that may be planned)."""
    return [
        ("vgg_small", randomise_batchnorm(models.vgg_small(channels=(8, 16, 32), seed=1)).eval(), SHAPE,
         ["0", "4", "8"]),
        ("lenet5", models.lenet5(seed=1).eval(), SHAPE, ["0", "2", "5"]),
        ("mlp", models.mlp([64, 40, 30, 10], seed=1).eval(), (64,), ["0", "2"]),
    ]


def random_plan(net, names, seed):
    g = torch.Generator().manual_seed(seed)
    modules = dict(net.named_modules())
    plan = {}
    for n in names:
        c = modules[n].weight.shape[0]
        k = int(torch.randint(1, c + 1, (1,), generator=g))
        plan[n] = torch.sort(torch.randperm(c, generator=g)[:k]).values
    return plan


# --------------------------------------------------------------------------- granularity
def test_group_norms_shapes_and_values():
    w = torch.randn(4, 3, 5, 2)
    assert torch.equal(structured.group_norms(w, "weight"), w.abs())
    assert structured.group_norms(w, "vector").shape == (4, 3, 5)
    assert structured.group_norms(w, "kernel").shape == (4, 3)
    assert structured.group_norms(w, "filter").shape == (4,)
    assert torch.allclose(structured.group_norms(w, "kernel")[1, 2], w[1, 2].norm())
    assert torch.allclose(structured.group_norms(w, "vector", p=1)[3, 0, 4], w[3, 0, 4].abs().sum())
    lin = torch.randn(6, 9)
    assert torch.allclose(structured.group_norms(lin, "filter"), lin.norm(dim=1))
    for g in ("vector", "kernel"):
        with pytest.raises(ValueError, match="4-D Conv2d"):
            structured.group_norms(lin, g)
    with pytest.raises(ValueError, match="granularity"):
        structured.group_norms(w, "channel")
    with pytest.raises(ValueError, match="weight must be"):
        structured.group_norms(torch.randn(3), "weight")
    with pytest.raises(ValueError, match="p must"):
        structured.group_norms(w, "filter", p=0)


@pytest.mark.parametrize("amount", [0, 1, 5, 0.0, 0.25, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("p", [1, 2])
def test_filter_granularity_equals_ln_structured(amount, p):
    for ours, ref in zip(layers(), layers()):
        structured.group_magnitude_prune(ours, amount=amount, granularity="filter", p=p)
        prune.ln_structured(ref, "weight", amount=amount, n=p, dim=0)
        assert torch.equal(ours.weight_mask, ref.weight_mask)
        assert torch.equal(ours.weight, ref.weight)


def test_iterative_filter_pruning_equals_ln_structured():
    """Pruning again counts among the filters that remain, as PyTorch's container does."""
    ours, ref = layers()[0], layers()[0]
    for amount in (0.3, 2, 0.5):
        structured.group_magnitude_prune(ours, amount=amount, granularity="filter")
        prune.ln_structured(ref, "weight", amount=amount, n=2, dim=0)
        assert torch.equal(ours.weight_mask, ref.weight_mask)
    assert int(ours.weight_mask.flatten(1).amax(1).sum()) == 12 - 4 - 2 - 3


@pytest.mark.parametrize("amount", [0, 7, 0.3, 0.5, 1.0])
def test_weight_granularity_equals_l1_unstructured(amount):
    for ours, ref in zip(layers(), layers()):
        structured.group_magnitude_prune(ours, amount=amount, granularity="weight")
        prune.l1_unstructured(ref, "weight", amount=amount)
        assert torch.equal(ours.weight_mask, ref.weight_mask)


@pytest.mark.parametrize("granularity, groups", [("vector", 12 * 3 * 3), ("kernel", 12 * 3), ("filter", 12)])
@pytest.mark.parametrize("amount", [0.2, 0.6, 5])
def test_exact_count_of_zeroed_groups_and_kept_values(granularity, groups, amount):
    conv = layers()[0]
    before = conv.weight.detach().clone()
    structured.group_magnitude_prune(conv, amount=amount, granularity=granularity)
    k = amount if isinstance(amount, int) else round(amount * groups)
    norms = structured.group_norms(conv.weight.detach(), granularity)
    assert norms.numel() == groups
    assert int((norms == 0).sum()) == k
    kept = conv.weight_mask.bool()
    assert torch.equal(conv.weight[kept], before[kept])  # kept groups keep their values
    # the removed groups are the smallest ones
    original = structured.group_norms(before, granularity)
    assert original[norms == 0].max() <= original[norms != 0].min()


def test_group_pruning_twice_composes_and_mask_is_full_shaped():
    conv = layers()[0]
    structured.group_magnitude_prune(conv, amount=0.5, granularity="kernel")
    structured.group_magnitude_prune(conv, amount=0.5, granularity="kernel")
    assert conv.weight_mask.shape == conv.weight.shape
    assert int((structured.group_norms(conv.weight.detach(), "kernel") > 0).sum()) == 36 - 18 - 9


def test_group_pruning_bad_arguments():
    conv, lin = layers()
    with pytest.raises(ValueError, match="granularity"):
        structured.group_magnitude_prune(conv, amount=0.5, granularity="row")
    with pytest.raises(ValueError, match="granularity 'kernel' needs a 4-D"):
        structured.group_magnitude_prune(lin, amount=0.5, granularity="kernel")
    with pytest.raises(ValueError, match=r"amount must be a count in \[0, 12\]"):
        structured.group_magnitude_prune(conv, amount=13, granularity="filter")
    with pytest.raises(ValueError, match="amount must be a fraction"):
        structured.group_magnitude_prune(conv, amount=1.5, granularity="filter")
    with pytest.raises(ValueError, match="amount"):
        structured.group_magnitude_prune(conv, amount="half", granularity="filter")
    with pytest.raises(ValueError, match="name"):
        structured.group_magnitude_prune(conv, "weights", amount=0.5)
    assert not hasattr(conv, "weight_mask")  # nothing applied on error


# --------------------------------------------------------------------------- criteria
def test_criteria_definitions():
    torch.manual_seed(0)
    net = randomise_batchnorm(models.vgg_small(channels=(4, 6, 8), seed=2))
    X, y = torch.randn(37, 1, 28, 28), torch.randint(0, 10, (37,))
    w = net[4].weight.detach()
    assert torch.allclose(channels.channel_scores(net, "4", "l1"), w.abs().sum((1, 2, 3)))
    assert torch.allclose(channels.channel_scores(net, "4", "l2"), w.flatten(1).norm(dim=1))
    assert torch.equal(channels.channel_scores(net, "4", "bn_gamma"), net[5].weight.detach().abs())
    flat = w.flatten(1)
    fpgm = torch.stack([(flat - f).norm(dim=1).sum() for f in flat])
    assert torch.allclose(channels.channel_scores(net, "4", "fpgm"), fpgm, atol=1e-4)

    net.eval()
    with torch.no_grad():  # APoZ by hand: the fraction of zeros after the ReLU
        relu_out = net[:7](X)
    expected = 1 - (relu_out == 0).float().mean(dim=(0, 2, 3))
    assert torch.allclose(channels.channel_scores(net, "4", "apoz", X, batch_size=10), expected, atol=1e-6)

    # Taylor by hand, one example at a time: |sum over positions of dL/da * a|, averaged
    per_example = []
    for i in range(len(X)):
        a = net[:6](X[i:i + 1]).detach().requires_grad_()
        loss = nn.functional.cross_entropy(net[6:](a), y[i:i + 1])
        (g,) = torch.autograd.grad(loss, a)
        per_example.append((g * a).sum((2, 3)).abs()[0])
    taylor = channels.channel_scores(net, "4", "taylor", X, y, batch_size=16)
    assert torch.allclose(taylor, torch.stack(per_example).mean(0), rtol=1e-4, atol=1e-7)


def test_taylor_equals_gate_decorator_when_beta_is_zero():
    """|gamma dL/dgamma| summed per example is the Taylor score of the BatchNorm output when beta = 0."""
    net = randomise_batchnorm(models.vgg_small(channels=(4, 6), seed=3)).eval()
    with torch.no_grad():
        net[5].bias.zero_()
    X, y = torch.randn(1, 1, 28, 28), torch.tensor([3])
    loss = nn.functional.cross_entropy(net(X), y)
    (g,) = torch.autograd.grad(loss, net[5].weight)
    expected = (net[5].weight * g).abs().detach()
    assert torch.allclose(channels.channel_scores(net, "4", "taylor", X, y), expected, rtol=1e-4, atol=1e-8)


def test_criteria_leave_the_net_as_they_found_it():
    net = models.vgg_small(channels=(4, 6, 8))
    net.train()
    net[5].eval()  # a mixed state must come back too
    state = copy.deepcopy(net.state_dict())
    flags = [m.training for m in net.modules()]
    X, y = torch.randn(20, 1, 28, 28), torch.randint(0, 10, (20,))
    for c in channels.CRITERIA:
        s = channels.channel_scores(net, "4", c, X, y)
        assert s.shape == (6,) and not s.requires_grad
    assert [m.training for m in net.modules()] == flags
    assert all(torch.equal(v, state[k]) for k, v in net.state_dict().items())  # running stats untouched too
    assert all(p.grad is None for p in net.parameters())
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())


def test_scores_are_deterministic_and_seeded():
    net = models.vgg_small(channels=(4, 6, 8))
    X, y = torch.randn(20, 1, 28, 28), torch.randint(0, 10, (20,))
    for c in channels.CRITERIA:
        assert torch.equal(channels.channel_scores(net, "8", c, X, y, seed=5),
                           channels.channel_scores(net, "8", c, X, y, seed=5))
    r0 = channels.channel_scores(net, "8", "random", seed=0)
    assert torch.equal(r0, channels.channel_scores(models.vgg_small(channels=(4, 6, 8)), "8", "random", seed=0))
    assert not torch.equal(r0, channels.channel_scores(net, "8", "random", seed=1))


def test_criteria_bad_arguments():
    net = models.vgg_small(channels=(4, 6))
    X = torch.randn(5, 1, 28, 28)
    with pytest.raises(ValueError, match="criterion"):
        channels.channel_scores(net, "0", "l3")
    with pytest.raises(ValueError, match="layer must name"):
        channels.channel_scores(net, "1", "l1")  # a BatchNorm, not a Conv2d/Linear
    with pytest.raises(ValueError, match="layer must name"):
        channels.channel_scores(net, "features.0", "l1")
    with pytest.raises(ValueError, match="X must"):
        channels.channel_scores(net, "0", "apoz")
    with pytest.raises(ValueError, match="y must"):
        channels.channel_scores(net, "0", "taylor", X)
    with pytest.raises(ValueError, match="batch_size"):
        channels.channel_scores(net, "0", "apoz", X, batch_size=0)
    lenet = models.lenet5()
    with pytest.raises(ValueError, match="bn_gamma"):
        channels.channel_scores(lenet, "0", "bn_gamma")
    with pytest.raises(ValueError, match="apoz"):
        channels.channel_scores(lenet, "0", "apoz", X)  # LeNet-5's convolutions have no ReLU


# --------------------------------------------------------------------------- plans
def test_channel_plan_layer_and_global():
    net = models.vgg_small(channels=(4, 10))
    scores = {"0": torch.tensor([0.5, 0.12, 0.9, 0.33]), "4": torch.arange(10.0) / 20}
    plan = channels.channel_plan(net, scores, 0.5, "layer")
    assert plan["0"].tolist() == [0, 2] and plan["4"].tolist() == [5, 6, 7, 8, 9]
    assert plan["0"].dtype == torch.long
    plan = channels.channel_plan(net, scores, 0.5, "global")  # the 7 lowest of all 14: 0 ... 0.25
    assert plan["0"].tolist() == [0, 2, 3] and plan["4"].tolist() == [6, 7, 8, 9]
    # every layer keeps at least one channel
    plan = channels.channel_plan(net, {"0": torch.zeros(4), "4": torch.ones(10)}, 0.9, "global")
    assert len(plan["0"]) == 1 and len(plan["4"]) == 1
    assert len(channels.channel_plan(net, scores, 0.99, "layer")["0"]) == 1
    assert channels.channel_plan(net, scores, 0.0)["4"].tolist() == list(range(10))


def test_channel_plan_bad_arguments():
    net = models.vgg_small(channels=(4, 10))
    scores = {"0": torch.rand(4)}
    for bad in (1.0, -0.1, "half"):
        with pytest.raises(ValueError, match="amount"):
            channels.channel_plan(net, scores, bad)
    with pytest.raises(ValueError, match="scope"):
        channels.channel_plan(net, scores, 0.5, "model")
    with pytest.raises(ValueError, match="layer must name"):
        channels.channel_plan(net, {"7": torch.rand(4)}, 0.5)
    with pytest.raises(ValueError, match=r"scores\['0'\] must have one score per output channel \(4\)"):
        channels.channel_plan(net, {"0": torch.rand(5)}, 0.5)


# --------------------------------------------------------------------------- masked == removed
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_removed_equals_masked_for_random_plans(seed):
    for name, net, shape, planned in nets():
        x = torch.randn(6, *shape)
        plan = random_plan(net, planned, seed)
        masked = channels.mask_channels(copy.deepcopy(net), plan)
        small = channels.remove_channels(net, plan, shape)
        assert torch.allclose(small(x), masked(x), atol=1e-5), name
        modules = dict(small.named_modules())
        for layer, keep in plan.items():
            assert modules[layer].weight.shape[0] == len(keep), (name, layer)
        dropped_any = any(len(k) < net.get_submodule(n).weight.shape[0] for n, k in plan.items())
        assert count_params(small) < count_params(net) if dropped_any else count_params(small) == count_params(net)


def test_param_count_drops_exactly():
    net = models.vgg_small(channels=(8, 16, 32))
    plan = {"0": torch.arange(5), "4": torch.arange(10), "8": torch.arange(20)}
    small = channels.remove_channels(net, plan, SHAPE)
    assert count_params(small) == count_params(models.vgg_small(channels=(5, 10, 20)))
    assert [m.num_features for m in small if isinstance(m, nn.BatchNorm2d)] == [5, 10, 20]
    lenet = channels.remove_channels(models.lenet5(), {"2": torch.arange(0, 50, 2), "5": torch.arange(100)}, SHAPE)
    assert lenet[5].weight.shape == (100, 25 * 16) and lenet[7].weight.shape == (10, 100)
    assert [t.shape for t in channels.remove_channels(models.mlp([64, 40, 10]), {"0": torch.arange(7)},
                                                        (64,)).parameters()] == [(7, 64), (7,), (10, 7), (10,)]


def test_removed_equals_masked_for_every_criterion():
    X, y = torch.randn(24, 1, 28, 28), torch.randint(0, 10, (24,))
    for name, net, shape, planned in nets():
        x = X if len(shape) == 3 else torch.randn(24, *shape)
        for criterion in channels.CRITERIA:
            try:
                scores = {n: channels.channel_scores(net, n, criterion, x, y) for n in planned}
            except ValueError as err:  # LeNet-5 has no BatchNorm, and no ReLU after its convolutions
                assert name in ("lenet5", "mlp") and criterion in ("bn_gamma", "apoz"), err
                continue
            for scope in ("layer", "global"):
                plan = channels.channel_plan(net, scores, 0.5, scope)
                masked = channels.mask_channels(copy.deepcopy(net), plan)
                small = channels.remove_channels(net, plan, shape)
                assert torch.allclose(small(x), masked(x), atol=1e-5), (name, criterion, scope)


def test_removing_nothing_changes_nothing_and_original_is_untouched():
    for name, net, shape, planned in nets():
        x = torch.randn(4, *shape)
        state = copy.deepcopy(net.state_dict())
        plan = {n: torch.arange(net.get_submodule(n).weight.shape[0]) for n in planned}
        small = channels.remove_channels(net, plan, shape)
        assert torch.equal(small(x), net(x)), name
        assert small is not net and all(torch.equal(v, state[k]) for k, v in net.state_dict().items())


def test_full_masks_change_nothing_forward_or_backward():
    for name, net, shape, planned in nets():
        x = torch.randn(4, *shape)
        ref = copy.deepcopy(net)
        plan = {n: torch.arange(net.get_submodule(n).weight.shape[0]) for n in planned}
        channels.mask_channels(net, plan)
        out, out_ref = net(x), ref(x)
        assert torch.equal(out, out_ref), name
        out.sum().backward()
        out_ref.sum().backward()
        for n in planned:
            assert torch.equal(net.get_submodule(n).weight_orig.grad, ref.get_submodule(n).weight.grad)


def test_remove_channels_reads_pruned_weights_and_masked_channels_output_zero():
    net = randomise_batchnorm(models.vgg_small(channels=(8, 16), seed=4)).eval()
    structured.group_magnitude_prune(net[0], amount=0.5, granularity="weight")  # an earlier unstructured prune
    plan = {"0": torch.tensor([1, 4, 6]), "4": torch.arange(0, 16, 2)}
    masked = channels.mask_channels(channels._deepcopy(net), plan)  # a pruned weight is no leaf: copy.deepcopy fails
    x = torch.randn(3, 1, 28, 28)
    assert torch.all(masked[:3](x)[:, [0, 2, 3, 5, 7]] == 0)  # a dropped channel is exactly zero after BatchNorm
    small = channels.remove_channels(net, plan, SHAPE)
    assert not any("mask" in k for k in small.state_dict())
    assert torch.allclose(small(x), masked(x), atol=1e-5)
    again = channels.remove_channels(masked, plan, SHAPE)  # from the masked net too
    assert torch.allclose(again(x), masked(x), atol=1e-5)
    # fine-tuning the masked net keeps dropped channels at zero
    masked.train()
    opt = torch.optim.SGD(masked.parameters(), lr=0.1)
    masked(x).sum().backward()
    opt.step()
    masked.eval()
    assert torch.all(masked[:3](x)[:, [0, 2, 3, 5, 7]] == 0)


def test_remove_and_mask_bad_arguments():
    net = models.vgg_small(channels=(4, 6))
    with pytest.raises(ValueError, match="final classifier"):
        channels.remove_channels(net, {"10": torch.arange(5)}, SHAPE)
    with pytest.raises(ValueError, match="final classifier"):
        channels.mask_channels(net, {"10": torch.arange(5)})
    with pytest.raises(ValueError, match="layer must name"):
        channels.remove_channels(net, {"3": torch.arange(2)}, SHAPE)
    for bad in (torch.tensor([2, 1]), torch.tensor([0, 0]), torch.tensor([4]), torch.tensor([], dtype=torch.long),
                torch.tensor([0.0, 1.0])):
        with pytest.raises(ValueError, match=r"plan\['0'\]"):
            channels.remove_channels(net, {"0": bad}, SHAPE)
    with pytest.raises(ValueError, match="input_shape"):
        channels.remove_channels(net, {"0": torch.arange(2)}, (3, 28, 28))
    with pytest.raises(ValueError, match="input_shape"):
        channels.remove_channels(net, {"0": torch.arange(2)}, 28)
    odd = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Tanh(), nn.Flatten(), nn.LazyLinear(3))
    with pytest.raises(ValueError, match="module '1'"):
        channels.remove_channels(odd, {"0": torch.arange(2)}, SHAPE)
    with pytest.raises(ValueError, match="nn.Sequential"):
        channels.remove_channels(nn.ModuleList([nn.Linear(2, 2)]), {}, (2,))
    with pytest.raises(ValueError, match="plan must"):
        channels.mask_channels(net, [("0", torch.arange(2))])


# --------------------------------------------------------------------------- penalties
def test_penalties():
    net = randomise_batchnorm(models.vgg_small(channels=(4, 6)))
    expected = net[1].weight.abs().sum() + net[5].weight.abs().sum()
    assert torch.allclose(structured.slimming_penalty(net), expected)
    lasso = structured.group_lasso_penalty(net)
    assert torch.allclose(lasso, net[0].weight.flatten(1).norm(dim=1).sum() + net[4].weight.flatten(1).norm(dim=1).sum())
    assert torch.allclose(structured.group_lasso_penalty(net, "weight"),
                          net[0].weight.abs().sum() + net[4].weight.abs().sum())
    lasso.backward()
    assert net[0].weight.grad is not None
    with pytest.raises(ValueError, match="granularity"):
        structured.group_lasso_penalty(net, "block")
    with pytest.raises(ValueError, match="BatchNorm"):
        structured.slimming_penalty(models.lenet5())
    with pytest.raises(ValueError, match="Conv2d"):
        structured.group_lasso_penalty(models.mlp([4, 3]))


def test_fit_with_penalty_shrinks_gammas_and_default_is_unchanged():
    d = data.digits()
    images = data.Split(d.X_train.reshape(-1, 1, 8, 8), d.y_train, d.X_test.reshape(-1, 1, 8, 8), d.y_test, 10)
    cfg = train.TrainConfig(dataset="digits", num_epochs=3, lr=0.05, batch_size=64)
    plain, zero, slim = (models.vgg_small(channels=(8, 16), seed=0) for _ in range(3))
    h_plain = train.fit(plain, images, cfg)
    h_zero = train.fit(zero, images, cfg, penalty=lambda n: 0.0 * structured.slimming_penalty(n))
    assert h_plain == h_zero  # a zero penalty changes nothing...
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), zero.state_dict().values()))
    train.fit(slim, images, cfg, penalty=lambda n: 0.1 * structured.slimming_penalty(n))
    assert structured.slimming_penalty(slim) < 0.8 * structured.slimming_penalty(plain)  # ...a real one shrinks |gamma|
    with pytest.raises(ValueError, match="penalty"):
        train.fit(plain, images, cfg, penalty=1e-4)


def test_slimming_pieces_on_digits():
    """Network Slimming in miniature: sparsity-train, prune by a global |gamma| threshold, remove, fine-tune."""
    d = data.digits()
    X_test = d.X_test.reshape(-1, 1, 8, 8)
    # the curve is read on held-out images: here the test part stands in for a validation split
    images = data.Split(d.X_train.reshape(-1, 1, 8, 8), d.y_train, X_test, d.y_test, 10, X_test, d.y_test)
    net = models.vgg_small(channels=(16, 32), seed=0)
    cfg = train.TrainConfig(dataset="digits", num_epochs=8, lr=0.05, batch_size=32)
    train.fit(net, images, cfg, penalty=lambda n: 3e-2 * structured.slimming_penalty(n))
    dense_error = train.error_rate(net, images.X_test, images.y_test)
    gammas = {n: channels.channel_scores(net, n, "bn_gamma") for n in ("0", "4")}
    plan = channels.channel_plan(net, gammas, 0.2, "global")
    assert sum(len(k) for k in plan.values()) == 48 - 10
    removed = torch.cat([g[torch.isin(torch.arange(len(g)), plan[n], invert=True)] for n, g in gammas.items()])
    assert removed.max() < 1e-3  # the penalty drove these scales to (nearly) zero...
    small = channels.remove_channels(net, plan, (1, 8, 8))
    assert train.error_rate(small, images.X_test, images.y_test) <= dense_error + 0.02  # ...so they cost little
    assert torch.allclose(small(images.X_test), channels.mask_channels(copy.deepcopy(net), plan)(images.X_test),
                          atol=1e-5)
    curve = slimming.finetune_curve(small, images, epochs=2, lr=0.01, seed=0, batch_size=32)
    assert len(curve) == 9 and curve[-1][0] == pytest.approx(2.0)  # 4 an epoch (45 steps: every 11th) and the end
    assert curve[-1][1] == train.error_rate(small, images.X_val, images.y_val)  # validation, not test
    assert dense_error < 0.05 and curve[-1][1] < dense_error + 0.03


def test_network_slimming_validates():
    for kwargs, word in [({"lam": -1}, "lam"), ({"epochs": 0}, "epochs"), ({"finetune_epochs": -1}, "finetune_epochs"),
                         ({"lr": 0}, "lr"), ({"finetune_lr": 11}, "finetune_lr")]:
        with pytest.raises(ValueError, match=word):
            slimming.network_slimming(**kwargs)
    with pytest.raises(TypeError):
        slimming.network_slimming(prune_fraction=0.5)  # chosen on the validation split, not passed
    assert list(slimming.FRACTIONS) == sorted(slimming.FRACTIONS)


def test_finetune_curve_helper():
    d = data.digits(val_size=200)
    net = models.mlp([64, 16, 10], seed=0).train()
    curve = slimming.finetune_curve(net, d, epochs=1, lr=0.05, points_per_epoch=3, batch_size=16)
    steps = (len(d.y_train) + 15) // 16
    every = steps // 3  # a record every `every` steps, and one at the end
    assert [f for f, _ in curve] == pytest.approx([s / steps for s in range(every, steps, every)] + [1.0])
    assert curve[-1][1] < 0.5
    assert slimming.finetune_curve(net, d, epochs=0, lr=0.05) == []
    for kwargs, word in [({"epochs": -1}, "epochs"), ({"lr": 0.0}, "lr"), ({"points_per_epoch": 0}, "points_per_epoch")]:
        with pytest.raises(ValueError, match=word):
            slimming.finetune_curve(net, d, **{"epochs": 1, "lr": 0.1, **kwargs})
    cfg = slimming.slimming_config()
    assert cfg["lam"] == 1e-2 and cfg["baseline"]["model"] == "vgg_small" and cfg == slimming.slimming_config()


def test_recalibrate_batchnorm_measures_the_data_statistics():
    torch.manual_seed(0)
    net = models.vgg_small(channels=(4, 6))
    X = torch.randn(64, 1, 28, 28) * 2 + 0.5
    channels.recalibrate_batchnorm(net, X, batch_size=16)
    bn = net[1]
    with torch.no_grad():
        features = net[0](X)
    mean = features.mean(dim=(0, 2, 3))
    var = features.var(dim=(0, 2, 3), unbiased=True)  # per batch of 16, averaged: close, not equal
    assert torch.allclose(bn.running_mean, mean, atol=1e-4)
    assert torch.allclose(bn.running_var, var, rtol=0.1)
    assert not net.training and bn.momentum == 0.1
    with pytest.raises(ValueError, match="batch_size"):
        channels.recalibrate_batchnorm(net, X, batch_size=0)
