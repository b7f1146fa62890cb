/* qcompile runtime: the element-wise int16 arithmetic of the recurrent kernels, inline.
 *
 * TFLM's int16 sigmoid / tanh (the table lives in qc_sigmoid_s16.c) and the LSTM cell update
 * after the gate matrix products, shared by the portable LSTM (qc_lstm.c) and the per-layer
 * DSP LSTM kernels (templates/kernels/dsp/lstm.c.j2), so both run the very same element-wise
 * code and only the matrix products differ. Inline: with the parameters a `static const`
 * struct (the DSP kernels) the compiler folds the multipliers and shifts into the code.
 * numpy twins: reference/kernels/sigmoid_s16.py and lstm.py (docs/QUANTIZATION.md, "LSTM").
 */
#ifndef QC_RNN_H
#define QC_RNN_H

#include <stdint.h>

#include "qc_acle.h"
#include "qc_fixedpoint.h"
#include "qc_kernels.h"

/* sigmoid(i / 24) in unsigned 0.16 format, i = 0..255 (TFLM's sigmoid_table_uint16) */
extern const uint16_t qc_sigmoid_table_u16[256];

/* The input in units of 1/(3*4096) (multiplier 0: TFLM's power-of-two form 3 << shift). */
QC_INLINE int32_t qc_sigmoid_rescale(int16_t x, int32_t multiplier, int32_t shift) {
    if (multiplier == 0) {
        multiplier = 3 << shift;
        shift = 0;
    }
    const int32_t rounding = shift > 0 ? (int32_t)1 << (shift - 1) : 0;
    return ((int32_t)x * multiplier + rounding) >> shift;
}

/* TFLM's int16 Logistic of a rescaled input v (Q0.15 result). */
QC_INLINE int16_t qc_logistic_s16_rescaled(int32_t v) {
    const uint32_t a = (uint32_t)(v < 0 ? -v : v);
    const uint32_t uh = a >> 9;
    uint32_t r = 0x7FFFu << 10;
    if (uh < 255u) {
        const uint32_t ua = qc_sigmoid_table_u16[uh];
        const uint32_t ub = qc_sigmoid_table_u16[uh + 1u];
        r = (ua << 9) + (a & 0x1FFu) * (ub - ua);
    }
    r = v >= 0 ? r + (1u << 9) : (1u << 25) - r + (1u << 9) - 1u;
    return (int16_t)(r >> 10);
}

/* TFLM's int16 Tanh of a rescaled input v (Q0.15 result). */
QC_INLINE int16_t qc_tanh_s16_rescaled(int32_t v) {
    const uint32_t a = (uint32_t)(v < 0 ? -v : v);
    const uint32_t uh = a >> 8;
    int32_t r = (int32_t)(0xFFFFu << 8);
    if (uh < 255u) {
        const int32_t ua = qc_sigmoid_table_u16[uh];
        const int32_t ub = qc_sigmoid_table_u16[uh + 1u];
        r = (ua << 8) + (int32_t)(a & 0xFFu) * (ub - ua);
    }
    r = v >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1;
    return (int16_t)(r >> 8);
}

/* qc_requantize(acc, m, 0) from acc2 = 2 * acc, for m > 0: SRDHM(acc, m) = floor((acc m + 2^30) / 2^31)
 * = floor((acc2 m + 2^31) / 2^32), one SMLAL (the shift-0 companion of qc_requantize_x2; the same
 * condition: 2 * acc must not overflow, which the DSP generator checks). */
QC_INLINE int32_t qc_requantize_x2_e0(int32_t acc2, int32_t m) {
    return (int32_t)(((int64_t)acc2 * m + (int64_t)0x80000000u) >> 32);
}

/* v saturated to int16: one SSAT with the DSP extension (qc_acle.h), a compare pair elsewhere. */
QC_INLINE int32_t qc_sat16(int32_t v) {
    return qc_ssat(v, 16);
}

/* MBQM(x, m, s) of a product of two int16 values, or any |x| < 2^30: then |2x| < 2^31, so for m > 0 and
 * a right shift the one-SMLAL qc_requantize_x2 is exact; otherwise TFLM's general form. With
 * constant m and s (the DSP kernels' static const parameters) the choice folds away. */
QC_INLINE int32_t qc_requantize_prod16(int32_t x, int32_t m, int32_t s) {
    if (m > 0 && s <= -1 && s >= -31) {
        return qc_requantize_x2(2 * x, m, (int32_t)(1u << (uint32_t)(-s - 1)), -s);
    }
    return qc_requantize(x, m, s);
}

/* One LSTM unit after the gate products: the four Q3.12 pre-activations (input, forget, cell,
 * output), the cell state c (updated in place); returns the int8 hidden value. */
