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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from qcompile.errors import QCompileError
from qcompile.ir import Graph

ALIAS_OPS = frozenset({"reshape"})

#: op -> indices of the inputs whose buffer the output may take over (element-wise reads:
#: output element i is written after input element i was read, nothing else of it later)
INPLACE_OPS: dict[str, tuple[int, ...]] = {"add": (0, 1), "lut": (0,), "conv2d_add": (3,)}


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
    ``inplace``: node name -> the input tensor whose buffer its output reuses.
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


def _place(buffers: list[_Buffer], alignment: int) -> None:
    """Greedy by size: lowest aligned offset free of every time-overlapping placed buffer."""
    order = sorted(buffers, key=lambda b: (-b.size, b.first, b.key))
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


def plan_memory(graph: Graph, *, scratch: Mapping[str, int], alignment: int = 16) -> MemoryPlan:
    """Assign a location to every activation and an arena offset to every intermediate.

    ``scratch`` maps node names to the bytes of working memory their kernel needs (missing
    or 0: none). See the module docstring for the rules.
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
    scratch_bufs = [
        _Buffer(f"\0scratch{step:08d}", scratch_sizes[n.name], step, step, [n.name])
        for step, n in enumerate(nodes)
        if n.name in scratch_sizes
    ]
    _place(buffers + scratch_bufs, alignment)

    # -- results -----------------------------------------------------------------------
    arena_size = max((b.offset + b.size for b in buffers + scratch_bufs), default=0)
    live = [0] * (steps + 2)
    for b in buffers + scratch_bufs:
        for s in range(max(b.first, 0), min(b.last, steps) + 1):
            live[s] += b.size
    lower_bound = max(live, default=0)
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
