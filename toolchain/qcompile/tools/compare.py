"""Side by side with TensorFlow Lite Micro: same output bits, less memory?

``qcompile compare DIR --tflm MODEL.tflite`` answers the two questions a TFLM user asks
before switching:

1. outputs: the generated C (host build through the Cython binding) and the
   ``tflite-micro`` interpreter run on the same int8 inputs (random by default); every
   output byte must be equal. Both run the samples in order on one instance, so a
   streaming model (resource variables) is compared on every step of one sequence;
2. memory: TFLM's arena, both the size its recording allocator reports and the
   smallest arena with which it still allocates and runs (found by bisection: the
   recorded figure is not always sufficient or minimal), against our arena plus the
   static state of the generated code (``.data`` + ``.bss`` other than the arena); and
   flash: the flatbuffer's bytes against our weights plus code (``.text`` + ``.rodata``
   of the generated sources and runtime, compiled for the folder's Cortex-M target when
   ``arm-none-eabi-gcc`` is available, for the host otherwise).

``tflite-micro`` is a test/bench dependency, imported only here and only when asked.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qcompile.errors import QCompileError
from qcompile.outdir import ModelFolder, int8_samples

# ---- TFLite Micro -----------------------------------------------------------------------------


@contextmanager
def _captured_fd_output():
    """Capture what C++ code prints to fds 1 and 2 (TFLM's allocator reports and errors)."""
    with tempfile.TemporaryFile(mode="w+b") as sink:
        saved = [os.dup(1), os.dup(2)]
        box: dict[str, str] = {"text": ""}
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            yield box
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            sink.seek(0)
            box["text"] = sink.read().decode(errors="replace")


def _tflm() -> Any:
    try:
        from tflite_micro import runtime
    except ImportError as exc:
        raise QCompileError(
            "qcompile compare needs the TFLite Micro Python interpreter: pip install tflite-micro"
        ) from exc
    return runtime


def tflm_recorded_arena(model_bytes: bytes) -> int:
    """The arena TFLM's recording allocator reports after AllocateTensors (default config)."""
    tflm = _tflm()
    with _captured_fd_output() as out:
        interpreter = tflm.Interpreter.from_bytes(model_bytes)
        interpreter.print_allocations()
    match = re.search(r"Arena allocation total (\d+) bytes", out["text"])
    if match is None:
        raise QCompileError("could not read TFLM's arena size from its allocation report")
    return int(match.group(1))


def _tflm_runs(model_bytes: bytes, arena: int, sample: list[np.ndarray]) -> bool:
    tflm = _tflm()
    with _captured_fd_output():
        try:
            interpreter = tflm.Interpreter.from_bytes(model_bytes, arena_size=int(arena))
            for i, x in enumerate(sample):
                shape = tuple(int(d) for d in interpreter.get_input_details(i)["shape"])
                interpreter.set_input(x.reshape(shape), i)
            interpreter.invoke()
        except RuntimeError:
            return False
    return True


def tflm_minimal_arena(model_bytes: bytes, sample: list[np.ndarray], upper: int, granularity: int = 16) -> int:
    """Smallest arena (to ``granularity`` bytes) with which TFLM allocates and invokes."""
    hi = max(int(upper), granularity)
    while not _tflm_runs(model_bytes, hi, sample):
        hi *= 2
        if hi > 1 << 30:
            raise QCompileError("TFLM does not run this model with any arena size")
    lo = 0
    while hi - lo > granularity:
        mid = (lo + hi) // 2
        if _tflm_runs(model_bytes, mid, sample):
            hi = mid
        else:
            lo = mid
    return hi


def tflm_outputs(model_bytes: bytes, inputs: list[np.ndarray], n_outputs: int) -> list[np.ndarray]:
    """TFLM's outputs ``[n, size]`` per model output for int8 ``inputs`` (one array per input)."""
    tflm = _tflm()
    interpreter = tflm.Interpreter.from_bytes(model_bytes)
    shapes = [tuple(int(d) for d in interpreter.get_input_details(i)["shape"]) for i in range(len(inputs))]
    for i, (arr, shape) in enumerate(zip(inputs, shapes, strict=True)):
        if int(np.prod(shape)) != int(np.prod(arr.shape[1:])):
            raise QCompileError(
                f"TFLM model input {i} has shape {shape}, the compiled model's holds {arr.shape[1:]}: "
                "is this the .tflite the folder was compiled from?"
            )
    outs: list[list[np.ndarray]] = [[] for _ in range(n_outputs)]
    for s in range(len(inputs[0])):
        for i, arr in enumerate(inputs):
            interpreter.set_input(arr[s].reshape(shapes[i]), i)
        interpreter.invoke()
        for j in range(n_outputs):
            outs[j].append(np.array(interpreter.get_output(j), copy=True).reshape(-1))
    return [np.stack(o) for o in outs]


# ---- our sizes ----------------------------------------------------------------------------------


def _section_sizes(objects: list[Path], size_tool: str) -> dict[str, int]:
    """Sum of section sizes (``size -A``) grouped as text / rodata / data / bss."""
    totals = {"text": 0, "rodata": 0, "data": 0, "bss": 0}
    for obj in objects:
        out = subprocess.run([size_tool, "-A", str(obj)], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) < 2 or not parts[1].isdigit():
                continue
            name, nbytes = parts[0], int(parts[1])
            if name.startswith(".text"):
                totals["text"] += nbytes
            elif name.startswith(".rodata"):
                totals["rodata"] += nbytes
            elif name.startswith(".data"):
                totals["data"] += nbytes
            elif name.startswith(".bss") or name == "COMMON":
                totals["bss"] += nbytes
    return totals


def code_sizes(out_dir: Path, name: str, target_name: str) -> dict[str, Any]:
    """Compile the folder's sources to objects and measure them (weights object separately)."""
    from qcompile.targets import load_target

    target = load_target(target_name)
    arm = target.cpu is not None and target.cpu.startswith("cortex-m")
    if arm and shutil.which(target.cc) and shutil.which("arm-none-eabi-size"):
        cc, size_tool, flags, where = target.cc, "arm-none-eabi-size", list(target.cflags), target.name
    else:
        cc, size_tool, flags, where = "gcc", "size", ["-O2"], "host"
    sources = [out_dir / f"{name}.c"]
    kernels = out_dir / f"{name}_kernels.c"
    if kernels.is_file():
        sources.append(kernels)
    sources += sorted((out_dir / "runtime").glob("*.c"))
    weights_src = out_dir / f"{name}_weights.c"
    includes = ["-I", str(out_dir), "-I", str(out_dir / "runtime")]
    for inc in (out_dir / "runtime").rglob("*.h"):
        includes += ["-I", str(inc.parent)]
    with tempfile.TemporaryDirectory(prefix="qcompile-size-") as tmp:
        objs = []
        for src in [*sources, weights_src]:
            obj = Path(tmp) / (src.stem + ".o")
            cmd = [cc, "-std=c99", *flags, *includes, "-c", str(src), "-o", str(obj)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise QCompileError(f"cannot compile {src.name} to measure it: {proc.stderr.strip()[:500]}")
            objs.append(obj)
        code = _section_sizes(objs[:-1], size_tool)
        weights = _section_sizes(objs[-1:], size_tool)
    return {"built_for": where, "code": code, "weights": weights}


# ---- the comparison ------------------------------------------------------------------------------


@dataclass
class CompareResult:
    samples: int
    equal: int
    mismatched_samples: list[int] = field(default_factory=list)
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    data_source: str = ""  # which inputs were run (Samples.source)

    @property
    def ok(self) -> bool:
        return self.equal == self.samples


def check_built_from(folder: ModelFolder, tflm_model: Path) -> None:
    """A QCompileError explaining why ``folder`` cannot be compared with ``tflm_model``:
    not a flatbuffer, compiled from a float ONNX model, or compiled from another file
    (the sha256 recorded at compile time differs)."""
    from qcompile.frontends.detect import require_tflite
    from qcompile.outdir import file_sha256

    require_tflite(tflm_model)
    source = folder.source_model
    if source is not None and not folder.is_tflite_source:
        raise QCompileError(
            f"{folder.path} was compiled from {source}, a float model that qcompile calibrated itself; TFLite Micro "
            f"runs {tflm_model} with the TFLite converter's quantization, so their outputs cannot be compared bit "
            f"for bit. Compile the .tflite (`qcompile {tflm_model} --target {folder.target_name} -o NEW_DIR`) "
            "and compare that folder"
        )
    recorded, actual = folder.source_sha256, file_sha256(tflm_model)
    if recorded is not None and recorded != actual:
        raise QCompileError(
            f"{folder.path} was not compiled from {tflm_model}: it was compiled from {source} (sha256 "
            f"{recorded[:16]}...), and {tflm_model} has sha256 {actual[:16]}.... Pass the model the folder was "
            f"compiled from, or recompile: `qcompile {tflm_model} --target {folder.target_name} -o {folder.path}`"
        )


def _equal_outputs(ours: list[Any], theirs: list[np.ndarray], result: CompareResult) -> None:
    for s in range(result.samples):
        same = all(
            np.array_equal(
                np.asarray(ours[j][s]).reshape(-1).view(np.uint8), np.asarray(theirs[j][s]).reshape(-1).view(np.uint8)
            )
            for j in range(len(theirs))
        )
        if same:
            result.equal += 1
        else:
            result.mismatched_samples.append(s)


def _memory_numbers(folder: ModelFolder, model_bytes: bytes, sample: list[np.ndarray]) -> dict[str, Any]:
    """TFLM's recorded and minimal arenas and flatbuffer size against our RAM and flash."""
    report = folder.report()
    recorded = tflm_recorded_arena(model_bytes)
    minimal = tflm_minimal_arena(model_bytes, sample, recorded)
    sizes = code_sizes(folder.path, folder.c_name, folder.target_name)
    arena = int(report.get("arena_bytes", 0))
    # The static arena of <name>_run() lives in .bss: count it once, as the arena.
    static_state = max(sizes["code"]["data"] + sizes["code"]["bss"] - arena, 0)
    ours_ram = arena + static_state
    code_bytes = sizes["code"]["text"] + sizes["code"]["rodata"]
    weight_bytes = sizes["weights"]["rodata"] + sizes["weights"]["data"]
    return {
        "tflm_recorded_arena": recorded,
        "tflm_minimal_arena": minimal,
        "arena_bytes": arena,
        "static_state_bytes": static_state,
        "ram_ratio_vs_recorded": ours_ram / recorded if recorded else float("nan"),
        "ram_ratio_vs_minimal": ours_ram / minimal if minimal else float("nan"),
        "flatbuffer_bytes": len(model_bytes),
        "weight_bytes": weight_bytes,
        "code_bytes": code_bytes,
        "code_built_for": sizes["built_for"],
        "flash_ratio": (weight_bytes + code_bytes) / len(model_bytes),
    }


def _rows(result: CompareResult) -> list[tuple[str, str, str, str]]:
    nb = result.numbers
    arena, static = nb["arena_bytes"], nb["static_state_bytes"]
    recorded, minimal = nb["tflm_recorded_arena"], nb["tflm_minimal_arena"]
    weights, code = nb["weight_bytes"], nb["code_bytes"]
    return [
        ("outputs equal", f"{result.equal}/{result.samples}", "(oracle)", ""),
        (
            "RAM (bytes)",
            f"{arena + static:,} (arena {arena:,} + static {static:,})",
            f"{recorded:,} recorded / {minimal:,} minimal",
            f"{nb['ram_ratio_vs_recorded']:.2f}x / {nb['ram_ratio_vs_minimal']:.2f}x",
        ),
        (
            "flash (bytes)",
            f"{weights + code:,} (weights {weights:,} + code {code:,}, {nb['code_built_for']})",
            f"{nb['flatbuffer_bytes']:,} flatbuffer (+ interpreter)",
            f"{nb['flash_ratio']:.2f}x",
        ),
    ]


def compare(
    out_dir: Path,
    tflm_model: Path,
    *,
    n: int = 100,
    data: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> CompareResult:
    """Run the folder's host build and TFLM on the same inputs; measure both sides' memory."""
    tflm_model = Path(tflm_model)
    if not tflm_model.exists():
        raise QCompileError(f"{tflm_model}: no such file")
    folder = ModelFolder.open(out_dir)
    check_built_from(folder, tflm_model)
    model_bytes = tflm_model.read_bytes()
    samples = int8_samples(folder, data, int(n))
    inputs = samples.quantized
    result = CompareResult(samples=samples.n, equal=0, data_source=samples.source)
    ours = folder.run_host(inputs)
    _equal_outputs(ours, tflm_outputs(model_bytes, inputs, len(folder.graph.user_outputs)), result)
    result.numbers = _memory_numbers(folder, model_bytes, [a[0] for a in inputs])
    result.rows = _rows(result)
    return result
