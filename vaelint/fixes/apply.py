"""``--diff`` and ``--fix``: the verified fixes of a run, chosen so that none
overlaps another, applied in memory round after round (a fix can reveal a
finding a crash hid, whose own fix the next round takes, as ruff's loop does),
then shown as a unified diff or written to the user's files.

Only verified fixes are offered (verify.py); unsafe ones (a change of the
loss's scale, or one choice among several) only with ``--unsafe-fixes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vaelint.fixes.edits import SAFE, Fix, choose, edited_sources, unified_diff
from vaelint.fixes.verify import reader

MAX_ROUNDS = 4


@dataclass
class Plan:
    fixes: list[Fix]  # to apply in this round, none overlapping
    findings: int  # how many findings they remove
    held_back: int  # verified unsafe fixes left out (no --unsafe-fixes)
    waiting: int  # verified fixes that overlap a chosen one (the next round offers them again)
    sources: dict[str, str] = field(default_factory=dict)  # path -> its text with every round's edits


def plan(results, unsafe: bool, base: dict[str, str] | None = None) -> Plan:
    """This round's fixes, on top of the earlier rounds' edited text (``base``)."""
    base = dict(base or {})
    offered, seen, held_back = [], set(), 0
    for r in results:
        for f in r.findings:
            fix = f.autofix
            if fix is None or not fix.verified:
                continue
            if fix.applicability != SAFE and not unsafe:
                held_back += fix.key() not in seen
                seen.add(fix.key())
                continue
            if fix.key() not in seen:
                seen.add(fix.key())
                offered.append(fix)
    chosen = choose(offered)
    removed = frozenset().union(*(f.removes for f in chosen))
    # an overlapping fix whose findings the chosen ones remove anyway is not waiting
    waiting = [f for f in offered if not any(f is c for c in chosen) and not f.offered_for <= removed]
    sources = {**base, **edited_sources(chosen, reader(base))}
    return Plan(chosen, len(removed), held_back, len(waiting), sources)


def diff_text(sources: dict[str, str]) -> str:
    """Every edited file against the file on disk."""
    from vaelint.source.files import read_source
    from vaelint.source.frames import display_path

    return "".join(unified_diff(display_path(path), read_source(path), text) for path, text in sorted(sources.items()))


def write(sources: dict[str, str]) -> list[str]:
    """Write the edited files (only those: nothing else the user owns changes)."""
    written = []
    for path, text in sorted(sources.items()):
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        written.append(path)
    return written


def summary(verb: str, findings: int, files: int, last: Plan | None) -> str:
    """``fixed 2 findings in 1 file`` / ``would fix ...``, with what was left for later."""
    out = f"{verb} {findings} finding{'s' * (findings != 1)} in {files} file{'s' * (files != 1)}"
    if last is not None and last.waiting:
        out += f"; {last.waiting} more fix{'es' * (last.waiting != 1)} overlap{'s' * (last.waiting == 1)} these (run again)"
    if last is not None and last.held_back:
        out += f"; {last.held_back} unsafe fix{'es' * (last.held_back != 1)} left out (--unsafe-fixes)"
    return out


def rejected_lines(results) -> list[str]:
    """One line for each finding whose edit was tried and dropped, saying why: ``--diff`` and
    ``--fix`` print only the edits they keep, so a fix the report offered is not left unexplained."""
    out = []
    for result in results:
        for f in result.findings:
            fix = getattr(f, "autofix", None)
            if fix is not None and fix.rejected:
                where = f.loc.where() if f.loc is not None else result.target
                out.append(f"not fixed: {f.code} at {where}: the edit `{fix.message}` was tried and {fix.rejected}")
    return out
