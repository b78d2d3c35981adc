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
handed over as a function of the batch, and nothing else runs."""

from __future__ import annotations

import ast
import os
import sys

from vaelint.errors import VaelintError
from vaelint.frontends.base import FrontendBase, LoadRequest, Program, TargetRef
from vaelint.frontends.build import OPTIMIZER_NAMES
from vaelint.frontends.training.execute import NotReached, execute, failed_lines
from vaelint.frontends.training.freshimports import forget_modules_since
from vaelint.frontends.training.livebatchsize import again_at_the_loaders_batch
from vaelint.frontends.training.program import source_text as _text_of
from vaelint.frontends.training.program import step_program
from vaelint.frontends.training.repofiles import neighbours
from vaelint.frontends.training.rewrite import RT, build_plan
from vaelint.frontends.training.runtime import StepReady
from vaelint.frontends.training.scriptness import as_entry_point, is_script
from vaelint.frontends.training.sites import Frame, Site, SourceFile, chains_to, find_boundary, find_sites, parse_file
from vaelint.frontends.training.sitescore import site_score
from vaelint.frontends.training.ways import is_module_class as _is_module_class
from vaelint.frontends.training.ways import plain as _plain
from vaelint.frontends.training.ways import read_or_run
from vaelint.frontends.training.ways import trains_through_a_library as _trains_through_a_library
from vaelint.frontends.training.ways import worth_telling as _worth_telling
from vaelint.source.astutil import Place, Scope, calls_in, dotted, places, walk_statements
from vaelint.source.frames import display_path


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
        entry = as_entry_point(ref, file)
        if entry is not ref:
            return self.detect_source(entry)
        if ref.name is None:
            # a step its own top level reaches: a loop at module level, main() under the main
            # guard, a step in a file it imports (main.py -> solver.py); a file that only
            # defines a train() nobody calls is a library, not a script
            if not is_script(file) and not any(find_sites(file.scopes[""])):
                return False
            files = [file] + (neighbours(file.path) if is_script(file) else [])
            if any(True for _ in _script_candidates(file, files)):
                return True
            # a backward its own top level reaches only at run time (a trainer object, a
            # launcher given main, a Hydra main), or one in an installed trainer library
            # (pipeline(train_data=x), trainer.fit(model)): found by running it (.liveprogram)
            # (a thin entry script, `from vaelib import main; main()`, whose module beside it trains so)
            imported = _imported_names(file.tree)
            return any(find_sites(s) for f in files for s in f.scopes.values()) or any(
                _trains_through_a_library(f, [g for g in files if g is not f])
                for f in files
                if f is file or os.path.splitext(os.path.basename(f.path))[0] in imported
            )
        scope = file.scopes.get(ref.name)
        if scope is None or scope.is_module:
            return False
        if _sites_from(file, scope):
            return True
        # a function or method whose backward is in what it calls at run time: one that loops
        # (a model factory, which returns the model, does not)
        loops = any(isinstance(st, (ast.For, ast.AsyncFor, ast.While)) for st in walk_statements(scope.body))
        if (
            loops
            and not _is_module_class(file, ref.name)
            and any(find_sites(s) for f in [file, *neighbours(file.path)] for s in f.scopes.values())
        ):
            return True
        # a function that returns nothing builds no model: a command line's main, a subcommand
        # handed its parsed arguments (args.func(args)), whose training is found by running it
        return not _is_module_class(file, ref.name) and _calls_without_returning(scope.body)

    def device_policy(self, program: Program) -> str | None:
        return getattr(program, "device_note", None)

    def source_of(self, ref: TargetRef) -> tuple[str, str]:
        """(absolute path, Python source) of the target's file."""
        from vaelint.source.files import read_source

        path = os.path.realpath(ref.path)
        return path, read_source(path)

    def load(self, ref: TargetRef, request: LoadRequest) -> Program:
        """The step found by running the code as written to its first VAE backward
        (:mod:`.liveprogram`); where the code does not get there as written (a data file or a
        checkpoint that is not here, a pretraining phase first), the step found by reading the
        code, whose setup is tolerant: lines that fail stand in, weights are not loaded,
        pretraining methods are left out (:meth:`_read`)."""
        path, text = self.source_of(ref)
        home = parse_file(path, text)
        if home is None:
            raise VaelintError(
                "load", f"{display_path(path)}: the file does not parse; `python -m py_compile {display_path(path)}` shows why."
            )
        entry = as_entry_point(ref, home)  # a module an installed command runs: its entry function
        if entry is not ref:
            from vaelint.frontends.entrypoints import entry_function

            program = self._load(entry, request, path, home)
            program.notes.insert(
                0,
                f"{display_path(path)} has no main guard: its {entry.name}() was run as the installed command "
                f"runs it ({entry_function(path)[1]})",
            )
            return program
        return self._load(ref, request, path, home)

    def _load(self, ref: TargetRef, request: LoadRequest, path: str, home: SourceFile) -> Program:
        from vaelint.frontends.training.liveprogram import live_program
        from vaelint.frontends.training.livesetupfailed import setup_failed_error

        way = os.environ.get("VAELINT_TRAINING", "")  # "run" or "read": one way only (debugging)
        if way != "read":
            before = set(sys.modules)
            try:
                return live_program(self, ref, request, home)
            except VaelintError as run_error:
                if getattr(run_error, "own_setup_failed", False):  # --lr parsed as a string, handed to Adam
                    raise setup_failed_error(run_error) from None
                if way == "run" or getattr(run_error, "argv", False) or getattr(run_error, "own_step_failed", False):
                    raise _plain(run_error) from None
                forget_modules_since(before, [os.getcwd(), os.path.dirname(path)])  # read afresh, as a first run imports them
                if (again := again_at_the_loaders_batch(self, ref, request, home, run_error)) is not None:
                    return again
                try:
                    program = self._read(ref, request, path, home, getattr(run_error, "passed_sites", set()))
                except VaelintError as read_error:
                    if getattr(run_error, "build", None) is not None:
                        return run_error.build()  # the run's step with no reparameterisation
                    raise _plain(_worth_telling(read_error, run_error)) from None
                return read_or_run(program, run_error, request)
        return self._read(ref, request, path, home)

    def _read(self, ref: TargetRef, request: LoadRequest, path: str, home: SourceFile, passed: set = frozenset()) -> Program:
        from vaelint.frontends.training.liverun import given_items

        with given_items(request.inputs):  # a stood-in data set's items are of the --input specs
            return self._read_code(ref, request, path, home, passed)

    def _read_code(self, ref: TargetRef, request: LoadRequest, path: str, home: SourceFile, passed: set = frozenset()) -> Program:
        """The likeliest step the code holds; a backward that running the code passed over as no
        VAE's (``passed``: (path, line)) only after the others."""
        files = [home] + neighbours(path)
        request.progress("import")
        tried = []
        files_by_scope = {id(s.node): f for f in files for s in f.scopes.values()}
        found = candidates(ref, home, files, request)
        found.sort(
            key=lambda c: (
                (os.path.realpath(files_by_scope.get(id(c[0].place.scope.node), home).path), c[0].place.statements()[-1].lineno) in passed
            )
        )
        for site, frames, direct in found:
            boundary = find_boundary(frames)
            if boundary is None:
                tried.append(
                    f"line {site.place.line}: no batch found (no loop over a data loader, next(...) or batch parameter on the way to it)"
                )
                continue
            plan = build_plan(
                files, _file_of_frame(frames[0], files), frames, site, boundary, lambda s: files_by_scope.get(id(s.node), home)
            )
            try:
                program = self._run(ref, request, plan, home)
                key = (os.path.realpath(files_by_scope.get(id(site.place.scope.node), home).path), site.place.statements()[-1].lineno)
                program.passed_by_the_run = key in passed  # the backward running the code went past
                return program
            except NotReached as missed:
                if direct is None or find_boundary(direct) is None:
                    raise
                # the script's own way to the named function failed (a checkpoint to resume
                # from, a data folder): the function is called as if nothing called it
                plan = build_plan(files, home, direct, site, find_boundary(direct), lambda s: files_by_scope.get(id(s.node), home))
                program = self._run(ref, request, plan, home)
                program.notes.insert(
                    0,
                    (
                        f"the script's own way to {ref.name} did not reach it ({missed.first_failure or 'a condition on the way was false'}), "
                        f"so vaelint called {ref.name} itself, its parameters standing in"
                    ),
                )
                return program
        where = (
            "; ".join(tried) or "no statement that backpropagates a loss (loss.backward(), accelerator.backward(loss)) is reached from it"
        )
        raise VaelintError(
            "load",
            f"{ref.spec}: no training step to check ({where}). Name the function that holds the training loop "
            "(PATH.py:FUNCTION), or check the model with PATH.py:MODEL --loss PATH.py:LOSS.",
        )

    # ---- running the setup up to the step
    def _run(self, ref: TargetRef, request: LoadRequest, plan, home: SourceFile) -> Program:
        request.progress("build")
        run = execute(plan, request.script_args, inputs_given=bool(request.inputs))
        if not isinstance(run.reached, StepReady):
            raise VaelintError("internal", "the setup stopped at a value, not at the step")
        failed = failed_lines(run)
        program = step_program(self, ref, request, plan, run.reached, run.runtime, run.sandbox, run.sites, home, failed)
        program.setup_failures = failed
        return program


