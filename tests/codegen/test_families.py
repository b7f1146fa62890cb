"""The kernel-family registry: discovery, lookup, and the portable defaults every family falls back to."""

from __future__ import annotations

import pytest

from qcompile.codegen.families import KernelFamily, family_names, get_family
from qcompile.errors import QCompileError
from qcompile.targets import Target, available_targets, load_target


def test_shipped_families_are_discovered() -> None:
    names = family_names()
    assert {"portable", "dsp", "mve"} <= set(names)
    assert list(names) == sorted(names)
    for name in names:
        family = get_family(name)
        assert isinstance(family, KernelFamily) and family.name == name


def test_unknown_family_names_the_known_ones() -> None:
    with pytest.raises(QCompileError, match="unknown kernel family 'nope'.*portable"):
        get_family("nope")
    with pytest.raises(QCompileError, match="unknown kernel_family 'nope'"):
        Target(name="t", kernel_family="nope")


def test_every_shipped_target_resolves_its_family() -> None:
    for name in available_targets():
        target = load_target(name)
        family = target.family  # the registered family, possibly configured for the target's flags
        assert family.name == target.kernel_family and type(family) is type(get_family(target.kernel_family))


def test_portable_family_lowers_nothing_itself_and_keeps_portable_scratch() -> None:
    portable = get_family("portable")
    assert portable.row_bands and portable.fuse_head
    assert portable.scratch(None, {"a": 16}) == {"a": 16}  # type: ignore[arg-type]
    assert portable.lower(None, None, None) is None  # type: ignore[arg-type]
    with pytest.raises(QCompileError):
        portable.render_kernels_file("m", "m", [])


def test_dsp_family_specialises_and_renders_its_kernels_file() -> None:
    dsp = get_family("dsp")
    assert not dsp.row_bands and not dsp.fuse_head
    assert "qc_dsp_helpers.h" in dsp.kernel_headers
    assert "dsp_conv_fn" in dsp.render_kernels_file("m", "m", ["void dsp_conv_fn(void) {}"])


def test_mve_family_is_benched_beside_dsp() -> None:
    from qcompile.tools.firmware.bench import default_families

    assert get_family("mve").bench_baselines == ("dsp",)
    assert default_families(load_target("cortex-m55")) == ["portable", "dsp", "mve"]
    assert default_families(load_target("cortex-m7")) == ["portable", "dsp"]
