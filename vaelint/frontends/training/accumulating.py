"""KL weights each training step moves from their own last value, not from a counter:
``args.beta = min(1, args.beta + 1. / (args.warmup * len(train_data)))`` (the counter schedules
are :mod:`.schedules`)."""

from __future__ import annotations

import ast
import math

from vaelint.frames import SourceLoc
from vaelint.frontends.base import Schedule
from vaelint.frontends.sourcefile import compile_user_code
from vaelint.frontends.training.astutil import dotted, source_segment, walk_statements
from vaelint.frontends.training.schedules import LATER, _evaluate, _step_namespace, still

_ACC = "__vaelint_previous"  # the weight's last value, in an accumulating update read again


def accumulating_schedules(fn, region: list[ast.stmt], path: str, text: str, sandbox, frame_values: dict | None = None) -> list[Schedule]:
    """Weights each step moves from their own last value: ``args.beta = min(1, args.beta + 1. /
    (args.warmup * len(train_data)))``, ``kl_w = min(kl_w + 1e-4, 1.0)``: no counter is read, the
    variable is. Read by repeating the update from the value the step saw (each of the check's
    runs of the step moved it once, so the start is taken from the KL factor itself:
    :meth:`Schedule.from_value`)."""
    namespace = _step_namespace(fn, frame_values)
    out = []
    for stmt in walk_statements(region):
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1):
            continue
        target = stmt.targets[0]
        name = dotted(target)  # beta, args.beta, self.kl_weight
        if not name:
            continue
        update = _reading_itself(stmt.value, target)
        if update is None:
            continue
        code = compile_user_code(ast.Expression(body=update), path, "eval")
        now = _evaluate(_as_load(target), namespace, {}, path, sandbox)
        if now is None:
            continue

        def values_from(start, code=code):
            return _repeated(code, namespace, start, sandbox)

        values = values_from(now)
        if still(values):
            continue
        loc = SourceLoc(path, stmt.lineno, stmt.col_offset + 1)
        out.append(Schedule(name, source_segment(text, stmt.value, 90), loc, "step", now, values, False, values_from))
    return out


def _as_load(target: ast.expr) -> ast.expr:
    import copy

    node = copy.deepcopy(target)
    for n in ast.walk(node):
        if hasattr(n, "ctx"):
            n.ctx = ast.Load()
    return node


def _reading_itself(value: ast.expr, target: ast.expr) -> ast.expr | None:
    """``value`` with each read of ``target`` made a read of the last value, or None when it does
    not read the target (a plain assignment)."""
    import copy

    wanted = ast.dump(_as_load(target))
    found = []

    class _Swap(ast.NodeTransformer):
        def visit(self, node):
            if isinstance(node, (ast.Name, ast.Attribute)) and ast.dump(node) == wanted:
                found.append(node)
                return ast.copy_location(ast.Name(id=_ACC, ctx=ast.Load()), node)
            return super().visit(node)

    swapped = _Swap().visit(copy.deepcopy(value))
    return ast.fix_missing_locations(swapped) if found else None


def _repeated(code, namespace: dict, start: float, sandbox) -> list:
    """(steps, value) at 0 and at each of LATER steps from ``start``, the update repeated; it
    stops early where the weight no longer moves, and ends at the last step read."""
    scope = dict(namespace)
    values, value, done = [(0, start)], start, 0
    try:
        with sandbox.active():
            for at in LATER[:7]:  # up to 1e6 repeats
                while done < at:
                    scope[_ACC] = value
                    got = eval(code, scope)  # noqa: S307 - the user's own update, as each step runs it
                    if hasattr(got, "item") and getattr(got, "numel", lambda: 0)() == 1:
                        got = got.item()
                    if isinstance(got, bool) or not isinstance(got, (int, float)) or not math.isfinite(got):
                        return []
                    done += 1
                    if math.isclose(got, value, rel_tol=1e-12, abs_tol=0.0):
                        done = at  # settled: every later step is the same
                    value = float(got)
                values.append((at, value))
    except Exception:  # noqa: BLE001 - it needs what only the step computes: no schedule
        return []
    if values[-1][1] != values[-2][1]:
        return values  # still moving after a million steps
    return values + [(LATER[-1], values[-1][1])]


def before_the_batch(path: list) -> list[ast.stmt]:
    """The statements of the loops around the step that run before it each time round (sa-vae's
    ``if args.warmup > 0: args.beta = min(1, args.beta + ...)`` above ``sents = train_data[i]``)."""
    out = []
    for outer, inner in zip(path, path[1:]):
        if not isinstance(outer, (ast.For, ast.AsyncFor, ast.While)):
            continue  # the function's own statements run once, not each step
        for stmt in getattr(outer, "body", []):
            if stmt is inner:
                break
            out.append(stmt)
    return out
