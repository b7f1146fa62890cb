/* qcompile runtime: portable C99 int8 kernels.
 *
 * Every kernel here has a numpy twin in toolchain/reference/kernels.py and the pair
 * must agree bit for bit on every input (docs/QUANTIZATION.md states the arithmetic).
 * Layout: activations NHWC, conv filters OHWI ([out_c][kh][kw][in_c / groups]),
 * depthwise filters [kh][kw][out_c], fully-connected filters [out][in].
 * Offsets follow TFLite: input_offset = -input_zero_point, output_offset = output_zero_point.
 * Multipliers/shifts: TFLite convention (Q31 multiplier, shift > 0 = left).
 * Kernels never allocate; those that need working memory take a `scratch` pointer whose
 * size the matching *_scratch_size() returns (0 means NULL is fine).
 * Names: qc_<op>[_<variant>]_<dtype>, like CMSIS-NN's arm_<op>[_<variant>]_<dtype>.
 * Return value (every kernel): QC_OK, or QC_ERROR on parameters the kernel cannot handle;
 * the generated model checks it after every call.
 * Memory: a kernel reads and writes only inside the arrays it is given (sizes implied by
 * its parameters), never past their ends: tests/runtime_c runs each one under ASan/UBSan
 * with every array at the very end of a guarded allocation.
 */
#ifndef QC_KERNELS_H
#define QC_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "qc_fixedpoint.h"

