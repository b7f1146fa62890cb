/* qcompile runtime: portable C99 16x8 kernels (int16 activations, int8 weights).
 *
 * TFLite Micro's int16 arithmetic (docs/QUANTIZATION.md, "16x8"); every kernel has a numpy
 * twin of the same op name in toolchain/qcompile/reference/s16.py. Activations are
 * symmetric (every zero point 0: the structs' offsets must be 0), activation bounds lie in
 * [-32768, 32767], biases are int64 (int32 for the _b32 variants). The parameter structs are qc_kernels.h's; kernels
 * take no scratch. Return value: QC_OK, or QC_ERROR on parameters they cannot handle.
 * Kept out of qc_kernels.h so that int8 models ship exactly the files they did before.
 */
#ifndef QC_KERNELS_S16_H
#define QC_KERNELS_S16_H

#include <stdint.h>

#include "qc_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

QC_INLINE int64_t qc_u64_to_s64(uint64_t u) {
    return u <= (uint64_t)INT64_MAX ? (int64_t)u : (int64_t)(u - 9223372036854775808u) - INT64_MAX - 1;
}

/* TFLM's MultiplyByQuantizedMultiplier(int64_t x, int32_t m, int shift) (shift in [-31, 7],
 * m >= 0): a 16-bit multiplier rm = m < 0x7FFF0000 ? (m + 2^15) >> 16 : 0x7FFF, one rounding:
 * int32((x * rm + 2^(14 - shift)) >> (15 - shift)); product and sum wrap modulo 2^64. */
QC_INLINE int32_t qc_requantize_s64(int64_t x, int32_t m, int32_t shift) {
    const int64_t rm = m < 0x7FFF0000 ? (int64_t)((m + (1 << 15)) >> 16) : 0x7FFF;
    const int32_t total = 15 - shift;
    const uint64_t v = (uint64_t)x * (uint64_t)rm + ((uint64_t)1 << (total - 1));
    return qc_u32_to_s32((uint32_t)(uint64_t)(qc_u64_to_s64(v) >> total));
}

/* qc_requantize_s64 for an int32 accumulator and shift in [-16, 7], from the precomputed
 * rm (as above), round = 2^(total - 1) and total = 15 - shift in [8, 31]: bits [total, total + 32)
 * of sum * rm + round, which cannot wrap in int64 (one SMLAL and three ALU instructions on Arm). */
QC_INLINE int32_t qc_requantize_s16_x32(int32_t sum, int32_t rm, int32_t round, int32_t total) {
    const uint64_t p = (uint64_t)((int64_t)sum * rm + round);
    return qc_u32_to_s32(((uint32_t)p >> total) | ((uint32_t)(p >> 32) << (32 - total)));
}

QC_INLINE int16_t qc_clamp_s16(int32_t x, int32_t lo, int32_t hi) {
    return (int16_t)(x < lo ? lo : (x > hi ? hi : x));
}

/* Convolutions: acc = bias[c] + sum x * w in int64 (padding contributes 0), out =
 * clamp(qc_requantize_s64(acc, multiplier[c], shift[c])). bias may be NULL. */
int qc_conv2d_s16(const qc_conv_params *p, const int16_t *input, const int8_t *filter, const int64_t *bias,
                  const int32_t *multiplier, const int32_t *shift, int16_t *output);
int qc_depthwise_conv2d_s16(const qc_conv_params *p, const int16_t *input, const int8_t *filter,
                            const int64_t *bias, const int32_t *multiplier, const int32_t *shift, int16_t *output);
int qc_fully_connected_s16(const qc_fc_params *p, const int16_t *input, const int8_t *filter, const int64_t *bias,
                           const int32_t *multiplier, const int32_t *shift, int16_t *output);

/* TFLM's int32-bias 16x8 conv2d / fully_connected: acc = bias[c] + sum x * w in int32
 * (wrapping), out = clamp(qc_requantize(acc, multiplier[c], shift[c])) with the int32 MBQM
 * (shift in [-31, 30]). bias may be NULL. */
int qc_conv2d_b32_s16(const qc_conv_params *p, const int16_t *input, const int8_t *filter, const int32_t *bias,
                      const int32_t *multiplier, const int32_t *shift, int16_t *output);
int qc_fully_connected_b32_s16(const qc_fc_params *p, const int16_t *input, const int8_t *filter,
                               const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
                               int16_t *output);

/* int16 ADD/SUB (left_shift 15) and MUL, broadcasting as the int8 kernels. */
int qc_add_s16(const qc_add_params *p, const int16_t *in1, const int16_t *in2, int16_t *out);
int qc_mul_s16(const qc_mul_params *p, const int16_t *in1, const int16_t *in2, int16_t *out);

int qc_max_pool2d_s16(const qc_pool_params *p, const int16_t *input, int16_t *output);
int qc_avg_pool2d_s16(const qc_pool_params *p, const int16_t *input, int16_t *output);

