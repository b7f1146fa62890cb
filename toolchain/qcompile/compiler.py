"""The main job: model file in, C source folder out, all pipeline stages in order.

The output folder is written all or nothing, and only where that destroys nothing of the
user's (``qcompile.outdir``): the destination is checked before any work starts, every
file is generated into a hidden sibling folder, and that replaces the destination only
once everything succeeded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qcompile.errors import QCompileError
from qcompile.ir import Graph
from qcompile.memory.regions import load_regions
from qcompile.outdir import GRAPH_FILE, QUANTIZED_GRAPH_FILE, check_destination, file_sha256, replace_folder

if TYPE_CHECKING:
    import numpy as np

    from qcompile.codegen.families import KernelFamily


@dataclass
class CompileOptions:
    target: str = "host"
    calib: Path | Mapping[str, np.ndarray] | None = None  # an .npz file, or arrays (Python API)
    name: str | None = None
    observer: str = "minmax"
    percentile: float = 99.99
    observer_for: Mapping[str, str] | None = None  # {ONNX tensor or node name: observer}
    per_tensor_weights: bool = False
    symmetric_activations: bool = False
    act_bits: int = 8  # 16: the whole model in TFLite's 16x8 scheme
    act_bits_for: Mapping[str, int] | None = None  # {tensor or node name: 8 or 16}, per layer
    accuracy_target: str | float | None = None  # mixed precision search: "30", "sqnr=30" or "top1-drop=0.5"
    labels: str | np.ndarray | None = None  # labels for top1-drop: a key of the calibration file, or an array
    bias_correction: bool = False
    equalize: bool = False
    adaround: bool = False
    input_layout: str = "nhwc"
    input_shape: Mapping[str, Sequence[int]] | Sequence[str] | None = None  # fixes dynamic input dims
    weights_section: str | None = None
    arena_section: str | None = None  # linker section of the static arena (e.g. a DTCM .bss section)
    memory_regions: Any = None  # regions.toml path (or {name: {size, speed, section}}): arena split over RAMs
    arena_alignment: int | None = None  # default: the target's alignment
    progress: bool = True
    memory_passes: bool = True  # conv+residual-add fusion and memory-aware schedule
    ram_budget: int | None = None  # bytes of arena + static state; exceeding it is an error
    flash_budget: int | None = None  # bytes of weights + bias + code; exceeding it is an error
    io_in_arena: bool = False  # inputs/outputs in the arena (TFLM style): <name>_input(i), <name>_invoke()
    stateful: Sequence[tuple[str, str]] = ()  # (input, output) pairs kept inside as persistent state
    force: bool = False  # replace a folder qcompile did not write (never one holding an input)


def default_name(model_path: Path) -> str:
    return model_path.stem


def import_model(
    model_path: Path,
    *,
    input_layout: str = "nhwc",
    input_shape: Mapping[str, Sequence[int]] | Sequence[str] | None = None,
) -> Graph:
    """Source model -> optimized float IR (``load_onnx`` runs the float passes to a fixed point).
    ``input_shape``: ``{name: shape}`` or ``--input-shape`` strings ``"NAME=1,3,48,192"``."""
    from qcompile.frontends.detect import model_kind
    from qcompile.frontends.onnx_import import load_onnx

    if model_kind(model_path) != "onnx":
        raise QCompileError(f"{model_path}: an int8 TFLite model has no float graph to import; give an .onnx file")
    return load_onnx(model_path, input_layout=input_layout, input_shapes=_input_shapes(input_shape))


def _input_shapes(
    input_shape: Mapping[str, Sequence[int]] | Sequence[str] | None,
) -> Mapping[str, Sequence[int]] | None:
    """``{name: shape}`` from a mapping or ``--input-shape`` strings ``"NAME=1,3,48,192"``."""
    if input_shape is None or isinstance(input_shape, Mapping):
        return input_shape
    from qcompile.frontends.onnx_shapes import parse_input_shapes

    return parse_input_shapes(list(input_shape))


def quantize_model(model_path: Path, options: CompileOptions, record: dict[str, Any] | None = None) -> Graph:
    """Import, calibrate and quantize: the int8 graph the C will implement.

    The PTQ options run where each needs to (docs/QUANTIZATION.md, "PTQ options"):
    equalization rewrites the float IR before calibration, AdaRound chooses weight codes
    from the calibrated graph, bias correction adjusts the int8 graph's biases last."""
    from qcompile.frontends.detect import model_kind
    from qcompile.frontends.onnx_qdq import source_format
    from qcompile.quant.calibration import calibrate, load_calibration_data
    from qcompile.quant.quantize import QuantConfig, quantize

    if model_kind(model_path) == "tflite":
        return import_tflite_model(model_path, options)
    if source_format(model_path) == "onnx-qdq":
        return import_qdq_model(model_path, options)
    float_graph = import_model(model_path, input_layout=options.input_layout, input_shape=options.input_shape)
    if options.calib is None:
        raise QCompileError(
            "calibration data is required to quantize a float model: pass --calib calib.npz "
            "(one array per model input, first axis = samples)"
        )
    data = load_calibration_data(options.calib, float_graph)
    if options.equalize:
        from qcompile.quant.equalize import equalize

        equalize(float_graph)
    ranges = calibrate(
        model_path,
        float_graph,
        data,
        observer=options.observer,
        percentile=options.percentile,
        observer_for=options.observer_for,
        progress=options.progress,
    )
    config = QuantConfig(
        options.per_tensor_weights,
        options.symmetric_activations,
        act_bits=options.act_bits,
        act_bits_for=dict(options.act_bits_for or {}),
    )
    if options.accuracy_target is not None:
        config = _search_precision(float_graph, ranges, data, config, options, record)
    if options.adaround:
        from qcompile.quant.adaround import adaround

        config = adaround(float_graph, ranges, data, config, progress=options.progress)
    qgraph = quantize(float_graph, ranges, config)
    if options.bias_correction:
        from qcompile.quant.bias_correction import correct_biases

        correct_biases(float_graph, qgraph, data, progress=options.progress)
    return qgraph


