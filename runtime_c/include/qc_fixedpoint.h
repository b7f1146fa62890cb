/* qcompile runtime: fixed-point primitives of the TFLite int8 spec.
 *
 * Every int8 kernel requantises through these functions, so they are the one place
 * where the rounding contract lives in C. They match toolchain/fixedpoint.py (the
 * numpy reference) bit for bit, which in turn matches TensorFlow Lite Micro.
 * Shift convention (TFLite's): shift > 0 is a left shift, shift < 0 a right shift.
 * No undefined behaviour: left shifts of signed values go through uint32_t.
 */
#ifndef QC_FIXEDPOINT_H
#define QC_FIXEDPOINT_H

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

/* x * 2^n in int32 with two's-complement wrap, as TFLM's `x * (1 << n)` behaves on gcc. */
QC_INLINE int32_t qc_shl32(int32_t x, int32_t n) {
    return (int32_t)((uint32_t)x << n);
}

/* round(a * b / 2^31), ties away from zero; INT32_MIN * INT32_MIN saturates. */
QC_INLINE int32_t qc_srdhm(int32_t a, int32_t b) {
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int64_t nudge = ab >= 0 ? (int64_t)(1 << 30) : (int64_t)(1 - (1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* x / 2^exponent, rounded to nearest, ties away from zero; exponent in [0, 31]. */
QC_INLINE int32_t qc_rdbpot(int32_t x, int32_t exponent) {
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* TFLM's MultiplyByQuantizedMultiplier (two roundings). */
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

#ifdef __cplusplus
}
#endif

#endif /* QC_FIXEDPOINT_H */
