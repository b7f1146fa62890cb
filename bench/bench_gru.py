"""GRU keyword model: qcompile's int8 GRU against ONNX Runtime's ``quantize_static``.

``tests/data/gru/gru_kws.onnx`` (a PyTorch ``nn.GRU`` 10 -> 32 and a linear head over the last
state, written by ``tests/data/gru/make_gru_kws.py``) calibrated on the first 200 shared KWS
samples (MFCC / 10, as the model was trained) and evaluated on the last 100: output SQNR against
the float model (onnxruntime) of qcompile's int8 build, and of ONNX Runtime's per-channel QDQ
model (``bench_quant.ort_qdq_model``: MinMax, int8 activations) run exactly (optimisations off).
ONNX Runtime has no quantized GRU: its QDQ model keeps the GRU in float and quantizes the tensors
around it, so it is an upper bound qcompile's all-integer GRU is measured against. The
``contract`` column is that QDQ model with what the issue's contract fixes before any integer
arithmetic: every GRU's ``W`` and ``R`` rounded to qcompile's per-row int8 grid and the model
input rounded to qcompile's int8 input grid, the GRUs still float. qcompile against ``contract``
is what the integer GRU (int16 gates, TFLM sigmoid/tanh, Q15 state, int8 ``Y``) costs; ``contract``
against ORT is what int8 GRU inputs and weights cost.
Then the streaming export (``gru_kws_step.onnx``, ``--stateful h=h_next``): int8 stream vs the
float model stepped with its own state, over 100 frames; ORT's QDQ model of the step model
(calibrated on the same frames and recorded states) is stepped the same way with its float
``h_next`` fed back, and ``contract`` again rounds its GRU weights and its input ``x``.

Usage: ``python3 bench/bench_gru.py`` (needs ``../shared/data/kws_mfcc_dev500.npz``).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[len(sys.path) :] = [str(ROOT / "bench"), str(ROOT / "toolchain")]

from bench_quant import SHARED, _ort_run, ort_qdq_model  # noqa: E402

import qcompile  # noqa: E402
from qcompile.quant.converters.recurrent import _rows  # noqa: E402
from qcompile.tools.evaluate import evaluate  # noqa: E402
from qcompile.tools.verify import sqnr_db, verify  # noqa: E402

MODELS = ROOT / "tests" / "data" / "gru"


def kws_frames() -> np.ndarray:
    """The 500 shared utterances as the GRU models take them: ``[500, 49, 10]`` MFCC / 10."""
    d = np.load(SHARED / "data" / "kws_mfcc_dev500.npz")
    x = (d["x"].astype(np.float32) - float(d["in_zero_point"])) * float(d["in_scale"]) / 10.0
    return x


def whole_utterance(x: np.ndarray, work: Path, model: Path = MODELS / "gru_kws.onnx") -> dict[str, float]:
    """``model`` (a whole-utterance keyword model, also bench_lstm.py's) calibrated on 200
    utterances, tested on 100: qcompile's int8 build, ORT's QDQ model, and the contract's
    ceiling (ORT's QDQ model with the GRUs' weights and the input on qcompile's int8 grids)."""
    calib, test = x[:200], x[400:]
    np.savez(work / "calib.npz", x=calib)
    np.savez(work / "test.npz", x=test)
    out = work / model.stem
    compiled = qcompile.compile(model, out, calib=work / "calib.npz")
    ours = compiled.dequantize(compiled.run(compiled.quantize(test))).reshape(len(test), -1)
    ref = _ort_run(model, test).reshape(len(test), -1)
    qdq = ort_qdq_model(model, calib, work / f"{model.stem}_qdq.onnx")
    ort_int8 = _ort_run(qdq, test, optimize=False).reshape(len(test), -1)
    checked = verify(out, data=work / "test.npz")
    x_grid = _input_grid(compiled, test)
    contract = _ort_run(int8_gru_weights(qdq, work / f"{model.stem}_contract.onnx"), x_grid, optimize=False)
    return {
        "qcompile": sqnr_db(ref, ours),
        "ort_qdq": sqnr_db(ref, ort_int8),
        "contract": sqnr_db(ref, contract.reshape(len(test), -1)),
        "bit_exact": checked.bit_exact,
        "n": checked.samples,
    }


def int8_gru_weights(model: Path, out: Path) -> Path:
    """``model`` with every GRU's ``W`` and ``R`` on qcompile's per-row int8 grid (float values)."""
    import onnx
    from onnx import numpy_helper

    m = onnx.load(str(model))
    inits = {i.name: i for i in m.graph.initializer}
    for node in (n for n in m.graph.node if n.op_type == "GRU"):
        for name in node.input[1:3]:
            q, scale = _rows(numpy_helper.to_array(inits[name]))
            inits[name].CopyFrom(numpy_helper.from_array((q * scale[..., None]).astype(np.float32), name))
    onnx.save(m, str(out))
    return out


def _input_grid(compiled: qcompile.CompiledModel, x: np.ndarray) -> np.ndarray:
    """``x`` rounded to the compiled model's int8 input grid, as float."""
    q = compiled.graph.tensors[compiled.graph.inputs[0]].quant
    codes = np.clip(np.round(x / float(q.scale)) + int(q.zero_point), -128, 127)
    return ((codes - int(q.zero_point)) * float(q.scale)).astype(np.float32)


def record_states(model: Path, frames: np.ndarray) -> np.ndarray:
    """The float state ``h`` before each frame of one stream (zeros first) of the step model:
    the recorded states ``--stateful`` calibration needs for the state input, each ``[1, 1, 32]``."""
    from qcompile.quant.stateful import run_stream

    states, _ = run_stream(model, {"x": frames[:, None, None]}, [("h", "h_next")])
    return states["h"][:, None]


def step_logits(model: Path, frames: np.ndarray, x_grid=None) -> np.ndarray:
    """``logits`` of each frame of one stream through an ONNX step model, its float ``h_next``
    fed back (zeros first); ``x_grid`` rounds each frame first (the contract column)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # QDQ run exactly
    sess = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
    h, out = np.zeros((1, 1, 32), np.float32), []
    for f in frames if x_grid is None else x_grid(frames):
        logits, h = sess.run(None, {"x": f[None, None].astype(np.float32), "h": h})
        out.append(logits[0])
    return np.stack(out)


def ort_step_qdq(model: Path, frames: np.ndarray, states: np.ndarray, out: Path) -> Path:
    """ORT's ``quantize_static`` (per-channel QDQ, MinMax, int8) of the two-input step model."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.pairs = iter(zip(frames, states, strict=True))

        def get_next(self) -> dict[str, np.ndarray] | None:
            pair = next(self.pairs, None)
            return None if pair is None else {"x": pair[0][None, None].astype(np.float32), "h": pair[1]}

    quantize_static(str(model), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)  # fmt: skip
    return out


def stream(x: np.ndarray, work: Path) -> dict[str, float]:
    """``--stateful h=h_next``: calibrated on recorded states of 20 utterances, run on 100 frames."""
    model = MODELS / "gru_kws_step.onnx"
    frames = x[:20].reshape(-1, 10)
    np.savez(work / "step_calib.npz", x=frames[:, None, None], h=record_states(model, frames))
    np.savez(work / "step_test.npz", x=x[400:403].reshape(-1, 10)[:100, None, None])
    qcompile.compile(model, work / "step", calib=work / "step_calib.npz", stateful=[("h", "h_next")])
    checked = verify(work / "step", data=work / "step_test.npz")
    ev = evaluate(work / "step", work / "step_test.npz")
    return {
        "bit_exact": checked.bit_exact,
        "n": checked.samples,
        "verify": checked.outputs[0].sqnr_db,
        "eval": ev.sqnr_db,
    }


def stream_vs_ort(x: np.ndarray, work: Path) -> dict[str, float]:
    """ORT's QDQ step model on :func:`stream`'s 100 frames (run it first: it compiles ``step``)."""
    model = MODELS / "gru_kws_step.onnx"
    frames, test = x[:20].reshape(-1, 10), x[400:403].reshape(-1, 10)[:100]
    qdq = ort_step_qdq(model, frames, record_states(model, frames), work / "step_qdq.onnx")
    ref = step_logits(model, test)
    compiled = qcompile.load(work / "step")
    contract = step_logits(int8_gru_weights(qdq, work / "step_contract.onnx"), test, lambda f: _input_grid(compiled, f))
    return {"ort_qdq": sqnr_db(ref, step_logits(qdq, test)), "contract": sqnr_db(ref, contract)}


def main() -> None:
    x = kws_frames()
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("gru_kws", "gru_bidir"):
            whole = whole_utterance(x, Path(tmp), MODELS / f"{name}.onnx")
            print(f"{name}.onnx, 100 utterances: bit-exact {whole['bit_exact']}/{whole['n']}")
            print(
                f"  output SQNR vs float: qcompile {whole['qcompile']:.2f} dB, "
                f"ORT quantize_static QDQ {whole['ort_qdq']:.2f} dB, "
                f"ORT QDQ + contract int8 GRU weights and input {whole['contract']:.2f} dB"
            )
        st = stream(x, Path(tmp))
        print(f"gru_kws_step.onnx --stateful h=h_next, 100 steps: bit-exact {st['bit_exact']}/{st['n']}")
        print(f"  output SQNR vs float stream: verify {st['verify']:.2f} dB, eval {st['eval']:.2f} dB")
        ort = stream_vs_ort(x, Path(tmp))
        print(
            f"  ORT quantize_static QDQ stream (float state fed back) {ort['ort_qdq']:.2f} dB, "
            f"+ contract int8 GRU weights and input {ort['contract']:.2f} dB"
        )


if __name__ == "__main__":
    main()
