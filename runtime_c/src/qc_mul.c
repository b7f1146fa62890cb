/* int8 MUL with broadcasting: TFLM's reference_integer_ops::Mul arithmetic.
 * Twin of qcompile.reference.ops.mul (docs/QUANTIZATION.md):
 *     out = clamp(MBQM((x1 + input1_offset) * (x2 + input2_offset)) + output_offset)
 * Rows are computed with qc_fixedpoint.h's branch-free arithmetic into a local int32
 * chunk (vectorisable, no alias checks needed), then narrowed; qc_broadcast.h walks the
 * broadcast shape (the same walk as qc_add.c). out may be in1 or in2 when that input
 * has the output's shape (in place). */
#include "qc_broadcast.h"
#include "qc_kernels.h"
#include "qc_fixedpoint.h"

#define QC_MUL_CHUNK 32

static void qc_mul_row_fn(const void *params, const int8_t *in1, const int8_t *in2, size_t n, int8_t *out) {
    const qc_mul_params *p = (const qc_mul_params *)params;
    const qc_offset_clamp oc = qc_offset_clamp_make(p->output_offset, p->act_min, p->act_max);
    const int32_t o1 = p->input1_offset, o2 = p->input2_offset;
    const int32_t m = p->output_multiplier, s = p->output_shift;
    int32_t t[QC_MUL_CHUNK];
    for (size_t i0 = 0; i0 < n; i0 += QC_MUL_CHUNK) {
        const int32_t len = (int32_t)(n - i0 < QC_MUL_CHUNK ? n - i0 : QC_MUL_CHUNK);
        const int8_t *a = in1 + i0;
        const int8_t *b = in2 + i0;
        for (int32_t i = 0; i < len; ++i) {
            /* |x + offset| <= 383 for int8 data and offsets in [-255, 255]: the product fits */
            const int32_t prod = ((int32_t)a[i] + o1) * ((int32_t)b[i] + o2);
            t[i] = qc_offset_clamp_apply(qc_requantize(prod, m, s), &oc);
        }
        for (int32_t i = 0; i < len; ++i) {
            out[i0 + (size_t)i] = (int8_t)t[i]; /* in [act_min, act_max]: exact */
        }
    }
}

int qc_mul_s8(const qc_mul_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
    if (p == NULL || in1 == NULL || in2 == NULL || out == NULL || p->output_shift > 31 || p->output_shift < -31 ||
        p->input1_offset < -255 || p->input1_offset > 255 || p->input2_offset < -255 || p->input2_offset > 255 ||
        p->act_min > p->act_max || p->act_min < -128 || p->act_max > 127 || !qc_bcast_shape_ok(p->out_shape)) {
        return QC_ERROR;
    }
    qc_bcast_walk(p->out_shape, p->in1_strides, p->in2_strides, in1, in2, out, qc_mul_row_fn, p);
    return QC_OK;
}
