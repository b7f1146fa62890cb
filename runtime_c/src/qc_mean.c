/* int8 MEAN over H and W of an NHWC tensor (TFLM's QuantizedMeanOrSum).
 * Twin of qcompile.reference.reduce.mean: the division by H*W is folded into
 * multiplier/shift at compile time, so the kernel sums, offsets and requantizes once
 * per output channel. input_offset is minus an int8 zero point, so the int32 sum stays
 * below 255 * 2^23 < 2^31 in magnitude. */
#include "qc_fixedpoint.h"
#include "qc_kernels.h"

int qc_mean_s8(const qc_mean_params *p, const int8_t *input, int8_t *output) {
    int32_t n, c, i;
    if (p == NULL || input == NULL || output == NULL) {
        return QC_ERROR;
    }
    if (p->batches < 1 || p->in_h < 1 || p->in_w < 1 || p->channels < 1 || p->shift < -31 || p->shift > 30 ||
        p->input_offset < -127 || p->input_offset > 128 || p->output_offset < -128 || p->output_offset > 127) {
        return QC_ERROR;
    }
    {
        const int32_t count = p->in_h * p->in_w;
        if (count > (1 << 23)) {
            return QC_ERROR;
        }
        for (n = 0; n < p->batches; ++n) {
            const int8_t *in = input + (size_t)n * (size_t)count * (size_t)p->channels;
            for (c = 0; c < p->channels; ++c) {
                int32_t sum = p->input_offset * count;
                for (i = 0; i < count; ++i) {
                    sum += in[(size_t)i * (size_t)p->channels + (size_t)c];
                }
                output[(size_t)n * (size_t)p->channels + (size_t)c] =
                    qc_clamp_s8(qc_requantize(sum, p->multiplier, p->shift) + p->output_offset, -128, 127);
            }
        }
    }
    return QC_OK;
}
