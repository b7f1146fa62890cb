/* int8 DIV with broadcasting: TFLM's div.cc. Twin of qcompile.reference.kernels.div
 * (docs/QUANTIZATION.md, "div"):
 *     v1 = x1 + input1_offset; v2 = x2 + input2_offset; if v2 < 0: v1 = -v1, v2 = -v2
 *     k  = 31 - output_shift
 *     q  = k >= 40 ? 0 : sign(v1) * min((2 |v1| M + (v2 << k)) / (2 (v2 << k)), 255)
 *     out = clamp(q + output_offset, act_min, act_max)
 * i.e. the quotient rounded half away from zero, which is what TFLM's fixed-point reciprocal
 * gives wherever it is defined; v2 == 0 gives q = +-255 (saturating), 0 / 0 gives 0.
 * |v1| M < 2^39 and (v2 << k) < 2^47, so the uint64 arithmetic is exact. */
#include "qc_broadcast.h"
#include "qc_kernels.h"
#include "qc_fixedpoint.h"

static int32_t qc_div_quotient(const qc_mul_params *p, int32_t v1, int32_t v2) {
    const int32_t k = 31 - p->output_shift;
    uint64_t n, d, mag;
    if (v2 < 0) {
        v1 = -v1;
        v2 = -v2;
    }
    if (v1 == 0) {
        return 0;
    }
    if (v2 == 0) {
        mag = 255u;
    } else if (k >= 40) {
        mag = 0u;
    } else {
        n = (uint64_t)(v1 < 0 ? -v1 : v1) * (uint64_t)p->output_multiplier;
        d = (uint64_t)v2 << k;
        mag = (2u * n + d) / (2u * d);
        mag = mag > 255u ? 255u : mag;
    }
    return v1 < 0 ? -(int32_t)mag : (int32_t)mag;
}

static void qc_div_row(const void *params, const int8_t *a, const int8_t *b, size_t n, int8_t *out) {
    const qc_mul_params *p = (const qc_mul_params *)params;
    for (size_t i = 0; i < n; ++i) {
        const int32_t q = qc_div_quotient(p, (int32_t)a[i] + p->input1_offset, (int32_t)b[i] + p->input2_offset);
        out[i] = qc_clamp_s8(q + p->output_offset, p->act_min, p->act_max);
    }
}

int qc_div_s8(const qc_mul_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
    if (p == NULL || in1 == NULL || in2 == NULL || out == NULL || !qc_bcast_shape_ok(p->out_shape) ||
        p->input1_offset < -127 || p->input1_offset > 128 || p->input2_offset < -127 || p->input2_offset > 128 ||
        p->output_offset < -128 || p->output_offset > 127 || p->output_multiplier < 0 || p->output_shift < -31 ||
        p->output_shift > 31 || p->act_min < -128 || p->act_max > 127 || p->act_min > p->act_max) {
        return QC_ERROR;
    }
    qc_bcast_walk(p->out_shape, p->in1_strides, p->in2_strides, in1, in2, out, qc_div_row, p);
    return QC_OK;
}
