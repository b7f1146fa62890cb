"""A small reader of the TFLite flatbuffer schema (``schema.fbs``), in pure Python.

Why our own: the compiler must not depend on ``tflite_micro`` at run time (a test
dependency) and only needs a handful of tables, read once. FlatBuffers is a simple
format: a table starts with a signed offset to its vtable, whose ``uint16`` slots give
each field's offset inside the table (0 = absent, use the schema default); reference
fields (tables, vectors, strings) hold a ``uint32`` offset relative to themselves.
Field slot numbers below are those of ``tensorflow/lite/schema/schema.fbs`` (they never
change: the schema only appends fields).

Only what the importer needs is decoded: the model's operator codes, its subgraphs
(tensors with their quantization, inputs, outputs, operators with their builtin
options; subgraph 0 is the model, the others are what CALL_ONCE runs) and the buffers. Buffers stored outside the flatbuffer (``offset``/``size``,
models above 2 GB) are read from the bytes that follow it, as TFLite does.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qcompile.errors import QCompileError
from qcompile.limits import check_shape

# TensorType values (schema.fbs) and the numpy dtype of each we can read.
TENSOR_TYPES: dict[int, str] = {
    0: "float32",
    1: "float16",
    2: "int32",
    3: "uint8",
    4: "int64",
    6: "bool",
    7: "int16",
    9: "int8",
    10: "float64",
}
TENSOR_TYPE_NAMES = {
    0: "FLOAT32",
    1: "FLOAT16",
    2: "INT32",
    3: "UINT8",
    4: "INT64",
    5: "STRING",
    6: "BOOL",
    7: "INT16",
    8: "COMPLEX64",
    9: "INT8",
    10: "FLOAT64",
    13: "RESOURCE",
    17: "INT4",
}

# BuiltinOperator codes (schema.fbs) by name, for every op the importer knows plus the
# common ones so an error can name what it refuses.
BUILTIN_OPS: dict[int, str] = {
    0: "ADD",
    1: "AVERAGE_POOL_2D",
    2: "CONCATENATION",
    3: "CONV_2D",
    4: "DEPTHWISE_CONV_2D",
    5: "DEPTH_TO_SPACE",
    6: "DEQUANTIZE",
    7: "EMBEDDING_LOOKUP",
    8: "FLOOR",
    9: "FULLY_CONNECTED",
    10: "HASHTABLE_LOOKUP",
    11: "L2_NORMALIZATION",
    12: "L2_POOL_2D",
    13: "LOCAL_RESPONSE_NORMALIZATION",
    14: "LOGISTIC",
    15: "LSH_PROJECTION",
    16: "LSTM",
    17: "MAX_POOL_2D",
    18: "MUL",
    19: "RELU",
    20: "RELU_N1_TO_1",
    21: "RELU6",
    22: "RESHAPE",
    23: "RESIZE_BILINEAR",
    24: "RNN",
    25: "SOFTMAX",
    26: "SPACE_TO_DEPTH",
    27: "SVDF",
    28: "TANH",
    32: "CUSTOM",
    34: "PAD",
    36: "GATHER",
    39: "TRANSPOSE",
    40: "MEAN",
    41: "SUB",
    42: "DIV",
    43: "SQUEEZE",
    44: "UNIDIRECTIONAL_SEQUENCE_LSTM",
    45: "STRIDED_SLICE",
    49: "SPLIT",
    53: "CAST",
    54: "PRELU",
    55: "MAXIMUM",
    57: "MINIMUM",
    60: "PADV2",
    65: "SLICE",
    67: "TRANSPOSE_CONV",
    70: "EXPAND_DIMS",
    74: "SUM",
    75: "SQRT",
    76: "RSQRT",
    82: "REDUCE_MAX",
    83: "PACK",
    88: "UNPACK",
    97: "RESIZE_NEAREST_NEIGHBOR",
    98: "LEAKY_RELU",
    114: "QUANTIZE",
    117: "HARD_SWISH",
    126: "BATCH_MATMUL",
    102: "SPLIT_V",
    129: "CALL_ONCE",
    142: "VAR_HANDLE",
    143: "READ_VARIABLE",
    144: "ASSIGN_VARIABLE",
}

FUSED_ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}
PADDINGS = {0: "SAME", 1: "VALID"}

# Builtin options tables: union type id -> (table name, [(field, slot, kind, default)]).
# kind: "b" int8, "B" uint8/bool, "i" int32, "f" float32, "vi" vector of int32, "s" string.
_OPTIONS: dict[int, tuple[str, list[tuple[str, int, str, Any]]]] = {
    1: (
        "Conv2DOptions",
        [
            ("padding", 0, "b", 0),
            ("stride_w", 1, "i", 0),
            ("stride_h", 2, "i", 0),
            ("fused_activation_function", 3, "b", 0),
            ("dilation_w_factor", 4, "i", 1),
            ("dilation_h_factor", 5, "i", 1),
        ],
    ),
    2: (
        "DepthwiseConv2DOptions",
        [
            ("padding", 0, "b", 0),
            ("stride_w", 1, "i", 0),
            ("stride_h", 2, "i", 0),
            ("depth_multiplier", 3, "i", 0),
            ("fused_activation_function", 4, "b", 0),
            ("dilation_w_factor", 5, "i", 1),
            ("dilation_h_factor", 6, "i", 1),
        ],
    ),
    5: (
        "Pool2DOptions",
        [
            ("padding", 0, "b", 0),
            ("stride_w", 1, "i", 0),
            ("stride_h", 2, "i", 0),
            ("filter_width", 3, "i", 0),
            ("filter_height", 4, "i", 0),
            ("fused_activation_function", 5, "b", 0),
        ],
    ),
    8: (
        "FullyConnectedOptions",
        [
            ("fused_activation_function", 0, "b", 0),
            ("weights_format", 1, "b", 0),
            ("keep_num_dims", 2, "B", 0),
            ("asymmetric_quantize_inputs", 3, "B", 0),
        ],
    ),
    9: ("SoftmaxOptions", [("beta", 0, "f", 0.0)]),
    10: ("ConcatenationOptions", [("axis", 0, "i", 0), ("fused_activation_function", 1, "b", 0)]),
    11: ("AddOptions", [("fused_activation_function", 0, "b", 0)]),
    17: ("ReshapeOptions", [("new_shape", 0, "vi", None)]),
    21: ("MulOptions", [("fused_activation_function", 0, "b", 0)]),
    22: ("PadOptions", []),
    27: ("ReducerOptions", [("keep_dims", 0, "B", 0)]),
    28: ("SubOptions", [("fused_activation_function", 0, "b", 0)]),
    29: ("DivOptions", [("fused_activation_function", 0, "b", 0)]),
    30: ("SqueezeOptions", [("squeeze_dims", 0, "vi", None)]),
    101: (
        "BatchMatMulOptions",
        [("adj_x", 0, "B", 0), ("adj_y", 1, "B", 0), ("asymmetric_quantize_inputs", 2, "B", 0)],
    ),
    75: ("LeakyReluOptions", [("alpha", 0, "f", 0.0)]),
    32: (
        "StridedSliceOptions",
        [
            ("begin_mask", 0, "i", 0),
            ("end_mask", 1, "i", 0),
            ("ellipsis_mask", 2, "i", 0),
            ("new_axis_mask", 3, "i", 0),
            ("shrink_axis_mask", 4, "i", 0),
            ("offset", 5, "B", 0),
        ],
    ),
    35: ("SplitOptions", [("num_splits", 0, "i", 0)]),
    48: ("SliceOptions", []),
    71: (
        "UnidirectionalSequenceLSTMOptions",
        [
            ("fused_activation_function", 0, "b", 0),
            ("cell_clip", 1, "f", 0.0),
            ("proj_clip", 2, "f", 0.0),
            ("time_major", 3, "B", 0),
            ("asymmetric_quantize_inputs", 4, "B", 0),
            ("diagonal_recurrent_tensors", 5, "B", 0),
        ],
    ),
    79: ("SplitVOptions", [("num_splits", 0, "i", 0)]),
    103: ("CallOnceOptions", [("init_subgraph_index", 0, "i", 0)]),
    111: ("VarHandleOptions", [("container", 0, "s", ""), ("shared_name", 1, "s", "")]),
    15: ("ResizeBilinearOptions", [("align_corners", 2, "B", 0), ("half_pixel_centers", 3, "B", 0)]),
    19: ("SpaceToDepthOptions", [("block_size", 0, "i", 0)]),
    23: ("GatherOptions", [("axis", 0, "i", 0), ("batch_dims", 1, "i", 0)]),
    26: ("TransposeOptions", []),
    49: (
        "TransposeConvOptions",
        [("padding", 0, "b", 0), ("stride_w", 1, "i", 0), ("stride_h", 2, "i", 0)]
        + [("fused_activation_function", 3, "b", 0)],
    ),
    74: ("ResizeNearestNeighborOptions", [("align_corners", 0, "B", 0), ("half_pixel_centers", 1, "B", 0)]),
    94: ("DepthToSpaceOptions", [("block_size", 0, "i", 0)]),
}


@dataclass
class TfliteQuant:
    """A tensor's quantization as stored: float32 scales, int64 zero points."""

    scale: np.ndarray
    zero_point: np.ndarray
    quantized_dimension: int = 0


