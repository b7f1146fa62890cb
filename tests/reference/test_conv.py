"""Convolution-family int8 kernels: the numpy reference is checked against an independent
loop implementation and float arithmetic, and the C kernels (through the Cython binding)
against the reference, bit for bit, on random shapes and parameters (hypothesis)."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from c_driver import run_c_driver, sanitizing_gcc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runtime_ext import require_runtime
from spec_loops import conv_loop, requant

from qcompile.quant.fixedpoint import quantize_multiplier
from qcompile.reference import conv as ref

REPO = Path(__file__).resolve().parents[2]
CONV_SOURCES = [
    REPO / "runtime_c" / "src" / name for name in ("qc_conv2d.c", "qc_depthwise_conv2d.c", "qc_fully_connected.c")
]

_rt = require_runtime()

PROP = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------------------
# independent slow implementation of the formula in docs/QUANTIZATION.md


# ---------------------------------------------------------------------------------------
# random problem generation


def _multipliers(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (multiplier, shift) from random reals 2^-32 .. 2^7: shifts -31 .. +7."""
    pairs = [quantize_multiplier(float(2.0**e)) for e in rng.uniform(-32.0, 7.0, n)]
    return np.array([m for m, _ in pairs], np.int32), np.array([s for _, s in pairs], np.int32)


def _int8(rng: np.random.Generator, shape, mode: str, lo: int = -128) -> np.ndarray:
    if mode == "min":
        return np.full(shape, lo, np.int8)
    if mode == "max":
        return np.full(shape, 127, np.int8)
    if mode == "extremes":
        return rng.choice(np.array([lo, 127], np.int8), size=shape)
    return rng.integers(lo, 128, size=shape).astype(np.int8)


def _bias(rng: np.random.Generator, n: int, mode: str) -> np.ndarray | None:
    if mode == "none":
        return None
    if mode == "huge":
        return rng.integers(-(2**31), 2**31, size=n).astype(np.int32)
    return rng.integers(-20000, 20000, size=n).astype(np.int32)


_FILL = st.sampled_from(["random", "random", "random", "min", "max", "extremes"])
_BIAS = st.sampled_from(["small", "small", "none", "huge"])


@st.composite
def _requant_attrs(draw) -> dict:
    lo = draw(st.integers(-128, 127))
    hi = draw(st.integers(lo, 127))
    if draw(st.booleans()):
        lo, hi = -128, 127
    return dict(
        input_offset=draw(st.sampled_from([128, -127, 0]) | st.integers(-127, 128)),
        output_offset=draw(st.integers(-128, 127)),
        act_min=lo,
        act_max=hi,
    )


@st.composite
def _spatial(draw, max_k: int = 4, max_hw: int = 9) -> dict:
    """Shapes and window attributes with a valid output (includes KH > H with padding)."""
    kh = draw(st.integers(1, max_k))
    kw = draw(st.integers(1, max_k))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    pads = tuple(draw(st.integers(0, 3)) for _ in range(4))
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    h = draw(st.integers(max(1, span_h - pads[0] - pads[2]), max_hw))
    w = draw(st.integers(max(1, span_w - pads[1] - pads[3]), max_hw))
    return dict(
        h=h,
        w=w,
        kh=kh,
        kw=kw,
        strides=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        dilations=(dh, dw),
        pads=pads,
    )


def _conv_problem(seed, sp, groups, cg, ocg, batch, fills, bias_mode, rq):
    rng = np.random.default_rng(seed)
    c, oc = groups * cg, groups * ocg
    x = _int8(rng, (batch, sp["h"], sp["w"], c), fills[0])
    w = _int8(rng, (oc, sp["kh"], sp["kw"], cg), fills[1], lo=-127)
    mult, shift = _multipliers(rng, oc)
    attrs = dict(
        strides=sp["strides"],
        dilations=sp["dilations"],
        pads=sp["pads"],
        groups=groups,
        multiplier=mult,
        shift=shift,
        **rq,
    )
    return x, w, _bias(rng, oc, bias_mode), attrs


def _dw_problem(seed, sp, c, dm, batch, fills, bias_mode, rq):
    rng = np.random.default_rng(seed)
    x = _int8(rng, (batch, sp["h"], sp["w"], c), fills[0])
    w = _int8(rng, (sp["kh"], sp["kw"], c * dm), fills[1], lo=-127)
    mult, shift = _multipliers(rng, c * dm)
    attrs = dict(
        strides=sp["strides"],
        dilations=sp["dilations"],
        pads=sp["pads"],
        depth_multiplier=dm,
        multiplier=mult,
        shift=shift,
        **rq,
    )
    return x, w, _bias(rng, c * dm, bias_mode), attrs


