"""Worker process of the fuzz harness: runs a batch of CLI cases in-process.

Usage: ``fuzz_worker.py CASES.json MEMORY_MB TIMEOUT_S``. Prints ``{"start": id}`` before
and an outcome line after each case, so the parent can name the case that killed it.
The address-space limit turns a memory blow-up into a MemoryError (a crash outcome) or
a killed worker, and the alarm turns a Python-level hang into a "hang" outcome.
"""

from __future__ import annotations

import functools
import json
import os
import resource
import signal
import sys
import time

from fuzz.fuzz_harness import Case, CaseTimeout, run_one_in_worker


def _alarm(signum, frame) -> None:  # noqa: ARG001 - signal handler signature
    raise CaseTimeout()


def _selftest(kind: str) -> None:
    """Misbehave on purpose (``argv == ["selftest:KIND"]``), so tests can prove the harness notices."""
    if kind == "abort":
        os.abort()
    if kind == "hang_in_c":
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])  # as if stuck inside C code
        time.sleep(3600)
    if kind == "memory":
        bytearray(1 << 40)
    if kind == "traceback":
        raise RuntimeError("deliberate")
    if kind == "hang":
        time.sleep(3600)
    # "ok": returns normally (exit 0)


def main() -> None:
    cases = [Case(**c) for c in json.load(open(sys.argv[1]))]
    memory = int(sys.argv[2]) << 20
    timeout = max(1, int(float(sys.argv[3])))
    import onnxruntime  # noqa: F401 - imported before the limit: its import maps large regions

    import qcompile.cli  # noqa: F401

    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    signal.signal(signal.SIGALRM, _alarm)
    for case in cases:
        print(json.dumps({"start": case.id}), flush=True)
        signal.alarm(timeout)
        try:
            kind = case.argv[0].split(":", 1)[1] if case.argv and case.argv[0].startswith("selftest:") else None
            run_one_in_worker(case, None if kind is None else functools.partial(_selftest, kind))
        finally:
            signal.alarm(0)


if __name__ == "__main__":
    main()
