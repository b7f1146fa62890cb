"""The misc int8 kernels: C (through the binding) equals the numpy reference bit for bit,
the reference has the documented arithmetic, and it reproduces TFLM on real models.

Property tests draw random shapes, broadcasts, zero points, scales, clamps and raw
integer parameters (including saturating ones) and require identical outputs from
``qcompile.reference.ops`` and ``qcompile.host._runtime``. Hand-computed cases pin the
rounding rules (average pool, add ties); softmax is checked against a float softmax and,
on all 500 KWS inputs, against TFLM's own SOFTMAX / AVERAGE_POOL_2D outputs.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from c_driver import run_c_driver, sanitizing_gcc
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from runtime_ext import require_runtime
from tflm_layers import tflm_padding

from qcompile import op_params
from qcompile.ir import QuantParams
from qcompile.reference import ops

REPO = Path(__file__).resolve().parents[2]

rt = require_runtime()

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _i8(rng: np.random.Generator, shape, lo: int = -128, hi: int = 127) -> np.ndarray:
    return rng.integers(lo, hi + 1, size=shape, dtype=np.int64).astype(np.int8)


def _same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == np.int8 and b.dtype == np.int8
    assert a.shape == b.shape
    np.testing.assert_array_equal(a, b)


# ---- strategies ------------------------------------------------------------------------

seeds = st.integers(0, 2**32 - 1)
scales = st.floats(1e-3, 4.0).map(float)
zero_points = st.integers(-128, 127)


@st.composite
def broadcast_shapes(draw):
    """Two shapes of rank <= 5 that broadcast: a common shape with random axes set to 1 or dropped."""
    rank = draw(st.integers(0, 5))
    base = draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank))

    def variant():
        shape = [1 if draw(st.booleans()) and draw(st.booleans()) else d for d in base]
        drop = draw(st.integers(0, rank))
        return tuple(shape[drop:])

    return variant(), variant()


@st.composite
def act_ranges(draw):
    lo = draw(st.integers(-128, 127))
    hi = draw(st.integers(lo, 127))
    return (lo, hi) if draw(st.booleans()) else (-128, 127)


# ---- add / sub -------------------------------------------------------------------------


@FAST
@given(
    broadcast_shapes(),
    scales,
    scales,
    scales,
    zero_points,
    zero_points,
    zero_points,
    act_ranges(),
    st.booleans(),
    seeds,
)
def test_add_c_matches_reference(shapes, s1, s2, so, z1, z2, zo, act, subtract, seed):
    assume(2 * max(s1, s2) / ((1 << 20) * so) < 1)
    attrs = op_params.add_params(
        QuantParams(s1, z1), QuantParams(s2, z2), QuantParams(so, zo), act_min=act[0], act_max=act[1], subtract=subtract
    )
    rng = np.random.default_rng(seed)
    x1, x2 = _i8(rng, shapes[0]), _i8(rng, shapes[1])
    _same(rt.add_s8(x1, x2, **attrs), ops.add(x1, x2, **attrs))


def _raw_add_attrs(subtract, left_shift, mults, shifts, o1, o2, oo, act) -> dict:
    """add attributes straight from drawn integers (not derived from scales), so tests reach
    multipliers and shifts that op_params.add_params would never produce."""
    return dict(
        subtract=int(subtract),
        input1_offset=o1,
        input2_offset=o2,
        output_offset=oo,
        left_shift=left_shift,
        input1_multiplier=mults[0],
        input1_shift=shifts[0],
        input2_multiplier=mults[1],
        input2_shift=shifts[1],
        output_multiplier=mults[2],
        output_shift=shifts[2],
        act_min=act[0],
        act_max=act[1],
    )


@FAST
@given(
    broadcast_shapes(),
    st.integers(0, 23),
    st.lists(st.integers(1, 2**31 - 1), min_size=3, max_size=3),
    st.lists(st.integers(-31, 0), min_size=3, max_size=3),
    st.integers(-255, 255),
    st.integers(-255, 255),
    st.integers(-300, 300),
    act_ranges(),
    st.booleans(),
    seeds,
)
def test_add_c_matches_reference_raw_parameters(shapes, left_shift, mults, shifts, o1, o2, oo, act, subtract, seed):
    """Arbitrary multipliers/shifts, including ones that wrap the int32 left shift and saturate."""
    attrs = _raw_add_attrs(subtract, left_shift, mults, shifts, o1, o2, oo, act)
    rng = np.random.default_rng(seed)
    x1, x2 = _i8(rng, shapes[0]), _i8(rng, shapes[1])
    _same(rt.add_s8(x1, x2, **attrs), ops.add(x1, x2, **attrs))


def test_add_is_close_to_float_and_sub_subtracts():
    rng = np.random.default_rng(0)
    q1, q2, qo = QuantParams(0.05, 3), QuantParams(0.02, -7), QuantParams(0.07, 10)
    x1, x2 = _i8(rng, (4, 5, 6)), _i8(rng, (6,))
    for subtract, sign in ((False, 1.0), (True, -1.0)):
        attrs = op_params.add_params(q1, q2, qo, act_min=-128, act_max=127, subtract=subtract)
        got = qo.dequantize(ops.add(x1, x2, **attrs))
        want = np.clip(q1.dequantize(x1) + sign * q2.dequantize(x2), qo.dequantize(-128), qo.dequantize(127))
        assert np.abs(got - want).max() <= 0.5 * 0.07 + 1e-6
        _same(rt.add_s8(x1, x2, **attrs), ops.add(x1, x2, **attrs))


def test_add_hand_computed():
    """Same scales everywhere, zero points 0: out = x1 + x2 exactly (with the 2^20 headroom), saturating."""
    q = QuantParams(0.1, 0)
    attrs = op_params.add_params(q, q, q, act_min=-128, act_max=127)
    x1 = np.array([1, 50, 100, -100, -3], dtype=np.int8)
    x2 = np.array([2, 50, 100, -100, 1], dtype=np.int8)
    np.testing.assert_array_equal(ops.add(x1, x2, **attrs), [3, 100, 127, -128, -2])
    np.testing.assert_array_equal(ops.add(x1, x2, **{**attrs, "subtract": 1}), [-1, 0, 0, 0, -4])
    np.testing.assert_array_equal(ops.add(x1, x2, **{**attrs, "act_min": 0, "act_max": 50}), [3, 50, 50, 0, 0])


def test_add_rejects_bad_input():
    q = QuantParams(0.1, 0)
    attrs = op_params.add_params(q, q, q, act_min=-128, act_max=127)
    a = np.zeros((2, 3), np.int8)
    for fn in (ops.add, rt.add_s8):
        with pytest.raises(ValueError):
            fn(a, np.zeros((4,), np.int8), **attrs)
        with pytest.raises(ValueError):
            fn(a, a.astype(np.int16), **attrs)
        with pytest.raises(ValueError):
            fn(a, a, **{**attrs, "input1_shift": 3})
        with pytest.raises(ValueError):
            fn(np.zeros((1,) * 6, np.int8), a, **attrs)


# ---- mul -------------------------------------------------------------------------------


@FAST
@given(broadcast_shapes(), scales, scales, scales, zero_points, zero_points, zero_points, act_ranges(), seeds)
def test_mul_c_matches_reference(shapes, s1, s2, so, z1, z2, zo, act, seed):
    attrs = op_params.mul_params(
        QuantParams(s1, z1), QuantParams(s2, z2), QuantParams(so, zo), act_min=act[0], act_max=act[1]
    )
    rng = np.random.default_rng(seed)
    x1, x2 = _i8(rng, shapes[0]), _i8(rng, shapes[1])
    _same(rt.mul_s8(x1, x2, **attrs), ops.mul(x1, x2, **attrs))


@FAST
@given(
    broadcast_shapes(),
    st.integers(0, 2**31 - 1),
    st.integers(-31, 31),
    st.integers(-255, 255),
    st.integers(-255, 255),
    st.integers(-300, 300),
    act_ranges(),
    seeds,
)
def test_mul_c_matches_reference_raw_parameters(shapes, mult, shift, o1, o2, oo, act, seed):
    """Including large left shifts whose int32 product wraps, as TFLM's does."""
    attrs = dict(
        input1_offset=o1,
        input2_offset=o2,
        output_offset=oo,
        output_multiplier=mult,
        output_shift=shift,
        act_min=act[0],
        act_max=act[1],
    )
    rng = np.random.default_rng(seed)
    x1, x2 = _i8(rng, shapes[0]), _i8(rng, shapes[1])
    _same(rt.mul_s8(x1, x2, **attrs), ops.mul(x1, x2, **attrs))


