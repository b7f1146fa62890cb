/* qcompile runtime: int8 2-D convolution (dense and grouped), NHWC input, OHWI filter.
 *
 * Numpy twin: toolchain/reference/conv.py:conv2d (bit for bit).
 *
 * Strategy: a GEMM over (output pixels) x (output channels) with the reduction over the
 * K = KH*KW*Cg filter taps innermost, written so compilers vectorise it:
 * - im2col: the receptive fields of QC_CONV_MR output pixels are gathered into scratch as
 *   int16 values (x + input_offset), padded taps as 0, which is exactly "padding
 *   contributes nothing". Each row is zero-padded from K to Kp (K rounded up to
 *   QC_CONV_KB): the dot-product loops then have no scalar tail, which for the short
 *   reductions of first layers and 1x1 shortcuts (K = 27, 16, 40) was most of the work.
 * - micro-kernel: QC_CONV_MR pixel rows x QC_CONV_NR filter rows of int32 accumulators;
 *   each step loads every row once and does MR*NR int16 x int8 -> int32 multiply-adds,
 *   which gcc/clang turn into pmaddwd on x86 (a reduction they recognise). Filter rows
 *   are read up to Kp: the bytes past a row's K taps are the next rows', multiplied by
 *   the zero padding of the im2col rows. The last rows, whose Kp bytes would run past the
 *   end of the filter array (every row with fewer than Kp bytes from its start to the
 *   array's end: several when K < Kp - K, e.g. a 1x1 conv over 8 channels), are read
 *   from a zero-padded copy in scratch instead, so no byte outside the filter is read.
 * - epilogue: accumulators of a pixel tile and QC_CONV_CB channels go to an int32 block
 *   in scratch and are requantised QC_CONV_CB channels of a pixel at a time
 *   (qc_requant_row in qc_fixedpoint.h: qc_requantize over an array,
 *   vectorisable). The block is that small because scratch is part of the model's arena.
 * |(x + off) * w| <= 255 * 128, so the dot product stays in int32 for K < 65000; adding
 * the bias and the output offset is done modulo 2^32 through uint32_t, which equals the
 * reference's wrap_int32 (TFLM's int32 wrap on gcc) without undefined behaviour.
 *
 * Scratch: [cols: MR * Kp int16][acc: MR * CB int32][tail: the last T filter rows, then
 * zeros, (T - 1) * K + Kp int8].
 */
#include <string.h>

#include "qc_kernels.h"
#include "qc_fixedpoint.h"

#define QC_CONV_MR 4  /* output pixels per tile */
#define QC_CONV_KB 32 /* reduction padding unit: one 256-bit vector of int8 filter taps */
#define QC_CONV_CB 16 /* output channels requantised together (bounds the int32 block) */

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

/* Reduction length padded to the vector unit. */
static int32_t qc_conv_kp(const qc_conv_params *p) {
    const int32_t k = p->kernel_h * p->kernel_w * (p->in_c / p->groups);
    return (k + QC_CONV_KB - 1) / QC_CONV_KB * QC_CONV_KB;
}

/* T: how many of the filter's last rows have fewer than Kp bytes up to the array's end
 * (at least 1, the last row, which keeps the copy simple when K == Kp). */
static int32_t qc_conv_tail_rows(const qc_conv_params *p, int32_t k, int32_t kp) {
    const int32_t t = (kp + k - 1) / k - 1;
    return t < 1 ? 1 : (t > p->out_c ? p->out_c : t);
}

/* Bytes of the tail copy: T rows, then zeros so that the last of them can be read to Kp. */
static size_t qc_conv_tail_bytes(const qc_conv_params *p, int32_t k, int32_t kp) {
    return (size_t)(qc_conv_tail_rows(p, k, kp) - 1) * (size_t)k + (size_t)kp;
}

size_t qc_conv2d_s8_scratch_size(const qc_conv_params *p) {
    if (p == NULL || !qc_conv_params_ok(p)) {
        return 0;
    }
    const int32_t k = p->kernel_h * p->kernel_w * (p->in_c / p->groups);
    const size_t kp = (size_t)qc_conv_kp(p);
    return qc_conv_align16((size_t)QC_CONV_MR * kp * sizeof(int16_t)) +
           qc_conv_align16((size_t)QC_CONV_MR * QC_CONV_CB * sizeof(int32_t)) +
           qc_conv_align16(qc_conv_tail_bytes(p, k, (int32_t)kp));
}

/* Filter row oc, readable up to Kp: in place, or in the tail copy from row `first_tail` on. */
static const int8_t *qc_conv_row(const int8_t *filter, const int8_t *tail, int32_t oc, int32_t first_tail,
                                 int32_t k) {
    return oc < first_tail ? filter + (size_t)oc * (size_t)k : tail + (size_t)(oc - first_tail) * (size_t)k;
}

