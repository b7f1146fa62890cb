/* Integer LayerNorm over the innermost axis. Twin of
 * qcompile.reference.kernels.transformer.layer_norm (docs/QUANTIZATION.md, "layer_norm"):
 *     S = sum q;  D_j = C q_j - S;  W = sum D_j^2 + eps * C        (exact in int64)
 *     W scaled by 4^m into [2^60, 2^62), r = isqrt, R = round(2^60 / r)
 *     t_j = clamp_int16(round(D_j * R / 2^(45 - m)))               (D_j / sqrt(W), Q15)
 *     out_j = clamp(round((t_j * gamma[j] + beta[j]) / 2^out_shift) + output_offset)
 * All rounding is half away from zero. Bounds (C <= 4096): |D| < 2^20, W < 2^53,
 * |D * R| < 2^50, |t * gamma + beta| < 2^47: no int64 overflow. */
#include "qc_kernels.h"

/* floor(sqrt(v)) of a uint64, digit by digit (exact, no division, no float). */
static uint32_t qc_isqrt64(uint64_t v) {
    uint64_t root = 0;
    uint64_t bit = (uint64_t)1 << 62;
    while (bit > v) {
        bit >>= 2;
    }
    while (bit != 0) {
        if (v >= root + bit) {
            v -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    return (uint32_t)root;
}

/* round(x / 2^s), ties away from zero, for s in [1, 62] and |x| < 2^62. */
static int64_t qc_round_shift64(int64_t x, int32_t s) {
    const uint64_t mag = ((uint64_t)(x < 0 ? -x : x) + ((uint64_t)1 << (s - 1))) >> s;
    return x < 0 ? -(int64_t)mag : (int64_t)mag;
}

static int qc_bit_length64(uint64_t v) {
    int n = 0;
    while (v != 0) {
        ++n;
        v >>= 1;
    }
    return n;
}

/* 1 / sqrt(w) as R / 2^(60 - m) (R = round(2^60 / isqrt(w 4^m)) in [2^29, 2^30], w 4^m in
 * [2^60, 2^62)); *shift = 45 - m, the shift that turns D * R into D / sqrt(W) in Q15. w = 0
 * gives R = 0 and *shift = 1. Shared with the DSP family's layer_norm kernel. */
int32_t qc_layer_norm_rsqrt(uint64_t w, int32_t *shift) {
    if (w == 0) {
        *shift = 1;
        return 0;
    }
    const int32_t m = (62 - qc_bit_length64(w)) / 2;
    const uint64_t root = qc_isqrt64(w << (2 * m));
    *shift = 45 - m;
    return (int32_t)((((uint64_t)1 << 60) + (root >> 1)) / root);
}

static void qc_layer_norm_row(const qc_layer_norm_params *p, const int8_t *x, const int32_t *gamma,
                              const int32_t *beta, int8_t *y) {
    const int32_t c = p->cols;
    int32_t sum = 0;
    for (int32_t j = 0; j < c; ++j) {
        sum += x[j];
    }
    uint64_t w = (uint64_t)p->eps * (uint64_t)c;
    for (int32_t j = 0; j < c; ++j) {
        const int64_t d = (int64_t)c * x[j] - sum;
        w += (uint64_t)(d * d);
    }
    int32_t s;
    const int64_t r = qc_layer_norm_rsqrt(w, &s);
    for (int32_t j = 0; j < c; ++j) {
        int64_t t = 0;
        if (r != 0) {
            t = qc_round_shift64(((int64_t)c * x[j] - sum) * r, s);
            t = t < -32768 ? -32768 : (t > 32767 ? 32767 : t);
        }
        const int64_t v = qc_round_shift64(t * gamma[j] + beta[j], p->out_shift) + p->output_offset;
        y[j] = (int8_t)(v < p->act_min ? p->act_min : (v > p->act_max ? p->act_max : v));
    }
}

int qc_layer_norm_s8(const qc_layer_norm_params *p, const int8_t *input, const int32_t *gamma, const int32_t *beta,
                     int8_t *output) {
    if (p == NULL || input == NULL || gamma == NULL || beta == NULL || output == NULL || p->rows < 1 ||
        p->cols < 1 || p->cols > 4096 || p->eps < 0 || p->out_shift < 1 || p->out_shift > 62 ||
        p->output_offset < -128 || p->output_offset > 127 || p->act_min < -128 || p->act_max > 127 ||
        p->act_min > p->act_max) {
        return QC_ERROR;
    }
    for (int32_t i = 0; i < p->rows; ++i) {
        const size_t at = (size_t)i * (size_t)p->cols;
        qc_layer_norm_row(p, input + at, gamma, beta, output + at);
    }
    return QC_OK;
}
