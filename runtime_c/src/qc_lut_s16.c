/* 16x8 elementwise functions of one int16 value: the int16 table with interpolation (TFLite's
 * LUTPopulate<int16_t> / LUTLookup scheme) and TFLM's int16 LEAKY_RELU. Twins of
 * qcompile.reference.kernels.eltwise_s16. Input and output may alias. */
#include "qc_fixedpoint.h"
#include "qc_kernels_s16.h"

int qc_lut_s16(const int16_t *table, const int16_t *input, int16_t *output, int32_t size) {
    if (table == NULL || input == NULL || output == NULL || size < 0) {
        return QC_ERROR;
    }
    for (int32_t i = 0; i < size; ++i) {
        const int32_t v = input[i];
        const int32_t index = 256 + (v >> 7); /* arithmetic shift: 0..511 */
        const int32_t base = table[index];
        const int32_t slope = (int16_t)(table[index + 1] - base);
        output[i] = (int16_t)(base + ((slope * (v & 0x7f) + 64) >> 7));
    }
    return QC_OK;
}

int qc_leaky_relu_s16(const int16_t *input, int16_t *output, int32_t size, int32_t multiplier_identity,
                      int32_t shift_identity, int32_t multiplier_alpha, int32_t shift_alpha) {
    if (input == NULL || output == NULL || size < 0 || multiplier_identity < 0 || multiplier_alpha < 0 ||
        shift_identity < -31 || shift_identity > 30 || shift_alpha < -31 || shift_alpha > 30) {
        return QC_ERROR;
    }
    for (int32_t i = 0; i < size; ++i) {
        const int32_t x = input[i];
        const int32_t v = x >= 0 ? qc_requantize(x, multiplier_identity, shift_identity)
                                 : qc_requantize(x, multiplier_alpha, shift_alpha);
        output[i] = qc_clamp_s16(v, -32768, 32767);
    }
    return QC_OK;
}
