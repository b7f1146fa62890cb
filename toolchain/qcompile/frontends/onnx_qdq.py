"""Import a pre-quantized ONNX model (QDQ or operator format) into the quantized IR, keeping its own
scales and zero points.

Models quantized offline (ONNX Runtime's ``quantize_static``) or by quantization-aware training
(PyTorch, TensorFlow exports) carry their quantization as ``QuantizeLinear``/``DequantizeLinear``
pairs around float ops (QDQ) or as ``QLinearConv``-style integer ops (operator format, rewritten to
QDQ first by :mod:`qcompile.frontends.onnx_qoperator`). Nothing is calibrated: like the TFLite
importer, every tensor keeps the model's parameters and every integer attribute is derived from
them by :mod:`qcompile.op_params` (through :func:`qcompile.quant.quantize.quantize` with the
parameters given, not ranges).

How: the QDQ graph is split into a float model (each activation ``Q -> DQ`` pair removed, each
``DQ`` of a stored weight or bias replaced by its float value) and the facts the pairs carried
(per activation tensor its scale and zero point, per weighted node its integer weights, scales and
bias). The float model goes through the ONNX importer (layouts, every supported op) and only the
float passes that keep integers exact (no BatchNorm or bias folding); then each IR tensor takes its
source tensor's parameters. uint8 tensors become int8 exactly (``q - 128`` with zero point
``zp - 128``). Whatever the TFLite integer spec cannot express exactly is one error naming the node
and why (asymmetric weights, a bias scale other than input x weight scale, a float tensor between a
DQ and a Q, weights changed by a float op folded into them, per-channel activations).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from qcompile.errors import QCompileError, UnsupportedModelError
from qcompile.frontends.onnx_qoperator import QOPERATORS
from qcompile.ir import Graph, Node, QuantParams, Tensor
from qcompile.quant.shared_ranges import requant_node, requantize_before

QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")
#: weighted ONNX ops, and the axis of their stored weights that indexes output channels
_WEIGHTED = {"Conv": 0, "Gemm": None, "MatMul": 1}
_INT_TYPES = {np.dtype(np.int8): "int8", np.dtype(np.uint8): "uint8", np.dtype(np.int16): "int16"}
#: relative tolerance of "bias scale == input scale x weight scale" (both are float32 products)
BIAS_SCALE_RTOL = 1e-5


#: the nodes that make a model pre-quantized (and that this importer reads)
QUANTIZED_OPS = frozenset(QDQ_OPS) | QOPERATORS


def is_quantized(model: onnx.ModelProto) -> bool:
    """True for a QDQ or operator-format model (any Q/DQ or QLinear*/QGemm node)."""
    return any(n.op_type in QUANTIZED_OPS for n in model.graph.node)


def is_quantized_file(path: str | os.PathLike[str]) -> bool:
    from qcompile.frontends.onnx_import import read_model

    return is_quantized(read_model(path))


@dataclass
class StoredWeight:
    """A constant behind a DequantizeLinear: integer codes (int8 with zero point shifted for
    uint8), float32 scale (scalar or per ``axis``) and zero point."""

    codes: np.ndarray
    scale: np.ndarray
    zero_point: np.ndarray
    axis: int | None
    dtype: str


@dataclass
class QdqFacts:
    """What the Q/DQ nodes said: activation parameters by float tensor name, stored weights by
    the name of their float value, and per weighted node its checked weight facts."""

    act: dict[str, QuantParams] = field(default_factory=dict)
    weights: dict[str, StoredWeight] = field(default_factory=dict)
    scales: dict[str, np.ndarray] = field(default_factory=dict)  # node -> per-output-channel scale
    biases: dict[str, StoredWeight] = field(default_factory=dict)  # node -> int32 bias


def _fail(path: str, node: onnx.NodeProto | None, why: str) -> UnsupportedModelError:
    where = f"node {node.name or node.output[0]!r} ({node.op_type})" if node is not None else "model"
    return UnsupportedModelError(f"{path}: {where}: {why}")


def activation_params(scale: np.ndarray, zero_point: np.ndarray, what: str) -> QuantParams:
    """int8 IR parameters of an int8 or uint8 QDQ activation (uint8 exactly: zero point - 128)."""
    scale, zero_point = np.asarray(scale), np.asarray(zero_point)
    if scale.size != 1:
        raise ValueError(f"{what} is quantized per channel; activations must be per tensor")
    kind = _INT_TYPES.get(zero_point.dtype)
    if kind == "int16" and np.any(zero_point != 0):
        raise ValueError(
            f"{what} is int16 with zero point {int(zero_point.reshape(-1)[0])}: 16x8 needs symmetric int16 "
            "activations (zero point 0; quantize_static extra_options={'ActivationSymmetric': True})"
        )
    if kind is None:
        raise ValueError(f"{what} is quantized to {zero_point.dtype}; activations must be int8 or uint8")
    s = float(np.float32(scale.reshape(())))
    if not (np.isfinite(s) and s > 0):
        raise ValueError(f"{what} has scale {s}; it must be a positive finite number")
    zp = int(zero_point.reshape(())) - (128 if kind == "uint8" else 0)
    return QuantParams(np.float64(s), np.int64(zp), dtype="int16" if kind == "int16" else "int8")


def _ort_quantize(x: np.ndarray, scale: np.ndarray, zp: np.ndarray, axis: int | None) -> np.ndarray:
    """QuantizeLinear of a constant, as ONNX defines it: round half to even, saturate."""
    info = np.iinfo(zp.dtype)
    s, z = _along(scale, x.ndim, axis), _along(zp.astype(np.int64), x.ndim, axis)
    q = np.rint(x.astype(np.float32) / s.astype(np.float32)).astype(np.int64) + z
    return np.clip(q, info.min, info.max).astype(zp.dtype)


def _along(v: np.ndarray, ndim: int, axis: int | None) -> np.ndarray:
    v = np.asarray(v)
    if axis is None or v.size == 1:
        return v.reshape(())
    shape = [1] * ndim
    shape[axis] = -1
    return v.reshape(shape)


class _Splitter:
    """QDQ model -> (float model, facts)."""

    def __init__(self, model: onnx.ModelProto, path: str) -> None:
        self.model, self.path = model, path
        self.const: dict[str, np.ndarray] = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        self.facts = QdqFacts()
        self.q_of: dict[str, str] = {}  # Q output -> the float tensor it quantizes
        self.rename: dict[str, str] = {}  # DQ output -> float tensor
        self.new_consts: dict[str, np.ndarray] = {}
        self.kept: list[onnx.NodeProto] = []

    def qparams(self, node: onnx.NodeProto) -> tuple[np.ndarray, np.ndarray, int | None]:
        ins = list(node.input) + ["", ""]
        for name in ins[1:3]:
            if name and name not in self.const:
                raise _fail(self.path, node, f"scale/zero point {name!r} must be a constant")
        scale = self.const[ins[1]]
        zp = self.const[ins[2]] if ins[2] else np.zeros(scale.shape, np.uint8)
        if zp.size != scale.size or scale.size == 0:
            raise _fail(self.path, node, f"scale {scale.shape} and zero point {zp.shape} must have one size")
        zp = zp.reshape(scale.shape)
        if scale.dtype.kind != "f":
            raise _fail(self.path, node, f"scale is {scale.dtype}; it must be float")
        axis = None
        if scale.size > 1:
            axis = next((int(a.i) for a in node.attribute if a.name == "axis"), 1)
            x = self.const.get(node.input[0], self.new_consts.get(node.input[0]))
            if scale.ndim != 1 or (x is not None and not (-x.ndim <= axis < x.ndim and x.shape[axis] == scale.size)):
                raise _fail(self.path, node, f"per-axis scale of {scale.size} values does not match axis {axis}")
            if x is not None:
                axis %= x.ndim
        if any(a.name == "block_size" and a.i for a in node.attribute):
            raise _fail(self.path, node, "blocked quantization is not supported")
        return scale, zp, axis

    def run(self) -> tuple[onnx.ModelProto, QdqFacts]:
        for node in self.model.graph.node:
            if node.op_type == "Constant":
                value = next((a.t for a in node.attribute if a.name == "value"), None)
                if value is not None:
                    self.const[node.output[0]] = numpy_helper.to_array(value)
                self.kept.append(node)
            elif node.op_type == "QuantizeLinear":
                self.quantize(node)
            elif node.op_type == "DequantizeLinear":
                self.dequantize(node)
            else:
                self.kept.append(node)
        return self.float_model(), self.facts

    def quantize(self, node: onnx.NodeProto) -> None:
        scale, zp, axis = self.qparams(node)
        x = node.input[0]
        if x in self.const or x in self.new_consts:  # a stored float weight quantized in the graph (QAT export)
            value = self.const.get(x, self.new_consts.get(x))
            self.const[node.output[0]] = _ort_quantize(value, scale, zp, axis)
            return
        x = self.rename.get(x, x)
        try:
            params = activation_params(scale, zp, f"tensor {x!r}")
        except ValueError as exc:
            raise _fail(self.path, node, str(exc)) from exc
        old = self.facts.act.get(x)
        if old is not None and old != params:
            raise _fail(self.path, node, f"tensor {x!r} is quantized twice with different scales or zero points")
        self.facts.act[x] = params
        self.q_of[node.output[0]] = x

    def dequantize(self, node: onnx.NodeProto) -> None:
        scale, zp, axis = self.qparams(node)
        x, y = node.input[0], node.output[0]
        if x in self.q_of:
            src = self.q_of[x]
            try:
                same = activation_params(scale, zp, f"tensor {src!r}") == self.facts.act[src]
            except ValueError as exc:
                raise _fail(self.path, node, str(exc)) from exc
            if not same:
                raise _fail(self.path, node, "its scale or zero point differs from the QuantizeLinear before it")
            self.rename[y] = src
            return
        if x not in self.const:
            raise _fail(
                self.path,
                node,
                f"dequantizes {x!r}, which is neither a stored constant nor the output of a QuantizeLinear "
                "(a model whose inputs are already integers is not supported: give it a float input and a "
                "QuantizeLinear)",
            )
        codes = self.const[x]
        kind = _INT_TYPES.get(codes.dtype, "int32" if codes.dtype == np.int32 else None)
        if kind is None or kind == "int16":
            raise _fail(self.path, node, f"stored constant {x!r} is {codes.dtype}; weights must be int8 (or uint8)")
        s32 = scale.astype(np.float32)
        value = (codes.astype(np.int64) - _along(zp.astype(np.int64), codes.ndim, axis)).astype(np.float32)
        with np.errstate(over="ignore", invalid="ignore"):  # a hostile scale; refused by the weight checks
            self.new_consts[y] = (value * _along(s32, codes.ndim, axis)).astype(np.float32)
        shift = 128 if kind == "uint8" else 0
        self.facts.weights[y] = StoredWeight(
            codes=codes.astype(np.int64) - shift,
            scale=s32,
            zero_point=zp.astype(np.int64) - shift,
            axis=axis,
            dtype=kind,
        )

    def float_model(self) -> onnx.ModelProto:
        g = self.model.graph
        outputs = {o.name for o in g.output}
        inputs = {i.name for i in g.input}
        # The float tensor takes the name of a DQ output (a graph output's first): in the QDQ model
        # that tensor holds exactly the quantized values, which verify and report compare with.
        final: dict[str, str] = {}
        for dq, src in self.rename.items():
            if src not in inputs and (src not in final or dq in outputs):
                final[src] = dq
        for dq, src in list(self.rename.items()):
            self.rename[dq] = final.get(src, src)
        self.facts.act = {final.get(k, k): v for k, v in self.facts.act.items()}

        def name(t: str) -> str:
            return final.get(self.rename.get(t, t), self.rename.get(t, t))

        for out in g.output:
            if out.name in self.q_of:
                raise QCompileError(
                    f"{self.path}: graph output {out.name!r} is a quantized integer tensor; qcompile compiles "
                    "QDQ models whose outputs are float (a DequantizeLinear at the end)"
                )
        nodes, used = [], set()
        for i, node in enumerate(self.kept):
            new = onnx.NodeProto()
            new.CopyFrom(node)
            new.name = node.name or f"{node.op_type}_{i}"
            new.input[:] = [name(t) if t else t for t in node.input]
            new.output[:] = [name(t) for t in node.output]
            nodes.append(new)
            used.update(new.input)
        nodes = [n for n in nodes if n.op_type != "Constant" or any(o in used for o in n.output)]
        inits = [i for i in g.initializer if i.name in used]
        inits += [numpy_helper.from_array(v, k) for k, v in self.new_consts.items() if k in used]
        graph = helper.make_graph(nodes, g.name, list(g.input), list(g.output), inits)
        model = helper.make_model(graph, opset_imports=list(self.model.opset_import))
        model.ir_version = self.model.ir_version
        return model


def split(model: onnx.ModelProto, path: str) -> tuple[onnx.ModelProto, QdqFacts]:
    """The float model and the facts of a QDQ model, every weighted node checked."""
    float_model, facts = _Splitter(model, path).run()
    for node in float_model.graph.node:
        if node.op_type in QDQ_OPS:
            raise _fail(path, node, "left over after the QDQ pairs were removed")
        if node.op_type in _WEIGHTED:
            _check_weighted(node, facts, path)
    return float_model, facts


def _weight_axis(node: onnx.NodeProto) -> int:
    axis = _WEIGHTED[node.op_type]
    if axis is None:  # Gemm: B is [K, N] unless transB
        trans = next((int(a.i) for a in node.attribute if a.name == "transB"), 0)
        axis = 0 if trans else 1
    return axis


def _check_weighted(node: onnx.NodeProto, facts: QdqFacts, path: str) -> None:
    """The TFLite spec's conditions on a conv/FC layer's weights and bias (module docstring)."""
    x, w_name = node.input[0], node.input[1]
    w = facts.weights.get(w_name)
    if w is None:
        raise _fail(path, node, "its weights are float (no DequantizeLinear of stored int8 weights)")
    if x not in facts.act:
        raise _fail(path, node, f"its input {x!r} is float (no QuantizeLinear/DequantizeLinear pair before it)")
    if w.dtype not in ("int8", "uint8"):
        raise _fail(path, node, f"its weights are {w.dtype}; they must be int8")
    if np.any(w.zero_point != 0):
        raise _fail(
            path,
            node,
            "its weights are asymmetric (zero point "
            f"{int(w.zero_point.reshape(-1)[np.argmax(w.zero_point.reshape(-1) != 0)])}); the TFLite int8 spec "
            "needs symmetric weights (zero point 0): quantize weights with symmetric=True / QInt8",
        )
    axis = _weight_axis(node)
    if w.axis is not None and w.axis != axis:
        raise _fail(path, node, f"its weights are quantized along axis {w.axis}, not the output-channel axis {axis}")
    if np.any(w.codes < -128) or np.any(w.codes > 127):
        raise _fail(path, node, "its weights do not fit int8")
    if not np.all(np.isfinite(w.scale)) or np.any(w.scale <= 0):
        raise _fail(path, node, "its weight scales must be positive finite numbers")
    channels = w.codes.shape[axis]
    scale = np.broadcast_to(w.scale.reshape(-1), (channels,)).astype(np.float64)
    facts.scales[node.name] = scale
    b_name = node.input[2] if len(node.input) > 2 else ""
    bias = facts.weights.get(b_name) if b_name else None
    if bias is None:
        return
    if bias.dtype != "int32" or np.any(bias.zero_point != 0):
        raise _fail(path, node, "its bias must be int32 with zero point 0")
    expected = np.float32(facts.act[x].scalar_scale()) * scale.astype(np.float32)
    got = np.broadcast_to(bias.scale.reshape(-1), (channels,)).astype(np.float64)
    if not np.allclose(got, expected, rtol=BIAS_SCALE_RTOL, atol=0):
        c = int(np.argmax(np.abs(got - expected)))
        raise _fail(
            path,
            node,
            f"its bias scale {got[c]:.9g} (channel {c}) is not input scale x weight scale ({expected[c]:.9g}), "
            "which the TFLite integer spec requires",
        )
    facts.biases[node.name] = bias


# ---- the float IR with the model's parameters -------------------------------------------


def load_qdq(
    path: str | os.PathLike[str],
    *,
    input_layout: str = "nhwc",
    input_shapes: Mapping[str, Sequence[int]] | None = None,
) -> Graph:
    """Read a QDQ (or operator-format) ONNX model and return its quantized IR graph
    (``input_shapes`` fixes dynamic input dimensions, as ``--input-shape`` does for float models)."""
    from qcompile.frontends.onnx_import import convert_model, read_model
    from qcompile.frontends.onnx_qoperator import to_qdq
    from qcompile.frontends.onnx_validate import check_structure
    from qcompile.quant.quantize import quantize

    if input_layout not in ("nhwc", "nchw"):
        raise QCompileError(f"input_layout must be 'nhwc' or 'nchw', not {input_layout!r}")
    path_s = os.fspath(path)
    model = read_model(path_s)
    check_structure(model, path_s)
    try:
        float_model, facts = split(to_qdq(model, path_s), path_s)
    except (ArithmeticError, ValueError, TypeError, KeyError, IndexError) as exc:  # the checks are the contract
        raise UnsupportedModelError(f"{path_s}: cannot read the quantization ({type(exc).__name__}: {exc})") from exc
    graph = _passes(convert_model(float_model, path_s, input_layout=input_layout, input_shapes=input_shapes))
    params = assign_params(graph, facts.act, path_s)
    _check_16x8(graph, params, path_s)
    config = _weight_config(graph, facts, path_s)
    try:
        return quantize(graph, {}, config, params=params)
    except QCompileError as exc:
        raise QCompileError(f"{path_s}: {exc}") from exc


def _passes(graph: Graph) -> Graph:
    """The float passes that keep the model's integers: no BatchNorm, Mul or bias folding (they
    would change stored weights); activation fusion only narrows a clamp."""
    from qcompile.passes import run_to_fixed_point
    from qcompile.passes.float_ir import fold_constants, fold_pad, fuse_activation, prune, remove_identity

    pipeline = [m.run for m in (fold_constants, remove_identity, fold_pad, fuse_activation, prune)]
    graph = run_to_fixed_point(graph, pipeline)
    graph.validate()
    return graph


def _weight_config(graph: Graph, facts: QdqFacts, path: str):
    """Per IR weighted node: its model's scales, int8 codes and int32 bias (checked unchanged)."""
    from qcompile.quant.quantize import WEIGHT_AXIS, QuantConfig

    codes, scales, biases = {}, {}, {}
    for node in graph.nodes:
        if node.op not in WEIGHT_AXIS:
            continue
        source = next((s for s in node.source_nodes if s in facts.scales), None)
        if source is None:
            raise UnsupportedModelError(f"{path}: node {node.name!r} ({node.op}) has no quantized weights")
        axis = WEIGHT_AXIS[node.op]
        w = graph.tensors[node.inputs[1]].data.astype(np.float64)
        scale = facts.scales[source]
        exact = w / _along(scale, w.ndim, axis)
        q = np.rint(exact)
        if np.max(np.abs(exact - q), initial=0.0) > 1e-3 or np.any(np.abs(q) > 128):
            raise UnsupportedModelError(
                f"{path}: node {source!r}: its weights are no longer int8 multiples of their scales: a float op "
                "(BatchNormalization, Mul, Gemm alpha) acts on them between DequantizeLinear and the layer; fold it "
                "into the weights before quantizing"
            )
        codes[node.name], scales[node.name] = q.astype(np.int8), scale
        bias = facts.biases.get(source)
        if bias is not None and len(node.inputs) > 2 and node.inputs[2]:
            b = graph.tensors[node.inputs[2]].data
            stored = (bias.codes.astype(np.float32) * bias.scale.astype(np.float32)).astype(np.float32)
            if b.shape == stored.shape and np.array_equal(b.astype(np.float32), stored):
                biases[node.name] = bias.codes.astype(np.int32)
    return QuantConfig(weight_codes=codes, weight_scales=scales, bias_codes=biases)


