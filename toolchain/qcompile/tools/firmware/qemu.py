"""Run a model's test image in ``qemu-system-arm``: many samples per boot, exact instruction counts.

Samples go in and results come out through semihosting file I/O (see
``templates/baremetal/main.c.j2`` for the record format). QEMU runs with
``-icount shift=0,align=off,sleep=off``: its virtual clock advances exactly 1 ns per
executed instruction, independent of the host, so SysTick readings (taken around the run
call and, for benchmarks, around every layer) convert to instruction counts that are
identical from run to run. The resolution is one SysTick period: ``1e9 / systick_hz``
instructions (40 on the 25 MHz MPS2 boards), a few instructions of which are the timer
reads themselves.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qcompile.errors import QCompileError
from qcompile.targets import Target, load_target
from qcompile.tools.firmware.build import INPUT_FILE, OUTPUT_FILE, FirmwareImage, build_image, require_tool
from qcompile.tools.firmware.results import QemuResult, as_input_list, run_emulator, write_samples
from qcompile.tools.guards import guard_message, tripped_block


def qemu_command(image: FirmwareImage) -> list[str]:
    qemu = image.target.qemu
    assert qemu is not None
    command = [require_tool("qemu-system-arm"), "-M", qemu.machine]
    if qemu.cpu:
        command += ["-cpu", qemu.cpu]
    return command + [
        "-nographic",
        "-monitor",
        "none",
        "-serial",
        "null",
        "-semihosting-config",
        "enable=on,target=native",
        "-icount",
        "shift=0,align=off,sleep=off",
        "-kernel",
        str(image.elf.resolve()),
    ]


def run_image(
    image: FirmwareImage, inputs: Sequence[np.ndarray] | np.ndarray, *, timeout: float | None = None
) -> QemuResult:
    """Boot ``image`` once and run every sample of ``inputs`` (see :func:`run_on_qemu`)."""
    flat = as_input_list(inputs, image)
    n = len(flat[0])
    if n == 0:
        raise QCompileError("no samples to run")
    qemu = image.target.qemu
    assert qemu is not None
    record = sum(image.output_sizes) + 4 * image.record_words
    with tempfile.TemporaryDirectory(prefix="qcompile-qemu-") as tmp:
        run_dir = Path(tmp)
        write_samples(run_dir / INPUT_FILE, flat)
        command = qemu_command(image)
        proc = run_emulator(command, run_dir, n, timeout, "QEMU")
        if proc.returncode != 0:
            what = f"fault (exception {proc.returncode - 100})" if proc.returncode >= 100 else "error"
            raise QCompileError(
                f"the {image.target.name} test image stopped with status {proc.returncode}: {what} "
                f"({' '.join(command)}):\n{(proc.stdout + proc.stderr).strip()}"
            )
        data = (run_dir / OUTPUT_FILE).read_bytes()
    if len(data) != n * record:
        raise QCompileError(f"QEMU wrote {len(data)} bytes of results, expected {n} records of {record}")
    rows = np.frombuffer(data, dtype=np.uint8).reshape(n, record)
    outputs = []
    offset = 0
    for size in image.output_sizes:
        outputs.append(rows[:, offset : offset + size].copy().view(np.int8))
        offset += size
    words = rows[:, offset:].copy().view("<u4").astype(np.int64)
    failed = np.nonzero(words[:, 0])[0]
    if len(failed):
        first = int(failed[0])
        code = int(words[first, 0])
        where = tripped_block(
            code, image.num_layers, image.guard_blocks, len(image.input_sizes), len(image.output_sizes)
        )
        if where is not None:  # a canary of a verify build (QC_ARENA_GUARD)
            raise QCompileError(guard_message(image.c_name, where, first))
        raise QCompileError(
            f"{image.c_name}_run returned {int(words[first, 0])} on sample {first} "
            f"(layer {int(words[first, 0]) - 1} rejected its parameters)"
        )
    per_tick = qemu.instructions_per_tick
    total = np.rint(words[:, 1] * per_tick).astype(np.int64)
    layers = np.rint(words[:, 2:] * per_tick).astype(np.int64) if image.layer_hooks else None
    return QemuResult(outputs=outputs, total_instructions=total, layer_instructions=layers)


def run_on_qemu(
    out_dir: Path,
    target: Target | str,
    inputs: Sequence[np.ndarray] | np.ndarray,
    *,
    layer_counts: bool = False,
    build_dir: Path | None = None,
    timeout: float | None = None,
) -> QemuResult:
    """Build ``out_dir`` for ``target``'s QEMU machine and run ``inputs`` in one boot.

    ``inputs``: one int8 array per model input (graph order), first axis = samples, each
    sample laid out as the generated C API expects (flattened if needed); a single array
    for a single-input model. ``layer_counts`` adds per-layer instruction counts (the
    model is then built with timing hooks around each layer, which cost a few
    instructions each). Raises QCompileError on a build failure, a fault, a timeout or a
    nonzero return code of the model.
    """
    if isinstance(target, str):
        target = load_target(target)
    if target.qemu is not None and target.qemu.user:
        from qcompile.tools.firmware.linux import run_on_linux_qemu

        return run_on_linux_qemu(
            Path(out_dir), target, inputs, layer_counts=layer_counts, build_dir=build_dir, timeout=timeout
        )
    image = build_image(Path(out_dir), target, layer_hooks=layer_counts, build_dir=build_dir)
    return run_image(image, inputs, timeout=timeout)
