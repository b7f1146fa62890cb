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

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qcompile.errors import QCompileError
from qcompile.ir import Tensor
from qcompile.metrics import sqnr_db, sqnr_from_power  # noqa: F401 - re-exported: the tools and tests use them from here
from qcompile.outdir import ModelFolder, Samples, load_samples
from qcompile.reference.executor import run_quantized_samples
from qcompile.sample_axis import as_samples, samples_perm
from qcompile.tools.guards import guard_blocks, guard_message, tripped_block


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
    data_source: str = ""  # which inputs were run (Samples.source)
    diagnosis: str = ""  # assert_bit_exact's message for the first differing sample
    reference: str = "float (onnxruntime)"  # what the outputs were compared with

    @property
    def ok(self) -> bool:
        return self.bit_exact == self.samples


def to_source(t: Tensor, physical: np.ndarray) -> np.ndarray:
    """Physical-layout batch -> source-layout batch ``[N, *sample]`` (:mod:`qcompile.sample_axis`)."""
    phys = as_samples(physical, t.shape)
    if t.source_perm is None:
        return phys
    return phys.transpose(samples_perm(np.argsort(t.source_perm), t.source_shape))


def bit_exact_result(expected: list[list[np.ndarray]], got: list[Any]) -> VerifyResult:
    """Compare ``expected[sample][output]`` with ``got[output][sample]`` (the layout both the
    Cython binding and the QEMU runner return) byte for byte."""
    result = VerifyResult(samples=len(expected), bit_exact=0)
    for i, outs in enumerate(expected):
        if all(_same_bytes(e, got[j][i]) for j, e in enumerate(outs)):
            result.bit_exact += 1
        else:
            result.mismatched_samples.append(i)
    return result


def _same_bytes(expected: np.ndarray, got: Any) -> bool:
    """Equal bytes: the C returns int8 buffers, a uint8 output's reference is uint8."""
    return np.array_equal(np.asarray(expected).reshape(-1).view(np.uint8), np.asarray(got).reshape(-1).view(np.uint8))


def _float_comparison(
    folder: ModelFolder, samples: Samples, ref_outputs: list[list[np.ndarray]]
) -> list[OutputComparison]:
    """Dequantized reference outputs against onnxruntime on the float source model."""
    from qcompile.quant.calibration import float_outputs

    assert samples.floats is not None and folder.source_model is not None
    graph, n, labels = folder.graph, samples.n, samples.labels
    if graph.state:
        reference_float = stream_float_outputs(folder, samples.floats, n)
    else:
        reference_float = float_outputs(folder.source_model, samples.floats, optimize=not folder.is_qdq_source)
    comparisons = []
    for j, t in enumerate(graph.tensors[name] for name in graph.user_outputs):
        name = t.source_name or t.name
        expected = as_samples(np.asarray(reference_float[name], dtype=np.float64), t.source_shape)
        got = to_source(t, t.quant.dequantize(as_samples(np.stack([r[j] for r in ref_outputs]), t.shape)))
        comparison = OutputComparison(name=name, sqnr_db=sqnr_db(expected, got), top1_agreement=None)
        if expected.ndim >= 2 and expected.reshape(n, -1).shape[1] > 1:
            f_top = expected.reshape(n, -1).argmax(axis=1)
            q_top = got.reshape(n, -1).argmax(axis=1)
            comparison.top1_agreement = float(np.mean(f_top == q_top))
            if labels is not None and len(labels) == n and j == 0:
                comparison.float_accuracy = float(np.mean(f_top == labels))
                comparison.int8_accuracy = float(np.mean(q_top == labels))
        comparisons.append(comparison)
    return comparisons


def stream_float_outputs(folder: ModelFolder, floats: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    """onnxruntime on the source model one step at a time, each kept state output fed back as
    its state input (real zeros first), as the C runs a stream (``--stateful``)."""
    from qcompile.quant.stateful import run_stream

    graph = folder.graph
    assert folder.source_model is not None
    pairs = [(graph.tensors[v.input].source_name, graph.tensors[v.output].source_name) for v in graph.state if v.output]
    return run_stream(folder.source_model, floats, pairs, n)[1]


def _diagnose(out_dir: Path, sample: list[np.ndarray]) -> str:
    """What ``qcompile.testing.assert_bit_exact`` says of one differing sample: the output,
    the element and the first layer whose C output differs from the reference."""
    from qcompile.testing import assert_bit_exact

    try:
        assert_bit_exact(out_dir, sample)
    except AssertionError as exc:
        return str(exc)
    return "the difference did not reproduce on a single-sample run"


#: compiles the canaries around the model's RAM blocks into the host build (templates/model.c.j2)
GUARD_FLAG = "-DQC_ARENA_GUARD"
#: canary bytes on each side of every input and output buffer of a guarded host run
IO_GUARD_BYTES = 64


def run_guarded(folder: ModelFolder, quantized: list[np.ndarray]) -> list[Any]:
    """:meth:`ModelFolder.run_host` with canaries around every RAM block of the model and
    around the caller's input and output buffers, checked after every sample."""
    n = len(quantized[0])
    report = folder.report()
    with folder.host_library(extra_flags=(GUARD_FLAG,)) as library:
        try:
            return library.run([np.asarray(q).reshape(n, -1) for q in quantized], io_guard=IO_GUARD_BYTES)
        except RuntimeError as error:
            found = re.search(r"sample (\d+) failed in layer -?\d+ \(return code (\d+)\)", str(error))
            code = int(found.group(2)) if found else -1
            where = tripped_block(code, len(report.get("layers", [])), guard_blocks(report))
            if where is not None and found is not None:
                raise QCompileError(guard_message(folder.c_name, where, int(found.group(1)))) from error
            io = re.search(r"sample (\d+): the canary bytes around (\w+ \d+) changed", str(error))
            if io is not None:
                raise QCompileError(guard_message(folder.c_name, ("io", io.group(2)), int(io.group(1)))) from error
            raise


def verify(
    out_dir: Path,
    *,
    data: Path | None = None,
    limit: int | None = None,
    float_model: bool = True,
    progress: bool = False,
) -> VerifyResult:
    """Host build of ``out_dir`` vs the numpy reference, then (float sources) vs onnxruntime."""
    folder = ModelFolder.open(out_dir)
    samples = load_samples(folder, data, limit)
    c_outputs = run_guarded(folder, samples.quantized)
    ref_outputs = run_quantized_samples(folder.graph, samples.quantized, progress=progress)
    result = bit_exact_result(ref_outputs, c_outputs)
    result.data_source = samples.source
    if not result.ok:
        result.diagnosis = _diagnose(out_dir, [q[result.mismatched_samples[0]][None] for q in samples.quantized])
    source = folder.source_model
    if float_model and samples.floats is not None and source is not None and source.exists():
        result.outputs = _float_comparison(folder, samples, ref_outputs)
        if folder.is_qdq_source:
            result.reference = "the QDQ model (onnxruntime, optimisations off)"
    return result
