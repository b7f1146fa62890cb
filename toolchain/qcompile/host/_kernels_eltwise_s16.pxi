# Binding of the 16x8 elementwise kernels (runtime_c/src/qc_lut_s16.c, qc_misc_s16.c) and
# qc_batch_matmul_s16: twins of qcompile.reference.kernels.eltwise_s16 / matmul_s16, same
# arguments, new int16 arrays.

cdef extern from "qc_kernels_s16.h":
    int qc_lut_s16(const int16_t *table, const int16_t *input, int16_t *output, int32_t size) nogil
    int qc_leaky_relu_s16(const int16_t *input, int16_t *output, int32_t size, int32_t multiplier_identity,
                          int32_t shift_identity, int32_t multiplier_alpha, int32_t shift_alpha) nogil
    int qc_maximum_s16(const qc_broadcast_params *p, const int16_t *in1, const int16_t *in2, int16_t *out) nogil
    int qc_minimum_s16(const qc_broadcast_params *p, const int16_t *in1, const int16_t *in2, int16_t *out) nogil
    int qc_prelu_s16(const qc_prelu_params *p, const int16_t *input, const int8_t *alpha, int16_t *out) nogil
    int qc_batch_matmul_s16(const qc_batch_matmul_params *p, const int16_t *lhs, const int16_t *rhs,
                            int16_t *out) nogil


def lut_s16(x, *, table):
    """C qc_lut_s16; twin of qcompile.reference.kernels.eltwise_s16.lut."""
    a = _s16(x, "x")
    t = _s16(table, "table")
    if t.shape != (513,):
        raise ValueError(f"an int16 lut table must have 513 entries, got {t.shape}")
    out = np.empty(a.shape, dtype=np.int16)
    if qc_lut_s16(<const int16_t *>_s16_addr(t), <const int16_t *>_s16_addr(a), <int16_t *>_s16_addr(out),
                  <int32_t>a.size) != 0:
        raise ValueError("qc_lut_s16 rejected its parameters")
    return out


def leaky_relu_s16(x, *, multiplier_identity, shift_identity, multiplier_alpha, shift_alpha):
    """C qc_leaky_relu_s16; twin of qcompile.reference.kernels.eltwise_s16.leaky_relu."""
    a = _s16(x, "x")
    out = np.empty(a.shape, dtype=np.int16)
    rc = qc_leaky_relu_s16(<const int16_t *>_s16_addr(a), <int16_t *>_s16_addr(out), <int32_t>a.size,
                           int(multiplier_identity), int(shift_identity), int(multiplier_alpha), int(shift_alpha))
    if rc != 0:
        raise ValueError("qc_leaky_relu_s16 rejected its parameters")
    return out


def _minmax_s16(x1, x2, int is_max):
    cdef qc_broadcast_params p
    cdef int rc
    a = _s16(x1, "x1")
    b = _s16(x2, "x2")
    p = _structs.broadcast_fields(a.shape, b.shape, {})
    out = np.empty(np.broadcast_shapes(a.shape, b.shape), dtype=np.int16)
    if out.size == 0:
        return out
    if is_max:
        rc = qc_maximum_s16(&p, <const int16_t *>_s16_addr(a), <const int16_t *>_s16_addr(b), <int16_t *>_s16_addr(out))
    else:
        rc = qc_minimum_s16(&p, <const int16_t *>_s16_addr(a), <const int16_t *>_s16_addr(b), <int16_t *>_s16_addr(out))
    if rc != 0:
        raise ValueError("qc_maximum_s16/qc_minimum_s16 rejected its parameters")
    return out


def maximum_s16(x1, x2):
    """C qc_maximum_s16 with numpy broadcasting; twin of eltwise_s16.maximum."""
    return _minmax_s16(x1, x2, 1)


def minimum_s16(x1, x2):
    """C qc_minimum_s16 with numpy broadcasting; twin of eltwise_s16.minimum."""
    return _minmax_s16(x1, x2, 0)


def batch_matmul_s16(a, b, *, adj_x, adj_y, lhs_offset, rhs_offset, output_offset, output_multiplier,
                     output_shift, act_min, act_max):
    """C qc_batch_matmul_s16; twin of reference.kernels.matmul_s16.batch_matmul."""
    cdef qc_batch_matmul_params p
    lhs = _s16(a, "a")
    rhs = _s16(b, "b")
    attrs = dict(adj_x=adj_x, adj_y=adj_y, lhs_offset=lhs_offset, rhs_offset=rhs_offset,
                 output_offset=output_offset, output_multiplier=output_multiplier, output_shift=output_shift,
                 act_min=act_min, act_max=act_max)
    p = _structs.batch_matmul_fields(lhs.shape, rhs.shape, attrs, bits=16)
    lead = np.broadcast_shapes(lhs.shape[:-2], rhs.shape[:-2])
    out = np.empty((*lead, p.rows, p.cols), dtype=np.int16)
    if qc_batch_matmul_s16(&p, <const int16_t *>_s16_addr(lhs), <const int16_t *>_s16_addr(rhs),
                           <int16_t *>_s16_addr(out)) != 0:
        raise ValueError("qc_batch_matmul_s16 rejected its parameters")
    return out


def prelu_s16(x, alpha, *, input_offset, alpha_offset, output_offset, output_multiplier_1, output_shift_1,
              output_multiplier_2, output_shift_2):
    """C qc_prelu_s16 (int8 alpha broadcast to int16 x); twin of eltwise_s16.prelu."""
    cdef qc_prelu_params p
    a = _s16(x, "x")
    b = _misc_s8(alpha, "alpha")
    attrs = dict(input_offset=input_offset, alpha_offset=alpha_offset, output_offset=output_offset,
                 output_multiplier_1=output_multiplier_1, output_shift_1=output_shift_1,
                 output_multiplier_2=output_multiplier_2, output_shift_2=output_shift_2)
    p = _structs.prelu_fields(a.shape, b.shape, attrs)
    out = np.empty(a.shape, dtype=np.int16)
    if out.size == 0:
        return out
    if qc_prelu_s16(&p, <const int16_t *>_s16_addr(a), _misc_ptr(b), <int16_t *>_s16_addr(out)) != 0:
        raise ValueError("qc_prelu_s16 rejected its parameters")
    return out


def resize_nearest_s16(x, *, y_index, x_index):
    """qc_resize_nearest_s8 on the int16 tensor's bytes (channels doubled), as the generated
    code calls it; twin of reference.kernels.datamove_s16.resize_nearest."""
    a = np.ascontiguousarray(_s16(x, "x")).view(np.int8)
    return np.ascontiguousarray(resize_nearest_s8(a, y_index=y_index, x_index=x_index)).view(np.int16)
