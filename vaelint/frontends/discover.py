"""Targets a file declares itself: ``nn.Module`` classes whose ``forward``
annotates every input with a jaxtyping shape whose sizes (after the batch) are
numbers, e.g. ``x: Float[Tensor, "batch 784"]``. Used by ``vaelint check
path.py`` for files with no configured target."""

from __future__ import annotations

import inspect
import os

from vaelint.contracts.dimnames import _jaxtyping_dims, _resolve
from vaelint.errors import VaelintError
from vaelint.settings.pyproject import TargetConfig

DEFAULT_BATCH = 8
_DTYPES = {"Float": "float32", "Int": "int64", "Integer": "int64", "Bool": "bool", "Shaped": "float32"}


def _may_declare_shapes(path: str) -> bool:
    """Without running anything: a class with a forward whose parameter has a
    subscripted annotation with a string in it (``Float[Tensor, "batch 784"]``)."""
    import ast

    try:
        with open(path, encoding="utf-8-sig", errors="replace") as fh:
            tree = ast.parse(fh.read())
    except (OSError, SyntaxError, ValueError):
        return False
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        for fn in (n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "forward"):
            for arg in fn.args.args[1:]:
                ann = arg.annotation
                if isinstance(ann, ast.Subscript) and any(isinstance(c, ast.Constant) and isinstance(c.value, str) for c in ast.walk(ann)):
                    return True
    return False


def annotated_targets(path: str) -> list[TargetConfig]:
    import torch.nn as nn

    from vaelint.frontends.load import load_module

    if not _may_declare_shapes(path):
        return []  # most files pre-commit passes: nothing of theirs is run

    try:
        module = load_module(path)
    except VaelintError:
        return []  # a file that does not load is not a target; other tools report it
    out = []
    for name, obj in vars(module).items():
        if not (inspect.isclass(obj) and issubclass(obj, nn.Module) and obj.__module__ == module.__name__):
            continue
        specs = _input_specs(obj)
        if specs:
            out.append(TargetConfig(target=f"{path}:{name}", inputs=specs))
    return out


def training_target(path: str, have_inputs: bool) -> tuple[TargetConfig | None, str]:
    """A script (or notebook) that trains: (its target, or None with a one-line note saying
    why not). It is checked, or refused with exit 2 saying why, never passed over: its
    input is given, or a data set whose shapes are known, or the batch the code makes when
    it runs (vaelint/frontends/training/liveprogram.py)."""
    from vaelint.frontends import choose
    from vaelint.frontends.base import parse_ref

    ref = parse_ref(path)
    frontend = choose(ref)
    if frontend.name not in ("training", "notebook", "lightning"):
        return None, ""
    # its input: given, a data set whose shapes are known, or the batch the code makes when it
    # runs (a real data set, tensors it builds); a run that finds none says what to give
    return TargetConfig(target=path), ""


def _input_specs(cls) -> list[str] | None:
    hints = _resolve(cls.forward)
    try:
        params = [
            p
            for p in inspect.signature(cls.forward).parameters.values()
            if p.name != "self" and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
        ]
    except (TypeError, ValueError):
        return None
    specs = []
    for p in params:
        ann = hints.get(p.name)
        dims = _jaxtyping_dims(ann)
        if not dims or not all(isinstance(d, int) for d in dims[1:]):
            return None
        dtype = _DTYPES.get(type(ann).__name__.split("[")[0], None) or _dtype_of(ann)
        shape = "x".join(str(s) for s in [DEFAULT_BATCH, *dims[1:]])
        specs.append(shape if dtype == "float32" else f"{shape}:{dtype}")
    return specs or None


def _dtype_of(ann) -> str:
    name = getattr(ann, "__name__", "") or str(ann)
    for prefix, dtype in _DTYPES.items():
        if name.startswith(prefix):
            return dtype
    return "float32"


_MODEL_BASES = ("Module", "LightningModule", "ScriptModule")


def models_defined(path: str, _depth: int = 0) -> list[str]:
    """Without running anything: the top-level classes of a file that are models (their bases
    name ``nn.Module``, ``LightningModule``, a Keras ``Model``, a model class of the same file, or
    one imported from a file of the project that is a model there), and a class with a
    ``forward`` of its own whose base is imported from a package (``class VAE(BaseVAE)``). Used to
    refuse a model file named without a target rather than pass it over."""
    import ast

    from vaelint.source.files import read_source

    try:
        tree = ast.parse(read_source(path))
    except (OSError, SyntaxError, ValueError):
        return []
    keras = any(
        (isinstance(n, ast.Import) and any(a.name.split(".")[0] in ("keras", "tensorflow") for a in n.names))
        or (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] in ("keras", "tensorflow"))
        for n in ast.walk(tree)
    )
    bases = _MODEL_BASES + (("Model",) if keras else ())
    imported = _imported_names(tree)
    models: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and any(_base_name(b) in bases or _base_name(b) in models for b in node.bases):
            models.append(node.name)
        elif isinstance(node, ast.ClassDef) and _an_imported_model(node, imported, path, _depth):
            models.append(node.name)
        # a Keras functional model built at the top: vae = Model(inputs, outputs)
        elif keras and isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and _base_name(node.value.func) == "Model":
            models += [t.id for t in node.targets if isinstance(t, ast.Name)]
    return models


def _imported_names(tree) -> dict:
    """name -> (module, level, the name in that module) of each ``from M import N [as A]`` at the top."""
    import ast

    return {
        (a.asname or a.name): (node.module or "", node.level, a.name)
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for a in node.names
    }


def _an_imported_model(cls, imported: dict, path: str, depth: int) -> bool:
    """A class whose base is imported: a model where that base is one in the project's file it comes
    from, or, where that file is not the project's, where the class has a ``forward`` of its own."""
    import ast

    for base in cls.bases:
        name = _base_name(base)
        if name not in imported:
            continue
        module, level, original = imported[name]
        source = _project_file(module, level, path)
        if source is not None:
            if depth < 4 and original in models_defined(source, depth + 1):
                return True
        elif any(isinstance(f, ast.FunctionDef) and f.name == "forward" for f in cls.body):
            return True
    return False


def _project_file(module: str, level: int, path: str) -> str | None:
    """The file of the project that ``from module import ...`` in ``path`` reads: relative to the
    file (``from .base``), or from the file's folder, a package root above it, or here."""
    parts = module.split(".") if module else []
    folder = os.path.dirname(os.path.abspath(path))
    if level:
        for _ in range(level - 1):
            folder = os.path.dirname(folder)
        roots = [folder]
    else:
        roots, up = [folder, os.getcwd()], folder
        while os.path.exists(os.path.join(up, "__init__.py")):
            up = os.path.dirname(up)
            roots.append(up)
    for root in roots:
        stem = os.path.join(root, *parts)
        for candidate in (stem + ".py", os.path.join(stem, "__init__.py")):
            if parts and os.path.isfile(candidate):
                return candidate
    return None


def _base_name(expr) -> str:
    import ast

    while isinstance(expr, ast.Subscript):  # Generic[...]-style bases
        expr = expr.value
    if isinstance(expr, ast.Attribute):
        return expr.attr
    return expr.id if isinstance(expr, ast.Name) else ""
