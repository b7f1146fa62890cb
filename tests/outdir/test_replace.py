"""`-o` never destroys user data: each refusal through the real command line, each checking
that every user file survives byte for byte, and `--force` doing only what it promises."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from cli_runner import run_cli, snapshot
from conftest import EXAMPLE_DIR
from onnx import TensorProto, helper

from qcompile.errors import QCompileError
from qcompile.outdir import MARKER, build_area, read_marker


def _model(path: Path) -> Path:
    w = np.random.default_rng(0).normal(size=(4, 3, 3, 3)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="conv0", pads=[1, 1, 1, 1])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [helper.make_tensor("w", TensorProto.FLOAT, w.shape, w.flatten())],
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user's project: a model, its calibration file, notes and a nested folder."""
    root = tmp_path / "project"
    _model(root / "models" / "m.onnx")
    (root / "data").mkdir()
    np.savez(root / "data" / "calib.npz", x=np.ones((4, 1, 3, 8, 8), np.float32))
    (root / "notes.txt").write_text("my notes\n")
    (root / "src" / "deep").mkdir(parents=True)
    (root / "src" / "deep" / "main.c").write_text("int main(void) { return 0; }\n")
    return root


def _compile(
    project: Path, out: str | Path, *extra: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_cli(
        project / "models" / "m.onnx", "--calib", project / "data" / "calib.npz", "-o", out, *extra, cwd=cwd, env=env
    )


def _refused(r: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr  # one message, one line
    for needle in needles:
        assert needle in r.stderr, r.stderr


def test_existing_file_is_refused_then_forced(project: Path) -> None:
    target = project / "out.bin"
    target.write_bytes(b"\x00user data")
    before = snapshot(project)
    _refused(_compile(project, target), str(target), "is a file", "--force")
    assert snapshot(project) == before
    r = _compile(project, target, "--force")
    assert r.returncode == 0, r.stderr
    assert (target / MARKER).is_file() and (target / "m.c").is_file()


def test_foreign_folder_is_refused_then_forced(project: Path, tmp_path: Path) -> None:
    foreign = tmp_path / "mine"
    (foreign / "sub").mkdir(parents=True)
    (foreign / "sub" / "thesis.tex").write_text("chapter 1\n")
    before = snapshot(tmp_path)
    _refused(_compile(project, foreign), str(foreign), MARKER, "--force")
    assert snapshot(tmp_path) == before
    r = _compile(project, foreign, "--force")
    assert r.returncode == 0, r.stderr
    assert not (foreign / "sub").exists() and read_marker(foreign) is not None


def test_empty_and_own_folders_are_replaced(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    assert _compile(project, out).returncode == 0
    marker = read_marker(out)
    assert marker is not None and marker["kind"] == "model"
    assert marker["source_sha256"] and marker["source_model"] == str((project / "models" / "m.onnx").resolve())
    (out / "stale.c").write_text("old\n")
    r = _compile(project, out)  # its own folder: replaced as a whole
    assert r.returncode == 0, r.stderr
    assert not (out / "stale.c").exists()


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_current_directory_and_its_parents_are_refused(project: Path, force: list[str]) -> None:
    before = snapshot(project.parent)
    _refused(_compile(project, ".", *force, cwd=project), "current directory", "--force")
    _refused(_compile(project, "..", *force, cwd=project / "src"), "parent of the current directory", "--force")
    _refused(_compile(project, "../..", *force, cwd=project / "src" / "deep"), "current directory")
    assert snapshot(project.parent) == before


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_folder_holding_an_input_is_refused(project: Path, tmp_path: Path, force: list[str]) -> None:
    before = snapshot(tmp_path)
    _refused(_compile(project, project, *force), str(project / "models" / "m.onnx"), "input", "--force")
    _refused(_compile(project, project / "data", *force), str(project / "data" / "calib.npz"))
    _refused(_compile(project, project / "models" / "m.onnx", *force), "m.onnx", "it is an input")
    _refused(_compile(project, project / "data" / "calib.npz", *force), "calib.npz")
    assert snapshot(tmp_path) == before


def test_symlinks_are_resolved_before_every_check(project: Path, tmp_path: Path) -> None:
    user = tmp_path / "user_folder"
    user.mkdir()
    (user / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    (tmp_path / "link").symlink_to(user)
    (tmp_path / "link_to_project").symlink_to(project)
    # the model given through a symlink inside the folder: replacing the folder deletes the link
    (user / "model_link.onnx").symlink_to(project / "models" / "m.onnx")
    before = snapshot(tmp_path)
    _refused(_compile(project, tmp_path / "link"), "resolves to", str(user), "--force")
    _refused(_compile(project, tmp_path / "link_to_project", "--force"), "resolves to", "input")
    r = run_cli(user / "model_link.onnx", "--calib", project / "data" / "calib.npz", "-o", tmp_path / "link", "--force")
    _refused(r, "model_link.onnx", "input")
    assert snapshot(tmp_path) == before
    r = _compile(project, tmp_path / "link", "--force")  # no input inside: --force replaces the link's target
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "link").is_symlink() and read_marker(user) is not None


def test_path_below_a_file_is_a_clean_error(project: Path) -> None:
    before = snapshot(project)
    for force in ([], ["--force"]):
        _refused(_compile(project, project / "notes.txt" / "sub", *force), "notes.txt is a file, not a folder")
    assert snapshot(project) == before


def test_home_folder_is_refused(project: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "Documents").mkdir(parents=True)
    (home / "Documents" / "cv.pdf").write_bytes(b"%PDF")
    before = snapshot(home)
    _refused(_compile(project, home, "--force", env={"HOME": str(home)}), "home folder")
    assert snapshot(home) == before


def _over_budget(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """A compile that fails late, inside the output folder swap (the RAM budget check)."""
    model, calib = EXAMPLE_DIR / "digits_cnn.onnx", EXAMPLE_DIR / "calib.npz"
    return run_cli(model, "--calib", calib, "-o", out, "--ram-budget", "1", *extra)


def test_failed_compile_leaves_no_new_folders(tmp_path: Path) -> None:
    before = snapshot(tmp_path)
    r = _over_budget(tmp_path / "new" / "deeper" / "out")
    _refused(r, "RAM budget exceeded")
    assert snapshot(tmp_path) == before
    assert not (tmp_path / "new").exists()


def test_failed_compile_over_a_forced_folder_keeps_it(tmp_path: Path) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("still here\n")
    before = snapshot(tmp_path)
    r = _over_budget(foreign, "--force")
    assert r.returncode == 1, r.stderr
    assert snapshot(tmp_path) == before  # all or nothing: the failed run replaced nothing


def test_build_area_is_checked_like_an_output_folder(tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    (model_dir / "build" / "CMakeFiles").mkdir(parents=True)
    (model_dir / "build" / "CMakeCache.txt").write_text("user's cmake tree\n")
    before = snapshot(tmp_path)
    with pytest.raises(QCompileError, match="--force") as info:
        build_area(model_dir, "cortex-m7")
    assert str(model_dir / "build") in str(info.value)
    assert snapshot(tmp_path) == before
    data = model_dir / "build" / "inputs.npz"
    data.write_bytes(b"data")
    with pytest.raises(QCompileError, match="input"):
        build_area(model_dir, "cortex-m7", inputs=[data], force=True)
    data.unlink()
    sub = build_area(model_dir, "cortex-m7", force=True)
    assert sub == (model_dir / "build" / "cortex-m7").resolve()
    assert not (model_dir / "build" / "CMakeCache.txt").exists()
    assert read_marker(model_dir / "build")["kind"] == "build"
    (sub / "x").mkdir(parents=True)
    assert build_area(model_dir, "bench-cortex-m7") == sub.parent / "bench-cortex-m7"  # now qcompile's


def test_verify_qemu_and_bench_refuse_a_user_build_folder(tmp_path: Path) -> None:
    out = tmp_path / "digits"
    r = run_cli(
        EXAMPLE_DIR / "digits_cnn.onnx", "--target", "cortex-m7", "--calib", EXAMPLE_DIR / "calib.npz", "-o", out
    )
    assert r.returncode == 0, r.stderr
    (out / "build").mkdir()
    (out / "build" / "firmware.elf").write_bytes(b"\x7fELF user")
    before = snapshot(out / "build")
    _refused(run_cli("verify", out, "--qemu", "-n", "1"), str(out / "build"), "--force")
    _refused(run_cli("bench", out), str(out / "build"), "--force")
    assert snapshot(out / "build") == before
    os.remove(out / "build" / "firmware.elf")
