"""ONNX operator-format quantized models (``QLinearConv``, ``QLinearMatMul``, ``QGemm``, ...) as QDQ.

ONNX Runtime's ``QuantFormat.QOperator`` writes integer ops that take their inputs' and output's
scales and zero points as operands. Each one means exactly ``DequantizeLinear`` of its integer
inputs, the float op, and ``QuantizeLinear`` of the result, so :func:`to_qdq` rewrites it that way
and :mod:`qcompile.frontends.onnx_qdq` imports one format. Data-movement ops that run on the
integer tensors directly in this format (MaxPool, Reshape, Transpose, Flatten, Squeeze, Unsqueeze,
Identity) get the same treatment with the input's parameters on both sides.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from qcompile.errors import UnsupportedModelError

#: op type -> (index groups of (x, scale, zero point) inputs, (y scale, y zero point) indices or None,
#: float op type, index of an int32 bias input or None)
_SPEC: dict[str, tuple[list[tuple[int, int, int]], tuple[int, int] | None, str, int | None]] = {
    "QLinearConv": ([(0, 1, 2), (3, 4, 5)], (6, 7), "Conv", 8),
    "QLinearMatMul": ([(0, 1, 2), (3, 4, 5)], (6, 7), "MatMul", None),
    "QLinearAdd": ([(0, 1, 2), (3, 4, 5)], (6, 7), "Add", None),
    "QLinearMul": ([(0, 1, 2), (3, 4, 5)], (6, 7), "Mul", None),
    "QGemm": ([(0, 1, 2), (3, 4, 5)], (7, 8), "Gemm", 6),
    "QLinearGlobalAveragePool": ([(0, 1, 2)], (3, 4), "GlobalAveragePool", None),
    "QLinearAveragePool": ([(0, 1, 2)], (3, 4), "AveragePool", None),
    "QLinearSigmoid": ([(0, 1, 2)], (3, 4), "Sigmoid", None),
    "QLinearLeakyRelu": ([(0, 1, 2)], (3, 4), "LeakyRelu", None),
    "QLinearSoftmax": ([(0, 1, 2)], (3, 4), "Softmax", None),
}
QOPERATORS = frozenset(_SPEC) | {"QLinearConcat"}
#: ops that run on quantized tensors unchanged in the operator format
_PASS_THROUGH = frozenset({"MaxPool", "Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Identity"})
#: attributes of the integer op that the float op does not take
_DROP_ATTRS = {"channels_last", "opset"}


class _Rewriter:
    def __init__(self, model: onnx.ModelProto, path: str) -> None:
        self.model, self.path = model, path
        self.const = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.qtensors: dict[str, tuple[str, str]] = {}  # integer tensor -> (scale, zero point) names
        self.count = 0

    def fresh(self, base: str) -> str:
        self.count += 1
        return f"{base}__qdq{self.count}"

    def dq(self, x: str, scale: str, zp: str, axis: int | None = None) -> str:
        y = self.fresh(f"{x}_dequantized")
        extra = {"axis": axis} if axis is not None else {}
        self.nodes.append(helper.make_node("DequantizeLinear", [x, scale, zp], [y], name=y, **extra))
        return y

    def q(self, x: str, scale: str, zp: str, y: str) -> None:
        self.nodes.append(helper.make_node("QuantizeLinear", [x, scale, zp], [y], name=self.fresh(y)))
        self.qtensors[y] = (scale, zp)

    def fail(self, node: onnx.NodeProto, why: str) -> UnsupportedModelError:
        return UnsupportedModelError(f"{self.path}: node {node.name or node.output[0]!r} ({node.op_type}): {why}")

    def run(self) -> onnx.ModelProto:
        for node in self.model.graph.node:
            if node.op_type in _SPEC:
                self.qlinear(node)
            elif node.op_type == "QLinearConcat":
                self.concat(node)
            elif node.op_type in _PASS_THROUGH and node.input and node.input[0] in self.qtensors:
                self.pass_through(node)
            else:
                if node.op_type == "QuantizeLinear":
                    self.qtensors[node.output[0]] = (node.input[1], node.input[2] if len(node.input) > 2 else "")
                self.nodes.append(node)
        g = self.model.graph
        graph = helper.make_graph(
            self.nodes, g.name, list(g.input), list(g.output), list(g.initializer) + self.inits, value_info=[]
        )
        model = helper.make_model(graph, opset_imports=list(self.model.opset_import))
        model.ir_version = self.model.ir_version
        return model

    def attrs(self, node: onnx.NodeProto) -> dict:
        return {a.name: helper.get_attribute_value(a) for a in node.attribute if a.name not in _DROP_ATTRS}

    def qlinear(self, node: onnx.NodeProto) -> None:
        groups, out, op, bias = _SPEC[node.op_type]
        ins = list(node.input) + [""] * 10
        if any(a.name == "channels_last" and a.i for a in node.attribute):
            raise self.fail(node, "channels_last=1 is not supported")
        floats = [self.dq(ins[x], ins[s], ins[z], self.weight_axis(node, ins[s], x)) for x, s, z in groups]
        attrs = self.attrs(node)
        if bias is not None and ins[bias]:
            floats.append(self.dq_bias(node, ins[bias], ins[groups[0][1]], ins[groups[1][1]], attrs))
        if out is None or not ins[out[0]]:  # QGemm without y_scale: float output
            self.nodes.append(helper.make_node(op, floats, [node.output[0]], name=node.name or None, **attrs))
            return
        y_float = self.fresh(f"{node.output[0]}_float")
        self.nodes.append(helper.make_node(op, floats, [y_float], name=node.name or None, **attrs))
        self.q(y_float, ins[out[0]], ins[out[1]], node.output[0])

    def weight_axis(self, node: onnx.NodeProto, scale: str, index: int) -> int | None:
        weighted = node.op_type in ("QLinearConv", "QLinearMatMul", "QGemm")
        if not weighted or index != 3 or scale not in self.const or self.const[scale].size <= 1:
            return None
        if node.op_type == "QLinearConv":
            return 0
        trans = next((int(a.i) for a in node.attribute if a.name == "transB"), 0)
        return 0 if node.op_type == "QGemm" and trans else 1

    def dq_bias(self, node: onnx.NodeProto, b: str, x_scale: str, w_scale: str, attrs: dict) -> str:
        """The int32 bias of QLinearConv/QGemm is stored at scale x_scale * w_scale (* alpha)."""
        if x_scale not in self.const or w_scale not in self.const:
            raise self.fail(node, "scales must be constants")
        alpha = np.float32(attrs.get("alpha", 1.0))
        scale = (self.const[x_scale].astype(np.float32) * self.const[w_scale].astype(np.float32) * alpha).reshape(-1)
        scale_name, zp_name = self.fresh(f"{b}_scale"), self.fresh(f"{b}_zero_point")
        self.inits.append(numpy_helper.from_array(scale.astype(np.float32), scale_name))
        self.inits.append(numpy_helper.from_array(np.zeros(scale.shape, np.int32), zp_name))
        return self.dq(b, scale_name, zp_name, 0 if scale.size > 1 else None)

    def concat(self, node: onnx.NodeProto) -> None:
        ins = list(node.input)
        floats = [self.dq(ins[i], ins[i + 1], ins[i + 2]) for i in range(2, len(ins) - 2, 3)]
        y_float = self.fresh(f"{node.output[0]}_float")
        self.nodes.append(helper.make_node("Concat", floats, [y_float], name=node.name or None, **self.attrs(node)))
        self.q(y_float, ins[0], ins[1], node.output[0])

    def pass_through(self, node: onnx.NodeProto) -> None:
        scale, zp = self.qtensors[node.input[0]]
        x = self.dq(node.input[0], scale, zp)
        y_float = self.fresh(f"{node.output[0]}_float")
        new = onnx.NodeProto()
        new.CopyFrom(node)
        new.input[0] = x
        del new.output[:]
        new.output.append(y_float)
        self.nodes.append(new)
        self.q(y_float, scale, zp, node.output[0])


def to_qdq(model: onnx.ModelProto, path: str) -> onnx.ModelProto:
    """``model`` with every operator-format quantized op written as DQ -> float op -> Q
    (the model itself when it has none)."""
    if not any(n.op_type in QOPERATORS for n in model.graph.node):
        return model
    return _Rewriter(model, path).run()
