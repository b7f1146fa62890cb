"""div: the C kernel (through the binding) equals the numpy reference bit for bit on random
broadcasts and parameters, the reference is the rounded real quotient, and a zero divisor
saturates (docs/QUANTIZATION.md, "div")."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runtime_ext import require_runtime

from qcompile import op_params
from qcompile.ir import QuantParams
from qcompile.reference.kernels.div import div

rt = require_runtime()
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def _shapes(draw):
    rank = draw(st.integers(1, 5))
    full = [draw(st.integers(1, 5)) for _ in range(rank - 1)] + [draw(st.integers(1, 40))]
    a = [d if draw(st.integers(0, 3)) else 1 for d in full]
    b = [d if draw(st.integers(0, 2)) else 1 for d in full]
    return tuple(a), tuple(b[draw(st.integers(0, rank - 1)) :])


def _attrs(rng) -> dict:
    lo = int(rng.integers(-128, 128))
    return dict(
        input1_offset=int(rng.integers(-127, 129)),
        input2_offset=int(rng.integers(-127, 129)),
        output_offset=int(rng.integers(-128, 128)),
        output_multiplier=int(rng.choice([0, int(rng.integers(1 << 30, 1 << 31))])),
        output_shift=int(rng.integers(-31, 32)),
        act_min=lo,
        act_max=int(rng.integers(lo, 128)),
    )


@FAST
@given(shapes=_shapes(), seed=st.integers(0, 2**32 - 1))
def test_div_c_matches_reference(shapes, seed) -> None:
    rng = np.random.default_rng(seed)
    x1 = rng.integers(-128, 128, shapes[0]).astype(np.int8)
    x2 = rng.integers(-128, 128, shapes[1]).astype(np.int8)
    attrs = _attrs(rng)
    got, want = rt.div_s8(x1, x2, **attrs), div(x1, x2, **attrs)
    assert got.dtype == want.dtype == np.int8
    np.testing.assert_array_equal(got, want)


def test_div_every_pair_c_matches_reference() -> None:
    """All 65,536 operand pairs, for parameter sets covering every shift regime."""
    a, b = (g.astype(np.int8) for g in np.meshgrid(np.arange(-128, 128), np.arange(-128, 128), indexing="ij"))
    rng = np.random.default_rng(7)
    for shift in (-31, -20, -9, -8, -1, 0, 1, 7, 23, 31):
        attrs = _attrs(rng) | {"output_shift": shift, "output_multiplier": int(rng.integers(1 << 30, 1 << 31))}
        np.testing.assert_array_equal(rt.div_s8(a, b, **attrs), div(a, b, **attrs))


def test_div_is_the_rounded_real_quotient() -> None:
    q1, q2, qo = QuantParams(0.05, -3), QuantParams(0.02, 20), QuantParams(0.07, 9)
    attrs = op_params.div_params(q1, q2, qo, act_min=-128, act_max=127)
    a, b = (g.astype(np.int8) for g in np.meshgrid(np.arange(-128, 128), np.arange(-128, 128), indexing="ij"))
    got = div(a, b, **attrs).astype(np.int64)
    v1, v2 = (a.astype(np.float64) + 3) * 0.05, (b.astype(np.float64) - 20) * 0.02
    nz = v2 != 0
    want = np.clip(np.round(v1[nz] / v2[nz] / 0.07) + 9, -128, 127)
    assert np.max(np.abs(got[nz] - want)) <= 1  # the multiplier's float32 rounding can move exact ties
    zero = ~nz
    assert np.all(got[zero & (v1 > 0)] == 127) and np.all(got[zero & (v1 < 0)] == -128)
    assert np.all(got[zero & (v1 == 0)] == 9)


def test_div_rejects_out_of_range_parameters() -> None:
    x = np.zeros(4, np.int8)
    good = dict(input1_offset=0, input2_offset=0, output_offset=0, output_multiplier=1 << 30, output_shift=0,
                act_min=-128, act_max=127)  # fmt: skip
    for key, bad in (("input1_offset", 129), ("output_multiplier", -1), ("output_shift", 32)):
        with pytest.raises(ValueError):
            div(x, x, **(good | {key: bad}))
        with pytest.raises(ValueError):
            rt.div_s8(x, x, **(good | {key: bad}))
