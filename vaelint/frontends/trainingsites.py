"""Where the code that trains a model is, when the model is checked alone and no loss was found
(the loss written out in an agent's method, ``BCQ.train``, or the model's own ``fit``): the note
names the function to check instead, so "no loss found" says what to do, not only what was not done."""

from __future__ import annotations

import ast
import os

from vaelint.frontends.losssibling import parsed

_MAX_FILES = 40


def where_it_trains(program) -> str:
    """ " The code that trains it: BCQ.py:BCQ.train (line 120); check that with its --input." or ""."""
    path = os.path.abspath(getattr(program, "path", "") or "")
    cls = type(program.model).__name__ if getattr(program, "model", None) is not None else ""
    if not path.endswith(".py") or not cls:
        return ""
    stem = os.path.splitext(os.path.basename(path))[0]
    folder = os.path.dirname(path)
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".py"))[:_MAX_FILES]
    except OSError:
        return ""
    from vaelint.source.frames import display_path

    found = []
    own = parsed(path)
    top = _trained_at_the_top(own, cls) if own is not None else None
    if top is not None:  # model = VAE() ... loss.backward() in the file's own top-level loop: the file is the script
        return f" The code that trains it: this file's own training loop (its backward at line {top}); check the file itself (vaelint check {display_path(path)})."
    for name in [os.path.basename(path)] + [n for n in names if n != os.path.basename(path)]:
        tree = parsed(os.path.join(folder, name))
        if tree is None or (name != os.path.basename(path) and not _uses_this_class(tree, cls, stem)):
            continue
        found += [(name, qual, line) for qual, line in _training_functions(tree, cls, strict=name == os.path.basename(path))]
    if not found:
        return ""

    found = [(display_path(os.path.join(folder, n)), q, line) for n, q, line in found]
    shown = ", ".join(f"{n}:{q} (line {line})" for n, q, line in found[:3])
    first = found[0]
    return f" The code that trains it: {shown}; check that with its --input (vaelint check {first[0]}:{first[1]} --input SPEC)."


def _trained_at_the_top(tree: ast.Module, cls: str) -> int | None:
    """The line of a backward in the file's top-level statements (no function's), where those
    statements build ``cls`` (``model = Latent()``); None otherwise."""
    body = [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    builds = any(isinstance(c, ast.Call) and isinstance(c.func, ast.Name) and c.func.id == cls for n in body for c in ast.walk(n))
    calls = [c for n in body for c in ast.walk(n) if isinstance(c, ast.Call) and getattr(c.func, "attr", None) == "backward"]
    return calls[0].lineno if builds and calls else None


def _uses_this_class(tree: ast.Module, cls: str, stem: str) -> bool:
    """Does another file of the folder use the target's class: it imports the target's module, or
    names ``cls`` without defining its own or importing one of that name from elsewhere (a class
    ``Latent`` of another module, an attribute ``self.latent``, a ``LatentNet`` are not it)."""
    sources = {
        n.module.split(".")[-1]
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module and any(a.name == cls for a in n.names)
    }
    if sources:
        return stem in sources
    if any(isinstance(n, ast.ClassDef) and n.name == cls for n in ast.walk(tree)):
        return False
    return stem in _imports(tree) or any(isinstance(n, ast.Name) and n.id == cls for n in ast.walk(tree))


def _imports(tree: ast.Module) -> set:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module.split(".")[-1])
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[-1] for a in node.names)
    return out


def _training_functions(tree: ast.Module, cls: str, strict: bool = True):
    """(qualified name, line) of each function or method that backpropagates (``.backward(``) and
    trains this model: a method of the model's own class (its ``fit``), a function that names the
    class, or one a scope that names the class calls (``model = VAE(); train(model, loader)``).
    Another model's training code in the same file (a classifier's) is none of these."""
    scopes = [tree, *(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))]
    called_beside = set()
    for scope in scopes:
        body = ast.Module(body=list(getattr(scope, "body", [])), type_ignores=[])
        if any(isinstance(n, ast.Name) and n.id == cls for n in ast.walk(body)):
            called_beside |= {c.func.id for c in ast.walk(body) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}
    for node in tree.body:
        own = isinstance(node, ast.ClassDef) and node.name == cls
        methods = (
            [(f"{node.name}.{m.name}", m) for m in node.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))]
            if isinstance(node, ast.ClassDef)
            else []
        )
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            methods = [(node.name, node)]
        for qual, fn in methods:
            if not any(isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr == "backward" for c in ast.walk(fn)):
                continue
            names_it = any(isinstance(n, ast.Name) and n.id == cls for n in ast.walk(node))  # the function, or its class
            called = (qual == fn.name and fn.name in called_beside) or (isinstance(node, ast.ClassDef) and node.name in called_beside)
            if not strict or own or names_it or called:
                yield qual, fn.lineno


def no_training_loop(fn, ref: str, tree: ast.Module | None) -> None:
    """``--loss fit_on_data``, a method that trains the model (it calls ``backward``; ``tree``: its
    parsed source), is no loss to bind: the error names the target that checks its step instead."""
    import inspect

    from vaelint.errors import VaelintError
    from vaelint.source.frames import display_path

    code = getattr(inspect.unwrap(getattr(fn, "__func__", fn)), "__code__", None)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", None) == "backward"] if tree else []
    if not calls or code is None:
        return
    line = code.co_firstlineno + calls[0].lineno - 1
    where = f"{display_path(code.co_filename)}:{getattr(fn, '__qualname__', ref)}"
    raise VaelintError(
        "loss",
        f"--loss {ref!r}: {getattr(fn, '__qualname__', ref)} trains the model (it calls backward, at "
        f"{display_path(code.co_filename)}:{line}): it is no loss function to bind to the forward's outputs. "
        f"Check its training step as the target instead: vaelint check {where} --input SPEC.",
    )
