"""Small graph queries shared by the passes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from qcompile.ir import Graph, Node

#: ops that own weights and a bias along the last (channel) axis of their output
WEIGHTED_OPS = ("conv2d", "depthwise_conv2d", "fully_connected")


def sole_consumer(graph: Graph, tensor: str) -> Node | None:
    """The only node reading ``tensor`` when it is not also a graph output, else None.

    Fusing a node into its producer rewrites what the producer outputs, which is only
    safe when nothing else (another node, the caller) reads the intermediate value.
    """
    if graph.is_graph_io(tensor):
        return None
    users = graph.consumers(tensor)
    if len(users) != 1 or users[0].inputs.count(tensor) != 1:
        return None
    return users[0]


def const_data(graph: Graph, name: str) -> np.ndarray | None:
    t = graph.tensors.get(name) if name else None
    return None if t is None or t.data is None else t.data


def is_open(act_range: object) -> bool:
    """True when an ``act_range`` clamps nothing."""
    return act_range is None or tuple(act_range) == (None, None)


def channel_vector(data: np.ndarray, channels: int, out_rank: int) -> np.ndarray | None:
    """``data`` as a ``[channels]`` vector if it broadcasts only along the last axis of an
    output of rank ``out_rank`` (a scalar broadcasts everywhere), else None."""
    if data.size == 1:
        return np.full(channels, float(data.reshape(())), dtype=np.float64)
    if data.ndim > out_rank or data.shape[-1] != channels or data.size != channels:
        return None
    return data.reshape(-1).astype(np.float64)


def replace_producer_output(graph: Graph, producer: Node, old: str, consumer: Node) -> None:
    """Make ``producer`` write ``consumer``'s output directly and drop ``consumer``.

    The surviving tensor is the consumer's (its source_name names the values after the
    fused op, which is what calibration must observe)."""
    producer.outputs = [consumer.outputs[0] if o == old else o for o in producer.outputs]
    producer.source_nodes = producer.source_nodes + [s for s in consumer.source_nodes if s not in producer.source_nodes]
    graph.remove_node(consumer)
    graph.tensors.pop(old, None)


def fold_into_producers(graph: Graph, fold: Callable[[Graph, Node, str, Node], bool]) -> Graph:
    """Offer every weighted layer with an open ``act_range`` and a sole consumer to ``fold``,
    until a sweep folds nothing; ``fold(graph, producer, out, user)`` rewrites the producer
    and returns True when ``user`` is now part of it (``user`` is then dropped).

    The affine and bias folds share this walk: both absorb the next op into the layer
    that produces its input, which is only safe when nothing else reads that input."""
    changed = True
    while changed:
        changed = False
        for producer in list(graph.nodes):
            if producer.op not in WEIGHTED_OPS or not is_open(producer.attrs.get("act_range")):
                continue
            out = producer.outputs[0]
            user = sole_consumer(graph, out)
            if user is not None and fold(graph, producer, out, user):
                replace_producer_output(graph, producer, out, user)
                changed = True
    graph.prune()
    return graph
