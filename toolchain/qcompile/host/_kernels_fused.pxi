# Fused kernels on numpy arrays (included by _runtime.pyx after _kernels_conv.pxi and
# _kernels_misc.pxi, whose struct declarations and validation helpers it reuses).
#
# conv2d_add_s8 takes exactly the arguments of qcompile.reference.fused.conv2d_add (the
# node's attributes as keywords). `out` may be given to choose the output buffer: the
# property tests pass the residual array itself to exercise the in-place path the memory
# planner relies on.

cdef extern from "qc_kernels.h":
    int qc_conv2d_add_s8(const qc_conv_params *conv, const qc_add_params *add, int32_t conv_operand,
                         const int8_t *input, const int8_t *filter, const int32_t *bias,
                         const int32_t *multiplier, const int32_t *shift, const int8_t *residual,
                         int8_t *output, void *scratch) nogil
    size_t qc_conv2d_add_s8_scratch_size(const qc_conv_params *conv) nogil


from qcompile import ops as _ops


def _fused_split(dict attrs):
    """(conv attrs, add attrs, conv operand) of a conv2d_add attribute dict (the schema's split);
    TypeError for unknown or missing attributes, ValueError for bad values."""
    _ops.check_attrs("conv2d_add", attrs, TypeError)
    return _ops.split_conv_add(attrs)


def conv2d_add_s8(x, w, bias, residual, out=None, **attrs):
    """qc_conv2d_add_s8 on numpy arrays; same arguments and result as
    qcompile.reference.fused.conv2d_add. `out` (optional, C-contiguous int8 of the output
    shape, may be `residual` itself) receives the result and is returned."""
    cdef qc_conv_params p
    cdef qc_add_params ap
    conv_attrs, add_attrs, operand = _fused_split(attrs)
    x = _conv_int8(x, "x")
    w = _conv_int8(w, "w")
    p = _structs.conv_fields(x.shape, w.shape, conv_attrs, depthwise=False)
    ap = _structs.add_fields(None, None, add_attrs, prefix=_ops.ADD_PREFIX)
    b, mult, shf = _conv_requant_arrays(bias, conv_attrs["multiplier"], conv_attrs["shift"], p.out_c, False)
    shape = (p.batches, p.out_h, p.out_w, p.out_c)
    res = np.asarray(residual)
    if res.dtype != np.int8 or tuple(res.shape) != shape:
        raise ValueError(f"residual must be int8 of shape {shape}, got {res.dtype} {res.shape}")
    if out is None:
        out = np.empty(shape, dtype=np.int8)
    elif (not isinstance(out, np.ndarray) or out.dtype != np.int8 or tuple(out.shape) != shape
          or not out.flags.c_contiguous or not out.flags.writeable):
        raise ValueError(f"out must be a writeable C-contiguous int8 array of shape {shape}")
    if out is not res:
        res = np.ascontiguousarray(res)
        if np.shares_memory(res, out):
            raise ValueError("out may be the residual array itself, not another view of it")
    elif not res.flags.c_contiguous:
        raise ValueError("an in-place residual must be C-contiguous")
    if np.shares_memory(x, out):
        raise ValueError("the conv input must not overlap the output")
    scratch = _conv_aligned_scratch(qc_conv2d_add_s8_scratch_size(&p))
    cdef const int8_t[::1] xv = x.reshape(-1)
    cdef const int8_t[::1] wv = w.reshape(-1)
    cdef const int32_t[::1] mv = mult
    cdef const int32_t[::1] sv = shf
    cdef const int32_t[::1] bv
    cdef const int32_t *bptr = NULL
    if b is not None:
        bv = b
        bptr = &bv[0]
    cdef const int8_t *rptr = _misc_ptr(res)
    cdef int8_t *optr = _misc_out_ptr(out)
    cdef uint8_t[::1] scv = scratch
    cdef int32_t op = operand
    cdef int rc
    with nogil:
        rc = qc_conv2d_add_s8(&p, &ap, op, &xv[0], &wv[0], bptr, &mv[0], &sv[0], rptr, optr, <void *>&scv[0])
    if rc != 0:
        raise ValueError("qc_conv2d_add_s8 rejected its parameters")
    return out


