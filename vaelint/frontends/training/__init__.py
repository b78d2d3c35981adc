"""The training-code front end: a step found in the code that trains the model.

Targets: a script (``train.py``), a function (``train.py:train``,
``train.py:main``), a method (``solver.py:Solver.train``). vaelint finds the
statement that backpropagates the loss (:mod:`.sites`), the way from a
module's top level to it (``main(args)`` under the main guard, ``main.py``
calling ``solver.train(...)``), and where the batch comes in (a loop over a
loader, ``next(...)``); it rewrites that code (:mod:`.rewrite`) so that only
the lines the step needs run (:mod:`.slicer`), inside a sandbox
(:mod:`.sandbox`): the model is built as the code builds it (argparse
defaults or ``--script-args``, config files the code reads), the step is
handed over as a function of the batch, and nothing else runs.
"""

from __future__ import annotations

import ast
import os
import types

from vaelint.errors import VaelintError
from vaelint.frames import display_path
from vaelint.frontends.base import FrontendBase, LoadRequest, Program, Step, TargetRef
from vaelint.frontends.training.astutil import Place, Scope, calls_in, dotted, is_main_guard, places, source_segment
from vaelint.frontends.training.execute import execute
from vaelint.frontends.training.rewrite import RT, build_plan
from vaelint.frontends.training.runtime import StepReady
from vaelint.frontends.training.sites import (
    Frame,
    Site,
    SourceFile,
    chains_to,
    find_boundary,
    find_sites,
    parse_file,
    site_score,
)

_MAX_NEIGHBOURS = 60  # .py files beside the target read for call sites


class TrainingFrontend(FrontendBase):
    name = "training"
    infers_inputs = True

    def detect(self, ref: TargetRef) -> bool:
        return ref.path.endswith(".py") and self.detect_source(ref)

    def detect_source(self, ref: TargetRef) -> bool:
        """Does the target's code (a .py file's, or a notebook's) hold a training step?"""
        if not os.path.isfile(ref.path):
            return False
        file = parse_file(os.path.realpath(ref.path))
        if file is None:
            return False
        if ref.name is None:
            # a step its own top level reaches: a loop at module level, main() under the main
            # guard, a step in a file it imports (main.py -> solver.py); a file that only
            # defines a train() nobody calls is a library, not a script
            if not is_script(file) and not any(find_sites(file.scopes[""])):
                return False
            files = [file] + (neighbours(file.path) if is_script(file) else [])
            return any(True for _ in _script_candidates(file, files))
        scope = file.scopes.get(ref.name)
        return scope is not None and not scope.is_module and bool(_sites_from(file, scope))

    def source_of(self, ref: TargetRef) -> tuple[str, str]:
        """(absolute path, Python source) of the target's file."""
        from vaelint.frontends.load import read_source

        path = os.path.realpath(ref.path)
        return path, read_source(path)

    def load(self, ref: TargetRef, request: LoadRequest) -> Program:
        path, text = self.source_of(ref)
        home = parse_file(path, text)
        if home is None:
            raise VaelintError("load", f"{display_path(path)}: the file does not parse; `python -m py_compile {display_path(path)}` shows why.")
        files = [home] + neighbours(path)
        request.progress("import")
        tried = []
        for site, frames in candidates(ref, home, files, request):
            boundary = find_boundary(frames)
            if boundary is None:
                tried.append(f"line {site.place.line}: no batch found (no loop over a data loader, next(...) or batch parameter on the way to it)")
                continue
            files_by_scope = {id(s.node): f for f in files for s in f.scopes.values()}
            plan = build_plan(files, _file_of_frame(frames[0], files), frames, site, boundary, lambda s: files_by_scope.get(id(s.node), home))
            return self._run(ref, request, plan, home)
        where = "; ".join(tried) or "no statement that backpropagates a loss (loss.backward(), accelerator.backward(loss)) is reached from it"
        raise VaelintError(
            "load",
            f"{ref.spec}: no training step to check ({where}). Name the function that holds the training loop "
            "(PATH.py:FUNCTION), or check the model with PATH.py:MODEL --loss PATH.py:LOSS.",
        )

    # ---- running the setup up to the step
    def _run(self, ref: TargetRef, request: LoadRequest, plan, home: SourceFile) -> Program:
        request.progress("build")
        run = execute(plan, request.script_args)
        if not isinstance(run.reached, StepReady):
            raise VaelintError("internal", "the setup stopped at a value, not at the step")
        return _program(self, ref, request, plan, run.reached, run.runtime, run.sandbox, run.sites, home)


