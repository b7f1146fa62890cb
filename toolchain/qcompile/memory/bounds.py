"""The lower bound of a plan and the RAM budget check: what the model needs, and whether it fits.

``lower_bound`` is the best any placement could do with the planned lifetimes: the
maximum over steps of the summed sizes of the live buffers (scratch included, alignment
ignored). The step where it is reached is the *peak layer*: the compile summary and a
``--ram-budget`` error name it and the buffers live there, because that is where the
user has to shrink something. Row-band nodes count their scratch as 0, since their
direct rows need none. The schedule (:mod:`qcompile.memory.schedule`) minimises the same
quantity.
"""

from __future__ import annotations

from qcompile.errors import QCompileError
from qcompile.ir import Graph
from qcompile.memory.lifetimes import Buffer
from qcompile.memory.plan import MemoryPlan

#: RAM the runtime needs besides the arena and the model's state buffer: none (parameter
#: structs and weights are const; the kernels keep nothing between calls)
STATIC_STATE_BYTES = 0


def static_state_bytes(graph: Graph) -> int:
    """RAM kept between calls besides the arena: the model's state buffer (``Graph.state``)."""
    return STATIC_STATE_BYTES + graph.state_bytes


def lower_bound(
    buffers: list[Buffer], steps: int, shared: dict[int, int] | None = None
) -> tuple[int, int, tuple[tuple[str, int], ...]]:
    """``(lower bound, peak step, live buffers there)``; the step is -1 for an empty arena.

    ``shared``: step -> bytes that overlapped outputs share with their input there (counted once).

    The live buffers are ``(label, bytes)``, largest first. Graph inputs are live from
    step -1 and output copies until ``steps``: both are clipped to the real steps.
    """
    live = [0] * (steps + 2)
    members: list[list[tuple[str, int]]] = [[] for _ in range(steps + 2)]
    for b in buffers:
        for s in range(max(b.first, 0), min(b.last, steps) + 1):
            live[s] += b.size
            members[s].append((b.label, b.size))
    for s, saved in (shared or {}).items():
        if 0 <= s <= steps:
            live[s] -= saved
    bound = max(live, default=0)
    peak_step = live.index(bound) if bound else -1
    peak_live = tuple(sorted(members[peak_step], key=lambda m: (-m[1], m[0]))) if peak_step >= 0 else ()
    return bound, peak_step, peak_live


def check_ram_budget(graph: Graph, plan: MemoryPlan, budget: int) -> None:
    """Raise when arena + static state exceed ``budget`` bytes, naming the peak layer and
    what is live there, so the user knows which tensors to shrink (nothing is written)."""
    if budget < 0:
        raise QCompileError(f"--ram-budget {budget}: give a number of bytes, at least 0")
    state = static_state_bytes(graph)
    needed = plan.arena_size + state
    if needed <= budget:
        return
    where = ""
    if 0 <= plan.peak_step < len(graph.nodes):
        node = graph.nodes[plan.peak_step]
        live = ", ".join(f"{name} ({size:,} B)" for name, size in plan.peak_live)
        where = (
            f"; the peak is at layer {plan.peak_step} ({node.op} {node.name!r}), "
            f"{plan.lower_bound:,} B live there: {live}"
        )
    raise QCompileError(
        f"RAM budget exceeded: the model needs {needed:,} B (arena {plan.arena_size:,} B + static state "
        f"{state:,} B, lower bound {plan.lower_bound:,} B) but --ram-budget is {budget:,} B{where}"
    )
