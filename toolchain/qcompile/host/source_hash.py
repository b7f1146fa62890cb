"""Which sources the Cython extension was built from, so a stale build fails instead of lying.

The C-vs-reference tests prove the C in the tree only if the extension was built from that
C. The build (CMake, ``scripts/dev-setup`` or ``pip install``) runs this file as a script
to write the digest of every runtime source (``runtime_c/**/*.c|h``) and binding source
(``host/*.pyx|pxi|pxd``) into a header that ``_runtime.pyx`` exposes as ``SOURCES_HASH``;
:func:`stale_reason` recomputes the digest over the tree and compares. This file imports
nothing from qcompile at module level: the build runs it before the package is importable.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

RUNTIME_PATTERNS = ("*.c", "*.h")
BINDING_PATTERNS = ("*.pyx", "*.pxi", "*.pxd")


def source_files(runtime_dir: Path, host_dir: Path) -> list[tuple[str, Path]]:
    """``(name, path)`` of every source the extension compiles, in a fixed order."""
    files = [
        (f"runtime_c/{p.relative_to(runtime_dir).as_posix()}", p)
        for pat in RUNTIME_PATTERNS
        for p in runtime_dir.rglob(pat)
    ]
    files += [(f"host/{p.name}", p) for pat in BINDING_PATTERNS for p in host_dir.glob(pat)]
    return sorted(files)


def digest(runtime_dir: Path, host_dir: Path) -> str:
    """SHA-256 over the names and contents of :func:`source_files`."""
    h = hashlib.sha256()
    for name, path in source_files(Path(runtime_dir), Path(host_dir)):
        h.update(f"{name}\0{hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())
    return h.hexdigest()


def stale_reason() -> str | None:
    """None when ``qcompile.host._runtime`` is importable and built from the sources in the
    tree; otherwise what is wrong and what to do."""
    from qcompile.resources import runtime_dir

    fix = "rerun scripts/dev-setup (or pip install .) to rebuild it"
    try:
        from qcompile.host import _runtime
    except ImportError as exc:
        return f"the Cython extension qcompile.host._runtime is not built ({exc}): {fix}"
    built = getattr(_runtime, "SOURCES_HASH", None)
    current = digest(runtime_dir(), Path(__file__).resolve().parent)
    if built != current:
        return (
            f"the Cython extension {_runtime.__file__} was built from other sources than the tree's "
            f"runtime_c/ and host/*.pyx|pxi (built {str(built)[:12]}, tree {current[:12]}): {fix}"
        )
    return None


def main(argv: list[str]) -> int:
    """``source_hash.py RUNTIME_DIR HOST_DIR OUT.h``: the header the extension includes."""
    runtime, host, out = (Path(a) for a in argv)
    text = f'#define QC_SOURCES_HASH "{digest(runtime, host)}"\n'
    if not out.exists() or out.read_text() != text:  # unchanged header: no rebuild
        out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
