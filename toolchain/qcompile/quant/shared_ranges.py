"""Calibrated ranges around the ops whose inputs and output share one set of parameters
(``concat``, ``maximum``, ``minimum``: TFLM copies or compares stored bytes), before the
quantizer takes the union of each sharing group (docs/QUANTIZATION.md, "Shared parameters").

The plain union lets one wide member coarsen every tensor of the group, and through the ops
that share their input's parameters (pools, reshape, ``reduce_max``, ...) tensors far from the
shared op: a ``ReduceMax`` head concatenated with a ``ReduceSum`` gave its whole input, read
by the decoder too, the sum's scale. ONNX Runtime's QDQ quantizes each such tensor on its own
range and requantizes into the shared op. Two rules:

1. **clip**: an input of ``maximum``/``minimum`` whose value reaches nothing else (no other
   reader, not a graph output, through its input-sharing chain) only matters inside the
   output's range: ``max(clamp(a), clamp(b)) == clamp(max(a, b))`` for the output's
   ``[lo, hi]``, so its range is intersected with the output's. The graph is walked from the
   end, so ``min(max(a, b), c)`` clips ``a`` and ``b`` to the ``min``'s output.
2. **decouple**: an input with other readers whose own span (its input-sharing chain's, 0
   included) is narrower than the group's (below ``SPAN_RATIO`` of it) keeps its own
   parameters: a requantizing table (``elementwise`` identity, a ``lut``) feeds the shared op
   instead, as ONNX Runtime's QDQ requantizes into a concat. The other readers, which may
   carry the rest of the network (a U-Net's encoder skips), keep their own resolution; the
   path into the shared op pays a second rounding.
"""

from __future__ import annotations

from collections.abc import Mapping

from qcompile.ir import Graph, Node, Tensor

#: an input's own span must be below this fraction of its group's to get its own parameters:
#: any narrower input. Measured on the U-Net (bench_seeds.py, 5 seeds): 0.5 left the encoder
#: skips (0.76 of their groups) on the concats' scales, cls -0.24 dB against ORT on average;
#: 1.0: cls -0.02, seg +0.13 -> +0.04 (still above ORT on every seed)
SPAN_RATIO = 1.0

_CLIPPED = ("maximum", "minimum")


def _span(rng: tuple[float, float]) -> float:
    return max(float(rng[1]), 0.0) - min(float(rng[0]), 0.0)


def _hull(ranges: Mapping[str, tuple[float, float]], names) -> tuple[float, float] | None:
    have = [ranges[n] for n in names if n in ranges]
    if not have:
        return None
    return min(float(r[0]) for r in have), max(float(r[1]) for r in have)


class Groups:
    """Union-find over tensor names: members of a group share one set of quant params."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def requant_node(graph: Graph, like: Node, x: str, y: str) -> Node:
    """An identity ``elementwise`` from ``x`` to ``y``: quantized, the table requantizing ``x``'s
    parameters to ``y``'s."""
    name = graph.unique_name(f"{like.name}_requantize")
    return Node(name, "elementwise", [x], [y], {"fn": "scale", "factor": 1.0}, list(like.source_nodes))


def requantize_before(graph: Graph, node: Node, index: int) -> str:
    """``input -> requantize -> mid -> node``; returns ``mid``."""
    x = graph.tensors[node.inputs[index]]
    mid = graph.add_tensor(Tensor(graph.unique_name(f"{x.name}_requantized"), x.shape, source_name=None)).name
    graph.add_node(requant_node(graph, node, x.name, mid), graph.nodes.index(node))
    node.inputs[index] = mid
    return mid


class _Chains:
    """Tensors tied by the ops that share their input's parameters, and who reads each chain."""

    def __init__(self, graph: Graph, shares_input) -> None:
        self.groups = Groups()
        internal = set()
        for node in graph.nodes:
            if shares_input(node):
                self.groups.union(node.inputs[0], node.outputs[0])
                internal.add(node.name)
        self.members: dict[str, list[str]] = {}
        for t in graph.activations():
            self.members.setdefault(self.groups.find(t.name), []).append(t.name)
        self.readers: dict[str, list[Node]] = {}
        for node in graph.nodes:
            for name in node.inputs if node.name not in internal else node.inputs[1:]:
                if name and not graph.tensors[name].is_constant:  # "": an omitted optional input
                    self.readers.setdefault(self.groups.find(name), []).append(node)
        self.outputs = {self.groups.find(n) for n in graph.outputs}

    def chain(self, name: str) -> list[str]:
        return self.members.get(self.groups.find(name), [name])

    def read_elsewhere(self, name: str, node: Node) -> bool:
        root = self.groups.find(name)
        return root in self.outputs or any(r is not node for r in self.readers.get(root, []))


def _clip(graph: Graph, chains: _Chains, ranges: dict[str, tuple[float, float]]) -> None:
    for node in reversed(graph.nodes):
        out = ranges.get(node.outputs[0]) if node.op in _CLIPPED else None
        if out is None:
            continue
        lo, hi = float(out[0]), float(out[1])
        for name in node.inputs:
            if not name or graph.tensors[name].is_constant or chains.read_elsewhere(name, node):
                continue
            for m in chains.chain(name):
                if m in ranges:
                    a, b = ranges[m]
                    ranges[m] = (min(max(float(a), lo), hi), max(min(float(b), hi), lo))


def _decouple(graph: Graph, chains: _Chains, ranges: dict[str, tuple[float, float]], shared) -> None:
    for node in [n for n in graph.nodes if n.op in shared]:
        inputs = [n for n in node.inputs if not graph.tensors[n].is_constant]
        whole = _hull(ranges, [m for n in [*inputs, node.outputs[0]] for m in chains.chain(n)])
        if whole is None:
            continue
        for i, name in enumerate(list(node.inputs)):
            if not name or graph.tensors[name].is_constant or not chains.read_elsewhere(name, node):
                continue
            own = _hull(ranges, chains.chain(name))
            if own is not None and _span(own) < SPAN_RATIO * _span(whole):
                mid = requantize_before(graph, node, i)
                ranges[mid] = ranges.get(name, own)


def adjust_shared_ranges(graph: Graph, ranges: Mapping[str, tuple[float, float]], shares_input, shared) -> dict:
    """The ranges to quantize ``graph`` with (a new dict); inserts the requantizing
    ``elementwise`` nodes of rule 2 into ``graph`` (module doc). ``shares_input(node)``: the
    node's output carries its input's parameters; ``shared``: the ops whose inputs and output
    share parameters."""
    ranges = dict(ranges)
    _clip(graph, _Chains(graph, shares_input), ranges)
    _decouple(graph, _Chains(graph, shares_input), ranges, shared)
    return ranges
