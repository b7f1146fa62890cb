"""Recognise multi-node ONNX patterns as one op before conversion.

Exporters write LayerNorm and GELU out as chains of elementwise nodes when the opset has
no single op for them (torch.onnx at opset < 17 for LayerNorm, < 20 for GELU). Quantizing
those chains node by node loses most of the signal (each intermediate gets its own int8
range: the variance alone spans several decades), so :func:`fuse_patterns` rewrites each
recognised chain into the one node whose integer kernel qcompile has:

* LayerNorm: ``m = ReduceMean(x); d = Sub(x, m); p = Pow(d, 2) | Mul(d, d);
  v = ReduceMean(p); s = Sqrt(Add(v, eps)); n = Div(d, s)`` [``Mul(n, gamma)``]
  [``Add(., beta)``] over the trailing axes -> ``LayerNormalization(x, gamma, beta)``.
* GELU (Erf form): ``e = Erf(Div(x, sqrt 2) | Mul(x, 1/sqrt 2)); a = Add(e, 1)``, then
  ``Mul(Mul(x, a), 0.5)`` or ``Mul(x, Mul(a, 0.5))`` -> ``Gelu(x)``.
* GELU (tanh form): ``t = Tanh(Mul(sqrt(2/pi), Add(x, Mul(0.044715, x^3))))`` with ``x^3`` as
  ``Pow(x, 3)`` or two Muls, ``a = Add(t, 1)``, then the same product with x and 0.5
  -> ``Gelu(x, approximate="tanh")``.

The rewrite runs on the shape-inferred model, right before conversion, and is also run on a
copy for the support check, so a model whose chains are all recognised needs none of their
parts (ReduceMean, Pow, Sqrt, Div by an activation, Erf) to be supported on their own. Every
intermediate must feed only the pattern (and not be a graph output); the fused node takes
the position of the chain's last node, so the graph stays in topological order. The fused
nodes are private to qcompile (never written back to a file), which is why they may use
``LayerNormalization`` and ``Gelu`` below the opsets that define them.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import onnx
from onnx import helper, numpy_helper

_TOL = 1e-4


class _Graph:
    """Producers, consumers and constant values of one ONNX graph."""

    def __init__(self, model: onnx.ModelProto) -> None:
        g = model.graph
        self.consts: dict[str, np.ndarray] = {i.name: numpy_helper.to_array(i) for i in g.initializer}
        for node in g.node:
            if node.op_type == "Constant" and node.attribute:
                a = node.attribute[0]
                if a.name == "value":
                    self.consts[node.output[0]] = numpy_helper.to_array(a.t)
                elif a.name in ("value_float", "value_int"):
                    self.consts[node.output[0]] = np.asarray(helper.get_attribute_value(a))
            elif node.op_type == "Identity" and node.input[0] in self.consts:
                self.consts[node.output[0]] = self.consts[node.input[0]]
        self.producer = {o: n for n in g.node for o in n.output if o}
        self.consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
        for n in g.node:
            for i in n.input:
                if i:
                    self.consumers[i].append(n)
        self.outputs = {o.name for o in g.output}
        self.ranks = {}
        for vi in list(g.input) + list(g.value_info) + list(g.output):
            if vi.type.tensor_type.HasField("shape"):
                self.ranks[vi.name] = len(vi.type.tensor_type.shape.dim)

    def only(self, name: str, op: str) -> onnx.NodeProto | None:
        """The single consumer of ``name`` when it is an ``op`` and ``name`` is internal."""
        users = self.consumers.get(name, [])
        if len(users) != 1 or users[0].op_type != op or name in self.outputs:
            return None
        return users[0]

    def scalar(self, name: str) -> float | None:
        v = self.consts.get(name)
        return float(v.reshape(-1)[0]) if v is not None and v.size == 1 else None

    def other(self, node: onnx.NodeProto, name: str) -> str | None:
        """The input of binary ``node`` that is not ``name``."""
        ins = list(node.input)
        if len(ins) != 2 or name not in ins:
            return None
        return ins[1] if ins[0] == name else ins[0]


def _attr(node: onnx.NodeProto, name: str, default):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _reduce_axes(g: _Graph, node: onnx.NodeProto, rank: int | None) -> list[int] | None:
    axes = list(_attr(node, "axes", []))
    if len(node.input) > 1 and node.input[1]:
        v = g.consts.get(node.input[1])
        if v is None:
            return None
        axes = [int(a) for a in v.reshape(-1)]
    if not axes or not int(_attr(node, "keepdims", 1)):
        return None
    if any(a >= 0 for a in axes):
        if rank is None:
            return None
        axes = [a - rank if a >= 0 else a for a in axes]
    return sorted(axes)


def _match_layer_norm(g: _Graph, mean1: onnx.NodeProto) -> tuple[list[onnx.NodeProto], onnx.NodeProto] | None:
    x = mean1.input[0]
    axes = _reduce_axes(g, mean1, g.ranks.get(x))
    if axes is None or axes != list(range(-len(axes), 0)):
        return None
    sub = g.only(mean1.output[0], "Sub")
    if sub is None or list(sub.input) != [x, mean1.output[0]]:
        return None
    d = sub.output[0]
    users = g.consumers.get(d, [])
    if len(users) != 2 or d in g.outputs:
        return None
    div = next((u for u in users if u.op_type == "Div" and list(u.input)[0] == d), None)
    sq = next((u for u in users if u is not div), None)
    if div is None or sq is None:
        return None
    if sq.op_type == "Pow" and (g.scalar(sq.input[1]) != 2.0):
        return None
    if sq.op_type == "Mul" and list(sq.input) != [d, d]:
        return None
    if sq.op_type not in ("Pow", "Mul"):
        return None
    mean2 = g.only(sq.output[0], "ReduceMean")
    if mean2 is None or _reduce_axes(g, mean2, g.ranks.get(sq.output[0])) != axes:
        return None
    add = g.only(mean2.output[0], "Add")
    eps = g.scalar(g.other(add, mean2.output[0]) or "") if add is not None else None
    if eps is None or eps < 0:
        return None
    sqrt = g.only(add.output[0], "Sqrt")
    if sqrt is None or g.only(sqrt.output[0], "Div") is not div or list(div.input) != [d, sqrt.output[0]]:
        return None
    nodes = [mean1, sub, sq, mean2, add, sqrt, div]
    return nodes, _finish_layer_norm(g, nodes, x, len(axes), eps)


def _finish_layer_norm(g: _Graph, nodes: list[onnx.NodeProto], x: str, n_axes: int, eps: float) -> onnx.NodeProto:
    """Absorb the affine (Mul by constant gamma, Add of constant beta) and build the node."""
    out = nodes[-1].output[0]
    gamma = beta = None
    mul = g.only(out, "Mul")
    if mul is not None and g.other(mul, out) in g.consts:
        gamma, out = g.other(mul, out), mul.output[0]
        nodes.append(mul)
    add = g.only(out, "Add")
    if add is not None and g.other(add, out) in g.consts:
        beta, out = g.other(add, out), add.output[0]
        nodes.append(add)
    name = (nodes[0].name or out) + "_layernorm"
    return helper.make_node(
        "LayerNormalization", [x, gamma or "", beta or ""], [out], name=name, axis=-n_axes, epsilon=eps
    )


def _x_times_half(g: _Graph, a: str, x: str) -> tuple[list[onnx.NodeProto], str] | None:
    """``Mul(Mul(x, a), 0.5)`` or ``Mul(x, Mul(a, 0.5))`` (either operand order)."""
    m1 = g.only(a, "Mul")
    if m1 is None:
        return None
    other = g.other(m1, a)
    if other == x:
        m2 = g.only(m1.output[0], "Mul")
        if m2 is not None and abs((g.scalar(g.other(m2, m1.output[0]) or "") or 0) - 0.5) < _TOL:
            return [m1, m2], m2.output[0]
    elif other is not None and abs((g.scalar(other) or 0) - 0.5) < _TOL:
        m2 = g.only(m1.output[0], "Mul")
        if m2 is not None and g.other(m2, m1.output[0]) == x:
            return [m1, m2], m2.output[0]
    return None


def _close(value: float | None, target: float) -> bool:
    return value is not None and abs(value - target) < _TOL * max(1.0, abs(target))


def _match_gelu_erf(g: _Graph, erf: onnx.NodeProto) -> tuple[list[onnx.NodeProto], onnx.NodeProto] | None:
    pre = g.producer.get(erf.input[0])
    if pre is None or pre.op_type not in ("Div", "Mul") or len(pre.input) != 2:
        return None
    if g.only(pre.output[0], "Erf") is not erf:
        return None
    x, c = pre.input[0], g.scalar(pre.input[1])
    if pre.op_type == "Mul" and x in g.consts:
        x, c = pre.input[1], g.scalar(pre.input[0])
    if not (_close(c, math.sqrt(2.0)) if pre.op_type == "Div" else _close(c, 1.0 / math.sqrt(2.0))):
        return None
    return _gelu_tail(g, [pre, erf], x, "none")


def _gelu_tail(g: _Graph, nodes: list[onnx.NodeProto], x: str, approximate: str):
    add = g.only(nodes[-1].output[0], "Add")
    if add is None or not _close(g.scalar(g.other(add, nodes[-1].output[0]) or ""), 1.0):
        return None
    tail = _x_times_half(g, add.output[0], x)
    if tail is None:
        return None
    muls, out = tail
    nodes = [*nodes, add, *muls]
    node = helper.make_node("Gelu", [x], [out], name=(nodes[0].name or out) + "_gelu", approximate=approximate)
    return nodes, node


def _cube_of(g: _Graph, name: str) -> str | None:
    """x when ``name`` is ``Pow(x, 3)``, ``Mul(x, Mul(x, x))`` or ``Mul(Mul(x, x), x)``."""
    node = g.producer.get(name)
    if node is None:
        return None
    if node.op_type == "Pow" and g.scalar(node.input[1]) == 3.0:
        return node.input[0]
    if node.op_type != "Mul":
        return None
    for sq_name, x in ((node.input[0], node.input[1]), (node.input[1], node.input[0])):
        sq = g.producer.get(sq_name)
        if sq is not None and sq.op_type == "Mul" and list(sq.input) == [x, x]:
            return x
    return None


def _match_gelu_tanh(g: _Graph, tanh: onnx.NodeProto) -> tuple[list[onnx.NodeProto], onnx.NodeProto] | None:
    scale = g.producer.get(tanh.input[0])
    if scale is None or scale.op_type != "Mul" or len(scale.input) != 2:
        return None
    inner = next((i for i in scale.input if i not in g.consts), None)
    if inner is None or not _close(g.scalar(g.other(scale, inner) or ""), math.sqrt(2.0 / math.pi)):
        return None
    add = g.producer.get(inner)
    if add is None or add.op_type != "Add":
        return None
    for x, k in ((add.input[0], add.input[1]), (add.input[1], add.input[0])):
        kmul = g.producer.get(k)
        if kmul is None or kmul.op_type != "Mul":
            continue
        cube = next((i for i in kmul.input if i not in g.consts), None)
        if cube is not None and _close(g.scalar(g.other(kmul, cube) or ""), 0.044715) and _cube_of(g, cube) == x:
            chain = [n for n in _cube_nodes(g, cube)] + [kmul, add, scale, tanh]
            return _gelu_tail(g, chain, x, "tanh")
    return None


def _cube_nodes(g: _Graph, cube: str) -> list[onnx.NodeProto]:
    node = g.producer[cube]
    inner = [g.producer[i] for i in node.input if i in g.producer and g.producer[i].op_type == "Mul"]
    return [*inner, node]


def _self_contained(g: _Graph, nodes: list[onnx.NodeProto], out: str) -> bool:
    """Every value the chain computes, but its output, is read only inside the chain."""
    ids = {id(n) for n in nodes}
    for n in nodes:
        for o in n.output:
            if o and o != out and (o in g.outputs or any(id(u) not in ids for u in g.consumers.get(o, []))):
                return False
    return True


_MATCHERS = {"ReduceMean": _match_layer_norm, "Erf": _match_gelu_erf, "Tanh": _match_gelu_tanh}


def fuse_patterns(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` with every recognised chain replaced by its single node (the
    same object when nothing matched)."""
    g = _Graph(model)
    replace: dict[int, onnx.NodeProto] = {}
    drop: set[int] = set()
    for node in model.graph.node:
        matcher = _MATCHERS.get(node.op_type)
        found = matcher(g, node) if matcher is not None else None
        if found is None:
            continue
        nodes, fused = found
        ids = {id(n) for n in nodes}
        if ids & drop or not _self_contained(g, nodes, fused.output[0]):
            continue
        drop |= ids
        replace[id(nodes[-1])] = fused
    if not replace:
        return model
    out = onnx.ModelProto()
    out.CopyFrom(model)
    del out.graph.node[:]
    for node in model.graph.node:
        if id(node) in replace:
            out.graph.node.append(replace[id(node)])
        elif id(node) not in drop:
            out.graph.node.append(node)
    return out
