"""``--format gitlab``: GitLab's code quality report (a JSON array of issues, the subset of
the Code Climate format GitLab reads: ``description``, ``check_name``, ``fingerprint``,
``severity``, ``location.path`` and ``location.lines.begin``), for
``artifacts: reports: codequality:``. A target that could not be checked is a blocker issue
at its file, and each rule that could not run an info issue: a merge request never shows a
clean widget for code vaelint did not check."""

from __future__ import annotations

import hashlib
import json
import linecache
import os

from vaelint.diagnostics import TargetResult
from vaelint.report.reporters import ReportContext
from vaelint.report.sarif_report import repository_root

# vaelint's severities as GitLab's (info, minor, major, critical, blocker)
_SEVERITY = {"error": "critical", "warning": "major", "info": "minor"}


def render(results: list[TargetResult], context: ReportContext) -> str:
    return json.dumps(to_list(results), indent=2) + "\n"


def to_list(results: list[TargetResult], root: str | None = None) -> list[dict]:
    root = root or repository_root()
    issues = []
    for res in results:
        path = _target_path(res.target)
        if res.error is not None:
            issues.append(
                _issue(f"vaelint/{res.error.kind}", f"{res.target}: not checked: {res.error.message}", "blocker", path, 1, root, res.target)
            )
        for code, reason in res.skipped:
            issues.append(
                _issue("vaelint/not-checked", f"{res.target}: {code} not checked: {reason}", "info", path, 1, root, res.target + code)
            )
        for f in res.findings:
            if f.loc is None:
                continue
            cell = f"(cell {f.loc.cell}) " if f.loc.cell else ""
            text = linecache.getline(f.loc.path, f.loc.line).strip()
            issues.append(
                _issue(
                    f"{f.code} {f.name}",
                    f"{cell}{f.message} Fix: {f.fix}",
                    _SEVERITY.get(str(f.severity), "major"),
                    f.loc.path,
                    f.loc.shown_line,
                    root,
                    f"{f.code}:{text}:{f.loc.column}:{f.message}",
                )
            )
    return issues


def _target_path(target: str) -> str:
    """The file a target names (``models/vae.py:VAE`` -> ``models/vae.py``)."""
    head, sep, _name = target.rpartition(":")
    return head if sep and head.endswith((".py", ".ipynb")) else target


def _issue(check: str, description: str, severity: str, path: str, line: int, root: str, identity: str) -> dict:
    rel = os.path.relpath(os.path.abspath(path), root)
    rel = (os.path.abspath(path) if rel.startswith("..") else rel).replace(os.sep, "/")
    # the same finding keeps its fingerprint when lines move above it (its line's text, not its number)
    fingerprint = hashlib.sha256(f"{check}\0{rel}\0{identity}".encode()).hexdigest()[:32]
    return {
        "description": description,
        "check_name": check,
        "fingerprint": fingerprint,
        "severity": severity,
        "location": {"path": rel, "lines": {"begin": max(1, int(line))}},
    }
