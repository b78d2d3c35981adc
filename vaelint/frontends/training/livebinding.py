"""A data loader's iterator in the run (:mod:`.live`), and the frame that took its batch as it
is once the batch is bound: its variables at its next line, and copies of what it advances
with ``next(NAME)``."""

from __future__ import annotations

import sys


def pristine(frame, values: dict) -> dict:
    """Copies of the objects the frame advances with ``next(NAME)`` (a KL warm-up object), as
    they are when the batch comes in: the run advances the user's own, each step run starts
    from a copy of this (vaelint/frontends/training/steppedobjects.py, stepped_iterators)."""
    import ast
    import copy

    from vaelint.frontends.training.livestep import located_frame

    scope = located_frame(frame)[1]
    if scope is None:
        return {}
    out = {}
    for node in ast.walk(scope.node):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "next" and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Name) and arg.id in values and arg.id not in out and copyable(values[arg.id]):
                try:
                    out[arg.id] = copy.deepcopy(values[arg.id])
                except Exception:  # noqa: BLE001 - a generator or a loader's iterator: not copied
                    pass
    return out


def moved_globals(frame, values: dict) -> dict:
    """{(id(module namespace), name): value} of each global a function the frame calls moves from
    its own last value (``global beta`` in ``loss_fn``), as it is when the batch comes in: each run
    of the step starts from it (vaelint/frontends/training/program.py)."""
    from vaelint.frontends.training.accumulating import globals_moved
    from vaelint.frontends.training.livestep import located_frame

    scope = located_frame(frame)[1]
    if scope is None:
        return {}
    body = getattr(scope.node, "body", [])
    try:
        found = globals_moved(body, {**frame.f_globals, **values})
    except Exception:  # noqa: BLE001 - a function whose source cannot be read: nothing moved
        return {}
    return {(id(space), name): space[name] for space, name in found if name in space}


def copyable(value) -> bool:
    """A warm-up object, not a data loader's iterator or a generator (a copy would read data)."""
    import types

    from torch.utils.data.dataloader import _BaseDataLoaderIter

    return not isinstance(value, (OneBatch, _BaseDataLoaderIter, types.GeneratorType))


def after_binding(frame, taken) -> None:
    """Snapshot ``frame``'s variables at its next line: the batch is bound by then. The frame's
    own tracer and the global one (a debugger's, coverage's) are put back right after."""
    previous = sys.gettrace()
    previous = getattr(previous, "_vaelint_original", previous)  # a second take before the first's line
    own = frame.f_trace
    own = getattr(own, "_vaelint_original", own)

    def local(f, event, arg):
        if event == "line" and f is frame:
            taken.after = dict(f.f_locals)
            taken.pristine = pristine(f, taken.after)
            taken.after.update(taken.pristine)
            taken.moved = moved_globals(f, taken.after)
            f.f_trace = own
            sys.settrace(previous)
            return own
        return local

    def global_(f, event, arg):
        return previous(f, event, arg) if previous is not None else None

    local._vaelint_original, global_._vaelint_original = own, previous
    frame.f_trace = local
    sys.settrace(global_)


class OneBatch:
    """A data loader's iterator in the run: a batch at each place the code takes one, the end of
    the data where a place takes one again (Watch.take decides): a step that draws a second batch
    from the same iterator (``x, _ = next(it); x_aux, _ = next(it)``, a critic's fresh batch) gets
    it, a loop that comes round ends."""

    # the watch of the step being run again now (LiveRuntime.stepping), if any: an iterator the
    # code made before its step (``it = iter(loader)`` above the loop) gives the step's next()
    # its batches from there once the run that made it is over
    stepping = None

    def __init__(self, watch, loader):  # watch: the run's Watch (vaelint/frontends/training/live.py)
        self.watch, self.loader = watch, loader

    def __iter__(self):
        return self

    def __next__(self):
        watch = self.watch if getattr(self.watch, "reached", None) is None else OneBatch.stepping
        if watch is None:
            raise StopIteration  # the run is over (its step is reached): a later reading of the code's lines takes no batch
        return watch.take(self.loader)

    def __len__(self):
        return 1

    def __getattr__(self, item):
        # what the code reads of it that a loader's iterator lacks (`iter(loader).next()`, torch
        # 0.4's): the error Python gives for torch's own iterator, never vaelint's class name
        raise AttributeError(f"'_SingleProcessDataLoaderIter' object has no attribute {item!r}")
