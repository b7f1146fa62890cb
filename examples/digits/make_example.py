"""Train the bundled example CNN on scikit-learn's digits and export it to ONNX.

Why this exists: the quick start needs a small model that compiles in seconds yet touches
the ops an MCU CNN really uses (conv + folded BN + ReLU, depthwise conv + ReLU6, 1x1
conv, max pool, a residual add, global average pool, flatten, Gemm, softmax), with real
data to calibrate on and a held-out set to measure int8 accuracy against float.

Outputs (next to this script), which are committed so nobody needs PyTorch:

- ``digits_cnn.onnx``: opset 13, input ``input`` float32 [1, 1, 8, 8] (pixel / 16, so
  values in [0, 1]), output ``probs`` float32 [1, 10] (softmax). Batch is fixed at 1, as
  in the MLPerf Tiny models under ../shared/models.
- ``calib.npz``: key ``input``, float32 [200, 1, 8, 8], the first 200 training images.
- ``test.npz``: ``x`` float32 [N, 1, 8, 8] held-out images, ``y`` int64 labels.

Run: ``pip install torch==2.13.0 && python examples/digits/make_example.py``. Only this
script imports torch; nothing in the package or the tests does. Training is seeded and
single-threaded, so a rerun with the same versions reproduces the same weights.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import sklearn
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

SEED = 20240607
HERE = Path(__file__).resolve().parent
INPUT_NAME = "input"
OUTPUT_NAME = "probs"
N_CALIB = 200


class DigitsCNN(nn.Module):
    """~6k parameters. The residual branch is depthwise 3x3 + BN + ReLU6 then a 1x1 conv,
    added back to the stem's output: the shape of a MobileNetV2-style block."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.dw = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False), nn.BatchNorm2d(16), nn.ReLU6())
        self.pw = nn.Conv2d(16, 16, 1)
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Sequential(nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU())
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, 10)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stem(x)
        y = s + self.pw(self.dw(s))
        y = self.head(self.pool(y))
        return self.fc(torch.flatten(self.gap(y), 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(x), dim=-1)


def load_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stratified 75/25 split of the 1797 digits; pixels 0..16 scaled by 1/16."""
    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0)[:, None, :, :]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=SEED, stratify=y)
    return x_train, x_test, y_train, y_test


def train(model: nn.Module, x: np.ndarray, y: np.ndarray, epochs: int) -> None:
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    gen = torch.Generator().manual_seed(SEED)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), 64):
            idx = perm[i : i + 64]
            opt.zero_grad()
            loss = loss_fn(model.logits(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        sched.step()


def accuracy_torch(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(x)).argmax(-1).numpy()
    return float((pred == y).mean())


def accuracy_onnx(path: Path, x: np.ndarray, y: np.ndarray) -> float:
    """Batch is fixed at 1 in the exported model, so run sample by sample."""
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    pred = np.array([sess.run(None, {INPUT_NAME: x[i : i + 1]})[0].argmax() for i in range(len(x))])
    return float((pred == y).mean())


def _constants_to_initializers(m: onnx.ModelProto) -> None:
    """The exporter emits Clip's min/max as Constant nodes; store them as initializers
    instead, as most converters do, so the graph holds only compute nodes."""
    keep = []
    for node in m.graph.node:
        if node.op_type == "Constant":
            (attr,) = node.attribute
            tensor = onnx.TensorProto()
            tensor.CopyFrom(attr.t)
            tensor.name = node.output[0]
            m.graph.initializer.append(tensor)
        else:
            keep.append(node)
    del m.graph.node[:]
    m.graph.node.extend(keep)


def export(model: nn.Module, path: Path) -> None:
    """Legacy TorchScript exporter (no onnxscript needed). TrainingMode.PRESERVE on an
    eval() model keeps BatchNormalization nodes in the graph (EVAL mode would fuse them
    into the convs), so the example exercises qcompile's BN folding pass."""
    model.eval()
    torch.onnx.export(
        model,
        (torch.zeros(1, 1, 8, 8),),
        str(path),
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        opset_version=13,
        dynamo=False,
        training=torch.onnx.TrainingMode.PRESERVE,
        do_constant_folding=True,
    )
    m = onnx.load(str(path))
    _constants_to_initializers(m)
    onnx.checker.check_model(m, full_check=True)
    m.doc_string = "qcompile example: CNN on sklearn digits, see examples/digits/README.md"
    onnx.save(m, str(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()

    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    x_train, x_test, y_train, y_test = load_split()
    model = DigitsCNN()
    n_params = sum(p.numel() for p in model.parameters())
    train(model, x_train, y_train, args.epochs)
    acc = accuracy_torch(model, x_test, y_test)

    args.out.mkdir(parents=True, exist_ok=True)
    onnx_path = args.out / "digits_cnn.onnx"
    export(model, onnx_path)
    acc_onnx = accuracy_onnx(onnx_path, x_test, y_test)
    np.savez_compressed(args.out / "calib.npz", **{INPUT_NAME: x_train[:N_CALIB]})
    np.savez_compressed(args.out / "test.npz", x=x_test, y=y_test)

    ops = [n.op_type for n in onnx.load(str(onnx_path)).graph.node]
    info = {
        "seed": SEED,
        "epochs": args.epochs,
        "params": n_params,
        "train_images": len(x_train),
        "test_images": len(x_test),
        "float_accuracy_torch": acc,
        "float_accuracy_onnxruntime": acc_onnx,
        "onnx_ops": ops,
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": ort.__version__,
            "scikit-learn": sklearn.__version__,
        },
    }
    (args.out / "make_example.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"parameters: {n_params}")
    print(f"float accuracy on {len(x_test)} held-out digits: torch {acc:.4f}, onnxruntime {acc_onnx:.4f}")
    print("ONNX ops:", " ".join(ops))
    print("op counts:", {op: ops.count(op) for op in dict.fromkeys(ops)})


if __name__ == "__main__":
    main()
