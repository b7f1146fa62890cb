"""Executed-instruction counts per layer under QEMU, kernel families side by side.

For each kernel family the model is compiled as a real compile for a target of that
family would: the quantized graph saved before the memory passes (``quantized.qir``) goes
through that family's :func:`qcompile.compiler.optimize_memory` (so the portable column
gets the fused pool + FC head and its own schedule even when the folder was compiled for
a DSP target), is generated with that family, built with per-layer timing hooks and run in
the target's QEMU machine under ``-icount shift=0``. Counts are deterministic (the same
binary on the same inputs executes the same instructions), so two runs print the same
table; their resolution is one SysTick tick (see :mod:`qcompile.tools.firmware.qemu`). Every
family's outputs are also checked against the numpy reference: a fast wrong kernel is
reported, not ranked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qcompile.codegen.families import BASELINE, family_names, get_family
from qcompile.errors import QCompileError
from qcompile.ir import Graph
from qcompile.memory.regions import Region
from qcompile.outdir import ModelFolder, read_report
from qcompile.reference.executor import run_quantized_samples
from qcompile.targets import Target
from qcompile.tools.firmware.qemu import QemuResult, run_on_qemu
from qcompile.tools.firmware.verify_qemu import _typed
from qcompile.tools.verify import bit_exact_result


@dataclass
class FamilyBench:
    """One kernel family: per-layer and total instructions (median over the samples)."""

    family: str
    layers: list[dict[str, Any]]  # this family's report layers (its own fusion and order)
    layer_instructions: list[int]
    total_instructions: int
    bit_exact: int
    samples: int
    raw: QemuResult = field(repr=False)
    #: this family's ``report.json`` ``memory_regions`` (the folder's regions), [] for one arena
    regions: list[dict[str, Any]] = field(default_factory=list)
    arena_bytes: int = 0
    #: why the folder's regions or budget were not used for this family ("" when they were)
    note: str = ""


@dataclass
class BenchRow:
    """One layer name across families: ``ops[i]``/``counts[i]`` are None where family i has
    no layer of that name (it fused it into another)."""

    name: str
    ops: list[str | None]
    macs: int
    counts: list[int | None]


@dataclass
class BenchResult:
    target: str
    families: list[FamilyBench]

    def rows(self) -> list[BenchRow]:
        """Layers matched by name, because families may fuse differently (the portable one
        fuses the pool + FC head into the FC's layer): the first family's order, with a
        layer only a later family has inserted after that family's previous layer."""
        order: list[str] = []
        for fam in self.families:
            pos = -1
            for layer in fam.layers:
                if layer["name"] not in order:
                    order.insert(pos + 1, layer["name"])
                pos = order.index(layer["name"])
        rows = {name: BenchRow(name, [None] * len(self.families), 0, [None] * len(self.families)) for name in order}
        for i, fam in enumerate(self.families):
            for layer, count in zip(fam.layers, fam.layer_instructions, strict=True):
                row = rows[layer["name"]]
                row.ops[i], row.counts[i] = str(layer["op"]), count
                row.macs = row.macs or int(layer.get("macs", 0))
        return [rows[name] for name in order]


def result_table(result: BenchResult, title: str) -> Any:
    """The side-by-side table (a ``rich`` Table) of ``qcompile bench`` and ``bench/bench_qemu.py``:
    a row per layer name, ``-`` where a family fused that layer into another, ratios to the
    first family where both ran the same op."""
    from rich.table import Table

    fams = result.families
    table = Table(title=title)
    for col in ("#", "op", "MACs", *(f.family for f in fams), *(f"ratio {f.family}" for f in fams[1:])):
        table.add_column(col, justify="left" if col == "op" else "right")
    rows = result.rows()
    for i, row in enumerate(rows):
        base = row.counts[0]
        ratios = [
            f"{c / base:.2f}" if c is not None and base and op == row.ops[0] else "-"
            for c, op in zip(row.counts[1:], row.ops[1:], strict=True)
        ]
        cells = ["-" if c is None else f"{c:,}" for c in row.counts]
        ops = " / ".join(dict.fromkeys(op for op in row.ops if op is not None))
        table.add_row(str(i), ops, f"{row.macs:,}", *cells, *ratios)
    totals = [f"{f.total_instructions:,}" for f in fams]
    ratio = [f"{f.total_instructions / fams[0].total_instructions:.2f}" for f in fams[1:]]
    table.add_row("", "total", f"{sum(row.macs for row in rows):,}", *totals, *ratio)
    return table


def memory_line(fam: FamilyBench) -> str:
    """Where the family's build kept its activations: per region the bytes used of its size
    (QEMU has no wait states: a region's speed does not show in the counts), or one arena."""
    if fam.regions:
        used = ", ".join(f"{r['name']} {r['used_bytes']:,} of {r['size']:,} B" for r in fam.regions)
        where = f"regions {used} (QEMU has no wait states: the counts do not see region speeds)"
    else:
        where = f"one flat arena of {fam.arena_bytes:,} B"
    return f"{where}; {fam.note}" if fam.note else where


def default_families(target: Target) -> list[str]:
    """The baseline (portable) family first, the family's ``bench_baselines``, then the target's own."""
    return list(dict.fromkeys([BASELINE, *target.family.bench_baselines, target.kernel_family]))


def family_graph(out_dir: Path, target: Target, family: str) -> Graph:
    """The graph a compile of ``out_dir``'s model for ``target`` running ``family`` generates.

    The family-dependent passes (head fusion, schedule) re-run from the saved pre-memory-pass
    graph with that family and the target's alignment, exactly as ``compile_model`` does."""
    from qcompile.compiler import optimize_memory
    from qcompile.ir_io import load_graph
    from qcompile.outdir import QUANTIZED_GRAPH_FILE

    path = Path(out_dir) / QUANTIZED_GRAPH_FILE
    if not path.is_file():
        raise QCompileError(
            f"{out_dir} has no {QUANTIZED_GRAPH_FILE} (it was compiled by an older qcompile): compile it again to bench it"
        )
    graph, meta = load_graph(path)
    if not meta.get("memory_passes", True):
        return graph
    return optimize_memory(graph, alignment=target.alignment, family=get_family(family))


def random_inputs(graph: Any, samples: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = []
    for name in graph.user_inputs:
        info = np.iinfo(np.dtype(graph.tensors[name].dtype))  # int8, or int16 (16x8)
        shape = (samples, *graph.tensors[name].shape[1:])
        arrays.append(rng.integers(info.min, info.max + 1, size=shape, dtype=info.dtype))
    return arrays


def folder_regions(report: dict[str, Any]) -> tuple[Region, ...]:
    """The memory regions ``report.json`` says the folder was compiled with (() for none)."""
    return tuple(
        Region(r["name"], int(r["size"]), float(r["speed"]), r.get("section")) for r in report.get("memory_regions", [])
    )


def _generate_like(out_dir: Path, graph: Graph, src: Path, name: str, target: Target) -> str:
    """Generate ``graph`` for ``target`` with the memory options ``out_dir`` was compiled with
    (--io-in-arena, --memory-regions, --ram-budget: the budget may choose overlapped or
    streamed layers, whose cost is what the bench shows). A family that cannot meet the
    budget is measured without it, one whose plan fits no region in one flat arena; returns
    what was dropped ("" when nothing was)."""
    from qcompile.codegen import generate

    report = read_report(out_dir)
    io = bool((report.get("ram") or {}).get("io_in_arena", False))
    options = {"ram_budget": report.get("ram_budget"), "memory_regions": folder_regions(report) or None}
    dropped, reason = [], ""
    while True:
        try:
            generate(graph, src, name=name, target=target, io_in_arena=io, **options)
            break
        except QCompileError as exc:
            drop = next((key for key in _DROPPED if options[key] is not None), None)
            if drop is None:
                raise
            options[drop] = None
            dropped.append(_DROPPED[drop])
            reason = str(exc).splitlines()[0]
    return f"measured without {' and '.join(dropped)} ({reason})" if dropped else ""


#: what _generate_like gives up, in this order, when a family cannot generate with it
_DROPPED = {"ram_budget": "--ram-budget", "memory_regions": "--memory-regions (one flat arena)"}


def bench(
    out_dir: Path,
    target: Target,
    *,
    families: Sequence[str] | None = None,
    samples: int = 1,
    inputs: list[np.ndarray] | None = None,
    build_dir: Path | None = None,
    force: bool = False,
) -> BenchResult:
    """Per-layer instruction counts of ``out_dir``'s model on ``target`` for each kernel family.

    Builds go to ``build_dir`` (default ``out_dir/build/bench-<target>``, where a user's own
    ``build`` folder is refused unless ``force``)."""

    folder = ModelFolder.open(out_dir)
    graph = folder.graph
    families = list(families) if families else default_families(target)
    unknown = [f for f in families if f not in family_names()]
    if unknown:
        raise QCompileError(f"unknown kernel families {unknown}; known: {', '.join(family_names())}")
    base = Path(build_dir) if build_dir is not None else folder.build_dir(f"bench-{target.name}", force=force)
    if inputs is None:
        inputs = random_inputs(graph, samples)
    n = len(inputs[0])
    expected = run_quantized_samples(graph, inputs)

    results: list[FamilyBench] = []
    for family in families:
        variant = dataclasses.replace(target, kernel_family=family)
        src = base / family / "src"
        note = _generate_like(out_dir, family_graph(out_dir, target, family), src, folder.name, variant)
        as_bytes = [np.ascontiguousarray(x).reshape(len(x), -1).view(np.int8) for x in inputs]  # int16 as bytes
        run = _typed(folder, run_on_qemu(src, variant, as_bytes, layer_counts=True, build_dir=base / family / "build"))
        assert run.layer_instructions is not None
        exact = bit_exact_result(expected, run.outputs).bit_exact
        generated = read_report(src)
        results.append(
            FamilyBench(
                family=family,
                layers=generated["layers"],
                layer_instructions=[int(v) for v in np.median(run.layer_instructions, axis=0)],
                total_instructions=int(np.median(run.total_instructions)),
                bit_exact=int(exact),
                samples=n,
                raw=run,
                regions=list(generated.get("memory_regions", [])),
                arena_bytes=int(generated.get("arena_bytes", 0)),
                note=note,
            )
        )
    return BenchResult(target=target.name, families=results)
