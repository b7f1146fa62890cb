/* 16x8 elementwise, pooling and data-movement kernels: TFLM's int16 ADD/SUB (left shift
 * 15), MUL, MAX_POOL_2D, AVERAGE_POOL_2D, PAD and TRANSPOSE. Twins of qcompile.reference.s16.
 * Broadcasting uses the int8 structs' right-aligned rank-5 shapes and element strides. */
#include <string.h>

#include "qc_kernels_s16.h"

typedef int32_t (*qc_s16_binary_fn)(const void *params, int32_t a, int32_t b);

static int qc_s16_shape_ok(const int32_t shape[QC_MAX_RANK]) {
    for (int32_t k = 0; k < QC_MAX_RANK; ++k) {
        if (shape[k] < 0) {
            return 0;
        }
    }
    return 1;
}

/* in2 holds int16 elements, or int8 ones when in2_s8 (PRELU's alpha). */
static void qc_s16_walk_any(const int32_t n[QC_MAX_RANK], const int32_t s1[QC_MAX_RANK], const int32_t s2[QC_MAX_RANK],
                            const int16_t *in1, const void *in2, int in2_s8, int16_t *out, qc_s16_binary_fn fn,
                            const void *params, int32_t lo, int32_t hi) {
    const int16_t *in2_16 = (const int16_t *)in2;
    const int8_t *in2_8 = (const int8_t *)in2;
    for (int32_t i0 = 0; i0 < n[0]; ++i0) {
        for (int32_t i1 = 0; i1 < n[1]; ++i1) {
            for (int32_t i2 = 0; i2 < n[2]; ++i2) {
                for (int32_t i3 = 0; i3 < n[3]; ++i3) {
                    const ptrdiff_t a = (ptrdiff_t)i0 * s1[0] + (ptrdiff_t)i1 * s1[1] + (ptrdiff_t)i2 * s1[2] +
                                        (ptrdiff_t)i3 * s1[3];
                    const ptrdiff_t b = (ptrdiff_t)i0 * s2[0] + (ptrdiff_t)i1 * s2[1] + (ptrdiff_t)i2 * s2[2] +
                                        (ptrdiff_t)i3 * s2[3];
                    if (in2_s8) { /* the type test once a row, not once an element */
                        for (int32_t i4 = 0; i4 < n[4]; ++i4) {
                            const int32_t x2 = in2_8[b + (ptrdiff_t)i4 * s2[4]];
                            const int32_t v = fn(params, in1[a + (ptrdiff_t)i4 * s1[4]], x2);
                            *out++ = qc_clamp_s16(v, lo, hi);
                        }
                    } else {
                        for (int32_t i4 = 0; i4 < n[4]; ++i4) {
                            const int32_t x2 = in2_16[b + (ptrdiff_t)i4 * s2[4]];
                            const int32_t v = fn(params, in1[a + (ptrdiff_t)i4 * s1[4]], x2);
                            *out++ = qc_clamp_s16(v, lo, hi);
                        }
                    }
                }
            }
        }
    }
}

static void qc_s16_walk(const int32_t n[QC_MAX_RANK], const int32_t s1[QC_MAX_RANK], const int32_t s2[QC_MAX_RANK],
                        const int16_t *in1, const int16_t *in2, int16_t *out, qc_s16_binary_fn fn,
                        const void *params, int32_t lo, int32_t hi) {
    qc_s16_walk_any(n, s1, s2, in1, in2, 0, out, fn, params, lo, hi);
}

static int32_t qc_add_one_s16(const void *params, int32_t x1, int32_t x2) {
    const qc_add_params *p = (const qc_add_params *)params;
    const uint32_t a = (uint32_t)qc_requantize_lt1(x1 * (1 << 15), p->input1_multiplier, p->input1_shift);
    const uint32_t b = (uint32_t)qc_requantize_lt1(x2 * (1 << 15), p->input2_multiplier, p->input2_shift);
    const int32_t raw = qc_u32_to_s32(p->subtract ? a - b : a + b);
    return qc_requantize_lt1(raw, p->output_multiplier, p->output_shift);
}

int qc_add_s16(const qc_add_params *p, const int16_t *in1, const int16_t *in2, int16_t *out) {
    if (p == NULL || in1 == NULL || in2 == NULL || out == NULL || !qc_s16_shape_ok(p->out_shape) ||
        p->left_shift != 15 || p->input1_offset != 0 || p->input2_offset != 0 || p->output_offset != 0 ||
        p->input1_shift > 0 || p->input1_shift < -31 || p->input2_shift > 0 || p->input2_shift < -31 ||
        p->output_shift > 0 || p->output_shift < -31 || p->act_min > p->act_max || p->act_min < -32768 ||
        p->act_max > 32767) {
        return QC_ERROR;
    }
    qc_s16_walk(p->out_shape, p->in1_strides, p->in2_strides, in1, in2, out, qc_add_one_s16, p, p->act_min,
                p->act_max);
    return QC_OK;
}

