"""Run hostile inputs through the real ``qcompile`` command line and classify what happens.

Why two levels: running a case in-process (``run_cli``) takes milliseconds, while a
subprocess per case would spend a second importing onnxruntime. But an in-process run
cannot survive a signal, a hang inside C code or an exhausted address space, so cases
run in batches inside one worker subprocess (``fuzz_worker.py``) under ``RLIMIT_AS`` and
a per-case alarm; the parent (``run_batch``) watches the worker's progress lines, and
when the worker dies or stops answering, the case it was running is the culprit and the
batch resumes after it.

Every case must end with exit code 0, 1 or 2, no traceback and, on failure, nothing left
in the case's folder (the output folder and its hidden temporary siblings).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ALLOWED_CODES = (0, 1, 2)
WORKER = Path(__file__).with_name("fuzz_worker.py")
TESTS_DIR = Path(__file__).resolve().parent.parent


class CaseTimeout(Exception):
    """Raised by the worker's alarm when one case runs past its time limit."""


@dataclass
class Case:
    """One run of the CLI: ``argv`` writes into ``case_dir / "out"``."""

    id: str
    argv: list[str]
    case_dir: str


@dataclass
class Outcome:
    id: str
    code: int | str  # exit code, or "crash" / "hang" / "killed" (signal or memory) / "timeout"
    stderr: str = ""
    leftover: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.code in ALLOWED_CODES and "Traceback" not in self.stderr and not self.leftover


def run_cli(argv: list[str], main: Callable[[list[str]], None] | None = None) -> tuple[int | str, str]:
    """``qcompile argv`` (or ``main``) in this process: (exit code or "crash"/"hang", stderr text)."""
    if main is None:
        from qcompile.cli import main

    err, out = io.StringIO(), io.StringIO()
    code: int | str = 0
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except CaseTimeout:
            code = "hang"
        except BaseException:  # noqa: BLE001 - any escaping exception is exactly what we look for
            code = "crash"
            err.write(traceback.format_exc())
    return code, err.getvalue()


def leftovers(case_dir: str | Path) -> list[str]:
    """What a failed compile left in its case folder (should be nothing)."""
    path = Path(case_dir)
    return sorted(os.listdir(path)) if path.exists() else []


def compile_argv(model: Path, case_dir: Path, calib: Path | None = None) -> list[str]:
    argv = [str(model), "-o", str(case_dir / "out"), "--no-progress"]
    return argv + (["--calib", str(calib)] if calib is not None else [])


def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    # The workers import the same qcompile as this process (an installed copy in CI, the source
    # tree after scripts/dev-setup), never the bare source tree, whose C extension may not be built.
    import qcompile

    package_root = str(Path(qcompile.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([package_root, str(TESTS_DIR)] + [p for p in [env.get("PYTHONPATH")] if p])
    env["OMP_NUM_THREADS"] = "1"
    return env


class _LineReader:
    """Lines from a pipe with a time limit. select() sees only the pipe, not a file object's
    read-ahead buffer, so the bytes are buffered here, where the limit can account for them."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = b""

    def next(self, wait: float) -> str | None:
        """The next line, or None when the pipe closed or stayed silent for ``wait`` seconds."""
        while b"\n" not in self.buf:
            ready, _, _ = select.select([self.fd], [], [], wait)
            chunk = os.read(self.fd, 65536) if ready else b""
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()


def _run_worker(cases: list[Case], timeout: float, memory_mb: int, grace: float) -> list[Outcome]:
    """Run ``cases`` in one worker until it finishes or loses a case; outcomes in order."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump([c.__dict__ for c in cases], f)
    cmd = [sys.executable, str(WORKER), f.name, str(memory_mb), str(timeout)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_worker_env())
    assert proc.stdout is not None
    reader = _LineReader(proc.stdout.fileno())
    outcomes: list[Outcome] = []
    current: str | None = None
    try:
        wait = 60.0 + 2 * timeout  # the first line waits for imports too
        while True:
            line = reader.next(wait)
            wait = timeout + grace  # the alarm fires after `timeout`; silence beyond means stuck in C
            if line is None:
                break
            msg = json.loads(line)
            if "start" in msg:
                current = msg["start"]
            else:
                outcomes.append(Outcome(**msg))
                current = None
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        os.unlink(f.name)
    if current is not None:
        lost = "timeout" if proc.returncode == -9 else "killed"
        case_dir = next(c.case_dir for c in cases if c.id == current)
        outcomes.append(Outcome(current, f"{lost} (worker exit {proc.returncode})", leftover=leftovers(case_dir)))
    return outcomes


def run_batch(
    cases: list[Case], *, jobs: int = 2, timeout: float = 60.0, memory_mb: int = 3072, grace: float = 30.0
) -> list[Outcome]:
    """Outcome of every case, in order: ``jobs`` workers each take every ``jobs``-th case."""
    from concurrent.futures import ThreadPoolExecutor

    shares = [cases[i::jobs] for i in range(jobs)]
    with ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(lambda share: _run_share(share, timeout, memory_mb, grace), shares))
    by_id = {o.id: o for share in results for o in share}
    return [by_id[c.id] for c in cases]


def _run_share(cases: list[Case], timeout: float, memory_mb: int, grace: float) -> list[Outcome]:
    """Outcome of every case in one worker subprocess at a time (a lost case restarts it after that case)."""
    outcomes: list[Outcome] = []
    remaining = list(cases)
    while remaining:
        got = _run_worker(remaining, timeout, memory_mb, grace)
        if not got:
            outcomes.append(Outcome(remaining[0].id, "killed (worker did not start)"))
            got = outcomes[-1:]
        else:
            outcomes.extend(got)
        done = {o.id for o in got}
        remaining = [c for c in remaining if c.id not in done]
    return outcomes


def run_one_in_worker(case: Case, action: Callable[[], None] | None = None) -> None:
    """Worker side of one case (called by fuzz_worker.py): prints the outcome line."""
    code, stderr = run_cli(case.argv, None if action is None else lambda argv: action())
    left = leftovers(case.case_dir) if code != 0 else []
    if code == 0:
        shutil.rmtree(Path(case.case_dir) / "out", ignore_errors=True)
    print(json.dumps({"id": case.id, "code": code, "stderr": stderr[-4000:], "leftover": left}), flush=True)


def summarize(outcomes: list[Outcome]) -> dict[str, int]:
    """Counts per outcome: "0", "1", "2" and anything else (crashes) by kind."""
    counts: dict[str, int] = {}
    for o in outcomes:
        key = str(o.code) if o.code in ALLOWED_CODES else str(o.code).split()[0]
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))
