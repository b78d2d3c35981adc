"""A fix is offered only once the edited source was checked again.

The re-check runs the same target with the same options (less the confirmation
pass, which never adds or removes a finding) in a fresh worker, the edited
text standing in for the files (vaelint/source/overlay.py), nothing written. A fix is
verified when the edited model is analysed, its finding is gone, no finding
appears that was not there, and every rule that ran before still ran (a rule
that could no longer run would hide the finding, not fix it). A finding of a
rule that could not run before (a model that raised, now fixed, shows what the
crash hid) is no finding the edit brought: it is revealed, and the next round
of ``--fix`` takes it. Otherwise the fix is dropped and ``Fix.rejected`` says why.

All candidates of a target are checked together first (one re-check for the
usual case); when that fails, each one alone.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from vaelint.diagnostics import TargetResult
from vaelint.errors import VaelintError
from vaelint.fixes.edits import Fix, choose, edited_sources


def _key(f) -> tuple:
    return (f.code, f.loc.path if f.loc else None, f.loc.line if f.loc else None)


def reader(base: dict[str, str]) -> Callable[[str], str]:
    """A file's text as the run sees it: edited in an earlier round (``base``), else on disk."""
    import os

    from vaelint.source.files import read_source

    def read(path: str) -> str:
        edited = base.get(os.path.realpath(path))
        return edited if edited is not None else read_source(path)

    return read


def candidates(result: TargetResult) -> list[tuple[Fix, list]]:
    """Each distinct fix with the findings it is offered for, in the findings' order."""
    by_key: dict[tuple, tuple[Fix, list]] = {}
    for f in result.findings:
        if f.autofix is not None:
            entry = by_key.setdefault(f.autofix.key(), (f.autofix, []))
            entry[1].append(f)
            f.autofix = entry[0]  # one object for one edit, whichever findings it serves
    return list(by_key.values())


def verify(target: str, options, result: TargetResult, run: Callable) -> None:
    """Check every candidate fix of ``result`` again (``run(target, options)`` analyses
    in a worker); mark each verified or rejected. ``options.sources``: the edits of
    earlier rounds, which the fixes apply on top of."""
    pending = candidates(result)
    if not pending or result.error is not None:
        return
    before = {_key(f) for f in result.findings}
    skipped_before = {code for code, _why in result.skipped}
    read = reader(options.sources)

    def recheck(fixes: list[Fix]) -> TargetResult:
        try:
            sources = {**options.sources, **edited_sources(fixes, read)}
        except OSError as e:
            failed = TargetResult(target)
            failed.error = VaelintError("load", f"cannot read the file to edit ({e})")
            return failed
        again = dataclasses.replace(options, dynamic=False, fixes=False, sources=sources, progress=None, on_model=None)
        return run(target, again)

    def judge(found: list, after: TargetResult) -> str:
        """Why the re-check refuses a fix offered for ``found`` ("" when it holds)."""
        if after.error is not None:
            return f"the edited model could not be checked ({after.error.message.splitlines()[0][:200]})"
        now = {_key(g): g for g in after.findings}
        still = [f for f in found if _key(f) in now]
        if still:
            f = still[0]
            return f"checked again, the edited model still has {f.code} at line {f.loc.line if f.loc else '?'}"
        new = [g for k, g in now.items() if k not in before and g.code not in skipped_before]
        if new:
            g = new[0]
            return f"checked again, the edit brings a new {g.code} at line {g.loc.line if g.loc else '?'}: {g.message}"
        lost = sorted({code for code, _why in after.skipped} - skipped_before)
        if lost:
            return f"checked again, {', '.join(lost)} could no longer run on the edited model"
        return ""

    together = choose([fix for fix, _found in pending])
    joint, after = False, None
    if together:
        after = recheck(together)
        joint = all(not judge(found, after) for fix, found in pending if _among(fix, together))
    for fix, found in pending:
        fix.offered_for = frozenset(_key(f) for f in found)
        if joint and _among(fix, together):
            why, seen = "", after
        else:
            seen = recheck([fix])
            why = judge(found, seen)
        fix.verified = not why
        fix.rejected = why
        if fix.verified:
            gone = before - {_key(g) for g in seen.findings}
            # of what a set of fixes removed, a fix owns what stands on the lines it edits
            fix.removes = fix.offered_for | frozenset(k for k in gone if seen is not after or _on_its_lines(fix, k))


def _among(fix: Fix, fixes: list[Fix]) -> bool:
    return any(fix is other for other in fixes)


def _on_its_lines(fix: Fix, key: tuple) -> bool:
    _code, path, line = key
    return any(e.path == path and e.line <= (line or 0) <= e.end_line for e in fix.edits)
