"""In-place outputs: an element-wise kernel may write its output over an input it has finished with.

Some kernels read each input element only at the position of the output element they
then write (``INPLACE_OPS``: ``add`` either input, ``lut``, ``conv2d_add`` its residual),
so their output can take over such an input's buffer. The planner does that when the
input is an arena buffer whose last read is this very step, has the output's size, and
no other input of the node that is *not* element-wise (``conv2d_add``'s conv input)
lives in it: the output then joins the input's buffer (one buffer, lifetime extended).
Decisions are taken in schedule order, so chains of in-place ops share one buffer. The
caller's input and output buffers are never taken over (they are not arena buffers).
"""

from __future__ import annotations

from qcompile.ir import Graph, Node
from qcompile.memory.aliases import Aliases
from qcompile.memory.lifetimes import Buffer
from qcompile.ops import inplace_inputs

#: op -> indices of the inputs whose buffer the output may take over (element-wise reads:
#: output element i is written after input element i was read, nothing else of it later);
#: declared in the op schema (``qcompile.ops``)
INPLACE_OPS: dict[str, tuple[int, ...]] = inplace_inputs()


def inplace_candidates(node_op: str) -> tuple[int, ...]:
    """Input indices whose buffer the output of an ``node_op`` node may take over."""
    return INPLACE_OPS.get(node_op, ())


def merge_inplace(graph: Graph, groups: dict[str, Buffer], aliases: Aliases) -> dict[str, str]:
    """Merge each in-place output group into the input group it overwrites (module doc).

    Returns node name -> the input tensor whose buffer its output took over.
    """
    inplace: dict[str, str] = {}
    for step, node in enumerate(graph.nodes):
        if not inplace_candidates(node.op) or len(node.outputs) != 1:
            continue
        ro = aliases.find(node.outputs[0])
        gout = groups.get(ro)
        if gout is None or gout.first != step:
            continue
        name = _overwritable_input(graph, node, step, groups, aliases)
        if name is None:
            continue
        ri = aliases.find(name)
        gin = groups[ri]
        gin.tensors.extend(gout.tensors)
        gin.last = max(gin.last, gout.last)
        del groups[ro]
        aliases.groups.attach(ro, ri)
        inplace[node.name] = name
    return inplace


def _overwritable_input(graph: Graph, node: Node, step: int, groups: dict[str, Buffer], aliases: Aliases) -> str | None:
    """The first candidate input of ``node`` whose buffer its output may take over, if any."""
    positions = inplace_candidates(node.op)
    out = node.outputs[0]
    ro = aliases.find(out)
    gout = groups[ro]
    for idx in positions:
        if idx >= len(node.inputs) or not node.inputs[idx]:
            continue
        name = node.inputs[idx]
        ri = aliases.find(name)
        gin = groups.get(ri)
        if gin is None or ri == ro or gin.last != step or gin.size != gout.size:
            continue
        if graph.tensors[name].nbytes != graph.tensors[out].nbytes:
            continue
        others = [i for k, i in enumerate(node.inputs) if i and k not in positions]
        if any(aliases.find(i) == ri for i in others):
            continue
        return name
    return None
