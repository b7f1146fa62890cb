"""The one pass driver: run a pipeline of graph passes round after round until a round changes nothing.

Passes expose work for each other (a fusion can leave an identity reshape behind, a
folded constant can make a pad foldable), so a single run of a pipeline may stop short of
what the passes can do, while a fixed number of runs is either wasted work or too few.
The driver instead compares a fingerprint of the whole graph before and after each
round and stops at the first round that leaves it unchanged: the result is then a fixed
point of the pipeline, whatever the order of the passes.

The fingerprint covers everything a pass may rewrite (node order, ops, wiring,
attributes, tensor shapes, types, quantization and constant data), so a pass does not
have to report whether it changed the graph and cannot get that report wrong. It costs
one ``repr`` of the graph's structure and one copy of its constants per round.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from qcompile.ir import Graph

Pass = Callable[[Graph], Graph]

#: rounds after which a pipeline that still changes the graph is a bug (two passes undoing
#: each other); real pipelines settle in two or three
MAX_ROUNDS = 16


def run_to_fixed_point(graph: Graph, pipeline: Sequence[Pass], *, max_rounds: int = MAX_ROUNDS) -> Graph:
    """Run ``pipeline`` in order, repeatedly, until a whole round leaves ``graph`` unchanged."""
    before = fingerprint(graph)
    for _ in range(max_rounds):
        for run in pipeline:
            graph = run(graph)
        after = fingerprint(graph)
        if after == before:
            return graph
        before = after
    names = ", ".join(getattr(run, "__module__", repr(run)) for run in pipeline)
    raise RuntimeError(f"graph passes still change the graph after {max_rounds} rounds: {names}")


def fingerprint(graph: Graph) -> tuple[str, tuple[bytes, ...]]:
    """The graph's whole state in a comparable form: equal fingerprints mean the passes see
    the same graph.

    The structure is one ``repr`` (unambiguous for the plain values the IR holds) with every
    array replaced by its dtype, shape and position; the arrays' bytes follow as copies.
    Comparing copies is exact (no hash collision can stop the driver early) and cheaper
    than hashing them.
    """
    arrays: list[np.ndarray] = []
    state: list[object] = [graph.inputs, graph.outputs]
    for name, t in graph.tensors.items():
        data = None if t.data is None else _plain(t.data, arrays)
        quant = None if t.quant is None else _plain(vars(t.quant), arrays)
        state.append((name, t.shape, t.dtype, t.source_name, t.source_perm, data, quant))
    for node in graph.nodes:
        attrs = {k: _plain(v, arrays) for k, v in node.attrs.items()}
        state.append((node.name, node.op, node.inputs, node.outputs, node.source_nodes, sorted(attrs.items())))
    return repr(state), tuple(np.ascontiguousarray(a).tobytes() for a in arrays)


_NESTED = (np.ndarray, list, tuple, dict)


def _plain(value: object, arrays: list[np.ndarray]) -> object:
    """``value`` with every array moved to ``arrays`` and replaced by a marker."""
    if isinstance(value, np.ndarray):
        arrays.append(value)
        return ("array", value.dtype.str, value.shape, len(arrays))
    if isinstance(value, dict):
        return sorted((k, _plain(v, arrays)) for k, v in value.items())
    if isinstance(value, (list, tuple)) and any(isinstance(v, _NESTED) for v in value):
        items = [_plain(v, arrays) for v in value]
        return items if isinstance(value, list) else tuple(items)
    return value
