/* qcompile runtime: the rounding contract of the TFLite int8 spec, in one header.
 *
 * Every int8 kernel (portable and DSP) requantises through the functions here, so this
 * is the one place where the rounding lives in C. They match toolchain/qcompile/quant/
 * fixedpoint.py (the numpy reference) bit for bit, which in turn matches TensorFlow Lite
 * Micro. Shift convention (TFLite's): shift > 0 is a left shift, shift < 0 a right shift.
 * No undefined behaviour: left shifts of signed values go through uint32_t, and
 * uint32 -> int32 through qc_u32_to_s32.
 *
 * The general forms are written branch-free, so that the row form (qc_requant_row) is
 * vectorised by gcc/clang (vpmuldq / vpsravd on AVX2, NEON on AArch64) and stays plain
 * C99 elsewhere. Faster forms that are exact only under conditions (qc_requantize_fast,
 * qc_requantize_x2) state those conditions; docs/QUANTIZATION.md lists each form, and
 * tests/quant/test_fixedpoint.py checks every one against fixedpoint.py.
 */
#ifndef QC_FIXEDPOINT_H
#define QC_FIXEDPOINT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define QC_INLINE static inline __attribute__((always_inline))
#else
#define QC_INLINE static inline
#endif

#define QC_MAX(a, b) ((a) > (b) ? (a) : (b))
#define QC_MIN(a, b) ((a) < (b) ? (a) : (b))

/* uint32 -> int32 two's-complement reinterpretation without implementation-defined casts
 * (compiles to nothing). Sums that TFLM does in int32 (bias + acc, result + output offset)
 * wrap modulo 2^32 through uint32_t and come back through here, as the reference's wrap_int32. */
QC_INLINE int32_t qc_u32_to_s32(uint32_t u) {
    return u <= (uint32_t)INT32_MAX ? (int32_t)u : (int32_t)(u - 2147483648u) - INT32_MAX - 1;
}

/* x * 2^n in int32 with two's-complement wrap, as TFLM's `x * (1 << n)` behaves on gcc. */
QC_INLINE int32_t qc_shl32(int32_t x, int32_t n) {
    return qc_u32_to_s32((uint32_t)x << n);
}

/* SaturatingRoundingDoublingHighMul: round(a * b / 2^31), ties away from zero;
 * INT32_MIN * INT32_MIN saturates to INT32_MAX (gemmlowp).
 * Branch-free: with ab = a * b exact in int64, gemmlowp's (ab + nudge) / 2^31 truncating,
 * nudge = 2^30 for ab >= 0 and 1 - 2^30 below, equals floor((ab + 2^30) / 2^31) in both
 * cases (for ab < 0, truncating (ab + 1 - 2^30) / 2^31 is floor((ab + 1 - 2^30 + 2^31 - 1)
 * / 2^31)). Its low 32 bits are bits 31..62 of ab + 2^30: a logical shift, no division. */
QC_INLINE int32_t qc_srdhm(int32_t a, int32_t b) {
    const int64_t ab = (int64_t)a * (int64_t)b;
    const uint32_t hi32 = (uint32_t)((uint64_t)(ab + ((int64_t)1 << 30)) >> 31);
    return (a == INT32_MIN && b == INT32_MIN) ? INT32_MAX : qc_u32_to_s32(hi32);
}

/* RoundingDivideByPOT: x / 2^exponent, rounded to nearest, ties away from zero;
 * exponent in [0, 31]. */
