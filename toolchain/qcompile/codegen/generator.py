"""Quantized graph -> C sources, runtime copy, CMake project and report.

``generate`` renders every file in memory first (so any error is raised before anything
is written), then writes them into a temporary sibling folder and moves them into
``out_dir`` (see :func:`_write_tree`): a failure never leaves half a model behind.
Output is deterministic: the same graph gives byte-identical files (no timestamps,
lists in schedule order, floats by ``repr``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import numpy as np

from qcompile.codegen.budgets import check_flash_budget, flash_report
from qcompile.codegen.lowering import Layer, Lowering, c_float, c_int, region_array
from qcompile.codegen.names import Namer, comment_text, model_identifier
from qcompile.codegen.runtime_files import included_headers, select_runtime_files
from qcompile.errors import QCompileError, UnsupportedModelError
from qcompile.ir import Graph, Tensor
from qcompile.memory import MemoryPlan, check_ram_budget, plan_memory, static_state_bytes
from qcompile.memory.regions import SECTION_CHARS as _SECTION_CHARS
from qcompile.memory.regions import Region, load_regions
from qcompile.memory.streams import find_streams
from qcompile.ops import is_s16, scratch_ops
from qcompile.resources import templates_dir

if TYPE_CHECKING:
    from qcompile.codegen.families import KernelFamily
    from qcompile.targets import Target


def compute_scratch(graph: Graph) -> dict[str, int]:
    """Scratch bytes per node, from the runtime's own ``*_scratch_size`` functions (via the binding).

    Asking the C code itself keeps the plan right whatever strategy the kernels use; which
    ops need scratch and which shapes their size query takes is the op schema's
    (``qcompile.ops``).
    """
    shapes_taken = scratch_ops()
    needed = [n for n in graph.nodes if n.op in shapes_taken and not is_s16(graph, n)]
    if not needed:
        return {}
    try:
        from qcompile.host import _runtime
    except ImportError as exc:  # pragma: no cover - broken installation
        raise QCompileError(f"the qcompile C extension is not built ({exc}); run scripts/dev-setup") from exc
    result: dict[str, int] = {}
    for node in needed:
        fn = getattr(_runtime, f"{node.op}_s8_scratch_size", None)
        if fn is None:
            raise QCompileError(f"the qcompile C extension has no {node.op}_s8_scratch_size; rebuild it")
        shapes = [tuple(graph.tensors[i].shape) for i in node.inputs[: shapes_taken[node.op]]]
        try:
            size = fn(*shapes, **node.attrs)
        except (TypeError, ValueError) as exc:
            raise QCompileError(f"node {node.name!r} ({node.op}): cannot size its scratch buffer: {exc}") from exc
        result[node.name] = int(size)
    return result


def family_scratch(family: KernelFamily, graph: Graph) -> dict[str, int]:
    """Scratch bytes per node for ``family``: the 16x8 nodes take the family's 16x8 scratch
    (``scratch_s16``; the portable s16 kernels take none)."""
    sizes = {k: v for k, v in family.scratch(graph, compute_scratch(graph)).items() if not _s16_node(graph, k)}
    return {**sizes, **family.scratch_s16(graph)}


def _s16_node(graph: Graph, name: str) -> bool:
    return any(n.name == name and is_s16(graph, n) for n in graph.nodes)


#: ops whose portable kernels have a row-band variant (qc_conv2d_rows.c, qcompile.memory.row_bands)
ROW_SPLIT_OPS = frozenset({"conv2d", "conv2d_add"})


def _layout(t: Tensor) -> str:
    """Memory layout of a graph input/output as the caller sees it."""
    if len(t.shape) == 4:
        return "NCHW" if t.source_perm is not None and tuple(t.source_perm) == (0, 1, 2, 3) else "NHWC"
    return f"{len(t.shape)}-D"


def _io_entry(t: Tensor, index: int, plan: MemoryPlan) -> dict[str, Any]:
    q = t.quant
    if q is None or q.per_channel:
        raise QCompileError(f"graph input/output {t.name!r} needs per-tensor quantization parameters")
    if t.dtype not in ("int8", "int16", "uint8"):
        raise UnsupportedModelError(
            f"graph input/output {t.name!r} is {t.dtype}; only int8, int16 (16x8) and uint8 are supported"
        )
    ctype = f"{t.dtype}_t"
    return {
        "ctype": ctype,
        "nbytes": int(t.nbytes),
        "byte_cast": "" if ctype == "int8_t" else "(int8_t *)",
        "byte_cast_const": "" if ctype == "int8_t" else "(const int8_t *)",
        "index": index,
        "name": t.name,
        "comment_name": comment_text(t.name),
        "shape": [int(d) for d in t.shape],
        "size": int(t.size),
        "dtype": t.dtype,
        "scale": float(q.scale),
        "scale_c": c_float(float(q.scale)),
        "zero_point": int(q.zero_point),
        "zero_point_c": c_int(int(q.zero_point)),
        "layout": _layout(t),
        "offset": plan.offsets.get(t.name, 0),  # the arena offset with --io-in-arena
        "region": plan.locations[t.name].region if t.name in plan.offsets else 0,
    }


def _state_entries(graph: Graph) -> list[dict[str, Any]]:
    """The state buffer's layout: per variable its offset, size, the ``inputs[]`` and
    ``outputs[]`` slots the model reads and writes it through, and its initial bytes."""
    entries = []
    for var, offset in zip(graph.state, graph.state_offsets(), strict=True):
        size = graph.tensors[var.input].nbytes
        init = np.asarray(var.init).astype(graph.tensors[var.input].dtype).reshape(-1).view(np.int8)
        entries.append(
            {
                "name": var.name,
                "comment_name": comment_text(var.name),
                "offset": offset,
                "size": size,
                "input_slot": graph.inputs.index(var.input),
                "output_slot": None if var.output is None else len(graph.user_outputs) + _written_index(graph, var),
                "init": [int(v) for v in init],
                # a variable set to one value (zeros, the zero point) needs no array
                "fill": int(init[0]) if init.size and (init == init[0]).all() else None,
            }
        )
    return entries


def _written_index(graph: Graph, var: Any) -> int:
    return [v.name for v in graph.state if v.output is not None].index(var.name)


def _ram(plan: MemoryPlan, context: Mapping[str, Any]) -> dict[str, Any]:
    """All the RAM the model needs with the API the build offers, the caller's I/O included.

    With the pointer API the caller holds the inputs and outputs outside the arena (the
    figure TFLite Micro's arena hides inside); with ``--io-in-arena`` they are in it.
    Both figures are reported, so the two builds can be compared with one compile.
    """
    io_bytes = sum(t["nbytes"] for t in (*context["inputs"], *context["outputs"]))
    inside = plan.arena_size + context["static_state_bytes"]
    return {
        "io_in_arena": plan.io_in_arena,
        "arena_bytes": plan.arena_size,
        "static_state_bytes": context["static_state_bytes"],
        "state_bytes": context["state_size"],
        "io_bytes_outside_arena": 0 if plan.io_in_arena else io_bytes,
        "total_bytes": inside if plan.io_in_arena else inside + io_bytes,
    }


def _ram_blocks(plan: MemoryPlan, cname: str, arena_section: str | None) -> list[dict[str, Any]]:
    """The static RAM arrays of ``<name>.c``: the arena, then each other memory region in use."""
    macro = cname.upper()
    first = plan.regions[0].region if plan.regions else None
    blocks = [
        {
            "index": 0,
            "ident": f"{cname}_arena",
            "attr": f"{macro}_ARENA_ATTR",
            "section": first.section if first is not None else arena_section,
            "size": max(1, plan.primary_size),
            "label": f"region {first.name} (the arena)" if first is not None else "arena",
            "ctype": "uint8_t",
            "cast": "",
        }
    ]
    for index, use in enumerate(plan.regions[1:], start=1):
        if use.used:
            blocks.append(
                {
                    "index": index,
                    "ident": region_array(cname, use.region.name),
                    "attr": f"{macro}_REGION_{use.region.name.upper()}_ATTR",
                    "section": use.region.section,
                    "size": use.used,
                    "label": f"region {use.region.name}",
                    "ctype": "uint8_t",
                    "cast": "",
                }
            )
    return blocks


def _guard_blocks(ram_blocks: list[dict[str, Any]], cname: str, state_size: int) -> list[dict[str, Any]]:
    """Every block the verify build surrounds with canaries: the RAM arrays, then the state buffer."""
    state = {
        "ident": f"{cname}_state",
        "attr": f"{cname.upper()}_ARENA_ATTR",
        "size": state_size,
        "label": "state",
        "ctype": "int8_t",
        "cast": "(int8_t *)",
    }
    return [*ram_blocks, *([state] if state_size else [])]


def _regions_report(plan: MemoryPlan) -> list[dict[str, Any]]:
    """``report.json`` ``memory_regions``: per region (fastest first) its use and buffers."""
    return [
        {
            "name": u.region.name,
            "size": u.region.size,
            "speed": u.region.speed,
            "section": u.region.section,
            "used_bytes": u.used,
            "traffic_bytes": u.traffic,
            "buffers": list(u.buffers),
        }
        for u in plan.regions
    ]


def _below_bound(plan: MemoryPlan) -> dict[str, Any]:
    """``report.json`` ``below_bound``: the overlapped/streamed plan in use, or the arena it would need."""
    return {
        "used": bool(plan.overlaps or plan.streams),
        "overlapped_layers": sorted(plan.overlaps),
        "streamed_pairs": [[st.producer, st.consumer] for st in plan.streams.values()],
        "available_arena_bytes": plan.below_bound_arena or (plan.arena_size if plan.overlaps or plan.streams else None),
    }


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def _check_options(graph: Graph, target: Target, weights_section: str | None, arena_alignment: int | None) -> int:
    """Reject a bad graph or option before any work; returns the arena alignment to use."""
    graph.validate()
    if arena_alignment is None:
        arena_alignment = target.alignment
    if arena_alignment < 4 or arena_alignment & (arena_alignment - 1):
        raise QCompileError(f"--arena-alignment {arena_alignment}: use a power of two, at least 4")
    if not graph.inputs or not graph.outputs:
        raise QCompileError("the graph needs at least one input and one output")
    if weights_section is not None and (not weights_section or not set(weights_section) <= _SECTION_CHARS):
        raise QCompileError(f"--weights-section {weights_section!r}: use letters, digits, '_', '.' and '$' only")
    return arena_alignment


def _check_memory_options(
    graph: Graph, arena_section: str | None, io_in_arena: bool, memory_regions: Any
) -> tuple[Region, ...]:
    """Reject conflicting placement options; returns the memory regions, fastest first."""
    if arena_section is not None and (not arena_section or not set(arena_section) <= _SECTION_CHARS):
        raise QCompileError(f"--arena-section {arena_section!r}: use letters, digits, '_', '.' and '$' only")
    if io_in_arena and graph.state:
        raise QCompileError(
            "--io-in-arena is not supported for a model with persistent state (resource variables or "
            "--stateful): compile it without --io-in-arena"
        )
    regions = load_regions(memory_regions)
    if regions and arena_section is not None:
        raise QCompileError(
            "--arena-section and --memory-regions both place the arena: give each region its section in the "
            "regions file instead"
        )
    return regions


def _plan(
    graph: Graph,
    target: Target,
    scratch: Mapping[str, int] | None,
    arena_alignment: int,
    ram_budget: int | None,
    io_in_arena: bool = False,
    regions: tuple[Region, ...] = (),
) -> MemoryPlan:
    """The memory plan with the running family's scratch sizes, checked against the budget.

    The layer-by-layer plan is kept unless ``ram_budget`` asks for less: then outputs may
    overlap the inputs they consume (:mod:`qcompile.memory.overlap`, same kernels, same
    instructions) and conv pairs may be row-streamed (:mod:`qcompile.memory.streams`), where
    the family's kernels allow it (:func:`_below_bound_plan`). When that plan is smaller but
    not chosen, its size is kept in ``below_bound_arena`` for the report.
    """
    family = target.family
    if scratch is None:
        scratch = family_scratch(family, graph)
    budget = None if ram_budget is None else ram_budget - static_state_bytes(graph)
    options: dict[str, Any] = {
        "scratch": scratch,
        "alignment": arena_alignment,
        # Row bands trade speed for RAM: on by default where RAM is the goal, on the host
        # only when a --ram-budget asks for it.
        "row_split_ops": ROW_SPLIT_OPS
        if family.row_bands and (target.optimize == "ram" or ram_budget is not None)
        else (),
        "budget": budget,
        "io_in_arena": io_in_arena,
        "regions": regions,
    }
    plan = plan_memory(graph, **options)
    try:
        below = _below_bound_plan(graph, family, options, budget)
    except QCompileError as exc:  # with memory regions a trial plan may not fit where the plain one does
        if not regions:
            raise
        below = None
        if ram_budget is not None:
            plan.warnings.append(
                "--ram-budget with --memory-regions: the plan below the layer-by-layer bound (overlapped or "
                f"row-streamed layers) fits no region ({str(exc).splitlines()[0]}); the layer-by-layer plan is used"
            )
    if below is not None and below.arena_size < plan.arena_size:
        if budget is not None and plan.arena_size > budget:
            plan = below
        else:
            plan.below_bound_arena = below.arena_size
    if ram_budget is not None:
        try:
            check_ram_budget(graph, plan, ram_budget)
        except QCompileError as exc:
            raise QCompileError("; ".join([str(exc), *plan.warnings])) from exc
    return plan


def _below_bound_plan(graph: Graph, family: Any, options: dict[str, Any], budget: int | None) -> MemoryPlan | None:
    """The plan below the layer-by-layer bound: outputs overlapping the inputs they consume
    (free), then, while a ``budget`` is still exceeded, the row-streamed pair at the peak
    (:mod:`qcompile.memory.streams`; a few % more instructions), one pair at a time."""
    contracts = family.overlap_contracts(graph)
    stream_ops = family.stream_ops(graph)
    slack = family.stream_slack(graph)
    if not contracts and not stream_ops:
        return None
    contracts, plan = _useful_overlaps(graph, contracts, options)
    candidates = set(find_streams(graph, stream_ops))
    chosen: set[int] = set()
    target = budget if budget is not None else 0
    while plan.arena_size > target:
        at_peak = sorted(s for s in candidates - chosen if plan.peak_step in (s - 1, s))
        if not at_peak:
            break
        chosen.add(at_peak[0])
        trial = plan_memory(
            graph, overlap=contracts, streams=chosen, stream_ops=stream_ops, stream_slack=slack, **options
        )
        if trial.arena_size >= plan.arena_size:
            break
        plan = trial
    return plan


#: overlapped pairs beyond which _useful_overlaps keeps them all (one replan per pair)
MAX_OVERLAP_TRIALS = 64


def _useful_overlaps(
    graph: Graph, contracts: dict[str, str], options: dict[str, Any]
) -> tuple[dict[str, str], MemoryPlan]:
    """The overlap contracts to use and their plan: every pair constrains placement, and a
    pair away from the peak can push the peak's buffers apart, so pairs are dropped one at a
    time (schedule order) while that makes the arena smaller."""
    plan = plan_memory(graph, overlap=contracts, **options)
    if plan.arena_size <= plan.lower_bound or len(plan.overlaps) > MAX_OVERLAP_TRIALS:
        return contracts, plan
    for name in [n.name for n in graph.nodes if n.name in plan.overlaps]:
        fewer = {k: v for k, v in contracts.items() if k != name}
        trial = plan_memory(graph, overlap=fewer, **options)
        if trial.arena_size < plan.arena_size:
            contracts, plan = fewer, trial
    return contracts, plan


def _lower_graph(lowering: Lowering) -> tuple[list[Layer], list[str]]:
    """Every node's layer, and the copies into output slots after the last layer."""
    graph, plan = lowering.graph, lowering.plan
    layers = [lowering.lower(i, node) for i, node in enumerate(graph.nodes)]
    epilogue: list[str] = []
    for index, tensor in plan.output_copies:
        size = graph.tensors[tensor].nbytes
        lowering.functions.add("qc_copy_s8")
        src = lowering.src(tensor)
        src = f"(const int8_t *){src}" if "int16_t" in src else src
        copy = f"qc_copy_s8({src}, outputs[{index}], {c_int(size)})"
        epilogue.append(f"if ({copy} != QC_OK) {{\n        return {len(layers) + 1};\n    }}")
    return layers, epilogue


def _report(
    name: str, cname: str, target: Target, plan: MemoryPlan, context: Mapping[str, Any], files: Mapping[str, bytes]
) -> dict[str, Any]:
    """``report.json``: what was generated and the memory it needs."""
    io_keys = ("name", "shape", "dtype", "scale", "zero_point", "layout")
    layers = [layer.report for layer in context["layers"]]
    return {
        "name": name,
        "c_name": cname,
        "target": target.name,
        "arena_bytes": plan.arena_size,
        "lower_bound_bytes": plan.lower_bound,
        "static_state_bytes": context["static_state_bytes"],
        "state": [{k: e[k] for k in ("name", "offset", "size")} for e in context["state"]],
        "ram_budget": context["ram_budget"],
        "ram": _ram(plan, context),
        "below_bound": _below_bound(plan),
        "peak_layer": plan.peak_step,
        "peak_live": [{"name": live, "bytes": size} for live, size in plan.peak_live],
        "memory_regions": _regions_report(plan),
        "warnings": list(plan.warnings),
        "guard_blocks": [b["label"] for b in context["guard_blocks"]],
        "weight_bytes": context["weight_bytes"],
        "alignment": target.alignment,
        "arena_alignment": context["arena_alignment"],
        "inputs": [{k: e[k] for k in io_keys} for e in context["inputs"]],
        "outputs": [{k: e[k] for k in io_keys} for e in context["outputs"]],
        "layers": layers,
        "total_macs": sum(layer["macs"] for layer in layers),
        "files": sorted([*files, "report.json"]),
    }


_TEMPLATES = (
    ("model.h.j2", "{cname}.h"),
    ("model.c.j2", "{cname}.c"),
    ("weights.h.j2", "{cname}_weights.h"),
    ("weights.c.j2", "{cname}_weights.c"),
    ("CMakeLists.txt.j2", "CMakeLists.txt"),
    ("model.mk.j2", "{cname}.mk"),
)


def render(
    graph: Graph,
    *,
    name: str,
    target: Target,
    weights_section: str | None = None,
    scratch: Mapping[str, int] | None = None,
    arena_alignment: int | None = None,
    ram_budget: int | None = None,
    io_in_arena: bool = False,
    flash_budget: int | None = None,
    arena_section: str | None = None,
    memory_regions: Any = None,
) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Render every output file into memory: ``({relative path: bytes}, report)``.

    ``arena_alignment`` (default: the target's alignment) aligns the arena and every
    offset in it, e.g. to a cache line or a DMA requirement; const arrays keep the target's.
    """
    arena_alignment = _check_options(graph, target, weights_section, arena_alignment)
    regions = _check_memory_options(graph, arena_section, io_in_arena, memory_regions)
    cname = model_identifier(name)
    family = target.family
    plan = _plan(graph, target, scratch, arena_alignment, ram_budget, io_in_arena, regions)
    ram_blocks = _ram_blocks(plan, cname, arena_section)
    lowering = Lowering(graph, plan, cname, Namer(), family=family)
    layers, epilogue = _lower_graph(lowering)
    kernel_headers = family.kernel_headers if lowering.kernel_sources else ()
    kernel_headers = (*kernel_headers, *included_headers("\n".join(lowering.kernel_sources)))
    runtime = select_runtime_files(sorted(lowering.functions), extra_headers=kernel_headers)
    context = {
        "model_comment": comment_text(name),
        "cname": cname,
        "macro": cname.upper(),
        "target": target,
        "target_comment": comment_text(target.name),
        "alignment": target.alignment,
        "arena_alignment": arena_alignment,
        "arena_size": plan.primary_size,
        "ram_blocks": ram_blocks,
        "guard_blocks": _guard_blocks(ram_blocks, cname, graph.state_bytes),
        "regions": [
            {"name": u.region.name, "used": u.used, "capacity": u.region.size, "section": u.region.section}
            for u in plan.regions
        ],
        "guard_bytes": max(64, arena_alignment),
        "lower_bound": plan.lower_bound,
        "ram_budget": ram_budget,
        "io_in_arena": io_in_arena,
        "inputs": [_io_entry(graph.tensors[n], i, plan) for i, n in enumerate(graph.user_inputs)],
        "outputs": [_io_entry(graph.tensors[n], i, plan) for i, n in enumerate(graph.user_outputs)],
        "state": _state_entries(graph),
        "state_size": graph.state_bytes,
        "static_state_bytes": static_state_bytes(graph),
        "layers": layers,
        "epilogue": epilogue,
        "io_s16": any(graph.tensors[n].dtype == "int16" for n in (*graph.user_inputs, *graph.user_outputs)),
        "arrays": lowering.arrays,
        "weight_bytes": sum(a.nbytes for a in lowering.arrays),
        "weights_section": weights_section,
        "arena_section": arena_section,
        "runtime_sources": [p.name for p in runtime.sources],
        "model_sources": [f"{cname}_kernels.c"] if lowering.kernel_sources else [],
        "runtime_headers": [p.name for p in runtime.headers],
    }
    env = _environment()
    files = {out.format(cname=cname): env.get_template(t).render(**context).encode("utf-8") for t, out in _TEMPLATES}
    if lowering.kernel_sources:
        text = family.render_kernels_file(cname, comment_text(name), lowering.kernel_sources)
        files[f"{cname}_kernels.c"] = text.encode("utf-8")
    for path in (*runtime.sources, *runtime.headers):
        files[f"runtime/{path.name}"] = path.read_bytes()
    report = _report(name, cname, target, plan, context, files)
    report["flash"] = flash_report(lowering.arrays, files, cname, target)
    if flash_budget is not None:
        check_flash_budget(report["flash"], lowering.arrays, flash_budget)
        report["flash_budget"] = flash_budget
    files["report.json"] = (json.dumps(report, indent=2, sort_keys=True, allow_nan=False) + "\n").encode("utf-8")
    return files, report


def _write_tree(files: Mapping[str, bytes], out_dir: Path) -> None:
    """Write ``files`` under ``out_dir`` without ever leaving a partial set.

    Everything goes into a temporary sibling first. A missing ``out_dir`` is then created
    by one rename; an existing (normally fresh, empty: the CLI passes its own temporary
    folder) one receives the files by renames, which cannot fail half-way for lack of space.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.gen-", dir=out_dir.parent))
    try:
        for rel, data in sorted(files.items()):
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        if not out_dir.exists():
            os.chmod(tmp, 0o755)
            tmp.rename(out_dir)
            return
        for rel in sorted(files):
            target = out_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp / rel, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def generate(
    graph: Graph,
    out_dir: Path,
    *,
    name: str,
    target: Target,
    weights_section: str | None = None,
    scratch: Mapping[str, int] | None = None,
    arena_alignment: int | None = None,
    ram_budget: int | None = None,
    io_in_arena: bool = False,
    flash_budget: int | None = None,
    arena_section: str | None = None,
    memory_regions: Any = None,
) -> dict[str, Any]:
    """Generate the C implementation of quantized ``graph`` into ``out_dir``; returns the report.

    ``scratch`` overrides the per-node scratch sizes (default: ask the C runtime through the
    binding). ``ram_budget``: bytes of RAM (arena + static state) the model may use: the
    planner spends any slack on full-speed conv rows, and more than that is an error
    naming the peak layer (raised before anything is written). ``io_in_arena``: the
    inputs and outputs live in the arena (``<name>_input(i)``, ``<name>_invoke()``). Files: ``<c_name>.h``, ``<c_name>.c``, ``<c_name>_weights.h/.c``,
    ``runtime/``, ``CMakeLists.txt``, ``report.json`` (``report["c_name"]`` is the
    sanitised name used for files and symbols).
    """
    files, report = render(
        graph,
        name=name,
        target=target,
        weights_section=weights_section,
        scratch=scratch,
        arena_alignment=arena_alignment,
        ram_budget=ram_budget,
        io_in_arena=io_in_arena,
        flash_budget=flash_budget,
        arena_section=arena_section,
        memory_regions=memory_regions,
    )
    _write_tree(files, Path(out_dir))
    return report


__all__ = ["ROW_SPLIT_OPS", "compute_scratch", "generate", "render"]
