# Binding of the broadcasting int8 DIV kernel (runtime_c/src/qc_div.c; qc_mul_params is declared
# with the MUL binding). The wrapper takes
# exactly the arguments of its numpy twin qcompile.reference.kernels.div.div.

cdef extern from "qc_kernels.h":
    int qc_div_s8(const qc_mul_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) nogil


def div_s8(x1, x2, *, input1_offset, input2_offset, output_offset, output_multiplier, output_shift, act_min,
           act_max):
    """C qc_div_s8 with numpy broadcasting; twin of reference.kernels.div.div."""
    cdef qc_mul_params p
    cdef int rc
    a = _misc_s8(x1, "x1")
    b = _misc_s8(x2, "x2")
    attrs = dict(input1_offset=input1_offset, input2_offset=input2_offset, output_offset=output_offset,
                 output_multiplier=output_multiplier, output_shift=output_shift, act_min=act_min, act_max=act_max)
    p = _structs.div_fields(a.shape, b.shape, attrs)
    out = np.empty(np.broadcast_shapes(a.shape, b.shape), dtype=np.int8)
    if out.size == 0:
        return out
    rc = qc_div_s8(&p, _misc_ptr(a), _misc_ptr(b), _misc_out_ptr(out))
    if rc != 0:
        raise ValueError("qc_div_s8 rejected its parameters")
    return out
