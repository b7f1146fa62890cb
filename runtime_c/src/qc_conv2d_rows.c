/* qcompile runtime: conv2d and conv2d_add computed in three row bands, so that the fast
 * kernels' scratch can live in arena bytes that are dead while they run.
 *
 * Numpy twins: toolchain/reference/conv.py:conv2d and toolchain/reference/fused.py:conv2d_add
 * (bit for bit: same results as qc_conv2d_s8 / qc_conv2d_add_s8, only the order differs).
 *
 * Why: at a model's RAM peak (e.g. ResNet-8's first residual block: block input and conv
 * output alive together), the im2col scratch of qc_conv2d_s8 is the only thing above the
 * live tensors. But part of the arena is dead during the layer: the output rows not
 * written yet, and (when the conv input is read for the last time by this layer) the input
 * rows every remaining output row lies below. The memory planner places the scratch there
 * and picks the band [fast_begin, fast_end) of output rows that run with it.
 *
 * Access order (what the planner relies on; batch by batch):
 *   1. output rows [0, fast_begin): computed directly (no scratch), in increasing order;
 *   2. output rows [fast_begin, fast_end): the fast kernel, with `scratch`;
 *   3. output rows [fast_end, out_h): computed directly (no scratch).
 * So while `scratch` is in use (step 2), output rows >= fast_end are not written yet and
 * input rows < fast_begin * stride_h - pad_top are never read again. `scratch` is not
 * touched outside step 2 and may be NULL when fast_begin >= fast_end.
 * The direct path writes each output element right after reading the residual element at
 * the same position (conv2d_add), so output == residual stays safe, as in qc_conv2d_add_s8.
 */
#include <stdint.h>
#include <string.h>

#include "qc_kernels.h"

/* Elements of one pixel computed before the residual add (a local array, not scratch). */
#define QC_ROWS_CHUNK 32
/* Input taps widened to int16 at a time (a local array: 128 bytes of stack). */
#define QC_ROWS_WIDE 64

/* gcc stops recognising the widening dot product once the dot functions are inlined next
 * to the loop that fills the int16 chunk; kept out of line they vectorise. */
#if defined(__GNUC__) || defined(__clang__)
#define QC_ROWS_NOINLINE __attribute__((noinline))
#else
#define QC_ROWS_NOINLINE
#endif


/* The parameters of output rows [r0, r1) of one batch (batches 1, the input window's rows
 * only, input pointer offset returned in *first). Returns 0 when the band cannot be
 * expressed that way (its window lies entirely in the padding): the caller then computes
 * it directly. */
static int qc_rows_band(const qc_conv_params *p, int32_t r0, int32_t r1, qc_conv_params *band, int32_t *first) {
    const int32_t top = r0 * p->stride_h - p->pad_top;
    const int32_t bottom = (r1 - 1) * p->stride_h - p->pad_top + (p->kernel_h - 1) * p->dilation_h;
    const int32_t lo = top > 0 ? top : 0;
    const int32_t end = bottom + 1 < p->in_h ? bottom + 1 : p->in_h;
    if (lo >= end) {
        return 0;
    }
    *band = *p;
    band->batches = 1;
    band->out_h = r1 - r0;
    band->pad_top = lo - top;
    band->in_h = end - lo;
    *first = lo;
    return 1;
}

/* acc[t] += sum_i x[i] * w_t[i] for 4 filter rows w_t, x already
 * widened to int16 with the input offset: the int16 x int8 -> int32 dot product compilers
 * vectorise (pmaddwd on x86), as in qc_conv2d.c. */
QC_ROWS_NOINLINE static void qc_rows_dot4(const int16_t *restrict x, const int8_t *restrict w0, const int8_t *restrict w1,
                         const int8_t *restrict w2, const int8_t *restrict w3, int32_t n, int32_t *restrict acc) {
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    /* a trip count the compiler knows to be a multiple of 16 needs no scalar epilogue,
     * which is what gcc -O2's cheap vectoriser asks for; the rest is a scalar tail */
    const int32_t nv = n & ~15;
    int32_t i = 0;
    for (; i < nv; ++i) {
        const int16_t u0 = w0[i], u1 = w1[i], u2 = w2[i], u3 = w3[i];
        a0 += x[i] * u0;
        a1 += x[i] * u1;
        a2 += x[i] * u2;
        a3 += x[i] * u3;
    }
    for (; i < n; ++i) {
        const int16_t u0 = w0[i], u1 = w1[i], u2 = w2[i], u3 = w3[i];
        a0 += x[i] * u0;
        a1 += x[i] * u1;
        a2 += x[i] * u2;
        a3 += x[i] * u3;
    }
    acc[0] += a0;
    acc[1] += a1;
    acc[2] += a2;
    acc[3] += a3;
}

