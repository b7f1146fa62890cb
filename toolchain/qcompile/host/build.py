"""Build a generated model folder into a host shared library, for verification and benchmarks.

The library is compiled from exactly the files a user gets (``<name>.c``,
``<name>_weights.c``, ``runtime/*.c``) with strict warnings, so a warning in generated
code fails verification instead of going unnoticed. The file name carries a hash of the
sources and flags: the dynamic loader caches libraries by path, so a rebuilt model must
never reuse the path of one already loaded in the process.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from qcompile.errors import QCompileError

BASE_FLAGS = ("-std=c99", "-O2", "-fPIC", "-shared", "-Wall", "-Wextra", "-Werror")


def _sources(out_dir: Path, name: str) -> list[Path]:
    model = [out_dir / f"{name}.c", out_dir / f"{name}_weights.c"]
    missing = [str(p) for p in model if not p.is_file()]
    if missing:
        raise QCompileError(f"{out_dir} is not a generated model named {name!r}: missing {', '.join(missing)}")
    kernels = out_dir / f"{name}_kernels.c"  # per-layer specialised kernels (dsp family)
    if kernels.is_file():
        model.append(kernels)
    return model + sorted((out_dir / "runtime").glob("*.c"))


def build_host_library(
    out_dir: Path,
    *,
    name: str,
    build_dir: Path | None = None,
    cc: str = "cc",
    extra_flags: Sequence[str] = (),
    extra_sources: Sequence[Path] = (),
) -> Path:
    """Compile ``out_dir`` (a folder written by ``qcompile.codegen.generate``) into a shared library.

    ``name`` is the model's C name (``report["c_name"]``). The library goes to ``build_dir``
    (default ``out_dir/build/host``) as ``lib<name>-<hash>.so``; an existing identical build
    is reused. ``extra_sources`` are compiled in too (e.g. a debug hook implementation).
    Raises QCompileError with the compiler's output if compilation fails.
    """
    out_dir = Path(out_dir).resolve()
    sources = _sources(out_dir, name) + [Path(s) for s in extra_sources]
    build_dir = Path(build_dir) if build_dir is not None else out_dir / "build" / "host"
    build_dir.mkdir(parents=True, exist_ok=True)
    include = [f"-I{out_dir}", f"-I{out_dir / 'runtime'}"]
    flags = [*BASE_FLAGS, *extra_flags]

    digest = hashlib.sha256()
    for part in (cc, *flags):
        digest.update(part.encode() + b"\0")
    for src in sources + sorted(out_dir.glob("*.h")) + sorted((out_dir / "runtime").glob("*.h")):
        digest.update(src.name.encode() + b"\0" + src.read_bytes() + b"\0")
    suffix = ".dylib" if sys.platform == "darwin" else ".so"
    library = build_dir / f"lib{name}-{digest.hexdigest()[:16]}{suffix}"
    if library.is_file():
        return library

    if shutil.which(cc) is None:
        raise QCompileError(
            f"C compiler {cc!r} not found: install one (Debian/Ubuntu: `apt-get install gcc`, "
            "or `build-essential`, which provides `cc`) or pass another compiler"
        )
    tmp = library.with_name(f".{library.name}.{os.getpid()}.tmp")
    command = [cc, *flags, *include, *(str(s) for s in sources), "-o", str(tmp)]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise QCompileError(f"cannot run the C compiler {cc!r}: {exc}") from exc
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        output = (proc.stdout + proc.stderr).strip()
        raise QCompileError(f"host build of {name!r} failed ({' '.join(command)}):\n{output}")
    os.replace(tmp, library)
    return library
