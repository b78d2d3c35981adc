"""Schedules a LightningModule's step computes from its own counters, ``self.global_step`` and
``self.current_epoch`` (``beta = min(1.0, self.global_step / warmup)``), read at later counter
values as :mod:`.schedules` reads a script's."""

from __future__ import annotations

import ast
import types

from vaelint.frames import SourceLoc
from vaelint.frontends.base import Schedule
from vaelint.frontends.training.astutil import walk_statements
from vaelint.frontends.training.schedules import LATER, _evaluate, still


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
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
            continue
        attrs = {
            n.attr for n in ast.walk(stmt.value) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "self"
        }
        read = attrs & {"global_step", "current_epoch"}
        if not read:
            continue
        counter = sorted(read)[0]
        values = []
        for value in (0, *LATER):
            counted = _Counted(module, {counter: value})
            got = _evaluate(stmt.value, dict(method.__globals__), {"self": counted}, path, sandbox)
            if got is None:
                values = []
                break
            values.append((value, got))
        if still(values):
            continue
        loc = SourceLoc(path, stmt.lineno, stmt.col_offset + 1)
        expr = segments.get(id(stmt.value), "")
        out.append(Schedule(stmt.targets[0].id, expr[:90], loc, f"self.{counter}", values[0][1], values))
    return out
