"""Pools the code starts for its data (:mod:`.sandbox`): joblib's ``Parallel(n_jobs=-1)``,
``multiprocessing.Pool``, ``concurrent.futures.ProcessPoolExecutor``. vaelint starts no
process, so their tasks run here, one after another, with the results the pool would have
given (CTGAN's data transformer fits its columns with ``Parallel(n_jobs=-1)``); the report
says so. Thread pools are left as they are."""

from __future__ import annotations

import concurrent.futures
import functools
import itertools
import sys

_MODULES = ("joblib", "joblib.parallel", "multiprocessing.pool", "concurrent.futures", "concurrent.futures.process")


def pools_in_process(sandbox) -> None:
    from vaelint.frontends.training.sandboxnative import after_import

    sandbox.pooled = getattr(sandbox, "pooled", [])
    executor = _executor_class(sandbox)

    def patch_module(name: str) -> None:
        module = sys.modules.get(name)
        if module is None:
            return
        if name in ("joblib", "joblib.parallel"):
            parallel = getattr(module, "Parallel", None)
            if isinstance(parallel, type) and not getattr(parallel.__init__, "__vaelint_serial__", False):
                sandbox._patch(parallel, "__init__", _one_job(parallel.__init__, sandbox))
        elif name == "multiprocessing.pool":
            sandbox._patch(module, "Pool", _pool_class(sandbox))
        else:  # concurrent.futures (which caches the class it hands out) and its .process
            sandbox._patch(module, "ProcessPoolExecutor", executor)

    after_import(sandbox, _MODULES, patch_module)


def _said(sandbox, what: str) -> None:
    sandbox._note(what, sandbox.pooled)


def _one_job(real_init, sandbox):
    @functools.wraps(real_init)
    def __init__(self, n_jobs=None, *args, **kwargs):
        if n_jobs not in (None, 1):
            _said(sandbox, f"joblib.Parallel(n_jobs={n_jobs!r})")
        kwargs.pop("backend", None)  # a backend named (loky, multiprocessing): one job needs none
        real_init(self, n_jobs=1, **kwargs)

    __init__.__vaelint_serial__ = True
    return __init__


class _Done:
    """What ``apply_async``/``map_async`` hand back: the result, already there."""

    def __init__(self, value=None, error=None):
        self._value, self._error = value, error

    def get(self, timeout=None):
        if self._error is not None:
            raise self._error
        return self._value

    def wait(self, timeout=None):
        return None

    def ready(self):
        return True

    def successful(self):
        return self._error is None


def _pool_class(sandbox):
    class Pool:
        """``multiprocessing.Pool(n)``: its tasks run in this process, in order."""

        def __init__(self, processes=None, initializer=None, initargs=(), *args, **kwargs):
            _said(sandbox, f"multiprocessing.Pool({'' if processes is None else processes})")
            if initializer is not None:
                _initialize(initializer, initargs, processes)

        def map(self, func, iterable, chunksize=None):
            return [func(x) for x in iterable]

        def imap(self, func, iterable, chunksize=1):
            return (func(x) for x in iterable)

        imap_unordered = imap

        def starmap(self, func, iterable, chunksize=None):
            return list(itertools.starmap(func, iterable))

        def apply(self, func, args=(), kwds=None):
            return func(*args, **(kwds or {}))

        def apply_async(self, func, args=(), kwds=None, callback=None, error_callback=None):
            return self._async(lambda: func(*args, **(kwds or {})), callback, error_callback)

        def map_async(self, func, iterable, chunksize=None, callback=None, error_callback=None):
            return self._async(lambda: [func(x) for x in iterable], callback, error_callback)

        def starmap_async(self, func, iterable, chunksize=None, callback=None, error_callback=None):
            return self._async(lambda: list(itertools.starmap(func, iterable)), callback, error_callback)

        @staticmethod
        def _async(work, callback, error_callback):
            try:
                value = work()
            except Exception as e:  # noqa: BLE001 - handed back as the pool hands back a task's error
                if error_callback is not None:
                    error_callback(e)
                return _Done(error=e)
            if callback is not None:
                callback(value)
            return _Done(value)

        def close(self):
            return None

        join = terminate = close

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    return Pool


def _executor_class(sandbox):
    class ProcessPoolExecutor(concurrent.futures.Executor):
        """``ProcessPoolExecutor(n)``: each task runs when it is submitted, in this process."""

        def __init__(self, max_workers=None, *args, **kwargs):
            _said(sandbox, f"ProcessPoolExecutor({'' if max_workers is None else max_workers})")

        def submit(self, fn, /, *args, **kwargs):
            future = concurrent.futures.Future()
            try:
                future.set_result(fn(*args, **kwargs))
            except Exception as e:  # noqa: BLE001 - the future holds the task's error, as a pool's does
                future.set_exception(e)
            return future

    return ProcessPoolExecutor


# seconds a pool's initializer may take before it is taken for a worker's loop (it waits on a queue)
_INITIALIZER_WAIT = 2.0


def _initialize(initializer, initargs, processes) -> None:
    """A pool's initializer, run as each worker would run it: most set globals and return; one that
    loops over a task queue until it reads None (a producer/consumer pool, fed after Pool() returns)
    is a worker of its own, and goes on in threads beside the code instead of blocking it forever.
    Before, the check waited on that queue until its timeout, blaming a forward that never returned."""
    import threading

    count = max(1, min(int(processes or 1), 8))
    threads = [threading.Thread(target=initializer, args=tuple(initargs), daemon=True) for _ in range(count)]
    threads[0].start()
    threads[0].join(_INITIALIZER_WAIT)
    if not threads[0].is_alive():
        return  # an initializer that sets up and returns: one run of it is what each worker does
    for thread in threads[1:]:
        thread.start()
