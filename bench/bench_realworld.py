"""int8 output SQNR of the issue-12 test models: qcompile against ONNX Runtime's quantize_static.

    python3 bench/bench_realworld.py [--samples 64]

Models: ``examples/realworld/mbv3_se.onnx`` (MobileNetV3-style, squeeze-excite, hard-swish,
dynamic H/W: compiled with ``--input-shape input=1,3,48,48``) and
``examples/realworld/keras_cnn.onnx`` (LeakyRelu, Max, Min, PRelu, standalone
BatchNormalization). Data: ``examples/realworld/data.py`` (calibration and test sets of
``--samples`` each, different seeds). Both methods see the same calibration samples and
are scored on the same test samples against the float model run by onnxruntime:

* qcompile with its defaults, with ``--bias-correction`` and with ``--observer mse``, run on
  the host build of the generated C;
* ONNX Runtime ``quantize_static`` (QDQ, per-channel int8 weights, int8 activations,
  MinMax calibration: ``bench_quant.ort_qdq_model``) run with graph optimisations off, so
  every QDQ pair executes as written.

SQNR = 10 log10(sum(float^2) / sum((int8 - float)^2)) over all test outputs.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT / "toolchain"))  # after site-packages: an installed qcompile wins
sys.path.insert(0, str(ROOT / "examples" / "realworld"))

from data import samples, smooth  # noqa: E402

import qcompile  # noqa: E402


def _bench_quant():
    spec = importlib.util.spec_from_file_location("bench_quant", ROOT / "bench" / "bench_quant.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules["bench_quant"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


MODELS = {
    "mbv3_se (SE, hard-swish, dynamic H/W)": ("mbv3", ROOT / "examples/realworld/mbv3_se.onnx", ["input=1,3,48,48"]),
    "keras_cnn (LeakyRelu, Max, Min, PRelu, BN)": ("keras", ROOT / "examples/realworld/keras_cnn.onnx", None),
    "mbv3_small (torchvision layout, held out)": (
        "mbv3_small",
        ROOT / "bench/models/mbv3_small.onnx",
        ["input=1,3,64,64"],
    ),
}


def model_samples(key: str, split: str, n: int) -> np.ndarray:
    """``n`` inputs of model ``key``: ``data.samples`` for the examples/realworld models, seeds
    71 (calibration) and 72 (test) for bench/models/mbv3_small.onnx (70 set its BatchNorm),
    bench_unet.py's seeds 50 and 51 for the U-Net."""
    if key == "mbv3_small":
        return smooth(np.random.default_rng(71 if split == "calib" else 72), n, 3, 64, 64)
    if key == "unet":
        return smooth(np.random.default_rng(50 if split == "calib" else 51), n, 3, 32, 32)
    return samples(key, split, n)


def sqnr_db(reference: np.ndarray, test: np.ndarray) -> float:
    ref = np.asarray(reference, np.float64)
    err = np.asarray(test, np.float64) - ref
    return float(10 * np.log10(np.sum(ref**2) / max(np.sum(err**2), 1e-30)))


#: qcompile settings measured: the defaults, with empirical bias correction, with the MSE observer
SETTINGS = {
    "qcompile": {},
    "qcompile --bias-correction": {"bias_correction": True},
    "qcompile --observer mse": {"observer": "mse"},
}


def run(n: int, work: Path) -> list[tuple[str, list[float]]]:
    bq = _bench_quant()
    rows = []
    for label, (key, path, shape) in MODELS.items():
        calib, test = model_samples(key, "calib", n), model_samples(key, "test", n)
        ref = bq._ort_run(path, test)
        values = []
        for options in SETTINGS.values():
            model = qcompile.compile(path, work / key, calib={"input": calib}, input_shape=shape, force=True, **options)
            ours = model.dequantize(model.run(test)).reshape(ref.shape)  # [N, classes]: no layout change
            values.append(sqnr_db(ref, ours))
        qdq = bq.ort_qdq_model(path, calib, work / f"{key}-qdq.onnx")
        values.append(sqnr_db(ref, bq._ort_run(qdq, test, optimize=False)))
        rows.append((label, values))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = run(args.samples, Path(tmp))
    print(f"int8 output SQNR vs float (dB), {args.samples} calibration / {args.samples} test samples")
    heads = [*SETTINGS, "ORT QDQ"]
    print(f"{'model':<46} " + " ".join(f"{h:>26}" for h in heads))
    for label, values in rows:
        print(f"{label:<46} " + " ".join(f"{v:26.2f}" for v in values))


if __name__ == "__main__":
    main()
