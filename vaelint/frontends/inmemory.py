"""The in-memory front end: a model object the Python API was handed
(``vaelint.check(model, "32x784", loss=fn)``), a class, or a zero-argument
factory, with its loss as a callable, a method name, or found by name beside
the class.

The API registers the object under a token (``<object 1: VAE>``) before the
target's worker is forked, so the worker has the very object (fork copies the
process); in-process, the check runs on a deep copy, so the caller's model keeps
its weights, gradients, buffers and mode. Findings point at the lines of the
model's class, wherever it is defined (a module, a test file, a notebook cell).
"""

from __future__ import annotations

import ast
import copy
import functools
import inspect
import itertools
import os
import sys
import types
from dataclasses import dataclass, field

from vaelint.errors import VaelintError
from vaelint.frontends.base import FrontendBase, LoadRequest, Program, TargetRef
from vaelint.frontends.losscounters import counted_from_the_start
from vaelint.source.frames import SourceLoc


@dataclass
class Entry:
    """What the API was handed for one check."""

    obj: object  # an nn.Module instance, an nn.Module class, or a function returning one
    loss: object = None  # a callable, a method name or PATH.py:NAME, or None (found by name)
    loss_kwargs: dict = field(default_factory=dict)
    copy: bool = False  # in-process: check a deep copy, never the caller's object
    swapped: list = field(default_factory=list)  # (module dict, name, scripted function) to put back


_objects: dict[str, Entry] = {}
_count = itertools.count(1)


def register(entry: Entry) -> str:
    """The token the check's target is named by (kept until :func:`release`)."""
    token = f"<object {next(_count)}: {_label(entry.obj)}>"
    _objects[token] = entry
    return token


def release(token: str) -> None:
    _objects.pop(token, None)


def _label(obj) -> str:
    if inspect.isclass(obj) or inspect.isfunction(obj):
        return obj.__qualname__
    return type(obj).__qualname__


class InMemoryFrontend(FrontendBase):
    name = "object"

    def detect(self, ref: TargetRef) -> bool:
        return ref.spec in _objects

    def load(self, ref: TargetRef, request: LoadRequest) -> Program:
        from vaelint.frontends.lossfind import LossPlan, discover_loss, loss_runs_the_forward

        entry = _objects[ref.spec]
        request.progress("build")
        model, sites = _model_of(entry, ref, request.init)
        _scripts_as_python(entry, [type(m) for m in model.modules()] + [entry.loss])
        path, module = _home_of(model)
        name = type(model).__qualname__
        from vaelint.frontends.lightning import STEP_METHODS, LightningFrontend
        from vaelint.frontends.lightningmodel import own_method

        if _is_lightning(model) and any(own_method(model, m) for m in STEP_METHODS):  # else a model like any other
            return LightningFrontend()._program(TargetRef(ref.spec, path, name), request, model, None, None)
        program = Program(self, ref, path, module, model, name=name, init=dict(request.init), module_sites=sites)
        kwargs = {**entry.loss_kwargs, **request.loss_kwargs}
        if callable(entry.loss):
            program.loss = LossPlan(entry.loss, _callable_name(entry.loss), kwargs, explicit=True)
        else:
            program.loss = discover_loss(program, entry.loss, kwargs)
        counted_from_the_start(program)  # a loss that takes the epoch: its first value, its schedule read
        step = loss_runs_the_forward(program, program.loss, request)
        if step is not None:
            program.step, program.loss = step, None
        return program


def _model_of(entry: Entry, ref: TargetRef, init: dict):
    """(the model, id(module) -> the line that built it)."""
    import torch.nn as nn

    from vaelint.frontends.build import call_user, check_constructor

    obj, sites = entry.obj, {}
    if isinstance(obj, nn.Module):
        if init:
            raise VaelintError(
                "input",
                f"{ref.spec}: init= builds a model; this one is built already. Pass its class "
                "or a factory to build it with init=, or drop init=.",
            )
        model = _copied(obj) if entry.copy else obj
        return model, instance_sites(model)
    if inspect.isclass(obj) and issubclass(obj, nn.Module):
        init = check_constructor(ref.spec, obj, obj.__init__, init, skip_self=True)
        return call_user(ref.spec, obj, init, sites), sites
    if callable(obj) and not inspect.isclass(obj):
        init = check_constructor(ref.spec, obj, obj, init, skip_self=False)
        model = call_user(ref.spec, obj, init, sites)
        if isinstance(model, nn.Module):
            return model, sites
        raise VaelintError("load", f"{ref.spec}: the factory returned a {type(model).__name__}, not an nn.Module.")
    raise VaelintError(
        "input",
        f"{ref.spec}: vaelint.check takes an nn.Module (an instance, its class, or a function returning one) "
        f"or a target string ('model.py:VAE', 'train.py'); it was given a {type(obj).__name__}.",
    )


def _scripts_as_python(entry: Entry, things) -> None:
    """The ``@torch.jit.script`` functions of the modules that define the model's classes and
    its loss run as the Python they were written as while the check runs (a file target
    loads with TorchScript off: vaelint.frontends.torchscript_off); ``restore_scripts`` puts
    them back."""
    import sys

    import torch

    for module_name in dict.fromkeys(getattr(t, "__module__", None) for t in things if t is not None):
        namespace = getattr(sys.modules.get(module_name or ""), "__dict__", {})
        for name, value in list(namespace.items()):
            python = getattr(value, "_torchdynamo_inline", None)
            if isinstance(value, torch.jit.ScriptFunction) and callable(python):
                entry.swapped.append((namespace, name, value))
                namespace[name] = python


