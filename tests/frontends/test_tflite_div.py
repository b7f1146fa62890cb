"""TFLite DIV against TFLite Micro (the oracle): int8 models built with ``tflite_builder``, run
by the ``tflite_micro`` interpreter, by our reference and by the C kernel. Every one of the
65,536 operand pairs is compared for several parameter sets, except where TFLM's own arithmetic
is undefined (a zero divisor, or a final shift beyond 31: ``e = bits(v2) - 1 +
CountLeadingSignBits(v1) - output_shift > 31``), where TFLM returns garbage and qcompile the
rounded quotient (docs/QUANTIZATION.md, "div")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite_micro", reason="tflite_micro (TFLM Python interpreter) is not installed")

from runtime_ext import require_runtime  # noqa: E402
from tflite_builder import ModelBuilder  # noqa: E402
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb  # noqa: E402

from qcompile.frontends.tflite_import import load_tflite  # noqa: E402
from qcompile.reference.executor import run_quantized  # noqa: E402

rt = require_runtime()


def _model(shape1, shape2, q1, q2, qo, act: int = 0) -> bytes:
    b = ModelBuilder()
    x1 = b.tensor("x1", shape1, scale=q1[0], zero_point=q1[1])
    x2 = b.tensor("x2", shape2, scale=q2[0], zero_point=q2[1])
    y = b.tensor("y", tuple(np.broadcast_shapes(shape1, shape2)), scale=qo[0], zero_point=qo[1])
    b.op("DIV", [x1, x2], [y])
    opts = fb.DivOptionsT()
    opts.fusedActivationFunction = act
    b.ops[-1].builtinOptionsType = fb.BuiltinOptions.DivOptions
    b.ops[-1].builtinOptions = opts
    b.inputs, b.outputs = [x1, x2], [y]
    return b.finish()


def _tflm(model: bytes, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    from tflite_micro import runtime as tflm

    it = tflm.Interpreter.from_bytes(model, arena_size=1 << 22)
    it.set_input(x1, 0)
    it.set_input(x2, 1)
    it.invoke()
    return it.get_output(0)


def _ours(model: bytes, tmp_path: Path, x1: np.ndarray, x2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    path = tmp_path / "div.tflite"
    path.write_bytes(model)
    graph = load_tflite(path)
    (node,) = graph.nodes
    assert node.op == "div"
    ref = run_quantized(graph, [x1, x2])[graph.outputs[0]]
    return ref, rt.div_s8(x1, x2, **node.attrs)


def _tflm_defined(x1, x2, z1, z2, shift) -> np.ndarray:
    v1, v2 = x1.astype(np.int64) - z1, x2.astype(np.int64) - z2
    v1, v2 = np.where(v2 < 0, -v1, v1), np.abs(v2)
    bits = np.array([int(v).bit_length() for v in v2.ravel()]).reshape(v2.shape)
    sign_bits = np.array([32 - int(v if v >= 0 else ~v).bit_length() - 1 for v in v1.ravel()]).reshape(v1.shape)
    return (v2 != 0) & (bits - 1 + sign_bits - shift <= 31)


PARAMS = [
    ((0.05, -3), (0.02, -100), (0.02, 5)),
    ((0.2, 10), (0.01, -128), (0.5, -20)),
    ((0.013, 77), (0.21, 4), (0.09, -50)),
    ((0.3, -128), (0.004, 100), (0.8, 127)),
    ((0.001, 0), (0.25, -7), (0.003, -1)),
]


@pytest.mark.parametrize(("q1", "q2", "qo"), PARAMS)
def test_div_every_pair_matches_tflm(q1, q2, qo, tmp_path: Path) -> None:
    a, b = (g.reshape(1, -1).astype(np.int8) for g in np.meshgrid(np.arange(-128, 128), np.arange(-128, 128)))
    model = _model(a.shape, b.shape, q1, q2, qo)
    want = _tflm(model, a, b)
    ref, c = _ours(model, tmp_path, a, b)
    np.testing.assert_array_equal(c, ref)
    graph = load_tflite(tmp_path / "div.tflite")
    defined = _tflm_defined(a, b, q1[1], q2[1], graph.nodes[0].attrs["output_shift"])
    assert defined.mean() > 0.4
    np.testing.assert_array_equal(ref[defined], want[defined])


@pytest.mark.parametrize(("shape2", "act"), [((1, 1, 1, 6), 0), ((1, 4, 1, 1), 1), ((6,), 3)])
def test_div_broadcast_and_fused_activation_match_tflm(shape2, act: int, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    q1, q2, qo = (0.05, -3), (0.02, -128), (0.02, 5)  # output_shift 7: TFLM defined for every v2 != 0
    model = _model((1, 4, 5, 6), shape2, q1, q2, qo, act)
    for _ in range(8):
        x1 = rng.integers(-128, 128, (1, 4, 5, 6)).astype(np.int8)
        x2 = rng.integers(-127, 128, shape2).astype(np.int8)
        want = _tflm(model, x1, x2)
        ref, c = _ours(model, tmp_path, x1, x2)
        np.testing.assert_array_equal(ref, want)
        np.testing.assert_array_equal(c, want)
