"""TFLM's int16 sigmoid and tanh (reference/kernels/sigmoid_s16.py, runtime_c/src/qc_sigmoid_s16.c):
every one of the 65536 int16 inputs against the tflite-micro interpreter running a single-op
16x8 LOGISTIC / TANH model, for power-of-two and general input scales; the C kernel (binding)
equals the reference on the same inputs; the importer refuses what TFLM refuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qcompile.errors import QCompileError
from qcompile.reference.kernels import sigmoid_s16

ALL = np.arange(-32768, 32768, dtype=np.int16)
#: input scales: 2^-12 (both power-of-two forms), 2^-11 (tanh's second one), general ones
SCALES = [2.0**-12, 2.0**-11, 2.0**-10, 2.0**-15, 1.0 / 4096 * 1.37, 0.0008, 3e-6, 0.5]


def _model(op: str, scale: float) -> bytes:
    from tflite_builder import ModelBuilder

    b = ModelBuilder()
    x = b.tensor("x", (1, 65536), "int16", scale=scale)
    y = b.tensor("y", (1, 65536), "int16", scale=2.0**-15)
    b.op(op, [x], [y])
    b.inputs, b.outputs = [x], [y]
    return b.finish()


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("op", ["LOGISTIC", "TANH"])
def test_all_inputs_match_tflm(op: str, scale: float, tmp_path: Path) -> None:
    pytest.importorskip("tflite_micro", reason="tflite_micro (TFLM Python interpreter) is not installed")
    from tflite_micro import runtime as tflm

    from qcompile.frontends.tflite_import import load_tflite
    from qcompile.reference.executor import run_quantized

    model = _model(op, scale)
    interpreter = tflm.Interpreter.from_bytes(model, arena_size=1 << 19)
    interpreter.set_input(ALL.reshape(1, -1), 0)
    interpreter.invoke()
    want = np.array(interpreter.get_output(0)).reshape(-1)
    path = tmp_path / "m.tflite"
    path.write_bytes(model)
    graph = load_tflite(path)
    (node,) = graph.nodes
    assert node.op == op.lower()
    got = run_quantized(graph, [ALL.reshape(1, -1)])[graph.outputs[0]].reshape(-1)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("tanh", [False, True])
@pytest.mark.parametrize("mult,shift", [(0, 0), (0, 1), (0, 4), (3, 3), (24576, 0), (20132, 3), (16384, 31)])
def test_c_equals_reference(tanh: bool, mult: int, shift: int) -> None:
    from runtime_ext import require_runtime

    rt = require_runtime()
    ref = sigmoid_s16.tanh_values if tanh else sigmoid_s16.logistic_values
    fn = rt.tanh_s16 if tanh else rt.logistic_s16
    np.testing.assert_array_equal(fn(ALL, input_multiplier=mult, input_left_shift=shift), ref(ALL, mult, shift))


def test_params_follow_tflm_prepare() -> None:
    assert sigmoid_s16.sigmoid_tanh_params(2.0**-12, 2.0**-15, tanh=False) == (0, 0)
    assert sigmoid_s16.sigmoid_tanh_params(2.0**-11, 2.0**-15, tanh=True) == (0, 1)
    m, s = sigmoid_s16.sigmoid_tanh_params(2.0**-11, 2.0**-15, tanh=False)  # logistic: only 2^-12 is POT
    assert (m, s) == (24576, 12)
    m, s = sigmoid_s16.sigmoid_tanh_params(0.0008, 2.0**-15, tanh=True)
    assert 32767 / 2 < m <= 32767 and m == int(0.0008 * 12288 * 2**s)
    with pytest.raises(ValueError, match="2\\^-15"):
        sigmoid_s16.sigmoid_tanh_params(0.001, 1.0 / 30000, tanh=True)
    with pytest.raises(ValueError, match="too large"):
        sigmoid_s16.sigmoid_tanh_params(4.0, 2.0**-15, tanh=True)


def test_importer_refuses_a_wrong_output_scale(tmp_path: Path) -> None:
    from tflite_builder import ModelBuilder

    from qcompile.frontends.tflite_import import load_tflite

    b = ModelBuilder()
    x = b.tensor("x", (1, 8), "int16", scale=0.001)
    y = b.tensor("y", (1, 8), "int16", scale=1.0 / 30000)
    b.op("TANH", [x], [y])
    b.inputs, b.outputs = [x], [y]
    path = tmp_path / "m.tflite"
    path.write_bytes(b.finish())
    with pytest.raises(QCompileError, match="2\\^-15"):
        load_tflite(path)


def test_compiled_logistic_tanh_chain_matches_tflm(tmp_path: Path) -> None:
    """x -> TANH -> LOGISTIC (16x8) compiled for the host: the generated C == TFLM."""
    pytest.importorskip("tflite_micro", reason="tflite_micro (TFLM Python interpreter) is not installed")
    from tflite_builder import ModelBuilder, tflm_run

    import qcompile

    b = ModelBuilder()
    x = b.tensor("x", (1, 6, 40), "int16", scale=0.0007)
    t = b.tensor("t", (1, 6, 40), "int16", scale=2.0**-15)
    y = b.tensor("y", (1, 6, 40), "int16", scale=2.0**-15)
    b.op("TANH", [x], [t])
    b.op("LOGISTIC", [t], [y])
    b.inputs, b.outputs = [x], [y]
    model = b.finish()
    path = tmp_path / "sig16.tflite"
    path.write_bytes(model)
    m = qcompile.compile(path, tmp_path / "out", target="host")
    xs = np.random.default_rng(5).integers(-32768, 32768, size=(8, 1, 6, 40)).astype(np.int16)
    want = tflm_run(model, [xs])[0].reshape(8, -1)
    np.testing.assert_array_equal(np.asarray(m.run(xs[:, 0])).reshape(8, -1), want)
    assert "qc_tanh_s16(" in (tmp_path / "out" / "sig16.c").read_text()
