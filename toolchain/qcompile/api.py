"""The public Python API: compile a model, load a generated folder, run its C, compare.

This is the surface a notebook or a firmware repository's own test suite uses, and the
one the ``qcompile`` command is built on. Everything here is stable across releases
(``docs/API.md``); the modules behind it are not and may move.

Arrays follow one convention: the first axis counts samples, and each sample has the
tensor's shape without its leading batch dimension of 1 (``TensorInfo.shape[1:]``), or its
whole shape when the first dimension is not 1 (a ``[layers, batch, hidden]`` recurrent
state; :mod:`qcompile.sample_axis`), or is flat. Integer
arrays are the C's own int8 (or int16) data in the C layout (``TensorInfo.layout``);
float arrays are what the source model takes (its own layout, e.g. NCHW for most ONNX
models).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qcompile.errors import QCompileError
from qcompile.sample_axis import accepted_shapes, as_samples, fmt_samples, sample_shape

if TYPE_CHECKING:
    from qcompile.ir import Graph, Tensor

Batch = np.ndarray | Mapping[str, np.ndarray] | Sequence[np.ndarray]
"""Inputs of a call: one array (single-input models), a dict by input name, or a list in input order."""


@dataclass(frozen=True)
class TensorInfo:
    """A model input or output as the generated C sees it."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: float
    zero_point: int
    layout: str

    @property
    def size(self) -> int:
        """Elements per sample (the C API's ``<NAME>_INPUT<i>_SIZE``)."""
        return int(np.prod(self.shape, dtype=np.int64))


def _tensor_infos(entries: list[dict[str, Any]]) -> tuple[TensorInfo, ...]:
    return tuple(
        TensorInfo(
            name=str(e["name"]),
            shape=tuple(int(d) for d in e["shape"]),
            dtype=str(e["dtype"]),
            scale=float(e["scale"]),
            zero_point=int(e["zero_point"]),
            layout=str(e.get("layout") or ""),
        )
        for e in entries
    )