static int32_t qc_mul_one_s16(const void *params, int32_t x1, int32_t x2) {
    const qc_mul_params *p = (const qc_mul_params *)params;
    return qc_requantize(x1 * x2, p->output_multiplier, p->output_shift); /* |x1 * x2| <= 2^30 */
}

int qc_mul_s16(const qc_mul_params *p, const int16_t *in1, const int16_t *in2, int16_t *out) {
    if (p == NULL || in1 == NULL || in2 == NULL || out == NULL || !qc_s16_shape_ok(p->out_shape) ||
        p->input1_offset != 0 || p->input2_offset != 0 || p->output_offset != 0 || p->output_shift < -31 ||
        p->output_shift > 31 || p->act_min > p->act_max || p->act_min < -32768 || p->act_max > 32767) {
        return QC_ERROR;
    }
    qc_s16_walk(p->out_shape, p->in1_strides, p->in2_strides, in1, in2, out, qc_mul_one_s16, p, p->act_min,
                p->act_max);
    return QC_OK;
}

static int qc_s16_pool_ok(const qc_pool_params *p, const void *in, const void *out) {
    return p != NULL && in != NULL && out != NULL && p->batches >= 0 && p->in_h > 0 && p->in_w > 0 &&
           p->channels > 0 && p->out_h > 0 && p->out_w > 0 && p->kernel_h > 0 && p->kernel_w > 0 &&
           p->stride_h > 0 && p->stride_w > 0 && p->pad_top >= 0 && p->pad_left >= 0 && p->act_min <= p->act_max &&
           p->act_min >= -32768 && p->act_max <= 32767;
}

/* One pool over every window: max (running maximum from -32768) or TFLM's rounded average. */
static int qc_pool_s16(const qc_pool_params *p, const int16_t *input, int16_t *output, int average) {
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t y0 = oy * p->stride_h - p->pad_top;
            const int32_t ya = QC_MAX(y0, 0), yb = QC_MIN(y0 + p->kernel_h, p->in_h);
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t x0 = ox * p->stride_w - p->pad_left;
                const int32_t xa = QC_MAX(x0, 0), xb = QC_MIN(x0 + p->kernel_w, p->in_w);
                const int32_t count = (yb > ya && xb > xa) ? (yb - ya) * (xb - xa) : 0;
                if (average && count == 0) {
                    return QC_ERROR;
                }
                for (int32_t c = 0; c < p->channels; ++c) {
                    int32_t acc = average ? 0 : -32768;
                    for (int32_t y = ya; y < yb; ++y) {
                        for (int32_t x = xa; x < xb; ++x) {
                            const int32_t v = input[(((size_t)b * p->in_h + y) * p->in_w + x) * p->channels + c];
                            acc = average ? acc + v : QC_MAX(acc, v);
                        }
                    }
                    if (average) {
                        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    }
                    output[(((size_t)b * p->out_h + oy) * p->out_w + ox) * p->channels + c] =
                        qc_clamp_s16(acc, p->act_min, p->act_max);
                }
            }
        }
    }
    return QC_OK;
}

int qc_max_pool2d_s16(const qc_pool_params *p, const int16_t *input, int16_t *output) {
    return qc_s16_pool_ok(p, input, output) ? qc_pool_s16(p, input, output, 0) : QC_ERROR;
}

int qc_avg_pool2d_s16(const qc_pool_params *p, const int16_t *input, int16_t *output) {
    if (!qc_s16_pool_ok(p, input, output) || (int64_t)p->kernel_h * p->kernel_w > 32768) {
        return QC_ERROR; /* the int32 window sum of int16 values cannot overflow */
    }
    return qc_pool_s16(p, input, output, 1);
}

int qc_pad_s16(const qc_pad_params *p, const int16_t *input, int16_t *output) {
    size_t out_stride[QC_MAX_RANK];
    size_t total = 1;
    if (p == NULL || input == NULL || output == NULL || p->pad_value < -32768 || p->pad_value > 32767) {
        return QC_ERROR;
    }
    for (int32_t k = QC_MAX_RANK - 1; k >= 0; --k) {
        if (p->in_shape[k] < 0 || p->pad_before[k] < 0 || p->pad_after[k] < 0) {
            return QC_ERROR;
        }
        out_stride[k] = total;
        total *= (size_t)(p->pad_before[k] + p->in_shape[k] + p->pad_after[k]);
    }
    for (size_t i = 0; i < total; ++i) {
        output[i] = (int16_t)p->pad_value;
    }
    const int32_t *n = p->in_shape;
    const size_t row = (size_t)n[4] * sizeof(int16_t);
    for (int32_t i0 = 0; i0 < n[0]; ++i0) {
        for (int32_t i1 = 0; i1 < n[1]; ++i1) {
            for (int32_t i2 = 0; i2 < n[2]; ++i2) {
                for (int32_t i3 = 0; i3 < n[3]; ++i3) {
                    int16_t *dst = output + (size_t)(i0 + p->pad_before[0]) * out_stride[0] +
                                   (size_t)(i1 + p->pad_before[1]) * out_stride[1] +
                                   (size_t)(i2 + p->pad_before[2]) * out_stride[2] +
                                   (size_t)(i3 + p->pad_before[3]) * out_stride[3] + (size_t)p->pad_before[4];
                    if (row > 0) {
                        memcpy(dst, input, row);
                    }
                    input += n[4];
                }
            }
        }
    }
    return QC_OK;
}