# ---------------------------------------------------------------------------------------
# reference vs the slow loop implementation


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    sp=_spatial(max_k=3, max_hw=6),
    groups=st.integers(1, 3),
    cg=st.integers(1, 3),
    ocg=st.integers(1, 3),
    fills=st.tuples(_FILL, _FILL),
    bias_mode=_BIAS,
    rq=_requant_attrs(),
)
def test_conv2d_reference_matches_loops(seed, sp, groups, cg, ocg, fills, bias_mode, rq):
    x, w, b, a = _conv_problem(seed, sp, groups, cg, ocg, 2, fills, bias_mode, rq)
    expected = conv_loop(
        x,
        w,
        b,
        a["strides"],
        a["dilations"],
        a["pads"],
        groups,
        a["input_offset"],
        a["output_offset"],
        a["multiplier"],
        a["shift"],
        a["act_min"],
        a["act_max"],
    )
    np.testing.assert_array_equal(ref.conv2d(x, w, b, **a), expected)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    sp=_spatial(max_k=3, max_hw=6),
    c=st.integers(1, 4),
    dm=st.integers(1, 3),
    fills=st.tuples(_FILL, _FILL),
    bias_mode=_BIAS,
    rq=_requant_attrs(),
)
def test_depthwise_reference_matches_loops(seed, sp, c, dm, fills, bias_mode, rq):
    x, w, b, a = _dw_problem(seed, sp, c, dm, 1, fills, bias_mode, rq)
    expected = conv_loop(
        x,
        w,
        b,
        a["strides"],
        a["dilations"],
        a["pads"],
        1,
        a["input_offset"],
        a["output_offset"],
        a["multiplier"],
        a["shift"],
        a["act_min"],
        a["act_max"],
        depthwise_dm=dm,
    )
    np.testing.assert_array_equal(ref.depthwise_conv2d(x, w, b, **a), expected)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    k=st.integers(1, 40),
    n=st.integers(1, 6),
    per_channel=st.booleans(),
    rq=_requant_attrs(),
)
def test_fully_connected_reference_matches_loops(seed, k, n, per_channel, rq):
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (3, k)).astype(np.int8)
    w = rng.integers(-127, 128, (n, k)).astype(np.int8)
    b = rng.integers(-(2**31), 2**31, n).astype(np.int32)
    mult, shift = _multipliers(rng, n if per_channel else 1)
    got = ref.fully_connected(x, w, b, multiplier=mult, shift=shift, **rq)
    for r in range(3):
        for j in range(n):
            acc = int(b[j]) + sum((int(x[r, i]) + rq["input_offset"]) * int(w[j, i]) for i in range(k))
            q = j if per_channel else 0
            want = requant(acc, int(mult[q]), int(shift[q]), rq["output_offset"], rq["act_min"], rq["act_max"])
            assert got[r, j] == want, (r, j)


# ---------------------------------------------------------------------------------------
# reference vs float arithmetic on hand-made cases where rounding is unambiguous


def _float_requant(acc: np.ndarray, real_scale: float, out_zp: int) -> np.ndarray:
    return np.clip(np.round(acc * real_scale) + out_zp, -128, 127).astype(np.int8)


def test_conv2d_hand_computed_3x3_same_padding():
    # 1x3x3x1 input 1..9, zero point -2 (input_offset 2); all-ones 3x3 filter, pad 1:
    # the centre output sums every (x + 2) = 45 + 18 = 63; a corner sums its 2x2 block.
    x = np.arange(1, 10, dtype=np.int8).reshape(1, 3, 3, 1)
    w = np.ones((1, 3, 3, 1), np.int8)
    m, s = quantize_multiplier(0.5)
    out = ref.conv2d(
        x,
        w,
        np.array([1], np.int32),
        strides=(1, 1),
        dilations=(1, 1),
        pads=(1, 1, 1, 1),
        groups=1,
        input_offset=2,
        output_offset=-5,
        multiplier=np.array([m], np.int32),
        shift=np.array([s], np.int32),
        act_min=-128,
        act_max=127,
    )
    xo = np.pad(x[0, :, :, 0].astype(np.int64) + 2, 1)
    acc = np.array([[xo[i : i + 3, j : j + 3].sum() + 1 for j in range(3)] for i in range(3)])
    # acc is odd or even; 0.5 * acc with ties away from zero: use exact float of the spec.
    expected = np.clip(np.floor(acc * 0.5 + 0.5) - 5, -128, 127).astype(np.int8)
    assert acc[1, 1] == 64
    np.testing.assert_array_equal(out[0, :, :, 0], expected)


