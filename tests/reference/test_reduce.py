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