@st.composite
def long_row_operands(draw):
    """Two shapes whose broadcast rows are long: every form qc_broadcast.h distinguishes.

    The C kernels merge axes into rows and work on chunks of 32 (arithmetic) and 64
    (gather of broadcast or strided operands); these shapes make rows far longer than a
    chunk and not a multiple of it, with the second operand equal, per-channel (last
    axis), a scalar, broadcast along an inner axis (a strided gather after merging), or
    the first operand broadcast instead.
    """
    outer = draw(st.integers(1, 3))
    mid = draw(st.integers(1, 9))
    inner = draw(st.integers(1, 150))
    full = (outer, mid, inner)
    form = draw(st.sampled_from(["same", "per_channel", "scalar", "mid_bcast", "first_bcast", "outer_bcast"]))
    other = {
        "same": full,
        "per_channel": (inner,),
        "scalar": (),
        "mid_bcast": (outer, 1, inner),
        "first_bcast": (mid, 1),
        "outer_bcast": (1, mid, inner),
    }[form]
    return (other, full) if form == "first_bcast" else (full, other)


#: output offsets of the raw-parameter tests of long rows: including ones whose clamp bounds
#: saturate int32 (the C kernels move the clamp onto the requantised value)
wide_offsets = st.one_of(st.integers(-300, 300), st.integers(-(2**31), 2**31 - 1))


