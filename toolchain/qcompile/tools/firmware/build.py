"""Build a generated model folder into a bare-metal test image for a target's QEMU machine.

The image is the user's files (``<name>.c``, ``<name>_weights.c``, ``runtime/*.c``)
compiled with the target's flags and ``-Werror``, plus a harness rendered from
``templates/baremetal/`` (vector table and reset handler, linker script, semihosting
I/O, a ``main`` that streams samples through the model). Model sources are copied under
fixed prefixes (``qcm_`` code, ``qcw_`` weights, ``qch_`` harness) so the linker script can
route them to their own output sections, and ``arm-none-eabi-size`` then reads off the
weights / code / arena split without parsing map files.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from qcompile.codegen.names import comment_text
from qcompile.errors import QCompileError
from qcompile.outdir import build_area, read_report
from qcompile.resources import templates_dir
from qcompile.targets import Target
from qcompile.tools.guards import guard_blocks

STRICT_FLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic")
INPUT_FILE = "qc_in.bin"
OUTPUT_FILE = "qc_out.bin"
DEFAULT_WEIGHTS_SECTION = ".qc_weights"
STACK_SIZE = 8192
_SECTION_ATTR = re.compile(r'section\("([^"]+)"\)')

DEBIAN_PACKAGES = {
    "arm-none-eabi-gcc": "gcc-arm-none-eabi libnewlib-arm-none-eabi",
    "arm-none-eabi-size": "binutils-arm-none-eabi",
    "qemu-system-arm": "qemu-system-arm",
    "aarch64-linux-gnu-gcc": "gcc-aarch64-linux-gnu libc6-dev-arm64-cross",
    "aarch64-linux-gnu-nm": "binutils-aarch64-linux-gnu",
    "aarch64-linux-gnu-size": "binutils-aarch64-linux-gnu",
    "qemu-aarch64": "qemu-user",
}


def require_tool(name: str) -> str:
    """Absolute path of ``name`` or a QCompileError naming the Debian package to install."""
    found = shutil.which(name)
    if found is None:
        package = DEBIAN_PACKAGES.get(name, name)
        raise QCompileError(f"{name} not found: install it (Debian/Ubuntu: `apt-get install {package}`)")
    return found


@dataclass(frozen=True)
class FirmwareImage:
    """A linked test image and what the runner needs to know about it."""

    elf: Path
    target: Target
    c_name: str
    input_sizes: tuple[int, ...]
    output_sizes: tuple[int, ...]
    num_layers: int
    layer_hooks: bool
    weights_section: str
    #: the model's canary-guarded blocks in return-code order (qcompile.tools.guards)
    guard_blocks: tuple[str, ...] = ("arena",)

    @property
    def record_words(self) -> int:
        """uint32 words after the outputs in each output record (rc, total ticks, layer ticks)."""
        return 2 + (self.num_layers if self.layer_hooks else 0)


def _weights_section(weights_c: Path) -> str | None:
    found = _SECTION_ATTR.search(weights_c.read_text(encoding="utf-8"))
    return found.group(1) if found else None


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / "baremetal")),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def _run(command: list[str], cwd: Path, what: str) -> None:
    try:
        proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise QCompileError(f"cannot run {command[0]}: {exc}") from exc
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).strip()
        raise QCompileError(f"{what} failed ({' '.join(command)}):\n{output}")


@dataclass(frozen=True)
class _ModelSources:
    """The C files of a generated model folder, as the image build groups them."""

    cname: str
    model_c: Path
    weights_c: Path
    # every other top-level .c is model code too (e.g. <name>_kernels.c of the dsp family), then runtime/
    runtime_c: tuple[Path, ...]

    @property
    def all_c(self) -> list[Path]:
        return [self.model_c, self.weights_c, *self.runtime_c]


def _model_sources(out_dir: Path, report: dict[str, Any]) -> _ModelSources:
    """The folder's sources, or a QCompileError if ``report.json`` names files that are not there."""
    cname = str(report["c_name"])
    model_c = out_dir / f"{cname}.c"
    weights_c = out_dir / f"{cname}_weights.c"
    for path in (model_c, weights_c):
        if not path.is_file():
            raise QCompileError(f"{out_dir} is not a generated model named {cname!r}: missing {path.name}")
    extra_c = sorted(p for p in out_dir.glob("*.c") if p not in (model_c, weights_c))
    runtime_c = (*extra_c, *sorted((out_dir / "runtime").glob("*.c")))
    return _ModelSources(cname=cname, model_c=model_c, weights_c=weights_c, runtime_c=runtime_c)


