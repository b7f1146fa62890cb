"""Memory regions (``--memory-regions``, qcompile.memory.regions): the region file, the
hottest-first assignment, and on random DAGs that every region's plan is sound (no two live
buffers overlap within a region, every buffer inside its region's size) or one clear error."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcompile.errors import QCompileError
from qcompile.ir import Graph
from qcompile.memory import MemoryPlan, plan_memory
from qcompile.memory.regions import Region, load_regions

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_planner import _graph, _random_graph  # noqa: E402

# ---- the region file -------------------------------------------------------------------


def test_regions_file_sorted_fastest_first(tmp_path: Path) -> None:
    path = tmp_path / "regions.toml"
    path.write_text(
        '[ext]\nsize = 1048576\ncycles = 12\nsection = ".ext_bss"\n\n'
        '[sram]\nsize = 262144\ncycles = 2\n\n[dtcm]\nsize = 65536\ncycles = 1\nsection = ".dtcm"\n'
    )
    regions = load_regions(path)
    assert [r.name for r in regions] == ["dtcm", "sram", "ext"]
    assert regions[0] == Region("dtcm", 65536, 1.0, ".dtcm")
    assert regions[1].section is None
    # ties keep the file order
    same = load_regions({"b": {"size": 8, "speed": 1}, "a": {"size": 8, "speed": 1}})
    assert [r.name for r in same] == ["b", "a"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "no regions defined"),
        ({"dtcm": 5}, r"\[dtcm\] must be a table"),
        ({"dtcm": {"size": 8, "speed": 1, "sped": 2}}, "unknown key.*sped"),
        ({"dtcm": {"speed": 1}}, "size must be a positive number of bytes"),
        ({"dtcm": {"size": 0, "speed": 1}}, "size must be a positive"),
        ({"dtcm": {"size": "64K", "speed": 1}}, "size must be a positive"),
        ({"dtcm": {"size": 8}}, "exactly one of speed"),
        ({"dtcm": {"size": 8, "speed": 1, "cycles": 1}}, "exactly one of speed"),
        ({"dtcm": {"size": 8, "speed": -1}}, "non-negative"),
        ({"dtcm": {"size": 8, "speed": 1, "section": "a b"}}, "section 'a b'"),
        ({"my-ram": {"size": 8, "speed": 1}}, "C identifier"),
        ({"dtcm": {"size": 8, "speed": 1}, "DTCM": {"size": 8, "speed": 2}}, "defined twice"),
    ],
)
def test_bad_region_descriptions(data: dict, message: str) -> None:
    with pytest.raises(QCompileError, match=message):
        load_regions(data)


def test_unreadable_regions_file(tmp_path: Path) -> None:
    with pytest.raises(QCompileError, match="--memory-regions .*missing.toml: cannot read it"):
        load_regions(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[dtcm\nsize = 1")
    with pytest.raises(QCompileError, match="bad.toml: cannot read it"):
        load_regions(bad)


# ---- assignment --------------------------------------------------------------------------


def test_hottest_buffer_goes_to_the_fastest_region() -> None:
    """``hot`` is read by three layers, ``cold`` by one: only one fits the fast region."""
    g = _graph(
        {"x": 4},
        [
            ("a", "op", ["x"], "cold", 100),
            ("b", "op", ["x"], "hot", 100),
            ("c", "op", ["hot", "cold"], "u", 4),
            ("d", "op", ["hot", "u"], "v", 4),
            ("e", "op", ["hot", "v"], "y", 4),
        ],
        ["y"],
    )
    regions = (Region("fast", 112, 1), Region("slow", 1024, 5))
    plan = plan_memory(g, scratch={}, alignment=4, regions=regions)
    assert plan.locations["hot"].region == 0
    assert plan.locations["cold"].region == 1
    assert [u.used for u in plan.regions] == [plan.regions[0].used, plan.regions[1].used]
    assert plan.arena_size == sum(u.used for u in plan.regions)
    assert "hot" in plan.regions[0].buffers and "cold" in plan.regions[1].buffers
    assert plan.regions[0].traffic > plan.regions[1].traffic > 0


def test_everything_in_the_fast_region_when_it_fits() -> None:
    g = _graph({"x": 4}, [("a", "op", ["x"], "t", 64), ("b", "op", ["t"], "y", 4)], ["y"])
    plan = plan_memory(g, scratch={"a": 32}, alignment=4, regions=(Region("fast", 4096, 1), Region("slow", 10, 2)))
    assert all(loc.region == 0 for loc in plan.locations.values() if loc.kind == "arena")
    assert plan.scratch_regions == {"a": 0}
    assert plan.regions[1].used == 0


def test_no_region_fits_names_the_buffer_and_the_regions() -> None:
    g = _graph({"x": 4}, [("a", "op", ["x"], "big", 300), ("b", "op", ["big"], "y", 4)], ["y"])
    with pytest.raises(QCompileError) as info:
        plan_memory(g, scratch={}, alignment=4, regions=(Region("dtcm", 128, 1), Region("sram", 256, 2)))
    message = str(info.value)
    assert "buffer 'big' (300 B)" in message and "fits in no region" in message
    assert "dtcm 128 B" in message and "sram 256 B" in message


# ---- random DAGs ------------------------------------------------------------------------


@st.composite
def _random_case(draw: st.DrawFn) -> tuple[Graph, dict[str, int], tuple[Region, ...]]:
    """test_planner's random DAG (views, in-place ops, scratch) and one to three regions."""
    g, scratch = draw(_random_graph())
    n_regions = draw(st.integers(1, 3))
    regions = tuple(Region(f"r{i}", draw(st.integers(1, 400)), float(i)) for i in range(n_regions))
    return g, scratch, regions


