"""The command line: ``vaelint check TARGET... [options]`` (see CONTRACT.md).

Exit status: 0 no findings, 1 findings, 2 a usage error or a target that could
not be analysed. Bad input never shows a Python traceback.
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import List, Optional

import typer

from vaelint.errors import VaelintError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Shape-debugging analyzer for PyTorch variational autoencoders.",
)


class Format(str, Enum):
    text = "text"
    json = "json"


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


def _codes(value: Optional[str]) -> list[str]:
    if not value:
        return []
    return [c.strip().upper() for c in value.split(",") if c.strip()]


def _usage_error(message: str) -> None:
    typer.echo(f"vaelint: error: {message}", err=True)
    raise typer.Exit(2)


@app.command()
def check(
    targets: List[str] = typer.Argument(None, help="PATH.py:NAME (a model class or a factory function)."),
    input: List[str] = typer.Option([], "--input", help="SHAPE[:DTYPE[:HIGH]], e.g. 32x784; repeat per positional input."),
    init: List[str] = typer.Option([], "--init", help="Constructor keyword NAME=VALUE (a Python literal)."),
    loss: Optional[str] = typer.Option(None, "--loss", help="PATH.py:function, PATH.py:Class, or a model method name."),
    loss_kwarg: List[str] = typer.Option([], "--loss-kwarg", help="Extra loss keyword NAME=VALUE."),
    beta: float = typer.Option(1.0, "--beta", help="The KL weight you intend (beta-VAE)."),
    device: Device = typer.Option(Device.auto, "--device", help="Where the confirmation pass runs."),
    no_dynamic: bool = typer.Option(False, "--no-dynamic", help="Skip the real forward/backward confirmation pass."),
    timeout: float = typer.Option(60.0, "--timeout", min=0, help="Seconds per target (0: no limit)."),
    format: Format = typer.Option(Format.text, "--format", help="text (for people) or json."),
    output_file: Optional[str] = typer.Option(None, "--output-file", help="Write the report here instead of stdout."),
    select: Optional[str] = typer.Option(None, "--select", help="Comma-separated rule codes or prefixes."),
    ignore: Optional[str] = typer.Option(None, "--ignore", help="Comma-separated rule codes or prefixes."),
) -> None:
    """Check VAE models for shape, loss and reparameterization bugs."""
    from vaelint.inputs import parse_input_spec
    from vaelint.load import parse_init, parse_literal

    if not targets:
        _usage_error(
            "no target given: name one as PATH.py:NAME, e.g. vaelint check models/vae.py:VAE --input 32x784"
        )
    try:
        specs = [parse_input_spec(s) for s in input]
        init_kwargs = parse_init(init)
        loss_kwargs = {}
        for item in loss_kwarg:
            name, sep, value = item.partition("=")
            if not sep or not name.strip().isidentifier():
                raise VaelintError("input", f"--loss-kwarg {item!r} is not of the form NAME=VALUE, e.g. --loss-kwarg M_N=0.00025.")
            loss_kwargs[name.strip()] = parse_literal(value, f"--loss-kwarg {item!r}", "--loss-kwarg M_N=0.00025")
    except VaelintError as e:
        _usage_error(e.message)
    select_codes, ignore_codes = _codes(select), _codes(ignore)
    _check_codes(select_codes + ignore_codes)

    from vaelint.analyze import Options, analyse

    options = Options(
        inputs=specs,
        init=init_kwargs,
        loss=loss,
        loss_kwargs=loss_kwargs,
        beta=beta,
        device=device.value,
        dynamic=not no_dynamic,
        select=select_codes or None,
        ignore=ignore_codes,
        timeout=timeout or None,
    )
    results = [analyse(t, options) for t in targets]
    _emit(results, format, output_file)
    if any(r.error is not None for r in results):
        raise typer.Exit(2)
    raise typer.Exit(1 if any(r.findings for r in results) else 0)


def _check_codes(codes: list[str]) -> None:
    from vaelint.rules import all_rules

    known = [r.code for r in all_rules()]
    for c in codes:
        if not any(k.startswith(c) for k in known):
            _usage_error(f"unknown rule code {c!r} in --select/--ignore; known codes: {', '.join(known)}.")


def _emit(results, format: Format, output_file: Optional[str]) -> None:
    if format is Format.json:
        from vaelint.report import json_report

        text = json_report.render(results)
        _write(text, output_file)
        return
    from rich.console import Console

    from vaelint.report import text_report

    if output_file:
        import io

        buf = io.StringIO()
        text_report.render(results, Console(file=buf, no_color=True, width=120, highlight=False))
        _write(buf.getvalue(), output_file)
    else:
        console = Console(highlight=False)
        if not console.is_terminal:
            # Piped or captured: no colour unless forced, and no truncated paths.
            console = Console(highlight=False, width=max(console.width, 160))
        text_report.render(results, console)


def _write(text: str, output_file: Optional[str]) -> None:
    if not output_file:
        sys.stdout.write(text)
        return
    try:
        with open(output_file, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as e:
        _usage_error(f"cannot write --output-file {output_file}: {e.strerror}.")


@app.command()
def rule(
    code: Optional[str] = typer.Argument(None, help="A rule code such as VAE003."),
    all_: bool = typer.Option(False, "--all", help="List the whole catalogue."),
) -> None:
    """Show a rule's page: what it finds, why it is bad, an example, the fix."""
    from vaelint.rules import all_rules

    rules = all_rules()
    if all_ or code is None:
        for r in rules:
            typer.echo(f"{r.code}  {r.name:<22} {r.summary}")
        return
    match = [r for r in rules if r.code == code.upper()]
    if not match:
        _usage_error(f"unknown rule {code!r}; `vaelint rule --all` lists them.")
    typer.echo(match[0].page())


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("vaelint: interrupted", err=True)
        sys.exit(2)
