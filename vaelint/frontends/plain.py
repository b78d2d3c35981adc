"""The plain front end: a model class (built with its defaults plus ``--init``),
a factory function, or a model the file builds itself, with a loss function
given by ``--loss`` or found by name (README, "The loss")."""

from __future__ import annotations

import inspect
import os

from vaelint.errors import VaelintError
from vaelint.frontends.base import FrontendBase, LoadRequest, Program, TargetRef
from vaelint.frontends.build import call_user, check_constructor, model_candidates, record_module_sites, resolved_init
from vaelint.frontends.load import PLAIN_IMPORTS, ImportPolicy, load_module
from vaelint.frontends.losscounters import counted_from_the_start
from vaelint.frontends.lossfind import LOSS_NAMES, discover_loss, loss_runs_the_forward, no_forward
from vaelint.frontends.placeholders import MissingImport
from vaelint.source.frames import boundary, display_path


class PlainFrontend(FrontendBase):
    name = "plain"

    def detect(self, ref: TargetRef) -> bool:
        return ref.path.endswith(".py") and ref.name is not None and "." not in ref.name

    # ---- what a subclass may change
    def imports(self) -> ImportPolicy:
        """How the file's imports are read."""
        return PLAIN_IMPORTS

    def before_build(self) -> None:
        """Called right before the model is built (Keras restarts its seed generator)."""

    def on_build_error(self) -> None:
        """Called when the user's constructor raised, before its error is reported."""

    # ---- the front end
    def load(self, ref: TargetRef, request: LoadRequest) -> Program:
        program = self.build(ref, request)
        program.loss = discover_loss(program, request.loss, request.loss_kwargs)
        counted_from_the_start(program)
        step = loss_runs_the_forward(program, program.loss, request)
        if step is not None:
            program.step, program.loss = step, None
        return program

    @boundary
    def build(self, ref: TargetRef, request: LoadRequest, extra_names: tuple[str, ...] = ()) -> Program:
        """Load the target's file and build the model; ``request.progress`` hears
        "import" and "build" as they start."""
        name, init, spec = ref.name, request.init, ref.spec
        if name is None:
            raise VaelintError(
                "load",
                f"{spec}: name the model as PATH.py:NAME (e.g. {ref.path}:VAE) and give its input with "
                "--input; checking every model of a file needs them configured in [tool.vaelint].",
            )
        request.progress("import")
        loss_name = request.loss.rpartition(":")[2] if request.loss else None
        sites: dict = {}
        with record_module_sites(sites):  # a model built by the file's own lines (a target naming an instance)
            module = load_module(ref.path, {name, *LOSS_NAMES, *((loss_name,) if loss_name else ()), *extra_names}, self.imports())
        abspath = os.path.realpath(ref.path)
        if isinstance(module.__dict__.get(name), MissingImport):
            module.__dict__[name]._fail()  # says why the name could not be defined
        if name not in module.__dict__ and hasattr(module, "__getattr__"):  # a library's lazy module (diffusers)
            defined_in = _lazily_defined(module, name)
            if defined_in is not None:  # checked in the module that defines it (its loss beside it)
                return self.build(TargetRef(f"{defined_in}:{name}", defined_in, name), request, extra_names)
        if name not in module.__dict__:
            _inherited(module, name, abspath)
            candidates = model_candidates(module)
            hint = f" It defines: {', '.join(candidates)}." if candidates else (" It defines no nn.Module class or function.")
            raise VaelintError("load", f"{display_path(abspath)} has no top-level class or function {name!r}.{hint}")
        obj = module.__dict__[name]
        request.progress("build")
        self.before_build()  # e.g. Keras's initializers draw from its own generator: the same weights every check
        model = self._model_of(obj, ref, init, sites)
        return Program(self, ref, abspath, module, model, name=name, init=init, module_sites=sites)

    def _model_of(self, obj, ref: TargetRef, init: dict, sites: dict):
        """The model the target names: an instance the file built, its class built with
        its defaults and ``--init``, or what a factory returns."""
        import torch.nn as nn

        spec, name = ref.spec, ref.name
        if isinstance(obj, nn.Module):
            # a model the file builds itself (vae = VAE(encoder, decoder) in a script):
            # its defining line and the lines it reads have run, nothing else
            if init:
                raise VaelintError(
                    "input",
                    f"{spec}: {name} is a model the file builds itself, so --init does not apply. Drop --init, "
                    f"or point the target at its class or at a function that builds it.",
                )
            return obj
        if inspect.isclass(obj):
            if not issubclass(obj, nn.Module):
                raise VaelintError(
                    "load",
                    f"{spec}: {name} is a class but not an nn.Module subclass. Point the target at "
                    "the model class (a subclass of torch.nn.Module) or at a function that returns one.",
                )
            init = check_constructor(spec, obj, obj.__init__, init, skip_self=True)
            return call_user(spec, obj, resolved_init(init), sites, self.on_build_error)
        if callable(obj):
            init = check_constructor(spec, obj, obj, init, skip_self=False)
            model = call_user(spec, obj, resolved_init(init), sites, self.on_build_error)
            if not isinstance(model, nn.Module):
                raise VaelintError(
                    "load",
                    f"{spec}: {name}() returned a {type(model).__name__}, not an nn.Module. A factory "
                    "target must return the model (an nn.Module instance).",
                )
            return model
        raise VaelintError("load", f"{spec}: {name} is a {type(obj).__name__}, not an nn.Module subclass or a function returning one.")


