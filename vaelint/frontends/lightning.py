"""The Lightning front end: a LightningModule's ``training_step`` (or ``step``,
``shared_step``) is the loss.

Targets: ``module.py:VAE`` (a LightningModule class), ``experiment.py:VAEXperiment.training_step``
(a method; the class is built where the folder's code builds it, ``run.py``
with its YAML config, else with its defaults and ``--init``), or a script that
calls ``trainer.fit(model, ...)`` (the model passed is the one checked).

The step is called as Lightning calls it, ``training_step(batch, batch_idx)``
(``optimizer_idx``, ``dataloader_idx`` given as 0 when it takes them), with no
Trainer: ``self.log``, ``self.log_dict``, ``self.print`` do nothing,
``self.optimizers()`` gives optimisers that do not step, and a manual
optimisation's ``self.manual_backward(loss)`` hands its loss on
(:mod:`vaelint.frontends.lightningstep`).
Lightning itself need not be installed (:mod:`vaelint.frontends.standins`).
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import os

from vaelint.errors import VaelintError
from vaelint.frontends.base import FrontendBase, LoadRequest, Program, Step, TargetRef
from vaelint.frontends.lightningmodel import as_a_model, own_method  # noqa: E402
from vaelint.frontends.lightningstep import lightning_factory, quiet, step_end, the_vaes_loss
from vaelint.frontends.owntrainer import own_trainer
from vaelint.source.frames import SourceLoc, display_path

STEP_METHODS = ("training_step", "step", "shared_step", "_step", "common_step")


def _lightning_classes(file, depth: int = 0) -> set[str]:
    """Names of the file's classes that are LightningModules (directly, or through
    another class of the same file, or a class of the project's imported from another file:
    ``from proj.models import BaseVAE``, its ``__init__.py`` holding ``BaseVAE(L.LightningModule)``)."""
    from vaelint.source.astutil import dotted

    found: set[str] = set(_imported_lightning(file, depth))
    # Base = pl.LightningModule (in a try: beside an nn.Module fallback): the name is Lightning's
    aliases = {"LightningModule"} | {
        t.id
        for n in ast.walk(file.tree)
        if isinstance(n, ast.Assign) and (dotted(n.value) or "").split(".")[-1] == "LightningModule"
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    classes = [n for n in ast.walk(file.tree) if isinstance(n, ast.ClassDef)]
    changed = True
    while changed:
        changed = False
        for cls in classes:
            if cls.name in found:
                continue
            bases = {(dotted(b) or "").split(".")[-1] for b in cls.bases}
            if bases & aliases or bases & found or (bases and _has_training_step(cls)):
                found.add(cls.name)
                changed = True
    return found


def _imported_lightning(file, depth: int) -> set[str]:
    """The names the file imports from the project's own modules that are LightningModules there."""
    from vaelint.frontends.training.sites import parse_file

    if depth >= 3:
        return set()
    out = set()
    for node in (n for n in file.tree.body if isinstance(n, ast.ImportFrom) and n.module and not n.level):
        source = _project_module(file.path, node.module)
        other = parse_file(source) if source else None
        if other is not None:
            there = _lightning_classes(other, depth + 1)
            out |= {a.asname or a.name for a in node.names if a.name in there}
    return out


def _project_module(path: str, module: str) -> str | None:
    """The file of a project module (``proj.models``: proj/models/__init__.py or proj/models.py) from
    the importing file's folder, the folders above it, or the current one."""
    parts = module.split(".")
    folder, roots = os.path.dirname(os.path.realpath(path)), []
    for _ in range(4):
        roots.append(folder)
        folder = os.path.dirname(folder)
    for root in dict.fromkeys([*roots, os.getcwd()]):
        for candidate in (os.path.join(root, *parts, "__init__.py"), os.path.join(root, *parts) + ".py"):
            if os.path.isfile(candidate):
                return os.path.realpath(candidate)
    return None


def _has_training_step(cls: ast.ClassDef) -> bool:
    """A class with Lightning's ``training_step(self, batch, batch_idx)``, whatever its base is
    spelled (a LightningModule by what it is)."""
    for item in cls.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == "training_step":
            return len(item.args.args) >= 3 or item.args.vararg is not None
    return False


