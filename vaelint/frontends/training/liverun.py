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
from dataclasses import dataclass, field

from vaelint.errors import VaelintError, error_text
from vaelint.frames import display_path, user_frame_of_traceback
from vaelint.frontends.training.astbuild import RT
from vaelint.frontends.training.astutil import is_main_guard, source_segment
from vaelint.frontends.training.live import Reached, Stopped, Watch, watching
from vaelint.frontends.training.livecuda import cuda_kept_on_cpu
from vaelint.frontends.training.runtime import BatchUse, Runtime, StandIn, StepLoss
from vaelint.frontends.training.sites import Boundary


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
    moves: list = field(default_factory=list)

    BatchUse = BatchUse

    @contextlib.contextmanager
    def stepping(self):
        import sys

        import torch

        from vaelint.frames import is_user_file

        saved = []
        path, first, last = self.site

        def ends(t):
            f = sys._getframe(2)
            while f is not None and not is_user_file(f.f_code.co_filename):
                f = f.f_back
            if f is not None and f.f_code.co_filename == path and first <= f.f_lineno <= last:
                raise StepLoss(t)
            return None  # another network's backward: passed over

        def patch(owner, name, value):
            saved.append((owner, name, owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name)))
            setattr(owner, name, value)

        patch(torch.Tensor, "backward", lambda t, *a, **k: ends(t))
        proxy_getattr = torch.fx.Proxy.__getattr__

        def traced_getattr(proxy, name):  # torch.fx tracing the step: loss.backward() on a Proxy
            return (lambda *a, **k: ends(proxy)) if name == "backward" else proxy_getattr(proxy, name)

        patch(torch.fx.Proxy, "__getattr__", traced_getattr)
        patch(torch.autograd, "backward", lambda ts, *a, **k: ends(ts[0] if isinstance(ts, (tuple, list)) else ts))
        watch = Watch([], self.batches)
        patch(torch.utils.data.DataLoader, "__iter__", lambda loader: _once(watch, loader))
        try:
            with cuda_kept_on_cpu(self):
                yield
        finally:
            for owner, name, value in reversed(saved):
                if value is None:
                    delattr(owner, name)
                else:
                    setattr(owner, name, value)

    def stopped(self, error: BaseException, guard: bool = False):
        """A top-level statement failed (``guard``: the main guard's block)."""
        if isinstance(error, (Reached, Stopped, StepLoss)):
            return
        loc = user_frame_of_traceback(error.__traceback__)
        self.stops.append((f"{loc.display_path()}:{loc.line}" if loc else "", error))
        if guard:
            self.guard_stops.append(self.stops[-1])


def _once(watch, loader):
    from vaelint.frontends.training.live import _OneBatch

    return _OneBatch(watch, loader)


# --------------------------------------------------------------------------- batches


def batch_maker(specs: list):
    """(loader, taking frame) -> the batch the loader gives in the run: of the ``--input``
    specs; else of the data set's known shapes; else the loader's own first batch, where
    its data is here."""
    from vaelint.frontends.training.datasets import infer_inputs
    from vaelint.inputs import parse_input_spec

    def make(loader, frame):
        arity = _arity(frame)
        given = [s for s in specs if not s.name]
        if given or specs:
            return _from_specs(given, {s.name: s for s in specs if s.name}, arity, _labels(loader, given))
        inferred = infer_inputs(_as_known(loader))
        if inferred is not None:
            parsed = [parse_input_spec(s) for s in inferred.specs]
            return _from_specs(parsed[:1], {}, arity, parsed[1] if len(parsed) > 1 else None)
        return _real_batch(loader)

    return make


def _from_specs(given: list, named: dict, arity, labels):
    if named and not given:
        out: dict = {}
        for name, spec in named.items():
            out[name.split(".", 1)[-1]] = spec.make(spec.batch)
        return out
    items = [s.make(s.batch) for s in given]
    if labels is not None and (arity is None and len(items) == 1 or arity is not None and arity > len(items)):
        items.append(labels.make(given[0].batch if given else labels.batch))
    if arity is None:
        return items[0] if len(items) == 1 else items
    while len(items) < arity:
        k = len(items)
        items.append(StandIn(
            f"item {k + 1} of the batch, which no --input gives",
            "Give it a value with one more --input (in the batch's order), e.g. --input 8:int64:10 for class labels.",
        ))
    return items


