"""Checks that an ONNX model is well formed before anything runs it.

Why our own checks on top of ``onnx.checker``: the checker and ONNX shape inference accept
many graphs that onnxruntime then rejects mid-calibration with a raw traceback (a Conv
with ``group=0`` or channels that do not match its weights, a kernel larger than its
padded input, an unknown ``auto_pad``, a Reshape to a different element count), and none
of them bound sizes, so a pad of 2^20 or an initializer whose ``raw_data`` disagrees with
its dims reaches numpy as an allocation of terabytes. Every check here names the node or
tensor at fault and runs on the protobuf alone, before numpy converts a single tensor.

Order (see :func:`qcompile.frontends.onnx_import.load_onnx`): :func:`check_structure`
on the parsed file (versions, tensor sizes against their bytes, names, graph order), then
the importer's list of unsupported operators, then :func:`infer_checked` (strict shape
inference, ``onnx.checker``, and per-node checks on the inferred shapes).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from qcompile.errors import QCompileError
from qcompile.limits import check_shape

#: IR versions onnx 1.15+ and onnxruntime read (IR 3 = ONNX 1.0 with opset imports).
MIN_IR_VERSION = 3
AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")

# Element types an initializer may have, and the typed field holding its values when it
# has no raw_data (onnx.proto3: small integer types and float16 are widened to int32_data).
_FIELD_OF_TYPE = {
    TensorProto.FLOAT: "float_data",
    TensorProto.UINT8: "int32_data",
    TensorProto.INT8: "int32_data",
    TensorProto.UINT16: "int32_data",
    TensorProto.INT16: "int32_data",
    TensorProto.INT32: "int32_data",
    TensorProto.INT64: "int64_data",
    TensorProto.BOOL: "int32_data",
    TensorProto.FLOAT16: "int32_data",
    TensorProto.DOUBLE: "double_data",
    TensorProto.UINT32: "uint64_data",
    TensorProto.UINT64: "uint64_data",
}


# ----------------------------------------------------------------------------------------
# before anything else: versions, tensor bytes, names, order
# ----------------------------------------------------------------------------------------
def check_structure(model: onnx.ModelProto, path: str) -> None:
    """Refuse a model whose protobuf is inconsistent, naming the first tensor or node at fault."""
    _check_ir_version(model, path)
    for where, tensor in _tensor_protos(model):
        check_tensor_proto(tensor, f"{path}: {where}")
    _check_graph_inputs(model, path)
    _check_names_and_order(model, path)


def _check_ir_version(model: onnx.ModelProto, path: str) -> None:
    version = int(model.ir_version)
    if not MIN_IR_VERSION <= version <= onnx.IR_VERSION:
        raise QCompileError(
            f"{path}: ONNX IR version {version} is outside the range this installation reads "
            f"({MIN_IR_VERSION}-{onnx.IR_VERSION}); re-export the model with a released ONNX exporter"
        )


def _tensor_protos(model: onnx.ModelProto) -> Iterator[tuple[str, TensorProto]]:
    """Every tensor stored in the file: initializers and the tensor attributes of nodes."""
    for init in model.graph.initializer:
        yield f"initializer {init.name!r}", init
    for idx, node in enumerate(model.graph.node):
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR:
                yield f"attribute {attr.name!r} of node {node.name or f'#{idx}'!r} ({node.op_type})", attr.t


def check_tensor_proto(tensor: TensorProto, what: str) -> None:
    """A stored tensor must have a readable element type and exactly as many bytes as its dims say."""
    if tensor.data_location == TensorProto.EXTERNAL:
        raise QCompileError(f"{what} keeps its data in an external file that could not be loaded next to the model")
    field = _FIELD_OF_TYPE.get(tensor.data_type)
    if field is None:
        type_name = (
            TensorProto.DataType.Name(tensor.data_type)
            if tensor.data_type in TensorProto.DataType.values()
            else str(tensor.data_type)
        )
        raise QCompileError(f"{what} has element type {type_name}, which qcompile cannot read (use float32 weights)")
    dims = check_shape(tensor.dims, what, allow_empty=True)
    count = math.prod(dims)
    if tensor.HasField("raw_data"):
        itemsize = helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
        if len(tensor.raw_data) != count * itemsize:
            raise QCompileError(
                f"{what} declares shape {list(dims)} ({count * itemsize} bytes) but holds {len(tensor.raw_data)} "
                "bytes of data; the file is corrupt"
            )
        return
    stored = len(getattr(tensor, field))
    if stored != count:
        raise QCompileError(
            f"{what} declares shape {list(dims)} ({count} values) but holds {stored}; the file is corrupt"
        )


def _check_graph_inputs(model: onnx.ModelProto, path: str) -> None:
    """Input dims other than the batch must be positive and the input within the size limit."""
    inits = {i.name for i in model.graph.initializer}
    for vi in model.graph.input:
        if vi.name in inits or not vi.type.HasField("tensor_type"):
            continue
        dims = vi.type.tensor_type.shape.dim
        for axis, dim in enumerate(dims):
            if axis > 0 and dim.HasField("dim_value") and dim.dim_value <= 0:
                raise QCompileError(
                    f"{path}: input {vi.name!r} has dimension {dim.dim_value} at axis {axis}; "
                    "every dimension must be at least 1"
                )
        known = [max(int(d.dim_value), 1) for d in dims if d.HasField("dim_value")]
        check_shape(known, f"{path}: input {vi.name!r}")


def _check_names_and_order(model: onnx.ModelProto, path: str) -> None:
    """Each tensor defined once and before use; graph outputs distinct and produced."""
    g = model.graph
    defined: set[str] = set()
    for kind, names in (("graph input", [vi.name for vi in g.input]), ("initializer", [i.name for i in g.initializer])):
        seen: set[str] = set()
        for name in names:
            if not name:
                raise QCompileError(f"{path}: a {kind} has an empty name")
            if name in seen:
                raise QCompileError(f"{path}: {kind} {name!r} is defined twice; tensor names must be unique")
            seen.add(name)
        defined |= seen
    producers = {o: i for i, n in enumerate(g.node) for o in n.output if o}
    for idx, node in enumerate(g.node):
        label = f"node {node.name or f'#{idx}'!r} ({node.op_type})"
        for name in node.input:
            if name and name not in defined:
                if name in producers:
                    raise QCompileError(
                        f"{path}: {label} reads {name!r}, which a later node produces: the graph has a cycle "
                        "or its nodes are not in topological order"
                    )
                raise QCompileError(
                    f"{path}: {label} reads {name!r}, which is no graph input, initializer or node output"
                )
        for name in node.output:
            if name in defined:
                raise QCompileError(f"{path}: {label} writes {name!r}, which is already defined; names must be unique")
            if name:
                defined.add(name)
    outputs = [vi.name for vi in g.output]
    for i, name in enumerate(outputs):
        if name in outputs[:i]:
            raise QCompileError(f"{path}: graph output {name!r} is listed twice; list each output once")
        if name not in defined:
            raise QCompileError(f"{path}: graph output {name!r} is not produced by any node")


# ----------------------------------------------------------------------------------------
# after shape inference: shapes and per-node attributes
# ----------------------------------------------------------------------------------------
def infer_checked(model: onnx.ModelProto, path: str) -> onnx.ModelProto:
    """Strict shape inference and ``onnx.checker``, then qcompile's per-node checks."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    except Exception as exc:
        raise QCompileError(f"{path}: the model is inconsistent: {_first_line(exc)}") from exc
    checked = onnx.ModelProto()
    checked.CopyFrom(inferred)
    for vi in checked.graph.output:  # an output without a declared shape is valid for onnxruntime
        vi.type.tensor_type.shape.SetInParent()
    try:
        onnx.checker.check_model(checked)
    except Exception as exc:
        raise QCompileError(f"{path}: the model is invalid: {_first_line(exc)}") from exc
    shapes = _known_shapes(inferred)
    consts = {i.name: i for i in inferred.graph.initializer}
    for idx, node in enumerate(inferred.graph.node):
        label = f"{path}: node {node.name or f'#{idx}'!r} ({node.op_type})"
        checker = _NODE_CHECKS.get(node.op_type)
        problem = checker(node, _attrs(node), shapes, consts) if checker is not None else None
        if problem:
            raise QCompileError(f"{label}: {problem}")
        for out in node.output:
            if out in shapes:
                check_shape(shapes[out], f"{label}: output {out!r}")
    return inferred


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return " ".join(lines[:3])[:500] if lines else type(exc).__name__