@dataclass
class TfliteTensor:
    index: int
    name: str
    shape: tuple[int, ...]
    type: int
    buffer: int
    quant: TfliteQuant | None
    data: np.ndarray | None = None
    is_variable: bool = False

    @property
    def type_name(self) -> str:
        return TENSOR_TYPE_NAMES.get(self.type, f"type{self.type}")


@dataclass
class TfliteOperator:
    index: int
    op: str  # builtin name, or "CUSTOM:<code>" / "BUILTIN_<n>"
    version: int
    inputs: list[int]
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class TfliteSubgraph:
    index: int
    tensors: list[TfliteTensor]
    operators: list[TfliteOperator]
    inputs: list[int]
    outputs: list[int]


@dataclass
class TfliteModel:
    """Subgraph 0's tensors, operators, inputs and outputs; every subgraph in ``subgraphs``."""

    version: int
    tensors: list[TfliteTensor]
    operators: list[TfliteOperator]
    inputs: list[int]
    outputs: list[int]
    num_subgraphs: int
    description: str = ""
    subgraphs: list[TfliteSubgraph] = field(default_factory=list)


class _Reader:
    """Bounds-checked access to the raw flatbuffer bytes."""

    def __init__(self, buf: bytes) -> None:
        self.buf = buf

    def _unpack(self, fmt: str, pos: int) -> Any:
        size = struct.calcsize(fmt)
        if pos < 0 or pos + size > len(self.buf):
            raise QCompileError("truncated or corrupt .tflite flatbuffer")
        return struct.unpack_from(fmt, self.buf, pos)[0]

    def u32(self, pos: int) -> int:
        return self._unpack("<I", pos)

    def field_pos(self, table: int, slot: int) -> int | None:
        """Absolute position of field ``slot`` of the table at ``table``, or None if absent."""
        vtable = table - self._unpack("<i", table)
        vt_size = self._unpack("<H", vtable)
        entry = 4 + 2 * slot
        if entry >= vt_size:
            return None
        off = self._unpack("<H", vtable + entry)
        return table + off if off else None

    def scalar(self, table: int, slot: int, fmt: str, default: Any) -> Any:
        pos = self.field_pos(table, slot)
        return default if pos is None else self._unpack("<" + fmt, pos)

    def ref(self, table: int, slot: int) -> int | None:
        """Target of a reference field (table, vector or string)."""
        pos = self.field_pos(table, slot)
        return None if pos is None else pos + self.u32(pos)

    def vector(self, table: int, slot: int) -> tuple[int, int] | None:
        """(start of elements, length) of a vector field."""
        pos = self.ref(table, slot)
        if pos is None:
            return None
        return pos + 4, self.u32(pos)

    def numeric_vector(self, table: int, slot: int, dtype: str) -> np.ndarray | None:
        vec = self.vector(table, slot)
        if vec is None:
            return None
        start, n = vec
        dt = np.dtype(dtype).newbyteorder("<")
        end = start + n * dt.itemsize
        if end > len(self.buf):
            raise QCompileError("truncated or corrupt .tflite flatbuffer")
        return np.frombuffer(self.buf, dtype=dt, count=n, offset=start).astype(dtype)

    def tables(self, table: int, slot: int) -> list[int]:
        vec = self.vector(table, slot)
        if vec is None:
            return []
        start, n = vec
        if start + 4 * n > len(self.buf):
            raise QCompileError("truncated or corrupt .tflite flatbuffer (a vector runs past the end of the file)")
        return [start + 4 * i + self.u32(start + 4 * i) for i in range(n)]

    def string(self, table: int, slot: int) -> str:
        pos = self.ref(table, slot)
        if pos is None:
            return ""
        n = self.u32(pos)
        return self.buf[pos + 4 : pos + 4 + n].decode("utf-8", errors="replace")


