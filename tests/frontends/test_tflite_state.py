"""Streaming TFLite models (``frontends/tflite_state.py``): CALL_ONCE initialisation subgraphs,
VAR_HANDLE / READ_VARIABLE / ASSIGN_VARIABLE as persistent state, and the generated C's state
buffer, checked against TFLite Micro on every step of 100-step sequences.

The model is ``tests/data/streaming/streaming_kws.tflite`` (written by the script next to it):
two ring buffers of past frames, CONCATENATION, STRIDED_SLICE, SPLIT_V, a conv, an FC, a
softmax and a uint8 output."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite_micro", reason="tflite_micro (TFLM Python interpreter) is not installed")

from tflite_builder import ModelBuilder, tflm_run  # noqa: E402

from qcompile.errors import QCompileError, UnsupportedModelError  # noqa: E402
from qcompile.frontends.tflite_import import load_tflite  # noqa: E402
from qcompile.reference.executor import run_quantized_samples  # noqa: E402

MODEL = Path(__file__).resolve().parents[1] / "data" / "streaming" / "streaming_kws.tflite"
STEPS = 100


def _frames(seed: int, n: int = STEPS) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, (n, 1, 1, 10)).astype(np.int8)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from qcompile.compiler import CompileOptions, compile_model

    out = tmp_path_factory.mktemp("streaming") / "kws"
    compile_model(MODEL, out, CompileOptions(progress=False))
    return out


def test_committed_model_is_what_the_script_writes() -> None:
    spec = importlib.util.spec_from_file_location("make_streaming_kws", MODEL.with_name("make_streaming_kws.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.build() == MODEL.read_bytes()


def test_import_keeps_two_state_buffers_outside_the_api() -> None:
    graph = load_tflite(MODEL)
    assert [v.name for v in graph.state] == ["ring1", "ring2"]
    assert len(graph.user_inputs) == 1 and len(graph.user_outputs) == 1
    assert graph.state_bytes == 30 + 128
    assert graph.tensors[graph.user_outputs[0]].dtype == "uint8"
    # CALL_ONCE set both buffers to their activations' zero points
    assert set(graph.state[0].init.tolist()) == {-3} and set(graph.state[1].init.tolist()) == {-128}
    assert {n.op for n in graph.nodes} >= {"strided_slice", "concat", "conv2d", "lut"}


def test_reference_matches_tflm_on_every_step() -> None:
    graph = load_tflite(MODEL)
    x = _frames(0)
    want = tflm_run(MODEL.read_bytes(), [x])[0]
    got = run_quantized_samples(graph, [x.reshape(STEPS, 1, 10)])
    for step in range(STEPS):
        np.testing.assert_array_equal(got[step][0].view(np.uint8), want[step].reshape(-1), err_msg=f"step {step}")
    # the state matters: a model run from its initial state on each frame alone differs
    alone = [run_quantized_samples(graph, [x[s].reshape(1, 1, 10)])[0][0] for s in range(10)]
    assert any(not np.array_equal(a, g[0]) for a, g in zip(alone, got, strict=False))


def test_c_matches_tflm_on_every_step_and_resets(compiled: Path) -> None:
    from qcompile.outdir import ModelFolder

    folder = ModelFolder.open(compiled)
    for seed in (1, 2):
        x = _frames(seed)
        want = tflm_run(MODEL.read_bytes(), [x])[0].reshape(STEPS, -1)
        with folder.host_library() as library:
            first = library.run([x.reshape(STEPS, -1)])[0]
            again = library.run([x.reshape(STEPS, -1)])[0]  # each batch is one stream from reset
        np.testing.assert_array_equal(first.view(np.uint8), want)
        np.testing.assert_array_equal(again, first)


def test_verify_and_compare_run_sequences(compiled: Path) -> None:
    from qcompile.tools.compare import compare
    from qcompile.tools.verify import verify

    result = verify(compiled, limit=STEPS)
    assert (result.bit_exact, result.samples) == (STEPS, STEPS)
    comparison = compare(compiled, MODEL, n=STEPS)
    assert (comparison.equal, comparison.samples) == (STEPS, STEPS)


def test_state_is_reported_and_documented(compiled: Path) -> None:
    import json

    report = json.loads((compiled / "report.json").read_text())
    assert report["ram"]["state_bytes"] == 158
    assert report["ram"]["total_bytes"] == report["arena_bytes"] + 158 + report["ram"]["io_bytes_outside_arena"]
    assert [s["name"] for s in report["state"]] == ["ring1", "ring2"]
    header = (compiled / "streaming_kws.h").read_text()
    assert "void streaming_kws_reset(void);" in header and "#define STREAMING_KWS_STATE_SIZE 158" in header
    assert "uint8" in header


def test_io_in_arena_is_refused_for_state(tmp_path: Path) -> None:
    from qcompile.compiler import CompileOptions, compile_model

    with pytest.raises(QCompileError, match="--io-in-arena is not supported for a model with persistent state"):
        compile_model(MODEL, tmp_path / "out", CompileOptions(progress=False, io_in_arena=True))


def _with_init_op(runtime_value: bool) -> bytes:
    b = ModelBuilder()
    x = b.tensor("x", (1, 4), scale=0.1, zero_point=0)
    init = b.subgraph()
    h0 = init.tensor("h", [], "resource")
    init.op("VAR_HANDLE", [], [h0], "VarHandleOptions", container="", sharedName="v")
    if runtime_value:
        v = init.tensor("v0", (1, 4), scale=0.1, zero_point=0)
        init.inputs = [v]
    else:
        v = init.tensor("v0", (1, 4), data=np.ones((1, 4), np.int8), scale=0.1, zero_point=0)
    init.op("ASSIGN_VARIABLE", [h0, v], [], "AssignVariableOptions")
    b.op("CALL_ONCE", [], [], "CallOnceOptions", initSubgraphIndex=1)
    h = b.tensor("h", [], "resource")
    b.op("VAR_HANDLE", [], [h], "VarHandleOptions", container="", sharedName="v")
    old = b.tensor("old", (1, 4), scale=0.1, zero_point=0)
    b.op("READ_VARIABLE", [h], [old], "ReadVariableOptions")
    y = b.tensor("y", (1, 4), scale=0.2, zero_point=0)
    b.op("ADD", [old, x], [y], "AddOptions")
    b.op("ASSIGN_VARIABLE", [h, y], [], "AssignVariableOptions")
    b.inputs, b.outputs = [x], [y]
    return b.finish()


def test_accumulator_variable_matches_tflm(tmp_path: Path) -> None:
    """A variable assigned the model's own output (an accumulator), initialised to ones."""
    path = tmp_path / "acc.tflite"
    path.write_bytes(_with_init_op(False))
    graph = load_tflite(path)
    x = np.random.default_rng(3).integers(-20, 20, (30, 1, 4)).astype(np.int8)
    want = tflm_run(path.read_bytes(), [x])[0].reshape(30, -1)
    got = np.stack([o[0] for o in run_quantized_samples(graph, [x.reshape(30, 4)])])
    np.testing.assert_array_equal(got, want)


def test_computed_initial_value_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.tflite"
    path.write_bytes(_with_init_op(True))
    with pytest.raises(UnsupportedModelError, match="only constant int8 initial values are supported"):
        load_tflite(path)


def test_streaming_folder_is_sanitizer_clean(compiled: Path, tmp_path: Path) -> None:
    """The generated C (state buffer, reset, state copies) under ASan + UBSan, 12 steps."""
    from c_driver import check_model_sanitized

    check_model_sanitized(compiled, tmp_path, samples=12)
