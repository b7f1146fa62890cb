"""One progress bar for long work (calibration, verification), off when not on a terminal.

Kept in one place so every stage shows the same bar and tests and CI (no TTY) see none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


@contextmanager
def progress_bar(enabled: bool, total: int, label: str) -> Iterator[Callable[..., None]]:
    """Yield ``advance(k)``; a no-op when ``enabled`` is false."""
    if not enabled:
        yield lambda k=1: None
        return
    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True) as prog:
        task = prog.add_task(label, total=total)
        yield lambda k=1: prog.advance(task, k)