/* acc[0] += sum_i x[i] * w[i]. */
QC_ROWS_NOINLINE static void qc_rows_dot1(const int16_t *restrict x, const int8_t *restrict w, int32_t n, int32_t *restrict acc) {
    int32_t a = 0;
    const int32_t nv = n & ~15; /* see qc_rows_dot4 */
    int32_t i = 0;
    for (; i < nv; ++i) {
        const int16_t u = w[i];
        a += x[i] * u;
    }
    for (; i < n; ++i) {
        const int16_t u = w[i];
        a += x[i] * u;
    }
    acc[0] += a;
}

/* acc[j] = sum (x + input_offset) * w over the taps inside the input, for output pixel
 * (oy, ox) and the `count` output channels oc0.. of one group (`in`: the batch's first
 * input row). |(x + off) * w| <= 255 * 128 and K < 65000 (checked), so int32 holds it. */
static void qc_rows_acc(const qc_conv_params *p, const int8_t *in, const int8_t *filter, int32_t oy, int32_t ox,
                        int32_t oc0, int32_t count, int32_t *acc) {
    const int32_t cg = p->in_c / p->groups;
    const int32_t g = oc0 / (p->out_c / p->groups);
    const int32_t off = p->input_offset;
    const size_t k = (size_t)p->kernel_h * (size_t)p->kernel_w * (size_t)cg;
    const int32_t ix0 = ox * p->stride_w - p->pad_left;
    int16_t xs[QC_ROWS_WIDE]; /* input taps widened with the offset, a chunk at a time */
    /* in-bounds kx range; one contiguous run of taps per kernel row when possible */
    const int runs = p->groups == 1 && p->dilation_w == 1;
    int32_t kx_lo = 0, kx_hi = p->kernel_w;
    if (runs) {
        kx_lo = ix0 < 0 ? -ix0 : 0;
        kx_hi = QC_MIN(p->kernel_w, p->in_w - ix0);
    }
    for (int32_t j = 0; j < count; ++j) {
        acc[j] = 0;
    }
    for (int32_t ky = 0; ky < p->kernel_h; ++ky) {
        const int32_t iy = oy * p->stride_h - p->pad_top + ky * p->dilation_h;
        if (iy < 0 || iy >= p->in_h) {
            continue;
        }
        const int8_t *row = in + (size_t)iy * (size_t)p->in_w * (size_t)p->in_c + (size_t)g * (size_t)cg;
        for (int32_t kx = kx_lo; kx < kx_hi; kx += runs ? kx_hi - kx_lo : 1) {
            const int32_t ix = ix0 + kx * p->dilation_w;
            if (ix < 0 || ix >= p->in_w) {
                continue;
            }
            const int32_t n = runs ? (kx_hi - kx_lo) * cg : cg;
            const int8_t *x = row + (size_t)ix * (size_t)p->in_c;
            const int8_t *w = filter + (size_t)oc0 * k + ((size_t)ky * (size_t)p->kernel_w + (size_t)kx) * (size_t)cg;
            for (int32_t c = 0; c < n; c += QC_ROWS_WIDE) {
                const int32_t m = QC_MIN(QC_ROWS_WIDE, n - c);
                for (int32_t i = 0; i < m; ++i) {
                    xs[i] = (int16_t)(x[c + i] + off);
                }
                int32_t j = 0;
                for (; j + 4 <= count; j += 4) {
                    const int8_t *w0 = w + (size_t)j * k + (size_t)c;
                    qc_rows_dot4(xs, w0, w0 + k, w0 + 2 * k, w0 + 3 * k, m, acc + j);
                }
                for (; j < count; ++j) {
                    qc_rows_dot1(xs, w + (size_t)j * k + (size_t)c, m, acc + j);
                }
            }
        }
    }
}

/* Output rows [r0, r1) of one batch without scratch; with `add`, each chunk of a pixel's
 * channels is added to the residual at the same position before it is stored. */