def test_conv2d_grouped_float_agreement():
    rng = np.random.default_rng(7)
    x = rng.integers(-128, 128, (1, 5, 4, 6)).astype(np.int8)
    w = rng.integers(-127, 128, (4, 2, 3, 3)).astype(np.int8)  # groups=2: 3 in, 2 out per group
    b = rng.integers(-1000, 1000, 4).astype(np.int32)
    # multiplier 2^-10 exactly: the only rounding is acc / 1024; pick outputs away from ties.
    m, s = quantize_multiplier(2.0**-10)
    attrs = dict(strides=(2, 1), dilations=(1, 2), pads=(1, 2, 0, 1), groups=2, input_offset=-3, output_offset=4)
    out = ref.conv2d(
        x,
        w,
        b,
        multiplier=np.full(4, m, np.int32),
        shift=np.full(4, s, np.int32),
        act_min=-128,
        act_max=127,
        **attrs,
    )
    # float computation of the same convolution
    xf = np.pad(x.astype(np.float64) - 3, ((0, 0), (1, 0), (2, 1), (0, 0)))
    oh, ow = out.shape[1:3]
    acc = np.zeros((oh, ow, 4))
    for y in range(oh):
        for xx in range(ow):
            patch = xf[0, y * 2 : y * 2 + 2, xx : xx + 5 : 2, :]  # [2, 3, 6]
            for oc in range(4):
                g = oc // 2
                acc[y, xx, oc] = (patch[:, :, g * 3 : g * 3 + 3] * w[oc]).sum() + b[oc]
    frac = np.abs(acc / 1024 - np.floor(acc / 1024) - 0.5)
    expected = _float_requant(acc, 2.0**-10, 4)
    mask = frac > 1e-9  # skip exact ties (both roundings agree away from them)
    np.testing.assert_array_equal(out[0][mask], expected[mask])