def _blocks(g: Graph, plan: MemoryPlan) -> list[tuple[int, int, int, int, int, str]]:
    """(region, offset, size, first step, last step, what) of every arena buffer and scratch."""
    seen: dict[tuple[int, int, int, int], str] = {}
    for name, (first, last) in plan.lifetimes.items():
        loc = plan.locations[name]
        seen.setdefault((loc.region, loc.offset, first, last), name)
    blocks = [(r, off, g.tensors[name].nbytes, f, la, name) for (r, off, f, la), name in seen.items()]
    steps = {n.name: i for i, n in enumerate(g.nodes)}
    for node, off in plan.scratch_offsets.items():
        s = steps[node]
        blocks.append((plan.scratch_regions[node], off, plan.scratch_sizes[node], s, s, f"scratch:{node}"))
    return blocks


def _check_no_overlap(g: Graph, plan: MemoryPlan, alignment: int) -> None:
    blocks = _blocks(g, plan)
    for region, off, size, _, _, what in blocks:
        assert off % alignment == 0, what
        assert off + size <= plan.regions[region].used <= plan.regions[region].region.size, what
    for i, (r1, o1, s1, f1, l1, a) in enumerate(blocks):
        for r2, o2, s2, f2, l2, b in blocks[i + 1 :]:
            if r1 == r2 and f1 <= l2 and f2 <= l1:
                assert o1 + s1 <= o2 or o2 + s2 <= o1, (a, b)


def _simulate(g: Graph, plan: MemoryPlan) -> None:
    """Run the schedule on byte owners per region: every read sees the value written for it."""
    memory = {i: np.full(max(u.used, 1), "", dtype=object) for i, u in enumerate(plan.regions)}
    value: dict[str, str] = {}

    def view(name: str) -> np.ndarray | None:
        loc = plan.locations[name]
        if loc.kind != "arena":
            return None
        return memory[loc.region][loc.offset : loc.offset + g.tensors[name].nbytes]

    def write(name: str, val: str) -> None:
        value[name] = val
        mem = view(name)
        if mem is not None:
            mem[:] = val

    for name in g.inputs:
        write(name, name)
    for step, node in enumerate(g.nodes):
        for name in node.inputs:
            mem = view(name)
            assert mem is None or all(v == value[name] for v in mem), f"{name} clobbered before step {step}"
        if node.name in plan.scratch_offsets:
            off = plan.scratch_offsets[node.name]
            memory[plan.scratch_regions[node.name]][off : off + plan.scratch_sizes[node.name]] = "scratch"
        (out,) = node.outputs
        if node.op == "reshape" and node.name not in plan.copy_reshapes:
            value[out] = value[node.inputs[0]]
        else:
            write(out, value[node.inputs[0]] if node.op == "reshape" else f"v:{out}")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_random_case(), st.sampled_from([1, 4, 16]), st.booleans())
def test_random_dags_over_regions(
    case: tuple[Graph, dict[str, int], tuple[Region, ...]], alignment: int, io_in_arena: bool
) -> None:
    g, scratch, regions = case
    if io_in_arena and any(g.tensors[o].data is not None for o in g.outputs):
        return
    try:
        plan = plan_memory(g, scratch=scratch, alignment=alignment, regions=regions, io_in_arena=io_in_arena)
    except QCompileError as exc:
        assert "fits in no region" in str(exc)
        # really nothing fits: some buffer (or live set) is larger than every region
        single = plan_memory(g, scratch=scratch, alignment=alignment, io_in_arena=io_in_arena)
        assert single.arena_size > min(r.size for r in regions)
        return
    assert [u.region for u in plan.regions] == list(regions)
    assert plan.arena_size == sum(u.used for u in plan.regions)
    assert plan.row_bands == {}
    _check_no_overlap(g, plan, alignment)
    _simulate(g, plan)
    assert plan_memory(g, scratch=scratch, alignment=alignment, regions=regions, io_in_arena=io_in_arena) == plan