class CompiledModel:
    """A folder written by :func:`compile` (or ``qcompile MODEL -o DIR``).

    The host build of its C is made on first use of :meth:`run` and kept for the life of
    the object (it is rebuilt only if the folder's sources change).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        from qcompile.outdir import ModelFolder

        self.path = Path(path)
        self.folder = ModelFolder.open(self.path)
        self.graph: Graph = self.folder.graph
        self.meta: dict[str, Any] = self.folder.meta
        self.report: dict[str, Any] = self.folder.report()
        self.inputs = _tensor_infos(self.report["inputs"])
        self.outputs = _tensor_infos(self.report["outputs"])
        self._library: Any = None

    @property
    def name(self) -> str:
        """The model's C name (prefix of every generated symbol)."""
        return str(self.meta["c_name"])

    def __repr__(self) -> str:
        return f"CompiledModel({str(self.path)!r}, target={self.report.get('target')!r})"

    # -- inputs ---------------------------------------------------------------------------
    def _tensors(self, names: Sequence[str]) -> list[Tensor]:
        return [self.graph.tensors[n] for n in names]

    def _batch(self, x: Batch, infos: Sequence[TensorInfo], what: str) -> list[np.ndarray]:
        """``x`` as one array per tensor in graph order, each ``[n, *sample_shape(shape)]``."""
        if isinstance(x, Mapping):
            missing = [i.name for i in infos if i.name not in x]
            if missing:
                raise QCompileError(f"{what}: no array for {', '.join(map(repr, missing))} (got {sorted(x)})")
            arrays = [np.asarray(x[i.name]) for i in infos]
        elif isinstance(x, np.ndarray):
            arrays = [x]
        else:
            arrays = [np.asarray(a) for a in x]
        if len(arrays) != len(infos):
            raise QCompileError(f"{what}: the model has {len(infos)} inputs, got {len(arrays)} arrays")
        return [_as_samples(a, info, what) for a, info in zip(arrays, infos, strict=True)]

    def _int_inputs(self, x: Batch) -> list[np.ndarray]:
        """int8/int16 inputs; float arrays are quantized first (a convenience for notebooks)."""
        if _is_float(x):
            return self._quantize(x)
        arrays = self._batch(x, self.inputs, "inputs")
        for a, info in zip(arrays, self.inputs, strict=True):
            if a.dtype != np.dtype(info.dtype):
                raise QCompileError(f"input {info.name!r}: expected {info.dtype} data, got {a.dtype}")
        return arrays

    def _shape_outputs(self, flat: Sequence[np.ndarray]) -> np.ndarray | dict[str, np.ndarray]:
        shaped = {info.name: as_samples(a, info.shape) for a, info in zip(flat, self.outputs, strict=True)}
        return next(iter(shaped.values())) if len(shaped) == 1 else shaped

    # -- running --------------------------------------------------------------------------
    def library(self) -> Any:
        """The host build, loaded (built on first use under ``DIR/build/host``)."""
        if self._library is None:
            from qcompile.host._runtime import ModelLibrary
            from qcompile.host.build import build_host_library

            path = build_host_library(self.path, name=self.name, build_dir=self.folder.build_dir("host"))
            self._library = ModelLibrary(
                str(path),
                self.name,
                [i.size for i in self.inputs],
                [o.size for o in self.outputs],
                0,
                input_dtypes=[i.dtype for i in self.inputs],
                output_dtypes=[o.dtype for o in self.outputs],
            )
        return self._library

    def run(self, x: Batch) -> np.ndarray | dict[str, np.ndarray]:
        """Run the generated C (host build) on a batch; one array, or a dict for several outputs."""
        arrays = self._int_inputs(x)
        n = len(arrays[0])
        got = self.library().run([np.ascontiguousarray(a).reshape(n, -1) for a in arrays])
        return self._shape_outputs([np.asarray(g) for g in got])

    def reference(self, x: Batch) -> np.ndarray | dict[str, np.ndarray]:
        """The numpy reference (the spec the C must match) on the same inputs, one sample at a time."""
        from qcompile.reference.executor import run_quantized_samples

        arrays = self._int_inputs(x)
        physical = [as_samples(a, t.shape) for a, t in zip(arrays, self._tensors(self.graph.inputs), strict=True)]
        per_sample = run_quantized_samples(self.graph, physical)
        return self._shape_outputs([np.stack([s[j] for s in per_sample]) for j in range(len(self.outputs))])

    def reference_layers(self, x: Batch) -> dict[str, np.ndarray]:
        """Every tensor the reference computes for one sample (the first of ``x``), by tensor name."""
        from qcompile.reference.executor import run_quantized

        arrays = self._int_inputs(x)
        first = [a[:1].reshape(t.shape) for a, t in zip(arrays, self._tensors(self.graph.inputs), strict=True)]
        return run_quantized(self.graph, first, keep_all=True)

    # -- quantization ---------------------------------------------------------------------
    def quantize(self, x_float: Batch) -> np.ndarray | list[np.ndarray]:
        """Float inputs (source model layout) -> the C's integer inputs (C layout); a list for several inputs."""
        result = self._quantize(x_float)
        return result[0] if len(result) == 1 else result

    def _quantize(self, x_float: Batch) -> list[np.ndarray]:
        from qcompile.outdir import to_physical

        tensors = self._tensors(self.graph.inputs)
        arrays = _float_batch(x_float, tensors)
        return [np.ascontiguousarray(t.quant.quantize(to_physical(t, a))) for a, t in zip(arrays, tensors, strict=True)]

    def dequantize(self, y: np.ndarray | Mapping[str, np.ndarray]) -> np.ndarray | dict[str, np.ndarray]:
        """Integer outputs (as :meth:`run` returns them) -> real values, in the C layout."""
        tensors = self._tensors(self.graph.outputs)
        if isinstance(y, Mapping):
            return {
                info.name: t.quant.dequantize(np.asarray(y[info.name]))
                for info, t in zip(self.outputs, tensors, strict=True)
            }
        return tensors[0].quant.dequantize(np.asarray(y))

    def float_run(self, x_float: Batch) -> np.ndarray | dict[str, np.ndarray]:
        """The source float model under onnxruntime (folders compiled from ONNX only)."""
        from qcompile.quant.calibration import float_outputs

        source = self.folder.source_model
        if self.folder.is_tflite_source or source is None:
            raise QCompileError(f"{self.path} was compiled from an int8 .tflite model: it has no float model to run")
        if not source.exists():
            raise QCompileError(f"the source model {source} recorded at compile time is not available")
        tensors = self._tensors(self.graph.inputs)
        arrays = _float_batch(x_float, tensors)
        outs = float_outputs(source, {t.source_name or t.name: a for a, t in zip(arrays, tensors, strict=True)})
        return next(iter(outs.values())) if len(outs) == 1 else outs


