"""Schedules a LightningModule's step computes from its own counters, ``self.global_step`` and
``self.current_epoch`` (``beta = min(1.0, self.global_step / warmup)``), read at later counter
values as :mod:`.schedules` reads a script's."""

from __future__ import annotations

import ast
import types

from vaelint.frontends.base import Schedule
from vaelint.frontends.training.schedules import LATER, _evaluate, still
from vaelint.source.astutil import walk_statements
from vaelint.source.frames import SourceLoc


def attribute_counters(module) -> dict:
    """A LightningModule's own counters, read as ``self.global_step`` and ``self.current_epoch``."""
    return {"global_step": getattr(module, "global_step", 0), "current_epoch": getattr(module, "current_epoch", 0)}


class _Counted:
    """``self`` of a LightningModule with its counters set: everything else is the module's."""

    def __init__(self, module, counters: dict):
        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "_counters", counters)

    def __getattr__(self, item):
        counters = object.__getattribute__(self, "_counters")
        if item in counters:
            return counters[item]
        value = getattr(object.__getattribute__(self, "_module"), item)
        if isinstance(value, types.MethodType):
            return types.MethodType(value.__func__, self)
        return value


def find_module_schedules(method, module, path: str, text: str, sandbox) -> list[Schedule]:
    """Assignments in a LightningModule's step that read ``self.global_step`` or
    ``self.current_epoch``, read at later steps."""
    import inspect
    import textwrap

    try:
        lines, first = inspect.getsourcelines(method)
        source = textwrap.dedent("".join(lines))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        return []
    segments = {id(n): " ".join((ast.get_source_segment(source, n) or "").split()) for n in ast.walk(tree) if isinstance(n, ast.expr)}
    ast.increment_lineno(tree, first - 1)
    body = tree.body[0].body if tree.body and hasattr(tree.body[0], "body") else []
    out = []
    for stmt in walk_statements(body):
        for name, expr, counter in _weights(stmt, module, method):
            values = []
            for value in (0, *LATER):
                counted = _Counted(module, {counter: value})
                got = _evaluate(expr, dict(method.__globals__), {"self": counted}, path, sandbox)
                if got is None:
                    values = []
                    break
                values.append((value, got))
            if still(values):
                continue
            loc = SourceLoc(path, stmt.lineno, stmt.col_offset + 1)
            text = segments.get(id(expr), "")
            out.append(Schedule(name or text[:60], text[:90], loc, f"self.{counter}", values[0][1], values))
    return out


_COUNTERS = ("global_step", "current_epoch")


def _weights(stmt: ast.stmt, module, method) -> list:
    """(name, expression, counter) of what the statement computes from a counter: an assignment
    (``beta = min(1.0, self.global_step / warmup)``), and a value handed to a call, named by the
    parameter it binds (``self._loss(x, self._beta())``, ``_beta`` reading ``self.current_epoch``:
    ``beta`` in the loss, where the KL is weighed)."""
    out = []
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        read = _counters_read(stmt.value, module)
        if read:
            return [(stmt.targets[0].id, stmt.value, read[0])]
    for product in (n for n in ast.walk(stmt) if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult)):
        # a weight written in the loss itself (``rec + self.kl_weight() * kl``): named by its text
        for side in (product.left, product.right):
            read = _counters_read(side, module) if isinstance(side, (ast.Call, ast.Attribute, ast.Name)) else []
            if read:
                out.append((None, side, read[0]))
    for call in (n for n in ast.walk(stmt) if isinstance(n, ast.Call)):
        params = _parameters(call.func, module, method)
        handed = [(params[k] if k < len(params) else None, a) for k, a in enumerate(call.args)]
        handed += [(kw.arg, kw.value) for kw in call.keywords if kw.arg]
        for param, arg in handed:
            read = _counters_read(arg, module) if not isinstance(arg, ast.Starred) else []
            if read and param:
                out.append((param, arg, read[0]))
    return out


def _counters_read(expr: ast.expr, module) -> list[str]:
    """The counters an expression reads: ``self.current_epoch`` itself, or through a method of the
    module's own it calls (``self._beta()``, whose body reads it)."""
    import inspect

    read = set()
    for n in ast.walk(expr):
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "self":
            if n.attr in _COUNTERS:
                read.add(n.attr)
            fn = getattr(type(module), n.attr, None)
            if isinstance(fn, types.FunctionType):
                try:
                    body = inspect.getsource(fn)
                except (OSError, TypeError):
                    continue
                read |= {c for c in _COUNTERS if f"self.{c}" in body}
    return sorted(read)


def _parameters(func: ast.expr, module, method) -> list[str]:
    """The parameter names (``self`` left out) of the module's method or the function a call names."""
    import inspect

    fn = None
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self":
        fn = getattr(type(module), func.attr, None)
    elif isinstance(func, ast.Name):
        fn = method.__globals__.get(func.id)
    if not isinstance(fn, types.FunctionType):
        return []
    names = list(inspect.signature(fn).parameters)
    return names[1:] if names[:1] == ["self"] and isinstance(func, ast.Attribute) else names