def _known_shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    g = model.graph
    for vi in list(g.value_info) + list(g.input) + list(g.output):
        tt = vi.type.tensor_type
        if tt.HasField("shape") and all(d.HasField("dim_value") for d in tt.shape.dim):
            shapes[vi.name] = tuple(int(d.dim_value) for d in tt.shape.dim)
    for init in g.initializer:
        shapes[init.name] = tuple(int(d) for d in init.dims)
    return shapes


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _positive(values: Sequence[int], name: str, length: int) -> str | None:
    if len(values) != length or any(int(v) < 1 for v in values):
        return f"{name} must be {length} positive integers, got {list(values)}"
    return None


def _window(node: onnx.NodeProto, a: dict[str, Any], x: tuple[int, ...], kernel: Sequence[int]) -> str | None:
    """Strides, dilations, auto_pad and pads of a 2-D window op, and the window inside the padded input."""
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode(errors="replace") if isinstance(auto, bytes) else str(auto)
    if auto not in AUTO_PADS:
        return f"auto_pad {auto!r} is not one of {', '.join(AUTO_PADS)}"
    strides = list(a.get("strides", [1, 1]))
    dilations = list(a.get("dilations", [1, 1]))
    problem = _positive(strides, "strides", 2) or _positive(dilations, "dilations", 2)
    if problem:
        return problem
    pads = [int(p) for p in a.get("pads", [0, 0, 0, 0])]
    if len(pads) != 4 or any(p < 0 for p in pads):
        return f"pads must be 4 non-negative integers, got {pads}"
    if auto != "NOTSET":
        pads = [0, 0, 0, 0]  # SAME pads never make a window larger than its input
    for axis in (0, 1):
        extent = (int(kernel[axis]) - 1) * int(dilations[axis]) + 1
        padded = x[2 + axis] + pads[axis] + pads[axis + 2]
        if extent > padded:
            return (
                f"the {'height' if axis == 0 else 'width'} of the kernel window ({extent}) exceeds the padded input "
                f"({padded}); input shape {list(x)}"
            )
    return None


