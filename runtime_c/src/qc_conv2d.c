/* qcompile runtime: int8 2-D convolution (dense and grouped), NHWC input, OHWI filter.
 *
 * Numpy twin: toolchain/reference/conv.py:conv2d (bit for bit).
 *
 * Strategy: im2col of QC_CONV_TILE output pixels at a time into scratch, then for each
 * output channel a contiguous int8 x int8 -> int32 dot product of length KH*KW*C/groups
 * against all tile rows at once (gcc vectorises it; the filter row is loaded once per tile).
 * The input offset is folded out of the inner loop:
 *     sum (x + off) * w = sum x * w + off * sum w,
 * with padded taps filled with the input zero point (-off), which then contribute
 * (-off) * w + off * w = 0, exactly the "padding contributes nothing" rule.
 * bias + off * sum(w) is computed once per call per channel into scratch. All additions
 * that could leave int32 (huge biases) are done modulo 2^32 through uint32_t, so the
 * result equals the reference's wrap_int32 and nothing is undefined behaviour (so is the
 * final `+ output_offset`, as TFLM's int32 addition wraps on gcc). The dot
 * product itself stays in int32 and cannot overflow for reductions shorter than 131072.
 * 1x1 convolutions that never touch padding skip im2col: every input pixel is already a
 * contiguous row.
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

/* True when a 1x1 convolution reads every output pixel's input without padding. */
static int qc_conv_is_direct(const qc_conv_params *p) {
    return p->kernel_h == 1 && p->kernel_w == 1 && p->pad_top == 0 && p->pad_left == 0 &&
           (int64_t)(p->out_h - 1) * p->stride_h < p->in_h && (int64_t)(p->out_w - 1) * p->stride_w < p->in_w;
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
    size_t size = qc_conv_align16((size_t)p->out_c * sizeof(int32_t));
    if (!qc_conv_is_direct(p)) {
        const size_t k = (size_t)p->kernel_h * (size_t)p->kernel_w * (size_t)(p->in_c / p->groups);
        size += qc_conv_align16((size_t)QC_CONV_TILE * k);
    }
    return size;
}

