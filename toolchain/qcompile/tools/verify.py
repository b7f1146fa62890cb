"""Prove a generated model before it is flashed.

Two questions, answered on the same inputs:
1. Does the C compute exactly what the numpy reference computes? The generated sources
   are built for the host and run through the Cython binding; every output byte is
   compared with ``reference.executor.run_quantized``. Anything short of N/N is a bug.
2. How far is the int8 model from the float one? Dequantized outputs are compared with
   onnxruntime's float outputs (SQNR in dB, top-1 agreement, and accuracy when labels
   are given).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qcompile.compiler import GRAPH_FILE
from qcompile.errors import QCompileError
from qcompile.ir import Graph, Tensor

LABEL_KEYS = ("y", "labels", "label")


@dataclass
class OutputComparison:
    name: str
    sqnr_db: float
    top1_agreement: float | None
    int8_accuracy: float | None = None
    float_accuracy: float | None = None


@dataclass
class VerifyResult:
    samples: int
    bit_exact: int
    mismatched_samples: list[int] = field(default_factory=list)
    outputs: list[OutputComparison] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.bit_exact == self.samples


def load_compiled(out_dir: Path) -> tuple[Graph, dict[str, Any]]:
    from qcompile.ir_io import load_graph

    path = Path(out_dir) / GRAPH_FILE
    if not path.exists():
        raise QCompileError(f"{out_dir}: no {GRAPH_FILE} here; is this a folder written by `qcompile`?")
    return load_graph(path)


def to_physical(t: Tensor, source: np.ndarray) -> np.ndarray:
    """Source-layout batch [N, *t.source_shape[1:]] -> physical layout batch."""
    src = np.asarray(source).reshape((-1, *t.source_shape[1:]))
    if t.source_perm is None:
        return src
    return src.transpose(t.source_perm)


def to_source(t: Tensor, physical: np.ndarray) -> np.ndarray:
    phys = np.asarray(physical).reshape((-1, *t.shape[1:]))
    if t.source_perm is None:
        return phys
    return phys.transpose(np.argsort(t.source_perm))


def load_inputs(data_path: Path, graph: Graph) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Float inputs (source layout, keyed by source input name) and labels if the file has them.

    Inputs are found by ``load_calibration_data``'s rules (by input name, else a lone or
    conventionally named array), so a file may carry labels (``y``) next to them.
    """
    from qcompile.quant.calibration import load_calibration_data

    labels = None
    with np.load(data_path) as npz:
        for key in LABEL_KEYS:
            if key in npz.files:
                labels = np.asarray(npz[key]).reshape(-1)
                break
    return load_calibration_data(data_path, graph), labels


def is_tflite_source(meta: dict[str, Any]) -> bool:
    """True when the folder was compiled from an (already quantized) .tflite model."""
    return str(meta.get("source_model") or "").lower().endswith(".tflite")


def sqnr_db(reference: np.ndarray, test: np.ndarray) -> float:
    signal = float(np.sum(np.square(reference.astype(np.float64))))
    noise = float(np.sum(np.square(reference.astype(np.float64) - test.astype(np.float64))))
    if noise == 0.0:
        return float("inf")
    if signal == 0.0:
        return float("-inf")
    return 10.0 * np.log10(signal / noise)


@dataclass
class Samples:
    """The inputs a verification runs: int8 per graph input (physical layout, ``[n, ...]``)
    and, for a model compiled from a float source, the float samples they quantize."""

    quantized: list[np.ndarray]
    n: int
    floats: dict[str, np.ndarray] | None = None
    labels: np.ndarray | None = None


def load_samples(graph: Graph, meta: dict[str, Any], data: Path | None, limit: int | None) -> Samples:
    """Inputs for ``qcompile verify`` (host or QEMU) of a compiled folder.

    A folder compiled from an int8 ``.tflite`` has no float twin: its inputs are int8
    samples, random unless ``data`` is given (100 unless ``limit`` says otherwise). Any
    other folder needs float samples: ``data`` or the calibration file recorded at
    compile time, quantized with each input's parameters.
    """
    if is_tflite_source(meta):
        from qcompile.tools.compare import int8_inputs

        quantized = int8_inputs(graph, data, 100 if limit is None else int(limit))
        return Samples(quantized=quantized, n=len(quantized[0]))
    data_path = Path(data) if data else (Path(meta["calibration_data"]) if meta.get("calibration_data") else None)
    if data_path is None or not data_path.exists():
        raise QCompileError(
            f"no input data: pass --data inputs.npz (the calibration file recorded at compile time, "
            f"{meta.get('calibration_data')}, is not available)"
        )
    float_inputs, labels = load_inputs(data_path, graph)
    n = min(len(a) for a in float_inputs.values())
    if limit is not None:
        n = min(n, int(limit))
    if n == 0:
        raise QCompileError(f"{data_path}: no samples")
    float_inputs = {k: v[:n] for k, v in float_inputs.items()}
    quantized = []
    for name in graph.inputs:
        t = graph.tensors[name]
        key = t.source_name if t.source_name in float_inputs else next(iter(float_inputs))
        quantized.append(np.ascontiguousarray(t.quant.quantize(to_physical(t, float_inputs[key]))))
    return Samples(quantized=quantized, n=n, floats=float_inputs, labels=None if labels is None else labels[:n])


