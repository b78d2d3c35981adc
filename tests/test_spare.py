"""The worker started with the process (vaelint/runtime/spare.py): it imports torch while
the command line is read, takes the one target that misses the cache, and is
the same contained worker a forked one is; unused, it is killed before exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import FIXTURES
from test_worker import model_dir  # noqa: F401 - the worker tests' misbehaving models, as a fixture

BUGGY = f"{FIXTURES}/buggy/noise_pinned_batch.py:VAE"  # VAE005 and VAE012 at line 21, a fix offered


def run(*args, spare: str = "1", cwd=None, python_flags=()):
    env = dict(os.environ, VAELINT_SPARE=spare, VAELINT_NO_CACHE="1")
    return subprocess.run(
        [sys.executable, *python_flags, "-m", "vaelint", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def imported(stderr: str) -> set[str]:
    """The modules ``python -X importtime`` says this process imported."""
    return {line.rsplit("|", 1)[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def findings(stdout: str) -> list[tuple]:
    return [(f["code"], f["line"], f["message"]) for r in json.loads(stdout)["results"] for f in r["findings"]]


def test_one_target_runs_in_the_spare_and_the_command_line_never_imports_torch():
    clean = f"{FIXTURES}/clean/mlp_vae.py:VAE"
    with_spare = run("check", clean, "--input", "32x784", "--format", "json", python_flags=("-X", "importtime"))
    without = run("check", clean, "--input", "32x784", "--format", "json", spare="0", python_flags=("-X", "importtime"))
    assert with_spare.returncode == without.returncode == 0, with_spare.stderr[-2000:]
    assert "torch" not in imported(with_spare.stderr)  # the spare imported it, silently
    assert "torch" in imported(without.stderr)  # the parent forks from torch without one
    assert json.loads(with_spare.stdout)["results"][0]["status"] == "clean"


def test_the_spare_finds_what_a_forked_worker_finds_and_its_fixes_are_checked_again():
    # the fix is checked again in a worker forked by the parent, which imports torch then
    with_spare, without = (run("check", BUGGY, "--input", "16x20", "--format", "json", spare=s) for s in ("1", "0"))
    assert with_spare.returncode == without.returncode == 1, with_spare.stderr[-2000:]
    assert findings(with_spare.stdout) == findings(without.stdout)
    assert [c for c, _line, _m in findings(with_spare.stdout)] == ["VAE005", "VAE012"]
    fixes = [[f["autofix"] for f in json.loads(out.stdout)["results"][0]["findings"]] for out in (with_spare, without)]
    assert fixes[0] == fixes[1] and fixes[0][0]["rejected"] is None
    # --diff checks each edit again, in a worker the parent forks
    diffs = [run("check", BUGGY, "--input", "16x20", "--diff", spare=s) for s in ("1", "0")]
    assert diffs[0].stdout == diffs[1].stdout and "+++" in diffs[0].stdout, diffs[0].stderr[-2000:]


def test_the_spare_contains_the_users_exit_hang_and_output(model_dir):
    exits = json.loads(run("check", "bad.py:sys_exit_forward", "--input", "4x10", "--format", "json", cwd=model_dir).stdout)
    error = exits["results"][0]["error"]
    assert error["kind"] == "exit" and "sys.exit(3) in forward" in error["message"]
    # 12 s: on a loaded 2-core machine 4 s ran out while the spare was still importing torch ("it was in import")
    hangs = run("check", "bad.py:Hangs", "--input", "4x10", "--timeout", "12", "--format", "json", cwd=model_dir)
    error = json.loads(hangs.stdout)["results"][0]["error"]
    assert hangs.returncode == 2 and error["kind"] == "timeout" and "in forward, running bad.py:" in error["message"]
    prints = run("check", "bad.py:Prints", "--input", "4x10", "--color", "never", cwd=model_dir)
    assert "| h_dim 6272" in prints.stdout and "| written to fd 1 by C-like code" in prints.stdout


def test_fix_rounds_after_the_spare_check_the_edited_text_in_forked_workers():
    out = run("check", BUGGY, "--input", "16x20", "--diff")
    assert out.returncode == 1, out.stderr[-2000:]
    assert "+        eps = torch.randn_like(std)" in out.stdout and "would fix 2 findings in 1 file" in out.stderr


def test_the_spare_is_not_started_where_it_cannot_help(monkeypatch):
    from vaelint.runtime import spare

    monkeypatch.setenv("VAELINT_SPARE", "1")
    assert spare.wanted(["check", "m.py:VAE", "--input", "4x10"])
    assert not spare.wanted(["check", "--help"]) and not spare.wanted(["clean"]) and not spare.wanted([])
    assert not spare.wanted(["check", "m.py:VAE", "--show-settings"])
    monkeypatch.setenv("VAELINT_SPARE", "0")
    assert not spare.wanted(["check", "m.py:VAE"])
    monkeypatch.delenv("VAELINT_SPARE")
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0}, raising=False)
    assert not spare.wanted(["check", "m.py:VAE"])  # one core: it would only take it from the parent
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    assert spare.wanted(["check", "m.py:VAE"])
    monkeypatch.setenv("VAELINT_IN_PROCESS", "1")
    assert not spare.wanted(["check", "m.py:VAE"])


# Driven in a fresh interpreter: the spare must be the child of a process that ran no torch op.
DRIVER = """
import os, signal, sys
from vaelint.runtime import spare
spare.start(["check"])
pid = spare._spare.pid
print("spare", pid, flush=True)
{before}
"""


def test_a_spare_that_died_leaves_the_target_to_a_forked_worker():
    before = (
        "os.kill(pid, signal.SIGKILL)\n"
        "from vaelint.inputs import parse_input_spec\n"
        "from vaelint.settings.options import Options\n"
        "from vaelint.runtime.worker import run_target\n"
        f"result = run_target({BUGGY!r}, Options(inputs=[parse_input_spec('16x20')]), fresh=True)\n"
        "print('codes', sorted(f.code for f in result.findings), result.error, spare.available())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", DRIVER.format(before=before)],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, VAELINT_SPARE="1"),
    )
    assert "codes ['VAE005', 'VAE012'] None False" in out.stdout, out.stderr[-2000:]


def test_an_unused_spare_is_killed_before_the_process_ends(tmp_path):
    # every target answered from the cache (here: none misses because none is given
    # and none is configured: exit 2 with a message); the spare would import torch
    # for another second and linger, orphaned, if it were left
    before = "sys.argv = ['vaelint', 'check']\nfrom vaelint.cli import main\nmain()\n"
    out = subprocess.run(
        [sys.executable, "-c", DRIVER.format(before=before)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, VAELINT_SPARE="1"),
    )
    assert out.returncode == 2 and "no target given" in out.stderr
    pid = int(out.stdout.split()[1])
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped by the process that started it


WHO_RUNS_ME = """
import sys

