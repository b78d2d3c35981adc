"""A read of a file the code does not own (the import system probing ``lib/python311.zip`` for a package
that is not installed) was said as "the code read '.../python311.zip' at line 7, which is not here"
(helper-found, a world-model VAE whose script returned early for want of its data folder). Files of the
Python install and its import path are no data of the code's; a file of the code's folder still is."""

from __future__ import annotations

import os
import sys

from vaelint.frontends.training import livecaught


def _kept(name: str) -> list:
    livecaught.MISSED.clear()
    livecaught._RUNNING.append(True)
    try:
        livecaught.missed(FileNotFoundError(2, "No such file or directory", name))
        return list(livecaught.MISSED)
    finally:
        livecaught._RUNNING.pop()
        livecaught.MISSED.clear()


def test_the_import_paths_files_are_no_data():
    zipped = os.path.join(sys.base_prefix, "lib", f"python{sys.version_info.major}{sys.version_info.minor}.zip")
    assert _kept(zipped) == []
    assert _kept(next(p for p in sys.path if p)) == []


def test_the_systems_own_files_are_no_data():
    # pandas asks /sys/fs/cgroup/cpu.max for the CPUs it may use: said as the code's data before (helper-found)
    assert _kept("/sys/fs/cgroup/cpu.max") == [] and _kept("/proc/self/status") == []


def test_a_file_of_the_codes_folder_is_kept(tmp_path):
    name = str(tmp_path / "frames" / "0001.pt")
    assert [n for _where, n in _kept(name)] == [name]
