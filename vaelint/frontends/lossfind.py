"""Find the loss a target's code names (README, "The loss").

``--loss`` if given; else a model method named ``loss_function``, ``loss``,
``compute_loss``, ``elbo`` or ``vae_loss``; else a module-level function with one
of those names in the target's file; else the one function or method named as a
whole loss in other words (``loss_vae``, ``elbo_loss``); else no loss. Binding its parameters to
what the forward produced is the capture's (vaelint/capture/binding.py).
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from vaelint.errors import VaelintError
from vaelint.frontends.load import load_module, split_target
from vaelint.frontends.lossfactory import made_by_the_factory, returns_a_function
from vaelint.frontends.losssource import combines_terms, keys_the_forward_returns, named_by_the_file
from vaelint.frontends.placeholders import MissingImport
from vaelint.frontends.trainingsites import no_training_loop

if TYPE_CHECKING:
    from vaelint.frontends.base import Program

LOSS_NAMES = ("loss_function", "loss", "compute_loss", "elbo", "vae_loss")


@dataclass
class LossPlan:
    fn: Callable
    name: str  # how the report names it: "VAE.loss_function", "vae.py:loss_function"
    kwargs: dict = field(default_factory=dict)
    explicit: bool = False  # given with --loss (or configured), not found by name
    in_forward: bool = False  # the model's forward calls it itself (``out = self.loss_function(...)``)
    counters: tuple = ()  # training counters it takes, bound to their first value (losscounters.py)


def discover_loss(loaded: Program, ref: str | None, kwargs: dict) -> LossPlan | None:
    model = loaded.model
    if ref:
        kwargs = dict(kwargs)  # a loss class's constructor takes its own (ElboLoss(beta=6)): the call the rest
        fn = _resolve_ref(loaded, ref, kwargs)
        no_training_loop(fn, ref, _source_tree(fn))  # --loss fit_on_data: a method that trains, no loss
        return LossPlan(fn, ref, kwargs, explicit=True)
    cls = type(model)
    for name in LOSS_NAMES:
        attr = inspect.getattr_static(model, name, None)
        if _framework_method(cls, name):
            continue  # Keras's own Model.compute_loss is not the user's loss
        bound = inspect.ismethod(attr) and attr.__self__ is model  # self.loss_function = self._vae_loss in __init__
        if inspect.isfunction(attr) or isinstance(attr, (staticmethod, classmethod)) or bound:
            combined = combines_terms(getattr(model, name))
            if combined is not None and not keys_the_forward_returns(cls, getattr(model, name)):
                # loss(self, losses): the sum of terms another method computes (losses["rec"]), not a
                # loss of the forward's outputs; fed them, it failed as the model's or the batch's fault
                loaded.loss_missing_reason = (
                    f"{cls.__name__}.{name} adds up terms computed elsewhere ({combined}), not the forward's outputs: "
                    "name the loss with --loss PATH.py:FUNCTION (or the model's method that computes the terms)"
                )
                continue
            said = f"{cls.__name__}.{attr.__func__.__name__ if bound else name}"  # the method __init__ bound: its own name
            return LossPlan(getattr(model, name), said, kwargs, in_forward=_forward_calls(cls, name))
    for name in LOSS_NAMES:
        obj = loaded.module.__dict__.get(name)
        if inspect.isfunction(obj) and named_by_the_file(loaded, name, obj):
            return LossPlan(obj, f"{os.path.basename(loaded.path)}:{name}", kwargs)
    found = _named_like_a_loss(loaded, kwargs)
    if found is None and not loaded.loss_missing_reason:
        from vaelint.frontends.losssibling import loss_beside_the_model

        found = loss_beside_the_model(loaded, kwargs, _whole_loss_name, LOSS_NAMES)
    return None if found is not None and combines_terms(found.fn) is not None else found


_PARTS = ("kl", "kld", "recon", "rec", "reg", "bce", "mse", "nll", "disc", "gan", "adv", "perceptual", "gp")
# words of a term beside the ELBO: a weight penalty, a codebook's or an auxiliary head's loss
_PARTS += ("regularization", "regularisation", "regularizer", "penalty", "aux", "auxiliary", "commitment", "codebook", "spectral")


def _whole_loss_name(name: str) -> bool:
    """``vae_loss``, ``loss_fn``, ``elbo_loss``: a whole loss's name, none of its words a part's (``kl_loss``)."""
    words = name.lower().strip("_").split("_")
    return ("loss" in words or "elbo" in words) and not set(words) & set(_PARTS)


def _named_like_a_loss(loaded: Program, kwargs: dict) -> LossPlan | None:
    """The one function of the model's file, or method of the model, named as a whole loss in
    another order or with more words (``loss_vae``, ``vae_loss_fn``, ``elbo_loss``), none of its
    words naming a part (``kl_loss``, ``recon_loss``); two or more such: none (the report says to
    give --loss)."""
    import re

    whole = _whole_loss_name

    module_name = getattr(loaded.module, "__name__", None)
    found = [
        (obj, f"{os.path.basename(loaded.path)}:{name}")
        for name, obj in vars(loaded.module).items()
        if inspect.isfunction(obj) and obj.__module__ == module_name and whole(name) and not re.match(r"^_", name)
    ]
    from vaelint.source.frames import is_user_file

    cls = type(loaded.model)
    found += [
        (getattr(loaded.model, name), f"{cls.__name__}.{name}")
        for name, attr in vars(cls).items()
        # the user's own methods, static ones too (a @staticmethod loss_fn): a framework's (Keras's
        # compute_loss) is not the user's loss
        for fn in [attr.__func__ if isinstance(attr, (staticmethod, classmethod)) else attr]
        if inspect.isfunction(fn) and whole(name) and not name.startswith("_") and is_user_file(fn.__code__.co_filename)
    ]
    # a loss takes what it scores: a method of no arguments (a penalty on the weights) reads no data
    found = [(fn, name) for fn, name in found if _takes_arguments(fn)]
    if len(found) != 1:
        return None
    fn, name = found[0]
    return LossPlan(fn, name, kwargs)


def _takes_arguments(fn) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.kind is not p.VAR_KEYWORD for p in params)


def loss_runs_the_forward(program: Program, plan: LossPlan | None, request):
    """A loss method of the model that takes the batch and runs the forward itself
    (``def compute_loss(self, x): recon, mu, logvar = self(x)``): binding it beside a forward
    of vaelint's own would check a second forward the loss never reads. It is the step
    instead: the model's call inside it is the forward, what it returns the loss."""
    import ast
    import textwrap

    from vaelint.frontends.base import Step

    fn = plan.fn if plan is not None else None
    if fn is not None and getattr(fn, "__self__", None) is None and inspect.isfunction(fn):
        return _given_the_model(program, plan, request)
    from torch import nn

    owner = getattr(fn, "__self__", None) if fn is not None and not isinstance(fn, nn.Module) else fn
    if owner is not None and owner is not program.model and not inspect.ismodule(owner):
        # a loss object's method or a loss module (criterion(outputs, target, model), IWAE's): the
        # model to the parameter that reads it, as the training code hands it
        tree = _source_tree(fn)
        try:
            params = inspect.signature(fn.forward if isinstance(fn, nn.Module) else fn).parameters
        except (TypeError, ValueError):
            return None
        if tree is not None:
            _give_the_model_read(program, plan, params, tree)
        return None
    if fn is None or getattr(fn, "__self__", None) is not program.model:
        return None
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        params = inspect.signature(fn).parameters
    except (OSError, TypeError, ValueError, SyntaxError):
        return None
    required = [p for p in params.values() if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    calls_model = any(isinstance(n, ast.Call) and ast.unparse(n.func) in ("self", "self.forward") for n in ast.walk(tree))
    if not calls_model and _reads_what_forward_stores(program.model, tree):
        return None  # it reads what forward left on the model (self.p_x_mean): forward runs first, then it
    if not calls_model and (no_forward(program.model) or _takes_the_forward_input(program.model, required)):
        # a model with no forward of its own (mel-spectrogram VAEs), or a loss that takes what the
        # forward takes (get_vqvae_loss(self, ori_image) beside forward(self, ori_image)): it runs
        # the model's parts itself (self.encode, self.decode), and those calls are the forward
        calls_model = any(
            isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and isinstance(n.func.value, ast.Name)
            and n.func.value.id == "self"
            for n in ast.walk(tree)
        )
    positional = [s for s in request.inputs if not s.name]
    if not calls_model or not required or len(required) > max(len(positional), 1):
        return None
    kwargs = dict(plan.kwargs)
    names = [p.name for p in required]
    return Step(
        fn=lambda *inputs: fn(*inputs, **kwargs),
        names=names,
        description=f"{plan.name} (it runs the forward itself: its call of the model is the forward)",
        loss_method=True,
    )


def _source_tree(fn):
    """The parsed source of a function or method (its own lines, dedented); None where it has none."""
    import ast
    import textwrap

    forward = getattr(fn, "forward", None)
    if callable(forward) and not inspect.isfunction(fn) and not inspect.ismethod(fn):
        fn = forward  # a loss module (class IWLoss(nn.Module)): its forward's source
    try:
        return ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return None


_MODEL_PARAMS = ("model", "net", "network", "vae", "autoencoder", "module")


def _given_the_model(program: Program, plan: LossPlan, request):
    """A loss function that takes the model and runs it (``def forward_pass(x, y, device, model):
    out = model(x)``, a training utility's): the step, the model given to that parameter, the batch
    to the others the --loss-kwargs leave."""
    import ast

    from vaelint.frontends.base import Step

    fn = plan.fn
    tree = _source_tree(fn)
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return None
    if tree is None:
        return None
    called = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    model_param = next((p.name for p in params.values() if p.name in called and p.name.lower() in _MODEL_PARAMS), None)
    if model_param is None:
        _give_the_model_read(program, plan, params, tree)
        return None
    kwargs = dict(plan.kwargs)
    rest = [
        p.name
        for p in params.values()
        if p.name != model_param
        and p.name not in kwargs
        and p.default is p.empty
        and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    positional = [s for s in request.inputs if not s.name]
    if not rest or len(rest) > max(len(positional), 1):
        return None
    model = program.model
    # inputs given by name (--input labels=64:int64:10) go to the loss's parameter of that name
    # (compute_loss(model, x, labels=None) running model(x, labels=labels)); before, vaelint's own
    # stand-in took none and its TypeError was blamed on the model (helper B2)
    named = tuple(s.name for s in request.inputs if s.name and s.name in params)
    return Step(
        fn=lambda *inputs, **by_name: fn(**dict(zip(rest, inputs)), **by_name, **{model_param: model}, **kwargs),
        names=rest,
        keywords=named,
        description=f"{plan.name} (it runs the model it is given as {model_param}: that call is the forward)",
    )


def _give_the_model_read(program: Program, plan: LossPlan, params, tree) -> None:
    """A loss that takes the model and reads it without calling it (``log_pz = model.prior.log_prob(z)``
    in ``loss(outputs, target, model)``, IWAE's): the model is given to that parameter, as the
    training code gives it; the forward's outputs and the batch to the others. Before, the binding
    gave it a tensor ("'Tensor' object has no attribute 'prior' ... fix it so the model runs")."""
    import ast

    read = {n.value.id for n in ast.walk(tree) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)}
    # or handed on to a helper that reads it (self.elbo(outputs, target, model))
    read |= {a.id for c in ast.walk(tree) if isinstance(c, ast.Call) for a in c.args if isinstance(a, ast.Name)}
    for p in params.values():
        if p.name.lower() in _MODEL_PARAMS and p.name in read and p.name not in plan.kwargs and p.kind != p.KEYWORD_ONLY:
            plan.kwargs[p.name] = program.model
            return


def _reads_what_forward_stores(model, tree) -> bool:
    """Does the loss method read an attribute the model's forward assigns (``self.p_x_mean = ...`` in
    forward, older research code's way of handing the loss its values)?"""
    import ast

    forward = _source_tree(getattr(type(model), "forward", None))
    if forward is None:
        return False

    def own(n, kind) -> set:
        return {
            a.attr
            for a in ast.walk(n)
            if isinstance(a, ast.Attribute) and isinstance(a.ctx, kind) and isinstance(a.value, ast.Name) and a.value.id == "self"
        }

    # forward's own lines and those of the model's methods it calls (self.encoder(x) storing self.mu)
    stored, trees, seen = set(), [forward], {"forward"}
    while trees:
        body = trees.pop()
        stored |= own(body, ast.Store)
        for name in own(body, ast.Load) - seen:
            method = getattr(type(model), name, None)
            if inspect.isfunction(method) and len(seen) < 12:
                seen.add(name)
                got = _source_tree(method)
                trees += [got] if got is not None else []
    return bool(stored & own(tree, ast.Load))


def _takes_the_forward_input(model, required: list) -> bool:
    """Is the loss's first parameter named as the forward's first (the batch, not a reconstruction)?"""
    try:
        forward = [p for p in inspect.signature(model.forward).parameters.values() if p.kind is not p.VAR_KEYWORD]
    except (TypeError, ValueError):
        return False
    return bool(required and forward) and required[0].name == forward[0].name


def _framework_method(cls, name: str) -> bool:
    """Is ``cls.name`` inherited from Keras or torch rather than written for this model?"""
    owner = next((k for k in cls.__mro__ if name in k.__dict__), None)
    return owner is not None and owner.__module__.split(".")[0] in ("keras", "torch", "tf_keras")


def _resolve_ref(loaded: Program, ref: str, kwargs: dict | None = None) -> Callable:
    path, name = split_target(ref)
    if name is None:  # a method of the model
        fn = getattr(loaded.model, ref, None)
        if not callable(fn):
            raise VaelintError(
                "loss",
                f"--loss {ref!r}: the model {type(loaded.model).__name__} has no method {ref!r}. "
                "Give a method name of the model, or PATH.py:FUNCTION.",
            )
        return fn
    if "." in name:  # a function nested in another (train.py:main.loss_fn), a method (Solver.vae_loss)
        from vaelint.frontends.training.names import resolve

        return resolve(path, name, [])
    module = loaded.module if os.path.realpath(path) == loaded.path else load_module(path, {name})
    obj = module.__dict__.get(name)
    if obj is None or isinstance(obj, MissingImport):
        raise VaelintError("loss", f"--loss {ref!r}: {path} has no top-level {name!r}.")
    if inspect.isclass(obj):
        built = _constructor_kwargs(obj, kwargs if kwargs is not None else {})
        try:
            return obj(**built)
        except TypeError as e:
            raise VaelintError(
                "loss",
                f"--loss {ref!r}: the loss class {name} cannot be built with its defaults ({e}). "
                "Give a loss function instead, or defaults for the class's arguments.",
            ) from None
    if not callable(obj):
        raise VaelintError("loss", f"--loss {ref!r}: {name} is not callable.")
    if inspect.isfunction(obj) and returns_a_function(obj):  # make_vae_loss(kld_weight=1.0): the loss it makes
        return made_by_the_factory(obj, ref, kwargs if kwargs is not None else {})
    return obj


def _constructor_kwargs(cls, kwargs: dict) -> dict:
    """The --loss-kwarg values a loss class's constructor takes by name (``ElboLoss(beta=6)``),
    taken out of ``kwargs`` (the rest go to its call)."""
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return {}
    named = {p.name for p in params.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    try:
        import torch.nn as nn

        own_call = not hasattr(cls, "forward") or (
            issubclass(cls, nn.Module) and cls.__call__ is not nn.Module.__call__ and cls.forward is nn.Module.forward
        )
        called = set(inspect.signature(cls.__call__ if own_call else cls.forward).parameters)
    except (TypeError, ValueError):
        called = set()
    return {k: kwargs.pop(k) for k in list(kwargs) if k in named and k not in called}


def _forward_calls(cls, name: str) -> bool:
    """Does ``cls.forward`` call ``self.NAME(...)`` itself (it computes its own loss)?"""
    import ast
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls.forward)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return False
    return any(
        isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr == name
        and isinstance(n.func.value, ast.Name)
        and n.func.value.id == "self"
        for n in ast.walk(tree)
    )


def no_forward(model) -> bool:
    """The model defines no forward (nn.Module's own raises "missing the required forward")."""
    import torch.nn as nn

    return (
        isinstance(model, nn.Module)
        and type(model).forward is nn.Module.forward
        and "forward" not in vars(model)  # self.forward = self.run in the constructor
        and type(model).__call__ is nn.Module.__call__  # a __call__ of its own runs the model
    )
