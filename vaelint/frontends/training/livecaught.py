"""Errors the code catches and prints (``except Exception: log.error("...", exc_info=True)``,
``traceback.print_exc()`` around ``main()``): the run then ends without an error of its own and
without a backward, and the reason is only in what it printed. Every such print goes through
``traceback.TracebackException``; while the run runs, the errors it is made for are kept on the
runtime (``caught``), with the user's line they were raised at, for the message to say."""

from __future__ import annotations

import contextlib

_KEPT = 4
# files the code tried to read that are not here, while a run runs: (where, the error)
MISSED: list = []  # (where, the file name): no error held, its traceback keeps the user's frames
_RUNNING: list = []  # non-empty while a live run runs (caught_and_printed)


def missed(error) -> None:
    """A read of a file that is not here (:mod:`.sandboxwrites`): kept with the user's line, for a
    run whose code catches the error and goes on (``except Exception as e: print(e); continue``)."""
    import sys

    if _RUNNING and len(MISSED) < _KEPT and not _the_pythons(error.filename):
        MISSED.append((raised_at_frame(sys._getframe(1)), error.filename))


def _the_pythons(name) -> bool:
    """A file of the Python install or its import path (``lib/python311.zip``, probed by an import of a
    package that is not installed): no data of the code's (a message blamed it before, helper-found)."""
    import os
    import sys

    if not isinstance(name, str) or not name:
        return False
    path = os.path.abspath(name)
    homes = {
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    }
    if "__pycache__" in path.split(os.sep) or path.endswith((".pyc", ".so")):
        return True  # an import's cache or extension, vaelint's own too: no data
    if path.startswith(("/sys/", "/proc/", "/dev/")):
        return True  # what a library asks the system (pandas reading /sys/fs/cgroup/cpu.max): no data (helper-found)
    return name in sys.path or any(path.startswith(os.path.join(h, "")) for h in homes if h)


@contextlib.contextmanager
def caught_and_printed(runtime):
    import traceback

    real = traceback.TracebackException.__init__
    depth = [0]

    def init(self, exc_type, exc_value, exc_traceback, *args, **kwargs):
        depth[0] += 1  # its __cause__ and __context__ are made inside: only the printed error is kept
        try:
            if depth[0] == 1 and isinstance(exc_value, Exception) and len(runtime.caught) < _KEPT:
                where = raised_at(exc_traceback)
                if where:  # what is said of it, not the error (its traceback holds the user's frames)
                    missing = exc_value.filename if isinstance(exc_value, FileNotFoundError) else None
                    runtime.caught.append((where, f"{type(exc_value).__name__}: {exc_value}"[:300], missing))
            real(self, exc_type, exc_value, exc_traceback, *args, **kwargs)
        finally:
            depth[0] -= 1

    traceback.TracebackException.__init__ = init
    MISSED.clear()
    _RUNNING.append(True)
    try:
        yield
    finally:
        _RUNNING.pop()
        traceback.TracebackException.__init__ = real
        runtime.missed = list(MISSED)
        MISSED.clear()


def raised_at(tb) -> str:
    """file:line of the innermost user frame a traceback passes through ("" where none does)."""
    from vaelint.source.cells import where
    from vaelint.source.frames import is_user_file

    found = ""
    while tb is not None:
        code = tb.tb_frame.f_code
        if is_user_file(code.co_filename):
            found = where(code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def raised_at_frame(frame) -> str:
    """file:line of the innermost user frame at or above ``frame`` ("" where none is)."""
    from vaelint.source.cells import where
    from vaelint.source.frames import is_user_file

    while frame is not None:
        if is_user_file(frame.f_code.co_filename):
            return where(frame.f_code.co_filename, frame.f_lineno)
        frame = frame.f_back
    return ""


def caught_said(runtime) -> str:
    """The clause for a run that ended with no error of its own: the first error the code caught
    and printed, where it was raised, and for a file that is not here, what to give."""
    from vaelint.frontends.training.livehints import file_hint

    stopped = {f"{type(error).__name__}: {error}"[:300] for _where, error in runtime.stops}
    caught = [c for c in getattr(runtime, "caught", []) if c[1] not in stopped]
    if caught:
        where, text, missing = caught[0]
        hint = file_hint(FileNotFoundError(2, "No such file or directory", missing)) if missing else ""
        return f"; the code caught an error and printed it, then went on: {text} (raised at {where}){hint}"
    stopped_files = {getattr(error, "filename", None) for _where, error in runtime.stops}
    missed = [(where, name) for where, name in getattr(runtime, "missed", []) if name not in stopped_files and where]
    if missed:  # except Exception as e: print(e); continue
        where, name = missed[0]
        error = FileNotFoundError(2, "No such file or directory", name)
        return f"; the code read {name!r} at {where}, which is not here, and went on past the error{file_hint(error)}"
    return ""


def function_lines(path: str, line: int):
    """(real path, first line, last line) of the function of a user's file that holds ``line``; None at a
    module's top level or outside the user's files."""
    import os

    from vaelint.source.facts import function_span
    from vaelint.source.frames import is_user_file

    span = function_span(path, line) if is_user_file(path) else None
    return (os.path.realpath(path), *span) if span is not None else None


def missed_before_the_stop(runtime) -> list:
    """The reads of files that are not here, caught and gone past, in a function the run's first stop
    passed through (load_texts reads its documents, each "" when missing, then raises "empty
    vocabulary"): the likely cause of that stop. A read elsewhere (a resume's checkpoint in a
    try at the top level) is not: the stop is the code's own (reviewer)."""
    import os

    if not runtime.stops:
        return []
    error = runtime.stops[0][1]
    if isinstance(error, OSError):
        return []  # the stop is itself a read of what is not here (config.json): it says so, past nothing
    spans = []
    tb = getattr(error, "__traceback__", None)
    while tb is not None:
        span = function_lines(tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        if span is not None:
            spans.append(span)
        tb = tb.tb_next
    out = []
    for where, name in getattr(runtime, "missed", []):
        path, _, line = (where or "").rpartition(":")
        real = os.path.realpath(path)
        if line.isdigit() and any(real == p and a <= int(line) <= b for p, a, b in spans):
            out.append((where, name))
    return out


def missed_first(runtime, said: str = "") -> str:
    """A data file that is not here, read in a ``try`` the code went on past before it stopped (a text
    folder's documents, each read as "" when missing: "empty vocabulary" later): the likely cause, said.
    Not a file ``said`` names already (one vaelint stood in for, its hint says so)."""
    import os

    missed = [(w, n) for w, n in missed_before_the_stop(runtime) if os.path.basename(str(n)) not in said]
    if not missed:
        return ""
    where, name = missed[0]
    more = " (and others)" if len(missed) > 1 else ""
    return (
        f" (before that, the code read {name!r}{more} at {where}, which is not here, and went on past the error: its data is "
        "not here. Put it where the code reads it, or give the batch with --input, one per item of the batch, e.g. --input 64x784)"
    )
