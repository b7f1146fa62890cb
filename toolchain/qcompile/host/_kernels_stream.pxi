# Binding of the streaming-model kernels (runtime_c/src/qc_strided_slice.c). Each wrapper takes
# exactly the arguments of its numpy twin in qcompile.reference.kernels and returns a new array.

cdef extern from "qc_kernels.h":
    ctypedef struct qc_strided_slice_params:
        int32_t in_shape[5]
        int32_t begin[5]
        int32_t out_shape[5]
        int32_t strides[5]

    int qc_strided_slice_s8(const qc_strided_slice_params *p, const int8_t *input, int8_t *output) nogil


def strided_slice_s8(x, *, begin, size, strides):
    """C qc_strided_slice_s8; twin of reference.kernels.slicing.strided_slice."""
    cdef qc_strided_slice_params p
    a = _misc_s8(x, "x")
    p = _structs.strided_slice_fields(a.shape, dict(begin=begin, size=size, strides=strides))
    out = np.empty(tuple(int(n) for n in size), dtype=np.int8)
    if out.size == 0:
        return out
    if qc_strided_slice_s8(&p, _misc_ptr(a), _misc_out_ptr(out)) != 0:
        raise ValueError("qc_strided_slice_s8 rejected its parameters")
    return out