int qc_transpose_s16(const qc_transpose_params *p, const int16_t *input, int16_t *output) {
    size_t in_stride[QC_MAX_RANK], s[QC_MAX_RANK];
    int32_t n[QC_MAX_RANK];
    size_t step = 1;
    uint32_t seen = 0;
    if (p == NULL || input == NULL || output == NULL) {
        return QC_ERROR;
    }
    for (int32_t k = 0; k < QC_MAX_RANK; ++k) {
        if (p->perm[k] < 0 || p->perm[k] >= QC_MAX_RANK || (seen & (1u << p->perm[k])) || p->in_shape[k] < 0) {
            return QC_ERROR;
        }
        seen |= 1u << p->perm[k];
    }
    for (int32_t k = QC_MAX_RANK - 1; k >= 0; --k) {
        in_stride[k] = step;
        step *= (size_t)p->in_shape[k];
    }
    for (int32_t k = 0; k < QC_MAX_RANK; ++k) {
        n[k] = p->in_shape[p->perm[k]];
        s[k] = in_stride[p->perm[k]];
    }
    for (int32_t i0 = 0; i0 < n[0]; ++i0) {
        for (int32_t i1 = 0; i1 < n[1]; ++i1) {
            for (int32_t i2 = 0; i2 < n[2]; ++i2) {
                for (int32_t i3 = 0; i3 < n[3]; ++i3) {
                    const int16_t *src = input + (size_t)i0 * s[0] + (size_t)i1 * s[1] + (size_t)i2 * s[2] +
                                         (size_t)i3 * s[3];
                    for (int32_t i4 = 0; i4 < n[4]; ++i4) {
                        *output++ = src[(size_t)i4 * s[4]];
                    }
                }
            }
        }
    }
    return QC_OK;
}

static int32_t qc_max_one_s16(const void *params, int32_t x1, int32_t x2) {
    (void)params;
    return x1 > x2 ? x1 : x2;
}

static int32_t qc_min_one_s16(const void *params, int32_t x1, int32_t x2) {
    (void)params;
    return x1 < x2 ? x1 : x2;
}

int qc_maximum_s16(const qc_broadcast_params *p, const int16_t *in1, const int16_t *in2, int16_t *out) {
    if (p == NULL || in1 == NULL || in2 == NULL || out == NULL || !qc_s16_shape_ok(p->out_shape)) {
        return QC_ERROR;
    }
    qc_s16_walk(p->out_shape, p->in1_strides, p->in2_strides, in1, in2, out, qc_max_one_s16, p, -32768, 32767);
    return QC_OK;
}

int qc_minimum_s16(const qc_broadcast_params *p, const int16_t *in1, const int16_t *in2, int16_t *out) {
    if (p == NULL || in1 == NULL || in2 == NULL || out == NULL || !qc_s16_shape_ok(p->out_shape)) {
        return QC_ERROR;
    }
    qc_s16_walk(p->out_shape, p->in1_strides, p->in2_strides, in1, in2, out, qc_min_one_s16, p, -32768, 32767);
    return QC_OK;
}

static int32_t qc_prelu_one_s16(const void *params, int32_t x, int32_t alpha) {
    /* |x| <= 32768 and |alpha + alpha_offset| <= 255: the product fits int32 */
    const qc_prelu_params *p = (const qc_prelu_params *)params;
    return x >= 0 ? qc_requantize(x, p->output_multiplier_1, p->output_shift_1)
                  : qc_requantize(x * (alpha + p->alpha_offset), p->output_multiplier_2, p->output_shift_2);
}

int qc_prelu_s16(const qc_prelu_params *p, const int16_t *input, const int8_t *alpha, int16_t *out) {
    if (p == NULL || input == NULL || alpha == NULL || out == NULL || !qc_s16_shape_ok(p->out_shape) ||
        p->input_offset != 0 || p->output_offset != 0 || p->alpha_offset < -127 || p->alpha_offset > 128 ||
        p->output_shift_1 < -31 || p->output_shift_1 > 31 || p->output_shift_2 < -31 || p->output_shift_2 > 31) {
        return QC_ERROR;
    }
    qc_s16_walk_any(p->out_shape, p->in1_strides, p->in2_strides, input, alpha, 1, out, qc_prelu_one_s16, p, -32768,
                    32767);
    return QC_OK;
}
