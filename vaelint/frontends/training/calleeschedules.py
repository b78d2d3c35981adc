"""Schedules inside what the step calls: a loss function handed the epoch computes its KL weight
from it (``loss = elbo_loss(recon, x, mu, logvar, epoch)``, and in it ``beta =
kl_annealing(..., epoch=epoch)``: Ilikestrawberry/musicvae). The step's own assignments are read
by :mod:`.schedules`; here each call of the step that hands a counter to a function of the
user's is followed one level down, and that function's assignments which read the parameter the
counter went to are read again at later counter values, as the step's own are."""

from __future__ import annotations

import ast
import inspect
import types

from vaelint.frontends.base import Schedule
from vaelint.frontends.training.functionspace import _assigned, _definition, _space
from vaelint.frontends.training.schedules import _ending, _evaluate, _moving
from vaelint.frontends.training.toldschedules import told_schedules
from vaelint.source.astutil import loads, source_segment, walk_statements
from vaelint.source.frames import SourceLoc, is_user_file


def callee_schedules(
    region: list[ast.stmt], counters: set, namespace: dict, counted: dict, sandbox, ends: dict | None = None
) -> list[Schedule]:
    """The schedules of the user's functions the step calls with a counter (by name, as an
    argument or a keyword); ``ends``: a counter's last value where its loop is a ``range``."""
    ends = ends or {}
    out, seen = [], set()
    for stmt in walk_statements(region):
        for call in (n for n in ast.walk(stmt) if isinstance(n, ast.Call)):
            fn = _function(call.func, namespace)
            owner = _method_owner(call.func, namespace) if fn is None else None
            fn = fn if owner is None else _method_owner.found
            handed = _handed(call, fn, counters, skip=owner is not None) if fn is not None else {}
            if not handed or fn.__code__ in seen:
                continue
            seen.add(fn.__code__)
            found = _definition(fn)
            if found is None:
                continue
            node, path, text = found
            # the other arguments the step hands it that are plain values (loss_fn(recon, x, "logistic",
            # step, 0.0025, 2500): kind, k, x0), for a weight computed from them beside the counter
            space = {**_space(fn, node), **_plain_arguments(call, fn, handed, namespace, sandbox, owner is not None)}
            if owner is not None:  # self.train_step(x, epoch): its self is the object the step holds
                space = {**space, next(iter(inspect.signature(fn).parameters)): owner}
                # loss_fn.update_step(step, epoch) telling a loss object the counters its __call__ reads
                out += told_schedules(owner, node, handed, namespace, counted, sandbox, ends)
            for name, value, at in [*_assigned(node), *_returned(stmt, call, node), *_inline(node, text, handed)]:
                read = sorted(loads(value) & set(handed))
                if not read:
                    continue
                param = read[0]
                counter = handed[param]
                now = namespace.get(counter, 0)
                now = (now if isinstance(now, (int, float)) and not isinstance(now, bool) else 0) + counted.get(counter, 0)
                values = _moving(now, lambda v, e=value, p=param, g=space, f=path: _evaluate(e, g, {p: v}, f, sandbox), ends.get(counter))
                if values:
                    loc = SourceLoc(path, at.lineno, at.col_offset + 1)
                    schedule = Schedule(name, source_segment(text, value, 90), loc, counter, values[0][1], values)
                    out.append(_ending(schedule, ends.get(counter)))
    return out


def parameter_schedules(fn, handed: dict, sandbox, owner=None, starts: dict | None = None) -> list[Schedule]:
    """The schedules a function computes from its counter parameters (``handed``: {parameter:
    counter}), read from the counter's first value, 0, on: a model's loss method that takes the
    epoch (``beta = min(1, epoch / self.total_epochs)``), checked with no training code to call it.
    ``owner``: the object a method is bound to (its ``self``); ``starts``: a counter's value where
    the check is not at its first (given with --loss-kwarg)."""
    fn = getattr(fn, "__func__", fn)
    found = _definition(fn) if isinstance(fn, types.FunctionType) else None
    if found is None:
        return []
    node, path, text = found
    space = _space(fn, node)
    if owner is not None:
        space = {**space, next(iter(inspect.signature(fn).parameters)): owner}
    out = []
    for name, value, at in [*_assigned(node), *_inline(node, text, handed)]:
        read = sorted(loads(value) & set(handed))
        if not read:
            continue
        start = (starts or {}).get(read[0], 0)
        values = _moving(start, lambda v, e=value, p=read[0], g=space, f=path: _evaluate(e, g, {p: v}, f, sandbox), None)
        if values:
            loc = SourceLoc(path, at.lineno, at.col_offset + 1)
            out.append(Schedule(name, source_segment(text, value, 90), loc, handed[read[0]], values[0][1], values))
    return out