def io_sizes(tensors: list[dict[str, Any]]) -> list[dict[str, int]]:
    """Bytes per sample of each input or output (the harness moves bytes; int16 tensors take two each)."""
    return [
        {"index": i, "size": int(t["size"] if "size" in t else _size(t["shape"])) * _itemsize(t)}
        for i, t in enumerate(tensors)
    ]


def _itemsize(t: dict[str, Any]) -> int:
    return 2 if t.get("dtype") == "int16" else 1


def _harness_context(
    target: Target, report: dict[str, Any], cname: str, section: str | None, layer_hooks: bool
) -> dict[str, Any]:
    """Template variables of ``templates/baremetal/``: the harness adapts to the model's I/O
    sizes and layer count, and the linker script to its weights section (``section``: the one
    named in ``<name>_weights.c``, if any)."""
    return {
        "target": target,
        "qemu": target.qemu,
        "cname": cname,
        "model_comment": comment_text(str(report.get("name", cname))),
        "inputs": io_sizes(report["inputs"]),
        "outputs": io_sizes(report["outputs"]),
        "num_layers": len(report["layers"]),
        "layer_hooks": layer_hooks,
        "alignment": max(4, int(report.get("alignment", target.alignment))),
        "input_file": INPUT_FILE,
        "output_file": OUTPUT_FILE,
        "weights_section": section or DEFAULT_WEIGHTS_SECTION,
        "weights_input_sections": " ".join([".rodata", ".rodata.*", *([section] if section else [])]),
        "stack_size": STACK_SIZE,
        # the model's RAM sections (--memory-regions): linked into the image's arena
        "ram_sections": sorted({r["section"] for r in report.get("memory_regions", []) if r.get("section")}),
    }


def _render_harness(context: dict[str, Any]) -> dict[str, str]:
    env = _environment()
    return {
        "qc_semihost.h": env.get_template("semihost.h.j2").render(**context),
        "qch_startup.c": env.get_template("startup.c.j2").render(**context),
        "qch_main.c": env.get_template("main.c.j2").render(**context),
        "qc_layer_hooks.h": env.get_template("layer_hooks.h.j2").render(**context),
        "qc_image.ld": env.get_template("link.ld.j2").render(**context),
    }


