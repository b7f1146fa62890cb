# Binding of the LSTM kernel (runtime_c/src/qc_lstm.c). The wrapper takes exactly the arguments
# of its numpy twin qcompile.reference.kernels.lstm.lstm; the struct is assigned from
# qcompile.ops.structs.lstm_fields and the folded biases from lstm_folded_biases, as generated.

cdef extern from "qc_kernels.h":
    ctypedef struct qc_lstm_params:
        int32_t batches
        int32_t time_steps
        int32_t input_size
        int32_t hidden_size
        int32_t time_major
        int32_t input_offset
        int32_t hidden_zero_point
        int32_t gate_in_multiplier[4]
        int32_t gate_in_shift[4]
        int32_t gate_rec_multiplier[4]
        int32_t gate_rec_shift[4]
        int32_t cell_forget_multiplier
        int32_t cell_forget_shift
        int32_t cell_input_multiplier
        int32_t cell_input_shift
        int32_t hidden_multiplier
        int32_t hidden_shift
        int32_t cell_clip
        int32_t cell_tanh_multiplier
        int32_t cell_tanh_shift

    int qc_lstm_unidirectional_s8(const qc_lstm_params *p, const int8_t *input, const int8_t *w, const int8_t *r,
                                  const int32_t *bias_in, const int32_t *bias_rec, const int8_t *h_in,
                                  const int16_t *c_in, int8_t *output, int8_t *h_out, int16_t *c_out) nogil
    int qc_lstm_unidirectional_per_row_s8(const qc_lstm_params *p, const int8_t *input, const int8_t *w,
                                          const int8_t *r, const int32_t *requant, const int32_t *bias_in,
                                          const int32_t *bias_rec, const int8_t *h_in, const int16_t *c_in,
                                          int8_t *output, int8_t *h_out, int16_t *c_out) nogil


def lstm_s8(x, w, r, b, h0, c0, *, time_major, input_offset, hidden_zero_point, gate_in_multiplier,
            gate_in_shift, gate_rec_multiplier, gate_rec_shift, cell_forget_multiplier, cell_forget_shift,
            cell_input_multiplier, cell_input_shift, hidden_multiplier, hidden_shift, cell_clip,
            cell_tanh_multiplier, cell_tanh_shift):
    """C qc_lstm_unidirectional_s8 (or _per_row_s8 when the gate_* attributes hold one value per
    gate row): (y, h, c); twin of reference.kernels.lstm.lstm."""
    cdef qc_lstm_params p
    cdef int rc
    attrs = dict(time_major=time_major, input_offset=input_offset, hidden_zero_point=hidden_zero_point,
                 gate_in_multiplier=gate_in_multiplier, gate_in_shift=gate_in_shift,
                 gate_rec_multiplier=gate_rec_multiplier, gate_rec_shift=gate_rec_shift,
                 cell_forget_multiplier=cell_forget_multiplier, cell_forget_shift=cell_forget_shift,
                 cell_input_multiplier=cell_input_multiplier, cell_input_shift=cell_input_shift,
                 hidden_multiplier=hidden_multiplier, hidden_shift=hidden_shift, cell_clip=cell_clip,
                 cell_tanh_multiplier=cell_tanh_multiplier, cell_tanh_shift=cell_tanh_shift)
    xa, wa, ra = _misc_s8(x, "x"), _misc_s8(w, "w"), _misc_s8(r, "r")
    p = _structs.lstm_fields(xa.shape, wa.shape, attrs)
    hid, batches = p.hidden_size, p.batches
    if ra.shape != (4, hid, hid) or np.asarray(b).shape != (4, hid):
        raise ValueError(f"r {ra.shape} / b {np.asarray(b).shape} do not match w {wa.shape}")
    h_in = _misc_s8(h0, "h0")
    c_in = np.ascontiguousarray(np.asarray(c0))
    if c_in.dtype != np.int16 or h_in.size != batches * hid or c_in.size != batches * hid:
        raise ValueError("h0 must be int8 and c0 int16, each [batches, hidden]")
    bias_in, bias_rec = _structs.lstm_folded_biases(wa, ra, b, attrs)
    y = np.empty((*xa.shape[:2], hid), dtype=np.int8)
    h_out = np.empty(h_in.shape, dtype=np.int8)
    c_out = np.empty(c_in.shape, dtype=np.int16)
    rows = _structs.lstm_row_requant(attrs, hid)
    if rows is None:
        rc = qc_lstm_unidirectional_s8(&p, _misc_ptr(xa), _misc_ptr(wa), _misc_ptr(ra),
                                       <const int32_t *><size_t>bias_in.ctypes.data,
                                       <const int32_t *><size_t>bias_rec.ctypes.data, _misc_ptr(h_in),
                                       <const int16_t *><size_t>c_in.ctypes.data, _misc_out_ptr(y),
                                       _misc_out_ptr(h_out), <int16_t *><size_t>c_out.ctypes.data)
    else:
        rows = np.ascontiguousarray(rows, dtype=np.int32)
        rc = qc_lstm_unidirectional_per_row_s8(&p, _misc_ptr(xa), _misc_ptr(wa), _misc_ptr(ra),
                                               <const int32_t *><size_t>rows.ctypes.data,
                                               <const int32_t *><size_t>bias_in.ctypes.data,
                                               <const int32_t *><size_t>bias_rec.ctypes.data, _misc_ptr(h_in),
                                               <const int16_t *><size_t>c_in.ctypes.data, _misc_out_ptr(y),
                                               _misc_out_ptr(h_out), <int16_t *><size_t>c_out.ctypes.data)
    if rc != 0:
        raise ValueError("qc_lstm_unidirectional_s8 rejected its parameters")
    return y, h_out, c_out
