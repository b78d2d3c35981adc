"""Read the ``# fixture:`` header lines of the model files under fixtures/.

One line is one case: ``target=NAME input=SPEC [input=SPEC] [loss=FUNC] [beta=FLOAT]
[init=NAME=VALUE ...] [loss-kwarg=NAME=VALUE ...] [script-args=ARGS] [cwd=DIR] [expect=CODE@LINE ...]
[later=CODE@LINE ...]``.
``target=-`` checks the whole file (a training script or notebook); ``cwd`` is
the folder the check runs in, relative to the file's (a repository's root).
``expect`` lists the findings the implemented rules must produce; ``later``
lists findings of rules that are not in the catalogue yet (they become
``expect`` when they are).
"""

from __future__ import annotations

import glob
import os
import shlex
import sys
import types
from dataclasses import dataclass, field

from conftest import FIXTURES

from vaelint.source.literals import parse_init
from vaelint.source.modulefiles import file_of


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
    script_args: list = field(default_factory=list)
    cwd: str | None = None  # absolute
    loss_kwargs: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        rel = os.path.relpath(self.path, FIXTURES)
        extra = f"+{self.loss}" if self.loss else ""
        extra += f" [{' '.join(self.script_args)}]" if self.script_args else ""
        return f"{rel}:{self.target}[{','.join(self.inputs)}]{extra}"

    @property
    def spec(self) -> str:
        """The target as a user types it."""
        return self.path if self.target == "-" else f"{self.path}:{self.target}"

    def all_declared(self) -> set:
        return self.expect | self.later


def _findings(values: list[str]) -> set:
    out = set()
    for v in values:
        code, _, line = v.partition("@")
        out.add((code, int(line)))
    return out


def parse_cases(path: str) -> list[Case]:
    from vaelint.source.files import read_source

    cases = []
    for raw in read_source(path).splitlines(True):
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
                script_args=shlex.split(fields.get("script-args", [""])[0]),
                loss_kwargs=parse_init(fields.get("loss-kwarg", [])),
                cwd=os.path.normpath(os.path.join(os.path.dirname(path), fields["cwd"][0])) if "cwd" in fields else None,
            )
        )
    return cases


def all_cases(kind: str = "*") -> list[Case]:
    cases = []
    paths = glob.glob(os.path.join(FIXTURES, kind, "**", "*.py"), recursive=True)
    paths += glob.glob(os.path.join(FIXTURES, kind, "**", "*.ipynb"), recursive=True)
    for path in sorted(paths):
        cases += parse_cases(path)
    return cases


_RESULTS: dict = {}


def result_of(case: Case):
    """The analysis of one fixture case (with the confirmation pass), computed once
    per test session: the declared-findings, confirmation and golden-message tests
    all read it. Paths in messages are relative to the repository root."""
    key = (
        case.path,
        case.target,
        tuple(case.inputs),
        case.loss,
        repr(sorted(case.init.items())),
        case.beta,
        tuple(case.script_args),
        repr(sorted(case.loss_kwargs.items())),
    )
    if key not in _RESULTS:
        _RESULTS[key] = run_case(case)
    return _RESULTS[key]


def run_case(case: Case):
    """The analysis of one fixture case, run now (result_of keeps it for the session)."""
    from helpers import check

    here = os.getcwd()
    os.chdir(case.cwd or os.path.dirname(FIXTURES))
    saved_path = list(sys.path)
    saved_modules = set(sys.modules)
    try:
        loss = case.loss if case.loss and ":" in case.loss else f"{case.path}:{case.loss}" if case.loss else None
        return check(
            case.path,
            case.target,
            case.inputs,
            loss=loss,
            init=case.init,
            beta=case.beta,
            script_args=case.script_args,
            loss_kwargs=dict(case.loss_kwargs),
        )
    finally:
        os.chdir(here)
        # in-process runs share one interpreter (the command line forks a worker per
        # target): a fixture repository's folders and packages must not leak into the next
        sys.path[:] = saved_path
        for name, mod in list(sys.modules.items()):
            origin = file_of(mod)
            # (an object a fixture module put in its own place, sys.modules[__name__] = Shapes(), has no path)
            replaced = not isinstance(mod, types.ModuleType) and name not in saved_modules
            if (origin.startswith(FIXTURES + os.sep) and not name.startswith("_vaelint_model_")) or replaced:
                del sys.modules[name]
