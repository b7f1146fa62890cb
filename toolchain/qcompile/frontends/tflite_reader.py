"""A small reader of the TFLite flatbuffer schema (``schema.fbs``), in pure Python.

Why our own: the compiler must not depend on ``tflite_micro`` at run time (a test
dependency) and only needs a handful of tables, read once. FlatBuffers is a simple
format: a table starts with a signed offset to its vtable, whose ``uint16`` slots give
each field's offset inside the table (0 = absent, use the schema default); reference
fields (tables, vectors, strings) hold a ``uint32`` offset relative to themselves.
Field slot numbers below are those of ``tensorflow/lite/schema/schema.fbs`` (they never
change: the schema only appends fields).

Only what the importer needs is decoded: the model's operator codes, subgraph 0
(tensors with their quantization, inputs, outputs, operators with their builtin
options) and the buffers. Buffers stored outside the flatbuffer (``offset``/``size``,
models above 2 GB) are read from the bytes that follow it, as TFLite does.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qcompile.errors import QCompileError

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
    83: "PACK",
    88: "UNPACK",
    97: "RESIZE_NEAREST_NEIGHBOR",
    98: "LEAKY_RELU",
    114: "QUANTIZE",
    117: "HARD_SWISH",
}

FUSED_ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}
PADDINGS = {0: "SAME", 1: "VALID"}

# Builtin options tables: union type id -> (table name, [(field, slot, kind, default)]).
# kind: "b" int8, "B" uint8/bool, "i" int32, "f" float32, "vi" vector of int32.
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
    30: ("SqueezeOptions", [("squeeze_dims", 0, "vi", None)]),
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
class TfliteModel:
    version: int
    tensors: list[TfliteTensor]
    operators: list[TfliteOperator]
    inputs: list[int]
    outputs: list[int]
    num_subgraphs: int
    description: str = ""


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
        else:
            out[fname] = r.scalar(table, slot, {"b": "b", "B": "B", "i": "i", "f": "f"}[kind], default)
    if "padding" in out:
        out["padding"] = PADDINGS.get(out["padding"], str(out["padding"]))
    if "fused_activation_function" in out:
        code = out["fused_activation_function"]
        out["fused_activation_function"] = FUSED_ACTIVATIONS.get(code, str(code))
    return out


def read_tflite(data: bytes) -> TfliteModel:
    """Parse a .tflite flatbuffer (subgraph 0) into plain Python objects."""
    if len(data) < 8:
        raise QCompileError("not a .tflite file (too short)")
    if data[4:8] != b"TFL3":
        raise QCompileError(f"not a .tflite file (file identifier {data[4:8]!r}, expected b'TFL3')")
    r = _Reader(data)
    model = r.u32(0)
    version = r.scalar(model, 0, "I", 0)

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

    buffers: list[tuple[int, np.ndarray | None]] = []
    for b in r.tables(model, 4):
        arr = r.numeric_vector(b, 0, "uint8")
        if arr is None or arr.size == 0:
            offset = r.scalar(b, 1, "Q", 0)
            size = r.scalar(b, 2, "Q", 0)
            if offset > 1 and size > 0:
                if offset + size > len(data):
                    raise QCompileError("a .tflite buffer lies outside the file")
                arr = np.frombuffer(data, dtype=np.uint8, count=size, offset=offset)
            else:
                arr = None
        buffers.append((b, arr))

    subgraphs = r.tables(model, 2)
    if not subgraphs:
        raise QCompileError("the .tflite file has no subgraph")
    sg = subgraphs[0]

    tensors: list[TfliteTensor] = []
    for i, t in enumerate(r.tables(sg, 0)):
        shape_arr = r.numeric_vector(t, 0, "int32")
        shape = tuple(int(d) for d in shape_arr) if shape_arr is not None else ()
        ttype = r.scalar(t, 1, "b", 0)
        buf_index = r.scalar(t, 2, "I", 0)
        quant = None
        qtable = r.ref(t, 4)
        if qtable is not None:
            scale = r.numeric_vector(qtable, 2, "float32")
            zp = r.numeric_vector(qtable, 3, "int64")
            if scale is not None and scale.size > 0:
                if zp is None or zp.size == 0:
                    zp = np.zeros(scale.shape, dtype=np.int64)
                quant = TfliteQuant(scale.astype(np.float32), zp.astype(np.int64), int(r.scalar(qtable, 6, "i", 0)))
        tensor = TfliteTensor(
            index=i,
            name=r.string(t, 3) or f"tensor{i}",
            shape=shape,
            type=int(ttype),
            buffer=int(buf_index),
            quant=quant,
            is_variable=bool(r.scalar(t, 5, "B", 0)),
        )
        if 0 < buf_index < len(buffers):
            raw = buffers[buf_index][1]
            if raw is not None and raw.size > 0:
                dtype = TENSOR_TYPES.get(tensor.type)
                if dtype is None:
                    raise QCompileError(f"constant tensor {tensor.name!r} has type {tensor.type_name}, unsupported")
                arr = np.frombuffer(raw.tobytes(), dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype)
                if arr.size != int(np.prod(shape, dtype=np.int64)):
                    raise QCompileError(f"constant tensor {tensor.name!r}: {arr.size} values for shape {shape}")
                tensor.data = arr.reshape(shape)
        tensors.append(tensor)

    operators = []
    for i, op in enumerate(r.tables(sg, 3)):
        opcode_index = r.scalar(op, 0, "I", 0)
        if opcode_index >= len(opcodes):
            raise QCompileError(f"operator {i} has opcode index {opcode_index} out of range")
        name, ver = opcodes[opcode_index]
        ins = r.numeric_vector(op, 1, "int32")
        outs = r.numeric_vector(op, 2, "int32")
        operators.append(
            TfliteOperator(
                index=i,
                op=name,
                version=int(ver),
                inputs=[int(v) for v in (ins if ins is not None else [])],
                outputs=[int(v) for v in (outs if outs is not None else [])],
                options=_options(r, op),
            )
        )
    sg_in = r.numeric_vector(sg, 1, "int32")
    sg_out = r.numeric_vector(sg, 2, "int32")
    return TfliteModel(
        version=int(version),
        tensors=tensors,
        operators=operators,
        inputs=[int(v) for v in (sg_in if sg_in is not None else [])],
        outputs=[int(v) for v in (sg_out if sg_out is not None else [])],
        num_subgraphs=len(subgraphs),
        description=r.string(model, 3),
    )
