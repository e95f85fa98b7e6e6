"""Knowledge distillation (lib.distill) against hand computations with PyTorch, its invariants,
and the experiment's training through the workbench loop."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lib import distill
from lib.distill import (best_bias_shift, class_similarity, distillation_loss, most_alike, shift_bias,
                         soft_gradient, soft_targets)
from lib.experiments import distillation as exp
from lib.workbench.data import Split
from lib.workbench.models import mlp
from lib.workbench.train import TrainConfig


def _logits(n=6, c=10, seed=0, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, generator=g, dtype=torch.float64) * scale


def _hand(s, t, y, T, alpha):
    """The contract written out in NumPy, example by example."""
    s, t, y = s.numpy(), t.numpy(), y.numpy()
    total_kl, total_ce = 0.0, 0.0
    for n in range(len(y)):
        p = np.exp(t[n] / T) / np.exp(t[n] / T).sum()
        q = np.exp(s[n] / T) / np.exp(s[n] / T).sum()
        total_kl += float((p * np.log(p / q)).sum())
        q1 = np.exp(s[n]) / np.exp(s[n]).sum()
        total_ce += -float(np.log(q1[y[n]]))
    return alpha * T**2 * total_kl / len(y) + (1 - alpha) * total_ce / len(y)


@pytest.mark.parametrize("T,alpha", [(1.0, 0.5), (2.5, 0.9), (20.0, 0.3), (0.5, 1.0), (7.0, 0.0)])
def test_loss_equals_hand_computation_and_torch(T, alpha):
    s, t = _logits(seed=1), _logits(seed=2)
    y = torch.tensor([0, 3, 9, 3, 5, 1])
    got = float(distillation_loss(s, t, y, T, alpha))
    assert got == pytest.approx(_hand(s, t, y, T, alpha), rel=1e-10, abs=1e-12)
    torch_ref = (alpha * T**2 * F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction="batchmean")
                 + (1 - alpha) * F.cross_entropy(s, y))
    assert got == pytest.approx(float(torch_ref), rel=1e-10, abs=1e-12)


def test_loss_limits():
    s, t = _logits(seed=3), _logits(seed=4)
    y = torch.tensor([1, 2, 3, 4, 5, 6])
    assert float(distillation_loss(s, t, y, 3.0, 0.0)) == pytest.approx(float(F.cross_entropy(s, y)), rel=1e-12)
    assert float(distillation_loss(t, t, y, 3.0, 1.0)) == pytest.approx(0.0, abs=1e-12)   # KL(p || p) = 0
    assert float(distillation_loss(s, t, y, 3.0, 1.0)) > 0                                  # KL >= 0
    # adding a constant to every logit of a row changes no softmax, hence no loss
    shifted = distillation_loss(s + 5.0, t - 2.0, y, 3.0, 0.7)
    assert float(shifted) == pytest.approx(float(distillation_loss(s, t, y, 3.0, 0.7)), rel=1e-10)


def test_gradient_is_T_times_q_minus_p_and_teacher_gets_none():
    s, t = _logits(seed=5).requires_grad_(), _logits(seed=6).requires_grad_()
    y = torch.zeros(6, dtype=torch.long)
    T = 4.0
    distillation_loss(s, t, y, T, 1.0).backward()
    # d/dz of T^2 * mean KL = T^2 * (q - p) / T / N
    want = T**2 * soft_gradient(s.detach(), t.detach(), T) / len(y)
    assert torch.allclose(s.grad, want, atol=1e-12)
    assert t.grad is None                     # the teacher is a constant


def test_soft_gradient_matches_autograd_of_kl():
    s, t = _logits(seed=7).requires_grad_(), _logits(seed=8)
    T = 3.0
    kl = (F.softmax(t / T, 1) * (F.log_softmax(t / T, 1) - F.log_softmax(s / T, 1))).sum(1)
    grad, = torch.autograd.grad(kl.sum(), s)
    assert torch.allclose(grad, soft_gradient(s.detach(), t, T), atol=1e-12)


def test_soft_gradient_falls_like_one_over_T_squared():
    """Hinton et al., eq. (4): for T large, dKL/dz_i -> (z_i - v_i) / (C T^2) with zero-mean logits."""
    s, t = _logits(seed=9), _logits(seed=10)
    s, t = s - s.mean(1, keepdim=True), t - t.mean(1, keepdim=True)
    C = s.shape[1]
    for T in (200.0, 1000.0):
        g = soft_gradient(s, t, T)
        assert torch.allclose(T**2 * g, (s - t) / C, rtol=0.05, atol=0.05 * float((s - t).abs().max()) / C)
    ratios = [float(soft_gradient(s, t, T).norm() / soft_gradient(s, t, 2 * T).norm()) for T in (50.0, 100.0, 200.0)]
    assert all(r == pytest.approx(4.0, rel=0.03) for r in ratios)
    # at small T the gradient does NOT scale like 1/T^2 (the ratio is far from 4)
    assert float(soft_gradient(s, t, 0.5).norm() / soft_gradient(s, t, 1.0).norm()) < 3.0


def test_T_squared_keeps_the_soft_gradient_scale():
    """With the T^2 factor the soft term's gradient settles to a constant as T grows; without it,
    it shrinks by about 4 for every doubling of T."""
    s, t = _logits(seed=11), _logits(seed=12)
    y = torch.zeros(6, dtype=torch.long)

    def grad_norm(T, factor):
        z = s.clone().requires_grad_()
        loss = distillation_loss(z, t, y, T, 1.0) / (1.0 if factor else T**2)
        loss.backward()
        return float(z.grad.norm())

    with_factor = [grad_norm(T, True) for T in (40.0, 80.0, 160.0)]
    without = [grad_norm(T, False) for T in (40.0, 80.0, 160.0)]
    assert max(with_factor) / min(with_factor) < 1.05
    assert without[0] / without[1] == pytest.approx(4.0, rel=0.05)
    assert without[1] / without[2] == pytest.approx(4.0, rel=0.05)


def test_soft_targets():
    z = _logits(seed=13)
    p = soft_targets(z, 1.0)
    assert torch.allclose(p, torch.softmax(z, 1))
    for T in (0.3, 1.0, 5.0, 50.0):
        q = soft_targets(z, T)
        assert torch.allclose(q.sum(1), torch.ones(len(z), dtype=z.dtype))
        assert torch.equal(q.argsort(1), z.argsort(1))               # order of the classes kept
    assert torch.allclose(soft_targets(z, 1e5), torch.full_like(z, 0.1), atol=1e-4)   # hot: uniform
    cold = soft_targets(z, 1e-3)
    assert torch.equal(cold.argmax(1), z.argmax(1)) and bool((cold.max(1).values > 0.999).all())
    # entropy grows with T
    ent = [float(-(soft_targets(z, T) * soft_targets(z, T).log()).sum()) for T in (0.5, 1, 2, 4, 8)]
    assert ent == sorted(ent)


@pytest.mark.parametrize("kwargs,name", [
    ({"T": 0.0}, "T"), ({"T": -1.0}, "T"), ({"T": float("nan")}, "T"),
    ({"alpha": -0.1}, "alpha"), ({"alpha": 1.5}, "alpha"),
])
def test_bad_arguments(kwargs, name):
    args = {"student_logits": _logits(), "teacher_logits": _logits(seed=1), "target": torch.zeros(6, dtype=torch.long),
            "T": 2.0, "alpha": 0.5, **kwargs}
    with pytest.raises(ValueError, match=name):
        distillation_loss(**args)


def test_bad_shapes():
    y = torch.zeros(6, dtype=torch.long)
    with pytest.raises(ValueError, match="same shape"):
        distillation_loss(_logits(), _logits(c=9), y, 2.0, 0.5)
    with pytest.raises(ValueError, match="same shape"):
        distillation_loss(_logits(), _logits(n=5), y, 2.0, 0.5)
    with pytest.raises(ValueError, match="target"):
        distillation_loss(_logits(), _logits(), torch.zeros(5, dtype=torch.long), 2.0, 0.5)
    with pytest.raises(ValueError, match="student_logits"):
        distillation_loss(torch.zeros(10), torch.zeros(10), torch.zeros(1, dtype=torch.long), 2.0, 0.5)
    with pytest.raises(ValueError, match="T"):
        soft_targets(_logits(), 0.0)
    with pytest.raises(ValueError, match="same shape"):
        soft_gradient(_logits(), _logits(c=3), 2.0)


def test_class_similarity_and_most_alike():
    z = _logits(n=40, c=4, seed=14)
    y = torch.arange(40) % 4
    S = class_similarity(z, y, T=2.0)
    p = torch.softmax(z / 2.0, 1)
    for i in range(4):
        assert torch.allclose(S[i], p[y == i].mean(0))
    assert torch.allclose(S.sum(1), torch.ones(4, dtype=S.dtype))
    pairs = most_alike(S, k=3)
    off = [(i, j, float(S[i, j])) for i in range(4) for j in range(4) if i != j]
    best = sorted(off, key=lambda r: -r[2])[:3]
    assert [(i, j) for i, j, _ in pairs] == [(i, j) for i, j, _ in best]
    assert all(i != j for i, j, _ in pairs)
    with pytest.raises(ValueError, match="k"):
        most_alike(S, k=13)


def test_bias_shift():
    z = _logits(n=30, seed=15)
    assert torch.equal(shift_bias(z, 2, 0.0), z)
    shifted = shift_bias(z, 2, 1.5)
    assert torch.allclose(shifted[:, 2] - z[:, 2], torch.full((30,), 1.5, dtype=z.dtype))
    assert torch.equal(shifted[:, [0, 1, 3]], z[:, [0, 1, 3]])
    # a class never predicted is recovered by raising its bias far enough
    logits = torch.tensor([[0.0, 2.0], [0.0, 2.0], [1.0, 0.0]])
    y = torch.tensor([0, 0, 0])
    assert best_bias_shift(logits, y, 0, [0.0, 1.0, 3.0, 5.0]) == (3.0, 0)
    errors = [int((shift_bias(z, 3, d).argmax(1) != (torch.arange(30) % 10)).sum()) for d in (0.0, 0.5, 1.0)]
    assert best_bias_shift(z, torch.arange(30) % 10, 3, [1.0, 0.5, 0.0])[1] == min(errors)
    with pytest.raises(ValueError, match="cls"):
        shift_bias(z, 10, 1.0)


def test_distill_fit_optimises_exactly_the_distillation_loss():
    """One full-batch SGD step through the workbench loop equals one step on distillation_loss by hand."""
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(32, 784, generator=g), torch.randint(0, 10, (32,), generator=g)
    targets = torch.randn(32, 10, generator=g) * 3
    data = Split(X, y, X[:4], y[:4], 10, X[:4], y[:4])
    net = mlp([784, 8, 10], seed=0)
    ref = copy.deepcopy(net)
    cfg = TrainConfig(model="mlp", num_epochs=1, lr=0.1, momentum=0.0, weight_decay=0.0, batch_size=32,
                      lr_decay="none")
    exp.distill_fit(net, data, targets, T=4.0, alpha=0.8, cfg=cfg)
    distillation_loss(ref(X), targets, y, 4.0, 0.8).backward()
    with torch.no_grad():
        for p in ref.parameters():
            p -= 0.1 * p.grad
    for a, b in zip(net.parameters(), ref.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    with pytest.raises(ValueError, match="targets"):
        exp.distill_fit(net, data, targets[:5], 4.0, 0.8, cfg)


def test_experiment_constants_quote_the_paper():
    assert exp.PAPER["teacher"] == 67 and exp.PAPER["student_alone"] == 146 and exp.PAPER["student_distilled"] == 74
    assert exp.PAPER["no3_distilled"] == 206 and exp.PAPER["no3_corrected"] == 109 and exp.PAPER["temperature"] == 20
    assert exp.STUDENT_WIDTH == 800 and 20.0 in exp.TEMPERATURES and 0.0 in exp.BIAS_SHIFTS


def test_module_reference():
    assert "1503.02531" in distill.__doc__
