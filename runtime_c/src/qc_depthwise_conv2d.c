/* qcompile runtime: int8 depthwise 2-D convolution, NHWC input, filter [KH][KW][C * depth_multiplier].
 *
 * Numpy twin: toolchain/reference/conv.py:depthwise_conv2d (bit for bit).
 *
 * Output channel oc = ic * depth_multiplier + m reads input channel ic. Every loop runs
 * over channels innermost, which are contiguous in both the NHWC input pixel and the
 * filter tap, so compilers vectorise them:
 * - 3x3, depth multiplier 1 (MobileNet / DS-CNN blocks): for each output pixel the nine
 *   tap pointers are set up once, and one loop over channels sums all nine products in
 *   registers. Taps outside the input point at a scratch row filled with the input zero
 *   point, whose (x + input_offset) is 0: "padding contributes nothing" without a branch.
 * - otherwise: an int32 accumulator row per output pixel in scratch, one vectorised pass
 *   per in-bounds tap (out-of-bounds taps are skipped).
 * The accumulator row is then requantised in one vectorisable pass (qc_requant_row, qc_fixedpoint.h).
 * |(x + off) * w| <= 255 * 128, so the tap sum stays in int32 for any kernel under 65000
 * taps; the bias and the output offset are added modulo 2^32 through uint32_t (the
 * reference's wrap_int32, no undefined behaviour).
 *
 * Scratch: [acc: out_c int32][zero-point row: in_c int8].
 */
#include <string.h>

#include "qc_kernels.h"
#include "qc_fixedpoint.h"

static size_t qc_dw_align16(size_t n) {
    return (n + 15u) & ~(size_t)15u;
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
    return qc_dw_align16((size_t)p->out_c * sizeof(int32_t)) + qc_dw_align16((size_t)p->in_c);
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

/* acc[c] = sum over the nine taps t of (x_t[c] + off) * w_t[c]; w_t = w + t * n. */
static void qc_dw_3x3_dm1(int32_t *restrict acc, const int8_t *const x[9], const int8_t *restrict w, int32_t n,
                          int32_t off) {
    const int8_t *restrict x0 = x[0];
    const int8_t *restrict x1 = x[1];
    const int8_t *restrict x2 = x[2];
    const int8_t *restrict x3 = x[3];
    const int8_t *restrict x4 = x[4];
    const int8_t *restrict x5 = x[5];
    const int8_t *restrict x6 = x[6];
    const int8_t *restrict x7 = x[7];
    const int8_t *restrict x8 = x[8];
    const int8_t *restrict w0 = w;
    const int8_t *restrict w1 = w0 + n;
    const int8_t *restrict w2 = w1 + n;
    const int8_t *restrict w3 = w2 + n;
    const int8_t *restrict w4 = w3 + n;
    const int8_t *restrict w5 = w4 + n;
    const int8_t *restrict w6 = w5 + n;
    const int8_t *restrict w7 = w6 + n;
    const int8_t *restrict w8 = w7 + n;
    for (int32_t c = 0; c < n; ++c) {
        int32_t s = ((int32_t)x0[c] + off) * (int32_t)w0[c];
        s += ((int32_t)x1[c] + off) * (int32_t)w1[c];
        s += ((int32_t)x2[c] + off) * (int32_t)w2[c];
        s += ((int32_t)x3[c] + off) * (int32_t)w3[c];
        s += ((int32_t)x4[c] + off) * (int32_t)w4[c];
        s += ((int32_t)x5[c] + off) * (int32_t)w5[c];
        s += ((int32_t)x6[c] + off) * (int32_t)w6[c];
        s += ((int32_t)x7[c] + off) * (int32_t)w7[c];
        s += ((int32_t)x8[c] + off) * (int32_t)w8[c];
        acc[c] = s;
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
    int8_t *zero_row = (int8_t *)scratch + qc_dw_align16((size_t)oc_n * sizeof(int32_t));
    /* x = -input_offset (the input zero point, in [-128, 127]) makes x + input_offset 0. */
    memset(zero_row, (int)(uint8_t)(int8_t)(-p->input_offset), (size_t)p->in_c);
    const int fast3x3 = p->kernel_h == 3 && p->kernel_w == 3 && p->depth_multiplier == 1;
    const size_t row_stride = (size_t)p->in_w * (size_t)p->in_c;
    int8_t *out = output;
    for (int32_t n = 0; n < p->batches; ++n) {
        const int8_t *in_n = input + (size_t)n * (size_t)p->in_h * row_stride;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                if (fast3x3) {
                    const int8_t *taps[9];
                    for (int32_t ky = 0; ky < 3; ++ky) {
                        const int32_t iy = iy0 + ky * p->dilation_h;
                        for (int32_t kx = 0; kx < 3; ++kx) {
                            const int32_t ix = ix0 + kx * p->dilation_w;
                            const int inside = iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w;
                            taps[ky * 3 + kx] =
                                inside ? in_n + (size_t)iy * row_stride + (size_t)ix * (size_t)p->in_c : zero_row;
                        }
                    }
                    qc_dw_3x3_dm1(acc, taps, filter, oc_n, p->input_offset);
                } else {
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
                            const int8_t *x = in_n + (size_t)iy * row_stride + (size_t)ix * (size_t)p->in_c;
                            const int8_t *w = filter + ((size_t)ky * (size_t)p->kernel_w + (size_t)kx) * (size_t)oc_n;
                            if (p->depth_multiplier == 1) {
                                qc_dw_tap_dm1(acc, x, w, oc_n, p->input_offset);
                            } else {
                                qc_dw_tap(acc, x, w, p->in_c, p->depth_multiplier, p->input_offset);
                            }
                        }
                    }
                }
                qc_requant_row(acc, bias, multiplier, shift, oc_n, p->output_offset, p->act_min, p->act_max, out);
                out += oc_n;
            }
        }
    }
    return QC_OK;
}
