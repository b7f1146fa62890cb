"""Where the data that ships with qcompile lives.

In an installed package CMake puts ``templates/``, ``targets/`` and ``runtime_c/`` inside
the package directory; in a source checkout they sit at the repository root, two levels
above the package (``toolchain/qcompile/``). Every stage asks here instead of guessing.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PACKAGE_DIR / name, _PACKAGE_DIR.parent.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"qcompile data directory {name!r} not found next to {_PACKAGE_DIR}")


def templates_dir() -> Path:
    return _find("templates")


def targets_dir() -> Path:
    return _find("targets")


def runtime_dir() -> Path:
    return _find("runtime_c")


def cmake_dir() -> Path:
    """``cmake/``: the arm-none-eabi toolchain file for firmware builds of generated models."""
    return _find("cmake")
