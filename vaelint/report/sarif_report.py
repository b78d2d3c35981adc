"""``--format sarif``: SARIF 2.1.0 as GitHub code scanning reads it."""

from __future__ import annotations

import hashlib
import json
import linecache
import os

from vaelint.diagnostics import TargetResult
from vaelint.report.reporters import ReportContext
from vaelint.report.rule_pages import home_url
from vaelint.report.rule_pages import render as render_page
from vaelint.version import __version__

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def repository_root(start: str | None = None) -> str:
    """The folder holding .git above the current directory (else the current directory)."""
    d = os.path.abspath(start or os.getcwd())
    while True:
        if os.path.exists(os.path.join(d, ".git")):
            return d
        parent = os.path.dirname(d)
        if parent == d:
            return os.path.abspath(start or os.getcwd())
        d = parent


def _uri(path: str, root: str) -> str:
    rel = os.path.relpath(path, root)
    return (path if rel.startswith("..") else rel).replace(os.sep, "/")


def _fingerprint(code: str, uri: str, path: str, line: int) -> str:
    text = linecache.getline(path, line).strip()
    return hashlib.sha256(f"{code}:{uri}:{text}".encode()).hexdigest()[:32] + ":1"


def to_dict(results: list[TargetResult], root: str | None = None, notes: tuple[str, ...] = ()) -> dict:
    """``notes``: what the run says beside its results (no target in the files given)."""
    from vaelint.rules import all_rules

    root = root or repository_root()
    rules = all_rules()
    index = {r.code: i for i, r in enumerate(rules)}
    sarif_results = [_result(f, res.target, index, root) for res in results for f in res.findings if f.loc is not None]
    notifications = [{"level": "note", "message": {"text": note}, "descriptor": {"id": "no-targets"}} for note in notes]
    notifications += [n for res in results for n in _notifications(res)]
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "vaelint",
                        "version": __version__,
                        "semanticVersion": __version__,
                        **({"informationUri": home} if (home := home_url()) else {}),
                        "rules": [_rule(r) for r in rules],
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": "file://" + root.replace(os.sep, "/").rstrip("/") + "/"}},
                "invocations": [
                    {
                        "executionSuccessful": not any(n["level"] == "error" for n in notifications),
                        "toolExecutionNotifications": notifications,
                    }
                ],
                "results": sarif_results,
            }
        ],
    }


def _notifications(res: TargetResult) -> list[dict]:
    """A target's error, and each rule that could not run (never a silent pass)."""
    out = []
    if res.error is not None:
        out.append({"level": "error", "message": {"text": f"{res.target}: {res.error.message}"}, "descriptor": {"id": res.error.kind}})
    for code, reason in res.skipped:
        out.append(
            {"level": "note", "message": {"text": f"{res.target}: {code} not checked: {reason}"}, "descriptor": {"id": "not-checked"}}
        )
    return out


def _result(f, target: str, index: dict, root: str) -> dict:
    uri = _uri(f.loc.path, root)
    return {
        "ruleId": f.code,
        "ruleIndex": index.get(f.code, 0),
        "level": str(f.severity),
        "message": {"text": f"{_cell(f.loc)}{f.message} Fix: {f.fix}"},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"}, "region": _region(f.loc)}}],
        "partialFingerprints": {"primaryLocationLineHash": _fingerprint(f.code, uri, f.loc.path, f.loc.line)},
        **({"fixes": [_fix(f.autofix, root)]} if f.autofix is not None and not f.autofix.rejected else {}),
        "properties": {"confirmed": f.confirmed, "target": target},
    }


def _rule(r) -> dict:
    return {
        "id": r.code,
        "name": r.name,
        "shortDescription": {"text": r.summary},
        "fullDescription": {"text": " ".join(r.what.split())},
        "help": {"text": r.page(), "markdown": render_page(r)},
        **({"helpUri": uri} if (uri := rule_uri(r.code)) else {}),
        "defaultConfiguration": {"level": str(r.severity)},
    }


def _fix(fix, root: str) -> dict:
    """A verified fix as SARIF's ``fix``: replacements per file (columns 1-based, end exclusive)."""
    by_path: dict[str, list] = {}
    for e in fix.edits:
        by_path.setdefault(e.path, []).append(
            {
                "deletedRegion": {"startLine": e.line, "startColumn": e.column, "endLine": e.end_line, "endColumn": e.end_column},
                "insertedContent": {"text": e.content},
            }
        )
    return {
        "description": {"text": f"{fix.message} ({fix.applicability})"},
        "artifactChanges": [
            {"artifactLocation": {"uri": _uri(path, root), "uriBaseId": "%SRCROOT%"}, "replacements": reps}
            for path, reps in by_path.items()
        ],
    }


def _region(loc) -> dict:
    """Lines as a person finds them: in a notebook, within the cell (named in the message)."""
    offset = loc.line - loc.shown_line
    region = {"startLine": loc.shown_line, "startColumn": loc.column}
    if loc.end_line is not None and loc.end_column is not None:
        region.update(endLine=loc.end_line - offset, endColumn=loc.end_column)
    return region


def _cell(loc) -> str:
    return f"(cell {loc.cell}) " if loc.cell else ""


def rule_uri(code: str) -> str | None:
    """The rule's page in the repository (docs/rules/VAE0NN.md, generated from the rule:
    vaelint/report/rule_pages.py), known without importing the rule (a cached report
    imports no torch); None for a code that is no rule."""
    from vaelint.report.rule_pages import page_url
    from vaelint.rules import rule_codes

    return page_url(code) if code in rule_codes() else None


def render(results: list[TargetResult], context: ReportContext) -> str:
    return json.dumps(to_dict(results, notes=context.notes), indent=2) + "\n"
