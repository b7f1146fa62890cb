"""Arena buffers and lifetimes: first write to last read; caller buffers are not arena buffers."""

from __future__ import annotations

import pytest

from qcompile.errors import QCompileError
from qcompile.ir import Graph, Node, Tensor
from qcompile.memory.aliases import resolve_aliases
from qcompile.memory.lifetimes import arena_buffers, referenced_tensors, scratch_buffer


def _graph(outputs: list[str]) -> Graph:
    g = Graph("t")
    for name, size in (("x", 4), ("a", 8), ("ar", 8), ("b", 6), ("y", 2)):
        g.add_tensor(Tensor(name, (size,), "int8"))
    g.add_node(Node("n0", "op", ["x"], ["a"]))
    g.add_node(Node("v", "reshape", ["a"], ["ar"]))
    g.add_node(Node("n2", "op", ["x"], ["b"]))
    g.add_node(Node("n3", "op", ["ar", "b"], ["y"]))
    g.inputs, g.outputs = ["x"], outputs
    return g


def test_groups_live_from_first_write_to_last_read() -> None:
    g = _graph(["y"])
    referenced = referenced_tensors(g)
    assert referenced == ["x", "a", "ar", "b", "y"]
    groups = arena_buffers(g, resolve_aliases(g), referenced)
    assert sorted(groups) == ["a", "b"]  # x and y live with the caller; ar is a's bytes
    a, b = groups["a"], groups["b"]
    assert (a.key, a.tensors, a.size, a.first, a.last) == ("a", ["a", "ar"], 8, 0, 3)
    assert (b.first, b.last) == (2, 3)


def test_graph_outputs_and_inputs_have_no_arena_group_even_when_copied() -> None:
    g = _graph(["y", "x", "b"])  # slot 1 copies the graph input at the end
    aliases = resolve_aliases(g)
    assert aliases.output_copies == [(1, "x")]
    groups = arena_buffers(g, aliases, referenced_tensors(g))
    assert sorted(groups) == ["a"]  # b is written straight into output slot 2


def test_scratch_lives_during_its_step_only() -> None:
    s = scratch_buffer(5, "conv", 64)
    assert (s.first, s.last, s.size, s.is_scratch, s.label) == (5, 5, 64, True, "scratch of conv")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda g: g.nodes[3].inputs.append("ghost"), "'ghost' is referenced but not defined"),
        (lambda g: (g.add_tensor(Tensor("ghost", (1,), "int8")), g.nodes[3].inputs.append("ghost")), "never produced"),
    ],
)
def test_unknown_and_unproduced_tensors_are_errors(edit, message: str) -> None:
    g = _graph(["y"])
    edit(g)
    with pytest.raises(QCompileError, match=message):
        arena_buffers(g, resolve_aliases(g), referenced_tensors(g))
