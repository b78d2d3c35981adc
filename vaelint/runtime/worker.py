"""Each target runs in a worker process that cannot take vaelint down.

vaelint runs the user's code (the file's imports, ``__init__``, forward, the
loss). In a worker forked after ``import torch`` (about 0.02 s a target on
Linux), whatever that code does becomes a result instead of vaelint's fate:

* ``sys.exit(n)`` or ``os._exit(n)``: error kind ``exit``, with the code and
  the stage (import, build, forward, loss, rules, confirmation);
* a hang, even one that swallows exceptions in a bare ``except:``: the parent
  kills the worker at ``--timeout`` (kind ``timeout``, with the stage);
* a signal, the kernel's out-of-memory killer included: kind ``killed``, with
  the worker's peak memory;
* output on stdout/stderr (C extensions too: file descriptors 1 and 2 are
  redirected): kept off the report stream, and a few lines shown under the
  target in the text report.

Where ``os.fork`` is missing (Windows), or ``VAELINT_IN_PROCESS=1`` is set, the
target runs in this process with the same output capture and the in-process
time limit; exits and hangs there are not contained, as the report says.

This module is the parent's side: fork (or take the worker started with the
process, vaelint/runtime/spare.py), wait, and word how the worker ended. What runs in
the worker is vaelint/runtime/inworker.py.
"""

from __future__ import annotations

import gc
import os
import pickle
import select
import signal
import struct
import sys
import tempfile
import time

from vaelint.diagnostics import TargetResult
from vaelint.errors import VaelintError
from vaelint.runtime.inworker import in_process, lines, work
from vaelint.settings.options import Options

_HINT_KILLED = (
    "Most often the kernel's out-of-memory killer: check with a smaller --input batch or model size, or on a machine with more memory."
)


# torch's OpenMP thread pool does not survive a fork: a worker forked from a
# process that already ran torch ops hangs in its first parallel op unless it
# runs single-threaded. The command line runs no op itself and says so
# (``fresh=True``); a library caller (a notebook, a test) gets single-threaded
# workers.


def prepare(n_targets: int, paths: list[str] = (), fresh: bool = False) -> None:
    """Import once, in the parent, what every worker would otherwise import again
    (Keras too, when two or more target files import it: 1.4 s a worker); with
    three targets or more, also run a tiny model once (single-threaded, which
    leaves no thread pool behind for the workers to inherit) so each worker
    starts warm."""
    from vaelint.runtime.inworker import preload

    preload()
    if fresh:
        from vaelint.frontends import warm_up_parent

        warm_up_parent(list(paths))
    if n_targets >= 3 and fresh and hasattr(os, "fork"):
        _warm_up()


def _warm_up() -> None:
    import torch

    from vaelint.runtime.warmup import tiny_check

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        tiny_check()
    finally:
        torch.set_num_threads(threads)


def run_target(target: str, options: Options, fresh: bool = False, listener=None) -> TargetResult:
    """``fresh``: this process has run no torch op (the command line), so the
    worker may use torch's threads. ``listener`` hears the worker's stages and a
    tick while the parent waits (vaelint/report/progress.py); a target run in this
    process has its output captured, so it has no listener."""
    if hasattr(os, "fork") and not os.environ.get("VAELINT_IN_PROCESS"):
        return _forked(target, options, fresh, listener)
    return in_process(target, options)


# --------------------------------------------------------------------------- the worker


# torch's intra-op threads per worker when several run at once (--jobs); None: all
THREADS_PER_WORKER: int | None = None


def _forked(target: str, options: Options, fresh: bool, listener=None) -> TargetResult:
    from vaelint.runtime import spare

    taken = spare.take(target, options)  # handed it by vaelint/runtime/runner.py before its turn
    if taken is not None:  # started with the process, torch imported meanwhile
        pid, read_end, captured = taken.pid, taken.messages, taken.captured
    else:
        pid, read_end, captured = _fork(target, options, fresh)
    try:
        result = _wait(pid, target, options, read_end, listener)
    finally:
        os.close(read_end)
        end_group(pid)  # what the model's code started ends with its worker (interrupted too)
    result.output = lines(captured)
    captured.close()
    return result


