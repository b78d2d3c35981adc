"""Weights a loss object computes from counters the step tells it by a method of its own:
``loss_fn.update_step(step, epoch)`` sets ``self.step, self.epoch = step, epoch``, and its
``__call__`` reads ``beta = self.scheduler.get_beta(self.step, self.epoch)`` (a cyclical KL anneal
held by a scheduler object). The step checked sees the weight at the counters' first values; here
it is read at later values on a copy of the object, as :mod:`.calleeschedules` reads a function
handed the counter itself."""

from __future__ import annotations

import ast
import copy
import inspect
import types

from vaelint.frontends.base import Schedule
from vaelint.source.astutil import source_segment, walk_statements
from vaelint.source.frames import SourceLoc, is_user_file


def told_schedules(owner, node, handed: dict, namespace: dict, counted: dict, sandbox, ends: dict) -> list[Schedule]:
    """The schedules of ``owner``'s other methods that read an attribute the method ``node`` sets
    from a counter it is handed (``handed``: {parameter: counter})."""
    from vaelint.frontends.training.functionspace import _assigned, _definition, _space
    from vaelint.frontends.training.scheduleblocks import _evaluate
    from vaelint.frontends.training.schedules import _ending, _moving

    told = _told(node, handed)  # {attribute: counter}
    if not told:
        return []
    out = []
    for method in _methods(type(owner), node.name):
        found = _definition(method)
        if found is None:
            continue
        body, path, text = found
        me = next(iter(inspect.signature(method).parameters), None)
        if me is None:
            continue
        space = _space(method, body)
        for name, value, at in _assigned(body):
            read = sorted(a for a in told if _reads(value, me, a))
            if not read:
                continue
            attr, counter = read[0], told[read[0]]
            now = namespace.get(counter, 0)
            now = (now if isinstance(now, (int, float)) and not isinstance(now, bool) else 0) + counted.get(counter, 0)

            def at_value(v, e=value, a=attr, me=me, g=space, f=path):
                with sandbox.active():  # a copy may run the code's own __copy__: in the sandbox, as all of its code
                    held = copy.copy(owner)  # the object as the step holds it, told another count
                object.__setattr__(held, a, v)
                return _evaluate(e, {**g, me: held}, {}, f, sandbox)

            values = _moving(now, at_value, ends.get(counter))
            if values:
                loc = SourceLoc(path, at.lineno, at.col_offset + 1)
                out.append(_ending(Schedule(name, source_segment(text, value, 90), loc, counter, values[0][1], values), ends.get(counter)))
    return out


def _told(node, handed: dict) -> dict:
    """{attribute: counter} for ``self.epoch = epoch`` and ``self.step, self.epoch = step, epoch``
    in the method that is handed the counters."""
    me = node.args.args[0].arg if node.args.args else None
    out = {}
    for stmt in walk_statements(node.body):
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1):
            continue
        target, value = stmt.targets[0], stmt.value
        pairs = (
            list(zip(target.elts, value.elts))
            if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) and len(target.elts) == len(value.elts)
            else [(target, value)]
        )
        for t, v in pairs:
            if (
                isinstance(t, ast.Attribute)
                and isinstance(t.value, ast.Name)
                and t.value.id == me
                and isinstance(v, ast.Name)
                and v.id in handed
            ):
                out[t.attr] = handed[v.id]
    return out


def _methods(cls: type, besides: str) -> list:
    """The user's own methods of the class (its ``__call__``, ``forward``, ``loss``), but ``besides``."""
    out = []
    for klass in cls.__mro__:
        for name, value in vars(klass).items():
            fn = getattr(value, "__func__", value)
            if name != besides and isinstance(fn, types.FunctionType) and is_user_file(fn.__code__.co_filename):
                out.append(fn)
    return out


def _reads(value: ast.expr, me: str, attr: str) -> bool:
    return any(
        isinstance(n, ast.Attribute) and n.attr == attr and isinstance(n.value, ast.Name) and n.value.id == me for n in ast.walk(value)
    )
