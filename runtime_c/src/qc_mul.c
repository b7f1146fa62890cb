/* int8 MUL with broadcasting: TFLM's reference_integer_ops::Mul arithmetic.
 * Twin of qcompile.reference.ops.mul (docs/QUANTIZATION.md). */
#include "qc_kernels.h"

static int8_t qc_mul_one(const qc_mul_params *p, int32_t a, int32_t b) {
    /* |a + offset| <= 255 for int8 data and int8 zero points: the product fits easily. */
    const int32_t prod = (a + p->input1_offset) * (b + p->input2_offset);
    /* offset added in 64 bits: no overflow whatever the multiplier */
    const int64_t out = (int64_t)qc_requantize(prod, p->output_multiplier, p->output_shift) + p->output_offset;
    return (int8_t)(out < p->act_min ? p->act_min : (out > p->act_max ? p->act_max : out));
}

int qc_mul_s8(const qc_mul_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
    const int32_t *s = p->out_shape;
    const int32_t *t1 = p->in1_strides;
    const int32_t *t2 = p->in2_strides;
    int32_t i0, i1, i2, i3, i4;
    int32_t total = 1;
    int32_t k;
    int contiguous = 1;

    if (p->output_shift > 31 || p->output_shift < -31 || p->input1_offset < -255 || p->input1_offset > 255 ||
        p->input2_offset < -255 || p->input2_offset > 255) {
        return QC_ERROR;
    }
    for (k = QC_MAX_RANK - 1; k >= 0; --k) {
        if (s[k] < 0) {
            return QC_ERROR;
        }
        if (s[k] != 1 && (t1[k] != total || t2[k] != total)) {
            contiguous = 0;
        }
        total *= s[k];
    }
    if (contiguous) {
        for (k = 0; k < total; ++k) {
            out[k] = qc_mul_one(p, in1[k], in2[k]);
        }
        return QC_OK;
    }
    for (i0 = 0; i0 < s[0]; ++i0) {
        for (i1 = 0; i1 < s[1]; ++i1) {
            for (i2 = 0; i2 < s[2]; ++i2) {
                for (i3 = 0; i3 < s[3]; ++i3) {
                    const int8_t *a = in1 + i0 * t1[0] + i1 * t1[1] + i2 * t1[2] + i3 * t1[3];
                    const int8_t *b = in2 + i0 * t2[0] + i1 * t2[1] + i2 * t2[2] + i3 * t2[3];
                    for (i4 = 0; i4 < s[4]; ++i4) {
                        *out++ = qc_mul_one(p, a[i4 * t1[4]], b[i4 * t2[4]]);
                    }
                }
            }
        }
    }
    return QC_OK;
}
