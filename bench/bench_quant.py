"""Post-training quantization quality: qcompile's observers against ONNX Runtime and MLPerf.

    python3 bench/bench_quant.py [--tasks kws digits] [--observers minmax percentile]
    python3 bench/bench_quant.py --precision [--tasks kws digits resnet8-random]

Every method sees the same calibration samples and is scored (top-1) on the same
held-out samples:

* KWS (MLPerf Tiny DS-CNN, ``../shared/models/mlperf_kws_dscnn.onnx``): calibration on
  the first 200 samples of ``../shared/data/kws_mfcc_dev500.npz``, evaluation on the other
  300. The float input is ``(x - in_zero_point) * in_scale`` shaped ``[N, 1, 49, 10]``.
* digits (``examples/digits``): ``calib.npz`` / ``test.npz``.
* resnet8 (MLPerf Tiny ResNet-8, ``../shared/models/mlperf_ic_resnet8.onnx``), only with
  ``--cifar10 PATH`` (or ``QC_CIFAR10=PATH``) naming CIFAR-10's ``test_batch`` from
  ``cifar-10-python.tar.gz``, which is not shipped here: calibration on its first 500
  images, evaluation on the other 9,500 (raw pixels 0..255, NCHW, as the model takes them).

``--precision``: int8 against 16x8 (``--act-bits 16``) and the mixed precision search
(``--accuracy-target``, a target between the two) with and without ``--bias-correction``:
output SQNR against the float model on the held-out samples (host build of the generated
C), top-1 where there are labels, the layers in int16, arena and weight + bias bytes.
``resnet8-random``: ResNet-8 on uniform random pixels (seed 0; 200 calibration, 100
evaluation inputs), the stand-in when CIFAR-10 is not at hand.

Methods: the float model (onnxruntime); qcompile with each ``--observer`` the command
offers (read from the CLI, so new observers are benchmarked without editing this file),
run on the host build of the generated C; ONNX Runtime's ``quantize_static`` (QDQ,
per-channel int8 weights, int8 activations, MinMax and Entropy calibration) run with
graph optimisations off, so every QDQ pair is executed as written (exact QDQ semantics:
ORT's fused int8 kernels round differently); and MLPerf's own int8 TFLite model where one
exists, compiled by qcompile and run on the host build (bit-exact with TFLite Micro).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
sys.path.append(str(ROOT / "toolchain"))  # after site-packages: an installed qcompile wins

import qcompile  # noqa: E402
from qcompile.errors import QCompileError  # noqa: E402


@dataclass
class Task:
    """A model with its calibration and labelled evaluation data (float, source layout)."""

    name: str
    onnx: Path
    calib: np.ndarray
    x: np.ndarray
    y: np.ndarray
    tflite: Path | None = None
    x_int8: np.ndarray | None = None  # evaluation inputs as the int8 model's input quantization
    int8_params: tuple[float, int] | None = None


def kws_task() -> Task:
    with np.load(SHARED / "data/kws_mfcc_dev500.npz") as npz:
        x8, y = npz["x"], npz["y"].astype(np.int64)
        scale, zp = float(npz["in_scale"]), int(npz["in_zero_point"])
    x = ((x8.astype(np.float32) - zp) * scale).reshape(-1, 1, 49, 10)
    return Task(
        "kws",
        SHARED / "models/mlperf_kws_dscnn.onnx",
        x[:200],
        x[200:],
        y[200:],
        tflite=SHARED / "models/mlperf_kws_dscnn_int8.tflite",
        x_int8=x8[200:],
        int8_params=(scale, zp),
    )


def digits_task() -> Task:
    example = ROOT / "examples/digits"
    with np.load(example / "calib.npz") as c, np.load(example / "test.npz") as t:
        return Task("digits", example / "digits_cnn.onnx", c["input"], t["x"], t["y"].astype(np.int64))


def load_cifar10_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10's python pickle batch: ``(x [N,3,32,32] float32 0..255, y [N])``. The rows are
    the red, green and blue 32x32 planes in turn, which is NCHW as it stands."""
    import pickle

    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    return data.reshape(-1, 3, 32, 32).astype(np.float32), np.asarray(batch[b"labels"], dtype=np.int64)


