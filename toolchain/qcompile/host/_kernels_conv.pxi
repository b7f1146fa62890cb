# Convolution-family kernels on numpy arrays (included by _runtime.pyx).
#
# Each wrapper takes exactly the arguments of its numpy reference in
# qcompile.reference.conv (the keyword names are the quantized IR attributes), validates
# shapes, dtypes and ranges (ValueError instead of a crash in C), assigns the C parameter
# struct from qcompile.ops.structs (the field dicts the code generator renders), allocates the scratch the C kernel asks for (16-byte aligned) and returns a new
# int8 array. The *_scratch_size functions return the C value so the code generator can
# size the arena with the very formula the kernel uses.

cdef extern from "qc_kernels.h":
    ctypedef struct qc_conv_params:
        int32_t batches
        int32_t in_h, in_w, in_c
        int32_t out_h, out_w, out_c
        int32_t kernel_h, kernel_w
        int32_t stride_h, stride_w
        int32_t dilation_h, dilation_w
        int32_t pad_top, pad_left
        int32_t groups
        int32_t depth_multiplier
        int32_t input_offset
        int32_t output_offset
        int32_t act_min, act_max

    ctypedef struct qc_fc_params:
        int32_t batches
        int32_t in_features
        int32_t out_features
        int32_t input_offset, output_offset
        int32_t act_min, act_max
        int32_t per_channel

    int qc_conv2d_s8(const qc_conv_params *p, const int8_t *input, const int8_t *filter,
                     const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
                     int8_t *output, void *scratch) nogil
    size_t qc_conv2d_s8_scratch_size(const qc_conv_params *p) nogil
    int qc_depthwise_conv2d_s8(const qc_conv_params *p, const int8_t *input, const int8_t *filter,
                               const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
                               int8_t *output, void *scratch) nogil
    size_t qc_depthwise_conv2d_s8_scratch_size(const qc_conv_params *p) nogil
    int qc_fully_connected_s8(const qc_fc_params *p, const int8_t *input, const int8_t *filter,
                              const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
                              int8_t *output, void *scratch) nogil
    size_t qc_fully_connected_s8_scratch_size(const qc_fc_params *p) nogil


from qcompile.ops import structs as _structs

_CONV_I32_MIN = -(2**31)
_CONV_I32_MAX = 2**31 - 1


def _conv_int32_vector(values, n, name, allow_scalar):
    """Contiguous int32 array of n entries (or 1 when allow_scalar); values must fit int32."""
    arr = np.asarray(values)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must be an integer array, got dtype {arr.dtype}")
    arr = arr.reshape(-1)
    if arr.size != n and not (allow_scalar and arr.size == 1):
        raise ValueError(f"{name} has {arr.size} entries, expected {n}" + (" or 1" if allow_scalar else ""))
    if arr.dtype != np.int32:
        if arr.size and (int(arr.min()) < _CONV_I32_MIN or int(arr.max()) > _CONV_I32_MAX):
            raise ValueError(f"{name} does not fit int32")
        arr = arr.astype(np.int32)
    return np.ascontiguousarray(arr)


def _conv_requant_arrays(bias, multiplier, shift, n, allow_scalar):
    """(bias or None, multiplier, shift) as contiguous int32; per-tensor values broadcast
    to n entries unless the C kernel takes a single value (allow_scalar)."""
    mult = _conv_int32_vector(multiplier, n, "multiplier", True)
    shf = _conv_int32_vector(shift, n, "shift", True)
    if mult.size != shf.size:
        if mult.size == 1:
            mult = np.full(n, mult[0], dtype=np.int32)
        else:
            shf = np.full(n, shf[0], dtype=np.int32)
    if not allow_scalar and mult.size == 1:
        mult = np.full(n, mult[0], dtype=np.int32)
        shf = np.full(n, shf[0], dtype=np.int32)
    if int(shf.min()) < -31 or int(shf.max()) > 31:
        raise ValueError("shift values must lie in [-31, 31]")
    b = None if bias is None else _conv_int32_vector(bias, n, "bias", False)
    return b, mult, shf


def _conv_int8(array, name):
    arr = np.asarray(array)
    if arr.dtype != np.int8:
        raise ValueError(f"{name} must be int8, got {arr.dtype}")
    return np.ascontiguousarray(arr)


def _conv_aligned_scratch(size_t size):
    """A 16-byte aligned uint8 buffer of `size` bytes (at least 1), kept alive by the caller."""
    buf = np.empty(size + 16, dtype=np.uint8)
    off = (-buf.ctypes.data) % 16
    return buf[off : off + max(<Py_ssize_t>size, 1)]


