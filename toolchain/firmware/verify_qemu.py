"""`qcompile verify DIR --target T --qemu`: the generated C, cross-compiled, checked in QEMU.

Same inputs and the same bit-for-bit criterion as the host verification, but the code
runs as the target executes it: the target's compiler and flags, its ISA (Thumb, DSP
and MVE instructions included) in QEMU's model of the core, all samples in one boot.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qcompile.errors import QCompileError
from qcompile.firmware.build import SizeSplit, build_image, size_split
from qcompile.firmware.qemu import QemuResult, run_image
from qcompile.targets import Target
from qcompile.verify import VerifyResult


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
    """Run ``out_dir``'s model on ``target``'s QEMU machine and compare with the numpy reference."""
    from qcompile.reference.executor import run_quantized
    from qcompile.verify import load_compiled, load_inputs, to_physical

    out_dir = Path(out_dir)
    graph, meta = load_compiled(out_dir)
    data_path = Path(data) if data else (Path(meta["calibration_data"]) if meta.get("calibration_data") else None)
    if data_path is None or not data_path.exists():
        raise QCompileError(
            f"no input data: pass --data inputs.npz (the calibration file recorded at compile time, "
            f"{meta.get('calibration_data')}, is not available)"
        )
    float_inputs, _ = load_inputs(data_path, graph)
    n = min(len(a) for a in float_inputs.values())
    if limit is not None:
        n = min(n, int(limit))
    if n == 0:
        raise QCompileError(f"{data_path}: no samples")
    q_inputs = []
    for name in graph.inputs:
        t = graph.tensors[name]
        key = t.source_name if t.source_name in float_inputs else next(iter(float_inputs))
        q_inputs.append(np.ascontiguousarray(t.quant.quantize(to_physical(t, float_inputs[key][:n]))))

    image = build_image(out_dir, target)
    run = run_image(image, q_inputs)
    result = VerifyResult(samples=n, bit_exact=0)
    for i in range(n):
        ref = run_quantized(graph, [q[i : i + 1] for q in q_inputs])
        same = all(
            np.array_equal(np.asarray(ref[name]).reshape(-1), run.outputs[j][i]) for j, name in enumerate(graph.outputs)
        )
        if same:
            result.bit_exact += 1
        else:
            result.mismatched_samples.append(i)
    return QemuVerifyResult(result=result, sizes=size_split(image), run=run)
