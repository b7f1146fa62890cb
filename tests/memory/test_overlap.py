"""Overlapped in-place (qcompile.memory.overlap): the offsets it picks are safe for the access
orders the contracts describe (byte-level simulation of the kernels' read/write order), and
on random DAGs of conv/depthwise/add nodes with random contracts every read still sees the
value written for it, offsets stay inside the reported arena, and the plan is smaller than
(or as large as) the layer-by-layer one."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcompile.errors import QCompileError
from qcompile.ir import Graph, Node, Tensor
from qcompile.memory import MemoryPlan, check_ram_budget, plan_memory
from qcompile.memory.overlap import (
    CHANNEL,
    INTERLEAVED,
    INTERLEAVED4,
    PIXELS,
    Window,
    first_reads,
    max_offset,
    window_of,
)
from qcompile.memory.streams import find_streams

# ---- the kernels' access orders, simulated byte by byte --------------------------------------


def _taps(w: Window, o: int) -> list[int]:
    """Input pixels read by output pixel ``o``."""
    oy, ox = divmod(o, w.out_w)
    result = []
    for ky in range(w.kh):
        iy = oy * w.sh - w.pt + ky * w.dh
        for kx in range(w.kw):
            ix = ox * w.sw - w.pl + kx * w.dw
            if 0 <= iy < w.in_h and 0 <= ix < w.in_w:
                result.append(iy * w.in_w + ix)
    return result


def run_order(w: Window, contract: str, d: int, block: int = 2, group: int = 4) -> bool:
    """Run one node's reads and writes over a byte array with the output at ``d`` bytes from
    the input; True when every read saw the input byte it wanted."""
    in_bytes, out_bytes = w.in_h * w.in_w * w.in_c, w.out_h * w.out_w * w.out_c
    base = max(0, -d)
    mem = np.full(base + max(in_bytes, d + out_bytes) + 1, -1, dtype=np.int64)
    mem[base : base + in_bytes] = np.arange(in_bytes)
    out0 = base + d
    pixels = w.out_h * w.out_w

    def read(pixel: int, channels: range) -> bool:
        at = base + pixel * w.in_c
        return all(mem[at + c] == pixel * w.in_c + c for c in channels)

    if contract == PIXELS:
        for p0 in range(0, pixels, block):
            block_pixels = range(p0, min(p0 + block, pixels))
            if not all(read(t, range(w.in_c)) for o in block_pixels for t in _taps(w, o)):
                return False
            for o in block_pixels:
                mem[out0 + o * w.out_c : out0 + (o + 1) * w.out_c] = -2
        return True
    if contract in (INTERLEAVED, INTERLEAVED4):  # per output channel group: the block's whole windows again
        for p0 in range(0, pixels, block):
            block_pixels = range(p0, min(p0 + block, pixels))
            for c0 in range(0, w.out_c, group):
                if not all(read(t, range(w.in_c)) for o in block_pixels for t in _taps(w, o)):
                    return False
                for o in block_pixels:
                    mem[out0 + o * w.out_c + c0 : out0 + o * w.out_c + min(c0 + group, w.out_c)] = -2
        return True
    for o in range(pixels):
        for c0 in range(0, w.out_c, group):
            channels = range(c0, min(c0 + group, w.out_c))
            if not all(read(t, channels) for t in _taps(w, o)):
                return False
            mem[out0 + o * w.out_c + c0 : out0 + o * w.out_c + channels.stop] = -2
    return True


@st.composite
def _windows(draw: st.DrawFn, same_channels: bool) -> Window:
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    pt, pl = draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1))
    in_h = draw(st.integers((kh - 1) * dh + 1, 8))
    in_w = draw(st.integers((kw - 1) * dw + 1, 8))
    pb, pr = draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1))
    out_h = (in_h + pt + pb - (kh - 1) * dh - 1) // sh + 1
    out_w = (in_w + pl + pr - (kw - 1) * dw - 1) // sw + 1
    in_c = draw(st.integers(1, 9))
    out_c = in_c if same_channels else draw(st.integers(1, 20))
    return Window(in_h, in_w, in_c, out_h, out_w, out_c, kh, kw, sh, sw, pt, pl, dh, dw)


@settings(max_examples=150, deadline=None)
@given(_windows(False), st.integers(1, 4), st.sampled_from([1, 4, 8]))
def test_pixels_offset_is_safe_for_any_block(w: Window, block: int, alignment: int) -> None:
    d = max_offset(w, PIXELS, alignment)
    assert d is not None and d % alignment == 0
    assert run_order(w, PIXELS, d, block=block)


@settings(max_examples=150, deadline=None)
@given(_windows(False), st.sampled_from([1, 4, 8]), st.sampled_from([1, 4, 16]))
def test_interleaved_offsets_are_safe(w: Window, alignment: int, group: int) -> None:
    """The Helium conv (one pixel, four channels at a time) and the NEON conv (blocks of four
    pixels, 16 channels) re-read their windows between output channel groups."""
    d = max_offset(w, INTERLEAVED, alignment)
    assert d is not None and d % alignment == 0
    assert run_order(w, INTERLEAVED, d, block=1, group=group)
    d4 = max_offset(w, INTERLEAVED4, alignment)
    assert d4 is not None and d4 <= d
    assert run_order(w, INTERLEAVED4, d4, block=4, group=group)
    assert run_order(w, INTERLEAVED4, d4, block=1, group=group)


@settings(max_examples=150, deadline=None)
@given(_windows(True), st.sampled_from([1, 4, 8]))
def test_channel_offset_is_safe_per_channel_group(w: Window, alignment: int) -> None:
    d = max_offset(w, CHANNEL, alignment)
    assert d is not None and d % alignment == 0 and d % w.in_c == 0
    assert run_order(w, CHANNEL, d, group=4)
    assert run_order(w, CHANNEL, d, group=1)


def test_offsets_of_the_dscnn_chain() -> None:
    """Depthwise 3x3 'same' on 25x5x64: the output starts one row and one pixel before the
    input (384 B); a pointwise conv of equal channels overlaps exactly; one that doubles its
    channels ends where its input ends."""
    dw = Window(25, 5, 64, 25, 5, 64, 3, 3, pt=1, pl=1)
    assert max_offset(dw, CHANNEL, 32) == -(5 + 1) * 64
    assert run_order(dw, CHANNEL, -384) and not run_order(dw, CHANNEL, -384 + 64)
    pw = Window(25, 5, 64, 25, 5, 64, 1, 1)
    assert max_offset(pw, PIXELS, 32) == 0
    grow = Window(4, 4, 8, 4, 4, 16, 1, 1)
    assert max_offset(grow, PIXELS, 1) == -(16 - 1) * 8
    assert list(first_reads(Window(2, 2, 1, 2, 2, 1, 1, 1))) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="zigzag"):
        max_offset(dw, "zigzag", 4)
    assert max_offset(Window(3, 3, 4, 3, 3, 8, 1, 1), CHANNEL, 4) is None


def test_offsets_of_16x8_layers_count_bytes() -> None:
    """int16 tensors (16x8): the same geometry, twice the bytes, so a negative offset is twice as
    far (an element count taken as bytes would let the output clobber input not yet read)."""
    dw16 = Window(25, 5, 64, 25, 5, 64, 3, 3, pt=1, pl=1, elem=2)
    assert max_offset(dw16, CHANNEL, 32) == -2 * (5 + 1) * 64
    grow16 = Window(4, 4, 8, 4, 4, 16, 1, 1, elem=2)
    assert max_offset(grow16, PIXELS, 1) == -2 * (16 - 1) * 8


# ---- the planner on random DAGs of window nodes ------------------------------------------------


def _act(g: Graph, name: str, shape: tuple[int, ...]) -> str:
    g.add_tensor(Tensor(name, shape, "int8"))
    return name


def _window_node(g: Graph, i: int, x: str, kind: str, k: int, s: int, oc: int) -> str:
    _, h, w, c = g.tensors[x].shape
    pad = k // 2
    oh, ow = (h + 2 * pad - k) // s + 1, (w + 2 * pad - k) // s + 1
    attrs = {"strides": (s, s), "pads": (pad, pad, pad, pad), "dilations": (1, 1), "groups": 1}
    if kind == "dw":
        g.add_tensor(Tensor(f"w{i}", (k, k, c), "int8", np.zeros((k, k, c), np.int8)))
        out, op, attrs["depth_multiplier"] = _act(g, f"t{i}", (1, oh, ow, c)), "depthwise_conv2d", 1
    else:
        g.add_tensor(Tensor(f"w{i}", (oc, k, k, c), "int8", np.zeros((oc, k, k, c), np.int8)))
        out, op = _act(g, f"t{i}", (1, oh, ow, oc)), "conv2d"
    g.add_node(Node(f"n{i}", op, [x, f"w{i}"], [out], attrs))
    return out


@st.composite
def _window_dag(draw: st.DrawFn) -> tuple[Graph, dict[str, str]]:
    g = Graph("w")
    h = draw(st.integers(2, 9))
    available = [_act(g, "x", (1, h, draw(st.integers(1, 6)), draw(st.integers(1, 8))))]
    contracts: dict[str, str] = {}
    for i in range(draw(st.integers(1, 8))):
        x = draw(st.sampled_from(available))
        same = [t for t in available if t != x and g.tensors[t].shape == g.tensors[x].shape]
        if same and draw(st.integers(0, 3)) == 0:  # a residual add joins two branches
            out = _act(g, f"t{i}", g.tensors[x].shape)
            g.add_node(Node(f"n{i}", "add", [x, draw(st.sampled_from(same))], [out]))
        else:
            kind = draw(st.sampled_from(["dw", "conv"]))
            out = _window_node(
                g, i, x, kind, draw(st.sampled_from([1, 3])), draw(st.integers(1, 2)), draw(st.integers(1, 12))
            )
            choice = draw(st.sampled_from([None, PIXELS, CHANNEL] if kind == "dw" else [None, PIXELS]))
            if choice is not None:
                contracts[f"n{i}"] = choice
        available.append(out)
    g.inputs = ["x"]
    g.outputs = draw(st.lists(st.sampled_from(available[1:] or available), min_size=1, max_size=2, unique=True))
    return g, contracts


def _simulate(g: Graph, plan: MemoryPlan, contracts: dict[str, str]) -> None:
    """Run the schedule over tagged arena bytes; window nodes in their contract's order; a
    streamed pair as one step (everything either node reads is intact before it, the ring and
    the consumer's output collide with nothing else the pair reads: the row order inside is
    stream_safe's and the execution tests')."""
    mem = np.full(plan.arena_size + 1, -1, dtype=np.int64)
    ids = {name: i << 20 for i, name in enumerate(g.tensors)}

    def span(name: str) -> slice:
        off = plan.offsets[name]
        return slice(off, off + g.tensors[name].nbytes)

    def write(name: str) -> None:
        if name in plan.offsets:
            mem[span(name)] = ids[name] + np.arange(g.tensors[name].nbytes)

    def intact(name: str) -> bool:
        return name not in plan.offsets or bool(
            np.all(mem[span(name)] == ids[name] + np.arange(g.tensors[name].nbytes))
        )

    producers = {st.producer: st for st in plan.streams.values()}
    for name in g.inputs:
        write(name)
    for step, node in enumerate(g.nodes):
        x, y = node.inputs[0], node.outputs[0]
        if node.name in plan.streams:  # its inputs were checked with the producer's
            write(y)
            continue
        assert all(intact(i) for i in node.inputs if i in g.tensors and g.tensors[i].data is None), node.name
        if node.name in producers:
            b = g.nodes[step + 1]
            ring = plan.offsets[y]
            assert g.nodes[producers[node.name].step - 1] is node
            assert all(intact(i) for i in b.inputs[1:] if i in g.tensors and g.tensors[i].data is None)
            reads = [i for i in [*node.inputs, *b.inputs[1:], *b.outputs] if i in plan.offsets and i != y]
            size = producers[node.name].ring * producers[node.name].row_bytes
            for i in reads:
                assert plan.offsets[i] + g.tensors[i].nbytes <= ring or ring + size <= plan.offsets[i], (node.name, i)
            mem[ring : ring + size] = -3  # ring rows, never read as a whole tensor
            continue
        if node.name in plan.overlaps:
            w = window_of(g, node)
            d = plan.offsets[y] - plan.offsets[x]
            assert d == plan.overlaps[node.name] and d % plan.alignment == 0
            assert run_order(w, contracts[node.name], d), f"{node.name}: unsafe overlap {d}"
        elif node.name not in plan.inplace:
            for i in (n for n in node.inputs if n in plan.offsets and y in plan.offsets):
                si, sy = span(i), span(y)
                assert si.stop <= sy.start or sy.stop <= si.start, f"{node.name} overlaps without a contract"
        write(y)
    assert all(intact(o) for o in g.outputs)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_window_dag(), st.sampled_from([1, 4, 16]), st.booleans(), st.data())
def test_random_dags_with_overlaps(case: tuple[Graph, dict[str, str]], alignment: int, io: bool, data) -> None:
    """Random contracts and random streamed pairs (among those the geometry allows)."""
    g, contracts = case
    everything = {n.name for n in g.nodes}
    candidates = find_streams(g, everything)
    streams = data.draw(st.lists(st.sampled_from(candidates), unique=True) if candidates else st.just([]))
    plain = plan_memory(g, scratch={}, alignment=alignment, io_in_arena=io)
    plan = plan_memory(
        g, scratch={}, alignment=alignment, io_in_arena=io, overlap=contracts, streams=streams, stream_ops=everything
    )
    assert set(plan.overlaps) <= set(contracts)
    assert plan.lower_bound <= plan.arena_size
    rings = {g.nodes[st_.step].inputs[0]: st_.ring * st_.row_bytes for st_ in plan.streams.values()}
    for name, off in plan.offsets.items():
        assert off % alignment == 0 and off + rings.get(name, g.tensors[name].nbytes) <= plan.arena_size
    _simulate(g, plan, contracts)
    for st_ in plan.streams.values():
        assert (
            st_.step in streams
            and plan.offsets[g.nodes[st_.step].inputs[0]] + st_.ring * st_.row_bytes <= plan.arena_size
        )
    if not plan.overlaps and not plan.streams:
        assert plan == plain
    # determinism
    again = plan_memory(
        g, scratch={}, alignment=alignment, io_in_arena=io, overlap=contracts, streams=streams, stream_ops=everything
    )
    assert again == plan


def test_dscnn_like_chain_fits_one_tensor_plus_gaps_and_budget_names_the_peak() -> None:
    g = Graph("chain")
    t = _act(g, "x", (1, 25, 5, 64))
    contracts = {}
    for i in range(8):
        kind = "dw" if i % 2 == 0 else "conv"
        t = _window_node(g, i, t, kind, 3 if kind == "dw" else 1, 1, 64)
        contracts[f"n{i}"] = CHANNEL if kind == "dw" else PIXELS
    g.inputs, g.outputs = ["x"], [t]
    plain = plan_memory(g, scratch={}, alignment=32, io_in_arena=True)
    plan = plan_memory(g, scratch={}, alignment=32, io_in_arena=True, overlap=contracts)
    assert plain.arena_size == 2 * 8000
    assert plan.arena_size == 8000 + 4 * 384 and len(plan.overlaps) == 8
    _simulate(g, plan, contracts)
    check_ram_budget(g, plan, plan.arena_size)
    with pytest.raises(QCompileError, match=r"peak is at layer \d+ \((depthwise_conv2d|conv2d) 'n\d'\)"):
        check_ram_budget(g, plan, plan.arena_size - 1)
