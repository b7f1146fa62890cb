"""`qcompile verify DIR --target T --qemu`: the generated C, cross-compiled, checked in QEMU.

Same inputs and the same bit-for-bit criterion as the host verification, but the code
runs as the target executes it: the target's compiler and flags, its ISA (Thumb, DSP
and MVE instructions included) in QEMU's model of the core, all samples in one boot.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from qcompile.targets import Target
from qcompile.tools.firmware.build import SizeSplit, build_image, size_split
from qcompile.tools.firmware.qemu import QemuResult, run_image
from qcompile.tools.verify import VerifyResult


@dataclass
class QemuVerifyResult:
    result: VerifyResult
    sizes: SizeSplit
    run: QemuResult


def verify_on_qemu(
    out_dir: Path,
    target: Target,
    *,
    data: Path | None = None,
    limit: int | None = None,
) -> QemuVerifyResult:
    """Run ``out_dir``'s model on ``target``'s QEMU machine and compare with the numpy reference.

    Inputs as for the host verification (:func:`qcompile.tools.verify.load_samples`): float
    samples quantized, or int8 samples for a folder compiled from a ``.tflite``.
    """
    from qcompile.tools.verify import bit_exact_result, load_compiled, load_samples, reference_outputs

    out_dir = Path(out_dir)
    graph, meta = load_compiled(out_dir)
    samples = load_samples(graph, meta, data, limit)
    if target.qemu is not None and target.qemu.user:  # a Cortex-A target: a Linux program under qemu-aarch64
        from qcompile.tools.firmware.linux import build_linux_program, linux_size_split, run_linux_program

        program = build_linux_program(out_dir, target)
        run = run_linux_program(program, samples.quantized)
        result = bit_exact_result(reference_outputs(graph, samples.quantized), run.outputs)
        return QemuVerifyResult(result=result, sizes=linux_size_split(program), run=run)
    image = build_image(out_dir, target)
    run = run_image(image, samples.quantized)
    result = bit_exact_result(reference_outputs(graph, samples.quantized), run.outputs)
    return QemuVerifyResult(result=result, sizes=size_split(image), run=run)
