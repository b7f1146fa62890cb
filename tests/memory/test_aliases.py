"""Alias groups and homes: which tensors share bytes, and which reshapes must become copies."""

from __future__ import annotations

import numpy as np
import pytest

from qcompile.errors import QCompileError
from qcompile.ir import Graph, Node, Tensor
from qcompile.memory.aliases import UnionFind, resolve_aliases
from qcompile.memory.plan import Location


def _graph(outputs: list[str]) -> Graph:
    """x -> n0 -> a -> reshape -> r ; a constant c reshaped to cr; outputs as given."""
    g = Graph("t")
    g.add_tensor(Tensor("x", (8,), "int8"))
    g.add_tensor(Tensor("a", (2, 4), "int8"))
    g.add_tensor(Tensor("r", (8,), "int8"))
    g.add_tensor(Tensor("c", (8,), "int8", data=np.zeros(8, np.int8)))
    g.add_tensor(Tensor("cr", (2, 4), "int8"))
    g.add_node(Node("n0", "op", ["x", "cr"], ["a"]))
    g.add_node(Node("v", "reshape", ["a"], ["r"]))
    g.add_node(Node("vc", "reshape", ["c"], ["cr"]))
    g.inputs, g.outputs = ["x"], outputs
    return g


def test_union_find_follows_attachments() -> None:
    groups = UnionFind()
    groups.attach("b", "a")
    groups.attach("c", "b")
    assert groups.find("c") == groups.find("b") == "a"
    assert groups.find("z") == "z"


def test_views_share_the_home_of_their_source() -> None:
    aliases = resolve_aliases(_graph(["r"]))
    # the reshape output is the graph output: its producer writes straight into the caller's buffer
    assert aliases.find("r") == aliases.find("a")
    assert aliases.home_of("a") == Location("output", index=0)
    # a reshaped constant stays in flash
    assert aliases.home_of("cr") == Location("const", tensor="c")
    assert not aliases.copy_reshapes and not aliases.output_copies


def test_two_homes_make_the_reshape_a_copy_and_a_repeated_output_a_final_copy() -> None:
    aliases = resolve_aliases(_graph(["a", "r", "a"]))
    assert aliases.copy_reshapes == {"v"}
    assert aliases.find("r") != aliases.find("a")
    assert aliases.output_copies == [(2, "a")]


def test_a_reshape_that_changes_the_size_is_an_error() -> None:
    g = _graph(["r"])
    g.tensors["r"] = Tensor("r", (9,), "int8")
    with pytest.raises(QCompileError, match="reshape 'v' changes the size"):
        resolve_aliases(g)
