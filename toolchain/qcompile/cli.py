"""Command line: `qcompile MODEL ...` compiles; `inspect` and `verify` are subcommands.

Errors the user can fix (``QCompileError``) print one message and exit non-zero
without a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from qcompile.errors import QCompileError
from qcompile.quant.observers import OBSERVERS
from qcompile.version import __version__


def _console(stderr: bool) -> Console:
    """Rich output that wraps only on a terminal: piped into a file or a CI log, a line is
    never broken inside a path or a shape (rich would otherwise wrap at 80 columns)."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 10_000
    return Console(stderr=stderr, highlight=False, width=width, soft_wrap=not stream.isatty())


console = _console(stderr=False)


def _error(message: str) -> None:
    """One error line as written, never re-wrapped or parsed for markup."""
    click.echo(f"error: {message}", err=True)


def _name_value_pairs(
    pairs: tuple[str, ...], option: str, expected: str, valid: Callable[[str], bool], *, first: bool = False
) -> list[tuple[str, str]]:
    """``NAME=VALUE`` options split at the last ``=`` (the first with ``first``), each checked;
    a bad one is a usage error naming the option and the form expected."""
    result = []
    for pair in pairs:
        name, sep, value = pair.partition("=") if first else pair.rpartition("=")
        if not sep or not name or not valid(value):
            raise click.BadParameter(f"{pair!r}: expected {expected}", param_hint=option)
        result.append((name, value))
    return result


def _observer_overrides(pairs: tuple[str, ...]) -> dict[str, str]:
    """``--observer-for NAME=METHOD`` options as a dict (the method is checked by calibration,
    which also knows the model's names)."""
    expected = f"NAME=METHOD with METHOD one of {', '.join(OBSERVERS)}"
    return dict(_name_value_pairs(pairs, "--observer-for", expected, lambda v: v in OBSERVERS))


