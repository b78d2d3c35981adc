"""Silencing findings: ``# vaelint: ignore[VAE001, VAE004]`` or ``# noqa: VAE001``
on the reported line, a bare ``# vaelint: ignore``, and ``per-file-ignores`` globs."""

from __future__ import annotations

import fnmatch
import linecache
import os
import re

from vaelint.diagnostics import Finding

_PRAGMA = re.compile(r"#\s*vaelint:\s*ignore(?:\[(?P<codes>[^\]]*)\])?", re.I)
# ruff's and flake8's spelling: `noqa` with the codes, VAE001, VAE004 (a bare `noqa` is left to
# those tools: it would silence vaelint by accident)
_NOQA = re.compile(r"#\s*noqa:\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*)", re.I)


def inline_codes(path: str, line: int) -> set[str] | None:
    """Codes silenced on that line; an empty set means every code; None: no pragma."""
    linecache.checkcache(path)  # the file may have changed since it was read (pre-commit, an editor)
    text = linecache.getline(path, line)
    m = _PRAGMA.search(text)
    if m is not None:
        codes = m.group("codes")
        if codes is None:
            return set()
        return {c.strip().upper() for c in codes.split(",") if c.strip()}
    n = _NOQA.search(text)
    if n is not None:
        vae = {c.upper() for c in re.split(r"[\s,]+", n.group("codes")) if c.upper().startswith("VAE")}
        return vae or None
    return None


def is_suppressed(f: Finding, per_file: dict[str, list[str]], root: str) -> bool:
    if f.loc is None:
        return False
    codes = inline_codes(f.loc.path, f.loc.line)
    if codes is not None and (not codes or any(f.code.startswith(c) for c in codes)):
        return True
    rel = os.path.relpath(f.loc.path, root)
    for pattern, ignored in per_file.items():
        if fnmatch.fnmatch(rel, pattern) and any(f.code.startswith(c) for c in ignored):
            return True
    return False


def apply(findings: list[Finding], per_file: dict[str, list[str]], root: str) -> tuple[list[Finding], int]:
    """(the findings that stay, how many were silenced)."""
    kept = [f for f in findings if not is_suppressed(f, per_file, root)]
    return kept, len(findings) - len(kept)
