# Binding of the non-convolution int8 kernels (runtime_c/src/qc_{add,mul,pool,softmax,lut,
# concat,pad,transpose}.c). Each wrapper takes exactly the arguments of its numpy twin in
# qcompile.reference.ops and returns a new int8 array, so property tests can compare the two
# call for call. The C structs are assigned from qcompile.ops.structs, the field dicts the code
# generator renders too.

from cpython.mem cimport PyMem_Free, PyMem_Malloc

from qcompile import op_params as _misc_layout
from qcompile.ops import structs as _structs

cdef extern from "qc_kernels.h":
    ctypedef struct qc_add_params:
        int32_t out_shape[5]
        int32_t in1_strides[5]
        int32_t in2_strides[5]
        int32_t subtract
        int32_t input1_offset
        int32_t input2_offset
        int32_t output_offset
        int32_t left_shift
        int32_t input1_multiplier
        int32_t input1_shift
        int32_t input2_multiplier
        int32_t input2_shift
        int32_t output_multiplier
        int32_t output_shift
        int32_t act_min
        int32_t act_max

    ctypedef struct qc_mul_params:
        int32_t out_shape[5]
        int32_t in1_strides[5]
        int32_t in2_strides[5]
        int32_t input1_offset
        int32_t input2_offset
        int32_t output_offset
        int32_t output_multiplier
        int32_t output_shift
        int32_t act_min
        int32_t act_max

    ctypedef struct qc_pool_params:
        int32_t batches
        int32_t in_h
        int32_t in_w
        int32_t channels
        int32_t out_h
        int32_t out_w
        int32_t kernel_h
        int32_t kernel_w
        int32_t stride_h
        int32_t stride_w
        int32_t pad_top
        int32_t pad_left
        int32_t act_min
        int32_t act_max

    ctypedef struct qc_softmax_params:
        int32_t outer
        int32_t depth
        int32_t input_multiplier
        int32_t input_left_shift
        int32_t diff_min

    ctypedef struct qc_pad_params:
        int32_t in_shape[5]
        int32_t pad_before[5]
        int32_t pad_after[5]
        int32_t pad_value

    ctypedef struct qc_transpose_params:
        int32_t in_shape[5]
        int32_t perm[5]

    int qc_add_s8(const qc_add_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) nogil
    int qc_mul_s8(const qc_mul_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) nogil
    int qc_max_pool2d_s8(const qc_pool_params *p, const int8_t *input, int8_t *output) nogil
    int qc_avg_pool2d_s8(const qc_pool_params *p, const int8_t *input, int8_t *output, void *scratch) nogil
    size_t qc_avg_pool2d_s8_scratch_size(const qc_pool_params *p) nogil
    int qc_softmax_s8(const qc_softmax_params *p, const int8_t *input, int8_t *output) nogil
    int qc_lut_s8(const int8_t *table, const int8_t *input, int8_t *output, int32_t size) nogil
    int qc_concat_s8(int32_t outer, int32_t num_inputs, const int8_t *const *inputs,
                     const int32_t *inner_sizes, int8_t *output) nogil
    int qc_pad_s8(const qc_pad_params *p, const int8_t *input, int8_t *output) nogil
    int qc_transpose_s8(const qc_transpose_params *p, const int8_t *input, int8_t *output) nogil


def _misc_s8(x, name="input"):
    """A C-contiguous int8 array (a copy only if needed); other dtypes are rejected."""
    a = np.asarray(x)
    if a.dtype != np.int8:
        raise ValueError(f"{name} must be int8, got {a.dtype}")
    # (np.ascontiguousarray would turn a 0-d array into shape (1,))
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


cdef inline const int8_t *_misc_ptr(a):
    return <const int8_t *><size_t>a.ctypes.data


cdef inline int8_t *_misc_out_ptr(a):
    return <int8_t *><size_t>a.ctypes.data


