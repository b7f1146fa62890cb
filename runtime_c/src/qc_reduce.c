/* int8 SUM / MEAN and MAX over any set of axes of a right-aligned rank-5 tensor (TFLM's
 * QuantizedMeanOrSum and ReduceGeneric). Twins of qcompile.reference.kernels.reduce_axes.
 * Each output is computed in turn from its reduced elements, so no scratch is needed:
 * the sum is exact in int32 (input_offset is minus an int8 zero point and at most 2^23
 * elements are summed, so |sum| < 255 * 2^23 < 2^31), the same integer TFLM's
 * accumulator holds. */
#include "qc_fixedpoint.h"
#include "qc_kernels.h"
#include "qc_reduce_walk.h"

/* Output order is the input order of the kept axes (row-major), whether or not the
 * reduced axes are kept as size 1: the innermost kept axis varies fastest. The kept
 * odometer below runs innermost-first, so outputs are written at their row-major index. */
static int qc_reduce_run(const qc_reduce_params *p, const int8_t *input, int8_t *output, int is_max) {
    qc_reduce_walk w;
    int32_t ki[QC_MAX_RANK] = {0, 0, 0, 0, 0};
    size_t out_stride[QC_MAX_RANK];
    if (p == NULL || input == NULL || output == NULL || qc_reduce_walk_make(p, &w) != QC_OK) {
        return QC_ERROR;
    }
    if (!is_max && (p->shift < -31 || p->shift > 30 || p->input_offset < -127 || p->input_offset > 128 ||
                    p->output_offset < -128 || p->output_offset > 127)) {
        return QC_ERROR;
    }
    qc_reduce_out_strides(&w, out_stride);
    do {
        int32_t ri[QC_MAX_RANK] = {0, 0, 0, 0, 0};
        const int8_t *base = input + qc_reduce_offset(ki, w.keep_stride, w.keep_n);
        int8_t *dst = output + qc_reduce_offset(ki, out_stride, w.keep_n);
        if (is_max) {
            int8_t best = -128;
            do {
                const int8_t v = base[qc_reduce_offset(ri, w.red_stride, w.red_n)];
                best = v > best ? v : best;
            } while (qc_reduce_next(ri, w.red_dim, w.red_n));
            *dst = best;
        } else {
            int32_t sum = p->input_offset * w.count;
            do {
                sum += base[qc_reduce_offset(ri, w.red_stride, w.red_n)];
            } while (qc_reduce_next(ri, w.red_dim, w.red_n));
            *dst = qc_clamp_s8(qc_requantize(sum, p->multiplier, p->shift) + p->output_offset, -128, 127);
        }
    } while (qc_reduce_next(ki, w.keep_dim, w.keep_n));
    return QC_OK;
}

int qc_reduce_sum_s8(const qc_reduce_params *p, const int8_t *input, int8_t *output) {
    return qc_reduce_run(p, input, output, 0);
}

int qc_reduce_max_s8(const qc_reduce_params *p, const int8_t *input, int8_t *output) {
    return qc_reduce_run(p, input, output, 1);
}
