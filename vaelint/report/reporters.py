"""What an output format is: a ``Reporter``, anything with ``render(results, context) -> str``
(a module with that function is one). vaelint's own formats are registered as entry points of
the group ``vaelint.reporters`` (pyproject.toml), the group a plugin joins; ``--format NAME``
names the entry, and the list of formats is read from the group (vaelint/output.py).

A reporter renders and decides nothing: the exit code, where the text goes and what is said on
stderr stay the command's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from vaelint.diagnostics import TargetResult

REPORTERS = "vaelint.reporters"

# vaelint's own formats and their modules, as pyproject.toml registers them (a checkout run
# without its package's metadata has them too; tests/test_reporters.py holds the two equal)
OWN = {
    "text": "vaelint.report.text_report",
    "json": "vaelint.report.json_report",
    "sarif": "vaelint.report.sarif_report",
    "github": "vaelint.report.github_report",
    "markdown": "vaelint.report.markdown_report",
    "junit": "vaelint.report.junit_report",
    "gitlab": "vaelint.report.gitlab_report",
}
TEXT = "text"  # the one format for people at a terminal: the progress line, colour, and nothing written when no target


@dataclass(frozen=True)
class ReportContext:
    """What a report is rendered with besides the results.

    ``notes``: what the run says beside its results (no target in the files given);
    ``quiet``: findings and the summary only; ``statistics``: a count per rule code;
    ``color``: the text may carry a terminal's colour codes; ``width``: the columns it may take."""

    notes: tuple[str, ...] = ()
    quiet: bool = False
    statistics: bool = False
    color: bool = False
    width: int = 160


@runtime_checkable
class Reporter(Protocol):
    def render(self, results: Sequence[TargetResult], context: ReportContext) -> str: ...