static int qc_rows_direct(const qc_conv_params *p, int32_t r0, int32_t r1, const int8_t *in, const int8_t *filter,
                          const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
                          const qc_add_params *add, int32_t operand, const int8_t *residual, int8_t *out) {
    int8_t chunk[QC_ROWS_CHUNK];
    int32_t accs[QC_ROWS_CHUNK];
    qc_add_params one;
    if (add != NULL) {
        one = *add;
        for (int32_t i = 0; i < QC_MAX_RANK; ++i) {
            one.out_shape[i] = 1;
            one.in1_strides[i] = 0;
            one.in2_strides[i] = 0;
        }
        one.in1_strides[QC_MAX_RANK - 1] = 1;
        one.in2_strides[QC_MAX_RANK - 1] = 1;
    }
    for (int32_t oy = r0; oy < r1; ++oy) {
        for (int32_t ox = 0; ox < p->out_w; ++ox) {
            const size_t at = ((size_t)oy * (size_t)p->out_w + (size_t)ox) * (size_t)p->out_c;
            const int32_t ocg = p->out_c / p->groups;
            int32_t n = 0;
            for (int32_t c0 = 0; c0 < p->out_c; c0 += n) {
                /* a chunk never straddles groups: it ends at the group's last channel */
                n = QC_MIN(QC_ROWS_CHUNK, ocg - c0 % ocg);
                qc_rows_acc(p, in, filter, oy, ox, c0, n, accs);
                for (int32_t j = 0; j < n; ++j) {
                    const int32_t oc = c0 + j;
                    const uint32_t acc = (uint32_t)accs[j] + (uint32_t)(bias != NULL ? bias[oc] : 0);
                    const int32_t r = qc_requantize(qc_u32_to_s32(acc), multiplier[oc], shift[oc]);
                    const int32_t v = qc_u32_to_s32((uint32_t)r + (uint32_t)p->output_offset);
                    chunk[j] = qc_clamp_s8(v, p->act_min, p->act_max);
                }
                if (add == NULL) {
                    memcpy(out + at + c0, chunk, (size_t)n);
                    continue;
                }
                one.out_shape[QC_MAX_RANK - 1] = n;
                const int8_t *res = residual + at + c0;
                const int rc = operand == 1 ? qc_add_s8(&one, chunk, res, out + at + c0)
                                            : qc_add_s8(&one, res, chunk, out + at + c0);
                if (rc != QC_OK) {
                    return QC_ERROR;
                }
            }
        }
    }
    return QC_OK;
}

static int qc_rows_ok(const qc_conv_params *p, int32_t fast_begin, int32_t fast_end, const int32_t *shift) {
    if (p == NULL || shift == NULL || p->batches < 1 || p->in_h < 1 || p->in_w < 1 || p->in_c < 1 ||
        p->out_h < 1 || p->out_w < 1 || p->out_c < 1 || p->kernel_h < 1 || p->kernel_w < 1 || p->stride_h < 1 ||
        p->stride_w < 1 || p->dilation_h < 1 || p->dilation_w < 1 || p->pad_top < 0 || p->pad_left < 0 ||
        p->groups < 1 || p->in_c % p->groups != 0 || p->out_c % p->groups != 0 || p->act_min > p->act_max ||
        p->act_min < -128 || p->act_max > 127 || p->input_offset < -127 || p->input_offset > 128) {
        return 0;
    }
    if ((int64_t)p->kernel_h * p->kernel_w * (p->in_c / p->groups) >= 65000) {
        return 0; /* the int32 dot product bound (see qc_rows_acc) */
    }
    if (fast_begin < 0 || fast_end > p->out_h || fast_begin > fast_end) {
        return 0;
    }
    for (int32_t oc = 0; oc < p->out_c; ++oc) {
        if (shift[oc] < -31 || shift[oc] > 31) {
            return 0;
        }
    }
    return 1;
}

/* Shared driver: add == NULL for plain conv2d. */
static int qc_rows_run(const qc_conv_params *p, const qc_add_params *add, int32_t operand, int32_t fast_begin,
                       int32_t fast_end, const int8_t *input, const int8_t *filter, const int32_t *bias,
                       const int32_t *multiplier, const int32_t *shift, const int8_t *residual, int8_t *output,
                       void *scratch) {
    if (input == NULL || filter == NULL || multiplier == NULL || output == NULL ||
        !qc_rows_ok(p, fast_begin, fast_end, shift) || (fast_begin < fast_end && scratch == NULL)) {
        return QC_ERROR;
    }
    const size_t in_batch = (size_t)p->in_h * (size_t)p->in_w * (size_t)p->in_c;
    const size_t out_row = (size_t)p->out_w * (size_t)p->out_c;
    const size_t out_batch = (size_t)p->out_h * out_row;
    const size_t in_row = (size_t)p->in_w * (size_t)p->in_c;
    for (int32_t n = 0; n < p->batches; ++n) {
        const int8_t *in = input + (size_t)n * in_batch;
        int8_t *out = output + (size_t)n * out_batch;
        const int8_t *res = residual != NULL ? residual + (size_t)n * out_batch : NULL;
        if (qc_rows_direct(p, 0, fast_begin, in, filter, bias, multiplier, shift, add, operand, res, out) != QC_OK) {
            return QC_ERROR;
        }
        int32_t direct_from = fast_end;
        if (fast_begin < fast_end) {
            qc_conv_params band;
            int32_t first = 0;
            if (qc_rows_band(p, fast_begin, fast_end, &band, &first)) {
                const int8_t *band_in = in + (size_t)first * in_row;
                int8_t *band_out = out + (size_t)fast_begin * out_row;
                int rc;
                if (add == NULL) {
                    rc = qc_conv2d_s8(&band, band_in, filter, bias, multiplier, shift, band_out, scratch);
                } else {
                    rc = qc_conv2d_add_s8(&band, add, operand, band_in, filter, bias, multiplier, shift,
                                          res + (size_t)fast_begin * out_row, band_out, scratch);
                }
                if (rc != QC_OK) {
                    return QC_ERROR;
                }
            } else {
                direct_from = fast_begin; /* window entirely in the padding: no input to restrict to */
            }
        }
        if (qc_rows_direct(p, direct_from, p->out_h, in, filter, bias, multiplier, shift, add, operand, res, out) !=
            QC_OK) {
            return QC_ERROR;
        }
    }
    return QC_OK;
}

