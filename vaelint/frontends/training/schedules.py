"""Weights a training step computes from its counters: an annealed KL weight.

``kl_weight = kl_anneal_function(args.anneal, step, args.k, args.x0)`` or
``beta = min(1.0, epoch / warmup)`` changes from step to step; the check runs
one step (the first), where such a weight is often almost 0. Here each
assignment of the step that reads a counter (a name the loop increments, the
loop's own variable, the batch index; a LightningModule's ``global_step`` and
``current_epoch``) is evaluated again at later counter values, without running
the step: the report shows the schedule, and the rules judge where it goes.
"""

from __future__ import annotations

import ast
import math
import types

from vaelint.frames import SourceLoc
from vaelint.frontends.base import Schedule
from vaelint.frontends.training.astutil import loads, source_segment, target_names, walk_statements

# counter values a schedule is read at: the step run, then further and further on
LATER = (10, 100, 1_000, 2_500, 5_000, 10_000, 100_000, 1_000_000, 100_000_000)


def counters_of(scope_node: ast.AST, path_loops: list[ast.stmt], index_var: str | None) -> set[str]:
    """Names that count steps: incremented anywhere in the function holding the
    loop (``step += 1``, ``it = it + 1``), the loops' own variables around the
    step (``epoch``), and the data loop's index."""
    out = set()
    for stmt in walk_statements(scope_node.body if hasattr(scope_node, "body") else []):
        if isinstance(stmt, ast.AugAssign) and isinstance(stmt.op, ast.Add):
            out |= target_names(stmt.target)
        elif isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.BinOp) and isinstance(stmt.value.op, ast.Add):
            names = set().union(*(target_names(t) for t in stmt.targets))
            out |= names & loads(stmt.value)
    for loop in path_loops:
        if isinstance(loop, (ast.For, ast.AsyncFor)):
            out |= target_names(loop.target)
    if index_var:
        out.add(index_var)
    return out


def find_schedules(fn, region: list[ast.stmt], counters: set[str], path: str, text: str, sandbox) -> list[Schedule]:
    """The step's assignments that read a counter, read at later counter values."""
    if not counters:
        return []
    namespace = dict(fn.__globals__)
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
        try:
            namespace[name] = cell.cell_contents
        except ValueError:
            pass
    out = []
    for stmt in walk_statements(region):
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
            continue
        read = loads(stmt.value) & counters
        if not read:
            continue
        counter = sorted(read)[0]
        now = namespace.get(counter, 0)
        if not isinstance(now, (int, float)) or isinstance(now, bool):
            now = 0
        values = []
        for value in (now, *[v for v in LATER if v > now]):
            got = _evaluate(stmt.value, namespace, {counter: value}, path, sandbox)
            if got is None:
                values = []
                break
            values.append((value, got))
        if len(values) < 2 or all(math.isclose(v, values[0][1], rel_tol=1e-9, abs_tol=1e-12) for _c, v in values):
            continue
        name = stmt.targets[0].id
        loc = SourceLoc(path, stmt.lineno, stmt.col_offset + 1)
        out.append(Schedule(name, source_segment(text, stmt.value, 90), loc, counter, values[0][1], values))
    return out


def _evaluate(expr: ast.expr, namespace: dict, counters: dict, path: str, sandbox):
    """The expression's value with the counters set (a plain number), or None."""
    code = compile(ast.Expression(body=expr), path, "eval")
    scope = dict(namespace)
    scope.update(counters)
    try:
        with sandbox.active():
            value = eval(code, scope)  # noqa: S307 - the user's own expression, as the step would evaluate it
    except Exception:  # noqa: BLE001 - it needs what only the step computes: no schedule
        return None
    if hasattr(value, "item") and getattr(value, "numel", lambda: 0)() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


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
        attrs = {n.attr for n in ast.walk(stmt.value) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "self"}
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
        if len(values) < 2 or all(math.isclose(v, values[0][1], rel_tol=1e-9, abs_tol=1e-12) for _c, v in values):
            continue
        loc = SourceLoc(path, stmt.lineno, stmt.col_offset + 1)
        expr = segments.get(id(stmt.value), "")
        out.append(Schedule(stmt.targets[0].id, expr[:90], loc, f"self.{counter}", values[0][1], values))
    return out
