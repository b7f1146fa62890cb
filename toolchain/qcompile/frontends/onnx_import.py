"""ONNX (opsets 11-21) to the float IR, NHWC physical layout.

Why this module looks the way it does:

* **Unsupported ops are reported all at once, first.** A user converting a model wants the
  full list of what to change, not one error per attempt, so :func:`check_supported` looks
  at every node (with a purely structural notion of "constant") before any other work.
* **Constant subgraphs are folded at the ONNX level** (``onnx.reference.ReferenceEvaluator``
  on single nodes), so exporters' ``Shape -> Gather -> Concat -> Reshape`` chains, Constant
  nodes and weight-producing subgraphs (e.g. ``DequantizeLinear`` of stored weights) become
  plain constants and the converter only ever sees activations flowing through real ops.
* **Layout is tracked, not forced.** Every ONNX tensor maps to an IR tensor plus a
  permutation ``perm`` (physical = onnx_logical.transpose(perm)). Conv-like ops want
  ``perm == (0, 2, 3, 1)`` (NHWC); ops that depend on row-major order (Reshape, Flatten,
  Gemm, MatMul) want the identity. An ONNX ``Transpose`` only changes the perm (free), and
  a conversion is emitted lazily where a consumer needs a different perm: a ``reshape``
  (no data movement) when the conversion keeps the memory order (only size-1 axes move),
  a physical ``transpose`` otherwise. That is why the MLPerf models (``AveragePool ->
  Transpose(0,2,3,1) -> Reshape -> Gemm``) import without any physical transpose.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from qcompile.errors import QCompileError, UnsupportedModelError
from qcompile.frontends.onnx_fusions import fuse_patterns
from qcompile.frontends.onnx_ops import ONNX_OPS
from qcompile.frontends.onnx_shapes import fix_input_shapes, fold_shape_subgraphs
from qcompile.frontends.onnx_validate import check_structure, infer_checked
from qcompile.ir import Graph, Node, Tensor

MIN_OPSET = 11
MAX_OPSET = 21
NHWC = (0, 2, 3, 1)

#: ONNX ops the built-in converter methods lower to IR ops (others are accepted only when constant-folded).
BUILTIN_OPS = frozenset(
    {
        "Conv",
        "Gemm",
        "MatMul",
        "Add",
        "Sub",
        "Mul",
        "Div",
        "Relu",
        "Clip",
        "LeakyRelu",
        "Sigmoid",
        "Tanh",
        "HardSigmoid",
        "HardSwish",
        "MaxPool",
        "AveragePool",
        "GlobalAveragePool",
        "GlobalMaxPool",
        "Flatten",
        "Reshape",
        "Squeeze",
        "Unsqueeze",
        "Transpose",
        "Softmax",
        "BatchNormalization",
        "Concat",
        "Pad",
        "Identity",
        "Dropout",
        "Constant",
    }
)

_ONNX_DOMAINS = ("", "ai.onnx")


def supported_ops() -> frozenset[str]:
    """Every ONNX op type qcompile converts: the built-in methods and the ``onnx_ops`` plug-ins."""
    return BUILTIN_OPS | frozenset(ONNX_OPS)


# ----------------------------------------------------------------------------------------
# loading and checking
# ----------------------------------------------------------------------------------------
def read_model(path: str | os.PathLike[str]) -> onnx.ModelProto:
    """Parse an .onnx file; a missing, truncated or corrupt file is a QCompileError naming it."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise QCompileError(f"{path}: no such ONNX file")
    try:
        model = onnx.load(path)
    except Exception as exc:
        raise QCompileError(
            f"{path}: cannot parse the ONNX model ({type(exc).__name__}: {exc}); the file is truncated or not ONNX"
        ) from exc
    if not model.graph.output or not model.opset_import:
        raise QCompileError(f"{path}: the ONNX model is empty or truncated (no graph outputs or no opset)")
    return model


def model_opset(model: onnx.ModelProto) -> int:
    """Version of the default ONNX operator set the model imports."""
    for imp in model.opset_import:
        if imp.domain in _ONNX_DOMAINS:
            return int(imp.version)
    return 0


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def _structural_constants(model: onnx.ModelProto) -> set[str]:
    """Names of tensors computable without any graph input (initializers, Constant, Shape...)."""
    const = {init.name for init in model.graph.initializer}
    for node in model.graph.node:
        ins = [i for i in node.input if i]
        if node.op_type in ("Constant", "Shape", "Size") or (ins and all(i in const for i in ins)):
            const.update(o for o in node.output if o)
    return const


#: what makes an unsupported op compile, where there is a known way
_UNSUPPORTED_HINTS = {
    "Upsample": ": re-export at opset >= 11, where it is Resize",
    "ReduceL2": ": write it as Mul, ReduceSum and Sqrt",
    "ReduceMin": ": write it as Neg, ReduceMax and Neg",
    "Cast": ": a Cast of an activation is not supported; compute in float and let qcompile quantize",
    "If": ": control flow is not supported; export one branch",
    "Loop": ": control flow is not supported; unroll the loop before export",
}


