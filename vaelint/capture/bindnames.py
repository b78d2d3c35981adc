"""What the user's own code says about binding the loss's parameters.

* the forward's ``return x_mean, x_logvar, mu, logvar``: a loss parameter named
  exactly like a returned variable takes that output (``x_logvar`` is the
  decoder's log-variance, not the encoder's, whatever a name hint would guess);
* a call of the loss in the code that trains the model (``recon, mu, logvar =
  model(x)`` then ``loss_function(recon, x, mu, logvar)``): its call site binds
  each parameter as the user does.
"""

from __future__ import annotations

import ast
import inspect
import os
import textwrap

from vaelint.capture.binding import FromInput, FromPath
from vaelint.capture.unfollowed import Unfollowed


def return_names(forward) -> dict[str, tuple]:
    """Variable name -> output path, from the forward's return statements (the
    one whose length matches most often: a tuple of names)."""
    try:
        source = textwrap.dedent(inspect.getsource(forward))
        fn = ast.parse(source).body[0]
    except (OSError, TypeError, SyntaxError, IndexError):
        return {}
    names: dict[str, tuple] = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Return) and node.value is not None:
            value = node.value
            if isinstance(value, (ast.Tuple, ast.List)):
                for i, elt in enumerate(value.elts):
                    if isinstance(elt, ast.Name):
                        names.setdefault(elt.id, (i,))
            elif isinstance(value, ast.Name):
                names.setdefault(value.id, ())
    # a name returned at two different places means nothing for sure
    return names


def call_site_sources(loss_fn, model, paths: list[str]) -> tuple[dict[str, tuple], str] | None:
    """Where the code calls the loss after the model: parameter -> FromPath(p) or
    FromInput(0) (vaelint/capture/binding.py), and that call's place; None when no
    call reads so."""
    name = getattr(loss_fn, "__name__", None)
    if not name:
        return None
    try:
        params = [p for p in inspect.signature(loss_fn).parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return None
    try:
        home = os.path.realpath(inspect.getsourcefile(getattr(loss_fn, "__func__", loss_fn)) or "")
    except TypeError:
        return None
    from vaelint.cache import reads
    from vaelint.source.files import read_source

    for path in paths:
        with reads.unrecorded():  # a file without the loss's name cannot call it: no dependency
            try:
                text = read_source(path)
            except OSError:
                continue
        if name not in text:
            reads.name_absent(path, name)
            continue
        stem = os.path.splitext(os.path.basename(home))[0]
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            tree = None
        if tree is not None and not _refers_to(tree, path, home, name):
            # another file's function of the same name: this one cannot import the
            # loss while it does not name the loss's module
            if stem not in text:
                reads.name_absent(path, stem)
            else:
                reads.read(path)
            continue
        reads.read(path)
        if tree is None:
            continue
        for scope in [tree, *(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))]:
            found = _in_scope(scope, name, params)
            if found is not None:
                sources, line = found
                return sources, f"{os.path.basename(path)}:{line}"
    return None


