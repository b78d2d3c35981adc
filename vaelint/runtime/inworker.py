"""What runs inside a worker (vaelint/runtime/worker.py forks it, vaelint/runtime/spare.py starts it
early): the target's analysis with the user's output captured, its stages and its
result sent up a pipe to the parent, then ``os._exit``. Also the path without a
worker (``VAELINT_IN_PROCESS=1``, or no fork): the same analysis, in this process.

torch is imported by what is called here, never when this module is imported: the
parent imports it to fork and wait.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import struct
import sys
import tempfile
import traceback

from vaelint.diagnostics import TargetResult
from vaelint.errors import VaelintError
from vaelint.settings.options import Options
from vaelint.source.frames import user_frame

_preloaded = False


def preload() -> None:
    """What any worker imports: torch, the pipeline, the rule catalogue (vaelint/runtime/spare.py
    does this before it has a target; the parent before it forks). Once a process."""
    global _preloaded
    if _preloaded:
        return
    # torch's import makes some 500,000 objects that live as long as the process. The
    # collector would walk them all in each full collection: twice during the import
    # (0.04 s) and again during the analysis (0.05 s of a 0.17 s first check). Import
    # with it off, then freeze what was imported out of every later collection.
    enabled = gc.isenabled()
    gc.disable()
    try:
        import vaelint.analyze  # noqa: F401
        from vaelint.rules import all_rules

        all_rules()
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
    _preloaded = True


def work(target: str, options: Options, write_end: int, captured, fresh: bool, threads: int | None = None) -> None:
    """Run in the worker, never returns. ``fresh``: no torch op ran before the fork, so torch's
    threads are usable; ``threads``: the cores shared among the workers that run at once."""
    code = 0
    # the user's modules the model imports leave no __pycache__ in their repository
    sys.dont_write_bytecode = True
    contain()
    try:
        os.dup2(captured.fileno(), 1)
        os.dup2(captured.fileno(), 2)
        if not fresh:
            import torch

            torch.set_num_threads(1)
        elif threads is not None:
            import torch

            torch.set_num_threads(threads)

        def progress(stage: str) -> None:
            send(write_end, ("stage", stage))

        def where(signum, frame) -> None:  # the parent asks before it kills: which line?
            loc = user_frame(frame)
            if loc is not None:
                send(write_end, ("where", loc.where()))

        signal.signal(signal.SIGUSR1, where)

        options.progress = progress
        options.on_model = threads_for if fresh else None
        options.timeout = None  # the parent keeps the time, and can kill
        from vaelint.analyze import analyse
        from vaelint.cache.reads import dependencies, record_opens

        opened, modules_before = record_opens(), set(sys.modules)
        try:
            result = analyse(target, options)
        except SystemExit as e:
            result = TargetResult(target)
            result.error = VaelintError("exit", "")
            result.error.exit_code = e.code  # the parent words it with the stage it saw
        from vaelint.cache import reads

        result.dependencies = dependencies(opened, modules_before)
        result.missing = reads.missing(opened, result.dependencies)
        result.absent_names = {p: n for p, n in reads.absent().items() if p not in result.dependencies}
        result.environment = reads.environment()
        result.listings, result.installed = reads.listings(), reads.installed()
        send(write_end, ("result", portable(result)))
    except BaseException as e:  # noqa: BLE001 - a bug of ours: said to the parent as ours, not the model's exit
        traceback.print_exc()
        code = 70
        try:
            send(write_end, (*_whose(e), traceback.format_exc()))
        except BaseException:  # noqa: BLE001 - the pipe is gone: exit 70 says it alone
            pass
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # no interpreter teardown: the parent owns the process's exit


SMALL_MODEL = 20_000_000  # parameters: below this, one thread is faster and steadier
SMALL_INPUT = 200_000  # input elements at the batch (32 x 784 is 25,088; 32 x 3 x 64 x 64 is 393,216)


def threads_for(model, input_elements: int) -> None:
    """One intra-op thread for a small computation: on a loaded 2-core machine
    two threads made a small target's cost swing from 40 to 480 ms. A large
    model, or a small one on a large input (an LSTM over 1000 steps, images of
    64x64 and up), keeps every thread: its runs are where the time goes."""
    import torch
    from torch.nn.parameter import is_lazy

    small = sum(p.numel() for p in model.parameters() if not is_lazy(p)) < SMALL_MODEL  # a lazy one has no size yet
    if small and input_elements < SMALL_INPUT:
        torch.set_num_threads(1)


def _whose(e: BaseException) -> tuple[str, str]:
    """("raised", what) when the innermost frame that raised ``e`` is the user's code, else
    ("internal", what): an exception of vaelint's machinery, wherever it travelled through."""
    from vaelint.source.frames import display_path, is_user_file

    frames = traceback.extract_tb(e.__traceback__) if e.__traceback__ else []
    last = frames[-1] if frames else None
    name = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    if last is not None and is_user_file(last.filename):
        return "raised", f"{name} at {display_path(last.filename)}:{last.lineno}"
    return "internal", name + (f" (at {last.filename}:{last.lineno})" if last else "")


