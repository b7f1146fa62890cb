"""A streaming Keras-style model converted by the TFLite converter itself
(``tests/data/streaming/keras_streaming.tflite``, written by ``make_keras_streaming.py`` next to
it with tensorflow-cpu: CALL_ONCE, VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE as the converter
writes them, an int8 ring buffer): equal to TFLite Micro on every step of 100-step sequences,
reference and C."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite_micro", reason="tflite_micro (TFLM Python interpreter) is not installed")

from tflite_builder import tflm_run  # noqa: E402

from qcompile.frontends.tflite_import import load_tflite  # noqa: E402
from qcompile.reference.executor import run_quantized_samples  # noqa: E402

MODEL = Path(__file__).resolve().parents[1] / "data" / "streaming" / "keras_streaming.tflite"
STEPS = 100


def _frames(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, (STEPS, 1, 1, 10)).astype(np.int8)


def test_converter_output_imports_with_its_ring_buffer_as_state() -> None:
    graph = load_tflite(MODEL)
    assert len(graph.state) == 1 and graph.state_bytes == 20
    assert len(graph.user_inputs) == 1 and len(graph.user_outputs) == 1


def test_reference_and_c_match_tflm_on_every_step(tmp_path: Path) -> None:
    from qcompile.compiler import CompileOptions, compile_model
    from qcompile.outdir import ModelFolder
    from qcompile.tools.compare import compare

    graph = load_tflite(MODEL)
    compile_model(MODEL, tmp_path / "out", CompileOptions(progress=False))
    folder = ModelFolder.open(tmp_path / "out")
    for seed in (0, 1):
        x = _frames(seed)
        want = tflm_run(MODEL.read_bytes(), [x])[0].reshape(STEPS, -1)
        got = run_quantized_samples(graph, [x.reshape(STEPS, 1, 10)])
        np.testing.assert_array_equal(np.stack([g[0] for g in got]), want)
        with folder.host_library() as library:
            np.testing.assert_array_equal(library.run([x.reshape(STEPS, -1)])[0], want)
    comparison = compare(tmp_path / "out", MODEL, n=STEPS)
    assert (comparison.equal, comparison.samples) == (STEPS, STEPS)
