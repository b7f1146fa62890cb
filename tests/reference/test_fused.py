"""conv2d_add: the reference equals TFLM's CONV_2D then ADD written as plain loops
(tests/spec_loops.py) on random parameters including saturation, and the C kernel equals the reference, also when it
writes over its residual (in place, as the memory planner makes it do)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runtime_ext import require_runtime
from spec_loops import add_loop, conv_attrs_loop

from qcompile.ir import QuantParams
from qcompile.op_params import add_params
from qcompile.ops import split_conv_add
from qcompile.quant.fixedpoint import quantize_multiplier
from qcompile.reference.conv import conv2d
from qcompile.reference.fused import conv2d_add

_runtime = require_runtime()


@st.composite
def _case(draw: st.DrawFn) -> tuple[list[Any], dict[str, Any]]:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, 1, 2]))
    c = groups * draw(st.integers(1, 3))
    oc = groups * draw(st.integers(1, 3))
    pads = tuple(draw(st.integers(0, 4)) for _ in range(4))  # > kernel: whole-padding rows
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 2)))
    dil = (draw(st.integers(1, 2)), 1)
    n = draw(st.integers(1, 2))
    h = draw(st.integers(max(1, dil[0] * (kh - 1) + 1 - pads[0] - pads[2]), 7))
    wd = draw(st.integers(max(1, kw - pads[1] - pads[3]), 6))
    saturate = draw(st.booleans())
    x = rng.integers(-128, 128, size=(n, h, wd, c), dtype=np.int8)
    w = rng.integers(-127, 128, size=(oc, kh, kw, c // groups), dtype=np.int8)
    bias = None if draw(st.booleans()) else rng.integers(-5000, 5000, size=oc).astype(np.int32)
    scale = 1e-3 if saturate else 2e-5
    mult_shift = [quantize_multiplier(float(v)) for v in rng.uniform(0.1, 2.0, size=oc) * scale]
    lo = draw(st.integers(-128, 0))
    conv_attrs = dict(
        strides=strides,
        dilations=dil,
        pads=pads,
        groups=groups,
        input_offset=int(rng.integers(-127, 129)),
        output_offset=int(rng.integers(-128, 128)),
        multiplier=np.array([m for m, _ in mult_shift], dtype=np.int32),
        shift=np.array([s for _, s in mult_shift], dtype=np.int32),
        act_min=lo,
        act_max=draw(st.integers(lo, 127)),
    )
    y_shape = conv2d(x, w, bias, **conv_attrs).shape
    residual = rng.integers(-128, 128, size=y_shape, dtype=np.int8)
    qs = [
        QuantParams(float(s), int(z))
        for s, z in zip(rng.uniform(0.01, 0.2, 3), rng.integers(-128, 128, 3), strict=True)
    ]
    if saturate:
        qs[2] = QuantParams(qs[2].scalar_scale() / 8, qs[2].scalar_zero_point())
    a_lo = draw(st.integers(-128, 0))
    aattrs = add_params(
        qs[0], qs[1], qs[2], act_min=a_lo, act_max=draw(st.integers(a_lo, 127)), subtract=draw(st.booleans())
    )
    attrs = dict(conv_attrs)
    attrs.update({f"add_{k}": v for k, v in aattrs.items()})
    attrs["add_conv_operand"] = draw(st.sampled_from([1, 2]))
    return [x, w, bias, residual], attrs


def _spec_loops(args: list[Any], attrs: dict[str, Any]) -> np.ndarray:
    """TFLM's CONV_2D then ADD/SUB, as plain loops (tests/spec_loops.py)."""
    x, w, bias, residual = args
    conv_attrs, add_attrs, operand = split_conv_add(attrs)
    y = conv_attrs_loop(x, w, bias, conv_attrs)
    return add_loop(y, residual, add_attrs) if operand == 1 else add_loop(residual, y, add_attrs)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_case())
def test_reference_equals_spec_loops(case: tuple[list[Any], dict[str, Any]]) -> None:
    args, attrs = case
    np.testing.assert_array_equal(conv2d_add(*args, **attrs), _spec_loops(args, attrs))


def test_operand_order_matters_for_subtract() -> None:
    """add_conv_operand is honoured: swapping it flips a SUB's sign."""
    x = np.full((1, 2, 2, 1), 50, dtype=np.int8)
    w = np.ones((1, 1, 1, 1), dtype=np.int8)
    m, s = quantize_multiplier(1.0)
    q = QuantParams(0.1, 0)
    attrs: dict[str, Any] = dict(
        strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0), groups=1, input_offset=0, output_offset=0,
        multiplier=np.array([m], np.int32), shift=np.array([s], np.int32), act_min=-128, act_max=127,
    )  # fmt: skip
    attrs.update({f"add_{k}": v for k, v in add_params(q, q, q, act_min=-128, act_max=127, subtract=True).items()})
    r = np.full((1, 2, 2, 1), 20, dtype=np.int8)
    assert (conv2d_add(x, w, None, r, add_conv_operand=1, **attrs) == 30).all()
    assert (conv2d_add(x, w, None, r, add_conv_operand=2, **attrs) == -30).all()
    with pytest.raises(ValueError):
        conv2d_add(x, w, None, r[:, :1], add_conv_operand=1, **attrs)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_case())
