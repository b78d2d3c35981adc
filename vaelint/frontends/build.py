"""Building the user's model, shared by the front ends: ``--init`` values, the
constructor's checks, the call that builds it, and the line that built every
layer (:func:`record_module_sites`)."""

from __future__ import annotations

import ast
import contextlib
import inspect

from vaelint.errors import VaelintError, removed_api
from vaelint.source.frames import boundary, user_frame_of_traceback


@contextlib.contextmanager
def record_module_sites(sites: dict):
    """Remember, for every nn.Module built inside, the user's line that built it."""
    import torch.nn as nn

    original = nn.Module.__init__

    def patched(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if id(self) not in sites:
            loc = _builder(self)
            if loc is not None:
                sites[id(self)] = loc

    nn.Module.__init__ = patched
    try:
        yield sites
    finally:
        nn.Module.__init__ = original


def _builder(module):
    """The user's line that called ``module``'s class (``model = VAE(20, 4)``), past the class's own
    ``__init__`` chain (its ``super().__init__()``); the innermost user line where there is none."""
    import sys

    from vaelint.source.frames import frame_loc, innermost_user_frame

    first = f = innermost_user_frame(sys._getframe(2))
    while f is not None and f.f_code.co_name == "__init__" and f.f_locals.get("self") is module:
        f = innermost_user_frame(f.f_back)
    chosen = f or first
    return frame_loc(chosen) if chosen is not None else None


def model_candidates(module) -> list[str]:
    import torch.nn as nn

    out = []
    for key, val in module.__dict__.items():
        if inspect.isclass(val) and issubclass(val, nn.Module) and getattr(val, "__module__", "") == module.__name__:
            out.append(key)
    return out


def check_constructor(spec, obj, fn, init: dict, skip_self: bool) -> dict:
    """The constructor's keywords as given, with config objects built from their defaults
    (:mod:`vaelint.frontends.configdefaults`); a clear error where one is missing or unknown."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return init
    params = list(sig.parameters.values())
    if skip_self and params and params[0].name == "self":
        params = params[1:]
    accepts_kwargs = any(p.kind == p.VAR_KEYWORD for p in params)
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    unknown = [k for k in init if k not in names]
    if unknown and not accepts_kwargs:
        raise VaelintError(
            "input",
            f"{spec}: --init names {', '.join(unknown)}, which the constructor does not take. "
            f"It takes: {', '.join(sorted(names)) or 'no arguments'}.",
        )
    init = _configs_from_defaults(fn, params, init)
    missing = [
        p.name for p in params if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in init
    ]
    if missing:
        read = _attributes_read(obj, missing)
        example = " ".join(
            f'--init "{m}={{{", ".join(f"{a!r}: VALUE" for a in read[m])}}}"' if read.get(m) else f"--init {m}=VALUE" for m in missing
        )
        modules = [m for m in missing if _names_a_module(m, sig.parameters[m].annotation)]
        factory = (
            f" {' and '.join(modules)} {'is a module' if len(modules) == 1 else 'are modules'} no literal can give: "
            "name a function that builds the model from its parts as the target (PATH.py:make_vae, a "
            "function of yours that returns the VAE), or the training script that builds it."
            if modules
            else ""
        )
        raise VaelintError(
            "input",
            f"{spec}: the constructor needs {', '.join(missing)}, which have no default. "
            f"Give them on the command line: {example} (VALUE is a Python literal, e.g. "
            + ("16; a dict stands for an object whose attributes the constructor reads" if read else "--init latent_dim=16")
            + f").{factory}{_built_in_file(spec, obj)}",
        )
    return init


def _configs_from_defaults(fn, params, given_init: dict) -> dict:
    """A parameter that is a config dataclass with every field defaulted (or is handed on to one) is
    built from its defaults, and a dict ``--init`` gave for it fills the fields it names: the
    keywords with those built (a new dict; the request's is left as given)."""
    from vaelint.frontends.configdefaults import config_class, filled
    from vaelint.frontends.placeholders import note

    init = dict(given_init)
    for p in params:
        given = init.get(p.name)
        if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) or (p.name in init and not isinstance(given, dict)):
            continue
        if p.default is not p.empty and p.name not in init:
            continue
        cls = config_class(fn, p.name)
        if cls is None:
            continue
        init[p.name] = filled(cls, given)
        named = f", with {', '.join(sorted(given))} from --init" if isinstance(given, dict) and given else ""
        note(f"{p.name} is built as {cls.__name__}() from its defaults{named}; give a field with --init \"{p.name}={{'FIELD': VALUE}}\"")
    return init


def _attributes_read(obj, names: list) -> dict:
    """{parameter: the attributes the constructor reads of it} (``args.hidden``, ``args.latent_dim``: an
    argparse namespace, which a dict literal gives: --init "args={'hidden': 64, 'latent_dim': 16}")."""
    import ast
    import inspect
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(getattr(obj, "__init__", obj))))
    except (OSError, TypeError, SyntaxError, ValueError):
        return {}
    out: dict = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in names:
            out.setdefault(node.value.id, [])
            if node.attr not in out[node.value.id]:
                out[node.value.id].append(node.attr)
    return out


_MODULE_WORDS = ("encoder", "decoder", "net", "model", "module", "backbone", "prior", "posterior", "flow")