def test_depthwise_and_fc_float_agreement():
    rng = np.random.default_rng(11)
    x = rng.integers(-128, 128, (1, 4, 4, 2)).astype(np.int8)
    w = rng.integers(-127, 128, (3, 3, 4)).astype(np.int8)  # depth_multiplier 2
    m, s = quantize_multiplier(2.0**-8)
    out = ref.depthwise_conv2d(
        x,
        w,
        None,
        strides=(1, 1),
        dilations=(1, 1),
        pads=(0, 0, 0, 0),
        depth_multiplier=2,
        input_offset=10,
        output_offset=0,
        multiplier=np.full(4, m, np.int32),
        shift=np.full(4, s, np.int32),
        act_min=-128,
        act_max=127,
    )
    xf = x[0].astype(np.float64) + 10
    acc = np.zeros((2, 2, 4))
    for y in range(2):
        for xx in range(2):
            for oc in range(4):
                acc[y, xx, oc] = (xf[y : y + 3, xx : xx + 3, oc // 2] * w[:, :, oc]).sum()
    mask = np.abs(acc / 256 - np.floor(acc / 256) - 0.5) > 1e-9
    np.testing.assert_array_equal(out[0][mask], _float_requant(acc, 2.0**-8, 0)[mask])

    xf2 = rng.integers(-128, 128, (2, 3, 7)).astype(np.int8)
    wf = rng.integers(-127, 128, (5, 7)).astype(np.int8)
    got = ref.fully_connected(
        xf2,
        wf,
        None,
        input_offset=-1,
        output_offset=3,
        multiplier=np.array([m], np.int32),
        shift=np.array([s], np.int32),
        act_min=-100,
        act_max=100,
    )
    accf = (xf2.astype(np.float64) - 1) @ wf.T.astype(np.float64)
    assert got.shape == (2, 3, 5)
    mask = np.abs(accf / 256 - np.floor(accf / 256) - 0.5) > 1e-9
    want = np.clip(np.round(accf / 256) + 3, -100, 100).astype(np.int8)
    np.testing.assert_array_equal(got[mask], want[mask])


def test_reference_rejects_bad_parameters():
    x = np.zeros((1, 2, 2, 1), np.int8)
    w = np.zeros((1, 3, 3, 1), np.int8)
    base = dict(
        strides=(1, 1),
        dilations=(1, 1),
        pads=(0, 0, 0, 0),
        groups=1,
        input_offset=0,
        output_offset=0,
        multiplier=np.array([1 << 30], np.int32),
        shift=np.array([0], np.int32),
        act_min=-128,
        act_max=127,
    )
    with pytest.raises(ValueError, match="does not fit"):
        ref.conv2d(x, w, **base)
    with pytest.raises(ValueError, match="int8"):
        ref.conv2d(x.astype(np.int16), w, **{**base, "pads": (1, 1, 1, 1)})
    with pytest.raises(ValueError, match="groups"):
        ref.conv2d(x, w, **{**base, "groups": 2, "pads": (1, 1, 1, 1)})


# ---------------------------------------------------------------------------------------
# C kernels (binding) vs reference


@PROP
@given(
    seed=st.integers(0, 2**32 - 1),
    sp=_spatial(),
    groups=st.sampled_from([1, 1, 1, 2, 3, 4]),
    cg=st.integers(1, 5),
    ocg=st.integers(1, 5),
    batch=st.integers(1, 2),
    fills=st.tuples(_FILL, _FILL),
    bias_mode=_BIAS,
    rq=_requant_attrs(),
)
def test_conv2d_c_matches_reference(seed, sp, groups, cg, ocg, batch, fills, bias_mode, rq):
    x, w, b, a = _conv_problem(seed, sp, groups, cg, ocg, batch, fills, bias_mode, rq)
    np.testing.assert_array_equal(_rt.conv2d_s8(x, w, b, **a), ref.conv2d(x, w, b, **a))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    h=st.integers(1, 12),
    w=st.integers(1, 12),
    stride=st.integers(1, 3),
    c=st.integers(1, 40),
    oc=st.integers(1, 40),
    bias_mode=_BIAS,
    rq=_requant_attrs(),
)
def test_conv2d_1x1_and_3x3_wide_channels(seed, h, w, stride, c, oc, bias_mode, rq):
    """Longer reductions (vector loop bodies and tails) on 1x1 and 3x3 'same' convs."""
    for k, pad in ((1, 0), (3, 1)):
        sp = dict(h=h, w=w, kh=k, kw=k, strides=(stride, stride), dilations=(1, 1), pads=(pad,) * 4)
        x, wt, b, a = _conv_problem(seed, sp, 1, c, oc, 1, ("random", "random"), bias_mode, rq)
        np.testing.assert_array_equal(_rt.conv2d_s8(x, wt, b, **a), ref.conv2d(x, wt, b, **a))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    k_c=st.sampled_from([(1, 31), (1, 32), (1, 33), (1, 64), (1, 65), (3, 3), (3, 16), (3, 7), (2, 20), (1, 16)]),
    h=st.integers(1, 7),
    w=st.integers(1, 7),
    stride=st.integers(1, 2),
    groups=st.sampled_from([1, 1, 2]),
    ocg=st.integers(1, 9),
    bias_mode=_BIAS,
    rq=_requant_attrs(),
)
def test_conv2d_reduction_padding_and_channel_tails(seed, k_c, h, w, stride, groups, ocg, bias_mode, rq):
    """qc_conv2d_s8 pads the reduction K = KH*KW*Cg to a multiple of 32 (zero im2col taps,
    filter rows read past K, the last row copied) and blocks 4 pixels x 2 channels: K just
    below/at/above multiples of 32 and MLPerf's 27 / 144, odd channel counts per group (the
    single-row path, the last filter row in either slot) and pixel counts not multiple of 4."""
    k, cg = k_c
    sp = dict(h=h, w=w, kh=k, kw=k, strides=(stride, stride), dilations=(1, 1), pads=(k // 2,) * 4)
    x, wt, b, a = _conv_problem(seed, sp, groups, cg, ocg, 1, ("random", "random"), bias_mode, rq)
    np.testing.assert_array_equal(_rt.conv2d_s8(x, wt, b, **a), ref.conv2d(x, wt, b, **a))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    h=st.integers(1, 8),
    w=st.integers(1, 8),
    c=st.sampled_from([1, 3, 8, 16, 31, 32, 33, 64, 70]),
    strides=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    dilations=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    pads=st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)),
    fills=st.tuples(_FILL, _FILL),
    bias_mode=_BIAS,
    rq=_requant_attrs(),
)
def test_depthwise_3x3_dm1_fast_path(seed, h, w, c, strides, dilations, pads, fills, bias_mode, rq):
    """The 3x3 depth-multiplier-1 path (nine tap pointers, out-of-bounds taps aimed at a
    zero-point row) on channel counts around the vector widths, with padding on every side
    (including windows that are mostly padding), strides and dilations."""
    span_h, span_w = 2 * dilations[0] + 1, 2 * dilations[1] + 1
    h = max(h, span_h - pads[0] - pads[2])
    w = max(w, span_w - pads[1] - pads[3])
    sp = dict(h=h, w=w, kh=3, kw=3, strides=strides, dilations=dilations, pads=pads)
    x, wt, b, a = _dw_problem(seed, sp, c, 1, 1, fills, bias_mode, rq)
    np.testing.assert_array_equal(_rt.depthwise_conv2d_s8(x, wt, b, **a), ref.depthwise_conv2d(x, wt, b, **a))


@PROP
@given(
    seed=st.integers(0, 2**32 - 1),
    sp=_spatial(),
    c=st.integers(1, 24),
    dm=st.integers(1, 3),
    batch=st.integers(1, 2),
    fills=st.tuples(_FILL, _FILL),
    bias_mode=_BIAS,
    rq=_requant_attrs(),
)
def test_depthwise_c_matches_reference(seed, sp, c, dm, batch, fills, bias_mode, rq):
    x, w, b, a = _dw_problem(seed, sp, c, dm, batch, fills, bias_mode, rq)
    np.testing.assert_array_equal(_rt.depthwise_conv2d_s8(x, w, b, **a), ref.depthwise_conv2d(x, w, b, **a))