int qc_conv2d_rows_s8(const qc_conv_params *p, int32_t fast_begin, int32_t fast_end, const int8_t *input,
                      const int8_t *filter, const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
                      int8_t *output, void *scratch) {
    return qc_rows_run(p, NULL, 1, fast_begin, fast_end, input, filter, bias, multiplier, shift, NULL, output,
                       scratch);
}

int qc_conv2d_add_rows_s8(const qc_conv_params *conv, const qc_add_params *add, int32_t conv_operand,
                          int32_t fast_begin, int32_t fast_end, const int8_t *input, const int8_t *filter,
                          const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
                          const int8_t *residual, int8_t *output, void *scratch) {
    if (add == NULL || residual == NULL || (conv_operand != 1 && conv_operand != 2)) {
        return QC_ERROR;
    }
    return qc_rows_run(conv, add, conv_operand, fast_begin, fast_end, input, filter, bias, multiplier, shift,
                       residual, output, scratch);
}

/* ---- row streaming: output rows [r0, r1) of a batch-1 conv through row windows ---------- */

/* Shared driver of the band kernels: input row iy at input + (iy - in_first) * in_row, output
 * row oy at output + (oy - out_first) * out_row, the residual (conv2d_add) a whole tensor. */
static int qc_band_run(const qc_conv_params *p, const qc_add_params *add, int32_t operand, int32_t r0, int32_t r1,
                       int32_t in_first, int32_t out_first, const int8_t *input, const int8_t *filter,
                       const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
                       const int8_t *residual, int8_t *output, void *scratch) {
    if (input == NULL || filter == NULL || multiplier == NULL || output == NULL || scratch == NULL ||
        !qc_rows_ok(p, r0, r1, shift) || p->batches != 1 || in_first < 0 || out_first < 0 || out_first > r0) {
        return QC_ERROR;
    }
    if (r0 == r1) {
        return QC_OK;
    }
    const size_t in_row = (size_t)p->in_w * (size_t)p->in_c;
    const size_t out_row = (size_t)p->out_w * (size_t)p->out_c;
    int8_t *out = output + (size_t)(r0 - out_first) * out_row;
    const int8_t *res = residual != NULL ? residual + (size_t)r0 * out_row : NULL;
    qc_conv_params band;
    int32_t first = 0;
    if (!qc_rows_band(p, r0, r1, &band, &first)) {
        /* every window in the padding: nothing is read, output = requantised bias */
        band = *p;
        band.out_h = r1 - r0;
        band.pad_top = p->pad_top - r0 * p->stride_h;
        return qc_rows_direct(&band, 0, r1 - r0, input, filter, bias, multiplier, shift, add, operand, res, out);
    }
    if (first < in_first) {
        return QC_ERROR; /* the window does not hold the rows the band reads */
    }
    const int8_t *in = input + (size_t)(first - in_first) * in_row;
    if (add == NULL) {
        return qc_conv2d_s8(&band, in, filter, bias, multiplier, shift, out, scratch);
    }
    return qc_conv2d_add_s8(&band, add, operand, in, filter, bias, multiplier, shift, res, out, scratch);
}

int qc_conv2d_band_s8(const qc_conv_params *p, int32_t r0, int32_t r1, int32_t in_first, int32_t out_first,
                      const int8_t *input, const int8_t *filter, const int32_t *bias, const int32_t *multiplier,
                      const int32_t *shift, int8_t *output, void *scratch) {
    return qc_band_run(p, NULL, 1, r0, r1, in_first, out_first, input, filter, bias, multiplier, shift, NULL, output,
                       scratch);
}

int qc_conv2d_add_band_s8(const qc_conv_params *conv, const qc_add_params *add, int32_t conv_operand, int32_t r0,
                          int32_t r1, int32_t in_first, int32_t out_first, const int8_t *input, const int8_t *filter,
                          const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
                          const int8_t *residual, int8_t *output, void *scratch) {
    if (add == NULL || residual == NULL || (conv_operand != 1 && conv_operand != 2)) {
        return QC_ERROR;
    }
    return qc_band_run(conv, add, conv_operand, r0, r1, in_first, out_first, input, filter, bias, multiplier, shift,
                       residual, output, scratch);
}
