# Binding of the reduction, gather, resize and transposed-conv kernels (runtime_c/src/
# qc_{reduce,gather,resize,transpose_conv2d}.c). Each wrapper takes exactly the arguments of
# its numpy twin in qcompile.reference.kernels and returns a new int8 array; the C structs
# are assigned from qcompile.ops.structs, the field dicts the code generator renders too.

cdef extern from "qc_kernels.h":
    ctypedef struct qc_reduce_params:
        int32_t in_shape[5]
        int32_t reduce[5]
        int32_t input_offset
        int32_t output_offset
        int32_t multiplier
        int32_t shift

    ctypedef struct qc_gather_params:
        int32_t outer
        int32_t axis_size
        int32_t inner
        int32_t num_indices

    ctypedef struct qc_resize_params:
        int32_t batches
        int32_t in_h
        int32_t in_w
        int32_t channels
        int32_t out_h
        int32_t out_w
        int32_t align_corners
        int32_t half_pixel_centers

    int qc_reduce_sum_s8(const qc_reduce_params *p, const int8_t *input, int8_t *output) nogil
    int qc_reduce_max_s8(const qc_reduce_params *p, const int8_t *input, int8_t *output) nogil
    int qc_gather_s8(const qc_gather_params *p, const int32_t *indices, const int8_t *input, int8_t *output) nogil
    int qc_resize_nearest_s8(const qc_resize_params *p, const int32_t *y_index, const int32_t *x_index,
                             const int8_t *input, int8_t *output) nogil
    int qc_resize_bilinear_s8(const qc_resize_params *p, const int8_t *input, int8_t *output) nogil
    int qc_transpose_conv2d_s8(const qc_conv_params *p, const int8_t *input, const int8_t *filter,
                               const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
                               int8_t *output) nogil


cdef inline const int32_t *_dm_i32(a):
    return <const int32_t *><size_t>a.ctypes.data


def _dm_int32(values, n, what):
    arr = np.ascontiguousarray(np.asarray(values, dtype=np.int64).reshape(-1))
    if arr.size == 1 and n > 1:
        arr = np.repeat(arr, n)
    if arr.size != n or arr.min() < -2147483648 or arr.max() > 2147483647:
        raise ValueError(f"{what} must have {n} int32 entries")
    return arr.astype(np.int32)


def _dm_reduced_shape(shape, axes, keep_dims):
    ax = {int(a) for a in axes}
    if keep_dims:
        return tuple(1 if i in ax else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in ax)


def reduce_sum_s8(x, *, axes, keep_dims, input_offset, output_offset, multiplier, shift):
    """C qc_reduce_sum_s8; twin of reference.kernels.reduce_axes.reduce_sum."""
    cdef qc_reduce_params p
    a = _misc_s8(x, "x")
    p = _structs.reduce_fields(a.shape, dict(axes=axes, input_offset=input_offset, output_offset=output_offset,
                                             multiplier=multiplier, shift=shift))
    out = np.empty(_dm_reduced_shape(a.shape, axes, keep_dims), dtype=np.int8)
    if qc_reduce_sum_s8(&p, _misc_ptr(a), _misc_out_ptr(out)) != 0:
        raise ValueError("qc_reduce_sum_s8 rejected its parameters")
    return out


def reduce_max_s8(x, *, axes, keep_dims):
    """C qc_reduce_max_s8; twin of reference.kernels.reduce_axes.reduce_max."""
    cdef qc_reduce_params p
    a = _misc_s8(x, "x")
    p = _structs.reduce_fields(a.shape, dict(axes=axes))
    out = np.empty(_dm_reduced_shape(a.shape, axes, keep_dims), dtype=np.int8)
    if qc_reduce_max_s8(&p, _misc_ptr(a), _misc_out_ptr(out)) != 0:
        raise ValueError("qc_reduce_max_s8 rejected its parameters")
    return out


def gather_s8(x, *, axis, indices):
    """C qc_gather_s8; twin of reference.kernels.gather.gather."""
    cdef qc_gather_params p
    a = _misc_s8(x, "x")
    p = _structs.gather_fields(a.shape, dict(axis=axis, indices=indices))
    idx = _dm_int32(indices, p.num_indices, "indices")
    shape = list(a.shape)
    shape[int(axis)] = p.num_indices
    out = np.empty(tuple(shape), dtype=np.int8)
    if qc_gather_s8(&p, _dm_i32(idx), _misc_ptr(a), _misc_out_ptr(out)) != 0:
        raise ValueError("qc_gather_s8 rejected its parameters")
    return out


def resize_nearest_s8(x, *, y_index, x_index):
    """C qc_resize_nearest_s8; twin of reference.kernels.resize.resize_nearest."""
    cdef qc_resize_params p
    a = _misc_s8(x, "x")
    p = _structs.resize_fields(a.shape, dict(y_index=y_index, x_index=x_index))
    yi = _dm_int32(y_index, p.out_h, "y_index")
    xi = _dm_int32(x_index, p.out_w, "x_index")
    out = np.empty((p.batches, p.out_h, p.out_w, p.channels), dtype=np.int8)
    if qc_resize_nearest_s8(&p, _dm_i32(yi), _dm_i32(xi), _misc_ptr(a), _misc_out_ptr(out)) != 0:
        raise ValueError("qc_resize_nearest_s8 rejected its parameters")
    return out


def resize_bilinear_s8(x, *, size, align_corners, half_pixel_centers):
    """C qc_resize_bilinear_s8; twin of reference.kernels.resize.resize_bilinear."""
    cdef qc_resize_params p
    a = _misc_s8(x, "x")
    p = _structs.resize_fields(a.shape, dict(size=size, align_corners=align_corners,
                                             half_pixel_centers=half_pixel_centers))
    out = np.empty((p.batches, p.out_h, p.out_w, p.channels), dtype=np.int8)
    if qc_resize_bilinear_s8(&p, _misc_ptr(a), _misc_out_ptr(out)) != 0:
        raise ValueError("qc_resize_bilinear_s8 rejected its parameters")
    return out


def transpose_conv2d_s8(x, w, bias=None, *, strides, pads, input_offset, output_offset, multiplier, shift,
                        act_min, act_max):
    """C qc_transpose_conv2d_s8; twin of reference.kernels.transpose_conv.transpose_conv2d."""
    cdef qc_conv_params p
    a = _misc_s8(x, "x")
    f = _misc_s8(w, "w")
    attrs = dict(strides=strides, pads=pads, input_offset=input_offset, output_offset=output_offset,
                 act_min=act_min, act_max=act_max)
    p = _structs.transpose_conv_fields(a.shape, f.shape, attrs)
    b = _dm_int32(np.zeros(p.out_c) if bias is None else bias, p.out_c, "bias")
    m = _dm_int32(multiplier, p.out_c, "multiplier")
    s = _dm_int32(shift, p.out_c, "shift")
    out = np.empty((p.batches, p.out_h, p.out_w, p.out_c), dtype=np.int8)
    if qc_transpose_conv2d_s8(&p, _misc_ptr(a), _misc_ptr(f), _dm_i32(b), _dm_i32(m), _dm_i32(s),
                              _misc_out_ptr(out)) != 0:
        raise ValueError("qc_transpose_conv2d_s8 rejected its parameters")
    return out
