"""op_params: integer attributes from real quantization parameters, against hand-derived
values (TFLM's formulas worked out on paper) and against the float ops they implement."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcompile import op_params
from qcompile import ops as op_schema
from qcompile.ir import QuantParams
from qcompile.reference import ops


def qp(scale: float, zp: int) -> QuantParams:
    return QuantParams(scale, zp)


# ---- add / mul -------------------------------------------------------------------------


def test_add_params_hand_derived():
    """s1 = 0.5, s2 = 0.25, s_out = 1/256: twice_max = 1, ratios 0.5 -> (2^30, 0) and
    0.25 -> (2^30, -1); output ratio 1 / (2^20 / 256) = 2^-12 -> (2^30, -11)."""
    p = op_params.add_params(qp(0.5, 3), qp(0.25, -4), qp(1 / 256, 7), act_min=-100, act_max=90)
    assert p == {
        "subtract": 0,
        "input1_offset": -3,
        "input2_offset": 4,
        "output_offset": 7,
        "left_shift": 20,
        "input1_multiplier": 2**30,
        "input1_shift": 0,
        "input2_multiplier": 2**30,
        "input2_shift": -1,
        "output_multiplier": 2**30,
        "output_shift": -11,
        "act_min": -100,
        "act_max": 90,
    }
    assert (
        op_params.add_params(qp(0.5, 3), qp(0.25, -4), qp(1 / 256, 7), act_min=-1, act_max=1, subtract=True)["subtract"]
        == 1
    )


def test_add_params_non_power_of_two():
    """s1 = 0.3, s2 = 0.1: ratio 1/6 = 0.6667 * 2^-2 -> round(2^31 * 2/3) = 1431655765, shift -2."""
    p = op_params.add_params(qp(0.3, 0), qp(0.1, 0), qp(0.2, 0), act_min=-128, act_max=127)
    assert (p["input1_multiplier"], p["input1_shift"]) == (2**30, 0)
    assert (p["input2_multiplier"], p["input2_shift"]) == (1431655765, -2)
    # 0.6 / (2^20 * 0.2) = 3 * 2^-20 = 0.75 * 2^-18
    assert (p["output_multiplier"], p["output_shift"]) == (round(0.75 * 2**31), -18)


def test_add_params_rejects_impossible_output_scale():
    with pytest.raises(ValueError):  # output multiplier would exceed 1
        op_params.add_params(qp(1.0, 0), qp(1.0, 0), qp(1e-7, 0), act_min=-128, act_max=127)


def test_mul_params_hand_derived():
    """0.5 * 0.5 / 0.125 = 2 = 0.5 * 2^2 -> (2^30, 2); 0.1 * 0.2 / 0.5 = 0.04 = 0.64 * 2^-4."""
    p = op_params.mul_params(qp(0.5, -1), qp(0.5, 2), qp(0.125, 5), act_min=-128, act_max=127)
    assert p == {
        "input1_offset": 1,
        "input2_offset": -2,
        "output_offset": 5,
        "output_multiplier": 2**30,
        "output_shift": 2,
        "act_min": -128,
        "act_max": 127,
    }
    p = op_params.mul_params(qp(0.1, 0), qp(0.2, 0), qp(0.5, 0), act_min=-128, act_max=127)
    assert (p["output_multiplier"], p["output_shift"]) == (round(0.64 * 2**31), -4)


@settings(max_examples=80, deadline=None)
@given(st.floats(1e-3, 2.0), st.floats(1e-3, 2.0), st.floats(1e-2, 4.0), st.integers(-128, 127), st.integers(-128, 127))
def test_add_params_reproduce_float_add(s1, s2, so, z1, z2):
    """The parameters make the reference add equal the rounded float sum within one output step."""
    q1, q2, qo = qp(s1, z1), qp(s2, z2), qp(so, 0)
    p = op_params.add_params(q1, q2, qo, act_min=-128, act_max=127)
    grid = np.arange(-128, 128, 5, dtype=np.int8)
    x1, x2 = np.meshgrid(grid, grid)
    got = ops.add(x1, x2, **p).astype(np.int64)
    want = np.clip(np.round((q1.dequantize(x1) + q2.dequantize(x2)) / so), -128, 127)
    assert np.abs(got - want).max() <= 1


# ---- softmax ---------------------------------------------------------------------------


def test_softmax_params_hand_derived():
    """scale 2^-4: 2^-4 * 2^26 = 2^22 = 0.5 * 2^23 -> (2^30, 23); diff_min = -floor(31 * 2^26 / 2^23) = -248."""
    assert op_params.softmax_params(2**-4) == {"input_multiplier": 2**30, "input_left_shift": 23, "diff_min": -248}
    # beta scales the input the same way
    assert op_params.softmax_params(2**-5, beta=2.0) == op_params.softmax_params(2**-4)
    # scale 0.1: 0.1 * 2^26 = 6710886.4 = 0.8 * 2^23 -> round(0.8 * 2^31), shift 23
    assert op_params.softmax_params(0.1) == {
        "input_multiplier": round(0.8 * 2**31),
        "input_left_shift": 23,
        "diff_min": -248,
    }


def test_softmax_params_cap_large_scales():
    """beta * s * 2^26 is capped at 2^31 - 1 (PreprocessSoftmaxScaling): multiplier 2^31 - 1,
    shift 31, and the input radius floor(31 * 2^26 / 2^31) = 0."""
    p = op_params.softmax_params(64.0)
    assert p == {"input_multiplier": 2**31 - 1, "input_left_shift": 31, "diff_min": 0}


def test_softmax_params_kws_model_value():
    """The DS-CNN softmax input scale (float32 0.14469251...) - the values TFLM derives, which
    tests/reference/test_ops.py shows reproduce TFLM's outputs on 500 inputs."""
    s = float(np.float32(0.14469251036643982))
    p = op_params.softmax_params(s)
    real = s * 2**26
    mant, exp = math.frexp(real)
    assert p["input_left_shift"] == exp == 24
    assert p["input_multiplier"] == round(mant * 2**31)
    assert p["diff_min"] == -math.floor(31 * 2**26 / 2**24)


