# Binding of the 16x8 kernels (runtime_c/src/qc_{conv,misc}_s16.c, qc_kernels_s16.h). Each
# wrapper takes exactly the arguments of its numpy twin in qcompile.reference.s16 and returns
# a new int16 array; the structs are the int8 kernels' (qcompile.ops.structs with bits=16).

from libc.stdint cimport int16_t, int64_t

cdef extern from "qc_kernels_s16.h":
    int qc_conv2d_s16(const qc_conv_params *p, const int16_t *input, const int8_t *filter, const int64_t *bias,
                      const int32_t *multiplier, const int32_t *shift, int16_t *output) nogil
    int qc_depthwise_conv2d_s16(const qc_conv_params *p, const int16_t *input, const int8_t *filter,
                                const int64_t *bias, const int32_t *multiplier, const int32_t *shift,
                                int16_t *output) nogil
    int qc_fully_connected_s16(const qc_fc_params *p, const int16_t *input, const int8_t *filter,
                               const int64_t *bias, const int32_t *multiplier, const int32_t *shift,
                               int16_t *output) nogil
    int qc_add_s16(const qc_add_params *p, const int16_t *in1, const int16_t *in2, int16_t *out) nogil
    int qc_mul_s16(const qc_mul_params *p, const int16_t *in1, const int16_t *in2, int16_t *out) nogil
    int qc_max_pool2d_s16(const qc_pool_params *p, const int16_t *input, int16_t *output) nogil
    int qc_avg_pool2d_s16(const qc_pool_params *p, const int16_t *input, int16_t *output) nogil
    int qc_pad_s16(const qc_pad_params *p, const int16_t *input, int16_t *output) nogil
    int qc_softmax_s16(const qc_softmax_params *p, const int16_t *input, int16_t *output) nogil
    int qc_reduce_sum_s16(const qc_reduce_params *p, const int16_t *input, int16_t *output) nogil
    int qc_transpose_s16(const qc_transpose_params *p, const int16_t *input, int16_t *output) nogil
    int qc_requantize_s8_s16(const int8_t *input, int16_t *output, int32_t size, int32_t input_offset,
                             int32_t output_offset, int32_t multiplier, int32_t shift) nogil
    int qc_requantize_s16_s8(const int16_t *input, int8_t *output, int32_t size, int32_t input_offset,
                             int32_t output_offset, int32_t multiplier, int32_t shift) nogil
    int qc_requantize_s16(const int16_t *input, int16_t *output, int32_t size, int32_t input_offset,
                          int32_t output_offset, int32_t multiplier, int32_t shift) nogil
    int qc_logistic_s16(const int16_t *input, int16_t *output, int32_t size, int32_t input_multiplier,
                        int32_t input_left_shift) nogil
    int qc_tanh_s16(const int16_t *input, int16_t *output, int32_t size, int32_t input_multiplier,
                    int32_t input_left_shift) nogil


def _s16(x, name="input"):
    a = np.asarray(x)
    if a.dtype != np.int16:
        raise ValueError(f"{name} must be int16, got {a.dtype}")
    return np.ascontiguousarray(a)


cdef inline size_t _s16_addr(a):
    return <size_t>a.ctypes.data


def _s16_bias(bias, n):
    """int64 bias (or None); the C kernels take no other bias type."""
    if bias is None:
        return None
    b = np.asarray(bias)
    if b.dtype != np.int64 or b.shape != (n,):
        raise ValueError(f"16x8 bias must be int64 [{n}], got {b.dtype} {b.shape}")
    return np.ascontiguousarray(b)


def _s16_weighted(kind, x, w, bias, attrs):
    cdef qc_conv_params cp
    cdef qc_fc_params fp
    cdef int rc
    cdef size_t xp, wp, bp, mp, sp, op
    cdef int k = 0 if kind == "fc" else (1 if kind == "dw" else 2)
    x = _s16(x, "x")
    w = _conv_int8(w, "w")
    if kind == "fc":
        fp = _structs.fc_fields(x.shape, w.shape, attrs, bits=16)
        n = fp.out_features
        out = np.empty(tuple(x.shape)[: x.ndim - 1] + (n,), dtype=np.int16)
        _, mult, shf = _conv_requant_arrays(None, attrs["multiplier"], attrs["shift"], n, True)
    else:
        cp = _structs.conv_fields(x.shape, w.shape, attrs, depthwise=kind == "dw", bits=16)
        n = cp.out_c
        out = np.empty((cp.batches, cp.out_h, cp.out_w, n), dtype=np.int16)
        _, mult, shf = _conv_requant_arrays(None, attrs["multiplier"], attrs["shift"], n, False)
    b = _s16_bias(bias, n)
    xp, wp, mp, sp, op = _s16_addr(x), _s16_addr(w), _s16_addr(mult), _s16_addr(shf), _s16_addr(out)
    bp = 0 if b is None else _s16_addr(b)
    with nogil:
        if k == 0:
            rc = qc_fully_connected_s16(&fp, <const int16_t *>xp, <const int8_t *>wp, <const int64_t *>bp,
                                        <const int32_t *>mp, <const int32_t *>sp, <int16_t *>op)
        elif k == 1:
            rc = qc_depthwise_conv2d_s16(&cp, <const int16_t *>xp, <const int8_t *>wp, <const int64_t *>bp,
                                         <const int32_t *>mp, <const int32_t *>sp, <int16_t *>op)
        else:
            rc = qc_conv2d_s16(&cp, <const int16_t *>xp, <const int8_t *>wp, <const int64_t *>bp,
                               <const int32_t *>mp, <const int32_t *>sp, <int16_t *>op)
    if rc != 0:
        raise ValueError(f"the C 16x8 {kind} kernel rejected its parameters")
    return out


