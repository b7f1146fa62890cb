/* qcompile runtime: int8 2-D convolution (dense and grouped), NHWC input, OHWI filter.
 *
 * Numpy twin: toolchain/reference/conv.py:conv2d (bit for bit).
 *
 * Strategy (as CMSIS-NN's q7 -> q15 im2col): the receptive fields of QC_CONV_TILE output
 * pixels are gathered into scratch as int16 values (x + input_offset), padded taps as 0,
 * which is exactly "padding contributes nothing". Then for each pair of output channels a
 * contiguous int16 x int8 -> int32 dot product of length KH*KW*C/groups runs against all
 * tile rows at once; gcc turns it into pmaddwd on x86 (SMLAD-friendly on Cortex-M), and
 * each filter row is loaded once per tile. |(x + off) * w| <= 255 * 128, so the dot
 * product stays in int32 for reductions shorter than 65000 taps; adding the bias and
 * the output offset is done modulo 2^32 through uint32_t, which equals the reference's
 * wrap_int32 (TFLM's int32 wrap on gcc) without undefined behaviour.
 */
#include <string.h>

#include "qc_kernels.h"

#define QC_CONV_TILE 4

/* uint32 -> int32 two's-complement reinterpretation without implementation-defined casts. */
static inline int32_t qc_conv_u32_to_s32(uint32_t u) {
    return u <= (uint32_t)INT32_MAX ? (int32_t)u : (int32_t)(u - 2147483648u) - INT32_MAX - 1;
}

static size_t qc_conv_align16(size_t n) {
    return (n + 15u) & ~(size_t)15u;
}

static int qc_conv_params_ok(const qc_conv_params *p) {
    if (p->batches < 1 || p->in_h < 1 || p->in_w < 1 || p->in_c < 1 || p->out_h < 1 || p->out_w < 1 ||
        p->out_c < 1 || p->kernel_h < 1 || p->kernel_w < 1 || p->stride_h < 1 || p->stride_w < 1 ||
        p->dilation_h < 1 || p->dilation_w < 1 || p->pad_top < 0 || p->pad_left < 0 || p->groups < 1) {
        return 0;
    }
    if (p->in_c % p->groups != 0 || p->out_c % p->groups != 0) {
        return 0;
    }
    if (p->input_offset < -127 || p->input_offset > 128 || p->act_min > p->act_max || p->act_min < -128 ||
        p->act_max > 127) {
        return 0;
    }
    return 1;
}

size_t qc_conv2d_s8_scratch_size(const qc_conv_params *p) {
    if (p == NULL || !qc_conv_params_ok(p)) {
        return 0;
    }
    const size_t k = (size_t)p->kernel_h * (size_t)p->kernel_w * (size_t)(p->in_c / p->groups);
    return qc_conv_align16((size_t)QC_CONV_TILE * k * sizeof(int16_t));
}