def _node_problem(node: onnx.NodeProto, const: set[str], opset: int) -> str | None:
    """Why ``node`` cannot be compiled, or None when it can."""
    ins = list(node.input) + [""] * 6
    if node.domain not in _ONNX_DOMAINS:
        return f"custom domain {node.domain!r} is not supported"
    if not MIN_OPSET <= opset <= MAX_OPSET:
        fix = f"re-export at opset >= {MIN_OPSET}" if opset < MIN_OPSET else f"re-export at opset <= {MAX_OPSET}"
        return f"opset {opset} is outside the supported range {MIN_OPSET}-{MAX_OPSET}: {fix}"
    if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
        return "control flow (subgraph attributes) is not supported"
    real_ins = [i for i in node.input if i]
    if node.op_type in ("Constant", "Shape", "Size") or (real_ins and all(i in const for i in real_ins)):
        return None  # constant-folded before conversion
    if node.op_type not in supported_ops():
        return "operator not supported" + _UNSUPPORTED_HINTS.get(
            node.op_type, " (docs/COVERAGE.md lists the supported ops: replace it, or compute it outside the model)"
        )
    a = _attrs(node)
    op = node.op_type
    plugin_problem = ONNX_OPS.extra(op).get("problem")
    if plugin_problem is not None:
        return plugin_problem(node, ins, a, const)
    if op == "Conv" and ins[1] not in const:
        return "Conv weights must be constant"
    if op == "Conv" and ins[2] and ins[2] not in const:
        return "Conv bias must be constant"
    if op == "Gemm":
        if a.get("transA", 0):
            return "Gemm with transA=1 is not supported"
        if ins[1] not in const or (ins[2] and ins[2] not in const):
            return "Gemm B and C must be constant"
    if op == "MatMul" and ins[0] in const and ins[1] not in const:
        return "MatMul of a constant by an activation is not supported (only activation x constant or x activation)"
    if op == "Pad":
        if a.get("mode", "constant") != "constant":
            return f"Pad mode {a.get('mode')!r} is not supported (only 'constant')"
        if any(i and i not in const for i in ins[1:4]):
            return "Pad pads/value must be constant"
    if op == "Reshape" and ins[1] not in const:
        return "Reshape needs a constant shape"
    if op in ("Squeeze", "Unsqueeze") and ins[1] and ins[1] not in const:
        return f"{op} needs constant axes"
    if op == "Clip" and any(i and i not in const for i in ins[1:3]):
        return "Clip min/max must be constant"
    if op == "MaxPool":
        if len([o for o in node.output if o]) > 1:
            return "MaxPool with an indices output is not supported"
        if a.get("storage_order", 0):
            return "MaxPool storage_order=1 is not supported"
        if any(d != 1 for d in a.get("dilations", [1])):
            return "dilated MaxPool is not supported"
    if op in ("MaxPool", "AveragePool") and len(a.get("kernel_shape", [0, 0])) != 2:
        return f"only 2-D {op} is supported"
    if op == "BatchNormalization":
        if len([o for o in node.output if o]) > 1 or a.get("training_mode", 0):
            return "BatchNormalization in training mode is not supported"
        if any(i not in const for i in ins[1:5]):
            return "BatchNormalization parameters must be constant"
    if op == "Dropout" and len([o for o in node.output if o]) > 1:
        return "Dropout with a mask output is not supported"
    return None


def check_supported(model: onnx.ModelProto, *, path: str = "model") -> None:
    """Raise UnsupportedModelError listing every node qcompile cannot compile."""
    opset = model_opset(model)
    const = _structural_constants(model)
    problems = []
    for idx, node in enumerate(model.graph.node):
        node_opset = opset
        if node.domain not in _ONNX_DOMAINS:
            node_opset = next((int(i.version) for i in model.opset_import if i.domain == node.domain), 0)
        reason = _node_problem(node, const, opset)
        if reason is not None:
            name = node.name or f"#{idx}"
            problems.append(
                f"  - node {name!r}: {node.op_type} (domain {node.domain or 'ai.onnx'!r}, opset {node_opset}): {reason}"
            )
    if problems:
        raise UnsupportedModelError(
            f"{path}: {len(problems)} node(s) cannot be compiled:\n"
            + "\n".join(problems)
            + f"\nqcompile supports the default ONNX domain, opsets {MIN_OPSET}-{MAX_OPSET}, ops: "
            + ", ".join(sorted(supported_ops()))
            + ". Re-export the model without these nodes (or replace them with supported ops) and retry."
        )


def _fix_dims(model: onnx.ModelProto, path: str, input_shapes: Mapping[str, Sequence[int]] | None = None) -> None:
    """Static input shapes (``--input-shape``; a symbolic batch axis 0 becomes 1), else one error."""
    fix_input_shapes(model, path, input_shapes)


