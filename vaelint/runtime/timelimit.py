"""A target's time limit (``--timeout``): an alarm in the analysing thread, so that a
forward that never returns ends as a message, not a hung hook."""

from __future__ import annotations

import contextlib
import signal
import threading


class TimedOut(BaseException):
    """Raised in the analysing thread when the target's time is up (a BaseException,
    so the user's ``except Exception`` cannot swallow it)."""


@contextlib.contextmanager
def time_limit(seconds: float | None):
    if not seconds or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise TimedOut()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