def _refers_to(tree: ast.Module, path: str, home: str, name: str) -> bool:
    """Does a call of ``name`` in this file mean the loss itself: the file defines
    it, or imports it (or its module) from the loss's file?"""
    if os.path.realpath(path) == home:
        return True
    stem = os.path.splitext(os.path.basename(home))[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[-1] == stem:
            if any(a.name in (name, "*") for a in node.names):
                return True
        if isinstance(node, ast.Import) and any(a.name.split(".")[-1] == stem for a in node.names):
            return True
    return False


def _parsed(path: str):
    from vaelint.source.files import read_source

    try:
        return ast.parse(read_source(path))
    except (OSError, SyntaxError, ValueError):
        return None


def _in_scope(scope, loss_name: str, params) -> tuple[dict, int] | None:
    """In one function (or a module's top level): ``a, b, c = M(x)`` then ``loss_name(...)``."""
    body = scope.body
    unpacked: list[tuple[list, ast.expr | None]] = []  # (names, the model call's first argument)
    assigned: dict = {}  # name -> the value last assigned to it (target = model.embed(xc, xk))
    records: list = []  # ([name], the call's first argument, its root, True) of out = model(x)
    keyed: dict = {}  # record -> {name -> the output path it holds} (x_hat = out["x_hat"])
    for stmt in _walk(body):
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            assigned[stmt.targets[0].id] = stmt.value
            if isinstance(stmt.value, ast.Call) and _root(stmt.value.func) not in (None, loss_name):
                # out = model(x): a record (a dict, a tuple kept whole) whose items the code takes by key
                arg = stmt.value.args[0] if stmt.value.args else None
                records.append(([stmt.targets[0].id], arg, _root(stmt.value.func), True, len(records) + len(unpacked)))
        if isinstance(stmt, ast.Assign):
            for rec in records:
                keyed.setdefault(rec[0][0], {}).update(_items_taken(stmt, rec[0][0]))
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            if isinstance(target, (ast.Tuple, ast.List)) and all(isinstance(e, ast.Name) for e in target.elts):
                arg = stmt.value.args[0] if stmt.value.args else None
                unpacked.append(([e.id for e in target.elts], arg, _root(stmt.value.func), False, len(records) + len(unpacked)))
        for call in (n for n in ast.walk(stmt) if isinstance(n, ast.Call)):
            func = call.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if called != loss_name or not (unpacked or records) or any(isinstance(a, ast.Starred) for a in call.args):
                continue
            pairs = [(p.name, arg) for p, arg in zip(params, call.args)] + [(k.arg, k.value) for k in call.keywords if k.arg]
            # the last tuple the model call unpacked; else the record (out = model(x)) whose items the call reads
            taken = [r for r in reversed(records) if any(_keyed_source(a, r[0][0], keyed.get(r[0][0], {})) for _p, a in pairs)]
            # the later of the two: a record taken before the model's tuple is the data it was given
            # (batch = get_batch(); recon, mu, logvar = model(batch["x"])), not the model's output
            candidates = [c for c in (taken[:1] + unpacked[-1:]) if c]
            if not candidates:
                continue
            names, model_arg, model, record, _order = max(candidates, key=lambda c: c[4])
            sources, unfollowed = {}, {}
            for param, arg in pairs:
                source = _keyed_source(arg, names[0], keyed.get(names[0], {})) if record else None
                source = source or (None if record and arg_is(arg, names[0]) else _source_of(arg, [] if record else names, model_arg))
                if source is not None:
                    sources[param] = source
                elif _of_the_model(arg, names, model):
                    unfollowed[param] = Unfollowed(ast.unparse(arg))
                elif isinstance(arg, ast.Name) and arg.id in assigned and _of_the_model(assigned[arg.id], names, model):
                    unfollowed[param] = Unfollowed(f"{arg.id} (= {ast.unparse(assigned[arg.id])})")
            if len(sources) >= 2:
                return {**sources, **unfollowed}, call.lineno
    return None


def _source_of(arg: ast.expr, names: list, model_arg):
    """Where a call site's argument comes from: an output the model call unpacked, the model's
    input, or either with methods of literal arguments applied (``pred_x.squeeze(1)``); None else."""
    if isinstance(arg, ast.Name) and arg.id in names:
        return FromPath((names.index(arg.id),))
    if model_arg is not None and ast.dump(arg) == ast.dump(model_arg):
        return FromInput(0)
    if isinstance(arg, ast.Subscript) and (key := _literal_key(arg.slice)) is not None:
        # a slice written at the call (targets=batch[:, 1:], the next tokens; recon[:, :-1]) of an output or the input
        inner = _source_of(arg.value, names, model_arg)
        if inner is None:
            return None
        from vaelint.capture.binding import Transformed

        taken = ("__getitem__", (key,), ())
        return Transformed(inner.inner, (*inner.calls, taken)) if isinstance(inner, Transformed) else Transformed(inner, (taken,))
    if isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute):
        inner = _source_of(arg.func.value, names, model_arg)
        try:
            args = tuple(ast.literal_eval(a) for a in arg.args)
            kwargs = tuple((k.arg, ast.literal_eval(k.value)) for k in arg.keywords if k.arg)
        except ValueError:
            return None
        if inner is None or len(kwargs) != len(arg.keywords):
            return None
        from vaelint.capture.binding import Transformed

        if isinstance(inner, Transformed):
            return Transformed(inner.inner, (*inner.calls, (arg.func.attr, args, kwargs)))
        return Transformed(inner, ((arg.func.attr, args, kwargs),))
    return None


