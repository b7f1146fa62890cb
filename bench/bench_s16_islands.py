"""16x8 coverage of real models: how many int8 islands (``requantize`` nodes between int16
and int8 regions) remain under ``--act-bits 16``, which ops they surround, and the output SQNR
against the float model (onnxruntime).

    python3 bench/bench_s16_islands.py [--samples 64]

Models: MLPerf Tiny KWS DS-CNN (shared KWS data: 200 calibration, ``--samples`` test),
ResNet-8 (random images unless ``QC_CIFAR10`` names CIFAR-10's test_batch), the keyword
transformer (``examples/kwt/kwt_opset17.onnx``), mbv3_se and keras_cnn (``examples/realworld``).
Every compile is a host build; SQNR is of the dequantized outputs of the generated C.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT / "toolchain"))  # after site-packages: an installed qcompile wins
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "examples" / "realworld"))

import qcompile  # noqa: E402
from qcompile.tools.verify import sqnr_db  # noqa: E402


def _models(n: int) -> dict[str, tuple[Path, np.ndarray, np.ndarray, list[str] | None]]:
    """name -> (ONNX model, calibration inputs, test inputs, --input-shape)."""
    import bench_quant as bq
    from data import samples

    kws = bq.kws_task()
    r8 = bq.resnet8_task() if os.environ.get("QC_CIFAR10") else bq.resnet8_random_task()
    kwt = ROOT / "examples/kwt"
    return {
        "KWS DS-CNN": (kws.onnx, kws.calib, kws.x[:n], None),
        f"ResNet-8 ({r8.name})": (r8.onnx, r8.calib, r8.x[:n], None),
        "keyword transformer": (
            kwt / "kwt_opset17.onnx",
            np.load(kwt / "calib.npz")["input"],
            np.load(kwt / "test.npz")["input"][:n],
            None,
        ),
        "keras_cnn": (
            ROOT / "examples/realworld/keras_cnn.onnx",
            samples("keras", "calib", 64),
            samples("keras", "test", n),
            None,
        ),
        "mbv3_se": (
            ROOT / "examples/realworld/mbv3_se.onnx",
            samples("mbv3", "calib", 64),
            samples("mbv3", "test", n),
            ["input=1,3,48,48"],
        ),
    }


def islands(graph) -> tuple[int, Counter]:
    """(requantize nodes, Counter of the int8-computing ops between them)."""
    requant = [n for n in graph.nodes if n.op == "requantize"]
    int8_ops = Counter(
        n.op for n in graph.nodes if n.op != "requantize" and n.outputs and graph.tensors[n.outputs[0]].dtype == "int8"
    )
    return len(requant), int8_ops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=64)
    args = parser.parse_args()
    import bench_quant as bq

    print("| model | requantize nodes | int8 ops left | 16x8 SQNR dB | int8 SQNR dB |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (path, calib, test, shape) in _models(args.samples).items():
            ref = bq._ort_run(path, test)
            sqnr = {}
            for bits in (16, 8):
                out_dir = Path(tmp) / f"m{bits}"
                m = qcompile.compile(
                    path, out_dir, calib={"input": calib}, input_shape=shape, act_bits=bits, force=True
                )
                sqnr[bits] = sqnr_db(ref, np.asarray(m.dequantize(m.run(test))).reshape(ref.shape))
                if bits == 16:
                    count, ops = islands(m.graph)
            left = ", ".join(f"{op} x{k}" for op, k in sorted(ops.items())) or "none"
            print(f"| {name} | {count} | {left} | {sqnr[16]:.1f} | {sqnr[8]:.1f} |")


if __name__ == "__main__":
    main()