def _search_precision(float_graph: Graph, ranges, data, config, options: CompileOptions, record: dict | None):
    """``config`` with the int16 tensors the mixed precision search chose."""
    from dataclasses import replace

    from qcompile.quant.mixed_precision import parse_accuracy_target, search
    from qcompile.quant.quantize import quantize

    if options.act_bits == 16:
        raise QCompileError("--accuracy-target searches which layers to promote to int16: drop --act-bits 16")
    target = parse_accuracy_target(options.accuracy_target)
    labels = _search_labels(options, target.metric == "top1-drop")
    result = search(float_graph, ranges, data, config, target, labels=labels, progress=options.progress)
    if record is not None:
        record["mixed_precision"] = result
        record["int8_graph"] = quantize(float_graph, ranges, config)
    return replace(config, act_bits_for={**config.act_bits_for, **result.act_bits_for})


def _search_labels(options: CompileOptions, needed: bool) -> np.ndarray | None:
    """Integer class labels for a top-1 target: ``options.labels`` (an array, or a key of the
    calibration file; default y, labels or label)."""
    import numpy as np

    if options.labels is not None and not isinstance(options.labels, str):
        return np.asarray(options.labels).reshape(-1)
    if not needed and options.labels is None:
        return None
    if isinstance(options.calib, Mapping):
        raise QCompileError("a top1-drop target with in-memory calibration arrays needs labels=<array>")
    from qcompile.outdir.samples import LABEL_KEYS

    path = Path(options.calib)
    with np.load(path, allow_pickle=False) as npz:
        key = options.labels or next((k for k in LABEL_KEYS if k in npz.files), None)
        if key not in npz.files:
            raise QCompileError(
                f"{path.name}: a top1-drop target needs integer labels in the calibration file: no array "
                f"{key or 'y'!r} (--labels KEY names it; arrays: {npz.files})"
            )
        labels = np.asarray(npz[key]).reshape(-1)
    if labels.dtype.kind not in "iu":
        raise QCompileError(f"{path.name}: labels {key!r} must be integer class indices, got {labels.dtype}")
    return labels


