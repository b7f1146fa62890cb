"""bench_quant's CIFAR-10 reader: the pickle's planes must come out as the NCHW pixels the
ResNet-8 ONNX model takes, or the ResNet-8 accuracy figures would be meaningless."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from bench_quant import load_cifar10_batch  # noqa: E402


def test_cifar10_batch_is_nchw_raw_pixels(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)  # HWC pictures
    rows = images.transpose(0, 3, 1, 2).reshape(4, 3072)  # CIFAR stores R plane, G plane, B plane
    path = tmp_path / "test_batch"
    path.write_bytes(pickle.dumps({b"data": rows, b"labels": [3, 1, 4, 1]}))
    x, y = load_cifar10_batch(path)
    assert x.shape == (4, 3, 32, 32) and x.dtype == np.float32
    assert np.array_equal(x.transpose(0, 2, 3, 1), images.astype(np.float32))
    assert y.tolist() == [3, 1, 4, 1]
