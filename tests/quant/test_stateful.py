"""``--stateful IN=OUT`` (``quant/stateful.py``): an ONNX recurrent cell whose hidden state is an
input/output pair, compiled with the pair kept inside. The C API shows only ``x`` and ``y``;
100 steps run bit-exact against the reference with the state threaded, and the int8 sequence
follows onnxruntime's float sequence (the state fed back by hand)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qcompile.errors import QCompileError

STEPS = 100


def _rnn(path: Path) -> None:
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.5, (4, 8)).astype(np.float32)
    u = rng.normal(0, 0.3, (8, 8)).astype(np.float32)
    v = rng.normal(0, 0.5, (8, 3)).astype(np.float32)
    nodes = [
        helper.make_node("Gemm", ["x", "W"], ["a"]),
        helper.make_node("Gemm", ["h", "U"], ["b"]),
        helper.make_node("Add", ["a", "b"], ["s"]),
        helper.make_node("Tanh", ["s"], ["h_next"]),
        helper.make_node("Gemm", ["h_next", "V"], ["y"]),
    ]
    info = helper.make_tensor_value_info
    graph = helper.make_graph(
        nodes,
        "rnn",
        [info("x", TensorProto.FLOAT, [1, 4]), info("h", TensorProto.FLOAT, [1, 8])],
        [info("y", TensorProto.FLOAT, [1, 3]), info("h_next", TensorProto.FLOAT, [1, 8])],
        [numpy_helper.from_array(a, n) for a, n in ((w, "W"), (u, "U"), (v, "V"))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)


@pytest.fixture(scope="module")
def stateful(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    import qcompile

    root = tmp_path_factory.mktemp("stateful")
    _rnn(root / "rnn.onnx")
    rng = np.random.default_rng(1)
    calib = {
        "x": rng.normal(0, 1, (200, 1, 4)).astype(np.float32),
        "h": rng.uniform(-1, 1, (200, 1, 8)).astype(np.float32),
    }
    np.savez(root / "calib.npz", **calib)
    qcompile.compile(root / "rnn.onnx", root / "out", calib=root / "calib.npz", stateful=[("h", "h_next")])
    return root, root / "out"


def test_pair_is_kept_inside(stateful) -> None:
    from qcompile.outdir import ModelFolder

    _, out = stateful
    graph = ModelFolder.open(out).graph
    assert [graph.tensors[n].source_name for n in graph.user_inputs] == ["x"]
    assert [graph.tensors[n].source_name for n in graph.user_outputs] == ["y"]
    (var,) = graph.state
    assert var.name == "h" and set(var.init.tolist()) == {int(graph.tensors[var.input].quant.zero_point)}
    header = (out / "rnn.h").read_text()
    assert "#define RNN_NUM_INPUTS 1" in header and "void rnn_reset(void);" in header


def test_sequence_bit_exact_and_close_to_float(stateful) -> None:
    import onnxruntime as ort

    from qcompile.outdir import ModelFolder
    from qcompile.reference.executor import run_quantized_samples
    from qcompile.tools.verify import sqnr_db, verify

    root, out = stateful
    assert verify(out, limit=STEPS).bit_exact == STEPS
    folder = ModelFolder.open(out)
    x = np.random.default_rng(2).normal(0, 1, (STEPS, 4)).astype(np.float32)
    t_x = folder.graph.tensors[folder.graph.user_inputs[0]]
    t_y = folder.graph.tensors[folder.graph.user_outputs[0]]
    ref = run_quantized_samples(folder.graph, [t_x.quant.quantize(x)])
    got = t_y.quant.dequantize(np.stack([r[0] for r in ref]))
    with folder.host_library() as library:
        c = library.run([t_x.quant.quantize(x).reshape(STEPS, -1)])[0]
    np.testing.assert_array_equal(c, np.stack([r[0] for r in ref]))
    session = ort.InferenceSession(str(root / "rnn.onnx"), providers=["CPUExecutionProvider"])
    h, want = np.zeros((1, 8), np.float32), []
    for step in range(STEPS):
        y, h = session.run(["y", "h_next"], {"x": x[step : step + 1], "h": h})
        want.append(y.reshape(-1))
    assert sqnr_db(np.stack(want), got) > 20.0


def test_bad_pairs_are_named(tmp_path: Path) -> None:
    import qcompile

    _rnn(tmp_path / "rnn.onnx")
    calib = {"x": np.zeros((4, 1, 4), np.float32), "h": np.zeros((4, 1, 8), np.float32)}
    with pytest.raises(QCompileError, match="no input 'c'"):
        qcompile.compile(tmp_path / "rnn.onnx", tmp_path / "o1", calib=calib, stateful=[("c", "h_next")])
    with pytest.raises(QCompileError, match="a state pair needs one shape"):
        qcompile.compile(tmp_path / "rnn.onnx", tmp_path / "o2", calib=calib, stateful=[("x", "h_next")])
