/* qcompile runtime: TFLite Micro's integer LSTM (UNIDIRECTIONAL_SEQUENCE_LSTM, lstm_eval.h's
 * int8x8_16 path). numpy twin: toolchain/qcompile/reference/kernels/lstm.py; arithmetic in
 * docs/QUANTIZATION.md, "LSTM".
 *
 * Every gate of a step reads the previous hidden state, and everything after the two matrix
 * products is element-wise, so each hidden unit j is finished on its own: its four gate
 * pre-activations, the cell update and the new hidden value, written to the step's output
 * row; the row then becomes the hidden state. That needs no scratch.
 */
#include "qc_acle.h"
#include "qc_kernels.h"
#include "qc_kernels_s16.h"
#include "qc_rnn.h"

#include <string.h>

/* acc + w . x: with the DSP extension four products per two SMLADs (the same int32 sum). */
QC_INLINE int32_t qc_lstm_dot(const int8_t *w, const int8_t *x, int32_t n, int32_t acc) {
    int32_t k = 0;
#if QC_ACLE_NATIVE
    for (; k + 4 <= n; k += 4) {
        const uint32_t w4 = qc_read_s8x4(w + k);
        const uint32_t x4 = qc_read_s8x4(x + k);
        acc = qc_smlad(qc_sxtb16(w4), qc_sxtb16(x4), acc);
        acc = qc_smlad(qc_sxtb16_ror8(w4), qc_sxtb16_ror8(x4), acc);
    }
#endif
    for (; k < n; ++k) {
        acc += (int32_t)w[k] * (int32_t)x[k];
    }
    return acc;
}

/* The gate FCs' weights and requantisation: requant NULL uses the struct's per-gate multipliers
 * (TFLM's format), else one row [in_m, in_s, rec_m, rec_s] per gate row. */
typedef struct {
    const int8_t *w, *r;
    const int32_t *bias_in, *bias_rec, *requant;
} qc_lstm_fc;

/* One unit's gate pre-activation (Q3.12): the two FCs requantised and clamped apart, then added. */
static int16_t qc_lstm_gate(const qc_lstm_params *p, const qc_lstm_fc *fc, int32_t g, int32_t j, const int8_t *x,
                            const int8_t *h) {
    const int32_t in = p->input_size, hid = p->hidden_size;
    const int32_t row = g * hid + j;
    const int32_t *rq = fc->requant != NULL ? fc->requant + 4 * row : NULL;
    const int32_t mi = rq != NULL ? rq[0] : p->gate_in_multiplier[g], si = rq != NULL ? rq[1] : p->gate_in_shift[g];
    const int32_t mr = rq != NULL ? rq[2] : p->gate_rec_multiplier[g], sr = rq != NULL ? rq[3] : p->gate_rec_shift[g];
    const int32_t a = qc_sat16(qc_requantize(qc_lstm_dot(fc->w + (size_t)row * (size_t)in, x, in, fc->bias_in[row]),
                                             mi, si));
    const int32_t b = qc_sat16(
        qc_requantize(qc_lstm_dot(fc->r + (size_t)row * (size_t)hid, h, hid, fc->bias_rec[row]), mr, sr));
    return (int16_t)qc_sat16(a + b);
}

/* One step of one batch row: x [I], h [H] in/out, c [H] in/out, y [H] out. */
static void qc_lstm_step(const qc_lstm_params *p, const qc_lstm_fc *fc, const int8_t *x, int8_t *h, int16_t *c,
                         int8_t *y) {
    for (int32_t j = 0; j < p->hidden_size; ++j) {
        const int32_t pre_i = qc_lstm_gate(p, fc, 0, j, x, h);
        const int32_t pre_f = qc_lstm_gate(p, fc, 1, j, x, h);
        const int32_t pre_g = qc_lstm_gate(p, fc, 2, j, x, h);
        const int32_t pre_o = qc_lstm_gate(p, fc, 3, j, x, h);
        y[j] = qc_lstm_unit_s8(p, pre_i, pre_f, pre_g, pre_o, c + j);
    }
    memcpy(h, y, (size_t)p->hidden_size);
}

