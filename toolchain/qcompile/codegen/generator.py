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
from typing import Any

import jinja2

from qcompile.codegen.lowering import Lowering, c_float, c_int
from qcompile.codegen.names import Namer, comment_text, model_identifier
from qcompile.codegen.runtime_files import select_runtime_files
from qcompile.errors import QCompileError, UnsupportedModelError
from qcompile.ir import Graph, Tensor
from qcompile.memory.planner import MemoryPlan, plan_memory
from qcompile.resources import templates_dir
from qcompile.targets import Target

_SCRATCH_OPS = ("conv2d", "depthwise_conv2d", "fully_connected", "avg_pool2d", "conv2d_add", "avg_pool_fc")
_SECTION_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.$")


def compute_scratch(graph: Graph) -> dict[str, int]:
    """Scratch bytes per node, from the runtime's own ``*_scratch_size`` functions (via the binding).

    Asking the C code itself keeps the plan right whatever strategy the kernels use.
    """
    needed = [n for n in graph.nodes if n.op in _SCRATCH_OPS]
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
        x_shape = tuple(graph.tensors[node.inputs[0]].shape)
        try:
            if node.op == "avg_pool2d":
                size = fn(x_shape, **node.attrs)
            else:
                size = fn(x_shape, tuple(graph.tensors[node.inputs[1]].shape), **node.attrs)
        except (TypeError, ValueError) as exc:
            raise QCompileError(f"node {node.name!r} ({node.op}): cannot size its scratch buffer: {exc}") from exc
        result[node.name] = int(size)
    return result


#: ops whose portable kernels have a row-band variant (qc_conv2d_rows.c, planner module doc)
ROW_SPLIT_OPS = frozenset({"conv2d", "conv2d_add"})
#: RAM the generated code needs besides the arena: none (parameter structs and weights are
#: const; the runtime keeps no state between calls)
STATIC_STATE_BYTES = 0


def check_ram_budget(graph: Graph, plan: MemoryPlan, budget: int) -> None:
    """Raise when arena + static state exceed ``budget`` bytes, naming the peak layer and
    what is live there, so the user knows which tensors to shrink (nothing is written)."""
    if budget < 0:
        raise QCompileError(f"--ram-budget {budget}: give a number of bytes, at least 0")
    needed = plan.arena_size + STATIC_STATE_BYTES
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
        f"{STATIC_STATE_BYTES} B, lower bound {plan.lower_bound:,} B) but --ram-budget is {budget:,} B{where}"
    )


def _layout(t: Tensor) -> str:
    """Memory layout of a graph input/output as the caller sees it."""
    if len(t.shape) == 4:
        return "NCHW" if t.source_perm is not None and tuple(t.source_perm) == (0, 1, 2, 3) else "NHWC"
    return f"{len(t.shape)}-D"


