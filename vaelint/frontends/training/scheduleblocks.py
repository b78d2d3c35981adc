"""The user's own schedule expressions and blocks, run again at other counter values: a
weight's expression (``min(1, epoch / 200)``) and the ``if`` around it that only sets variables,
each as a plain number or None where it needs what only the step computes."""

from __future__ import annotations

import ast
import math

from vaelint.source.astutil import walk_statements
from vaelint.source.files import compile_user_code


def _only_names_set(stmt: ast.If) -> bool:
    """Does the ``if`` only set variables (no call made for its effect, ``opt.step()``; no
    attribute or item set)? Only such a block is run again, at other counter values."""
    return all(
        isinstance(s, (ast.If, ast.Pass))
        or (
            isinstance(s, (ast.Assign, ast.AugAssign))
            and all(isinstance(t, ast.Name) for t in getattr(s, "targets", [getattr(s, "target", None)]))
        )
        for s in walk_statements([stmt])
    )


def _set_in_branches(stmt: ast.If) -> dict:
    """``if warmup: beta = min(1, epoch / warmup) else: beta = 1``: each name a branch of the
    ``if`` sets, with the first of its assignments (the one the report shows)."""
    out: dict = {}
    for inner in walk_statements([stmt]):
        if isinstance(inner, ast.Assign) and len(inner.targets) == 1 and isinstance(inner.targets[0], ast.Name):
            out.setdefault(inner.targets[0].id, inner)
    return out


def _evaluate(expr: ast.expr, namespace: dict, counters: dict, path: str, sandbox, index: int | None = None):
    """The expression's value with the counters set (a plain number; its ``index``-th item when
    it hands back a tuple), or None."""
    code = compile_user_code(ast.Expression(body=expr), path, "eval")
    scope = dict(namespace)
    scope.update(counters)
    try:
        with sandbox.active():
            value = eval(code, scope)  # noqa: S307 - the user's own expression, as the step would evaluate it
    except Exception:  # noqa: BLE001 - it needs what only the step computes: no schedule
        return None
    if index is not None:
        value = value[index] if isinstance(value, (tuple, list)) and index < len(value) else None
    if hasattr(value, "item") and getattr(value, "numel", lambda: 0)() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _evaluate_block(stmts: list[ast.stmt], name: str, namespace: dict, counters: dict, path: str, sandbox):
    """``name`` as the statements leave it with the counters set (a plain number), or None. They run
    in a loop of one pass, as in the loop they come from (``if resumed: ...; continue`` compiles)."""
    once = ast.For(target=ast.Name("_vaelint_once", ast.Store()), iter=ast.Tuple([ast.Constant(0)], ast.Load()), body=stmts, orelse=[])
    ast.copy_location(once, stmts[0])
    once.end_lineno, once.end_col_offset = stmts[-1].end_lineno, stmts[-1].end_col_offset
    try:
        code = compile_user_code(ast.fix_missing_locations(ast.Module(body=[once], type_ignores=[])), path, "exec")
    except SyntaxError:  # a return or yield of the function around the loop: not a block of its own
        return None
    scope = dict(namespace)
    scope.update(counters)
    try:
        with sandbox.active():
            exec(code, scope)  # noqa: S102 - the user's own assignments, as the loop runs them
    except Exception:  # noqa: BLE001 - they need what only the step computes: no schedule
        return None
    value = scope.get(name)
    if hasattr(value, "item") and getattr(value, "numel", lambda: 0)() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)