#ifdef __cplusplus
extern "C" {
#endif

#define QC_OK 0
#define QC_ERROR 1

/* Broadcasting elementwise ops work on shapes padded on the left to this rank. */
#define QC_MAX_RANK 5

/* ---- convolution family ------------------------------------------------------------ */

typedef struct {
    int32_t batches;
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left; /* bottom/right padding is implied by out_h/out_w */
    int32_t groups;            /* conv2d only: in_c and out_c are multiples of it */
    int32_t depth_multiplier;  /* depthwise only: out_c = in_c * depth_multiplier */
    int32_t input_offset;      /* -input zero point */
    int32_t output_offset;     /* output zero point */
    int32_t act_min, act_max;  /* fused activation clamp, in output quantized units */
} qc_conv_params;

/* acc[c] = bias[c] + sum (x + input_offset) * w, padding contributes 0;
 * out = clamp(qc_requantize(acc, multiplier[c], shift[c]) + output_offset, act_min, act_max). */
int qc_conv2d_s8(const qc_conv_params *p, const int8_t *input, const int8_t *filter,
                 const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
                 int8_t *output, void *scratch);
size_t qc_conv2d_s8_scratch_size(const qc_conv_params *p);

int qc_depthwise_conv2d_s8(const qc_conv_params *p, const int8_t *input, const int8_t *filter,
                           const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
                           int8_t *output, void *scratch);
size_t qc_depthwise_conv2d_s8_scratch_size(const qc_conv_params *p);

/* ---- fully connected --------------------------------------------------------------- */

typedef struct {
    int32_t batches;       /* rows of the input matrix */
    int32_t in_features;   /* K */
    int32_t out_features;  /* N */
    int32_t input_offset, output_offset;
    int32_t act_min, act_max;
    int32_t per_channel;   /* 1: multiplier/shift have N entries; 0: one entry */
} qc_fc_params;

/* out[b][n] = clamp(qc_requantize(bias[n] + sum_k (x[b][k] + input_offset) * w[n][k]) + output_offset) */
int qc_fully_connected_s8(const qc_fc_params *p, const int8_t *input, const int8_t *filter,
                          const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
                          int8_t *output, void *scratch);
size_t qc_fully_connected_s8_scratch_size(const qc_fc_params *p);

/* ---- broadcasting binary elementwise ------------------------------------------------ */

/* Shapes are right-aligned to QC_MAX_RANK; strides are in elements, 0 on broadcast axes. */
typedef struct {
    int32_t out_shape[QC_MAX_RANK];
    int32_t in1_strides[QC_MAX_RANK];
    int32_t in2_strides[QC_MAX_RANK];
    int32_t subtract; /* 0: add, 1: sub (in1 - in2) */
    int32_t input1_offset, input2_offset, output_offset;
    int32_t left_shift; /* 20 for int8 */
    int32_t input1_multiplier, input1_shift;
    int32_t input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
} qc_add_params;

int qc_add_s8(const qc_add_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);

typedef struct {
    int32_t out_shape[QC_MAX_RANK];
    int32_t in1_strides[QC_MAX_RANK];
    int32_t in2_strides[QC_MAX_RANK];
    int32_t input1_offset, input2_offset, output_offset;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
} qc_mul_params;

int qc_mul_s8(const qc_mul_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);

/* Broadcast geometry alone: MAXIMUM / MINIMUM compare raw int8 values (TFLM). */
typedef struct {
    int32_t out_shape[QC_MAX_RANK];
    int32_t in1_strides[QC_MAX_RANK];
    int32_t in2_strides[QC_MAX_RANK];
} qc_broadcast_params;

int qc_maximum_s8(const qc_broadcast_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
int qc_minimum_s8(const qc_broadcast_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);

/* TFLM's int8 PRELU: in2 is alpha (broadcast, e.g. one slope per channel).
 * v = x + input_offset; out = clamp((v >= 0 ? MBQM(v, m1, s1) : MBQM(v * (alpha + alpha_offset), m2, s2))
 * + output_offset). */
typedef struct {
    int32_t out_shape[QC_MAX_RANK];
    int32_t in1_strides[QC_MAX_RANK];
    int32_t in2_strides[QC_MAX_RANK];
    int32_t input_offset, alpha_offset, output_offset;
    int32_t output_multiplier_1, output_shift_1;
    int32_t output_multiplier_2, output_shift_2;
} qc_prelu_params;

int qc_prelu_s8(const qc_prelu_params *p, const int8_t *input, const int8_t *alpha, int8_t *out);

/* TFLM's int8 DIV, broadcast, with the MUL parameter struct (output_multiplier/shift from
 * s1 / (s2 * s_out)): the quotient (x1 + input1_offset) / (x2 + input2_offset) times
 * output_multiplier * 2^(output_shift - 31), rounded half away from zero, + output_offset,
 * clamped to [act_min, act_max]; a zero divisor saturates (docs/QUANTIZATION.md, "div"). */
int qc_div_s8(const qc_mul_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);

/* ---- pooling ------------------------------------------------------------------------ */

typedef struct {
    int32_t batches;
    int32_t in_h, in_w, channels;
    int32_t out_h, out_w;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left;
    int32_t act_min, act_max;
} qc_pool_params;

int qc_max_pool2d_s8(const qc_pool_params *p, const int8_t *input, int8_t *output);
int qc_avg_pool2d_s8(const qc_pool_params *p, const int8_t *input, int8_t *output, void *scratch);
size_t qc_avg_pool2d_s8_scratch_size(const qc_pool_params *p);

/* ---- softmax (TFLM's int8 algorithm; output scale 1/256, zero point -128) ------------ */

typedef struct {
    int32_t outer;  /* number of rows */
    int32_t depth;  /* row length (softmax axis, innermost) */
    int32_t input_multiplier;
    int32_t input_left_shift;
    int32_t diff_min;
} qc_softmax_params;

int qc_softmax_s8(const qc_softmax_params *p, const int8_t *input, int8_t *output);

/* GetReciprocal of a row's Q12.19 sum of exps (2^19 <= sum < 2^31): returns the Q0.31
 * reciprocal of sum / 2^num_bits_over_unit and sets num_bits_over_unit (TFLM softmax). */
int32_t qc_softmax_reciprocal(uint32_t sum, int32_t *num_bits_over_unit);

/* ---- table lookup: every elementwise unary int8 op ---------------------------------- */

int qc_lut_s8(const int8_t table[256], const int8_t *input, int8_t *output, int32_t size);

/* ---- data movement ------------------------------------------------------------------ */

/* out = concatenation along an axis: each of `outer` slices copies inner_sizes[i] bytes
 * from inputs[i] in turn. */
int qc_concat_s8(int32_t outer, int32_t num_inputs, const int8_t *const *inputs, const int32_t *inner_sizes,
                 int8_t *output);

/* Constant padding of a QC_MAX_RANK (right-aligned) tensor. */
typedef struct {
    int32_t in_shape[QC_MAX_RANK];
    int32_t pad_before[QC_MAX_RANK];
    int32_t pad_after[QC_MAX_RANK];
    int32_t pad_value;
} qc_pad_params;

int qc_pad_s8(const qc_pad_params *p, const int8_t *input, int8_t *output);

/* out[...] = in transposed: out axis i is in axis perm[i]; QC_MAX_RANK, right-aligned. */
typedef struct {
    int32_t in_shape[QC_MAX_RANK];
    int32_t perm[QC_MAX_RANK];
} qc_transpose_params;

int qc_transpose_s8(const qc_transpose_params *p, const int8_t *input, int8_t *output);

int qc_copy_s8(const int8_t *input, int8_t *output, int32_t size);

/* out[i0..i4] = in[begin[k] + i_k * strides[k]] (TFLite STRIDED_SLICE, SLICE, SPLIT, SPLIT_V);
 * QC_MAX_RANK, right-aligned; every index read must lie inside in_shape. */
typedef struct {
    int32_t in_shape[QC_MAX_RANK];
    int32_t begin[QC_MAX_RANK];
    int32_t out_shape[QC_MAX_RANK];
    int32_t strides[QC_MAX_RANK];
} qc_strided_slice_params;

int qc_strided_slice_s8(const qc_strided_slice_params *p, const int8_t *input, int8_t *output);
/* The same on elements of elem_size bytes (the int16 kernel's body). */
int qc_strided_slice_elems(const qc_strided_slice_params *p, const void *input, void *output, size_t elem_size);

/* ---- fused conv2d + residual add (qc_conv2d_add.c) ---------------------------------- */

/* out = add(conv2d(input), residual) with the add's scalar parameters from `add` (its
 * shapes/strides are ignored: residual and output have the conv output's shape);
 * conv_operand 1: the conv result is the add's first input, 2: its second.
 * Bit-identical to qc_conv2d_s8 followed by qc_add_s8, without storing the conv output.
 * output may be the residual buffer (in place); it must not overlap `input`. */
int qc_conv2d_add_s8(const qc_conv_params *conv, const qc_add_params *add, int32_t conv_operand,
                     const int8_t *input, const int8_t *filter, const int32_t *bias, const int32_t *multiplier,
                     const int32_t *shift, const int8_t *residual, int8_t *output, void *scratch);
size_t qc_conv2d_add_s8_scratch_size(const qc_conv_params *conv);

/* ---- row bands: conv working memory in dead arena bytes (qc_conv2d_rows.c) -------------- */

/* Same results as qc_conv2d_s8 / qc_conv2d_add_s8. Per batch: output rows [0, fast_begin)
 * are computed directly (no scratch), rows [fast_begin, fast_end) by the fast kernel with
 * `scratch` (its *_scratch_size bytes), rows [fast_end, out_h) directly again. While
 * `scratch` is in use, output rows >= fast_end are unwritten and input rows below
 * fast_begin * stride_h - pad_top are never read again, so the memory planner may put the
 * scratch there. scratch may be NULL when fast_begin == fast_end. */
int qc_conv2d_rows_s8(const qc_conv_params *p, int32_t fast_begin, int32_t fast_end, const int8_t *input,
                      const int8_t *filter, const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
                      int8_t *output, void *scratch);
int qc_conv2d_add_rows_s8(const qc_conv_params *conv, const qc_add_params *add, int32_t conv_operand,
                          int32_t fast_begin, int32_t fast_end, const int8_t *input, const int8_t *filter,
                          const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
                          const int8_t *residual, int8_t *output, void *scratch);

/* ---- MEAN over H and W (qc_mean.c) ------------------------------------------------------ */

/* out[n, c] = clamp(MBQM(sum_{h,w} in[n,h,w,c] + input_offset * H * W, multiplier, shift)
 * + output_offset): TFLM's int8 MEAN with the 1/(H*W) folded into multiplier/shift. */
typedef struct {
    int32_t batches;
    int32_t in_h;
    int32_t in_w;
    int32_t channels;
    int32_t input_offset;
    int32_t output_offset;
    int32_t multiplier;
    int32_t shift;
} qc_mean_params;

int qc_mean_s8(const qc_mean_params *p, const int8_t *input, int8_t *output);

/* ---- reductions over any axes (qc_reduce.c) ---------------------------------------------- */

/* Input shape right-aligned to QC_MAX_RANK; reduce[k] = 1 for a reduced axis. The output is
 * the kept axes in input order (keep_dims only changes the shape, not the bytes).
 * sum: out = clamp(MBQM(sum + input_offset * count, multiplier, shift) + output_offset)
 * (TFLM's SUM, and MEAN with 1/count folded into multiplier/shift); at most 2^23 elements
 * per output. max: the int8 maximum (input and output share their quantization; the
 * offsets, multiplier and shift are ignored). */
typedef struct {
    int32_t in_shape[QC_MAX_RANK];
    int32_t reduce[QC_MAX_RANK];
    int32_t input_offset;
    int32_t output_offset;
    int32_t multiplier;
    int32_t shift;
} qc_reduce_params;

int qc_reduce_sum_s8(const qc_reduce_params *p, const int8_t *input, int8_t *output);
int qc_reduce_max_s8(const qc_reduce_params *p, const int8_t *input, int8_t *output);

/* ---- gather with constant indices (qc_gather.c) ----------------------------------------- */

/* Input [outer, axis_size, inner]; out[o, j, :] = in[o, indices[j], :] for j < num_indices. */
typedef struct {
    int32_t outer;
    int32_t axis_size;
    int32_t inner;
    int32_t num_indices;
} qc_gather_params;

int qc_gather_s8(const qc_gather_params *p, const int32_t *indices, const int8_t *input, int8_t *output);

/* ---- resize of an NHWC tensor (qc_resize.c) ---------------------------------------------- */

typedef struct {
    int32_t batches;
    int32_t in_h, in_w, channels;
    int32_t out_h, out_w;
    int32_t align_corners;      /* bilinear only */
    int32_t half_pixel_centers; /* bilinear only */
} qc_resize_params;

/* out[n, y, x, :] = in[n, y_index[y], x_index[x], :] (tables computed at compile time). */
int qc_resize_nearest_s8(const qc_resize_params *p, const int32_t *y_index, const int32_t *x_index,
                         const int8_t *input, int8_t *output);
/* TFLM's ResizeBilinearInteger (10 fractional bits, raw int8 values blended). */
int qc_resize_bilinear_s8(const qc_resize_params *p, const int8_t *input, int8_t *output);

/* ---- transposed convolution (qc_transpose_conv2d.c) --------------------------------------- */

/* TFLM's int8 TRANSPOSE_CONV: input pixel (iy, ix) reaches output (iy*stride_h - pad_top + fy,
 * ix*stride_w - pad_left + fx) through filter tap (fy, fx); filter [out_c][kh][kw][in_c];
 * out = clamp(requantize(bias[o] + sum (x + input_offset) * w, multiplier[o], shift[o])
 * + output_offset, act_min, act_max). The conv struct with dilations, groups and
 * depth_multiplier 1; pad_top < kernel_h, pad_left < kernel_w. No scratch. */
int qc_transpose_conv2d_s8(const qc_conv_params *p, const int8_t *input, const int8_t *filter,
                           const int32_t *bias, const int32_t *multiplier, const int32_t *shift, int8_t *output);

/* ---- attention: batch matmul and layer norm (qc_batch_matmul.c, qc_layer_norm.c) ------ */

/* TFLite int8 BATCH_MATMUL: out[b, m, n] = clamp(MBQM(sum_k (A[b, m, k] + lhs_offset) *
 * (B[b, k, n] + rhs_offset)) + output_offset) with A = lhs ([.., M, K], or [.., K, M] when
 * adj_x) and B = rhs ([.., K, N], or [.., N, K] when adj_y). Batch dims are right-aligned
 * to 3; a stride of 0 broadcasts that operand along the dim. */
typedef struct {
    int32_t batch[3];        /* output batch dims */
    int32_t lhs_strides[3];  /* elements between consecutive lhs matrices per batch dim (0: broadcast) */
    int32_t rhs_strides[3];
    int32_t rows, cols, depth; /* M, N, K (K <= 32768) */
    int32_t adj_x, adj_y;
    int32_t lhs_offset, rhs_offset, output_offset;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
} qc_batch_matmul_params;

int qc_batch_matmul_s8(const qc_batch_matmul_params *p, const int8_t *lhs, const int8_t *rhs, int8_t *out);

/* Integer LayerNorm over rows of `cols` values (docs/QUANTIZATION.md, "layer_norm"): exact
 * int64 mean and variance, integer 1/sqrt, an int16 Q15 normalised value, then
 * out = clamp(round((t * gamma[j] + beta[j]) / 2^out_shift) + output_offset). */
typedef struct {
    int32_t rows, cols; /* cols <= 4096 */
    int32_t eps;        /* epsilon in units of (C * input scale)^2 / C, rounded */
    int32_t out_shift;  /* 1..62 */
    int32_t output_offset;
    int32_t act_min, act_max;
} qc_layer_norm_params;

int qc_layer_norm_s8(const qc_layer_norm_params *p, const int8_t *input, const int32_t *gamma, const int32_t *beta,
                     int8_t *output);

/* A row's 1 / sqrt(W) (0 < W < 2^62): R in [2^29, 2^30] with D / sqrt(W) in Q15 =
 * round(D * R / 2^shift); W = 0 gives R = 0 (and shift 1). */
int32_t qc_layer_norm_rsqrt(uint64_t w, int32_t *shift);

/* ---- recurrent: ONNX GRU (qc_gru.c) ---------------------------------------------------- */

/* ONNX GRU, quantized in TFLM's int8x8_16 LSTM style (docs/QUANTIZATION.md, "gru"): int8 x
 * [steps, batch, input_size], weights w [directions, 3 * hidden, input_size] and r [directions,
 * 3 * hidden, hidden] (gate order z, r, n), int64 biases wb/rb [directions, 3 * hidden], per
 * row (mx, ex, mh, eh) in requant [directions, 3 * hidden, 4], int16 gate pre-activations,
 * TFLM's int16 sigmoid/tanh, an int16 Q15 hidden state in the scratch, int8 output y
 * [steps, directions, batch, hidden]. h0 [directions, batch, hidden] may be NULL (zeros). */
typedef struct {
    int32_t steps, batch, input_size, hidden; /* input_size, hidden <= 4096 */
    int32_t directions;                        /* 1 or 2 (bidirectional: direction 1 runs backwards) */
    int32_t reverse;                           /* directions == 1: run the sequence backwards */
    int32_t linear_before_reset;
    int32_t input_offset;
    int32_t h0_offset, h0_multiplier, h0_shift; /* int8 h0 -> Q15 */
    int32_t output_offset, output_multiplier, output_shift; /* Q15 h -> int8 y */
    int32_t gate_multiplier[3], gate_shift[3]; /* int16 sigmoid (z, r) and tanh (n) input parameters */
    int32_t rhn_multiplier, rhn_shift;         /* linear_before_reset: r * hn -> n pre-activation */
} qc_gru_params;

int qc_gru_s8(const qc_gru_params *p, const int8_t *x, const int8_t *w, const int8_t *r, const int64_t *wb,
              const int64_t *rb, const int32_t *requant, const int8_t *h0, int8_t *y, void *scratch);
/* qc_gru_s8 with the state in Q15 on both sides (--stateful keeps a GRU's state this way): h0
 * [directions, batch, hidden] is the int16 Q15 state itself, h_last receives each direction's
 * final Q15 state (may alias h0: it is written after the last step). Same scratch. */
int qc_gru_state16_s8(const qc_gru_params *p, const int8_t *x, const int8_t *w, const int8_t *r, const int64_t *wb,
                      const int64_t *rb, const int32_t *requant, const int16_t *h0, int8_t *y, int16_t *h_last,
                      void *scratch);
/* Bytes of scratch qc_gru_s8 needs: int32 pre-activations [3 * hidden], int16 z, r and
 * r * h (or hn) [hidden] each, the int16 hidden state [batch, hidden]; 0 for bad params. */
size_t qc_gru_s8_scratch_size(const qc_gru_params *p);

/* TFLite Micro's integer LSTM (UNIDIRECTIONAL_SEQUENCE_LSTM, int8 input/output/hidden state,
 * int8 weights, int16 gates and cell state; docs/QUANTIZATION.md, "LSTM"). Gate order i, f, c, o. */
typedef struct {
    int32_t batches, time_steps, input_size, hidden_size; /* hidden_size <= 4096 */
    int32_t time_major;        /* input/output [T, B, .] instead of [B, T, .] */
    int32_t input_offset;      /* -input zero point */
    int32_t hidden_zero_point;
    int32_t gate_in_multiplier[4], gate_in_shift[4];   /* input FC -> Q3.12 */
    int32_t gate_rec_multiplier[4], gate_rec_shift[4]; /* recurrent FC -> Q3.12 */
    int32_t cell_forget_multiplier, cell_forget_shift; /* f * c -> c */
    int32_t cell_input_multiplier, cell_input_shift;   /* i * g -> c */
    int32_t hidden_multiplier, hidden_shift;           /* tanh(c) * o -> h */
    int32_t cell_clip;                                 /* -1: none */
    int32_t cell_tanh_multiplier, cell_tanh_shift;     /* the int16 tanh of the cell state */
} qc_lstm_params;

/* bias_in[4H] = bias + input_offset * rowsum(w); bias_rec[4H] = -hidden_zero_point * rowsum(r)
 * (folded when the model is generated). h_in/c_in: the state before the sequence, h_out/c_out
 * after it (may not alias the inputs); output: every step's hidden state. No scratch. */
int qc_lstm_unidirectional_s8(const qc_lstm_params *p, const int8_t *input, const int8_t *w, const int8_t *r,
                              const int32_t *bias_in, const int32_t *bias_rec, const int8_t *h_in,
                              const int16_t *c_in, int8_t *output, int8_t *h_out, int16_t *c_out);
/* qc_lstm_unidirectional_s8 with one requantisation per gate row (per-row int8 weight scales,
 * the ONNX LSTM; docs/QUANTIZATION.md "lstm from ONNX"): requant [4 * hidden][4] holds each
 * row's input multiplier, input shift, recurrent multiplier, recurrent shift; the struct's
 * per-gate gate_* fields are not read. */
int qc_lstm_unidirectional_per_row_s8(const qc_lstm_params *p, const int8_t *input, const int8_t *w,
                                      const int8_t *r, const int32_t *requant, const int32_t *bias_in,
                                      const int32_t *bias_rec, const int8_t *h_in, const int16_t *c_in,
                                      int8_t *output, int8_t *h_out, int16_t *c_out);

/* ---- fused head: global average pool + fully connected (qc_avg_pool_fc.c) ------------ */

/* out = qc_fully_connected_s8(fc, qc_avg_pool2d_s8(pool, input)): the pool must be global
 * (out_h = out_w = 1), fc->batches = pool->batches, fc->in_features = pool->channels. The
 * pooled int8 vector lives in `scratch` (qc_avg_pool_fc_s8_scratch_size bytes, 16-aligned
 * batches * channels plus the two kernels' own scratch; 0 for inconsistent params). */
int qc_avg_pool_fc_s8(const qc_pool_params *pool, const qc_fc_params *fc, const int8_t *input,
                      const int8_t *filter, const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
                      int8_t *output, void *scratch);
size_t qc_avg_pool_fc_s8_scratch_size(const qc_pool_params *pool, const qc_fc_params *fc);

#ifdef __cplusplus
}
#endif

#endif /* QC_KERNELS_H */
