"""A script of the repository's that the training code runs for its data
(``subprocess.call(["./download.sh"])`` before ``np.load`` of the file it fetches), or a shell
command, where ``--input`` gives the data (:mod:`.sandbox`): it is not started, and answers as a
program that is not installed does in a shell (exit status 127, no output), as ``os.system``
already does. The code goes on to the files it would have fetched, which stand in
(:mod:`.livedata`). A program that is not a file of the repository (``git``, ``tensorboard``)
raises the FileNotFoundError a machine without it gives, as without ``--input``; without
``--input`` the run stops at the script and says to give it."""

from __future__ import annotations

import io
import os
import shlex
import subprocess


def _the_codes_own(command, kwargs, folder: str) -> bool:
    """A shell command, or a program one of whose arguments is a file of the code's folder or the
    working folder (./download.sh, bash scripts/get_data.sh, python download.py)?"""
    if kwargs.get("shell"):
        return True
    try:
        words = [str(w) for w in command] if isinstance(command, (list, tuple)) else shlex.split(str(command))
    except ValueError:
        return False
    return any(os.path.isfile(w) or os.path.isfile(os.path.join(folder, w)) for w in words)


def finished_popen(refuse, sandbox, started_by_user_code):
    """subprocess.Popen that starts nothing, still a class (code subclasses it at import: the
    yt-dlp helper gdown bundles); with the data given, one already finished with status 127."""

    class Popen(subprocess.Popen):
        _child_created = False  # what Popen.__del__ reads of one never started

        def __init__(self, *args, **kwargs):
            command = args[0] if args else kwargs.get("args", "")
            folder = os.path.dirname(os.path.abspath(sandbox.script))
            # git asked for the code's commit (logged beside the run, as pvae writes it): an empty answer
            query = started_by_user_code() and (a_git_query(command) or makes_folders_only(command))
            if not query and (
                python_script_run(command)
                or not (getattr(sandbox, "data_given", False) and started_by_user_code() and _the_codes_own(command, kwargs, folder))
            ):
                refuse(*args, **kwargs)  # a Python script run as a program: refused, naming its check
            shown = " ".join(map(str, command)) if isinstance(command, (list, tuple)) else str(command)
            asked = "folder command" if makes_folders_only(command) else "git query"
            sandbox._note(f"{asked} {shown[:80]!r}" if query else f"program {shown[:80]!r}", sandbox.queried if query else sandbox.unrun)
            text = any(kwargs.get(k) for k in ("text", "universal_newlines", "encoding", "errors"))
            piped = {k: kwargs.get(k) == subprocess.PIPE for k in ("stdout", "stderr")}
            # no pid: none was started (0 would name vaelint's own process group to os.kill)
            self.args, self.returncode, self.pid = command, 0 if query else 127, None
            self.stdin = (io.StringIO() if text else io.BytesIO()) if kwargs.get("stdin") == subprocess.PIPE else None
            self.stdout, self.stderr = ((io.StringIO("") if text else io.BytesIO(b"")) if piped[k] else None for k in ("stdout", "stderr"))
            self._vaelint_finished = True  # wait() and poll() answer its returncode as a finished one's

        def communicate(self, input=None, timeout=None):  # noqa: A002 - subprocess's own name
            if not getattr(self, "_vaelint_finished", False):
                return super().communicate(input, timeout)
            return (self.stdout.read() if self.stdout else None, self.stderr.read() if self.stderr else None)

    return Popen


def makes_folders_only(command) -> bool:
    """``mkdir -p results/run1`` (``subprocess.run("mkdir -p ...", shell=True)``, a sweep's output folder): a
    command that only makes folders, answered as done (the code's own ``os.makedirs`` is: a folder the
    run made answers as the empty folder it would be). It was refused, and a sweep's ``except`` hid why."""
    import shlex

    try:
        words = shlex.split(command) if isinstance(command, str) else [str(c) for c in command]
    except ValueError:
        return False
    if isinstance(command, str) and any(c in command for c in ";&|`$>"):
        return False  # a shell line that does more than make folders (mkdir -p out && curl ...)
    return len(words) >= 2 and words[0] == "mkdir"


_LAUNCHERS = ("torchrun", "accelerate", "deepspeed", "lightning")  # programs that run a script given them


def python_script_run(command) -> str:
    """Where the code runs a Python script of its own as a program (``python train.py --epochs 3``,
    ``[sys.executable, "train.py", ...]``, ``torchrun --nproc_per_node 2 train.py``, ``python -m
    pkg.train``): the check to run instead, ``vaelint check train.py --script-args "--epochs 3"``;
    "" for any other program."""
    import sys

    try:
        words = [str(w) for w in command] if isinstance(command, (list, tuple)) else shlex.split(str(command))
    except ValueError:
        return ""
    if not words:
        return ""
    first = os.path.basename(words[0])
    if not (first.startswith("python") or words[0] == sys.executable or first in _LAUNCHERS):
        return ""
    for i, word in enumerate(words[1:], start=1):
        module = words[i + 1] if word == "-m" and i + 1 < len(words) else None
        if word.endswith(".py") or (module and first.startswith("python")):
            target = word if module is None else module.replace(".", "/") + ".py"
            rest = words[i + 1 :] if module is None else words[i + 2 :]
            args = f' --script-args "{shlex.join(rest)}"' if rest else ""
            return f"vaelint check {target}{args}"
    return ""


# what git answers about a checkout without changing it: the commit, the branch, its state
_GIT_QUERIES = {"rev-parse", "describe", "log", "status", "diff", "show", "branch", "rev-list", "symbolic-ref"}


def a_git_query(command) -> bool:
    """``git rev-parse HEAD``, ``git describe --always``: a question about the checkout, which the code
    logs beside its run (no data, no model depends on it). It is not run: it answers with no output
    and status 0, and the report says it was not run."""
    try:
        words = [str(w) for w in command] if isinstance(command, (list, tuple)) else shlex.split(str(command))
    except ValueError:
        return False
    verbs = [w for w in words[1:] if not w.startswith("-")]
    return len(words) > 1 and os.path.basename(words[0]) == "git" and bool(verbs) and verbs[0] in _GIT_QUERIES
