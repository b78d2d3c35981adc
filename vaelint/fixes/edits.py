"""A fix as data: text edits of the user's files (ruff's ``Fix``/``Edit``).

An ``Edit`` replaces a range of one file (1-based lines, 1-based columns in
characters, the end exclusive) with new text. A ``Fix`` is the edits one
finding needs, whether applying them keeps every other behaviour ("safe": it
may be written with ``--fix``) or changes the loss's scale or needs a choice
("unsafe": only with ``--unsafe-fixes``), and, once checked again, whether the
edited model is rid of the finding with nothing new (``verified``).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

SAFE, UNSAFE = "safe", "unsafe"


@dataclass(frozen=True)
class Edit:
    path: str  # absolute
    line: int
    column: int  # 1-based, in characters
    end_line: int
    end_column: int  # exclusive
    content: str

    def overlaps(self, other: Edit) -> bool:
        if self.path != other.path:
            return False
        return (self.line, self.column) < (other.end_line, other.end_column) and (other.line, other.column) < (
            self.end_line,
            self.end_column,
        )


@dataclass
class Fix:
    message: str  # what the edit does, in words: "draw the noise with std's shape: torch.randn_like(std)"
    edits: tuple[Edit, ...]
    applicability: str = SAFE
    # None: not checked again yet; True: the re-check found the finding gone and
    # nothing new; False: it did not (``rejected`` says why, and the fix is not offered)
    verified: bool | None = None
    rejected: str = ""
    # (code, path, line) of the findings it is offered for, and of every finding its
    # re-check saw go (the same edit often removes two: VAE001 and VAE012 on one draw)
    offered_for: frozenset = frozenset()
    removes: frozenset = frozenset()

    @property
    def paths(self) -> set[str]:
        return {e.path for e in self.edits}

    def key(self) -> tuple:
        return tuple(sorted((e.path, e.line, e.column, e.end_line, e.end_column, e.content) for e in self.edits))

    def overlaps(self, other: Fix) -> bool:
        return any(a.overlaps(b) for a in self.edits for b in other.edits)


def apply_edits(text: str, edits) -> str:
    """``text`` with ``edits`` (all of one file, none overlapping) applied."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(line: int, column: int) -> int:
        return starts[line - 1] + column - 1

    out = text
    for e in sorted(edits, key=lambda e: (e.line, e.column), reverse=True):
        out = out[: offset(e.line, e.column)] + e.content + out[offset(e.end_line, e.end_column) :]
    return out


def choose(fixes) -> list[Fix]:
    """The fixes that can be applied together: in the order given, each one that
    overlaps none taken before (the rest wait for a later run, as ruff's do)."""
    taken: list[Fix] = []
    seen = set()
    for fix in fixes:
        if fix.key() in seen or any(fix.overlaps(t) for t in taken):
            continue
        seen.add(fix.key())
        taken.append(fix)
    return taken


def edited_sources(fixes, read) -> dict[str, str]:
    """path -> the file's text with every edit of ``fixes`` applied (``read(path)``: its text now)."""
    by_path: dict[str, list[Edit]] = {}
    for fix in fixes:
        for e in fix.edits:
            by_path.setdefault(e.path, []).append(e)
    return {path: apply_edits(read(path), edits) for path, edits in by_path.items()}


def unified_diff(path_shown: str, before: str, after: str) -> str:
    return "".join(
        difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{path_shown}", f"b/{path_shown}")
    )