def test_softmax_params_rejects_bad_scale():
    for bad in (0.0, -1.0, float("nan"), 1e-12):
        with pytest.raises(ValueError):
            op_params.softmax_params(bad)


# ---- activation bounds -----------------------------------------------------------------


def test_activation_bounds():
    q = qp(0.05, -128)
    assert op_params.activation_bounds((None, None), q) == (-128, 127)
    assert op_params.activation_bounds((0.0, None), q) == (-128, 127)
    assert op_params.activation_bounds((0.0, 6.0), q) == (-128, -8)  # 6 / 0.05 = 120
    assert op_params.activation_bounds((0.0, None), qp(0.1, -5)) == (-5, 127)
    assert op_params.activation_bounds((-100.0, 100.0), qp(0.1, 0)) == (-128, 127)
    # round half away from zero: -0.25 / 0.1 = -2.5 -> -3, 0.25 / 0.1 = 2.5 -> 3
    assert op_params.activation_bounds((-0.25, 0.25), qp(0.1, 10)) == (7, 13)
    with pytest.raises(ValueError):
        op_params.activation_bounds((100.0, 200.0), qp(0.1, 0))  # entirely above the representable range


def test_activation_bounds_divide_in_float32():
    """TFLM divides in float32: 6 / float32(2.4) is 2.4999999 in float64 but 2.5 in float32 -> 3."""
    s = float(np.float32(2.4))
    assert op_params.activation_bounds((0.0, 6.0), qp(s, 0)) == (0, 3)


# ---- lut -------------------------------------------------------------------------------


