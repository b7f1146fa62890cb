"""The fixed-point contract: numpy (qcompile.quant.fixedpoint) == C (qc_fixedpoint.h) == TFLite's definitions."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from qcompile.quant import fixedpoint as fp
from qcompile.resources import runtime_dir

INT32_MIN, INT32_MAX = fp.INT32_MIN, fp.INT32_MAX


def test_quantize_multiplier_known_values() -> None:
    assert fp.quantize_multiplier(0.5) == (1 << 30, 0)
    assert fp.quantize_multiplier(1.0) == (1 << 30, 1)
    assert fp.quantize_multiplier(0.25) == (1 << 30, -1)
    assert fp.quantize_multiplier(0.0) == (0, 0)
    # mantissa rounding up to 2^31 is renormalised
    m, s = fp.quantize_multiplier(1.0 - 2.0**-40)
    assert (m, s) == (1 << 30, 1)
    # tiny multipliers flush to zero like TFLite
    assert fp.quantize_multiplier(2.0**-40) == (0, 0)
    for real in np.geomspace(1e-6, 100.0, 50):
        m, s = fp.quantize_multiplier(float(real))
        assert (1 << 30) <= m < (1 << 31)
        assert abs(m * 2.0 ** (s - 31) - real) <= real * 2.0**-30


def test_srdhm_edges() -> None:
    assert fp.saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MIN) == INT32_MAX
    # 2^30 * 1 = 2^30: +0.5 rounds up for positives, the negative side is not symmetric (gemmlowp)
    assert fp.saturating_rounding_doubling_high_mul(1 << 30, 1) == 1
    assert fp.saturating_rounding_doubling_high_mul(-(1 << 30), 1) == 0


def test_rounding_divide_by_pot_ties_away_from_zero() -> None:
    x = np.array([5, -5, 6, -6, 7, -7, 0, -1, 1])
    assert fp.rounding_divide_by_pot(x, 1).tolist() == [3, -3, 3, -3, 4, -4, 0, -1, 1]


def _srdhm_spec(a: int, b: int) -> int:
    """gemmlowp's definition, in Python integers: nudge, then C's truncating division."""
    if a == b == INT32_MIN:
        return INT32_MAX
    num = a * b + ((1 << 30) if a * b >= 0 else 1 - (1 << 30))
    return abs(num) >> 31 if num >= 0 else -(abs(num) >> 31)


def _rdbpot_spec(x: int, e: int) -> int:
    mask = (1 << e) - 1
    return (x >> e) + int((x & mask) > (mask >> 1) + int(x < 0))


def test_fast_forms_equal_gemmlowp_on_edges() -> None:
    """The closed forms (floor((ab + 2^30) / 2^31) capped; floor((x + 2^(e-1) - [x<0]) / 2^e)) on
    extremes, every power of two and its neighbours, and exact ties of every exponent."""
    powers = [s * ((1 << p) + d) for p in range(31) for d in (-1, 0, 1) for s in (1, -1)]
    values = np.array(sorted({INT32_MIN, INT32_MAX, 0, *[v for v in powers if INT32_MIN <= v <= INT32_MAX]}))
    rng = np.random.default_rng(3)
    a = np.concatenate([np.repeat(values, len(values)), rng.integers(INT32_MIN, INT32_MAX, 20000, endpoint=True)])
    b = np.concatenate([np.tile(values, len(values)), rng.integers(INT32_MIN, INT32_MAX, 20000, endpoint=True)])
    want = [_srdhm_spec(int(x), int(y)) for x, y in zip(a, b, strict=True)]
    np.testing.assert_array_equal(fp.saturating_rounding_doubling_high_mul(a, b), want)
    e = np.arange(32)
    ties = np.concatenate([[s * ((2 * k + 1) << max(p - 1, 0)) for p in e for k in (0, 1, 5) for s in (1, -1)], a])
    ties = ties[(ties >= INT32_MIN) & (ties <= INT32_MAX)]
    for exponent in e:
        want = [_rdbpot_spec(int(x), int(exponent)) for x in ties]
        np.testing.assert_array_equal(fp.rounding_divide_by_pot(ties, exponent), want, err_msg=f"e={exponent}")
    per_element = rng.integers(0, 32, len(ties))
    want = [_rdbpot_spec(int(x), int(k)) for x, k in zip(ties, per_element, strict=True)]
    np.testing.assert_array_equal(fp.rounding_divide_by_pot(ties, per_element), want)


def test_multiply_by_quantized_multiplier_two_roundings() -> None:
    # multiplier 0.5 (2^30, shift 0) then >> 1: 3 -> srdhm(3, 2^30) = 2 (1.5 rounds up) -> rdbpot(2,1) = 1
    assert int(fp.multiply_by_quantized_multiplier(3, 1 << 30, -1)) == 1
    # single rounding of 3 * 0.25 = 0.75 would give 1 as well; 5 * 0.25 = 1.25 -> 1 both ways; 6 * 0.25 = 1.5 -> 2
    assert int(fp.multiply_by_quantized_multiplier(6, 1 << 30, -1)) == 2


_DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include "qc_fixedpoint.h"
int main(void) {
    long long a, b, c;
    while (scanf("%lld %lld %lld", &a, &b, &c) == 3) {
        printf("%d %d %d %d\n", qc_srdhm((int32_t)a, (int32_t)b), qc_rdbpot((int32_t)a, (int32_t)(c < 0 ? -c : c) % 32),
               qc_requantize((int32_t)a, (int32_t)b, (int32_t)c), qc_shl32((int32_t)a, (int32_t)(c < 0 ? -c : c) % 32));
    }
    return 0;
}
"""


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_c_header_matches_numpy(tmp_path: Path) -> None:
    src = tmp_path / "driver.c"
    src.write_text(_DRIVER)
    exe = tmp_path / "driver"
    subprocess.run(
        [
            "cc",
            "-std=c99",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-fsanitize=undefined",
            "-fno-sanitize-recover=all",
            f"-I{runtime_dir() / 'include'}",
            str(src),
            "-o",
            str(exe),
        ],
        check=True,
    )
    rng = np.random.default_rng(0)
    n = 20000
    a = rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True)
    b = rng.integers(1 << 30, 1 << 31, n)  # valid multipliers
    b[:200] = rng.integers(INT32_MIN, INT32_MAX, 200, endpoint=True)
    a[:50] = [INT32_MIN, INT32_MAX, 0, -1, 1] * 10
    a[50:150] = rng.integers(-(1 << 16), 1 << 16, 100)  # realistic accumulators, no left-shift overflow
    c = rng.integers(-31, 8, n)
    stdin = "\n".join(f"{x} {y} {z}" for x, y, z in zip(a, b, c, strict=True))
    out = subprocess.run([str(exe)], input=stdin, capture_output=True, text=True, check=True).stdout
    got = np.array([line.split() for line in out.strip().splitlines()], dtype=np.int64)
    e = np.abs(c) % 32
    np.testing.assert_array_equal(got[:, 0], fp.saturating_rounding_doubling_high_mul(a, b))
    np.testing.assert_array_equal(got[:, 1], fp.rounding_divide_by_pot(a, e))
    np.testing.assert_array_equal(got[:, 2], fp.multiply_by_quantized_multiplier(a, b, c))
    np.testing.assert_array_equal(got[:, 3], fp.wrap_int32(a << e))


