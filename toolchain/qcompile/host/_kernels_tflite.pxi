# Binding of the kernels added for imported TFLite models (runtime_c/src/qc_mean.c). Each
# wrapper takes exactly the arguments of its numpy twin (qcompile.reference.reduce.mean)
# and returns a new int8 array, so property tests compare the two call for call.

cdef extern from "qc_kernels.h":
    ctypedef struct qc_mean_params:
        int32_t batches
        int32_t in_h
        int32_t in_w
        int32_t channels
        int32_t input_offset
        int32_t output_offset
        int32_t multiplier
        int32_t shift

    int qc_mean_s8(const qc_mean_params *p, const int8_t *input, int8_t *output) nogil


def mean_s8(x, *, input_offset, output_offset, multiplier, shift, keep_dims):
    """C ``qc_mean_s8`` on an int8 [N,H,W,C] array: [N,1,1,C] if keep_dims else [N,C]."""
    cdef qc_mean_params p
    arr = np.ascontiguousarray(x)
    if arr.dtype != np.int8 or arr.ndim != 4:
        raise ValueError("mean takes an int8 [N,H,W,C] array")
    shape = arr.shape
    p = _structs.mean_fields(shape, dict(input_offset=input_offset, output_offset=output_offset,
                                         multiplier=multiplier, shift=shift))
    out = np.empty((shape[0], shape[3]), dtype=np.int8)
    cdef const int8_t[::1] src = arr.reshape(-1)
    cdef int8_t[:, ::1] dst = out
    cdef int status
    with nogil:
        status = qc_mean_s8(&p, &src[0], &dst[0, 0])
    if status != 0:
        raise ValueError("qc_mean_s8 rejected its parameters")
    if keep_dims:
        return out.reshape(shape[0], 1, 1, shape[3])
    return out