@FAST
@given(
    long_row_operands(),
    st.integers(0, 23),
    st.lists(st.integers(-(2**31), 2**31 - 1), min_size=3, max_size=3),
    st.lists(st.integers(-31, 0), min_size=3, max_size=3),
    st.integers(-255, 255),
    st.integers(-255, 255),
    wide_offsets,
    act_ranges(),
    st.booleans(),
    seeds,
)
def test_add_long_rows_every_broadcast_form(shapes, left_shift, mults, shifts, o1, o2, oo, act, subtract, seed):
    """qc_add_s8's row form (chunks, merged axes, gathered operands, exact output offset)."""
    attrs = _raw_add_attrs(subtract, left_shift, mults, shifts, o1, o2, oo, act)
    rng = np.random.default_rng(seed)
    x1, x2 = _i8(rng, shapes[0]), _i8(rng, shapes[1])
    if rng.integers(4) == 0:  # INT32_MIN operands of SRDHM: the saturating case
        x1[...] = -128
        attrs.update(input1_offset=0, left_shift=23, input1_multiplier=-(2**31))
    _same(rt.add_s8(x1, x2, **attrs), ops.add(x1, x2, **attrs))


@FAST
@given(
    long_row_operands(),
    st.integers(-(2**31), 2**31 - 1),
    st.integers(-31, 31),
    st.integers(-255, 255),
    st.integers(-255, 255),
    wide_offsets,
    act_ranges(),
    seeds,
)
def test_mul_long_rows_every_broadcast_form(shapes, mult, shift, o1, o2, oo, act, seed):
    """qc_mul_s8's row form, the same walk as add."""
    attrs = dict(
        input1_offset=o1,
        input2_offset=o2,
        output_offset=oo,
        output_multiplier=mult,
        output_shift=shift,
        act_min=act[0],
        act_max=act[1],
    )
    rng = np.random.default_rng(seed)
    x1, x2 = _i8(rng, shapes[0]), _i8(rng, shapes[1])
    _same(rt.mul_s8(x1, x2, **attrs), ops.mul(x1, x2, **attrs))


