"""A batch the code makes itself, the same number of rows every time: no loader gives it, and each of
its tensors is made by a call the code hands the batch size (``sample_class(data, labels, c,
BATCH)``, ``buffer.sample(batch_size)``, ``torch.full((BATCH,), c)``), never cut from data by a
moving slice (``X[i:i + bs]``, whose last cut is shorter). Every batch then has that size, as a
DataLoader's with ``drop_last=True`` does: a size written down that equals it is right for each
(VAE005 says so in a note, not a finding). Read from the step's own statements and the functions
of the code's they call, with the values the run had."""

from __future__ import annotations

import ast
import inspect
import textwrap

from vaelint.frontends.training.livestepper import dotted_value

_MAX_STATEMENTS = 200


def made_in_full(program) -> None:
    """No loader, and the code makes every batch the same number of rows: that size is the step's
    configured batch, for every batch (VAE005 reads it as a drop_last loader's)."""
    from vaelint.frontends.training.liveinner import tensors_in

    first = next(iter(tensors_in(program.live_step.batch_value)), None)
    if program.configured_batch is None and first is not None and first.dim():
        why = _why_full(program.live_step, int(first.shape[0]))
        if why:
            program.configured_batch, program.full_batches = int(first.shape[0]), why
            program.configured_batch_text = f"the batches of {int(first.shape[0])} rows the code makes"


def _why_full(step, n: int) -> str:
    """Why every batch of the step has ``n`` rows, or "" where one may not (a loader gives it, a
    tensor of it is cut by a moving slice, or made by no call that is handed ``n``)."""
    if step is None or step.loader is not None or not step.names or n < 2:
        return ""
    made = _assignments(step)
    said = []
    for name in step.names:
        expr = made.get(name)
        if expr is None or _moving_slice(expr) or not _handed(expr, n, step):
            return ""
        if any(_moving_slice(body) for body in _callees(expr, step)):
            return ""
        said.append(f"{name} = {ast.unparse(expr)[:60]}")
    return f"the code makes every batch {n} rows at a time ({'; '.join(said[:2])})"


def _assignments(step) -> dict:
    """name -> the expression last assigned to it (in line order) in the step's own scope before its
    backward; the bodies of functions and classes defined there are other scopes, left out."""
    found = []
    todo = list(getattr(step.scope, "body", None) or [])
    while todo and len(found) < _MAX_STATEMENTS:
        stmt = todo.pop()
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            if stmt.lineno <= step.place.line:
                found.append((stmt.lineno, stmt.targets[0].id, stmt.value))
        todo.extend(child for field in ("body", "orelse", "handlers", "finalbody") for child in getattr(stmt, field, []) or [])
    return {name: value for _line, name, value in sorted(found, key=lambda f: f[0])}


def _moving_slice(node: ast.AST) -> bool:
    """A slice whose bound is not a constant (``X[i:i + bs]``, ``perm[k * bs:(k + 1) * bs]``)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Slice) and any(b is not None and not isinstance(b, ast.Constant) for b in (sub.lower, sub.upper)):
            return True
    return False


def _handed(expr: ast.expr, n: int, step) -> bool:
    """Is some call in ``expr`` handed ``n`` (an argument, or a size tuple holding it), read with
    the step's values (``BATCH``, ``args.batch_size``)?"""
    for call in (c for c in ast.walk(expr) if isinstance(c, ast.Call)):
        for arg in [*call.args, *(k.value for k in call.keywords)]:
            items = arg.elts if isinstance(arg, (ast.Tuple, ast.List)) else [arg]
            if any(_value(item, step) == n for item in items):
                return True
    return False


def _value(node: ast.expr, step):
    """A whole number written, or a name or dotted attribute's as the run had it; None otherwise."""
    value = node.value if isinstance(node, ast.Constant) else dotted_value(node, {**step.module_globals, **(step.values or {})})
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _callees(expr: ast.expr, step) -> list:
    """The parsed bodies of the code's own functions ``expr`` calls (one level), found by name or
    by attribute on a value the run had (``buffer.sample``)."""
    from vaelint.source.frames import is_user_file

    values = {**step.module_globals, **(step.values or {})}
    out = []
    for call in (c for c in ast.walk(expr) if isinstance(c, ast.Call)):
        fn = None
        if isinstance(call.func, ast.Name):
            fn = values.get(call.func.id)
        elif isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name):
            owner = values.get(call.func.value.id)
            fn = inspect.getattr_static(type(owner), call.func.attr, None) if owner is not None else None
        fn = getattr(fn, "__func__", fn)
        code = getattr(fn, "__code__", None)
        if code is None or not is_user_file(code.co_filename):
            continue
        try:
            out.append(ast.parse(textwrap.dedent(inspect.getsource(fn))))
        except (OSError, TypeError, SyntaxError, IndentationError):
            out.append(ast.parse("x[i:j]"))  # unknown: taken as one that may cut a moving slice
    return out