def add_s8(x1, x2, *, subtract, input1_offset, input2_offset, output_offset, left_shift,
           input1_multiplier, input1_shift, input2_multiplier, input2_shift,
           output_multiplier, output_shift, act_min, act_max):
    """C qc_add_s8 (ADD, or SUB when subtract=1) with numpy broadcasting; twin of reference.ops.add."""
    cdef qc_add_params p
    cdef int rc
    a = _misc_s8(x1, "x1")
    b = _misc_s8(x2, "x2")
    attrs = dict(subtract=subtract, input1_offset=input1_offset, input2_offset=input2_offset,
                 output_offset=output_offset, left_shift=left_shift, input1_multiplier=input1_multiplier,
                 input1_shift=input1_shift, input2_multiplier=input2_multiplier, input2_shift=input2_shift,
                 output_multiplier=output_multiplier, output_shift=output_shift, act_min=act_min, act_max=act_max)
    p = _structs.add_fields(a.shape, b.shape, attrs)
    out = np.empty(np.broadcast_shapes(a.shape, b.shape), dtype=np.int8)
    if out.size == 0:
        return out
    rc = qc_add_s8(&p, _misc_ptr(a), _misc_ptr(b), _misc_out_ptr(out))
    if rc != 0:
        raise ValueError("qc_add_s8 rejected its parameters")
    return out


def mul_s8(x1, x2, *, input1_offset, input2_offset, output_offset, output_multiplier,
           output_shift, act_min, act_max):
    """C qc_mul_s8 with numpy broadcasting; twin of reference.ops.mul."""
    cdef qc_mul_params p
    cdef int rc
    a = _misc_s8(x1, "x1")
    b = _misc_s8(x2, "x2")
    attrs = dict(input1_offset=input1_offset, input2_offset=input2_offset, output_offset=output_offset,
                 output_multiplier=output_multiplier, output_shift=output_shift, act_min=act_min, act_max=act_max)
    p = _structs.mul_fields(a.shape, b.shape, attrs)
    out = np.empty(np.broadcast_shapes(a.shape, b.shape), dtype=np.int8)
    if out.size == 0:
        return out
    rc = qc_mul_s8(&p, _misc_ptr(a), _misc_ptr(b), _misc_out_ptr(out))
    if rc != 0:
        raise ValueError("qc_mul_s8 rejected its parameters")
    return out


cdef qc_pool_params _misc_pool_params(x_shape, kernel, strides, pads, act_min, act_max) except *:
    return _structs.pool_fields(x_shape, dict(kernel=kernel, strides=strides, pads=pads, act_min=act_min,
                                              act_max=act_max))


def max_pool2d_s8(x, *, kernel, strides, pads, act_min, act_max):
    """C qc_max_pool2d_s8 on NHWC int8; twin of reference.ops.max_pool2d."""
    cdef qc_pool_params p
    cdef int rc
    a = _misc_s8(x, "x")
    p = _misc_pool_params(a.shape, kernel, strides, pads, act_min, act_max)
    out = np.empty((p.batches, p.out_h, p.out_w, p.channels), dtype=np.int8)
    if out.size == 0:
        return out
    rc = qc_max_pool2d_s8(&p, _misc_ptr(a), _misc_out_ptr(out))
    if rc != 0:
        raise ValueError("qc_max_pool2d_s8 rejected its parameters")
    return out


def avg_pool2d_s8_scratch_size(x_shape, **attrs):
    """Bytes of scratch qc_avg_pool2d_s8 needs for this input shape and these node attributes."""
    cdef qc_pool_params p
    p = _misc_pool_params(x_shape, attrs["kernel"], attrs["strides"], attrs["pads"],
                          attrs.get("act_min", -128), attrs.get("act_max", 127))
    return int(qc_avg_pool2d_s8_scratch_size(&p))


def avg_pool2d_s8(x, *, kernel, strides, pads, act_min, act_max):
    """C qc_avg_pool2d_s8 on NHWC int8; twin of reference.ops.avg_pool2d."""
    cdef qc_pool_params p
    cdef int rc
    cdef size_t nscratch
    a = _misc_s8(x, "x")
    p = _misc_pool_params(a.shape, kernel, strides, pads, act_min, act_max)
    out = np.empty((p.batches, p.out_h, p.out_w, p.channels), dtype=np.int8)
    if out.size == 0:
        return out
    nscratch = qc_avg_pool2d_s8_scratch_size(&p)
    scratch = np.empty(max(<Py_ssize_t>nscratch, 1), dtype=np.uint8)
    rc = qc_avg_pool2d_s8(&p, _misc_ptr(a), _misc_out_ptr(out), <void *><size_t>scratch.ctypes.data)
    if rc != 0:
        raise ValueError("qc_avg_pool2d_s8 rejected its parameters (a window covering only padding?)")
    return out


