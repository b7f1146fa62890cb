/* int8 softmax over the innermost axis: TFLM's reference Softmax with gemmlowp's
 * fixed-point exp and reciprocal. Twin of qcompile.reference.ops.softmax.
 * Output scale 1/256, zero point -128. No floating point anywhere. */
#include "qc_kernels.h"

#define QC_SOFTMAX_MAX_DEPTH 4095 /* keeps the Q12.19 sum of exps below 2^31 */

/* gemmlowp SaturatingRoundingMultiplyByPOT<exponent> for exponent > 0. */
static int32_t qc_sat_shl(int32_t x, int32_t exponent) {
    const int32_t threshold = (int32_t)((((uint32_t)1) << (31 - exponent)) - 1u);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return qc_shl32(x, exponent);
}

static int32_t qc_add_wrap(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

static int32_t qc_sub_wrap(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a - (uint32_t)b);
}

/* exp(a) for Q0.31 a in [-1/4, 0): Taylor expansion around -1/8. */
static int32_t qc_exp_quarter(int32_t a) {
    const int32_t constant_term = 1895147668; /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883;
    const int32_t x = qc_add_wrap(a, (int32_t)1 << 28);
    const int32_t x2 = qc_srdhm(x, x);
    const int32_t x3 = qc_srdhm(x2, x);
    const int32_t x4 = qc_srdhm(x2, x2);
    const int32_t x4_over_4 = qc_rdbpot(x4, 2);
    const int32_t poly =
        qc_rdbpot(qc_add_wrap(qc_srdhm(qc_add_wrap(x4_over_4, x3), constant_1_over_3), x2), 1);
    return qc_add_wrap(constant_term, qc_srdhm(constant_term, qc_add_wrap(x, poly)));
}

/* gemmlowp exp_on_negative_values: Q5.26 input <= 0, Q0.31 output. */
static int32_t qc_exp_on_negative_values(int32_t a) {
    static const int32_t barrel[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    const int32_t frac_bits = 26;
    const int32_t one_quarter = (int32_t)1 << (frac_bits - 2);
    const int32_t a_mod_q_minus_q = (a & (one_quarter - 1)) - one_quarter;
    const uint32_t remainder = (uint32_t)qc_sub_wrap(a_mod_q_minus_q, a);
    int32_t result = qc_exp_quarter(qc_sat_shl(a_mod_q_minus_q, 5));
    int32_t k;
    if (a == 0) {
        return INT32_MAX;
    }
    for (k = 0; k < 7; ++k) {
        if (remainder & ((uint32_t)1 << (frac_bits - 2 + k))) {
            result = qc_srdhm(result, barrel[k]);
        }
    }
    return result;
}

/* gemmlowp one_over_one_plus_x_for_x_in_0_1: Q0.31 in [0, 1), Q0.31 out; Newton-Raphson in Q2.29. */
static int32_t qc_one_over_one_plus_x(int32_t a) {
    const int64_t sum = (int64_t)a + INT32_MAX;
    const int32_t half_denominator = (int32_t)(sum >= 0 ? (sum + 1) / 2 : (sum - 1) / 2);
    int32_t x = qc_add_wrap(1515870810, qc_srdhm(half_denominator, -1010580540));
    int32_t i;
    for (i = 0; i < 3; ++i) {
        const int32_t half_denominator_times_x = qc_srdhm(half_denominator, x);
        const int32_t one_minus = qc_sub_wrap((int32_t)1 << 29, half_denominator_times_x);
        x = qc_add_wrap(x, qc_sat_shl(qc_srdhm(x, one_minus), 2));
    }
    return qc_sat_shl(x, 1);
}

static int32_t qc_clz32(uint32_t x) {
    int32_t n = 0;
    if (x == 0) {
        return 32;
    }
    while ((x & 0x80000000u) == 0) {
        x <<= 1;
        ++n;
    }
    return n;
}

/* GetReciprocal of a row's Q12.19 sum of exps (>= 2^19: the maximum contributes exp(0), and
 * < 2^31): 1 / (sum / 2^num_bits_over_unit) in Q0.31. Shared with the DSP family's
 * tabulated softmax (templates/kernels/dsp/softmax.c.j2). */
int32_t qc_softmax_reciprocal(uint32_t sum, int32_t *num_bits_over_unit) {
    const int32_t headroom = qc_clz32(sum);
    *num_bits_over_unit = 12 - headroom;
    return qc_one_over_one_plus_x((int32_t)((sum << headroom) - 0x80000000u));
}

static int32_t qc_scaled_diff(const qc_softmax_params *p, int32_t diff) {
    return qc_srdhm(qc_shl32(diff, p->input_left_shift), p->input_multiplier);
}

int qc_softmax_s8(const qc_softmax_params *p, const int8_t *input, int8_t *output) {
    int32_t row, c;
    if (p->outer < 0 || p->depth < 1 || p->depth > QC_SOFTMAX_MAX_DEPTH || p->input_left_shift < 0 ||
        p->input_left_shift > 31) {
        return QC_ERROR;
    }
    for (row = 0; row < p->outer; ++row) {
        const int8_t *in = input + (size_t)row * (size_t)p->depth;
        int8_t *out = output + (size_t)row * (size_t)p->depth;
        int32_t max_in_row = -128;
        uint32_t sum = 0;
        int32_t num_bits_over_unit, exponent, reciprocal;
        for (c = 0; c < p->depth; ++c) {
            max_in_row = in[c] > max_in_row ? in[c] : max_in_row;
        }
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = in[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t e = qc_exp_on_negative_values(qc_scaled_diff(p, diff));
                sum += (uint32_t)qc_rdbpot(e, 12); /* Rescale to Q12.19 */
            }
        }
        reciprocal = qc_softmax_reciprocal(sum, &num_bits_over_unit);
        exponent = num_bits_over_unit + 31 - 8;
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = in[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t e = qc_exp_on_negative_values(qc_scaled_diff(p, diff));
                const int32_t prod = qc_srdhm(reciprocal, e);
                const int32_t unsat = exponent > 31 ? 0 : qc_rdbpot(prod, exponent);
                out[c] = qc_clamp_s8(unsat - 128, -128, 127);
            } else {
                out[c] = -128;
            }
        }
    }
    return QC_OK;
}