def resnet8_task() -> Task:
    path = os.environ.get("QC_CIFAR10")
    if not path or not Path(path).is_file():
        raise SystemExit("resnet8 needs CIFAR-10's test_batch: pass --cifar10 PATH (or set QC_CIFAR10)")
    x, y = load_cifar10_batch(Path(path))
    return Task(
        "resnet8",
        SHARED / "models/mlperf_ic_resnet8.onnx",
        x[:500],
        x[500:],
        y[500:],
        tflite=SHARED / "models/mlperf_ic_resnet8_int8.tflite",
    )


def resnet8_random_task() -> Task:
    x = np.random.default_rng(0).uniform(0.0, 255.0, (300, 3, 32, 32)).astype(np.float32)
    return Task("resnet8-random", SHARED / "models/mlperf_ic_resnet8.onnx", x[:200], x[200:], np.zeros(0, np.int64))


TASKS: dict[str, Callable[[], Task]] = {
    "kws": kws_task,
    "digits": digits_task,
    "resnet8": resnet8_task,
    "resnet8-random": resnet8_random_task,
}

#: --accuracy-target of the mixed rows (dB on the calibration samples), between int8 and 16x8
PRECISION_TARGETS = {"kws": 33.0, "digits": 48.5, "resnet8": 30.0, "resnet8-random": 25.0}