def _is_float(x: Batch) -> bool:
    values = x.values() if isinstance(x, Mapping) else ([x] if isinstance(x, np.ndarray) else x)
    return any(np.asarray(v).dtype.kind == "f" for v in values)


def _as_samples(a: np.ndarray, info: TensorInfo, what: str) -> np.ndarray:
    sample = sample_shape(info.shape)
    forms = accepted_shapes(info.shape)
    if (
        a.ndim >= 1
        and a.size % max(info.size, 1) == 0
        and (tuple(a.shape[1:]) in forms or a.ndim == 2 and a.shape[1] == info.size)
    ):
        return a.reshape((-1, *sample))
    if tuple(a.shape) == tuple(info.shape):
        return a.reshape((1, *sample))
    raise QCompileError(
        f"{what} {info.name!r}: shape {tuple(a.shape)} is not a batch of {sample} "
        f"(expected {' or '.join(fmt_samples(f) for f in forms)} or (N, {info.size}))"
    )


def _float_batch(x: Batch, tensors: Sequence[Tensor]) -> list[np.ndarray]:
    """Float arrays per input, in the source model's layout, batch first."""
    if isinstance(x, Mapping):
        arrays = [np.asarray(x[t.source_name or t.name], dtype=np.float32) for t in tensors]
    elif isinstance(x, np.ndarray):
        arrays = [np.asarray(x, dtype=np.float32)]
    else:
        arrays = [np.asarray(a, dtype=np.float32) for a in x]
    if len(arrays) != len(tensors):
        raise QCompileError(f"the model has {len(tensors)} inputs, got {len(arrays)} float arrays")
    return [as_samples(a, t.source_shape) for a, t in zip(arrays, tensors, strict=True)]


def load(out_dir: str | os.PathLike[str]) -> CompiledModel:
    """Open a folder written by qcompile."""
    return CompiledModel(out_dir)


def compile(  # noqa: A001 - the public name the API promises
    model: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    calib: str | os.PathLike[str] | np.ndarray | Mapping[str, np.ndarray] | None = None,
    target: str = "host",
    name: str | None = None,
    **options: Any,
) -> CompiledModel:
    """Compile ``model`` (float ONNX with ``calib``, or int8 TFLite) into ``out_dir``.

    ``calib`` is an ``.npz`` path, one array (single-input models) or a dict of arrays by
    input name, checked by the same rules as a file (arrays leave no calibration file to
    record, so ``qcompile verify`` of the folder then needs ``--data``). ``options`` are the command's options as keywords (``observer``,
    ``percentile``, ``input_layout``, ``weights_section``, ``arena_alignment``,
    ``ram_budget``, ``progress``, ...; see :class:`qcompile.compiler.CompileOptions`).
    """
    from qcompile.compiler import CompileOptions, compile_model

    known = set(CompileOptions.__dataclass_fields__) - {"target", "calib", "name"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise QCompileError(f"unknown compile option(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    options.setdefault("progress", False)
    opts = CompileOptions(target=target, name=name, **options)
    if isinstance(calib, str | os.PathLike):
        opts.calib = Path(calib)
    elif calib is not None:
        opts.calib = calib if isinstance(calib, Mapping) else {"x": np.asarray(calib)}
    compile_model(Path(model), Path(out_dir), opts)
    return CompiledModel(out_dir)


__all__ = ["Batch", "CompiledModel", "TensorInfo", "compile", "load"]
