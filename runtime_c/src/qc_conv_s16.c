/* 16x8 convolution family: TFLM's reference_integer_ops ConvPerChannel /
 * DepthwiseConvPerChannel / FullyConnected for int16 input, int8 weights and int64 bias,
 * and (conv2d, fully_connected: the _b32 variants) TFLM's int32-bias form, whose int32
 * accumulator wraps and is requantised by the int32 MBQM. The sums are exact in int64;
 * the int32 accumulator is their value modulo 2^32. Twins of qcompile.reference.s16
 * (conv2d, depthwise_conv2d, fully_connected). Direct loops, no scratch: the portable s16
 * kernels are the correctness baseline. */
#include "qc_kernels_s16.h"

/* Common checks: zero offsets, int16 activation range, shifts in [-31, 7] (int64 MBQM) or
 * [-31, 30] (int32 MBQM, b32), m >= 0. */
static int qc_s16_requant_ok(int32_t in_off, int32_t out_off, int32_t lo, int32_t hi, const int32_t *m,
                             const int32_t *s, int32_t n, int b32) {
    const int32_t max_shift = b32 ? 30 : 7;
    if (in_off != 0 || out_off != 0 || lo > hi || lo < -32768 || hi > 32767 || m == NULL || s == NULL) {
        return 0;
    }
    for (int32_t c = 0; c < n; ++c) {
        if (s[c] < -31 || s[c] > max_shift || m[c] < 0) {
            return 0;
        }
    }
    return 1;
}

static int qc_s16_conv_ok(const qc_conv_params *p, const void *in, const void *w, const void *out) {
    if (p == NULL || in == NULL || w == NULL || out == NULL) {
        return 0;
    }
    return p->batches >= 0 && p->in_h > 0 && p->in_w > 0 && p->in_c > 0 && p->out_h > 0 && p->out_w > 0 &&
           p->out_c > 0 && p->kernel_h > 0 && p->kernel_w > 0 && p->stride_h > 0 && p->stride_w > 0 &&
           p->dilation_h > 0 && p->dilation_w > 0 && p->pad_top >= 0 && p->pad_left >= 0;
}

/* The bias of one output: int64 (bias64, int64 MBQM) or int32 (bias32, int32 accumulator and MBQM). */
typedef struct {
    const int64_t *bias64;
    const int32_t *bias32;
    int b32;
} qc_s16_bias;

static int16_t qc_s16_out(int64_t acc, const qc_s16_bias *bias, int32_t bc, int32_t c, const int32_t *m,
                          const int32_t *s, int32_t lo, int32_t hi) {
    if (bias->b32) {
        uint32_t a = (uint32_t)(uint64_t)acc;
        if (bias->bias32 != NULL) {
            a += (uint32_t)bias->bias32[bc];
        }
        return qc_clamp_s16(qc_requantize(qc_u32_to_s32(a), m[c], s[c]), lo, hi);
    }
    if (bias->bias64 != NULL) {
        acc = qc_u64_to_s64((uint64_t)acc + (uint64_t)bias->bias64[bc]);
    }
    return qc_clamp_s16(qc_requantize_s64(acc, m[c], s[c]), lo, hi);
}

static int qc_conv2d_s16_run(const qc_conv_params *p, const int16_t *input, const int8_t *filter,
                             const qc_s16_bias *bias, const int32_t *multiplier, const int32_t *shift,
                             int16_t *output) {
    if (!qc_s16_conv_ok(p, input, filter, output) || p->groups < 1 || p->in_c % p->groups != 0 ||
        p->out_c % p->groups != 0 ||
        !qc_s16_requant_ok(p->input_offset, p->output_offset, p->act_min, p->act_max, multiplier, shift, p->out_c,
                           bias->b32)) {
        return QC_ERROR;
    }
    const int32_t cg = p->in_c / p->groups, ocg = p->out_c / p->groups;
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                for (int32_t oc = 0; oc < p->out_c; ++oc) {
                    const int32_t g = oc / ocg;
                    int64_t acc = 0;
                    for (int32_t ky = 0; ky < p->kernel_h; ++ky) {
                        const int32_t iy = oy * p->stride_h - p->pad_top + ky * p->dilation_h;
                        if (iy < 0 || iy >= p->in_h) {
                            continue;
                        }
                        for (int32_t kx = 0; kx < p->kernel_w; ++kx) {
                            const int32_t ix = ox * p->stride_w - p->pad_left + kx * p->dilation_w;
                            if (ix < 0 || ix >= p->in_w) {
                                continue;
                            }
                            const int16_t *x = input + (((size_t)b * p->in_h + iy) * p->in_w + ix) * p->in_c +
                                               (size_t)g * cg;
                            const int8_t *w = filter + (((size_t)oc * p->kernel_h + ky) * p->kernel_w + kx) * cg;
                            for (int32_t i = 0; i < cg; ++i) {
                                acc += (int32_t)x[i] * w[i];
                            }
                        }
                    }
                    output[(((size_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c + oc] =
                        qc_s16_out(acc, bias, oc, oc, multiplier, shift, p->act_min, p->act_max);
                }
            }
        }
    }
    return QC_OK;
}

