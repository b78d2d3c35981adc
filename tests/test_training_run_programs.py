"""A program the training code runs for its data (a download script before np.load of what it
fetches) where --input gives the data: never started, it answers as a program that is not
installed does (exit status 127, no output), said in a note, and the run goes on to the files,
which stand in (fixtures/training/running/download_script_before_the_array.py). Without --input,
and for a program a library starts, nothing changes (tests/test_training_run_sandbox.py)."""

from __future__ import annotations

import os
import subprocess

import pytest
from conftest import FIXTURES

RUNNING = os.path.join(FIXTURES, "training", "running")

USER = (
    "import subprocess\n"
    "def call():\n    return subprocess.call(['./download.sh'])\n"
    "def run():\n    return subprocess.run(['wget', 'x'], capture_output=True)\n"
    "def run_text():\n    return subprocess.run('curl x', shell=True, stdout=subprocess.PIPE, text=True)\n"
    "def checked():\n    return subprocess.check_output(['git', 'log'])\n"
)


def _user_code() -> dict:
    namespace: dict = {}
    exec(compile(USER, os.path.join(RUNNING, "user_code.py"), "exec"), namespace)
    return namespace


def test_with_the_data_given_a_program_answers_as_one_not_installed():
    from vaelint.frontends.training.sandbox import Sandbox

    code = _user_code()
    sandbox = Sandbox(os.path.join(RUNNING, "user_code.py"), data_given=True)
    with sandbox.active():
        assert code["call"]() == 127
        done = code["run"]()
        assert (done.returncode, done.stdout, done.stderr) == (127, b"", b"")
        assert code["run_text"]().stdout == ""
        with pytest.raises(subprocess.CalledProcessError) as raised:
            code["checked"]()
        assert raised.value.returncode == 127
    said = " ".join(sandbox.said()).replace(os.sep, "/")
    assert "the code's program './download.sh' at fixtures/training/running/user_code.py:3 was not run" in said
    assert "exit status 127" in said


def test_without_the_data_given_the_program_is_refused_as_before():
    from vaelint.errors import VaelintError
    from vaelint.frontends.training.sandbox import Sandbox

    code = _user_code()
    with Sandbox(os.path.join(RUNNING, "user_code.py")).active():
        with pytest.raises(VaelintError, match="tried to run a program"):
            code["call"]()


def test_the_download_script_before_the_array_is_checked_with_input():
    from helpers import check, found

    path = os.path.join(RUNNING, "download_script_before_the_array.py")
    result = check(path, "-", ["32x4096"])
    assert result.error is None, result.error.message
    assert found(result) == {("VAE002", 55)}
    assert any("'./download_dsprites.sh'" in n and "was not run" in n for n in result.notes), result.notes
    assert not os.path.exists(os.path.join(RUNNING, "data")), "nothing is written"