def restore_scripts(entry: Entry) -> None:
    while entry.swapped:
        namespace, name, value = entry.swapped.pop()
        namespace[name] = value


def _copied(model):
    """A deep copy for an in-process check; the object itself when it cannot be copied
    (its train/eval mode, gradients and buffers are then put back by the API)."""
    try:
        return copy.deepcopy(model)
    except Exception:  # noqa: BLE001 - a module holding a lock, a generator, an open file
        return model


def _home_of(model) -> tuple[str, object]:
    """The file that defines the model's class, and the namespace its loss is looked up in."""
    cls = type(model)
    try:
        path = inspect.getsourcefile(cls) or ""
    except TypeError:  # a class defined in the interpreter (python -c, a REPL)
        path = ""
    return (os.path.realpath(path) if path and os.path.exists(path) else path or f"<{cls.__qualname__}>"), _namespace_of(cls)


def _namespace_of(cls):
    """Where names beside the class are looked up (its loss function): its module, or the
    globals its methods see (a file executed without a module entry, a notebook's cell)."""
    module = sys.modules.get(cls.__module__)
    if module is not None and module.__dict__.get(cls.__name__) is cls:
        return module
    for attr in vars(cls).values():
        if inspect.isfunction(attr):
            namespace = types.ModuleType(cls.__module__)
            namespace.__dict__.update(attr.__globals__)
            return namespace
    return module or types.ModuleType(cls.__module__)


def _is_lightning(model) -> bool:
    return any(
        c.__name__ == "LightningModule" and c.__module__.split(".")[0] in ("lightning", "pytorch_lightning") for c in type(model).__mro__
    )


def _callable_name(fn) -> str:
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return name.replace(".<locals>.", ".")


# --------------------------------------------------------------------------- where each layer was built


def instance_sites(model) -> dict:
    """id(submodule) -> the line of its class's ``__init__`` that built it, read from the
    source (``self.fc = nn.Linear(...)``, an argument of ``nn.Sequential(...)``): what a
    model built before the check has instead of the lines recorded while building it."""
    sites: dict = {}
    for parent in model.modules():
        calls = _attribute_calls(type(parent))
        for child_name, child in parent.named_children():
            if id(child) in sites:
                continue
            loc = calls.get(child_name)
            if loc is not None:
                sites[id(child)] = loc[0]
                _sequential_items(child, loc[1], loc[0].path, sites)
    return sites


def _attribute_calls(cls) -> dict:
    """attribute -> (its SourceLoc, the call node) for ``self.NAME = Call(...)`` in the
    ``__init__`` of the class or of a class it derives from."""
    out: dict = {}
    for klass in reversed(cls.__mro__):
        init = klass.__dict__.get("__init__")
        if not inspect.isfunction(init) or klass.__module__.startswith("torch."):
            continue
        try:
            lines, first = inspect.getsourcelines(init)
            path = os.path.realpath(inspect.getsourcefile(init))
            tree = _parsed(path)
        except (OSError, TypeError, SyntaxError, ValueError):
            continue
        last = first + len(lines) - 1
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and first <= node.lineno <= last:
                for target in node.targets:
                    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self":
                        out[target.attr] = (_loc(path, node.value), node.value)
    return out


def _sequential_items(module, call, path: str, sites: dict) -> None:
    """The layers of a container built in one call, each at the expression that built it:
    ``nn.Sequential(a, b)``, ``nn.ModuleList([a, b])``, ``nn.ModuleList([Layer(i) for i in ...])``;
    a layer the call does not show (built by a helper, appended later) at the container's line."""
    import torch.nn as nn

    if not isinstance(module, (nn.Sequential, nn.ModuleList, nn.ModuleDict)):
        return
    args = list(call.args)
    if len(args) == 1 and isinstance(args[0], ast.Starred):
        args = [args[0].value]
    if len(args) == 1 and isinstance(args[0], (ast.List, ast.Tuple)):
        args = list(args[0].elts)
    children = list(module.children())
    if len(args) == 1 and isinstance(args[0], (ast.ListComp, ast.GeneratorExp)):
        args = [args[0].elt] * len(children)
    if any(isinstance(a, ast.Starred) for a in args):
        args = []
    for i, child in enumerate(children):
        if id(child) in sites:
            continue
        arg = args[i] if i < len(args) and isinstance(args[i], ast.Call) else None
        sites[id(child)] = _loc(path, arg) if arg is not None else sites[id(module)]
        if arg is not None:
            _sequential_items(child, arg, path, sites)


def _loc(path: str, node) -> SourceLoc:
    return SourceLoc(path, node.lineno, node.col_offset + 1, "__init__", node.end_lineno, (node.end_col_offset or 0) + 1)


@functools.lru_cache(maxsize=64)
def _parsed(path: str):
    from vaelint.source.files import read_source

    return ast.parse(read_source(path), filename=path)
