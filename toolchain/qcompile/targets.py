"""Compilation targets: which C compiler flags, kernel family and alignment to generate for.

A target is plain data in ``targets/<name>.toml`` (shipped with the package, found via
:mod:`qcompile.resources`), so adding a board needs no code. Fields:

- ``name``, ``description``;
- ``kernel_family``: which runtime kernels the generated code calls (``portable`` is the
  C99 runtime in ``runtime_c/``);
- ``cc`` and ``cflags``: how ``qcompile verify`` / the example builds compile for it;
- ``alignment``: byte alignment of the arena, of every arena offset and of const arrays
  (16 suits SIMD loads on every supported core; ``--arena-alignment`` overrides it for the
  arena alone);
- ``optimize``: ``ram`` (default: microcontrollers, where the arena is the scarce
  resource: conv layers at the memory peak may run a few rows without scratch so their
  working memory fits in dead arena bytes) or ``speed`` (the host: full-speed kernels
  everywhere unless ``--ram-budget`` asks for less memory);
- ``[qemu]`` (optional): the QEMU machine that emulates the core, for ``qcompile verify
  --qemu`` and ``qcompile bench``: ``machine``, optional ``cpu``, ``systick_hz`` (the
  SysTick clock, which with ``-icount shift=0`` converts ticks to instructions) and the
  ``flash`` / ``ram`` regions ``[origin, length]`` the test image is linked into; or, for a
  Linux-class core, ``user`` (the user-mode emulator, ``qemu-aarch64``) and ``cpu``: the
  model then runs in a small Linux test program (:mod:`qcompile.tools.firmware.linux`).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from qcompile.codegen.families import BASELINE, KernelFamily, family_names, get_family
from qcompile.errors import QCompileError
from qcompile.resources import targets_dir

if TYPE_CHECKING:
    from qcompile.codegen.families import KernelFamily

OPTIMIZE_GOALS = ("ram", "speed")


@dataclass(frozen=True)
class QemuMachine:
    """How to run bare-metal images for a target in ``qemu-system-arm``.

    ``systick_hz`` is the frequency of the clock feeding SysTick on that machine: under
    ``-icount shift=0`` QEMU's virtual clock advances 1 ns per instruction, so one tick is
    ``1e9 / systick_hz`` instructions (40 on the 25 MHz MPS2 boards).
    """

    machine: str
    systick_hz: int
    flash: tuple[int, int]
    ram: tuple[int, int]
    cpu: str | None = None
    user: str | None = None

    @property
    def instructions_per_tick(self) -> float:
        """Resolution of the counts; Linux user mode counts single instructions (a TCG plugin)."""
        return 1.0 if self.user else 1e9 / self.systick_hz

    @property
    def label(self) -> str:
        """How reports name the emulator: the machine, or the user-mode emulator and its CPU model."""
        return f"{self.user} -cpu {self.cpu}" if self.user else self.machine


@dataclass(frozen=True)
class Target:
    """One code generation target (see the module docstring for the fields)."""

    name: str
    description: str = ""
    kernel_family: str = BASELINE
    cc: str = "cc"
    cflags: tuple[str, ...] = field(default_factory=tuple)
    alignment: int = 16
    qemu: QemuMachine | None = None
    optimize: str = "ram"

    @property
    def cpu(self) -> str | None:
        """The ``-mcpu=`` value of the flags, e.g. ``cortex-m7``; None for host targets."""
        for flag in self.cflags:
            if flag.startswith("-mcpu="):
                return flag.split("=", 1)[1]
        return None

    @property
    def family(self) -> KernelFamily:
        """The kernel family object (from the registry) this target generates code for."""
        return get_family(self.kernel_family).for_target(self.cflags)

    @property
    def cpu_flags(self) -> tuple[str, ...]:
        """The machine flags (``-m...``: CPU, FPU, float ABI) of ``cflags``.

        Every object of a firmware must share them (mixing float ABIs does not link), so the
        generated build files hand them to the whole project rather than to the model alone.
        """
        return tuple(f for f in self.cflags if f.startswith("-m"))

    @property
    def opt_flags(self) -> tuple[str, ...]:
        """The optimisation flags (``-O...``) of ``cflags``: the level the model is verified and
        benchmarked at, which the generated build files apply to the model's sources alone."""
        return tuple(f for f in self.cflags if f.startswith("-O"))

    @property
    def other_flags(self) -> tuple[str, ...]:
        """``cflags`` that are neither machine nor optimisation flags (e.g. ``-ffunction-sections``)."""
        return tuple(f for f in self.cflags if not f.startswith(("-m", "-O")))

    def __post_init__(self) -> None:
        if self.kernel_family not in family_names():
            raise QCompileError(
                f"target {self.name!r}: unknown kernel_family {self.kernel_family!r} (known: {', '.join(family_names())})"
            )
        if self.optimize not in OPTIMIZE_GOALS:
            raise QCompileError(
                f"target {self.name!r}: optimize must be one of {', '.join(OPTIMIZE_GOALS)}, got {self.optimize!r}"
            )
        if self.alignment < 1 or self.alignment & (self.alignment - 1):
            raise QCompileError(f"target {self.name!r}: alignment must be a power of two, got {self.alignment}")