QC_INLINE int8_t qc_lstm_unit_s8(const qc_lstm_params *p, int32_t pre_i, int32_t pre_f, int32_t pre_g, int32_t pre_o,
                                 int16_t *c) {
    const int32_t i_g = qc_logistic_s16_rescaled(3 * pre_i);
    const int32_t f_g = qc_logistic_s16_rescaled(3 * pre_f);
    const int32_t c_g = qc_tanh_s16_rescaled(3 * pre_g);
    const int32_t o_g = qc_logistic_s16_rescaled(3 * pre_o);
    const int32_t kept = qc_sat16(qc_requantize_prod16(f_g * *c, p->cell_forget_multiplier, p->cell_forget_shift));
    const int32_t added = qc_sat16(qc_requantize_prod16(i_g * c_g, p->cell_input_multiplier, p->cell_input_shift));
    int32_t cell = qc_sat16(kept + added);
    if (p->cell_clip >= 0) {
        cell = cell < -p->cell_clip ? -p->cell_clip : (cell > p->cell_clip ? p->cell_clip : cell);
    }
    *c = (int16_t)cell;
    const int32_t t =
        qc_tanh_s16_rescaled(qc_sigmoid_rescale((int16_t)cell, p->cell_tanh_multiplier, p->cell_tanh_shift));
    return qc_clamp_s8(qc_requantize_prod16(t * o_g, p->hidden_multiplier, p->hidden_shift) + p->hidden_zero_point,
                       -128, 127);
}

/* ---- GRU (docs/QUANTIZATION.md, "gru"; portable qc_gru.c, DSP templates/kernels/dsp/gru.c.j2) ---- */

QC_INLINE int16_t qc_gru_sat16(int64_t v) {
    return (int16_t)(v < -32768 ? -32768 : (v > 32767 ? 32767 : v));
}

/* Gate g's int16 activation of the pre-activation a + b (two int32 terms): sigmoid for z (0) and
 * r (1), tanh for n (2). sat16 of the exact sum equals sat16 of the saturated int32 sum (a sum
 * beyond int32 is beyond int16 with the same sign): QADD then SSAT with the DSP extension. */
QC_INLINE int16_t qc_gru_gate(const qc_gru_params *p, int g, int32_t a, int32_t b) {
    const int32_t v = qc_sigmoid_rescale((int16_t)qc_sat16(qc_sat_add32(a, b)), p->gate_multiplier[g],
                                         p->gate_shift[g]);
    return g == 2 ? qc_tanh_s16_rescaled(v) : qc_logistic_s16_rescaled(v);
}

/* r * h in Q15 (the vector the n row multiplies when linear_before_reset is 0). */
QC_INLINE int16_t qc_gru_reset_h(int32_t r, int32_t h) {
    return (int16_t)qc_rdbpot(r * h, 15);
}

/* linear_before_reset 1: the n pre-activation's recurrent part r * hn. */
QC_INLINE int32_t qc_gru_reset_hn(const qc_gru_params *p, int32_t r, int32_t hn) {
    return qc_requantize_prod16(r * hn, p->rhn_multiplier, p->rhn_shift);
}

/* h' = n + z (h - n) in Q15. */
QC_INLINE int16_t qc_gru_blend(int32_t n, int32_t z, int32_t h) {
    return (int16_t)qc_sat16(n + qc_rdbpot(z * (h - n), 15)); /* |z (h - n)| < 2^31, the sum < 2^17 */
}

/* The int8 output of a Q15 hidden value. */
QC_INLINE int8_t qc_gru_out_s8(const qc_gru_params *p, int32_t h) {
    return qc_clamp_s8(qc_requantize(h, p->output_multiplier, p->output_shift) + p->output_offset, -128, 127);
}

/* qc_gru_out_s8 with qc_requantize_prod16 (the same value, |h| < 2^15): for constant parameters (the
 * DSP kernels' static const struct), where the form is chosen at compile time; with run-time
 * parameters (qc_gru.c) the general form is cheaper on Cortex-M7. */
QC_INLINE int8_t qc_gru_out_s8_const(const qc_gru_params *p, int32_t h) {
    return qc_clamp_s8(qc_requantize_prod16(h, p->output_multiplier, p->output_shift) + p->output_offset, -128,
                       127);
}

/* The Q15 initial state of one int8 h0 value. */
QC_INLINE int16_t qc_gru_h0(const qc_gru_params *p, int32_t q) {
    return qc_gru_sat16(qc_requantize_prod16(q + p->h0_offset, p->h0_multiplier, p->h0_shift));
}

#endif /* QC_RNN_H */
