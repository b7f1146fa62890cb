"""`qcompile verify DIR --target T --qemu`: the generated C, cross-compiled, checked in QEMU.

Same inputs and the same bit-for-bit criterion as the host verification, but the code
runs as the target executes it: the target's compiler and flags, its ISA (Thumb, DSP
and MVE instructions included) in QEMU's model of the core, all samples in one boot.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qcompile.outdir import ModelFolder, load_samples
from qcompile.reference.executor import run_quantized_samples
from qcompile.targets import Target
from qcompile.tools.firmware.build import SizeSplit, build_image, size_split
from qcompile.tools.firmware.qemu import QemuResult, run_image
from qcompile.tools.verify import VerifyResult, bit_exact_result


@dataclass
class QemuVerifyResult:
    result: VerifyResult
    sizes: SizeSplit
    run: QemuResult


def _typed(folder: ModelFolder, run: QemuResult) -> QemuResult:
    """The harness returns output bytes; int16 (16x8) outputs are viewed back as int16."""
    dtypes = [folder.graph.tensors[name].dtype for name in folder.graph.user_outputs]
    run.outputs = [np.ascontiguousarray(o).view(d) for o, d in zip(run.outputs, dtypes, strict=True)]
    return run


def verify_on_qemu(
    out_dir: Path,
    target: Target,
    *,
    data: Path | None = None,
    limit: int | None = None,
    force: bool = False,
) -> QemuVerifyResult:
    """Run ``out_dir``'s model on ``target``'s QEMU machine and compare with the numpy reference.

    Inputs as for the host verification (:func:`qcompile.outdir.load_samples`): float
    samples quantized, or int8 samples for a folder compiled from a ``.tflite``. The image
    is built under ``out_dir/build/<target>`` (a user's own ``build`` there is refused
    unless ``force``).
    """
    folder = ModelFolder.open(out_dir)
    samples = load_samples(folder, data, limit)
    as_bytes = [np.ascontiguousarray(q).reshape(len(q), -1).view(np.int8) for q in samples.quantized]
    build_dir = folder.build_dir(target.name, inputs=[data], force=force)
    if target.qemu is not None and target.qemu.user:  # a Cortex-A target: a Linux program under qemu-aarch64
        from qcompile.tools.firmware.linux import build_linux_program, linux_size_split, run_linux_program

        program = build_linux_program(folder.path, target, build_dir=build_dir, arena_guard=True)
        run = _typed(folder, run_linux_program(program, as_bytes))
        result = bit_exact_result(run_quantized_samples(folder.graph, samples.quantized), run.outputs)
        result.data_source = samples.source
        return QemuVerifyResult(result=result, sizes=linux_size_split(program), run=run)
    image = build_image(folder.path, target, build_dir=build_dir, arena_guard=True)
    run = _typed(folder, run_image(image, as_bytes))
    result = bit_exact_result(run_quantized_samples(folder.graph, samples.quantized), run.outputs)
    result.data_source = samples.source
    return QemuVerifyResult(result=result, sizes=size_split(image), run=run)