cdef _conv_run(x, w, bias, dict attrs, bint depthwise):
    cdef qc_conv_params p
    x = _conv_int8(x, "x")
    w = _conv_int8(w, "w")
    p = _structs.conv_fields(x.shape, w.shape, attrs, depthwise=depthwise)
    b, mult, shf = _conv_requant_arrays(bias, attrs["multiplier"], attrs["shift"], p.out_c, False)
    out = np.empty((p.batches, p.out_h, p.out_w, p.out_c), dtype=np.int8)
    cdef size_t size = (qc_depthwise_conv2d_s8_scratch_size(&p) if depthwise
                        else qc_conv2d_s8_scratch_size(&p))
    scratch = _conv_aligned_scratch(size)
    cdef const int8_t[::1] xv = x.reshape(-1)
    cdef const int8_t[::1] wv = w.reshape(-1)
    cdef const int32_t[::1] mv = mult
    cdef const int32_t[::1] sv = shf
    cdef const int32_t[::1] bv
    cdef const int32_t *bptr = NULL
    if b is not None:
        bv = b
        bptr = &bv[0]
    cdef int8_t[::1] ov = out.reshape(-1)
    cdef uint8_t[::1] scv = scratch
    cdef int rc
    with nogil:
        if depthwise:
            rc = qc_depthwise_conv2d_s8(&p, &xv[0], &wv[0], bptr, &mv[0], &sv[0], &ov[0], <void *>&scv[0])
        else:
            rc = qc_conv2d_s8(&p, &xv[0], &wv[0], bptr, &mv[0], &sv[0], &ov[0], <void *>&scv[0])
    if rc != 0:
        raise ValueError("the C convolution kernel rejected its parameters")
    return out


def conv2d_s8(x, w, bias=None, *, strides, dilations, pads, groups, input_offset, output_offset,
              multiplier, shift, act_min, act_max):
    """qc_conv2d_s8 on numpy arrays; same arguments and result as qcompile.reference.conv.conv2d."""
    attrs = dict(strides=strides, dilations=dilations, pads=pads, groups=groups, input_offset=input_offset,
                 output_offset=output_offset, multiplier=multiplier, shift=shift, act_min=act_min, act_max=act_max)
    return _conv_run(x, w, bias, attrs, False)


def depthwise_conv2d_s8(x, w, bias=None, *, strides, dilations, pads, depth_multiplier, input_offset,
                        output_offset, multiplier, shift, act_min, act_max):
    """qc_depthwise_conv2d_s8 on numpy arrays; same arguments and result as
    qcompile.reference.conv.depthwise_conv2d."""
    attrs = dict(strides=strides, dilations=dilations, pads=pads, depth_multiplier=depth_multiplier,
                 input_offset=input_offset, output_offset=output_offset, multiplier=multiplier, shift=shift,
                 act_min=act_min, act_max=act_max)
    return _conv_run(x, w, bias, attrs, True)


def conv2d_s8_scratch_size(x_shape, w_shape, **attrs):
    """Bytes of scratch qc_conv2d_s8 needs for these shapes and node attributes."""
    cdef qc_conv_params p = _structs.conv_fields(x_shape, w_shape, attrs, depthwise=False)
    return int(qc_conv2d_s8_scratch_size(&p))


def depthwise_conv2d_s8_scratch_size(x_shape, w_shape, **attrs):
    """Bytes of scratch qc_depthwise_conv2d_s8 needs for these shapes and node attributes."""
    cdef qc_conv_params p = _structs.conv_fields(x_shape, w_shape, attrs, depthwise=True)
    return int(qc_depthwise_conv2d_s8_scratch_size(&p))


def fully_connected_s8(x, w, bias=None, *, input_offset, output_offset, multiplier, shift, act_min, act_max):
    """qc_fully_connected_s8 on numpy arrays; same arguments and result as
    qcompile.reference.conv.fully_connected."""
    cdef qc_fc_params p
    attrs = dict(input_offset=input_offset, output_offset=output_offset, multiplier=multiplier, shift=shift,
                 act_min=act_min, act_max=act_max)
    x = _conv_int8(x, "x")
    w = _conv_int8(w, "w")
    p = _structs.fc_fields(x.shape, w.shape, attrs)
    b, mult, shf = _conv_requant_arrays(bias, multiplier, shift, p.out_features, True)
    out = np.empty(tuple(x.shape)[: x.ndim - 1] + (p.out_features,), dtype=np.int8)
    scratch = _conv_aligned_scratch(qc_fully_connected_s8_scratch_size(&p))
    cdef const int8_t[::1] xv = x.reshape(-1)
    cdef const int8_t[::1] wv = w.reshape(-1)
    cdef const int32_t[::1] mv = mult
    cdef const int32_t[::1] sv = shf
    cdef const int32_t[::1] bv
    cdef const int32_t *bptr = NULL
    if b is not None:
        bv = b
        bptr = &bv[0]
    cdef int8_t[::1] ov = out.reshape(-1)
    cdef uint8_t[::1] scv = scratch
    cdef int rc
    with nogil:
        rc = qc_fully_connected_s8(&p, &xv[0], &wv[0], bptr, &mv[0], &sv[0], &ov[0], <void *>&scv[0])
    if rc != 0:
        raise ValueError("the C fully-connected kernel rejected its parameters")
    return out


def fully_connected_s8_scratch_size(x_shape, w_shape, **attrs):
    """Bytes of scratch qc_fully_connected_s8 needs for these shapes and node attributes."""
    cdef qc_fc_params p = _structs.fc_fields(x_shape, w_shape, attrs)
    return int(qc_fully_connected_s8_scratch_size(&p))