def _fit_calls(file):
    """(place, the model argument) of each ``trainer.fit(model, ...)`` in a file."""
    from vaelint.source.astutil import calls_in, dotted, places

    out = []
    mine: set = set()  # the repository's own Trainer classes (trainer.fit(x) of its own: no Lightning)
    for scope in file.scopes.values():
        trainers = set()
        for place, stmt in places(scope):
            if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call):
                made_by = dotted(stmt.value.func) or ""
                if made_by.split(".")[-1] == "Trainer" or "from_argparse_args" in made_by:
                    if own_trainer(file, made_by):
                        mine.add(made_by)
                        continue
                    trainers |= {t.id for t in stmt.targets if isinstance(t, ast.Name)}
            for call in calls_in(stmt):
                func = call.func
                if isinstance(func, ast.Attribute) and func.attr == "fit" and (call.args or call.keywords):
                    owner = dotted(func.value)
                    if owner in trainers or (not mine and ("trainer" in owner.lower() or "runner" in owner.lower())):
                        model = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "model"), None)
                        if model is not None:
                            out.append((place, model))
    return out


class LightningFrontend(FrontendBase):
    name = "lightning"
    infers_inputs = True

    def detect(self, ref: TargetRef) -> bool:
        return ref.path.endswith(".py") and self.detect_source(ref)

    def detect_source(self, ref: TargetRef) -> bool:
        """Is the target a LightningModule (or its step), or a script that fits one?"""
        from vaelint.frontends.training.sites import parse_file

        if not os.path.isfile(ref.path):
            return False
        file = parse_file(os.path.realpath(ref.path))
        if file is None:
            return False
        if ref.name is None:
            return bool(_fit_calls(file))
        cls = ref.parts[0]
        return (cls in _lightning_classes(file) or lightning_factory(file, cls, _lightning_classes)) and len(ref.parts) <= 2

    def load(self, ref: TargetRef, request: LoadRequest) -> Program:
        from vaelint.frontends.training import neighbours
        from vaelint.frontends.training.sites import parse_file

        path = os.path.realpath(ref.path)
        home = parse_file(path)
        files = [home] + neighbours(path)
        file_of = _file_of(files)
        request.progress("build")
        method_name = ref.parts[1] if len(ref.parts) > 1 else None
        if ref.name is None:
            # the script run as written to its trainer (Hydra's instantiate, a registry of
            # modules), else the module passed to trainer.fit reached by reading the code
            from vaelint.frontends.training import TrainingFrontend
            from vaelint.frontends.training.liveprogram import live_program

            try:
                return live_program(TrainingFrontend(), ref, request, home)
            except VaelintError as run_error:
                try:
                    module, run = self._from_fit(home, files, request, file_of)
                except VaelintError:
                    raise VaelintError(run_error.kind, run_error.message) from None
        else:
            module, run = self._built(ref, home, files, request, file_of)
            if method_name is None and not any(own_method(module, m) for m in STEP_METHODS):
                # a LightningModule with no step of its own (its trainer object has it): the model with
                # --loss, or the loss found as for any model, as an nn.Module of the same code would be
                return as_a_model(ref, request)
        return self._program(ref, request, module, method_name, run)

    # ---- the LightningModule
    def _from_fit(self, home, files, request, file_of):
        from vaelint.frontends.training.execute import reach_value

        place, model_expr = _fit_calls(home)[0]
        module, run = reach_value(files, home, place, model_expr, request.script_args, file_of)
        return module, run

    def _built(self, ref, home, files, request, file_of):
        """The instance the folder's code builds (run.py: ``VAEXperiment(model,
        config['exp_params'])``), else one built with defaults and --init."""
        from vaelint.frontends.training.execute import reach_value
        from vaelint.source.astutil import dotted, places

        cls_name = ref.parts[0]
        if _buildable(home, cls_name, request.init) or lightning_factory(home, cls_name, _lightning_classes):
            return self._plain(ref, cls_name, request)
        for file in [home] + [f for f in files if f is not home]:
            for scope in file.scopes.values():
                for place, stmt in places(scope):
                    if (
                        isinstance(stmt, ast.Assign)
                        and isinstance(stmt.value, ast.Call)
                        and ((dotted(stmt.value.func) or "").split(".")[-1] == cls_name)
                    ):
                        try:
                            return reach_value(files, file, place, stmt.value, request.script_args, file_of)
                        except VaelintError as e:
                            if "nothing in the files beside it reaches" not in e.message:
                                raise
        return self._plain(ref, cls_name, request)

    @staticmethod
    def _plain(ref, cls_name, request):
        """The class built with its defaults and --init."""
        from vaelint.frontends import standins
        from vaelint.frontends.plain import PlainFrontend

        with standins.installed():  # Lightning itself may be missing: its import stands in
            program = PlainFrontend().build(TargetRef(f"{ref.path}:{cls_name}", ref.path, cls_name), request)
        return program.model, None

    # ---- the step
    def _program(self, ref, request, module, method_name, run) -> Program:
        import torch.nn as nn

        if not isinstance(module, nn.Module):
            raise _not_a_module(ref, module)
        name = method_name or next((m for m in STEP_METHODS if callable(getattr(module, m, None))), None)
        method = getattr(module, name, None) if name else None
        if method is None:
            raise VaelintError(
                "load",
                f"{ref.spec}: {type(module).__name__} has no training_step (or step) to check: name the method "
                "that computes the loss, e.g. PATH.py:CLASS.training_step.",
            )
        quiet(module)
        step, src_path, sandbox = _module_step(module, method, name, run, request.loss_kwargs)
        from vaelint.frontends.training.moduleschedules import find_module_schedules
        from vaelint.frontends.training.sandbox import Sandbox

        schedules = find_module_schedules(method, module, src_path, "", sandbox or Sandbox(src_path))
        program = Program(
            self,
            ref,
            os.path.realpath(ref.path),
            _Globals(inspect.unwrap(method).__globals__),
            module,
            name=type(module).__name__,
            init=dict(request.init),
            module_sites=run.sites if run is not None else {},
            step=step,
            notes=sandbox.said() if sandbox is not None else [],
            schedules=schedules,
        )
        if getattr(module, "automatic_optimization", True) is False:
            # manual optimisation: what an optimiser other than the VAE's holds is trained by the
            # step's later manual_backward (a critic's: FactorVAE), not dead (VAE011)
            from vaelint.frontends.standinlightning import module_optimizers

            program.optimisers = [o for o in module_optimizers(module) if hasattr(o, "param_groups")]
            program.backward_after = inspect.getsource(inspect.unwrap(method)).count("manual_backward(") > 1
        return program