def _file_of_frame(frame: Frame, files: list[SourceFile]) -> SourceFile:
    return next(f for f in files if any(s.node is frame.scope.node for s in f.scopes.values())) if not frame.scope.is_module else next(
        (f for f in files if f.tree is frame.scope.node or f.path == frame.scope.path), files[0]
    )


# --------------------------------------------------------------------------- finding the step


def neighbours(path: str) -> list[SourceFile]:
    """The other .py files of the target's folder and of the current directory
    (where a script that calls the target may be)."""
    out, seen = [], {os.path.realpath(path)}
    for folder in dict.fromkeys([os.path.dirname(os.path.realpath(path)), os.getcwd()]):
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            full = os.path.realpath(os.path.join(folder, name))
            if not name.endswith(".py") or full in seen or len(out) >= _MAX_NEIGHBOURS:
                continue
            seen.add(full)
            try:
                if os.path.getsize(full) > 500_000:
                    continue
            except OSError:
                continue
            parsed = parse_file(full)
            if parsed is not None:
                out.append(parsed)
    return out


def _callees(file: SourceFile, scope: Scope) -> list[Scope]:
    """Functions and methods of this file that ``scope`` calls by name."""
    out = []
    for _place, stmt in places(scope):
        for call in calls_in(stmt):
            name = dotted(call.func)
            if not name:
                continue
            head, _, last = name.rpartition(".")
            if head == "" and last in file.scopes:
                out.append(file.scopes[last])
            elif head == "self" and scope.cls is not None:
                q = f"{scope.cls.name}.{last}"
                if q in file.scopes:
                    out.append(file.scopes[q])
    return out


def _sites_from(file: SourceFile, scope: Scope) -> list[tuple[Site, list[Scope]]]:
    """The sites in ``scope`` and in what it calls (same file), with the scopes on the way."""
    out, todo, seen = [], [(scope, [scope])], set()
    while todo:
        s, way = todo.pop(0)
        if s.qualname in seen or len(way) > 5:
            continue
        seen.add(s.qualname)
        out += [(site, way) for site in find_sites(s)]
        todo += [(c, way + [c]) for c in _callees(file, s)]
    return out


def is_script(file: SourceFile) -> bool:
    """A file meant to be run: a main guard, or calls at its top level."""
    for stmt in file.tree.body:
        if is_main_guard(stmt):
            return True
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            return True
    return False


def _script_candidates(home: SourceFile, files: list[SourceFile]):
    """(site, frames) for each step a script reaches from its own top level, in
    its own code or in the files it calls into."""
    for file in files:
        for scope in file.scopes.values():
            for site in find_sites(scope):
                for chain in chains_to(files, file, scope):
                    if not chain and not (file is home and scope.is_module):
                        continue
                    if chain and _file_of_frame(chain[0], files) is not home:
                        continue  # a script is checked from its own top level
                    yield site, chain + [Frame(scope, site.place)]
                    break


def candidates(ref: TargetRef, home: SourceFile, files: list[SourceFile], request: LoadRequest):
    """(site, frames from a module's top level to it), the likeliest VAE step first."""
    found = []
    if ref.name is None:
        found = list(_script_candidates(home, files))
    else:
        target = home.scopes.get(ref.name)
        if target is None:
            return []
        for site, way in _sites_from(home, target):
            inner = []  # the calls from the target down to the site's function
            for caller, callee in zip(way, way[1:]):
                place, call = _call_place(caller, callee)
                inner.append(Frame(caller, place, call))
            chains = chains_to(files, home, target) or [_synthetic_chain(home, target, request)]
            found.append((site, chains[0] + inner + [Frame(way[-1], site.place)]))
    found.sort(key=lambda item: -site_score(item[0], _text_of(item[0].place.scope, home)))
    return found


