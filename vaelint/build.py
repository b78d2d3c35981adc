"""Build the user's model from its loaded module: a class with its defaults plus
``--init``, or a factory function; remember which line built every layer."""

from __future__ import annotations

import ast
import contextlib
import inspect
import os
import types
from dataclasses import dataclass, field

from vaelint import keras_models
from vaelint.keras_load import raise_tensorflow_use
from vaelint.errors import VaelintError
from vaelint.frames import boundary, display_path, user_frame, user_frame_of_traceback
from vaelint.load import load_module, split_target
from vaelint.lossbind import LOSS_NAMES
from vaelint.placeholders import MissingImport


@dataclass
class LoadedTarget:
    """A model built from a target, with what later stages need to know of it."""

    spec: str  # "path.py:Name" as the user wrote it
    path: str  # absolute path of the model file
    name: str
    module: types.ModuleType
    model: object  # the nn.Module
    init: dict = field(default_factory=dict)
    # id(submodule) -> where it was constructed (the user's line)
    module_sites: dict = field(default_factory=dict)


def parse_init(items: list[str]) -> dict:
    """``--init NAME=VALUE`` values; VALUE is a Python literal."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise VaelintError(
                "input",
                f"--init {item!r} is not of the form NAME=VALUE: write e.g. --init latent_dim=16 "
                "or --init hidden_dims=[32,64].",
            )
        out[name] = _namespaces(parse_literal(value, f"--init {item!r}", "--init hidden_dims=[32,64]"))
    return out


class Namespace(dict):
    """A dict given with --init that also reads as an object: ``--init
    args={'batch_size':16}`` serves ``args.batch_size`` (argparse configs) and
    ``args['batch_size']`` alike."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"--init gave no key {name!r} (the dict has {', '.join(map(repr, self)) or 'no keys'})"
            ) from None


def _namespaces(value):
    if isinstance(value, dict):
        return Namespace({k: _namespaces(v) for k, v in value.items()})
    return value


def parse_literal(value: str, where: str, example: str):
    try:
        return ast.literal_eval(value.strip())
    except (ValueError, SyntaxError):
        raise VaelintError(
            "input",
            f"{where}: {value!r} is not a Python literal. Quote strings "
            f"(NAME='\"relu\"' in most shells) and write lists as [1,2]; e.g. {example}.",
        ) from None




@contextlib.contextmanager
def record_module_sites(sites: dict):
    """Remember, for every nn.Module built inside, the user's line that built it."""
    import torch.nn as nn

    original = nn.Module.__init__

    def patched(self, *args, **kwargs):
        original(self, *args, **kwargs)
        loc = user_frame()
        if loc is not None and id(self) not in sites:
            sites[id(self)] = loc

    nn.Module.__init__ = patched
    try:
        yield sites
    finally:
        nn.Module.__init__ = original


@boundary
def build_model(spec: str, init: dict, extra_names: tuple[str, ...] = (), progress=None) -> LoadedTarget:
    """Load the target's file and build the model; ``progress(stage)`` hears
    "import" and "build" as they start."""
    import torch.nn as nn

    progress = progress or (lambda stage: None)

    path, name = split_target(spec)
    if name is None:
        raise VaelintError(
            "load",
            f"{spec}: name the model as PATH.py:NAME (e.g. {path}:VAE) and give its input with "
            "--input; checking every model of a file needs them configured in [tool.vaelint].",
        )
    progress("import")
    sites: dict = {}
    with record_module_sites(sites):  # a model built by the file's own lines (a target naming an instance)
        module = load_module(path, {name, *LOSS_NAMES, *extra_names})
    abspath = os.path.realpath(path)
    if isinstance(module.__dict__.get(name), MissingImport):
        module.__dict__[name]._fail()  # says why the name could not be defined
    if name not in module.__dict__:
        candidates = _model_candidates(module, abspath)
        hint = f" It defines: {', '.join(candidates)}." if candidates else (
            " It defines no nn.Module class or function."
        )
        raise VaelintError(
            "load", f"{display_path(abspath)} has no top-level class or function {name!r}.{hint}"
        )
    obj = module.__dict__[name]
    progress("build")
    keras_models.reseed(0)  # Keras's initializers draw from its own generator: the same weights every check
    if isinstance(obj, nn.Module):
        # a model the file builds itself (vae = VAE(encoder, decoder) in a script):
        # its defining line and the lines it reads have run, nothing else
        if init:
            raise VaelintError(
                "input",
                f"{spec}: {name} is a model the file builds itself, so --init does not apply. Drop --init, "
                f"or point the target at its class or at a function that builds it.",
            )
        model = obj
    elif inspect.isclass(obj):
        if not issubclass(obj, nn.Module):
            raise VaelintError(
                "load",
                f"{spec}: {name} is a class but not an nn.Module subclass. Point the target at "
                "the model class (a subclass of torch.nn.Module) or at a function that returns one.",
            )
        _check_constructor(spec, obj, obj.__init__, init, skip_self=True)
        model = _call_user(spec, obj, init, sites)
    elif callable(obj):
        _check_constructor(spec, obj, obj, init, skip_self=False)
        model = _call_user(spec, obj, init, sites)
        if not isinstance(model, nn.Module):
            raise VaelintError(
                "load",
                f"{spec}: {name}() returned a {type(model).__name__}, not an nn.Module. A factory "
                "target must return the model (an nn.Module instance).",
            )
    else:
        raise VaelintError(
            "load",
            f"{spec}: {name} is a {type(obj).__name__}, not an nn.Module subclass or a function "
            "returning one.",
        )
    return LoadedTarget(spec, abspath, name, module, model, init, sites)


def _model_candidates(module, abspath) -> list[str]:
    import torch.nn as nn

    out = []
    for key, val in module.__dict__.items():
        if inspect.isclass(val) and issubclass(val, nn.Module) and getattr(val, "__module__", "") == module.__name__:
            out.append(key)
    return out


def _check_constructor(spec, obj, fn, init: dict, skip_self: bool) -> None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return
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
    missing = [
        p.name
        for p in params
        if p.default is p.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and p.name not in init
    ]
    if missing:
        example = " ".join(f"--init {m}=VALUE" for m in missing)
        raise VaelintError(
            "input",
            f"{spec}: the constructor needs {', '.join(missing)}, which have no default. "
            f"Give them on the command line: {example} (VALUE is a Python literal, e.g. "
            "--init latent_dim=16).",
        )


@boundary
def _call_user(spec, fn, init, sites):
    try:
        with record_module_sites(sites):
            return fn(**init)
    except VaelintError:
        raise
    except Exception as e:  # noqa: BLE001 - the user's constructor failed
        raise_tensorflow_use()  # a tf.* call, whatever Keras made of its error
        loc = user_frame_of_traceback(e.__traceback__)
        where = f" at {loc.display_path()}:{loc.line}" if loc else ""
        raise VaelintError(
            "load",
            f"{spec}: building the model failed{where}: {type(e).__name__}: {e}. Check the "
            "constructor and the --init values.",
        ) from None