_BINARY_DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "qc_kernels.h"

static void dump(const int8_t *o, size_t n) { for (size_t i = 0; i < n; ++i) printf("%d ", o[i]); printf("\n"); }

int main(void) {
@CASES@
    return 0;
}
"""


def _c_list(values) -> str:
    return ", ".join(str(int(v)) for v in np.asarray(values).reshape(-1))


def _binary_case(fn: str, params: dict, x1_mem: np.ndarray, x2_mem: np.ndarray, n_out: int, in_place: bool) -> str:
    """One C block calling qc_add_s8 / qc_mul_s8 on heap copies (exact sizes for ASan)."""
    ctype = "qc_add_params" if fn == "qc_add_s8" else "qc_mul_params"
    fields = ", ".join(
        f".{k} = {{{_c_list(v)}}}" if isinstance(v, tuple) else f".{k} = {int(v)}" for k, v in params.items()
    )
    out = "a" if in_place else "o"
    return f"""
    {{
        static const int8_t A[] = {{{_c_list(x1_mem)}}};
        static const int8_t B[] = {{{_c_list(x2_mem)}}};
        {ctype} p = {{{fields}}};
        int8_t *a = malloc(sizeof A), *b = malloc(sizeof B), *o = malloc({n_out});
        memcpy(a, A, sizeof A); memcpy(b, B, sizeof B);
        if ({fn}(&p, a, b, {out}) != QC_OK) return 1;
        dump({out}, {n_out});
        free(a); free(b); free(o);
    }}"""


def test_add_mul_strided_and_in_place_under_sanitizers(tmp_path):
    """What the binding cannot reach: an operand with a non-unit innermost stride (a
    transposed view: qc_broadcast.h's strided gather, rows longer than its chunk) and
    out == in1 (in place, as the planner arranges), under ASan + UBSan with extreme
    parameters (INT32_MIN multipliers, output offsets whose clamp bounds saturate)."""
    gcc, flags = sanitizing_gcc(tmp_path)
    rng = np.random.default_rng(7)
    rows, cols = 3, 150
    codes, expected = [], []
    add_sets = [
        dict(subtract=0, input1_offset=128, input2_offset=-5, output_offset=-3, left_shift=20,
             input1_multiplier=1 << 30, input1_shift=-1, input2_multiplier=1518500250, input2_shift=-2,
             output_multiplier=1 << 30, output_shift=-18, act_min=-128, act_max=127),
        dict(subtract=1, input1_offset=0, input2_offset=255, output_offset=-(2**31), left_shift=23,
             input1_multiplier=-(2**31), input1_shift=0, input2_multiplier=-(2**31), input2_shift=-31,
             output_multiplier=-(2**31), output_shift=0, act_min=-20, act_max=90),
        dict(subtract=0, input1_offset=-255, input2_offset=17, output_offset=2**31 - 1, left_shift=7,
             input1_multiplier=2**31 - 1, input1_shift=-3, input2_multiplier=123456789, input2_shift=0,
             output_multiplier=987654321, output_shift=-5, act_min=-128, act_max=127),
    ]  # fmt: skip
    mul_sets = [
        dict(input1_offset=3, input2_offset=-128, output_offset=5, output_multiplier=1 << 30, output_shift=-9,
             act_min=-128, act_max=127),
        dict(input1_offset=255, input2_offset=-255, output_offset=-(2**31), output_multiplier=-(2**31),
             output_shift=31, act_min=-50, act_max=50),
    ]  # fmt: skip
    for fn, sets, ref in (("qc_add_s8", add_sets, ops.add), ("qc_mul_s8", mul_sets, ops.mul)):
        for attrs in sets:
            x1 = _i8(rng, (rows, cols))
            x2 = _i8(rng, (rows, cols))
            x2_col = _i8(rng, (rows, 1))
            shape = (1, 1, 1, rows, cols)
            # in1 stored transposed (strides 1, rows), in2 contiguous
            p = dict(out_shape=shape, in1_strides=(0, 0, 0, 1, rows), in2_strides=(0, 0, 0, cols, 1), **attrs)
            codes.append(_binary_case(fn, p, x1.T, x2, x1.size, in_place=False))
            expected.append(ref(x1, x2, **attrs))
            # in place over in1, in2 one value per row (innermost stride 0)
            p = dict(out_shape=shape, in1_strides=(0, 0, 0, cols, 1), in2_strides=(0, 0, 0, 1, 0), **attrs)
            codes.append(_binary_case(fn, p, x1, x2_col, x1.size, in_place=True))
            expected.append(ref(x1, x2_col, **attrs))
    sources = [REPO / "runtime_c" / "src" / f for f in ("qc_add.c", "qc_mul.c")]
    run_c_driver(tmp_path, gcc, flags, _BINARY_DRIVER.replace("@CASES@", "\n".join(codes)), sources, expected)


def test_mul_is_close_to_float():
    rng = np.random.default_rng(1)
    q1, q2, qo = QuantParams(0.03, -20), QuantParams(0.05, 11), QuantParams(0.04, 2)
    attrs = op_params.mul_params(q1, q2, qo, act_min=-128, act_max=127)
    x1, x2 = _i8(rng, (3, 1, 7)), _i8(rng, (5, 7))
    got = qo.dequantize(ops.mul(x1, x2, **attrs))
    want = np.clip(q1.dequantize(x1) * q2.dequantize(x2), qo.dequantize(-128), qo.dequantize(127))
    # two roundings (SRDHM, then the right shift by 4 of this 0.0375 multiplier): 0.5 + 0.5/16 steps
    assert np.abs(got - want).max() <= (0.5 + 0.5 / 16) * 0.04 + 1e-9


# ---- pooling ---------------------------------------------------------------------------


@st.composite
def pool_cases(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    pads = (
        draw(st.integers(0, kh - 1)),
        draw(st.integers(0, kw - 1)),
        draw(st.integers(0, kh - 1)),
        draw(st.integers(0, kw - 1)),
    )
    n, h, w, c = draw(st.integers(1, 2)), draw(st.integers(1, 10)), draw(st.integers(1, 10)), draw(st.integers(1, 5))
    assume(h + pads[0] + pads[2] >= kh and w + pads[1] + pads[3] >= kw)
    return (n, h, w, c), {"kernel": (kh, kw), "strides": (sh, sw), "pads": pads}


@FAST
@given(pool_cases(), act_ranges(), seeds)
def test_pools_c_match_reference(case, act, seed):
    shape, attrs = case
    attrs = {**attrs, "act_min": act[0], "act_max": act[1]}
    x = _i8(np.random.default_rng(seed), shape)
    _same(rt.max_pool2d_s8(x, **attrs), ops.max_pool2d(x, **attrs))
    _same(rt.avg_pool2d_s8(x, **attrs), ops.avg_pool2d(x, **attrs))
    assert rt.avg_pool2d_s8_scratch_size(shape, **attrs) == 0


def _naive_pool(x, kernel, strides, pads, avg):
    n, h, w, c = x.shape
    oh = (h + pads[0] + pads[2] - kernel[0]) // strides[0] + 1
    ow = (w + pads[1] + pads[3] - kernel[1]) // strides[1] + 1
    out = np.zeros((n, oh, ow, c), np.int64)
    for b in range(n):
        for oy in range(oh):
            for ox in range(ow):
                for ch in range(c):
                    vals = [
                        int(x[b, y, xx, ch])
                        for y in range(oy * strides[0] - pads[0], oy * strides[0] - pads[0] + kernel[0])
                        for xx in range(ox * strides[1] - pads[1], ox * strides[1] - pads[1] + kernel[1])
                        if 0 <= y < h and 0 <= xx < w
                    ]
                    if avg:
                        s, k = sum(vals), len(vals)
                        out[b, oy, ox, ch] = int((s + k // 2) / k) if s > 0 else -int((-s + k // 2) / k)
                    else:
                        out[b, oy, ox, ch] = max(vals)
    return out


def test_pools_match_loop_definition():
    """Padding is excluded from max, sum and count; averages round half away from zero."""
    rng = np.random.default_rng(3)
    x = _i8(rng, (2, 7, 6, 3), -128, -1)  # all negative: a zero-padded max would show up as 0
    attrs = {"kernel": (3, 3), "strides": (2, 2), "pads": (1, 1, 2, 1)}
    np.testing.assert_array_equal(
        ops.max_pool2d(x, **attrs, act_min=-128, act_max=127), _naive_pool(x, **attrs, avg=False)
    )
    np.testing.assert_array_equal(
        ops.avg_pool2d(x, **attrs, act_min=-128, act_max=127), _naive_pool(x, **attrs, avg=True)
    )
    pair = np.array([1, 2, -1, -2, 3, 4, -3, -4], np.int8).reshape(1, 1, 8, 1)
    avg = ops.avg_pool2d(pair, kernel=(1, 2), strides=(1, 2), pads=(0, 0, 0, 0), act_min=-128, act_max=127)
    np.testing.assert_array_equal(avg.ravel(), [2, -2, 4, -4])  # 1.5 -> 2, -1.5 -> -2, 3.5 -> 4 ...


def test_avg_pool_window_of_padding_only_is_an_error():
    x = np.zeros((1, 2, 2, 1), np.int8)
    attrs = {"kernel": (1, 1), "strides": (1, 1), "pads": (1, 0, 0, 0), "act_min": -128, "act_max": 127}
    for fn in (ops.avg_pool2d, rt.avg_pool2d_s8):
        with pytest.raises(ValueError):
            fn(x, **attrs)
    # max pool follows TFLM: the running max starts at -128
    _same(rt.max_pool2d_s8(x, **attrs), ops.max_pool2d(x, **attrs))
    assert ops.max_pool2d(x, **attrs)[0, 0, 0, 0] == -128


# ---- softmax ---------------------------------------------------------------------------


@FAST
@given(st.integers(1, 3), st.integers(1, 40), st.floats(1e-3, 2.0), st.sampled_from([1.0, 0.5, 2.0]), seeds)
def test_softmax_c_matches_reference(rows, depth, scale, beta, seed):
    attrs = op_params.softmax_params(scale, beta)
    rng = np.random.default_rng(seed)
    x = _i8(rng, (rows, depth))
    if depth > 2:
        x[:, :2] = x[:, :1]  # ties with the maximum
    _same(rt.softmax_s8(x, **attrs), ops.softmax(x, **attrs))


@FAST
@given(
    st.integers(1, 2),
    st.integers(1, 20),
    st.integers(2**30, 2**31 - 1),
    st.integers(0, 31),
    st.integers(-300, 0),
    seeds,
)
def test_softmax_c_matches_reference_raw_parameters(rows, depth, mult, left, diff_min, seed):
    attrs = {"input_multiplier": mult, "input_left_shift": left, "diff_min": diff_min}
    x = _i8(np.random.default_rng(seed), (rows, depth))
    _same(rt.softmax_s8(x, **attrs), ops.softmax(x, **attrs))


@pytest.mark.parametrize("depth", [511, 512, 1000, 4095])
def test_softmax_long_rows(depth):
    """Rows long enough that the final shift exceeds 31 (output rounds to 0 probability)."""
    attrs = op_params.softmax_params(0.05)
    rng = np.random.default_rng(depth)
    for x in (np.zeros((1, depth), np.int8), _i8(rng, (2, depth), 100, 127)):
        _same(rt.softmax_s8(x, **attrs), ops.softmax(x, **attrs))
    uniform = ops.softmax(np.zeros((1, depth), np.int8), **attrs)
    assert np.all(np.abs(uniform.astype(np.float64) + 128 - 256 / depth) <= 0.5 + 1e-3)


def test_softmax_rejects_too_long_rows():
    attrs = op_params.softmax_params(0.05)
    for fn in (ops.softmax, rt.softmax_s8):
        with pytest.raises(ValueError):
            fn(np.zeros((1, 4096), np.int8), **attrs)


@settings(max_examples=60, deadline=None)
@given(st.floats(1e-3, 1.0), st.integers(2, 50), seeds)
def test_softmax_close_to_float(scale, depth, seed):
    """Within 1/256 (output step) plus the fixed-point exp's small error, of the float softmax."""
    attrs = op_params.softmax_params(scale)
    x = _i8(np.random.default_rng(seed), (4, depth))
    got = (ops.softmax(x, **attrs).astype(np.float64) + 128) / 256
    diff = x.astype(np.float64) - x.max(axis=-1, keepdims=True)
    want = np.exp(diff * scale)
    want /= want.sum(axis=-1, keepdims=True)
    want = np.minimum(want, 255 / 256)
    assert np.abs(got - want).max() <= 1 / 256 + 1e-3


def test_exp_on_negative_values_is_exp():
    a = np.concatenate([-np.arange(0, 32 << 26, 1 << 20), [-1, -3, -(1 << 24)]]).astype(np.int64)
    got = ops.exp_on_negative_values(a) / 2.0**31
    np.testing.assert_allclose(got, np.exp(a / 2.0**26), atol=2e-8 * 64)


# ---- lut and data movement -------------------------------------------------------------


@FAST
@given(st.lists(st.integers(0, 5), min_size=0, max_size=4), seeds)
def test_lut_c_matches_reference(shape, seed):
    rng = np.random.default_rng(seed)
    table, x = _i8(rng, 256), _i8(rng, tuple(shape))
    _same(rt.lut_s8(x, table=table), ops.lut(x, table=table))
    full = np.arange(-128, 128, dtype=np.int8)
    np.testing.assert_array_equal(ops.lut(full, table=table), table)


@FAST
@given(st.integers(1, 4), st.integers(0, 3), st.integers(1, 4), seeds, st.data())
def test_concat_c_matches_reference(rank, axis_seed, n, seed, data):
    axis = axis_seed % rank
    base = data.draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank))
    rng = np.random.default_rng(seed)
    xs = []
    for _ in range(n):
        shape = list(base)
        shape[axis] = data.draw(st.integers(0, 4))
        xs.append(_i8(rng, tuple(shape)))
    _same(rt.concat_s8(*xs, axis=axis), ops.concat(*xs, axis=axis))


