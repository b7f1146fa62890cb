"""Arena buffers and their lifetimes: the steps during which a buffer's bytes must survive.

A buffer (one alias group without a home outside the arena) is live from the step that
produces it to the last step that reads it, inclusive (a graph input in the arena from step -1); a kernel's input and output are
live together unless the kernel runs in place (:mod:`qcompile.memory.inplace`). A node's
scratch is live during its own step only. An arena tensor that a graph output slot copies
at the end stays live until ``len(nodes)``. Placement only ever compares these
intervals, so they are the whole time model of the planner.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qcompile.errors import QCompileError
from qcompile.ir import Graph
from qcompile.memory.aliases import Aliases

_SCRATCH_KEY = "\0scratch"


@dataclass
class Buffer:
    """One block of arena bytes: an alias group or a node's scratch, with its lifetime."""

    key: str  # a stable name: the first tensor of the group in schedule order
    size: int
    first: int
    last: int
    tensors: list[str]  # the group's tensors, or [node name] for a scratch buffer
    offset: int = -1
    #: overlapped in-place (memory.overlap): partner buffer key -> (largest output offset minus
    #: input offset, contract); ``below`` on the output's buffer, ``above`` on the input's
    below: dict[str, tuple[int, str]] = field(default_factory=dict)
    above: dict[str, tuple[int, str]] = field(default_factory=dict)
    #: the memory region (memory.regions) the buffer is placed in: an index, fastest first
    region: int = 0

    @property
    def is_scratch(self) -> bool:
        return self.key.startswith(_SCRATCH_KEY)

    @property
    def label(self) -> str:
        """How the budget error and the report name this buffer."""
        return f"scratch of {self.tensors[0]}" if self.is_scratch else self.tensors[0]


def scratch_buffer(step: int, node: str, size: int, offset: int = -1) -> Buffer:
    """The scratch of the node at ``step``: live during that step only."""
    return Buffer(f"{_SCRATCH_KEY}{step:08d}", size, step, step, [node], offset)


def arena_end(buffers: list[Buffer]) -> int:
    """Arena bytes needed to hold ``buffers`` at their offsets."""
    return max((b.offset + b.size for b in buffers), default=0)


def referenced_tensors(graph: Graph) -> list[str]:
    """Every tensor the schedule touches, in first-touch order (the order buffers are named in)."""
    referenced: list[str] = []
    seen: set[str] = set()
    touched = [n for node in graph.nodes for n in (*node.inputs, *node.outputs)]
    for name in [*graph.inputs, *touched, *graph.outputs]:
        if name and name not in seen:
            seen.add(name)
            referenced.append(name)
    return referenced


def arena_buffers(graph: Graph, aliases: Aliases, referenced: list[str]) -> dict[str, Buffer]:
    """One :class:`Buffer` per arena alias group (keyed by group root), with its lifetime."""
    tensors = graph.tensors
    produced: dict[str, int] = dict.fromkeys(graph.inputs, -1)  # arena only with --io-in-arena
    for step, node in enumerate(graph.nodes):
        for o in node.outputs:
            produced.setdefault(o, step)
    groups: dict[str, Buffer] = {}
    for name in referenced:
        if name not in tensors:
            raise QCompileError(f"tensor {name!r} is referenced but not defined")
        root = aliases.find(name)
        if root in aliases.home:
            continue
        if name not in produced:
            raise QCompileError(f"tensor {name!r} is read but never produced")
        start = produced[name]
        buf = groups.get(root)
        if buf is None:
            buf = groups[root] = Buffer(name, tensors[root].nbytes, start, start, [])
        buf.tensors.append(name)
        buf.first = min(buf.first, start)
    for step, node in enumerate(graph.nodes):
        for name in node.inputs:
            if name and aliases.find(name) in groups:
                buf = groups[aliases.find(name)]
                buf.last = max(buf.last, step)
    # graph outputs in the arena (--io-in-arena) and output-copy sources are read after the last step
    for name in [*graph.outputs, *(n for _, n in aliases.output_copies)]:
        if aliases.find(name) in groups:
            groups[aliases.find(name)].last = len(graph.nodes)
    return groups
