"""Pick exactly the runtime sources and headers a generated model needs.

The runtime's file layout belongs to the kernel authors, so instead of a hard-coded
op-to-file table this scans ``runtime_c/src/*.c`` for the ``qc_*`` functions each file
defines and the ``qc_*`` functions it calls, then takes the transitive closure from the
functions the generated code calls. Headers are the closure of ``#include "..."`` lines
(resolved in ``src/`` then ``include/``). The copies are flat (``runtime/*.c``,
``runtime/*.h``), so quoted includes still resolve.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from qcompile.errors import QCompileError
from qcompile.resources import runtime_dir

_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
# A function definition at file scope: return type at the start of a line, no 'static'.
_DEFINITION = re.compile(r"^(?!static\b)(?:[A-Za-z_][\w]*[\s\*]+)+(qc_\w+)\s*\([^;{]*\)\s*\{", re.M)
_CALL = re.compile(r"\b(qc_\w+)\s*[(\[]")  # a call, or an index into a runtime table
_INDEX = re.compile(r"\b(qc_\w+)\s*\[")
# A constant table at file scope (e.g. the sigmoid table that qc_rnn.h's inline functions read).
_TABLE = re.compile(r"^const\s+\w+\s+(qc_\w+)\s*\[", re.M)
_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


@dataclass(frozen=True)
class RuntimeFiles:
    """Paths (absolute) of the runtime files to copy, sorted by file name."""

    sources: tuple[Path, ...]
    headers: tuple[Path, ...]


def _strip_comments(text: str) -> str:
    return _COMMENT.sub(" ", text)


def _resolve_include(name: str, root: Path, here: Path) -> Path | None:
    for base in (here, root / "src", root / "include"):
        candidate = base / name
        if candidate.is_file():
            return candidate
    return None


def included_headers(text: str) -> tuple[str, ...]:
    """The ``#include "..."`` names of a generated source (a layer kernel may include a runtime header)."""
    return tuple(sorted(set(_INCLUDE.findall(_strip_comments(text)))))


def _header_uses(path: Path, root: Path) -> set[str]:
    """The runtime tables the headers ``path`` includes (transitively) index: their inline functions
    read them for the source that includes them (calls are not followed: headers declare every kernel)."""
    uses: set[str] = set()
    seen: set[Path] = set()
    pending = [path]
    while pending:
        current = pending.pop()
        for inc in _INCLUDE.findall(_strip_comments(current.read_text(encoding="utf-8"))):
            found = _resolve_include(inc, root, current.parent)
            if found is not None and found not in seen:
                seen.add(found)
                uses |= set(_INDEX.findall(_strip_comments(found.read_text(encoding="utf-8"))))
                pending.append(found)
    return uses


def select_runtime_files(
    functions: Iterable[str], root: Path | None = None, extra_headers: Iterable[str] = ()
) -> RuntimeFiles:
    """The runtime files defining ``functions`` and everything they use.

    ``extra_headers``: ``include/`` headers generated sources include directly (e.g. the
    DSP kernels' ``qc_acle.h``), copied with their own includes.
    """
    root = root or runtime_dir()
    defined_in: dict[str, Path] = {}
    calls: dict[Path, set[str]] = {}
    for path in sorted((root / "src").glob("*.c")):
        text = _strip_comments(path.read_text(encoding="utf-8"))
        for fn in (*_DEFINITION.findall(text), *_TABLE.findall(text)):
            defined_in.setdefault(fn, path)
        calls[path] = set(_CALL.findall(text)) | _header_uses(path, root)
    wanted = sorted(set(functions))
    missing = [fn for fn in wanted if fn not in defined_in]
    if missing:
        raise QCompileError(
            f"the C runtime in {root} has no implementation of {', '.join(missing)}; "
            "this qcompile installation is incomplete"
        )
    sources: set[Path] = set()
    todo = [defined_in[fn] for fn in wanted]
    while todo:
        path = todo.pop()
        if path in sources:
            continue
        sources.add(path)
        todo.extend(defined_in[fn] for fn in sorted(calls[path]) if fn in defined_in)
    headers: set[Path] = set()
    pending = [root / "include" / "qc_kernels.h", *(root / "include" / h for h in extra_headers), *sorted(sources)]
    seen: set[Path] = set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        if path.suffix == ".h":
            headers.add(path)
        for inc in _INCLUDE.findall(_strip_comments(path.read_text(encoding="utf-8"))):
            found = _resolve_include(inc, root, path.parent)
            if found is None:
                raise QCompileError(f"runtime file {path.name} includes {inc!r}, which is not in {root}")
            pending.append(found)
    names = [p.name for p in (*sources, *headers)]
    if len(names) != len(set(names)):
        raise QCompileError(f"runtime files in {root} have clashing names; cannot copy them flat")
    return RuntimeFiles(tuple(sorted(sources, key=lambda p: p.name)), tuple(sorted(headers, key=lambda p: p.name)))
