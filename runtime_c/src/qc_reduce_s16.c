/* TFLM's int16 SUM / MEAN over any set of axes (QuantizedMeanOrSum<int16_t, int32_t>), and the
 * 16x8 MEAN over H and W (the same arithmetic). Twin of qcompile.reference.s16.reduce_sum:
 * out = clamp(MBQM(sum, multiplier, shift), -32768, 32767), zero points 0. At most 65536
 * elements per output, so the int32 sum is exact (|sum| <= 2^15 * 2^16), as TFLM's is. */
#include "qc_kernels_s16.h"
#include "qc_reduce_walk.h"

int qc_reduce_sum_s16(const qc_reduce_params *p, const int16_t *input, int16_t *output) {
    qc_reduce_walk w;
    int32_t ki[QC_MAX_RANK] = {0, 0, 0, 0, 0};
    size_t out_stride[QC_MAX_RANK];
    if (p == NULL || input == NULL || output == NULL || qc_reduce_walk_make(p, &w) != QC_OK ||
        w.count > (1 << 16) || p->shift < -31 || p->shift > 30 || p->input_offset != 0 || p->output_offset != 0) {
        return QC_ERROR;
    }
    qc_reduce_out_strides(&w, out_stride);
    do {
        int32_t ri[QC_MAX_RANK] = {0, 0, 0, 0, 0};
        const int16_t *base = input + qc_reduce_offset(ki, w.keep_stride, w.keep_n);
        int32_t sum = 0;
        do {
            sum += base[qc_reduce_offset(ri, w.red_stride, w.red_n)];
        } while (qc_reduce_next(ri, w.red_dim, w.red_n));
        output[qc_reduce_offset(ki, out_stride, w.keep_n)] =
            qc_clamp_s16(qc_requantize(sum, p->multiplier, p->shift), -32768, 32767);
    } while (qc_reduce_next(ki, w.keep_dim, w.keep_n));
    return QC_OK;
}