def _imported_names(tree: ast.Module) -> set[str]:
    """The module names a file imports (each dotted name's parts)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {part for a in node.names for part in a.name.split(".")}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= set(node.module.split("."))
    return names


def _file_of_frame(frame: Frame, files: list[SourceFile]) -> SourceFile:
    return (
        next(f for f in files if any(s.node is frame.scope.node for s in f.scopes.values()))
        if not frame.scope.is_module
        else next((f for f in files if f.tree is frame.scope.node or f.path == frame.scope.path), files[0])
    )


# --------------------------------------------------------------------------- finding the step


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
        found = [(site, frames, None) for site, frames in _script_candidates(home, files)]
    else:
        target = home.scopes.get(ref.name)
        if target is None:
            return []
        for site, way in _sites_from(home, target):
            inner = []  # the calls from the target down to the site's function
            for caller, callee in zip(way, way[1:]):
                place, call = _call_place(caller, callee)
                inner.append(Frame(caller, place, call))
            chains = chains_to(files, home, target)
            direct = _synthetic_chain(home, target, request, bool(chains)) + inner + [Frame(way[-1], site.place)]
            if chains:  # the script's own way first; called directly if that way does not get there
                found.append((site, chains[0] + inner + [Frame(way[-1], site.place)], direct))
            else:
                found.append((site, direct, None))
    found.sort(key=lambda item: -site_score(item[0], _text_of(item[0].place.scope, home)))
    return found


def _call_place(caller: Scope, callee: Scope):
    for place, stmt in places(caller):
        for call in calls_in(stmt):
            if dotted(call.func).rpartition(".")[2] == callee.name:
                return place, call
    raise VaelintError("internal", f"no call of {callee.qualname} in {caller.qualname}")


def _init_source(value) -> str:
    """An ``--init`` value as source text that makes it again: a dict stays a Namespace, read as
    an object too (``model_conf.hidden_dim`` of ``--init model_conf={'hidden_dim': 50}``)."""
    from vaelint.source.literals import Namespace, Reference

    if isinstance(value, Reference):  # --init model=model.py:VAE: made when the call runs
        made = "__import__('vaelint.frontends.build', fromlist=['resolved_init']).resolved_init"
        return f"{made}({{'v': __import__('vaelint.source.literals', fromlist=['Reference']).Reference{(value.path, value.name, value.given_as)!r}}})['v']"
    if isinstance(value, Namespace):
        items = ", ".join(f"{k!r}: {_init_source(v)}" for k, v in value.items())
        return f"__import__('vaelint.source.literals', fromlist=['Namespace']).Namespace({{{items}}})"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_init_source(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    return repr(value)


def _synthetic_chain(home: SourceFile, target: Scope, request: LoadRequest, called: bool = False) -> list[Frame]:
    """Nothing calls the target (or the code's own call of it did not get there: ``called``): vaelint
    calls it, with ``--init`` values for its parameters (and for its class's constructor)."""
    init = request.init
    args = []
    for p in target.params():
        if p in ("self", "cls"):
            continue
        if p in init:
            args.append(f"{p}={_init_source(init[p])}")
        elif p not in target.defaults():
            args.append(f"{p}={RT}.no_value({p!r}, {target.qualname!r}, {called!r})")
    call = f"{target.name}({', '.join(args)})"
    if target.cls is not None:
        # the constructor's parameters --init gives (Agent(state_dim=11, action_dim=3).train(...)): those the
        # error of a constructor missing them asks for
        built = next((n for n in target.cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
        taken = [a.arg for a in (*built.args.posonlyargs, *built.args.args[1:], *built.args.kwonlyargs)] if built else []
        optimizer = "__import__('vaelint.frontends.build', fromlist=['OptimizerStandIn']).OptimizerStandIn()"  # never stepped
        given = [f"{p}={_init_source(init[p])}" if p in init else f"{p}={optimizer}" for p in taken if p in init or p in OPTIMIZER_NAMES]
        call = f"{target.cls.name}({', '.join(given)}).{call}"
    stmt = ast.parse(call).body[0]
    for node in ast.walk(stmt):
        if hasattr(node, "lineno"):
            node.lineno = node.end_lineno = target.node.lineno
            node.col_offset, node.end_col_offset = 0, 0
    module = ast.Module(body=[*home.tree.body, stmt], type_ignores=[])
    scope = Scope(module, "", home.path)
    return [Frame(scope, Place(scope, ((len(module.body) - 1, None),)), stmt.value)]


# --------------------------------------------------------------------------- the program


def _calls_without_returning(body: list) -> bool:
    """Does a function body call something and return no value (nested definitions aside)?"""
    calls = False
    todo = list(body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if (
            isinstance(node, ast.Return)
            and node.value is not None
            and not (isinstance(node.value, ast.Constant) and node.value.value is None)
        ):
            return False
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return False
        calls = calls or isinstance(node, ast.Call)
        todo.extend(ast.iter_child_nodes(node))
    return calls
