/* qcompile runtime: helpers shared by the per-layer DSP kernels (<name>_kernels.c).
 *
 * The kernels themselves are rendered per layer (templates/kernels/dsp/), with every
 * shape and constant a literal; what they have in common lives here once, instead of
 * being rendered into every model under the model's prefix. The requantisation forms
 * they choose between are in qc_fixedpoint.h (the rounding contract); these wrappers add
 * the output offset and the clamp. The generator picks the form per layer
 * (codegen/families/dsp.py): qc_requantize_x2 when exact, else qc_dsp_requant_fast for
 * shifts in [-22, 0] with positive multipliers, else qc_dsp_requant_lt1 / qc_dsp_requant.
 */
#ifndef QC_DSP_HELPERS_H
#define QC_DSP_HELPERS_H

#include <stdint.h>

#include "qc_acle.h"
#include "qc_fixedpoint.h"
#include "qc_kernels.h"

/* gcc's first (pre register allocation) scheduling pass hoists every tap load and sign
 * extension of an unrolled kernel ahead of the multiplies and then spills them to the
 * stack; the kernels are written in a register-friendly order already, so that pass is
 * turned off for them. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__arm__)
#define QC_DSP_KERNEL __attribute__((optimize("no-schedule-insns")))
#else
#define QC_DSP_KERNEL
#endif

/* out = clamp(MBQM(acc, m, s) + out_off, lo, hi), all additions modulo 2^32 (the reference's wrap). */
static inline int8_t qc_dsp_requant(int32_t acc, int32_t m, int32_t s, int32_t out_off, int32_t lo, int32_t hi) {
    const int32_t v = qc_u32_to_s32((uint32_t)qc_requantize(acc, m, s) + (uint32_t)out_off);
    return qc_clamp_s8(v, lo, hi);
}

/* Shift never positive (every multiplier < 1): one rounding shift, no left shift. */
static inline int8_t qc_dsp_requant_lt1(int32_t acc, int32_t m, int32_t s, int32_t out_off, int32_t lo,
                                        int32_t hi) {
    const int32_t v = qc_u32_to_s32((uint32_t)qc_requantize_lt1(acc, m, s) + (uint32_t)out_off);
    return qc_clamp_s8(v, lo, hi);
}

/* qc_dsp_requant_lt1 through qc_requantize_fast: only for m > 0 and s in [-22, 0] (the
 * generator checks); the output offset is an int8 zero point, so the sum cannot wrap. */
static inline int8_t qc_dsp_requant_fast(int32_t acc, int32_t m, int32_t s, int32_t out_off, int32_t lo,
                                         int32_t hi) {
    return qc_clamp_s8(qc_requantize_fast(acc, m, s) + out_off, lo, hi);
}

#endif /* QC_DSP_HELPERS_H */
