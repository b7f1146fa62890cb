/* qcompile runtime: int8 depthwise 2-D convolution, NHWC input, filter [KH][KW][C * depth_multiplier].
 *
 * Numpy twin: toolchain/reference/conv.py:depthwise_conv2d (bit for bit).
 *
 * Output channel oc = ic * depth_multiplier + m reads input channel ic. For each output
 * pixel an int32 accumulator row of out_c entries lives in scratch; every in-bounds filter
 * tap adds (x + input_offset) * w across all channels at once (contiguous in both the NHWC
 * input pixel and the filter tap, so gcc vectorises it); out-of-bounds taps are skipped,
 * which is "padding contributes nothing". |(x + off) * w| <= 255 * 128, so the tap sum
 * stays in int32 for any kernel under 65000 taps; the bias and the output offset are added
 * modulo 2^32 through uint32_t (the reference's wrap_int32, no undefined behaviour).
 */
#include <string.h>

#include "qc_kernels.h"

static inline int32_t qc_dw_u32_to_s32(uint32_t u) {
    return u <= (uint32_t)INT32_MAX ? (int32_t)u : (int32_t)(u - 2147483648u) - INT32_MAX - 1;
}

static int qc_dw_params_ok(const qc_conv_params *p) {
    if (p->batches < 1 || p->in_h < 1 || p->in_w < 1 || p->in_c < 1 || p->out_h < 1 || p->out_w < 1 ||
        p->kernel_h < 1 || p->kernel_w < 1 || p->stride_h < 1 || p->stride_w < 1 || p->dilation_h < 1 ||
        p->dilation_w < 1 || p->pad_top < 0 || p->pad_left < 0 || p->depth_multiplier < 1) {
        return 0;
    }
    if ((int64_t)p->out_c != (int64_t)p->in_c * p->depth_multiplier) {
        return 0;
    }
    if (p->input_offset < -127 || p->input_offset > 128 || p->act_min > p->act_max || p->act_min < -128 ||
        p->act_max > 127) {
        return 0;
    }
    return 1;
}

size_t qc_depthwise_conv2d_s8_scratch_size(const qc_conv_params *p) {
    if (p == NULL || !qc_dw_params_ok(p)) {
        return 0;
    }
    return (size_t)p->out_c * sizeof(int32_t);
}

/* acc[c] += (x[c] + off) * w[c] for c < n (depth_multiplier 1). */
static void qc_dw_tap_dm1(int32_t *restrict acc, const int8_t *restrict x, const int8_t *restrict w, int32_t n,
                          int32_t off) {
    for (int32_t c = 0; c < n; ++c) {
        acc[c] += ((int32_t)x[c] + off) * (int32_t)w[c];
    }
}

/* acc[c*dm + m] += (x[c] + off) * w[c*dm + m] (any depth multiplier). */
static void qc_dw_tap(int32_t *restrict acc, const int8_t *restrict x, const int8_t *restrict w, int32_t in_c,
                      int32_t dm, int32_t off) {
    for (int32_t c = 0; c < in_c; ++c) {
        const int32_t v = (int32_t)x[c] + off;
        int32_t *a = acc + (size_t)c * (size_t)dm;
        const int8_t *wc = w + (size_t)c * (size_t)dm;
        for (int32_t m = 0; m < dm; ++m) {
            a[m] += v * (int32_t)wc[m];
        }
    }
}

int qc_depthwise_conv2d_s8(const qc_conv_params *p, const int8_t *input, const int8_t *filter, const int32_t *bias,
                           const int32_t *multiplier, const int32_t *shift, int8_t *output, void *scratch) {
    if (p == NULL || input == NULL || filter == NULL || multiplier == NULL || shift == NULL || output == NULL ||
        scratch == NULL || !qc_dw_params_ok(p)) {
        return QC_ERROR;
    }
    const int32_t oc_n = p->out_c;
    for (int32_t oc = 0; oc < oc_n; ++oc) {
        if (shift[oc] < -31 || shift[oc] > 31) {
            return QC_ERROR;
        }
    }
    int32_t *acc = (int32_t *)scratch;
    int8_t *out = output;
    for (int32_t n = 0; n < p->batches; ++n) {
        const int8_t *in_n = input + (size_t)n * (size_t)p->in_h * (size_t)p->in_w * (size_t)p->in_c;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                memset(acc, 0, (size_t)oc_n * sizeof(int32_t));
                for (int32_t ky = 0; ky < p->kernel_h; ++ky) {
                    const int32_t iy = iy0 + ky * p->dilation_h;
                    if (iy < 0 || iy >= p->in_h) {
                        continue;
                    }
                    for (int32_t kx = 0; kx < p->kernel_w; ++kx) {
                        const int32_t ix = ix0 + kx * p->dilation_w;
                        if (ix < 0 || ix >= p->in_w) {
                            continue;
                        }
                        const int8_t *x = in_n + ((size_t)iy * (size_t)p->in_w + (size_t)ix) * (size_t)p->in_c;
                        const int8_t *w = filter + ((size_t)ky * (size_t)p->kernel_w + (size_t)kx) * (size_t)oc_n;
                        if (p->depth_multiplier == 1) {
                            qc_dw_tap_dm1(acc, x, w, oc_n, p->input_offset);
                        } else {
                            qc_dw_tap(acc, x, w, p->in_c, p->depth_multiplier, p->input_offset);
                        }
                    }
                }
                for (int32_t oc = 0; oc < oc_n; ++oc) {
                    const uint32_t b = bias != NULL ? (uint32_t)bias[oc] : 0u;
                    const int32_t total = qc_dw_u32_to_s32(b + (uint32_t)acc[oc]);
                    const int32_t v = qc_dw_u32_to_s32((uint32_t)qc_requantize(total, multiplier[oc], shift[oc]) +
                                                       (uint32_t)p->output_offset);
                    out[oc] = qc_clamp_s8(v, p->act_min, p->act_max);
                }
                out += oc_n;
            }
        }
    }
    return QC_OK;
}
