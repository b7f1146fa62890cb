"""The one pass driver: run a pipeline of graph passes round after round until a round changes nothing.

Passes expose work for each other (a fusion can leave an identity reshape behind, a
folded constant can make a pad foldable), so a single run of a pipeline may stop short of
what the passes can do, while a fixed number of runs is either wasted work or too few.
The driver instead compares a fingerprint of the whole graph before and after each
round and stops at the first round that leaves it unchanged: the result is then a fixed
point of the pipeline, whatever the order of the passes.

The fingerprint covers everything a pass may rewrite (node order, ops, wiring,
attributes, tensor shapes, types, quantization and constant data), so a pass does not
have to report whether it changed the graph and cannot get that report wrong. Hashing the
constants costs far less than a round of passes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

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


def fingerprint(graph: Graph) -> bytes:
    """A digest of the graph's whole state: equal digests mean the passes see the same graph."""
    h = hashlib.blake2b(digest_size=20)
    _feed(h, (graph.inputs, graph.outputs))
    for name, t in graph.tensors.items():
        _feed(h, (name, tuple(t.shape), t.dtype, t.source_name, t.source_perm, t.data))
        q = t.quant
        _feed(h, None if q is None else (q.scale, q.zero_point, q.axis, q.dtype))
    for node in graph.nodes:
        _feed(h, (node.name, node.op, node.inputs, node.outputs, node.source_nodes))
        _feed(h, sorted(node.attrs.items()))
    return h.digest()


def _feed(h: Any, value: object) -> None:
    """Hash ``value`` unambiguously: arrays by dtype, shape and bytes, containers item by item."""
    if isinstance(value, np.ndarray):
        h.update(f"array {value.dtype} {value.shape}:".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, (list, tuple)):
        h.update(f"{type(value).__name__} {len(value)}:".encode())
        for item in value:
            _feed(h, item)
    else:
        h.update(f"{type(value).__name__} {value!r};".encode())
