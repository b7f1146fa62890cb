"""Drop nodes nobody reads and tensors nobody references (after fusions leave orphans)."""

from __future__ import annotations

from qcompile.ir import Graph


def run(graph: Graph) -> Graph:
    graph.prune()
    return graph
