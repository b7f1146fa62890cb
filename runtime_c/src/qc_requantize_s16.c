/* TFLM's QUANTIZE between int8 and int16 (reference_ops::Requantize): the conversions at the
 * edges of int16 regions. Twin of qcompile.reference.s16.requantize. */
#include "qc_kernels_s16.h"

static int qc_requant_ok(const void *in, const void *out, int32_t size, int32_t in_off, int32_t out_off,
                         int32_t shift) {
    return size >= 0 && (size == 0 || (in != NULL && out != NULL)) && in_off >= -32768 && in_off <= 32768 &&
           out_off >= -32768 && out_off <= 32767 && shift >= -31 && shift <= 30;
}

/* x + input_offset fits int32; the result is clamped to [lo, hi] after the exact offset add. */
static int32_t qc_requant_value(int32_t x, int32_t in_off, int32_t out_off, int32_t m, int32_t s, int32_t lo,
                                int32_t hi) {
    const int64_t v = (int64_t)qc_requantize(x + in_off, m, s) + out_off;
    return v < lo ? lo : (v > hi ? hi : (int32_t)v);
}

int qc_requantize_s8_s16(const int8_t *input, int16_t *output, int32_t size, int32_t input_offset,
                         int32_t output_offset, int32_t multiplier, int32_t shift) {
    if (!qc_requant_ok(input, output, size, input_offset, output_offset, shift)) {
        return QC_ERROR;
    }
    for (int32_t i = 0; i < size; ++i) {
        output[i] = (int16_t)qc_requant_value(input[i], input_offset, output_offset, multiplier, shift, -32768, 32767);
    }
    return QC_OK;
}

int qc_requantize_s16_s8(const int16_t *input, int8_t *output, int32_t size, int32_t input_offset,
                         int32_t output_offset, int32_t multiplier, int32_t shift) {
    if (!qc_requant_ok(input, output, size, input_offset, output_offset, shift)) {
        return QC_ERROR;
    }
    for (int32_t i = 0; i < size; ++i) {
        output[i] = (int8_t)qc_requant_value(input[i], input_offset, output_offset, multiplier, shift, -128, 127);
    }
    return QC_OK;
}

int qc_requantize_s16(const int16_t *input, int16_t *output, int32_t size, int32_t input_offset,
                      int32_t output_offset, int32_t multiplier, int32_t shift) {
    if (!qc_requant_ok(input, output, size, input_offset, output_offset, shift)) {
        return QC_ERROR;
    }
    for (int32_t i = 0; i < size; ++i) {
        output[i] = (int16_t)qc_requant_value(input[i], input_offset, output_offset, multiplier, shift, -32768, 32767);
    }
    return QC_OK;
}
