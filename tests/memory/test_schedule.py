"""schedule: the chosen order is topological, minimal over ALL topological orders of small
random DAGs (brute force), and picks the cheaper branch order in a hand-made block."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcompile.ir import Graph, Node, Tensor
from qcompile.memory import plan_memory, schedule


def _graph(inputs: dict[str, int], nodes: list[tuple[str, str, list[str], str, int]], outputs: list[str]) -> Graph:
    g = Graph("t")
    for name, size in inputs.items():
        g.add_tensor(Tensor(name, (size,), "int8"))
    for name, op, ins, out, size in nodes:
        g.add_tensor(Tensor(out, (size,), "int8"))
        g.add_node(Node(name, op, ins, [out]))
    g.inputs, g.outputs = list(inputs), outputs
    return g


def _topological_orders(g: Graph) -> list[list[Node]]:
    result = []
    for perm in itertools.permutations(g.nodes):
        seen = set(g.inputs)
        if all(all(i in seen for i in n.inputs if i) and not seen.update(n.outputs) for n in perm):
            result.append(list(perm))
    return result


def _lower_bound(g: Graph, order: list[Node], scratch: dict[str, int]) -> int:
    h = g.copy()
    by_name = {n.name: n for n in h.nodes}
    h.nodes = [by_name[n.name] for n in order]
    return plan_memory(h, scratch=scratch, alignment=1).lower_bound


def test_downsampling_block_runs_the_shortcut_after_the_main_conv() -> None:
    # x (16) -> main1 (8, scratch 12) -> a; x -> short (8, scratch 1) -> s; add(a', s)
    g = _graph(
        {"in": 4},
        [
            ("stem", "op", ["in"], "x", 16),
            ("short", "op", ["x"], "s", 8),
            ("main1", "op", ["x"], "a", 8),
            ("main2", "conv2d_add", ["a", "", "", "s"], "y", 8),
            ("head", "op", ["y"], "out", 1),
        ],
        ["out"],
    )
    scratch = {"main1": 12, "short": 1}
    before = _lower_bound(g, g.nodes, scratch)
    schedule.run(g, scratch, alignment=1)
    assert [n.name for n in g.nodes] == ["stem", "main1", "short", "main2", "head"]
    after = plan_memory(g, scratch=scratch, alignment=1).lower_bound
    # shortcut first: x + s + a + main1's scratch; main first: x + a + main1's scratch
    assert (before, after) == (16 + 8 + 8 + 12, 16 + 8 + 12)
    assert after == min(_lower_bound(g, o, scratch) for o in _topological_orders(g))


def test_already_optimal_order_is_kept() -> None:
    g = _graph(
        {"x": 4}, [("a", "op", ["x"], "t1", 8), ("b", "op", ["x"], "t2", 8), ("c", "op", ["t1", "t2"], "y", 1)], ["y"]
    )
    schedule.run(g, {}, alignment=1)
    assert [n.name for n in g.nodes] == ["a", "b", "c"]


@st.composite
def _dag(draw: st.DrawFn) -> tuple[Graph, dict[str, int]]:
    inputs = {"in0": draw(st.integers(1, 30))}
    available = list(inputs)
    nodes, scratch = [], {}
    for i in range(draw(st.integers(2, 6))):
        k = draw(st.integers(1, min(2, len(available))))
        ins = draw(st.lists(st.sampled_from(available), min_size=k, max_size=k, unique=True))
        op = draw(st.sampled_from(["op", "op", "add", "lut"]))
        nodes.append((f"n{i}", op, ins, f"t{i}", draw(st.integers(1, 40))))
        if draw(st.booleans()):
            scratch[f"n{i}"] = draw(st.integers(1, 30))
        available.append(f"t{i}")
    return _graph(inputs, nodes, [available[-1]]), scratch


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_dag())
def test_exact_search_is_optimal(case: tuple[Graph, dict[str, int]]) -> None:
    g, scratch = case
    best = min(_lower_bound(g, o, scratch) for o in _topological_orders(g))
    order = schedule.best_order(g, scratch)
    assert _lower_bound(g, order, scratch) == best
    h = g.copy()
    by_name = {n.name: n for n in h.nodes}
    h.nodes = [by_name[n.name] for n in order]
    h.validate()
    assert schedule.peak(h, scratch) == plan_memory(h, scratch=scratch, alignment=1).lower_bound
    # greedy fallback is still a valid topological order
    greedy = schedule.best_order(g, scratch, max_states=1)
    h.nodes = [by_name[n.name] for n in greedy]
    h.validate()
