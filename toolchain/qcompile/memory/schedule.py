"""Memory-aware node order: the topological order with the smallest peak of live arena bytes.

The node order of a graph is the schedule (the planner and the generated C follow it),
and any topological order computes the same values. Which one runs changes how many
tensors are alive together: in ResNet's downsampling blocks, running the 1x1 shortcut
conv before the main branch keeps the block input, the shortcut output *and* the main
branch's intermediate (plus its im2col scratch) alive at once; after the main branch's
first conv it costs less. This pass picks the order minimising the planner's
``lower_bound``: the peak over steps of (live arena buffers + the step's scratch).

Cost model (the planner's: ``qcompile.memory.aliases``, ``lifetimes``, ``inplace`` and
``bounds``): graph inputs, graph outputs and constants live outside the arena (cost 0);
``reshape`` outputs alias their input; a buffer is live from its producer's step to its
last reader's step; an in-place op's output costs nothing when the input it may
overwrite is read for the last time there.

Search: exact, over sets of executed nodes with memoisation (the best peak of the rest
depends only on which nodes already ran), which is small for the MLPerf graphs (mostly
chains with short branches). Beyond ``max_states`` memoised states it falls back to a
greedy choice (the ready node with the smallest step cost, then the smallest live bytes
after it). Ties keep the original order, so the result is deterministic and a graph that
is already optimal is left as it is. The new order is kept only if the planner's arena
for it is not larger than for the old order.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from qcompile.ir import Graph, Node
from qcompile.memory.aliases import ALIAS_OPS, UnionFind
from qcompile.memory.inplace import inplace_candidates
from qcompile.memory.planner import plan_memory

MAX_STATES = 200_000


class _Model:
    """Bit-mask cost model of one graph: buffers, producers, readers, scratch."""

    def __init__(self, graph: Graph, scratch: Mapping[str, int]) -> None:
        nodes = graph.nodes
        self.n = len(nodes)
        producer: dict[str, int] = {}
        for i, node in enumerate(nodes):
            for o in node.outputs:
                producer.setdefault(o, i)
        # alias groups (reshape); unlike the planner, a reshape joining two homes still
        # joins them here (the planner copies it instead: the docstring's exception)
        groups = UnionFind()
        find = groups.find
        for node in nodes:
            if node.op in ALIAS_OPS and node.inputs and node.inputs[0]:
                groups.attach(find(node.outputs[0]), find(node.inputs[0]))
        outside = set(graph.inputs) | set(graph.outputs)
        outside_roots = {find(n) for n in outside}
        outside_roots |= {find(n) for n, t in graph.tensors.items() if t.is_constant}
        self.find = find
        # buffers: root -> size, producer step, reader mask
        self.size: dict[str, int] = {}
        self.prod: dict[str, int] = {}
        self.readers: dict[str, int] = {}
        for name in producer:
            root = find(name)
            if root in outside_roots or root not in producer:
                continue
            self.size[root] = graph.tensors[root].nbytes
            self.prod[root] = producer[root]
            self.readers.setdefault(root, 0)
        self.deps = [0] * self.n
        self.new_out: list[list[str]] = [[] for _ in range(self.n)]
        self.inplace_in: list[list[str]] = [[] for _ in range(self.n)]
        for i, node in enumerate(nodes):
            for name in node.inputs:
                if not name:
                    continue
                if name in producer:
                    self.deps[i] |= 1 << producer[name]
                root = find(name)
                if root in self.size:
                    self.readers[root] |= 1 << i
            for o in node.outputs:
                root = find(o)
                if root in self.size and self.prod[root] == i and root not in self.new_out[i]:
                    self.new_out[i].append(root)
            self.inplace_in[i] = self._inplace_inputs(node)
        self.scratch = [int(scratch.get(node.name, 0)) for node in nodes]

    def _inplace_inputs(self, node: Node) -> list[str]:
        positions = inplace_candidates(node.op)
        if not positions or len(node.outputs) != 1:
            return []
        out_root = self.find(node.outputs[0])
        others = {self.find(i) for k, i in enumerate(node.inputs) if i and k not in positions}
        result = []
        for k in positions:
            if k < len(node.inputs) and node.inputs[k]:
                root = self.find(node.inputs[k])
                if root in self.size and root != out_root and root not in others:
                    result.append(root)
        return result

    def live(self, mask: int) -> int:
        """Bytes of buffers produced in ``mask`` that a node outside ``mask`` still reads."""
        return sum(
            self.size[r] for r, p in self.prod.items() if mask >> p & 1 and self.readers[r] & ~mask and self.size[r]
        )

    def step_cost(self, mask: int, i: int, live: int) -> int:
        """Arena bytes while node ``i`` runs after the nodes in ``mask``."""
        new = sum(self.size[r] for r in self.new_out[i])
        if new and len(self.new_out[i]) == 1:
            out_size = self.size[self.new_out[i][0]]
            bit = 1 << i
            for r in self.inplace_in[i]:
                if self.readers[r] & ~mask == bit and self.size[r] == out_size:
                    new = 0
                    break
        return live + new + self.scratch[i]

    def ready(self, mask: int) -> list[int]:
        return [i for i in range(self.n) if not mask >> i & 1 and self.deps[i] & ~mask == 0]


def _exact(model: _Model, max_states: int) -> list[int] | None:
    full = (1 << model.n) - 1
    memo: dict[int, tuple[int, int]] = {}  # mask -> (best peak of the rest, next node)

    def best(mask: int) -> int:
        if mask == full:
            return 0
        hit = memo.get(mask)
        if hit is not None:
            return hit[0]
        if len(memo) >= max_states:
            raise _TooBig
        live = model.live(mask)
        result, choice = None, -1
        for i in model.ready(mask):
            cost = model.step_cost(mask, i, live)
            if result is not None and cost >= result:
                continue
            peak = max(cost, best(mask | 1 << i))
            if result is None or peak < result:
                result, choice = peak, i
        assert result is not None, "no ready node: the graph is not a DAG"
        memo[mask] = (result, choice)
        return result

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4 * model.n + 100))
    try:
        best(0)
    except _TooBig:
        return None
    finally:
        sys.setrecursionlimit(limit)
    order, mask = [], 0
    while mask != full:
        i = memo[mask][1]
        order.append(i)
        mask |= 1 << i
    return order


class _TooBig(Exception):
    pass


def _greedy(model: _Model) -> list[int]:
    order, mask = [], 0
    for _ in range(model.n):
        live = model.live(mask)
        i = min(
            model.ready(mask),
            key=lambda j: (model.step_cost(mask, j, live), model.live(mask | 1 << j), j),
        )
        order.append(i)
        mask |= 1 << i
    return order


def best_order(graph: Graph, scratch: Mapping[str, int], *, max_states: int = MAX_STATES) -> list[Node]:
    """The nodes of ``graph`` in a topological order of minimal peak (see module doc)."""
    model = _Model(graph, scratch)
    order = _exact(model, max_states) if model.n <= 400 else None
    if order is None:
        order = _greedy(model)
    return [graph.nodes[i] for i in order]


def peak(graph: Graph, scratch: Mapping[str, int]) -> int:
    """The cost model's peak for the graph's current order (equals the planner's lower bound
    except for materialised reshapes and output copies)."""
    model = _Model(graph, scratch)
    mask, result = 0, 0
    for i in range(model.n):
        result = max(result, model.step_cost(mask, i, model.live(mask)))
        mask |= 1 << i
    return result


def run(graph: Graph, scratch: Mapping[str, int], *, alignment: int = 16) -> Graph:
    """Reorder ``graph.nodes`` in place when that does not grow the planned arena."""
    if len(graph.nodes) < 2:
        return graph
    before = plan_memory(graph, scratch=scratch, alignment=alignment)
    original = list(graph.nodes)
    graph.nodes = best_order(graph, scratch)
    graph.validate()
    after = plan_memory(graph, scratch=scratch, alignment=alignment)
    if (after.arena_size, after.lower_bound) > (before.arena_size, before.lower_bound):
        graph.nodes = original
    return graph
