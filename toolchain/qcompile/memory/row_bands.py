"""Row bands: a conv's scratch placed in bytes that are dead while it runs, at some speed cost.

For ops in ``row_split_ops`` (the generator passes ``conv2d`` and ``conv2d_add`` for the
portable kernels, whose ``qc_*_rows`` variants document this access order), the kernel
runs its output rows in three bands: ``[0, fast_begin)`` and ``[fast_end, out_h)``
directly without scratch, ``[fast_begin, fast_end)`` with the fast kernel and its
scratch. While the scratch is in use, the output rows from ``fast_end`` on are not
written yet, and the input rows below ``fast_begin * stride_h - pad_top`` are never read
again. So the scratch "may alias" two buffers:

- the node's output buffer, when it is fresh (first written by this step): any bytes from
  output row ``fast_end`` on;
- the node's conv input buffer, when this step is its last read and no other input or the
  output shares it: any bytes below input row ``fast_begin * stride_h - pad_top``.

The full-speed plan (every scratch placed by the greedy) is computed first and kept when
it fits ``budget``. Otherwise the row-band scratch is placed after every other buffer:
with a ``budget``, at the position below it with the most fast rows (every row direct, no
scratch, if none); without one, at the position below the arena size with the most fast
rows as long as at most a quarter of the node's rows run directly (they cost ~1.8x the
instructions of fast rows), else above the arena (full speed, the arena grows). The
banded plan is kept only when its arena is smaller than the full-speed one. Batches
must be 1 (the bands are per batch).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from qcompile.ir import Graph, Node
from qcompile.memory.aliases import Aliases
from qcompile.memory.lifetimes import Buffer, arena_end, scratch_buffer
from qcompile.memory.placement import align, place

#: a band meaning "every row direct, no scratch at all"
ALL_DIRECT = (0, 0)
_UNLIMITED = 1 << 62


@dataclass(frozen=True)
class Split:
    """Row geometry of a row-band node and the buffers its scratch may alias (module doc)."""

    out_h: int
    out_row: int  # bytes per output row
    in_row: int  # bytes per input row
    stride_h: int
    pad_top: int
    output: Buffer | None  # fresh output buffer, or None
    input: Buffer | None  # conv input buffer read for the last time here, or None

    def alone(self) -> Split:
        """The same geometry with no partner buffer (the scratch overlaps nothing)."""
        return Split(self.out_h, self.out_row, self.in_row, self.stride_h, self.pad_top, None, None)


def find_splits(
    graph: Graph,
    row_split_ops: Collection[str],
    scratch_sizes: dict[str, int],
    groups: dict[str, Buffer],
    aliases: Aliases,
) -> dict[str, Split]:
    """The nodes that may run in row bands, by name, with their :class:`Split`."""
    return {
        n.name: geo
        for step, n in enumerate(graph.nodes)
        if n.op in row_split_ops
        and n.name in scratch_sizes
        and (geo := split_geometry(graph, n, step, groups, aliases)) is not None
    }


def split_geometry(graph: Graph, node: Node, step: int, groups: dict[str, Buffer], aliases: Aliases) -> Split | None:
    """The :class:`Split` of a conv-like node, or None when it cannot run in row bands."""
    x, y = node.inputs[0], node.outputs[0]
    xs, ys = tuple(graph.tensors[x].shape), tuple(graph.tensors[y].shape)
    if len(xs) != 4 or len(ys) != 4 or xs[0] != 1 or ys[0] != 1 or len(node.outputs) != 1:
        return None
    strides, pads = node.attrs.get("strides"), node.attrs.get("pads")
    if strides is None or pads is None:
        return None
    ry, rx = aliases.find(y), aliases.find(x)
    others = {aliases.find(i) for i in node.inputs[1:] if i}
    out_buf = groups.get(ry)
    if out_buf is not None and (out_buf.first != step or ry in others or ry == rx or out_buf.below or out_buf.above):
        out_buf = None
    in_buf = groups.get(rx)
    if in_buf is not None and (in_buf.last != step or rx in others or rx == ry or in_buf.below or in_buf.above):
        in_buf = None
    return Split(
        out_h=int(ys[1]),
        out_row=int(ys[2]) * int(ys[3]),
        in_row=int(xs[2]) * int(xs[3]),
        stride_h=int(strides[0]),
        pad_top=int(pads[0]),
        output=out_buf,
        input=in_buf,
    )


def band_at(split: Split, offset: int, size: int) -> tuple[int, int]:
    """(fast_begin, fast_end) when the scratch is at ``offset`` (overlaps only partners)."""
    begin, end = 0, split.out_h
    out = split.output
    if out is not None and offset < out.offset + out.size and out.offset < offset + size:
        end = (max(offset, out.offset) - out.offset) // split.out_row
    inp = split.input
    if inp is not None and offset < inp.offset + inp.size and inp.offset < offset + size:
        last_row = (min(offset + size, inp.offset + inp.size) - 1 - inp.offset) // split.in_row
        begin = -(-(last_row + 1 + split.pad_top) // split.stride_h)
    return begin, end


def plan_row_bands(
    nodes: list[Node],
    splits: dict[str, Split],
    buffers: list[Buffer],
    scratch: list[Buffer],
    alignment: int,
    budget: int | None,
) -> tuple[list[Buffer], dict[str, tuple[int, int]]]:
    """Try the banded plan over the placed full-speed one (module doc).

    ``buffers`` and ``scratch`` are placed (the full-speed plan). Returns the scratch
    buffers and bands of the plan kept; when the banded plan is not smaller, the
    full-speed offsets are restored and the bands are empty.
    """
    arena_size = arena_end(buffers + scratch)
    if not splits or (budget is not None and arena_size <= budget):
        return scratch, {}
    full_speed = [b.offset for b in buffers + scratch]
    fixed = [b for b in scratch if b.tensors[0] not in splits]
    sizes = {b.tensors[0]: b.size for b in scratch}
    place(buffers + fixed, alignment)
    banded, bands = _place_splits(nodes, splits, sizes, buffers, fixed, alignment, budget)
    if arena_end(buffers + banded) < arena_size:
        return banded, bands
    for b, off in zip(buffers + scratch, full_speed, strict=True):
        b.offset = off
    return scratch, {}


def _place_splits(
    nodes: list[Node],
    splits: dict[str, Split],
    sizes: dict[str, int],
    buffers: list[Buffer],
    fixed: list[Buffer],
    alignment: int,
    budget: int | None,
) -> tuple[list[Buffer], dict[str, tuple[int, int]]]:
    """Scratch of the row-band nodes, placed over the other buffers (module doc).

    With a budget: the most fast rows below it. Without: the most fast rows below the
    arena size as long as at most a quarter of the node's rows run directly; otherwise the
    scratch is placed above (full speed) and the arena grows, which may give the other
    nodes room (repeated until the arena size is stable).
    """
    limit = arena_end(buffers + fixed)
    if budget is not None:
        limit = max(limit, budget)
    while True:
        placed = list(fixed)
        bands: dict[str, tuple[int, int]] = {}
        grown = limit
        for step, n in enumerate(nodes):
            split = splits.get(n.name)
            if split is None:
                continue
            size = sizes[n.name]
            live = [b for b in buffers if b.first <= step <= b.last]
            offset, band = _place_split(split, size, live, limit, alignment)
            direct = split.out_h - (band[1] - band[0])
            if budget is None and direct > split.out_h // 4:
                offset, band = _place_split(split.alone(), size, live, _UNLIMITED, alignment)
                grown = max(grown, (offset or 0) + size)
            if offset is None:
                bands[n.name] = ALL_DIRECT
                continue
            if band != (0, split.out_h):
                bands[n.name] = band
            placed.append(scratch_buffer(step, n.name, size, offset))
        if grown == limit:
            return placed, bands
        limit = grown


def _place_split(
    split: Split, size: int, live: list[Buffer], limit: int, alignment: int
) -> tuple[int | None, tuple[int, int]]:
    """Offset below ``limit`` with the most fast rows (ties: lowest offset), or None."""
    partners = [b for b in (split.output, split.input) if b is not None]
    blockers = [b for b in live if all(b is not p for p in partners)]
    candidates = {0, (limit - size) // alignment * alignment}
    for b in live:
        candidates.add(align(b.offset + b.size, alignment))
        candidates.add((b.offset - size) // alignment * alignment)
    best: tuple[int, int, tuple[int, int]] | None = None  # (fast rows, offset, band)
    for off in sorted(c for c in candidates if 0 <= c and c + size <= limit):
        if any(off < b.offset + b.size and b.offset < off + size for b in blockers):
            continue
        band = band_at(split, off, size)
        rows = band[1] - band[0]
        if rows > 0 and (best is None or rows > best[0]):
            best = (rows, off, band)
    if best is None:
        return None, ALL_DIRECT
    return best[1], best[2]
