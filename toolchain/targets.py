"""Compilation targets: which C compiler flags, kernel family and alignment to generate for.

A target is plain data in ``targets/<name>.toml`` (shipped with the package, found via
:mod:`qcompile.resources`), so adding a board needs no code. Fields:

- ``name``, ``description``;
- ``kernel_family``: which runtime kernels the generated code calls (``portable`` is the
  C99 runtime in ``runtime_c/``);
- ``cc`` and ``cflags``: how ``qcompile verify`` / the example builds compile for it;
- ``alignment``: byte alignment of the arena, of every arena offset and of const arrays
  (16 suits SIMD loads on every supported core).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from qcompile.errors import QCompileError
from qcompile.resources import targets_dir

KERNEL_FAMILIES = ("portable",)


@dataclass(frozen=True)
class Target:
    """One code generation target (see the module docstring for the fields)."""

    name: str
    description: str = ""
    kernel_family: str = "portable"
    cc: str = "cc"
    cflags: tuple[str, ...] = field(default_factory=tuple)
    alignment: int = 16

    def __post_init__(self) -> None:
        if self.kernel_family not in KERNEL_FAMILIES:
            raise QCompileError(
                f"target {self.name!r}: unknown kernel_family {self.kernel_family!r} (known: {', '.join(KERNEL_FAMILIES)})"
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
    known = {"name", "description", "kernel_family", "cc", "cflags", "alignment"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise QCompileError(f"target file {path}: unknown keys {unknown}")
    try:
        return Target(
            name=str(data.get("name", path.stem)),
            description=str(data.get("description", "")),
            kernel_family=str(data.get("kernel_family", "portable")),
            cc=str(data.get("cc", "cc")),
            cflags=tuple(str(f) for f in data.get("cflags", ())),
            alignment=int(data.get("alignment", 16)),
        )
    except (TypeError, ValueError) as exc:
        raise QCompileError(f"target file {path}: {exc}") from exc