def import_tflite_model(model_path: Path, options: CompileOptions) -> Graph:
    """An int8 .tflite model is already quantized: its own parameters are kept (no calibration)."""
    from qcompile.frontends.tflite_import import load_tflite

    if options.calib is not None:
        raise QCompileError(
            f"{model_path.name} is an int8 TFLite model: it is already quantized and its own scales and "
            "zero points are kept, so --calib is not accepted; drop it"
        )
    if options.input_layout != "nhwc":
        raise QCompileError("--input-layout nchw does not apply to TFLite models (they are NHWC already)")
    if options.input_shape:
        raise QCompileError("--input-shape does not apply to TFLite models (their shapes are static); drop it")
    ptq = [flag for flag, on in _ptq_flags(options).items() if on]
    if ptq:
        raise QCompileError(
            f"{model_path.name} is an int8 TFLite model: it is already quantized, so {', '.join(ptq)} "
            "cannot apply; drop them (or compile the float ONNX model)"
        )
    return load_tflite(model_path)


def import_qdq_model(model_path: Path, options: CompileOptions) -> Graph:
    """A pre-quantized ONNX model (QDQ or operator format) keeps its own scales and zero points:
    --calib and the PTQ options are refused, as for a TFLite model."""
    from qcompile.frontends.onnx_qdq import load_qdq

    what = f"{model_path.name} is a quantized ONNX model (QuantizeLinear/DequantizeLinear or QLinear* ops)"
    if options.calib is not None:
        raise QCompileError(
            f"{what}: it is already quantized and its own scales and zero points are kept, so --calib is not "
            "accepted; drop it (give data to `qcompile verify DIR --data X.npz` instead)"
        )
    ptq = [flag for flag, on in _ptq_flags(options).items() if on]
    if ptq:
        raise QCompileError(
            f"{what}: it is already quantized, so {', '.join(ptq)} cannot apply; drop them "
            "(or compile the float model with --calib)"
        )
    return load_qdq(model_path, input_layout=options.input_layout, input_shapes=_input_shapes(options.input_shape))


def _ptq_flags(options: CompileOptions) -> dict[str, bool]:
    """The calibration and PTQ options set away from their defaults, by command-line name."""
    return {
        f"--observer {options.observer}": options.observer != "minmax",
        "--observer-for": bool(options.observer_for),
        "--per-tensor-weights": options.per_tensor_weights,
        "--symmetric-activations": options.symmetric_activations,
        f"--act-bits {options.act_bits}": options.act_bits != 8,
        "--act-bits-for": bool(options.act_bits_for),
        "--accuracy-target": options.accuracy_target is not None,
        "--bias-correction": options.bias_correction,
        "--equalize": options.equalize,
        "--adaround": options.adaround,
    }


def optimize_memory(qgraph: Graph, *, alignment: int = 16, family: KernelFamily | None = None) -> Graph:
    """A copy of ``qgraph`` after the quantized-graph passes that cut RAM: fuse residual adds into their conv (the conv
    output is never stored whole and the sum can overwrite the residual in place), fuse
    the global average pool + fully connected head (the pooled vector lives in scratch), then
    reorder nodes to the topological order with the smallest arena peak.

    The head fusion runs a portable kernel, so only a family that asks for it gets it (the
    DSP family's specialised FC kernel beats the fused portable head: ResNet-8 on QEMU M7,
    +3,360 instructions fused, same arena). The schedule uses the scratch sizes of the
    family that will run the layers (default: the portable baseline)."""
    from qcompile.codegen.families import baseline_family
    from qcompile.codegen.generator import family_scratch
    from qcompile.memory import schedule
    from qcompile.passes import run_to_fixed_point
    from qcompile.passes.quantized_ir import fuse_head, fuse_residual

    if family is None:
        family = baseline_family()
    pipeline = [fuse_residual.run]
    if family.fuse_head:
        pipeline.append(fuse_head.run)
    qgraph = run_to_fixed_point(qgraph.copy(), pipeline)  # the passes work in place; the caller's graph stays as it was
    return schedule.run(qgraph, family_scratch(family, qgraph), alignment=alignment)


