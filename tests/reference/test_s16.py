"""The 16x8 kernels: C (qc_*_s16 through the binding) == numpy reference (reference/s16.py) on
random shapes and parameters, and the int64 requantisation against TFLM's formula."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runtime_ext import require_runtime

from qcompile.quant.fixedpoint import multiply_by_quantized_multiplier_int64
from qcompile.reference import s16

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
I16 = (-32768, 32767)


def _tflm_mbqm64(x: int, m: int, shift: int) -> int:
    """TFLM common.cc, MultiplyByQuantizedMultiplier(int64_t, int32_t, int), in Python ints."""
    rm = (m + (1 << 15)) >> 16 if m < 0x7FFF0000 else 0x7FFF
    total = 15 - shift
    r = ((x * rm + (1 << (total - 1))) % (1 << 64)) >> 0
    r = r - (1 << 64) if r >= 1 << 63 else r
    r >>= total
    return ((r + (1 << 31)) % (1 << 32)) - (1 << 31)


def test_mbqm_int64_matches_tflm_formula() -> None:
    rng = np.random.default_rng(1)
    xs = np.concatenate([rng.integers(-(1 << 47), 1 << 47, 2000), [0, 1, -1, (1 << 47) - 1, -(1 << 47)]])
    ms = rng.integers(0, 1 << 31, xs.size)
    ms[:5] = [0x7FFF0000, 0x7FFEFFFF, (1 << 31) - 1, 1 << 30, 0]
    shifts = rng.integers(-31, 8, xs.size)
    got = multiply_by_quantized_multiplier_int64(xs, ms, shifts)
    want = [_tflm_mbqm64(int(x), int(m), int(s)) for x, m, s in zip(xs, ms, shifts, strict=True)]
    np.testing.assert_array_equal(got, want)


def _rq(rng: np.random.Generator, n: int, lo_shift: int = -22, hi_shift: int = -8) -> dict:
    act = sorted(int(v) for v in rng.integers(*I16, 2, endpoint=True)) if rng.random() < 0.3 else list(I16)
    return dict(
        input_offset=0,
        output_offset=0,
        multiplier=rng.integers(1 << 30, 1 << 31, n),
        shift=rng.integers(lo_shift, hi_shift, n),
        act_min=act[0],
        act_max=act[1],
    )


def _x(rng, shape):
    return rng.integers(*I16, shape, endpoint=True).astype(np.int16)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), depthwise=st.booleans(), bias=st.booleans())
def test_conv_c_matches_reference(seed: int, depthwise: bool, bias: bool) -> None:
    rt = require_runtime()
    rng = np.random.default_rng(seed)
    h, w, c = (int(v) for v in rng.integers(1, 9, 3))
    kh, kw = int(rng.integers(1, min(h, 3) + 1)), int(rng.integers(1, min(w, 3) + 1))
    pads = tuple(int(v) for v in rng.integers(0, 2, 4))
    geo = dict(strides=tuple(int(v) for v in rng.integers(1, 3, 2)), dilations=(1, 1), pads=pads)
    x = _x(rng, (1, h, w, c))
    if depthwise:
        dm = int(rng.integers(1, 3))
        wt = rng.integers(-127, 128, (kh, kw, c * dm)).astype(np.int8)
        oc, attrs, ref, fn = c * dm, dict(geo, depth_multiplier=dm), s16.depthwise_conv2d, rt.depthwise_conv2d_s16
    else:
        oc = int(rng.integers(1, 9))
        wt = rng.integers(-127, 128, (oc, kh, kw, c)).astype(np.int8)
        attrs, ref, fn = dict(geo, groups=1), s16.conv2d, rt.conv2d_s16
    b = rng.integers(-(1 << 40), 1 << 40, oc).astype(np.int64) if bias else None
    attrs.update(_rq(rng, oc))
    np.testing.assert_array_equal(fn(x, wt, b, **attrs), ref(x, wt, b, **attrs))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), per_channel=st.booleans())
def test_fully_connected_c_matches_reference(seed: int, per_channel: bool) -> None:
    rt = require_runtime()
    rng = np.random.default_rng(seed)
    rows, k, n = (int(v) for v in rng.integers(1, 40, 3))
    x, wt = _x(rng, (rows, k)), rng.integers(-127, 128, (n, k)).astype(np.int8)
    b = rng.integers(-(1 << 35), 1 << 35, n).astype(np.int64)
    attrs = _rq(rng, n if per_channel else 1)
    np.testing.assert_array_equal(rt.fully_connected_s16(x, wt, b, **attrs), s16.fully_connected(x, wt, b, **attrs))


def _add_attrs(rng) -> dict:
    return dict(
        subtract=int(rng.integers(0, 2)),
        input1_offset=0,
        input2_offset=0,
        output_offset=0,
        left_shift=15,
        input1_multiplier=int(rng.integers(1 << 30, 1 << 31)),
        input1_shift=int(rng.integers(-3, 1)),
        input2_multiplier=int(rng.integers(1 << 30, 1 << 31)),
        input2_shift=int(rng.integers(-3, 1)),
        output_multiplier=int(rng.integers(1 << 30, 1 << 31)),
        output_shift=int(rng.integers(-16, -12)),
        act_min=-32768,
        act_max=32767,
    )


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), broadcast=st.booleans())
def test_add_mul_c_match_reference(seed: int, broadcast: bool) -> None:
    rt = require_runtime()
    rng = np.random.default_rng(seed)
    shape = tuple(int(v) for v in rng.integers(1, 6, 4))
    shape2 = (1, 1, 1, shape[3]) if broadcast else shape
    x1, x2 = _x(rng, shape), _x(rng, shape2)
    a = _add_attrs(rng)
    np.testing.assert_array_equal(rt.add_s16(x1, x2, **a), s16.add(x1, x2, **a))
    m = dict(input1_offset=0, input2_offset=0, output_offset=0, act_min=-32768, act_max=32767)
    m.update(output_multiplier=int(rng.integers(1 << 30, 1 << 31)), output_shift=int(rng.integers(-20, -10)))
    np.testing.assert_array_equal(rt.mul_s16(x1, x2, **m), s16.mul(x1, x2, **m))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_pools_pad_transpose_c_match_reference(seed: int) -> None:
    rt = require_runtime()
    rng = np.random.default_rng(seed)
    h, w, c = (int(v) for v in rng.integers(2, 8, 3))
    x = _x(rng, (1, h, w, c))
    k = (int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1)))
    bottom = int(rng.integers(0, 2)) if k[0] > 1 else 0  # no window of padding only
    p = dict(kernel=k, strides=(1, 2), pads=(0, 0, bottom, 0), act_min=-32768, act_max=32767)
    np.testing.assert_array_equal(rt.max_pool2d_s16(x, **p), s16.max_pool2d(x, **p))
    np.testing.assert_array_equal(rt.avg_pool2d_s16(x, **p), s16.avg_pool2d(x, **p))
    pads = [(int(a), int(b)) for a, b in rng.integers(0, 3, (4, 2))]
    np.testing.assert_array_equal(rt.pad_s16(x, pads=pads, pad_value=0), s16.pad(x, pads=pads, pad_value=0))
    perm = tuple(int(v) for v in rng.permutation(4))
    np.testing.assert_array_equal(rt.transpose_s16(x, perm=perm), s16.transpose(x, perm=perm))


def test_s16_kernels_reject_offsets() -> None:
    x = np.zeros((1, 2, 2, 1), np.int16)
    w = np.ones((1, 1, 1, 1), np.int8)
    geo = dict(strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0), groups=1)
    attrs = dict(geo, input_offset=3, output_offset=0, multiplier=[1 << 30], shift=[-1], act_min=-5, act_max=5)
    with pytest.raises(ValueError, match="zero points of 0"):
        s16.conv2d(x, w, None, **attrs)
    with pytest.raises(ValueError):
        require_runtime().conv2d_s16(x, w, None, **attrs)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), direction=st.sampled_from([(8, 16), (16, 8), (16, 16)]))
def test_requantize_c_matches_reference(seed: int, direction: tuple[int, int]) -> None:
    rt = require_runtime()
    rng = np.random.default_rng(seed)
    src, bits = direction
    dtype = np.int8 if src == 8 else np.int16
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max + 1, size=int(rng.integers(1, 200))).astype(dtype)
    zp_in = int(rng.integers(-128, 128)) if src == 8 else 0
    zp_out = int(rng.integers(-128, 128)) if bits == 8 else 0
    a = dict(input_offset=-zp_in, output_offset=zp_out, multiplier=int(rng.integers(1 << 30, 1 << 31)))
    a.update(shift=int(rng.integers(-20, 12)), output_bits=bits)
    np.testing.assert_array_equal(rt.requantize_s16(x, **a), s16.requantize(x, **a))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), spread=st.sampled_from([300, 4000, 32768]))
def test_softmax_c_matches_reference(seed: int, spread: int) -> None:
    rt = require_runtime()
    rng = np.random.default_rng(seed)
    shape = tuple(int(v) for v in rng.integers(1, 12, int(rng.integers(1, 4))))
    x = rng.integers(-spread, spread, shape).clip(*I16).astype(np.int16)
    a = dict(input_multiplier=int(rng.integers(1 << 30, 1 << 31)), input_left_shift=int(rng.integers(-4, 12)))
    a["diff_min"] = 0
    np.testing.assert_array_equal(rt.softmax_s16(x, **a), s16.softmax(x, **a))


def test_softmax_tables_in_c_are_the_reference() -> None:
    """qc_softmax_s16.c holds softmax_luts() literally (regenerate the two arrays if this fails)."""
    import re

    from qcompile.resources import runtime_dir

    text = (runtime_dir() / "src" / "qc_softmax_s16.c").read_text()
    tables = re.findall(r"static const int16_t (\w+)\[QC_SOFTMAX_S16_LUT_SIZE\] = \{([^}]*)\}", text)
    got = {name: [int(v) for v in body.replace("\n", " ").split(",") if v.strip()] for name, body in tables}
    exp_lut, recip_lut = s16.softmax_luts()
    assert got["qc_softmax_s16_exp_lut"] == exp_lut.tolist()
    assert got["qc_softmax_s16_recip_lut"] == recip_lut.tolist()


def test_lut_lookup_int16_interpolates() -> None:
    lut = np.arange(513, dtype=np.int16) * 64 - 16384  # the line x / 2: lookup rounds half up
    x = np.arange(-32768, 32768, 97)
    np.testing.assert_array_equal(s16.lut_lookup_int16(x, lut), (x + 1) >> 1)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), keep=st.booleans())
def test_reduce_sum_and_mean_c_match_reference(seed: int, keep: bool) -> None:
    rt = require_runtime()
    rng = np.random.default_rng(seed)
    shape = tuple(int(v) for v in rng.integers(1, 7, int(rng.integers(1, 6))))
    axes = tuple(sorted(int(a) for a in rng.choice(len(shape), int(rng.integers(1, len(shape) + 1)), replace=False)))
    x = _x(rng, shape)
    a = dict(input_offset=0, output_offset=0, multiplier=int(rng.integers(1 << 30, 1 << 31)))
    a.update(shift=int(rng.integers(-20, 2)))
    want = s16.reduce_sum(x, axes=axes, keep_dims=int(keep), **a)
    np.testing.assert_array_equal(rt.reduce_sum_s16(x, axes=axes, keep_dims=int(keep), **a), want)
    if len(shape) == 4:
        want = s16.mean(x, keep_dims=int(keep), **a)
        np.testing.assert_array_equal(rt.mean_s16(x, keep_dims=int(keep), **a), want)


def test_reduce_sum_refuses_more_than_65536_elements() -> None:
    x = np.zeros((1, 257, 256, 1), np.int16)
    a = dict(input_offset=0, output_offset=0, multiplier=1 << 30, shift=-16, keep_dims=0)
    with pytest.raises(ValueError, match="65536"):
        s16.mean(x, **a)
    with pytest.raises(ValueError):
        require_runtime().mean_s16(x, **a)
