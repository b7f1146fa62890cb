"""Replace a folder only when that cannot destroy a user's files.

``qcompile -o DIR`` replaces ``DIR`` as a whole (a new compile must not inherit stale
files), and ``verify --qemu`` and ``bench`` write under ``DIR/build``. Both go through
:func:`check_destination`, which resolves symlinks first and then refuses:

- always (``--force`` does not help): the current directory or any of its parents, the
  home folder or any of its parents, a path below an existing file, and a folder that
  is or holds an input of the run (model, calibration or data file);
- unless ``--force``: an existing file, or a non-empty folder without qcompile's marker.

The new content is built in a hidden sibling and swapped in by renames at the end, so a
failed run leaves the previous folder as it was and no half-written one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from qcompile.errors import QCompileError
from qcompile.outdir.marker import MARKER, read_marker, write_marker


def _shown(given: Path, resolved: Path) -> str:
    if Path(os.path.abspath(given)) != resolved:
        return f"{given} (which resolves to {resolved})"
    return str(given) if str(given) == str(resolved) else f"{given} ({resolved})"


def _variants(path: Path) -> set[Path]:
    """``path`` as written (absolute) and with symlinks resolved: a symlink inside a folder
    is deleted with the folder even when its target lives elsewhere."""
    return {Path(os.path.abspath(path)), Path(path).resolve()}


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _check_always(shown: str, resolved: Path, inputs: Sequence[Path], instead: str) -> None:
    """The refusals no ``--force`` overrides."""
    cwd, home = Path.cwd().resolve(), Path.home().resolve()
    for place, what in ((cwd, "the current directory"), (home, "your home folder")):
        if _within(place, resolved):
            where = what if place == resolved else f"a parent of {what} ({place})"
            raise QCompileError(
                f"refusing to write to {shown}: it is {where}, and qcompile replaces the whole folder. "
                f"{instead}; --force does not override this"
            )
    for given in inputs:
        for variant in sorted(_variants(given)):
            if _within(variant, resolved):
                what = (
                    "it is an input of this run" if variant == resolved else f"it holds {variant}, an input of this run"
                )
                raise QCompileError(
                    f"refusing to write to {shown}: {what}, which replacing the folder would delete. "
                    f"{instead}; --force does not override this"
                )
    for parent in reversed(resolved.parents):
        if parent.exists() and not parent.is_dir():
            raise QCompileError(f"cannot write to {shown}: {parent} is a file, not a folder. {instead}")


def check_destination(
    dest: Path, *, inputs: Sequence[Path | None] = (), force: bool = False, instead: str = "Give -o a new folder"
) -> Path:
    """``dest`` with symlinks resolved, or a QCompileError saying why replacing it could
    destroy user data and what to do ``instead``."""
    given = Path(dest)
    resolved = given.resolve()
    shown = _shown(given, resolved)
    _check_always(shown, resolved, [p for p in inputs if p is not None], instead)
    if not os.path.lexists(resolved) or force:
        return resolved
    if not resolved.is_dir():
        raise QCompileError(
            f"refusing to write to {shown}: it is a file, not a folder qcompile wrote. "
            f"{instead}, or pass --force to replace the file"
        )
    if read_marker(resolved) is None and any(resolved.iterdir()):
        raise QCompileError(
            f"refusing to write to {shown}: the folder holds files qcompile did not write (it has no {MARKER} "
            f"marker). {instead}, or pass --force to replace the folder and delete its contents"
        )
    return resolved


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; returns the created ones, deepest first."""
    missing = [p for p in (folder, *folder.parents) if not os.path.lexists(p)]
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _swap(new: Path, final: Path) -> None:
    """Put ``new`` at ``final``; whatever stood there is moved aside first and deleted only
    once ``new`` is in place (on failure it is put back)."""
    os.chmod(new, 0o755)
    if not os.path.lexists(final):
        new.rename(final)
        return
    trash = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
    previous = trash / "previous"
    os.rename(final, previous)
    try:
        new.rename(final)
    except BaseException:
        os.rename(previous, final)
        trash.rmdir()
        raise
    shutil.rmtree(trash, ignore_errors=True)


@contextmanager
def replace_folder(
    dest: Path,
    *,
    inputs: Sequence[Path | None] = (),
    force: bool = False,
    marker: dict[str, str | None] | None = None,
) -> Iterator[Path]:
    """Yield an empty hidden folder that replaces ``dest`` (marked as qcompile's) only if the
    block succeeds. The checks run before and again after the block: a long compile must
    not swap over a folder a user filled meanwhile."""
    final = check_destination(dest, inputs=inputs, force=force)
    created = _make_parents(final.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        yield tmp
        write_marker(tmp, "model", marker)
        check_destination(dest, inputs=inputs, force=force)
        _swap(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_empty(created)
        raise


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def build_area(model_dir: Path, *parts: str, inputs: Sequence[Path | None] = (), force: bool = False) -> Path:
    """``model_dir/build/<parts>``, the folder ``verify --qemu`` and ``bench`` own.

    ``model_dir/build`` is checked like an output folder: a user's own ``build`` (a file,
    or a folder without the marker, e.g. a CMake build tree) is refused unless ``--force``,
    which replaces it. It is then marked as qcompile's, and everything under it is."""
    area = Path(model_dir) / "build"
    instead = f"Move {area} away (verify --qemu and bench build there)"
    resolved = check_destination(area, inputs=inputs, force=force, instead=instead)
    foreign = os.path.lexists(resolved) and read_marker(resolved) is None
    if foreign and not (resolved.is_dir() and not any(resolved.iterdir())):
        _remove(resolved)  # only reached with --force, and never over an input
    resolved.mkdir(parents=True, exist_ok=True)
    if read_marker(resolved) is None:
        write_marker(resolved, "build", {"model_folder": str(Path(model_dir).resolve())})
    return resolved.joinpath(*parts)