/* acc[t] = sum_i r_t[i] * w[i] for the QC_CONV_TILE rows r_0..r_3. */
static void qc_conv_dot_tile(const int8_t *restrict r0, const int8_t *restrict r1, const int8_t *restrict r2,
                             const int8_t *restrict r3, const int8_t *restrict w, int32_t k, int32_t acc[4]) {
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (int32_t i = 0; i < k; ++i) {
        const int32_t wi = w[i];
        a0 += (int32_t)r0[i] * wi;
        a1 += (int32_t)r1[i] * wi;
        a2 += (int32_t)r2[i] * wi;
        a3 += (int32_t)r3[i] * wi;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* Gathers the receptive field of output pixel (n, oy, ox), channels of group g, as a
 * KH*KW*Cg row in filter order; taps outside the input get the zero point. */
static void qc_conv_im2col(const qc_conv_params *p, const int8_t *input, int32_t n, int32_t oy, int32_t ox,
                           int32_t g, int8_t *dst) {
    const int32_t cg = p->in_c / p->groups;
    const int8_t zp = (int8_t)(-p->input_offset);
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    const int32_t ix0 = ox * p->stride_w - p->pad_left;
    const size_t row_bytes = (size_t)p->kernel_w * (size_t)cg;
    /* Whole kernel row in bounds and contiguous in memory: one copy per kernel row. */
    const int contiguous_rows =
        p->groups == 1 && p->dilation_w == 1 && ix0 >= 0 && ix0 + p->kernel_w <= p->in_w;
    for (int32_t ky = 0; ky < p->kernel_h; ++ky) {
        const int32_t iy = iy0 + ky * p->dilation_h;
        if (iy < 0 || iy >= p->in_h) {
            memset(dst, zp, row_bytes);
            dst += row_bytes;
            continue;
        }
        const int8_t *row = input + ((size_t)n * (size_t)p->in_h + (size_t)iy) * (size_t)p->in_w * (size_t)p->in_c;
        if (contiguous_rows) {
            memcpy(dst, row + (size_t)ix0 * (size_t)p->in_c, row_bytes);
            dst += row_bytes;
            continue;
        }
        for (int32_t kx = 0; kx < p->kernel_w; ++kx) {
            const int32_t ix = ix0 + kx * p->dilation_w;
            if (ix < 0 || ix >= p->in_w) {
                memset(dst, zp, (size_t)cg);
            } else {
                memcpy(dst, row + (size_t)ix * (size_t)p->in_c + (size_t)g * (size_t)cg, (size_t)cg);
            }
            dst += cg;
        }
    }
}

int qc_conv2d_s8(const qc_conv_params *p, const int8_t *input, const int8_t *filter, const int32_t *bias,
                 const int32_t *multiplier, const int32_t *shift, int8_t *output, void *scratch) {
    if (p == NULL || input == NULL || filter == NULL || multiplier == NULL || shift == NULL || output == NULL ||
        scratch == NULL || !qc_conv_params_ok(p)) {
        return QC_ERROR;
    }
    const int32_t groups = p->groups;
    const int32_t cg = p->in_c / groups;
    const int32_t ocg = p->out_c / groups;
    const int32_t k = p->kernel_h * p->kernel_w * cg;
    const int32_t pixels = p->out_h * p->out_w;
    const int direct = qc_conv_is_direct(p);

    /* bias_eff[oc] = bias[oc] + input_offset * sum(w[oc]) (mod 2^32). */
    int32_t *bias_eff = (int32_t *)scratch;
    int8_t *cols = (int8_t *)scratch + qc_conv_align16((size_t)p->out_c * sizeof(int32_t));
    for (int32_t oc = 0; oc < p->out_c; ++oc) {
        const int8_t *w = filter + (size_t)oc * (size_t)k;
        if (shift[oc] < -31 || shift[oc] > 31) {
            return QC_ERROR;
        }
        int32_t wsum = 0;
        for (int32_t i = 0; i < k; ++i) {
            wsum += w[i];
        }
        const uint32_t b = bias != NULL ? (uint32_t)bias[oc] : 0u;
        bias_eff[oc] = qc_conv_u32_to_s32(b + (uint32_t)p->input_offset * (uint32_t)wsum);
    }

    for (int32_t n = 0; n < p->batches; ++n) {
        int8_t *out_n = output + (size_t)n * (size_t)pixels * (size_t)p->out_c;
        for (int32_t p0 = 0; p0 < pixels; p0 += QC_CONV_TILE) {
            const int32_t count = QC_MIN(QC_CONV_TILE, pixels - p0);
            for (int32_t g = 0; g < groups; ++g) {
                const int8_t *rows[QC_CONV_TILE];
                for (int32_t t = 0; t < count; ++t) {
                    const int32_t oy = (p0 + t) / p->out_w;
                    const int32_t ox = (p0 + t) % p->out_w;
                    if (direct) {
                        const size_t pix = ((size_t)n * (size_t)p->in_h + (size_t)oy * (size_t)p->stride_h) *
                                               (size_t)p->in_w +
                                           (size_t)ox * (size_t)p->stride_w;
                        rows[t] = input + pix * (size_t)p->in_c + (size_t)g * (size_t)cg;
                    } else {
                        int8_t *dst = cols + (size_t)t * (size_t)k;
                        qc_conv_im2col(p, input, n, oy, ox, g, dst);
                        rows[t] = dst;
                    }
                }
                for (int32_t t = count; t < QC_CONV_TILE; ++t) {
                    rows[t] = rows[0]; /* tail: compute a duplicate, store nothing */
                }
                for (int32_t j = 0; j < ocg; ++j) {
                    const int32_t oc = g * ocg + j;
                    int32_t acc[QC_CONV_TILE];
                    qc_conv_dot_tile(rows[0], rows[1], rows[2], rows[3], filter + (size_t)oc * (size_t)k, k, acc);
                    for (int32_t t = 0; t < count; ++t) {
                        const int32_t total = qc_conv_u32_to_s32((uint32_t)bias_eff[oc] + (uint32_t)acc[t]);
                        const int32_t v = qc_conv_u32_to_s32(
                            (uint32_t)qc_requantize(total, multiplier[oc], shift[oc]) + (uint32_t)p->output_offset);
                        out_n[(size_t)(p0 + t) * (size_t)p->out_c + (size_t)oc] = qc_clamp_s8(v, p->act_min, p->act_max);
                    }
                }
            }
        }
    }
    return QC_OK;
}
