# Convolution-family kernels on numpy arrays (included by _runtime.pyx).
#
# Each wrapper takes exactly the arguments of its numpy reference in
# qcompile.reference.conv (the keyword names are the quantized IR attributes), validates
# shapes, dtypes and ranges (ValueError instead of a crash in C), fills the C parameter
# struct, allocates the scratch the C kernel asks for (16-byte aligned) and returns a new
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


_CONV_I32_MIN = -(2**31)
_CONV_I32_MAX = 2**31 - 1


def _conv_int(value, name, lo=_CONV_I32_MIN, hi=_CONV_I32_MAX):
    """A Python int in [lo, hi] from an integer-valued attribute."""
    try:
        v = int(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an integer, got {value!r}") from exc
    if v != value:
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not lo <= v <= hi:
        raise ValueError(f"{name}={v} is outside [{lo}, {hi}]")
    return v


def _conv_pair(value, name):
    vals = tuple(value)
    if len(vals) != 2:
        raise ValueError(f"{name} must have 2 entries, got {value!r}")
    return tuple(_conv_int(v, name, 1) for v in vals)


def _conv_shape(shape, ndim, name):
    dims = tuple(int(d) for d in shape)
    if len(dims) != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {dims}")
    for d in dims:
        if not 1 <= d <= _CONV_I32_MAX:
            raise ValueError(f"{name} has an empty or oversized dimension: {dims}")
    return dims


def _conv_quant_common(attrs):
    """Validated (input_offset, output_offset, act_min, act_max)."""
    input_offset = _conv_int(attrs["input_offset"], "input_offset", -127, 128)
    output_offset = _conv_int(attrs["output_offset"], "output_offset", -128, 127)
    act_min = _conv_int(attrs["act_min"], "act_min", -128, 127)
    act_max = _conv_int(attrs["act_max"], "act_max", -128, 127)
    if act_min > act_max:
        raise ValueError(f"act_min {act_min} > act_max {act_max}")
    return input_offset, output_offset, act_min, act_max


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


cdef _conv_fill_params(qc_conv_params *p, x_shape, w_shape, dict attrs, bint depthwise):
    """Validate shapes and attributes and fill `p`; returns nothing, raises ValueError."""
    n, h, wd, c = _conv_shape(x_shape, 4, "x")
    if depthwise:
        kh, kw, oc = _conv_shape(w_shape, 3, "w")
        dm = _conv_int(attrs["depth_multiplier"], "depth_multiplier", 1)
        if oc != c * dm:
            raise ValueError(f"filter has {oc} channels, expected {c} * depth_multiplier {dm}")
        groups = 1
    else:
        oc, kh, kw, cg = _conv_shape(w_shape, 4, "w")
        groups = _conv_int(attrs["groups"], "groups", 1)
        if c % groups or oc % groups or c // groups != cg:
            raise ValueError(f"groups={groups} does not fit input channels {c} and filter {tuple(w_shape)}")
        dm = 1
    sh, sw = _conv_pair(attrs["strides"], "strides")
    dh, dw = _conv_pair(attrs["dilations"], "dilations")
    pads = tuple(attrs["pads"])
    if len(pads) != 4:
        raise ValueError(f"pads must be (top, left, bottom, right), got {pads!r}")
    top, left, bottom, right = (_conv_int(v, "pads", 0, 1 << 20) for v in pads)
    oh = (h + top + bottom - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + left + right - dw * (kw - 1) - 1) // sw + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"the {kh}x{kw} window (dilation {dh},{dw}) does not fit the padded {h}x{wd} input")
    input_offset, output_offset, act_min, act_max = _conv_quant_common(attrs)
    for total, what in ((n * h * wd * c, "input"), (n * oh * ow * oc, "output"), (oc * kh * kw * c, "filter")):
        if total > _CONV_I32_MAX:
            raise ValueError(f"{what} tensor too large for the int32 C kernel")
    p.batches = n
    p.in_h = h
    p.in_w = wd
    p.in_c = c
    p.out_h = oh
    p.out_w = ow
    p.out_c = oc
    p.kernel_h = kh
    p.kernel_w = kw
    p.stride_h = sh
    p.stride_w = sw
    p.dilation_h = dh
    p.dilation_w = dw
    p.pad_top = top
    p.pad_left = left
    p.groups = groups
    p.depth_multiplier = dm
    p.input_offset = input_offset
    p.output_offset = output_offset
    p.act_min = act_min
    p.act_max = act_max


cdef _conv_run(x, w, bias, dict attrs, bint depthwise):
    cdef qc_conv_params p
    x = _conv_int8(x, "x")
    w = _conv_int8(w, "w")
    _conv_fill_params(&p, x.shape, w.shape, attrs, depthwise)
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
    cdef qc_conv_params p
    _conv_fill_params(&p, x_shape, w_shape, attrs, False)
    return int(qc_conv2d_s8_scratch_size(&p))


def depthwise_conv2d_s8_scratch_size(x_shape, w_shape, **attrs):
    """Bytes of scratch qc_depthwise_conv2d_s8 needs for these shapes and node attributes."""
    cdef qc_conv_params p
    _conv_fill_params(&p, x_shape, w_shape, attrs, True)
    return int(qc_depthwise_conv2d_s8_scratch_size(&p))


cdef _fc_fill_params(qc_fc_params *p, x_shape, w_shape, dict attrs):
    xs = tuple(int(d) for d in x_shape)
    nout, k = _conv_shape(w_shape, 2, "w")
    # (no negative indexing: _runtime.pyx compiles with wraparound=False)
    if len(xs) < 1 or xs[len(xs) - 1] != k:
        raise ValueError(f"fully_connected needs x [..., {k}] for w {tuple(w_shape)}, got x {xs}")
    rows = 1
    for d in xs[: len(xs) - 1]:
        rows *= d
    if rows < 1:
        raise ValueError(f"x has an empty dimension: {xs}")
    if rows * k > _CONV_I32_MAX or rows * nout > _CONV_I32_MAX or nout * k > _CONV_I32_MAX:
        raise ValueError("tensor too large for the int32 C kernel")
    input_offset, output_offset, act_min, act_max = _conv_quant_common(attrs)
    p.batches = rows
    p.in_features = k
    p.out_features = nout
    p.input_offset = input_offset
    p.output_offset = output_offset
    p.act_min = act_min
    p.act_max = act_max
    m = np.asarray(attrs.get("multiplier", 0)).reshape(-1)
    s = np.asarray(attrs.get("shift", 0)).reshape(-1)
    p.per_channel = 0 if (m.size == 1 and s.size == 1) else 1


def fully_connected_s8(x, w, bias=None, *, input_offset, output_offset, multiplier, shift, act_min, act_max):
    """qc_fully_connected_s8 on numpy arrays; same arguments and result as
    qcompile.reference.conv.fully_connected."""
    cdef qc_fc_params p
    attrs = dict(input_offset=input_offset, output_offset=output_offset, multiplier=multiplier, shift=shift,
                 act_min=act_min, act_max=act_max)
    x = _conv_int8(x, "x")
    w = _conv_int8(w, "w")
    _fc_fill_params(&p, x.shape, w.shape, attrs)
    b, mult, shf = _conv_requant_arrays(bias, multiplier, shift, p.out_features, True)
    if mult.size != 1:
        p.per_channel = 1
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
    cdef qc_fc_params p
    _fc_fill_params(&p, x_shape, w_shape, attrs)
    return int(qc_fully_connected_s8_scratch_size(&p))