def test_quantize_multiplier_refuses_left_shifts_above_31() -> None:
    """The C kernels shift a uint32 left by at most 31; a larger shift is undefined behaviour."""
    assert fp.quantize_multiplier(2.0**30)[1] == 31
    with pytest.raises(ValueError, match="left shift of 32"):
        fp.quantize_multiplier(2.0**31)


_FAST_DRIVER = r"""
#include <stdio.h>
#include "qc_fixedpoint.h"
int main(void) {
    long long acc, m, s, bias, off;
    while (scanf("%lld %lld %lld %lld %lld", &acc, &m, &s, &bias, &off) == 5) {
        const int32_t a = (int32_t)acc, mm = (int32_t)m, ss = (int32_t)s;
        /* fast form: m > 0, s in [-22, 0]; compared after the int8 clamp */
        const int32_t mf = mm > 0 ? mm : 1, sf = ss < -22 ? -22 : (ss > 0 ? 0 : ss);
        const int8_t fast = qc_clamp_s8(qc_requantize_fast(a, mf, sf) + (int32_t)off, -128, 127);
        /* doubled form: m > 0, e in [1, 31], |2 acc| < 2^31 */
        const int32_t e = ss < 0 ? -ss : 1, a2 = a / 2;
        const int32_t x2 = qc_requantize_x2(a2 * 2, mf, (int32_t)(1u << (e - 1)), e);
        int32_t row_acc[1] = {a};
        const int32_t b[1] = {(int32_t)bias}, mv[1] = {mm}, sv[1] = {ss};
        int8_t row_out[1];
        qc_requant_row(row_acc, b, mv, sv, 1, (int32_t)off, -128, 127, row_out);
        const qc_offset_clamp oc = qc_offset_clamp_make((int32_t)bias, -100, 90);
        printf("%d %d %d %d\n", fast, x2, row_out[0], qc_offset_clamp_apply(a, &oc));
    }
    return 0;
}
"""


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_fast_forms_match_numpy(tmp_path: Path) -> None:
    """Each fast form of qc_fixedpoint.h equals fixedpoint.py wherever its stated condition holds
    (docs/QUANTIZATION.md, "Fast forms"): qc_requantize_fast after the int8 clamp,
    qc_requantize_x2 on even accumulators, the row form with its wrapping bias and offset,
    and the exact offset clamp of ADD/MUL."""
    src = tmp_path / "fast.c"
    src.write_text(_FAST_DRIVER)
    exe = tmp_path / "fast"
    flags = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-fsanitize=undefined", "-fno-sanitize-recover=all"]
    subprocess.run(["cc", *flags, f"-I{runtime_dir() / 'include'}", str(src), "-o", str(exe)], check=True)
    rng = np.random.default_rng(1)
    n = 40000
    acc = rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True)
    acc[: n // 2] = rng.integers(-(1 << 20), 1 << 20, n // 2)  # realistic accumulators
    acc[:40] = [INT32_MIN, INT32_MAX, 0, -1, 1, 2, -2, 1 << 30] * 5
    m = rng.integers(1 << 30, 1 << 31, n)
    m[:300] = rng.integers(INT32_MIN, INT32_MAX, 300, endpoint=True)
    s = rng.integers(-31, 8, n)
    bias = rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True)
    bias[n // 2 :] = rng.integers(-(1 << 16), 1 << 16, n - n // 2)
    off = rng.integers(-128, 128, n)
    stdin = "\n".join(" ".join(map(str, r)) for r in zip(acc, m, s, bias, off, strict=True))
    out = subprocess.run([str(exe)], input=stdin, capture_output=True, text=True, check=True).stdout
    got = np.array([line.split() for line in out.strip().splitlines()], dtype=np.int64)
    mf, sf = np.where(m > 0, m, 1), np.clip(s, -22, 0)
    want_fast = np.clip(fp.multiply_by_quantized_multiplier(acc, mf, sf) + off, -128, 127)
    np.testing.assert_array_equal(got[:, 0], want_fast)
    e = np.where(s < 0, -s, 1)
    half = np.where(acc < 0, -(-acc // 2), acc // 2)  # C's a / 2, so that 2 * half fits in int32
    np.testing.assert_array_equal(got[:, 1], fp.multiply_by_quantized_multiplier(half, mf, -e))
    summed = fp.wrap_int32(acc + bias)
    want_row = np.clip(fp.wrap_int32(fp.multiply_by_quantized_multiplier(summed, m, s) + off), -128, 127)
    np.testing.assert_array_equal(got[:, 2], want_row)
    np.testing.assert_array_equal(got[:, 3], np.clip(acc + bias, -100, 90))
