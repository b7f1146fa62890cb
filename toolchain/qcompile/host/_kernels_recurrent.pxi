# Binding of the recurrent kernels (runtime_c/src/qc_gru.c). Each wrapper takes exactly the
# arguments of its numpy twin in qcompile.reference.kernels.gru; the C struct is assigned
# from qcompile.ops.structs, the field dict the code generator renders.

cdef extern from "qc_kernels.h":
    ctypedef struct qc_gru_params:
        int32_t steps
        int32_t batch
        int32_t input_size
        int32_t hidden
        int32_t directions
        int32_t reverse
        int32_t linear_before_reset
        int32_t input_offset
        int32_t h0_offset
        int32_t h0_multiplier
        int32_t h0_shift
        int32_t output_offset
        int32_t output_multiplier
        int32_t output_shift
        int32_t gate_multiplier[3]
        int32_t gate_shift[3]
        int32_t rhn_multiplier
        int32_t rhn_shift

    int qc_gru_s8(const qc_gru_params *p, const int8_t *x, const int8_t *w, const int8_t *r, const int64_t *wb,
                  const int64_t *rb, const int32_t *requant, const int8_t *h0, int8_t *y, void *scratch) nogil
    size_t qc_gru_s8_scratch_size(const qc_gru_params *p) nogil


def gru_s8_scratch_size(x_shape, **attrs):
    """Bytes of scratch qc_gru_s8 needs for this input shape and these node attributes."""
    cdef qc_gru_params p
    p = _structs.gru_fields(x_shape, attrs)
    return int(qc_gru_s8_scratch_size(&p))


def gru_s8(x, w, r, wb, rb, requant, h0=None, *, hidden, directions, reverse, linear_before_reset, input_offset,
           h0_offset, h0_multiplier, h0_shift, output_offset, output_multiplier, output_shift, gate_multiplier,
           gate_shift, rhn_multiplier, rhn_shift):
    """C qc_gru_s8; twin of reference.kernels.gru.gru (same arguments)."""
    attrs = dict(hidden=hidden, directions=directions, reverse=reverse, linear_before_reset=linear_before_reset,
                 input_offset=input_offset, h0_offset=h0_offset, h0_multiplier=h0_multiplier, h0_shift=h0_shift,
                 output_offset=output_offset, output_multiplier=output_multiplier, output_shift=output_shift,
                 gate_multiplier=gate_multiplier, gate_shift=gate_shift, rhn_multiplier=rhn_multiplier,
                 rhn_shift=rhn_shift)
    cdef qc_gru_params p
    cdef int rc
    a = _misc_s8(x, "x")
    wq = _misc_s8(w, "w")
    rq = _misc_s8(r, "r")
    wbq = np.ascontiguousarray(wb, dtype=np.int64)
    rbq = np.ascontiguousarray(rb, dtype=np.int64)
    rqt = np.ascontiguousarray(requant, dtype=np.int32)
    p = _structs.gru_fields(a.shape, attrs)
    gates = p.directions * 3 * p.hidden
    if (wq.size != gates * p.input_size or rq.size != gates * p.hidden or wbq.size != gates or rbq.size != gates
            or rqt.size != 4 * gates):
        raise ValueError("gru weights, biases or requant do not match the shapes")
    cdef const int8_t *h0p = NULL
    h0q = None
    if h0 is not None:
        h0q = _misc_s8(h0, "h0")
        if h0q.size != p.directions * p.batch * p.hidden:
            raise ValueError("gru h0 must be [directions, batch, hidden]")
        h0p = _misc_ptr(h0q)
    out = np.empty((p.steps, p.directions, p.batch, p.hidden), dtype=np.int8)
    scratch = np.empty(max(int(qc_gru_s8_scratch_size(&p)), 1) + 16, dtype=np.uint8)
    cdef size_t sp = <size_t>scratch.ctypes.data
    sp = (sp + 15) & ~(<size_t>15)
    rc = qc_gru_s8(&p, _misc_ptr(a), _misc_ptr(wq), _misc_ptr(rq), <const int64_t *><size_t>wbq.ctypes.data,
                   <const int64_t *><size_t>rbq.ctypes.data, <const int32_t *><size_t>rqt.ctypes.data, h0p,
                   _misc_out_ptr(out), <void *>sp)
    if rc != 0:
        raise ValueError("qc_gru_s8 rejected its parameters")
    return out