def conv2d_s16(x, w, bias=None, **attrs):
    """qc_conv2d_s16; same arguments and result as qcompile.reference.s16.conv2d."""
    return _s16_weighted("conv", x, w, bias, attrs)


def depthwise_conv2d_s16(x, w, bias=None, **attrs):
    """qc_depthwise_conv2d_s16; twin of qcompile.reference.s16.depthwise_conv2d."""
    return _s16_weighted("dw", x, w, bias, attrs)


def fully_connected_s16(x, w, bias=None, **attrs):
    """qc_fully_connected_s16; twin of qcompile.reference.s16.fully_connected."""
    return _s16_weighted("fc", x, w, bias, attrs)


def add_s16(x1, x2, **attrs):
    """qc_add_s16 (ADD/SUB) with broadcasting; twin of qcompile.reference.s16.add."""
    cdef qc_add_params p
    a, b = _s16(x1, "x1"), _s16(x2, "x2")
    p = _structs.add_fields(a.shape, b.shape, attrs, bits=16)
    out = np.empty(np.broadcast_shapes(a.shape, b.shape), dtype=np.int16)
    if out.size and qc_add_s16(&p, <const int16_t *>_s16_addr(a), <const int16_t *>_s16_addr(b),
                               <int16_t *>_s16_addr(out)) != 0:
        raise ValueError("qc_add_s16 rejected its parameters")
    return out


def mul_s16(x1, x2, **attrs):
    """qc_mul_s16 with broadcasting; twin of qcompile.reference.s16.mul."""
    cdef qc_mul_params p
    a, b = _s16(x1, "x1"), _s16(x2, "x2")
    p = _structs.mul_fields(a.shape, b.shape, attrs, bits=16)
    out = np.empty(np.broadcast_shapes(a.shape, b.shape), dtype=np.int16)
    if out.size and qc_mul_s16(&p, <const int16_t *>_s16_addr(a), <const int16_t *>_s16_addr(b),
                               <int16_t *>_s16_addr(out)) != 0:
        raise ValueError("qc_mul_s16 rejected its parameters")
    return out


def _s16_pool(x, attrs, bint average):
    cdef qc_pool_params p
    cdef int rc
    a = _s16(x, "x")
    p = _structs.pool_fields(a.shape, attrs, bits=16)
    out = np.empty((p.batches, p.out_h, p.out_w, p.channels), dtype=np.int16)
    if average:
        rc = qc_avg_pool2d_s16(&p, <const int16_t *>_s16_addr(a), <int16_t *>_s16_addr(out))
    else:
        rc = qc_max_pool2d_s16(&p, <const int16_t *>_s16_addr(a), <int16_t *>_s16_addr(out))
    if rc != 0:
        raise ValueError("the C 16x8 pool kernel rejected its parameters")
    return out


def max_pool2d_s16(x, **attrs):
    """qc_max_pool2d_s16; twin of qcompile.reference.s16.max_pool2d."""
    return _s16_pool(x, attrs, False)


def avg_pool2d_s16(x, **attrs):
    """qc_avg_pool2d_s16; twin of qcompile.reference.s16.avg_pool2d."""
    return _s16_pool(x, attrs, True)


def softmax_s16(x, **attrs):
    """qc_softmax_s16 over the last axis; twin of qcompile.reference.s16.softmax."""
    cdef qc_softmax_params p
    a = _s16(x, "x")
    p = _structs.softmax_fields(a.shape, attrs, bits=16)
    out = np.empty(a.shape, dtype=np.int16)
    if qc_softmax_s16(&p, <const int16_t *>_s16_addr(a), <int16_t *>_s16_addr(out)) != 0:
        raise ValueError("qc_softmax_s16 rejected its parameters")
    return out


def reduce_sum_s16(x, *, axes, keep_dims, input_offset, output_offset, multiplier, shift):
    """qc_reduce_sum_s16; twin of qcompile.reference.s16.reduce_sum."""
    cdef qc_reduce_params p
    a = _s16(x, "x")
    attrs = dict(axes=axes, input_offset=input_offset, output_offset=output_offset, multiplier=multiplier, shift=shift)
    p = _structs.reduce_fields(a.shape, attrs)
    kept = tuple(int(d) for i, d in enumerate(a.shape) if i not in {int(k) for k in axes})
    out = np.empty(kept, dtype=np.int16)
    if qc_reduce_sum_s16(&p, <const int16_t *>_s16_addr(a), <int16_t *>_s16_addr(out)) != 0:
        raise ValueError("qc_reduce_sum_s16 rejected its parameters")
    return out.reshape(tuple(1 if i in {int(k) for k in axes} else int(d) for i, d in enumerate(a.shape))
                       if keep_dims else kept)


