"""Bit-exactness assertions for a user's own test suite (pytest or plain ``assert``).

``assert_bit_exact(model, x)`` runs the generated C (host build) and the numpy reference
on the same inputs and raises ``AssertionError`` on the first difference, naming the
sample, the output, the first differing element, and the first layer whose C output
differs from the reference. That last part needs the C's intermediate tensors: a second
host build force-includes ``runtime_c/debug/qc_layer_dump.h``, whose ``QC_LAYER_END``
hook snapshots the arena and the output buffers after every layer, and the report's
``output_location`` of each layer says where its output lies in that snapshot.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass

import numpy as np

from qcompile.api import Batch, CompiledModel, load
from qcompile.resources import runtime_dir


@dataclass(frozen=True)
class LayerMismatch:
    """The first layer whose C output differs from the reference on one sample."""

    index: int
    op: str
    name: str
    tensor: str
    element: int
    expected: int
    got: int

    def __str__(self) -> str:
        return (
            f"layer {self.index} ({self.op} {self.name!r}) is the first to differ: output {self.tensor!r} "
            f"element {self.element} is {self.got} in C, {self.expected} in the reference"
        )


def assert_bit_exact(model: CompiledModel | str | os.PathLike[str], x: Batch) -> None:
    """Raise ``AssertionError`` unless the C and the reference agree on every output byte of ``x``.

    ``model`` is a :class:`~qcompile.api.CompiledModel` or a folder path; ``x`` a batch as
    :meth:`CompiledModel.run` takes it (float arrays are quantized first).
    """
    compiled = model if isinstance(model, CompiledModel) else load(model)
    got = _as_dict(compiled, compiled.run(x))
    expected = _as_dict(compiled, compiled.reference(x))
    for info in compiled.outputs:
        g, e = got[info.name].reshape(len(got[info.name]), -1), expected[info.name].reshape(len(got[info.name]), -1)
        bad = np.argwhere(g != e)
        if bad.size == 0:
            continue
        sample, element = (int(v) for v in bad[0])
        message = (
            f"{compiled.path}: C and reference differ on sample {sample}, output {info.name!r}, "
            f"element {element}: C {int(g[sample, element])}, reference {int(e[sample, element])} "
            f"({len(np.unique(bad[:, 0]))} of {len(g)} samples differ)"
        )
        layer = first_differing_layer(compiled, _sample(compiled, x, sample))
        raise AssertionError(message + (f"; {layer}" if layer is not None else ""))


def _as_dict(model: CompiledModel, out: np.ndarray | dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return out if isinstance(out, dict) else {model.outputs[0].name: out}


def _sample(model: CompiledModel, x: Batch, i: int) -> list[np.ndarray]:
    arrays = model._int_inputs(x)
    return [a[i : i + 1] for a in arrays]


def first_differing_layer(model: CompiledModel, x: Batch) -> LayerMismatch | None:
    """Compare every layer's C output with the reference on one sample (the first of ``x``)."""
    snapshots, stride_parts = c_layer_snapshots(model, x)
    reference = model.reference_layers(x)
    for i, (node, layer) in enumerate(zip(model.graph.nodes, model.report["layers"], strict=True)):
        if layer["output_location"].get("region"):  # another memory region: not in the arena snapshot
            continue
        tensor = model.graph.tensors[node.outputs[0]]
        want = np.asarray(reference[tensor.name]).reshape(-1)
        have = _located(snapshots[i], layer["output_location"], stride_parts, want.nbytes).view(want.dtype)
        diff = np.flatnonzero(have != want)
        if diff.size:
            k = int(diff[0])
            return LayerMismatch(i, node.op, node.name, tensor.name, k, int(want[k]), int(have[k]))
    return None


def _located(snapshot: np.ndarray, location: dict, parts: tuple[int, list[int]], nbytes: int) -> np.ndarray:
    arena_size, output_sizes = parts
    if location["kind"] == "arena":
        start = int(location["offset"])
    else:
        index = int(location["index"])
        start = arena_size + sum(output_sizes[:index])
    return snapshot[start : start + nbytes]


def c_layer_snapshots(model: CompiledModel, x: Batch) -> tuple[np.ndarray, tuple[int, list[int]]]:
    """Run one sample through a debug host build; ``[layer, arena bytes + output bytes]`` snapshots."""
    from qcompile.host.build import build_host_library

    debug = runtime_dir() / "debug"
    path = build_host_library(
        model.path,
        name=model.name,
        build_dir=model.folder.build_dir("host-debug"),
        extra_flags=(f"-I{debug}", "-include", "qc_layer_dump.h"),
        extra_sources=(debug / "qc_layer_dump.c",),
    )
    lib = ctypes.CDLL(str(path))
    arena_size = int(ctypes.c_uint32.in_dll(lib, f"{model.name}_arena_size").value)
    output_bytes = [o.size * np.dtype(o.dtype).itemsize for o in model.outputs]
    layers = len(model.report["layers"])
    stride = arena_size + sum(output_bytes)
    buffer = np.zeros((layers, stride), dtype=np.uint8)
    sizes = (ctypes.c_uint32 * len(output_bytes))(*output_bytes)
    lib.qc_layer_dump_setup(buffer.ctypes.data_as(ctypes.c_void_p), arena_size, len(output_bytes), sizes, layers)
    inputs = [np.ascontiguousarray(a[:1]) for a in model._int_inputs(x)]
    outputs = [np.zeros(n, dtype=np.uint8) for n in output_bytes]
    in_ptrs = (ctypes.c_void_p * len(inputs))(*(a.ctypes.data for a in inputs))
    out_ptrs = (ctypes.c_void_p * len(outputs))(*(o.ctypes.data for o in outputs))
    run = getattr(lib, f"{model.name}_run_io")
    status = run(in_ptrs, out_ptrs, None)
    lib.qc_layer_dump_setup(None, 0, 0, None, 0)
    if status != 0:
        raise AssertionError(f"{model.path}: layer {status - 1} rejected its parameters (status {status})")
    return buffer, (arena_size, output_bytes)


__all__ = ["LayerMismatch", "assert_bit_exact", "c_layer_snapshots", "first_differing_layer"]
