"""Static memory planning: where every activation lives while the generated code runs.

The generated C has no allocator, so every intermediate tensor gets a fixed offset in
one arena whose size is a compile-time constant. The schedule is the node order of the
graph (step ``i`` runs node ``i``). :func:`plan_memory` runs the steps of the plan, each
one concept in its own module:

1. :mod:`~qcompile.memory.aliases`: view tensors share a buffer; every buffer gets a
   home (caller input, caller output, flash, or the arena);
2. :mod:`~qcompile.memory.lifetimes`: the steps during which each arena buffer is live;
3. :mod:`~qcompile.memory.inplace`: element-wise outputs take over a dying input's buffer;
4. :mod:`~qcompile.memory.placement`: arena offsets by the greedy in several orders;
   :mod:`~qcompile.memory.overlap`: with ``overlap`` contracts, a conv-like output starts
   a few rows before the input it consumes (below the layer-by-layer bound);
5. :mod:`~qcompile.memory.row_bands`: conv scratch in bytes that are dead while it runs;
6. :mod:`~qcompile.memory.bounds`: the lower bound and the peak layer (and the budget check);
7. :mod:`~qcompile.memory.regions`: with memory regions, every buffer moves to the fastest
   region it fits in, hottest first (row bands are then off: a band lives inside another
   buffer's bytes).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from qcompile.errors import QCompileError
from qcompile.ir import Graph
from qcompile.memory.aliases import Aliases, resolve_aliases
from qcompile.memory.bounds import lower_bound
from qcompile.memory.inplace import merge_inplace
from qcompile.memory.lifetimes import Buffer, arena_buffers, arena_end, referenced_tensors, scratch_buffer
from qcompile.memory.overlap import find_overlaps, shared_bytes
from qcompile.memory.placement import place
from qcompile.memory.plan import Location, MemoryPlan
from qcompile.memory.regions import Region, assign_regions
from qcompile.memory.row_bands import ALL_DIRECT, find_splits, plan_row_bands
from qcompile.memory.streams import apply_streams


def plan_memory(
    graph: Graph,
    *,
    scratch: Mapping[str, int],
    alignment: int = 16,
    row_split_ops: Collection[str] = (),
    budget: int | None = None,
    io_in_arena: bool = False,
    overlap: Mapping[str, str] | None = None,
    streams: Collection[int] = (),
    stream_ops: Collection[str] = (),
    regions: Sequence[Region] = (),
) -> MemoryPlan:
    """Assign a location to every activation and an arena offset to every intermediate.

    ``scratch`` maps node names to the bytes of working memory their kernel needs (missing
    or 0: none). ``row_split_ops``: ops whose kernels can run in row bands
    (:mod:`~qcompile.memory.row_bands`); ``budget``: arena bytes the caller can afford,
    used to keep row-band nodes at full speed (the planner never checks it: see
    :func:`~qcompile.memory.bounds.check_ram_budget`). ``io_in_arena``: graph inputs and
    outputs are arena buffers too (the TFLM-style API), so the arena is all the RAM the
    model needs and the input's bytes are reused once it is consumed. ``overlap``: node
    name -> access-order contract (:mod:`~qcompile.memory.overlap`) of the nodes whose
    output may overlap their dying input (those then run without row bands). ``streams``:
    steps whose node runs row-streamed with the previous one, among the nodes
    ``stream_ops`` names (:mod:`~qcompile.memory.streams`). ``regions``: memory regions,
    fastest first (:mod:`~qcompile.memory.regions`): the arena is split over them.
    """
    if alignment < 1 or alignment & (alignment - 1):
        raise QCompileError(f"alignment must be a power of two, got {alignment}")
    nodes = graph.nodes
    aliases = resolve_aliases(graph, io_in_arena=io_in_arena)
    referenced = referenced_tensors(graph)
    groups = arena_buffers(graph, aliases, referenced)
    inplace = merge_inplace(graph, groups, aliases)
    pairs = find_overlaps(graph, groups, aliases, overlap or {}, alignment)
    scratch_sizes = {n.name: int(scratch.get(n.name, 0)) for n in nodes if int(scratch.get(n.name, 0)) > 0}
    all_scratch = [
        scratch_buffer(step, n.name, scratch_sizes[n.name]) for step, n in enumerate(nodes) if n.name in scratch_sizes
    ]
    chosen = apply_streams(graph, streams, groups, all_scratch, aliases, stream_ops) if streams else {}
    # overlapped and streamed nodes keep their whole-block kernels (row-band direct rows read as they write)
    keep = set(pairs) | set(chosen) | {s.producer for s in chosen.values()}
    splits = {
        k: v
        for k, v in find_splits(graph, row_split_ops, scratch_sizes, groups, aliases).items()
        if k not in keep and not regions
    }
    buffers = [b for b in groups.values() if b.size > 0]
    place(buffers + all_scratch, alignment)
    scratch_bufs, row_bands = plan_row_bands(nodes, splits, buffers, all_scratch, alignment, budget)
    steps = {n.name: i for i, n in enumerate(nodes)}
    bound, peak_step, peak_live = lower_bound(
        buffers + [b for b in scratch_bufs if b.tensors[0] not in splits], len(nodes), shared_bytes(pairs, steps)
    )
    uses = assign_regions(graph, buffers + scratch_bufs, regions, alignment, scratch_sizes) if regions else ()
    locations, offsets, lifetimes = _resolve_locations(referenced, aliases, groups)
    return MemoryPlan(
        arena_size=sum(u.used for u in uses) if uses else arena_end(buffers + scratch_bufs),
        lower_bound=bound,
        alignment=alignment,
        offsets=offsets,
        locations=locations,
        scratch_offsets={b.tensors[0]: b.offset for b in scratch_bufs},
        scratch_sizes={k: v for k, v in scratch_sizes.items() if row_bands.get(k) != ALL_DIRECT},
        lifetimes=lifetimes,
        copy_reshapes=frozenset(aliases.copy_reshapes),
        output_copies=tuple(aliases.output_copies),
        inplace=inplace,
        row_bands=row_bands,
        peak_step=peak_step if peak_step < len(nodes) else len(nodes) - 1,
        peak_live=peak_live,
        io_in_arena=io_in_arena,
        overlaps={name: b.offset - a.offset for name, (a, b, _) in pairs.items()},
        streams=chosen,
        regions=uses,
        scratch_regions={b.tensors[0]: b.region for b in scratch_bufs},
    )


def _resolve_locations(
    referenced: list[str], aliases: Aliases, groups: dict[str, Buffer]
) -> tuple[dict[str, Location], dict[str, int], dict[str, tuple[int, int]]]:
    """Every referenced tensor's location; arena offsets and lifetimes of the arena ones."""
    locations: dict[str, Location] = {}
    offsets: dict[str, int] = {}
    lifetimes: dict[str, tuple[int, int]] = {}
    for name in referenced:
        root = aliases.find(name)
        if root in aliases.home:
            locations[name] = aliases.home[root]
        else:
            buf = groups[root]
            off = max(buf.offset, 0)
            locations[name] = Location("arena", offset=off, region=buf.region)
            offsets[name] = off
            lifetimes[name] = (buf.first, buf.last)
    return locations, offsets, lifetimes
