"""lib.qat against torch.ao.quantization (FakeQuantize, observers, torch.ao.nn.qat layers, prepare_qat),
and the invariants of storing codes, moving-average ranges and quantisation-aware training."""

from __future__ import annotations

import copy
import io
import warnings

import pytest
import torch
import torch.ao.quantization as tq
from torch import nn

from lib import qat
from lib import quantization as Q
from lib.experiments.qat import qat_finetune

torch.set_num_threads(1)


def act_fake_quant(bits, c=0.01):
    return tq.FakeQuantize(observer=tq.MovingAverageMinMaxObserver, averaging_constant=c,
                           quant_min=0, quant_max=2**bits - 1, dtype=torch.quint8)


def weight_qconfig_args(bits, moving=False):
    observer = tq.MovingAveragePerChannelMinMaxObserver if moving else tq.PerChannelMinMaxObserver
    extra = {"averaging_constant": 1.0} if moving else {}
    return dict(observer=observer, quant_min=-2**(bits - 1), quant_max=2**(bits - 1) - 1, dtype=torch.qint8,
                qscheme=torch.per_channel_symmetric, ch_axis=0, **extra)


def batches(g, n=6, shape=(32, 7)):
    """Batches whose ranges drift, with some values on exact half steps of nothing in particular."""
    return [torch.randn(*shape, generator=g) * (1 + i) + 0.3 * i for i in range(n)]


# --------------------------------------------------------------------------- fake quantisers against PyTorch
@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_ema_fake_quantize_equals_pytorch_fake_quantize(bits):
    g = torch.Generator().manual_seed(bits)
    ours, theirs = qat.EMAFakeQuantize(bits, averaging_constant=0.1), act_fake_quant(bits, 0.1)
    for x in batches(g):
        a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
        upstream = torch.randn(x.shape, generator=g)
        ya, yb = ours(a), theirs(b)
        assert torch.equal(ya, yb)
        assert torch.equal(ours.min_val, theirs.activation_post_process.min_val)
        assert torch.equal(ours.max_val, theirs.activation_post_process.max_val)
        scale, zp = ours.scale_zero_point()
        assert scale == float(theirs.scale) and zp == int(theirs.zero_point)
        (ya * upstream).sum().backward()
        (yb * upstream).sum().backward()
        assert torch.equal(a.grad, b.grad)  # the clipped straight-through estimator, as PyTorch's


@pytest.mark.parametrize("bits", [2, 4, 8])
@pytest.mark.parametrize("shape", [(6, 5), (4, 3, 3, 3)])
def test_fake_quantize_weight_equals_pytorch_per_channel(bits, shape):
    g = torch.Generator().manual_seed(bits + len(shape))
    w = torch.randn(*shape, generator=g)
    w[1] *= 5  # channels of different ranges
    fq = tq.FakeQuantize(**weight_qconfig_args(bits))
    a, b = w.clone().requires_grad_(), w.clone().requires_grad_()
    ya, yb = qat.fake_quantize_weight(a, bits), fq(b)
    assert torch.equal(ya, yb)
    upstream = torch.randn(shape, generator=g)
    (ya * upstream).sum().backward()
    (yb * upstream).sum().backward()
    assert torch.equal(a.grad, b.grad)
    levels = [len(torch.unique(ya[c])) for c in range(shape[0])]
    assert max(levels) <= 2**bits


def qat_linear_pair(bits, g):
    layer = nn.Linear(7, 5)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(5, 7, generator=g))
        layer.bias.copy_(torch.randn(5, generator=g))
    ours = qat.QuantLinear.from_float(layer, weight_bits=bits, act_bits=bits, averaging_constant=0.1)
    qconfig = tq.QConfig(activation=tq.FakeQuantize.with_args(observer=tq.MovingAverageMinMaxObserver,
                                                              averaging_constant=0.1, quant_min=0,
                                                              quant_max=2**bits - 1, dtype=torch.quint8),
                         weight=tq.FakeQuantize.with_args(**weight_qconfig_args(bits)))
    ref = torch.ao.nn.qat.Linear(7, 5, qconfig=qconfig)
    with torch.no_grad():
        ref.weight.copy_(layer.weight)
        ref.bias.copy_(layer.bias)
    return ours, nn.Sequential(act_fake_quant(bits, 0.1), ref)