def softmax_s8(x, *, input_multiplier, input_left_shift, diff_min):
    """C qc_softmax_s8 over the last axis; twin of reference.ops.softmax."""
    cdef qc_softmax_params p
    cdef int rc
    a = _misc_s8(x, "x")
    p = _structs.softmax_fields(a.shape, dict(input_multiplier=input_multiplier, input_left_shift=input_left_shift,
                                              diff_min=diff_min))
    out = np.empty(a.shape, dtype=np.int8)
    if out.size == 0:
        return out
    rc = qc_softmax_s8(&p, _misc_ptr(a), _misc_out_ptr(out))
    if rc != 0:
        raise ValueError("qc_softmax_s8 rejected its parameters (row longer than 4095?)")
    return out


def lut_s8(x, *, table):
    """C qc_lut_s8; twin of reference.ops.lut."""
    a = _misc_s8(x, "x")
    t = _misc_s8(table, "table")
    if t.shape != (256,):
        raise ValueError("lut table must be int8[256]")
    if a.size > 2147483647:
        raise ValueError("tensor too large")
    out = np.empty(a.shape, dtype=np.int8)
    if out.size == 0:
        return out
    if qc_lut_s8(_misc_ptr(t), _misc_ptr(a), _misc_out_ptr(out), <int32_t>a.size) != 0:
        raise ValueError("qc_lut_s8 rejected its parameters")
    return out


def concat_s8(*xs, axis):
    """C qc_concat_s8; twin of reference.ops.concat."""
    cdef const int8_t **ptrs
    cdef int32_t *sizes
    cdef int i, n
    arrays = [_misc_s8(x, "concat input") for x in xs]
    outer, inner = _misc_layout.concat_layout([a.shape for a in arrays], axis)
    axis = int(axis)
    shape = list(arrays[0].shape)
    shape[axis] = sum(a.shape[axis] for a in arrays)
    out = np.empty(tuple(shape), dtype=np.int8)
    if out.size == 0:
        return out
    n = len(arrays)
    ptrs = <const int8_t **>PyMem_Malloc(n * sizeof(int8_t *))
    sizes = <int32_t *>PyMem_Malloc(n * sizeof(int32_t))
    if ptrs == NULL or sizes == NULL:
        PyMem_Free(ptrs)
        PyMem_Free(sizes)
        raise MemoryError()
    try:
        for i in range(n):
            ptrs[i] = _misc_ptr(arrays[i])
            sizes[i] = inner[i]
        if qc_concat_s8(<int32_t>outer, n, ptrs, sizes, _misc_out_ptr(out)) != 0:
            raise ValueError("qc_concat_s8 rejected its parameters")
    finally:
        PyMem_Free(ptrs)
        PyMem_Free(sizes)
    return out


def pad_s8(x, *, pads, pad_value):
    """C qc_pad_s8; twin of reference.ops.pad."""
    cdef qc_pad_params p
    a = _misc_s8(x, "x")
    p = _structs.pad_fields(a.shape, dict(pads=pads, pad_value=pad_value))
    out = np.empty(tuple(d + pb + pa for d, (pb, pa) in zip(a.shape, [(int(u), int(v)) for u, v in pads])),
                   dtype=np.int8)
    if out.size == 0:
        return out
    if qc_pad_s8(&p, _misc_ptr(a), _misc_out_ptr(out)) != 0:
        raise ValueError("qc_pad_s8 rejected its parameters")
    return out


def transpose_s8(x, *, perm):
    """C qc_transpose_s8; twin of reference.ops.transpose."""
    cdef qc_transpose_params p
    a = _misc_s8(x, "x")
    p = _structs.transpose_fields(a.shape, dict(perm=perm))
    out = np.empty(tuple(a.shape[int(q)] for q in perm), dtype=np.int8)
    if out.size == 0:
        return out
    if qc_transpose_s8(&p, _misc_ptr(a), _misc_out_ptr(out)) != 0:
        raise ValueError("qc_transpose_s8 rejected its parameters")
    return out
