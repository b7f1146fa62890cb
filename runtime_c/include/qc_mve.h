/* qcompile runtime: the Arm Helium (MVE) intrinsics the generated MVE kernels use.
 *
 * With __ARM_FEATURE_MVE (Cortex-M55/M85) this is <arm_mve.h>: every intrinsic is one
 * MVE instruction. Without it (the host build that `qcompile verify` and the tests use)
 * each intrinsic below is a portable C99 emulation written from the Armv8.1-M ARM
 * pseudo-code, so the very same kernel source runs on x86 and is checked against the
 * numpy reference there (and under ASan/UBSan); the QEMU tests check the real instructions
 * against the same reference. Only the intrinsics the kernels use are emulated.
 *
 * Emulated semantics (as the hardware): lane arithmetic wraps modulo 2^32 (VADD, VMUL,
 * VMLADAVA, VSHL left), VQRDMULH and VQADD saturate, VRSHL by -n rounds half up computed
 * without overflow, widening loads sign-extend, narrowing stores keep the low byte.
 * Predicates (mve_pred16_t) hold one bit per byte lane: an 8-bit lane i is active when
 * bit i is set, a 16-bit lane i when bit 2 * i is set, a 32-bit lane i when bit 4 * i is set; an inactive lane of a _z load is
 * zero and its memory is not read, an inactive lane of a _p store writes nothing.
 */
#ifndef QC_MVE_H
#define QC_MVE_H

#include <stdint.h>

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1) && !defined(QC_MVE_FORCE_EMULATION)
#define QC_MVE_NATIVE 1
#include <arm_mve.h>
#else
#define QC_MVE_NATIVE 0

#if defined(__GNUC__)
#define QC_MVE_INLINE static inline __attribute__((always_inline))
#else
#define QC_MVE_INLINE static inline
#endif

typedef struct {
    int8_t v[16];
} int8x16_t;

typedef struct {
    int16_t v[8];
} int16x8_t;

typedef struct {
    int32_t v[4];
} int32x4_t;

typedef uint16_t mve_pred16_t;

/* uint32 -> int32 two's complement without implementation-defined conversion. */
QC_MVE_INLINE int32_t qc_mve_s32(uint32_t u) {
    return u <= (uint32_t)INT32_MAX ? (int32_t)u : (int32_t)(u - 2147483648u) - INT32_MAX - 1;
}

/* floor(v / 2^n) for 0 <= n <= 62 without relying on >> of a negative value. */
QC_MVE_INLINE int64_t qc_mve_floor_shift(int64_t v, int n) {
    return v >= 0 ? v >> n : -((-(v + 1)) >> n) - 1;
}

QC_MVE_INLINE int32_t qc_mve_sat32(int64_t v) {
    return v > INT32_MAX ? INT32_MAX : (v < INT32_MIN ? INT32_MIN : (int32_t)v);
}

QC_MVE_INLINE mve_pred16_t vctp8q(uint32_t n) {
    return n >= 16 ? (mve_pred16_t)0xFFFFu : (mve_pred16_t)((1u << n) - 1u);
}

QC_MVE_INLINE mve_pred16_t vctp32q(uint32_t n) {
    return n >= 4 ? (mve_pred16_t)0xFFFFu : (mve_pred16_t)((1u << (4u * n)) - 1u);
}

QC_MVE_INLINE int8x16_t vldrbq_z_s8(const int8_t *p, mve_pred16_t pred) {
    int8x16_t r;
    int i;
    for (i = 0; i < 16; ++i) {
        r.v[i] = (pred >> i) & 1u ? p[i] : 0;
    }
    return r;
}

QC_MVE_INLINE int8x16_t vldrbq_s8(const int8_t *p) {
    return vldrbq_z_s8(p, 0xFFFFu);
}

QC_MVE_INLINE mve_pred16_t vctp16q(uint32_t n) {
    return n >= 8 ? (mve_pred16_t)0xFFFFu : (mve_pred16_t)((1u << (2u * n)) - 1u);
}