def _lazily_defined(module, name: str) -> str | None:
    """The file that defines what a lazy package's ``__getattr__`` gives for ``name``; None
    when it gives nothing, or nothing defined in a file of its own."""
    try:
        obj = getattr(module, name)
        path = inspect.getsourcefile(obj)
    except Exception:  # noqa: BLE001 - no such name, or no source: said by the caller
        return None
    return path if path and path.endswith(".py") and os.path.realpath(path) != os.path.realpath(module.__file__ or "") else None


def _inherited(module, name: str, abspath: str) -> None:
    """``Class.method`` where the class inherits the method (a base class's ``fit_on_data``): say
    where it is defined and what to name instead (the step runs where a script calls it)."""
    owner, _, method = name.partition(".")
    cls = module.__dict__.get(owner)
    if not method or "." in method or not isinstance(cls, type) or not callable(getattr(cls, method, None)):
        return
    base = next((b for b in cls.__mro__[1:] if method in vars(b)), None)
    if base is None:
        return
    import inspect

    try:
        where = display_path(inspect.getsourcefile(base) or "")
    except TypeError:
        where = base.__module__
    raise VaelintError(
        "load",
        f"{display_path(abspath)}: {owner}.{method} is inherited from {base.__name__} ({where}), and vaelint runs a "
        f"training method in the class that defines it, which builds {base.__name__}, not {owner}. Check the script "
        f"that calls {method} (`vaelint check train.py`), or the model with its input: "
        f"`vaelint check {display_path(abspath)}:{owner} --input SHAPE`.",
    )


def refuse_without_a_forward(spec: str, program, inputs: list) -> None:
    """A model class that defines no forward() (its training code calls ``model.elbo(x, w)``, a Pyro
    model/guide pair, a world model's ``compute_loss(batch)``): which of its methods take data, and
    how to check through the one that computes the loss. Before: "running the model raised
    NotImplementedError: Module [X] is missing the required forward function ... fix it". Nothing where
    the model has a forward, or its loss runs the model's parts as the step."""
    if program.step is not None or not isinstance(program.frontend, PlainFrontend) or not no_forward(program.model):
        return
    cls = type(program.model)
    methods = []
    for name, fn in vars(cls).items():
        if name.startswith("_") or not inspect.isfunction(fn):
            continue
        params = [p for p in list(inspect.signature(fn).parameters.values())[1:] if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
        if params:
            methods.append((name, [p.name for p in params if p.default is p.empty] or [params[0].name]))
    said = ", ".join(f"{n}({', '.join(ps)})" for n, ps in methods[:6]) or "none"
    loss = program.loss.name.rpartition(".")[2] if program.loss is not None else None
    took = next((ps for n, ps in methods if n == loss), None)
    if took is not None and len(took) > len([s for s in inputs if not s.name]):
        how = f"its loss {loss} takes {len(took)} inputs ({', '.join(took)}): give one --input per parameter, in order"
    else:
        named = next((n for n, _ps in methods if n in LOSS_NAMES or "loss" in n or "elbo" in n), "METHOD")
        how = f"name the method that computes the loss with --loss (e.g. --loss {named}) and give one --input per parameter it takes"
    raise VaelintError(
        "load",
        f"{spec}: {cls.__name__} defines no forward(), so vaelint cannot run it as a model. Its methods that take data: "
        f"{said}. {how[:1].upper()}{how[1:]}; vaelint runs it as the step (it calls the model's parts itself). Or check the "
        "training code that calls it.",
    )
