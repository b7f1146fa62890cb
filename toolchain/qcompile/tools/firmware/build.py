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
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from qcompile.codegen.names import comment_text
from qcompile.errors import QCompileError
from qcompile.resources import templates_dir
from qcompile.targets import Target

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

    @property
    def record_words(self) -> int:
        """uint32 words after the outputs in each output record (rc, total ticks, layer ticks)."""
        return 2 + (self.num_layers if self.layer_hooks else 0)


def read_report(out_dir: Path) -> dict[str, Any]:
    path = Path(out_dir) / "report.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise QCompileError(
            f"{out_dir}: cannot read report.json ({exc}); is this a folder written by `qcompile`?"
        ) from exc


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


def build_image(
    out_dir: Path,
    target: Target,
    *,
    layer_hooks: bool = False,
    build_dir: Path | None = None,
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
    cname = str(report["c_name"])
    model_c = out_dir / f"{cname}.c"
    weights_c = out_dir / f"{cname}_weights.c"
    for path in (model_c, weights_c):
        if not path.is_file():
            raise QCompileError(f"{out_dir} is not a generated model named {cname!r}: missing {path.name}")
    # every other top-level .c is model code too (e.g. <name>_kernels.c of the dsp family)
    extra_c = sorted(p for p in out_dir.glob("*.c") if p not in (model_c, weights_c))
    runtime_c = [*extra_c, *sorted((out_dir / "runtime").glob("*.c"))]
    section = _weights_section(weights_c)
    weights_section = section or DEFAULT_WEIGHTS_SECTION
    num_layers = len(report["layers"])
    qemu = target.qemu

    context = {
        "target": target,
        "qemu": qemu,
        "cname": cname,
        "model_comment": comment_text(str(report.get("name", cname))),
        "inputs": [
            {"index": i, "size": int(t["size"] if "size" in t else _size(t["shape"]))}
            for i, t in enumerate(report["inputs"])
        ],
        "outputs": [
            {"index": i, "size": int(t["size"] if "size" in t else _size(t["shape"]))}
            for i, t in enumerate(report["outputs"])
        ],
        "num_layers": num_layers,
        "layer_hooks": layer_hooks,
        "alignment": max(4, int(report.get("alignment", target.alignment))),
        "input_file": INPUT_FILE,
        "output_file": OUTPUT_FILE,
        "weights_section": weights_section,
        "weights_input_sections": " ".join([".rodata", ".rodata.*", *([section] if section else [])]),
        "stack_size": STACK_SIZE,
    }
    env = _environment()
    harness = {
        "qc_semihost.h": env.get_template("semihost.h.j2").render(**context),
        "qch_startup.c": env.get_template("startup.c.j2").render(**context),
        "qch_main.c": env.get_template("main.c.j2").render(**context),
        "qc_layer_hooks.h": env.get_template("layer_hooks.h.j2").render(**context),
        "qc_image.ld": env.get_template("link.ld.j2").render(**context),
    }

    cc = require_tool(target.cc)
    flags = [*target.cflags, *STRICT_FLAGS]
    digest = hashlib.sha256()
    for part in (target.cc, *flags, str(layer_hooks)):
        digest.update(part.encode() + b"\0")
    for name, text in sorted(harness.items()):
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    sources = [model_c, weights_c, *runtime_c]
    for src in sources + sorted(out_dir.glob("*.h")) + sorted((out_dir / "runtime").glob("*.h")):
        digest.update(src.name.encode() + b"\0" + src.read_bytes() + b"\0")
    key = digest.hexdigest()[:16]

    base = Path(build_dir).resolve() if build_dir is not None else out_dir / "build" / target.name
    work = base / f"{cname}-{key}"
    elf = work / f"{cname}.elf"
    image = FirmwareImage(
        elf=elf,
        target=target,
        c_name=cname,
        input_sizes=tuple(e["size"] for e in context["inputs"]),
        output_sizes=tuple(e["size"] for e in context["outputs"]),
        num_layers=num_layers,
        layer_hooks=layer_hooks,
        weights_section=weights_section,
    )
    if elf.is_file():
        return image

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for name, text in harness.items():
        (work / name).write_text(text, encoding="utf-8")
    shutil.copyfile(model_c, work / f"qcm_{model_c.name}")
    shutil.copyfile(weights_c, work / f"qcw_{weights_c.name}")
    for src in runtime_c:
        shutil.copyfile(src, work / f"qcm_{src.name}")
    include = [f"-I{out_dir}", f"-I{out_dir / 'runtime'}", f"-I{work}"]
    compile_flags = [*flags, "-g", *include, "-c"]
    model_src = [f"qcm_{model_c.name}"]
    other_src = [f"qcw_{weights_c.name}", *(f"qcm_{s.name}" for s in runtime_c), "qch_startup.c", "qch_main.c"]
    hooks = ["-include", "qc_layer_hooks.h"] if layer_hooks else []
    _run([cc, *compile_flags, *hooks, *model_src], work, f"cross build of {cname!r} for {target.name}")
    _run([cc, *compile_flags, *other_src], work, f"cross build of {cname!r} for {target.name}")
    objects = [Path(s).with_suffix(".o").name for s in (*model_src, *other_src)]
    link = [
        cc,
        *target.cflags,
        "-nostartfiles",
        "--specs=nano.specs",
        "-Tqc_image.ld",
        "-Wl,--gc-sections",
        f"-Wl,-Map={cname}.map",
        *objects,
        "-lc",
        "-lgcc",
        "-o",
        elf.name,
    ]
    _run(link, work, f"link of the {target.name} test image of {cname!r}")
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
