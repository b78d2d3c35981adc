"""The progress line: on a terminal's stderr, for the text report, with several
targets or once a lone check has run a second; never in machine formats or piped."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys

from conftest import FIXTURES
from rich.console import Console

from vaelint.report.progress import DELAY, Progress, wanted

CLEAN = os.path.join(FIXTURES, "clean", "mlp_vae.py")
BUGGY = os.path.join(FIXTURES, "buggy", "recon_broadcast_mse.py")


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _terminal():
    buf = io.StringIO()
    return buf, Console(file=buf, force_terminal=True, width=120, color_system=None)


def test_several_targets_show_target_i_of_n_and_the_stage():
    buf, console = _terminal()
    p = Progress(2, console, Clock())
    p.begin(1, "models/a.py:VAE")
    p.on_stage("forward")
    p.begin(2, "models/b.py:VAE", "checking its fixes again")
    p.close()
    out = buf.getvalue()
    assert "target 1 of 2  models/a.py:VAE" in out and "running the forward" in out
    assert "target 2 of 2  models/b.py:VAE  checking its fixes again" in out


def test_a_lone_target_shows_a_line_only_after_a_second():
    buf, console = _terminal()
    clock = Clock()
    p = Progress(1, console, clock)
    p.begin(1, "vae.py:VAE")
    p.on_stage("build")
    assert buf.getvalue() == ""  # a quick check stays silent
    clock.now = DELAY + 0.1
    p.tick()
    p.close()
    assert "target 1 of 1  vae.py:VAE  building the model" in buf.getvalue()


def test_never_in_machine_formats_or_when_piped():
    assert wanted(True, True)
    assert not wanted(False, True)  # json, sarif, github, markdown
    assert not wanted(True, False)  # stderr piped: a CI log, pre-commit


def _run_with_terminal_stderr(*args) -> tuple[str, str]:
    """vaelint with stderr on a pseudo-terminal and stdout on a pipe: (stdout, what the terminal got)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vaelint", *args],
        stdout=subprocess.PIPE,
        stderr=follower,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "160", "TERM": "xterm"},
    )
    os.close(follower)
    seen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 1 << 16)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    out = proc.stdout.read().decode()
    proc.wait(timeout=120)
    os.close(leader)
    return out, seen.decode("utf-8", "replace")


def test_the_command_line_shows_progress_on_a_terminal_and_not_in_json():
    out, terminal = _run_with_terminal_stderr("check", f"{CLEAN}:VAE", f"{BUGGY}:VAE", "--input", "4x784", "--no-dynamic", "-q")
    assert "target 1 of 2" in terminal and "target 2 of 2" in terminal
    assert "target 1 of 2" not in out and "1 finding" in out  # the report itself is clean
    out, terminal = _run_with_terminal_stderr(
        "check", f"{CLEAN}:VAE", f"{BUGGY}:VAE", "--input", "4x784", "--no-dynamic", "--format", "json"
    )
    assert "target" not in terminal.replace("no VAE targets", "")
    assert out.lstrip().startswith("{")
