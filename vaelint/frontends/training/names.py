"""Names anywhere in the user's code: ``train.py:main.loss_fn`` (a function
defined inside another), ``solver.py:Solver.vae_loss`` (a method).

Only what the code needs to define the name runs: the enclosing function's
lines up to the ``def`` (sliced to what the nested function reads, reached the
way the code reaches it: ``main(args)`` under the main guard), or the object
whose method it is, built where the folder's code builds it.
"""

from __future__ import annotations

import ast
import os

from vaelint.errors import VaelintError
from vaelint.source.frames import display_path


def resolve(path: str, dotted: str, script_args: list[str]):
    """The object ``dotted`` names in the file at ``path`` (a nested function, or a
    method bound to an instance the code builds)."""
    from vaelint.frontends.lightning import _file_of
    from vaelint.frontends.training import neighbours
    from vaelint.frontends.training.execute import reach_value
    from vaelint.frontends.training.sites import parse_file
    from vaelint.source.astutil import places

    real = os.path.realpath(path)
    home = parse_file(real)
    if home is None:
        raise VaelintError("load", f"{display_path(path)}: the file does not parse.")
    files = [home] + neighbours(real)
    head, _, last = dotted.rpartition(".")
    scope = home.scopes.get(dotted)
    if scope is not None and scope.parent is not None and not scope.parent.is_module:
        # a function nested in another: run the outer one up to its def
        outer = scope.parent
        place = next(p for p, stmt in places(outer) if stmt is scope.node)
        value, _run = reach_value(files, home, place, ast.Name(last, ast.Load()), script_args, _file_of(files), after=True)
        return value
    cls = next((n for n in home.tree.body if isinstance(n, ast.ClassDef) and n.name == head), None)
    if cls is not None:
        unbound = _of_the_class(home, cls, last)
        if unbound is not None:
            return unbound
        instance = _instance(home, files, cls, script_args)
        try:
            return getattr(instance, last)
        except AttributeError:
            raise VaelintError("load", f"{display_path(path)}: {head} has no {last!r}.") from None
    known = ", ".join(q for q in home.scopes if q)
    raise VaelintError("load", f"{display_path(path)} defines no {dotted!r} (it defines: {known or 'nothing'}).")


def _of_the_class(home, cls: ast.ClassDef, name: str):
    """A static or class method (``VAESetup.elbo``, a ``@staticmethod`` loss) needs no instance: the
    class's own, where the class cannot be built (abstract, or needing what nothing here gives it)."""
    import inspect

    from vaelint.frontends.load import load_module

    written = next((n for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name), None)
    decorated = written is not None and any(getattr(d, "id", None) in ("staticmethod", "classmethod") for d in written.decorator_list)
    if written is not None and not decorated:
        return None  # a plain method of its own: an instance's
    klass = load_module(home.path, {cls.name}).__dict__.get(cls.name)
    static = inspect.getattr_static(klass, name, None) if isinstance(klass, type) else None
    return getattr(klass, name) if isinstance(static, (staticmethod, classmethod)) else None


def _instance(home, files, cls: ast.ClassDef, script_args):
    """An instance of ``cls`` as the folder's code builds it (``solver = Solver(args, ...)``
    in main.py), else built with no arguments."""
    from vaelint.frontends.lightning import _file_of
    from vaelint.frontends.training.execute import reach_value
    from vaelint.source.astutil import dotted, places

    for file in files:
        for scope in file.scopes.values():
            for place, stmt in places(scope):
                if (
                    isinstance(stmt, ast.Assign)
                    and isinstance(stmt.value, ast.Call)
                    and (dotted(stmt.value.func) or "").split(".")[-1] == cls.name
                ):
                    try:
                        value, _run = reach_value(files, file, place, stmt.value, script_args, _file_of(files))
                        return value
                    except VaelintError as e:
                        if "nothing in the files beside it reaches" not in e.message:
                            raise
    from vaelint.frontends.load import load_module

    module = load_module(home.path, {cls.name})
    try:
        return module.__dict__[cls.name]()
    except Exception as e:  # noqa: BLE001 - the class needs what nothing here gives it
        raise VaelintError(
            "load",
            f"{display_path(home.path)}: nothing in the files beside it builds {cls.name}, and {cls.name}() fails "
            f"({type(e).__name__}: {e}): give the loss as a function instead.",
        ) from None
