"""Row streaming: a conv and the conv that consumes its output run row by row, the
intermediate tensor kept as a ring of rows instead of a whole tensor.

A pair ``(A, B)`` at consecutive steps, where ``A`` is a ``conv2d`` whose output ``t`` is read
by ``B`` alone (a ``conv2d`` or ``conv2d_add``, ``t`` its conv input), runs as one loop over
``B``'s output rows: before ``B``'s row ``j`` the loop makes ``A``'s rows up to
``j * stride_h - pad_top + kernel_h`` (clipped), each written into ring slot ``row % R``
with ``R = B.kernel_h`` rows, then ``B``'s row ``j`` reads its rows from the ring. In a
residual block ``B`` (conv2d_add) writes over its residual, which is ``A``'s input: that
is safe when every row ``A`` still has to read lies below the rows ``B`` has written
(:func:`stream_safe`), so the block input (the skip tensor) is the only whole tensor alive.

In the plan the pair is one step: every buffer that dies at ``A``'s step lives through
``B``'s, every buffer that ``B`` creates is reserved from ``A``'s, both nodes' scratch
spans both steps, and ``t``'s buffer is ``R`` rows. The kernels have to read and write
rows through the ring (a family declares the nodes it can stream:
:meth:`qcompile.codegen.families.KernelFamily.stream_ops`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from qcompile.ir import Graph, Node
from qcompile.memory.aliases import Aliases
from qcompile.memory.lifetimes import Buffer
from qcompile.memory.overlap import Window, window_of


@dataclass(frozen=True)
class Stream:
    """A streamed pair: ``producer`` (step ``step - 1``) feeds ``consumer`` (``step``) through
    a ring of ``ring`` rows of ``row_bytes`` each."""

    producer: str
    consumer: str
    step: int
    ring: int
    row_bytes: int


def rows_needed(b: Window, row: int) -> int:
    """How many rows of ``B``'s input must exist before ``B``'s output row ``row``."""
    return min(b.in_h, row * b.sh - b.pt + (b.kh - 1) * b.dh + 1)


def stream_safe(a: Window, b: Window) -> bool:
    """``B``'s output written over ``A``'s input (same shape) never hits a row ``A`` reads later."""
    if (a.in_h, a.in_w, a.in_c) != (b.out_h, b.out_w, b.out_c):
        return False
    for j in range(b.out_h):
        made = rows_needed(b, j)
        if made < a.out_h and made * a.sh - a.pt <= j:
            return False
    return True


def _pair(graph: Graph, step: int, stream_ops: Collection[str]) -> tuple[Node, Node, Window, Window] | None:
    nodes = graph.nodes
    if step < 1 or step >= len(nodes):
        return None
    a, b = nodes[step - 1], nodes[step]
    if a.name not in stream_ops or b.name not in stream_ops or a.op != "conv2d":
        return None
    if b.op not in ("conv2d", "conv2d_add") or b.inputs[0] != a.outputs[0]:
        return None
    t = a.outputs[0]
    if t in graph.outputs or any(t in n.inputs for n in nodes if n is not b) or t in b.inputs[1:]:
        return None
    wa, wb = window_of(graph, a), window_of(graph, b)
    if wa is None or wb is None or wb.kh > wb.in_h:
        return None
    return a, b, wa, wb


def _joined(first: int, last: int, step: int) -> tuple[int, int]:
    """A lifetime stretched so that steps ``step - 1`` and ``step`` act as one."""
    return (step - 1 if first == step else first), (step if last == step - 1 else last)


def find_streams(graph: Graph, stream_ops: Collection[str]) -> list[int]:
    """Steps ``s`` whose node streams with the node at ``s - 1`` (geometry only; the planner
    checks the buffers, :func:`apply_streams`)."""
    return [s for s in range(1, len(graph.nodes)) if _pair(graph, s, stream_ops) is not None]


def apply_streams(
    graph: Graph,
    steps: Collection[int],
    groups: dict[str, Buffer],
    scratch: list[Buffer],
    aliases: Aliases,
    stream_ops: Collection[str],
    slack: Mapping[str, int] | None = None,
) -> dict[str, Stream]:
    """Shrink each chosen pair's intermediate to its ring and join the two steps (module
    doc). Pairs whose buffers do not allow it are left out. ``slack``: consumer name -> bytes
    its kernel may read past the ring's last row (added to the buffer). Returns consumer name
    -> Stream."""
    chosen: dict[str, Stream] = {}
    for step in sorted(steps):
        pair = _pair(graph, step, stream_ops)
        if pair is None:
            continue
        a, b, wa, wb = pair
        if a.name in chosen:  # already the consumer of a pair: no chains of streams
            continue
        t = groups.get(aliases.find(a.outputs[0]))
        if t is None or t.below or t.above or len(t.tensors) != 1 or (t.first, t.last) != (step - 1, step):
            continue
        ry, rx = aliases.find(b.outputs[0]), aliases.find(a.inputs[0])
        if ry == rx:  # B writes over A's input (a residual block in place): same offset, rows in order
            if not stream_safe(wa, wb):
                continue
        for buf in [*groups.values(), *scratch]:
            buf.first, buf.last = _joined(buf.first, buf.last, step)
        row = wa.out_w * wa.out_c
        ring = (wb.kh - 1) * wb.dh + 1
        t.size = ring * row + int((slack or {}).get(b.name, 0))
        chosen[b.name] = Stream(a.name, b.name, step, ring, row)
    return chosen


__all__ = ["Stream", "apply_streams", "find_streams", "rows_needed", "stream_safe"]