def precision_rows(task: Task, work: Path) -> list[list[str]]:
    """int8 / 16x8 / mixed, each without and with bias correction: SQNR on the held-out samples."""
    from qcompile.tools.verify import sqnr_db

    reference = _ort_run(task.onnx, task.x).astype(np.float64)
    calib = {_input_name(task.onnx): task.calib}
    settings = [("int8", {}), ("16x8", {"act_bits": 16})]
    settings.append(
        (f"mixed (target {PRECISION_TARGETS[task.name]:g} dB)", {"accuracy_target": PRECISION_TARGETS[task.name]})
    )
    rows = []
    for bc in (False, True):
        for label, options in settings:
            start = time.perf_counter()
            out = work / f"{task.name}-{len(rows)}"
            try:
                model = qcompile.compile(task.onnx, out, calib=calib, bias_correction=bc, force=True, **options)
            except QCompileError as exc:
                rows.append([task.name, label + (" + BC" if bc else ""), f"failed: {exc}"[:60], "", "", "", ""])
                continue
            got = model.dequantize(model.run(task.x)).reshape(reference.shape)
            top1 = f"{np.mean(_top1(got, len(got)) == task.y):.2%}" if len(task.y) else "-"
            report = model.report
            mixed = report.get("mixed_precision")
            int16 = sum(
                1
                for n in model.graph.nodes
                if n.op != "requantize" and model.graph.tensors[n.outputs[0]].dtype == "int16"
            )
            flash = report["flash"]
            rows.append(
                [
                    task.name,
                    label + (" + BC" if bc else ""),
                    f"{sqnr_db(reference, got):.1f}",
                    top1,
                    f"{int16}/{len(report['layers'])}" + (f" ({mixed['achieved']:.1f} dB calib)" if mixed else ""),
                    f"{report['arena_bytes']}",
                    f"{flash['weights_bytes'] + flash['bias_and_multipliers_bytes']}",
                ]
            )
            print(f"  {rows[-1]} {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return rows


def precision_analysis(task: Task) -> None:
    """Why 16x8 gains what it gains: the logits' and the output's SQNR (numpy reference, first
    64 held-out samples) for int8 / 16x8 with and without bias correction, against two bounds:
    the float model with int8-rounded weights, and the int8 softmax input grid alone."""
    from qcompile.compiler import import_model
    from qcompile.quant.bias_correction import correct_biases
    from qcompile.quant.calibration import calibrate
    from qcompile.quant.mixed_precision import batched
    from qcompile.quant.quantize import WEIGHT_AXIS, QuantConfig, quantize, quantize_weights, weight_params
    from qcompile.reference.executor import run_float, run_quantized
    from qcompile.tools.verify import sqnr_db

    graph = import_model(task.onnx)
    data = {_input_name(task.onnx): task.calib}
    ranges = calibrate(task.onnx, graph, data, progress=False)
    t_in = graph.tensors[graph.inputs[0]]
    x = task.x[:64].reshape(-1, *t_in.source_shape[1:])
    x = x.transpose(t_in.source_perm) if t_in.source_perm is not None else x
    logits = next(n.outputs[0] for n in reversed(graph.nodes) if n.op == "fully_connected")
    out = graph.outputs[0]
    ref = run_float(batched(graph, len(x)), [x], keep_all=True)
    rounded = batched(graph, len(x))
    for node in rounded.nodes:
        if node.op in WEIGHT_AXIS:
            w = rounded.tensors[node.inputs[1]]
            q = weight_params(w.data, WEIGHT_AXIS[node.op])
            w.data = q.dequantize(quantize_weights(w.data, q)).astype(np.float32)
    wonly = run_float(rounded, [x], keep_all=True)
    print(
        f"{task.name}: int8 weights, float activations: logits {sqnr_db(ref[logits], wonly[logits]):.1f} dB, "
        f"output {sqnr_db(ref[out], wonly[out]):.1f} dB"
    )
    for bits in (8, 16):
        for bc in (False, True):
            q = quantize(graph, ranges, QuantConfig(act_bits=bits))
            if bc:
                correct_biases(graph, q, data)
            values = run_quantized(batched(q, len(x)), [q.tensors[q.inputs[0]].quant.quantize(x)], keep_all=True)
            deq = {n: q.tensors[n].quant.dequantize(values[n]) for n in (logits, out)}
            sm = next((n for n in q.nodes if n.op == "softmax"), None)
            print(
                f"  {bits}-bit activations{' + BC' if bc else ''}: logits {sqnr_db(ref[logits], deq[logits]):.1f} dB, "
                f"output {sqnr_db(ref[out], deq[out]):.1f} dB"
            )
    if sm is not None:
        q8 = q.tensors[sm.inputs[0]].quant
        z = ref[logits].astype(np.float64)

        def softmax(v):
            e = np.exp(v - v.max(-1, keepdims=True))
            return e / e.sum(-1, keepdims=True)

        print(
            f"  softmax input on its int8 grid (scale {q8.scalar_scale():.3f}) alone: "
            f"{sqnr_db(softmax(z), softmax(q8.dequantize(q8.quantize(z)))):.1f} dB"
        )


def precision_main(tasks: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="int8 vs 16x8 vs mixed precision: output SQNR against float on held-out data")
    for col in ("task", "setting", "SQNR dB", "top-1", "int16 layers", "arena B", "weights+bias B"):
        table.add_column(col)
    with tempfile.TemporaryDirectory(prefix="bench_precision_") as tmp:
        for name in tasks:
            for row in precision_rows(TASKS[name](), Path(tmp)):
                table.add_row(*row)
            table.add_section()
    Console().print(table)


def observers() -> list[str]:
    """The ``--observer`` choices of ``qcompile compile`` as installed."""
    from qcompile.cli import compile_cmd

    option = next(p for p in compile_cmd.params if p.name == "observer")
    return list(option.type.choices)  # type: ignore[attr-defined]


def _top1(outputs: np.ndarray, n: int) -> np.ndarray:
    return np.asarray(outputs, dtype=np.float64).reshape(n, -1).argmax(axis=1)


def _ort_run(model: str | Path | bytes, x: np.ndarray, *, optimize: bool = True) -> np.ndarray:
    """First output, one sample per run (the MLPerf models have a fixed batch of 1)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    if not optimize:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(
        str(model) if isinstance(model, Path) else model, opts, providers=["CPUExecutionProvider"]
    )
    name = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {name: x[i : i + 1]})[0] for i in range(len(x))])


def float_top1(task: Task) -> np.ndarray:
    return _top1(_ort_run(task.onnx, task.x), len(task.x))


def qcompile_top1(task: Task, observer: str, work: Path) -> np.ndarray:
    out = work / f"{task.name}-{observer}"
    model = qcompile.compile(task.onnx, out, calib={_input_name(task.onnx): task.calib}, observer=observer, force=True)
    return _top1(model.run(task.x), len(task.x))


def _input_name(onnx_path: Path) -> str:
    import onnx

    return onnx.load(str(onnx_path)).graph.input[0].name


def _opset13(onnx_path: Path, work: Path) -> Path:
    """The model at opset 13 or later: per-channel QDQ needs DequantizeLinear's ``axis``."""
    import onnx
    from onnx import version_converter

    model = onnx.load(str(onnx_path))
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if opset >= 13:
        return onnx_path
    out = work / f"{onnx_path.stem}-opset13.onnx"
    onnx.save(version_converter.convert_version(model, 13), str(out))
    return out


def ort_qdq_model(onnx_path: Path, calib: np.ndarray, out: Path, method: str = "minmax") -> Path:
    """ONNX Runtime's ``quantize_static`` of ``onnx_path`` (QDQ, per-channel int8 weights, int8
    activations) calibrated on ``calib`` one sample at a time; returns ``out``."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    name = _input_name(onnx_path)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.samples = iter(calib[i : i + 1] for i in range(len(calib)))

        def get_next(self) -> dict[str, np.ndarray] | None:
            x = next(self.samples, None)
            return None if x is None else {name: x}

    quantize_static(
        str(_opset13(onnx_path, out.parent)),
        str(out),
        Reader(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
        calibrate_method={"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy}[method],
    )
    return out


def ort_qdq_top1(task: Task, method: str, work: Path) -> np.ndarray:
    out = ort_qdq_model(task.onnx, task.calib, work / f"{task.name}-ort-{method}.onnx", method)
    return _top1(_ort_run(out, task.x, optimize=False), len(task.x))


def tflite_top1(task: Task, work: Path) -> np.ndarray | None:
    """MLPerf's int8 model through qcompile's host build (bit-exact with TFLite Micro)."""
    if task.tflite is None or not task.tflite.exists():
        return None
    model = qcompile.compile(task.tflite, work / f"{task.name}-tflite", force=True)
    info = model.inputs[0]
    same = task.int8_params is not None and (info.scale, info.zero_point) == _npz_params(task.int8_params)
    x = task.x_int8 if same and task.x_int8 is not None else task.x
    x = x.reshape(len(task.x), *info.shape[1:])  # a float x is quantized by run()
    return _top1(model.run(x), len(task.x))


def _npz_params(params: tuple[float, int]) -> tuple[float, int]:
    """The npz's input quantization as float32 scale (how TFLite stores it) and zero point."""
    return float(np.float32(params[0])), int(params[1])


def run_task(task: Task, methods: list[str], work: Path) -> list[tuple[str, float | None, float]]:
    """``(method, top-1 or None when not applicable, seconds)`` rows."""
    runs: list[tuple[str, Callable[[], np.ndarray | None]]] = [("float (onnxruntime)", lambda: float_top1(task))]
    runs += [(f"qcompile --observer {m}", lambda m=m: qcompile_top1(task, m, work)) for m in methods]
    runs += [(f"ORT quantize_static QDQ {m}", lambda m=m: ort_qdq_top1(task, m, work)) for m in ("minmax", "entropy")]
    runs += [("MLPerf int8 .tflite", lambda: tflite_top1(task, work))]
    rows = []
    for label, fn in runs:
        start = time.perf_counter()
        pred = fn()
        rows.append((label, None if pred is None else float(np.mean(pred == task.y)), time.perf_counter() - start))
        print(f"  {task.name}: {label}: {'-' if pred is None else f'{rows[-1][1]:.2%}'}", file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", choices=sorted(TASKS), help="default: kws digits (+ resnet8 with CIFAR)")
    parser.add_argument("--observers", nargs="+", help="default: every --observer value qcompile offers")
    parser.add_argument("--cifar10", type=Path, help="CIFAR-10's test_batch (python version) for the resnet8 task")
    parser.add_argument("--precision", action="store_true", help="int8 vs 16x8 vs mixed precision (output SQNR)")
    parser.add_argument("--analyse", action="store_true", help="with --precision: logits/output SQNR and bounds")
    args = parser.parse_args()
    if args.precision and args.analyse:
        for name in args.tasks or ["resnet8-random"]:
            precision_analysis(TASKS[name]())
        return
    if args.precision:
        precision_main(args.tasks or ["kws", "digits", "resnet8-random"])
        return
    if args.cifar10 is not None:
        os.environ["QC_CIFAR10"] = str(args.cifar10)
    args.tasks = args.tasks or ["kws", "digits"] + (["resnet8"] if os.environ.get("QC_CIFAR10") else [])
    from rich.console import Console
    from rich.table import Table

    methods = args.observers or observers()
    table = Table(title="top-1 on held-out data (same calibration samples for every method)")
    table.add_column("task")
    table.add_column("method")
    table.add_column("top-1", justify="right")
    table.add_column("vs float", justify="right")
    table.add_column("seconds", justify="right")
    with tempfile.TemporaryDirectory(prefix="bench_quant_") as tmp:
        for name in args.tasks:
            task = TASKS[name]()
            rows = run_task(task, methods, Path(tmp))
            reference = rows[0][1]
            for label, acc, secs in rows:
                delta = "-" if acc is None or reference is None else f"{100 * (acc - reference):+.2f} pt"
                table.add_row(name, label, "-" if acc is None else f"{acc:.2%}", delta, f"{secs:.1f}")
            table.add_section()
    Console().print(table)


if __name__ == "__main__":
    main()