def _codegen_options(options: CompileOptions) -> dict[str, Any]:
    """The code generator's keyword options from the compile options."""
    return {
        "weights_section": options.weights_section,
        "arena_alignment": options.arena_alignment,
        "ram_budget": options.ram_budget,
        "io_in_arena": options.io_in_arena,
        "flash_budget": options.flash_budget,
        "arena_section": options.arena_section,
        "memory_regions": load_regions(options.memory_regions) or None,
    }


def _precision_costs(record: dict, quantized: Graph, report: dict, target, name: str, options: CompileOptions) -> dict:
    """The search result with its cost against the all-int8 graph rendered for the same target."""
    from qcompile.codegen.generator import render
    from qcompile.quant.mixed_precision import precision_costs

    int8 = record["int8_graph"]
    if options.memory_passes:
        int8 = optimize_memory(int8, alignment=target.alignment, family=target.family)
    _, int8_report = render(int8, name=name, target=target, **_codegen_options(options))
    return precision_costs(record["mixed_precision"], quantized, report, int8_report)


def _origin(model_path: Path, calib: Path | None) -> dict[str, str | None]:
    """What the folder is compiled from, recorded in ``model.qir`` and the marker: ``verify``
    finds the calibration file by it and ``compare`` recognises the source model."""
    return {
        "source_model": str(model_path.resolve()),
        "source_sha256": file_sha256(model_path),
        "calibration_data": str(Path(calib).resolve()) if calib else None,
    }


def compile_model(model_path: Path, out_dir: Path, options: CompileOptions) -> dict[str, Any]:
    """Run the whole pipeline; returns the report that is also written as report.json."""
    from qcompile.codegen import generate
    from qcompile.frontends.onnx_qdq import source_format
    from qcompile.ir_io import save_graph
    from qcompile.targets import load_target

    model_path = Path(model_path)
    calib_file = None if isinstance(options.calib, Mapping) else options.calib
    regions_file = options.memory_regions if isinstance(options.memory_regions, str | Path) else None
    inputs = [model_path, calib_file, *([Path(regions_file)] if regions_file else [])]
    check_destination(Path(out_dir), inputs=inputs, force=options.force)
    target = load_target(options.target)
    load_regions(options.memory_regions)  # a bad regions file fails before any work
    record: dict[str, Any] = {}
    quantized = quantize_model(model_path, options, record)
    if options.stateful:
        from qcompile.quant.stateful import keep_state

        keep_state(quantized, options.stateful)
    qgraph = quantized
    if options.memory_passes:
        qgraph = optimize_memory(quantized, alignment=target.alignment, family=target.family)
    name = options.name or default_name(model_path)
    origin = _origin(model_path, calib_file)
    with replace_folder(Path(out_dir), inputs=inputs, force=options.force, marker=origin) as tmp:
        report = generate(qgraph, tmp, name=name, target=target, **_codegen_options(options))
        meta = {
            "source_format": source_format(model_path),
            "name": name,
            "c_name": report.get("c_name", report.get("name", name)),
            "target": target.name,
            **origin,
        }
        if "mixed_precision" in record:
            report["mixed_precision"] = _precision_costs(record, quantized, report, target, name, options)
            (tmp / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True, allow_nan=False) + "\n")
        save_graph(qgraph, tmp / GRAPH_FILE, meta=meta)
        save_graph(quantized, tmp / QUANTIZED_GRAPH_FILE, meta={**meta, "memory_passes": options.memory_passes})
    return report