def _call_place(caller: Scope, callee: Scope):
    for place, stmt in places(caller):
        for call in calls_in(stmt):
            if dotted(call.func).rpartition(".")[2] == callee.name:
                return place, call
    raise VaelintError("internal", f"no call of {callee.qualname} in {caller.qualname}")


def _synthetic_chain(home: SourceFile, target: Scope, request: LoadRequest) -> list[Frame]:
    """Nothing calls the target: vaelint calls it, with ``--init`` values for its
    parameters (and for its class's constructor)."""
    init = request.init
    args = []
    for p in target.params():
        if p in ("self", "cls"):
            continue
        if p in init:
            args.append(f"{p}={init[p]!r}")
        elif p not in target.defaults():
            args.append(f"{p}={RT}.no_value({p!r}, {target.qualname!r})")
    call = f"{target.name}({', '.join(args)})"
    if target.cls is not None:
        call = f"{target.cls.name}().{call}"
    stmt = ast.parse(call).body[0]
    for node in ast.walk(stmt):
        if hasattr(node, "lineno"):
            node.lineno = node.end_lineno = target.node.lineno
            node.col_offset, node.end_col_offset = 0, 0
    module = ast.Module(body=[*home.tree.body, stmt], type_ignores=[])
    scope = Scope(module, "", home.path)
    return [Frame(scope, Place(scope, ((len(module.body) - 1, None),)), stmt.value)]


# --------------------------------------------------------------------------- the program


def _program(frontend, ref, request, plan, ready: StepReady, runtime, sandbox, sites, home) -> Program:
    from vaelint.frontends.training.datasets import infer_inputs
    from vaelint.inputs import parse_input_spec

    fn = ready.fn
    modules = referenced_modules(fn)
    if not modules:
        raise VaelintError("load", _no_modules(plan, fn))
    model = _model_of(modules)
    notes = []
    inputs, origin = [], ""
    loader = None
    try:
        with sandbox.active():
            loader = ready.loader() if ready.loader is not None else None
    except Exception:  # noqa: BLE001 - the loader cannot be built: nothing is known of it
        loader = None
    configured = getattr(loader, "batch_size", None)
    if not request.inputs:
        inferred = infer_inputs(loader) if loader is not None else None
        if inferred is not None:
            inputs = [parse_input_spec(s) for s in inferred.specs]
            origin = f"inferred from {inferred.origin}"
    for stmt in plan.skipped_loads:
        notes.append(
            f"{display_path(plan.site.place.scope.path)}:{stmt.lineno}: {source_segment(plan.entry.text, stmt.value, 70)} "
            "was not run: vaelint checks the model as the code builds it, without loading weights"
        )
    for what in sandbox.blocked[:5]:
        notes.append(f"the code's {what} was not performed (vaelint writes nothing)")

    counters: dict = {}  # a counter the step reads, set for every run (see _first_weighted_step)

    def run_step(*inputs, **named):
        with sandbox.active(), counters_set(fn, counters):
            return fn(*inputs, **named)

    site = plan.site
    step_scope = plan.frames[plan.boundary.frame_index].scope
    description = step_description(step_scope.path, step_scope.qualname, plan.region_lines, site.place.line)
    names = [n for n in plan.batch_names]
    from vaelint.frames import SourceLoc

    boundary_stmt = plan.boundary.sources[0] if plan.boundary.sources else step_scope.node
    step = Step(
        run_step, names, description, batch_text=plan.boundary.text(_text_of(step_scope, home)),
        loc=SourceLoc(step_scope.path, boundary_stmt.lineno, boundary_stmt.col_offset + 1, step_scope.name),
        lines=plan.region_lines,
    )
    namespace = _Namespace(fn.__globals__)
    path = os.path.realpath(ref.path)
    program = Program(
        frontend, ref, path, namespace, model, name=ref.name or os.path.basename(path), init=dict(request.init),
        module_sites=sites, step=step, inputs=inputs, inputs_origin=origin, notes=notes,
    )
    program.schedules = _schedules(plan, fn, sandbox, home)
    _first_weighted_step(program, fn, counters)
    if isinstance(configured, int) and configured > 1:
        program.configured_batch = configured
        loc = getattr(loader, "loc", None)
        program.configured_batch_text = f"DataLoader(batch_size={configured})" + (f" at {loc.where()}" if loc else "")
    return program


