"""``--diff`` and ``--fix``: the verified fixes of a run, chosen so that none
overlaps another, shown as a unified diff or written to the user's files.

Only verified fixes are offered (verify.py); unsafe ones (a change of the
loss's scale, or one choice among several) only with ``--unsafe-fixes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vaelint.fixes.edits import SAFE, Fix, choose, edited_sources, unified_diff


@dataclass
class Plan:
    fixes: list[Fix]  # to apply, none overlapping
    findings: int  # how many findings they remove
    held_back: int  # verified unsafe fixes left out (no --unsafe-fixes)
    waiting: int  # verified fixes that overlap a chosen one (the next run offers them)
    sources: dict[str, str] = field(default_factory=dict)  # path -> the edited text
    before: dict[str, str] = field(default_factory=dict)  # path -> the text now


def plan(results, unsafe: bool) -> Plan:
    from vaelint.load import read_source

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
    before: dict[str, str] = {}

    def read(path: str) -> str:
        before[path] = read_source(path)
        return before[path]

    sources = edited_sources(chosen, read)
    return Plan(chosen, len(removed), held_back, len(waiting), sources, before)


def diff_text(p: Plan) -> str:
    from vaelint.frames import display_path

    return "".join(unified_diff(display_path(path), p.before[path], text) for path, text in sorted(p.sources.items()))


def write(p: Plan) -> list[str]:
    """Write the edited files (only those: nothing else the user owns changes);
    the paths written."""
    written = []
    for path, text in sorted(p.sources.items()):
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        written.append(path)
    return written


def summary(p: Plan, verb: str) -> str:
    """``fixed 2 findings in 1 file`` / ``would fix ...``, with what was left for later."""
    files = len(p.sources)
    out = f"{verb} {p.findings} finding{'s' * (p.findings != 1)} in {files} file{'s' * (files != 1)}"
    if p.waiting:
        out += f"; {p.waiting} more fix{'es' * (p.waiting != 1)} overlap{'s' * (p.waiting == 1)} these (run again)"
    if p.held_back:
        out += f"; {p.held_back} unsafe fix{'es' * (p.held_back != 1)} left out (--unsafe-fixes)"
    return out
