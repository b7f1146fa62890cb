"""The planner's result types, shared by the planner, the budget check and the code generator.

They live apart from the planning code so that readers of a plan (lowering, the budget
check, tests) depend on what a plan *is*, not on how it was computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Location:
    """Where a tensor's bytes are: ``kind`` in input/output/const/arena.

    ``index`` is the graph input or output index (input/output), ``offset`` the arena
    offset (arena) and ``tensor`` the constant tensor holding the data (const). ``region``
    is the memory region of an arena tensor (``--memory-regions``; 0, the fastest, is the
    arena itself).
    """

    kind: str
    index: int = 0
    offset: int = 0
    tensor: str = ""
    region: int = 0


@dataclass
class MemoryPlan:
    """Result of :func:`qcompile.memory.plan_memory`.

    ``offsets``: arena offset per arena-resident tensor; ``locations``: every activation
    (and every constant a node reads) mapped to its :class:`Location`;
    ``scratch_offsets`` / ``scratch_sizes``: per node name with scratch > 0;
    ``lifetimes``: (first step, last step) per arena tensor (step = node index; graph
    inputs start at -1, outputs read after the last step end at ``len(nodes)``);
    ``inplace``: node name -> the input tensor whose buffer its output reuses;
    ``row_bands``: node name -> (fast_begin, fast_end) for nodes run in row bands;
    ``peak_step`` / ``peak_live``: the step where ``lower_bound`` is reached and the arena
    buffers live there, ``(tensor or "scratch of <node>", bytes)``, largest first;
    ``io_in_arena``: graph inputs and outputs are arena tensors (``offsets`` has them);
    ``overlaps``: node name -> output offset minus input offset for nodes whose output
    overlaps the input they consume (:mod:`qcompile.memory.overlap`);
    ``below_bound_arena``: the arena of the overlapped plan when it is smaller but was not
    chosen (no ``--ram-budget`` asked for it), else 0; ``streams``: consumer node name ->
    :class:`qcompile.memory.streams.Stream` for row-streamed pairs; ``regions``: with
    ``--memory-regions``, per region (fastest first) its
    :class:`qcompile.memory.regions.RegionUse` (``arena_size`` is then their sum, and
    ``scratch_regions`` gives each scratch's region), else empty; ``warnings``: what the
    planner gave up on that the user asked for (``report.json`` ``warnings``).
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
    io_in_arena: bool = False
    overlaps: dict[str, int] = field(default_factory=dict)
    below_bound_arena: int = 0
    streams: dict[str, Any] = field(default_factory=dict)
    regions: tuple[Any, ...] = ()
    scratch_regions: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def primary_size(self) -> int:
        """Bytes of the arena array itself (region 0 with ``--memory-regions``)."""
        return self.regions[0].used if self.regions else self.arena_size

    def location(self, tensor: str) -> Location:
        return self.locations[tensor]
