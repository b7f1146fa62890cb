"""The harness must notice every way a case can go wrong, or a clean fuzz run proves nothing."""

from __future__ import annotations

from pathlib import Path

from fuzz.fuzz_harness import Case, compile_argv, run_batch

REPO = Path(__file__).resolve().parents[2]


def _case(tmp_path: Path, cid: str, argv: list[str]) -> Case:
    case_dir = tmp_path / cid
    case_dir.mkdir()
    return Case(cid, argv, str(case_dir))


def test_harness_runs_real_cases(tmp_path: Path) -> None:
    digits = REPO / "examples" / "digits"
    good, bad = _case(tmp_path, "good", []), _case(tmp_path, "bad", [])
    good.argv = compile_argv(digits / "digits_cnn.onnx", Path(good.case_dir), digits / "calib.npz")
    bad.argv = compile_argv(digits / "calib.npz", Path(bad.case_dir))
    outcomes = {o.id: o for o in run_batch([good, bad], jobs=1)}
    assert outcomes["good"].code == 0 and outcomes["good"].ok
    assert outcomes["bad"].code == 1 and outcomes["bad"].ok, outcomes["bad"]
    assert not list(Path(good.case_dir).iterdir())  # successful outputs are removed as the run goes


def test_harness_classifies_every_failure(tmp_path: Path) -> None:
    kinds = ["traceback", "hang", "abort", "memory", "hang_in_c"]
    cases = [_case(tmp_path, k, [f"selftest:{k}"]) for k in [*kinds, "ok"]]
    outcomes = {o.id: o for o in run_batch(cases, jobs=1, timeout=2, memory_mb=2048, grace=15)}
    assert outcomes["traceback"].code == "crash" and "deliberate" in outcomes["traceback"].stderr
    assert outcomes["hang"].code == "hang"
    assert str(outcomes["abort"].code).startswith("killed")
    assert outcomes["memory"].code == "crash" and "MemoryError" in outcomes["memory"].stderr
    assert str(outcomes["hang_in_c"].code).startswith("timeout")
    assert not any(outcomes[k].ok for k in kinds)
    assert outcomes["ok"].ok  # the batch resumed after the lost cases
