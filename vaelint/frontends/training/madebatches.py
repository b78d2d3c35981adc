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
import re
import textwrap

from vaelint.frontends.training.livestepper import dotted_value

_MAX_STATEMENTS = 200
_BATCH_WORD = re.compile(r"batch|\bbs\b|\bn_?b\b", re.I)


def made_in_full(program) -> None:
    """No loader, and the code makes every batch the same number of rows: that size is the step's
    configured batch, for every batch (VAE005 reads it as a drop_last loader's)."""
    from vaelint.frontends.training.liveinner import tensors_in

    first = next(iter(tensors_in(program.live_step.batch_value)), None)
    if program.configured_batch is None and first is not None and first.dim():
        n, why = _batch_size_made(program.live_step, [int(size) for size in first.shape])
        if why:
            program.configured_batch, program.full_batches = n, why
            program.configured_batch_text = f"the batches of {n} rows the code makes"
            return
        loop = _whole_data_loop(program.live_step)
        if loop is not None and int(first.shape[0]) >= 1:  # a stacked graph of 1 too
            n = int(first.shape[0])
            program.configured_batch = n
            program.full_batches = (
                f"the step trains on the whole data at once, the same {n} rows every pass of its loop "
                f"(line {loop.lineno}; full-batch training)"
            )
            program.configured_batch_text = f"the {n} rows the step trains on at once"


def _whole_data_loop(step):
    """The loop whose body is the step, where that loop gives no batch: no loader, the batch names
    bound before it and written by none of its statements (``for epoch in range(E): model(features,
    adj)``, a graph VAE's full-batch training). None where a pass may take other rows."""
    if step is None or step.loader is not None or step.kind != "free" or not step.names:
        return None
    loop = step.source
    if not isinstance(loop, (ast.For, ast.AsyncFor, ast.While)):
        return None
    from vaelint.frontends.training.livehoist import NAME

    names = set(step.names)
    if NAME in names:
        return None  # the model's input written in its call (model(X[i:i + BATCH])): cut from the data each pass
    if isinstance(loop, (ast.For, ast.AsyncFor)) and names & {n.id for n in ast.walk(loop.target) if isinstance(n, ast.Name)}:
        return None
    for sub in ast.walk(loop):
        if isinstance(sub, ast.Subscript) and isinstance(sub.value, ast.Name) and sub.value.id in names:
            return None  # model(X[i:i + BATCH]), X[perm[k]]: a pass takes some of its rows
        if isinstance(sub, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor, ast.With, ast.NamedExpr)):
            targets = [t for t in ast.walk(sub) if isinstance(t, ast.Name) and isinstance(t.ctx, ast.Store)]
            if names & {t.id for t in targets}:
                return None
    return loop


def _batch_size_made(step, sizes: list) -> tuple:
    """(n, why) for the dim of the made batch whose size the making call is handed: dim 0's, or
    another's where dim 0's is not (a replay buffer's ``sample(batch_size, T)`` gives time first);
    where several are handed (``sample(batch_size, chunk)`` of ``chunk`` steps), the one handed
    through a batch-like name. (None, "") where none is."""
    handed = []
    for n in dict.fromkeys(sizes):
        why = _why_full(step, n)
        if why:
            handed.append((n, why))
    if len(handed) > 1:
        named = [(n, why) for n, why in handed if _handed(_made(step), n, step, named=True)]
        handed = named[:1] if len(named) == 1 else handed[:1] if handed[0][0] == sizes[0] else []
    elif handed and handed[0][0] != sizes[0] and not _handed(_made(step), handed[0][0], step, named=True):
        handed = []  # make_sequences(SEQ) -> 16 x SEQ x F: a length handed, not the batch's size
    return handed[0] if handed else (None, "")


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
    backward (each name of an unpacked tuple: the whole value); the bodies of functions and classes defined there are other scopes, left out."""
    found = []
    todo = list(getattr(step.scope, "body", None) or [])
    while todo and len(found) < _MAX_STATEMENTS:
        stmt = todo.pop()
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and stmt.lineno <= step.place.line:
            target = stmt.targets[0]  # x = ..., or x, u = buffer.sample(...): each name made by that call
            names = [target] if isinstance(target, ast.Name) else getattr(target, "elts", [])
            values = getattr(stmt.value, "elts", None) if isinstance(stmt.value, ast.Tuple) else None
            values = values if values is not None and len(values) == len(names) else [stmt.value] * len(names)
            found.extend((stmt.lineno, n.id, v) for n, v in zip(names, values) if isinstance(n, ast.Name))
        todo.extend(child for field in ("body", "orelse", "handlers", "finalbody") for child in getattr(stmt, field, []) or [])
    return {name: value for _line, name, value in sorted(found, key=lambda f: f[0])}


def _moving_slice(node: ast.AST) -> bool:
    """A slice whose bound is not a constant (``X[i:i + bs]``, ``perm[k * bs:(k + 1) * bs]``), outside
    the items of a comprehension: ``[x[e, s:s + T] for e, s in zip(eps, starts)]`` cuts each item's
    window, and the comprehension's own loop says how many rows there are."""
    todo = [node]
    while todo:
        sub = todo.pop()
        if isinstance(sub, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            todo.extend(gen.iter for gen in sub.generators)
            continue
        if isinstance(sub, ast.Slice) and any(b is not None and not isinstance(b, ast.Constant) for b in (sub.lower, sub.upper)):
            return True
        todo.extend(ast.iter_child_nodes(sub))
    return False


def _handed(expr: ast.AST, n: int, step, named: bool = False) -> bool:
    """Is some call in ``expr`` handed ``n`` (an argument, or a size tuple holding it), read with
    the step's values (``BATCH``, ``args.batch_size``)? ``named``: through a batch-like name or
    keyword (``batch_size``, ``bs``, ``n_batch=``)."""
    for call in (c for c in ast.walk(expr) if isinstance(c, ast.Call)):
        for arg, word in [*((a, "") for a in call.args), *((k.value, k.arg or "") for k in call.keywords)]:
            items = arg.elts if isinstance(arg, (ast.Tuple, ast.List)) else [arg]
            for item in items:
                if _value(item, step) == n and (not named or _BATCH_WORD.search(f"{word} {ast.unparse(item)}")):
                    return True
    return False


def _made(step) -> ast.Module:
    """The statements that make the step's batch names, as one tree."""
    made = _assignments(step)
    return ast.Module(body=[ast.Expr(made[name]) for name in step.names if name in made], type_ignores=[])


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
