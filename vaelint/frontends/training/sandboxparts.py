"""Pieces of the sandbox's guards (vaelint/frontends/training/sandbox.py): a file opened to
write that keeps nothing, optimiser subclasses whose ``step`` is kept from running, and who
starts a program (the user's own line, or a library it imports)."""

from __future__ import annotations

import io
import os
import tempfile


class Sink(io.StringIO):
    """A file opened for writing that keeps nothing."""

    def __init__(self, name: str, binary: bool):
        super().__init__()
        self.name, self._binary = name, binary

    def write(self, data):
        return len(data)

    @property
    def mode(self):
        return "wb" if self._binary else "w"


def no_step_subclass(no_step, base, scheduler: bool = False):
    def init_subclass(cls, **kwargs):
        super(base, cls).__init_subclass__(**kwargs)
        if "step" in cls.__dict__:
            cls.step = first_step_only(cls.__dict__["step"], no_step) if scheduler else no_step

    return init_subclass


def first_step_only(real, no_step):
    """A learning-rate scheduler's ``step``: the one its constructor takes (``_initial_step``, which
    sets the first learning rates and ``_last_lr``) runs; every later one is ``no_step``. Before,
    ``sched.get_last_lr()`` raised an AttributeError plain Python never raises on that code."""

    def step(self, *args, **kwargs):
        if not hasattr(self, "_last_lr"):
            return real(self, *args, **kwargs)
        return no_step(self, *args, **kwargs)

    return step


def subclasses(cls) -> list:
    out, todo = [], [cls]
    while todo:
        c = todo.pop()
        out.append(c)
        todo += c.__subclasses__()
    return out


def started_by_user_code() -> bool:
    """Is the program started by the user's own line (``subprocess.run(["curl", ...])``), not by
    a library it imports? The first frame outside the standard library's process modules says."""
    import sys

    from vaelint.source.frames import is_user_file

    f = sys._getframe(2)
    while f is not None:
        name = f.f_code.co_filename
        base = name.replace("\\", "/").rsplit("/", 1)[-1]
        if base in ("subprocess.py", "os.py", "contextlib.py", "sandbox.py", "sandboxprograms.py") or name.startswith("<"):
            f = f.f_back
            continue
        return is_user_file(name)
    return True


def retrieved(sandbox, refused):
    """``urlretrieve(url, path)`` with --input giving the data: answered as a download that is done
    (the path, no file written), so the code goes on to read the file, which stands in for the
    --input samples as a missing data file does; without --input it is refused, naming --input.
    Before, the advised --input met the same refusal (helper C, alexlinapp/beta-vae)."""

    def fn(url, filename=None, *args, **kwargs):
        if not sandbox.data_given:
            return refused(url, filename, *args, **kwargs)
        if filename is None:
            # urlretrieve(url)[0]: a temporary file's name (none is written), named as the URL names it
            filename = os.path.join(tempfile.gettempdir(), "vaelint-not-downloaded", os.path.basename(str(url).split("?")[0]) or "download")
        name = str(filename)[-40:]
        sandbox._note(f"urlretrieve(..., {name!r}) downloaded nothing; given --input, it answered as done", sandbox.stood_in)
        return str(filename), None

    return fn
