# Binding of the attention kernels (runtime_c/src/qc_batch_matmul.c, qc_layer_norm.c). Each
# wrapper takes exactly the arguments of its numpy twin in qcompile.reference.kernels.transformer;
# the C structs are assigned from qcompile.ops.structs, the field dicts the code generator renders.

cdef extern from "qc_kernels.h":
    ctypedef struct qc_batch_matmul_params:
        int32_t batch[3]
        int32_t lhs_strides[3]
        int32_t rhs_strides[3]
        int32_t rows
        int32_t cols
        int32_t depth
        int32_t adj_x
        int32_t adj_y
        int32_t lhs_offset
        int32_t rhs_offset
        int32_t output_offset
        int32_t output_multiplier
        int32_t output_shift
        int32_t act_min
        int32_t act_max

    ctypedef struct qc_layer_norm_params:
        int32_t rows
        int32_t cols
        int32_t eps
        int32_t out_shift
        int32_t output_offset
        int32_t act_min
        int32_t act_max

    int qc_batch_matmul_s8(const qc_batch_matmul_params *p, const int8_t *lhs, const int8_t *rhs, int8_t *out) nogil
    int qc_layer_norm_s8(const qc_layer_norm_params *p, const int8_t *input, const int32_t *gamma,
                         const int32_t *beta, int8_t *output) nogil


def batch_matmul_s8(a, b, *, adj_x, adj_y, lhs_offset, rhs_offset, output_offset, output_multiplier,
                    output_shift, act_min, act_max):
    """C qc_batch_matmul_s8; twin of reference.kernels.transformer.batch_matmul."""
    cdef qc_batch_matmul_params p
    cdef int rc
    lhs = _misc_s8(a, "a")
    rhs = _misc_s8(b, "b")
    attrs = dict(adj_x=adj_x, adj_y=adj_y, lhs_offset=lhs_offset, rhs_offset=rhs_offset,
                 output_offset=output_offset, output_multiplier=output_multiplier, output_shift=output_shift,
                 act_min=act_min, act_max=act_max)
    p = _structs.batch_matmul_fields(lhs.shape, rhs.shape, attrs)
    lead = np.broadcast_shapes(lhs.shape[:-2], rhs.shape[:-2])
    out = np.empty((*lead, p.rows, p.cols), dtype=np.int8)
    rc = qc_batch_matmul_s8(&p, _misc_ptr(lhs), _misc_ptr(rhs), _misc_out_ptr(out))
    if rc != 0:
        raise ValueError("qc_batch_matmul_s8 rejected its parameters")
    return out


def layer_norm_s8(x, gamma, beta, *, eps, out_shift, output_offset, act_min, act_max):
    """C qc_layer_norm_s8 over the innermost axis; twin of reference.kernels.transformer.layer_norm."""
    cdef qc_layer_norm_params p
    cdef int rc
    a = _misc_s8(x, "x")
    g = np.ascontiguousarray(gamma, dtype=np.int32)
    bt = np.ascontiguousarray(beta, dtype=np.int32)
    p = _structs.layer_norm_fields(a.shape, dict(eps=eps, out_shift=out_shift, output_offset=output_offset,
                                                  act_min=act_min, act_max=act_max))
    if g.size != p.cols or bt.size != p.cols:
        raise ValueError(f"gamma and beta need {p.cols} entries")
    out = np.empty(a.shape, dtype=np.int8)
    rc = qc_layer_norm_s8(&p, _misc_ptr(a), <const int32_t *><size_t>g.ctypes.data,
                          <const int32_t *><size_t>bt.ctypes.data, _misc_out_ptr(out))
    if rc != 0:
        raise ValueError("qc_layer_norm_s8 rejected its parameters")
    return out