def _names_a_module(name: str, annotation) -> bool:
    """A constructor parameter that takes a module (an encoder, a decoder): by its annotation
    (``nn.Module`` or a subclass), else by its name."""
    import torch.nn as nn

    if isinstance(annotation, type) and annotation is not inspect.Parameter.empty:
        return issubclass(annotation, nn.Module)
    text = annotation if isinstance(annotation, str) else ""
    return "Module" in text or any(w in name.lower() for w in _MODULE_WORDS)


def _built_in_file(spec: str, cls) -> str:
    """`` The file builds one itself ...`` when a top-level line of the class's file
    assigns an instance of it to a name (Keras's VAE example: ``vae = VAE(encoder,
    decoder)``), which can be the target instead; else ""."""
    from vaelint.source.files import read_source

    path, name = spec.rsplit(":", 1) if ":" in spec else (spec, "")
    try:
        tree = ast.parse(read_source(path)) if path.endswith(".py") else None
    except (OSError, SyntaxError, ValueError):
        return ""
    for stmt in tree.body if tree is not None else ():
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
            continue
        func = stmt.value.func if isinstance(stmt.value, ast.Call) else None
        called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if called == getattr(cls, "__name__", name):
            target = stmt.targets[0].id
            return f" The file builds one itself at line {stmt.lineno} ({target} = {ast.unparse(stmt.value)}): check that with {path}:{target}."
    return ""


@boundary
def call_user(spec, fn, init, sites, on_error=lambda: None):
    """Build the model with ``fn(**init)``; a failure is the user's, at their line.
    ``on_error`` may raise a truer error first (a Keras layer re-words a tf.* call's)."""
    try:
        with record_module_sites(sites):
            return fn(**init)
    except VaelintError:
        raise
    except Exception as e:  # noqa: BLE001 - the user's constructor failed
        on_error()
        from vaelint.frontends.starimports import star_cause

        cause = star_cause(e, [getattr(fn, "__globals__", None), getattr(getattr(fn, "__init__", None), "__globals__", None)])
        if isinstance(cause, VaelintError):  # Encoder from a `from layers import *` that failed
            raise VaelintError("load", f"{spec}: building the model failed: {cause.message}") from None
        loc = user_frame_of_traceback(e.__traceback__)
        where = f" at {loc.where()}" if loc else ""
        removed = removed_api(str(e)) if isinstance(e, AttributeError) else None
        fix = f" ({removed}): the constructor's own code needs that change" if removed else ". Check the constructor and the --init values"
        raise VaelintError("load", f"{spec}: building the model failed{where}: {type(e).__name__}: {e}{fix}.") from None


def resolved_init(init: dict) -> dict:
    """--init values with each ``PATH.py:NAME`` reference made: a class built with its defaults (the
    model a trainer's constructor takes), a function called as the factory it is, another object as it is."""
    from vaelint.source.literals import Reference

    return {k: _made(v) if isinstance(v, Reference) else v for k, v in init.items()}


def _made(ref):
    import os

    from vaelint.frontends.load import load_module

    said = f"--init {ref.given_as}={ref!r}"
    if not os.path.isfile(ref.path):
        raise VaelintError("input", f"{said}: {ref.path} is not a file here (give the path from the folder vaelint runs in).")
    obj = load_module(ref.path, {ref.name}).__dict__.get(ref.name)
    if obj is None:
        raise VaelintError("input", f"{said}: {ref.path} has no top-level {ref.name!r}.")
    if not inspect.isclass(obj) and not inspect.isfunction(obj):
        return obj
    try:
        return obj()  # a class built with its defaults; a function, the factory it is (make_model())
    except Exception as e:  # noqa: BLE001 - the user's constructor or factory
        what = "building" if inspect.isclass(obj) else "calling"
        raise VaelintError("input", f"{said}: {what} {ref.name}() with its defaults failed: {type(e).__name__}: {e}.") from None


def annotated_module(fn, name: str):
    """A parameter annotated with an nn.Module class of the user's (``model: VAE``) and given
    nothing: that class built with its defaults; None where there is no such annotation, or the
    class cannot be built without arguments."""
    import typing

    import torch.nn as nn

    try:
        cls = typing.get_type_hints(fn).get(name)
    except Exception:  # noqa: BLE001 - annotations that do not resolve (strings of names not here)
        return None
    if not (inspect.isclass(cls) and issubclass(cls, nn.Module)) or cls.__module__.startswith("torch."):
        return None
    try:
        return cls()
    except Exception:  # noqa: BLE001 - it needs arguments: the parameter stands in as before
        return None


OPTIMIZER_NAMES = ("optimizer", "optimiser", "optim", "opt")


class OptimizerStandIn:
    """An optimizer a trainer's constructor takes and nothing passes (``Trainer(model, optimizer)``,
    the method named as the target): vaelint runs the step to its backward and never steps one, so
    ``zero_grad`` and ``step`` do nothing."""

    def __init__(self):
        self.param_groups = [{"lr": 1e-3}]
        self.state: dict = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        return None

    def step(self, closure=None) -> None:
        return None

    def state_dict(self) -> dict:
        return {"state": {}, "param_groups": self.param_groups}