def _build_key(
    target: Target, flags: list[str], layer_hooks: bool, harness: dict[str, str], out_dir: Path, sources: _ModelSources
) -> str:
    """Hash of everything the image is built from: an identical earlier build can be reused."""
    digest = hashlib.sha256()
    for part in (target.cc, *flags, str(layer_hooks)):
        digest.update(part.encode() + b"\0")
    for name, text in sorted(harness.items()):
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    headers = sorted(out_dir.glob("*.h")) + sorted((out_dir / "runtime").glob("*.h"))
    for src in sources.all_c + headers:
        digest.update(src.name.encode() + b"\0" + src.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _compile_and_link(
    work: Path, out_dir: Path, target: Target, flags: list[str], sources: _ModelSources, layer_hooks: bool
) -> None:
    """Compile the prefixed copies in ``work`` (the model source alone gets the layer hooks) and link."""
    cc = require_tool(target.cc)
    cname = sources.cname
    include = [f"-I{out_dir}", f"-I{out_dir / 'runtime'}", f"-I{work}"]
    compile_flags = [*flags, "-g", *include, "-c"]
    model_src = [f"qcm_{sources.model_c.name}"]
    runtime_src = [f"qcm_{s.name}" for s in sources.runtime_c]
    other_src = [f"qcw_{sources.weights_c.name}", *runtime_src, "qch_startup.c", "qch_main.c"]
    hooks = ["-include", "qc_layer_hooks.h"] if layer_hooks else []
    what = f"cross build of {cname!r} for {target.name}"
    _run([cc, *compile_flags, *hooks, *model_src], work, what)
    _run([cc, *compile_flags, *other_src], work, what)
    objects = [Path(s).with_suffix(".o").name for s in (*model_src, *other_src)]
    link = [cc, *target.cflags, "-nostartfiles", "--specs=nano.specs", "-Tqc_image.ld", "-Wl,--gc-sections"]
    link += [f"-Wl,-Map={cname}.map", *objects, "-lc", "-lgcc", "-o", f"{cname}.elf"]
    _run(link, work, f"link of the {target.name} test image of {cname!r}")


def _populate(work: Path, harness: dict[str, str], sources: _ModelSources) -> None:
    """A fresh ``work`` folder with the harness and the model's sources under their section prefixes."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for name, text in harness.items():
        (work / name).write_text(text, encoding="utf-8")
    shutil.copyfile(sources.model_c, work / f"qcm_{sources.model_c.name}")
    shutil.copyfile(sources.weights_c, work / f"qcw_{sources.weights_c.name}")
    for src in sources.runtime_c:
        shutil.copyfile(src, work / f"qcm_{src.name}")


def build_image(
    out_dir: Path,
    target: Target,
    *,
    layer_hooks: bool = False,
    build_dir: Path | None = None,
    arena_guard: bool = False,
) -> FirmwareImage:
    """Compile and link ``out_dir`` (a generated model folder) into a QEMU test image.

    ``layer_hooks`` force-includes per-layer SysTick reads into the model source (for
    ``qcompile bench``); without it the model is compiled exactly as a user would. The
    image lands in ``build_dir`` (default ``out_dir/build/<target>``) under a name that
    hashes every input, so an identical earlier build is reused.
    """
    if target.qemu is None:
        raise QCompileError(f"target {target.name!r} has no QEMU machine; pick one with a [qemu] table in its file")
    out_dir = Path(out_dir).resolve()
    report = read_report(out_dir)
    sources = _model_sources(out_dir, report)
    cname = sources.cname
    context = _harness_context(target, report, cname, _weights_section(sources.weights_c), layer_hooks)
    harness = _render_harness(context)

    require_tool(target.cc)
    flags = [*target.cflags, *STRICT_FLAGS, *(["-DQC_ARENA_GUARD"] if arena_guard else [])]  # canaries: verify builds
    key = _build_key(target, flags, layer_hooks, harness, out_dir, sources)
    base = Path(build_dir).resolve() if build_dir is not None else build_area(out_dir, target.name)
    work = base / f"{cname}-{key}"
    image = FirmwareImage(
        elf=work / f"{cname}.elf",
        target=target,
        c_name=cname,
        input_sizes=tuple(e["size"] for e in context["inputs"]),
        output_sizes=tuple(e["size"] for e in context["outputs"]),
        num_layers=context["num_layers"],
        layer_hooks=layer_hooks,
        weights_section=context["weights_section"],
        guard_blocks=tuple(guard_blocks(report)),
    )
    if not image.elf.is_file():
        _populate(work, harness, sources)
        _compile_and_link(work, out_dir, target, flags, sources, layer_hooks)
    return image


def _size(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


@dataclass(frozen=True)
class SizeSplit:
    """Bytes of the model in a linked image, from ``arm-none-eabi-size -A``."""

    weights: int
    code: int
    arena: int
    harness: int

    def rows(self) -> list[tuple[str, int]]:
        return [
            ("weights (flash)", self.weights),
            ("model code (flash)", self.code),
            ("arena (RAM)", self.arena),
            ("harness + libc (not part of the model)", self.harness),
        ]


def size_split(image: FirmwareImage) -> SizeSplit:
    """Weights, model code (generated + runtime) and arena bytes of ``image``."""
    size_tool = require_tool("arm-none-eabi-size")
    proc = subprocess.run([size_tool, "-A", "-d", str(image.elf)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise QCompileError(f"arm-none-eabi-size failed on {image.elf}: {proc.stderr.strip()}")
    sections: dict[str, int] = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit() and parts[0].startswith("."):
            sections[parts[0]] = int(parts[1])
        elif len(parts) == 3 and parts[1].isdigit() and parts[0] == image.weights_section:
            sections[parts[0]] = int(parts[1])
    harness = sum(sections.get(s, 0) for s in (".qc_vectors", ".text", ".data", ".bss", ".ARM.exidx", ".ARM.extab"))
    return SizeSplit(
        weights=sections.get(image.weights_section, 0),
        code=sections.get(".qc_code", 0),
        arena=sections.get(".qc_arena", 0),
        harness=harness,
    )
