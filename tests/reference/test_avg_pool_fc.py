"""avg_pool_fc: the fused reference equals TFLM's AVERAGE_POOL_2D then FULLY_CONNECTED written
as plain loops (tests/spec_loops.py) on random parameters including saturation (pool and FC clamps, wrapped/saturated requantisation),
and the C kernel (qc_avg_pool_fc_s8 through the binding) equals the reference."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runtime_ext import require_runtime
from spec_loops import avg_pool_loop, fc_loop

from qcompile.quant.fixedpoint import quantize_multiplier
from qcompile.reference.fused import avg_pool_fc

_runtime = require_runtime()


@st.composite
def _case(draw: st.DrawFn) -> tuple[list[Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(x, w, bias), fused attrs, pool attrs, fc attrs of a global pool + FC head."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, h, wd = draw(st.integers(1, 5)), draw(st.integers(1, 9)), draw(st.integers(1, 9))
    c, nout = draw(st.integers(1, 19)), draw(st.integers(1, 13))
    # padding up to one row/column each side: the global window still has real pixels,
    # and the per-window count differs from H * W (padded positions are excluded)
    pads = tuple(draw(st.integers(0, 1)) for _ in range(4))
    kernel = (h + pads[0] + pads[2], wd + pads[1] + pads[3])
    saturate = draw(st.booleans())
    x = rng.integers(-128, 128, size=(n, h, wd, c), dtype=np.int8)
    if draw(st.booleans()):  # constant extremes: the pooled values hit the int8 bounds
        x[...] = draw(st.sampled_from([-128, 127]))
    w = rng.integers(-127, 128, size=(nout, c), dtype=np.int8)
    bias = None if draw(st.booleans()) else rng.integers(-20000, 20000, size=nout).astype(np.int32)
    scale = 5e-2 if saturate else 1e-3
    per_channel = draw(st.booleans())
    ms = [quantize_multiplier(float(v)) for v in rng.uniform(0.1, 2.0, size=nout if per_channel else 1) * scale]
    pool_lo = draw(st.integers(-128, 0))
    fc_lo = draw(st.integers(-128, 0))
    pool = dict(kernel=kernel, strides=kernel, pads=pads, act_min=pool_lo, act_max=draw(st.integers(pool_lo, 127)))
    fc = dict(
        input_offset=int(rng.integers(-127, 129)),
        output_offset=int(rng.integers(-128, 128)),
        multiplier=np.array([m for m, _ in ms], dtype=np.int32),
        shift=np.array([s for _, s in ms], dtype=np.int32),
        act_min=fc_lo,
        act_max=draw(st.integers(fc_lo, 127)),
    )
    attrs = {f"pool_{k}": v for k, v in pool.items()} | fc | {"flatten": int(draw(st.booleans()))}
    return [x, w, bias], attrs, pool, fc


def _spec_loops(args: list[Any], attrs: dict[str, Any], pool: dict[str, Any], fc: dict[str, Any]) -> np.ndarray:
    """TFLM's AVERAGE_POOL_2D then FULLY_CONNECTED, as plain loops (tests/spec_loops.py)."""
    x, w, bias = args
    pooled = avg_pool_loop(x, pool["kernel"], pool["strides"], pool["pads"], pool["act_min"], pool["act_max"])
    y = fc_loop(pooled.reshape(pooled.shape[0], pooled.shape[3]), w, bias, fc)
    return y if attrs["flatten"] else y.reshape(y.shape[0], 1, 1, y.shape[1])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_case())
def test_reference_equals_spec_loops(case: tuple[list[Any], dict[str, Any], dict[str, Any], dict[str, Any]]) -> None:
    args, attrs, pool, fc = case
    got = avg_pool_fc(*args, **attrs)
    np.testing.assert_array_equal(got, _spec_loops(args, attrs, pool, fc))
    n, nout = args[0].shape[0], args[1].shape[0]
    assert got.shape == ((n, nout) if attrs["flatten"] else (n, 1, 1, nout))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_case())
def test_c_kernel_equals_reference(case: tuple[list[Any], dict[str, Any], dict[str, Any], dict[str, Any]]) -> None:
    args, attrs, _, _ = case
    expected = avg_pool_fc(*args, **attrs)
    got = _runtime.avg_pool_fc_s8(*args, **attrs)
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_saturation_is_reached() -> None:
    """The clamps of both halves matter: a pool clamp changes the FC input (so the fused
    kernel must clamp before the FC, not after), and the FC output saturates."""
    x = np.full((1, 2, 2, 3), 100, dtype=np.int8)
    w = np.full((2, 3), 127, dtype=np.int8)
    m, s = quantize_multiplier(0.02)
    fc = dict(input_offset=0, output_offset=0, multiplier=np.int32(m), shift=np.int32(s), act_min=-128, act_max=127)
    clamped = {"pool_kernel": (2, 2), "pool_strides": (2, 2), "pool_pads": (0, 0, 0, 0)}
    clamped |= {"pool_act_min": -128, "pool_act_max": 10} | fc
    open_pool = clamped | {"pool_act_max": 127}
    assert avg_pool_fc(x, w, None, **open_pool).tolist() == [[127, 127]]
    low = avg_pool_fc(x, w, None, **clamped)
    assert low.tolist() == [[76, 76]]  # 3 * 10 * 127 * 0.02 = 76.2
    np.testing.assert_array_equal(_runtime.avg_pool_fc_s8(x, w, None, **clamped), low)
    np.testing.assert_array_equal(_runtime.avg_pool_fc_s8(x, w, None, **open_pool), [[127, 127]])


def _head_attrs() -> dict[str, Any]:
    m, s = quantize_multiplier(0.01)
    return {
        "pool_kernel": (4, 4),
        "pool_strides": (4, 4),
        "pool_pads": (0, 0, 0, 0),
        "pool_act_min": -128,
        "pool_act_max": 127,
        "input_offset": 3,
        "output_offset": -2,
        "multiplier": np.int32(m),
        "shift": np.int32(s),
        "act_min": -128,
        "act_max": 127,
    }


def test_rejects_a_non_global_pool_and_unknown_attributes() -> None:
    x = np.zeros((1, 4, 4, 3), dtype=np.int8)
    w = np.ones((2, 3), dtype=np.int8)
    local = _head_attrs() | {"pool_kernel": (2, 2), "pool_strides": (2, 2)}
    with pytest.raises(ValueError, match="global"):
        avg_pool_fc(x, w, None, **local)
    with pytest.raises(ValueError, match="unknown"):
        avg_pool_fc(x, w, None, **_head_attrs(), strides=(1, 1))
    with pytest.raises(ValueError, match="global"):
        _runtime.avg_pool_fc_s8(x, w, None, **local)
    with pytest.raises(TypeError, match="unknown"):
        _runtime.avg_pool_fc_s8(x, w, None, **_head_attrs(), strides=(1, 1))


def test_scratch_holds_the_pooled_vector() -> None:
    """N * C pooled bytes (16-aligned), nothing else: both halves need no scratch of their own."""
    assert _runtime.avg_pool_fc_s8_scratch_size((1, 4, 4, 64), (10, 64), **_head_attrs()) == 64
    assert _runtime.avg_pool_fc_s8_scratch_size((3, 4, 4, 7), (10, 7), **_head_attrs()) == 32
