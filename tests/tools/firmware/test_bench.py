"""`qcompile bench` compiles each kernel family as a real compile for that family would
(no QEMU needed here: the per-family graphs and the table logic)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import EXAMPLE_DIR

from qcompile.compiler import QUANTIZED_GRAPH_FILE, CompileOptions, compile_model
from qcompile.errors import QCompileError
from qcompile.ir import Graph
from qcompile.ir_io import save_graph
from qcompile.outdir import ModelFolder
from qcompile.targets import load_target
from qcompile.tools.firmware.bench import BenchResult, FamilyBench, _generate_like, family_graph, memory_line


def _bytes(graph: Graph, tmp: Path, name: str) -> bytes:
    """The graph's serialised bytes (no metadata): equal bytes mean equal nodes, order,
    attributes, tensors and constants."""
    path = tmp / f"{name}.qir"
    save_graph(graph, path, meta={})
    return path.read_bytes()


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("bench_graphs")
    out = {}
    for target in ("host", "cortex-m7"):
        out[target] = tmp / target
        options = CompileOptions(target=target, calib=EXAMPLE_DIR / "calib.npz", progress=False)
        compile_model(EXAMPLE_DIR / "digits_cnn.onnx", out[target], options)
    return out


def test_family_graphs_equal_real_compiles(digits: dict[str, Path], tmp_path: Path) -> None:
    host, m7 = load_target("host"), load_target("cortex-m7")
    assert host.family.name == "portable" and m7.family.name == "dsp"
    host_graph, m7_graph = ModelFolder.open(digits["host"]).graph, ModelFolder.open(digits["cortex-m7"]).graph
    # the two families really compile differently (the portable one fuses the head)
    assert "avg_pool_fc" in [n.op for n in host_graph.nodes]
    assert "avg_pool_fc" not in [n.op for n in m7_graph.nodes]
    # bench of the DSP folder, portable column == a real portable compile, and the other way round
    portable = family_graph(digits["cortex-m7"], host, "portable")
    assert _bytes(portable, tmp_path, "p") == _bytes(host_graph, tmp_path, "host")
    dsp = family_graph(digits["host"], m7, "dsp")
    assert _bytes(dsp, tmp_path, "d") == _bytes(m7_graph, tmp_path, "m7")
    # the target's own family reproduces the folder's graph
    assert _bytes(family_graph(digits["cortex-m7"], m7, "dsp"), tmp_path, "d2") == _bytes(m7_graph, tmp_path, "m7")


def test_folder_without_quantized_graph(digits: dict[str, Path], tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(digits["host"], old)
    (old / QUANTIZED_GRAPH_FILE).unlink()
    with pytest.raises(QCompileError, match="compile it again"):
        family_graph(old, load_target("host"), "portable")


def _fam(name: str, layers: list[tuple[str, str, int]], counts: list[int]) -> FamilyBench:
    rows = [{"op": op, "name": n, "macs": macs} for op, n, macs in layers]
    return FamilyBench(name, rows, counts, sum(counts), 1, 1, raw=None)  # type: ignore[arg-type]


def test_rows_match_layers_by_name() -> None:
    portable = _fam("portable", [("conv2d", "c", 10), ("avg_pool_fc", "fc", 4), ("softmax", "s", 0)], [100, 30, 5])
    dsp = _fam(
        "dsp",
        [("conv2d", "c", 10), ("avg_pool2d", "gap", 0), ("reshape", "r", 0), ("fully_connected", "fc", 4)]
        + [("softmax", "s", 0)],
        [50, 20, 1, 8, 5],
    )
    rows = BenchResult("t", [portable, dsp]).rows()
    assert [r.name for r in rows] == ["c", "gap", "r", "fc", "s"]
    assert [r.counts for r in rows] == [[100, 50], [None, 20], [None, 1], [30, 8], [5, 5]]
    assert rows[3].ops == ["avg_pool_fc", "fully_connected"] and rows[3].macs == 4


def test_families_are_generated_over_the_folders_regions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The folder's --memory-regions go to every family's generate; a family whose plan fits
    no region is measured in one flat arena, and the bench line says so."""
    from qcompile.outdir import read_report

    regions = {"dtcm": {"size": 1024, "speed": 1, "section": ".dtcm_bss"}, "sram": {"size": 65536, "speed": 2}}
    out = tmp_path / "m7"
    options = CompileOptions(target="cortex-m7", calib=EXAMPLE_DIR / "calib.npz", progress=False)
    options.memory_regions = regions
    compile_model(EXAMPLE_DIR / "digits_cnn.onnx", out, options)
    m7 = load_target("cortex-m7")
    assert _generate_like(out, family_graph(out, m7, "dsp"), tmp_path / "dsp", "m", m7) == ""
    used = read_report(tmp_path / "dsp")["memory_regions"]
    assert [(r["name"], r["size"], r["section"]) for r in used] == [("dtcm", 1024, ".dtcm_bss"), ("sram", 65536, None)]
    assert used == read_report(out)["memory_regions"]  # the same graph and family: the same placement

    import qcompile.codegen as codegen

    real = codegen.generate

    def no_room(*args, memory_regions=None, **kwargs):
        if memory_regions:
            raise QCompileError("memory regions: buffer 'x' (9 B) fits in no region: ...")
        return real(*args, **kwargs)

    monkeypatch.setattr(codegen, "generate", no_room)
    note = _generate_like(out, family_graph(out, m7, "dsp"), tmp_path / "flat", "m", m7)
    assert note.startswith("measured without --memory-regions (one flat arena) (memory regions: buffer 'x'")
    assert read_report(tmp_path / "flat")["memory_regions"] == []
    fam = _fam("dsp", [], [])
    fam.arena_bytes, fam.note = 2112, note
    assert memory_line(fam).startswith("one flat arena of 2,112 B; measured without --memory-regions")
