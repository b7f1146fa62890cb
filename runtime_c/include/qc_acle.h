/* qcompile runtime: the Arm DSP-extension intrinsics the generated DSP kernels use.
 *
 * With __ARM_FEATURE_DSP (Cortex-M4/M7/M33/M55 with DSP, any A-profile Armv7+) every
 * qc_* function maps to the ACLE intrinsic of <arm_acle.h> (one instruction). Without
 * it (the host build that `qcompile verify` and the tests use) each is a portable C99
 * emulation written from the Armv7-M ARM pseudo-code, bit for bit, so the very same
 * kernel source runs on x86 and is checked against the numpy reference there.
 *
 * Packed operands are uint32_t: two int16 lanes (bits 15:0 = bottom, 31:16 = top) or
 * four int8 lanes (byte 0 = bits 7:0). Scalars are int32_t. Results that the hardware
 * produces modulo 2^32 (SMLAD, SMLADX, SMLABB, ...) wrap the same way here (the Q flag
 * is not modelled: nothing reads it). No undefined behaviour: wrap-around goes through
 * uint32_t and uint32 -> int32 reinterpretation through qc_acle_s32.
 * Memory access helpers (qc_read_s8x4, ...) use memcpy so unaligned addresses are
 * fine; on Cortex-M the compiler turns them into single LDR/STR (unaligned LDR/STR are
 * legal there; LDRD/LDM are not, which is why nothing here asks for them).
 * Byte order: little-endian (all Cortex-M and x86 targets qcompile supports).
 */
#ifndef QC_ACLE_H
#define QC_ACLE_H

#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define QC_ACLE_INLINE static inline __attribute__((always_inline))
#else
#define QC_ACLE_INLINE static inline
#endif

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && !defined(QC_ACLE_FORCE_EMULATION)
#define QC_ACLE_NATIVE 1
#include <arm_acle.h>
#else
#define QC_ACLE_NATIVE 0
#endif

/* ---- reinterpretation and memory ------------------------------------------------------ */

/* uint32 -> int32 two's complement without implementation-defined conversion. */
QC_ACLE_INLINE int32_t qc_acle_s32(uint32_t u) {
    return u <= (uint32_t)INT32_MAX ? (int32_t)u : (int32_t)(u - 2147483648u) - INT32_MAX - 1;
}