def _no_modules(plan, fn) -> str:
    """Why a step reached calls no model: often a name nothing defines (a notebook
    run out of order: its cells train ``vae`` but define ``model``)."""
    import builtins

    from vaelint.frontends.sourcemap import where

    site = plan.site.place
    from vaelint.frontends.placeholders import MissingImport

    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    for name in [*fn.__code__.co_freevars, *fn.__code__.co_names]:
        try:
            value = cells[name].cell_contents if name in cells else fn.__globals__.get(name)
        except ValueError:
            continue
        if isinstance(value, MissingImport):  # a setup line that failed: say which, and why
            try:
                value._fail()
            except VaelintError as e:
                return f"the training step uses {name!r}, which the setup could not build: {e.message}"
    undefined = []
    for stmt in plan.region:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in undefined:
                known = node.id in fn.__globals__ or node.id in fn.__code__.co_freevars or hasattr(builtins, node.id)
                assigned = any(isinstance(s, (ast.Assign, ast.AugAssign, ast.For)) and node.id in {n.id for n in ast.walk(s) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)} for s in ast.walk(ast.Module(body=plan.region, type_ignores=[])))
                if not known and not assigned and node.id not in plan.batch_names:
                    undefined.append((node.id, node.lineno))
    if undefined:
        name, line = undefined[0]
        return (
            f"{where(site.scope.path, line)}: the training step uses {name!r}, which nothing before it defines "
            "(in a notebook: cells run out of order?). Define it, or check the model with PATH:MODEL --loss PATH:LOSS."
        )
    return (
        f"{where(site.scope.path, site.line)}: the training step calls no nn.Module that vaelint can see; "
        "check the model with PATH:MODEL --loss PATH:LOSS."
    )


def _first_weighted_step(program, fn, counters: dict) -> None:
    """A schedule that is 0 at the first step (``min(1, step / warmup)``) takes a
    term out of the loss there: the step is checked at the first counter value
    read where the weight is not 0, and the report says so."""
    import dataclasses

    settable = set(fn.__code__.co_freevars) | set(fn.__globals__)
    for i, s in enumerate(program.schedules):
        if s.now != 0 or s.counter not in settable:
            continue
        later = next(((c, v) for c, v in s.values if v != 0), None)
        if later is None:
            continue
        counters[s.counter] = later[0]
        program.schedules[i] = dataclasses.replace(s, now=later[1], values=[later, *[(c, v) for c, v in s.values if c > later[0]]])
        program.notes.append(
            f"{s.name} is 0 at {s.counter} = {s.values[0][0]}, so the step is checked at {s.counter} = {later[0]} "
            f"({s.name} = {later[1]:.3g}), the first step read where the term it weighs counts"
        )


def counters_set(fn, counters: dict):
    """While inside, the step's counters (closure variables or globals) hold the given values."""
    import contextlib

    @contextlib.contextmanager
    def setting():
        saved = []
        cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
        for name, value in counters.items():
            if name in cells:
                saved.append((cells[name], "cell", cells[name].cell_contents))
                cells[name].cell_contents = value
            else:
                saved.append((name, "global", fn.__globals__.get(name)))
                fn.__globals__[name] = value
        try:
            yield
        finally:
            for key, kind, value in reversed(saved):
                if kind == "cell":
                    key.cell_contents = value
                else:
                    fn.__globals__[key] = value

    return setting()