def assign_params(graph: Graph, act: dict[str, QuantParams], path: str) -> dict[str, QuantParams]:
    """Every activation's parameters: its source tensor's, shared through data-movement ops,
    with a requantizing ``lut`` where the model gives two sides of such an op different ones
    (and after a softmax whose output is not TFLite's 1/256, -128, or 1/32768 for int16); a global average pool
    whose two sides differ becomes ``global_avg_pool`` (TFLite MEAN, one rounding)."""
    from qcompile.quant.global_mean import is_global_pool
    from qcompile.quant.quantize import SHARES_INPUT_PARAMS, SOFTMAX_OUTPUT, SOFTMAX_OUTPUT_S16

    known = {t.name: act[t.source_name] for t in graph.activations() if t.source_name in act}
    for node in list(graph.nodes):
        out = node.outputs[0] if node.outputs else None
        if node.op == "softmax":
            x = known.get(node.inputs[0])
            fixed = SOFTMAX_OUTPUT_S16 if x is not None and x.dtype == "int16" else SOFTMAX_OUTPUT
            if out in known and known[out] != fixed:
                out = _requantize_after(graph, node)
            known[out] = fixed
        elif node.op in SHARES_INPUT_PARAMS:
            x = node.inputs[0]
            if x in known and out in known and known[x] != known[out] and is_global_pool(graph, node):
                node.op, node.attrs = "global_avg_pool", {}  # TFLite MEAN: its own output parameters
            elif x in known and out in known and known[x] != known[out]:
                known[_requantize_after(graph, node)] = known[x]
        elif node.op == "concat" and out in known:
            for i, x in enumerate(list(node.inputs)):
                if x in known and known[x] != known[out]:
                    known[requantize_before(graph, node, i)] = known[out]
    _propagate(graph, known, SHARES_INPUT_PARAMS)
    for t in graph.activations():
        if t.name not in known:
            producer = graph.producer(t.name)
            what = f"output of node {producer.name!r} ({producer.op})" if producer else "a graph input"
            raise UnsupportedModelError(
                f"{path}: tensor {t.source_name or t.name!r} ({what}) has no QuantizeLinear: the model computes it "
                "in float, which has no int8 form. Quantize it too (a Q/DQ pair after every op), or compile the "
                "float model with --calib"
            )
    return known