@PROP
@given(
    seed=st.integers(0, 2**32 - 1),
    lead=st.lists(st.integers(1, 5), min_size=0, max_size=2),
    k=st.integers(1, 300),
    n=st.integers(1, 24),
    per_channel=st.booleans(),
    fills=st.tuples(_FILL, _FILL),
    bias_mode=_BIAS,
    rq=_requant_attrs(),
)
def test_fully_connected_c_matches_reference(seed, lead, k, n, per_channel, fills, bias_mode, rq):
    rng = np.random.default_rng(seed)
    x = _int8(rng, (*lead, k), fills[0])
    w = _int8(rng, (n, k), fills[1], lo=-127)
    mult, shift = _multipliers(rng, n if per_channel else 1)
    b = _bias(rng, n, bias_mode)
    got = _rt.fully_connected_s8(x, w, b, multiplier=mult, shift=shift, **rq)
    assert got.shape == (*lead, n)
    np.testing.assert_array_equal(got, ref.fully_connected(x, w, b, multiplier=mult, shift=shift, **rq))


@pytest.mark.parametrize("x_val", [-128, 127])
@pytest.mark.parametrize("w_val", [-127, 127])
@pytest.mark.parametrize("input_offset", [-127, 128])
def test_saturation_edges_all_kernels(x_val, w_val, input_offset):
    """Constant extreme inputs and weights, biases near the int32 limits, multipliers that
    saturate SRDHM and left shifts that wrap: C and reference still agree."""
    x = np.full((1, 5, 5, 4), x_val, np.int8)
    mult = np.array([2**31 - 1, 1 << 30, 2**31 - 1, 1 << 30], np.int32)
    shift = np.array([7, 7, -31, 0], np.int32)
    bias = np.array([2**31 - 1, -(2**31), 2**31 - 1000, -(2**31) + 5], np.int32)
    rq = dict(input_offset=input_offset, output_offset=127, act_min=-128, act_max=127)
    w = np.full((4, 3, 3, 4), w_val, np.int8)
    a = dict(strides=(1, 1), dilations=(1, 1), pads=(1, 1, 1, 1), groups=1, multiplier=mult, shift=shift, **rq)
    np.testing.assert_array_equal(_rt.conv2d_s8(x, w, bias, **a), ref.conv2d(x, w, bias, **a))
    wd = np.full((3, 3, 4), w_val, np.int8)
    a = {**a, "depth_multiplier": 1}
    del a["groups"]
    np.testing.assert_array_equal(_rt.depthwise_conv2d_s8(x, wd, bias, **a), ref.depthwise_conv2d(x, wd, bias, **a))
    wf = np.full((4, 100), w_val, np.int8)
    xf = x.reshape(1, 100)
    np.testing.assert_array_equal(
        _rt.fully_connected_s8(xf, wf, bias, multiplier=mult, shift=shift, **rq),
        ref.fully_connected(xf, wf, bias, multiplier=mult, shift=shift, **rq),
    )


def test_int32_wrap_of_bias_and_output_offset():
    """TFLM adds in int32 (wrapping on gcc): INT32_MAX bias plus a positive tap sum wraps
    negative, and a saturated MBQM plus a positive zero point wraps too. Pinned values."""
    rq = dict(input_offset=0, output_offset=127, act_min=-128, act_max=127)
    x = np.ones((1, 2), np.int8)
    w = np.array([[1, 1], [0, 0]], np.int8)
    bias = np.array([2**31 - 1, 2**31 - 1], np.int32)
    mult = np.array([2**31 - 1, 2**31 - 1], np.int32)
    shift = np.array([-31, 0], np.int32)
    want = np.array([[126, -128]], np.int8)  # wrap to -2^31 + 1 -> -1 + 127; INT32_MAX - 1 + 127 wraps
    np.testing.assert_array_equal(ref.fully_connected(x, w, bias, multiplier=mult, shift=shift, **rq), want)
    np.testing.assert_array_equal(_rt.fully_connected_s8(x, w, bias, multiplier=mult, shift=shift, **rq), want)
    xc = np.ones((1, 1, 1, 2), np.int8)
    a = dict(strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0), multiplier=mult, shift=shift, **rq)
    wc = w.reshape(2, 1, 1, 2)
    np.testing.assert_array_equal(ref.conv2d(xc, wc, bias, groups=1, **a).reshape(1, 2), want)
    np.testing.assert_array_equal(_rt.conv2d_s8(xc, wc, bias, groups=1, **a).reshape(1, 2), want)
    wd = np.array([[[1, 0]]], np.int8)
    np.testing.assert_array_equal(
        _rt.depthwise_conv2d_s8(xc, wd, bias, depth_multiplier=1, **a),
        ref.depthwise_conv2d(xc, wd, bias, depth_multiplier=1, **a),
    )
    np.testing.assert_array_equal(ref.depthwise_conv2d(xc, wd, bias, depth_multiplier=1, **a).reshape(1, 2), want)


