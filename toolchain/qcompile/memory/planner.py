"""Static memory planning: where every activation lives while the generated code runs.

The generated C has no allocator, so every intermediate tensor gets a fixed offset in
one arena whose size is a compile-time constant. The schedule is the node order of the
graph (step ``i`` runs node ``i``).

Buffers and locations
---------------------
Tensors are first grouped into *buffers*: a ``reshape`` output is the same bytes as its
input, so the two share one buffer (an alias, no code). Every buffer lives in exactly
one place:

- ``input``: a graph input (or a reshape of one): read straight from the caller's pointer;
- ``output``: contains a graph output: written straight into the caller's output pointer,
  and read back from there if a later node consumes it;
- ``const``: a constant tensor (or a reshape of one): the const array in flash;
- ``arena``: everything else, at an offset chosen below.

A buffer can have only one home, so when a reshape would merge two homes (a graph output
that is a reshape of a graph input or of a constant, or of another graph output) the
reshape is *materialised*: it becomes a copy (listed in ``MemoryPlan.copy_reshapes``).
A graph output whose tensor already lives elsewhere (an output listed twice, or an output
that is itself a graph input) is filled by a copy after the last step
(``MemoryPlan.output_copies``).

Offsets
-------
An arena buffer is live from the step that produces it to the last step that reads it
(inclusive: a kernel's input and output are live together unless the kernel runs in place,
below).
A node's scratch is live during its own step only. Offsets are chosen like TFLite Micro's
greedy planner: buffers sorted by size (largest first, ties by first use, then by name
for determinism), each placed at the lowest ``alignment``-aligned offset where it
overlaps no already-placed buffer whose lifetime intersects its own.
``lower_bound`` is the best any planner could do with these lifetimes: the maximum over
steps of the summed sizes of the live buffers (scratch included, alignment ignored).

In-place outputs
----------------
Some kernels read each input element only at the position of the output element they
then write (``INPLACE_OPS``: ``add`` either input, ``lut``, ``conv2d_add`` its residual), so
their output can take over such an input's buffer. The planner does that when the input
is an arena buffer whose last read is this very step, has the output's size, and no other
input of the node that is *not* element-wise (``conv2d_add``'s conv input) lives in it: the
output then joins the input's buffer (one buffer, lifetime extended; listed in
``MemoryPlan.inplace``). Decisions are taken in schedule order, so chains of in-place ops
share one buffer. The caller's input and output buffers are never taken over.

Placement orders
----------------
The greedy above depends on the order buffers are placed in. The planner tries a few
deterministic orders (TFLM's largest-first, by first use, longest lifetime first, by
size x lifetime) and keeps the smallest arena (ties: the earliest order in that list), so
it reaches ``lower_bound`` on more schedules than one order does.

Row bands: conv scratch in dead bytes
-------------------------------------
For ops in ``row_split_ops`` (the generator passes ``conv2d`` and ``conv2d_add`` for the
portable kernels, whose ``qc_*_rows`` variants document this access order), the kernel
runs its output rows in three bands: ``[0, fast_begin)`` and ``[fast_end, out_h)`` directly
without scratch, ``[fast_begin, fast_end)`` with the fast kernel and its scratch. While the
scratch is in use, the output rows from ``fast_end`` on are not written yet, and the input
rows below ``fast_begin * stride_h - pad_top`` are never read again. So the scratch "may
alias" two buffers:

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
banded plan is kept only when its arena is smaller than the full-speed one.
``lower_bound`` counts these nodes' scratch as 0, since the direct rows need none.
Batches must be 1 (the bands are per batch). The chosen bands are in
``MemoryPlan.row_bands`` (only nodes with at least one direct row).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from qcompile.errors import QCompileError
from qcompile.ir import Graph
from qcompile.ops import alias_ops, inplace_inputs

#: ops whose output shares input 0's buffer (the op schema, ``qcompile.ops``)
ALIAS_OPS = alias_ops()

#: op -> indices of the inputs whose buffer the output may take over (element-wise reads:
#: output element i is written after input element i was read, nothing else of it later);
#: declared in the op schema (``qcompile.ops``)
INPLACE_OPS: dict[str, tuple[int, ...]] = inplace_inputs()


@dataclass(frozen=True)
class Location:
    """Where a tensor's bytes are: ``kind`` in input/output/const/arena.

    ``index`` is the graph input or output index (input/output), ``offset`` the arena
    offset (arena) and ``tensor`` the constant tensor holding the data (const).
    """

    kind: str
    index: int = 0
    offset: int = 0
    tensor: str = ""


@dataclass
class MemoryPlan:
    """Result of :func:`plan_memory`.

    ``offsets``: arena offset per arena-resident tensor; ``locations``: every activation
    (and every constant a node reads) mapped to its :class:`Location`;
    ``scratch_offsets`` / ``scratch_sizes``: per node name with scratch > 0;
    ``lifetimes``: (first step, last step) per arena tensor (step = node index; graph
    inputs start at -1, outputs read after the last step end at ``len(nodes)``);
    ``inplace``: node name -> the input tensor whose buffer its output reuses;
    ``row_bands``: node name -> (fast_begin, fast_end) for nodes run in row bands;
    ``peak_step`` / ``peak_live``: the step where ``lower_bound`` is reached and the arena
    buffers live there, ``(tensor or "scratch of <node>", bytes)``, largest first.
    """

    arena_size: int
    lower_bound: int
    alignment: int
    offsets: dict[str, int]
    locations: dict[str, Location]
    scratch_offsets: dict[str, int]
    scratch_sizes: dict[str, int]
    lifetimes: dict[str, tuple[int, int]]
    copy_reshapes: frozenset[str] = field(default_factory=frozenset)
    output_copies: tuple[tuple[int, str], ...] = ()
    inplace: dict[str, str] = field(default_factory=dict)
    row_bands: dict[str, tuple[int, int]] = field(default_factory=dict)
    peak_step: int = -1
    peak_live: tuple[tuple[str, int], ...] = ()

    def location(self, tensor: str) -> Location:
        return self.locations[tensor]


@dataclass
class _Buffer:
    key: str  # a stable name: the first tensor of the group in schedule order
    size: int
    first: int
    last: int
    tensors: list[str]
    offset: int = -1


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


_ORDERS = (
    lambda b: (-b.size, b.first, b.key),
    lambda b: (b.first, -b.size, b.key),
    lambda b: (b.first - b.last, -b.size, b.first, b.key),
    lambda b: (-b.size * (b.last - b.first + 1), b.first, b.key),
)


def _place(buffers: list[_Buffer], alignment: int) -> None:
    """Greedy placement in several orders (module doc); keeps the smallest arena."""
    best: tuple[int, list[int]] | None = None
    for key in _ORDERS:
        _place_in_order(sorted(buffers, key=key), alignment)
        size = max((b.offset + b.size for b in buffers), default=0)
        if best is None or size < best[0]:
            best = (size, [b.offset for b in buffers])
    assert best is not None
    for b, off in zip(buffers, best[1], strict=True):
        b.offset = off


def _place_in_order(order: list[_Buffer], alignment: int) -> None:
    """Greedy: lowest aligned offset free of every time-overlapping placed buffer."""
    placed: list[_Buffer] = []
    for buf in order:
        conflicts = sorted(
            (p for p in placed if p.first <= buf.last and buf.first <= p.last),
            key=lambda p: (p.offset, p.size),
        )
        offset = 0
        for p in conflicts:
            if offset + buf.size <= p.offset:
                break
            offset = max(offset, _align(p.offset + p.size, alignment))
        buf.offset = offset
        placed.append(buf)


def plan_memory(
    graph: Graph,
    *,
    scratch: Mapping[str, int],
    alignment: int = 16,
    row_split_ops: Collection[str] = (),
    budget: int | None = None,
) -> MemoryPlan:
    """Assign a location to every activation and an arena offset to every intermediate.

    ``scratch`` maps node names to the bytes of working memory their kernel needs (missing
    or 0: none). ``row_split_ops``: ops whose kernels can run in row bands (module doc);
    ``budget``: arena bytes the caller can afford, used to keep row-band nodes at full
    speed (the planner never checks it: see ``check_budget``). See the module docstring
    for the rules.
    """
    if alignment < 1 or alignment & (alignment - 1):
        raise QCompileError(f"alignment must be a power of two, got {alignment}")
    nodes = graph.nodes
    steps = len(nodes)
    tensors = graph.tensors

    # -- homes of the roots: inputs, constants, outputs --------------------------------
    # parent: union-find over alias groups.
    parent: dict[str, str] = {}

    def find(name: str) -> str:
        while parent.get(name, name) != name:
            name = parent[name]
        return name

    home: dict[str, Location] = {}  # group root -> non-arena home
    for i, name in enumerate(graph.inputs):
        home.setdefault(name, Location("input", index=i))
    output_copies: list[tuple[int, str]] = []
    for i, name in enumerate(graph.outputs):
        if name not in home:
            home[name] = Location("output", index=i)
    for name, t in tensors.items():
        if t.is_constant:
            home.setdefault(name, Location("const", tensor=name))

    copy_reshapes: set[str] = set()
    for node in nodes:
        if node.op not in ALIAS_OPS:
            continue
        src, dst = node.inputs[0], node.outputs[0]
        if tensors[src].nbytes != tensors[dst].nbytes:
            raise QCompileError(f"reshape {node.name!r} changes the size of {src!r}")
        rs, rd = find(src), find(dst)
        if rs == rd:
            continue
        hs, hd = home.get(rs), home.get(rd)
        if hs is not None and hd is not None:
            copy_reshapes.add(node.name)
            continue
        parent[rd] = rs
        if hd is not None:
            home[rs] = hd

    # An output slot whose tensor lives elsewhere gets a copy at the end.
    for i, name in enumerate(graph.outputs):
        loc = home.get(find(name))
        if loc is None or loc.kind != "output" or loc.index != i:
            output_copies.append((i, name))

    # -- lifetimes of arena groups ------------------------------------------------------
    produced: dict[str, int] = {}
    for step, node in enumerate(nodes):
        for o in node.outputs:
            produced.setdefault(o, step)
    groups: dict[str, _Buffer] = {}
    locations: dict[str, Location] = {}
    referenced: list[str] = []
    seen: set[str] = set()
    for name in list(graph.inputs) + [n for node in nodes for n in (*node.inputs, *node.outputs)] + list(graph.outputs):
        if name and name not in seen:
            seen.add(name)
            referenced.append(name)
    for name in referenced:
        if name not in tensors:
            raise QCompileError(f"tensor {name!r} is referenced but not defined")
        root = find(name)
        if root in home:
            continue
        if name not in produced:
            raise QCompileError(f"tensor {name!r} is read but never produced")
        start = produced[name]
        buf = groups.get(root)
        if buf is None:
            buf = groups[root] = _Buffer(name, tensors[root].nbytes, start, start, [])
        buf.tensors.append(name)
        buf.first = min(buf.first, start)
    for step, node in enumerate(nodes):
        for name in node.inputs:
            if name and find(name) in groups:
                buf = groups[find(name)]
                buf.last = max(buf.last, step)
    for _, name in output_copies:
        if find(name) in groups:
            groups[find(name)].last = steps
    inplace = _merge_inplace(graph, groups, parent, find)
    buffers = [b for b in groups.values() if b.size > 0]
    scratch_sizes = {n.name: int(scratch.get(n.name, 0)) for n in nodes if int(scratch.get(n.name, 0)) > 0}
    splits = {
        n.name: geo
        for step, n in enumerate(nodes)
        if n.op in row_split_ops
        and n.name in scratch_sizes
        and (geo := _split_geometry(graph, n, step, groups, find)) is not None
    }
    all_scratch = [
        _Buffer(f"\0scratch{step:08d}", scratch_sizes[n.name], step, step, [n.name])
        for step, n in enumerate(nodes)
        if n.name in scratch_sizes
    ]
    _place(buffers + all_scratch, alignment)
    scratch_bufs = all_scratch
    arena_size = max((b.offset + b.size for b in buffers + scratch_bufs), default=0)
    row_bands: dict[str, tuple[int, int]] = {}
    if splits and (budget is None or arena_size > budget):
        full_speed = [b.offset for b in buffers + all_scratch]
        fixed = [b for b in all_scratch if b.tensors[0] not in splits]
        _place(buffers + fixed, alignment)
        banded, bands = _place_splits(nodes, splits, scratch_sizes, buffers, fixed, alignment, budget)
        banded_size = max((b.offset + b.size for b in buffers + banded), default=0)
        if banded_size < arena_size:
            scratch_bufs, row_bands, arena_size = banded, bands, banded_size
        else:
            for b, off in zip(buffers + all_scratch, full_speed, strict=True):
                b.offset = off
    scratch_sizes = {k: v for k, v in scratch_sizes.items() if row_bands.get(k) != (0, 0)}

    # -- results -----------------------------------------------------------------------
    live = [0] * (steps + 2)
    members: list[list[tuple[str, int]]] = [[] for _ in range(steps + 2)]
    bound_bufs = buffers + [b for b in scratch_bufs if b.tensors[0] not in splits]
    for b in bound_bufs:
        label = b.tensors[0] if not b.key.startswith("\0") else f"scratch of {b.tensors[0]}"
        for s in range(max(b.first, 0), min(b.last, steps) + 1):
            live[s] += b.size
            members[s].append((label, b.size))
    lower_bound = max(live, default=0)
    peak_step = live.index(lower_bound) if lower_bound else -1
    peak_live = tuple(sorted(members[peak_step], key=lambda m: (-m[1], m[0]))) if peak_step >= 0 else ()
    offsets: dict[str, int] = {}
    lifetimes: dict[str, tuple[int, int]] = {}
    for name in referenced:
        root = find(name)
        if root in home:
            locations[name] = home[root]
        else:
            buf = groups[root]
            off = max(buf.offset, 0)
            locations[name] = Location("arena", offset=off)
            offsets[name] = off
            lifetimes[name] = (buf.first, buf.last)
    return MemoryPlan(
        arena_size=arena_size,
        lower_bound=lower_bound,
        alignment=alignment,
        offsets=offsets,
        locations=locations,
        scratch_offsets={b.tensors[0]: b.offset for b in scratch_bufs},
        scratch_sizes=scratch_sizes,
        lifetimes=lifetimes,
        copy_reshapes=frozenset(copy_reshapes),
        output_copies=tuple(output_copies),
        inplace=inplace,
        row_bands=row_bands,
        peak_step=peak_step if peak_step < steps else steps - 1,
        peak_live=peak_live,
    )


def inplace_candidates(node_op: str) -> tuple[int, ...]:
    """Input indices whose buffer the output of an ``node_op`` node may take over."""
    return INPLACE_OPS.get(node_op, ())


def _merge_inplace(graph: Graph, groups: dict[str, _Buffer], parent: dict[str, str], find) -> dict[str, str]:
    """Merge each in-place output group into the input group it overwrites (see module doc)."""
    inplace: dict[str, str] = {}
    for step, node in enumerate(graph.nodes):
        positions = inplace_candidates(node.op)
        if not positions or len(node.outputs) != 1:
            continue
        out = node.outputs[0]
        ro = find(out)
        gout = groups.get(ro)
        if gout is None or gout.first != step:
            continue
        for idx in positions:
            if idx >= len(node.inputs) or not node.inputs[idx]:
                continue
            name = node.inputs[idx]
            ri = find(name)
            gin = groups.get(ri)
            if gin is None or ri == ro or gin.last != step or gin.size != gout.size:
                continue
            if graph.tensors[name].nbytes != graph.tensors[out].nbytes:
                continue
            others = [i for k, i in enumerate(node.inputs) if i and k not in positions]
            if any(find(i) == ri for i in others):
                continue
            gin.tensors.extend(gout.tensors)
            gin.last = max(gin.last, gout.last)
            del groups[ro]
            parent[ro] = ri
            inplace[node.name] = name
            break
    return inplace


@dataclass(frozen=True)
class _Split:
    """Row geometry of a row-band node and the buffers its scratch may alias (module doc)."""

    out_h: int
    out_row: int  # bytes per output row
    in_row: int  # bytes per input row
    stride_h: int
    pad_top: int
    output: _Buffer | None  # fresh output buffer, or None
    input: _Buffer | None  # conv input buffer read for the last time here, or None


def _split_geometry(graph: Graph, node, step: int, groups: dict[str, _Buffer], find) -> _Split | None:
    """The :class:`_Split` of a conv-like node, or None when it cannot run in row bands."""
    x, y = node.inputs[0], node.outputs[0]
    xs, ys = tuple(graph.tensors[x].shape), tuple(graph.tensors[y].shape)
    if len(xs) != 4 or len(ys) != 4 or xs[0] != 1 or ys[0] != 1 or len(node.outputs) != 1:
        return None
    strides, pads = node.attrs.get("strides"), node.attrs.get("pads")
    if strides is None or pads is None:
        return None
    ry, rx = find(y), find(x)
    others = {find(i) for i in node.inputs[1:] if i}
    out_buf = groups.get(ry)
    if out_buf is not None and (out_buf.first != step or ry in others or ry == rx):
        out_buf = None
    in_buf = groups.get(rx)
    if in_buf is not None and (in_buf.last != step or rx in others or rx == ry):
        in_buf = None
    return _Split(
        out_h=int(ys[1]),
        out_row=int(ys[2]) * int(ys[3]),
        in_row=int(xs[2]) * int(xs[3]),
        stride_h=int(strides[0]),
        pad_top=int(pads[0]),
        output=out_buf,
        input=in_buf,
    )


def _band_at(split: _Split, offset: int, size: int) -> tuple[int, int]:
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


def _place_splits(
    nodes: list,
    splits: dict[str, _Split],
    sizes: dict[str, int],
    buffers: list[_Buffer],
    fixed: list[_Buffer],
    alignment: int,
    budget: int | None,
) -> tuple[list[_Buffer], dict[str, tuple[int, int]]]:
    """Scratch of the row-band nodes, placed over the other buffers (module doc).

    With a budget: the most fast rows below it. Without: the most fast rows below the
    arena size as long as at most a quarter of the node's rows run directly; otherwise the
    scratch is placed above (full speed) and the arena grows, which may give the other
    nodes room (repeated until the arena size is stable).
    """
    limit = max((b.offset + b.size for b in buffers + fixed), default=0)
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
                alone = _Split(split.out_h, split.out_row, split.in_row, split.stride_h, split.pad_top, None, None)
                offset, band = _place_split(alone, size, live, 1 << 62, alignment)
                grown = max(grown, (offset or 0) + size)
            if offset is None:
                bands[n.name] = (0, 0)
                continue
            if band != (0, split.out_h):
                bands[n.name] = band
            placed.append(_Buffer(f"\0scratch{step:08d}", size, step, step, [n.name], offset))
        if grown == limit:
            return placed, bands
        limit = grown


def _place_split(
    split: _Split, size: int, live: list[_Buffer], limit: int, alignment: int
) -> tuple[int | None, tuple[int, int]]:
    """Offset below ``limit`` with the most fast rows (ties: lowest offset), or None."""
    partners = [b for b in (split.output, split.input) if b is not None]
    blockers = [b for b in live if all(b is not p for p in partners)]
    candidates = {0, (limit - size) // alignment * alignment}
    for b in live:
        candidates.add(_align(b.offset + b.size, alignment))
        candidates.add((b.offset - size) // alignment * alignment)
    best: tuple[int, int, tuple[int, int]] | None = None  # (fast rows, offset, band)
    for off in sorted(c for c in candidates if 0 <= c and c + size <= limit):
        if any(off < b.offset + b.size and b.offset < off + size for b in blockers):
            continue
        band = _band_at(split, off, size)
        rows = band[1] - band[0]
        if rows > 0 and (best is None or rows > best[0]):
            best = (rows, off, band)
    if best is None:
        return None, (0, 0)
    return best[1], best[2]