def reference_outputs(graph: Graph, quantized: list[np.ndarray], *, progress: bool = False) -> list[list[np.ndarray]]:
    """``[sample][output]`` flat int8 outputs of the numpy reference, one sample at a time
    (as the C runs them)."""
    from qcompile.progress import progress_bar
    from qcompile.reference.executor import run_quantized

    expected = []
    n = len(quantized[0])
    with progress_bar(progress, n, "reference") as advance:
        for i in range(n):
            ref = run_quantized(graph, [q[i : i + 1] for q in quantized])
            expected.append([np.asarray(ref[name]).reshape(-1) for name in graph.outputs])
            advance()
    return expected


def bit_exact_result(expected: list[list[np.ndarray]], got: list[Any]) -> VerifyResult:
    """Compare ``expected[sample][output]`` with ``got[output][sample]`` (the layout both the
    Cython binding and the QEMU runner return) byte for byte."""
    result = VerifyResult(samples=len(expected), bit_exact=0)
    for i, outs in enumerate(expected):
        if all(np.array_equal(e, np.asarray(got[j][i]).reshape(-1)) for j, e in enumerate(outs)):
            result.bit_exact += 1
        else:
            result.mismatched_samples.append(i)
    return result


def verify(
    out_dir: Path,
    *,
    data: Path | None = None,
    limit: int | None = None,
    float_model: bool = True,
    progress: bool = False,
) -> VerifyResult:
    from qcompile.host._runtime import ModelLibrary
    from qcompile.host.build import build_host_library

    out_dir = Path(out_dir)
    graph, meta = load_compiled(out_dir)
    in_tensors = [graph.tensors[name] for name in graph.inputs]
    out_tensors = [graph.tensors[name] for name in graph.outputs]
    samples = load_samples(graph, meta, data, limit)
    n = samples.n

    with tempfile.TemporaryDirectory(prefix="qcompile-hostbuild-") as build_dir:
        lib_path = build_host_library(out_dir, name=meta["c_name"], build_dir=Path(build_dir))
        library = ModelLibrary(
            str(lib_path),
            meta["c_name"],
            [t.size for t in in_tensors],
            [t.size for t in out_tensors],
            0,
        )
        c_outputs = library.run([q.reshape(n, -1) for q in samples.quantized])

    ref_outputs = reference_outputs(graph, samples.quantized, progress=progress)
    result = bit_exact_result(ref_outputs, c_outputs)

    float_inputs, labels = samples.floats, samples.labels
    if float_model and float_inputs is not None and meta.get("source_model") and Path(meta["source_model"]).exists():
        from qcompile.quant.calibration import float_outputs

        reference_float = float_outputs(Path(meta["source_model"]), float_inputs)
        for j, t in enumerate(out_tensors):
            name = t.source_name or t.name
            expected = np.asarray(reference_float[name], dtype=np.float64).reshape((n, *t.source_shape[1:]))
            got = to_source(t, t.quant.dequantize(np.stack([r[j] for r in ref_outputs]).reshape((n, *t.shape[1:]))))
            comparison = OutputComparison(name=name, sqnr_db=sqnr_db(expected, got), top1_agreement=None)
            if expected.ndim >= 2 and expected.reshape(n, -1).shape[1] > 1:
                f_top = expected.reshape(n, -1).argmax(axis=1)
                q_top = got.reshape(n, -1).argmax(axis=1)
                comparison.top1_agreement = float(np.mean(f_top == q_top))
                if labels is not None and len(labels) == n and j == 0:
                    comparison.float_accuracy = float(np.mean(f_top == labels))
                    comparison.int8_accuracy = float(np.mean(q_top == labels))
            result.outputs.append(comparison)
    return result
