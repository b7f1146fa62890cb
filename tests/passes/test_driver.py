"""The fixed-point pass driver: it runs exactly as many rounds as the passes need, and the
fingerprint it stops on sees every kind of change a pass can make."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from qcompile.compiler import import_model
from qcompile.ir import Graph, Node, QuantParams, Tensor
from qcompile.passes import driver, float_ir
from qcompile.passes.driver import fingerprint, run_to_fixed_point

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits" / "digits_cnn.onnx"


def _graph(tag: str) -> Graph:
    g = Graph("t")
    g.add_tensor(Tensor("x", (1, 4)))
    g.add_tensor(Tensor("y", (1, 4)))
    g.add_node(Node("n", "copy", ["x"], ["y"], {"tag": tag}))
    g.inputs, g.outputs = ["x"], ["y"]
    return g


def _renamer(src: str, dst: str, calls: list[str]) -> Callable[[Graph], Graph]:
    """A pass that turns tag ``src`` into ``dst`` and logs each call."""

    def run(graph: Graph) -> Graph:
        calls.append(f"{src}->{dst}")
        node = graph.nodes[0]
        if node.attrs["tag"] == src:
            node.attrs["tag"] = dst
        return graph

    return run


def test_three_rounds_of_work_get_three_rounds_and_one_to_confirm() -> None:
    calls: list[str] = []
    # each pass can only act after the one listed after it: a -> b -> c -> d takes three rounds
    pipeline = [_renamer("c", "d", calls), _renamer("b", "c", calls), _renamer("a", "b", calls)]
    g = run_to_fixed_point(_graph("a"), pipeline)
    assert g.nodes[0].attrs["tag"] == "d"
    assert len(calls) == 4 * len(pipeline)  # rounds 1-3 change the graph, round 4 does not


def test_a_graph_already_at_the_fixed_point_takes_one_round() -> None:
    calls: list[str] = []
    g = run_to_fixed_point(_graph("z"), [_renamer("a", "b", calls), _renamer("b", "c", calls)])
    assert g.nodes[0].attrs["tag"] == "z" and len(calls) == 2


def test_a_pipeline_that_never_settles_is_reported() -> None:
    calls: list[str] = []
    flip_a, flip_b = _renamer("a", "b", calls), _renamer("b", "a", calls)

    def flip(graph: Graph) -> Graph:  # undoes its own previous round
        return flip_b(graph) if graph.nodes[0].attrs["tag"] == "b" else flip_a(graph)

    with pytest.raises(RuntimeError, match="after 5 rounds"):
        run_to_fixed_point(_graph("a"), [flip], max_rounds=5)
    assert len(calls) == 5
    # two passes that undo each other within one round leave the graph as it was: a fixed point
    calls.clear()
    assert run_to_fixed_point(_graph("a"), [flip_a, flip_b]).nodes[0].attrs["tag"] == "a"
    assert len(calls) == 2


def _mutations() -> list[Callable[[Graph], None]]:
    def const_data(g: Graph) -> None:
        g.tensors["w"].data[0, 0] += 1

    def attr_array(g: Graph) -> None:
        g.nodes[0].attrs["mult"][1] = 7

    def nested_array(g: Graph) -> None:
        g.nodes[0].attrs["nested"][0][1][0] = 5

    def attr_value(g: Graph) -> None:
        g.nodes[0].attrs["tag"] = "b"

    def quant(g: Graph) -> None:
        g.tensors["y"].quant = QuantParams(0.5, 2)

    def wiring(g: Graph) -> None:
        g.nodes[0].inputs = ["x", "w", "x"]

    def source_name(g: Graph) -> None:
        g.tensors["y"].source_name = "other"

    def order(g: Graph) -> None:
        g.nodes.insert(0, g.nodes.pop())

    return [const_data, attr_array, nested_array, attr_value, quant, wiring, source_name, order]


@pytest.mark.parametrize("mutate", _mutations(), ids=lambda f: f.__name__)
def test_fingerprint_sees_every_kind_of_change(mutate: Callable[[Graph], None]) -> None:
    def build() -> Graph:
        g = _graph("a")
        g.add_constant("w", np.zeros((2, 2), np.float32))
        g.nodes[0].inputs.append("w")
        g.nodes[0].attrs["mult"] = np.array([1, 2, 3], np.int32)
        g.nodes[0].attrs["nested"] = [(1, np.array([1, 2], np.int64))]
        g.tensors["y"].quant = QuantParams(0.5, 1)
        g.add_tensor(Tensor("z", (1, 4)))
        g.add_node(Node("m", "copy", ["x"], ["z"]))
        return g

    a, b = build(), build()
    assert fingerprint(a) == fingerprint(b)
    mutate(b)
    assert fingerprint(a) != fingerprint(b)


def test_float_pipeline_ends_at_its_fixed_point() -> None:
    g = import_model(EXAMPLE)
    before = fingerprint(g)
    for run in float_ir.PIPELINE:
        g = run(g)
    assert fingerprint(g) == before


def test_an_import_runs_the_float_pipeline_once(monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[int] = []

    def counting(graph: Graph, pipeline, **kwargs) -> Graph:
        runs.append(len(pipeline))
        return driver.run_to_fixed_point(graph, pipeline, **kwargs)

    monkeypatch.setattr(float_ir, "run_to_fixed_point", counting)
    import_model(EXAMPLE)
    assert runs == [len(float_ir.PIPELINE)]
