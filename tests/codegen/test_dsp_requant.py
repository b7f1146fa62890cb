"""The DSP family's fast requantisation forms (``runtime_c/include/qc_fixedpoint.h``,
``qc_dsp_helpers.h``) are
used only where ``families/dsp.py`` says they are exact (``_fast_ok``, ``requant_table``).
Here the C expressions, modelled in exact integer arithmetic, are compared with TFLM's
``MultiplyByQuantizedMultiplier`` (``quant/fixedpoint.py``) over everything those
decisions admit: every shift, multipliers and accumulators drawn at random plus the
extremes. A decision that admitted an inexact case, or a form that drifted, fails here."""

from __future__ import annotations

import numpy as np
import pytest

from qcompile.codegen.families.layer_math import _fast_ok, acc_bound, requant_table
from qcompile.quant.fixedpoint import multiply_by_quantized_multiplier

I32_MIN, I32_MAX = -(2**31), 2**31 - 1


def _mbqm_fast(acc: np.ndarray, m: int, s: int) -> np.ndarray:
    """``qc_requantize_fast``: floor((acc*m + 2^30) / 2^31), then (qadd(x, 2^(-s-1)) - [x<0]) >> -s."""
    x = (acc.astype(object) * m + (1 << 30)) >> 31
    x = np.array([int(v) for v in x], dtype=np.int64)
    if s >= 0:
        return x
    q = np.clip(x + (1 << (-s - 1)), I32_MIN, I32_MAX)  # qc_qadd saturates
    return (q - (x < 0)) >> -s


def _mbqm2(acc2: np.ndarray, m: int, half: int, e: int) -> np.ndarray:
    """``qc_requantize_x2``: one SMLAL into {2^31, half}, minus 1 for a negative acc, >> e."""
    y = acc2.astype(object) * m + ((half << 32) | 0x80000000)
    hi = np.array([int(v) >> 32 for v in y], dtype=np.int64) + (acc2 >> 31)
    return hi >> e


def _accumulators(rng: np.random.Generator, bound: int, n: int = 3000) -> np.ndarray:
    edges = np.array([0, 1, -1, bound, -bound, bound - 1, -bound + 1], dtype=np.int64)
    return np.concatenate([edges, rng.integers(-bound, bound + 1, size=n, dtype=np.int64)])


def _multipliers(rng: np.random.Generator) -> list[int]:
    return [1 << 30, I32_MAX, (1 << 30) + 1, *rng.integers(1 << 30, 1 << 31, size=4).tolist()]


def _requant_fast(acc: np.ndarray, m: int, s: int, out_off: int) -> np.ndarray:
    """``qc_dsp_requant_fast``: the fast form, the output offset, the int8 clamp."""
    return np.clip(_mbqm_fast(acc, m, s) + out_off, -128, 127)


@pytest.mark.parametrize("shift", range(-31, 8))
def test_fast_form_is_exact_wherever_fast_ok_admits_it(shift: int) -> None:
    """Exact after the int8 clamp for every int32 accumulator (conv layers), and exact before it
    for ``|acc| < 2^30`` (the fused add epilogue's operands are below ``255 * 2^20``)."""
    rng = np.random.default_rng(shift + 100)
    acc = _accumulators(rng, I32_MAX)
    add_operands = _accumulators(rng, (1 << 30) - 1)
    for m in _multipliers(rng):
        if not _fast_ok(m, shift):
            continue
        for off in (-128, 0, 127):
            want = np.clip(multiply_by_quantized_multiplier(acc, m, shift) + off, -128, 127)
            np.testing.assert_array_equal(_requant_fast(acc, m, shift, off), want, err_msg=f"m={m} shift={shift}")
        want = multiply_by_quantized_multiplier(add_operands, m, shift)
        np.testing.assert_array_equal(_mbqm_fast(add_operands, m, shift), want, err_msg=f"m={m} shift={shift}")
    assert _fast_ok(1 << 30, shift) == (-22 <= shift <= 0)
    assert not _fast_ok(0, shift) and not _fast_ok(-(1 << 30), shift)


def test_fast_form_alone_is_not_exact_near_int32_max() -> None:
    """Why the clamp matters: ``qc_qadd`` saturates ``x + 2^(e-1)`` when ``x`` is within
    ``2^(e-1)`` of INT32_MAX, giving one below TFLM; that value is at least ``2^(31-e) - 1``,
    511 for ``e <= 22``, so after any output offset the int8 clamp gives 127 either way."""
    acc = np.array([I32_MAX], dtype=np.int64)
    assert _mbqm_fast(acc, I32_MAX, -22)[0] == 511
    assert multiply_by_quantized_multiplier(acc, I32_MAX, -22)[0] == 512
    assert _requant_fast(acc, I32_MAX, -22, -128)[0] == 127


@pytest.mark.parametrize("e", range(1, 32))
def test_doubled_accumulator_form_is_exact_wherever_requant_table_admits_it(e: int) -> None:
    rng = np.random.default_rng(e)
    bound = (1 << 30) - 1  # the largest |acc| requant_table accepts: 2 * bound < 2^31
    ms = np.array(_multipliers(rng), dtype=np.int64)
    table = requant_table(ms, np.full(ms.size, -e), bound)
    assert table is not None
    acc = _accumulators(rng, bound)
    for m, half, e2 in table.reshape(-1, 3).tolist():
        assert e2 == e and half == 1 << (e - 1)
        want = multiply_by_quantized_multiplier(acc, m, -e)
        np.testing.assert_array_equal(_mbqm2(2 * acc, m, half, e), want, err_msg=f"m={m} e={e}")


def test_requant_table_refuses_what_the_form_cannot_do() -> None:
    m = np.array([1 << 30])
    assert requant_table(m, np.array([-3]), 1 << 30) is None  # 2 * |acc| would reach 2^31
    assert requant_table(m, np.array([0]), 10) is None  # no right shift
    assert requant_table(m, np.array([1]), 10) is None  # a left shift
    assert requant_table(m, np.array([-32]), 10) is None
    assert requant_table(np.array([0]), np.array([-3]), 10) is None
    assert requant_table(np.array([1 << 30, -(1 << 30)]), np.array([-3, -3]), 10) is None


def test_acc_bound_bounds_every_accumulator() -> None:
    """The bound requant_table is given must cover every int8 input (checked at the extremes,
    where the largest accumulators are)."""
    rng = np.random.default_rng(3)
    w = rng.integers(-127, 128, size=(5, 7))
    bias = rng.integers(-1000, 1000, size=5)
    for off in (-127, 0, 17, 128):
        bound = acc_bound(w, bias, off)
        for row, b in zip(w, bias, strict=True):
            for sign in (1, -1):
                x = np.where(sign * row >= 0, 127, -128)  # the int8 input that maximises sign * acc
                assert abs(int(b) + int(np.sum((x + off) * row))) <= bound
        assert acc_bound(w, None, 0) == 128 * int(np.abs(w).sum(axis=1).max())