def _io_entry(t: Tensor, index: int) -> dict[str, Any]:
    q = t.quant
    if q is None or q.per_channel:
        raise QCompileError(f"graph input/output {t.name!r} needs per-tensor quantization parameters")
    if t.dtype != "int8":
        raise UnsupportedModelError(f"graph input/output {t.name!r} is {t.dtype}; only int8 is supported")
    return {
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


def render(
    graph: Graph,
    *,
    name: str,
    target: Target,
    weights_section: str | None = None,
    scratch: Mapping[str, int] | None = None,
    arena_alignment: int | None = None,
    ram_budget: int | None = None,
) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Render every output file into memory: ``({relative path: bytes}, report)``.

    ``arena_alignment`` (default: the target's alignment) aligns the arena and every
    offset in it, e.g. to a cache line or a DMA requirement; const arrays keep the target's.
    """
    graph.validate()
    if arena_alignment is None:
        arena_alignment = target.alignment
    if arena_alignment < 4 or arena_alignment & (arena_alignment - 1):
        raise QCompileError(f"--arena-alignment {arena_alignment}: use a power of two, at least 4")
    if not graph.inputs or not graph.outputs:
        raise QCompileError("the graph needs at least one input and one output")
    if weights_section is not None and (not weights_section or not set(weights_section) <= _SECTION_CHARS):
        raise QCompileError(f"--weights-section {weights_section!r}: use letters, digits, '_', '.' and '$' only")
    cname = model_identifier(name)
    macro = cname.upper()
    if scratch is None:
        scratch = compute_scratch(graph)
        if target.kernel_family == "dsp":
            from qcompile.codegen.kernels_dsp import dsp_scratch

            scratch = dsp_scratch(graph, scratch)
    plan: MemoryPlan = plan_memory(
        graph,
        scratch=scratch,
        alignment=arena_alignment,
        # Row bands trade speed for RAM: on by default where RAM is the goal, on the host
        # only when a --ram-budget asks for it.
        row_split_ops=ROW_SPLIT_OPS
        if target.kernel_family == "portable" and (target.optimize == "ram" or ram_budget is not None)
        else (),
        budget=None if ram_budget is None else ram_budget - STATIC_STATE_BYTES,
    )
    if ram_budget is not None:
        check_ram_budget(graph, plan, ram_budget)

    namer = Namer()
    lowering = Lowering(graph, plan, cname, namer, kernel_family=target.kernel_family)
    layers = [lowering.lower(i, node) for i, node in enumerate(graph.nodes)]
    epilogue: list[str] = []
    for index, tensor in plan.output_copies:
        size = graph.tensors[tensor].size
        lowering.functions.add("qc_copy_s8")
        copy = f"qc_copy_s8({lowering.src(tensor)}, outputs[{index}], {c_int(size)})"
        epilogue.append(f"if ({copy} != QC_OK) {{\n        return {len(layers) + 1};\n    }}")

    inputs = [_io_entry(graph.tensors[n], i) for i, n in enumerate(graph.inputs)]
    outputs = [_io_entry(graph.tensors[n], i) for i, n in enumerate(graph.outputs)]
    kernel_headers: tuple[str, ...] = ()
    if lowering.kernel_sources:
        from qcompile.codegen.kernels_dsp import DSP_HEADERS

        kernel_headers = DSP_HEADERS
    runtime = select_runtime_files(sorted(lowering.functions), extra_headers=kernel_headers)
    weight_bytes = sum(a.nbytes for a in lowering.arrays)

    context = {
        "model_comment": comment_text(name),
        "cname": cname,
        "macro": macro,
        "target": target,
        "target_comment": comment_text(target.name),
        "alignment": target.alignment,
        "arena_alignment": arena_alignment,
        "arena_size": plan.arena_size,
        "arena_buffer_size": max(1, plan.arena_size),
        "lower_bound": plan.lower_bound,
        "inputs": inputs,
        "outputs": outputs,
        "layers": layers,
        "epilogue": epilogue,
        "arrays": lowering.arrays,
        "weight_bytes": weight_bytes,
        "weights_section": weights_section,
        "runtime_sources": [p.name for p in runtime.sources],
        "model_sources": [f"{cname}_kernels.c"] if lowering.kernel_sources else [],
        "runtime_headers": [p.name for p in runtime.headers],
    }
    env = _environment()
    files: dict[str, bytes] = {}
    for template, out_name in (
        ("model.h.j2", f"{cname}.h"),
        ("model.c.j2", f"{cname}.c"),
        ("weights.h.j2", f"{cname}_weights.h"),
        ("weights.c.j2", f"{cname}_weights.c"),
        ("CMakeLists.txt.j2", "CMakeLists.txt"),
        ("model.mk.j2", f"{cname}.mk"),
    ):
        files[out_name] = env.get_template(template).render(**context).encode("utf-8")
    if lowering.kernel_sources:
        from qcompile.codegen.kernels_dsp import render_kernels_file

        text = render_kernels_file(cname, comment_text(name), lowering.kernel_sources)
        files[f"{cname}_kernels.c"] = text.encode("utf-8")
    for path in (*runtime.sources, *runtime.headers):
        files[f"runtime/{path.name}"] = path.read_bytes()

    report = {
        "name": name,
        "c_name": cname,
        "target": target.name,
        "arena_bytes": plan.arena_size,
        "lower_bound_bytes": plan.lower_bound,
        "static_state_bytes": STATIC_STATE_BYTES,
        "ram_budget": ram_budget,
        "peak_layer": plan.peak_step,
        "peak_live": [{"name": name, "bytes": size} for name, size in plan.peak_live],
        "weight_bytes": weight_bytes,
        "alignment": target.alignment,
        "arena_alignment": arena_alignment,
        "inputs": [{k: e[k] for k in ("name", "shape", "dtype", "scale", "zero_point", "layout")} for e in inputs],
        "outputs": [{k: e[k] for k in ("name", "shape", "dtype", "scale", "zero_point", "layout")} for e in outputs],
        "layers": [layer.report for layer in layers],
        "total_macs": sum(layer.report["macs"] for layer in layers),
        "files": sorted([*files, "report.json"]),
    }
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
) -> dict[str, Any]:
    """Generate the C implementation of quantized ``graph`` into ``out_dir``; returns the report.

    ``scratch`` overrides the per-node scratch sizes (default: ask the C runtime through the
    binding). ``ram_budget``: bytes of RAM (arena + static state) the model may use: the
    planner spends any slack on full-speed conv rows, and more than that is an error
    naming the peak layer (raised before anything is written). Files: ``<c_name>.h``, ``<c_name>.c``, ``<c_name>_weights.h/.c``,
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
    )
    _write_tree(files, Path(out_dir))
    return report


__all__ = ["ROW_SPLIT_OPS", "check_ram_budget", "compute_scratch", "generate", "render"]
