"""The attention ops' reference (batch_matmul, layer_norm): against real arithmetic, and the
C kernels through the binding bit for bit."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from runtime_c.test_guarded_transformer import random_layer_norm_case, random_matmul_case

from qcompile.host import _runtime
from qcompile.quant.converters.transformer import batch_matmul_params, layer_norm_params
from qcompile.reference import float_ops
from qcompile.reference.kernels import transformer as ref

CASES = settings(max_examples=150, deadline=None)


@CASES
@given(seed=st.integers(0, 2**32 - 1))
def test_c_batch_matmul_is_the_reference(seed: int) -> None:
    a, b, attrs = random_matmul_case(np.random.default_rng(seed))
    np.testing.assert_array_equal(_runtime.batch_matmul_s8(a, b, **attrs), ref.batch_matmul(a, b, **attrs))


@CASES
@given(seed=st.integers(0, 2**32 - 1))
def test_c_layer_norm_is_the_reference(seed: int) -> None:
    x, gamma, beta, attrs = random_layer_norm_case(np.random.default_rng(seed))
    np.testing.assert_array_equal(
        _runtime.layer_norm_s8(x, gamma, beta, **attrs), ref.layer_norm(x, gamma, beta, **attrs)
    )


def test_batch_matmul_is_the_real_product_rounded_once() -> None:
    """With the multiplier of the scales, the int8 product is the real product of the
    dequantized operands, rounded to the output grid (within the multiplier's 2^-31)."""
    rng = np.random.default_rng(0)
    a = rng.integers(-128, 128, (2, 3, 5, 16)).astype(np.int8)
    b = rng.integers(-128, 128, (3, 16, 7)).astype(np.int8)
    sa, za, sb, zb, so, zo = 0.02, 5, 0.03, -7, 0.5, 3
    attrs = batch_matmul_params(sa, za, sb, zb, so, zo) | dict(adj_x=0, adj_y=0, act_min=-128, act_max=127)
    got = ref.batch_matmul(a, b, **attrs).astype(np.int64)
    real = np.matmul(sa * (a.astype(np.float64) - za), sb * (b.astype(np.float64) - zb))
    want = np.clip(np.round(real / so) + zo, -128, 127)
    assert np.max(np.abs(got - want)) <= 1
    assert np.mean(got != want) < 0.01
    swapped = ref.batch_matmul(np.ascontiguousarray(np.swapaxes(a, -1, -2)), b, **(attrs | dict(adj_x=1)))
    np.testing.assert_array_equal(swapped, got)


def test_batch_matmul_rejects_bad_operands() -> None:
    attrs = batch_matmul_params(1, 0, 1, 0, 1, 0) | dict(adj_x=0, adj_y=0, act_min=-128, act_max=127)
    with pytest.raises(ValueError, match="inner dimensions"):
        ref.batch_matmul(np.zeros((2, 3), np.int8), np.zeros((4, 2), np.int8), **attrs)
    with pytest.raises(ValueError, match="int8"):
        ref.batch_matmul(np.zeros((2, 3), np.int16), np.zeros((3, 2), np.int8), **attrs)


def test_inv_sqrt_is_accurate_to_2_pow_minus_29() -> None:
    rng = np.random.default_rng(1)
    for w in [1, 2, 3, 2**52 - 1, *(int(v) for v in rng.integers(1, 2**62, 200)), *range(4, 70)]:
        r, m = ref.inv_sqrt(w)
        assert 2**29 <= r <= 2**30
        assert abs(r * 2.0**m / 2.0**60 * math.sqrt(w) - 1) < 2**-29


@pytest.mark.parametrize("cols", [1, 7, 64, 200, 4096])
def test_layer_norm_is_the_float_layer_norm_rounded_once(cols: int) -> None:
    """docs/QUANTIZATION.md: the int8 output differs from the float LayerNorm of the
    dequantized input, quantized to the output grid, by at most one step, where the real
    value lies within sqrt(C) |gamma| / s_out * 2^-16 of a rounding tie (the Q15
    normalised value's resolution); elsewhere it is equal."""
    rng = np.random.default_rng(cols)
    s_in, zp_in, s_out, zp_out = 0.05, -3, 0.04, 2
    x = rng.integers(-128, 128, (16, cols)).astype(np.int8)
    x[1] = 7  # constant row: the output is beta
    gamma = rng.uniform(0.2, 2.0, cols) * rng.choice([-1, 1], cols)
    beta = rng.uniform(-1.0, 1.0, cols)
    eps = 1e-5
    gq, bq, attrs = layer_norm_params(s_in, s_out, zp_out, gamma, beta, eps)
    got = ref.layer_norm(x, gq, bq, **attrs, act_min=-128, act_max=127).astype(np.int64)
    real = float_ops.layer_norm(s_in * (x.astype(np.float64) - zp_in), gamma, beta, epsilon=eps)
    want = np.clip(np.round(real / s_out) + zp_out, -128, 127)
    assert np.max(np.abs(got - want)) <= 1
    assert np.mean(got != want) < 0.01 + 2 * math.sqrt(cols) * np.max(np.abs(gamma)) / s_out * 2.0**-16
