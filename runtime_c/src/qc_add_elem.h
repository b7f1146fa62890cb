/* Private to the runtime: TFLM's int8 ADD/SUB arithmetic over a contiguous row, the one
 * implementation behind qc_add_s8 (qc_add.c, standalone and broadcasting) and the
 * epilogue of qc_conv2d_add_s8 (qc_conv2d_add.c). docs/QUANTIZATION.md, "add":
 *
 *     a = RDBPOT(SRDHM((x1 + input1_offset) << left_shift, input1_multiplier), -input1_shift)
 *     b = the same for x2 with the input2_* parameters
 *     out = clamp(RDBPOT(SRDHM(a +- b, output_multiplier), -output_shift) + output_offset)
 *
 * Why a row form: per element this is three requantisations. Written with branches (the
 * SRDHM nudge, a 64-bit division) it was ~100 instructions per output and a third of
 * ResNet-8's instructions (the residual adds). Here every step is qc_fixedpoint.h's
 * branch-free arithmetic on int32 lanes, so gcc/clang vectorise the row (AVX2, NEON).
 *
 * The output offset is added exactly (no wrap), as in the reference: qc_offset_clamp.
 *
 * Aliasing: out may be exactly in1 or in2 (in place, as the planner arranges) but must not
 * overlap them otherwise. Each chunk is computed into a local int32 array before it is
 * narrowed into out, so the compiler needs no run-time alias checks to vectorise.
 */
#ifndef QC_ADD_ELEM_H
#define QC_ADD_ELEM_H

#include "qc_kernels.h"
#include "qc_fixedpoint.h"

/* Elements per chunk: the local buffer is QC_ADD_CHUNK int32 on the stack. */
#define QC_ADD_CHUNK 32

/* Nonzero when the scalar fields of `p` are in the ranges the arithmetic below supports
 * (shapes and strides are not looked at). */
static inline int qc_add_elem_params_ok(const qc_add_params *p) {
    if (p->left_shift < 0 || p->left_shift > 23) {
        return 0;
    }
    if (p->input1_shift > 0 || p->input1_shift < -31 || p->input2_shift > 0 || p->input2_shift < -31 ||
        p->output_shift > 0 || p->output_shift < -31) {
        return 0;
    }
    if (p->input1_offset < -255 || p->input1_offset > 255 || p->input2_offset < -255 || p->input2_offset > 255) {
        return 0;
    }
    return p->act_min <= p->act_max && p->act_min >= -128 && p->act_max <= 127;
}

/* x -> RDBPOT(SRDHM((x + off) << ls, m), r) for one input. */
static inline int32_t qc_add_rescale(int32_t x, int32_t off, int32_t ls, int32_t m, int32_t r) {
    return qc_rdbpot(qc_srdhm(qc_u32_to_s32((uint32_t)(x + off) << ls), m), r);
}

/* One chunk (n <= QC_ADD_CHUNK); `sub` is a constant at each call site, so the branch on
 * it is resolved at compile time. */
QC_INLINE void qc_add_chunk(const qc_add_params *p, const int8_t *in1, const int8_t *in2, int32_t n, int8_t *out,
                            int sub, const qc_offset_clamp *oc) {
    int32_t t[QC_ADD_CHUNK];
    const int32_t o1 = p->input1_offset, o2 = p->input2_offset, ls = p->left_shift;
    const int32_t m1 = p->input1_multiplier, r1 = -p->input1_shift;
    const int32_t m2 = p->input2_multiplier, r2 = -p->input2_shift;
    const int32_t mo = p->output_multiplier, ro = -p->output_shift;
    for (int32_t i = 0; i < n; ++i) {
        const uint32_t a = (uint32_t)qc_add_rescale(in1[i], o1, ls, m1, r1);
        const uint32_t b = (uint32_t)qc_add_rescale(in2[i], o2, ls, m2, r2);
        const int32_t raw = qc_u32_to_s32(sub ? a - b : a + b); /* TFLM's int32 sum, wrapping */
        const int32_t o = qc_rdbpot(qc_srdhm(raw, mo), ro);
        t[i] = qc_offset_clamp_apply(o, oc);
    }
    for (int32_t i = 0; i < n; ++i) {
        out[i] = (int8_t)t[i]; /* in [lo, hi], a subset of [-128, 127]: exact */
    }
}

/* out[i] = ADD/SUB(in1[i], in2[i]) for i < n; p must pass qc_add_elem_params_ok. */
static inline void qc_add_row_s8(const qc_add_params *p, const int8_t *in1, const int8_t *in2, size_t n,
                                 int8_t *out) {
    const qc_offset_clamp oc = qc_offset_clamp_make(p->output_offset, p->act_min, p->act_max);
    size_t i = 0;
    if (p->subtract) {
        for (; i < n; i += QC_ADD_CHUNK) {
            const int32_t len = (int32_t)(n - i < QC_ADD_CHUNK ? n - i : QC_ADD_CHUNK);
            qc_add_chunk(p, in1 + i, in2 + i, len, out + i, 1, &oc);
        }
    } else {
        for (; i < n; i += QC_ADD_CHUNK) {
            const int32_t len = (int32_t)(n - i < QC_ADD_CHUNK ? n - i : QC_ADD_CHUNK);
            qc_add_chunk(p, in1 + i, in2 + i, len, out + i, 0, &oc);
        }
    }
}

#endif /* QC_ADD_ELEM_H */
