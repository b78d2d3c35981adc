"""``--format github``: workflow commands that annotate the pull request diff."""

from __future__ import annotations

from vaelint.diagnostics import TargetResult
from vaelint.report.reporters import ReportContext
from vaelint.source.frames import display_path


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def render(results: list[TargetResult], context: ReportContext) -> str:
    lines = []
    for res in results:
        if res.error is not None:
            lines.append(f"::error title={_prop(f'vaelint ({res.error.kind})')}::{_data(res.target + ': ' + res.error.message)}")
        elif res.skipped:  # never a silent pass: say which rules could not run
            codes = ", ".join(code for code, _reason in res.skipped)
            lines.append(
                f"::notice title={_prop('vaelint: rules not checked')}::{_data(f'{res.target}: {codes} not checked: {res.skipped[0][1]}')}"
            )
        for f in res.findings:
            level = str(f.severity)
            where = ""
            if f.loc is not None:
                where = f"file={_prop(display_path(f.loc.path))},line={f.loc.shown_line},col={f.loc.column},"
            cell = f" (cell {f.loc.cell})" if f.loc is not None and f.loc.cell else ""
            title = _prop(f"{f.code} {f.name}{cell}")
            fixable = _fixable(f.autofix)
            lines.append(f"::{level} {where}title={title}::{_data(f.message + ' Fix: ' + f.fix + fixable)}")
    return "\n".join(lines) + ("\n" if lines else "")


def _fixable(fix) -> str:
    """How to apply the offered edit: ``--fix``, or ``--fix --unsafe-fixes`` for one that changes the
    loss's scale or makes a choice (vaelint/fixes/edits.py)."""
    if fix is None or fix.rejected:
        return ""
    return " (fixable: vaelint check --fix)" if fix.applicability == "safe" else " (fixable: vaelint check --fix --unsafe-fixes)"