def qat_conv_pair(bits, g):
    layer = nn.Conv2d(2, 4, 3, padding=1, stride=2)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(4, 2, 3, 3, generator=g))
    ours = qat.QuantConv2d.from_float(layer, weight_bits=bits, act_bits=bits, averaging_constant=0.1)
    qconfig = tq.QConfig(activation=tq.FakeQuantize.with_args(observer=tq.MovingAverageMinMaxObserver),
                         weight=tq.FakeQuantize.with_args(**weight_qconfig_args(bits)))
    ref = torch.ao.nn.qat.Conv2d(2, 4, 3, padding=1, stride=2, qconfig=qconfig)
    with torch.no_grad():
        ref.weight.copy_(layer.weight)
        ref.bias.copy_(layer.bias)
    return ours, nn.Sequential(act_fake_quant(bits, 0.1), ref)


@pytest.mark.parametrize("bits", [2, 4, 8])
@pytest.mark.parametrize("pair, shape", [(qat_linear_pair, (16, 7)), (qat_conv_pair, (3, 2, 6, 6))])
def test_quant_layers_equal_torch_ao_qat_layers(bits, pair, shape):
    g = torch.Generator().manual_seed(bits)
    ours, theirs = pair(bits, g)
    for x in batches(g, n=4, shape=shape):
        a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
        ya, yb = ours(a), theirs(b)
        assert torch.equal(ya, yb)
        upstream = torch.randn(ya.shape, generator=g)
        ours.zero_grad(), theirs.zero_grad()
        (ya * upstream).sum().backward()
        (yb * upstream).sum().backward()
        assert torch.equal(a.grad, b.grad)
        assert torch.equal(ours.weight.grad, theirs[1].weight.grad)
        assert torch.equal(ours.bias.grad, theirs[1].bias.grad)


def tiny_net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(27, 10))


