"""int8 SQNR of the U-Net-style test model (examples/realworld/unet_decoder.onnx: ConvTranspose,
Resize, DepthToSpace, Concat, Gather, ReduceMean/Max/Sum) against float, for qcompile and for
ONNX Runtime's ``quantize_static`` (QDQ, per-channel int8 weights, int8 activations, MinMax)
on the same calibration data, evaluated on the same test inputs.

    python3 bench/bench_unet.py [--calib N] [--test N]

qcompile's number is the host build of the generated C (``qcompile.compile(...).run``), which is
bit-exact with its numpy reference; ORT's is its QDQ model run by onnxruntime with graph
optimisations off (the QDQ arithmetic exactly as written).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples" / "realworld"))
from data import smooth  # noqa: E402

MODEL = ROOT / "examples" / "realworld" / "unet_decoder.onnx"


def sqnr_db(ref: np.ndarray, got: np.ndarray) -> float:
    ref, got = np.asarray(ref, np.float64).reshape(-1), np.asarray(got, np.float64).reshape(-1)
    return float(10 * np.log10(np.sum(ref**2) / max(np.sum((ref - got) ** 2), 1e-30)))


def ort_run(model: Path, x: np.ndarray, *, optimize: bool = True) -> list[np.ndarray]:
    """Every output; ``optimize=False`` runs a QDQ model exactly as written (no fusion into
    integer kernels), as bench_quant.py and bench_realworld.py evaluate ORT's QDQ models."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if not optimize:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
    outs = [sess.run(None, {"input": x[i : i + 1]}) for i in range(len(x))]
    return [np.concatenate([o[j] for o in outs]) for j in range(len(outs[0]))]


def ort_quantize(calib: np.ndarray, work: Path) -> Path:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(calib[i : i + 1] for i in range(len(calib)))

        def get_next(self):
            x = next(self.it, None)
            return None if x is None else {"input": x}

    out = work / "unet_qdq.onnx"
    quantize_static(
        str(MODEL), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
    )  # fmt: skip
    return out


def main() -> None:
    import qcompile

    ap = argparse.ArgumentParser()
    ap.add_argument("--calib", type=int, default=64)
    ap.add_argument("--test", type=int, default=64)
    args = ap.parse_args()
    calib = smooth(np.random.default_rng(50), args.calib, 3, 32, 32)
    test = smooth(np.random.default_rng(51), args.test, 3, 32, 32)
    ref = ort_run(MODEL, test)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = qcompile.compile(MODEL, work / "out", calib={"input": calib})
        real = model.dequantize(model.run(model.quantize(test)))  # C layout: seg is NHWC
        ours = [np.asarray(real["seg"]).reshape(-1, 32, 32, 4).transpose(0, 3, 1, 2), real["cls"]]
        theirs = ort_run(ort_quantize(calib, work), test, optimize=False)
    print(f"{'output':8} {'qcompile int8':>14} {'ORT quantize_static':>20}   (SQNR vs float, dB; {args.test} samples)")
    for j, name in enumerate(("seg", "cls")):
        mine = sqnr_db(ref[j], np.asarray(ours[j], np.float64).reshape(ref[j].shape))
        print(f"{name:8} {mine:14.2f} {sqnr_db(ref[j], theirs[j]):20.2f}")


if __name__ == "__main__":
    main()
