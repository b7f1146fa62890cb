"""The main job: model file in, C source folder out, all pipeline stages in order.

The output folder is written all or nothing, and only where that destroys nothing of the
user's (``qcompile.outdir``): the destination is checked before any work starts, every
file is generated into a hidden sibling folder, and that replaces the destination only
once everything succeeded.
"""

from __future__ import annotations

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


def quantize_model(model_path: Path, options: CompileOptions) -> Graph:
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
    if options.adaround:
        from qcompile.quant.adaround import adaround

        config = adaround(float_graph, ranges, data, config, progress=options.progress)
    qgraph = quantize(float_graph, ranges, config)
    if options.bias_correction:
        from qcompile.quant.bias_correction import correct_biases

        correct_biases(float_graph, qgraph, data, progress=options.progress)
    return qgraph


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
    regions = load_regions(options.memory_regions)  # a bad regions file fails before any work
    quantized = quantize_model(model_path, options)
    if options.stateful:
        from qcompile.quant.stateful import keep_state

        keep_state(quantized, options.stateful)
    qgraph = quantized
    if options.memory_passes:
        qgraph = optimize_memory(quantized, alignment=target.alignment, family=target.family)
    name = options.name or default_name(model_path)
    origin = _origin(model_path, calib_file)
    with replace_folder(Path(out_dir), inputs=inputs, force=options.force, marker=origin) as tmp:
        report = generate(
            qgraph,
            tmp,
            name=name,
            target=target,
            weights_section=options.weights_section,
            arena_alignment=options.arena_alignment,
            ram_budget=options.ram_budget,
            io_in_arena=options.io_in_arena,
            flash_budget=options.flash_budget,
            arena_section=options.arena_section,
            memory_regions=regions or None,
        )
        meta = {
            "source_format": source_format(model_path),
            "name": name,
            "c_name": report.get("c_name", report.get("name", name)),
            "target": target.name,
            **origin,
        }
        save_graph(qgraph, tmp / GRAPH_FILE, meta=meta)
        save_graph(quantized, tmp / QUANTIZED_GRAPH_FILE, meta={**meta, "memory_passes": options.memory_passes})
    return report
