"""Greedy placement: the lowest free aligned offset, and the best of several orders."""

from __future__ import annotations

from qcompile.memory.lifetimes import Buffer, arena_end
from qcompile.memory.placement import align, place, place_in_order


def _buf(key: str, size: int, first: int, last: int) -> Buffer:
    return Buffer(key, size, first, last, [key])


def test_align() -> None:
    assert [align(v, 16) for v in (0, 1, 16, 17)] == [0, 16, 16, 32]
    assert align(5, 1) == 5


def test_greedy_takes_the_lowest_gap_that_fits_between_live_buffers() -> None:
    early, e = _buf("early", 16, 0, 0), _buf("e", 16, 0, 2)
    f, g, h = _buf("f", 8, 1, 2), _buf("g", 8, 1, 1), _buf("h", 12, 1, 1)
    place_in_order([early, e, f, g, h], 4)
    assert (early.offset, e.offset) == (0, 16)
    assert f.offset == 0  # `early` is dead from step 1 on
    assert g.offset == 8  # the gap between f and e
    assert h.offset == 32  # no gap of 12 bytes is left below e's end
    place_in_order([f, g], 16)
    assert (f.offset, g.offset) == (0, 16)  # alignment rounds the gap away


def test_place_keeps_the_smallest_of_its_orders() -> None:
    # step 1 holds a (10), b (5) and a scratch (20). Largest first needs 53 bytes with
    # 16-byte alignment; by first use, 52: place must keep the latter
    a, b, s = _buf("a", 10, 0, 1), _buf("b", 5, 1, 2), _buf("s", 20, 1, 1)
    place_in_order(sorted([a, b, s], key=lambda x: -x.size), 16)
    assert arena_end([a, b, s]) == 53
    place([a, b, s], 16)
    assert arena_end([a, b, s]) == 52
    assert (a.offset, b.offset, s.offset) == (0, 16, 32)