def test_lut_table_identity_and_relu():
    q = qp(0.1, -10)
    np.testing.assert_array_equal(op_params.lut_table(lambda x: x, q, q), np.arange(-128, 128))
    relu = op_params.lut_table(lambda x: np.maximum(x, 0.0), q, q)
    np.testing.assert_array_equal(relu, np.maximum(np.arange(-128, 128), -10))
    assert relu.dtype == np.int8 and relu.shape == (256,)


def test_lut_table_rounding_and_saturation():
    q = qp(1.0, 0)
    half = op_params.lut_table(lambda x: 0.5 * x, q, q)
    assert half[3 + 128] == 2 and half[-3 + 128] == -2 and half[1 + 128] == 1 and half[-1 + 128] == -1
    big = op_params.lut_table(lambda x: 10 * x, q, q)
    assert big[0] == -128 and big[255] == 127 and big[13 + 128] == 127 and big[-12 + 128] == -120
    inf = op_params.lut_table(lambda x: np.where(x > 0, np.inf, -np.inf), q, q)
    assert inf[0] == -128 and inf[255] == 127


def test_lut_table_sigmoid_matches_float():
    qi, qo = qp(0.05, 3), qp(1 / 256, -128)
    table = op_params.lut_table(lambda x: 1 / (1 + np.exp(-x)), qi, qo)
    q = np.arange(-128, 128)
    want = np.clip(np.floor(256 / (1 + np.exp(-0.05 * (q - 3))) + 0.5) - 128, -128, 127)
    np.testing.assert_array_equal(table, want)
    with pytest.raises(ValueError):
        op_params.lut_table(lambda x: x * np.nan, qi, qo)


# ---- layouts ---------------------------------------------------------------------------


def test_broadcast_layout():
    assert op_params.broadcast_layout((2, 3, 4), (4,)) == ((1, 1, 2, 3, 4), (0, 0, 12, 4, 1), (0, 0, 0, 0, 1))
    assert op_params.broadcast_layout((3, 1), (1, 5)) == ((1, 1, 1, 3, 5), (0, 0, 0, 1, 0), (0, 0, 0, 0, 1))
    assert op_params.broadcast_layout((), (2, 1, 3, 1, 2)) == ((2, 1, 3, 1, 2), (0,) * 5, (6, 0, 2, 0, 1))
    with pytest.raises(ValueError):
        op_params.broadcast_layout((2, 3), (4,))
    with pytest.raises(ValueError):
        op_params.broadcast_layout((1,) * 6, (1,))


def test_other_layouts():
    assert op_params.concat_layout([(2, 3, 4), (2, 5, 4)], 1) == (2, [12, 20])
    assert op_params.concat_layout([(2, 3), (1, 3)], 0) == (1, [6, 3])
    with pytest.raises(ValueError):
        op_params.concat_layout([(2, 3), (2, 4)], 0)
    assert op_params.pad_layout((3, 4), [(1, 2), (0, 3)]) == ((1, 1, 1, 3, 4), (0, 0, 0, 1, 0), (0, 0, 0, 2, 3))
    assert op_params.transpose_layout((2, 3, 4), (2, 0, 1)) == ((1, 1, 2, 3, 4), (0, 1, 4, 2, 3))
    with pytest.raises(ValueError):
        op_params.transpose_layout((2, 3), (0, 0))
    pool = op_params.pool_layout((1, 9, 8, 3), (3, 2), (2, 2), (1, 0, 1, 1))
    assert (pool["out_h"], pool["out_w"], pool["pad_top"], pool["pad_left"]) == (5, 4, 1, 0)


def test_add_attrs_list_is_what_add_params_writes():
    """The schema's add attributes are what the quantizer writes (fused op, lowering, benchmarks)."""
    q = QuantParams(0.5, 0)
    attrs = op_params.add_params(q, q, q, act_min=-128, act_max=127)
    assert tuple(attrs) == op_schema.ADD_ATTRS == op_schema.schema("add").attrs