/* a 16-bit lane i is active when bit 2 * i is set */
QC_MVE_INLINE int16x8_t vldrhq_z_s16(const int16_t *p, mve_pred16_t pred) {
    int16x8_t r;
    int i;
    for (i = 0; i < 8; ++i) {
        r.v[i] = (pred >> (2 * i)) & 1u ? p[i] : 0;
    }
    return r;
}

QC_MVE_INLINE int16x8_t vldrhq_s16(const int16_t *p) {
    return vldrhq_z_s16(p, 0xFFFFu);
}

/* sum of a[i] * b[i] over the 8 int16 lanes, added to acc modulo 2^32 */
QC_MVE_INLINE int32_t vmladavaq_s16(int32_t acc, int16x8_t a, int16x8_t b) {
    uint32_t s = (uint32_t)acc;
    int i;
    for (i = 0; i < 8; ++i) {
        s += (uint32_t)((int32_t)a.v[i] * (int32_t)b.v[i]);
    }
    return qc_mve_s32(s);
}

QC_MVE_INLINE int32x4_t vldrbq_z_s32(const int8_t *p, mve_pred16_t pred) {
    int32x4_t r;
    int i;
    for (i = 0; i < 4; ++i) {
        r.v[i] = (pred >> (4 * i)) & 1u ? (int32_t)p[i] : 0;
    }
    return r;
}

QC_MVE_INLINE int32x4_t vldrbq_s32(const int8_t *p) {
    return vldrbq_z_s32(p, 0xFFFFu);
}

QC_MVE_INLINE int32x4_t vldrwq_s32(const int32_t *p) {
    int32x4_t r;
    int i;
    for (i = 0; i < 4; ++i) {
        r.v[i] = p[i];
    }
    return r;
}

QC_MVE_INLINE void vstrbq_p_s32(int8_t *p, int32x4_t a, mve_pred16_t pred) {
    int i;
    for (i = 0; i < 4; ++i) {
        if ((pred >> (4 * i)) & 1u) {
            const uint32_t low = (uint32_t)a.v[i] & 0xFFu;
            p[i] = (int8_t)(low >= 0x80u ? (int32_t)low - 256 : (int32_t)low);
        }
    }
}

QC_MVE_INLINE void vstrbq_s32(int8_t *p, int32x4_t a) {
    vstrbq_p_s32(p, a, 0xFFFFu);
}

QC_MVE_INLINE int32x4_t vdupq_n_s32(int32_t a) {
    int32x4_t r;
    int i;
    for (i = 0; i < 4; ++i) {
        r.v[i] = a;
    }
    return r;
}

QC_MVE_INLINE int32x4_t vsetq_lane_s32(int32_t a, int32x4_t v, int lane) {
    v.v[lane] = a;
    return v;
}

QC_MVE_INLINE int32_t vgetq_lane_s32(int32x4_t v, int lane) {
    return v.v[lane];
}

/* sum of a[i] * b[i] over the 16 lanes, added to acc modulo 2^32 */
QC_MVE_INLINE int32_t vmladavaq_s8(int32_t acc, int8x16_t a, int8x16_t b) {
    uint32_t s = (uint32_t)acc;
    int i;
    for (i = 0; i < 16; ++i) {
        s += (uint32_t)((int32_t)a.v[i] * (int32_t)b.v[i]);
    }
    return qc_mve_s32(s);
}

QC_MVE_INLINE int32x4_t vaddq_s32(int32x4_t a, int32x4_t b) {
    int i;
    for (i = 0; i < 4; ++i) {
        a.v[i] = qc_mve_s32((uint32_t)a.v[i] + (uint32_t)b.v[i]);
    }
    return a;
}

QC_MVE_INLINE int32x4_t vsubq_s32(int32x4_t a, int32x4_t b) {
    int i;
    for (i = 0; i < 4; ++i) {
        a.v[i] = qc_mve_s32((uint32_t)a.v[i] - (uint32_t)b.v[i]);
    }
    return a;
}

