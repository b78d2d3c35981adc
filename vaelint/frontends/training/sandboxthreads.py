"""Threads the code starts outlive the run that started them: tensorboard's ``SummaryWriter``
flushes its event file from a thread of its own, a logger's queue listener writes when its queue
fills. The guards of :mod:`.sandbox` come off when a setup or step run ends, and such a thread,
still alive, would then write into the user's folder (on a GPU machine it did: the writer's
``io.open(..., 'ab')`` of an event file in ``runs/``, which failed there only because the folder
had not been made, and its failure came back at the next ``add_scalar``).

So a thread started while the guards were on keeps them: when it writes after they came off,
its writes take the same path as under the guards (a kept file, a sink, a skipped call). Every
other thread, vaelint's own included, writes as it otherwise would. The guard is put on once per
process, and only where such a thread lives on."""

from __future__ import annotations

import threading
import weakref

_LINGERING: weakref.WeakSet = weakref.WeakSet()  # the code's threads alive after their run
_GUARDED = False
_SANDBOX: list = [None]  # the latest guarded run's sandbox: its notes and free folders


class _Latest:
    def __getattr__(self, name):
        return getattr(_SANDBOX[0], name)


def threads_now() -> set[threading.Thread]:
    return set(threading.enumerate())


def keep_guarded(sandbox, before: set[threading.Thread]) -> None:
    """After a guarded run: the threads it started that still live write only as under the guards."""
    started = [t for t in threading.enumerate() if t not in before and t.is_alive() and t is not threading.main_thread()]
    if not started:
        return
    for thread in started:
        _LINGERING.add(thread)
    _SANDBOX[0] = sandbox
    _guard_once(_Latest())


def lingering(thread: threading.Thread | None = None) -> bool:
    return (thread or threading.current_thread()) in _LINGERING


def _guard_once(sandbox) -> None:
    global _GUARDED
    if _GUARDED:
        return
    _GUARDED = True
    import builtins
    import io
    import os
    import shutil

    from vaelint.frontends.training.sandboxwrites import OS_WRITES, SHUTIL_WRITES, guarded_open, guarded_os_open, skipped

    opened = _either(builtins.open, guarded_open(sandbox, builtins.open))
    builtins.open = opened
    io.open = opened
    os.open = _either(os.open, guarded_os_open(sandbox, os.open))
    for name in OS_WRITES:
        real = getattr(os, name)
        setattr(os, name, _either(real, skipped(sandbox, f"os.{name}", real)))
    for name in SHUTIL_WRITES:
        real = getattr(shutil, name)
        setattr(shutil, name, _either(real, skipped(sandbox, f"shutil.{name}", real)))


def _either(real, guarded):
    """``guarded`` in a lingering thread of the code, ``real`` in every other."""

    def call(*args, **kwargs):
        return guarded(*args, **kwargs) if threading.current_thread() in _LINGERING else real(*args, **kwargs)

    call.__wrapped__ = real
    return call
