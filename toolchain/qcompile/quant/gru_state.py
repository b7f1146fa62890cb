"""``--stateful h0=Y_h`` on a GRU: carry the GRU's Q15 state between calls, not an int8 copy.

The generic state pair (:mod:`qcompile.quant.stateful`) keeps the output's int8 bytes and feeds
them back as the next call's input, so a stream rounds the hidden state to int8 once per call;
on the keyword step model that costs 6.3 dB of output SQNR against the float stream (28.88 dB
instead of 35.16, ``bench/bench_gru.py``). When the pair is exactly a GRU's ``initial_h`` (read by that GRU alone) and its
``Y_h`` (the final step of each direction, as the ONNX importer slices it from ``Y``), the state
buffer holds the GRU's int16 Q15 state instead: the node reads it as an int16 ``h0`` and writes
its final state as a second output (``qc_gru_state16_s8``, docs/QUANTIZATION.md "gru"), so a
stream of one-frame calls computes what one call over the whole stream computes. The int8
``Y_h`` stays a tensor for whatever else reads it.
"""

from __future__ import annotations

import numpy as np

from qcompile.ir import Graph, Node, QuantParams, StateVar, Tensor
from qcompile.quant.converters.recurrent import STATE_SCALE

#: ops the importer's ``Y_h`` chain may pass through without changing values
_MOVES = ("reshape", "copy")


def _through_moves(graph: Graph, name: str) -> Node | None:
    node = graph.producer(name)
    while node is not None and node.op in _MOVES:
        node = graph.producer(node.inputs[0])
    return node


def _is_final_state(graph: Graph, gru: Node, out: str) -> bool:
    """Is ``out`` the GRU's ``Y_h``: per direction the step it ended on, in direction order."""
    node = _through_moves(graph, out)
    parts = [node] if node is not None and node.op == "strided_slice" else []
    if node is not None and node.op == "concat" and int(node.attrs.get("axis", -1)) == 1:
        parts = [graph.producer(p) for p in node.inputs]
    steps, dirs, batch, hidden = graph.tensors[gru.outputs[0]].shape
    if len(parts) != dirs:
        return False
    for d, part in enumerate(parts):
        if part is None or part.op != "strided_slice" or part.inputs[0] != gru.outputs[0]:
            return False
        backwards = d == 1 if dirs == 2 else bool(gru.attrs["reverse"])
        want = ((0 if backwards else steps - 1), d, 0, 0)
        if tuple(part.attrs["begin"]) != want or tuple(part.attrs["size"]) != (1, 1, batch, hidden):
            return False
        if tuple(part.attrs["strides"]) != (1, 1, 1, 1):
            return False
    return True


def keep_gru_state(graph: Graph, state_in: str, out: str) -> bool:
    """Keep the pair as the GRU's Q15 state (module doc) when it is one; False leaves the graph
    untouched for the generic int8 state pair."""
    readers = graph.consumers(state_in)
    if len(readers) != 1 or readers[0].op != "gru" or readers[0].inputs[6] != state_in:
        return False
    gru = readers[0]
    if len(gru.outputs) != 1 or not _is_final_state(graph, gru, out):
        return False
    t_in = graph.tensors[state_in]
    q15 = QuantParams(np.array(STATE_SCALE), np.array(0), dtype="int16")
    h_in = graph.unique_name(f"{state_in}_q15")
    graph.add_tensor(Tensor(h_in, t_in.shape, "int16", quant=q15, source_name=t_in.source_name))
    h_out = graph.unique_name(f"{gru.name}_state")
    graph.add_tensor(Tensor(h_out, t_in.shape, "int16", quant=q15, source_name=graph.tensors[out].source_name))
    gru.inputs[6] = h_in
    gru.outputs.append(h_out)
    graph.inputs.remove(state_in)
    graph.inputs.append(h_in)
    graph.outputs.remove(out)
    graph.outputs.append(h_out)
    graph.state.append(StateVar(t_in.source_name or state_in, h_in, h_out, np.zeros(t_in.size, np.int16)))
    graph.prune()
    return True