def _labels(loader, given):
    """The labels a known labelled data set gives beside its images (MNIST's digits)."""
    from vaelint.frontends.training.datasets import infer_inputs
    from vaelint.inputs import parse_input_spec

    inferred = infer_inputs(_as_known(loader))
    if inferred is None or len(inferred.specs) < 2:
        return None
    spec = parse_input_spec(inferred.specs[1])
    batch = given[0].batch if given else spec.batch
    return parse_input_spec("x".join(str(d) for d in (batch, *spec.shape[1:])) + f":{spec.dtype}" + (f":{spec.high}" if spec.high else ""))


def _as_known(loader):
    """A loader over torchvision's stand-in data set, seen as over a known data set."""
    from vaelint.frontends.training.datasets import LoaderStandIn, stand_in

    dataset = getattr(loader, "dataset", None)
    args = getattr(dataset, "_vaelint_args", None)
    if args is None:
        return loader
    known = stand_in(type(dataset), args, getattr(dataset, "_vaelint_kwargs", {}))
    return LoaderStandIn(known, getattr(loader, "batch_size", None), None) if known is not None else loader


def _real_batch(loader):
    """The loader's own first batch, its sampler and collate function, in this process."""
    from torch.utils.data.dataloader import _SingleProcessDataLoaderIter

    workers = getattr(loader, "num_workers", 0)
    try:
        object.__setattr__(loader, "num_workers", 0)  # no worker process is started
        return next(_SingleProcessDataLoaderIter(loader))
    except (Exception, StopIteration) as e:  # noqa: BLE001 - the data set is not here
        raise VaelintError(
            "input",
            f"the data loader's data set {type(getattr(loader, 'dataset', None)).__name__} gave no batch here "
            f"({error_text(e)}): give the batch's shapes with --input, one per item of the batch "
            "(e.g. --input 64x1x28x28 --input 64:int64:10).",
        ) from None
    finally:
        object.__setattr__(loader, "num_workers", workers)


def _arity(frame) -> int | None:
    """How many items the statement that takes the batch unpacks it into (None: one name)."""
    if frame is None:
        return None
    from vaelint.frontends.training.live import position
    from vaelint.frontends.training.livestep import place_at, scope_of
    from vaelint.frontends.training.sites import parse_file
    import os

    file = parse_file(os.path.realpath(frame.f_code.co_filename))
    scope = scope_of(file, frame) if file else None
    place = place_at(scope, position(frame)) if scope else None
    if place is None:
        return None
    stmt = place.statement
    if isinstance(stmt, (ast.For, ast.AsyncFor)):
        target, source = stmt.target, stmt.iter
    elif isinstance(stmt, ast.Assign):
        target, source = stmt.targets[0], stmt.value
    else:
        return None
    if isinstance(target, (ast.Tuple, ast.List)) and len(target.elts) == 2 and "enumerate" in ast.dump(source):
        target = target.elts[1]
    return len(target.elts) if isinstance(target, (ast.Tuple, ast.List)) else None


# --------------------------------------------------------------------------- the run


def run_target(ref, request, home, watch: Watch, runtime: LiveRuntime, sandbox, sites: dict):
    """Run the target as written; the capture of its VAE backward, or None."""
    from vaelint.frontends import standins
    from vaelint.frontends.build import record_module_sites
    from vaelint.frontends.load import load_module
    from vaelint.frontends.training.sandbox import script_argv

    body = [_watched(_taken(s), is_main_guard(s)) for s in home.tree.body]
    if not ref.name:  # run as `python FILE` runs it: its module is __main__ (Hydra finds conf/ beside it so)
        main = ast.parse("__name__ = '__main__'").body[0]
        for n in ast.walk(main):
            if hasattr(n, "lineno"):
                n.lineno = n.end_lineno = 1
                n.col_offset = n.end_col_offset = 0
        body.insert(0, main)
    with standins.installed(), sandbox.active(), script_argv(home.path, request.script_args, runtime), \
            record_module_sites(sites), watching(watch), _given(request.inputs):
        try:
            module = load_module(home.path, statements=body, argv=request.script_args, inject={RT: runtime}, failures=runtime.failures)
            if ref.name:
                _call_named(module, ref, request)
        except Reached as reached:
            return reached.capture
        except Stopped as stop:
            runtime.stops.append(("", VaelintError("load", stop.message)))
            runtime.stopped_here = True
        except VaelintError as e:
            runtime.stops.append(("", e))
        except Exception as e:  # noqa: BLE001 - the user's code failed where nothing caught it
            runtime.stopped(e)
    return None


