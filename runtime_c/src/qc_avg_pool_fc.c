/* Fused model head: global int8 average pool, then fully connected on the pooled vector.
 *
 * Numpy twin: toolchain/reference/fused.py:avg_pool_fc (= reference avg_pool2d followed by
 * fully_connected). The pooled [batches][channels] int8 vector is written into the
 * caller's scratch by qc_avg_pool2d_s8 itself (same rounding and clamp as the unfused
 * pool) and read back by qc_fully_connected_s8, so the arithmetic cannot drift from the
 * two kernels it replaces; only the arena tensor between them disappears.
 */
#include "qc_kernels.h"

static size_t qc_avg_pool_fc_align16(size_t n) {
    return (n + 15u) & ~(size_t)15u;
}

static int qc_avg_pool_fc_params_ok(const qc_pool_params *pool, const qc_fc_params *fc) {
    return pool != NULL && fc != NULL && pool->out_h == 1 && pool->out_w == 1 && pool->batches >= 1 &&
           pool->channels >= 1 && fc->batches == pool->batches && fc->in_features == pool->channels;
}

size_t qc_avg_pool_fc_s8_scratch_size(const qc_pool_params *pool, const qc_fc_params *fc) {
    if (!qc_avg_pool_fc_params_ok(pool, fc)) {
        return 0;
    }
    return qc_avg_pool_fc_align16((size_t)pool->batches * (size_t)pool->channels) +
           qc_avg_pool_fc_align16(qc_avg_pool2d_s8_scratch_size(pool)) +
           qc_fully_connected_s8_scratch_size(fc);
}

int qc_avg_pool_fc_s8(const qc_pool_params *pool, const qc_fc_params *fc, const int8_t *input,
                      const int8_t *filter, const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
                      int8_t *output, void *scratch) {
    size_t pooled_bytes;
    size_t pool_scratch_bytes;
    int8_t *pooled;
    int rc;
    if (!qc_avg_pool_fc_params_ok(pool, fc) || input == NULL || output == NULL || scratch == NULL) {
        return QC_ERROR;
    }
    pooled_bytes = qc_avg_pool_fc_align16((size_t)pool->batches * (size_t)pool->channels);
    pool_scratch_bytes = qc_avg_pool_fc_align16(qc_avg_pool2d_s8_scratch_size(pool));
    pooled = (int8_t *)scratch;
    rc = qc_avg_pool2d_s8(pool, input, pooled, (uint8_t *)scratch + pooled_bytes);
    if (rc != QC_OK) {
        return rc;
    }
    return qc_fully_connected_s8(fc, pooled, filter, bias, multiplier, shift, output,
                                 (uint8_t *)scratch + pooled_bytes + pool_scratch_bytes);
}
