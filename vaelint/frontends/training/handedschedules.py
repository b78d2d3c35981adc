"""A weight the caller computes from its counter and hands to the function that holds the step:
``for epoch in ...: train_epoch(model, loader, opt, sched.get_beta(epoch))``, or ``beta =
min(1, epoch / 20)`` just before the call. The parameter (``beta``) is no counter of the step
(read along itself it "never settled": a false VAE004), nor a constant (its first epoch's value,
"multiplied by 0.05": a false VAE004 whose fix deletes the warm-up): it is a schedule of the
caller's counter, read in the caller's frame as the run had it (``sched`` included)."""

from __future__ import annotations

import ast

from vaelint.frontends.base import Schedule
from vaelint.frontends.training.counternames import bare_counter, module_of, names_of
from vaelint.frontends.training.schedules import _ending, _evaluate, _moving, counters_of, loop_ends
from vaelint.source.astutil import loads, source_segment, target_names
from vaelint.source.frames import SourceLoc


def handed_schedules(plan, frame, namespace: dict, sandbox) -> list[Schedule]:
    """The schedules of the step function's parameters that its caller hands a counter's function."""
    from vaelint.source.files import read_source

    node = frame.scope.node
    callers = [*plan.callers, *plan.frames[: plan.boundary.frame_index]]
    if not callers or not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return []
    caller = callers[-1]
    loops = [s for s in caller.place.statements() if isinstance(s, (ast.For, ast.AsyncFor))]
    counting = counters_of(caller.scope.node, loops, None, module_of(caller.scope))
    # the caller's values as the run had them; none where the step was found by reading the code (the
    # run stopped before the caller's loop): the counter's function is read with the module's names
    space = {**namespace, **(caller.values or {})}
    ends = loop_ends(loops, space, caller.scope.path, sandbox)
    params = [a.arg for a in (*node.args.posonlyargs, *node.args.args)]
    try:
        text = read_source(caller.scope.path)
    except (OSError, UnicodeDecodeError):
        return []
    out = []
    for call in (n for n in ast.walk(caller.place.statement) if isinstance(n, ast.Call)):
        called = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", None)
        if called not in names_of(caller.scope, node.name):
            continue
        skip = 1 if isinstance(call.func, ast.Attribute) and params[:1] in (["self"], ["cls"]) else 0
        handed = [(params[k + skip], a) for k, a in enumerate(call.args) if k + skip < len(params)]
        handed += [(kw.arg, kw.value) for kw in call.keywords if kw.arg in params]
        for param, arg in handed:
            expr, at = _computed(arg, caller, counting) or (arg, call)
            read = sorted(loads(expr) & counting)
            if not read or bare_counter(expr, counting):
                continue
            counter = read[0]
            now = (caller.values or {}).get(counter, 0)
            now = now if isinstance(now, (int, float)) and not isinstance(now, bool) else 0
            values = _moving(now, lambda v, e=expr, c=counter: _evaluate(e, space, {c: v}, caller.scope.path, sandbox), ends.get(counter))
            if values:
                loc = SourceLoc(caller.scope.path, at.lineno, at.col_offset + 1)
                # held: the step reads the parameter as handed, so a later step is the parameter set, not the counter
                schedule = Schedule(param, source_segment(text, expr, 90), loc, counter, values[0][1], values, held=True)
                out.append(_ending(schedule, ends.get(counter)))
    return out


def _computed(arg: ast.expr, caller, counting: set):
    """(the expression, its statement) a name handed on was last set to from a counter in the
    caller's loop before the call (``beta = sched.get_beta(epoch); train_epoch(..., beta)``), or None:
    the caller's lead statements (:func:`.schedules.lead_statements`) that assign it."""
    from vaelint.frontends.training.schedules import lead_statements

    if not isinstance(arg, ast.Name):
        return None
    found = None
    for stmt in lead_statements([caller.scope.node, *caller.place.statements()]):
        if isinstance(stmt, ast.Assign) and arg.id in set().union(*(target_names(t) for t in stmt.targets)):
            if loads(stmt.value) & counting:
                found = (stmt.value, stmt)
    return found
