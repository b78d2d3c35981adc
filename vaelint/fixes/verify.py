"""A fix is offered only once the edited source was checked again.

The re-check runs the same target with the same options (less the confirmation
pass, which never adds or removes a finding) in a fresh worker, the edited
text standing in for the files (vaelint/overlay.py), nothing written. A fix is
verified when the edited model is analysed, its finding is gone, no finding
appears that was not there, and every rule that ran before still ran (a rule
that could no longer run would hide the finding, not fix it). Otherwise it is
dropped and ``Fix.rejected`` says why.

All candidates of a target are checked together first (one re-check for the
usual case); when that fails, each one alone.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from vaelint.diagnostics import TargetResult
from vaelint.fixes.edits import Fix, choose, edited_sources


def _key(f) -> tuple:
    return (f.code, f.loc.path if f.loc else None, f.loc.line if f.loc else None)


def _read(path: str) -> str:
    from vaelint.load import read_source

    return read_source(path)


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
    in a worker); mark each verified or rejected."""
    pending = candidates(result)
    if not pending or result.error is not None:
        return
    before = {_key(f) for f in result.findings}
    skipped_before = {code for code, _why in result.skipped}

    def recheck(fixes: list[Fix]) -> TargetResult:
        try:
            sources = edited_sources(fixes, _read)
        except OSError as e:
            failed = TargetResult(target)
            from vaelint.errors import VaelintError

            failed.error = VaelintError("load", f"cannot read the file to edit ({e})")
            return failed
        again = dataclasses.replace(options, dynamic=False, fixes=False, sources=sources, progress=None, on_model=None)
        return run(target, again)

    def judge(fix: Fix, found: list, after: TargetResult) -> str:
        """Why the re-check refuses this fix ("" when it holds)."""
        if after.error is not None:
            return f"the edited model could not be checked ({after.error.message.splitlines()[0][:200]})"
        now = {_key(g): g for g in after.findings}
        still = [f for f in found if _key(f) in now]
        if still:
            f = still[0]
            return f"checked again, the edited model still has {f.code} at line {f.loc.line if f.loc else '?'}"
        new = [g for k, g in now.items() if k not in before]
        if new:
            g = new[0]
            return f"checked again, the edit brings a new {g.code} at line {g.loc.line if g.loc else '?'}: {g.message}"
        lost = sorted({code for code, _why in after.skipped} - skipped_before)
        if lost:
            return f"checked again, {', '.join(lost)} could no longer run on the edited model"
        return ""

    together = choose([fix for fix, _found in pending])
    joint = False
    if together:
        after = recheck(together)
        joint = all(not judge(fix, found, after) for fix, found in pending if _among(fix, together))
    for fix, found in pending:
        fix.offered_for = frozenset(_key(f) for f in found)
        if joint and _among(fix, together):
            why, seen = "", after
            # what the set removed beyond its own findings is this fix's only when it is alone
            gone = before - {_key(g) for g in after.findings}
            fix.removes = frozenset(gone) if len(together) == 1 else fix.offered_for
        else:
            seen = recheck([fix])
            why = judge(fix, found, seen)
            fix.removes = frozenset(before - {_key(g) for g in seen.findings}) if not why else frozenset()
        fix.verified = not why
        fix.rejected = why


def _among(fix: Fix, fixes: list[Fix]) -> bool:
    return any(fix is other for other in fixes)
