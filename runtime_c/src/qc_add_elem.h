/* Private to the runtime: TFLM's int8 ADD/SUB arithmetic on one pair of values, for
 * kernels that fuse an add into their epilogue (qc_conv2d_add.c). Same arithmetic as
 * qc_add.c's per-element path (docs/QUANTIZATION.md, "add"); the tests compare both
 * with the numpy reference. */
#ifndef QC_ADD_ELEM_H
#define QC_ADD_ELEM_H

#include "qc_kernels.h"

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

/* out = clamp(MBQM_lt1(a' +- b', mo, eo) + output_offset), a' and b' the rescaled inputs. */
static inline int8_t qc_add_elem_s8(const qc_add_params *p, int32_t x1, int32_t x2) {
    const int32_t a = qc_requantize_lt1(qc_shl32(x1 + p->input1_offset, p->left_shift), p->input1_multiplier,
                                        p->input1_shift);
    const int32_t b = qc_requantize_lt1(qc_shl32(x2 + p->input2_offset, p->left_shift), p->input2_multiplier,
                                        p->input2_shift);
    const int32_t raw = p->subtract ? (int32_t)((uint32_t)a - (uint32_t)b) : (int32_t)((uint32_t)a + (uint32_t)b);
    const int64_t out = (int64_t)qc_requantize_lt1(raw, p->output_multiplier, p->output_shift) + p->output_offset;
    return (int8_t)(out < p->act_min ? p->act_min : (out > p->act_max ? p->act_max : out));
}

#endif /* QC_ADD_ELEM_H */