@FAST
@given(st.lists(st.integers(1, 4), min_size=1, max_size=5), st.integers(-128, 127), seeds, st.data())
def test_pad_c_matches_reference(shape, value, seed, data):
    pads = [(data.draw(st.integers(0, 3)), data.draw(st.integers(0, 3))) for _ in shape]
    x = _i8(np.random.default_rng(seed), tuple(shape))
    _same(rt.pad_s8(x, pads=pads, pad_value=value), ops.pad(x, pads=pads, pad_value=value))


@FAST
@given(st.lists(st.integers(1, 4), min_size=1, max_size=5), seeds, st.data())
def test_transpose_c_matches_reference(shape, seed, data):
    perm = data.draw(st.permutations(range(len(shape))))
    x = _i8(np.random.default_rng(seed), tuple(shape))
    out = rt.transpose_s8(x, perm=perm)
    _same(out, ops.transpose(x, perm=perm))
    np.testing.assert_array_equal(out, np.transpose(x, perm))


def test_reshape_and_copy():
    x = np.arange(24, dtype=np.int8).reshape(2, 3, 4)
    np.testing.assert_array_equal(ops.reshape(x, shape=(6, 4)), x.reshape(6, 4))
    c = ops.copy(x)
    assert c is not x and np.array_equal(c, x)


