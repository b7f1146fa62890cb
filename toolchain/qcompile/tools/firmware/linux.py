"""Cortex-A (AArch64 Linux) builds of generated models, run under ``qemu-aarch64``.

The Cortex-M runner (:mod:`qcompile.tools.firmware.qemu`) boots a bare-metal image; a
Cortex-A target's ``[qemu]`` table names a user-mode emulator instead (``user =
"qemu-aarch64"``, ``cpu``). The model folder is then cross-compiled, with the target's
flags and ``-Werror``, into a small static Linux program (``templates/linux/main.c.j2``)
that reads samples from a file and writes the outputs to another, all samples in one run.

Instruction counts come from a TCG plugin (``templates/linux/icount_plugin.c``, built for
the host on first use): it counts every executed guest instruction and records the count
each time the program enters ``qc_bench_mark``, which the harness calls around each run
and, for ``qcompile bench``, around each layer. The counts are exact and deterministic
(resolution one instruction; a layer's count includes one call of the empty marker).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np

from qcompile.codegen.names import comment_text
from qcompile.errors import QCompileError
from qcompile.outdir import read_report
from qcompile.resources import templates_dir
from qcompile.targets import Target
from qcompile.tools.firmware.build import STRICT_FLAGS, SizeSplit, _environment, _run, io_sizes, require_tool
from qcompile.tools.firmware.results import QemuResult, as_input_list, run_emulator, write_samples
from qcompile.tools.guards import guard_blocks, guard_message, tripped_block

PLUGIN_SOURCE = "icount_plugin.c"
ASAN_ENV = {"ASAN_OPTIONS": "detect_leaks=0"}
"""Environment of AddressSanitizer runs: LeakSanitizer cannot run under qemu-user. It is qemu's own
environment: the sanitizer runtime reads /proc/self/environ, which shows qemu's, not ``-E``'s."""


def uses_asan(flags: Sequence[str]) -> bool:
    """The flags build with AddressSanitizer, whose runtime is a shared library: such a program
    is linked dynamically (and without PIE, so ``qc_bench_mark`` sits at the address ``nm`` gives)
    instead of statically, and runs with :data:`ASAN_ENV`. A target made for sanitized test
    runs adds e.g. ``-fsanitize=address,undefined`` to its ``cflags``."""
    return any(f.startswith("-fsanitize=") and "address" in f.split("=", 1)[1].split(",") for f in flags)


@dataclass(frozen=True)
class LinuxProgram:
    """A linked test program and what the runner needs to know about it."""

    exe: Path
    target: Target
    c_name: str
    input_sizes: tuple[int, ...]
    output_sizes: tuple[int, ...]
    num_layers: int
    layer_hooks: bool
    marker: int
    weights_object: Path
    model_objects: tuple[Path, ...]
    #: the model's canary-guarded blocks in return-code order (qcompile.tools.guards)
    guard_blocks: tuple[str, ...] = ("arena",)


def _tool(target: Target, name: str) -> str:
    """A binutils tool of the target's cross toolchain (``aarch64-linux-gnu-gcc`` -> ``-nm``)."""
    prefix = target.cc[: -len("gcc")] if target.cc.endswith("gcc") else ""
    return require_tool(f"{prefix}{name}")


def _harness(out_dir: Path, target: Target, layer_hooks: bool) -> tuple[dict[str, str], dict]:
    report = read_report(out_dir)
    cname = str(report["c_name"])
    context = {
        "target": target,
        "cname": cname,
        "model_comment": comment_text(str(report.get("name", cname))),
        "inputs": io_sizes(report["inputs"]),
        "outputs": io_sizes(report["outputs"]),
        "num_layers": len(report["layers"]),
        "layer_hooks": layer_hooks,
        "alignment": max(16, int(report.get("alignment", target.alignment))),
    }
    env = _environment().overlay(loader=jinja2.FileSystemLoader(str(templates_dir() / "linux")))
    files = {
        "qch_main.c": env.get_template("main.c.j2").render(**context),
        "qc_layer_hooks.h": env.get_template("layer_hooks.h.j2").render(**context),
    }
    return files, context