def _returned(stmt: ast.stmt, call: ast.Call, node) -> list:
    """(name, value, value) of what the function returns into the step's names: ``nll, kl, w =
    loss_fn(..., step)`` and ``return nll, kl, kl_weight_at(anneal, step, x0)`` give ``w`` and
    the third value (a Bowman-style text VAE's weight, handed back beside the terms)."""
    if not (isinstance(stmt, ast.Assign) and stmt.value is call and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Tuple)):
        return []
    names = [e.id if isinstance(e, ast.Name) else None for e in stmt.targets[0].elts]
    out = []
    for ret in (n for n in walk_statements(node.body) if isinstance(n, ast.Return) and isinstance(n.value, ast.Tuple)):
        if len(ret.value.elts) == len(names):
            out += [(n, v, v) for n, v in zip(names, ret.value.elts) if n is not None and not isinstance(v, ast.Starred)]
    return out


def _inline(node, text: str, handed: dict) -> list:
    """(its text, value, return) of a weight written inline in what the function returns, a factor
    that reads a handed counter: ``return rec + min(1.0, (step + 1) / warmup) * kl``."""
    out = []
    for ret in (n for n in walk_statements(node.body) if isinstance(n, ast.Return) and n.value is not None):
        for product in (n for n in ast.walk(ret.value) if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult)):
            for side, other in ((product.left, product.right), (product.right, product.left)):
                if loads(side) & set(handed) and not loads(other) & set(handed):
                    out.append((source_segment(text, side, 60), side, ret))
    return out


def _method_owner(func: ast.expr, namespace: dict):
    """``self.train_step`` of an object the step holds (a trainer's own method, handed the epoch):
    the object, with the function its class defines in ``_method_owner.found``; None for anything
    else (an attribute the object holds itself, a property: nothing is evaluated to find it)."""
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in namespace):
        return None
    owner = namespace[func.value.id]
    if isinstance(owner, (types.ModuleType, type)) or func.attr in getattr(owner, "__dict__", {}):
        return None
    fn = inspect.getattr_static(type(owner), func.attr, None)
    if not isinstance(fn, types.FunctionType) or not is_user_file(fn.__code__.co_filename):
        return None
    _method_owner.found = fn
    return owner


def _function(func: ast.expr, namespace: dict):
    """The plain Python function a call names (``elbo_loss``, ``losses.elbo``), bound methods
    unwrapped; None for anything else (a module's forward, a builtin)."""
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if not isinstance(func, ast.Name) or func.id not in namespace:
        return None
    value = namespace[func.id]
    for part in reversed(parts):
        if isinstance(value, types.ModuleType) or isinstance(value, type):
            value = getattr(value, part, None)  # a module's function, a class's static one: no code runs
        else:
            return None  # an attribute of an object might be a property: not evaluated
    value = getattr(value, "__func__", value)
    if not isinstance(value, types.FunctionType) or not is_user_file(value.__code__.co_filename):
        return None
    return value


def _handed(call: ast.Call, fn: types.FunctionType, counters: set, skip: bool = False) -> dict:
    """{parameter: counter} for each argument that is a counter's name (or a LightningModule's own
    counter, ``self.current_epoch``); ``skip``: a method called on its object (its self is no argument)."""
    from vaelint.source.astutil import dotted

    params = list(inspect.signature(fn).parameters)[1 if skip else 0 :]
    out = {}
    for k, arg in enumerate(call.args):
        name = dotted(arg) if isinstance(arg, (ast.Name, ast.Attribute)) else None
        if name in counters and k < len(params):
            out[params[k]] = name
    for kw in call.keywords:
        name = dotted(kw.value) if isinstance(kw.value, (ast.Name, ast.Attribute)) else None
        if kw.arg in params and name in counters:
            out[kw.arg] = name
    return out


def _plain_arguments(call: ast.Call, fn: types.FunctionType, handed: dict, namespace: dict, sandbox, skip: bool) -> dict:
    """{parameter: value} for the call's arguments that are plain values, not the counter: literals,
    names and attributes of the step's namespace (``"logistic"``, ``args.k``, ``-0.0025``); nothing
    is called to find them."""
    from vaelint.source.files import compile_user_code

    try:
        params = list(inspect.signature(fn).parameters)[1 if skip else 0 :]
    except (TypeError, ValueError):
        return {}
    pairs = [(params[k], arg) for k, arg in enumerate(call.args) if k < len(params) and not isinstance(arg, ast.Starred)]
    pairs += [(kw.arg, kw.value) for kw in call.keywords if kw.arg in params]
    out = {}
    for param, arg in pairs:
        if param in handed or not all(isinstance(n, _PLAIN) for n in ast.walk(arg)):
            continue
        try:
            with sandbox.active():
                out[param] = eval(compile_user_code(ast.Expression(body=arg), "<argument>", "eval"), dict(namespace))  # noqa: S307
        except Exception:  # noqa: BLE001 - a value only the step computes (a tensor): not bound
            continue
    return out


# what a plain argument is made of: no call, no subscript (nothing of the user's code runs)
_PLAIN = (ast.Constant, ast.Name, ast.Attribute, ast.UnaryOp, ast.BinOp, ast.Load, ast.operator, ast.unaryop)