@contextlib.contextmanager
def _given(specs):
    """While the run runs, a stood-in data set's items are of the --input specs."""
    from vaelint.frontends.training import datasets

    datasets.GIVEN[:] = list(specs)
    try:
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
        type=ast.Name("BaseException", ast.Load()), name="__vaelint_error",
        body=[
            ast.Expr(ast.Call(func=ast.Attribute(ast.Name(RT, ast.Load()), "stopped", ast.Load()),
                              args=[ast.Name("__vaelint_error", ast.Load()), ast.Constant(guard)], keywords=[])),
            ast.Raise(),
        ],
    )
    node = ast.Try(body=[stmt], handlers=[handler], orelse=[], finalbody=[])
    for n in ast.walk(node):
        if not hasattr(n, "lineno") and isinstance(n, (ast.stmt, ast.expr, ast.excepthandler)):
            ast.copy_location(n, stmt)
    return ast.fix_missing_locations(node)


def _call_named(module, ref, request):
    """``train.py:train``, ``solver.py:Solver.train``: called, its parameters from
    ``--init`` or standing in."""
    import inspect

    parts = ref.name.split(".")
    obj = getattr(module, parts[0])
    if len(parts) > 1:
        obj = obj(**_arguments(obj.__init__, request.init, skip_self=True))
        for p in parts[1:]:
            obj = getattr(obj, p)
    kwargs = _arguments(obj, request.init, skip_self=inspect.ismethod(obj))
    obj(**kwargs)


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
            out[p.name] = init[p.name]
        elif p.default is p.empty:
            out[p.name] = StandIn(
                f"the parameter {p.name!r} of {getattr(fn, '__qualname__', 'the target')}, which nothing passes",
                f"Name the script that calls it as the target, or give {p.name} with --init {p.name}=VALUE.",
            )
    return out


def why_not(runtime: LiveRuntime, watch: Watch, home) -> str:
    """What ran and where it stopped, for a run that reached no backward."""
    if runtime.stops:
        where, error = runtime.stops[0]
        text = error.message if isinstance(error, VaelintError) else error_text(error)
        taken = watch.taken
        if watch.model_calls and where:
            # past the batch and the model: the step's own code raised (a loss that does not run)
            from vaelint.frontends.sourcemap import where as at

            came = f" (its batch taken at {at(taken.frame.f_code.co_filename, taken.line[0])})" if taken and taken.frame else ""
            return f"the training step{came} raised at {where}, after the model ran: {text}"
        hint = ""
        if isinstance(error, OSError) and not watch.batches:
            hint = (" (its data is not here: give the batch with --input, one per item of the batch, "
                    "e.g. --input 64x784; the code's loaders then give it)")
        return f"running it stopped at {where}: {text}{hint}" if where else f"running it stopped: {text}{hint}"
    failed = [f"{display_path(home.path)}:{line}: {text}" for line, text in runtime.failures]
    if failed:
        return f"running it reached no backward; lines that failed: {'; '.join(failed[:3])}"
    if watch.passed:
        from vaelint.frontends.sourcemap import where

        frame, line, _ = watch.passed[0].frames[-1] if watch.passed[0].frames else (None, (0, 0), None)
        at = f" (at {where(frame.f_code.co_filename, line[0])})" if frame is not None else ""
        return (
            f"running it took {watch.batches} batch(es) and passed over {len(watch.passed)} backward(s){at} whose "
            "loss reaches no random sample (a pretraining phase, another network); no backward of a VAE loss came"
        )
    if watch.batches == 0:
        return "running it took no batch from a data loader and reached no backward"
    return f"running it took {watch.batches} batch(es) and reached no backward"


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