def _check_conv(node: onnx.NodeProto, a: dict[str, Any], shapes, consts) -> str | None:
    x, w = shapes.get(node.input[0]), shapes.get(node.input[1]) if len(node.input) > 1 else None
    if x is None or w is None or len(x) != 4 or len(w) != 4:
        return None  # the importer names ranks other than 2-D convolution
    group = int(a.get("group", 1))
    if group < 1 or x[1] % group or w[0] % group:
        return f"group {group} must be positive and divide the input channels ({x[1]}) and output channels ({w[0]})"
    if w[1] * group != x[1]:
        return f"weights {node.input[1]!r} {list(w)} expect {w[1] * group} input channels, the input has {x[1]}"
    kernel = list(a.get("kernel_shape", w[2:]))
    if [int(k) for k in kernel] != list(w[2:]):
        return f"kernel_shape {kernel} does not match the weights {list(w)}"
    if len(node.input) > 2 and node.input[2] and shapes.get(node.input[2]) not in (None, (w[0],)):
        return f"bias {node.input[2]!r} has shape {list(shapes[node.input[2]])}; expected [{w[0]}]"
    return _window(node, a, x, w[2:])


def _check_pool(node: onnx.NodeProto, a: dict[str, Any], shapes, consts) -> str | None:
    x = shapes.get(node.input[0])
    kernel = [int(k) for k in a.get("kernel_shape", [])]
    if x is None or len(x) != 4 or len(kernel) != 2:
        return None  # the importer names pools that are not 2-D
    problem = _positive(kernel, "kernel_shape", 2) or _window(node, a, x, kernel)
    if problem:
        return problem
    pads = [int(p) for p in a.get("pads", [0, 0, 0, 0])]
    if any(p >= kernel[i % 2] for i, p in enumerate(pads)):
        return f"pads {pads} must be smaller than the kernel {kernel}"
    return None


def _check_reshape(node: onnx.NodeProto, a: dict[str, Any], shapes, consts) -> str | None:
    x, target = shapes.get(node.input[0]), consts.get(node.input[1]) if len(node.input) > 1 else None
    if x is None or target is None:
        return None
    wanted = [int(v) for v in onnx.numpy_helper.to_array(target).reshape(-1)]
    allowzero = int(a.get("allowzero", 0))
    out = [x[i] if (v == 0 and not allowzero and i < len(x)) else v for i, v in enumerate(wanted)]
    if out.count(-1) > 1 or any(v < -1 for v in out):
        return f"shape {wanted} may hold at most one -1 and no other negative value"
    total = math.prod(x)
    known = math.prod(v for v in out if v != -1)
    if (-1 in out and (known == 0 or total % known)) or (-1 not in out and known != total):
        return f"cannot reshape {list(x)} ({total} elements) to {wanted}"
    return None


def _check_batchnorm(node: onnx.NodeProto, a: dict[str, Any], shapes, consts) -> str | None:
    var = consts.get(node.input[4]) if len(node.input) > 4 else None
    if var is not None and np.any(onnx.numpy_helper.to_array(var) + float(a.get("epsilon", 1e-5)) <= 0):
        return f"variance {node.input[4]!r} plus epsilon must be positive"
    return None


def _check_div(node: onnx.NodeProto, a: dict[str, Any], shapes, consts) -> str | None:
    divisor = consts.get(node.input[1]) if len(node.input) > 1 else None
    if divisor is not None and np.any(onnx.numpy_helper.to_array(divisor) == 0):
        return f"divisor {node.input[1]!r} contains zeros"
    return None


_NODE_CHECKS = {
    "Conv": _check_conv,
    "MaxPool": _check_pool,
    "AveragePool": _check_pool,
    "Reshape": _check_reshape,
    "BatchNormalization": _check_batchnorm,
    "Div": _check_div,
}
