"""The modules a training step reaches (its closure, the globals it and its helpers read, the
modules an object it reads holds) and the model among them: the one that holds all the
others, or a container of them named as the code names them."""

from __future__ import annotations

import types


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
        for value in list(values.values()):
            if inspect.isfunction(value):
                collect(value, depth + 1)

    collect(fn, 0)
    out: dict = {}
    for name, value in values.items():
        if isinstance(value, nn.Module):
            out.setdefault(name, value)
        elif _held_modules(value):  # modules = {"encoder": Encoder(), ...}; nets = [enc, dec]: a plain container
            for key, inner in _held_modules(value):
                out.setdefault(f"{name}_{key}", inner)
        elif not isinstance(value, (type, types.ModuleType, types.FunctionType)) and hasattr(value, "__dict__"):
            for attr, inner in vars(value).items():
                if isinstance(inner, nn.Module):
                    out.setdefault(attr, inner)
    return out


def _held_modules(value) -> list:
    """(key, module) of a plain dict, list or tuple whose every item is an nn.Module; [] else."""
    import torch.nn as nn

    items = list(value.items()) if isinstance(value, dict) else list(enumerate(value)) if isinstance(value, (list, tuple)) else []
    if not items or not all(isinstance(m, nn.Module) for _k, m in items) or not all(isinstance(k, (str, int)) for k, _m in items):
        return []
    return [(str(k).replace(".", "_"), m) for k, m in items]


def model_of(modules: dict):
    """The model the step trains: the one module that holds all the others, or a
    container of them (named as the code names them)."""
    for module in modules.values():
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