QC_MVE_INLINE int32x4_t vaddq_n_s32(int32x4_t a, int32_t b) {
    return vaddq_s32(a, vdupq_n_s32(b));
}

/* a * b per lane, modulo 2^32 (MVE has no vector-by-vector multiply-accumulate) */
QC_MVE_INLINE int32x4_t vmulq_s32(int32x4_t a, int32x4_t b) {
    int i;
    for (i = 0; i < 4; ++i) {
        a.v[i] = qc_mve_s32((uint32_t)((int64_t)a.v[i] * b.v[i]));
    }
    return a;
}

QC_MVE_INLINE int32x4_t vmaxq_s32(int32x4_t a, int32x4_t b) {
    int i;
    for (i = 0; i < 4; ++i) {
        a.v[i] = a.v[i] > b.v[i] ? a.v[i] : b.v[i];
    }
    return a;
}

QC_MVE_INLINE int32x4_t vminq_s32(int32x4_t a, int32x4_t b) {
    int i;
    for (i = 0; i < 4; ++i) {
        a.v[i] = a.v[i] < b.v[i] ? a.v[i] : b.v[i];
    }
    return a;
}

QC_MVE_INLINE int32x4_t vandq_s32(int32x4_t a, int32x4_t b) {
    int i;
    for (i = 0; i < 4; ++i) {
        a.v[i] = qc_mve_s32((uint32_t)a.v[i] & (uint32_t)b.v[i]);
    }
    return a;
}

/* arithmetic shift right by 1..32 */
QC_MVE_INLINE int32x4_t vshrq_n_s32(int32x4_t a, int n) {
    int i;
    for (i = 0; i < 4; ++i) {
        a.v[i] = (int32_t)qc_mve_floor_shift(a.v[i], n);
    }
    return a;
}

/* saturating a + b */
QC_MVE_INLINE int32x4_t vqaddq_s32(int32x4_t a, int32x4_t b) {
    int i;
    for (i = 0; i < 4; ++i) {
        a.v[i] = qc_mve_sat32((int64_t)a.v[i] + b.v[i]);
    }
    return a;
}

/* VQRDMULH: saturate((2 a b + 2^31) >> 32) = saturate(floor((a b + 2^30) / 2^31)) */
QC_MVE_INLINE int32x4_t vqrdmulhq_s32(int32x4_t a, int32x4_t b) {
    int i;
    for (i = 0; i < 4; ++i) {
        a.v[i] = qc_mve_sat32(qc_mve_floor_shift((int64_t)a.v[i] * b.v[i] + ((int64_t)1 << 30), 31));
    }
    return a;
}

/* lane shift by the signed amount s (|s| < 32): s >= 0 shifts left (wraps), s < 0 shifts right;
 * `rounding` adds 2^(-s-1) before a right shift (VRSHL), else truncates towards -inf (VSHL) */
QC_MVE_INLINE int32_t qc_mve_shl(int32_t x, int32_t s, int rounding) {
    if (s >= 0) {
        return qc_mve_s32((uint32_t)x << s);
    }
    return (int32_t)qc_mve_floor_shift((int64_t)x + (rounding ? ((int64_t)1 << (-s - 1)) : 0), -s);
}

QC_MVE_INLINE int32x4_t vshlq_s32(int32x4_t a, int32x4_t b) {
    int i;
    for (i = 0; i < 4; ++i) {
        a.v[i] = qc_mve_shl(a.v[i], b.v[i], 0);
    }
    return a;
}

QC_MVE_INLINE int32x4_t vrshlq_s32(int32x4_t a, int32x4_t b) {
    int i;
    for (i = 0; i < 4; ++i) {
        a.v[i] = qc_mve_shl(a.v[i], b.v[i], 1);
    }
    return a;
}

#endif /* QC_MVE_NATIVE */

#endif /* QC_MVE_H */