import torch
import torch.nn as nn


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        # a worker forked by the command line has its modules; the spare was started before them
        print("forked after the command line was read:", "vaelint.cli" in sys.modules)
        self.enc, self.dec = nn.Linear(10, 4), nn.Linear(2, 10)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar
"""


@pytest.mark.parametrize("jobs, spare_runs_first", [("1", True), ("2", False)])
def test_one_at_a_time_the_first_target_runs_in_the_spare_side_by_side_none(tmp_path, jobs, spare_runs_first):
    # side by side, the spare's run beside the parent's import of torch cost more than it saved
    (tmp_path / "who.py").write_text(WHO_RUNS_ME)
    out = run("check", "who.py:VAE", "who.py:VAE", "who.py:VAE", "--input", "4x10", "--jobs", jobs, "--color", "never", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    said = [line.split(":")[-1].strip() for line in out.stdout.splitlines() if "forked after the command line was read" in line]
    assert said == ["False" if spare_runs_first else "True", "True", "True"], out.stdout


def test_the_reporter_is_imported_while_the_worker_runs_and_it_imports_no_torch():
    code = (
        "import sys\nfrom vaelint.cli import _import_reporter\nfrom vaelint.report.reporters import OWN\n"
        "for f in OWN:\n    _import_reporter(f)\n"
        "print(sorted(m for m in sys.modules if m.startswith('vaelint.report.')), 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().endswith("False"), out.stderr
    for name in ("text_report", "json_report", "sarif_report", "github_report", "markdown_report"):
        assert f"vaelint.report.{name}" in out.stdout