#: float IR ops with a 16x8 kernel (int16 activations in and out; reshape is an alias)
S16_OPS = frozenset(
    {"conv2d", "depthwise_conv2d", "fully_connected", "add", "sub", "mul", "max_pool2d", "avg_pool2d"}
    | {"pad", "concat", "reshape", "transpose", "softmax", "global_avg_pool", "reduce_mean", "reduce_sum"}
    | {"strided_slice", "elementwise"}
)


def _check_16x8(graph: Graph, params: dict[str, QuantParams], path: str) -> None:
    """int16 (QDQ QInt16) activations map to TFLite's 16x8 kernels: every op touching one must have a
    16x8 kernel and int16 on all its activation sides (no int8 <-> int16 conversions yet)."""
    for node in graph.nodes:
        names = [n for n in node.inputs + node.outputs if n in params]
        kinds = {params[n].dtype for n in names}
        if "int16" not in kinds:
            continue
        where = f"{path}: node {(node.source_nodes or [node.name])[0]!r} ({node.op})"
        if node.op not in S16_OPS:
            raise UnsupportedModelError(
                f"{where}: its tensors are int16 and {node.op} has no 16x8 kernel "
                f"(16x8 ops: {', '.join(sorted(S16_OPS))}); quantize it to int8"
            )
        if len(kinds) > 1:
            raise UnsupportedModelError(f"{where}: mixes int8 and int16 tensors; give all its tensors one type")