def conv2d_add_s8_scratch_size(x_shape, w_shape, **attrs):
    """Bytes of scratch qc_conv2d_add_s8 needs for these shapes and node attributes."""
    conv_attrs, _, _ = _fused_split(attrs)
    cdef qc_conv_params p = _structs.conv_fields(x_shape, w_shape, conv_attrs, depthwise=False)
    return int(qc_conv2d_add_s8_scratch_size(&p))


# ---- avg_pool_fc: global average pool + fully connected (the model head) ----------------
#
# avg_pool_fc_s8 takes exactly the arguments of qcompile.reference.fused.avg_pool_fc.

cdef extern from "qc_kernels.h":
    int qc_avg_pool_fc_s8(const qc_pool_params *pool, const qc_fc_params *fc, const int8_t *input,
                          const int8_t *filter, const int32_t *bias, const int32_t *multiplier,
                          const int32_t *shift, int8_t *output, void *scratch) nogil
    size_t qc_avg_pool_fc_s8_scratch_size(const qc_pool_params *pool, const qc_fc_params *fc) nogil


cdef _head_fill(qc_pool_params *pp, qc_fc_params *fp, x_shape, w_shape, dict attrs):
    """Validate an avg_pool_fc node's shapes and attributes and fill both structs;
    returns flatten (bool). Raises KeyError/TypeError/ValueError."""
    _ops.check_attrs("avg_pool_fc", attrs, TypeError)
    pool, fc, flatten = _ops.split_pool_fc(attrs)
    pp[0] = _structs.pool_fields(x_shape, pool)
    if pp.out_h != 1 or pp.out_w != 1:
        raise ValueError(f"avg_pool_fc needs a global pool (1x1 output), got {pp.out_h}x{pp.out_w}")
    fp[0] = _structs.fc_fields((pp.batches, pp.channels), w_shape, fc)
    return flatten


def avg_pool_fc_s8(x, w, bias=None, **attrs):
    """qc_avg_pool_fc_s8 on numpy arrays; same arguments and result as
    qcompile.reference.fused.avg_pool_fc."""
    cdef qc_pool_params pp
    cdef qc_fc_params fp
    x = _misc_s8(x, "x")
    w = _conv_int8(w, "w")
    flatten = _head_fill(&pp, &fp, x.shape, w.shape, attrs)
    b, mult, shf = _conv_requant_arrays(bias, attrs["multiplier"], attrs["shift"], fp.out_features, True)
    if flatten:
        out = np.empty((pp.batches, fp.out_features), dtype=np.int8)
    else:
        out = np.empty((pp.batches, 1, 1, fp.out_features), dtype=np.int8)
    scratch = _conv_aligned_scratch(qc_avg_pool_fc_s8_scratch_size(&pp, &fp))
    cdef const int8_t[::1] wv = w.reshape(-1)
    cdef const int32_t[::1] mv = mult
    cdef const int32_t[::1] sv = shf
    cdef const int32_t[::1] bv
    cdef const int32_t *bptr = NULL
    if b is not None:
        bv = b
        bptr = &bv[0]
    cdef const int8_t *xptr = _misc_ptr(x)
    cdef int8_t *optr = _misc_out_ptr(out)
    cdef uint8_t[::1] scv = scratch
    cdef int rc
    with nogil:
        rc = qc_avg_pool_fc_s8(&pp, &fp, xptr, &wv[0], bptr, &mv[0], &sv[0], optr, <void *>&scv[0])
    if rc != 0:
        raise ValueError("qc_avg_pool_fc_s8 rejected its parameters (a window covering only padding?)")
    return out


def avg_pool_fc_s8_scratch_size(x_shape, w_shape, **attrs):
    """Bytes of scratch qc_avg_pool_fc_s8 needs for these shapes and node attributes."""
    cdef qc_pool_params pp
    cdef qc_fc_params fp
    _head_fill(&pp, &fp, x_shape, w_shape, attrs)
    return int(qc_avg_pool_fc_s8_scratch_size(&pp, &fp))
