"""Memory planner: exact offsets on hand cases, and on random DAGs a byte-level simulation
proving that every read sees the value written for it (no live buffer is clobbered)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcompile.errors import QCompileError
from qcompile.ir import Graph, Node, Tensor
from qcompile.memory import Location, MemoryPlan, plan_memory
from qcompile.memory.inplace import INPLACE_OPS


def _graph(inputs: dict[str, int], nodes: list[tuple[str, str, list[str], str, int]], outputs: list[str]) -> Graph:
    """nodes: (name, op, inputs, output, output bytes)."""
    g = Graph("t")
    for name, size in inputs.items():
        g.add_tensor(Tensor(name, (size,), "int8"))
    for name, op, ins, out, size in nodes:
        if out not in g.tensors:
            g.add_tensor(Tensor(out, (size,), "int8"))
        g.add_node(Node(name, op, ins, [out]))
    g.inputs = list(inputs)
    g.outputs = outputs
    return g


# ---- hand cases ----------------------------------------------------------------------


def test_io_in_arena_reuses_the_consumed_input() -> None:
    """--io-in-arena: the input is live from step -1 to its last reader and then its bytes
    are reused; the output lives until after the last step; no output copies."""
    g = _graph(
        {"x": 64}, [("n0", "op", ["x"], "a", 32), ("n1", "op", ["a"], "b", 64), ("n2", "op", ["b"], "y", 16)], ["y"]
    )
    plan = plan_memory(g, scratch={}, io_in_arena=True)
    assert plan.io_in_arena and not plan.output_copies
    assert plan.locations["x"].kind == plan.locations["y"].kind == "arena"
    assert plan.lifetimes["x"] == (-1, 0) and plan.lifetimes["y"] == (2, 3)
    assert plan.offsets["b"] == plan.offsets["x"]  # b reuses the consumed input's bytes
    assert plan.arena_size == 96 == plan.lower_bound


def test_io_in_arena_rejects_a_constant_output() -> None:
    g = _graph({"x": 4}, [("n0", "op", ["x"], "y", 4)], ["y", "w"])
    g.add_tensor(Tensor("w", (4,), "int8", data=np.zeros(4, np.int8)))
    with pytest.raises(QCompileError, match="constant"):
        plan_memory(g, scratch={}, io_in_arena=True)


def test_chain_exact_offsets() -> None:
    g = _graph(
        {"x": 16},
        [
            ("n0", "op", ["x"], "a", 64),
            ("n1", "op", ["a"], "b", 32),
            ("n2", "op", ["b"], "c", 64),
            ("n3", "op", ["c"], "y", 8),
        ],
        ["y"],
    )
    plan = plan_memory(g, scratch={})
    # largest first: a at 0; c (disjoint in time from a) also at 0; b overlaps both -> 64
    assert plan.offsets == {"a": 0, "b": 64, "c": 0}
    assert plan.arena_size == 96
    assert plan.lower_bound == 96
    assert plan.locations["x"] == Location("input", index=0)
    assert plan.locations["y"] == Location("output", index=0)
    assert plan.lifetimes == {"a": (0, 1), "b": (1, 2), "c": (2, 3)}


def test_alignment_and_scratch() -> None:
    g = _graph(
        {"x": 4}, [("n0", "op", ["x"], "a", 10), ("n1", "op", ["a"], "b", 5), ("n2", "op", ["b"], "y", 3)], ["y"]
    )
    plan = plan_memory(g, scratch={"n1": 20}, alignment=16)
    # step 1 holds a (10), b (5) and the scratch (20). Largest first (scratch at 0, a at
    # 32, b at 48) needs 53 bytes; by first use (a at 0, b at 16, scratch at 32) only 52,
    # and the planner keeps the smaller of its orders
    assert plan.scratch_offsets == {"n1": 32}
    assert plan.scratch_sizes == {"n1": 20}
    assert plan.offsets == {"a": 0, "b": 16}
    assert plan.arena_size == 52
    assert plan.lower_bound == 35
    assert plan.peak_step == 1 and plan.peak_live == (("scratch of n1", 20), ("a", 10), ("b", 5))
    plan8 = plan_memory(g, scratch={"n1": 20}, alignment=8)
    assert plan8.offsets == {"a": 0, "b": 16} and plan8.arena_size == 44
    plan1 = plan_memory(g, scratch={"n1": 20}, alignment=1)
    assert plan1.arena_size == plan1.lower_bound == 35
    with pytest.raises(QCompileError):
        plan_memory(g, scratch={}, alignment=12)


def test_scratch_zero_means_none() -> None:
    g = _graph({"x": 4}, [("n0", "op", ["x"], "y", 4)], ["y"])
    plan = plan_memory(g, scratch={"n0": 0})
    assert plan.scratch_offsets == {} and plan.arena_size == 0 and plan.lower_bound == 0


def test_reshape_is_an_alias_with_union_lifetime() -> None:
    g = _graph(
        {"x": 8},
        [
            ("n0", "op", ["x"], "a", 32),
            ("r", "reshape", ["a"], "ar", 32),
            ("n2", "op", ["ar"], "b", 32),
            ("n3", "op", ["b", "a"], "y", 4),
        ],
        ["y"],
    )
    plan = plan_memory(g, scratch={})
    assert plan.offsets["a"] == plan.offsets["ar"]
    assert plan.lifetimes["a"] == plan.lifetimes["ar"] == (0, 3)
    assert plan.offsets["b"] != plan.offsets["a"]
    assert not plan.copy_reshapes


def test_output_buffer_receives_producer_of_reshaped_output() -> None:
    g = _graph({"x": 8}, [("n0", "op", ["x"], "a", 16), ("r", "reshape", ["a"], "y", 16)], ["y"])
    plan = plan_memory(g, scratch={})
    assert plan.locations["a"] == plan.locations["y"] == Location("output", index=0)
    assert plan.arena_size == 0 and not plan.copy_reshapes and not plan.output_copies


def test_output_reshaped_from_input_is_copied() -> None:
    g = _graph({"x": 8}, [("r", "reshape", ["x"], "y", 8)], ["y"])
    plan = plan_memory(g, scratch={})
    assert plan.copy_reshapes == {"r"}
    assert plan.locations["x"].kind == "input" and plan.locations["y"] == Location("output", index=0)


def test_two_outputs_aliasing_each_other() -> None:
    g = _graph(
        {"x": 8},
        [("n0", "op", ["x"], "a", 16), ("r", "reshape", ["a"], "b", 16)],
        ["a", "b", "a"],
    )
    plan = plan_memory(g, scratch={})
    assert plan.locations["a"] == Location("output", index=0)
    assert plan.locations["b"] == Location("output", index=1)
    assert plan.copy_reshapes == {"r"}
    assert plan.output_copies == ((2, "a"),)


def test_input_that_is_an_output_and_output_consumed_later() -> None:
    g = _graph({"x": 8}, [("n0", "op", ["x"], "a", 16), ("n1", "op", ["a"], "b", 16)], ["x", "a", "b"])
    plan = plan_memory(g, scratch={})
    assert plan.output_copies == ((0, "x"),)
    # `a` lives in its caller buffer and is read back from there by n1
    assert plan.locations["a"] == Location("output", index=1)
    assert plan.arena_size == 0


def test_intermediate_copied_to_output_at_the_end_stays_live() -> None:
    g = _graph({"x": 8}, [("n0", "op", ["x"], "a", 16), ("n1", "op", ["x"], "b", 16)], ["b", "b"])
    plan = plan_memory(g, scratch={})
    assert plan.output_copies == ((1, "b"),)
    assert plan.locations["b"] == Location("output", index=0)
    assert "a" in plan.offsets and plan.lifetimes["a"] == (0, 0)


def test_inplace_chain_shares_one_buffer() -> None:
    g = _graph(
        {"x": 8},
        [
            ("n0", "op", ["x"], "a", 32),
            ("n1", "op", ["x"], "b", 32),
            ("n2", "add", ["a", "b"], "c", 32),  # a and b die here: c takes a's buffer
            ("n3", "lut", ["c"], "d", 32),  # c dies here: d takes it too
            ("n4", "op", ["d"], "y", 4),
        ],
        ["y"],
    )
    plan = plan_memory(g, scratch={}, alignment=1)
    assert plan.inplace == {"n2": "a", "n3": "c"}
    assert plan.offsets["a"] == plan.offsets["c"] == plan.offsets["d"] != plan.offsets["b"]
    assert plan.arena_size == plan.lower_bound == 64
    _simulate(g, plan)


def test_no_inplace_when_the_input_is_read_later_or_is_a_caller_buffer() -> None:
    g = _graph(
        {"x": 16},
        [("n0", "lut", ["x"], "a", 16), ("n1", "lut", ["a"], "b", 16), ("n2", "add", ["a", "b"], "y", 16)],
        ["y"],
    )
    plan = plan_memory(g, scratch={}, alignment=1)
    assert "n0" not in plan.inplace and "n1" not in plan.inplace  # x is the caller's; a is read by n2
    assert plan.offsets["a"] != plan.offsets["b"]
    # conv2d_add never writes over its conv input, even when it is also the residual
    g2 = _graph({"x": 4}, [("n0", "op", ["x"], "a", 16), ("n1", "conv2d_add", ["a", "", "", "a"], "b", 16),
                           ("n2", "op", ["b"], "y", 4)], ["y"])  # fmt: skip
    plan2 = plan_memory(g2, scratch={}, alignment=1)
    assert plan2.inplace == {} and plan2.offsets["a"] != plan2.offsets["b"]


def test_read_before_produced_is_an_error() -> None:
    g = _graph({"x": 8}, [("n0", "op", ["x", "ghost"], "y", 8)], ["y"])
    g.add_tensor(Tensor("ghost", (8,), "int8"))
    with pytest.raises(QCompileError, match="ghost"):
        plan_memory(g, scratch={})


# ---- random DAGs: byte-level simulation --------------------------------------------


def _space(loc: Location) -> tuple[str, int | str]:
    if loc.kind == "arena":
        return ("arena", 0)
    if loc.kind == "const":
        return ("const", loc.tensor)
    return (loc.kind, loc.index)


def _simulate(g: Graph, plan: MemoryPlan) -> None:
    """Execute the schedule on byte owners; every read must see the value meant for it."""
    memory: dict[tuple[str, int | str], np.ndarray] = {}
    value: dict[str, str] = {}

    def region(name: str) -> tuple[np.ndarray, slice]:
        loc = plan.locations[name]
        space = _space(loc)
        if space not in memory:
            memory[space] = np.full(max(plan.arena_size, 4096), "", dtype=object)
        start = loc.offset if loc.kind == "arena" else 0
        return memory[space], slice(start, start + g.tensors[name].nbytes)

    def write(name: str, val: str) -> None:
        mem, sl = region(name)
        mem[sl] = val
        value[name] = val

    def check(name: str) -> None:
        mem, sl = region(name)
        assert all(v == value[name] for v in mem[sl]), f"{name} was clobbered"

    for name in g.inputs:
        write(name, name)
    for node in g.nodes:
        for name in node.inputs:
            check(name)
        (out,) = node.outputs
        if node.op == "reshape":
            if node.name in plan.copy_reshapes:
                write(out, value[node.inputs[0]])
            else:
                assert plan.locations[out] == plan.locations[node.inputs[0]]
                value[out] = value[node.inputs[0]]
        else:
            # outputs never overlap inputs or scratch, except an in-place output, which
            # must coincide exactly with an element-wise input (later reads of that input
            # then see the new value and fail the check above)
            mem_o, sl_o = region(out)
            for k, name in enumerate(node.inputs):
                mem_i, sl_i = region(name)
                if mem_i is mem_o and not (sl_i.stop <= sl_o.start or sl_o.stop <= sl_i.start):
                    assert plan.inplace.get(node.name) is not None, f"{node.name} runs in place"
                    assert k in INPLACE_OPS[node.op] and sl_i == sl_o, f"{node.name}: bad in-place overlap"
            if node.name in plan.scratch_offsets:
                off, size = plan.scratch_offsets[node.name], plan.scratch_sizes[node.name]
                assert off % plan.alignment == 0 and off + size <= plan.arena_size
                for name in [*node.inputs, out]:
                    mem_i, sl_i = region(name)
                    if plan.locations[name].kind == "arena":
                        assert sl_i.stop <= off or off + size <= sl_i.start, f"scratch of {node.name} hits {name}"
                memory.setdefault(("arena", 0), np.full(max(plan.arena_size, 4096), "", dtype=object))
                memory[("arena", 0)][off : off + size] = f"scratch:{node.name}"
            write(out, f"v:{out}")
    for index, name in plan.output_copies:
        check(name)
        memory[("output", index)] = np.full(4096, "", dtype=object)
        memory[("output", index)][: g.tensors[name].nbytes] = value[name]
    for index, name in enumerate(g.outputs):
        out_mem = memory[("output", index)]
        assert all(v == value[name] for v in out_mem[: g.tensors[name].nbytes]), f"output {index} wrong"


@st.composite
def _random_graph(draw: st.DrawFn) -> tuple[Graph, dict[str, int]]:
    n_inputs = draw(st.integers(1, 2))
    inputs = {f"in{i}": draw(st.integers(1, 64)) for i in range(n_inputs)}
    available = list(inputs)
    nodes = []
    scratch = {}
    for i in range(draw(st.integers(1, 12))):
        name, out = f"n{i}", f"t{i}"
        if draw(st.booleans()) and draw(st.booleans()):
            src = draw(st.sampled_from(available))
            size = inputs.get(src) or next(s for (_, _, _, o, s) in nodes if o == src)
            nodes.append((name, "reshape", [src], out, size))
        else:
            k = draw(st.integers(1, min(3, len(available))))
            ins = draw(st.lists(st.sampled_from(available), min_size=k, max_size=k))
            op = draw(st.sampled_from(["op", "op", "add", "lut"]))
            size = draw(st.integers(1, 100))
            if op != "op":
                # element-wise: the output has the size of its inputs (sometimes different: no in place then)
                ins = ins[: 2 if op == "add" else 1]
                first = ins[0]
                size = inputs.get(first) or next(s for (_, _, _, o, s) in nodes if o == first)
                if draw(st.integers(0, 4)) == 0:
                    size += 1
            nodes.append((name, op, ins, out, size))
            if draw(st.booleans()):
                scratch[name] = draw(st.integers(0, 80))
        available.append(out)
    outputs = draw(st.lists(st.sampled_from(available), min_size=1, max_size=3))
    return _graph(inputs, nodes, outputs), scratch


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_random_graph(), st.sampled_from([1, 4, 16]))
def test_random_dags(case: tuple[Graph, dict[str, int]], alignment: int) -> None:
    g, scratch = case
    plan = plan_memory(g, scratch=scratch, alignment=alignment)
    assert plan.arena_size >= plan.lower_bound
    for name, off in plan.offsets.items():
        assert off % alignment == 0
        assert off + g.tensors[name].nbytes <= plan.arena_size
    # two arena buffers of different values that are live together never overlap
    roots = {}
    for name, (first, last) in plan.lifetimes.items():
        roots.setdefault((plan.offsets[name], first, last), name)
    items = list(roots.items())
    for i, ((o1, f1, l1), a) in enumerate(items):
        for (o2, f2, l2), b in items[i + 1 :]:
            if f1 <= l2 and f2 <= l1:
                s1, s2 = g.tensors[a].nbytes, g.tensors[b].nbytes
                assert o1 + s1 <= o2 or o2 + s2 <= o1, (a, b)
    _simulate(g, plan)
    # determinism
    assert plan_memory(g, scratch=scratch, alignment=alignment) == plan


# ---- row bands: conv scratch in dead bytes (qcompile.memory.row_bands) ---------------


def _conv_graph(
    input_hw: tuple[int, int, int], layers: list[tuple[str, str, list[str], str, tuple[int, int, int], int, int, int]]
) -> tuple[Graph, dict[str, int]]:
    """layers: (node, op, inputs, output, output (H, W, C), kernel_h, stride_h, pad_top).

    Returns the graph and each conv node's kernel height (the simulation's read window)."""
    g = Graph("bands")
    g.add_tensor(Tensor("x", (1, *input_hw), "int8"))
    kh = {}
    for name, op, ins, out, hwc, k, stride, pad in layers:
        g.add_tensor(Tensor(out, (1, *hwc), "int8"))
        g.add_node(Node(name, op, ins, [out], {"strides": (stride, 1), "pads": (pad, 0, pad, 0)}))
        kh[name] = k
    g.inputs = ["x"]
    g.outputs = [layers[-1][3]]
    return g, kh


def _simulate_rows(g: Graph, plan: MemoryPlan, kh: dict[str, int]) -> None:
    """Row-level replay of the schedule in the documented access order of the row-band
    kernels (qc_conv2d_rows.c): every input row, residual row and scratch byte read must
    still hold what was written for it."""
    arena = np.full(max(plan.arena_size, 1), "", dtype=object)
    value: dict[str, str] = {}

    def rows(name: str) -> tuple[int, int, int]:
        t = g.tensors[name]
        loc = plan.locations[name]
        row = int(t.shape[2]) * int(t.shape[3])
        return (loc.offset if loc.kind == "arena" else -1), row, int(t.shape[1])

    def check_row(name: str, r: int) -> None:
        off, row, _ = rows(name)
        if off >= 0:
            assert all(v == f"{value[name]}:{r}" for v in arena[off + r * row : off + (r + 1) * row]), (name, r)

    def write_row(name: str, r: int) -> None:
        off, row, _ = rows(name)
        if off >= 0:
            arena[off + r * row : off + (r + 1) * row] = f"{value[name]}:{r}"

    value["x"] = "x"
    for step, node in enumerate(g.nodes):
        x, y = node.inputs[0], node.outputs[0]
        value[y] = f"v{step}"
        if node.op not in ("conv2d", "conv2d_add"):
            for r in range(rows(x)[2]):
                check_row(x, r)
            for r in range(rows(y)[2]):
                write_row(y, r)
            continue
        sh, pt, in_h, out_h = node.attrs["strides"][0], node.attrs["pads"][0], rows(x)[2], rows(y)[2]
        begin, end = plan.row_bands.get(node.name, (0, out_h))
        scratch = plan.scratch_offsets.get(node.name) if begin < end else None
        size = plan.scratch_sizes.get(node.name, 0)
        if begin < end and size:
            assert scratch is not None
        old_residual = value.get(node.inputs[-1]) if node.op == "conv2d_add" else None

        def compute(oy: int, *, fast: bool) -> None:
            for iy in range(oy * sh - pt, oy * sh - pt + kh[node.name]):
                if 0 <= iy < in_h:
                    check_row(x, iy)
            if fast and scratch is not None:
                assert all(v == f"scratch:{node.name}" for v in arena[scratch : scratch + size]), (node.name, oy)
            if old_residual is not None:
                residual = node.inputs[-1]
                saved, value[residual] = value[residual], old_residual
                check_row(residual, oy)
                value[residual] = saved
            write_row(y, oy)

        for oy in range(begin):
            compute(oy, fast=False)
        if scratch is not None:
            arena[scratch : scratch + size] = f"scratch:{node.name}"
        for oy in range(begin, end):
            compute(oy, fast=True)
        for oy in range(end, out_h):
            compute(oy, fast=False)
    for r in range(rows(g.outputs[0])[2]):
        if plan.locations[g.outputs[0]].kind == "arena":
            check_row(g.outputs[0], r)


def _resnet_block() -> tuple[Graph, dict[str, int], dict[str, int]]:
    """ResNet-8's first block at the planner's level: x0 -> conv a -> conv2d_add(a, x0)."""
    g, kh = _conv_graph(
        (32, 32, 3),
        [
            ("c0", "conv2d", ["x"], "x0", (32, 32, 16), 3, 1, 1),
            ("c1", "conv2d", ["x0"], "a", (32, 32, 16), 3, 1, 1),
            ("c2", "conv2d_add", ["a", "", "", "x0"], "b", (32, 32, 16), 3, 1, 1),
            ("c3", "conv2d", ["b"], "y", (16, 16, 32), 3, 2, 1),
        ],
    )
    return g, kh, {"c0": 544, "c1": 1696, "c2": 2208, "c3": 1696}


def test_row_bands_reach_the_live_tensors_of_the_resnet_block() -> None:
    g, kh, scratch = _resnet_block()
    full = plan_memory(g, scratch=scratch)
    assert full.arena_size == 32_768 + 2208 and not full.row_bands  # scratch on top of x0 + a
    plan = plan_memory(g, scratch=scratch, row_split_ops={"conv2d", "conv2d_add"})
    assert plan.arena_size == plan.lower_bound == 32_768
    assert plan.inplace == {"c2": "x0"}
    # c1: scratch in a's last rows (not written yet); c2: in a's first rows (consumed)
    assert plan.row_bands == {"c1": (0, 28), "c2": (6, 32)}
    assert plan.scratch_offsets["c1"] >= plan.offsets["a"] + 28 * 512
    assert plan.scratch_offsets["c2"] + 2208 <= plan.offsets["a"] + 5 * 512
    _simulate_rows(g, plan, kh)
    # the peak is x0 and a while c1 runs (scratch not counted: the direct rows need none)
    assert plan.peak_step == 1 and [n for n, _ in plan.peak_live] == ["a", "x0"]


def test_row_bands_use_the_budget_for_speed() -> None:
    g, kh, scratch = _resnet_block()
    roomy = plan_memory(g, scratch=scratch, row_split_ops={"conv2d", "conv2d_add"}, budget=40_000)
    assert roomy.row_bands == {} and roomy.arena_size == 32_768 + 2208
    _simulate_rows(g, roomy, kh)
    some = plan_memory(g, scratch=scratch, row_split_ops={"conv2d", "conv2d_add"}, budget=33_584)
    assert some.arena_size <= 33_584
    plan = plan_memory(g, scratch=scratch, row_split_ops={"conv2d", "conv2d_add"})
    fast = lambda p: sum(e - b for b, e in p.row_bands.values())  # noqa: E731
    assert fast(some) > fast(plan)
    _simulate_rows(g, some, kh)


def test_row_bands_never_alias_a_buffer_read_later_or_a_caller_buffer() -> None:
    # c1's input x0 is read again by c2: no aliasing of x0; c0's input is the caller's
    g, kh = _conv_graph(
        (8, 8, 4),
        [
            ("c0", "conv2d", ["x"], "x0", (8, 8, 4), 3, 1, 1),
            ("c1", "conv2d", ["x0"], "a", (8, 8, 4), 3, 1, 1),
            ("c2", "op", ["x0"], "y", (8, 8, 4), 1, 1, 0),
        ],
    )
    g.nodes[2].inputs = ["x0", "a"]
    plan = plan_memory(g, scratch={"c0": 64, "c1": 64}, row_split_ops={"conv2d"}, alignment=4)
    _simulate_rows(g, plan, kh)
    for name, (begin, _) in plan.row_bands.items():
        assert begin == 0, name  # only output rows were used


def test_row_bands_all_direct_when_no_byte_is_dead() -> None:
    # c1 runs in place over r and its conv input x0 is read again by c2: no dead byte at
    # all. By default the arena grows (a band with more than a quarter of direct rows is
    # too slow); within a tight budget every row runs directly (band (0, 0), no scratch)
    g, kh = _conv_graph(
        (8, 8, 4),
        [
            ("c0", "conv2d", ["x"], "x0", (8, 8, 4), 3, 1, 1),
            ("cr", "conv2d", ["x0"], "r", (8, 8, 4), 1, 1, 0),
            ("c1", "conv2d_add", ["x0", "", "", "r"], "b", (8, 8, 4), 3, 1, 1),
            ("c2", "op", ["x0", "b"], "y", (8, 8, 4), 1, 1, 0),
        ],
    )
    scratch = {"cr": 40, "c1": 200}
    plan = plan_memory(g, scratch=scratch, row_split_ops={"conv2d", "conv2d_add"}, alignment=4)
    assert plan.inplace == {"c1": "r"} and "c1" not in plan.row_bands
    assert plan.arena_size == 512 + 200 and plan.lower_bound == 512
    _simulate_rows(g, plan, kh)
    plan = plan_memory(g, scratch=scratch, row_split_ops={"conv2d", "conv2d_add"}, alignment=4, budget=512)
    assert plan.row_bands["c1"] == (0, 0) and "c1" not in plan.scratch_offsets
    assert plan.arena_size == plan.lower_bound == 512
    _simulate_rows(g, plan, kh)


@st.composite
def _random_conv_chain(draw: st.DrawFn) -> tuple[Graph, dict[str, int], dict[str, int]]:
    h, w = draw(st.integers(2, 9)), draw(st.integers(1, 4))
    c = draw(st.integers(1, 8))
    layers = []
    available = [("x", h, w, c)]
    for i in range(draw(st.integers(1, 6))):
        src, sh_, sw_, sc_ = draw(st.sampled_from(available))
        k, stride = draw(st.integers(1, 3)), draw(st.integers(1, 2))
        pad = draw(st.integers(0, k - 1))
        out_h = max(1, (sh_ + 2 * pad - k) // stride + 1)
        oc = draw(st.integers(1, 8))
        op = "conv2d"
        ins = [src]
        same = [a for a in available[1:] if (a[1], a[2], a[3]) == (out_h, sw_, oc) and a[0] != src]
        if same and draw(st.booleans()):
            op, ins = "conv2d_add", [src, "", "", draw(st.sampled_from(same))[0]]
        layers.append((f"c{i}", op, ins, f"t{i}", (out_h, sw_, oc), k, stride, pad))
        available.append((f"t{i}", out_h, sw_, oc))
    g, kh = _conv_graph((h, w, c), layers)
    last = layers[-1][3]
    readers = {i for node in g.nodes for i in node.inputs}
    g.outputs = [last] + [t for t, *_ in available[1:] if t not in readers and t != last]
    scratch = {name: draw(st.integers(0, 3 * h * w * 8)) for name, *_ in layers}
    return g, kh, scratch


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_random_conv_chain(), st.sampled_from([1, 4, 16]), st.sampled_from([None, 0, 200, 10_000]))
def test_random_row_bands(case: tuple[Graph, dict[str, int], dict[str, int]], alignment: int, budget) -> None:
    g, kh, scratch = case
    g.validate()
    plan = plan_memory(g, scratch=scratch, alignment=alignment, row_split_ops={"conv2d", "conv2d_add"}, budget=budget)
    assert plan.arena_size >= plan.lower_bound
    base = plan_memory(g, scratch=scratch, alignment=alignment)
    assert plan.arena_size <= max(base.arena_size, budget or 0)
    assert plan.lower_bound <= base.lower_bound
    out_h = {n.name: g.tensors[n.outputs[0]].shape[1] for n in g.nodes}
    for name, (begin, end) in plan.row_bands.items():
        assert 0 <= begin <= end <= out_h[name] and (begin, end) != (0, out_h[name])
    _simulate_rows(g, plan, kh)
    assert (
        plan_memory(g, scratch=scratch, alignment=alignment, row_split_ops={"conv2d", "conv2d_add"}, budget=budget)
        == plan
    )
