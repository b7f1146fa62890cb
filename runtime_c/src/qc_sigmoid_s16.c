/* qcompile runtime: TFLite Micro's int16 sigmoid and tanh (reference_integer_ops::Logistic /
 * Tanh for int16). One table and one pair of functions serve the 16x8 LOGISTIC and TANH ops
 * and the LSTM gates. numpy twin: toolchain/qcompile/reference/kernels/sigmoid_s16.py
 * (docs/QUANTIZATION.md, "int16 sigmoid and tanh"). Input and output may alias.
 */
#include "qc_kernels_s16.h"
#include "qc_rnn.h"

/* sigmoid(i / 24) in unsigned 0.16 format, i = 0..255 (TFLM's sigmoid_table_uint16); qc_rnn.h
 * declares it for the inline forms the recurrent kernels use. */
const uint16_t qc_sigmoid_table_u16[256] = {
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149,
    40794, 41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369,
    47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169,
    53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
    57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370,
    60565, 60753, 60935, 61110, 61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302,
    62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186, 63279, 63368, 63454, 63536,
    63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
    64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786,
    64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079,
    65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234, 65246, 65258,
    65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
    65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
    65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474,
    65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498,
    65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
    65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522,
    65523, 65523, 65524, 65524, 65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528,
    65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530, 65530, 65530, 65531, 65531,
    65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
    65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534,
    65534, 65534, 65534, 65535,
};

/* The input in units of 1/(3*4096): multiplier 0 means the power-of-two form 3 << shift. */
static int qc_sigmoid_rescale_ok(int32_t size, int32_t *multiplier, int32_t *shift) {
    if (size < 0 || *shift < 0 || *shift > 31 || *multiplier < 0 || *multiplier > 32767 ||
        (*multiplier == 0 && *shift > 12)) {
        return 0;
    }
    if (*multiplier == 0) {
        *multiplier = 3 << *shift;
        *shift = 0;
    }
    return 1;
}

int16_t qc_logistic_s16_value(int16_t x, int32_t multiplier, int32_t shift) {
    return qc_logistic_s16_rescaled(qc_sigmoid_rescale(x, multiplier, shift));
}

int16_t qc_tanh_s16_value(int16_t x, int32_t multiplier, int32_t shift) {
    return qc_tanh_s16_rescaled(qc_sigmoid_rescale(x, multiplier, shift));
}

static int qc_sigmoid_apply(const int16_t *input, int16_t *output, int32_t size, int32_t multiplier, int32_t shift,
                            int16_t (*fn)(int16_t, int32_t, int32_t)) {
    if (!qc_sigmoid_rescale_ok(size, &multiplier, &shift)) {
        return QC_ERROR;
    }
    for (int32_t i = 0; i < size; ++i) {
        output[i] = fn(input[i], multiplier, shift);
    }
    return QC_OK;
}

int qc_logistic_s16(const int16_t *input, int16_t *output, int32_t size, int32_t input_multiplier,
                    int32_t input_left_shift) {
    return qc_sigmoid_apply(input, output, size, input_multiplier, input_left_shift, qc_logistic_s16_value);
}

int qc_tanh_s16(const int16_t *input, int16_t *output, int32_t size, int32_t input_multiplier,
                int32_t input_left_shift) {
    return qc_sigmoid_apply(input, output, size, input_multiplier, input_left_shift, qc_tanh_s16_value);
}
