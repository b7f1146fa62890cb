"""What a QEMU run of a model returns, and the checks on the samples given to it (shared by the
Cortex-M runner, :mod:`qcompile.tools.firmware.qemu`, and the Cortex-A one,
:mod:`qcompile.tools.firmware.linux`)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from qcompile.errors import QCompileError


class _Sized(Protocol):
    @property
    def input_sizes(self) -> tuple[int, ...]: ...


@dataclass
class QemuResult:
    """What one QEMU boot computed.

    - ``outputs``: one int8 array per model output, shaped ``(samples, output size)``;
    - ``total_instructions``: int64 ``(samples,)``, instructions of each ``run`` call;
    - ``layer_instructions``: int64 ``(samples, layers)`` when asked for, else None.
    Counts are SysTick ticks times ``1e9 / systick_hz`` on Cortex-M (exact to one tick), exact
    instruction counts on Cortex-A.
    """

    outputs: list[np.ndarray]
    total_instructions: np.ndarray
    layer_instructions: np.ndarray | None = None


def as_input_list(inputs: Sequence[np.ndarray] | np.ndarray, image: _Sized) -> list[np.ndarray]:
    arrays = [inputs] if isinstance(inputs, np.ndarray) else list(inputs)
    if len(arrays) != len(image.input_sizes):
        raise QCompileError(f"the model has {len(image.input_sizes)} inputs, got {len(arrays)} arrays")
    flat = []
    for i, (a, size) in enumerate(zip(arrays, image.input_sizes, strict=True)):
        a = np.asarray(a)
        if a.dtype != np.int8:
            raise QCompileError(f"input {i}: expected int8 (quantized) samples, got {a.dtype}")
        if a.size % size:
            raise QCompileError(f"input {i}: {a.size} values is not a whole number of {size}-value samples")
        flat.append(np.ascontiguousarray(a.reshape(-1, size)))
    counts = {len(a) for a in flat}
    if len(counts) != 1:
        raise QCompileError(f"inputs have different sample counts: {sorted(counts)}")
    return flat


def write_samples(path: Path, flat: Sequence[np.ndarray]) -> None:
    """The input file both test programs read: sample by sample, each input's bytes in turn."""
    with open(path, "wb") as f:
        for i in range(len(flat[0])):
            for a in flat:
                f.write(a[i].tobytes())


def run_emulator(
    command: list[str],
    run_dir: Path,
    samples: int,
    timeout: float | None,
    emulator: str,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run one emulator process in ``run_dir`` (no stdin, C locale, plus ``env``); a timeout, by
    default 2 minutes plus 10 s per sample, is a QCompileError naming ``emulator``."""
    try:
        return subprocess.run(
            command,
            cwd=run_dir,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout if timeout is not None else 120 + 10 * samples,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "LC_ALL": "C", **(env or {})},
        )
    except subprocess.TimeoutExpired as exc:
        raise QCompileError(f"{emulator} did not finish in {exc.timeout:.0f} s ({' '.join(command)})") from exc
