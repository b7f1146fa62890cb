"""The shared progress bar: counts what it is told, and is silent when disabled."""

from __future__ import annotations

import io

from rich.console import Console

from qcompile import progress


def test_disabled_bar_is_a_no_op(capsys) -> None:
    with progress.progress_bar(False, 10, "work") as advance:
        for _ in range(10):
            advance()
    assert capsys.readouterr() == ("", "")


def test_enabled_bar_reaches_its_total(monkeypatch) -> None:
    seen: list[tuple[float, float]] = []
    real = progress.Progress

    class Spy(real):  # records the task state when the bar closes
        def __exit__(self, *exc):
            task = self.tasks[0]
            seen.append((task.completed, task.total))
            return super().__exit__(*exc)

    monkeypatch.setattr(progress, "Progress", lambda *a, **k: Spy(*a, console=Console(file=io.StringIO()), **k))
    with progress.progress_bar(True, 7, "work") as advance:
        advance(3)
        advance()
        advance(3)
    assert seen == [(7, 7)]
