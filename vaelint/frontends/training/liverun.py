"""Running training code as written to its first VAE backward (:mod:`.live`), and the
Program of the step read off its frames (:mod:`.livestep`).

The target runs as Python runs it: a script with its main guard taken and
``sys.argv`` from ``--script-args`` (argparse, Hydra, a YAML config the code opens),
a named function or method called (after the script's own way to it, when it has
one). It runs in the sandbox, with the stand-in packages; the data loaders give one
batch per iterator (:func:`batch_maker`), and the run ends at the backward.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import os
from dataclasses import dataclass, field

from vaelint.errors import VaelintError
from vaelint.frontends.build import OPTIMIZER_NAMES, OptimizerStandIn, annotated_module, resolved_init
from vaelint.frontends.training.astbuild import RT
from vaelint.frontends.training.batchuse import BatchUse
from vaelint.frontends.training.ipython import INJECTED
from vaelint.frontends.training.live import Reached, Stopped, Watch, _OneBatch, watching
from vaelint.frontends.training.livemain import main_module_kept, main_name
from vaelint.frontends.training.liveparams import data_parameter
from vaelint.frontends.training.livepatch import Patches
from vaelint.frontends.training.runtime import Runtime, StandIn, StepLoss
from vaelint.frontends.training.sites import Boundary
from vaelint.source.astutil import is_main_guard, source_segment
from vaelint.source.frames import user_frame_of_traceback


@dataclass
class LiveRuntime(Runtime):
    """The runtime of a step read off a run: its backward ends the step wherever it is
    written (a function the step calls, ``accelerator.backward``), another backward
    (a discriminator's) does nothing, and loaders give one batch."""

    site: tuple = ("", 0, 0)  # (path, first line, last line) of the backward's statement
    batches: object = None  # (loader, frame) -> a batch
    stops: list = field(default_factory=list)  # (where, error) of what ended the run
    guard_stops: list = field(default_factory=list)  # those of the main guard's block
    stopped_here: bool = False  # vaelint ended the run (a second batch), not the code
    via: str = ""  # the script run to reach a named target (main.py for solver.py:Solver.train)
    ended: StepLoss | None = None  # the step's end, once raised in a step run
    missing_used: list | None = None  # the run's uses of names whose import failed (run_target)
    batch_count: object = None  # () -> the batches the run has taken so far (the watch's count)
    stop_batches: list = field(default_factory=list)  # how many it had taken at each of the stops
    watch_now: object = None  # () -> (the last batch taken, the loops whose data was ended) so far
    stop_watch: list = field(default_factory=list)  # that, at each of the stops
    caught: list = field(default_factory=list)  # (where, text, missing file) the code caught and printed (livecaught.py)
    missed: list = field(default_factory=list)  # (where, file name) of files the code read that are not here

    BatchUse = BatchUse

    def loss(self, value):
        self.ended = StepLoss(value)
        raise self.ended

    def at_the_stop(self, watch) -> tuple:
        """(the last batch taken, the loops whose data vaelint had ended) when the run first stopped."""
        return self.stop_watch[0] if self.stop_watch and self.stop_watch[0] is not None else (watch.taken, watch.rounds)

    def taken_before_the_stop(self, watch) -> int:
        """The batches the run had taken when it first stopped (a failed stand-in's loop may take one after)."""
        return self.stop_batches[0] if self.stop_batches else watch.batches

    def ending(self) -> bool:
        """Has the step reached its backward (its ``finally:`` blocks then do not run)?"""
        return self.ended is not None

    def swallowed(self, line: int):
        """The step's end, raised and swallowed by the code on the way out: its loss all the same."""
        if self.ended is not None:
            return self.ended.value
        return self.not_reached(line)

    @contextlib.contextmanager
    def stepping(self):
        import sys

        import torch

        from vaelint.source.frames import is_user_file

        self.ended = None
        path, first, last = self.site

        def ends(t):
            f = sys._getframe(2)
            while f is not None and not is_user_file(f.f_code.co_filename):
                f = f.f_back
            if f is not None and f.f_code.co_filename == path and first <= f.f_lineno <= last:
                self.ended = StepLoss(t)
                raise self.ended
            return None  # another network's backward: passed over

        patches = Patches()
        patch = patches.set

        patch(torch.Tensor, "backward", lambda t, *a, **k: ends(t))
        proxy_getattr = torch.fx.Proxy.__getattr__

        def traced_getattr(proxy, name):  # torch.fx tracing the step: loss.backward() on a Proxy
            return (lambda *a, **k: ends(proxy)) if name == "backward" else proxy_getattr(proxy, name)

        patch(torch.fx.Proxy, "__getattr__", traced_getattr)
        patch(torch.autograd, "backward", lambda ts, *a, **k: ends(ts[0] if isinstance(ts, (tuple, list)) else ts))
        # a batch the code took as NumPy arrays is bound as tensors (the capture's, at its batch
        # sizes): torch.from_numpy(batch) takes them as they are
        from_numpy = torch.from_numpy
        patch(torch, "from_numpy", lambda a: a if isinstance(a, (torch.Tensor, torch.fx.Proxy)) else from_numpy(a))
        watch = Watch([], self.batches)
        patch(torch.utils.data.DataLoader, "__iter__", lambda loader: _OneBatch(watch, loader))
        patch(_OneBatch, "stepping", watch)
        try:
            yield
        finally:
            patches.restore()

    def stopped(self, error: BaseException, guard: bool = False):
        """A top-level statement failed (``guard``: the main guard's block)."""
        if isinstance(error, (Reached, Stopped, StepLoss)):
            return
        loc = user_frame_of_traceback(error.__traceback__)
        self.stops.append((loc.where() if loc else "", error))
        self.stop_batches.append(self.batch_count() if callable(self.batch_count) else 0)
        self.stop_watch.append(self.watch_now() if callable(self.watch_now) else None)
        if guard:
            self.guard_stops.append(self.stops[-1])


# --------------------------------------------------------------------------- the run


def run_target(ref, request, home, watch: Watch, runtime: LiveRuntime, sandbox, sites: dict):
    """Run the target as written; the capture of its VAE backward, or None. The uses of names whose
    import failed that this run made are kept on ``runtime`` (what the code's except caught is said
    of this run, not of a reading of the code after it, which runs lines this run never reached)."""
    from vaelint.frontends.placeholders import MISSING_USED

    try:
        return _run_target(ref, request, home, watch, runtime, sandbox, sites)
    finally:
        runtime.missing_used = list(MISSING_USED)


def _run_target(ref, request, home, watch: Watch, runtime: LiveRuntime, sandbox, sites: dict):
    from vaelint.frontends import standins
    from vaelint.frontends.build import record_module_sites
    from vaelint.frontends.load import load_module
    from vaelint.frontends.training.livecaught import caught_and_printed
    from vaelint.frontends.training.liveunittest import tests_raise
    from vaelint.frontends.training.scriptargv import script_argv

    body = [_watched(_taken(s), is_main_guard(s)) for s in home.tree.body]
    if not ref.name:  # run as `python FILE` runs it: its module is __main__ (Hydra finds conf/ beside it so)
        body[:0] = main_name()
    with (
        main_module_kept(),
        standins.installed(),
        sandbox.active(),
        script_argv(home.path, request.script_args, runtime),
        record_module_sites(sites),
        watching(watch),
        given_items(request.inputs),
        tests_raise(),
        caught_and_printed(runtime),
    ):
        try:
            module = load_module(
                home.path,
                statements=body,
                argv=request.script_args,
                inject={RT: runtime, **INJECTED},
                failures=runtime.failures,
                as_written=True,
            )
            if ref.name:
                caller = caller_script(home, ref) if _needs_values(module, ref, request) else None
                if caller is None or not _run_caller(caller, request, runtime, watch):
                    _call_named(module, ref, request, watch)
        except BaseException as e:  # noqa: BLE001 - how the run ended
            if watch.reached is not None:
                # the stop itself, or what the user's `finally` raised over it: the step was reached
                return watch.reached.capture
            if isinstance(e, Stopped):
                runtime.stops.append(("", VaelintError("load", e.message)))
                runtime.stopped_here = True
            elif isinstance(e, VaelintError):
                runtime.stops.append(("", e))
            elif isinstance(e, Exception):  # the user's code failed where nothing caught it
                runtime.stopped(e)
            else:
                raise
    # a stop the code swallowed (a bare `except:` around its step) still reached the step
    return watch.reached.capture if watch.reached is not None else None


@contextlib.contextmanager
def given_items(specs):
    """While the run runs, a stood-in data set's items are of the --input specs, and a user's
    data set whose data is not here stands in (vaelint/frontends/training/livedata.py)."""
    from vaelint.frontends.training import datasets
    from vaelint.frontends.training.livedata import standing_in

    datasets.GIVEN[:] = list(specs)
    try:
        with standing_in(specs):
            yield
    finally:
        datasets.GIVEN.clear()


def _taken(stmt: ast.stmt) -> ast.stmt:
    """The main guard taken, as ``python FILE`` takes it."""
    if is_main_guard(stmt):
        new = copy.copy(stmt)
        new.test = ast.copy_location(ast.Constant(True), stmt.test)
        return new
    return stmt


def _watched(stmt: ast.stmt, guard: bool = False) -> ast.stmt:
    """A top-level statement whose failure is remembered with its innermost line."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)):
        return stmt
    handler = ast.ExceptHandler(
        type=ast.Name("BaseException", ast.Load()),
        name="__vaelint_error",
        body=[
            ast.Expr(
                ast.Call(
                    func=ast.Attribute(ast.Name(RT, ast.Load()), "stopped", ast.Load()),
                    args=[ast.Name("__vaelint_error", ast.Load()), ast.Constant(guard)],
                    keywords=[],
                )
            ),
            ast.Raise(),
        ],
    )
    node = ast.Try(body=[stmt], handlers=[handler], orelse=[], finalbody=[])
    for n in ast.walk(node):
        if not hasattr(n, "lineno") and isinstance(n, (ast.stmt, ast.expr, ast.excepthandler)):
            ast.copy_location(n, stmt)
    return ast.fix_missing_locations(node)


def caller_script(home, ref):
    """The script beside the target (or in the current folder) that builds and calls what
    ``ref`` names, importing it from the target's file: main.py's ``Solver(args).train()``
    for ``solver.py:Solver.train``, its argparse defaults giving ``args``. None for none."""

    from vaelint.frontends.training import is_script, neighbours

    head, stem = ref.name.split(".")[0], os.path.splitext(os.path.basename(home.path))[0]

    def imports_it(node) -> bool:
        if isinstance(node, ast.ImportFrom):
            return (node.module or "").split(".")[-1] == stem and any(a.name in (head, "*") for a in node.names)
        return isinstance(node, ast.Import) and any(a.name.split(".")[-1] == stem for a in node.names)

    found = [
        f
        for f in neighbours(home.path)
        if is_script(f)
        and any(imports_it(n) for n in ast.walk(f.tree))
        and any(isinstance(n, ast.Name) and n.id == head or isinstance(n, ast.Attribute) and n.attr == head for n in ast.walk(f.tree))
    ]
    usual = ("main.py", "train.py", "run.py")
    found.sort(key=lambda f: (not any(is_main_guard(s) for s in f.tree.body), os.path.basename(f.path) not in usual, f.path))
    return found[0] if found else None


def _needs_values(module, ref, request) -> bool:
    """Would calling ``ref.name`` directly leave a parameter standing in (``Solver(args)``)?"""
    parts = ref.name.split(".")
    obj = getattr(module, parts[0], None)
    fns = [obj.__init__, getattr(obj, parts[1], None)] if len(parts) > 1 and isinstance(obj, type) else [obj]
    return any(isinstance(v, StandIn) for fn in fns if callable(fn) for v in _arguments(fn, request.init, True).values())


def _run_caller(caller, request, runtime, watch) -> bool:
    """Run the caller script as ``python CALLER`` runs it, to the step; False where it stopped
    before (its stop is said: the named target is then called directly)."""
    from vaelint.frontends.load import load_module

    # every stop of the caller's is the script's own way failing (runtime.guard_stops): then the
    # named target is called directly, and the note says why
    body = main_name() + [_watched(_taken(s), True) for s in caller.tree.body]
    runtime.via = caller.path
    try:
        load_module(
            caller.path,
            statements=body,
            argv=request.script_args,
            inject={RT: runtime, **INJECTED},
            failures=runtime.failures,
            as_written=True,
        )
    except Exception:  # noqa: BLE001 - where the script stopped is in runtime.guard_stops
        if watch.reached is not None:
            raise
        return False
    return watch.reached is not None


def _call_named(module, ref, request, watch=None):
    """``train.py:train``, ``solver.py:Solver.train``: called, its parameters from
    ``--init`` or standing in."""
    import inspect
    import unittest

    parts = ref.name.split(".")
    obj = getattr(module, parts[0])
    if len(parts) > 1 and isinstance(obj, type) and issubclass(obj, unittest.TestCase):
        case = obj(parts[1])  # a test method: made and set up as unittest runs it (setUpClass, setUp)
        obj.setUpClass()
        case.setUp()
        obj = getattr(case, parts[1])
    elif len(parts) > 1:
        obj = _built(obj, ref, request)
        for p in parts[1:]:
            obj = getattr(obj, p)
    kwargs = _arguments(obj, request.init, skip_self=inspect.ismethod(obj))
    try:
        obj(**kwargs)
    except VaelintError as e:
        stood = data_parameter(obj, kwargs, e, request)  # fit(self, X): rows of --input; train(self, loader): its batches
        if stood is None:
            raise
        kwargs.update(stood)
        if watch is not None:  # the failed call's model calls (on stand-ins) are no step's, its raise left no depth
            watch.model_calls, watch.first_output, watch.depth = [], None, 0
        obj(**kwargs)


def _built(cls, ref, request):
    """The object whose method ``ref`` names, built from --init; its constructor's own failure said at its
    line, as a model target's is (it was said at the method's ``def``, with --script-args advice)."""
    try:
        return cls(**_arguments(cls.__init__, request.init, skip_self=True))
    except (VaelintError, Reached, Stopped, StepLoss):
        raise
    except Exception as e:  # noqa: BLE001 - the user's constructor failed
        loc = user_frame_of_traceback(e.__traceback__)
        where = f" at {loc.where()}" if loc else ""
        said = f"building {cls.__name__} for {ref.name} failed{where}: {type(e).__name__}: {str(e).rstrip('.')}. Check the constructor and the --init values."
        error = VaelintError("load", said)
        error.definition = True  # the named target's own object cannot be made: python stops there too (ways.worth_telling)
        raise error from None


def _arguments(fn, init: dict, skip_self: bool) -> dict:
    import inspect

    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return {}
    out = {}
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in ("self", "cls") and skip_self:
            continue
        if p.name in init:
            out[p.name] = resolved_init({p.name: init[p.name]})[p.name]  # --init model=model.py:VAE: built
        elif p.default is p.empty and (model := annotated_module(fn, p.name)) is not None:
            out[p.name] = model  # Trainer(model: VAE, ...): the class it names, with its defaults
        elif p.default is p.empty and p.name in OPTIMIZER_NAMES:
            out[p.name] = OptimizerStandIn()  # Trainer(model, optimizer): never stepped, as no optimizer is
        elif p.default is p.empty:
            out[p.name] = StandIn(
                f"the parameter {p.name!r} of {getattr(fn, '__qualname__', 'the target')}, which nothing passes",
                f"Name the script that calls it as the target, or give {p.name} with --init {p.name}=VALUE "
                "(data: give one batch's shape with --input, and it stands in as rows of it).",
            )
    return out


# --------------------------------------------------------------------------- the plan, for the Program


class LiveBoundary(Boundary):
    """Where the batch comes in, as the run found it."""

    def text(self, source: str) -> str:
        if self.kind == "loop" and self.sources:
            stmt = self.sources[0]
            return f"for {source_segment(source, stmt.target)} in {source_segment(source, stmt.iter)}"
        if self.kind == "next" and self.sources:
            return source_segment(source, self.sources[0])
        if self.kind == "free":
            return f"{', '.join(self.params)}, the tensors the model is given"
        return f"the parameter{'s' * (len(self.params) > 1)} {', '.join(self.params)}"