def test_c_equals_reference_also_in_place(case: tuple[list[Any], dict[str, Any]]) -> None:
    args, attrs = case
    expected = conv2d_add(*args, **attrs)
    np.testing.assert_array_equal(_runtime.conv2d_add_s8(*args, **attrs), expected)
    x, w, bias, residual = args
    buf = residual.copy()
    result = _runtime.conv2d_add_s8(x, w, bias, buf, out=buf, **attrs)
    assert result is buf
    np.testing.assert_array_equal(buf, expected)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 40),
    st.sampled_from([1, 3, 16, 17, 32]),
    st.sampled_from([1, 2]),
    st.booleans(),
    st.integers(-(2**31), 2**31 - 1),
)
def test_c_long_rows_in_place(seed: int, width: int, oc: int, operand: int, subtract: bool, out_off: int) -> None:
    """The epilogue is qc_add_elem.h's row form, chunked by 32: output rows (width x oc)
    far longer than a chunk and not a multiple of it, in place over the residual, either
    operand order, ADD and SUB, any add output offset (the exact offset clamp)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, size=(1, 3, width, 5), dtype=np.int8)
    w = rng.integers(-127, 128, size=(oc, 3, 3, 5), dtype=np.int8)
    bias = rng.integers(-3000, 3000, size=oc).astype(np.int32)
    mult_shift = [quantize_multiplier(float(v)) for v in rng.uniform(1e-4, 4e-3, size=oc)]
    attrs: dict[str, Any] = dict(
        strides=(1, 1), dilations=(1, 1), pads=(1, 1, 1, 1), groups=1, input_offset=int(rng.integers(-127, 129)),
        output_offset=int(rng.integers(-128, 128)), multiplier=np.array([m for m, _ in mult_shift], np.int32),
        shift=np.array([s for _, s in mult_shift], np.int32), act_min=-128, act_max=127,
    )  # fmt: skip
    qs = [
        QuantParams(float(sc), int(z))
        for sc, z in zip(rng.uniform(0.01, 0.2, 3), rng.integers(-128, 128, 3), strict=True)
    ]
    add_attrs = add_params(qs[0], qs[1], qs[2], act_min=-128, act_max=127, subtract=subtract)
    add_attrs["output_offset"] = out_off
    attrs.update({f"add_{k}": v for k, v in add_attrs.items()})
    attrs["add_conv_operand"] = operand
    residual = rng.integers(-128, 128, size=(1, 3, width, oc), dtype=np.int8)
    expected = conv2d_add(x, w, bias, residual, **attrs)
    buf = residual.copy()
    _runtime.conv2d_add_s8(x, w, bias, buf, out=buf, **attrs)
    np.testing.assert_array_equal(buf, expected)


def test_c_scratch_is_a_row_band_plus_the_conv_scratch() -> None:
    m, s = quantize_multiplier(0.01)
    q = QuantParams(0.1, 0)
    attrs: dict[str, Any] = dict(
        strides=(1, 1), dilations=(1, 1), pads=(1, 1, 1, 1), groups=1, input_offset=0, output_offset=0,
        multiplier=np.array([m] * 16, np.int32), shift=np.array([s] * 16, np.int32), act_min=-128, act_max=127,
    )  # fmt: skip
    attrs.update({f"add_{k}": v for k, v in add_params(q, q, q, act_min=-128, act_max=127).items()})
    attrs["add_conv_operand"] = 2
    conv_attrs = {k: v for k, v in attrs.items() if not k.startswith("add_")}
    conv = _runtime.conv2d_s8_scratch_size((1, 32, 32, 16), (16, 3, 3, 16), **conv_attrs)
    band = 32 * 16
    assert _runtime.conv2d_add_s8_scratch_size((1, 32, 32, 16), (16, 3, 3, 16), **attrs) == band + conv
    with pytest.raises(ValueError):
        bad = dict(attrs, add_left_shift=30)
        _runtime.conv2d_add_s8(
            np.zeros((1, 4, 4, 16), np.int8), np.zeros((16, 3, 3, 16), np.int8), None,
            np.zeros((1, 4, 4, 16), np.int8), **bad,
        )  # fmt: skip
