"""Message wording is part of the interface: every finding on every fixture, and every rule it
could not check with the reason, word for word, against tests/golden/findings.txt (a rule that
stops running on a fixture is a change to review, as a finding that goes is).

After an intended wording change, regenerate the file with
``VAELINT_REGOLD=1 python -m pytest tests/test_messages.py`` and review the diff.
"""

import os

import pytest
from conftest import FIXTURES, ROOT
from fixture_cases import all_cases, result_of

GOLDEN = os.path.join(os.path.dirname(__file__), "golden", "findings.txt")


def _render() -> str:
    lines = []
    for case in all_cases():
        result = result_of(case)
        lines.append(f"## {case.id}")
        if result.error is not None:
            lines.append(f"error ({result.error.kind}): {result.error.message}")
        for f in result.findings:
            path = os.path.relpath(f.loc.path, FIXTURES)
            lines.append(f"{path}:{f.loc.line}:{f.loc.column}: {f.code} {f.name} [{f.severity}, confirmed={f.confirmed}]: {f.message}")
            lines.append(f"    fix: {f.fix}")
        for code, why in sorted(result.skipped):
            lines.append(f"not checked: {code}: {why}")
    return "\n".join(lines) + "\n"


def test_messages_match_the_golden_file(monkeypatch):
    monkeypatch.chdir(ROOT)  # messages name paths relative to the current directory
    text = _render()
    if os.environ.get("VAELINT_REGOLD"):
        with open(GOLDEN, "w") as fh:
            fh.write(text)
        pytest.skip("golden file regenerated: review its diff")
    with open(GOLDEN) as fh:
        assert text == fh.read()
