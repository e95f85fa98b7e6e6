"""lib.integer: fixed-point requantisation and integer-only layers against PyTorch's quantised kernels,
power-of-two quantisation invariants, shifts, peak arithmetic and argument checks. No timings."""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import pytest
import torch

from lib import integer as I

torch.set_num_threads(1)


# --------------------------------------------------------------------------- peaks
def test_cpu_info_parses_a_cpuinfo_file(tmp_path):
    f = tmp_path / "cpuinfo"
    f.write_text("processor\t: 0\nmodel name\t: Some CPU\ncpu MHz\t\t: 2596.122\nflags\t\t: fpu avx2 fma\n\n"
                 "processor\t: 1\nmodel name\t: Some CPU\ncpu MHz\t\t: 2596.122\nflags\t\t: fpu avx2 fma\n")
    info = I.cpu_info(f)
    assert info == {"model": "Some CPU", "clock_ghz": pytest.approx(2.596122), "flags": ["avx2", "fma", "fpu"],
                    "logical_cpus": 2}
    f.write_text("processor\t: 0\n")  # no clock, no flags: None and [] rather than a guess
    assert I.cpu_info(f)["clock_ghz"] is None and I.cpu_info(f)["flags"] == []


@pytest.mark.parametrize("flags, width, fp32, int8", [
    (["avx512f", "avx512_vnni", "avx2"], 512, 64, 256),      # VNNI: 4 int8 products per 32-bit lane
    (["avx512f", "avx2"], 512, 64, 2 * 512 // 8 * 2 / 3),    # three-instruction int8 sequence
    (["avx2", "fma", "avx_vnni"], 256, 32, 128),
    (["avx2", "fma"], 256, 32, 2 * 256 // 8 * 2 / 3),
    (["sse2"], 128, 16, 2 * 128 // 8 * 2 / 3)])
def test_simd_peaks_formula(flags, width, fp32, int8):
    p = I.simd_peaks(flags, clock_ghz=3.0)
    assert (p["width_bits"], p["fp32_per_cycle"]) == (width, fp32)
    assert p["int8_per_cycle"] == pytest.approx(int8)
    assert p["fp32_gflops"] == pytest.approx(3.0 * fp32) and p["int8_gops"] == pytest.approx(3.0 * int8)
    assert p["ratio"] == pytest.approx(4.0 if "vnni" in p["int8_instruction"].lower() else 4 / 3)
    assert I.simd_peaks(flags, fma_units=1)["fp32_per_cycle"] == fp32 // 2 and "fp32_gflops" not in I.simd_peaks(flags)


# --------------------------------------------------------------------------- fixed point
def test_quantize_multiplier_range_and_accuracy():
    g = torch.Generator().manual_seed(0)
    cases = list(10 ** (-9 * torch.rand(500, generator=g, dtype=torch.float64))) + [0.5, 2.0 ** -32, 1 - 2.0 ** -40,
                                                                                  0.999999999]
    for m in map(float, cases):
        m0, n = I.quantize_multiplier(m)
        assert 2**30 <= m0 < 2**31 and -1 <= n <= 31
        assert abs(m0 * 2.0 ** (-31 - n) - m) <= 2.0 ** -31 * m  # relative error at most 2^-31 (half a unit in 2^-30)
    assert I.quantize_multiplier(1 - 2.0 ** -40) == (2**30, -1)  # rounded up to 2^31: halved, shift decreased
    assert I.quantize_multiplier(2.0 ** -32) == (2**30, 31)


def test_rounding_right_shift_is_round_half_away_from_zero():
    x = torch.arange(-300, 301)
    for s in range(0, 7):
        want = [int(math.copysign(math.floor(abs(v) / 2**s + 0.5), v)) for v in x.tolist()]
        assert I.rounding_right_shift(x, s).tolist() == want
    per_channel = I.rounding_right_shift(torch.tensor([[6, 6], [-6, -6]]), torch.tensor([1, 2]))
    assert per_channel.tolist() == [[3, 2], [-3, -2]]


def test_fixed_point_multiply_matches_exact_rational_rounding():
    g = torch.Generator().manual_seed(1)
    acc = torch.randint(-2**31, 2**31, (2000,), generator=g, dtype=torch.int64)
    for m in (0.7, 0.0031, 1.7e-6, 0.5):
        m0, n = I.quantize_multiplier(m)
        got = I.fixed_point_multiply(acc, m0, n)
        exact = [Fraction(int(a) * m0, 2 ** (31 + n)) for a in acc]
        want = [int(math.copysign(math.floor(abs(e) + Fraction(1, 2)), e)) for e in exact]
        assert got.tolist() == want
        assert float((got.double() - acc.double() * m).abs().max()) <= 0.5 + abs(m0 * 2.0 ** (-31 - n) - m) * 2**31


def test_requantize_clamps_and_applies_per_channel_multipliers():
    acc = torch.tensor([[100, 100], [-1000, 5000]])
    out = I.requantize(acc, torch.tensor([0.1, 0.01]), 5, 0, 255)
    assert out.tolist() == [[15, 6], [0, 55]]
    assert I.requantize(acc, 0.1, 5, quant_min=5).tolist() == [[15, 15], [5, 255]]  # fused ReLU: clamp at z_y


def _random_layer(g, per_channel):
    batch, k, n = 12, int(torch.randint(4, 400, (1,), generator=g)), int(torch.randint(2, 60, (1,), generator=g))
    x = torch.randn(batch, k, generator=g).relu() * 3
    w = torch.randn(n, k, generator=g) * 0.1
    b = torch.randn(n, generator=g) * 0.5
    xq = torch.quantize_per_tensor(x, float(x.max()) / 255, int(torch.randint(0, 60, (1,), generator=g)), torch.quint8)
    if per_channel:
        wq = torch.quantize_per_channel(w, (w.abs().amax(1) / 127.5).double(), torch.zeros(n, dtype=torch.long), 0,
                                        torch.qint8)
        w_scale = wq.q_per_channel_scales().float()
    else:
        wq = torch.quantize_per_tensor(w, float(w.abs().max()) / 127.5, 0, torch.qint8)
        w_scale = wq.q_scale()
    y = torch.nn.functional.linear(xq.dequantize(), wq.dequantize(), b)
    sy = float(y.max() - y.min()) / 255
    zy = int(round(min(255.0, max(0.0, -float(y.min()) / sy))))
    return xq, wq, w_scale, b, sy, zy


def _compare_with_pytorch(engine, per_channel, seed, trials=24):
    old = torch.backends.quantized.engine
    torch.backends.quantized.engine = engine
    g = torch.Generator().manual_seed(seed)
    total = differ = worst = 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PyTorch's deprecation notices for quantised tensors
            for t in range(trials):
                xq, wq, w_scale, b, sy, zy = _random_layer(g, per_channel)
                relu = t % 3 == 0
                op = torch.ops.quantized.linear_relu if relu else torch.ops.quantized.linear
                ref = op(xq, torch.ops.quantized.linear_prepack(wq, b), sy, zy).int_repr().long()
                ours = I.integer_linear(xq.int_repr(), xq.q_scale(), xq.q_zero_point(), wq.int_repr(), w_scale, b,
                                        sy, zy, relu=relu)
                d = (ours - ref).abs()
                total, differ, worst = total + d.numel(), differ + int((d > 0).sum()), max(worst, int(d.max()))
    finally:
        torch.backends.quantized.engine = old
    return total, differ, worst


@pytest.mark.skipif("qnnpack" not in torch.backends.quantized.supported_engines, reason="no QNNPACK")
def test_integer_linear_equals_qnnpack_exactly():
    # QNNPACK rounds the bias to int32 on the accumulator grid, as Jacob et al. do: the codes agree exactly.
    total, differ, _ = _compare_with_pytorch("qnnpack", per_channel=False, seed=0)
    assert total > 5000 and differ == 0


@pytest.mark.parametrize("engine", [e for e in ("x86", "fbgemm") if e in torch.backends.quantized.supported_engines])
@pytest.mark.parametrize("per_channel", [False, True])
def test_integer_linear_within_one_code_of_fbgemm(engine, per_channel):
    # FBGEMM adds the float bias and multiplies by a float32 M: a value within rounding of a half-code
    # boundary can land one code apart, rarely.
    total, differ, worst = _compare_with_pytorch(engine, per_channel, seed=1 + int(per_channel))
    assert total > 5000 and worst <= 1 and differ / total < 0.005


def test_integer_linear_equals_torch_ao_quantized_linear_module():
    import torch.ao.nn.quantized as nnq

    old = torch.backends.quantized.engine
    torch.backends.quantized.engine = "qnnpack"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            g = torch.Generator().manual_seed(5)
            xq, wq, w_scale, b, sy, zy = _random_layer(g, per_channel=False)
            layer = nnq.Linear(wq.shape[1], wq.shape[0])
            layer.set_weight_bias(wq, b)
            layer.scale, layer.zero_point = sy, zy
            ref = layer(xq).int_repr().long()
    finally:
        torch.backends.quantized.engine = old
    ours = I.integer_linear(xq.int_repr(), xq.q_scale(), xq.q_zero_point(), wq.int_repr(), w_scale, b, sy, zy)
    assert torch.equal(ours, ref)


def test_quantize_bias_rounds_to_the_accumulator_grid():
    q = I.quantize_bias(torch.tensor([0.1, -0.05, 0.0125]), 0.02, 0.5)
    assert q.tolist() == [10, -5, 1]  # 1.25 -> 1
    assert I.quantize_bias(torch.tensor([1.0, 1.0]), 0.5, torch.tensor([0.5, 0.25])).tolist() == [4, 8]


# --------------------------------------------------------------------------- power-of-two weights
@pytest.mark.parametrize("bits", [2, 3, 4, 5, 6])
@pytest.mark.parametrize("rounding", ["log", "linear"])
def test_log2_quantize_outputs_are_zero_or_powers_of_two_in_range(bits, rounding):
    g = torch.Generator().manual_seed(bits)
    w = torch.randn(5000, generator=g) * 0.05
    q = I.log2_quantize(w, bits, rounding=rounding)
    levels = I.log2_levels(bits, int(torch.log2(q.abs().max())))
    assert len(levels) == 2 ** bits - 1
    assert bool(torch.isin(q, levels).all())                           # every output is 0 or +-2^k in range
    nz = q[q != 0].abs()
    assert bool((torch.log2(nz) == torch.round(torch.log2(nz))).all())
    assert bool((torch.sign(q[q != 0]) == torch.sign(w[q != 0])).all())
    assert len(torch.unique(q)) <= 2 ** bits


@pytest.mark.parametrize("bits", [3, 4, 5])
def test_log2_quantize_is_nearest_in_the_log_domain(bits):
    g = torch.Generator().manual_seed(10 + bits)
    w = torch.randn(3000, generator=g, dtype=torch.float64) * 0.1
    kmax = -2
    q = I.log2_quantize(w, bits, max_exponent=kmax, rounding="log")
    pos = I.log2_levels(bits, kmax).double()
    pos = pos[pos > 0]
    kmin = int(torch.log2(pos.min()))
    for wi, qi in zip(w.tolist(), q.tolist()):
        a = abs(wi)
        if a < 2.0 ** (kmin - 0.5):
            assert qi == 0.0
        else:
            dist = (torch.log2(pos) - math.log2(a)).abs()          # distance in log2 units
            assert abs(qi) == float(pos[int(dist.argmin())])       # the nearest power (clipped at the top)
    q_lin = I.log2_quantize(w, bits, max_exponent=kmax, rounding="linear")
    levels = I.log2_levels(bits, kmax).double()
    nearest = levels[(w[:, None] - levels[None, :]).abs().argmin(1)]
    assert torch.equal(q_lin, nearest)                             # "linear": nearest level by difference


def test_log2_quantize_default_exponent_and_zero_input():
    w = torch.tensor([0.9, -0.3, 0.2, 0.05])
    assert I.log2_quantize(w, 3).tolist() == [1.0, -0.25, 0.25, 0.0]
    assert float(I.log2_quantize(w * 8, 3).abs().max()) == 8.0  # scale-equivariant by powers of two
    assert torch.equal(I.log2_quantize(torch.zeros(4), 3), torch.zeros(4))
    assert I.log2_quantize(torch.tensor([5.0]), 4, max_exponent=1).tolist() == [2.0]  # clipped at 2^kmax


def test_shift_equals_multiplication_by_powers_of_two():
    g = torch.Generator().manual_seed(3)
    for dtype in (torch.int32, torch.int64):
        x = torch.randint(-10**6, 10**6, (1000,), generator=g).to(dtype)
        for k in range(0, 10):
            assert torch.equal(I.shift_multiply(x, k), x * 2**k)
        for k in range(1, 10):
            assert torch.equal(I.shift_multiply(x, -k), torch.div(x, 2**k, rounding_mode="floor"))


# --------------------------------------------------------------------------- argument checks
@pytest.mark.parametrize("call, match", [
    (lambda: I.quantize_multiplier(1.0), "multiplier"),
    (lambda: I.quantize_multiplier(0.0), "multiplier"),
    (lambda: I.rounding_right_shift(torch.tensor([1.0]), 1), "x must be an integer tensor"),
    (lambda: I.rounding_right_shift(torch.tensor([1]), 63), "shift"),
    (lambda: I.fixed_point_multiply(torch.tensor([2**31]), 2**30, 0), "int32"),
    (lambda: I.fixed_point_multiply(torch.tensor([1]), 5, 0), "m0"),
    (lambda: I.requantize(torch.tensor([1]), 0.1, 300), "zero_point"),
    (lambda: I.requantize(torch.tensor([[1, 2]]), torch.tensor([0.1, 0.2, 0.3]), 0), "multiplier"),
    (lambda: I.quantize_bias(torch.tensor([1.0]), -1.0, 0.1), "input_scale"),
    (lambda: I.integer_linear(torch.tensor([[300]]), 0.1, 0, torch.tensor([[1]]), 0.1, None, 0.1, 0), "x_codes"),
    (lambda: I.integer_linear(torch.tensor([[3]]), 0.1, 0, torch.tensor([[200]]), 0.1, None, 0.1, 0), "w_codes"),
    (lambda: I.integer_linear(torch.tensor([[3, 4]]), 0.1, 0, torch.tensor([[2]]), 0.1, None, 0.1, 0), "in_features"),
    (lambda: I.log2_quantize(torch.tensor([1.0]), 1), "num_bits"),
    (lambda: I.log2_quantize(torch.tensor([1, 2]), 3), "float tensor"),
    (lambda: I.log2_quantize(torch.tensor([float("nan")]), 3), "finite"),
    (lambda: I.log2_quantize(torch.tensor([1.0]), 3, rounding="nearest"), "rounding"),
    (lambda: I.log2_levels(3, 1.5), "max_exponent"),
    (lambda: I.shift_multiply(torch.tensor([1.5]), 1), "integer tensor"),
    (lambda: I.shift_multiply(torch.tensor([1]), 70), "exponent"),
    (lambda: I.simd_peaks(["avx2"], fma_units=0), "fma_units"),
    (lambda: I.simd_peaks(["avx2"], clock_ghz=-1), "clock_ghz"),
])
def test_bad_arguments_raise_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------- the exercise's checker
def test_check_quantize_multiplier(capsys):
    from lib.book.exercises import check_quantize_multiplier

    def naive(m):  # forgets that rounding can reach 2**31
        frac, e = math.frexp(m)
        return round(frac * 2**31), -e

    check_quantize_multiplier(I.quantize_multiplier)
    assert "✓" in capsys.readouterr().out
    check_quantize_multiplier(naive)
    assert "✗" in capsys.readouterr().out
    check_quantize_multiplier(None)
    assert "Not attempted" in capsys.readouterr().out


def test_int8_model_uses_quantised_kernels_and_leaves_the_float_net_alone():
    import torch.ao.nn.intrinsic.quantized as nniq
    import torch.ao.nn.quantized as nnq

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    X = torch.randn(256, 16)
    q = I.int8_model(net, X)
    assert isinstance(q.net[0], nniq.LinearReLU) and isinstance(q.net[2], nnq.Linear)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    with torch.no_grad():
        y, yq = net(X), q(X)
    # 8-bit activations and weights: the outputs stay close to float, but are not equal to it
    assert 0 < float((y - yq).abs().max()) < 0.05 * float(y.abs().max())
    assert torch.equal(yq, I.int8_model(net, X)(X))  # same calibration, same model


@pytest.mark.parametrize("kwargs, name", [({"net": "x"}, "net"), ({"calibration": torch.empty(0)}, "calibration"),
                                          ({"backend": "tpu"}, "backend")])
def test_int8_model_rejects_bad_input(kwargs, name):
    args = {"net": torch.nn.Sequential(torch.nn.Linear(2, 2)), "calibration": torch.randn(4, 2), **kwargs}
    with pytest.raises(ValueError, match=name):
        I.int8_model(**args)