class _Globals:
    """A module-like view of the globals the step runs in (rules read ``.__dict__``)."""

    def __init__(self, globals_: dict):
        self.__dict__ = globals_


def _module_step(module, method, name: str, run, given: dict | None = None):
    """(the Step that calls the module's step method on a batch, the method's file, the run's sandbox);
    ``given``: the --loss-kwarg values, for the step's parameters beside its batch (``n=1``)."""
    from vaelint.frontends.lightningstep import INDEX_NAMES, backward_as_manual, guessed_index, step_indices
    from vaelint.frontends.training.runtime import Runtime, StepLoss

    fn = inspect.unwrap(method)
    code = fn.__code__
    params = list(inspect.signature(method).parameters)
    batch_param = params[0] if params else "batch"
    src_path = os.path.realpath(code.co_filename)
    runtime = Runtime(src_path)
    use = _batch_use(module, fn, batch_param)
    sandbox = run.sandbox if run is not None else None
    extra = {**step_indices(method, params), **{k: v for k, v in (given or {}).items() if k in params[1:]}}
    # a second parameter given 0 as Lightning's batch index, though named otherwise (training_step(batch, n))
    guessed = [p for p in extra if p not in INDEX_NAMES and p not in (given or {})]

    def run_step(*items, **named):
        batch = runtime.batch(items, named, (batch_param,), use, code.co_firstlineno)
        given = module.__dict__.setdefault("_vaelint_backwards", [])
        given.clear()
        try:
            with backward_as_manual(module, given), sandbox.active() if sandbox is not None else contextlib.nullcontext():
                out = method(batch, **extra)
        except StepLoss as e:
            return e.value
        except Exception as e:
            from vaelint.errorkinds import kind_of
            from vaelint.vocab import ErrorKind

            if not given or kind_of(e) is not ErrorKind.OTHER:
                if guessed and kind_of(e) is ErrorKind.OTHER:
                    raise guessed_index(name, guessed, e) from e
                raise  # the model's own error (a shape, a device) in a loss after the first: the rules' to explain
            out = None  # past a backward, what needs a Trainer's gradients (clip_gradients): not the step's
        # manual optimisation: the losses given to manual_backward, the VAE's among them
        return the_vaes_loss(module, given) if given else step_end(module, out)

    loc = SourceLoc(src_path, code.co_firstlineno, 1, name)
    described = f"{type(module).__name__}.{name} ({display_path(src_path)}:{code.co_firstlineno})"
    return Step(run_step, [batch_param], described, batch_text=f"{name}'s {batch_param}", loc=loc), src_path, sandbox