/* TFLM's int16 SOFTMAX over the innermost axis (depth 1..65535): exp and 1/(1+x) tables with
 * interpolation; output scale 1/32768, zero point 0. diff_min is unused; input_left_shift is a
 * signed MBQM shift in [-31, 15]. */
int qc_softmax_s16(const qc_softmax_params *p, const int16_t *input, int16_t *output);

/* TFLM's int16 SUM / MEAN over the axes marked in p->reduce (the mean's 1/count folded into
 * multiplier/shift; offsets 0; at most 65536 elements per output); also the 16x8 MEAN over H, W. */
int qc_reduce_sum_s16(const qc_reduce_params *p, const int16_t *input, int16_t *output);

/* Strided slice of int16 elements (qc_strided_slice_s8's struct and bounds checks). */
int qc_strided_slice_s16(const qc_strided_slice_params *p, const int16_t *input, int16_t *output);

int qc_pad_s16(const qc_pad_params *p, const int16_t *input, int16_t *output);
int qc_transpose_s16(const qc_transpose_params *p, const int16_t *input, int16_t *output);

/* TFLM's QUANTIZE between int8 and int16: out = clamp(qc_requantize(x + input_offset, multiplier,
 * shift) + output_offset) in the output type's range; shift in [-31, 30]. */
int qc_requantize_s8_s16(const int8_t *input, int16_t *output, int32_t size, int32_t input_offset,
                         int32_t output_offset, int32_t multiplier, int32_t shift);
int qc_requantize_s16_s8(const int16_t *input, int8_t *output, int32_t size, int32_t input_offset,
                         int32_t output_offset, int32_t multiplier, int32_t shift);
int qc_requantize_s16(const int16_t *input, int16_t *output, int32_t size, int32_t input_offset,
                      int32_t output_offset, int32_t multiplier, int32_t shift);

/* TFLM's int16 sigmoid and tanh (qc_sigmoid_s16.c): int16 in, int16 out at scale 2^-15, by
 * the 256-entry sigmoid table with linear interpolation. input_multiplier in [0, 32767]
 * (0: the power-of-two form 3 << input_left_shift, shift at most 12), input_left_shift in
 * [0, 31]. Input and output may alias. The _value forms are one element (the LSTM gates). */
int16_t qc_logistic_s16_value(int16_t x, int32_t input_multiplier, int32_t input_left_shift);
int16_t qc_tanh_s16_value(int16_t x, int32_t input_multiplier, int32_t input_left_shift);
int qc_logistic_s16(const int16_t *input, int16_t *output, int32_t size, int32_t input_multiplier,
                    int32_t input_left_shift);
int qc_tanh_s16(const int16_t *input, int16_t *output, int32_t size, int32_t input_multiplier,
                int32_t input_left_shift);

/* int16 elementwise function by a 513-entry int16 table (TFLite's LUTPopulate<int16_t> /
 * LUTLookup): entry 256 + (x >> 7) plus ((slope to the next entry) * (x & 127) + 64) >> 7,
 * slope wrapped to int16. Input and output may alias. */
int qc_lut_s16(const int16_t *table, const int16_t *input, int16_t *output, int32_t size);

/* TFLM's int16 LEAKY_RELU (zero points 0): clamp(x >= 0 ? qc_requantize(x, m_identity, s_identity)
 * : qc_requantize(x, m_alpha, s_alpha)); multipliers >= 0, shifts in [-31, 30]. May alias. */
int qc_leaky_relu_s16(const int16_t *input, int16_t *output, int32_t size, int32_t multiplier_identity,
                      int32_t shift_identity, int32_t multiplier_alpha, int32_t shift_alpha);

/* int16 MAXIMUM / MINIMUM of the stored values (one shared scale), broadcasting as the int8 kernels. */
int qc_maximum_s16(const qc_broadcast_params *p, const int16_t *in1, const int16_t *in2, int16_t *out);
int qc_minimum_s16(const qc_broadcast_params *p, const int16_t *in1, const int16_t *in2, int16_t *out);

/* TFLM's int16 PRELU: int16 input and output (offsets 0), int8 alpha broadcast (alpha_offset =
 * -its zero point): clamp(x >= 0 ? qc_requantize(x, m1, s1) : qc_requantize(x * (alpha + alpha_offset), m2, s2)). */
int qc_prelu_s16(const qc_prelu_params *p, const int16_t *input, const int8_t *alpha, int16_t *out);

/* TFLM's int16 BATCH_MATMUL (qc_batch_matmul_s8's struct): int64 sums of int16 products,
 * clamp(qc_requantize_s64(acc, output_multiplier, output_shift)); offsets 0, shift in [-31, 7]. */
int qc_batch_matmul_s16(const qc_batch_matmul_params *p, const int16_t *lhs, const int16_t *rhs, int16_t *out);

#ifdef __cplusplus
}
#endif

#endif /* QC_KERNELS_S16_H */
