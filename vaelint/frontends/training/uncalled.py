"""A script whose training function nothing it runs reaches: its main block calls another function
(``# main(args)`` commented out, ``predict(args)`` left in: wwhlyw/graphvae), so as written it never
trains, and where the run stops (at a result file the prediction reads) is no data to chase. Read
from the file, not run: the names its module level and main block read, and the names the functions
they name read in turn; a function reached by none of them holds no step of this run."""

from __future__ import annotations

import ast


def training_never_called(tree: ast.Module) -> tuple[str, int, list[tuple[str, int]]] | None:
    """(the top-level function holding a backward, the backward's line, the functions the main
    block calls with their lines) where no name the module runs reaches that function; else None."""
    functions = {s.name: s for s in tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))}
    holder = next(((name, line) for name, fn in functions.items() if (line := _backward_line(fn))), None)
    if holder is None or any(
        _backward_line(s) for s in tree.body if not isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    ):
        return None
    top = [s for s in tree.body if not isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom))]
    reached, todo = set(), [n.id for s in top for n in ast.walk(s) if isinstance(n, ast.Name)]
    while todo:
        name = todo.pop()
        if name in reached or name not in functions:
            continue
        reached.add(name)
        todo += [n.id for n in ast.walk(functions[name]) if isinstance(n, ast.Name)]
    if holder[0] in reached or _reads_globals_dynamically(tree):
        return None
    calls = [
        (n.func.id, n.lineno)
        for s in top
        for n in ast.walk(s)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in functions
    ]
    return (_outermost(functions, holder[0]), holder[1], calls) if calls else None


def _outermost(functions: dict, holder: str) -> str:
    """The function a run would start the training from: the one reading ``holder`` (through the
    functions it reads) that no other such function reads (``main(args)`` calling ``train(...)``)."""
    reads = {name: {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and n.id in functions} for name, fn in functions.items()}

    def reaches(name, seen=()) -> bool:
        return holder in reads[name] or any(r not in seen and reaches(r, (*seen, name)) for r in reads[name] - {name})

    callers = [name for name in functions if name != holder and reaches(name)]
    return next((c for c in callers if not any(c in reads[o] for o in callers if o != c)), holder)


def _backward_line(node) -> int:
    for n in ast.walk(node):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "backward":
            return n.lineno
    return 0


def _reads_globals_dynamically(tree: ast.Module) -> bool:
    """``globals()[name]``, ``getattr(module, name)``, ``eval``: a function may be reached by its name as text."""
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("globals", "eval", "exec", "getattr", "locals")
        for n in ast.walk(tree)
    )


def said(path: str, tree: ast.Module) -> str:
    """The sentence the report adds where the run reached no step: '' where the training is reached."""
    found = training_never_called(tree)
    if found is None:
        return ""
    name, line, calls = found
    runs = ", ".join(f"{c}() (line {at})" for c, at in calls[:3])
    return (
        f" (as written the script never trains: what it runs calls {runs}, and the backward at line {line} is reached "
        f"through {name}(), which nothing it runs calls: check {path}:{name} with --input, or call it where the script runs)"
    )


def trainers_defined(path: str) -> list[tuple[str, int]]:
    """(name, line) of the file's top-level functions that train, which nothing in the file calls
    (an experiment module a sweep script imports: ``def run_experiment(cfg): ... loss.backward()``,
    or ``def main(): ... train(model, data)`` with ``train`` from the project's own files, star
    imports too): the targets to name. Read, not run."""
    import os

    from vaelint.frontends.training.repofiles import project_imports
    from vaelint.frontends.training.sites import parse_file

    home = parse_file(os.path.realpath(path))
    if home is None:
        return []
    functions = {s.name: s for s in home.tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))}
    trains = {name for name, fn in functions.items() if _backward_line(fn)}
    for file in (parse_file(p) for p in project_imports(path)):
        if file is not None:  # the project's functions that train, by name (``from lib import *`` too)
            trains |= {s.name for s in file.tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and _backward_line(s)}
    found = []
    for name, fn in functions.items():
        reads = {n.func.id for n in ast.walk(fn) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)} - {name}
        # called from anywhere but its own body (a main guard indented into train() calls train from inside it)
        outside = [s for s in home.tree.body if s is not fn]
        called = {n.func.id for s in outside for n in ast.walk(s) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        if name not in called and (name in trains or reads & trains):
            found.append((name, fn.lineno))
    return found


def nested_main_guard(path: str, name: str) -> int | None:
    """The line of an ``if __name__ == "__main__":`` indented into the top-level function ``name``
    (it runs only if the function is called, and the function is what it calls): None for none."""
    import os

    from vaelint.frontends.training.sites import parse_file
    from vaelint.source.astutil import is_main_guard

    home = parse_file(os.path.realpath(path))
    fn = (
        next((s for s in home.tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and s.name == name), None)
        if home
        else None
    )
    return next((n.lineno for n in ast.walk(fn) if isinstance(n, ast.If) and is_main_guard(n)), None) if fn else None


def trainers_said(path: str) -> str:
    """The clause naming the functions of :func:`trainers_defined` ("" where there are none)."""
    found = trainers_defined(path)
    if not found:
        return ""
    named = ", ".join(f"{name}() at line {line}" for name, line in found[:3])
    guard = next(((name, line) for name, _l in found for line in [nested_main_guard(path, name)] if line), None)
    why = (
        f' (its main guard, `if __name__ == "__main__":` at line {guard[1]}, is indented into {guard[0]}(), so running '
        "the file never runs it: dedent it)"
        if guard
        else ""
    )
    return (
        f"; it defines {named}, which train{'s' * (len(found) == 1)} but nothing in the file calls{why}: check "
        f"{'that' if len(found) == 1 else 'one'} as the target (`vaelint check {path}:{found[0][0]}`)"
    )
