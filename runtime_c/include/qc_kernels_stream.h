/* qcompile runtime: the row-streaming band kernels (qc_conv2d_rows.c), kept out of
 * qc_kernels.h so that folders without streamed layers ship the files they did. */
#ifndef QC_KERNELS_STREAM_H
#define QC_KERNELS_STREAM_H

#include <stdint.h>

#include "qc_kernels.h"

/* ---- row streaming (qc_conv2d_rows.c, qcompile.memory.streams) ---------------------------- */

/* Output rows [r0, r1) of a batch-1 conv2d / conv2d_add, same results as those rows of
 * qc_conv2d_s8 / qc_conv2d_add_s8. `input` holds the input rows from in_first on (row iy at
 * input + (iy - in_first) * in_w * in_c; every row the band reads must be there), output row
 * oy goes to output + (oy - out_first) * out_w * out_c (out_first <= r0); the residual is the
 * whole tensor. So a conv pair runs row by row with the intermediate in a window of rows.
 * scratch: the *_scratch_size bytes of the whole-tensor kernel. */
int qc_conv2d_band_s8(const qc_conv_params *p, int32_t r0, int32_t r1, int32_t in_first, int32_t out_first,
                      const int8_t *input, const int8_t *filter, const int32_t *bias, const int32_t *multiplier,
                      const int32_t *shift, int8_t *output, void *scratch);
int qc_conv2d_add_band_s8(const qc_conv_params *conv, const qc_add_params *add, int32_t conv_operand, int32_t r0,
                          int32_t r1, int32_t in_first, int32_t out_first, const int8_t *input, const int8_t *filter,
                          const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
                          const int8_t *residual, int8_t *output, void *scratch);

#endif /* QC_KERNELS_STREAM_H */
