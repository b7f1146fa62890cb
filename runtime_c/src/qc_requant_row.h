/* qcompile runtime (private): requantise a row of int32 accumulators to int8, vectorisable.
 *
 * Included by the conv-family kernels. qc_requantize (qc_fixedpoint.h) is written for
 * clarity: a branch on the sign for the SRDHM nudge and a 64-bit signed division. Per
 * output element that is ~40 instructions and the compiler cannot vectorise it, which
 * made requantisation a third of the conv kernels' time. This is the same arithmetic in
 * a branch-free form over arrays, so gcc/clang turn the loop into SIMD (vpmuldq /
 * vpsravd on AVX2, NEON on AArch64) and it stays plain C99 elsewhere.
 *
 * Why it is the same function (a = x << left, b = multiplier, ab = a * b exactly in int64):
 * - SRDHM: (ab + nudge) / 2^31 truncating, nudge = 2^30 for ab >= 0 and 1 - 2^30 below.
 *   For ab < 0, truncation of (ab + 1 - 2^30) / 2^31 equals floor((ab + 1 - 2^30 + 2^31 - 1) / 2^31)
 *   = floor((ab + 2^30) / 2^31); for ab >= 0 it is floor((ab + 2^30) / 2^31) directly. So
 *   SRDHM = floor((ab + 2^30) / 2^31), whose low 32 bits are bits 31..62 of ab + 2^30:
 *   a logical 64-bit shift and a truncation (no signed shifts, no division). The one
 *   input pair whose result does not fit, a = b = INT32_MIN, saturates to INT32_MAX as in
 *   gemmlowp; it is selected explicitly.
 * - RDBPOT: unchanged from qc_rdbpot (mask, remainder, threshold), already branch-free.
 * - Sums that TFLM does in int32 (bias + acc, result + output offset) wrap modulo 2^32
 *   through uint32_t, as the reference's wrap_int32.
 */
#ifndef QC_REQUANT_ROW_H
#define QC_REQUANT_ROW_H

#include <stddef.h>
#include <stdint.h>

#include "qc_fixedpoint.h"

/* uint32 -> int32 two's-complement reinterpretation without implementation-defined casts
 * (compiles to nothing). */
static inline int32_t qc_rq_s32(uint32_t u) {
    return u <= (uint32_t)INT32_MAX ? (int32_t)u : (int32_t)(u - 2147483648u) - INT32_MAX - 1;
}

/* SRDHM(x, m) branch-free (see above): floor((x * m + 2^30) / 2^31), INT32_MIN^2 saturated. */
static inline int32_t qc_rq_srdhm(int32_t x, int32_t m) {
    const int64_t ab = (int64_t)x * (int64_t)m;
    const uint32_t hi32 = (uint32_t)((uint64_t)(ab + ((int64_t)1 << 30)) >> 31);
    return (x == INT32_MIN && m == INT32_MIN) ? INT32_MAX : qc_rq_s32(hi32);
}

/* RDBPOT(h, right), right in [0, 31]: qc_rdbpot with the mask built in uint32. */
static inline int32_t qc_rq_rdbpot(int32_t h, int32_t right) {
    const int32_t mask = qc_rq_s32((1u << right) - 1u);
    const int32_t rem = h & mask;
    const int32_t threshold = (mask >> 1) + (h < 0 ? 1 : 0);
    return (h >> right) + (rem > threshold ? 1 : 0);
}

/* TFLM's MultiplyByQuantizedMultiplier(x, m, s), s in [-31, 31], branch-free. */
static inline int32_t qc_rq_mbqm(int32_t x, int32_t m, int32_t s) {
    const int32_t left = s > 0 ? s : 0;
    const int32_t right = s > 0 ? 0 : -s;
    return qc_rq_rdbpot(qc_rq_srdhm(qc_rq_s32((uint32_t)x << left), m), right);
}

/* One element: clamp(requantize(acc + bias, m, s) + out_off, lo, hi); acc + bias wraps.
 * Returned as int32 (already in [lo, hi]): keeping every lane 32 bits wide lets the
 * compiler use full-width vectors; narrowing to int8 is a separate pass. */
static inline int32_t qc_rq_one(int32_t acc, int32_t bias, int32_t m, int32_t s, int32_t out_off, int32_t lo,
                                int32_t hi) {
    const int32_t r = qc_rq_mbqm(qc_rq_s32((uint32_t)acc + (uint32_t)bias), m, s);
    const int32_t v = qc_rq_s32((uint32_t)r + (uint32_t)out_off);
    return v < lo ? lo : (v > hi ? hi : v);
}

/* clamp(o + off, lo, hi) with the sum taken exactly (no int32 wrap), as the reference
 * does for ADD and MUL, without 64-bit lanes in the loop: the bounds are moved onto o
 * once per row (clo = sat32(lo - off), chi = sat32(hi - off)). clamp(o, clo, chi) + off
 * cannot overflow int32 and equals clamp(o + off, lo, hi) except when a bound saturated
 * (|off| near 2^31), which the final clamp to [lo, hi] settles. */
typedef struct {
    int32_t clo, chi, off, lo, hi;
} qc_rq_offset_clamp;

static inline int32_t qc_rq_sat32(int64_t v) {
    return v < INT32_MIN ? INT32_MIN : (v > INT32_MAX ? INT32_MAX : (int32_t)v);
}

static inline qc_rq_offset_clamp qc_rq_offset_clamp_make(int32_t off, int32_t lo, int32_t hi) {
    qc_rq_offset_clamp c;
    c.clo = qc_rq_sat32((int64_t)lo - off);
    c.chi = qc_rq_sat32((int64_t)hi - off);
    c.off = off;
    c.lo = lo;
    c.hi = hi;
    return c;
}

static inline int32_t qc_rq_offset_clamp_apply(int32_t o, const qc_rq_offset_clamp *c) {
    const int32_t k = o < c->clo ? c->clo : (o > c->chi ? c->chi : o);
    const int32_t v = k + c->off; /* no overflow: see above */
    return v < c->lo ? c->lo : (v > c->hi ? c->hi : v);
}

/* out[c] = qc_rq_one(acc[c], bias[c] or 0, mult[c], shift[c], ...) for c < n. acc is
 * overwritten (it holds the int32 results between the two passes). Shifts must be in
 * [-31, 31] (the kernels check it once per call). */
static inline void qc_requant_row(int32_t *restrict acc, const int32_t *restrict bias,
                                  const int32_t *restrict mult, const int32_t *restrict shift, int32_t n,
                                  int32_t out_off, int32_t lo, int32_t hi, int8_t *restrict out) {
    if (bias != NULL) {
        for (int32_t c = 0; c < n; ++c) {
            acc[c] = qc_rq_one(acc[c], bias[c], mult[c], shift[c], out_off, lo, hi);
        }
    } else {
        for (int32_t c = 0; c < n; ++c) {
            acc[c] = qc_rq_one(acc[c], 0, mult[c], shift[c], out_off, lo, hi);
        }
    }
    for (int32_t c = 0; c < n; ++c) {
        out[c] = (int8_t)acc[c]; /* in [lo, hi] subset of [-128, 127]: exact */
    }
}

#endif /* QC_REQUANT_ROW_H */