def mean_s16(x, *, input_offset, output_offset, multiplier, shift, keep_dims):
    """The 16x8 MEAN over H and W (qc_reduce_sum_s16); twin of qcompile.reference.s16.mean."""
    return reduce_sum_s16(x, axes=(1, 2), keep_dims=keep_dims, input_offset=input_offset,
                          output_offset=output_offset, multiplier=multiplier, shift=shift)


def pad_s16(x, *, pads, pad_value):
    """qc_pad_s16; twin of qcompile.reference.s16.pad."""
    cdef qc_pad_params p
    a = _s16(x, "x")
    p = _structs.pad_fields(a.shape, dict(pads=pads, pad_value=pad_value), bits=16)
    out = np.empty(tuple(int(d) + int(b) + int(e) for d, (b, e) in zip(a.shape, pads)), dtype=np.int16)
    if out.size and qc_pad_s16(&p, <const int16_t *>_s16_addr(a), <int16_t *>_s16_addr(out)) != 0:
        raise ValueError("qc_pad_s16 rejected its parameters")
    return out


def transpose_s16(x, *, perm):
    """qc_transpose_s16; twin of qcompile.reference.s16.transpose."""
    cdef qc_transpose_params p
    a = _s16(x, "x")
    p = _structs.transpose_fields(a.shape, dict(perm=perm))
    out = np.empty(tuple(a.shape[int(i)] for i in perm), dtype=np.int16)
    if out.size and qc_transpose_s16(&p, <const int16_t *>_s16_addr(a), <int16_t *>_s16_addr(out)) != 0:
        raise ValueError("qc_transpose_s16 rejected its parameters")
    return out


def requantize_s16(x, *, input_offset, output_offset, multiplier, shift, output_bits):
    """qc_requantize_{s8_s16,s16_s8,s16} by the input dtype and output_bits; twin of
    qcompile.reference.s16.requantize."""
    cdef int rc
    cdef int32_t n, io, oo, m, sh
    a = np.ascontiguousarray(np.asarray(x))
    if a.dtype not in (np.int8, np.int16) or int(output_bits) not in (8, 16):
        raise ValueError(f"requantize converts int8/int16 to int8/int16, got {a.dtype} -> {output_bits} bits")
    out = np.empty(a.shape, dtype=np.int8 if int(output_bits) == 8 else np.int16)
    n, io, oo, m, sh = int(a.size), int(input_offset), int(output_offset), int(multiplier), int(shift)
    if a.dtype == np.int8 and out.dtype == np.int16:
        rc = qc_requantize_s8_s16(<const int8_t *>_s16_addr(a), <int16_t *>_s16_addr(out), n, io, oo, m, sh)
    elif a.dtype == np.int16 and out.dtype == np.int8:
        rc = qc_requantize_s16_s8(<const int16_t *>_s16_addr(a), <int8_t *>_s16_addr(out), n, io, oo, m, sh)
    elif a.dtype == np.int16:
        rc = qc_requantize_s16(<const int16_t *>_s16_addr(a), <int16_t *>_s16_addr(out), n, io, oo, m, sh)
    else:
        raise ValueError("int8 -> int8 requantisation is a lut")
    if rc != 0:
        raise ValueError("the C requantize kernel rejected its parameters")
    return out


def _sigmoid_tanh_s16(x, input_multiplier, input_left_shift, bint tanh):
    cdef int rc
    cdef int32_t n, m, sh
    a = _s16(x, "x")
    out = np.empty(a.shape, dtype=np.int16)
    n, m, sh = int(a.size), int(input_multiplier), int(input_left_shift)
    if tanh:
        rc = qc_tanh_s16(<const int16_t *>_s16_addr(a), <int16_t *>_s16_addr(out), n, m, sh)
    else:
        rc = qc_logistic_s16(<const int16_t *>_s16_addr(a), <int16_t *>_s16_addr(out), n, m, sh)
    if rc != 0:
        raise ValueError("the C int16 sigmoid/tanh kernel rejected its parameters")
    return out


def logistic_s16(x, *, input_multiplier, input_left_shift):
    """C qc_logistic_s16; twin of qcompile.reference.kernels.sigmoid_s16.logistic."""
    return _sigmoid_tanh_s16(x, input_multiplier, input_left_shift, False)


def tanh_s16(x, *, input_multiplier, input_left_shift):
    """C qc_tanh_s16; twin of qcompile.reference.kernels.sigmoid_s16.tanh."""
    return _sigmoid_tanh_s16(x, input_multiplier, input_left_shift, True)
