"""Code rules the review cannot keep by eye: short functions, and kernel family names known
only to the family registry."""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

from qcompile.codegen.families import family_names

PACKAGE = Path(__file__).resolve().parent.parent / "toolchain" / "qcompile"
MAX_LINES = 80
#: functions allowed over the limit: none (the four that were have been split)
KNOWN_LONG: set[tuple[str, str]] = set()


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_function_over_80_lines() -> None:
    long = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                key = (path.relative_to(PACKAGE).as_posix(), node.name)
                if lines > MAX_LINES and key not in KNOWN_LONG:
                    long.append(f"{key[0]}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, "split these functions: " + "; ".join(long)


def test_family_names_only_in_the_registry() -> None:
    """A string literal naming a kernel family outside codegen/families/ is a family
    comparison or default in disguise: ask the registry (``families.BASELINE``, the
    target's ``family`` object) instead."""
    names = set(family_names())
    found = []
    for path in _sources():
        if path.is_relative_to(PACKAGE / "codegen" / "families"):
            continue
        tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
        for tok in tokens:
            if tok.type == tokenize.STRING and tok.string.strip("\"'") in names:
                found.append(f"{path.relative_to(PACKAGE)}:{tok.start[0]} {tok.string}")
    assert not found, "family names outside the registry: " + "; ".join(found)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str, known: set[str]) -> set[str]:
    """Modules of the package that ``path`` imports anywhere (function bodies and
    ``TYPE_CHECKING`` blocks included: a lazy import is still a dependency)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:  # a submodule, else a name defined in ``base``
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {m for m in found if m in known and m != module}


def test_no_import_cycle() -> None:
    """Plug-in packages are loaded by name (``importlib``), so a plug-in may import the stage
    that reads it; any other pair of modules importing each other, even lazily, is a cycle."""
    modules = {_module_name(p): p for p in _sources()}
    graph = {m: _imports(p, m, set(modules)) for m, p in modules.items()}
    cycles = []
    state: dict[str, int] = {}  # 1: on the stack, 2: done

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycles.append(" -> ".join([*stack[stack.index(n) :], n]))
            elif n not in state:
                visit(n, [*stack, n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, "import cycles: " + "; ".join(cycles)
