"""Calibration and test inputs of the models in this folder (numpy only, deterministic).

    python3 examples/realworld/data.py DIR   # DIR/{mbv3,keras}_{calib,test}.npz

Smooth random images / spectrograms in [-1, 1] (low-pass noise), from fixed seeds, so the
committed models need no committed data.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

#: model file -> (input shape without batch, seed)
MODELS = {"mbv3": ((3, 48, 48), 1), "keras": ((1, 32, 24), 2)}


def smooth(rng: np.random.Generator, n: int, c: int, h: int, w: int) -> np.ndarray:
    """``n`` random ``[c, h, w]`` images with spatial structure, in [-1, 1]."""
    low = rng.standard_normal((n, c, h // 4 + 1, w // 4 + 1)).astype(np.float32)
    up = np.repeat(np.repeat(low, 4, axis=2), 4, axis=3)[:, :, :h, :w]
    up += 0.2 * rng.standard_normal(up.shape).astype(np.float32)
    return np.tanh(up).astype(np.float32)


def samples(model: str, split: str, n: int = 64) -> np.ndarray:
    """``n`` inputs of ``model`` ("mbv3" or "keras") for ``split`` ("calib" or "test")."""
    shape, seed = MODELS[model]
    rng = np.random.default_rng(seed * 10 + (0 if split == "calib" else 1))
    return smooth(rng, n, *shape)


def write_data(out_dir: Path, n: int = 64) -> dict[str, Path]:
    """Writes ``{model}_{split}.npz`` (one array ``input``) into ``out_dir``; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for model in MODELS:
        for split in ("calib", "test"):
            path = out_dir / f"{model}_{split}.npz"
            np.savez(path, input=samples(model, split, n))
            paths[f"{model}_{split}"] = path
    return paths


if __name__ == "__main__":
    write_data(Path(sys.argv[1] if len(sys.argv) > 1 else "."))