def _literal_key(node: ast.expr):
    """The index a subscript writes, of literals only (``:, 1:``, ``..., :-1``, ``0``), hashable; None else."""
    if isinstance(node, ast.Tuple):
        keys = [_literal_key(e) for e in node.elts]
        return None if any(k is None for k in keys) else tuple(keys)
    if isinstance(node, ast.Slice):
        parts = [node.lower, node.upper, node.step]
        try:
            bounds = [None if p is None else ast.literal_eval(p) for p in parts]
        except ValueError:
            return None
        # held as ("slice", start, stop, step): a slice is not hashable before Python 3.12 (binding.as_index)
        return ("slice", *bounds) if all(b is None or isinstance(b, int) for b in bounds) else None
    try:
        key = ast.literal_eval(node)
    except ValueError:
        return None
    return key if isinstance(key, int) and not isinstance(key, bool) or key is Ellipsis else None


def _items_taken(stmt: ast.Assign, record: str) -> dict:
    """name -> output path for the items of ``record`` an assignment takes by a written key or index
    (``x_hat = out["x_hat"]``, ``x_hat, mu = out["x_hat"], out["mu"]``)."""
    target = stmt.targets[0] if len(stmt.targets) == 1 else None
    names = [target] if isinstance(target, ast.Name) else getattr(target, "elts", [])
    values = stmt.value.elts if isinstance(stmt.value, ast.Tuple) and isinstance(target, ast.Tuple) else [stmt.value]
    out = {}
    for name, value in zip(names, values):
        path = _item_path(value, record)
        if isinstance(name, ast.Name) and path is not None:
            out[name.id] = path
    return out


def _item_path(value: ast.expr, record: str) -> tuple | None:
    """(key,) of ``record["key"]`` / ``record[0]``, else None."""
    if isinstance(value, ast.Subscript) and arg_is(value.value, record) and isinstance(value.slice, ast.Constant):
        key = value.slice.value
        return (key,) if isinstance(key, (str, int)) and not isinstance(key, bool) else None
    return None


def _keyed_source(arg: ast.expr, record: str, keyed: dict):
    """An argument that is an item of the record the model returned, by a name that holds it or written."""
    path = keyed.get(arg.id) if isinstance(arg, ast.Name) else _item_path(arg, record)
    return FromPath(path) if path is not None else None


def arg_is(node: ast.expr, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _root(func: ast.expr) -> str | None:
    """The name a call's function is reached from: ``model`` of ``model(x)`` and ``model.encode(x)``."""
    while isinstance(func, ast.Attribute):
        func = func.value
    return func.id if isinstance(func, ast.Name) else None


def _of_the_model(arg: ast.expr, names: list, model: str | None) -> bool:
    """Is the argument made by the model's own modules outside its forward (``model.dec(z)``,
    ``model.embed(xc, xk)``): a call of an attribute of the model, or a call on one of the outputs
    the model call unpacked? (A plain name is left to the roles: the input under another name.)"""
    for node in ast.walk(arg):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if model is not None and _root(node.func) == model and not isinstance(node.func.value, ast.Call):
                return True
            if any(isinstance(a, ast.Name) and a.id in names for a in node.args):
                return True
    return False


def _walk(body):
    for stmt in body:
        yield stmt
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list) and not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                yield from _walk(inner)
