/* ONNX GRU in TFLM's int8x8_16 LSTM style. Twin of qcompile.reference.kernels.gru.gru
 * (docs/QUANTIZATION.md, "gru"). Per direction, step and batch row, gate g in (z, r, n):
 *     px_g = MBQM64(sum_i W[g,j,i] (x_i + input_offset) + wb[g,j], mx, ex)
 *     z, r = sigmoid16(sat16(px + MBQM64(sum_k R[g,j,k] h_k + rb[g,j], mh, eh)))
 *     lbr 0: pn = MBQM64(sum_k R[n,j,k] RDBPOT(r_k h_k, 15) + rb[n,j], mh, eh)
 *     lbr 1: pn = MBQM(r_j sat16(MBQM64(sum_k R[n,j,k] h_k + rb[n,j], mh, eh)), rhn_multiplier, rhn_shift)
 *     n = tanh16(sat16(px_n + pn));  h = sat16(n + RDBPOT(z (h - n), 15))
 *     y = clamp8(MBQM(h, output_multiplier, output_shift) + output_offset)
 * Sums are int64: no overflow for up to 4096 features. */
#include "qc_kernels.h"
#include "qc_kernels_s16.h"
#include "qc_rnn.h"

typedef struct {
    int32_t *px;  /* [3 * hidden] input projections at the gates' scales */
    int16_t *z;   /* [hidden] */
    int16_t *r;   /* [hidden] */
    int16_t *tmp; /* [hidden] r * h (lbr 0) or hn (lbr 1) */
    int16_t *h;   /* [batch * hidden] the Q15 hidden state of the running direction */
} qc_gru_scratch;

/* Where the state comes from and goes: int8 h0 (requantized), a Q15 h0 taken as is, or zeros
 * (both NULL); h_last (may be NULL) receives each direction's final Q15 state. */
typedef struct {
    const int8_t *h0;
    const int16_t *h0_q15;
    int16_t *h_last;
} qc_gru_state;

static size_t qc_gru_align4(size_t n) {
    return (n + 3u) & ~(size_t)3u;
}

static int qc_gru_params_ok(const qc_gru_params *p) {
    if (p == NULL || p->steps < 1 || p->batch < 1 || p->input_size < 1 || p->input_size > 4096 || p->hidden < 1 ||
        p->hidden > 4096 || p->directions < 1 || p->directions > 2 || p->reverse < 0 || p->reverse > 1 ||
        p->linear_before_reset < 0 || p->linear_before_reset > 1 || p->input_offset < -127 ||
        p->input_offset > 128 || p->h0_offset < -127 || p->h0_offset > 128 || p->h0_multiplier < 0 ||
        p->h0_shift < -31 || p->h0_shift > 31 || p->output_offset < -128 || p->output_offset > 127 ||
        p->output_multiplier < 0 || p->output_shift < -31 || p->output_shift > 31 || p->rhn_multiplier < 0 ||
        p->rhn_shift < -31 || p->rhn_shift > 31) {
        return 0;
    }
    for (int g = 0; g < 3; ++g) {
        const int32_t m = p->gate_multiplier[g];
        const int32_t s = p->gate_shift[g];
        if (m < 0 || m > 32767 || s < 0 || s > 31 || (m == 0 && s > 12)) {
            return 0;
        }
    }
    return 1;
}

static int qc_gru_requant_ok(const qc_gru_params *p, const int32_t *requant) {
    const int32_t rows = p->directions * 3 * p->hidden;
    for (int32_t i = 0; i < 4 * rows; i += 2) {
        if (requant[i] < 0 || requant[i + 1] < -31 || requant[i + 1] > 7) {
            return 0;
        }
    }
    return 1;
}

size_t qc_gru_s8_scratch_size(const qc_gru_params *p) {
    if (!qc_gru_params_ok(p)) {
        return 0;
    }
    const size_t h = (size_t)p->hidden;
    return 3u * h * sizeof(int32_t) + 3u * qc_gru_align4(h * sizeof(int16_t)) +
           qc_gru_align4((size_t)p->batch * h * sizeof(int16_t));
}

static int64_t qc_gru_dot_s16(const int8_t *row, const int16_t *v, int32_t n) {
    int64_t acc = 0;
    for (int32_t k = 0; k < n; ++k) {
        acc += (int64_t)row[k] * v[k];
    }
    return acc;
}

/* px = the input projections of one batch row (all three gates). */
static void qc_gru_project(const qc_gru_params *p, const int8_t *xrow, const int8_t *w, const int64_t *wb,
                           const int32_t *requant, int32_t *px) {
    for (int32_t j = 0; j < 3 * p->hidden; ++j) {
        const int8_t *wrow = w + (size_t)j * (size_t)p->input_size;
        int64_t acc = wb[j];
        for (int32_t i = 0; i < p->input_size; ++i) {
            acc += (int64_t)wrow[i] * ((int32_t)xrow[i] + p->input_offset);
        }
        px[j] = qc_requantize_s64(acc, requant[4 * j], requant[4 * j + 1]);
    }
}

