"""Read the ``# fixture:`` header lines of the model files under fixtures/.

One line is one case: ``target=NAME input=SPEC [input=SPEC] [loss=FUNC] [beta=FLOAT]
[init=NAME=VALUE ...] [expect=CODE@LINE ...] [later=CODE@LINE ...]``. ``expect`` lists
the findings the implemented rules must produce; ``later`` lists findings of
rules that are not in the catalogue yet (they become ``expect`` when they are).
"""

from __future__ import annotations

import glob
import os
import shlex
from dataclasses import dataclass, field

from conftest import FIXTURES

from vaelint.build import parse_init


@dataclass
class Case:
    path: str
    target: str
    inputs: list[str]
    loss: str | None = None
    init: dict = field(default_factory=dict)
    beta: float = 1.0
    expect: set = field(default_factory=set)  # {(code, line)}
    later: set = field(default_factory=set)

    @property
    def id(self) -> str:
        rel = os.path.relpath(self.path, FIXTURES)
        extra = f"+{self.loss}" if self.loss else ""
        return f"{rel}:{self.target}[{','.join(self.inputs)}]{extra}"

    def all_declared(self) -> set:
        return self.expect | self.later


def _findings(values: list[str]) -> set:
    out = set()
    for v in values:
        code, _, line = v.partition("@")
        out.add((code, int(line)))
    return out


def parse_cases(path: str) -> list[Case]:
    cases = []
    with open(path, encoding="utf-8") as fh:
        for raw in fh:
            if not raw.startswith("# fixture:"):
                if raw.strip() and not raw.startswith("#"):
                    break
                continue
            fields: dict[str, list[str]] = {}
            for token in shlex.split(raw[len("# fixture:") :]):
                key, _, value = token.partition("=")
                fields.setdefault(key, []).append(value)
            cases.append(
                Case(
                    path=path,
                    target=fields["target"][0],
                    inputs=fields.get("input", []),
                    loss=fields.get("loss", [None])[0],
                    init=parse_init(fields.get("init", [])),
                    beta=float(fields.get("beta", ["1"])[0]),
                    expect=_findings(fields.get("expect", [])),
                    later=_findings(fields.get("later", [])),
                )
            )
    return cases


def all_cases(kind: str = "*") -> list[Case]:
    cases = []
    for path in sorted(glob.glob(os.path.join(FIXTURES, kind, "*.py"))):
        cases += parse_cases(path)
    return cases


_RESULTS: dict = {}


def result_of(case: Case):
    """The analysis of one fixture case (with the confirmation pass), computed once
    per test session: the declared-findings, confirmation and golden-message tests
    all read it. Paths in messages are relative to the repository root."""
    key = (case.path, case.target, tuple(case.inputs), case.loss, repr(sorted(case.init.items())), case.beta)
    if key not in _RESULTS:
        from helpers import check

        here = os.getcwd()
        os.chdir(os.path.dirname(FIXTURES))
        try:
            loss = f"{case.path}:{case.loss}" if case.loss else None
            _RESULTS[key] = check(case.path, case.target, case.inputs, loss=loss, init=case.init, beta=case.beta)
        finally:
            os.chdir(here)
    return _RESULTS[key]
