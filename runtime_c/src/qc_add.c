/* int8 ADD / SUB with broadcasting: TFLM's reference_integer_ops::Add arithmetic.
 * Twin of qcompile.reference.ops.add (docs/QUANTIZATION.md). */
#include "qc_kernels.h"

/* Output offset added in 64 bits then clamped: no overflow whatever the parameters. */
static int8_t qc_add_finish(const qc_add_params *p, int32_t a, int32_t b) {
    /* wrapping int32 sum/difference (cannot wrap for int8 data with left_shift 20) */
    const int32_t raw = p->subtract ? (int32_t)((uint32_t)a - (uint32_t)b) : (int32_t)((uint32_t)a + (uint32_t)b);
    const int64_t out = (int64_t)qc_requantize_lt1(raw, p->output_multiplier, p->output_shift) + p->output_offset;
    return (int8_t)(out < p->act_min ? p->act_min : (out > p->act_max ? p->act_max : out));
}

static int8_t qc_add_one(const qc_add_params *p, int32_t a_raw, int32_t b_raw) {
    const int32_t a_shifted = qc_shl32(a_raw + p->input1_offset, p->left_shift);
    const int32_t b_shifted = qc_shl32(b_raw + p->input2_offset, p->left_shift);
    const int32_t a = qc_requantize_lt1(a_shifted, p->input1_multiplier, p->input1_shift);
    const int32_t b = qc_requantize_lt1(b_shifted, p->input2_multiplier, p->input2_shift);
    return qc_add_finish(p, a, b);
}

static int qc_add_params_ok(const qc_add_params *p) {
    int i;
    if (p->left_shift < 0 || p->left_shift > 23) {
        return 0;
    }
    if (p->input1_shift > 0 || p->input1_shift < -31 || p->input2_shift > 0 || p->input2_shift < -31 ||
        p->output_shift > 0 || p->output_shift < -31) {
        return 0;
    }
    if (p->input1_offset < -255 || p->input1_offset > 255 || p->input2_offset < -255 ||
        p->input2_offset > 255) {
        return 0;
    }
    for (i = 0; i < QC_MAX_RANK; ++i) {
        if (p->out_shape[i] < 0) {
            return 0;
        }
    }
    return 1;
}

int qc_add_s8(const qc_add_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
    const int32_t *s = p->out_shape;
    const int32_t *t1 = p->in1_strides;
    const int32_t *t2 = p->in2_strides;
    int32_t i0, i1, i2, i3, i4;
    int32_t total = 1;
    int32_t k;
    int contiguous = 1;
    int scalar2 = 1;

    if (!qc_add_params_ok(p)) {
        return QC_ERROR;
    }
    for (k = QC_MAX_RANK - 1; k >= 0; --k) {
        if (s[k] != 1 && (t1[k] != total || t2[k] != total)) {
            contiguous = 0;
        }
        if (s[k] != 1 && (t1[k] != total || t2[k] != 0)) {
            scalar2 = 0;
        }
        total *= s[k];
    }
    if (contiguous) {
        for (k = 0; k < total; ++k) {
            out[k] = qc_add_one(p, in1[k], in2[k]);
        }
        return QC_OK;
    }
    if (scalar2) {
        /* second operand is a single value: rescale it once */
        const int32_t b = qc_requantize_lt1(qc_shl32(in2[0] + p->input2_offset, p->left_shift),
                                            p->input2_multiplier, p->input2_shift);
        for (k = 0; k < total; ++k) {
            const int32_t a = qc_requantize_lt1(qc_shl32(in1[k] + p->input1_offset, p->left_shift),
                                                p->input1_multiplier, p->input1_shift);
            out[k] = qc_add_finish(p, a, b);
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
                        *out++ = qc_add_one(p, a[i4 * t1[4]], b[i4 * t2[4]]);
                    }
                }
            }
        }
    }
    return QC_OK;
}