def test_binding_validates_and_reports_scratch():
    x = np.zeros((1, 8, 8, 4), np.int8)
    w = np.zeros((6, 3, 3, 4), np.int8)
    a = dict(
        strides=(1, 1),
        dilations=(1, 1),
        pads=(1, 1, 1, 1),
        groups=1,
        input_offset=0,
        output_offset=0,
        multiplier=np.full(6, 1 << 30, np.int32),
        shift=np.zeros(6, np.int32),
        act_min=-128,
        act_max=127,
    )
    assert _rt.conv2d_s8_scratch_size(x.shape, w.shape, **a) >= 4 * 3 * 3 * 4
    dw = {k: v for k, v in a.items() if k != "groups"}
    assert _rt.depthwise_conv2d_s8_scratch_size(x.shape, (3, 3, 4), **{**dw, "depth_multiplier": 1}) > 0
    assert (
        _rt.fully_connected_s8_scratch_size(
            (2, 10), (3, 10), **{k: a[k] for k in ("input_offset", "output_offset", "act_min", "act_max")}
        )
        >= 0
    )
    with pytest.raises(ValueError, match="int8"):
        _rt.conv2d_s8(x.astype(np.int32), w, None, **a)
    with pytest.raises(ValueError, match="groups"):
        _rt.conv2d_s8(x, w, None, **{**a, "groups": 3})
    with pytest.raises(ValueError, match="bias"):
        _rt.conv2d_s8(x, w, np.zeros(5, np.int32), **a)
    with pytest.raises(ValueError, match="multiplier"):
        _rt.conv2d_s8(x, w, None, **{**a, "multiplier": np.ones(4, np.int32)})
    with pytest.raises(ValueError, match="shift"):
        _rt.conv2d_s8(x, w, None, **{**a, "shift": np.full(6, 40, np.int32)})
    with pytest.raises(ValueError, match="act_min"):
        _rt.conv2d_s8(x, w, None, **{**a, "act_min": 10, "act_max": 0})
    with pytest.raises(ValueError, match="does not fit"):
        _rt.conv2d_s8(x, np.zeros((6, 11, 3, 4), np.int8), None, **a)
    with pytest.raises(ValueError, match="depth_multiplier"):
        _rt.depthwise_conv2d_s8(x, np.zeros((3, 3, 5), np.int8), None, **{**dw, "depth_multiplier": 1})
    with pytest.raises(ValueError, match="fully_connected"):
        _rt.fully_connected_s8(
            np.zeros((2, 9), np.int8),
            np.zeros((3, 10), np.int8),
            None,
            input_offset=0,
            output_offset=0,
            multiplier=[1 << 30],
            shift=[0],
            act_min=-128,
            act_max=127,
        )


# ---------------------------------------------------------------------------------------
# sanitizers: the three C files under ASan + UBSan, scratch exactly the reported size


_DRIVER = textwrap.dedent(
    r"""
    #include <stdio.h>
    #include <stdlib.h>
    #include <string.h>
    #include "qc_kernels.h"

    @DECLS@

    static int8_t *copy8(const int8_t *src, size_t n) { int8_t *d = malloc(n); memcpy(d, src, n); return d; }
    static int32_t *copy32(const int32_t *src, size_t n) { int32_t *d = malloc(n * 4); memcpy(d, src, n * 4); return d; }
    static void dump(const int8_t *o, size_t n) { for (size_t i = 0; i < n; ++i) printf("%d ", o[i]); printf("\n"); }

    int main(void) {
    @CASES@
        return 0;
    }
    """
)


def _c_array(ctype: str, name: str, values: np.ndarray) -> str:
    body = ", ".join(str(int(v)) for v in values.reshape(-1))
    return f"static const {ctype} {name}[] = {{{body}}};"


def _conv_case(idx: int, x, w, b, a, depthwise: bool) -> tuple[str, str, tuple[int, ...]]:
    n, h, wd, c = x.shape
    if depthwise:
        kh, kw, oc = w.shape
        groups, dm = 1, a["depth_multiplier"]
    else:
        oc, kh, kw, _ = w.shape
        groups, dm = a["groups"], 1
    top, left, bottom, right = a["pads"]
    (sh, sw), (dh, dw) = a["strides"], a["dilations"]
    oh = (h + top + bottom - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + left + right - dw * (kw - 1) - 1) // sw + 1
    fn = "qc_depthwise_conv2d_s8" if depthwise else "qc_conv2d_s8"
    decls = "\n".join(
        [
            _c_array("int8_t", f"x{idx}", x),
            _c_array("int8_t", f"w{idx}", w),
            _c_array("int32_t", f"b{idx}", b),
            _c_array("int32_t", f"m{idx}", a["multiplier"]),
            _c_array("int32_t", f"s{idx}", a["shift"]),
        ]
    )
    out_n = n * oh * ow * oc
    code = f"""
    {{
        qc_conv_params p = {{{n}, {h}, {wd}, {c}, {oh}, {ow}, {oc}, {kh}, {kw}, {sh}, {sw}, {dh}, {dw}, {top}, {left},
                            {groups}, {dm}, {a["input_offset"]}, {a["output_offset"]}, {a["act_min"]}, {a["act_max"]}}};
        size_t sz = {fn}_scratch_size(&p);
        void *scratch = malloc(sz ? sz : 1);
        int8_t *xi = copy8(x{idx}, sizeof x{idx}), *wi = copy8(w{idx}, sizeof w{idx});
        int32_t *bi = copy32(b{idx}, {oc}), *mi = copy32(m{idx}, {oc}), *si = copy32(s{idx}, {oc});
        int8_t *out = malloc({out_n});
        if ({fn}(&p, xi, wi, bi, mi, si, out, scratch) != QC_OK) return 1;
        dump(out, {out_n});
        free(scratch); free(xi); free(wi); free(bi); free(mi); free(si); free(out);
    }}"""
    return decls, code, (n, oh, ow, oc)