def test_data_movement_rejects_bad_input():
    x = np.zeros((2, 3), np.int8)
    for fn, kwargs in (
        (ops.transpose, {"perm": (0, 0)}),
        (rt.transpose_s8, {"perm": (0, 0)}),
        (ops.pad, {"pads": [(0, 1)], "pad_value": 0}),
        (rt.pad_s8, {"pads": [(0, 1)], "pad_value": 0}),
        (ops.lut, {"table": np.zeros(255, np.int8)}),
        (rt.lut_s8, {"table": np.zeros(255, np.int8)}),
    ):
        with pytest.raises(ValueError):
            fn(x, **kwargs)
    for fn in (ops.concat, rt.concat_s8):
        with pytest.raises(ValueError):
            fn(x, np.zeros((3, 3), np.int8), axis=1)


# ---- TFLM on real models ---------------------------------------------------------------


def _qp(detail) -> QuantParams:
    return QuantParams(np.float64(detail["scales"][0]), np.int64(detail["zero_points"][0]))


def _check_record(rec) -> int:
    """Our reference and the C kernel on TFLM's inputs; returns how many elements were compared."""
    ins, out_d, opts = rec["input_values"], rec["output_details"][0], rec["options"]
    act = {"NONE": (None, None), "RELU": (0.0, None), "RELU6": (0.0, 6.0)}[opts.get("fusedActivationFunction", "NONE")]
    if rec["op"] == "SOFTMAX":
        attrs = op_params.softmax_params(float(rec["input_details"][0]["scales"][0]), float(opts["beta"]))
        pair = (ops.softmax(ins[0], **attrs), rt.softmax_s8(ins[0], **attrs))
    elif rec["op"] == "AVERAGE_POOL_2D":
        kernel, strides = (opts["filterHeight"], opts["filterWidth"]), (opts["strideH"], opts["strideW"])
        pads = tflm_padding(opts["padding"], ins[0].shape[1:3], out_d["shape"][1:3], kernel, strides)
        lo, hi = op_params.activation_bounds(act, _qp(out_d))
        attrs = {"kernel": kernel, "strides": strides, "pads": pads, "act_min": lo, "act_max": hi}
        pair = (ops.avg_pool2d(ins[0], **attrs), rt.avg_pool2d_s8(ins[0], **attrs))
    elif rec["op"] == "ADD":
        lo, hi = op_params.activation_bounds(act, _qp(out_d))
        in_d = rec["input_details"]
        attrs = op_params.add_params(_qp(in_d[0]), _qp(in_d[1]), _qp(out_d), act_min=lo, act_max=hi)
        pair = (ops.add(ins[0], ins[1], **attrs), rt.add_s8(ins[0], ins[1], **attrs))
    else:
        return 0
    theirs = rec["output_values"][0]
    for ours in pair:
        np.testing.assert_array_equal(ours.reshape(theirs.shape), theirs, err_msg=f"op {rec['index']} {rec['op']}")
    return theirs.size


