"""Memory regions: the arena split over named RAMs of different speeds (``--memory-regions``).

A microcontroller has several RAMs: a small tightly-coupled one (DTCM: one cycle), the main
SRAM, sometimes external RAM behind a bus (many cycles). A region file names them, with a
size, a speed and optionally the linker section its array goes in::

    [dtcm]
    size = 65536        # bytes
    speed = 1           # rank, smaller is faster (or: cycles = access cycles)
    section = ".dtcm_bss"

    [sram]
    size = 262144
    speed = 2

Regions are used fastest first (ties: file order). The planner gives every arena buffer
(an alias group, or a node's scratch) a region: buffers in decreasing order of traffic (the
bytes read and written per inference, :func:`qcompile.ops.traffic.access_bytes`), each into
the fastest region whose placement (:mod:`~qcompile.memory.placement`, lifetimes as in one
arena) still fits its size; a buffer that fits nowhere is one error naming it, its size and
each region's room. Buffers that may overlap each other (:mod:`~qcompile.memory.overlap`)
move together. Each region becomes its own array in the generated C (region 0, the fastest,
is ``<name>_arena``: the one a caller's arena replaces).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qcompile.errors import QCompileError
from qcompile.ir import Graph
from qcompile.memory.lifetimes import Buffer, arena_end
from qcompile.memory.placement import lowest_fit, place
from qcompile.ops.traffic import access_bytes

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")
#: characters of a linker section name (also --weights-section and --arena-section)
SECTION_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.$")
_KEYS = {"size", "speed", "cycles", "section"}


@dataclass(frozen=True)
class Region:
    """One RAM: ``size`` bytes, ``speed`` (rank or access cycles, smaller is faster),
    ``section`` the linker section of its array (None: the compiler's default .bss)."""

    name: str
    size: int
    speed: float
    section: str | None = None


@dataclass(frozen=True)
class RegionUse:
    """A region as the plan uses it: the bytes its array needs and the buffers in it."""

    region: Region
    used: int
    buffers: tuple[str, ...]
    traffic: int


def load_regions(source: str | Path | Mapping[str, Any] | Sequence[Region] | None) -> tuple[Region, ...]:
    """Regions from a TOML file path, a parsed mapping (``{name: {size, speed, section}}``)
    or :class:`Region` objects; sorted fastest first (ties: given order). () for None."""
    if source is None:
        return ()
    if isinstance(source, Sequence) and not isinstance(source, str):
        regions = list(source)
        if not all(isinstance(r, Region) for r in regions):
            raise QCompileError("memory regions: give a regions.toml path, a mapping or Region objects")
        return _checked(regions, "memory regions")
    if isinstance(source, Mapping):
        data, where = source, "memory regions"
    else:
        path = Path(source)
        where = f"--memory-regions {path}"
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise QCompileError(f"{where}: cannot read it: {exc}") from exc
    return _checked([_region(where, name, spec) for name, spec in data.items()], where)


def _region(where: str, name: Any, spec: Any) -> Region:
    if not isinstance(spec, Mapping):
        raise QCompileError(f"{where}: [{name}] must be a table with size, speed (or cycles) and optional section")
    unknown = sorted(set(spec) - _KEYS)
    if unknown:
        raise QCompileError(f"{where}: region {name!r}: unknown key(s) {', '.join(unknown)} (known: {sorted(_KEYS)})")
    size = spec.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise QCompileError(f"{where}: region {name!r}: size must be a positive number of bytes, got {size!r}")
    if ("speed" in spec) == ("cycles" in spec):
        raise QCompileError(f"{where}: region {name!r}: give exactly one of speed (a rank) or cycles")
    speed = spec.get("speed", spec.get("cycles"))
    if not isinstance(speed, int | float) or isinstance(speed, bool) or not speed >= 0:
        raise QCompileError(f"{where}: region {name!r}: speed/cycles must be a non-negative number, got {speed!r}")
    section = spec.get("section")
    if section is not None and (not isinstance(section, str) or not section or not set(section) <= SECTION_CHARS):
        raise QCompileError(
            f"{where}: region {name!r}: section {section!r}: use letters, digits, '_', '.' and '$' only"
        )
    return Region(str(name), size, float(speed), section)


def _checked(regions: list[Region], where: str) -> tuple[Region, ...]:
    if not regions:
        raise QCompileError(f"{where}: no regions defined (one table per region: [dtcm] size = ..., speed = ...)")
    seen: set[str] = set()
    for r in regions:
        if not _NAME.match(r.name):
            raise QCompileError(
                f"{where}: region name {r.name!r}: use a C identifier (letters, digits, '_', at most 32)"
            )
        if r.name.lower() in seen:
            raise QCompileError(f"{where}: region {r.name!r} is defined twice")
        seen.add(r.name.lower())
    order = sorted(range(len(regions)), key=lambda i: (regions[i].speed, i))
    return tuple(regions[i] for i in order)


def buffer_traffic(graph: Graph, buffers: list[Buffer], scratch_sizes: Mapping[str, int]) -> dict[str, int]:
    """Bytes read + written per inference of each buffer (by key), summed over its tensors."""
    per_tensor: dict[str, int] = {}
    per_scratch: dict[str, int] = {}
    for node in graph.nodes:
        counts, scratch = access_bytes(graph, node, int(scratch_sizes.get(node.name, 0)))
        for name, n in counts.items():
            per_tensor[name] = per_tensor.get(name, 0) + n
        per_scratch[node.name] = scratch
    return {
        b.key: per_scratch.get(b.tensors[0], b.size) if b.is_scratch else sum(per_tensor.get(t, 0) for t in b.tensors)
        for b in buffers
    }


def _units(buffers: list[Buffer]) -> list[list[Buffer]]:
    """Buffers that must share a region: overlapping pairs (below/above) move together."""
    parent = {b.key: b.key for b in buffers}

    def find(k: str) -> str:
        while parent[k] != k:
            k = parent[k]
        return k

    for b in buffers:
        for other in (*b.below, *b.above):
            if other in parent:
                parent[find(other)] = find(b.key)
    units: dict[str, list[Buffer]] = {}
    for b in buffers:
        units.setdefault(find(b.key), []).append(b)
    return [sorted(u, key=lambda b: b.key) for u in units.values()]


def rank_key(unit: list[Buffer], traffic: Mapping[str, int]) -> tuple[int, int, str]:
    """The assignment order: most traffic first (ties: larger, then by name)."""
    return (-sum(traffic[b.key] for b in unit), -sum(b.size for b in unit), unit[0].key)


def _fits(members: list[Buffer], unit: list[Buffer], size: int, alignment: int) -> bool:
    """Place ``unit`` beside ``members`` (already placed) within ``size`` bytes: a lone buffer
    first at the lowest free offset, else (or when that overflows) by the greedy re-placement
    of all of them (overlapped chains need its orders); offsets set on success."""
    saved = [b.offset for b in members]
    placed = list(members)
    for b in unit:
        b.offset = lowest_fit(b, placed, alignment)
        placed.append(b)
    incremental = arena_end(placed)
    if incremental <= size and len(unit) == 1:
        return True
    lowest = [b.offset for b in unit]
    place(members + unit, alignment)
    if arena_end(members + unit) <= min(size, incremental - 1):
        return True
    for b, off in zip(members, saved, strict=True):
        b.offset = off
    if incremental <= size:
        for b, off in zip(unit, lowest, strict=True):
            b.offset = off
        return True
    return False


def assign_regions(
    graph: Graph,
    buffers: list[Buffer],
    regions: Sequence[Region],
    alignment: int,
    scratch_sizes: Mapping[str, int],
) -> tuple[RegionUse, ...]:
    """Give every buffer a region (``Buffer.region``) and an offset in it; hottest first."""
    traffic = buffer_traffic(graph, buffers, scratch_sizes)
    units = sorted(_units(buffers), key=lambda u: rank_key(u, traffic))
    members: list[list[Buffer]] = [[] for _ in regions]
    for unit in units:
        for index, region in enumerate(regions):
            if _fits(members[index], unit, region.size, alignment):
                members[index].extend(unit)
                for b in unit:
                    b.region = index
                break
        else:
            raise QCompileError(_no_room(unit, regions, members))
    return tuple(
        RegionUse(
            region,
            arena_end(members[i]),
            tuple(b.label for b in sorted(members[i], key=lambda b: b.offset)),
            sum(traffic[b.key] for b in members[i]),
        )
        for i, region in enumerate(regions)
    )


def _no_room(unit: list[Buffer], regions: Sequence[Region], members: list[list[Buffer]]) -> str:
    size = sum(b.size for b in unit)
    what = " + ".join(f"{b.label!r} ({b.size:,} B)" for b in unit)
    room = ", ".join(
        f"{r.name} {r.size:,} B ({arena_end(m):,} B already used)" for r, m in zip(regions, members, strict=True)
    )
    last = unit[0]
    return (
        f"memory regions: buffer {what} ({size:,} B, live from layer {max(last.first, 0)} to "
        f"{last.last}) fits in no region: {room}. Enlarge a region, add one, or lower the peak "
        "(--ram-budget lets the planner stream and overlap layers)"
    )


__all__ = ["SECTION_CHARS", "Region", "RegionUse", "assign_regions", "buffer_traffic", "load_regions", "rank_key"]