def _fc_case(idx: int, x, w, b, mult, shift, rq) -> tuple[str, str]:
    rows, k = x.shape
    nout = w.shape[0]
    decls = "\n".join(
        [
            _c_array("int8_t", f"x{idx}", x),
            _c_array("int8_t", f"w{idx}", w),
            _c_array("int32_t", f"b{idx}", b),
            _c_array("int32_t", f"m{idx}", mult),
            _c_array("int32_t", f"s{idx}", shift),
        ]
    )
    code = f"""
    {{
        qc_fc_params p = {{{rows}, {k}, {nout}, {rq["input_offset"]}, {rq["output_offset"]}, {rq["act_min"]},
                          {rq["act_max"]}, {int(mult.size > 1)}}};
        size_t sz = qc_fully_connected_s8_scratch_size(&p);
        void *scratch = sz ? malloc(sz) : NULL;
        int8_t *xi = copy8(x{idx}, sizeof x{idx}), *wi = copy8(w{idx}, sizeof w{idx});
        int32_t *bi = copy32(b{idx}, {nout}), *mi = copy32(m{idx}, {mult.size}), *si = copy32(s{idx}, {mult.size});
        int8_t *out = malloc({rows * nout});
        if (qc_fully_connected_s8(&p, xi, wi, bi, mi, si, out, scratch) != QC_OK) return 1;
        dump(out, {rows * nout});
        free(scratch); free(xi); free(wi); free(bi); free(mi); free(si); free(out);
    }}"""
    return decls, code


def test_c_kernels_under_sanitizers(tmp_path):
    gcc, flags = sanitizing_gcc(tmp_path)

    rng = np.random.default_rng(2024)
    rq = dict(input_offset=128, output_offset=-3, act_min=-128, act_max=127)
    cases = []
    # conv: 3x3 same padding with dilation, grouped strided with KH > H, 1x1 strided (direct path)
    for sp, groups, cg, ocg in (
        (dict(h=7, w=6, kh=3, kw=3, strides=(1, 1), dilations=(2, 1), pads=(2, 1, 2, 1)), 1, 5, 3),
        (dict(h=2, w=5, kh=4, kw=2, strides=(2, 3), dilations=(1, 1), pads=(1, 0, 2, 1)), 2, 3, 2),
        (dict(h=5, w=5, kh=1, kw=1, strides=(2, 2), dilations=(1, 1), pads=(0, 0, 0, 0)), 1, 17, 5),
        # K = 144 (padded to 160: the filter's rows are read past K, its last rows copied), 7 channels
        (dict(h=5, w=3, kh=3, kw=3, strides=(1, 1), dilations=(1, 1), pads=(1, 1, 1, 1)), 1, 16, 7),
    ):
        x, w, b, a = _conv_problem(int(rng.integers(1 << 30)), sp, groups, cg, ocg, 2, ("random", "random"), "huge", rq)
        cases.append(("conv", x, w, b, a))
    for sp, c, dm in (
        (dict(h=6, w=5, kh=3, kw=3, strides=(2, 1), dilations=(1, 2), pads=(1, 2, 1, 2)), 5, 1),
        (dict(h=3, w=4, kh=5, kw=2, strides=(1, 2), dilations=(1, 1), pads=(2, 0, 2, 1)), 3, 3),
        (dict(h=4, w=3, kh=3, kw=3, strides=(1, 1), dilations=(1, 1), pads=(1, 1, 1, 1)), 37, 1),
    ):
        x, w, b, a = _dw_problem(int(rng.integers(1 << 30)), sp, c, dm, 2, ("random", "random"), "small", rq)
        cases.append(("dw", x, w, b, a))

    decls, codes, expected = [], [], []
    for i, (kind, x, w, b, a) in enumerate(cases):
        d, code, _ = _conv_case(i, x, w, b, a, kind == "dw")
        decls.append(d)
        codes.append(code)
        expected.append((ref.depthwise_conv2d if kind == "dw" else ref.conv2d)(x, w, b, **a))
    for j, (rows, k, n, per_channel) in enumerate(((6, 37, 5, True), (1, 200, 3, False))):
        x = rng.integers(-128, 128, (rows, k)).astype(np.int8)
        w = rng.integers(-127, 128, (n, k)).astype(np.int8)
        b = rng.integers(-(2**31), 2**31, n).astype(np.int32)
        mult, shift = _multipliers(rng, n if per_channel else 1)
        d, code = _fc_case(len(cases) + j, x, w, b, mult, shift, rq)
        decls.append(d)
        codes.append(code)
        expected.append(ref.fully_connected(x, w, b, multiplier=mult, shift=shift, **rq))

    run_c_driver(
        tmp_path,
        gcc,
        flags,
        _DRIVER.replace("@DECLS@", "\n".join(decls)).replace("@CASES@", "\n".join(codes)),
        CONV_SOURCES,
        expected,
    )