def _digest(parts: Sequence[str], files: dict[str, str], sources: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() + b"\0")
    for name, text in sorted(files.items()):
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    for src in sources:
        digest.update(src.name.encode() + b"\0" + src.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def build_linux_program(
    out_dir: Path,
    target: Target,
    *,
    layer_hooks: bool = False,
    build_dir: Path | None = None,
    arena_guard: bool = False,
) -> LinuxProgram:
    """Cross-compile ``out_dir`` into a static AArch64 Linux test program (reused when unchanged).
    ``arena_guard``: the verify build, canaries around the model's RAM blocks (QC_ARENA_GUARD)."""
    out_dir = Path(out_dir).resolve()
    files, ctx = _harness(out_dir, target, layer_hooks)
    cname = ctx["cname"]
    model_c, weights_c = out_dir / f"{cname}.c", out_dir / f"{cname}_weights.c"
    for path in (model_c, weights_c):
        if not path.is_file():
            raise QCompileError(f"{out_dir} is not a generated model named {cname!r}: missing {path.name}")
    extra_c = sorted(p for p in out_dir.glob("*.c") if p not in (model_c, weights_c))
    runtime_c = [*extra_c, *sorted((out_dir / "runtime").glob("*.c"))]
    cc = require_tool(target.cc)
    flags = [*target.cflags, *STRICT_FLAGS, *(["-DQC_ARENA_GUARD"] if arena_guard else [])]
    headers = sorted(out_dir.glob("*.h")) + sorted((out_dir / "runtime").glob("*.h"))
    key = _digest([target.cc, *flags, str(layer_hooks)], files, [model_c, weights_c, *runtime_c, *headers])
    base = Path(build_dir).resolve() if build_dir is not None else out_dir / "build" / target.name
    work = base / f"{cname}-{key}"
    exe = work / f"{cname}_test"
    if not exe.is_file():
        work.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (work / name).write_text(text, encoding="utf-8")
        include = [f"-I{out_dir}", f"-I{out_dir / 'runtime'}", f"-I{work}"]
        compile_flags = [*flags, *include, "-c"]
        hooks = ["-include", "qc_layer_hooks.h"] if layer_hooks else []
        _run([cc, *compile_flags, *hooks, str(model_c)], work, f"cross build of {cname!r} for {target.name}")
        others = [weights_c, *runtime_c, work / "qch_main.c"]
        _run([cc, *compile_flags, *map(str, others)], work, f"cross build of {cname!r} for {target.name}")
        objects = [Path(s).with_suffix(".o").name for s in (model_c, *others)]
        link = [cc, *target.cflags, "-no-pie" if uses_asan(target.cflags) else "-static", *objects, "-o", exe.name]
        _run(link, work, f"link of the {target.name} test program of {cname!r}")
    model_objects = tuple(work / Path(s).with_suffix(".o").name for s in (model_c, *runtime_c))
    return LinuxProgram(
        exe=exe,
        target=target,
        c_name=cname,
        input_sizes=tuple(e["size"] for e in ctx["inputs"]),
        output_sizes=tuple(e["size"] for e in ctx["outputs"]),
        num_layers=ctx["num_layers"],
        layer_hooks=layer_hooks,
        marker=_symbol(target, exe, "qc_bench_mark"),
        weights_object=work / weights_c.with_suffix(".o").name,
        model_objects=model_objects,
        guard_blocks=tuple(guard_blocks(read_report(out_dir))),
    )


def _symbol(target: Target, exe: Path, name: str) -> int:
    proc = subprocess.run([_tool(target, "nm"), str(exe)], capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16)
    raise QCompileError(f"{exe}: no symbol {name} ({proc.stderr.strip()})")


def plugin_library(cache_dir: Path) -> Path:
    """The counting plugin built for the host (``cc -shared``), cached by its source's hash."""
    source = templates_dir() / "linux" / PLUGIN_SOURCE
    text = source.read_bytes()
    lib = Path(cache_dir) / f"libqc_icount-{hashlib.sha256(text).hexdigest()[:12]}.so"
    if not lib.is_file():
        lib.parent.mkdir(parents=True, exist_ok=True)
        tmp = lib.with_suffix(f".{os.getpid()}.tmp")
        cc = require_tool("cc")
        flags = ["-std=c99", "-O2", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror"]
        _run([cc, *flags, str(source), "-o", str(tmp)], lib.parent, "build of the QEMU counting plugin")
        tmp.replace(lib)
    return lib


def qemu_user_command(program: LinuxProgram, plugin: Path, marks: Path) -> list[str]:
    qemu = program.target.qemu
    assert qemu is not None and qemu.user and qemu.cpu
    sysroot = f"/usr/{program.target.cc[: -len('-gcc')]}" if program.target.cc.endswith("-gcc") else "/"
    return [
        require_tool(qemu.user),
        "-cpu",
        qemu.cpu,
        "-L",
        sysroot,
        "-plugin",
        f"{plugin},marker={program.marker:#x},out={marks}",
        str(program.exe),
    ]


def run_linux_program(
    program: LinuxProgram, inputs: Sequence[np.ndarray] | np.ndarray, *, timeout: float | None = None
) -> QemuResult:
    """Run every sample of ``inputs`` through ``program`` in one ``qemu-aarch64`` process."""
    flat = as_input_list(inputs, program)
    n = len(flat[0])
    if n == 0:
        raise QCompileError("no samples to run")
    plugin = plugin_library(program.exe.parent.parent)
    with tempfile.TemporaryDirectory(prefix="qcompile-qemu-") as tmp:
        run_dir = Path(tmp)
        write_samples(run_dir / "in.bin", flat)
        command = [*qemu_user_command(program, plugin, run_dir / "marks.txt"), "in.bin", "out.bin"]
        env = ASAN_ENV if uses_asan(program.target.cflags) else None
        proc = run_emulator(command, run_dir, n, timeout, "qemu-aarch64", env)
        if proc.returncode != 0:
            raise QCompileError(
                f"the {program.target.name} test program stopped with status {proc.returncode} "
                f"({' '.join(command)}):\n{(proc.stdout + proc.stderr).strip()}"
            )
        data = (run_dir / "out.bin").read_bytes()
        marks = np.array((run_dir / "marks.txt").read_text().split(), dtype=np.int64)
    return _results(program, data, marks, n)


def _results(program: LinuxProgram, data: bytes, marks: np.ndarray, n: int) -> QemuResult:
    record = sum(program.output_sizes) + 4
    if len(data) != n * record:
        raise QCompileError(f"the test program wrote {len(data)} bytes of results, expected {n} records of {record}")
    per_sample = 2 + (2 * program.num_layers if program.layer_hooks else 0)
    if len(marks) != n * per_sample:
        raise QCompileError(f"the counting plugin recorded {len(marks)} marks, expected {n * per_sample}")
    rows = np.frombuffer(data, dtype=np.uint8).reshape(n, record)
    outputs, offset = [], 0
    for size in program.output_sizes:
        outputs.append(rows[:, offset : offset + size].copy().view(np.int8))
        offset += size
    rc = rows[:, offset:].copy().view("<u4").reshape(n)
    failed = np.nonzero(rc)[0]
    if len(failed):
        first = int(failed[0])
        where = tripped_block(int(rc[first]), program.num_layers, program.guard_blocks)
        if where is not None:  # a canary of a verify build (QC_ARENA_GUARD)
            raise QCompileError(guard_message(program.c_name, where, first))
        raise QCompileError(
            f"{program.c_name}_run returned {int(rc[first])} on sample {first} "
            f"(layer {int(rc[first]) - 1} rejected its parameters)"
        )
    marks = marks.reshape(n, per_sample)
    total = marks[:, -1] - marks[:, 0]
    layers = None
    if program.layer_hooks:
        inner = marks[:, 1:-1].reshape(n, program.num_layers, 2)
        layers = inner[:, :, 1] - inner[:, :, 0]
    return QemuResult(outputs=outputs, total_instructions=total, layer_instructions=layers)


def linux_size_split(program: LinuxProgram) -> SizeSplit:
    """Weights (the weights object's read-only data), model code and arena (zero-initialised data)."""
    size_tool = _tool(program.target, "size")
    objects = [program.weights_object, *program.model_objects]
    proc = subprocess.run([size_tool, "-A", "-d", *map(str, objects)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise QCompileError(f"{size_tool} failed: {proc.stderr.strip()}")
    weights = code = arena = 0
    current = ""
    for line in proc.stdout.splitlines():
        parts = line.split()
        if line.endswith(":") or "(ex" in line:
            current = line.split(" ")[0].rstrip(":")
        elif len(parts) == 3 and parts[1].isdigit():
            name, size = parts[0], int(parts[1])
            if current == str(program.weights_object) and name.startswith(".rodata"):
                weights += size
            elif current != str(program.weights_object) and name.startswith((".text", ".rodata")):
                code += size
            elif current != str(program.weights_object) and name.startswith(".bss"):
                arena += size
    return SizeSplit(weights=weights, code=code, arena=arena, harness=0)


def run_on_linux_qemu(
    out_dir: Path,
    target: Target,
    inputs: Sequence[np.ndarray] | np.ndarray,
    *,
    layer_counts: bool = False,
    build_dir: Path | None = None,
    timeout: float | None = None,
) -> QemuResult:
    """:func:`qcompile.tools.firmware.run_on_qemu` for a Linux user-mode target."""
    program = build_linux_program(Path(out_dir), target, layer_hooks=layer_counts, build_dir=build_dir)
    return run_linux_program(program, inputs, timeout=timeout)