def _state_pairs(pairs: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """``--stateful IN=OUT`` options as (input, output) pairs (names checked by the compiler)."""
    expected = "IN=OUT (a model input and output)"
    return tuple(_name_value_pairs(pairs, "--stateful", expected, bool, first=True))


def _act_bits_overrides(pairs: tuple[str, ...]) -> dict[str, int]:
    """``--act-bits-for NAME=BITS`` options as a dict (names are checked by quantization)."""
    parsed = _name_value_pairs(pairs, "--act-bits-for", "NAME=8 or NAME=16", lambda v: v in ("8", "16"))
    return {name: int(bits) for name, bits in parsed}


FORCE_HELP = "Replace a folder qcompile did not write (never the current directory or one holding an input)."


class _DefaultToCompile(click.Group):
    """Treat `qcompile MODEL ...` as `qcompile compile MODEL ...`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["compile", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultToCompile, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="qcompile")
def cli() -> None:
    """Compile a trained model into int8 C for microcontrollers, proven bit-exact on the host.

    \b
    qcompile MODEL.onnx --target host --calib calib.npz -o DIR
    qcompile inspect MODEL.onnx
    qcompile verify DIR [--data inputs.npz] [-n N]
    qcompile report DIR [--data inputs.npz] [-o report.html]
    qcompile eval DIR --data test.npz [--labels KEY] [--float MODEL.onnx]
    """


def _below_bound_rows(table: Table, report: dict) -> None:
    """Overlapped layers in use, or the arena they would give with a --ram-budget."""
    below = report.get("below_bound")
    if not isinstance(below, dict) or below.get("available_arena_bytes") is None:
        return
    if below.get("used"):
        n = len(below.get("overlapped_layers", []))
        pairs = len(below.get("streamed_pairs", []))
        table.add_row(
            "below bound",
            f"{n} layers write over the input they consume (same instructions), "
            f"{pairs} conv pairs streamed row by row (qcompile bench shows their cost)",
        )
    else:
        size = below["available_arena_bytes"]
        table.add_row("below bound", f"arena {size} with overlapped layers (pass --ram-budget {size} to use it)")


def _short(name: str, width: int = 32) -> str:
    return name if len(name) <= width else f"...{name[-width:]}"


def _instructions(mixed: dict) -> str:
    counts = mixed["instructions"]
    if isinstance(counts, str):
        return counts
    return f"{counts['total'][0]:,} -> {counts['total'][1]:,} ({counts['method']})"


def _precision_rows(table: Table, mixed: dict | None) -> None:
    """The mixed precision search's rows: target, figures, promoted layers and their cost."""
    if not mixed:
        return
    unit = "dB" if mixed["target"]["metric"] == "sqnr" else "top-1 points"
    target = f"{mixed['target']['metric']} {mixed['target']['value']:g}"
    table.add_row(
        "accuracy target",
        f"{target}: int8 {mixed['int8']} -> {mixed['achieved']} {unit} (all int16: {mixed['all_int16']}; "
        f"{mixed['evaluations']} evaluations on {mixed['samples']} calibration samples)",
    )
    layers = mixed["layers"]
    names = ", ".join(
        f"{layer['op']} {_short(layer['name'])} (+{layer['ram_bytes']} B RAM, +{layer['flash_bytes']} B flash)"
        for layer in layers
    )
    table.add_row("int16 layers", f"{len(layers)}: {names}" if layers else "none (int8 meets the target)")
    cost = mixed["int8_vs_mixed"]
    table.add_row(
        "int16 cost",
        f"arena {cost['arena_bytes'][0]} -> {cost['arena_bytes'][1]} B, flash {cost['flash_total_bytes'][0]} -> "
        f"{cost['flash_total_bytes'][1]} B ({len(mixed['requantize'])} requantize), instructions {_instructions(mixed)}",
    )


def _compile_table(model: Path, out_dir: Path, report: dict) -> Table:
    """The compile summary: layers, arena and its peak, RAM and flash totals, budgets."""
    table = Table(title=f"qcompile: {model.name} -> {out_dir}", show_header=False)
    table.add_row("C name", str(report.get("c_name", report.get("name"))))
    table.add_row("target", str(report.get("target")))
    table.add_row("layers", str(len(report.get("layers", []))))
    table.add_row("arena bytes", f"{report.get('arena_bytes')} (lower bound {report.get('lower_bound_bytes')})")
    peak = report.get("peak_layer", -1)
    if isinstance(peak, int) and 0 <= peak < len(report.get("layers", [])):
        layer = report["layers"][peak]
        live = ", ".join(f"{e['bytes']}" for e in report.get("peak_live", []))
        table.add_row("peak layer", f"{peak}: {layer['op']} {layer['name']} (live buffers: {live} bytes)")
    banded = [i for i, layer in enumerate(report.get("layers", [])) if "row_band" in layer]
    if banded:
        table.add_row("row bands", f"{len(banded)} conv layers keep their scratch in dead rows (layers {banded})")
    _below_bound_rows(table, report)
    for region in report.get("memory_regions", []):
        section = f", section {region['section']}" if region.get("section") else ""
        table.add_row(
            f"region {region['name']}",
            f"{region['used_bytes']:,} of {region['size']:,} B, {len(region['buffers'])} buffers, "
            f"{region['traffic_bytes']:,} B accessed per inference{section}",
        )
    ram = report.get("ram")
    if isinstance(ram, dict):
        where = "inside the arena" if ram["io_in_arena"] else f"{ram['io_bytes_outside_arena']} held by the caller"
        table.add_row("RAM total", f"{ram['total_bytes']} (arena + static state + I/O; I/O {where})")
    if report.get("ram_budget") is not None:
        needed = report["arena_bytes"] + report.get("static_state_bytes", 0)
        table.add_row("RAM budget", f"{report['ram_budget']} (uses {needed}: arena + static state)")
    table.add_row("weight bytes", str(report.get("weight_bytes")))
    _precision_rows(table, report.get("mixed_precision"))
    flash = report.get("flash")
    if isinstance(flash, dict):
        table.add_row(
            "flash total",
            f"{flash['total_bytes']} (weights {flash['weights_bytes']} + bias/multipliers "
            f"{flash['bias_and_multipliers_bytes']} + code {flash['code_bytes']}, {flash['code_source']})",
        )
        stack = flash["stack_bytes"]
        table.add_row(
            "stack", "unknown (no target compiler)" if stack is None else f"{stack} (worst case, -fstack-usage)"
        )
    return table


@cli.command("compile")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("-o", "--output", "out_dir", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option("--target", default="host", show_default=True, help="Target name (see targets/).")
@click.option(
    "--calib", type=click.Path(path_type=Path), help="Calibration .npz: one array per input, first axis = samples."
)
@click.option("--name", help="C symbol prefix (default: model file name).")
@click.option(
    "--observer",
    type=click.Choice(list(OBSERVERS)),
    default="minmax",
    show_default=True,
    help="Calibration method for every activation (docs/QUANTIZATION.md).",
)
@click.option("--percentile", type=float, default=99.99, show_default=True, help="For --observer percentile.")
@click.option(
    "--observer-for",
    "observer_for",
    multiple=True,
    metavar="NAME=METHOD",
    help="Calibration method for one ONNX tensor or node (its outputs); repeatable.",
)
@click.option("--per-tensor-weights", is_flag=True, help="One weight scale per tensor (default: per output channel).")
@click.option("--symmetric-activations", is_flag=True, help="Activation zero points 0 (default: asymmetric ranges).")
@click.option(
    "--act-bits",
    type=click.Choice(["8", "16"]),
    default="8",
    show_default=True,
    help="Activation bits: 16 quantizes every op in TFLite's 16x8 scheme (int16 activations, int8 weights).",
)
@click.option(
    "--act-bits-for",
    "act_bits_for",
    multiple=True,
    metavar="NAME=BITS",
    help="Activation bits (8 or 16) for one tensor or node (its outputs); requantize conversions are inserted.",
)
@click.option(
    "--accuracy-target",
    metavar="SQNR_DB|top1-drop=POINTS",
    help="Mixed precision: promote the fewest layers to int16 (16x8) until the output SQNR against float "
    "(dB: 30 or sqnr=30) or the top-1 drop (top1-drop=0.5, labelled calibration data) is met on the calibration data.",
)
@click.option("--labels", metavar="KEY", help="Labels array of the calibration file for a top1-drop target.")
@click.option("--bias-correction", is_flag=True, help="Fold the mean int8 output error of each layer into its bias.")
@click.option("--equalize", is_flag=True, help="Cross-layer equalization of conv/depthwise/FC pairs through ReLU.")
@click.option("--adaround", is_flag=True, help="Learn each layer's weight rounding on the calibration data.")
@click.option(
    "--input-layout",
    type=click.Choice(["nhwc", "nchw"]),
    default="nhwc",
    show_default=True,
    help="Memory order of 4-D inputs in the C API.",
)
@click.option(
    "--input-shape",
    multiple=True,
    metavar="NAME=D0,D1,...",
    help="Fix the dynamic dimensions of ONNX input NAME, e.g. input=1,3,48,192 (repeatable).",
)
@click.option("--weights-section", help="Linker section for the const weight arrays.")
@click.option("--arena-alignment", type=int, help="Byte alignment of the arena (default: the target's).")
@click.option(
    "--ram-budget",
    type=click.IntRange(min=0),
    help="RAM bytes (arena + static state) the model may use: fail, naming the peak layer, when it needs more; "
    "any slack keeps conv layers at full speed.",
)
@click.option("--arena-section", help="put the static arena in a named linker section (e.g. a DTCM .bss section)")
@click.option(
    "--memory-regions",
    type=click.Path(path_type=Path),
    help="regions.toml naming RAMs (size, speed or cycles, optional section): the arena is split over them, "
    "the hottest buffers in the fastest region they fit in.",
)
@click.option(
    "--flash-budget",
    type=click.IntRange(min=0),
    help="Flash bytes (weights + bias and multipliers + code) the model may use: fail, naming the biggest "
    "constants, when it needs more.",
)
@click.option(
    "--io-in-arena",
    is_flag=True,
    help="Put the inputs and outputs in the arena (TFLite Micro style): <name>_input(i), <name>_invoke(), "
    "<name>_output(i); the arena is then all the RAM the model needs.",
)
@click.option(
    "--stateful",
    multiple=True,
    metavar="IN=OUT",
    help="Keep a state input/output pair inside: the C carries OUT into IN from call to call, starting "
    "from zeros (<name>_reset()); repeatable.",
)
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@click.option("--force", is_flag=True, help=FORCE_HELP)
def compile_cmd(
    model: Path,
    out_dir: Path,
    target: str,
    calib: Path | None,
    name: str | None,
    observer: str,
    percentile: float,
    observer_for: tuple[str, ...],
    per_tensor_weights: bool,
    symmetric_activations: bool,
    act_bits: str,
    act_bits_for: tuple[str, ...],
    accuracy_target: str | None,
    labels: str | None,
    bias_correction: bool,
    equalize: bool,
    adaround: bool,
    input_layout: str,
    input_shape: tuple[str, ...],
    weights_section: str | None,
    arena_alignment: int | None,
    ram_budget: int | None,
    arena_section: str | None,
    memory_regions: Path | None,
    flash_budget: int | None,
    io_in_arena: bool,
    stateful: tuple[str, ...],
    no_progress: bool,
    force: bool,
) -> None:
    """Compile MODEL into C sources in the output folder.

    The folder is replaced as a whole, so qcompile writes only to a new or empty folder or
    one it wrote before (marked by a .qcompile-output file); --force overrides that."""
    import qcompile

    report = qcompile.compile(
        model,
        out_dir,
        calib=calib,
        target=target,
        name=name,
        observer=observer,
        percentile=percentile,
        observer_for=_observer_overrides(observer_for),
        per_tensor_weights=per_tensor_weights,
        symmetric_activations=symmetric_activations,
        act_bits=int(act_bits),
        act_bits_for=_act_bits_overrides(act_bits_for),
        accuracy_target=accuracy_target,
        labels=labels,
        bias_correction=bias_correction,
        equalize=equalize,
        adaround=adaround,
        input_layout=input_layout,
        input_shape=list(input_shape) or None,
        weights_section=weights_section,
        arena_alignment=arena_alignment,
        ram_budget=ram_budget,
        io_in_arena=io_in_arena,
        stateful=_state_pairs(stateful),
        flash_budget=flash_budget,
        arena_section=arena_section,
        memory_regions=memory_regions,
        progress=not no_progress and sys.stderr.isatty(),
        force=force,
    ).report
    console.print(_compile_table(model, out_dir, report))
    for warning in report.get("warnings", []):
        console.print(f"warning: {warning}", markup=False, highlight=False)


@cli.command("inspect")
@click.argument("model", type=click.Path(path_type=Path))
def inspect_cmd(model: Path) -> None:
    """Show MODEL's operators, shapes, parameters, MACs and whether qcompile supports them."""
    from qcompile.tools.inspect import describe

    rows = describe(model)
    table = Table(title=f"{model.name}")
    for col in ("#", "node", "op", "output shape", "params", "MACs", "supported"):
        table.add_column(col, justify="right" if col in ("#", "params", "MACs") else "left")
    total_params = total_macs = 0
    unsupported = 0
    for i, row in enumerate(rows):
        total_params += int(row.get("params", 0) or 0)
        total_macs += int(row.get("macs", 0) or 0)
        ok = bool(row.get("supported", True))
        unsupported += not ok
        shapes = row.get("output_shapes", row.get("output_shape", ""))
        table.add_row(
            str(i),
            str(row.get("name", "")),
            str(row.get("op_type", row.get("op", ""))),
            str(shapes),
            f"{int(row.get('params', 0) or 0):,}",
            f"{int(row.get('macs', 0) or 0):,}",
            "yes" if ok else "[red]NO[/red]",
        )
    console.print(table)
    console.print(
        f"total: {len(rows)} nodes, {total_params:,} parameters, {total_macs:,} MACs, {unsupported} unsupported"
    )
    notes = [f"  - node {row['name']!r} ({row['op_type']}): {row['reason']}" for row in rows if row.get("reason")]
    if notes:
        console.print("what would make it compile:\n" + "\n".join(notes), markup=False, highlight=False)


@cli.command("verify")
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--data", type=click.Path(path_type=Path), help="Float inputs .npz (default: the calibration data).")
@click.option("-n", "limit", type=int, help="Use at most N samples.")
@click.option("--no-float", is_flag=True, help="Skip the comparison with the float model.")
@click.option("--qemu", is_flag=True, help="Cross-compile for --target and run in its QEMU machine instead.")
@click.option("--target", "target_name", help="With --qemu: target to run (default: the one DIR was compiled for).")
@click.option("--force", is_flag=True, help="With --qemu: build in DIR/build even if qcompile did not create it.")
def verify_cmd(
    out_dir: Path,
    data: Path | None,
    limit: int | None,
    no_float: bool,
    qemu: bool,
    target_name: str | None,
    force: bool,
) -> None:
    """Build DIR for the host, check C == numpy reference bit for bit, compare with the float model."""
    from qcompile.tools.verify import verify

    if qemu:
        _verify_qemu(out_dir, data, limit, target_name, force)
        return
    if target_name is not None:
        raise QCompileError("--target is only used with --qemu (host verification builds for this machine)")
    if force:
        raise QCompileError("--force is only used with --qemu (host verification builds in a temporary folder)")

    result = verify(out_dir, data=data, limit=limit, float_model=not no_float, progress=sys.stderr.isatty())
    console.print(f"data: {result.data_source}")
    console.print(f"bit-exact: {result.bit_exact}/{result.samples}")
    if result.outputs:
        table = Table(title=f"int8 vs {result.reference}")
        ref_acc = "QDQ acc" if result.reference.startswith("the QDQ") else "float acc"
        for col in ("output", "SQNR dB", "top-1 agreement", ref_acc, "int8 acc"):
            table.add_column(col)
        for o in result.outputs:
            table.add_row(
                o.name,
                "inf" if math.isinf(o.sqnr_db) else f"{o.sqnr_db:.2f}",
                "-" if o.top1_agreement is None else f"{o.top1_agreement:.2%}",
                "-" if o.float_accuracy is None else f"{o.float_accuracy:.2%}",
                "-" if o.int8_accuracy is None else f"{o.int8_accuracy:.2%}",
            )
        console.print(table)
    if not result.ok:
        shown = ", ".join(str(i) for i in result.mismatched_samples[:10])
        _error(f"C and reference differ on {result.samples - result.bit_exact} samples (first: {shown})")
        _error(result.diagnosis)
        sys.exit(3)


def _firmware_target(out_dir: Path, target_name: str | None):
    """The --target to run on QEMU: given, or the one the folder was compiled for."""
    from qcompile.outdir import ModelFolder
    from qcompile.targets import load_target

    if target_name is None:
        target_name = ModelFolder.open(out_dir).target_name
    target = load_target(target_name)
    if target.qemu is None:
        from qcompile.targets import available_targets

        with_qemu = [n for n in available_targets() if load_target(n).qemu is not None]
        raise QCompileError(f"target {target.name!r} has no QEMU machine; pass --target one of: {', '.join(with_qemu)}")
    return target


def _print_sizes(sizes) -> None:
    table = Table(title="size split (bytes)", show_header=False)
    for label, value in sizes.rows():
        table.add_row(label, f"{value:,}")
    console.print(table)


def _verify_qemu(out_dir: Path, data: Path | None, limit: int | None, target_name: str | None, force: bool) -> None:
    from qcompile.tools.firmware.verify_qemu import verify_on_qemu

    target = _firmware_target(out_dir, target_name)
    checked = verify_on_qemu(out_dir, target, data=data, limit=limit, force=force)
    result = checked.result
    assert target.qemu is not None
    console.print(f"target: {target.name} on QEMU {target.qemu.label}")
    console.print(f"data: {result.data_source}")
    console.print(f"bit-exact: {result.bit_exact}/{result.samples}")
    total = checked.run.total_instructions
    console.print(f"instructions per inference: {int(total.min()):,} .. {int(total.max()):,}")
    _print_sizes(checked.sizes)
    if not result.ok:
        shown = ", ".join(str(i) for i in result.mismatched_samples[:10])
        _error(
            f"C on {target.name} and reference differ on {result.samples - result.bit_exact} samples (first: {shown})"
        )
        sys.exit(3)


@cli.command("bench")
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--target", "target_name", help="Target to run (default: the one DIR was compiled for).")
@click.option(
    "--family",
    "families",
    multiple=True,
    help="Kernel family to measure (repeatable; default: portable and the target's own).",
)
@click.option("-n", "samples", type=int, default=1, show_default=True, help="Random inputs per family (median).")
@click.option("--force", is_flag=True, help="Build in DIR/build even if qcompile did not create it.")
def bench_cmd(out_dir: Path, target_name: str | None, families: tuple[str, ...], samples: int, force: bool) -> None:
    """Executed instructions per layer under QEMU (-icount), kernel families side by side."""
    from qcompile.tools.firmware.bench import bench, memory_line, result_table

    target = _firmware_target(out_dir, target_name)
    result = bench(out_dir, target, families=list(families) or None, samples=samples, force=force)
    assert target.qemu is not None
    table = result_table(
        result,
        f"executed instructions on {target.name} (QEMU {target.qemu.label}, "
        f"resolution {target.qemu.instructions_per_tick:g} instructions)",
    )
    console.print(table)
    for f in result.families:
        console.print(
            f"{f.family}: bit-exact {f.bit_exact}/{f.samples}; {memory_line(f)}", markup=False, highlight=False
        )
    if any(f.bit_exact != f.samples for f in result.families):
        _error("a kernel family's outputs differ from the reference")
        sys.exit(3)


@cli.command("compare")
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option(
    "--tflm", "tflm_model", type=click.Path(path_type=Path), required=True, help="The int8 .tflite model to run."
)
@click.option("-n", "samples", type=int, default=100, show_default=True, help="Number of inputs.")
@click.option("--data", type=click.Path(path_type=Path), help="Inputs .npz (int8 or float); default random int8.")
def compare_cmd(out_dir: Path, tflm_model: Path, samples: int, data: Path | None) -> None:
    """Compare DIR's generated C with TensorFlow Lite Micro: output bits, RAM, flash."""
    from qcompile.tools.compare import compare

    result = compare(out_dir, tflm_model, n=samples, data=data)
    console.print(f"data: {result.data_source}")
    table = Table(title=f"qcompile vs TFLite Micro: {tflm_model.name}")
    for col in ("", "qcompile", "TFLite Micro", "ratio"):
        table.add_column(col)
    for row in result.rows:
        table.add_row(*row)
    console.print(table)
    if not result.ok:
        shown = ", ".join(str(i) for i in result.mismatched_samples[:10])
        _error(
            f"outputs differ from TFLM on {result.samples - result.equal} of {result.samples} inputs (first: {shown})"
        )
        sys.exit(3)


@cli.command("report")
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--data", type=click.Path(path_type=Path), help="Float inputs .npz (default: the calibration data).")
@click.option("-n", "limit", type=click.IntRange(min=1), default=64, show_default=True, help="Use at most N samples.")
@click.option("-o", "--output", "html", type=click.Path(path_type=Path), help="HTML page (default: DIR/report.html).")
@click.option("--worst", type=click.IntRange(min=0), default=10, show_default=True, help="Rows in the terminal table.")
def report_cmd(out_dir: Path, data: Path | None, limit: int, html: Path | None, worst: int) -> None:
    """Per-layer SQNR of the int8 model against the float model, worst layers first (terminal and HTML)."""
    from qcompile.tools.report import analyse
    from qcompile.tools.report_html import write_html

    report = analyse(out_dir, data=data, limit=limit, progress=sys.stderr.isatty())
    console.print(f"data: {report.data_source}")
    table = Table(title=f"per-layer SQNR, worst first ({len(report.layers)} layers)")
    for col in ("#", "layer", "op", "SQNR dB", "own SQNR dB", "float range"):
        table.add_column(col, justify="left" if col in ("layer", "op") else "right")
    for e in report.worst_first()[:worst]:
        own = e.own_sqnr_db
        table.add_row(
            str(e.index),
            e.node,
            e.op,
            _fmt_db(e.sqnr_db),
            "-" if own is None else _fmt_db(own),
            f"[{e.lo:.3g}, {e.hi:.3g}]",
        )
    console.print(table)
    if report.skipped:
        console.print(f"not compared (no float tensor in the source model): {', '.join(report.skipped)}")
    path = write_html(report, html or out_dir / "report.html")
    console.print(f"report: {path}")


@cli.command("eval")
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option(
    "--data", type=click.Path(path_type=Path), required=True, help="Inputs .npz (float, or int8 for .tflite)."
)
@click.option("--labels", "labels_key", help="Array of class labels in the file (default: y, labels or label).")
@click.option("--float", "float_model", type=click.Path(path_type=Path), help="Float ONNX model for a .tflite folder.")
@click.option("-n", "limit", type=click.IntRange(min=1), help="Use at most N samples.")
def eval_cmd(out_dir: Path, data: Path, labels_key: str | None, float_model: Path | None, limit: int | None) -> None:
    """Float model vs the int8 host build on a data set: top-1, per-class accuracy, confusion matrix."""
    from qcompile.tools.evaluate import evaluate

    r = evaluate(out_dir, data, labels=labels_key, float_model=float_model, limit=limit, progress=sys.stderr.isatty())
    console.print(f"data: {r.data_source}")
    if r.float_source is not None:
        assert r.sqnr_db is not None and r.mse is not None and r.float_top1 is not None
        console.print(f"float model: {r.float_source}")
        console.print(
            f"output SQNR: {_fmt_db(r.sqnr_db)} dB, MSE: {r.mse:.4g}, top-1 agreement: "
            f"{np.mean(r.int8_top1 == r.float_top1):.2%}"
        )
    if r.labels is None:
        return
    models = [("int8", r.int8_top1)] + ([("float", r.float_top1)] if r.float_top1 is not None else [])
    console.print("top-1: " + ", ".join(f"{name} {r.accuracy(p):.2%}" for name, p in models))
    table = Table(title="per-class accuracy")
    table.add_column("class", justify="right")
    table.add_column("samples", justify="right")
    for name, _ in models:
        table.add_column(name, justify="right")
    per_class = [r.per_class(p) for _, p in models]
    for rows in zip(*per_class, strict=True):
        table.add_row(str(rows[0][0]), str(rows[0][1]), *(f"{acc:.2%}" for _, _, acc in rows))
    console.print(table)
    matrix = r.confusion(r.int8_top1)
    conf = Table(title="int8 confusion matrix (rows: true class, columns: predicted)")
    conf.add_column("")
    for c in range(len(matrix)):
        conf.add_column(str(c), justify="right")
    for c, row in enumerate(matrix):
        conf.add_row(str(c), *(f"[bold]{v}[/bold]" if i == c else (str(v) if v else ".") for i, v in enumerate(row)))
    console.print(conf)


def _fmt_db(value: float) -> str:
    return "exact" if math.isinf(value) and value > 0 else f"{value:.2f}"


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="qcompile", standalone_mode=False)
    except QCompileError as exc:
        _error(str(exc))
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        _error("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
