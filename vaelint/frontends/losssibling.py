"""A loss beside the model, in a file of its own (``model.py`` and ``loss.py`` whose ``vae_loss``
the training script imports): found where the model's own file names none, so the loss rules run
instead of being skipped with "no loss found".

Only files named for losses (``loss.py``, ``losses.py``, ``vae_loss.py``, ``objectives.py``,
``criterion.py``) in the model's folder are read, and only one whose top level defines and imports
and runs nothing else is imported: a script is never run to find its loss. Exactly one function
named as a whole loss among them is the loss; two or more, none (the report says to give --loss)."""

from __future__ import annotations

import ast
import os
import re

_FILE = re.compile(r"(^|_)(loss|losses|objective|objectives|criterion|criterions|elbo)(_|$)", re.I)


def loss_beside_the_model(loaded, kwargs: dict, whole, named: tuple):
    """(the LossPlan of the one loss function a loss file beside the model defines, or None).
    ``whole(name)``: is a function name a whole loss's; ``named``: the usual loss names."""
    from vaelint.frontends.lossfind import LossPlan, _resolve_ref
    from vaelint.source.frames import display_path

    folder = os.path.dirname(os.path.abspath(loaded.path))
    try:
        files = sorted(f for f in os.listdir(folder) if f.endswith(".py") and _FILE.search(f[:-3]))
    except OSError:
        return None
    found = []
    alone = _the_only_model_file(folder, loaded.path)
    stem, cls = os.path.splitext(os.path.basename(loaded.path))[0], type(loaded.model).__name__
    for name in files:
        path = os.path.join(folder, name)
        if os.path.samefile(path, loaded.path):
            continue
        tree = parsed(path)
        if tree is None or not _only_definitions(tree):
            continue
        # written for this model: it names the model or imports its file, or the model's file is the
        # folder's only one of models (a losses.py beside vae.py and bernoulli_vae.py is vae.py's)
        if not alone and not _names(tree, stem, cls):
            continue
        found += [(path, f.name) for f in tree.body if isinstance(f, ast.FunctionDef) and (f.name in named or whole(f.name))]
    if len(found) != 1:
        return None
    path, fn = found[0]
    ref = f"{path}:{fn}"
    plan = LossPlan(_resolve_ref(loaded, ref, dict(kwargs)), f"{display_path(path)}:{fn}", dict(kwargs))
    loaded.notes.append(
        f"the loss: {display_path(path)}:{fn}, the one loss function of a loss file beside the model (give --loss to check another)"
    )
    return plan


def parsed(path: str):
    """The file's syntax tree, or None where it does not read or parse."""
    try:
        with open(path, encoding="utf-8") as fh:
            return ast.parse(fh.read())
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return None


def _only_definitions(tree: ast.Module) -> bool:
    """Does the file's top level only import, define and assign constants (and guard a main)?"""
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # a docstring
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and all(
            isinstance(
                n,
                (ast.Constant, ast.Name, ast.Attribute, ast.Tuple, ast.UnaryOp, ast.BinOp, ast.operator, ast.unaryop, ast.Load, ast.Store),
            )
            for n in ast.walk(stmt.value)
            if stmt.value is not None
        ):
            continue
        if isinstance(stmt, ast.If) and "__main__" in ast.unparse(stmt.test):
            continue
        return False
    return True


def _names(tree: ast.Module, stem: str, cls: str) -> bool:
    """Does the loss file import the model's file or name its class?"""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and (node.module.split(".")[-1] == stem or any(a.name == cls for a in node.names))
        ):
            return True
        if isinstance(node, ast.Import) and any(a.name.split(".")[-1] == stem for a in node.names):
            return True
        if isinstance(node, ast.Name) and node.id == cls:
            return True
    return False


def _the_only_model_file(folder: str, model_path: str) -> bool:
    """Is the model's file the only file of the folder that defines an nn.Module (a class whose
    bases name Module, LightningModule, or a class of the same file that does)?"""
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if not name.endswith(".py") or os.path.samefile(path, model_path):
            continue
        tree = parsed(path)
        if tree is not None and any(
            isinstance(c, ast.ClassDef) and any("Module" in ast.unparse(b) for b in c.bases) for c in ast.walk(tree)
        ):
            return False
    return True