# ----------------------------------------------------------------------------------------
# constant folding
# ----------------------------------------------------------------------------------------
def _evaluate(node: onnx.NodeProto, inputs: list[np.ndarray | None], opset: int) -> list[np.ndarray]:
    from onnx.reference import ReferenceEvaluator

    names = [i for i in node.input]
    feeds = {n: v for n, v in zip(names, inputs, strict=True) if n}
    ev = ReferenceEvaluator(node, opsets={"": opset})
    return [np.asarray(v) for v in ev.run(None, feeds)]


def _check_finite(name: str, data: np.ndarray, path: str, what: str) -> None:
    if data.dtype.kind == "f" and not np.all(np.isfinite(data)):
        raise QCompileError(f"{path}: {what} {name!r} contains NaN or Inf values; fix the model's weights")


# ----------------------------------------------------------------------------------------
# conversion
# ----------------------------------------------------------------------------------------
def _inverse(perm: Sequence[int]) -> tuple[int, ...]:
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


def _identity(rank: int) -> tuple[int, ...]:
    return tuple(range(rank))


def _channels_last(rank: int) -> tuple[int, ...]:
    return (0, *range(2, rank), 1) if rank >= 3 else _identity(rank)


def _same_pads(size: int, kernel: int, stride: int, dilation: int, mode: str) -> tuple[int, int]:
    """ONNX auto_pad SAME_*: output ceil(size/stride), extra padding at the end (UPPER) or start (LOWER)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    small, big = total // 2, total - total // 2
    return (small, big) if mode == "SAME_UPPER" else (big, small)


class _Converter:
    def __init__(self, model: onnx.ModelProto, path: str, input_layout: str) -> None:
        self.model = model
        self.path = path
        self.opset = model_opset(model)
        self.input_layout = input_layout
        name = os.path.splitext(os.path.basename(path))[0] or "model"
        self.g = Graph(name)
        self.const: dict[str, np.ndarray] = {}
        self.val: dict[str, tuple[str, tuple[int, ...]]] = {}
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.conv_cache: dict[tuple[str, tuple[int, ...]], str] = {}
        self.node: onnx.NodeProto | None = None

    # -- helpers ---------------------------------------------------------------------
    def fail(self, message: str) -> UnsupportedModelError:
        node = self.node
        where = f"node {node.name!r} ({node.op_type})" if node is not None else "model"
        return UnsupportedModelError(f"{self.path}: {where}: {message}")

    def shape(self, name: str) -> tuple[int, ...]:
        if name in self.const:
            return tuple(self.const[name].shape)
        if name not in self.shapes:
            raise QCompileError(f"{self.path}: the shape of tensor {name!r} could not be inferred")
        return self.shapes[name]

    def new_act(self, onnx_name: str, perm: Sequence[int], shape: Sequence[int] | None = None) -> str:
        """IR tensor holding ONNX tensor ``onnx_name`` in physical layout ``perm``."""
        perm = tuple(perm)
        logical = self.shape(onnx_name) if shape is None else tuple(shape)
        phys = tuple(int(logical[p]) for p in perm)
        ir_name = self.g.unique_name(onnx_name)
        self.g.add_tensor(Tensor(ir_name, phys, source_name=onnx_name, source_perm=perm))
        self.val[onnx_name] = (ir_name, perm)
        return ir_name

    def tmp_act(self, base: str, shape: Sequence[int], source: str | None = None) -> str:
        """An IR-only intermediate (no ONNX tensor in this layout); ``source`` names the ONNX
        tensor with the same values up to a reshape (ranges match, layout does not)."""
        ir_name = self.g.unique_name(base)
        self.g.add_tensor(Tensor(ir_name, tuple(int(s) for s in shape), source_name=source, source_perm=None))
        return ir_name

    def emit(self, op: str, inputs: list[str], outputs: list[str], **attrs: Any) -> Node:
        src = self.node
        base = (src.name or src.op_type) if src is not None else op
        node = Node(self.g.unique_name(base), op, inputs, outputs, attrs, [src.name] if src is not None else [])
        return self.g.add_node(node)

    def constant(self, base: str, data: np.ndarray) -> str:
        return self.g.add_constant(base, np.asarray(data, dtype=np.float32)).name

    def is_const(self, name: str) -> bool:
        return name in self.const

    def get(self, onnx_name: str, perm: Sequence[int]) -> str:
        """IR name of ``onnx_name`` in layout ``perm``, converting (once) when needed."""
        perm = tuple(perm)
        if onnx_name in self.const:
            return self.constant(onnx_name, self.const[onnx_name].transpose(perm))
        if onnx_name not in self.val:
            raise QCompileError(f"{self.path}: tensor {onnx_name!r} is used before it is produced")
        ir_name, cur = self.val[onnx_name]
        if cur == perm:
            return ir_name
        key = (ir_name, perm)
        if key not in self.conv_cache:
            self.conv_cache[key] = self._convert(ir_name, cur, perm, onnx_name)
        return self.conv_cache[key]

    def _convert(self, ir_name: str, cur: tuple[int, ...], target: tuple[int, ...], onnx_name: str) -> str:
        t = tuple(cur.index(target[i]) for i in range(len(target)))
        src = self.g.tensors[ir_name]
        new_shape = tuple(src.shape[i] for i in t)
        suffix = "nhwc" if target == NHWC else "p" + "".join(str(p) for p in target)
        out = self.g.unique_name(f"{ir_name}__{suffix}")
        self.g.add_tensor(Tensor(out, new_shape, source_name=src.source_name and onnx_name, source_perm=target))
        moving = [i for i in t if src.shape[i] != 1]
        if moving == sorted(moving):  # only size-1 axes move: same bytes, a free reshape
            self.emit("reshape", [ir_name], [out], shape=new_shape)
        else:
            self.emit("transpose", [ir_name], [out], perm=t)
        return out

    def act(self, onnx_name: str) -> tuple[str, tuple[int, ...]]:
        if onnx_name not in self.val:
            raise self.fail(f"input {onnx_name!r} must be an activation here")
        return self.val[onnx_name]

    def logical_reshape(self, x: str, y: str, out_shape: Sequence[int]) -> None:
        xin = self.get(x, _identity(len(self.shape(x))))
        out = self.new_act(y, _identity(len(out_shape)), out_shape)
        self.emit("reshape", [xin], [out], shape=tuple(int(s) for s in out_shape))

    # -- driver ----------------------------------------------------------------------
    def run(self) -> Graph:
        g = self.model.graph
        for init in g.initializer:
            data = numpy_helper.to_array(init)
            _check_finite(init.name, data, self.path, "initializer")
            self.const[init.name] = data
        for vi in list(g.value_info) + list(g.input) + list(g.output):
            tt = vi.type.tensor_type
            if tt.HasField("shape") and all(d.HasField("dim_value") for d in tt.shape.dim):
                self.shapes[vi.name] = tuple(int(d.dim_value) for d in tt.shape.dim)
        for vi in g.input:
            if vi.name in self.const:
                continue
            rank = len(self.shape(vi.name))
            perm = NHWC if rank == 4 and self.input_layout == "nhwc" else _identity(rank)
            self.g.inputs.append(self.new_act(vi.name, perm))
        for node in g.node:
            self.node = node
            if self._fold(node):
                continue
            ins, attrs = list(node.input) + [""] * 6, _attrs(node)
            handler = getattr(self, f"op_{node.op_type}", None)
            plugin = ONNX_OPS.get(node.op_type) if handler is None else None
            if handler is not None:
                handler(node, ins, attrs)
            elif plugin is not None:
                plugin(self, node, ins, attrs)
            else:
                raise self.fail("operator not supported on activations")
        self.node = None
        for out in g.output:
            self.g.outputs.append(self._graph_output(out.name))
        self.g.validate()
        return self.g

    def _fold(self, node: onnx.NodeProto) -> bool:
        ins = [i for i in node.input if i]
        if node.op_type in ("Shape", "Size") and ins and ins[0] not in self.const:
            shape = self.shape(ins[0])
            if node.op_type == "Size":
                self.const[node.output[0]] = np.array(int(np.prod(shape)), dtype=np.int64)
                return True
            a = _attrs(node)
            start, end = a.get("start", 0), a.get("end", len(shape))
            self.const[node.output[0]] = np.array(shape[start:end], dtype=np.int64)
            return True
        if node.op_type != "Constant" and not (ins and all(i in self.const for i in ins)):
            return False
        try:
            values = _evaluate(node, [self.const.get(i) if i else None for i in node.input], self.opset)
        except Exception as exc:
            raise self.fail(f"cannot evaluate this constant subgraph ({exc})") from exc
        for name, value in zip(node.output, values, strict=False):
            if name:
                if node.op_type == "Constant":
                    _check_finite(name, value, self.path, "constant")
                self.const[name] = value
        return True

    def _graph_output(self, name: str) -> str:
        if name in self.const:
            raise QCompileError(f"{self.path}: graph output {name!r} is a constant; nothing to compile")
        ir_name, perm = self.act(name)
        rank = len(perm)
        want = NHWC if rank == 4 and perm == NHWC else _identity(rank)
        if perm != want:
            return self.get(name, want)
        tensor = self.g.tensors[ir_name]
        if tensor.source_name != name and ir_name not in self.g.inputs:
            # an aliasing op (Identity, Transpose) ends the graph: the tensor holds the output's values
            tensor.source_name, tensor.source_perm = name, perm
        return ir_name

    # -- ops -------------------------------------------------------------------------
    def _spatial_pads(self, x: str, a: dict[str, Any], kernel: Sequence[int], strides, dilations) -> list[int]:
        auto = a.get("auto_pad", "NOTSET")
        h, w = self.shape(x)[2:4]
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            t, b = _same_pads(h, kernel[0], strides[0], dilations[0], auto)
            left, r = _same_pads(w, kernel[1], strides[1], dilations[1], auto)
            return [t, left, b, r]
        if auto == "VALID":
            return [0, 0, 0, 0]
        pads = [int(p) for p in a.get("pads", [0, 0, 0, 0])]
        if any(p < 0 for p in pads):
            raise self.fail("negative pads are not supported")
        return [pads[0], pads[1], pads[2], pads[3]]

    def op_Conv(self, node, ins, a) -> None:
        x, wname, bname = ins[0], ins[1], ins[2]
        w = self.const[wname].astype(np.float32)
        if w.ndim != 4:
            raise self.fail(f"only 2-D convolution is supported (weight rank {w.ndim})")
        oc, cg, kh, kw = w.shape
        c = self.shape(x)[1]
        group = int(a.get("group", 1))
        strides = tuple(int(s) for s in a.get("strides", (1, 1)))
        dilations = tuple(int(d) for d in a.get("dilations", (1, 1)))
        pads = tuple(self._spatial_pads(x, a, (kh, kw), strides, dilations))
        xin = self.get(x, NHWC)
        inputs = [xin]
        common = dict(strides=strides, dilations=dilations, pads=pads, act_range=(None, None))
        if group > 1 and group == c and cg == 1:
            inputs.append(self.constant(wname, w[:, 0].transpose(1, 2, 0)))
            if bname:
                inputs.append(self.constant(bname, self.const[bname]))
            out = self.new_act(node.output[0], NHWC)
            self.emit("depthwise_conv2d", inputs, [out], depth_multiplier=oc // c, **common)
            return
        inputs.append(self.constant(wname, w.transpose(0, 2, 3, 1)))
        if bname:
            inputs.append(self.constant(bname, self.const[bname]))
        out = self.new_act(node.output[0], NHWC)
        self.emit("conv2d", inputs, [out], groups=group, **common)

    def _pool(self, node, ins, a, op: str) -> None:
        x = ins[0]
        kernel = tuple(int(k) for k in a["kernel_shape"])
        strides = tuple(int(s) for s in a.get("strides", (1, 1)))
        pads = self._spatial_pads(x, a, kernel, strides, (1, 1))
        h, w = self.shape(x)[2:4]
        include_pad = op == "avg_pool2d" and int(a.get("count_include_pad", 0)) == 1 and any(pads)
        if int(a.get("ceil_mode", 0)):
            if include_pad:
                raise self.fail("AveragePool with ceil_mode=1 and count_include_pad=1 is not supported")
            for axis, size in enumerate((h, w)):
                lo, hi = pads[axis], pads[axis + 2]
                span = size + lo + hi - kernel[axis]
                out = -(-span // strides[axis]) + 1
                if (out - 1) * strides[axis] >= size + lo:  # the last window must start inside
                    out -= 1
                pads[axis + 2] += max((out - 1) * strides[axis] + kernel[axis] - (size + lo + hi), 0)
        xin = self.get(x, NHWC)
        if include_pad:
            n_, h_, w_, c_ = self.g.tensors[xin].shape
            padded = self.tmp_act(f"{xin}__padded", (n_, h_ + pads[0] + pads[2], w_ + pads[1] + pads[3], c_))
            self.emit("pad", [xin], [padded], pads=((0, 0), (pads[0], pads[2]), (pads[1], pads[3]), (0, 0)), value=0.0)
            xin, pads = padded, [0, 0, 0, 0]
        out = self.new_act(node.output[0], NHWC)
        self.emit(op, [xin], [out], kernel=kernel, strides=strides, pads=tuple(pads), act_range=(None, None))

    def op_MaxPool(self, node, ins, a) -> None:
        self._pool(node, ins, a, "max_pool2d")

    def op_AveragePool(self, node, ins, a) -> None:
        self._pool(node, ins, a, "avg_pool2d")

    def _global_pool(self, node, ins, op: str) -> None:
        shape = self.shape(ins[0])
        if len(shape) != 4:
            raise self.fail("only 4-D global pooling is supported")
        xin = self.get(ins[0], NHWC)
        out = self.new_act(node.output[0], NHWC)
        self.emit(op, [xin], [out], kernel=tuple(shape[2:4]), strides=(1, 1), pads=(0, 0, 0, 0), act_range=(None, None))

    def op_GlobalAveragePool(self, node, ins, a) -> None:
        self._global_pool(node, ins, "avg_pool2d")

    def op_GlobalMaxPool(self, node, ins, a) -> None:
        self._global_pool(node, ins, "max_pool2d")

    def _unary(self, node, fn: str, **params: Any) -> None:
        xin, perm = self.act(node.input[0])
        out = self.new_act(node.output[0], perm)
        self.emit("elementwise", [xin], [out], fn=fn, **params)

    def op_Relu(self, node, ins, a) -> None:
        self._unary(node, "relu")

    def op_Sigmoid(self, node, ins, a) -> None:
        self._unary(node, "sigmoid")

    def op_Tanh(self, node, ins, a) -> None:
        self._unary(node, "tanh")

    def op_HardSwish(self, node, ins, a) -> None:
        self._unary(node, "hard_swish")

    def op_LeakyRelu(self, node, ins, a) -> None:
        self._unary(node, "leaky_relu", alpha=float(a.get("alpha", 0.01)))

    def op_HardSigmoid(self, node, ins, a) -> None:
        self._unary(node, "hard_sigmoid", alpha=float(a.get("alpha", 0.2)), beta=float(a.get("beta", 0.5)))

    def op_Clip(self, node, ins, a) -> None:
        lo = a.get("min")
        hi = a.get("max")
        if ins[1]:
            lo = float(self.const[ins[1]])
        if ins[2]:
            hi = float(self.const[ins[2]])
        lo = None if lo is None or lo == -np.inf else float(lo)
        hi = None if hi is None or hi == np.inf else float(hi)
        self._unary(node, "clip", min=lo, max=hi)

    def op_Identity(self, node, ins, a) -> None:
        self.val[node.output[0]] = self.act(ins[0])

    def op_Dropout(self, node, ins, a) -> None:
        self.op_Identity(node, ins, a)

    def op_Transpose(self, node, ins, a) -> None:
        ir_name, q = self.act(ins[0])
        p = tuple(int(i) for i in a.get("perm", range(len(q) - 1, -1, -1)))
        pinv = _inverse(p)
        self.val[node.output[0]] = (ir_name, tuple(pinv[qi] for qi in q))

    def _binary(self, node, ins, op: str) -> None:
        a_name, b_name = ins[0], ins[1]
        y = node.output[0]
        out_shape = self.shape(y)
        rank = len(out_shape)
        if op == "div" and self.is_const(b_name):
            self.const[f"{b_name}__reciprocal"] = (1.0 / self.const[b_name].astype(np.float64)).astype(np.float32)
            b_name, op = f"{b_name}__reciprocal", "mul"
        for act_name, c_name in ((a_name, b_name), (b_name, a_name)):
            if op == "mul" and self.is_const(c_name) and self.const[c_name].size == 1 and act_name in self.val:
                xin, perm = self.act(act_name)
                if len(perm) == rank:
                    out = self.new_act(y, perm)
                    self.emit("elementwise", [xin], [out], fn="scale", factor=float(self.const[c_name].reshape(())))
                    return
        # the layout of the full-rank activation input wins; others follow it
        perm = _identity(rank)
        for name in (a_name, b_name):
            if name in self.val and len(self.val[name][1]) == rank:
                perm = self.val[name][1]
                break
        inputs = []
        for name in (a_name, b_name):
            if self.is_const(name):
                data = self.const[name].astype(np.float32)
                data = data.reshape((1,) * (rank - data.ndim) + data.shape).transpose(perm)
                inputs.append(self.constant(name, data))
            elif len(self.shape(name)) == rank:
                inputs.append(self.get(name, perm))
            else:  # lower-rank activation: make it full rank in logical order, then permute
                src = self.get(name, _identity(len(self.shape(name))))
                full = (1,) * (rank - len(self.shape(name))) + self.shape(name)
                tmp = self.tmp_act(f"{src}__r{rank}", full)
                self.emit("reshape", [src], [tmp], shape=full)
                phys = tuple(full[p] for p in perm)
                tmp2 = self.tmp_act(f"{src}__p", phys)
                self.emit("transpose", [tmp], [tmp2], perm=perm)
                inputs.append(tmp2)
        out = self.new_act(y, perm)
        self.emit(op, inputs, [out], act_range=(None, None))

    def op_Add(self, node, ins, a) -> None:
        self._binary(node, ins, "add")

    def op_Sub(self, node, ins, a) -> None:
        self._binary(node, ins, "sub")

    def op_Mul(self, node, ins, a) -> None:
        self._binary(node, ins, "mul")

    def op_Div(self, node, ins, a) -> None:
        self._binary(node, ins, "div")

    def op_Flatten(self, node, ins, a) -> None:
        shape = self.shape(ins[0])
        axis = int(a.get("axis", 1))
        axis = axis + len(shape) if axis < 0 else axis
        out = (int(np.prod(shape[:axis], dtype=np.int64)), int(np.prod(shape[axis:], dtype=np.int64)))
        self.logical_reshape(ins[0], node.output[0], out)

    def op_Reshape(self, node, ins, a) -> None:
        in_shape = self.shape(ins[0])
        target = [int(s) for s in self.const[ins[1]].reshape(-1)]
        allowzero = int(a.get("allowzero", 0))
        out = [in_shape[i] if (s == 0 and not allowzero) else s for i, s in enumerate(target)]
        if -1 in out:
            known = int(np.prod([s for s in out if s != -1], dtype=np.int64))
            out[out.index(-1)] = int(np.prod(in_shape, dtype=np.int64)) // max(known, 1)
        self.logical_reshape(ins[0], node.output[0], out)

    def _axes(self, ins, a) -> list[int] | None:
        if ins[1]:
            return [int(v) for v in self.const[ins[1]].reshape(-1)]
        return [int(v) for v in a["axes"]] if "axes" in a else None

    def op_Squeeze(self, node, ins, a) -> None:
        shape = self.shape(ins[0])
        axes = self._axes(ins, a)
        axes = [i for i, s in enumerate(shape) if s == 1] if axes is None else [x % len(shape) for x in axes]
        self.logical_reshape(ins[0], node.output[0], [s for i, s in enumerate(shape) if i not in axes])

    def op_Unsqueeze(self, node, ins, a) -> None:
        shape = list(self.shape(ins[0]))
        axes = self._axes(ins, a) or []
        rank = len(shape) + len(axes)
        for ax in sorted(x % rank for x in axes):
            shape.insert(ax, 1)
        self.logical_reshape(ins[0], node.output[0], shape)

    def op_Softmax(self, node, ins, a) -> None:
        x, y = ins[0], node.output[0]
        shape = self.shape(x)
        rank = len(shape)
        axis = int(a.get("axis", 1 if self.opset < 13 else -1)) % rank
        if self.opset < 13 and any(s != 1 for s in shape[axis + 1 :]):
            # pre-13 semantics: softmax over the flattened trailing block [axis:]
            rows = int(np.prod(shape[:axis], dtype=np.int64))
            cols = int(np.prod(shape[axis:], dtype=np.int64))
            xin = self.get(x, _identity(rank))
            flat = self.tmp_act(f"{xin}__2d", (rows, cols), source=x)
            self.emit("reshape", [xin], [flat], shape=(rows, cols))
            soft = self.tmp_act(f"{y}__2d", (rows, cols), source=y)
            self.emit("softmax", [flat], [soft], beta=1.0)
            out = self.new_act(y, _identity(rank))
            self.emit("reshape", [soft], [out], shape=tuple(shape))
            return
        _, cur = self.act(x)
        perm = cur if cur[-1] == axis else tuple([p for p in cur if p != axis] + [axis])
        xin = self.get(x, perm)
        out = self.new_act(y, perm)
        self.emit("softmax", [xin], [out], beta=1.0)

    def op_Concat(self, node, ins, a) -> None:
        names = [i for i in node.input if i]
        rank = len(self.shape(node.output[0]))
        axis = int(a["axis"]) % rank
        perm = next((self.val[n][1] for n in names if n in self.val), _identity(rank))
        inputs = [self.get(n, perm) for n in names]
        out = self.new_act(node.output[0], perm)
        self.emit("concat", inputs, [out], axis=perm.index(axis))

    def op_Pad(self, node, ins, a) -> None:
        xin, perm = self.act(ins[0])
        rank = len(perm)
        raw = [int(p) for p in self.const[ins[1]].reshape(-1)]
        axes = list(range(rank))
        if ins[3]:
            axes = [int(v) % rank for v in self.const[ins[3]].reshape(-1)]
        n = len(axes)
        begin = dict.fromkeys(range(rank), 0)
        end = dict.fromkeys(range(rank), 0)
        for k, ax in enumerate(axes):
            begin[ax], end[ax] = raw[k], raw[k + n]
        if any(v < 0 for v in list(begin.values()) + list(end.values())):
            raise self.fail("negative pads (cropping) are not supported")
        value = float(self.const[ins[2]].reshape(-1)[0]) if ins[2] and self.const[ins[2]].size else 0.0
        out = self.new_act(node.output[0], perm)
        self.emit("pad", [xin], [out], pads=tuple((begin[p], end[p]) for p in perm), value=value)

    def op_BatchNormalization(self, node, ins, a) -> None:
        """Standalone BN is a per-channel affine: a 1x1 depthwise conv (folded by a pass when possible)."""
        x, y = ins[0], node.output[0]
        scale, bias, mean, var = (self.const[n].astype(np.float64) for n in ins[1:5])
        eps = float(a.get("epsilon", 1e-5))
        w = scale / np.sqrt(var + eps)
        b = bias - mean * w
        shape = self.shape(x)
        rank = len(shape)
        if rank < 2:
            raise self.fail("BatchNormalization needs a channel axis")
        perm = _channels_last(rank)
        xin = self.get(x, perm)
        phys = tuple(shape[p] for p in perm)
        wc = self.constant(f"{ins[1]}__bn_w", w.reshape(1, 1, -1))
        bc = self.constant(f"{ins[2]}__bn_b", b)
        attrs = dict(strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0), depth_multiplier=1, act_range=(None, None))
        if rank == 4:
            out = self.new_act(y, perm)
            self.emit("depthwise_conv2d", [xin, wc, bc], [out], **attrs)
            return
        spatial = int(np.prod(phys[1:-1], dtype=np.int64))
        as4 = (phys[0], 1, spatial, phys[-1])
        t_in = self.tmp_act(f"{xin}__4d", as4, source=x)
        self.emit("reshape", [xin], [t_in], shape=as4)
        t_out = self.tmp_act(f"{y}__4d", as4, source=y)
        self.emit("depthwise_conv2d", [t_in, wc, bc], [t_out], **attrs)
        out = self.new_act(y, perm)
        self.emit("reshape", [t_out], [out], shape=phys)

    def op_Gemm(self, node, ins, a) -> None:
        alpha, beta = float(a.get("alpha", 1.0)), float(a.get("beta", 1.0))
        bmat = self.const[ins[1]].astype(np.float64)
        w = (bmat if int(a.get("transB", 0)) else bmat.T) * alpha
        n = w.shape[0]
        y = node.output[0]
        xin = self.get(ins[0], (0, 1))
        inputs = [xin, self.constant(ins[1], w)]
        extra = None
        if ins[2]:
            c = self.const[ins[2]].astype(np.float64) * beta
            if c.ndim <= 1 or c.shape[0] == 1:
                inputs.append(self.constant(ins[2], np.broadcast_to(c.reshape(-1), (n,))))
            else:
                extra = c
        if extra is None:
            out = self.new_act(y, (0, 1))
            self.emit("fully_connected", inputs, [out], act_range=(None, None))
            return
        mid = self.tmp_act(f"{y}__fc", self.shape(y))
        self.emit("fully_connected", inputs, [mid], act_range=(None, None))
        out = self.new_act(y, (0, 1))
        self.emit("add", [mid, self.constant(ins[2], extra)], [out], act_range=(None, None))

    def op_MatMul(self, node, ins, a) -> None:
        if not self.is_const(ins[1]):
            from qcompile.frontends.onnx_ops.transformer import matmul_activations

            matmul_activations(self, node, ins)
            return
        bmat = self.const[ins[1]]
        if bmat.ndim != 2:
            raise self.fail("MatMul weights must be a 2-D constant")
        rank = len(self.shape(ins[0]))
        xin = self.get(ins[0], _identity(rank))
        out = self.new_act(node.output[0], _identity(rank))
        self.emit("fully_connected", [xin, self.constant(ins[1], bmat.T)], [out], act_range=(None, None))


def _convert(model: onnx.ModelProto, path: str, input_layout: str) -> Graph:
    """Run the converter; a numpy or Python error on a node the checks let through still
    ends as one message naming that node (the checks, not this net, are the contract)."""
    converter = _Converter(model, path, input_layout)
    try:
        return converter.run()
    except QCompileError:
        raise
    except (ArithmeticError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise converter.fail(f"cannot convert this node ({type(exc).__name__}: {exc})") from exc


def convert_model(
    model: onnx.ModelProto,
    path: str,
    *,
    input_layout: str = "nhwc",
    input_shapes: Mapping[str, Sequence[int]] | None = None,
) -> Graph:
    """A checked, parsed model to float IR without the graph passes (``path`` names it in
    messages). The QDQ importer (:mod:`qcompile.frontends.onnx_qdq`) calls it on the float
    model it derives from a quantized one, then runs only the passes that keep its integers."""
    check_supported(fuse_patterns(model), path=path)
    _fix_dims(model, path, input_shapes)
    model = fold_shape_subgraphs(model, path, model_opset(model))
    model = fuse_patterns(infer_checked(model, path))
    return _convert(model, path, input_layout)


def load_onnx(
    path: str | os.PathLike[str],
    *,
    input_layout: str = "nhwc",
    optimize: bool = True,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
) -> Graph:
    """Import an ONNX model as float IR (NHWC physical layout).

    ``input_layout="nhwc"`` makes 4-D graph inputs physical NHWC (what the C API takes);
    ``"nchw"`` keeps them NCHW and inserts a transpose before their first conv. With
    ``optimize`` (default) the graph passes (:func:`qcompile.passes.optimize`: BN/pad folding,
    activation fusion...) run before returning; they are idempotent. ``input_shapes``
    (``--input-shape``) fixes dynamic input dimensions; shape subgraphs are then folded
    (:mod:`qcompile.frontends.onnx_shapes`).
    """
    if input_layout not in ("nhwc", "nchw"):
        raise QCompileError(f"input_layout must be 'nhwc' or 'nchw', not {input_layout!r}")
    path_s = os.fspath(path)
    model = read_model(path_s)
    check_structure(model, path_s)
    graph = convert_model(model, path_s, input_layout=input_layout, input_shapes=input_shapes)
    if optimize:
        from qcompile.passes import optimize as run_passes

        graph = run_passes(graph)
    return graph
