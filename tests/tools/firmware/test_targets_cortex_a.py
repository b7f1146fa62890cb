"""Cortex-A targets: each names the neon family, the AArch64 cross compiler and a Linux
user-mode QEMU CPU model; a malformed user-mode [qemu] table is refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from qcompile.errors import QCompileError
from qcompile.targets import load_target

CORTEX_A = {
    "cortex-a53": ("armv8-a", "cortex-a53"),
    "cortex-a55": ("armv8.2-a+dotprod", "cortex-a76"),
    "cortex-a76": ("armv8.2-a+dotprod", "cortex-a76"),
}


@pytest.mark.parametrize("name", sorted(CORTEX_A))
def test_cortex_a_targets(name: str) -> None:
    target = load_target(name)
    march, qemu_cpu = CORTEX_A[name]
    assert target.cpu == name and f"-march={march}" in target.cflags
    assert target.cc == "aarch64-linux-gnu-gcc" and target.kernel_family == "neon"
    assert target.qemu is not None and target.qemu.user == "qemu-aarch64" and target.qemu.cpu == qemu_cpu
    assert target.qemu.instructions_per_tick == 1.0
    assert target.qemu.label == f"qemu-aarch64 -cpu {qemu_cpu}"


def test_user_mode_qemu_table_is_checked(tmp_path: Path) -> None:
    base = 'name = "x"\ncc = "aarch64-linux-gnu-gcc"\n[qemu]\nuser = "qemu-aarch64"\n'
    (tmp_path / "nocpu.toml").write_text(base)
    with pytest.raises(QCompileError, match="cpu"):
        load_target(tmp_path / "nocpu.toml")
    (tmp_path / "mixed.toml").write_text(base + 'cpu = "cortex-a53"\nmachine = "virt"\n')
    with pytest.raises(QCompileError, match="machine"):
        load_target(tmp_path / "mixed.toml")
