"""``--output-format json``: the report for machines; its schema is docs/report.schema.json."""

from __future__ import annotations

import json

from vaelint.diagnostics import TargetResult
from vaelint.report.reporters import ReportContext
from vaelint.report.sarif_report import rule_uri
from vaelint.source.frames import display_path
from vaelint.version import __version__


def to_dict(results: list[TargetResult], notes: tuple[str, ...] = ()) -> dict:
    """``notes``: what the run says beside its results (no target in the files given)."""
    out = {"version": __version__, "results": [_result(r) for r in results]}
    if notes:
        out["notes"] = list(notes)
    return out


def render(results: list[TargetResult], context: ReportContext) -> str:
    return json.dumps(to_dict(results, context.notes), indent=2) + "\n"


def _shown(path: str, line: int | None) -> int | None:
    """A line as a person finds it (in a notebook: within its cell)."""
    from vaelint.source.cells import cell_of

    if line is None:
        return None
    found = cell_of(path, line)
    return found[1] if found else line


def _result(r: TargetResult) -> dict:
    return {
        "target": r.target,
        "status": r.status,
        "cached": r.cached,
        "error": {"kind": r.error.kind, "message": r.error.message} if r.error else None,
        "capture": r.capture_method,
        "capture_note": r.fallback_reason,
        "confirmed_on": r.confirmed_on,
        "loss": r.loss_name,
        "binding": [{"parameter": p, "source": s} for p, s in r.binding],
        "notes": list(r.notes),
        "flow": [
            {
                "stage": row.stage,
                "name": row.name,
                "shape": row.shape,
                "sizes": row.sizes,
                "path": display_path(row.loc.path) if row.loc else None,
                "line": row.loc.shown_line if row.loc else None,
                **({"cell": row.loc.cell} if row.loc and row.loc.cell else {}),
                **({"reduction": row.note} if row.note else {}),
            }
            for row in r.flow
        ],
        "beta_effective": r.beta_effective,
        "skipped": [{"code": code, "reason": reason} for code, reason in r.skipped],
        "suppressed": r.suppressed,
        "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in r.checks],
        "findings": [
            {
                "code": f.code,
                "name": f.name,
                "severity": f.severity,
                "message": f.message,
                "path": display_path(f.loc.path) if f.loc else None,
                "line": f.loc.shown_line if f.loc else None,
                **({"cell": f.loc.cell} if f.loc and f.loc.cell else {}),
                "column": f.loc.column if f.loc else None,
                "end_line": _shown(f.loc.path, f.loc.end_line) if f.loc else None,
                "end_column": f.loc.end_column if f.loc else None,
                "help_uri": rule_uri(f.code),
                "fix": f.fix,
                "autofix": _autofix(f.autofix),
                "confirmed": f.confirmed,
            }
            for f in r.findings
        ],
    }


def _autofix(fix) -> dict | None:
    """The edit offered with a finding (``fix`` stays its words): ``verified`` once checked again
    (--fix, --diff), ``rejected`` with why a check again refused it; neither: not checked yet."""
    if fix is None:
        return None
    return {
        "message": fix.message,
        "applicability": fix.applicability,
        "verified": bool(fix.verified),
        "rejected": fix.rejected or None,
        "edits": [
            {
                "path": display_path(e.path),
                "line": e.line,
                "column": e.column,
                "end_line": e.end_line,
                "end_column": e.end_column,
                "content": e.content,
            }
            for e in fix.edits
        ],
    }
