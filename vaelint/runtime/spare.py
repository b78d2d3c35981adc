"""A worker started before the command line is read, importing torch meanwhile.

A first check of one target spends about 1 s in ``import torch`` and, before
that, 0.1-0.2 s in the parent: typer parsing ``check``'s options, the settings,
the result cache's lookup. Done one after the other, they add up. So
``vaelint check`` forks this spare first thing (vaelint/runtime/launch.py); it imports
torch and vaelint's analysis on a second core while the parent reads the command
line, then waits for its one target. When targets run one at a time, the parent
hands it the first that misses the cache (vaelint/runtime/runner.py) as soon as it knows
it: with one target the parent never imports torch; with more, it imports torch
for the rest while the spare runs the first. The spare is that target's worker,
the same code as a forked one (vaelint/runtime/inworker.py ``work``), with the same
containment.

Any other outcome (every target cached, targets side by side with --jobs, --help,
a usage error) lets it go: it is killed, unread, before the parent imports torch
or exits. It is not started
with one core (it would take that core from the parent), where fork is missing,
under ``VAELINT_IN_PROCESS=1``, or with ``VAELINT_SPARE=0`` (``VAELINT_SPARE=1``
starts it even on one core).
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from dataclasses import dataclass


@dataclass
class Spare:
    pid: int
    requests: int  # the parent's end of the pipe its one request goes down
    messages: int  # the parent's end of the pipe its stages and result come up
    captured: object  # the temporary file its stdout and stderr go to, once it runs the target


_spare: Spare | None = None  # started, waiting for a target
_handed: tuple[tuple[str, int], Spare] | None = None  # ((target, id(its options)), the spare running it)


def wanted(argv: list[str]) -> bool:
    """Whether this command line will most likely check a target in a worker."""
    setting = os.environ.get("VAELINT_SPARE")  # "0": never; "1": even on one core (the tests)
    if not hasattr(os, "fork") or os.environ.get("VAELINT_IN_PROCESS") or setting == "0":
        return False
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if cores < 2 and setting != "1":
        return False
    return bool(argv) and argv[0] == "check" and not ({"--help", "-h", "--show-settings"} & set(argv))


def start(argv: list[str]) -> None:
    """Fork the spare, when ``wanted``; the parent returns at once."""
    global _spare
    if _spare is not None or not wanted(argv):
        return
    requests_in, requests_out = os.pipe()
    messages_in, messages_out = os.pipe()
    captured = tempfile.TemporaryFile()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(requests_out)
        os.close(messages_in)
        _serve(requests_in, messages_out, captured)  # never returns
    os.close(requests_in)
    os.close(messages_out)
    _spare = Spare(pid, requests_out, messages_in, captured)


def available() -> bool:
    """Whether a spare is waiting (started, not handed a target, still alive)."""
    global _spare
    if _spare is None:
        return False
    try:
        pid, _status = os.waitpid(_spare.pid, os.WNOHANG)
    except ChildProcessError:
        pid = _spare.pid
    if pid == 0:
        return True
    _close(_spare, reaped=True)  # it died importing (torch broken, say): the parent's own import will say why
    _spare = None
    return False


def hand(target: str, options, threads: int | None) -> bool:
    """Give the waiting spare its target now, before the parent's own imports (with
    several targets, the first runs beside them); ``take`` returns it when that
    target's turn comes. Whether it took it (the arguments of vaelint/runtime/inworker.py
    ``work`` that are not the pipe and the file go down the pipe, pickled)."""
    global _spare, _handed
    from vaelint.runtime.inworker import send  # not before the fork: this module is imported first thing

    if not available():
        return False
    spare = _spare
    try:
        send(spare.requests, (target, options, threads))
    except Exception:  # noqa: BLE001 - it died since the look, or an option does not pickle: a forked worker inherits it
        discard()
        return False
    os.close(spare.requests)
    _spare, _handed = None, ((target, id(options)), spare)
    return True


def take(target: str, options) -> Spare | None:
    """The spare running this target, if it was handed it; else None."""
    global _handed
    if _handed is None or _handed[0] != (target, id(options)):
        return None
    spare, _handed = _handed[1], None
    return spare


def discard(handed: bool = True) -> None:
    """Kill the waiting spare and, at exit (``handed``), one handed a target nobody
    waited for; reap them."""
    global _spare, _handed
    for spare in [_spare, _handed[1] if handed and _handed else None]:
        if spare is None:
            continue
        try:
            os.kill(spare.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _close(spare, reaped=False)
    _spare = None
    if handed:
        _handed = None


def _close(spare: Spare, reaped: bool) -> None:
    if not reaped:
        try:
            os.waitpid(spare.pid, 0)
        except ChildProcessError:
            pass
    for fd in (spare.requests, spare.messages):
        try:
            os.close(fd)
        except OSError:
            pass
    spare.captured.close()


def _serve(requests: int, messages: int, captured) -> None:
    """The spare's life: import what a worker needs, wait for the target, run it."""
    code = 0
    try:
        # until it has a target, what it prints is nobody's: an unused spare is silent
        quiet = os.open(os.devnull, os.O_WRONLY)
        os.dup2(quiet, 1)
        os.dup2(quiet, 2)
        from vaelint.runtime.inworker import preload, work

        preload()
        request = _read_request(requests)
        if request is None:  # the parent ended without a target for it
            os._exit(0)
        target, options, threads = request
        work(target, options, messages, captured, True, threads)  # never returns; fresh: it ran no torch op
    except BaseException:  # noqa: BLE001 - the parent sees a worker that ended without a result
        code = 70
    os._exit(code)


def _read_request(fd: int):
    """The one message ``hand`` sent (vaelint/runtime/inworker.py ``send``: length, then the
    pickle), read to the pipe's end; None when the parent closed it without one."""
    import pickle  # the spare's own: the parent that only forks it never needs it

    data = b""
    while chunk := os.read(fd, 1 << 16):
        data += chunk
    return pickle.loads(data[4:]) if len(data) > 4 else None
