"""A program the training code runs for its data (a download script before np.load of what it
fetches) where --input gives the data: never started, it answers as a program that is not
installed does (exit status 127, no output), said in a note, and the run goes on to the files,
which stand in (fixtures/training/running/dsprites_download/). Without --input,
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
    "def run():\n    return subprocess.run(['bash', 'download.sh'], capture_output=True)\n"
    "def run_text():\n    return subprocess.run('curl x | tar x', shell=True, stdout=subprocess.PIPE, text=True)\n"
    "def checked():\n    return subprocess.check_output(['./download.sh'])\n"
    "def fed():\n    p = subprocess.Popen(['./download.sh'], stdin=subprocess.PIPE)\n    p.stdin.write(b'y')\n    return p\n"
    "def git():\n    try:\n        return subprocess.check_output(['git', 'clone', 'x'])\n"
    "    except FileNotFoundError:\n        return '?'\n"
)


def _user_code(folder) -> dict:
    namespace: dict = {}
    (folder / "download.sh").write_text("#!/bin/sh\nwget https://example.invalid/data.npz\n")
    exec(compile(USER, str(folder / "user_code.py"), "exec"), namespace)
    return namespace


def test_with_the_data_given_the_codes_own_script_answers_as_one_not_installed(tmp_path, monkeypatch):
    from vaelint.frontends.training.sandbox import Sandbox

    monkeypatch.chdir(tmp_path)
    code = _user_code(tmp_path)
    sandbox = Sandbox(str(tmp_path / "user_code.py"), data_given=True)
    with sandbox.active():
        assert code["call"]() == 127
        done = code["run"]()
        assert (done.returncode, done.stdout, done.stderr) == (127, b"", b"")
        assert code["run_text"]().stdout == ""  # a shell command: what a shell gives
        with pytest.raises(subprocess.CalledProcessError) as raised:
            code["checked"]()
        assert raised.value.returncode == 127
        assert code["fed"]().pid is None  # none was started: no pid for os.kill to take for its own group
        # a program that is not the code's own file (git clone; a query of the checkout answers empty):
        # the FileNotFoundError of a machine without it
        assert code["git"]() == "?"
    said = " ".join(sandbox.said())
    assert "the code's program './download.sh' at " in said and "user_code.py:3 was not run" in said
    assert "exit status 127" in said
    assert (tmp_path / "download.sh").read_text().startswith("#!/bin/sh"), "nothing is run or written"


def test_without_the_data_given_the_script_is_refused_as_before(tmp_path, monkeypatch):
    from vaelint.errors import VaelintError
    from vaelint.frontends.training.sandbox import Sandbox

    monkeypatch.chdir(tmp_path)
    code = _user_code(tmp_path)
    with Sandbox(str(tmp_path / "user_code.py")).active():
        with pytest.raises(VaelintError, match="tried to run a program"):
            code["call"]()


def test_the_download_script_before_the_array_is_checked_with_input(monkeypatch):
    from helpers import check, found

    folder = os.path.join(RUNNING, "dsprites_download")
    monkeypatch.chdir(folder)  # run in the repository's folder, as its README says
    result = check(os.path.join(folder, "train.py"), "-", ["32x4096"])
    assert result.error is None, result.error.message
    assert found(result) == {("VAE002", 55)}
    assert any("'./download_dsprites.sh'" in n and "was not run" in n for n in result.notes), result.notes
    assert not os.path.exists(os.path.join(folder, "data")), "nothing is written"
