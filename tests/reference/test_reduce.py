"""MEAN reference (qcompile.reference.reduce) and its C twin qc_mean_s8: same bits, same refusals."""

from __future__ import annotations

import numpy as np
import pytest
from runtime_ext import require_runtime

from qcompile.ir import QuantParams
from qcompile.reference import reduce

rt = require_runtime()


def _params(s_in: float, zp_in: int, s_out: float, zp_out: int, count: int) -> dict:
    q_in = QuantParams(scale=np.array(s_in), zero_point=np.array(zp_in))
    q_out = QuantParams(scale=np.array(s_out), zero_point=np.array(zp_out))
    return reduce.mean_params(q_in, q_out, count=count)


@pytest.mark.parametrize("keep", [0, 1])
def test_c_matches_reference(keep: int) -> None:
    rng = np.random.default_rng(5)
    for _ in range(20):
        h, w, c = (int(v) for v in rng.integers(1, 9, 3))
        x = rng.integers(-128, 128, (2, h, w, c)).astype(np.int8)
        attrs = _params(
            float(rng.uniform(0.01, 0.1)), int(rng.integers(-128, 128)), float(rng.uniform(0.005, 0.2)), 3, h * w
        )
        np.testing.assert_array_equal(rt.mean_s8(x, **attrs, keep_dims=keep), reduce.mean(x, **attrs, keep_dims=keep))


def test_largest_sum_fits_int32_and_wider_offsets_are_refused() -> None:
    """input_offset is minus an int8 zero point; anything wider would overflow C's int32 sum
    over 2^23 elements (255 * 2^23 < 2^31 < 382 * 2^23), so both sides refuse it."""
    count = reduce.MEAN_MAX_COUNT
    x = np.full((1, count // 1024, 1024, 1), 127, dtype=np.int8)
    attrs = dict(output_offset=0, multiplier=1 << 30, shift=-24, keep_dims=0)
    for offset in (128, -127):
        xv = x if offset > 0 else -x - 1  # all -128 with the most negative offset
        np.testing.assert_array_equal(
            rt.mean_s8(xv, input_offset=offset, **attrs), reduce.mean(xv, input_offset=offset, **attrs)
        )
    small = np.zeros((1, 2, 2, 1), dtype=np.int8)
    for offset in (129, 255, -128, -255):
        with pytest.raises(ValueError, match="offset"):
            reduce.mean(small, input_offset=offset, **attrs)
        with pytest.raises(ValueError, match="rejected"):
            rt.mean_s8(small, input_offset=offset, **attrs)


@pytest.mark.parametrize("count", [1, 4, 16, 49, 256, 4096])
def test_headroom_c_matches_reference_and_rounds_once(count: int) -> None:
    """With ``headroom`` (ONNX global pools) the sum is pre-shifted: C == reference bit for bit,
    and the output is the exact mean rounded once, half away from zero (no double-rounding
    step). A narrow output (s_in / s_out = 7) leaves TFLM's form 1-2 fractional bits."""
    rng = np.random.default_rng(count)
    x = rng.integers(-128, 128, (4, count, 1, 64)).astype(np.int8)
    s_in, zp_in, s_out, zp_out = 0.05, 0, 0.05 / 7, 5
    attrs = _params(s_in, zp_in, s_out, zp_out, count)
    head = reduce.mean_params(
        QuantParams(scale=np.array(s_in), zero_point=np.array(zp_in)),
        QuantParams(scale=np.array(s_out), zero_point=np.array(zp_out)),
        count=count,
        headroom=True,
    )
    assert head["left_shift"] > 0 and head["multiplier"] == attrs["multiplier"]
    got = reduce.mean(x, **head, keep_dims=0)
    np.testing.assert_array_equal(rt.mean_s8(x, **head, keep_dims=0), got)
    ratio = float(np.float32(s_in)) / float(np.float32(s_out))
    exact = (x.astype(np.float64).sum(axis=(1, 2)) - zp_in * count) * ratio / count
    want = np.clip(np.sign(exact) * np.floor(np.abs(exact) + 0.5) + zp_out, -128, 127)
    near_tie = np.abs(np.abs(exact) % 1 - 0.5) < 1e-6
    np.testing.assert_array_equal(got[~near_tie], want[~near_tie])
    if 16 <= count <= 256:  # TFLM's form: 1-5 fractional bits; the first rounding moves some outputs
        assert np.any(reduce.mean(x, **attrs, keep_dims=0) != got)


def test_left_shift_that_could_overflow_is_refused() -> None:
    """255 * count << left_shift must stay an int32: both sides refuse one bit more."""
    x = np.zeros((1, 4, 4, 1), dtype=np.int8)  # 255 * 16 = 4080 < 2^12: at most 19 bits
    attrs = dict(input_offset=0, output_offset=0, multiplier=1 << 30, shift=-20, keep_dims=0)
    np.testing.assert_array_equal(rt.mean_s8(x, left_shift=19, **attrs), reduce.mean(x, left_shift=19, **attrs))
    with pytest.raises(ValueError, match="left_shift"):
        reduce.mean(x, left_shift=20, **attrs)
    with pytest.raises(ValueError, match="rejected"):
        rt.mean_s8(x, left_shift=20, **attrs)
