"""TFLite UNIDIRECTIONAL_SEQUENCE_LSTM (int8 in/out, int8 weights, int16 gates and cell state)
against TFLite Micro: models built with ``tflite_builder`` (random weights and scales, several
sizes, batch-major and time-major, with and without cell clip) run as a stream of calls (TFLM
keeps the variable tensors between invokes, as ``Graph.state`` does); the numpy reference, the C
kernel (binding) and the compiled C of the whole model give TFLM's bits on every call."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite_micro", reason="tflite_micro (TFLM Python interpreter) is not installed")

from tflite_builder import ModelBuilder, tflm_run  # noqa: E402

from qcompile.errors import UnsupportedModelError  # noqa: E402
from qcompile.frontends.tflite_import import load_tflite  # noqa: E402
from qcompile.reference.executor import initial_state, run_quantized  # noqa: E402

STEPS = 6  # calls per stream


def lstm_model(
    seed: int,
    batch: int = 1,
    steps: int = 5,
    inputs: int = 7,
    hidden: int = 9,
    *,
    time_major: bool = False,
    cell_clip: float = 0.0,
    cell_scale: float = 2.0**-11,
    extra: dict | None = None,
) -> bytes:
    """One UNIDIRECTIONAL_SEQUENCE_LSTM with random int8 weights and scales (``extra``: optional
    input index -> tensor to set, for the refusal tests)."""
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    x_scale, x_zp = float(rng.uniform(0.005, 0.05)), int(rng.integers(-20, 20))
    h_scale, h_zp = float(rng.uniform(0.004, 0.01)), int(rng.integers(-10, 10))
    shape = (steps, batch, inputs) if time_major else (batch, steps, inputs)
    x = b.tensor("x", shape, "int8", scale=x_scale, zero_point=x_zp)
    ins = [x]
    w_scales = rng.uniform(0.002, 0.02, 8)
    for g in range(4):
        ins.append(b.tensor(f"w{g}", (hidden, inputs), scale=w_scales[g], data=_i8(rng, (hidden, inputs))))
    for g in range(4):
        ins.append(b.tensor(f"r{g}", (hidden, hidden), scale=w_scales[4 + g], data=_i8(rng, (hidden, hidden))))
    ins += [-1, -1, -1]
    for g in range(4):
        bs = float(np.float32(x_scale) * np.float32(w_scales[g]))
        data = rng.integers(-3000, 3000, hidden).astype(np.int32)
        ins.append(b.tensor(f"b{g}", (hidden,), "int32", scale=bs, data=data))
    ins += [-1, -1]
    h = b.tensor("h_state", (batch, hidden), "int8", scale=h_scale, zero_point=h_zp)
    c = b.tensor("c_state", (batch, hidden), "int16", scale=cell_scale)
    b.tensors[h].isVariable = b.tensors[c].isVariable = True
    ins += [h, c, -1, -1, -1, -1]
    for i, t in (extra or {}).items():
        ins[i] = t(b) if callable(t) else t
    y_shape = (steps, batch, hidden) if time_major else (batch, steps, hidden)
    y = b.tensor("y", y_shape, "int8", scale=h_scale, zero_point=h_zp)
    opts = dict(fusedActivationFunction=4, cellClip=cell_clip, timeMajor=time_major)
    b.op("UNIDIRECTIONAL_SEQUENCE_LSTM", ins, [y], "UnidirectionalSequenceLSTMOptions", **opts)
    b.inputs, b.outputs = [x], [y]
    return b.finish()


def _i8(rng, shape) -> np.ndarray:
    return rng.integers(-127, 128, size=shape).astype(np.int8)


def _load(model: bytes, tmp_path: Path, name: str = "lstm"):
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(model)
    return path, load_tflite(path)


def _reference_stream(graph, xs: np.ndarray) -> list[np.ndarray]:
    state = initial_state(graph)
    outs = []
    for x in xs:
        values = run_quantized(graph, [x, *state])
        outs.append(values[graph.outputs[0]])
        state = [values[s.output] for s in graph.state]
    return outs


CASES = {
    "small": dict(seed=1),
    "batch2": dict(seed=2, batch=2, steps=3, inputs=4, hidden=5),
    "time_major": dict(seed=3, batch=3, steps=4, time_major=True),
    "clip": dict(seed=4, cell_clip=0.6),
    "wide": dict(seed=5, steps=8, inputs=20, hidden=16, cell_scale=2.0**-10),
    "fine_cell": dict(seed=6, hidden=3, inputs=2, cell_scale=2.0**-15),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_lstm_reference_matches_tflm_over_a_stream(case: str, tmp_path: Path) -> None:
    model = lstm_model(**CASES[case])
    _, graph = _load(model, tmp_path)
    assert [n.op for n in graph.nodes] == ["lstm"] and len(graph.state) == 2
    x_shape = graph.tensors[graph.inputs[0]].shape
    xs = np.random.default_rng(7).integers(-128, 128, size=(STEPS, *x_shape)).astype(np.int8)
    want = tflm_run(model, [xs])[0]
    got = _reference_stream(graph, xs)
    for s in range(STEPS):
        np.testing.assert_array_equal(got[s], want[s], err_msg=f"call {s}")


@pytest.mark.parametrize("case", sorted(CASES))
def test_lstm_c_kernel_equals_reference(case: str, tmp_path: Path) -> None:
    from runtime_ext import require_runtime

    rt = require_runtime()
    _, graph = _load(lstm_model(**CASES[case]), tmp_path)
    (node,) = graph.nodes
    rng = np.random.default_rng(11)
    values = {t.name: t.data for t in graph.tensors.values() if t.is_constant}
    for name in graph.inputs:
        t = graph.tensors[name]
        info = np.iinfo(t.dtype)
        values[name] = rng.integers(info.min, int(info.max) + 1, size=t.shape).astype(t.dtype)
    args = [values[i] for i in node.inputs]
    want = run_quantized(graph, [values[i] for i in graph.inputs], keep_all=True)
    got = rt.lstm_s8(*args, **node.attrs)
    for name, g in zip(node.outputs, got, strict=True):
        np.testing.assert_array_equal(g, want[name], err_msg=name)


def test_compiled_lstm_matches_tflm_on_every_call(tmp_path: Path) -> None:
    """The generated C (host build): 20 calls of a stream, state kept in the state buffer, == TFLM."""
    import qcompile

    model = lstm_model(seed=21, batch=1, steps=4, inputs=6, hidden=8, cell_clip=0.8)
    path, graph = _load(model, tmp_path, "kws_lstm")
    m = qcompile.compile(path, tmp_path / "out", target="host")
    x_shape = graph.tensors[graph.inputs[0]].shape
    xs = np.random.default_rng(3).integers(-128, 128, size=(20, *x_shape)).astype(np.int8)
    want = tflm_run(model, [xs])[0].reshape(20, -1)
    np.testing.assert_array_equal(np.asarray(m.run(xs.reshape(20, -1))).reshape(20, -1), want)
    source = (tmp_path / "out" / "kws_lstm.c").read_text()
    assert "qc_lstm_unidirectional_s8(" in source and "kws_lstm_reset" in source


@pytest.mark.parametrize(
    "extra,match",
    [
        ({9: lambda b: b.tensor("p", (9,), "int8", scale=0.01, data=np.ones(9, np.int8))}, "peephole"),
        ({16: lambda b: b.tensor("proj", (9, 9), "int8", scale=0.01, data=np.ones((9, 9), np.int8))}, "projection"),
        ({20: lambda b: b.tensor("ln", (9,), "int16", scale=0.01, data=np.ones(9, np.int16))}, "layer norm"),
        ({1: -1}, "CIFG"),
    ],
)
def test_unsupported_lstm_variants_are_named(extra: dict, match: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.tflite"
    path.write_bytes(lstm_model(seed=1, extra=extra))
    with pytest.raises(UnsupportedModelError, match=match):
        load_tflite(path)