def _batch_use(module, fn, param: str, depth: int = 0):
    """How a step reads its batch, followed into the method it hands the batch to
    (``training_step`` calling ``self.step(batch, batch_idx)``, which unpacks it)."""
    from vaelint.frontends.training.batchuse import BatchUse, use_of

    try:
        body = ast.parse(_dedent(inspect.getsource(fn))).body[0].body
    except (OSError, TypeError, SyntaxError, IndexError):
        return BatchUse("tensor")
    use = use_of(param, body)
    if use.kind != "passed":
        return use
    target = (getattr(fn, "__globals__", {}) if use.function else vars(type(module))).get(use.method)
    target = getattr(type(module), use.method, None) if target is None and not use.function else target
    if depth > 3 or not callable(target):
        return BatchUse("tensor")
    target = inspect.unwrap(target)
    params = [p for p in inspect.signature(target).parameters][0 if use.function else 1 :]  # after self
    if use.keyword:
        return _batch_use(module, target, use.keyword, depth + 1) if use.keyword in params else BatchUse("tensor")
    if use.position >= len(params):
        return BatchUse("tensor")
    return _batch_use(module, target, params[use.position], depth + 1)


def _buildable(home, cls_name: str, init: dict) -> bool:
    """Does the class's __init__ take what it needs from its defaults and --init?
    (Then nothing else of the folder needs to run to build it.)"""
    cls = next((n for n in ast.walk(home.tree) if isinstance(n, ast.ClassDef) and n.name == cls_name), None)
    init_fn = next((n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None) if cls else None
    if init_fn is None:
        return cls is not None
    a = init_fn.args
    positional = [p.arg for p in (*a.posonlyargs, *a.args)][1:]
    required = positional[: len(positional) - len(a.defaults)]
    required += [p.arg for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is None]
    return all(name in init for name in required)


def _dedent(source: str) -> str:
    import textwrap

    return textwrap.dedent(source)


def _file_of(files):
    by_scope = {id(s.node): f for f in files for s in f.scopes.values()}
    by_tree = {id(f.tree): f for f in files}
    return lambda scope: by_scope.get(id(scope.node)) or by_tree.get(id(scope.node)) or files[0]


def _not_a_module(ref, module) -> VaelintError:
    """Why the object the code trains is no module: the failure of the line that built it, where
    that line failed (a placeholder stands for what it would have set)."""
    from vaelint.frontends.placeholders import MissingImport
    from vaelint.frontends.training.runtime import StandIn

    if isinstance(module, (MissingImport, StandIn)):
        try:
            module._fail()
        except VaelintError as e:
            return VaelintError("load", f"{ref.spec}: the model the code trains could not be built: {e.message}")
    return VaelintError("load", f"{ref.spec}: the model trained is a {type(module).__name__}, not a LightningModule.")
