"""Placement: arena offsets for buffers whose lifetimes are known.

Offsets are chosen like TensorFlow Lite Micro's greedy planner: buffers in some order,
each placed at the lowest ``alignment``-aligned offset where it overlaps no
already-placed buffer whose lifetime intersects its own. The result depends on the
order, and no single order is best on every schedule, so :func:`place` tries a few
deterministic orders (TFLM's largest-first, by first use, longest lifetime first, by
size x lifetime) and keeps the smallest arena (ties: the earliest order in that list).
That reaches the lower bound (:mod:`qcompile.memory.bounds`) on more schedules than one
order does, at a cost linear in the number of orders.
"""

from __future__ import annotations

from qcompile.memory.lifetimes import Buffer, arena_end


def align(value: int, alignment: int) -> int:
    """``value`` rounded up to a multiple of ``alignment``."""
    return (value + alignment - 1) // alignment * alignment


#: the placement orders, tried in this order (sort keys; the key field makes them total)
ORDERS = (
    lambda b: (-b.size, b.first, b.key),  # largest first (TFLM)
    lambda b: (b.first, -b.size, b.key),  # first use
    lambda b: (b.first - b.last, -b.size, b.first, b.key),  # longest lifetime
    lambda b: (-b.size * (b.last - b.first + 1), b.first, b.key),  # size x lifetime
)


def place(buffers: list[Buffer], alignment: int) -> None:
    """Set every buffer's offset: the greedy in each of :data:`ORDERS`, smallest arena kept."""
    best: tuple[int, list[int]] | None = None
    for key in ORDERS:
        place_in_order(sorted(buffers, key=key), alignment)
        size = arena_end(buffers)
        if best is None or size < best[0]:
            best = (size, [b.offset for b in buffers])
    assert best is not None
    for b, off in zip(buffers, best[1], strict=True):
        b.offset = off


def place_in_order(order: list[Buffer], alignment: int) -> None:
    """Greedy: lowest aligned offset free of every time-overlapping placed buffer."""
    placed: list[Buffer] = []
    for buf in order:
        if buf.parts or any(p.parts for p in placed):
            buf.offset = _lowest_fit(buf, placed, alignment)
            placed.append(buf)
            continue
        conflicts = sorted(
            (p for p in placed if p.first <= buf.last and buf.first <= p.last),
            key=lambda p: (p.offset, p.size),
        )
        offset = 0
        for p in conflicts:
            if offset + buf.size <= p.offset:
                break
            offset = max(offset, align(p.offset + p.size, alignment))
        buf.offset = offset
        placed.append(buf)


def _lowest_fit(buf: Buffer, placed: list[Buffer], alignment: int) -> int:
    """Lowest aligned offset where no part of ``buf`` meets a part of a placed buffer in time
    and space: each conflict rules out every offset up to the one just past it."""
    offset = 0
    while True:
        bump = offset
        for r, s, f, last in buf.extents():
            for p in placed:
                for pr, ps, pf, pl in p.extents():
                    start = p.offset + pr
                    if f <= pl and pf <= last and offset + r < start + ps and start < offset + r + s:
                        bump = max(bump, align(start + ps - r, alignment))
        if bump == offset:
            return offset
        offset = bump
