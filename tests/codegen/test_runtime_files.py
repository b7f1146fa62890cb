"""``select_runtime_files``: which runtime files a set of kernel functions pulls in, on a small
synthetic runtime (so the test does not depend on how the real kernels are split into files)
and on the real one."""

from __future__ import annotations

from pathlib import Path

import pytest

from qcompile.codegen.runtime_files import select_runtime_files
from qcompile.errors import QCompileError


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in {"include/qc_kernels.h": '#include "qc_fixedpoint.h"\n', **files}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


FILES = {
    "include/qc_fixedpoint.h": "/* primitives */\n",
    "include/qc_acle.h": '#include "qc_fixedpoint.h"\n',
    "src/qc_row.h": '#include "qc_fixedpoint.h"\n',
    "src/qc_a.c": '#include "qc_kernels.h"\n#include "qc_row.h"\n'
    "static int qc_local_s8(int x) { return x; }\n"
    "int qc_a_s8(int x) {\n    return qc_b_s8(qc_local_s8(x));\n}\n",
    "src/qc_b.c": '#include "qc_kernels.h"\nint qc_b_s8(int x) { return x; }\n',
    "src/qc_c.c": '#include "qc_kernels.h"\n/* qc_a_s8(1) in a comment is not a call */\n'
    "int qc_c_s8(int x) { return x; } // qc_d_s8(2)\n",
    "src/qc_d.c": '#include "qc_kernels.h"\nint qc_d_s8(int x) { return qc_d_s8(x); }\n',
}


def _names(files) -> tuple[list[str], list[str]]:
    return [p.name for p in files.sources], [p.name for p in files.headers]


def test_transitive_closure_of_calls_and_includes(tmp_path: Path) -> None:
    root = _tree(tmp_path, FILES)
    assert _names(select_runtime_files(["qc_a_s8"], root)) == (
        ["qc_a.c", "qc_b.c"],
        ["qc_fixedpoint.h", "qc_kernels.h", "qc_row.h"],
    )
    # comments are not calls; a self call terminates; a static helper defines nothing
    assert _names(select_runtime_files(["qc_c_s8"], root))[0] == ["qc_c.c"]
    assert _names(select_runtime_files(["qc_d_s8", "qc_d_s8"], root))[0] == ["qc_d.c"]
    with pytest.raises(QCompileError, match="qc_local_s8"):
        select_runtime_files(["qc_local_s8"], root)


def test_extra_headers_bring_their_includes(tmp_path: Path) -> None:
    root = _tree(tmp_path, FILES)
    files = select_runtime_files(["qc_b_s8"], root, extra_headers=["qc_acle.h"])
    assert _names(files) == (["qc_b.c"], ["qc_acle.h", "qc_fixedpoint.h", "qc_kernels.h"])


def test_a_table_read_by_an_included_headers_inline_code_brings_its_source(tmp_path: Path) -> None:
    """qc_rnn.h's inline sigmoid indexes qc_sigmoid_table_u16 (defined in qc_sigmoid_s16.c): a source
    including the header needs that file though it calls none of its functions."""
    files = {
        **FILES,
        "include/qc_tab.h": "extern const short qc_tab_u16[4];\nstatic inline int qc_tab_get(int i) { return qc_tab_u16[i]; }\n",
        "src/qc_t.c": '#include "qc_kernels.h"\nconst short qc_tab_u16[4] = {1, 2, 3, 4};\n',
        "src/qc_u.c": '#include "qc_tab.h"\nint qc_u_s8(int x) { return qc_tab_get(x); }\n',
    }
    root = _tree(tmp_path, files)
    assert _names(select_runtime_files(["qc_u_s8"], root))[0] == ["qc_t.c", "qc_u.c"]
    assert "qc_sigmoid_s16.c" in _names(select_runtime_files(["qc_lstm_unidirectional_s8"]))[0]


def test_missing_function_include_or_clash_is_an_error(tmp_path: Path) -> None:
    root = _tree(tmp_path / "a", FILES)
    with pytest.raises(QCompileError, match="no implementation of qc_zz_s8"):
        select_runtime_files(["qc_b_s8", "qc_zz_s8"], root)
    broken = _tree(tmp_path / "b", {**FILES, "src/qc_b.c": '#include "qc_gone.h"\nint qc_b_s8(int x) { return x; }\n'})
    with pytest.raises(QCompileError, match="qc_gone.h"):
        select_runtime_files(["qc_b_s8"], broken)
    clash = _tree(
        tmp_path / "c",
        {
            **FILES,
            "src/qc_fixedpoint.h": "",
            "src/qc_b.c": '#include "qc_fixedpoint.h"\nint qc_b_s8(int x) { return x; }\n',
        },
    )
    with pytest.raises(QCompileError, match="clashing names"):
        select_runtime_files(["qc_b_s8", "qc_a_s8"], clash)


def test_real_runtime_copy_is_self_contained() -> None:
    """Every function a model can call pulls in files whose quoted includes are all copied."""
    import re

    from qcompile.resources import runtime_dir

    text = (runtime_dir() / "include" / "qc_kernels.h").read_text()
    declared = sorted(set(re.findall(r"^(?:int|void|size_t)\s+(qc_\w+)\s*\(", text, flags=re.M)))
    assert len(declared) > 10
    files = select_runtime_files(declared)
    copied = {p.name for p in (*files.sources, *files.headers)}
    for path in (*files.sources, *files.headers):
        for inc in re.findall(r'^\s*#\s*include\s+"([^"]+)"', path.read_text(), flags=re.M):
            assert inc in copied, f"{path.name} includes {inc}, which is not copied"
