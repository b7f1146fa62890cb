"""``qcompile eval``: what quantization costs on a labelled set, measured on the C itself.

The int8 numbers come from the host build of the generated C (``CompiledModel.run``),
not from the numpy reference, so they are what the firmware will score (the C is
bit-exact with the reference, and ``qcompile verify`` proves it). The float numbers come
from onnxruntime on the source model, or on ``--float MODEL.onnx`` for a folder compiled
from an int8 ``.tflite`` (then the int8 inputs are dequantized and laid out as that
model's input).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qcompile.errors import QCompileError
from qcompile.outdir import ModelFolder, Samples, int8_inputs, load_samples
from qcompile.outdir.samples import LABEL_KEYS
from qcompile.progress import progress_bar
from qcompile.tools.verify import sqnr_db, stream_float_outputs, to_source

CHUNK = 64  # samples per host-build call: the progress bar moves, memory stays bounded


@dataclass
class EvalResult:
    """Int8 (and float) outputs' agreement and, with labels, accuracies."""

    data_source: str
    samples: int
    int8_top1: np.ndarray  # predicted class per sample (first output)
    float_top1: np.ndarray | None
    labels: np.ndarray | None
    sqnr_db: float | None
    mse: float | None
    float_source: str | None

    @property
    def classes(self) -> int:
        values = [self.int8_top1] + [a for a in (self.float_top1, self.labels) if a is not None]
        return int(max(int(v.max()) for v in values)) + 1

    def accuracy(self, predicted: np.ndarray) -> float:
        assert self.labels is not None
        return float(np.mean(predicted == self.labels))

    def per_class(self, predicted: np.ndarray) -> list[tuple[int, int, float]]:
        """``(class, samples, accuracy)`` for every class present in the labels."""
        assert self.labels is not None
        return [
            (c, int(np.sum(m)), float(np.mean(predicted[m] == c)))
            for c in np.unique(self.labels)
            for m in [self.labels == c]
        ]

    def confusion(self, predicted: np.ndarray) -> np.ndarray:
        """Rows: true class, columns: predicted class."""
        assert self.labels is not None
        k = self.classes
        matrix = np.zeros((k, k), dtype=np.int64)
        np.add.at(matrix, (self.labels.astype(np.int64), predicted.astype(np.int64)), 1)
        return matrix


def _labels(path: Path, key: str | None, n: int) -> np.ndarray | None:
    with np.load(path, allow_pickle=False) as npz:
        if key is not None and key not in npz.files:
            raise QCompileError(f"{path.name}: no array {key!r} for --labels (arrays: {npz.files})")
        key = key or next((k for k in LABEL_KEYS if k in npz.files), None)
        if key is None:
            return None
        labels = np.asarray(npz[key]).reshape(-1)
    if len(labels) < n or labels.dtype.kind not in "iu":
        raise QCompileError(f"{path.name}: labels {key!r} must be {n} or more integer class indices")
    return labels[:n]


def _int8_run(folder: ModelFolder, quantized: list[np.ndarray], progress: bool) -> np.ndarray:
    """Dequantized first output of the host build, source layout, ``[n, ...]``."""
    import qcompile

    model = qcompile.load(folder.path)
    t = folder.graph.tensors[folder.graph.outputs[0]]
    n = len(quantized[0])
    chunk = n if folder.graph.state else CHUNK  # a stream runs as one call: each call starts from the reset state
    parts = []
    with progress_bar(progress, n, "int8 (host build)") as advance:
        for start in range(0, n, chunk):
            out = model.run([q[start : start + chunk] for q in quantized])
            first = out if isinstance(out, np.ndarray) else next(iter(out.values()))
            parts.append(to_source(t, t.quant.dequantize(first)))
            advance(len(first))
    return np.concatenate(parts).astype(np.float64)


def _float_from_int8(folder: ModelFolder, model: Path, quantized: list[np.ndarray]) -> np.ndarray:
    """The float model's first output on the dequantized int8 inputs (a ``.tflite`` folder)."""
    import onnx

    from qcompile.quant.calibration import float_outputs

    graph = onnx.load(os.fspath(model))
    init = {i.name for i in graph.graph.initializer}
    feeds = {}
    inputs = [i for i in graph.graph.input if i.name not in init]
    for vi, q, name in zip(inputs, quantized, folder.graph.inputs, strict=False):
        x = folder.graph.tensors[name].quant.dequantize(q).astype(np.float32)
        dims = [d.dim_value for d in vi.type.tensor_type.shape.dim][1:]
        if x.ndim == 4 and dims == [x.shape[3], x.shape[1], x.shape[2]] and x.shape[3] != 1:
            x = x.transpose(0, 3, 1, 2)  # NHWC int8 model, NCHW float model
        elif all(dims) and int(np.prod(dims)) == x[0].size:
            x = x.reshape((len(x), *dims))
        feeds[vi.name] = x
    if len(feeds) != len(folder.graph.inputs):
        raise QCompileError(f"{model}: it has {len(inputs)} inputs, the compiled model {len(folder.graph.inputs)}")
    return np.asarray(next(iter(float_outputs(model, feeds).values())), dtype=np.float64)


def _samples(folder: ModelFolder, data: Path, limit: int | None) -> Samples:
    if folder.is_tflite_source:
        quantized = int8_inputs(folder.graph, data, limit or 1 << 62)
        return Samples(quantized, len(quantized[0]), f"{data} (--data), {len(quantized[0])} samples")
    return load_samples(folder, data, limit)


def evaluate(
    out_dir: str | os.PathLike[str],
    data: str | os.PathLike[str],
    *,
    labels: str | None = None,
    float_model: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    progress: bool = False,
) -> EvalResult:
    """Float model vs the int8 host build on ``data`` (see the module docstring)."""
    folder = ModelFolder.open(Path(out_dir))
    data = Path(data)
    if not data.exists():
        raise QCompileError(f"{data}: no such file")
    samples = _samples(folder, data, limit)
    got = _int8_run(folder, samples.quantized, progress)
    expected, source = None, None
    if float_model is not None:
        expected, source = _float_from_int8(folder, Path(float_model), samples.quantized), str(float_model)
    elif not folder.is_tflite_source and samples.floats is not None and folder.source_model is not None:
        from qcompile.quant.calibration import float_outputs

        if folder.graph.state:  # one stream, each state output fed back as in the C
            outs = stream_float_outputs(folder, samples.floats, samples.n)
            first = folder.graph.tensors[folder.graph.user_outputs[0]]
            outs = {first.source_name: outs[first.source_name or first.name]}
        else:
            outs = float_outputs(folder.source_model, samples.floats, optimize=not folder.is_qdq_source)
        expected, source = np.asarray(next(iter(outs.values())), dtype=np.float64), str(folder.source_model)
    label_array = _labels(data, labels, samples.n)
    if expected is None and label_array is None:
        raise QCompileError(
            f"{data.name} has no labels and {folder.path} has no float model to compare with: pass --labels KEY, "
            "or --float MODEL.onnx for a folder compiled from .tflite"
        )
    n = samples.n
    if expected is not None:
        expected = expected.reshape(got.shape)
    return EvalResult(
        data_source=samples.source,
        samples=n,
        int8_top1=got.reshape(n, -1).argmax(axis=1),
        float_top1=None if expected is None else expected.reshape(n, -1).argmax(axis=1),
        labels=label_array,
        sqnr_db=None if expected is None else sqnr_db(expected, got),
        mse=None if expected is None else float(np.mean(np.square(expected - got))),
        float_source=source,
    )