def _options(r: _Reader, op_table: int) -> dict[str, Any]:
    opt_type = r.scalar(op_table, 3, "B", 0)
    table = r.ref(op_table, 4)
    if opt_type == 0 or table is None or opt_type not in _OPTIONS:
        return {}
    name, fields = _OPTIONS[opt_type]
    out: dict[str, Any] = {"_table": name}
    for fname, slot, kind, default in fields:
        if kind == "vi":
            vec = r.numeric_vector(table, slot, "int32")
            out[fname] = None if vec is None else [int(v) for v in vec]
        elif kind == "s":
            out[fname] = r.string(table, slot)
        else:
            out[fname] = r.scalar(table, slot, {"b": "b", "B": "B", "i": "i", "f": "f"}[kind], default)
    if "padding" in out:
        out["padding"] = PADDINGS.get(out["padding"], str(out["padding"]))
    if "fused_activation_function" in out:
        code = out["fused_activation_function"]
        out["fused_activation_function"] = FUSED_ACTIVATIONS.get(code, str(code))
    return out


def read_tflite(data: bytes) -> TfliteModel:
    """Parse a .tflite flatbuffer (every subgraph) into plain Python objects.

    Every offset, vector length, buffer and tensor index is checked against the file
    before it is followed, so a corrupt file ends in one ``QCompileError`` naming what is
    wrong, never in an exception from ``struct`` or numpy or an allocation the file cannot
    back."""
    if len(data) < 8:
        raise QCompileError("not a .tflite file (too short)")
    if data[4:8] != b"TFL3":
        raise QCompileError(f"not a .tflite file (file identifier {data[4:8]!r}, expected b'TFL3')")
    r = _Reader(data)
    model = r.u32(0)
    opcodes = _opcodes(r, model)
    buffers = _buffers(r, model)
    subgraphs = r.tables(model, 2)
    if not subgraphs:
        raise QCompileError("the .tflite file has no subgraph")
    graphs = [_subgraph(r, index, sg, opcodes, buffers) for index, sg in enumerate(subgraphs)]
    main = graphs[0]
    return TfliteModel(
        version=int(r.scalar(model, 0, "I", 0)),
        tensors=main.tensors,
        operators=main.operators,
        inputs=main.inputs,
        outputs=main.outputs,
        num_subgraphs=len(subgraphs),
        description=r.string(model, 3),
        subgraphs=graphs,
    )