/* One step of one batch row: h (this row's Q15 state) is updated in place. */
static void qc_gru_cell(const qc_gru_params *p, const int8_t *r, const int64_t *rb, const int32_t *requant,
                        const qc_gru_scratch *s, int16_t *h) {
    const int32_t hs = p->hidden;
    for (int32_t j = 0; j < 2 * hs; ++j) {
        const int64_t acc = qc_gru_dot_s16(r + (size_t)j * (size_t)hs, h, hs) + rb[j];
        const int32_t rec = qc_requantize_s64(acc, requant[4 * j + 2], requant[4 * j + 3]);
        if (j < hs) {
            s->z[j] = qc_gru_gate(p, 0, s->px[j], rec);
        } else {
            s->r[j - hs] = qc_gru_gate(p, 1, s->px[j], rec);
        }
    }
    for (int32_t k = 0; k < hs; ++k) {
        if (p->linear_before_reset) {
            const int32_t j = 2 * hs + k;
            const int64_t acc = qc_gru_dot_s16(r + (size_t)j * (size_t)hs, h, hs) + rb[j];
            s->tmp[k] = qc_gru_sat16(qc_requantize_s64(acc, requant[4 * j + 2], requant[4 * j + 3]));
        } else {
            s->tmp[k] = qc_gru_reset_h(s->r[k], h[k]);
        }
    }
    /* every n_j reads tmp only, so h_j may be updated as soon as n_j is known */
    for (int32_t k = 0; k < hs; ++k) {
        const int32_t j = 2 * hs + k;
        int32_t pn;
        if (p->linear_before_reset) {
            pn = qc_gru_reset_hn(p, s->r[k], s->tmp[k]);
        } else {
            const int64_t acc = qc_gru_dot_s16(r + (size_t)j * (size_t)hs, s->tmp, hs) + rb[j];
            pn = qc_requantize_s64(acc, requant[4 * j + 2], requant[4 * j + 3]);
        }
        h[k] = qc_gru_blend(qc_gru_gate(p, 2, s->px[j], pn), s->z[k], h[k]);
    }
}

static void qc_gru_direction(const qc_gru_params *p, int32_t d, const int8_t *x, const int8_t *w, const int8_t *r,
                             const int64_t *wb, const int64_t *rb, const int32_t *requant,
                             const qc_gru_state *st, int8_t *y, const qc_gru_scratch *s) {
    const int32_t hs = p->hidden;
    const size_t gates = (size_t)3 * (size_t)hs;
    const int backwards = p->directions == 2 ? d == 1 : p->reverse;
    w += (size_t)d * gates * (size_t)p->input_size;
    r += (size_t)d * gates * (size_t)hs;
    wb += (size_t)d * gates;
    rb += (size_t)d * gates;
    requant += (size_t)d * gates * 4u;
    const size_t state = (size_t)d * (size_t)p->batch * (size_t)hs;
    for (int32_t i = 0; i < p->batch * hs; ++i) {
        int16_t v = 0;
        if (st->h0_q15 != NULL) {
            v = st->h0_q15[state + (size_t)i];
        } else if (st->h0 != NULL) {
            v = qc_gru_h0(p, st->h0[state + (size_t)i]);
        }
        s->h[i] = v;
    }
    for (int32_t step = 0; step < p->steps; ++step) {
        const int32_t t = backwards ? p->steps - 1 - step : step;
        for (int32_t b = 0; b < p->batch; ++b) {
            int16_t *h = s->h + (size_t)b * (size_t)hs;
            qc_gru_project(p, x + ((size_t)t * (size_t)p->batch + (size_t)b) * (size_t)p->input_size, w, wb, requant,
                           s->px);
            qc_gru_cell(p, r, rb, requant, s, h);
            int8_t *out = y + (((size_t)t * (size_t)p->directions + (size_t)d) * (size_t)p->batch + (size_t)b) *
                                  (size_t)hs;
            for (int32_t k = 0; k < hs; ++k) {
                out[k] = qc_gru_out_s8(p, h[k]);
            }
        }
    }
    if (st->h_last != NULL) {
        for (int32_t i = 0; i < p->batch * hs; ++i) {
            st->h_last[state + (size_t)i] = s->h[i];
        }
    }
}

static int qc_gru_run(const qc_gru_params *p, const int8_t *x, const int8_t *w, const int8_t *r, const int64_t *wb,
                      const int64_t *rb, const int32_t *requant, const qc_gru_state *st, int8_t *y, void *scratch) {
    if (!qc_gru_params_ok(p) || x == NULL || w == NULL || r == NULL || wb == NULL || rb == NULL ||
        requant == NULL || y == NULL || scratch == NULL || !qc_gru_requant_ok(p, requant)) {
        return QC_ERROR;
    }
    const size_t hs = (size_t)p->hidden;
    uint8_t *base = (uint8_t *)scratch;
    qc_gru_scratch s;
    s.px = (int32_t *)(void *)base;
    base += 3u * hs * sizeof(int32_t);
    s.z = (int16_t *)(void *)base;
    base += qc_gru_align4(hs * sizeof(int16_t));
    s.r = (int16_t *)(void *)base;
    base += qc_gru_align4(hs * sizeof(int16_t));
    s.tmp = (int16_t *)(void *)base;
    base += qc_gru_align4(hs * sizeof(int16_t));
    s.h = (int16_t *)(void *)base;
    for (int32_t d = 0; d < p->directions; ++d) {
        qc_gru_direction(p, d, x, w, r, wb, rb, requant, st, y, &s);
    }
    return QC_OK;
}

int qc_gru_s8(const qc_gru_params *p, const int8_t *x, const int8_t *w, const int8_t *r, const int64_t *wb,
              const int64_t *rb, const int32_t *requant, const int8_t *h0, int8_t *y, void *scratch) {
    const qc_gru_state st = {h0, NULL, NULL};
    return qc_gru_run(p, x, w, r, wb, rb, requant, &st, y, scratch);
}

int qc_gru_state16_s8(const qc_gru_params *p, const int8_t *x, const int8_t *w, const int8_t *r, const int64_t *wb,
                      const int64_t *rb, const int32_t *requant, const int16_t *h0, int8_t *y, int16_t *h_last,
                      void *scratch) {
    if (h0 == NULL || h_last == NULL) {
        return QC_ERROR;
    }
    const qc_gru_state st = {NULL, h0, h_last};
    return qc_gru_run(p, x, w, r, wb, rb, requant, &st, y, scratch);
}
