/* qcompile runtime: int8 fully connected layer, filter [out_features][in_features].
 *
 * Numpy twin: toolchain/reference/conv.py:fully_connected (bit for bit).
 *
 * Each output is one contiguous int8 x int8 -> int32 dot product that also sums the
 * filter row in the same pass, so the input offset folds out of the loop without scratch:
 *     sum (x + off) * w = sum x * w + off * sum w.
 * Four input rows share each pass over a filter row when batches > 1. The dot product
 * stays in int32 for in_features below 131072; bias, the offset term and the output
 * offset are added modulo 2^32 through uint32_t (the reference's wrap_int32, no undefined
 * behaviour). per_channel = 0 uses multiplier[0] / shift[0] for every output.
 */
#include "qc_kernels.h"


static int qc_fc_params_ok(const qc_fc_params *p) {
    return p->batches >= 1 && p->in_features >= 1 && p->out_features >= 1 && p->input_offset >= -127 &&
           p->input_offset <= 128 && p->act_min <= p->act_max && p->act_min >= -128 && p->act_max <= 127;
}

size_t qc_fully_connected_s8_scratch_size(const qc_fc_params *p) {
    (void)p;
    return 0;
}

static int8_t qc_fc_output(const qc_fc_params *p, int32_t dot, int32_t wsum, int32_t bias, int32_t multiplier,
                           int32_t shift) {
    const uint32_t sum = (uint32_t)bias + (uint32_t)dot + (uint32_t)p->input_offset * (uint32_t)wsum;
    const int32_t acc = qc_u32_to_s32(sum);
    const int32_t v =
        qc_u32_to_s32((uint32_t)qc_requantize(acc, multiplier, shift) + (uint32_t)p->output_offset);
    return qc_clamp_s8(v, p->act_min, p->act_max);
}

int qc_fully_connected_s8(const qc_fc_params *p, const int8_t *input, const int8_t *filter, const int32_t *bias,
                          const int32_t *multiplier, const int32_t *shift, int8_t *output, void *scratch) {
    (void)scratch;
    if (p == NULL || input == NULL || filter == NULL || multiplier == NULL || shift == NULL || output == NULL ||
        !qc_fc_params_ok(p)) {
        return QC_ERROR;
    }
    const int32_t k = p->in_features;
    const int32_t nout = p->out_features;
    const int32_t nq = p->per_channel ? nout : 1;
    for (int32_t j = 0; j < nq; ++j) {
        if (shift[j] < -31 || shift[j] > 31) {
            return QC_ERROR;
        }
    }
    int32_t b = 0;
    /* Four rows at a time. */
    for (; b + 4 <= p->batches; b += 4) {
        const int8_t *restrict x0 = input + (size_t)b * (size_t)k;
        const int8_t *restrict x1 = x0 + k;
        const int8_t *restrict x2 = x1 + k;
        const int8_t *restrict x3 = x2 + k;
        for (int32_t j = 0; j < nout; ++j) {
            const int8_t *restrict w = filter + (size_t)j * (size_t)k;
            int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, ws = 0;
            for (int32_t i = 0; i < k; ++i) {
                const int32_t wi = w[i];
                a0 += (int32_t)x0[i] * wi;
                a1 += (int32_t)x1[i] * wi;
                a2 += (int32_t)x2[i] * wi;
                a3 += (int32_t)x3[i] * wi;
                ws += wi;
            }
            const int32_t q = p->per_channel ? j : 0;
            const int32_t bj = bias != NULL ? bias[j] : 0;
            output[(size_t)b * (size_t)nout + (size_t)j] = qc_fc_output(p, a0, ws, bj, multiplier[q], shift[q]);
            output[(size_t)(b + 1) * (size_t)nout + (size_t)j] = qc_fc_output(p, a1, ws, bj, multiplier[q], shift[q]);
            output[(size_t)(b + 2) * (size_t)nout + (size_t)j] = qc_fc_output(p, a2, ws, bj, multiplier[q], shift[q]);
            output[(size_t)(b + 3) * (size_t)nout + (size_t)j] = qc_fc_output(p, a3, ws, bj, multiplier[q], shift[q]);
        }
    }
    for (; b < p->batches; ++b) {
        const int8_t *restrict x = input + (size_t)b * (size_t)k;
        for (int32_t j = 0; j < nout; ++j) {
            const int8_t *restrict w = filter + (size_t)j * (size_t)k;
            int32_t acc = 0, ws = 0;
            for (int32_t i = 0; i < k; ++i) {
                const int32_t wi = w[i];
                acc += (int32_t)x[i] * wi;
                ws += wi;
            }
            const int32_t q = p->per_channel ? j : 0;
            output[(size_t)b * (size_t)nout + (size_t)j] =
                qc_fc_output(p, acc, ws, bias != NULL ? bias[j] : 0, multiplier[q], shift[q]);
        }
    }
    return QC_OK;
}