def _subgraph(
    r: _Reader, index: int, sg: int, opcodes: list[tuple[str, int]], buffers: list[np.ndarray | None]
) -> TfliteSubgraph:
    graph = TfliteSubgraph(
        index=index,
        tensors=[_tensor(r, i, t, buffers) for i, t in enumerate(r.tables(sg, 0))],
        operators=[_operator(r, i, op, opcodes) for i, op in enumerate(r.tables(sg, 3))],
        inputs=_ints(r.numeric_vector(sg, 1, "int32")),
        outputs=_ints(r.numeric_vector(sg, 2, "int32")),
    )
    _check_graph(graph)
    return graph


def _ints(vec: np.ndarray | None) -> list[int]:
    return [] if vec is None else [int(v) for v in vec]


def _opcodes(r: _Reader, model: int) -> list[tuple[str, int]]:
    """(operator name, version) of every operator code."""
    opcodes: list[tuple[str, int]] = []
    for oc in r.tables(model, 1):
        deprecated = r.scalar(oc, 0, "b", 0)
        code = r.scalar(oc, 3, "i", 0)
        code = max(int(deprecated), int(code))  # TFLite's GetBuiltinCode
        ver = r.scalar(oc, 2, "i", 1)
        if code == 32:
            name = "CUSTOM:" + r.string(oc, 1)
        else:
            name = BUILTIN_OPS.get(code, f"BUILTIN_{code}")
        opcodes.append((name, ver))
    return opcodes