int qc_conv2d_s16(const qc_conv_params *p, const int16_t *input, const int8_t *filter, const int64_t *bias,
                  const int32_t *multiplier, const int32_t *shift, int16_t *output) {
    const qc_s16_bias b = {bias, NULL, 0};
    return qc_conv2d_s16_run(p, input, filter, &b, multiplier, shift, output);
}

int qc_conv2d_b32_s16(const qc_conv_params *p, const int16_t *input, const int8_t *filter, const int32_t *bias,
                      const int32_t *multiplier, const int32_t *shift, int16_t *output) {
    const qc_s16_bias b = {NULL, bias, 1};
    return qc_conv2d_s16_run(p, input, filter, &b, multiplier, shift, output);
}

int qc_depthwise_conv2d_s16(const qc_conv_params *p, const int16_t *input, const int8_t *filter,
                            const int64_t *bias, const int32_t *multiplier, const int32_t *shift,
                            int16_t *output) {
    if (!qc_s16_conv_ok(p, input, filter, output) || p->depth_multiplier < 1 ||
        p->out_c != p->in_c * p->depth_multiplier ||
        !qc_s16_requant_ok(p->input_offset, p->output_offset, p->act_min, p->act_max, multiplier, shift, p->out_c,
                           0)) {
        return QC_ERROR;
    }
    const qc_s16_bias b64 = {bias, NULL, 0};
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                for (int32_t oc = 0; oc < p->out_c; ++oc) {
                    const int32_t ic = oc / p->depth_multiplier;
                    int64_t acc = 0;
                    for (int32_t ky = 0; ky < p->kernel_h; ++ky) {
                        const int32_t iy = oy * p->stride_h - p->pad_top + ky * p->dilation_h;
                        if (iy < 0 || iy >= p->in_h) {
                            continue;
                        }
                        for (int32_t kx = 0; kx < p->kernel_w; ++kx) {
                            const int32_t ix = ox * p->stride_w - p->pad_left + kx * p->dilation_w;
                            if (ix < 0 || ix >= p->in_w) {
                                continue;
                            }
                            const int16_t x = input[(((size_t)b * p->in_h + iy) * p->in_w + ix) * p->in_c + ic];
                            acc += (int32_t)x * filter[((size_t)ky * p->kernel_w + kx) * p->out_c + oc];
                        }
                    }
                    output[(((size_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c + oc] =
                        qc_s16_out(acc, &b64, oc, oc, multiplier, shift, p->act_min, p->act_max);
                }
            }
        }
    }
    return QC_OK;
}

static int qc_fully_connected_s16_run(const qc_fc_params *p, const int16_t *input, const int8_t *filter,
                                      const qc_s16_bias *bias, const int32_t *multiplier, const int32_t *shift,
                                      int16_t *output) {
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->batches < 0 || p->in_features < 1 ||
        p->out_features < 1 ||
        !qc_s16_requant_ok(p->input_offset, p->output_offset, p->act_min, p->act_max, multiplier, shift,
                           p->per_channel ? p->out_features : 1, bias->b32)) {
        return QC_ERROR;
    }
    for (int32_t r = 0; r < p->batches; ++r) {
        const int16_t *x = input + (size_t)r * p->in_features;
        for (int32_t n = 0; n < p->out_features; ++n) {
            const int8_t *w = filter + (size_t)n * p->in_features;
            int64_t acc = 0;
            for (int32_t k = 0; k < p->in_features; ++k) {
                acc += (int32_t)x[k] * w[k];
            }
            output[(size_t)r * p->out_features + n] =
                qc_s16_out(acc, bias, n, p->per_channel ? n : 0, multiplier, shift, p->act_min, p->act_max);
        }
    }
    return QC_OK;
}

int qc_fully_connected_s16(const qc_fc_params *p, const int16_t *input, const int8_t *filter, const int64_t *bias,
                           const int32_t *multiplier, const int32_t *shift, int16_t *output) {
    const qc_s16_bias b = {bias, NULL, 0};
    return qc_fully_connected_s16_run(p, input, filter, &b, multiplier, shift, output);
}

int qc_fully_connected_b32_s16(const qc_fc_params *p, const int16_t *input, const int8_t *filter,
                               const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
                               int16_t *output) {
    const qc_s16_bias b = {NULL, bias, 1};
    return qc_fully_connected_s16_run(p, input, filter, &b, multiplier, shift, output);
}
