"""Where a quantized model loses accuracy: per-layer SQNR against the float model.

For every layer two numbers, on the same samples:

* ``sqnr_db``: the int8 reference's output (dequantized) against onnxruntime's float
  tensor. This is what the layer delivers, including every error it inherits.
* ``own_sqnr_db``: the same layer's int8 kernel run on its *float* inputs quantized with
  the inputs' parameters. The difference isolates the layer's own error (its output
  range, its weights' quantization) from what earlier layers passed on, which is what a
  person fixing accuracy needs to know: a low ``own`` SQNR is this layer's fault.

The float tensors come from one onnxruntime run of the source model with the needed
intermediate tensors exposed as outputs, found through each IR tensor's
``source_name``/``source_perm`` (as calibration does). Statistics are streamed over
chunks of samples; a few samples' values are kept for the histograms.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qcompile.errors import QCompileError
from qcompile.ir import Graph, Node, Tensor
from qcompile.outdir import ModelFolder, Samples, load_samples, to_physical
from qcompile.progress import progress_bar
from qcompile.tools.verify import sqnr_from_power

CHUNK = 16  # samples per onnxruntime run: bounds the float activations held at once
HIST_SAMPLES = 8  # samples whose values the histograms show
DEFAULT_SAMPLES = 64


@dataclass
class LayerError:
    """One layer's (node's first output's) error statistics."""

    index: int
    node: str
    op: str
    tensor: str
    signal: float = 0.0
    noise: float = 0.0
    own_noise: float = 0.0
    own_known: bool = True
    compared: int = 0  # samples whose float tensor matched this layer's output
    lo: float = np.inf
    hi: float = -np.inf
    float_values: list[np.ndarray] = field(default_factory=list)
    int8_values: list[np.ndarray] = field(default_factory=list)

    @property
    def sqnr_db(self) -> float:
        return sqnr_from_power(self.signal, self.noise)

    @property
    def own_sqnr_db(self) -> float | None:
        """None when an input has no float counterpart in the source model."""
        return sqnr_from_power(self.signal, self.own_noise) if self.own_known else None

    def histogram_values(self) -> tuple[np.ndarray, np.ndarray]:
        """Float and dequantized int8 values of the first samples, flat."""
        return np.concatenate(self.float_values), np.concatenate(self.int8_values)


@dataclass
class Report:
    """The report's content: what ran and every comparable layer in graph order."""

    model: str
    folder: Path
    data_source: str
    samples: int
    layers: list[LayerError]
    skipped: list[str]  # layers whose output has no float tensor in the source model

    def worst_first(self) -> list[LayerError]:
        return sorted(self.layers, key=lambda e: (e.sqnr_db, e.index))


def _comparable(graph: Graph) -> tuple[list[tuple[Node, Tensor]], list[str]]:
    pairs, skipped = [], []
    for node in graph.nodes:
        t = graph.tensors[node.outputs[0]]
        if t.source_name and t.quant is not None:
            pairs.append((node, t))
        else:
            skipped.append(node.name)
    return pairs, skipped


def _physical(t: Tensor, floats: dict[str, np.ndarray], i: int) -> np.ndarray | None:
    """Sample ``i`` of tensor ``t``'s float values in the IR's layout, if the source has them."""
    value = floats.get(t.source_name or "")
    if value is None or value[i].size != t.size or int(np.prod(t.source_shape[1:])) != t.size:
        return None  # absent, or an IR tensor whose recorded source shape no longer describes it
    return to_physical(t, value[i : i + 1].reshape((1, *t.source_shape[1:]))).reshape(t.shape)


def _own_output(graph: Graph, node: Node, floats: dict[str, np.ndarray], i: int) -> np.ndarray | None:
    """The node's int8 output with its activation inputs taken from the float model."""
    from qcompile.reference.executor import run_quantized_node

    values = {}
    for name in filter(None, node.inputs):
        t = graph.tensors[name]
        if t.is_constant:
            continue
        x = _physical(t, floats, i)
        if x is None or t.quant is None:
            return None
        values[name] = t.quant.quantize(x)
    return run_quantized_node(graph, node, values)[0]


def _update(graph: Graph, errors: list[LayerError], pairs, floats: dict, ref: dict, i: int, keep: bool) -> None:
    for err, (node, t) in zip(errors, pairs, strict=True):
        expected = _physical(t, floats, i)
        if expected is None:
            err.own_known = False
            continue
        expected = expected.astype(np.float64)
        err.compared += 1
        got = t.quant.dequantize(ref[t.name])
        err.signal += float(np.sum(np.square(expected)))
        err.noise += float(np.sum(np.square(expected - got)))
        err.lo, err.hi = min(err.lo, float(expected.min())), max(err.hi, float(expected.max()))
        own = _own_output(graph, node, floats, i) if err.own_known else None
        if own is None:
            err.own_known = False
        else:
            err.own_noise += float(np.sum(np.square(expected - t.quant.dequantize(own))))
        if keep:
            err.float_values.append(expected.reshape(-1))
            err.int8_values.append(np.asarray(got, dtype=np.float64).reshape(-1))


def _float_chunk(folder: ModelFolder, samples: Samples, start: int, stop: int, names: Sequence[str]) -> dict:
    from qcompile.quant.calibration import float_outputs

    assert samples.floats is not None and folder.source_model is not None
    feeds = {k: v[start:stop] for k, v in samples.floats.items()}
    wanted = [n for n in names if n not in feeds]
    outs = float_outputs(folder.source_model, feeds, extra=wanted, optimize=not folder.is_qdq_source)
    return {**outs, **feeds}


def _float_folder(out_dir: Path) -> ModelFolder:
    folder = ModelFolder.open(out_dir)
    if folder.is_tflite_source or folder.source_model is None:
        raise QCompileError(
            f"{out_dir} was compiled from an int8 .tflite model, which has no float model to compare layers "
            "with; qcompile report needs a folder compiled from a float ONNX model (qcompile eval DIR --float "
            "MODEL.onnx compares outputs only)"
        )
    if not folder.source_model.exists():
        raise QCompileError(f"the source model {folder.source_model} recorded at compile time is not available")
    return folder


def analyse(
    out_dir: str | os.PathLike[str],
    *,
    data: str | os.PathLike[str] | None = None,
    limit: int | None = DEFAULT_SAMPLES,
    progress: bool = False,
) -> Report:
    """Per-layer errors of the folder's int8 reference against its float source model."""
    from qcompile.reference.executor import run_quantized

    folder = _float_folder(Path(out_dir))
    samples = load_samples(folder, None if data is None else Path(data), limit)
    graph = folder.graph
    pairs, skipped = _comparable(graph)
    errors = [LayerError(graph.nodes.index(n), n.name, n.op, t.name) for n, t in pairs]
    names = sorted({t.source_name for t in graph.activations() if t.source_name})
    with progress_bar(progress, samples.n, "report") as advance:
        for start in range(0, samples.n, CHUNK):
            stop = min(start + CHUNK, samples.n)
            floats = _float_chunk(folder, samples, start, stop, names)
            for i in range(stop - start):
                ref = run_quantized(graph, [q[start + i : start + i + 1] for q in samples.quantized], keep_all=True)
                _update(graph, errors, pairs, floats, ref, i, keep=start + i < HIST_SAMPLES)
                advance()
    skipped += [e.node for e in errors if not e.compared]  # the source tensor holds other values (e.g. fused)
    compared = [e for e in errors if e.compared]
    return Report(folder.name, folder.path, samples.source, samples.n, compared, skipped)
