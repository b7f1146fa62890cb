"""Seed models and the mutators that turn them into hostile inputs (all deterministic per seed).

Three kinds of mutation, because each finds different bugs:

* **bytes**: bit flips, truncation, inserted, deleted and zeroed bytes, and 32-bit words
  overwritten with offsets and lengths that point outside the file. On a protobuf they
  mostly break parsing or change weights; on a flatbuffer they corrupt offsets, vector
  lengths and indices.
* **ONNX structure**: valid protobufs whose graph is inconsistent (attributes set to 0,
  -1 or 2^20, dims and element types changed, raw data cut, names duplicated, nodes
  reordered or dropped, versions changed), the class the checks in
  ``qcompile.frontends.onnx_validate`` exist for.
* **calibration files**: corrupt zips, wrong members, object arrays, headers declaring
  more data than the file holds, and values that are NaN, Inf, subnormal or of the wrong
  type or shape.
"""

from __future__ import annotations

import io
import random
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

INTERESTING_INTS = [0, 1, -1, 2, 3, 7, 255, 65535, 1 << 20, (1 << 31) - 1, -(1 << 31), 1 << 40]
INTERESTING_WORDS = [0, 1, 0x7F, 0xFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x10000]


# ----------------------------------------------------------------------------------------
# seeds
# ----------------------------------------------------------------------------------------
def small_cnn() -> onnx.ModelProto:
    """Conv + BN + Relu + pools + Reshape + Concat + Pad + Div + Gemm + Softmax on a 1x3x8x8 input."""
    rng = np.random.default_rng(7)

    def init(name: str, shape: tuple[int, ...], scale: float = 0.3) -> TensorProto:
        return numpy_helper.from_array((rng.normal(size=shape) * scale).astype(np.float32), name)

    inits = [
        init("w1", (4, 3, 3, 3)),
        init("b1", (4,)),
        numpy_helper.from_array(np.abs(rng.normal(size=4)).astype(np.float32) + 0.5, "bn_s"),
        init("bn_b", (4,)),
        init("bn_m", (4,)),
        numpy_helper.from_array(np.abs(rng.normal(size=4)).astype(np.float32) + 0.5, "bn_v"),
        numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads"),
        numpy_helper.from_array(np.array([1, -1], np.int64), "shape"),
        numpy_helper.from_array(np.array([2.0], np.float32), "two"),
        init("wg", (10, 288)),
        init("bg", (10,)),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("BatchNormalization", ["c1", "bn_s", "bn_b", "bn_m", "bn_v"], ["n1"], name="bn1"),
        helper.make_node("Relu", ["n1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2], name="pool1"),
        helper.make_node("AveragePool", ["r1"], ["p2"], kernel_shape=[2, 2], strides=[2, 2], name="pool2"),
        helper.make_node("Concat", ["p1", "p2"], ["cat"], axis=1, name="cat"),
        helper.make_node("Pad", ["cat", "pads"], ["pad"], name="pad"),
        helper.make_node("Div", ["pad", "two"], ["half"], name="div"),
        helper.make_node("Reshape", ["half", "shape"], ["flat"], name="flat"),
        helper.make_node("Gemm", ["flat", "wg", "bg"], ["logits"], transB=1, name="fc"),
        helper.make_node("Softmax", ["logits"], ["y"], axis=1, name="softmax"),
    ]
    graph = helper.make_graph(
        nodes,
        "small_cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.checker.check_model(model, full_check=True)
    return model


def calib_npz(shape: tuple[int, ...], samples: int = 4, key: str = "x", seed: int = 0) -> bytes:
    data = np.random.default_rng(seed).normal(size=(samples, *shape)).astype(np.float32)
    buf = io.BytesIO()
    np.savez(buf, **{key: data})
    return buf.getvalue()


def small_tflite() -> bytes:
    """int8 CONV_2D + DEPTHWISE + ADD + AVERAGE_POOL + FULLY_CONNECTED + SOFTMAX (needs tflite_micro)."""
    from tflite_builder import PAD, ModelBuilder

    rng = np.random.default_rng(3)
    b = ModelBuilder()
    x = b.tensor("x", (1, 6, 6, 2), scale=0.05, zero_point=-3)
    w = b.tensor("w", (4, 3, 3, 2), scale=[0.02] * 4, data=rng.integers(-127, 128, (4, 3, 3, 2)), axis=0)
    bias = b.tensor("b", (4,), "int32", scale=[0.001] * 4, data=rng.integers(-500, 500, 4))
    c = b.tensor("c", (1, 6, 6, 4), scale=0.1, zero_point=2)
    b.op("CONV_2D", [x, w, bias], [c], "Conv2DOptions", padding=PAD["SAME"], strideW=1, strideH=1)
    dw = b.tensor("dw", (1, 3, 3, 4), scale=[0.03] * 4, data=rng.integers(-127, 128, (1, 3, 3, 4)), axis=3)
    d = b.tensor("d", (1, 6, 6, 4), scale=0.1, zero_point=0)
    b.op("DEPTHWISE_CONV_2D", [c, dw, -1], [d], "DepthwiseConv2DOptions", padding=PAD["SAME"], strideW=1, strideH=1)
    s = b.tensor("s", (1, 6, 6, 4), scale=0.15, zero_point=1)
    b.op("ADD", [c, d], [s], "AddOptions")
    p = b.tensor("p", (1, 1, 1, 4), scale=0.15, zero_point=1)
    b.op(
        "AVERAGE_POOL_2D",
        [s],
        [p],
        "Pool2DOptions",
        padding=PAD["VALID"],
        strideW=6,
        strideH=6,
        filterWidth=6,
        filterHeight=6,
    )
    fw = b.tensor("fw", (3, 4), scale=0.02, data=rng.integers(-127, 128, (3, 4)))
    f = b.tensor("f", (1, 3), scale=0.2, zero_point=-5)
    b.op("FULLY_CONNECTED", [p, fw, -1], [f], "FullyConnectedOptions")
    y = b.tensor("y", (1, 3), scale=1 / 256, zero_point=-128)
    b.op("SOFTMAX", [f], [y], "SoftmaxOptions", beta=1.0)
    b.inputs, b.outputs = [x], [y]
    return b.finish()


# ----------------------------------------------------------------------------------------
# byte mutators
# ----------------------------------------------------------------------------------------
def _flip(r: random.Random, d: bytearray) -> None:
    i = r.randrange(len(d))
    d[i] ^= 1 << r.randrange(8)


def _set_byte(r: random.Random, d: bytearray) -> None:
    d[r.randrange(len(d))] = r.choice([0, 0xFF, 0x7F, 0x80, r.randrange(256)])


def _truncate(r: random.Random, d: bytearray) -> None:
    del d[r.randrange(len(d)) :]


def _insert(r: random.Random, d: bytearray) -> None:
    i = r.randrange(len(d) + 1)
    d[i:i] = bytes(r.randrange(256) for _ in range(r.randrange(1, 16)))


def _delete(r: random.Random, d: bytearray) -> None:
    i = r.randrange(len(d))
    del d[i : i + r.randrange(1, 32)]


def _zero(r: random.Random, d: bytearray) -> None:
    i = r.randrange(len(d))
    n = min(len(d) - i, r.randrange(1, 64))
    d[i : i + n] = bytes(n)


def _word(r: random.Random, d: bytearray) -> None:
    """A 32-bit little-endian word (4-aligned, as flatbuffer offsets are) set to an offset or length."""
    if len(d) < 8:
        return
    i = r.randrange(len(d) // 4) * 4
    value = r.choice(INTERESTING_WORDS + [len(d), len(d) - i, len(d) + 4, r.randrange(1 << 32)])
    d[i : i + 4] = struct.pack("<I", value & 0xFFFFFFFF)


BYTE_MUTATORS: list[Callable[[random.Random, bytearray], None]] = [
    _flip,
    _flip,
    _set_byte,
    _truncate,
    _insert,
    _delete,
    _zero,
    _word,
    _word,
]


def mutate_bytes(data: bytes, r: random.Random) -> bytes:
    d = bytearray(data)
    for _ in range(r.choice([1, 1, 2, 3])):
        if not d:
            break
        r.choice(BYTE_MUTATORS)(r, d)
    return bytes(d)


# ----------------------------------------------------------------------------------------
# ONNX structure mutators
# ----------------------------------------------------------------------------------------
def _m_int_attr(r: random.Random, m: onnx.ModelProto) -> None:
    nodes = [n for n in m.graph.node if n.attribute]
    if not nodes:
        return
    attr = r.choice(r.choice(nodes).attribute)
    if attr.type == onnx.AttributeProto.INT:
        attr.i = r.choice(INTERESTING_INTS)
    elif attr.type == onnx.AttributeProto.INTS and attr.ints:
        attr.ints[r.randrange(len(attr.ints))] = r.choice(INTERESTING_INTS)
    elif attr.type == onnx.AttributeProto.STRING:
        attr.s = r.choice([b"", b"FOO", b"SAME_UPPER", b"VALID", b"\xff"])
    elif attr.type == onnx.AttributeProto.FLOAT:
        attr.f = r.choice([0.0, -1.0, 1e38, float("nan"), float("inf")])


def _m_add_attr(r: random.Random, m: onnx.ModelProto) -> None:
    node = r.choice(m.graph.node)
    name = r.choice(["group", "strides", "dilations", "pads", "axis", "auto_pad", "kernel_shape", "perm", "transA"])
    if name == "auto_pad":
        value = r.choice(["FOO", "SAME_LOWER", "VALID"])
    elif name in ("group", "axis", "transA"):
        value = r.choice(INTERESTING_INTS)
    else:
        value = [r.choice(INTERESTING_INTS) for _ in range(r.choice([1, 2, 4]))]
    del_attrs = [a for a in node.attribute if a.name == name]
    for a in del_attrs:
        node.attribute.remove(a)
    node.attribute.append(helper.make_attribute(name, value))


def _m_dims(r: random.Random, m: onnx.ModelProto) -> None:
    targets = [t for t in m.graph.initializer if t.dims]
    if r.random() < 0.5 and targets:
        t = r.choice(targets)
        t.dims[r.randrange(len(t.dims))] = r.choice(INTERESTING_INTS + [2, 5])
    else:
        dims = m.graph.input[0].type.tensor_type.shape.dim
        dims[r.randrange(len(dims))].dim_value = r.choice(INTERESTING_INTS + [2, 5, 16])


def _m_dtype(r: random.Random, m: onnx.ModelProto) -> None:
    t = r.choice(m.graph.initializer)
    t.data_type = r.choice([0, 8, 16, 14, 99, TensorProto.DOUBLE, TensorProto.INT8])


def _m_raw(r: random.Random, m: onnx.ModelProto) -> None:
    t = r.choice([t for t in m.graph.initializer if t.raw_data] or list(m.graph.initializer))
    t.raw_data = t.raw_data[: r.randrange(len(t.raw_data) + 1)] + bytes(r.choice([0, 1, 4]))


def _m_weights(r: random.Random, m: onnx.ModelProto) -> None:
    t = r.choice([t for t in m.graph.initializer if t.data_type == TensorProto.FLOAT])
    arr = numpy_helper.to_array(t).copy()
    arr.reshape(-1)[r.randrange(arr.size)] = r.choice([3e38, -3e38, 1e-45, 0.0, float("nan"), float("inf")])
    t.CopyFrom(numpy_helper.from_array(arr, t.name))


def _m_rename(r: random.Random, m: onnx.ModelProto) -> None:
    """A node input or output renamed to another tensor (dangling inputs, cycles, duplicates)."""
    names = [o for n in m.graph.node for o in n.output] + [i.name for i in m.graph.input] + ["ghost"]
    node = r.choice(m.graph.node)
    if r.random() < 0.5 and node.input:
        node.input[r.randrange(len(node.input))] = r.choice(names)
    else:
        node.output[0] = r.choice(names)


def _m_graph(r: random.Random, m: onnx.ModelProto) -> None:
    nodes = m.graph.node
    choice = r.randrange(5)
    if choice == 0 and len(nodes) > 1:
        i, j = r.randrange(len(nodes)), r.randrange(len(nodes))
        a, b = onnx.NodeProto(), onnx.NodeProto()
        a.CopyFrom(nodes[i])
        b.CopyFrom(nodes[j])
        nodes[i].CopyFrom(b)
        nodes[j].CopyFrom(a)
    elif choice == 1:
        del nodes[r.randrange(len(nodes))]
    elif choice == 2:
        m.graph.output.append(m.graph.output[0])
    elif choice == 3:
        out = onnx.ValueInfoProto()
        out.name = r.choice([o for n in nodes for o in n.output])
        m.graph.output.append(out)
    else:
        nodes[r.randrange(len(nodes))].op_type = r.choice(["Relu", "Conv", "Gemm", "Loop", "Foo", "Reshape"])


def _m_versions(r: random.Random, m: onnx.ModelProto) -> None:
    choice = r.randrange(3)
    if choice == 0:
        m.ir_version = r.choice([0, 1, 2, 99, 1 << 40])
    elif choice == 1:
        m.opset_import[0].version = r.choice([0, 1, 7, 10, 22, 99, 1 << 40])
    else:
        r.choice(m.graph.node).domain = r.choice(["com.microsoft", "ai.onnx.ml", "x" * 300])


ONNX_MUTATORS = [
    _m_int_attr,
    _m_int_attr,
    _m_add_attr,
    _m_dims,
    _m_dims,
    _m_dtype,
    _m_raw,
    _m_weights,
    _m_rename,
    _m_graph,
    _m_versions,
]


def mutate_onnx(model: onnx.ModelProto, r: random.Random) -> bytes:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for _ in range(r.choice([1, 1, 2])):
        try:
            r.choice(ONNX_MUTATORS)(r, m)
        except (ValueError, TypeError, IndexError):
            pass  # a mutator that cannot apply to what an earlier one left (e.g. weights of a changed shape)
    return m.SerializeToString()


# ----------------------------------------------------------------------------------------
# calibration files
# ----------------------------------------------------------------------------------------
def npy_bytes(header_shape: tuple[int, ...], payload: bytes, descr: str = "<f4") -> bytes:
    """A .npy member whose header declares ``header_shape``, followed by ``payload`` as is."""
    header = repr({"descr": descr, "fortran_order": False, "shape": header_shape}).encode("latin1")
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload


def zip_members(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _npz(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def hostile_calibrations(shape: tuple[int, ...]) -> dict[str, bytes]:
    """Named calibration files that each break one rule, for a model input of ``shape``."""
    good = np.random.default_rng(0).normal(size=(4, *shape)).astype(np.float32)
    obj = np.empty(2, dtype=object)
    obj[:] = [good[0], "x"]
    tiny = np.full((4, *shape), 1e-45, np.float32)
    return {
        "not_a_zip": b"this is not a zip file",
        "empty_file": b"",
        "empty_zip": zip_members({}),
        "text_member": zip_members({"x.txt": b"hello"}),
        "npy_not_npz": good.tobytes(),
        "object_array": _object_npz(obj),
        "header_2_40_samples": zip_members({"x.npy": npy_bytes((1 << 40, *shape[1:]), good.tobytes())}),
        "header_short": zip_members({"x.npy": npy_bytes((4, *shape), good.tobytes()[:-8])}),
        "header_garbage": zip_members({"x.npy": b"\x93NUMPY\x01\x00\x10\x00{'descr': 1}    \n"}),
        "nan": _npz(x=np.where(good > 1, np.nan, good).astype(np.float32)),
        "inf": _npz(x=np.where(good > 1, np.inf, good).astype(np.float32)),
        "float64_overflow": _npz(x=good.astype(np.float64) * 1e300),
        "subnormal": _npz(x=tiny),
        "zeros": _npz(x=np.zeros_like(good)),
        "int_dtype": _npz(x=good.astype(np.int32)),
        "complex": _npz(x=good.astype(np.complex64)),
        "wrong_shape": _npz(x=good.reshape(2, -1)),
        "zero_samples": _npz(x=good[:0]),
        "scalar": _npz(x=np.float32(1.0)),
        "two_unnamed": _npz(a=good, b=good),
    }


def _object_npz(obj: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, x=obj)  # savez pickles object arrays; loading them must be refused
    return buf.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# ----------------------------------------------------------------------------------------
# TFLite structure mutators (through the schema's object API, so the flatbuffer stays valid)
# ----------------------------------------------------------------------------------------
INTERESTING_SCALES = [0.0, -1.0, 1e-45, 1e-30, 1e30, 3e38, float("nan"), float("inf")]


def _t_quant(r: random.Random, sg, model) -> None:
    q = r.choice([t for t in sg.tensors if t.quantization is not None]).quantization
    if r.random() < 0.6 and q.scale is not None:
        q.scale = np.array([r.choice(INTERESTING_SCALES)] * len(q.scale), np.float32)
    elif r.random() < 0.5 and q.zeroPoint is not None:
        q.zeroPoint = np.array([r.choice(INTERESTING_INTS[:9])] * len(q.zeroPoint), np.int64)
    else:
        q.quantizedDimension = r.choice([-1, 3, 7, 100])


def _t_shape(r: random.Random, sg, model) -> None:
    t = r.choice(sg.tensors)
    shape = list(t.shape) if t.shape is not None and len(t.shape) else [1]
    if r.random() < 0.2:
        shape = shape[:-1] or shape + [1]
    else:
        shape[r.randrange(len(shape))] = r.choice([0, -1, 2, 5, 1 << 20, (1 << 31) - 1])
    t.shape = np.array(shape, np.int32)


def _t_indices(r: random.Random, sg, model) -> None:
    op = r.choice(sg.operators)
    target = r.choice(["inputs", "outputs", "opcode", "buffer"])
    value = r.choice([-1, -2, 0, 3, len(sg.tensors), 65535])
    if target == "opcode":
        op.opcodeIndex = r.choice([1, 5, 99, 65535])
    elif target == "buffer":
        r.choice(sg.tensors).buffer = r.choice([0, 1, len(model.buffers), 1000])
    else:
        vec = list(getattr(op, target))
        if vec and r.random() < 0.8:
            vec[r.randrange(len(vec))] = value
        else:
            vec = vec[:-1] if r.random() < 0.5 else vec + [value]
        setattr(op, target, np.array(vec, np.int32))


def _t_options(r: random.Random, sg, model) -> None:
    opts = r.choice([op.builtinOptions for op in sg.operators if op.builtinOptions is not None])
    fields = [k for k, v in vars(opts).items() if isinstance(v, (int, float))]
    if fields:
        setattr(opts, r.choice(fields), r.choice([0, -1, 2, 7, 100, 1 << 20]))


def _t_type(r: random.Random, sg, model) -> None:
    r.choice(sg.tensors).type = r.choice([0, 1, 2, 3, 5, 7, 17, 99])


def _t_graph(r: random.Random, sg, model) -> None:
    choice = r.randrange(4)
    if choice == 0:
        sg.outputs = np.array(list(sg.outputs) * 2, np.int32)
    elif choice == 1:
        sg.inputs = np.array([r.randrange(len(sg.tensors))], np.int32)
    elif choice == 2:
        r.shuffle(sg.operators)
    else:
        del sg.operators[r.randrange(len(sg.operators))]


TFLITE_MUTATORS = [_t_quant, _t_quant, _t_shape, _t_shape, _t_indices, _t_indices, _t_options, _t_type, _t_graph]


def mutate_tflite(data: bytes, r: random.Random) -> bytes:
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    model = fb.ModelT.InitFromPackedBuf(bytearray(data), 0)
    for _ in range(r.choice([1, 1, 2])):
        try:
            r.choice(TFLITE_MUTATORS)(r, model.subgraphs[0], model)
        except (ValueError, TypeError, IndexError):
            pass  # nothing of the kind left to mutate
    builder = flatbuffers.Builder(1024)
    try:
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    except (TypeError, ValueError, struct.error):  # a value the field's type cannot hold
        return mutate_bytes(data, r)
    return bytes(builder.Output())
