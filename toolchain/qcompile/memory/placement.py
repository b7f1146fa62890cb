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


#: more orders when outputs may overlap their inputs (memory.overlap): an output sits below its
#: input, so placing the later buffers first lets the chain start at offset 0
OVERLAP_ORDERS = (
    lambda b: (-b.last, -b.size, b.key),  # last use first
    lambda b: (-b.first, -b.size, b.key),  # latest first use first
)


def place(buffers: list[Buffer], alignment: int) -> None:
    """Set every buffer's offset: the greedy in each of :data:`ORDERS`, smallest arena kept."""
    best: tuple[int, list[int]] | None = None
    constrained = any(b.below for b in buffers)
    for key in ORDERS + (OVERLAP_ORDERS if constrained else ()):
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
        if buf.below or buf.above:
            buf.offset = lowest_fit(buf, placed, alignment)
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


def _forbidden(buf: Buffer, p: Buffer) -> list[tuple[int, int]]:
    """Open intervals of offsets for ``buf`` that collide with placed ``p`` (they meet in time).

    Normally ``buf`` must not overlap ``p`` at all. An output may overlap the input it
    consumes when its offset minus the input's is at most ``d`` (contract ``pixels``) or
    exactly ``d`` (``channel``), see :mod:`qcompile.memory.overlap`."""
    lo, hi = p.offset - buf.size, p.offset + p.size
    if p.key in buf.below:  # buf is the output, p its input: buf.offset <= p.offset + d
        d, contract = buf.below[p.key]
        mid, low_ok = p.offset + d, True
    elif p.key in buf.above:  # buf is the input, p its output: buf.offset >= p.offset - d
        d, contract = buf.above[p.key]
        mid, low_ok = p.offset - d, False
    else:
        return [(lo, hi)]
    if contract == "pixels":
        result = [(max(lo, mid), hi)] if low_ok else [(lo, min(mid, hi))]
    else:  # only exactly mid
        result = [(lo, min(mid, hi)), (max(mid, lo), hi)]
    return [(a, b) for a, b in result if a < b]


def lowest_fit(buf: Buffer, placed: list[Buffer], alignment: int) -> int:
    """Lowest aligned offset outside every forbidden interval of the time-overlapping placed buffers."""
    intervals = sorted(iv for p in placed if p.first <= buf.last and buf.first <= p.last for iv in _forbidden(buf, p))
    offset, moved = 0, True
    while moved:
        moved = False
        for lo, hi in intervals:
            if lo < offset < hi:
                offset, moved = align(hi, alignment), True
    return offset