QC_INLINE int32_t qc_rdbpot(int32_t x, int32_t exponent) {
    const int32_t mask = qc_u32_to_s32((1u << exponent) - 1u);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* TFLM's MultiplyByQuantizedMultiplier (two roundings), shift in [-31, 31]. */
QC_INLINE int32_t qc_requantize(int32_t x, int32_t multiplier, int32_t shift) {
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    return qc_rdbpot(qc_srdhm(qc_shl32(x, left), multiplier), right);
}

/* TFLite's MultiplyByQuantizedMultiplierSmallerThanOneExp (left_shift <= 0). */
QC_INLINE int32_t qc_requantize_lt1(int32_t x, int32_t multiplier, int32_t left_shift) {
    return qc_rdbpot(qc_srdhm(x, multiplier), -left_shift);
}

/* TFLite's MultiplyByQuantizedMultiplierGreaterThanOne (left_shift >= 0). */
QC_INLINE int32_t qc_requantize_gt1(int32_t x, int32_t multiplier, int32_t left_shift) {
    return qc_srdhm(qc_shl32(x, left_shift), multiplier);
}

QC_INLINE int8_t qc_clamp_s8(int32_t x, int32_t lo, int32_t hi) {
    return (int8_t)(x < lo ? lo : (x > hi ? hi : x));
}

/* ---- fast forms, exact under stated conditions ------------------------------------------- */

/* Saturating int32 addition: QADD on a core with the DSP extension, portable elsewhere. */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && !defined(QC_ACLE_FORCE_EMULATION)
#include <arm_acle.h>
QC_INLINE int32_t qc_sat_add32(int32_t a, int32_t b) {
    return __qadd(a, b);
}
#else
QC_INLINE int32_t qc_sat_add32(int32_t a, int32_t b) {
    const int64_t v = (int64_t)a + b;
    return v < INT32_MIN ? INT32_MIN : (v > INT32_MAX ? INT32_MAX : (int32_t)v);
}
#endif

/* qc_requantize(x, m, s) for m > 0 and s in [-22, 0] (the DSP generator checks both), in
 * fewer instructions: SRDHM(x, m) = floor((x * m + 2^30) / 2^31) for m > 0 (one SMLAL), and
 * the rounding right shift by e = -s equals (y + 2^(e-1) - [y < 0]) >> e. The sum saturates
 * (QADD), which changes only results >= 2^(31-e) - 1 >= 511: values that every int8 output
 * clamps to act_max either way, so the result is exact once clamped to int8. */
QC_INLINE int32_t qc_requantize_fast(int32_t x, int32_t m, int32_t s) {
    const int32_t y = (int32_t)(((int64_t)x * m + ((int64_t)1 << 30)) >> 31);
    if (s < 0) {
        return (qc_sat_add32(y, (int32_t)(1u << (uint32_t)(-s - 1))) - (y < 0 ? 1 : 0)) >> -s;
    }
    return y;
}

/* qc_requantize(acc, m, -e) from acc2 = 2 * acc, for m > 0 and e in [1, 31]; half = 2^(e-1).
 * Exact when 2 * acc does not overflow (the DSP generator checks |2 * acc| < 2^31 for every
 * int8 input: bias + 255 * sum|w|). Why: SRDHM(acc, m) = y = floor((acc m + 2^30) / 2^31) for
 * m > 0, and the rounding shift is floor((y + 2^(e-1) - [y < 0]) / 2^e) exactly; nesting the
 * floors gives floor((2 acc m + 2^31 + 2^(e-1) 2^32 - [y < 0] 2^32) / 2^(32 + e)), and [y < 0]
 * may be replaced by [acc < 0] (they differ only when y = 0, where both give 0 for e >= 1).
 * So: one SMLAL into {lo = 2^31, hi = 2^(e-1)}, subtract 1 from hi when acc < 0, shift hi
 * right by e. No 64-bit overflow: |acc2 * m| < 2^62. */
QC_INLINE int32_t qc_requantize_x2(int32_t acc2, int32_t m, int32_t half, int32_t e) {
    const int64_t y = (int64_t)acc2 * m + (int64_t)(((uint64_t)(uint32_t)half << 32) | 0x80000000u);
    const int32_t hi = (int32_t)(y >> 32) - (acc2 < 0 ? 1 : 0);
    return hi >> e;
}

/* ---- the row form: a row of accumulators to int8, vectorisable ----------------------------- */

/* One element: clamp(requantize(acc + bias, m, s) + out_off, lo, hi); acc + bias wraps.
 * Returned as int32 (already in [lo, hi]): keeping every lane 32 bits wide lets the
 * compiler use full-width vectors; narrowing to int8 is a separate pass. */
QC_INLINE int32_t qc_requant_one(int32_t acc, int32_t bias, int32_t m, int32_t s, int32_t out_off, int32_t lo,
                                 int32_t hi) {
    const int32_t r = qc_requantize(qc_u32_to_s32((uint32_t)acc + (uint32_t)bias), m, s);
    const int32_t v = qc_u32_to_s32((uint32_t)r + (uint32_t)out_off);
    return v < lo ? lo : (v > hi ? hi : v);
}

/* clamp(o + off, lo, hi) with the sum taken exactly (no int32 wrap), as the reference
 * does for ADD and MUL, without 64-bit lanes in the loop: the bounds are moved onto o
 * once per row (clo = sat32(lo - off), chi = sat32(hi - off)). clamp(o, clo, chi) + off
 * cannot overflow int32 and equals clamp(o + off, lo, hi) except when a bound saturated
 * (|off| near 2^31), which the final clamp to [lo, hi] settles. */
typedef struct {
    int32_t clo, chi, off, lo, hi;
} qc_offset_clamp;

QC_INLINE int32_t qc_sat32(int64_t v) {
    return v < INT32_MIN ? INT32_MIN : (v > INT32_MAX ? INT32_MAX : (int32_t)v);
}

QC_INLINE qc_offset_clamp qc_offset_clamp_make(int32_t off, int32_t lo, int32_t hi) {
    qc_offset_clamp c;
    c.clo = qc_sat32((int64_t)lo - off);
    c.chi = qc_sat32((int64_t)hi - off);
    c.off = off;
    c.lo = lo;
    c.hi = hi;
    return c;
}

QC_INLINE int32_t qc_offset_clamp_apply(int32_t o, const qc_offset_clamp *c) {
    const int32_t k = o < c->clo ? c->clo : (o > c->chi ? c->chi : o);
    const int32_t v = k + c->off; /* no overflow: see above */
    return v < c->lo ? c->lo : (v > c->hi ? c->hi : v);
}

/* out[c] = qc_requant_one(acc[c], bias[c] or 0, mult[c], shift[c], ...) for c < n. acc is
 * overwritten (it holds the int32 results between the two passes). Shifts must be in
 * [-31, 31] (the kernels check it once per call). */
static inline void qc_requant_row(int32_t *restrict acc, const int32_t *restrict bias, const int32_t *restrict mult,
                                  const int32_t *restrict shift, int32_t n, int32_t out_off, int32_t lo, int32_t hi,
                                  int8_t *restrict out) {
    if (bias != NULL) {
        for (int32_t c = 0; c < n; ++c) {
            acc[c] = qc_requant_one(acc[c], bias[c], mult[c], shift[c], out_off, lo, hi);
        }
    } else {
        for (int32_t c = 0; c < n; ++c) {
            acc[c] = qc_requant_one(acc[c], 0, mult[c], shift[c], out_off, lo, hi);
        }
    }
    for (int32_t c = 0; c < n; ++c) {
        out[c] = (int8_t)acc[c]; /* in [lo, hi] subset of [-128, 127]: exact */
    }
}

#ifdef __cplusplus
}
#endif

#endif /* QC_FIXEDPOINT_H */