def test_reference_fast_enough_for_whole_models():
    """A ResNet-8-sized batch of 200 must not take minutes in the reference."""
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, (200, 32, 32, 16)).astype(np.int8)
    w = rng.integers(-127, 128, (16, 3, 3, 16)).astype(np.int8)
    m, s = quantize_multiplier(0.001)
    t0 = time.perf_counter()
    out = ref.conv2d(
        x,
        w,
        None,
        strides=(1, 1),
        dilations=(1, 1),
        pads=(1, 1, 1, 1),
        groups=1,
        input_offset=1,
        output_offset=0,
        multiplier=np.full(16, m, np.int32),
        shift=np.full(16, s, np.int32),
        act_min=-128,
        act_max=127,
    )
    elapsed = time.perf_counter() - t0
    assert out.shape == (200, 32, 32, 16)
    assert elapsed < 30, f"reference conv2d took {elapsed:.1f}s"


def _int64_sums(x: np.ndarray, w: np.ndarray, pads: tuple[int, int, int, int], offset: int) -> np.ndarray:
    """Tap sums in int64 (stride 1, dense): the exact values the float products must give."""
    xp = np.pad(x.astype(np.int64) + offset, ((0, 0), (pads[0], pads[2]), (pads[1], pads[3]), (0, 0)))
    win = np.lib.stride_tricks.sliding_window_view(xp, w.shape[1:3], axis=(1, 2))  # [N, OH, OW, C, KH, KW]
    return np.einsum("nhwcyx,oyxc->nhwo", win, w.astype(np.int64))


def test_sums_switch_to_float64_where_float32_would_round() -> None:
    """Odd tap sums just above 2^24 (255 * 127 over 577 taps) need float64; below the bound
    the float32 products are exact. Both conv and depthwise, checked against int64."""
    x = np.full((2, 5, 5, 577 // 9 + 1), 127, np.int8)  # 65 channels: 585 taps of 3x3
    w = np.full((3, 3, 3, x.shape[3]), 127, np.int8)
    assert ref._sum_dtype(x, w, 128, (1, 2, 3)) is np.float64
    attrs = {"strides": (1, 1), "dilations": (1, 1), "pads": (1, 1, 1, 1), "groups": 1, "input_offset": 128}
    got = ref.conv2d_sums(x, w, **attrs)
    assert got.max() > 2**24 and got.max() % 2 == 1
    np.testing.assert_array_equal(got, _int64_sums(x, w, (1, 1, 1, 1), 128))
    small = w.copy()
    small[:, :, :, 2:] = 0  # 18 taps per channel: far below 2^24
    assert ref._sum_dtype(x, small, 128, (1, 2, 3)) is np.float32
    np.testing.assert_array_equal(ref.conv2d_sums(x, small, **attrs), _int64_sums(x, small, (1, 1, 1, 1), 128))
    dw = np.full((3, 3, 4), 127, np.int8)
    xd = np.full((1, 4, 4, 4), -128, np.int16) * 256  # 16x8 inputs: -32768 + 0
    assert ref._sum_dtype(xd, dw, 0, (0, 1)) is np.float64
    sums = ref.depthwise_sums(
        xd, dw, strides=(1, 1), dilations=(1, 1), pads=(1, 1, 1, 1), depth_multiplier=1, input_offset=0
    )
    assert sums.min() == -32768 * 127 * 9


def test_conv_chunks_of_samples_and_of_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small chunks: several samples per product, and rows of one sample when a sample is
    larger than a chunk; the sums stay those of one product over everything."""
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, (5, 7, 6, 4), dtype=np.int8)
    w = rng.integers(-127, 128, (3, 3, 3, 4), dtype=np.int8)
    attrs = {"strides": (1, 1), "dilations": (1, 1), "pads": (1, 1, 1, 1), "groups": 1, "input_offset": -3}
    want = _int64_sums(x, w, (1, 1, 1, 1), -3)
    for chunk in (7 * 6 * 36 * 2, 6 * 36 * 3, 5):  # two samples; three rows; less than one row
        monkeypatch.setattr(ref, "_CHUNK_ELEMENTS", chunk)
        np.testing.assert_array_equal(ref.conv2d_sums(x, w, **attrs), want, err_msg=f"chunk {chunk}")
    assert list(ref._conv_chunks(5, 7, 6 * 36))[:2] == [(0, 1, 0, 1), (0, 1, 1, 2)]