def test_softmax_and_avg_pool_match_tflm_on_500_kws_inputs(kws_tflite: Path, kws_data: Path):
    pytest.importorskip("tflite_micro", reason="tflite_micro (TFLM Python interpreter) is not installed")
    pytest.importorskip("ai_edge_litert", reason="ai_edge_litert is not installed")
    from tflm_layers import tflm_layer_records

    with np.load(kws_data) as d:
        x = d["x"].reshape(-1, 1, 49, 10, 1).astype(np.int8)
    records = tflm_layer_records(kws_tflite, x)
    checked = {r["op"]: _check_record(r) for r in records if r["op"] in ("SOFTMAX", "AVERAGE_POOL_2D")}
    assert checked.get("SOFTMAX") == 500 * 12 and checked.get("AVERAGE_POOL_2D", 0) > 0


def test_add_avg_pool_softmax_match_tflm_on_resnet8(resnet8_tflite: Path):
    pytest.importorskip("tflite_micro", reason="tflite_micro (TFLM Python interpreter) is not installed")
    pytest.importorskip("ai_edge_litert", reason="ai_edge_litert is not installed")
    from tflm_layers import tflm_layer_records

    x = np.random.default_rng(99).integers(-128, 128, size=(40, 1, 32, 32, 3)).astype(np.int8)
    records = tflm_layer_records(resnet8_tflite, x)
    ops_checked = [r["op"] for r in records if _check_record(r)]
    assert ops_checked.count("ADD") == 3 and "SOFTMAX" in ops_checked and "AVERAGE_POOL_2D" in ops_checked
    assert math.prod(records[-1]["output_values"][0].shape) == 400