/* acc[t * stride + u] = sum_i r_t[i] * w_u[i], 4 pixel rows x 2 filter rows. */
static void qc_conv_dot_4x2(const int16_t *restrict r0, const int16_t *restrict r1, const int16_t *restrict r2,
                            const int16_t *restrict r3, const int8_t *restrict w0, const int8_t *restrict w1,
                            int32_t kp, int32_t *restrict acc, size_t stride) {
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
    for (int32_t i = 0; i < kp; ++i) {
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
    acc[1] = b0;
    acc[stride] = a1;
    acc[stride + 1] = b1;
    acc[2 * stride] = a2;
    acc[2 * stride + 1] = b2;
    acc[3 * stride] = a3;
    acc[3 * stride + 1] = b3;
}

/* acc[t * stride] = sum_i r_t[i] * w[i] (odd output channel count per group). */
static void qc_conv_dot_4x1(const int16_t *restrict r0, const int16_t *restrict r1, const int16_t *restrict r2,
                            const int16_t *restrict r3, const int8_t *restrict w, int32_t kp, int32_t *restrict acc,
                            size_t stride) {
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (int32_t i = 0; i < kp; ++i) {
        const int16_t u = w[i];
        a0 += r0[i] * u;
        a1 += r1[i] * u;
        a2 += r2[i] * u;
        a3 += r3[i] * u;
    }
    acc[0] = a0;
    acc[stride] = a1;
    acc[2 * stride] = a2;
    acc[3 * stride] = a3;
}

/* dst[i] = src[i] + off for n channels. */
static void qc_conv_widen(int16_t *restrict dst, const int8_t *restrict src, int32_t n, int32_t off) {
    for (int32_t i = 0; i < n; ++i) {
        dst[i] = (int16_t)(src[i] + off);
    }
}

/* Gathers the receptive field of output pixel (n, oy, ox), channels of group g, as a
 * KH*KW*Cg row of (x + input_offset) in filter order; taps outside the input are 0,
 * and so are the entries from K up to Kp. */
static void qc_conv_im2col(const qc_conv_params *p, const int8_t *input, int32_t n, int32_t oy, int32_t ox,
                           int32_t g, int32_t kp, int16_t *dst) {
    const int32_t cg = p->in_c / p->groups;
    const int32_t off = p->input_offset;
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    const int32_t ix0 = ox * p->stride_w - p->pad_left;
    const int32_t row_len = p->kernel_w * cg;
    int16_t *const end = dst + kp;
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
    if (end > dst) {
        memset(dst, 0, (size_t)(end - dst) * sizeof(int16_t));
    }
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
    const int32_t out_c = p->out_c;
    const int32_t k = p->kernel_h * p->kernel_w * cg;
    const int32_t kp = qc_conv_kp(p);
    const int32_t pixels = p->out_h * p->out_w;
    int16_t *cols = (int16_t *)scratch;
    int32_t *accs = (int32_t *)((uint8_t *)scratch + qc_conv_align16((size_t)QC_CONV_MR * (size_t)kp * sizeof(int16_t)));
    int8_t *tail = (int8_t *)accs + qc_conv_align16((size_t)QC_CONV_MR * QC_CONV_CB * sizeof(int32_t));
    /* The filter's last T rows, zero-padded so that each can be read to Kp. */
    const int32_t first_tail = out_c - qc_conv_tail_rows(p, k, kp);
    const size_t tail_bytes = qc_conv_tail_bytes(p, k, kp);
    const size_t tail_rows_bytes = (size_t)(out_c - first_tail) * (size_t)k;
    memcpy(tail, filter + (size_t)first_tail * (size_t)k, tail_rows_bytes);
    memset(tail + tail_rows_bytes, 0, tail_bytes - tail_rows_bytes);

    for (int32_t n = 0; n < p->batches; ++n) {
        int8_t *out_n = output + (size_t)n * (size_t)pixels * (size_t)out_c;
        int32_t oy = 0, ox = 0; /* coordinates of pixel p0 */
        for (int32_t p0 = 0; p0 < pixels; p0 += QC_CONV_MR) {
            const int32_t count = QC_MIN(QC_CONV_MR, pixels - p0);
            for (int32_t g = 0; g < groups; ++g) {
                const int16_t *rows[QC_CONV_MR];
                int32_t ty = oy, tx = ox;
                for (int32_t t = 0; t < count; ++t) {
                    int16_t *dst = cols + (size_t)t * (size_t)kp;
                    qc_conv_im2col(p, input, n, ty, tx, g, kp, dst);
                    rows[t] = dst;
                    if (++tx == p->out_w) {
                        tx = 0;
                        ++ty;
                    }
                }
                for (int32_t t = count; t < QC_CONV_MR; ++t) {
                    rows[t] = rows[0]; /* tail: compute a duplicate, store nothing */
                }
                for (int32_t c0 = 0; c0 < ocg; c0 += QC_CONV_CB) {
                    const int32_t cb = QC_MIN(QC_CONV_CB, ocg - c0);
                    const int32_t oc0 = g * ocg + c0;
                    int32_t j = 0;
                    for (; j + 2 <= cb; j += 2) {
                        const int32_t oc = oc0 + j;
                        const int8_t *w0 = qc_conv_row(filter, tail, oc, first_tail, k);
                        const int8_t *w1 = qc_conv_row(filter, tail, oc + 1, first_tail, k);
                        qc_conv_dot_4x2(rows[0], rows[1], rows[2], rows[3], w0, w1, kp, accs + j, QC_CONV_CB);
                    }
                    for (; j < cb; ++j) {
                        const int32_t oc = oc0 + j;
                        const int8_t *w = qc_conv_row(filter, tail, oc, first_tail, k);
                        qc_conv_dot_4x1(rows[0], rows[1], rows[2], rows[3], w, kp, accs + j, QC_CONV_CB);
                    }
                    for (int32_t t = 0; t < count; ++t) {
                        qc_requant_row(accs + (size_t)t * QC_CONV_CB, bias != NULL ? bias + oc0 : NULL,
                                       multiplier + oc0, shift + oc0, cb, p->output_offset, p->act_min, p->act_max,
                                       out_n + (size_t)(p0 + t) * (size_t)out_c + (size_t)oc0);
                    }
                }
            }
            for (int32_t t = 0; t < count; ++t) {
                if (++ox == p->out_w) {
                    ox = 0;
                    ++oy;
                }
            }
        }
    }
    return QC_OK;
}