def available_targets() -> list[str]:
    """Names of the targets shipped with qcompile, sorted."""
    return sorted(p.stem for p in targets_dir().glob("*.toml"))


def load_target(name_or_path: str | Path) -> Target:
    """Load a shipped target by name (``host``, ``cortex-m7``) or a ``.toml`` file by path."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = targets_dir() / f"{name_or_path}.toml"
        if not path.is_file():
            raise QCompileError(f"unknown target {str(name_or_path)!r}; available: {', '.join(available_targets())}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise QCompileError(f"cannot read target file {path}: {exc}") from exc
    known = {"name", "description", "kernel_family", "cc", "cflags", "alignment", "qemu", "optimize"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise QCompileError(f"target file {path}: unknown keys {unknown}")
    try:
        return Target(
            name=str(data.get("name", path.stem)),
            description=str(data.get("description", "")),
            kernel_family=str(data.get("kernel_family", BASELINE)),
            cc=str(data.get("cc", "cc")),
            cflags=tuple(str(f) for f in data.get("cflags", ())),
            alignment=int(data.get("alignment", 16)),
            qemu=_qemu_machine(data["qemu"], path) if "qemu" in data else None,
            optimize=str(data.get("optimize", "ram")),
        )
    except (TypeError, ValueError, KeyError) as exc:
        raise QCompileError(f"target file {path}: {exc}") from exc


def _region(value: object, what: str) -> tuple[int, int]:
    if not isinstance(value, list) or len(value) != 2 or not all(isinstance(v, int) and v >= 0 for v in value):
        raise ValueError(f"[qemu] {what} must be [origin, length] (non-negative integers), got {value!r}")
    return int(value[0]), int(value[1])


def _qemu_machine(data: object, path: Path) -> QemuMachine:
    if not isinstance(data, dict):
        raise ValueError("[qemu] must be a table")
    known = {"machine", "cpu", "systick_hz", "flash", "ram", "user"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown [qemu] keys {unknown}")
    if "user" in data:
        return _qemu_user(data)
    hz = int(data["systick_hz"])
    if hz <= 0:
        raise ValueError(f"[qemu] systick_hz must be positive, got {hz}")
    cpu = data.get("cpu")
    return QemuMachine(
        machine=str(data["machine"]),
        systick_hz=hz,
        flash=_region(data["flash"], "flash"),
        ram=_region(data["ram"], "ram"),
        cpu=str(cpu) if cpu else None,
    )


def _qemu_user(data: dict) -> QemuMachine:
    """A ``[qemu]`` table for Linux user-mode emulation: ``user`` and ``cpu``, nothing bare-metal."""
    extra = sorted(set(data) - {"user", "cpu"})
    if extra:
        raise ValueError(f"[qemu] with user = ... (Linux user mode) takes only user and cpu, not {extra}")
    if not data.get("cpu"):
        raise ValueError("[qemu] user mode needs cpu (the QEMU CPU model, e.g. cortex-a53)")
    return QemuMachine(machine="", systick_hz=1, flash=(0, 0), ram=(0, 0), cpu=str(data["cpu"]), user=str(data["user"]))
