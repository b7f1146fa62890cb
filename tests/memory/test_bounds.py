"""The lower bound, the peak layer and the --ram-budget check."""

from __future__ import annotations

import pytest

from qcompile.errors import QCompileError
from qcompile.ir import Graph, Node, Tensor
from qcompile.memory.bounds import check_ram_budget, lower_bound
from qcompile.memory.lifetimes import Buffer, scratch_buffer
from qcompile.memory.planner import plan_memory


def test_lower_bound_is_the_largest_live_sum_with_labels() -> None:
    buffers = [Buffer("a", 10, -1, 1, ["a"]), Buffer("b", 7, 1, 5, ["b"]), scratch_buffer(1, "n1", 3)]
    bound, step, live = lower_bound(buffers, 3)
    assert (bound, step) == (20, 1)
    assert live == (("a", 10), ("b", 7), ("scratch of n1", 3))
    assert lower_bound([], 3) == (0, -1, ())


def _chain() -> Graph:
    g = Graph("t")
    for name, size in (("x", 4), ("a", 100), ("b", 60), ("y", 4)):
        g.add_tensor(Tensor(name, (size,), "int8"))
    g.add_node(Node("n0", "op", ["x"], ["a"]))
    g.add_node(Node("n1", "op", ["a"], ["b"]))
    g.add_node(Node("n2", "op", ["b"], ["y"]))
    g.inputs, g.outputs = ["x"], ["y"]
    return g


def test_budget_check_passes_at_the_need_and_names_the_peak_above_it() -> None:
    g = _chain()
    plan = plan_memory(g, scratch={}, alignment=4)
    assert plan.arena_size == 160 and plan.peak_step == 1
    check_ram_budget(g, plan, 160)
    with pytest.raises(
        QCompileError, match=r"needs 160 B .* --ram-budget is 159 B; the peak is at layer 1 \(op 'n1'\)"
    ):
        check_ram_budget(g, plan, 159)
    with pytest.raises(QCompileError, match="at least 0"):
        check_ram_budget(g, plan, -1)