def pytorch_model(net, bits):
    """PyTorch's eager QAT with lib.qat's placement: a QuantStub before each layer, identity outputs."""
    act = tq.FakeQuantize.with_args(observer=tq.MovingAverageMinMaxObserver, quant_min=0, quant_max=2**bits - 1,
                                    dtype=torch.quint8)
    weight = tq.FakeQuantize.with_args(**weight_qconfig_args(bits, moving=True))
    model = nn.Sequential()
    for layer in copy.deepcopy(net):
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            stub = tq.QuantStub()
            stub.qconfig = tq.QConfig(activation=act, weight=weight)
            layer.qconfig = tq.QConfig(activation=nn.Identity, weight=weight)
            model.append(stub)
        model.append(layer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = tq.prepare_qat(model.train())
    stubs = [m.activation_post_process for m in model.modules() if isinstance(m, tq.QuantStub)]
    return model, stubs


def test_qat_training_matches_pytorch_prepare_qat_bit_for_bit():
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(96, 1, 8, 8, generator=g), torch.randint(0, 10, (96,), generator=g)
    net = tiny_net()
    ours = qat.calibrate(qat.quantize_model(net, weight_bits=3, act_bits=3), X[:64], batch_size=32)
    theirs, stubs = pytorch_model(net, 3)
    for fq in stubs:
        fq.enable_observer()
        fq.disable_fake_quant()
    theirs.eval()
    with torch.no_grad():
        for i in range(0, 64, 32):
            theirs(X[i:i + 32])
    for fq in stubs:
        fq.disable_observer()
        fq.enable_fake_quant()
    assert torch.equal(ours(X), theirs(X))
    qat_finetune(ours, X, y, num_steps=8, lr=0.05, batch_size=16, seed=1)
    qat_finetune(theirs, X, y, num_steps=8, lr=0.05, batch_size=16, seed=1)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        assert torch.equal(p, q)
    assert not torch.equal(next(ours.parameters()), next(net.parameters()))  # it did train


# --------------------------------------------------------------------------- moving-average ranges
def test_ema_range_first_batch_then_moving_average_then_frozen():
    fq = qat.EMAFakeQuantize(num_bits=8, averaging_constant=0.25)
    x0 = torch.tensor([-1.0, 3.0])
    fq(x0)  # the first batch sets the range
    assert float(fq.min_val) == -1.0 and float(fq.max_val) == 3.0
    fq(torch.tensor([-5.0, 7.0]))
    assert float(fq.min_val) == pytest.approx(-1.0 + 0.25 * (-5.0 + 1.0))
    assert float(fq.max_val) == pytest.approx(3.0 + 0.25 * (7.0 - 3.0))
    fq.observer_enabled = False
    before = (fq.min_val.clone(), fq.max_val.clone())
    out = fq(torch.tensor([-100.0, 100.0]))
    assert torch.equal(fq.min_val, before[0]) and torch.equal(fq.max_val, before[1])
    scale, zp = fq.scale_zero_point()
    assert float(out[0]) == pytest.approx(scale * (0 - zp)) and float(out[1]) == pytest.approx(scale * (255 - zp))
    latest = qat.EMAFakeQuantize(4, averaging_constant=1.0)
    latest(torch.tensor([0.0, 1.0]))
    latest(torch.tensor([-2.0, 0.5]))
    assert (float(latest.min_val), float(latest.max_val)) == (-2.0, 0.5)  # c = 1 keeps only the latest batch


def test_ema_passes_through_until_observed():
    fq = qat.EMAFakeQuantize(2)
    fq.observer_enabled = False
    x = torch.randn(10)
    assert torch.equal(fq(x), x) and not fq.observed
    with pytest.raises(ValueError, match="no range observed"):
        fq.scale_zero_point()


def test_calibrate_records_ranges_then_freezes():
    g = torch.Generator().manual_seed(3)
    X = torch.randn(100, 1, 8, 8, generator=g)
    qnet = qat.quantize_model(tiny_net(), weight_bits=4, act_bits=4)
    qat.calibrate(qnet, X, batch_size=40)
    first = qnet[0].input_quant
    assert not first.observer_enabled and first.fake_quant_enabled
    # the first layer saw the raw input: the moving average over the three batches, in float32
    lo, hi = X[:40].min(), X[:40].max()
    for chunk in (X[40:80], X[80:]):
        lo, hi = lo + 0.01 * (chunk.min() - lo), hi + 0.01 * (chunk.max() - hi)
    assert torch.equal(first.min_val, lo) and torch.equal(first.max_val, hi)
    frozen = [(m.input_quant.min_val.clone(), m.input_quant.max_val.clone()) for m in qnet
              if isinstance(m, (qat.QuantConv2d, qat.QuantLinear))]
    qnet(X * 10)
    after = [(m.input_quant.min_val, m.input_quant.max_val) for m in qnet
             if isinstance(m, (qat.QuantConv2d, qat.QuantLinear))]
    assert all(torch.equal(a, c) and torch.equal(b, d) for (a, b), (c, d) in zip(frozen, after))


# --------------------------------------------------------------------------- storing codes
def test_pack_int4_round_trip():
    codes = torch.arange(-8, 8).repeat(3)[:-1]  # every value, odd length
    packed = qat.pack_int4(codes)
    assert packed.dtype == torch.uint8 and packed.numel() == (codes.numel() + 1) // 2
    assert torch.equal(qat.unpack_int4(packed, codes.numel()), codes.to(torch.int8))
    with pytest.raises(ValueError, match=r"codes must lie in \[-8, 7\]"):
        qat.pack_int4(torch.tensor([8]))
    with pytest.raises(ValueError, match="codes must be an integer tensor"):
        qat.pack_int4(torch.tensor([0.5]))
    with pytest.raises(ValueError, match="numel"):
        qat.unpack_int4(packed, 2 * packed.numel() + 1)


@pytest.mark.parametrize("bits", [2, 3, 4, 5, 8])
def test_saved_codes_restore_the_fake_quantised_network_exactly(bits):
    net = tiny_net(seed=bits)
    qsd = qat.quantize_state_dict(net, bits)
    assert qsd["0.weight.codes"].dtype == (torch.uint8 if bits <= 4 else torch.int8)
    n = net[4].weight.numel()  # 270: one byte per code, or half a byte
    assert qsd["4.weight.codes"].numel() * qsd["4.weight.codes"].element_size() == ((n + 1) // 2 if bits <= 4 else n)
    buffer = io.BytesIO()
    torch.save(qsd, buffer)
    buffer.seek(0)
    restored = copy.deepcopy(net)
    restored.load_state_dict(qat.dequantize_state_dict(torch.load(buffer, weights_only=True)))
    fake = qat.quantize_model(net, bits)
    assert torch.equal(restored[0].weight, fake[0].quantized_weight())
    assert torch.equal(restored[4].weight, fake[4].quantized_weight())
    assert torch.equal(restored[0].bias, net[0].bias)
    x = torch.randn(5, 1, 8, 8)
    assert torch.equal(restored(x), fake(x))


# --------------------------------------------------------------------------- training
def test_qat_finetune_is_deterministic_with_a_seed():
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(64, 1, 8, 8, generator=g), torch.randint(0, 10, (64,), generator=g)

    def run(seed):
        qnet = qat.calibrate(qat.quantize_model(tiny_net(), 2, 4), X)
        history = qat_finetune(qnet, X, y, num_steps=6, lr=0.05, batch_size=16, seed=seed,
                                   eval_every=3, X_eval=X, y_eval=y)
        return [p.detach().clone() for p in qnet.parameters()], history

    (p1, h1), (p2, h2), (p3, _) = run(0), run(0), run(1)
    assert all(torch.equal(a, b) for a, b in zip(p1, p2)) and h1 == h2
    assert not all(torch.equal(a, b) for a, b in zip(p1, p3))
    assert [s for s, _ in h1] == [0, 3, 6] and all(0 <= e <= 1 for _, e in h1)


def test_quantize_model_leaves_the_original_and_the_global_generator_alone():
    net = tiny_net()
    before = [p.clone() for p in net.parameters()]
    state = torch.get_rng_state()
    qnet = qat.quantize_model(net, 2, 2)
    assert torch.equal(torch.get_rng_state(), state)
    assert [type(m) for m in net] == [nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.Flatten, nn.Linear]
    assert [type(m) for m in qnet] == [qat.QuantConv2d, nn.ReLU, nn.MaxPool2d, nn.Flatten, qat.QuantLinear]
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
    assert torch.equal(qnet[0].weight, net[0].weight) and qnet[0].weight is not net[0].weight
    # with 16 bits and float activations, the quantised network is the float one up to tiny rounding
    x = torch.randn(4, 1, 8, 8)
    assert torch.allclose(qat.quantize_model(net, 16)(x), net(x), atol=1e-3)


# --------------------------------------------------------------------------- validation
def test_bad_arguments_raise_clear_errors():
    net = tiny_net()
    X, y = torch.randn(8, 1, 8, 8), torch.randint(0, 10, (8,))
    with pytest.raises(ValueError, match="weight_bits must be an integer in \\[2, 16\\], got 1"):
        qat.quantize_model(net, 1)
    with pytest.raises(ValueError, match="act_bits must be an integer in \\[2, 8\\], got 9"):
        qat.quantize_model(net, 4, 9)
    with pytest.raises(ValueError, match="averaging_constant must be in \\(0, 1\\]"):
        qat.EMAFakeQuantize(8, averaging_constant=0.0)
    with pytest.raises(ValueError, match="at least one nn.Linear or nn.Conv2d"):
        qat.quantize_model(nn.Sequential(nn.ReLU()), 4)
    with pytest.raises(ValueError, match="net must be a torch.nn.Module"):
        qat.quantize_model("lenet", 4)
    with pytest.raises(ValueError, match="layer must be an nn.Linear"):
        qat.QuantLinear.from_float(nn.Conv2d(1, 1, 1), 4)
    with pytest.raises(ValueError, match="num_bits must be an integer in \\[2, 8\\], got 9"):
        qat.quantize_state_dict(net, 9)
    with pytest.raises(ValueError, match="made by quantize_state_dict"):
        qat.dequantize_state_dict(net.state_dict())
    with pytest.raises(ValueError, match="call calibrate"):
        unobserved = qat.quantize_model(net, 4, 4)
        for m in unobserved.modules():
            if isinstance(m, qat.EMAFakeQuantize):
                m.observer_enabled = False
        qat_finetune(unobserved, X, y, num_steps=1)
    qnet = qat.quantize_model(net, 4)
    with pytest.raises(ValueError, match="same, non-zero length"):
        qat_finetune(qnet, X, y[:5], num_steps=1)
    with pytest.raises(ValueError, match="num_steps must be an integer in \\[1, inf\\], got 0"):
        qat_finetune(qnet, X, y, num_steps=0)
    with pytest.raises(ValueError, match="lr must be in"):
        qat_finetune(qnet, X, y, lr=-1.0)
    with pytest.raises(ValueError, match="X_eval and y_eval"):
        qat_finetune(qnet, X, y, num_steps=1, eval_every=1)
    with pytest.raises(ValueError, match="X must be a non-empty tensor"):
        qat.calibrate(qnet, X[:0])


def test_check_ste(capsys):
    from lib.book.exercises import check_ste

    check_ste(lambda x, g, s, z, lo, hi: g * ((torch.round(x / s) + z >= lo) & (torch.round(x / s) + z <= hi)))
    assert "✓" in capsys.readouterr().out
    check_ste(lambda x, g, s, z, lo, hi: g)  # the plain STE, forgetting the clipping
    assert "✗" in capsys.readouterr().out
    check_ste(None)
    assert "Not attempted" in capsys.readouterr().out


def test_qat_finetune_through_the_one_loop_equals_a_hand_written_sgd_loop_bit_for_bit():
    """The reference: the loop qat_finetune used to be (seeded batches reshuffled each pass, SGD with
    momentum, cosine decay over the steps), written out here; the one loop must give the same bits."""
    g = torch.Generator().manual_seed(4)
    X, y = torch.randn(70, 1, 8, 8, generator=g), torch.randint(0, 10, (70,), generator=g)
    ours = qat.calibrate(qat.quantize_model(tiny_net(seed=2), 3, 4), X)
    ref = copy.deepcopy(ours)
    qat_finetune(ours, X, y, num_steps=9, lr=0.05, batch_size=16, momentum=0.9, seed=3)
    gen = torch.Generator().manual_seed(3)
    opt = torch.optim.SGD(ref.parameters(), lr=0.05, momentum=0.9)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 9)
    order, pos = torch.randperm(70, generator=gen), 0
    for _ in range(9):
        if pos + 16 > 70:
            order, pos = torch.randperm(70, generator=gen), 0
        idx = order[pos:pos + 16]
        pos += 16
        ref.train()
        opt.zero_grad()
        torch.nn.functional.cross_entropy(ref(X[idx]), y[idx]).backward()
        opt.step()
        sched.step()
    assert all(torch.equal(p, q) for p, q in zip(ours.parameters(), ref.parameters()))
    assert not torch.equal(next(ours.parameters()), next(qat.quantize_model(tiny_net(seed=2), 3).parameters()))
