/* qcompile runtime: int8 conv2d with a residual ADD fused into its epilogue.
 *
 * Numpy twin: toolchain/reference/fused.py:conv2d_add, defined as
 * add(conv2d(x), residual): the conv result is requantised and clamped exactly as
 * qc_conv2d_s8 does, then TFLM's ADD/SUB combines it with the residual element.
 *
 * Why: the conv output is never stored whole. The conv runs one output row at a time
 * (qc_conv2d_s8 on a parameter struct restricted to that row: input pointer moved to the
 * first input row the window touches, pad_top and in_h adjusted) into a one-row band in
 * scratch; the band is then added to the residual row and written to the output row.
 * Each output element is written after the residual element at the same position was
 * read, and nothing else of the residual is read later, so output == residual (in place)
 * is safe. The conv input must not overlap the output.
 *
 * Scratch: [band: out_w * out_c bytes, rounded up to 16][qc_conv2d_s8 scratch of a row].
 */
#include <stdint.h>
#include <string.h>

#include "qc_add_elem.h"
#include "qc_kernels.h"

static size_t qc_conv2d_add_align16(size_t n) {
    return (n + 15u) & ~(size_t)15u;
}


/* The parameters of output row `oy` of one batch: batches 1, out_h 1, and the input
 * window's rows only. Returns the first input row used, or -1 when the window lies
 * entirely below the input (every tap is padding). */
static int32_t qc_conv2d_add_row_params(const qc_conv_params *p, int32_t oy, qc_conv_params *row) {
    const int32_t top = oy * p->stride_h - p->pad_top;
    const int32_t bottom = top + (p->kernel_h - 1) * p->dilation_h; /* last tap row */
    int32_t first, end;
    if (top >= p->in_h) {
        return -1;
    }
    first = top > 0 ? top : 0;
    end = bottom + 1 < p->in_h ? bottom + 1 : p->in_h;
    *row = *p;
    row->batches = 1;
    row->out_h = 1;
    row->pad_top = first - top;
    /* A window entirely inside the top padding still needs a 1-row input (never read). */
    row->in_h = end - first > 0 ? end - first : 1;
    return first;
}

size_t qc_conv2d_add_s8_scratch_size(const qc_conv_params *p) {
    qc_conv_params row;
    size_t conv;
    if (p == NULL || p->out_h < 1 || p->out_w < 1 || p->out_c < 1) {
        return 0;
    }
    /* Largest row scratch over all rows (the kernel's formula does not depend on the
     * row today, but this stays right if it ever does). */
    conv = 0;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        if (qc_conv2d_add_row_params(p, oy, &row) >= 0) {
            const size_t s = qc_conv2d_s8_scratch_size(&row);
            conv = s > conv ? s : conv;
        }
    }
    return qc_conv2d_add_align16((size_t)p->out_w * (size_t)p->out_c) + qc_conv2d_add_align16(conv);
}

int qc_conv2d_add_s8(const qc_conv_params *conv, const qc_add_params *add, int32_t conv_operand,
                     const int8_t *input, const int8_t *filter, const int32_t *bias, const int32_t *multiplier,
                     const int32_t *shift, const int8_t *residual, int8_t *output, void *scratch) {
    if (conv == NULL || add == NULL || input == NULL || filter == NULL || multiplier == NULL || shift == NULL ||
        residual == NULL || output == NULL || scratch == NULL || (conv_operand != 1 && conv_operand != 2) ||
        !qc_add_elem_params_ok(add) || conv->batches < 1 || conv->in_h < 1 || conv->out_h < 1 ||
        conv->out_w < 1 || conv->out_c < 1 || conv->stride_h < 1 || conv->dilation_h < 1 || conv->kernel_h < 1 ||
        conv->pad_top < 0 || conv->act_min > conv->act_max || conv->act_min < -128 || conv->act_max > 127) {
        return QC_ERROR;
    }
    for (int32_t oc = 0; oc < conv->out_c; ++oc) {
        if (shift[oc] < -31 || shift[oc] > 31) {
            return QC_ERROR;
        }
    }
    const size_t row_len = (size_t)conv->out_w * (size_t)conv->out_c;
    const size_t in_row = (size_t)conv->in_w * (size_t)conv->in_c;
    int8_t *band = (int8_t *)scratch;
    void *conv_scratch = (void *)((uint8_t *)scratch + qc_conv2d_add_align16(row_len));

    for (int32_t n = 0; n < conv->batches; ++n) {
        for (int32_t oy = 0; oy < conv->out_h; ++oy) {
            const size_t at = ((size_t)n * (size_t)conv->out_h + (size_t)oy) * row_len;
            qc_conv_params row;
            const int32_t first = qc_conv2d_add_row_params(conv, oy, &row);
            if (first >= 0) {
                const int8_t *in = input + ((size_t)n * (size_t)conv->in_h + (size_t)first) * in_row;
                if (qc_conv2d_s8(&row, in, filter, bias, multiplier, shift, band, conv_scratch) != QC_OK) {
                    return QC_ERROR;
                }
            } else {
                /* every tap is padding: acc = bias, requantised like qc_conv2d_s8 */
                for (size_t i = 0; i < row_len; ++i) {
                    const int32_t oc = (int32_t)(i % (size_t)conv->out_c);
                    const int32_t b = bias != NULL ? bias[oc] : 0;
                    const int32_t v = qc_u32_to_s32((uint32_t)qc_requantize(b, multiplier[oc], shift[oc]) +
                                                               (uint32_t)conv->output_offset);
                    band[i] = qc_clamp_s8(v, conv->act_min, conv->act_max);
                }
            }
            const int8_t *res = residual + at;
            int8_t *out = output + at;
            if (conv_operand == 1) {
                qc_add_row_s8(add, band, res, row_len, out);
            } else {
                qc_add_row_s8(add, res, band, row_len, out);
            }
        }
    }
    return QC_OK;
}
