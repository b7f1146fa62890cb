"""Target files: every Cortex-M target loads with its QEMU machine; bad names and bad
files are refused with messages that say what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from qcompile.errors import QCompileError
from qcompile.targets import available_targets, load_target

CORTEX = {
    "cortex-m0plus": ("microbit", "portable"),
    "cortex-m4": ("mps2-an386", "dsp"),
    "cortex-m7": ("mps2-an500", "dsp"),
    "cortex-m33": ("mps2-an505", "dsp"),
    "cortex-m55": ("mps3-an547", "mve"),
}


@pytest.mark.parametrize("name", sorted(CORTEX))
def test_cortex_targets(name: str) -> None:
    target = load_target(name)
    machine, family = CORTEX[name]
    assert target.cpu == name
    assert target.cc == "arm-none-eabi-gcc" and "-mthumb" in target.cflags
    assert target.kernel_family == family
    assert target.qemu is not None and target.qemu.machine == machine
    assert target.qemu.flash[1] > 0 and target.qemu.ram[1] > 0
    assert 30 <= target.qemu.instructions_per_tick <= 70


def test_cortex_m85_builds_as_m55_and_runs_on_its_machine() -> None:
    """gcc 12 and QEMU 7.2 know no Cortex-M85: same MVE ISA, so M55 code and the M55 machine."""
    m85, m55 = load_target("cortex-m85"), load_target("cortex-m55")
    assert m85.kernel_family == "mve" and m85.cpu == "cortex-m55" and m85.qemu == m55.qemu


def test_host_has_no_qemu() -> None:
    assert load_target("host").qemu is None and load_target("host").cpu is None


def test_unknown_target_lists_known_ones() -> None:
    with pytest.raises(QCompileError) as exc:
        load_target("cortex-m99")
    for name in available_targets():
        assert name in str(exc.value)
    assert "cortex-m7" in str(exc.value)


def test_bad_qemu_table_is_refused(tmp_path: Path) -> None:
    base = 'name = "x"\ncc = "arm-none-eabi-gcc"\n[qemu]\nmachine = "mps2-an500"\nsystick_hz = 25000000\n'
    good = base + "flash = [0, 4096]\nram = [0x20000000, 4096]\n"
    (tmp_path / "good.toml").write_text(good)
    assert load_target(tmp_path / "good.toml").qemu.ram == (0x20000000, 4096)
    (tmp_path / "bad.toml").write_text(base + "flash = [0]\nram = [0, 1]\n")
    with pytest.raises(QCompileError, match="flash"):
        load_target(tmp_path / "bad.toml")
    (tmp_path / "extra.toml").write_text(good + "uart = 1\n")
    with pytest.raises(QCompileError, match="uart"):
        load_target(tmp_path / "extra.toml")


def test_flag_groups_partition_cflags() -> None:
    m7 = load_target("cortex-m7")
    assert m7.cpu_flags == ("-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-d16")
    assert m7.opt_flags == ("-O2",)
    assert m7.other_flags == ("-ffunction-sections", "-fdata-sections")
    host = load_target("host")
    assert (host.cpu_flags, host.opt_flags, host.other_flags) == ((), ("-O3",), ())
    for name in available_targets():
        t = load_target(name)
        assert sorted(t.cpu_flags + t.opt_flags + t.other_flags) == sorted(t.cflags)