/* Four int8 values at p (any alignment) as one word, byte 0 = p[0]. */
QC_ACLE_INLINE uint32_t qc_read_s8x4(const int8_t *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Two int16 values at p (any alignment) as one word, bottom lane = p[0]. */
QC_ACLE_INLINE uint32_t qc_read_s16x2(const int16_t *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

QC_ACLE_INLINE void qc_write_s16x2(int16_t *p, uint32_t v) {
    memcpy(p, &v, sizeof v);
}

QC_ACLE_INLINE void qc_write_s8x4(int8_t *p, uint32_t v) {
    memcpy(p, &v, sizeof v);
}

/* qc_ldrd_inc(p, lo, hi): the two words at p (p 4-byte aligned) into uint32_t lo and hi, then
 * p advanced by 8 bytes (p is a pointer variable to 1-, 2- or 4-byte elements). On Arm one
 * LDRD with post-increment: gcc 12 never pairs two LDRs into an LDRD for Cortex-M, and the
 * kernels' inner loops are load bound. LDRD needs word alignment (an unaligned address
 * faults), so it is only used on buffers the generator aligns: int32_t const arrays and the
 * arena scratch (arena alignment >= 4). The "m" operand tells the compiler which memory the
 * asm reads, so stores to it are never moved past the load. */
#if QC_ACLE_NATIVE && defined(__GNUC__)
#define qc_ldrd_inc(p, lo, hi)                                                       \
    __asm__("ldrd %0, %1, [%2], #8"                                                  \
            : "=r"(lo), "=r"(hi), "+r"(p)                                            \
            : "m"(*(const uint32_t(*)[2])(const void *)(p)))
#else
#define qc_ldrd_inc(p, lo, hi)                                  \
    do {                                                        \
        memcpy(&(lo), (const void *)(p), 4);                    \
        memcpy(&(hi), (const unsigned char *)(p) + 4, 4);       \
        (p) += 8 / sizeof *(p);                                 \
    } while (0)
#endif

/* qc_keep_base(p): an empty asm (no instruction) that makes pointer variable p opaque to the
 * compiler, so an unrolled loop keeps its loads at immediate offsets from one base register
 * instead of one induction variable per offset (which gcc then spills to the stack). */
#if defined(__GNUC__)
#define qc_keep_base(p) __asm__("" : "+r"(p))
#else
#define qc_keep_base(p) ((void)0)
#endif

/* ---- lane helpers (emulation) --------------------------------------------------------- */

/* Signed value of the 16-bit lane starting at bit `pos` (0 or 16). */
QC_ACLE_INLINE int32_t qc_acle_lane16(uint32_t x, unsigned pos) {
    const int32_t v = (int32_t)((x >> pos) & 0xFFFFu);
    return v >= 0x8000 ? v - 0x10000 : v;
}

/* Signed value of byte `i` (0..3). */
QC_ACLE_INLINE int32_t qc_acle_byte(uint32_t x, unsigned i) {
    const int32_t v = (int32_t)((x >> (8u * i)) & 0xFFu);
    return v >= 0x80 ? v - 0x100 : v;
}

/* Two lanes (taken modulo 2^16) packed into one word. */
QC_ACLE_INLINE uint32_t qc_acle_pack16(int32_t bottom, int32_t top) {
    return ((uint32_t)bottom & 0xFFFFu) | (((uint32_t)top & 0xFFFFu) << 16);
}

/* ---- rotate ----------------------------------------------------------------------------- */

/* ROR: x rotated right by n (n taken modulo 32), as ACLE __ror. */
QC_ACLE_INLINE uint32_t qc_ror(uint32_t x, uint32_t n) {
    n &= 31u;
    return n == 0u ? x : (x >> n) | (x << (32u - n));
}

/* ---- sign extension --------------------------------------------------------------------- */

#if QC_ACLE_NATIVE
/* SXTB16: bytes 0 and 2 sign-extended into the two 16-bit lanes. */
QC_ACLE_INLINE uint32_t qc_sxtb16(uint32_t x) {
    return (uint32_t)__sxtb16((int8x4_t)x);
}
/* SXTB16 ..., ROR #8: bytes 1 and 3. gcc 12 does not fold a separate rotate into the
 * instruction's own rotation field, so spell it out (one instruction instead of two). */
QC_ACLE_INLINE uint32_t qc_sxtb16_ror8(uint32_t x) {
#if defined(__GNUC__)
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
#else
    return (uint32_t)__sxtb16((int8x4_t)qc_ror(x, 8u));
#endif
}
/* SXTAB16: a's lanes plus the sign-extended bytes 0 and 2 of x, each lane modulo 2^16. */
QC_ACLE_INLINE uint32_t qc_sxtab16(uint32_t a, uint32_t x) {
    return (uint32_t)__sxtab16((int16x2_t)a, (int8x4_t)x);
}
#else
QC_ACLE_INLINE uint32_t qc_sxtb16(uint32_t x) {
    return qc_acle_pack16(qc_acle_byte(x, 0), qc_acle_byte(x, 2));
}
QC_ACLE_INLINE uint32_t qc_sxtb16_ror8(uint32_t x) {
    return qc_sxtb16(qc_ror(x, 8u));
}
QC_ACLE_INLINE uint32_t qc_sxtab16(uint32_t a, uint32_t x) {
    return qc_acle_pack16(qc_acle_lane16(a, 0) + qc_acle_byte(x, 0), qc_acle_lane16(a, 16) + qc_acle_byte(x, 2));
}
#endif

/* ---- dual 16-bit multiply-accumulate ----------------------------------------------------- */

#if QC_ACLE_NATIVE
/* SMLAD: acc + x.b * y.b + x.t * y.t, modulo 2^32. */
QC_ACLE_INLINE int32_t qc_smlad(uint32_t x, uint32_t y, int32_t acc) {
    return __smlad((int16x2_t)x, (int16x2_t)y, acc);
}
/* SMLADX: acc + x.b * y.t + x.t * y.b, modulo 2^32. */
QC_ACLE_INLINE int32_t qc_smladx(uint32_t x, uint32_t y, int32_t acc) {
    return __smladx((int16x2_t)x, (int16x2_t)y, acc);
}
/* SMUAD: x.b * y.b + x.t * y.t, modulo 2^32. */
QC_ACLE_INLINE int32_t qc_smuad(uint32_t x, uint32_t y) {
    return __smuad((int16x2_t)x, (int16x2_t)y);
}
/* SMLABB / SMLATT: acc + one lane product, modulo 2^32. */
QC_ACLE_INLINE int32_t qc_smlabb(uint32_t x, uint32_t y, int32_t acc) {
    return __smlabb((int32_t)x, (int32_t)y, acc);
}
QC_ACLE_INLINE int32_t qc_smlatt(uint32_t x, uint32_t y, int32_t acc) {
    return __smlatt((int32_t)x, (int32_t)y, acc);
}
/* QADD / QSUB: saturating int32 add / subtract. */
QC_ACLE_INLINE int32_t qc_qadd(int32_t a, int32_t b) {
    return __qadd(a, b);
}
QC_ACLE_INLINE int32_t qc_qsub(int32_t a, int32_t b) {
    return __qsub(a, b);
}
#else
QC_ACLE_INLINE int32_t qc_smlad(uint32_t x, uint32_t y, int32_t acc) {
    const int32_t p1 = qc_acle_lane16(x, 0) * qc_acle_lane16(y, 0);
    const int32_t p2 = qc_acle_lane16(x, 16) * qc_acle_lane16(y, 16);
    return qc_acle_s32((uint32_t)acc + (uint32_t)p1 + (uint32_t)p2);
}
QC_ACLE_INLINE int32_t qc_smladx(uint32_t x, uint32_t y, int32_t acc) {
    const int32_t p1 = qc_acle_lane16(x, 0) * qc_acle_lane16(y, 16);
    const int32_t p2 = qc_acle_lane16(x, 16) * qc_acle_lane16(y, 0);
    return qc_acle_s32((uint32_t)acc + (uint32_t)p1 + (uint32_t)p2);
}
QC_ACLE_INLINE int32_t qc_smuad(uint32_t x, uint32_t y) {
    return qc_smlad(x, y, 0);
}
QC_ACLE_INLINE int32_t qc_smlabb(uint32_t x, uint32_t y, int32_t acc) {
    const int32_t p = qc_acle_lane16(x, 0) * qc_acle_lane16(y, 0);
    return qc_acle_s32((uint32_t)acc + (uint32_t)p);
}
QC_ACLE_INLINE int32_t qc_smlatt(uint32_t x, uint32_t y, int32_t acc) {
    const int32_t p = qc_acle_lane16(x, 16) * qc_acle_lane16(y, 16);
    return qc_acle_s32((uint32_t)acc + (uint32_t)p);
}
QC_ACLE_INLINE int32_t qc_qadd(int32_t a, int32_t b) {
    const int64_t s = (int64_t)a + (int64_t)b;
    return s > INT32_MAX ? INT32_MAX : (s < INT32_MIN ? INT32_MIN : (int32_t)s);
}
QC_ACLE_INLINE int32_t qc_qsub(int32_t a, int32_t b) {
    const int64_t s = (int64_t)a - (int64_t)b;
    return s > INT32_MAX ? INT32_MAX : (s < INT32_MIN ? INT32_MIN : (int32_t)s);
}
#endif

/* SMULBB: x.b * y.b (never overflows). */
QC_ACLE_INLINE int32_t qc_smulbb(uint32_t x, uint32_t y) {
    return qc_smlabb(x, y, 0);
}

/* ---- packing ------------------------------------------------------------------------------ */

/* PKHBT: bottom lane from a, top lane from (b << sh); sh constant in [0, 31]. Plain C that
 * gcc/clang match to one PKHBT on Arm (ACLE has no intrinsic for it). */
#define qc_pkhbt(a, b, sh) (((uint32_t)(a) & 0xFFFFu) | (((uint32_t)(b) << (sh)) & 0xFFFF0000u))
/* PKHTB: top lane from a, bottom lane from (b >> sh) arithmetic; sh constant in [1, 31]
 * (the arithmetic shift of the low half only matters through its low 16 bits, which a
 * logical shift gives identically for sh <= 16, the only use here). */
#define qc_pkhtb(a, b, sh) (((uint32_t)(a) & 0xFFFF0000u) | (((uint32_t)(b) >> (sh)) & 0xFFFFu))

/* ---- saturation ---------------------------------------------------------------------------- */

#if QC_ACLE_NATIVE
/* SSAT: x saturated to a signed n-bit range (n a constant in [1, 32]). */
#define qc_ssat(x, n) __ssat((x), (n))
/* USAT: x saturated to [0, 2^n - 1] (n a constant in [0, 31]). */
#define qc_usat(x, n) ((int32_t)__usat((x), (n)))
#else
QC_ACLE_INLINE int32_t qc_acle_ssat(int32_t x, unsigned n) {
    const int64_t hi = ((int64_t)1 << (n - 1u)) - 1;
    const int64_t lo = -((int64_t)1 << (n - 1u));
    return x > hi ? (int32_t)hi : (x < lo ? (int32_t)lo : x);
}
QC_ACLE_INLINE int32_t qc_acle_usat(int32_t x, unsigned n) {
    const int64_t hi = ((int64_t)1 << n) - 1;
    return x > hi ? (int32_t)hi : (x < 0 ? 0 : x);
}
#define qc_ssat(x, n) qc_acle_ssat((x), (n))
#define qc_usat(x, n) qc_acle_usat((x), (n))
#endif

#ifdef __cplusplus
}
#endif

#endif /* QC_ACLE_H */