def _fork(target: str, options: Options, fresh: bool) -> tuple:
    from vaelint.runtime.concurrency import FORK_LOCK
    from vaelint.runtime.inworker import preload

    preload()  # once: the workers forked from here inherit torch (after the spare, --fix's re-checks fork)
    with FORK_LOCK:  # no other thread of the parent holds a lock the child would inherit
        sys.stdout.flush()
        sys.stderr.flush()
        # the parent's objects stay out of the worker's garbage collections, so the
        # worker does not copy every page the parent owns (copy-on-write)
        gc.freeze()
        read_end, write_end = os.pipe()
        captured = tempfile.TemporaryFile()
        pid = os.fork()
        if pid == 0:  # the worker
            os.close(read_end)
            work(target, options, write_end, captured, fresh, THREADS_PER_WORKER)  # never returns
    os.close(write_end)
    return pid, read_end, captured


class _Inbox:
    """Length-prefixed pickles from the worker, as they arrive."""

    def __init__(self, fd: int):
        self.fd, self.buffer, self.closed = fd, b"", False

    def read(self, timeout: float | None) -> list | None:
        """The messages that arrived within ``timeout`` (None: wait); None when time ran out."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return None
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            self.closed = True
        self.buffer += chunk
        messages = []
        while len(self.buffer) >= 4:
            (size,) = struct.unpack("!I", self.buffer[:4])
            if len(self.buffer) < 4 + size:
                break
            messages.append(pickle.loads(self.buffer[4 : 4 + size]))
            self.buffer = self.buffer[4 + size :]
        return messages


def _wait(pid: int, target: str, options: Options, read_end: int, listener=None) -> TargetResult:
    deadline = time.monotonic() + options.timeout if options.timeout else None
    inbox = _Inbox(read_end)
    stages: list[str] = []
    result: TargetResult | None = None
    while not inbox.closed:
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        if options.max_memory:  # look at the worker's memory ten times a second
            wait = 0.1 if wait is None else min(wait, 0.1)
        if listener is not None:  # a progress line: redraw four times a second
            wait = 0.25 if wait is None else min(wait, 0.25)
            listener.tick()
        messages = inbox.read(wait)
        if messages is None and options.max_memory and (_rss(pid) or 0) > options.max_memory:
            os.kill(pid, signal.SIGKILL)
            os.wait4(pid, 0)
            return _error(
                target,
                "killed",
                (
                    f"{target}: the worker went past --max-memory {_size(options.max_memory)} in {_where(stages)} "
                    "and was stopped. Check with a smaller --input batch, or raise --max-memory."
                ),
            )
        if messages is None and (deadline is None or time.monotonic() < deadline):
            continue
        if messages is None:  # time is up, whatever the worker is doing
            line = _ask_where(pid, inbox)
            os.kill(pid, signal.SIGKILL)
            os.wait4(pid, 0)
            at = f", running {line}" if line else ""
            return _error(
                target,
                "timeout",
                f"{target}: the analysis did not finish within {options.timeout:g} s (it was in {_where(stages)}{at}). {_slow(stages)}",
            )
        for kind, value, *more in messages:
            if kind in ("internal", "raised"):
                return _escaped(pid, target, stages, kind, value, more[0] if more else "")
            if kind == "stage":
                stages.append(value)
                if listener is not None:
                    listener.on_stage(value)
            elif kind == "result":
                result = value
        if result is not None:
            break  # its last message: a process the model's code started may hold the pipe open
    return _ended(pid, target, stages, result)


def _slow(stages: list[str]) -> str:
    """What to do about a check that ran out of time, by where it was."""
    if not stages or stages[-1] in ("import", "build"):
        # the code's own run, before any forward of vaelint's: its setup
        return (
            "The code's own run did not reach its first training step in that time: a setup that goes through a whole "
            "data set item by item (a data set standing in for one that is not here has the real one's length), or a "
            "model too slow for its batch: raise --timeout, or check the model alone (PATH.py:MODEL --input SHAPE)."
        )
    return (
        "A forward that never returns, or a model too slow for this input: fix the loop, check with a smaller --input, or raise --timeout."
    )


def _ended(pid: int, target: str, stages: list[str], result: TargetResult | None) -> TargetResult:
    """The worker's result once it has ended; or why none came back (killed, exited)."""
    _pid, status, usage = os.wait4(pid, 0)
    peak = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)  # bytes
    if result is not None:
        if result.error is not None and result.error.kind == "exit":
            code = getattr(result.error, "exit_code", None)
            result.error = VaelintError(
                "exit",
                (
                    f"{target}: the model's code called sys.exit({code!r}) in {_where(stages)}, which ends the "
                    "analysis. Keep exits out of the model's code path (a training script's argument check, "
                    'say), or move them under if __name__ == "__main__":.'
                ),
            )
        return result
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        return _error(
            target,
            "killed",
            (
                f"{target}: the worker running the model was killed by {name} in {_where(stages)}, with a peak "
                f"memory of {_size(peak)}. {_hint_for(sig)}"
            ),
        )
    code = os.WEXITSTATUS(status)
    if code == 70 and not stages:
        return _error(target, "internal", f"vaelint's worker failed while analysing {target}. This is a bug in vaelint.")
    return _error(
        target,
        "exit",
        (
            f"{target}: the model's code ended the process (os._exit({code})) in {_where(stages)}, so no "
            "result came back. Keep process exits out of the model's code path."
        ),
    )