def _buffers(r: _Reader, model: int) -> list[np.ndarray | None]:
    """Bytes of every buffer, inline or stored after the flatbuffer (``offset``/``size``)."""
    buffers: list[np.ndarray | None] = []
    for index, b in enumerate(r.tables(model, 4)):
        arr = r.numeric_vector(b, 0, "uint8")
        if arr is None or arr.size == 0:
            offset = r.scalar(b, 1, "Q", 0)
            size = r.scalar(b, 2, "Q", 0)
            if offset > 1 and size > 0:
                if offset + size > len(r.buf):
                    raise QCompileError(f"buffer {index} of the .tflite file lies outside the file (corrupt file)")
                arr = np.frombuffer(r.buf, dtype=np.uint8, count=size, offset=offset)
            else:
                arr = None
        buffers.append(arr)
    return buffers


def _tensor(r: _Reader, index: int, t: int, buffers: list[np.ndarray | None]) -> TfliteTensor:
    """Tensor ``index`` with its quantization and, for a constant, its values."""
    shape_arr = r.numeric_vector(t, 0, "int32")
    name = r.string(t, 3) or f"tensor{index}"
    buf_index = int(r.scalar(t, 2, "I", 0))
    if buf_index >= len(buffers):
        raise QCompileError(
            f"tensor {index} ({name!r}) refers to buffer {buf_index}, but the file has {len(buffers)} buffers"
        )
    raw = buffers[buf_index] if buf_index > 0 else None
    # only a constant may be empty (a zero-size activation would reach kernels as a 0 divisor)
    shape = check_shape(_ints(shape_arr), f"tensor {index} ({name!r})", allow_empty=raw is not None)
    tensor = TfliteTensor(
        index=index,
        name=name,
        shape=shape,
        type=int(r.scalar(t, 1, "b", 0)),
        buffer=buf_index,
        quant=_quant(r, r.ref(t, 4), f"tensor {index} ({name!r})", len(shape)),
        is_variable=bool(r.scalar(t, 5, "B", 0)),
    )
    if raw is not None and raw.size > 0:
        tensor.data = _constant(tensor, raw)
    return tensor


