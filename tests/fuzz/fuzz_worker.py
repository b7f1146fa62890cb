"""Worker process of the fuzz harness: runs a batch of CLI cases in-process.

Usage: ``fuzz_worker.py CASES.json MEMORY_MB TIMEOUT_S``. Prints ``{"start": id}`` before
and an outcome line after each case, so the parent can name the case that killed it.
The address-space limit turns a memory blow-up into a MemoryError (a crash outcome) or
a killed worker, and the alarm turns a Python-level hang into a "hang" outcome.
"""

from __future__ import annotations

import json
import resource
import signal
import sys

from fuzz.fuzz_harness import Case, CaseTimeout, run_one_in_worker


def _alarm(signum, frame) -> None:  # noqa: ARG001 - signal handler signature
    raise CaseTimeout()


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
            run_one_in_worker(case)
        finally:
            signal.alarm(0)


if __name__ == "__main__":
    main()
