"""Kernel families as plug-ins: which C code implements each layer on a target.

A target names its family (``kernel_family = "dsp"`` in ``targets/*.toml``); the code
generator, the scheduler and ``qcompile bench`` ask that family object what it offers and
never compare family names. A new family (NEON, Helium, int16 variants) is a new module
in this package defining ``FAMILY``, an instance of a :class:`KernelFamily` subclass:
nothing else has to change. Modules are discovered on first use, so this package imports
none of them at import time (the DSP module needs the code generator, which needs this).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import jinja2

from qcompile.errors import QCompileError
from qcompile.resources import templates_dir

if TYPE_CHECKING:
    from qcompile.codegen.lowering import Layer, Lowering
    from qcompile.ir import Graph, Node


class KernelFamily:
    """What a family offers; the defaults are the portable runtime's behaviour.

    ``row_bands``: the planner may run conv layers in row bands (the portable ``*_rows``
    kernels) to save RAM. ``fuse_head``: the fused average-pool + fully-connected head is
    worth it (it runs a portable kernel). ``kernel_headers``: runtime headers the family's
    ``<name>_kernels.c`` includes. ``bench_baselines``: other families ``qcompile bench``
    measures beside this one by default (after ``portable``), e.g. the family a new core's
    previous code ran (DSP kernels on a Helium core).
    """

    name: str = ""
    description: str = ""
    row_bands: bool = False
    fuse_head: bool = False
    kernel_headers: tuple[str, ...] = ()
    bench_baselines: tuple[str, ...] = ()

    def for_target(self, cflags: tuple[str, ...]) -> KernelFamily:
        """This family as configured for a target's compiler flags (e.g. an ISA extension the
        compile-time weight packing depends on); by default the family itself."""
        return self

    def scratch(self, graph: Graph, portable: Mapping[str, int]) -> dict[str, int]:
        """Scratch bytes per node when this family runs ``graph`` (``portable``: the runtime's sizes)."""
        return dict(portable)

    def overlap_contracts(self, graph: Graph) -> dict[str, str]:
        """Node name -> the access-order contract (:mod:`qcompile.memory.overlap`) that the
        kernel this family runs for it keeps, for the nodes whose output may overlap the
        input they consume. None by default: a family has to know its kernels' order."""
        return {}

    def stream_ops(self, graph: Graph) -> set[str]:
        """Names of the nodes whose kernel here can run row by row through a ring of rows
        (:mod:`qcompile.memory.streams`); none by default."""
        return set()

    def lower(self, lo: Lowering, layer: Layer, node: Node) -> int | None:
        """Specialise ``node`` (fill ``layer``, add to ``lo.kernel_sources``) and return its MACs,
        or None to use the portable runtime kernel."""
        return None

    def lower_s16(self, lo: Lowering, layer: Layer, node: Node) -> int | None:
        """``lower`` for a 16x8 node (int16 activations, :func:`qcompile.ops.is_s16`); None: the
        portable ``qc_<op>_s16`` kernel."""
        return None

    def scratch_s16(self, graph: Graph) -> dict[str, int]:
        """Scratch bytes of the 16x8 nodes ``lower_s16`` specialises (the portable s16 kernels take none)."""
        return {}

    def render_kernels_file(self, cname: str, model_comment: str, sources: list[str]) -> str:
        """The ``<name>_kernels.c`` text for the per-layer functions ``lower`` produced."""
        raise QCompileError(f"kernel family {self.name!r} renders no per-layer kernels")


@functools.cache
def _kernel_templates(family_dir: str) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / "kernels" / family_dir)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def render_kernel_template(family_dir: str, template: str, **context: Any) -> str:
    """Render ``templates/kernels/<family_dir>/<template>``: one template environment per
    family folder, built on first use and shared by every layer the family renders."""
    return _kernel_templates(family_dir).get_template(template).render(**context)


_REGISTRY: dict[str, KernelFamily] = {}

#: The family every other one falls back to for the layers it does not specialise, the
#: host's verification baseline and ``qcompile bench``'s reference column.
BASELINE = "portable"


def _discover() -> dict[str, KernelFamily]:
    if not _REGISTRY:
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
            module = importlib.import_module(f"{__name__}.{info.name}")
            family = getattr(module, "FAMILY", None)
            if isinstance(family, KernelFamily):
                _REGISTRY[family.name] = family
    return _REGISTRY


def family_names() -> tuple[str, ...]:
    """Every registered family name, sorted."""
    return tuple(sorted(_discover()))


def get_family(name: str) -> KernelFamily:
    """The family called ``name``; an unknown name is a clear error listing the known ones."""
    family = _discover().get(name)
    if family is None:
        raise QCompileError(f"unknown kernel family {name!r} (known: {', '.join(family_names())})")
    return family


def baseline_family() -> KernelFamily:
    """The portable family (see :data:`BASELINE`)."""
    return get_family(BASELINE)


__all__ = ["BASELINE", "KernelFamily", "baseline_family", "family_names", "get_family", "render_kernel_template"]
