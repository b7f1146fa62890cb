"""In-place merging: an element-wise output takes over the first input it may overwrite."""

from __future__ import annotations

from qcompile.ir import Graph, Node, Tensor
from qcompile.memory.aliases import resolve_aliases
from qcompile.memory.inplace import INPLACE_OPS, inplace_candidates, merge_inplace
from qcompile.memory.lifetimes import arena_buffers, referenced_tensors


def _graph(op: str, ins: list[str], sizes: dict[str, int]) -> Graph:
    """x -> p, q (two producers) -> node(op, ins) -> z -> reader -> y."""
    g = Graph("t")
    for name in ("x", "p", "q", "z", "y"):
        g.add_tensor(Tensor(name, (sizes.get(name, 16),), "int8"))
    g.add_node(Node("np", "op", ["x"], ["p"]))
    g.add_node(Node("nq", "op", ["x"], ["q"]))
    g.add_node(Node("n", op, ins, ["z"]))
    g.add_node(Node("r", "op", ["z"], ["y"]))
    g.inputs, g.outputs = ["x"], ["y"]
    return g


def _merge(g: Graph) -> tuple[dict[str, str], dict]:
    aliases = resolve_aliases(g)
    groups = arena_buffers(g, aliases, referenced_tensors(g))
    return merge_inplace(g, groups, aliases), groups


def test_candidates() -> None:
    assert inplace_candidates("add") == (0, 1) and inplace_candidates("conv2d") == ()
    assert {"add", "lut", "conv2d_add"} <= set(INPLACE_OPS) and "conv2d" not in INPLACE_OPS


def test_the_first_dying_input_of_the_output_size_is_taken_over() -> None:
    inplace, groups = _merge(_graph("add", ["p", "q"], {}))
    assert inplace == {"n": "p"}
    assert groups["p"].tensors == ["p", "z"] and groups["p"].last == 3 and "z" not in groups
    # p of another size: q is taken instead
    inplace, _ = _merge(_graph("add", ["p", "q"], {"p": 8}))
    assert inplace == {"n": "q"}


def test_an_input_read_later_or_shared_with_a_non_elementwise_input_is_kept() -> None:
    g = _graph("add", ["p", "q"], {})
    g.nodes[3].inputs = ["z", "p", "q"]  # both inputs are read again after n
    assert _merge(g)[0] == {}
    # conv2d_add's residual (input 3) is also its conv input: never overwritten
    assert _merge(_graph("conv2d_add", ["p", "", "", "p"], {}))[0] == {}
    assert _merge(_graph("conv2d_add", ["q", "", "", "p"], {}))[0] == {"n": "p"}