def _escaped(pid: int, target: str, stages: list[str], kind: str, what: str, trace: str) -> TargetResult:
    """An exception no stage catches ended the worker: vaelint's own (``internal``: a bug of
    ours, never the model's exit) or one the model's code raised that is not an Exception
    (``raised``: a KeyboardInterrupt or a BaseException of its own). ``VAELINT_DEBUG=1`` prints
    the worker's traceback."""
    os.waitpid(pid, 0)
    if os.environ.get("VAELINT_DEBUG"):
        sys.stderr.write(trace)
    if kind == "raised":
        return _error(
            target,
            "exit",
            (
                f"{target}: the model's code raised {what} in {_where(stages)}, which ends the analysis as an exit "
                "would. Keep it out of the model's code path."
            ),
        )
    return _error(
        target,
        "internal",
        (
            f"vaelint failed while analysing {target}, in {_where(stages)}: {what}. This is a bug in vaelint, "
            "not in your code; please report it with the model file (VAELINT_DEBUG=1 prints the traceback)."
        ),
    )


def _hint_for(sig: int) -> str:
    """What most often sends this signal: the out-of-memory killer sends SIGKILL; a crash in
    native code (a C extension, a CUDA library, torch itself) raises SIGSEGV, SIGBUS or SIGABRT."""
    if sig in (signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGILL, signal.SIGFPE):
        return (
            "A crash in native code (a C extension the model uses, a CUDA library, or torch itself), not "
            "Python: run the model's forward in plain Python on the same input to see it, and check that the "
            "extension was built for this torch."
        )
    if sig == signal.SIGKILL:
        return _HINT_KILLED
    return "A signal the model's code asked for (an alarm, a timer) or another process sent: look for signal.alarm or os.kill in its code path."


def end_group(pid: int) -> None:
    """Kill what is left of a worker's process group (vaelint/runtime/inworker.py ``contain``): the
    processes the model's code started and left running; the worker itself, when it is
    still running (an interrupt)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return  # nothing left, or the worker never led a group
    try:
        os.waitpid(pid, os.WNOHANG)  # the worker, when an interrupt left it unreaped
    except ChildProcessError:
        pass


def _ask_where(pid: int, inbox: _Inbox) -> str | None:
    """The user's line the worker is running, if it answers within two seconds
    (Python code does; a C call that never returns does not)."""
    try:
        os.kill(pid, signal.SIGUSR1)
    except ProcessLookupError:
        return None
    deadline = time.monotonic() + 2.0
    while not inbox.closed and time.monotonic() < deadline:
        messages = inbox.read(max(0.0, deadline - time.monotonic()))
        if messages is None:
            break
        for kind, value, *_ in messages:
            if kind == "where":
                return value
    return None


def _rss(pid: int) -> int | None:
    """A process's resident memory in bytes (Linux), else None."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _where(stages: list[str]) -> str:
    """The stage the worker was in, as the user thinks of it."""
    if not stages:
        return "import"
    last = stages[-1]
    major = next((s for s in reversed(stages) if s in ("import", "build", "rules", "confirmation")), None)
    if last in ("forward", "loss") and major in ("rules", "confirmation"):
        return f"{last} (the {'confirmation' if major == 'confirmation' else 'simulated-GPU'} run)"
    return last


def _error(target: str, kind: str, message: str) -> TargetResult:
    result = TargetResult(target)
    result.error = VaelintError(kind, message)
    return result


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
    return f"{n:.1f} GiB"
