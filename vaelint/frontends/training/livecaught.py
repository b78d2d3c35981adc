"""Errors the code catches and prints (``except Exception: log.error("...", exc_info=True)``,
``traceback.print_exc()`` around ``main()``): the run then ends without an error of its own and
without a backward, and the reason is only in what it printed. Every such print goes through
``traceback.TracebackException``; while the run runs, the errors it is made for are kept on the
runtime (``caught``), with the user's line they were raised at, for the message to say."""

from __future__ import annotations

import contextlib

_KEPT = 4
# files the code tried to read that are not here, while a run runs: (where, the error)
MISSED: list = []


def missed(error) -> None:
    """A read of a file that is not here (:mod:`.sandboxwrites`): kept with the user's line, for a
    run whose code catches the error and goes on (``except Exception as e: print(e); continue``)."""
    import sys

    if len(MISSED) < _KEPT:
        MISSED.append((raised_at_frame(sys._getframe(1)), error))


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
                if where:
                    runtime.caught.append((where, exc_value))
            real(self, exc_type, exc_value, exc_traceback, *args, **kwargs)
        finally:
            depth[0] -= 1

    traceback.TracebackException.__init__ = init
    MISSED.clear()
    try:
        yield
    finally:
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

    stopped = {id(error) for _where, error in runtime.stops}
    caught = [(where, error) for where, error in getattr(runtime, "caught", []) if id(error) not in stopped]
    if caught:
        where, error = caught[0]
        text = f"{type(error).__name__}: {error}"[:300]
        return f"; the code caught an error and printed it, then went on: {text} (raised at {where}){file_hint(error)}"
    missed = [(where, error) for where, error in getattr(runtime, "missed", []) if id(error) not in stopped and where]
    if missed:  # except Exception as e: print(e); continue
        where, error = missed[0]
        return f"; the code read {error.filename!r} at {where}, which is not here, and went on past the error{file_hint(error)}"
    return ""