static int qc_lstm_params_ok(const qc_lstm_params *p) {
    if (p->batches < 1 || p->time_steps < 1 || p->input_size < 1 || p->hidden_size < 1 || p->hidden_size > 4096 ||
        p->cell_clip > 32767 || p->cell_tanh_multiplier < 0 || p->cell_tanh_multiplier > 32767 ||
        p->cell_tanh_shift < 0 || p->cell_tanh_shift > 31 || (p->cell_tanh_multiplier == 0 && p->cell_tanh_shift > 12)) {
        return 0;
    }
    for (int32_t g = 0; g < 4; ++g) {
        if (p->gate_in_shift[g] < -31 || p->gate_in_shift[g] > 31 || p->gate_rec_shift[g] < -31 ||
            p->gate_rec_shift[g] > 31) {
            return 0;
        }
    }
    return p->cell_forget_shift >= -31 && p->cell_forget_shift <= 31 && p->cell_input_shift >= -31 &&
           p->cell_input_shift <= 31 && p->hidden_shift >= -31 && p->hidden_shift <= 31;
}

/* Per-row requantisation rows: shifts in [-31, 31], multipliers non-negative (as the struct's). */
static int qc_lstm_requant_ok(const qc_lstm_params *p, const int32_t *requant) {
    for (int32_t i = 0; i < 4 * p->hidden_size; ++i) {
        const int32_t *rq = requant + 4 * i;
        if (rq[0] < 0 || rq[2] < 0 || rq[1] < -31 || rq[1] > 31 || rq[3] < -31 || rq[3] > 31) {
            return 0;
        }
    }
    return 1;
}

static int qc_lstm_run(const qc_lstm_params *p, const qc_lstm_fc *fc, const int8_t *input, const int8_t *h_in,
                       const int16_t *c_in, int8_t *output, int8_t *h_out, int16_t *c_out) {
    if (!qc_lstm_params_ok(p) || (fc->requant != NULL && !qc_lstm_requant_ok(p, fc->requant))) {
        return QC_ERROR;
    }
    const size_t hid = (size_t)p->hidden_size, in = (size_t)p->input_size;
    const size_t batches = (size_t)p->batches, steps = (size_t)p->time_steps;
    memmove(h_out, h_in, batches * hid);
    memmove(c_out, c_in, batches * hid * sizeof(int16_t));
    for (size_t b = 0; b < batches; ++b) {
        for (size_t t = 0; t < steps; ++t) {
            const size_t row = p->time_major ? t * batches + b : b * steps + t;
            qc_lstm_step(p, fc, input + row * in, h_out + b * hid, c_out + b * hid, output + row * hid);
        }
    }
    return QC_OK;
}

int qc_lstm_unidirectional_s8(const qc_lstm_params *p, const int8_t *input, const int8_t *w, const int8_t *r,
                              const int32_t *bias_in, const int32_t *bias_rec, const int8_t *h_in,
                              const int16_t *c_in, int8_t *output, int8_t *h_out, int16_t *c_out) {
    const qc_lstm_fc fc = {w, r, bias_in, bias_rec, NULL};
    return qc_lstm_run(p, &fc, input, h_in, c_in, output, h_out, c_out);
}

int qc_lstm_unidirectional_per_row_s8(const qc_lstm_params *p, const int8_t *input, const int8_t *w,
                                      const int8_t *r, const int32_t *requant, const int32_t *bias_in,
                                      const int32_t *bias_rec, const int8_t *h_in, const int16_t *c_in,
                                      int8_t *output, int8_t *h_out, int16_t *c_out) {
    if (requant == NULL) {
        return QC_ERROR;
    }
    const qc_lstm_fc fc = {w, r, bias_in, bias_rec, requant};
    return qc_lstm_run(p, &fc, input, h_in, c_in, output, h_out, c_out);
}
