"""Running ``vaelint check`` on training code as a user types it, for the training tests."""

import os
import shutil
import subprocess
import sys

from conftest import FIXTURES
from typer.testing import CliRunner

from vaelint.cli import app

TRAINING = os.path.join(FIXTURES, "training")
RUNNING = os.path.join(TRAINING, "running")  # the fixtures of training code found by running it
runner = CliRunner()


def run(*args):
    result = runner.invoke(app, ["check", *args])
    assert "Traceback" not in result.output, result.output
    return result


def write_script(folder, *lines):
    """train.py of the given lines in ``folder``, beside the running fixtures' shared model file."""
    (folder / "train.py").write_text("".join(f"{line}\n" for line in lines))
    shutil.copy(os.path.join(RUNNING, "vae_common.py"), folder)


def check_in(folder, *args, env_extra=None):
    """``vaelint check ARGS`` as a user runs it, in a process of its own, in ``folder``."""
    env = {**os.environ, "VAELINT_NO_CACHE": "1", "NO_COLOR": "1", "COLUMNS": "200", **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "vaelint", "check", *args], cwd=folder, env=env, capture_output=True, text=True, timeout=600
    )
