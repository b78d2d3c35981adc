"""The code base checked like its users' code (issue 36, item 6): ruff's lint and format check, with the
configuration in pyproject.toml, on the package, the rules, the tests, the benchmarks
and the scripts (fixtures/ are users' code with bugs on purpose and are left out)."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT

RUFF = os.path.join(os.path.dirname(sys.executable), "ruff")


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([RUFF, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_check_passes():
    out = ruff("check", "--output-format", "concise", ".")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_the_configuration_is_read_and_fixtures_are_left_out(tmp_path):
    shown = ruff("check", "--show-files", ".").stdout
    assert os.path.join("vaelint", "cli.py") in shown and os.path.join("rules", "vae001_noise_shape.py") in shown
    assert os.sep + "fixtures" + os.sep not in shown
    # the configuration finds what it is there to find: an unused import in a file of the package's style
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n")
    out = ruff("check", "--config", os.path.join(ROOT, "pyproject.toml"), "--output-format", "concise", str(bad))
    assert out.returncode == 1 and "F401" in out.stdout


def test_ruff_format_leaves_the_code_as_it_is():
    out = ruff("format", "--check", ".")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