/* acc[4u + t] = sum_i r_t[i] * w_u[i] for tile rows r_0..r_3 and two filter rows w_0, w_1. */
static void qc_conv_dot_4x2(const int16_t *restrict r0, const int16_t *restrict r1, const int16_t *restrict r2,
                            const int16_t *restrict r3, const int8_t *restrict w0, const int8_t *restrict w1,
                            int32_t k, int32_t acc[8]) {
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
    for (int32_t i = 0; i < k; ++i) {
        const int16_t u = w0[i];
        const int16_t v = w1[i];
        a0 += r0[i] * u;
        a1 += r1[i] * u;
        a2 += r2[i] * u;
        a3 += r3[i] * u;
        b0 += r0[i] * v;
        b1 += r1[i] * v;
        b2 += r2[i] * v;
        b3 += r3[i] * v;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
    acc[4] = b0;
    acc[5] = b1;
    acc[6] = b2;
    acc[7] = b3;
}

/* acc[t] = sum_i r_t[i] * w[i] (odd output channel count per group). */
static void qc_conv_dot_4x1(const int16_t *restrict r0, const int16_t *restrict r1, const int16_t *restrict r2,
                            const int16_t *restrict r3, const int8_t *restrict w, int32_t k, int32_t acc[4]) {
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (int32_t i = 0; i < k; ++i) {
        const int16_t u = w[i];
        a0 += r0[i] * u;
        a1 += r1[i] * u;
        a2 += r2[i] * u;
        a3 += r3[i] * u;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* dst[i] = src[i] + off for n channels. */
static void qc_conv_widen(int16_t *restrict dst, const int8_t *restrict src, int32_t n, int32_t off) {
    for (int32_t i = 0; i < n; ++i) {
        dst[i] = (int16_t)(src[i] + off);
    }
}

/* Gathers the receptive field of output pixel (n, oy, ox), channels of group g, as a
 * KH*KW*Cg row of (x + input_offset) in filter order; taps outside the input are 0. */
static void qc_conv_im2col(const qc_conv_params *p, const int8_t *input, int32_t n, int32_t oy, int32_t ox,
                           int32_t g, int16_t *dst) {
    const int32_t cg = p->in_c / p->groups;
    const int32_t off = p->input_offset;
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    const int32_t ix0 = ox * p->stride_w - p->pad_left;
    const int32_t row_len = p->kernel_w * cg;
    /* Whole kernel row in bounds and contiguous in memory: one pass per kernel row. */
    const int contiguous_rows = p->groups == 1 && p->dilation_w == 1 && ix0 >= 0 && ix0 + p->kernel_w <= p->in_w;
    for (int32_t ky = 0; ky < p->kernel_h; ++ky) {
        const int32_t iy = iy0 + ky * p->dilation_h;
        if (iy < 0 || iy >= p->in_h) {
            memset(dst, 0, (size_t)row_len * sizeof(int16_t));
            dst += row_len;
            continue;
        }
        const int8_t *row = input + ((size_t)n * (size_t)p->in_h + (size_t)iy) * (size_t)p->in_w * (size_t)p->in_c;
        if (contiguous_rows) {
            qc_conv_widen(dst, row + (size_t)ix0 * (size_t)p->in_c, row_len, off);
            dst += row_len;
            continue;
        }
        for (int32_t kx = 0; kx < p->kernel_w; ++kx) {
            const int32_t ix = ix0 + kx * p->dilation_w;
            if (ix < 0 || ix >= p->in_w) {
                memset(dst, 0, (size_t)cg * sizeof(int16_t));
            } else {
                qc_conv_widen(dst, row + (size_t)ix * (size_t)p->in_c + (size_t)g * (size_t)cg, cg, off);
            }
            dst += cg;
        }
    }
}

/* out = clamp(requantize(bias + acc) + output_offset), additions modulo 2^32. */
static inline int8_t qc_conv_output(const qc_conv_params *p, const int32_t *bias, const int32_t *multiplier,
                                    const int32_t *shift, int32_t oc, int32_t acc) {
    const uint32_t b = bias != NULL ? (uint32_t)bias[oc] : 0u;
    const int32_t total = qc_conv_u32_to_s32(b + (uint32_t)acc);
    const int32_t v =
        qc_conv_u32_to_s32((uint32_t)qc_requantize(total, multiplier[oc], shift[oc]) + (uint32_t)p->output_offset);
    return qc_clamp_s8(v, p->act_min, p->act_max);
}

int qc_conv2d_s8(const qc_conv_params *p, const int8_t *input, const int8_t *filter, const int32_t *bias,
                 const int32_t *multiplier, const int32_t *shift, int8_t *output, void *scratch) {
    if (p == NULL || input == NULL || filter == NULL || multiplier == NULL || shift == NULL || output == NULL ||
        scratch == NULL || !qc_conv_params_ok(p)) {
        return QC_ERROR;
    }
    for (int32_t oc = 0; oc < p->out_c; ++oc) {
        if (shift[oc] < -31 || shift[oc] > 31) {
            return QC_ERROR;
        }
    }
    const int32_t groups = p->groups;
    const int32_t cg = p->in_c / groups;
    const int32_t ocg = p->out_c / groups;
    const int32_t k = p->kernel_h * p->kernel_w * cg;
    const int32_t pixels = p->out_h * p->out_w;
    int16_t *cols = (int16_t *)scratch;

    for (int32_t n = 0; n < p->batches; ++n) {
        int8_t *out_n = output + (size_t)n * (size_t)pixels * (size_t)p->out_c;
        for (int32_t p0 = 0; p0 < pixels; p0 += QC_CONV_TILE) {
            const int32_t count = QC_MIN(QC_CONV_TILE, pixels - p0);
            for (int32_t g = 0; g < groups; ++g) {
                const int16_t *rows[QC_CONV_TILE];
                for (int32_t t = 0; t < count; ++t) {
                    int16_t *dst = cols + (size_t)t * (size_t)k;
                    qc_conv_im2col(p, input, n, (p0 + t) / p->out_w, (p0 + t) % p->out_w, g, dst);
                    rows[t] = dst;
                }
                for (int32_t t = count; t < QC_CONV_TILE; ++t) {
                    rows[t] = rows[0]; /* tail: compute a duplicate, store nothing */
                }
                int32_t j = 0;
                for (; j + 2 <= ocg; j += 2) {
                    const int32_t oc = g * ocg + j;
                    int32_t acc[8];
                    const int8_t *w0 = filter + (size_t)oc * (size_t)k;
                    qc_conv_dot_4x2(rows[0], rows[1], rows[2], rows[3], w0, w0 + k, k, acc);
                    for (int32_t t = 0; t < count; ++t) {
                        int8_t *o = out_n + (size_t)(p0 + t) * (size_t)p->out_c + (size_t)oc;
                        o[0] = qc_conv_output(p, bias, multiplier, shift, oc, acc[t]);
                        o[1] = qc_conv_output(p, bias, multiplier, shift, oc + 1, acc[4 + t]);
                    }
                }
                for (; j < ocg; ++j) {
                    const int32_t oc = g * ocg + j;
                    int32_t acc[QC_CONV_TILE];
                    qc_conv_dot_4x1(rows[0], rows[1], rows[2], rows[3], filter + (size_t)oc * (size_t)k, k, acc);
                    for (int32_t t = 0; t < count; ++t) {
                        out_n[(size_t)(p0 + t) * (size_t)p->out_c + (size_t)oc] =
                            qc_conv_output(p, bias, multiplier, shift, oc, acc[t]);
                    }
                }
            }
        }
    }
    return QC_OK;
}