def contain() -> None:
    """The worker leads a process group of its own, so the parent ends whatever the model's code
    starts (a forked child, a pool) with it (vaelint/runtime/worker.py); and the model's code may signal
    only that group: ``os.kill(os.getppid(), SIGTERM)`` is refused with EPERM, which the model's
    code sees as an exception, rather than ending vaelint. This process is the target's alone,
    so the patch ends with it."""
    import errno

    try:
        os.setpgid(0, 0)
    except OSError:
        return  # not permitted here (a session leader): signals stay as they are
    group = os.getpgid(0)
    real_kill, real_killpg = os.kill, os.killpg

    def refuse(what: str):
        return PermissionError(errno.EPERM, f"vaelint's worker signals only the processes the model's code started, not {what}")

    def kill(pid, sig):
        if pid in (0, os.getpid(), -group) or (pid > 0 and _group_of(pid) == group):
            return real_kill(pid, sig)
        raise refuse(f"process {pid}")

    def killpg(pgid, sig):
        if pgid in (0, group):
            return real_killpg(pgid, sig)
        raise refuse(f"process group {pgid}")

    os.kill, os.killpg = kill, killpg


def _group_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None  # gone: the real kill says so


def portable(result: TargetResult) -> TargetResult:
    """Drop what only the worker's graph can hold (the flow rows' nodes) before pickling;
    findings are portable already (vaelint/rulebase.py, Reported keeps the rest)."""
    for row in result.flow:
        row.node = None
    return result


def send(fd: int, message) -> None:
    """One length-prefixed pickle to the parent (which reads while the worker writes)."""
    data = pickle.dumps(message)
    view = memoryview(struct.pack("!I", len(data)) + data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def in_process(target: str, options: Options) -> TargetResult:
    preload()
    from vaelint.analyze import analyse

    sys.stdout.flush()
    sys.stderr.flush()
    captured = tempfile.TemporaryFile()
    saved = os.dup(1), os.dup(2)
    saved_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no __pycache__ in the user's repository
    try:
        os.dup2(captured.fileno(), 1)
        os.dup2(captured.fileno(), 2)
        try:
            result = analyse(target, options)
        except SystemExit as e:
            result = TargetResult(target)
            result.error = VaelintError("exit", f"{target}: the model's code called sys.exit({e.code!r}).")
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        sys.dont_write_bytecode = saved_bytecode
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
    result.output = lines(captured)
    captured.close()
    return result


def lines(captured) -> list[str]:
    """The output a target printed (its first MiB), without blank lines."""
    captured.seek(0)
    text = captured.read(1 << 20).decode("utf-8", "replace")
    return [line for line in text.splitlines() if line.strip()]
