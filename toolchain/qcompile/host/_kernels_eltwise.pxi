# Binding of the broadcasting MAXIMUM / MINIMUM / PRELU kernels (runtime_c/src/qc_minmax.c).
# Each wrapper takes exactly the arguments of its numpy twin in
# qcompile.reference.kernels.eltwise and returns a new int8 array.

cdef extern from "qc_kernels.h":
    ctypedef struct qc_broadcast_params:
        int32_t out_shape[5]
        int32_t in1_strides[5]
        int32_t in2_strides[5]

    ctypedef struct qc_prelu_params:
        int32_t out_shape[5]
        int32_t in1_strides[5]
        int32_t in2_strides[5]
        int32_t input_offset
        int32_t alpha_offset
        int32_t output_offset
        int32_t output_multiplier_1
        int32_t output_shift_1
        int32_t output_multiplier_2
        int32_t output_shift_2

    int qc_maximum_s8(const qc_broadcast_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) nogil
    int qc_minimum_s8(const qc_broadcast_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) nogil
    int qc_prelu_s8(const qc_prelu_params *p, const int8_t *input, const int8_t *alpha, int8_t *out) nogil


def _minmax_s8(x1, x2, int is_max):
    cdef qc_broadcast_params p
    cdef int rc
    a = _misc_s8(x1, "x1")
    b = _misc_s8(x2, "x2")
    p = _structs.broadcast_fields(a.shape, b.shape, {})
    out = np.empty(np.broadcast_shapes(a.shape, b.shape), dtype=np.int8)
    if out.size == 0:
        return out
    if is_max:
        rc = qc_maximum_s8(&p, _misc_ptr(a), _misc_ptr(b), _misc_out_ptr(out))
    else:
        rc = qc_minimum_s8(&p, _misc_ptr(a), _misc_ptr(b), _misc_out_ptr(out))
    if rc != 0:
        raise ValueError("qc_maximum_s8/qc_minimum_s8 rejected its parameters")
    return out


def maximum_s8(x1, x2):
    """C qc_maximum_s8 with numpy broadcasting; twin of reference.kernels.eltwise.maximum."""
    return _minmax_s8(x1, x2, 1)


def minimum_s8(x1, x2):
    """C qc_minimum_s8 with numpy broadcasting; twin of reference.kernels.eltwise.minimum."""
    return _minmax_s8(x1, x2, 0)


def prelu_s8(x, alpha, *, input_offset, alpha_offset, output_offset, output_multiplier_1, output_shift_1,
             output_multiplier_2, output_shift_2):
    """C qc_prelu_s8 (alpha broadcast to x); twin of reference.kernels.eltwise.prelu."""
    cdef qc_prelu_params p
    cdef int rc
    a = _misc_s8(x, "x")
    b = _misc_s8(alpha, "alpha")
    attrs = dict(input_offset=input_offset, alpha_offset=alpha_offset, output_offset=output_offset,
                 output_multiplier_1=output_multiplier_1, output_shift_1=output_shift_1,
                 output_multiplier_2=output_multiplier_2, output_shift_2=output_shift_2)
    p = _structs.prelu_fields(a.shape, b.shape, attrs)
    out = np.empty(a.shape, dtype=np.int8)
    if out.size == 0:
        return out
    rc = qc_prelu_s8(&p, _misc_ptr(a), _misc_ptr(b), _misc_out_ptr(out))
    if rc != 0:
        raise ValueError("qc_prelu_s8 rejected its parameters")
    return out
