"""Flash at compile time: const data by kind, code and stack of the target build, and the flash budget.

RAM comes from the memory plan; flash and stack are only known from the compiled code, so
when the target's cross compiler is installed the generated sources are compiled for it
(``-fstack-usage``) and measured with its ``size``. Without it, the code figure is an
estimate and says so, and the stack is unknown: a budget is then checked against the
estimate, which is the figure measured for ResNet-8 on Cortex-M7 rounded up.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qcompile.errors import QCompileError

if TYPE_CHECKING:
    from qcompile.codegen.lowering import ConstArray
    from qcompile.targets import Target

#: code bytes assumed when the target compiler is missing (ResNet-8, Cortex-M7: < 12 KB)
CODE_ESTIMATE_BYTES = 12 * 1024


def _is_weight(array: ConstArray) -> bool:
    """Weights are the int8 (or DSP-packed) kernels; the int32 rest is bias and requantization."""
    return array.ctype != "int32_t" or "_dsp_w" in array.ident


def _measure(files: Mapping[str, bytes], cname: str, target: Target) -> tuple[int, int] | None:
    """``(text + rodata-free code bytes, worst-case stack)`` of the target build, or None.

    The stack is the run functions' frames plus the deepest frame among the functions it
    may call (kernels are leaves or call only small helpers inlined at -O2), an upper
    bound for straight-line generated code.
    """
    cc = shutil.which(target.cc) if target.cpu else None
    size_tool = shutil.which(target.cc.removesuffix("gcc") + "size") if cc else None
    if cc is None or size_tool is None:
        return None
    with tempfile.TemporaryDirectory(prefix="qc-size-") as tmp:
        root = Path(tmp)
        for rel, data in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        sources = sorted(str(p) for p in [*root.glob("*.c"), *(root / "runtime").glob("*.c")])
        weights = str(root / f"{cname}_weights.c")
        flags = [*target.cflags, "-fstack-usage", f"-I{root}", f"-I{root / 'runtime'}", "-c"]
        done = subprocess.run([cc, *flags, *[s for s in sources if s != weights]], cwd=tmp, capture_output=True)
        if done.returncode:
            return None
        objects = sorted(str(p) for p in root.glob("*.o"))
        out = subprocess.run([size_tool, "-t", *objects], capture_output=True, text=True)
        if out.returncode:
            return None
        code = int(out.stdout.strip().splitlines()[-1].split()[0])
        frames = _stack_frames(root.glob("*.su"))
    api = tuple(
        f"{cname}_{f}" for f in ("layers", "exec", "run", "invoke", "input", "output", "quantize", "dequantize")
    )
    run = frames.get(f"{cname}_layers", 0) + frames.get(f"{cname}_exec", 0)
    deepest = max((b for f, b in frames.items() if not f.startswith(api)), default=0)
    return code, run + deepest


def _stack_frames(paths: Any) -> dict[str, int]:
    """Function name -> frame bytes from gcc's ``.su`` files (``file:line:col:name\\tbytes\\tkind``)."""
    frames: dict[str, int] = {}
    for path in paths:
        for line in Path(path).read_text().splitlines():
            parts = line.split("\t")
            if len(parts) >= 2 and parts[1].isdigit():
                name = parts[0].rsplit(":", 1)[-1]
                frames[name] = max(frames.get(name, 0), int(parts[1]))
    return frames


def flash_report(
    arrays: Sequence[ConstArray], files: Mapping[str, bytes], cname: str, target: Target
) -> dict[str, Any]:
    """``report.json`` ``flash``: weights, bias and multipliers, code (measured or estimated), stack."""
    measured = _measure(files, cname, target)
    weights = sum(a.nbytes for a in arrays if _is_weight(a))
    other = sum(a.nbytes for a in arrays if not _is_weight(a))
    code = measured[0] if measured else CODE_ESTIMATE_BYTES
    return {
        "weights_bytes": weights,
        "bias_and_multipliers_bytes": other,
        "code_bytes": code,
        "code_source": f"{target.cc.removesuffix('gcc')}size of the target build" if measured else "estimate",
        "stack_bytes": measured[1] if measured else None,
        "total_bytes": weights + other + code,
    }


def check_flash_budget(flash: Mapping[str, Any], arrays: Sequence[ConstArray], budget: int) -> None:
    """Raise when weights + bias + code exceed ``budget``, naming the largest const arrays."""
    if budget < 0:
        raise QCompileError(f"--flash-budget {budget}: give a number of bytes, at least 0")
    if flash["total_bytes"] <= budget:
        return
    biggest = sorted(arrays, key=lambda a: (-a.nbytes, a.ident))[:3]
    names = ", ".join(f"{a.comment} ({a.nbytes:,} B)" for a in biggest)
    raise QCompileError(
        f"flash budget exceeded: the model needs {flash['total_bytes']:,} B (weights {flash['weights_bytes']:,} B "
        f"+ bias and multipliers {flash['bias_and_multipliers_bytes']:,} B + code {flash['code_bytes']:,} B, "
        f"{flash['code_source']}) but --flash-budget is {budget:,} B; the biggest constants: {names}. "
        "Shrink those layers, or raise the budget"
    )