def _constant(tensor: TfliteTensor, raw: np.ndarray) -> np.ndarray:
    dtype = TENSOR_TYPES.get(tensor.type)
    if dtype is None:
        raise QCompileError(f"constant tensor {tensor.name!r} has type {tensor.type_name}, unsupported")
    dt = np.dtype(dtype).newbyteorder("<")
    count = int(np.prod(tensor.shape, dtype=np.int64))
    if raw.size != count * dt.itemsize:
        raise QCompileError(
            f"constant tensor {tensor.name!r}: {raw.size} bytes for shape {tensor.shape} of {tensor.type_name} "
            f"({count * dt.itemsize} expected); the file is corrupt"
        )
    return np.frombuffer(raw.tobytes(), dtype=dt).astype(dtype).reshape(tensor.shape)


def _quant(r: _Reader, qtable: int | None, what: str, rank: int) -> TfliteQuant | None:
    """A tensor's scales and zero points; refused when a kernel could not use them (scale 0
    divides by zero in every multiplier)."""
    if qtable is None:
        return None
    scale = r.numeric_vector(qtable, 2, "float32")
    zp = r.numeric_vector(qtable, 3, "int64")
    if scale is None or scale.size == 0:
        return None
    if zp is None or zp.size == 0:
        zp = np.zeros(scale.shape, dtype=np.int64)
    axis = int(r.scalar(qtable, 6, "i", 0))
    if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
        raise QCompileError(f"{what} has quantization scales {scale[:8].tolist()}; every scale must be positive")
    if zp.size != scale.size:
        raise QCompileError(f"{what} has {scale.size} quantization scales but {zp.size} zero points")
    if np.any(np.abs(zp) > 1 << 16):
        raise QCompileError(f"{what} has zero points {zp[:8].tolist()} out of range")
    if scale.size > 1 and not 0 <= axis < rank:
        raise QCompileError(f"{what} is quantized along axis {axis} but has rank {rank}")
    return TfliteQuant(scale.astype(np.float32), zp.astype(np.int64), axis)


def _operator(r: _Reader, index: int, op: int, opcodes: list[tuple[str, int]]) -> TfliteOperator:
    opcode_index = r.scalar(op, 0, "I", 0)
    if opcode_index >= len(opcodes):
        raise QCompileError(f"operator {index} has opcode index {opcode_index} out of range")
    name, ver = opcodes[opcode_index]
    return TfliteOperator(
        index=index,
        op=name,
        version=int(ver),
        inputs=_ints(r.numeric_vector(op, 1, "int32")),
        outputs=_ints(r.numeric_vector(op, 2, "int32")),
        options=_options(r, op),
    )


def _check_graph(model: TfliteSubgraph) -> None:
    """Every tensor index names a tensor of its subgraph (-1, "absent", only for operator inputs),
    and every operator output is a fresh activation written by that operator alone."""
    n = len(model.tensors)

    def bad(indices: list[int], optional: bool) -> list[int]:
        return [i for i in indices if not (0 <= i < n or (optional and i == -1))]

    for what, indices, optional in (("graph inputs", model.inputs, False), ("graph outputs", model.outputs, False)):
        if bad(indices, optional):
            raise QCompileError(f"the {what} name tensors {bad(indices, optional)}, but the model has {n} tensors")
    for op in model.operators:
        for what, indices, optional in (("inputs", op.inputs, True), ("outputs", op.outputs, False)):
            if bad(indices, optional):
                raise QCompileError(
                    f"{_where(model)}operator {op.index} ({op.op}) {what} name tensors {bad(indices, optional)}, "
                    f"but the model has {n} tensors (corrupt file)"
                )
    written: set[int] = set(model.inputs)
    for op in model.operators:
        for i in op.outputs:
            t = model.tensors[i]
            if i in written or t.data is not None:
                raise QCompileError(
                    f"{_where(model)}operator {op.index} ({op.op}) writes tensor {i} ({t.name!r}), which is a constant, a graph "
                    "input or another operator's output (corrupt file)"
                )
            written.add(i)


def _where(graph: TfliteSubgraph) -> str:
    return f"subgraph {graph.index}: " if graph.index else ""
