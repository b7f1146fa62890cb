"""View tensors and homes: which tensors are the same bytes, and where those bytes live.

A ``reshape`` output is its input's bytes seen with another shape, so the generated C
emits no code for it: the two tensors form one *alias group* (one buffer). Every group
has exactly one home:

- ``input``: a graph input (or a reshape of one): read straight from the caller's pointer;
- ``output``: contains a graph output: written straight into the caller's output pointer,
  and read back from there if a later node consumes it;
- ``const``: a constant tensor (or a reshape of one): the const array in flash;
- no home here: the arena (offsets are chosen by :mod:`qcompile.memory.placement`).

With ``io_in_arena`` (the TFLM-style API: ``<name>_input(i)`` / ``<name>_output(i)``
point into the arena) graph inputs and outputs get no home: they are arena buffers like
any other, so the input's bytes are reused once it is consumed. Output slots then need no
copies (the caller reads each output where its tensor is); an output that is a constant
cannot be in the arena and is rejected.

A group can have only one home, so when a reshape would merge two homes (a graph output
that is a reshape of a graph input or of a constant, or of another graph output) the
reshape is *materialised*: it becomes a copy (``copy_reshapes``). A graph output whose
tensor already lives elsewhere (an output listed twice, or an output that is itself a
graph input) is filled by a copy after the last step (``output_copies``).

State outputs (``Graph.state``: the new value of a persistent buffer) are never written
in place: the state buffer is also the state input, which later layers may still read,
so a state output is an arena tensor copied into the state buffer after the last step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qcompile.errors import QCompileError
from qcompile.ir import Graph
from qcompile.memory.plan import Location
from qcompile.ops import alias_ops

#: ops whose output is its input's bytes (no code, one buffer), from the op schema
ALIAS_OPS = alias_ops()


class UnionFind:
    """Groups of tensor names sharing one buffer; a group is named by its root tensor.

    The planner and the schedule's cost model both group tensors this way (they differ
    in which unions they allow), so the grouping itself lives here once.
    """

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, name: str) -> str:
        while self.parent.get(name, name) != name:
            name = self.parent[name]
        return name

    def attach(self, root: str, into: str) -> None:
        """Make group ``root`` part of group ``into`` (both roots)."""
        self.parent[root] = into


@dataclass
class Aliases:
    """The alias groups of a graph, their non-arena homes and the copies that keep one home each."""

    groups: UnionFind = field(default_factory=UnionFind)
    home: dict[str, Location] = field(default_factory=dict)  # group root -> non-arena home
    copy_reshapes: set[str] = field(default_factory=set)
    output_copies: list[tuple[int, str]] = field(default_factory=list)

    def find(self, name: str) -> str:
        return self.groups.find(name)

    def home_of(self, name: str) -> Location | None:
        return self.home.get(self.find(name))


def resolve_aliases(graph: Graph, *, io_in_arena: bool = False) -> Aliases:
    """Alias groups, homes, materialised reshapes and output copies (module doc)."""
    aliases = Aliases()
    home = aliases.home
    if not io_in_arena:
        for i, name in enumerate(graph.inputs):
            home.setdefault(name, Location("input", index=i))
        for i, name in enumerate(graph.user_outputs):
            if name not in home:
                home[name] = Location("output", index=i)
    for name, t in graph.tensors.items():
        if t.is_constant:
            home.setdefault(name, Location("const", tensor=name))
    for node in graph.nodes:
        if node.op in ALIAS_OPS:
            _merge_view(graph, aliases, node.name, node.inputs[0], node.outputs[0])
    if io_in_arena:
        for name in graph.outputs:
            if aliases.home_of(name) is not None:
                raise QCompileError(f"--io-in-arena: output {name!r} is a constant, it cannot live in the arena")
        return aliases
    # An output slot whose tensor lives elsewhere gets a copy at the end.
    for i, name in enumerate(graph.outputs):
        loc = aliases.home_of(name)
        if loc is None or loc.kind != "output" or loc.index != i:
            aliases.output_copies.append((i, name))
    return aliases


def _merge_view(graph: Graph, aliases: Aliases, node: str, src: str, dst: str) -> None:
    """Put a reshape's output in its input's group, unless both already have a home."""
    if graph.tensors[src].nbytes != graph.tensors[dst].nbytes:
        raise QCompileError(f"reshape {node!r} changes the size of {src!r}")
    rs, rd = aliases.find(src), aliases.find(dst)
    if rs == rd:
        return
    hs, hd = aliases.home.get(rs), aliases.home.get(rd)
    if hs is not None and hd is not None:
        aliases.copy_reshapes.add(node)
        return
    aliases.groups.attach(rd, rs)
    if hd is not None:
        aliases.home[rs] = hd
