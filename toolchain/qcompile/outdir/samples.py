"""The inputs a compiled folder is run on, and the sentence saying where they came from.

A folder compiled from a float model is run on float samples quantized with each input's
parameters: ``--data`` or, by default, the calibration file recorded at compile time. A
folder compiled from an int8 ``.tflite`` has no float twin and no calibration file: int8
(or float) samples from ``--data``, or random int8 inputs. Every caller prints
``Samples.source`` so a person knows what was verified.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qcompile.errors import QCompileError
from qcompile.ir import Graph, Tensor
from qcompile.sample_axis import as_samples, sample_shape, samples_perm

if TYPE_CHECKING:
    from qcompile.outdir.folder import ModelFolder

LABEL_KEYS = ("y", "labels", "label")
_FALLBACK_KEYS = ("x", "input", "inputs", "data")
RANDOM_SAMPLES = 100


@dataclass
class Samples:
    """int8 inputs per graph input (physical layout, ``[n, ...]``) and, for a float source,
    the float samples they quantize and the labels next to them."""

    quantized: list[np.ndarray]
    n: int
    source: str
    floats: dict[str, np.ndarray] | None = None
    labels: np.ndarray | None = None


def to_physical(t: Tensor, source: np.ndarray) -> np.ndarray:
    """Source-layout batch ``[N, *sample]`` -> physical layout batch (:mod:`qcompile.sample_axis`)."""
    src = as_samples(source, t.source_shape)
    if t.source_perm is None:
        return src
    return src.transpose(samples_perm(t.source_perm, t.source_shape))


def _int8_key(path: Path, keys: list[str], t: Tensor, single: bool) -> str:
    if t.source_name in keys:
        return str(t.source_name)
    if single and any(k in keys for k in _FALLBACK_KEYS):
        return next(k for k in _FALLBACK_KEYS if k in keys)
    if single and len(keys) == 1:
        return keys[0]
    raise QCompileError(f"{path.name}: no array for input {t.source_name!r} (arrays: {keys})")


def int8_inputs(graph: Graph, data: Path | None, n: int, *, seed: int = 0) -> list[np.ndarray]:
    """int8 samples ``[n, *sample_shape(shape)]`` per graph input: random, or read from ``data``.

    ``data`` (.npz) holds one array per input (keyed by the input's source name, or a
    single array / ``x``); int8 arrays are taken as already quantized, float arrays are
    quantized with the input's parameters.
    """
    tensors = [graph.tensors[name] for name in graph.user_inputs]
    if data is None:
        rng = np.random.default_rng(seed)
        return [
            rng.integers(np.iinfo(t.dtype).min, np.iinfo(t.dtype).max + 1, size=(n, *sample_shape(t.shape))).astype(
                t.dtype
            )
            for t in tensors
        ]
    path = Path(data)
    if not path.exists():
        raise QCompileError(f"{path}: no such file")
    result = []
    with np.load(path, allow_pickle=False) as npz:
        keys = list(npz.keys())
        for t in tensors:
            key = _int8_key(path, keys, t, len(tensors) == 1)
            arr = np.asarray(npz[key])
            sample = int(np.prod(sample_shape(t.shape), dtype=np.int64))
            if arr.size % sample or arr.size == 0:
                raise QCompileError(f"{path.name}: array {key!r} of shape {arr.shape} does not hold inputs {t.shape}")
            arr = as_samples(arr, t.shape)
            if arr.dtype == np.dtype(t.dtype):
                q = arr
            elif arr.dtype.kind == "f":
                q = t.quant.quantize(arr)
            else:
                raise QCompileError(f"{path.name}: array {key!r} is {arr.dtype}; give {t.dtype} or float values")
            result.append(np.ascontiguousarray(q[:n]))
    m = min(len(a) for a in result)
    return [a[:m] for a in result]


def load_float_inputs(data_path: Path, graph: Graph) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Float inputs (source layout, keyed by source input name) and labels if the file has them.

    Inputs are found by ``load_calibration_data``'s rules (by input name, else a lone or
    conventionally named array), so a file may carry labels (``y``) next to them. A graph with
    persistent state (``--stateful``) needs the caller's inputs only: the state inputs run
    from their initial value as the C does.
    """
    from qcompile.quant.calibration import load_calibration_data

    if graph.state:
        graph = graph.copy()
        graph.inputs = list(graph.user_inputs)

    labels = None
    with np.load(data_path, allow_pickle=False) as npz:
        for key in LABEL_KEYS:
            if key in npz.files:
                labels = np.asarray(npz[key]).reshape(-1)
                break
    return load_calibration_data(data_path, graph), labels


def int8_samples(folder: ModelFolder, data: Path | None, limit: int | None) -> Samples:
    """int8 inputs for a folder with no float twin (a ``.tflite`` source; ``compare``):
    ``data`` as given, else ``limit`` (default 100) random ones."""
    quantized = int8_inputs(folder.graph, data, RANDOM_SAMPLES if limit is None else int(limit))
    n = len(quantized[0])
    if data is not None:
        source = f"{data} (--data), {n} samples"
    else:
        source = (
            f"{n} random {quantized[0].dtype} inputs (seed 0): {folder.path} was compiled from a .tflite, which carries no "
            "data; pass --data X.npz for real inputs"
        )
    return Samples(quantized=quantized, n=n, source=source)


def _float_data_path(folder: ModelFolder, data: Path | None) -> tuple[Path, str]:
    if data is not None:
        return Path(data), "--data"
    recorded = folder.calibration_data
    if recorded is None and folder.meta.get("source_format") == "onnx-qdq":
        raise QCompileError(
            f"no input data: {folder.path} was compiled from a pre-quantized ONNX model, without calibration "
            "data; pass --data inputs.npz (one float array per model input, labels `y` optional)"
        )
    if recorded is None or not recorded.exists():
        raise QCompileError(
            f"no input data: pass --data inputs.npz (the calibration file recorded at compile time, "
            f"{recorded}, is not available)"
        )
    return recorded, "the calibration file recorded at compile time; --data picks another"


def load_samples(folder: ModelFolder, data: Path | None, limit: int | None) -> Samples:
    """Inputs for ``qcompile verify`` (host or QEMU) of a compiled folder (module docstring)."""
    if folder.is_tflite_source:
        return int8_samples(folder, data, limit)
    graph = folder.graph
    data_path, why = _float_data_path(folder, data)
    float_inputs, labels = load_float_inputs(data_path, graph)
    n = min(len(a) for a in float_inputs.values())
    if limit is not None:
        n = min(n, int(limit))
    if n == 0:
        raise QCompileError(f"{data_path}: no samples")
    float_inputs = {k: v[:n] for k, v in float_inputs.items()}
    quantized = []
    for name in graph.user_inputs:
        t = graph.tensors[name]
        key = t.source_name if t.source_name in float_inputs else next(iter(float_inputs))
        quantized.append(np.ascontiguousarray(t.quant.quantize(to_physical(t, float_inputs[key]))))
    return Samples(
        quantized=quantized,
        n=n,
        source=f"{data_path} ({why}), {n} samples",
        floats=float_inputs,
        labels=None if labels is None else labels[:n],
    )
