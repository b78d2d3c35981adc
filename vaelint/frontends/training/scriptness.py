"""Is a file meant to be run (a script), read from its top level without running it: a main
guard, calls or loops there, an entry-point decorator, or a package's quick start that keeps what
its training call returns (``embedding = cellvae.fit(counts)``)."""

from __future__ import annotations

import ast
import re

from vaelint.source.astutil import is_main_guard


def is_script(file) -> bool:
    """A file meant to be run: a main guard, calls at its top level, or a loop there
    (``for epoch in range(epochs): train(epoch)`` with no main guard)."""
    for stmt in file.tree.body:
        if is_main_guard(stmt) or _runs_when_run(stmt):
            return True
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            return True
        if _keeps_what_a_training_call_returns(stmt, file.tree):
            return True
        if isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)) and any(isinstance(n, ast.Call) for n in ast.walk(stmt)):
            return True
        if isinstance(stmt, (ast.If, ast.Try, ast.With)) and _calls_own_function(stmt, file.tree):
            return True  # if weights in os.listdir(d): load(...) else: train(model)
    return False


# decorators that run the function they register when the file is run (Sacred's
# ``@ex.automain``: main() is called at decoration time when __name__ == "__main__")
_RUNS_WHEN_RUN = {"automain"}


def _runs_when_run(stmt: ast.stmt) -> bool:
    """A top-level function an entry-point decorator runs when the file is run."""
    if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    for d in stmt.decorator_list:
        d = d.func if isinstance(d, ast.Call) else d
        if (d.attr if isinstance(d, ast.Attribute) else getattr(d, "id", "")) in _RUNS_WHEN_RUN:
            return True
    return False


def _calls_own_function(stmt: ast.stmt, tree: ast.Module) -> bool:
    """Does a top-level if/try/with call a function the file defines or imports from a module
    of its own project (a relative import, or one not installed here), as a statement
    (``train(model)``; ``if DO_TRAIN: train_ae(model, loader)`` of ``from pkg.utils import
    train_ae``, helper X)? A warning or a print under an optional import's ``except`` does not
    make a model file a script."""
    own = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))} | _project_imported(tree)
    todo = [stmt]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id in own
        ):
            return True
        todo.extend(n for n in ast.iter_child_nodes(node) if isinstance(n, (ast.stmt, ast.excepthandler)))
    return False


# a call named for training (fit, train, run_model, learn, main), by the parts of its name
_TRAINS = re.compile(r"^(fit|train|run|learn|main)")


def _keeps_what_a_training_call_returns(stmt: ast.stmt, tree: ast.Module) -> bool:
    """``embedding = cellvae.fit(counts)`` at the top level: an imported function named for training
    whose result is kept, read later or not (a single-cell or tabular package's quick start). Before,
    such a file was 'no VAE targets', exit 0, unless something printed the result."""
    call = stmt.value if isinstance(stmt, (ast.Assign, ast.AnnAssign)) else None
    if not isinstance(call, ast.Call):
        return False
    root = call.func
    while isinstance(root, ast.Attribute):
        root = root.value
    name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
    parts = [p for p in re.split(r"_|(?<=[a-z])(?=[A-Z])", name) if p]
    imported = {a.asname or a.name.split(".")[0] for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    return isinstance(root, ast.Name) and root.id in imported and any(_TRAINS.match(p.lower()) for p in parts)


def as_entry_point(ref, file):
    """A whole file that is no script but the module an installed command runs (``tabvae-train =
    "tabvae.train:main"``): the target is its entry function, called as the command calls it.
    Any other reference is returned as given."""
    if ref.name is not None or file is None or not ref.path.endswith(".py") or is_script(file):
        return ref
    from vaelint.frontends.base import TargetRef
    from vaelint.frontends.entrypoints import entry_function

    entry = entry_function(ref.path)
    if entry is None or entry[0] not in file.scopes:
        return ref
    return TargetRef(ref.spec, ref.path, entry[0])


def is_training_file(path: str) -> bool:
    """A script (main guard, calls or loops at its top level) whose code or whose
    repository's files call a backward: training code, checked or refused, never
    passed over."""
    import os

    from vaelint.frontends.training import is_script, neighbours
    from vaelint.frontends.training.sites import find_sites, parse_file

    home = parse_file(os.path.realpath(path))
    if home is None or not is_script(home):
        return False
    for file in [home, *neighbours(home.path)]:
        if any(find_sites(s) for s in file.scopes.values()):
            return True
    return False


def _project_imported(tree: ast.Module) -> set[str]:
    """Names the file's top level imports from a module that is not an installed package (a module
    of its own project: ``from pkg.utils import train_ae`` beside pkg/, ``from .train import fit``)."""
    import importlib.util
    import sys

    from vaelint.source.frames import is_user_file

    names = set()
    for node in tree.body:
        if not isinstance(node, ast.ImportFrom):
            continue
        top = (node.module or "").split(".")[0]
        try:
            spec = importlib.util.find_spec(top) if top and not node.level else None
        except (ImportError, ValueError):
            spec = None
        # installed (site-packages, the standard library): not the project's own (frames.is_user_file)
        installed = spec is not None and (top in sys.stdlib_module_names or not is_user_file(spec.origin or ""))
        if not installed:
            names |= {a.asname or a.name for a in node.names}
    return names
