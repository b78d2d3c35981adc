"""Where a report goes: rendered in the format asked (machine formats never through rich) and
written to stdout or ``--output-file`` (vaelint/cli.py)."""

from __future__ import annotations

import os
import sys
from typing import Optional

import typer

from vaelint.report.reporters import TEXT
from vaelint.request import Color


def import_reporter(format: str) -> None:
    """The reporter imported now (while a worker imports torch, vaelint/runtime/spare.py), not after it."""
    from vaelint.plugins import reporter

    reporter(format)
    if format == TEXT:
        import rich.console  # noqa: F401 - the text reporter's console, imported early too


def emit(
    results,
    format: str,
    output_file: Optional[str],
    color: Color,
    quiet: bool = False,
    statistics: bool = False,
    notes: tuple[str, ...] = (),
) -> None:
    """The report in ``format`` (its reporter, vaelint/plugins.py) written to stdout or
    ``output_file``; ``notes``: what the run says beside its results (no target in the files
    given). Colour and a terminal's width only for the text written to a terminal."""
    from vaelint.plugins import reporter
    from vaelint.report.reporters import ReportContext

    context = ReportContext(notes=notes, quiet=quiet, statistics=statistics)
    if format == TEXT and not output_file:
        context = _for_the_terminal(context, color)
    write(reporter(format).render(results, context), output_file)


def _for_the_terminal(context, color: Color):
    """Colour where stdout is a terminal (or --color always) and neither --color never nor
    NO_COLOR forbids it; a terminal's own width, and 160 columns or more when piped (paths are
    never cut)."""
    import dataclasses
    import shutil

    terminal = sys.stdout.isatty()
    no_color = color is Color.never or (color is Color.auto and bool(os.environ.get("NO_COLOR")))
    colored = not no_color and (terminal or color is Color.always)
    columns = shutil.get_terminal_size((80, 24)).columns
    return dataclasses.replace(context, color=colored, width=columns if terminal else max(columns, 160))


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
