"""Errors the code catches and prints (``except Exception: log.error("...", exc_info=True)``,
``traceback.print_exc()`` around ``main()``): the run then ends without an error of its own and
without a backward, and the reason is only in what it printed. Every such print goes through
``traceback.TracebackException``; while the run runs, the errors it is made for are kept on the
runtime (``caught``), with the user's line they were raised at, for the message to say."""

from __future__ import annotations

import contextlib

_KEPT = 4


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
    try:
        yield
    finally:
        traceback.TracebackException.__init__ = real


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


def caught_said(runtime) -> str:
    """The clause for a run that ended with no error of its own: the first error the code caught
    and printed, where it was raised, and for a file that is not here, what to give."""
    from vaelint.frontends.training.livehints import file_hint

    stopped = {id(error) for _where, error in runtime.stops}
    caught = [(where, error) for where, error in getattr(runtime, "caught", []) if id(error) not in stopped]
    if not caught:
        return ""
    where, error = caught[0]
    text = f"{type(error).__name__}: {error}"[:300]
    return f"; the code caught an error and printed it, then went on: {text} (raised at {where}){file_hint(error)}"
