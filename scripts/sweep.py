"""A sweep of bad inputs and hostile models (issue "never green"): each case runs
``vaelint`` as a user would, in a temporary folder of its own, and is judged on what
a CI gate needs: no traceback, no green (exit 0) on something that was not checked,
an exit status of the class expected, a machine report that parses, and no side
effect of the model's code left behind.

    python scripts/sweep.py            # every case, a Markdown table, exit 1 on a failure
    python scripts/sweep.py -k cache   # the cases whose id holds "cache"

It takes a few minutes (one vaelint process a case); tests/test_sweep.py runs a sample.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from sweep_cases import all_cases  # noqa: E402


@dataclass
class Case:
    id: str
    kind: str  # cli, file, hostile, training, cache, pre-commit
    argv: list[str]  # after "vaelint"
    expect: str  # usage (2, before a model runs), error (2), findings (1), clean (0), quiet (0: nothing to check)
    files: dict = field(default_factory=dict)  # relative path -> text (bytes for binary)
    env: dict = field(default_factory=dict)
    setup: str = ""  # shell run in the folder first (links, modes, a cache to fault)
    leftover: tuple = ()  # files the model's code tries to leave behind: must not exist after
    survives: tuple = ()  # files the model's code tries to remove: must still exist after
    runs: int = 1  # the command run this many times (a cache case: the last answer is judged)
    between: str = ""  # shell run in the folder between runs (a fault planted in the cache)


# contained: what the code tried must not get out; the check itself may end any way but
# green without a result (exit 0 is judged by the JSON report: a target checked and clean)
EXITS = {"usage": {2}, "error": {2}, "findings": {1}, "clean": {0}, "quiet": {0}, "contained": {0, 1, 2}}


def run(case: Case) -> tuple[bool, str, int]:
    with tempfile.TemporaryDirectory() as folder:
        for rel, text in case.files.items():
            path = os.path.join(folder, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            mode = "wb" if isinstance(text, bytes) else "w"
            with open(path, mode) as fh:
                fh.write(text if isinstance(text, bytes) else textwrap.dedent(text))
        if case.setup:
            subprocess.run(case.setup, shell=True, cwd=folder, check=True)
        env = {**os.environ, "VAELINT_NO_CACHE": "", **case.env}
        env.pop("PRE_COMMIT", None) if "PRE_COMMIT" not in case.env else None
        for i in range(case.runs):
            if i and case.between:
                subprocess.run(case.between, shell=True, cwd=folder, check=True)
            try:
                out = subprocess.run(
                    [sys.executable, "-m", "vaelint", *case.argv], cwd=folder, env=env, capture_output=True, text=True, timeout=180
                )
            except subprocess.TimeoutExpired:
                return False, "vaelint itself did not end within 180 s", -1
        return _judge(case, out, folder)


def _judge(case: Case, out, folder: str) -> tuple[bool, str, int]:
    text = out.stdout + out.stderr
    code = out.returncode
    if "Traceback (most recent call last)" in text:
        return False, "a traceback: " + text.strip().splitlines()[-1][:120], code
    if code == 0 and case.expect not in ("clean", "quiet", "contained"):
        return False, "a silent green: exit 0 on " + case.expect, code
    if code not in EXITS[case.expect]:
        return False, f"exit {code}, expected {sorted(EXITS[case.expect])}: " + _last(text), code
    if case.leftover:
        import time

        time.sleep(3)  # what a child it started would do after a second or two
    for path in case.leftover:
        if os.path.exists(os.path.join(folder, path)):
            return False, f"the model's code left {path} behind", code
    for path in case.survives:
        if not os.path.exists(os.path.join(folder, path)):
            return False, f"the model's code removed {path}", code
    report = _report(case, out, folder)
    if report is not None and not report[0]:
        return False, report[1], code
    return True, report[1] if report is not None and report[1] else _last(text), code


def _report(case: Case, out, folder: str):
    """A machine report that parses, where one was asked for (None: none was)."""
    argv = case.argv
    fmt = argv[argv.index("--format") + 1] if "--format" in argv else None
    if fmt not in ("json", "sarif") or case.expect == "usage":
        return None
    path = argv[argv.index("--output-file") + 1] if "--output-file" in argv else None
    try:
        text = open(os.path.join(folder, path)).read() if path else out.stdout
        data = json.loads(text)
    except (OSError, ValueError) as e:
        return False, f"the {fmt} report does not parse ({e})"
    if fmt == "json" and case.expect == "contained" and out.returncode == 0:
        if not data["results"] or any(r["status"] != "clean" for r in data["results"]):
            return False, "exit 0 without a clean result"
    if fmt == "json" and case.expect in ("error", "findings"):
        statuses = [r["status"] for r in data["results"]]
        wanted = "error" if case.expect == "error" else "findings"
        if wanted not in statuses:
            return False, f"the JSON report says {statuses}, not {wanted}"
    results = data.get("results", []) if fmt == "json" else []
    said = "; ".join(
        f"{r['status']}: "
        + (f"{r['error']['kind']}: {r['error']['message']}" if r["error"] else ", ".join(f["code"] for f in r["findings"]) or "-")
        for r in results
    )
    return True, said[:160]


def _last(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "(nothing printed)")[:140]


def main(argv: list[str]) -> int:
    pick = argv[argv.index("-k") + 1] if "-k" in argv else ""
    cases = [c for c in all_cases(Case) if pick in c.id]
    failed = 0
    print("| # | case | kind | expected | exit | verdict | what it said |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for i, case in enumerate(cases, 1):
        ok, said, code = run(case)
        failed += not ok
        print(
            f"| {i} | {case.id} | {case.kind} | {case.expect} | {code} | {'ok' if ok else 'FAIL'} | {said.replace('|', '/')} |", flush=True
        )
    print(f"\n{len(cases) - failed} of {len(cases)} cases hold; {failed} fail.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
