/* int8 MAXIMUM / MINIMUM and PRELU with broadcasting: TFLM's maximum_minimum.cc and
 * prelu.cc arithmetic. Twins of qcompile.reference.kernels.eltwise (docs/QUANTIZATION.md):
 *     maximum: out = max(x1, x2)      minimum: out = min(x1, x2)      (raw int8 values)
 *     prelu:   v = x + input_offset;
 *              out = clamp((v >= 0 ? MBQM(v, m1, s1) : MBQM(v * (alpha + alpha_offset), m2, s2)) + output_offset)
 * MAXIMUM/MINIMUM compare the stored values as TFLM does: the ONNX path gives both inputs
 * and the output one set of quantization parameters, so the comparison is exact.
 * qc_broadcast.h walks the broadcast shape; out may be an input of the output's shape. */
#include "qc_broadcast.h"
#include "qc_kernels.h"
#include "qc_fixedpoint.h"

static void qc_max_row(const void *params, const int8_t *a, const int8_t *b, size_t n, int8_t *out) {
    (void)params;
    for (size_t i = 0; i < n; ++i) {
        out[i] = a[i] > b[i] ? a[i] : b[i];
    }
}

static void qc_min_row(const void *params, const int8_t *a, const int8_t *b, size_t n, int8_t *out) {
    (void)params;
    for (size_t i = 0; i < n; ++i) {
        out[i] = a[i] < b[i] ? a[i] : b[i];
    }
}

static int qc_minmax_check(const qc_broadcast_params *p, const int8_t *in1, const int8_t *in2, const int8_t *out) {
    return p != NULL && in1 != NULL && in2 != NULL && out != NULL && qc_bcast_shape_ok(p->out_shape);
}

int qc_maximum_s8(const qc_broadcast_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
    if (!qc_minmax_check(p, in1, in2, out)) {
        return QC_ERROR;
    }
    qc_bcast_walk(p->out_shape, p->in1_strides, p->in2_strides, in1, in2, out, qc_max_row, p);
    return QC_OK;
}

int qc_minimum_s8(const qc_broadcast_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
    if (!qc_minmax_check(p, in1, in2, out)) {
        return QC_ERROR;
    }
    qc_bcast_walk(p->out_shape, p->in1_strides, p->in2_strides, in1, in2, out, qc_min_row, p);
    return QC_OK;
}

static void qc_prelu_row(const void *params, const int8_t *x, const int8_t *alpha, size_t n, int8_t *out) {
    const qc_prelu_params *p = (const qc_prelu_params *)params;
    for (size_t i = 0; i < n; ++i) {
        const int32_t v = (int32_t)x[i] + p->input_offset;
        int32_t o;
        if (v >= 0) {
            o = qc_requantize(v, p->output_multiplier_1, p->output_shift_1);
        } else {
            /* |v| <= 255 and |alpha + alpha_offset| <= 255: the product fits */
            o = qc_requantize(v * ((int32_t)alpha[i] + p->alpha_offset), p->output_multiplier_2, p->output_shift_2);
        }
        o = qc_u32_to_s32((uint32_t)o + (uint32_t)p->output_offset);
        out[i] = (int8_t)(o < -128 ? -128 : (o > 127 ? 127 : o));
    }
}

int qc_prelu_s8(const qc_prelu_params *p, const int8_t *input, const int8_t *alpha, int8_t *out) {
    if (p == NULL || input == NULL || alpha == NULL || out == NULL || !qc_bcast_shape_ok(p->out_shape) ||
        p->input_offset < -127 || p->input_offset > 128 || p->alpha_offset < -127 || p->alpha_offset > 128 ||
        p->output_shift_1 < -31 || p->output_shift_1 > 31 || p->output_shift_2 < -31 || p->output_shift_2 > 31) {
        return QC_ERROR;
    }
    qc_bcast_walk(p->out_shape, p->in1_strides, p->in2_strides, input, alpha, out, qc_prelu_row, p);
    return QC_OK;
}
