/* int8 BATCH_MATMUL of two activations: TFLite's reference_ops::BatchMatMul arithmetic as
 * TFLM runs it. Twin of qcompile.reference.kernels.transformer.batch_matmul
 * (docs/QUANTIZATION.md, "batch_matmul"):
 *     out[b, m, n] = clamp(MBQM(sum_k (A[b, m, k] + lhs_offset) * (B[b, k, n] + rhs_offset))
 *                          + output_offset, act_min, act_max)
 * The int32 sum cannot overflow: |x + offset| <= 255 and K <= 32768. */
#include "qc_kernels.h"
#include "qc_fixedpoint.h"

static int qc_batch_matmul_params_ok(const qc_batch_matmul_params *p) {
    if (p->rows < 1 || p->cols < 1 || p->depth < 1 || p->depth > 32768 || p->adj_x < 0 || p->adj_x > 1 ||
        p->adj_y < 0 || p->adj_y > 1 || p->lhs_offset < -128 || p->lhs_offset > 128 || p->rhs_offset < -128 ||
        p->rhs_offset > 128 || p->output_offset < -128 || p->output_offset > 127 || p->output_shift < -31 ||
        p->output_shift > 31 || p->act_min < -128 || p->act_max > 127 || p->act_min > p->act_max) {
        return 0;
    }
    for (int i = 0; i < 3; ++i) {
        if (p->batch[i] < 1 || p->lhs_strides[i] < 0 || p->rhs_strides[i] < 0) {
            return 0;
        }
    }
    return 1;
}

/* One [M, K] x [K, N] product; element strides of A along (m, k) and B along (k, n). */
static void qc_matmul_block(const qc_batch_matmul_params *p, const int8_t *a, const int8_t *b, int8_t *out) {
    const int32_t m_n = p->rows, n_n = p->cols, k_n = p->depth;
    const int32_t a_m = p->adj_x ? 1 : k_n, a_k = p->adj_x ? m_n : 1;
    const int32_t b_k = p->adj_y ? 1 : n_n, b_n = p->adj_y ? k_n : 1;
    const int32_t lo = p->lhs_offset, ro = p->rhs_offset;
    for (int32_t m = 0; m < m_n; ++m) {
        const int8_t *arow = a + (size_t)m * (size_t)a_m;
        for (int32_t n = 0; n < n_n; ++n) {
            const int8_t *bcol = b + (size_t)n * (size_t)b_n;
            int32_t acc = 0;
            for (int32_t k = 0; k < k_n; ++k) {
                acc += ((int32_t)arow[(size_t)k * (size_t)a_k] + lo) * ((int32_t)bcol[(size_t)k * (size_t)b_k] + ro);
            }
            const int32_t v = qc_requantize(acc, p->output_multiplier, p->output_shift) + p->output_offset;
            out[(size_t)m * (size_t)n_n + (size_t)n] = qc_clamp_s8(v, p->act_min, p->act_max);
        }
    }
}

int qc_batch_matmul_s8(const qc_batch_matmul_params *p, const int8_t *lhs, const int8_t *rhs, int8_t *out) {
    if (p == NULL || lhs == NULL || rhs == NULL || out == NULL || !qc_batch_matmul_params_ok(p)) {
        return QC_ERROR;
    }
    const size_t out_block = (size_t)p->rows * (size_t)p->cols;
    size_t o = 0;
    for (int32_t b0 = 0; b0 < p->batch[0]; ++b0) {
        for (int32_t b1 = 0; b1 < p->batch[1]; ++b1) {
            for (int32_t b2 = 0; b2 < p->batch[2]; ++b2) {
                const size_t la = (size_t)b0 * (size_t)p->lhs_strides[0] + (size_t)b1 * (size_t)p->lhs_strides[1] +
                                  (size_t)b2 * (size_t)p->lhs_strides[2];
                const size_t rb = (size_t)b0 * (size_t)p->rhs_strides[0] + (size_t)b1 * (size_t)p->rhs_strides[1] +
                                  (size_t)b2 * (size_t)p->rhs_strides[2];
                qc_matmul_block(p, lhs + la, rhs + rb, out + o);
                o += out_block;
            }
        }
    }
    return QC_OK;
}
