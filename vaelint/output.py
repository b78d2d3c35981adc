"""Where a report goes: rendered in the format asked (machine formats never through rich) and
written to stdout or ``--output-file`` (vaelint/cli.py)."""

from __future__ import annotations

import os
import sys
from typing import Optional

import typer

from vaelint.request import Color, Format


def import_reporter(format: Format) -> None:
    import importlib

    module = "text_report" if format is Format.text else f"{format.value}_report"
    importlib.import_module(f"vaelint.report.{module}")
    if format is Format.text:
        importlib.import_module("rich.console")


def emit(
    results,
    format: Format,
    output_file: Optional[str],
    color: Color,
    quiet: bool = False,
    statistics: bool = False,
    notes: tuple[str, ...] = (),
) -> None:
    """``notes``: what the run says beside its results (no target in the files given)."""
    # Machine formats never go through rich: no colour codes can leak into them.
    if format is Format.json:
        from vaelint.report import json_report

        return write(json_report.render(results, notes), output_file)
    if format is Format.sarif:
        from vaelint.report import sarif_report

        return write(sarif_report.render(results, notes), output_file)
    if format is Format.github:
        from vaelint.report import github_report

        return write(github_report.render(results), output_file)
    if format is Format.markdown:
        from vaelint.report import markdown_report

        return write(markdown_report.render(results, notes), output_file)
    if format is Format.junit:
        from vaelint.report import junit_report

        return write(junit_report.render(results, notes), output_file)
    if format is Format.gitlab:
        from vaelint.report import gitlab_report

        return write(gitlab_report.render(results, notes), output_file)
    import io

    from rich.console import Console

    from vaelint.report import text_report

    if output_file:
        buf = io.StringIO()
        text_report.render(
            results, Console(file=buf, no_color=True, width=160, highlight=False, color_system=None, emoji=False), quiet, statistics
        )
        return write(buf.getvalue(), output_file)
    no_color = color is Color.never or (color is Color.auto and bool(os.environ.get("NO_COLOR")))
    # emoji=False: user text (paths, targets, messages) prints as written, ':100:' too
    console = Console(highlight=False, no_color=no_color, force_terminal=True if color is Color.always else None, emoji=False)
    if not console.is_terminal:
        # piped or captured: plain text, and paths never truncated
        console = Console(highlight=False, width=max(console.width, 160), color_system=None, emoji=False)
    elif no_color:
        console = Console(highlight=False, no_color=True, color_system=None, emoji=False)
    text_report.render(results, console, quiet, statistics)


def write(text: str, output_file: Optional[str]) -> None:
    if not output_file:
        sys.stdout.write(text)
        return
    try:
        with open(output_file, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as e:
        typer.echo(f"vaelint: error: cannot write --output-file {output_file}: {e.strerror}.", err=True)
        raise typer.Exit(2) from None
