"""Writes the code makes where the guards might miss them: from a thread it started that writes
after its run ended (tensorboard's event-file writer), and by bytes paths (tensorboard opens its
event files with them)."""

from __future__ import annotations

import threading

from vaelint.frontends.training.sandbox import Sandbox
from vaelint.frontends.training.sandboxthreads import lingering


def test_a_thread_the_code_started_writes_nothing_after_its_run_and_vaelints_own_threads_do(tmp_path):
    (tmp_path / "runs").mkdir()
    sandbox = Sandbox(str(tmp_path / "train.py"))
    go, done = threading.Event(), threading.Event()

    def flusher():  # as a logger's thread: it waits for its queue, then writes
        go.wait(10)
        with open(tmp_path / "runs" / "events.log", "a") as fh:
            fh.write("loss 1.0\n")
        (tmp_path / "runs" / "made").mkdir()
        done.set()

    with sandbox.active():
        thread = threading.Thread(target=flusher, daemon=True)
        thread.start()
    assert lingering(thread)
    go.set()  # the guards are off: the code's thread writes now
    assert done.wait(10)
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == []
    assert any("events.log" in w for w in sandbox.blocked)
    # the main thread and a thread vaelint starts after the run write as they always did
    (tmp_path / "mine.txt").write_text("x")
    other = threading.Thread(target=lambda: open(tmp_path / "theirs.txt", "w").close())
    other.start()
    other.join()
    assert not lingering(other)
    assert (tmp_path / "mine.txt").exists() and (tmp_path / "theirs.txt").exists()


def test_a_file_written_by_a_bytes_path_is_appended_and_read_back_by_its_name(tmp_path):
    sandbox = Sandbox(str(tmp_path / "train.py"))
    name = bytes(tmp_path / "events.out")
    with sandbox.active():
        with open(name, "wb") as fh:
            fh.write(b"one ")
        with open(name, "ab") as fh:
            fh.write(b"two")
        with open(name, "rb") as fh:
            assert fh.read() == b"one two"
    assert not (tmp_path / "events.out").exists()
    assert any(w.startswith(f"open({str(tmp_path / 'events.out')!r}, 'wb')") for w in sandbox.blocked)
    assert [n for n in sandbox.said() if "read back" in n] == [
        "the code read back 'events.out', which it wrote in this run: from memory, as written"
    ]


def test_appending_to_a_file_the_run_wrote_is_not_reading_it_back(tmp_path):
    sandbox = Sandbox(str(tmp_path / "train.py"))
    with sandbox.active():
        for mode in ("w", "a", "a"):
            with open(tmp_path / "log.txt", mode) as fh:
                fh.write("x")
    assert not (tmp_path / "log.txt").exists()
    assert not [n for n in sandbox.said() if "read back" in n]


def test_a_librarys_temporary_folder_is_cleaned_up_and_a_name_in_the_users_folder_by_descriptor_is_not_written(tmp_path):
    import os
    import tempfile
    from pathlib import Path

    user = tmp_path / "project"
    user.mkdir()
    (user / "keep.txt").write_text("mine")
    sandbox = Sandbox(str(user / "train.py"))
    with sandbox.active():
        # as filelock probes links at its import: a file in a temporary folder, removed with it
        # (TemporaryDirectory's clean-up unlinks by names relative to the folder's descriptor)
        with tempfile.TemporaryDirectory() as folder:
            Path(folder, "probe-source").touch()
        fd = os.open(user, os.O_RDONLY)
        try:
            os.close(os.open("made.txt", os.O_WRONLY | os.O_CREAT, dir_fd=fd))
            os.unlink("keep.txt", dir_fd=fd)
        finally:
            os.close(fd)
    assert not os.path.exists(folder)
    assert not [w for w in sandbox.blocked if "probe-source" in w]
    assert sorted(p.name for p in user.iterdir()) == ["keep.txt"]
    assert [w.split(" at ")[0] for w in sandbox.blocked] == ["os.open('made.txt')", "os.unlink('keep.txt')"]
