"""Command line: `qcompile MODEL ...` compiles; `inspect` and `verify` are subcommands.

Errors the user can fix (``QCompileError``) print one message and exit non-zero
without a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from qcompile import __version__
from qcompile.errors import QCompileError

console = Console(stderr=False, highlight=False)
err_console = Console(stderr=True, highlight=False)


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
    """


@cli.command("compile")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("-o", "--output", "out_dir", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option("--target", default="host", show_default=True, help="Target name (see targets/).")
@click.option(
    "--calib", type=click.Path(path_type=Path), help="Calibration .npz: one array per input, first axis = samples."
)
@click.option("--name", help="C symbol prefix (default: model file name).")
@click.option("--observer", type=click.Choice(["minmax", "percentile"]), default="minmax", show_default=True)
@click.option("--percentile", type=float, default=99.99, show_default=True, help="For --observer percentile.")
@click.option(
    "--input-layout",
    type=click.Choice(["nhwc", "nchw"]),
    default="nhwc",
    show_default=True,
    help="Memory order of 4-D inputs in the C API.",
)
@click.option("--weights-section", help="Linker section for the const weight arrays.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
def compile_cmd(
    model: Path,
    out_dir: Path,
    target: str,
    calib: Path | None,
    name: str | None,
    observer: str,
    percentile: float,
    input_layout: str,
    weights_section: str | None,
    no_progress: bool,
) -> None:
    """Compile MODEL into C sources in the output folder."""
    from qcompile.compiler import CompileOptions, compile_model

    options = CompileOptions(
        target=target,
        calib=calib,
        name=name,
        observer=observer,
        percentile=percentile,
        input_layout=input_layout,
        weights_section=weights_section,
        progress=not no_progress and sys.stderr.isatty(),
    )
    report = compile_model(model, out_dir, options)
    table = Table(title=f"qcompile: {model.name} -> {out_dir}", show_header=False)
    table.add_row("C name", str(report.get("c_name", report.get("name"))))
    table.add_row("target", str(report.get("target")))
    table.add_row("layers", str(len(report.get("layers", []))))
    table.add_row("arena bytes", f"{report.get('arena_bytes')} (lower bound {report.get('lower_bound_bytes')})")
    table.add_row("weight bytes", str(report.get("weight_bytes")))
    console.print(table)


@cli.command("inspect")
@click.argument("model", type=click.Path(path_type=Path))
def inspect_cmd(model: Path) -> None:
    """Show MODEL's operators, shapes, parameters, MACs and whether qcompile supports them."""
    from qcompile.model_info import describe

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


@cli.command("verify")
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--data", type=click.Path(path_type=Path), help="Float inputs .npz (default: the calibration data).")
@click.option("-n", "limit", type=int, help="Use at most N samples.")
@click.option("--no-float", is_flag=True, help="Skip the comparison with the float model.")
def verify_cmd(out_dir: Path, data: Path | None, limit: int | None, no_float: bool) -> None:
    """Build DIR for the host, check C == numpy reference bit for bit, compare with the float model."""
    from qcompile.verify import verify

    result = verify(out_dir, data=data, limit=limit, float_model=not no_float)
    console.print(f"bit-exact: {result.bit_exact}/{result.samples}")
    if result.outputs:
        table = Table(title="int8 vs float (onnxruntime)")
        for col in ("output", "SQNR dB", "top-1 agreement", "float acc", "int8 acc"):
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
        err_console.print(
            f"error: C and reference differ on {result.samples - result.bit_exact} samples (first: {shown})"
        )
        sys.exit(3)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="qcompile", standalone_mode=False)
    except QCompileError as exc:
        err_console.print(f"error: {exc}", markup=False)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