def _propagate(graph: Graph, known: dict[str, QuantParams], shares: set[str]) -> None:
    changed = True
    while changed:
        changed = False
        for node in graph.nodes:
            if node.op in shares:
                group = [node.inputs[0], node.outputs[0]]
            elif node.op == "concat":
                group = [i for i in node.inputs if not graph.tensors[i].is_constant] + node.outputs
            else:
                continue
            have = [known[n] for n in group if n in known]
            for n in group:
                if have and n not in known:
                    known[n] = have[0]
                    changed = True


def _requantize_after(graph: Graph, node: Node) -> str:
    """``node -> mid -> requantize -> its old output``; returns ``mid``."""
    out = graph.tensors[node.outputs[0]]
    mid = graph.add_tensor(Tensor(graph.unique_name(f"{out.name}_pre"), out.shape, source_name=None)).name
    node.outputs[0] = mid
    graph.add_node(requant_node(graph, node, mid, out.name), graph.nodes.index(node) + 1)
    return mid


def source_format(path: Path) -> str:
    """``tflite``, ``onnx-qdq`` (pre-quantized ONNX) or ``onnx`` (float), by the file."""
    from qcompile.frontends.detect import model_kind

    kind = model_kind(path)
    if kind == "onnx" and is_quantized_file(path):
        return "onnx-qdq"
    return kind