def _schedules(plan, fn, sandbox, home) -> list:
    """Weights the step computes from its counters (an annealed KL weight)."""
    from vaelint.frontends.training.schedules import counters_of, find_schedules

    frame = plan.frames[plan.boundary.frame_index]
    loops = [s for s in frame.place.statements()[: plan.boundary.depth] if isinstance(s, (ast.For, ast.AsyncFor))]
    counters = counters_of(frame.scope.node, loops, plan.index_var)
    return find_schedules(fn, plan.region, counters, frame.scope.path, _text_of(frame.scope, home), sandbox)


def step_description(path: str, qualname: str, lines: tuple[int, int], backward: int) -> str:
    """``the training step of train.py:train (lines 56-61, backward at line 61)``;
    in a notebook ``the training step of nb.ipynb (cell 9, lines 2-6, backward at line 6)``."""
    from vaelint.frontends.sourcemap import cell_of

    first, last = lines
    cells = [cell_of(path, n) for n in (first, last, backward)]
    if all(cells) and len({c[0] for c in cells}) == 1:
        (cell, a), (_, b), (_, c) = cells
        return f"the training step of {display_path(path)} (cell {cell}, lines {a}-{b}, backward at line {c})"
    name = f"{display_path(path)}:{qualname}" if qualname else display_path(path)
    return f"the training step of {name} (lines {first}-{last}, backward at line {backward})"


def _text_of(scope, home) -> str:
    if scope.path == home.path:
        return home.text
    from vaelint.frontends.load import read_source

    try:
        return read_source(scope.path)
    except (OSError, ValueError):
        return ""


class _Namespace:
    """A module-like view of the globals the step runs in (rules read ``.__dict__``)."""

    def __init__(self, globals_: dict):
        self.__dict__ = globals_


def referenced_modules(fn) -> dict:
    """name -> nn.Module, for the modules a step function can reach: its closure,
    the globals it (and the functions it calls) read, and the modules an object
    it reads holds (``self.model``, ``self.bce_loss``)."""
    import inspect

    import torch.nn as nn

    values: dict = {}
    seen_fns: set = set()

    def collect(f, depth):
        if id(f) in seen_fns or depth > 2:
            return
        seen_fns.add(id(f))
        code = f.__code__
        names, codes = set(), [code]
        while codes:
            c = codes.pop()
            names |= set(c.co_names)
            codes += [k for k in c.co_consts if isinstance(k, types.CodeType)]
        for name, cell in zip(code.co_freevars, f.__closure__ or ()):
            try:
                values.setdefault(name, cell.cell_contents)
            except ValueError:
                pass
        for name in names:
            if name in f.__globals__:
                values.setdefault(name, f.__globals__[name])
        for name, value in list(values.items()):
            if inspect.isfunction(value):
                collect(value, depth + 1)

    collect(fn, 0)
    out: dict = {}
    for name, value in values.items():
        if isinstance(value, nn.Module):
            out.setdefault(name, value)
        elif not isinstance(value, (type, types.ModuleType, types.FunctionType)) and hasattr(value, "__dict__"):
            for attr, inner in vars(value).items():
                if isinstance(inner, nn.Module):
                    out.setdefault(attr, inner)
    return out


def _model_of(modules: dict):
    """The model the step trains: the one module that holds all the others, or a
    container of them (named as the code names them)."""
    for name, module in modules.items():
        inside = {id(m) for m in module.modules()}
        if all(id(other) in inside for other in modules.values()):
            return module
    container = _StepModules()
    for name, module in modules.items():
        key = name.replace(".", "_")
        if key not in container._modules:
            container.add_module(key, module)
    return container


def _step_modules_class():
    import torch.nn as nn

    class StepModules(nn.Module):
        """The modules a training step calls, held together so their parameters,
        buffers and sub-modules are known by one name each."""

    return StepModules


class _LazyClass:
    def __init__(self, make):
        self.make, self.cls = make, None

    def __call__(self, *a, **k):
        if self.cls is None:
            self.cls = self.make()
        return self.cls(*a, **k)


_StepModules = _LazyClass(_step_modules_class)
