"""The repository's files around a target: the .py files beside it and in the current
directory, and those it imports from the repository's own packages, statically
(``from models import VAE``) or by a name made at run time
(``importlib.import_module("models." + opt.model + "_model")``: any module of ``models``)."""

from __future__ import annotations

import ast
import os
import re

from vaelint.frontends.training.sites import SourceFile, parse_file
from vaelint.frontends.training.syspath import script_roots
from vaelint.source.astutil import dotted
from vaelint.source.frames import is_user_file

_MAX_NEIGHBOURS = 60  # .py files beside the target read for call sites


def neighbours(path: str) -> list[SourceFile]:
    """The other .py files of the target's folder and of the current directory
    (where a script that calls the target may be), then the repository's files the
    target imports from its packages (``from jointvae.training import Trainer``:
    the Trainer's step is in jointvae/training.py)."""
    out, seen = [], {os.path.realpath(path)}
    for folder in dict.fromkeys([os.path.dirname(os.path.realpath(path)), os.getcwd()]):
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            full = os.path.realpath(os.path.join(folder, name))
            if not name.endswith(".py") or full in seen or len(out) >= _MAX_NEIGHBOURS:
                continue
            seen.add(full)
            try:
                if os.path.getsize(full) > 500_000:
                    continue
            except OSError:
                continue
            parsed = parse_file(full)
            if parsed is not None:
                out.append(parsed)
    home = parse_file(os.path.realpath(path))
    # and the folders the script's imports resolve from: PYTHONPATH's, those its lines put on sys.path
    roots = [os.path.dirname(os.path.realpath(path)), os.getcwd(), *(script_roots(home.tree, home.path) if home else ())]
    for imported in _imported_files(home, roots) if home else ():
        if imported.path not in seen:
            seen.add(imported.path)
            out.append(imported)
    return out


def project_imports(path: str) -> list[str]:
    """The files of the repository that the file at ``path`` imports, and those they import
    (``utils/devices.py`` of ``from utils.devices import noise_like``), read from the code, not
    from what a process happens to have loaded."""
    home = parse_file(os.path.realpath(path))
    if home is None:
        return []
    roots = [os.path.dirname(home.path), os.getcwd(), *script_roots(home.tree, home.path)]
    return [f.path for f in _imported_files(home, roots)]


_MAX_IMPORTED = 30  # the repository's files a target imports, read for call sites


def _imported_files(home: SourceFile, roots: list[str]) -> list[SourceFile]:
    """The files of the repository (under ``roots``) that ``home`` imports, and those
    they import, breadth first; installed packages are never under the roots."""
    seen, found, queue = {home.path}, [], [home]
    while queue and len(seen) <= _MAX_IMPORTED:
        file = queue.pop(0)
        for name, up in _module_names(file):
            # a relative import from a package's subpackage (from ..training import x): from that folder only
            here = [os.path.dirname(file.path) if up is None else up]
            for root in dict.fromkeys((roots if up is None else []) + here):
                for candidate in _module_files(root, name):
                    full = os.path.realpath(candidate)
                    if full in seen or not os.path.isfile(full) or len(seen) > _MAX_IMPORTED or not is_user_file(full):
                        continue  # an installed package (pip install --target a folder on PYTHONPATH) is no project file
                    seen.add(full)
                    parsed = parse_file(full)
                    if parsed is not None:
                        found.append(parsed)
                        queue.append(parsed)
    return found


def _module_names(file: SourceFile) -> list[tuple[str, str | None]]:
    """The modules ``file`` imports, dotted, each with the folder it resolves from when that is
    not the import roots: relative ones against the file's own package (``from .models import
    VAE``: its sibling ``models``; ``from ..training.trainer import T``: ``training.trainer`` of
    the package above); for ``from a.b import c``, ``a.b.c`` too (c may be a module)."""
    names = []
    for node in ast.walk(file.tree):
        if isinstance(node, ast.Import):
            names += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module, up = node.module or "", None
            if node.level:
                up = os.path.dirname(file.path)
                for _ in range(node.level - 1):
                    up = os.path.dirname(up)
            if module:
                names.append((module, up))
            prefix = f"{module}." if module else ""
            names += [(f"{prefix}{alias.name}", up) for alias in node.names if alias.name != "*"]
        elif isinstance(node, ast.Call) and dotted(node.func).rpartition(".")[2] in _IMPORTERS and node.args:
            names.append((_dynamic_name(node.args[0]), None))
    names += [(name, None) for name in config_targets(file)]
    return list(dict.fromkeys(n for n in names if n[0]))


_TARGET = re.compile(r"^\s*_target_\s*:\s*['\"]?([A-Za-z_][\w.]*)", re.M)
_MAX_CONFIGS = 200


def config_targets(file: SourceFile) -> list[str]:
    """The modules a Hydra entry point's configuration names (``@hydra.main(config_path="conf")``
    and ``_target_: pkg.train.train`` in conf/*.yaml): ``call(cfg)`` / ``instantiate(cfg.model)``
    import them at run time, and the file itself imports none of them. Each ``_target_``'s module
    and the name itself (it may be a module)."""
    folders = []
    for node in ast.walk(file.tree):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "config_path" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                    folders.append(os.path.normpath(os.path.join(os.path.dirname(file.path), kw.value.value)))
    found, read = [], 0
    for folder in dict.fromkeys(folders):
        for top, _dirs, names in os.walk(folder):
            for name in sorted(n for n in names if n.endswith((".yaml", ".yml"))):
                read += 1
                if read > _MAX_CONFIGS:
                    return list(dict.fromkeys(found))
                try:
                    with open(os.path.join(top, name), encoding="utf-8", errors="replace") as handle:
                        text = handle.read(100_000)
                except OSError:
                    continue
                for target in _TARGET.findall(text):
                    found += [target.rpartition(".")[0], target]
    return list(dict.fromkeys(t for t in found if t))


_IMPORTERS = {"import_module", "__import__"}


def _dynamic_name(arg: ast.expr) -> str:
    """The module a run-time import names: the name itself where it is written out, else
    ``PACKAGE.*`` for the package its constant start names (``"models." + name``,
    ``f"models.{name}"``, ``"models.%s" % name``), else ``*`` (any of the repository's
    packages)."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    start = arg
    while isinstance(start, ast.BinOp):
        start = start.left
    if isinstance(start, ast.JoinedStr):
        start = start.values[0] if start.values else None
    text = start.value if isinstance(start, ast.Constant) and isinstance(start.value, str) else ""
    package = text.rpartition(".")[0] if "." in text else ""
    return f"{package}.*" if package else "*"


def _module_files(root: str, name: str) -> list[str]:
    """The files a dotted module name may be under ``root``: ``a.b`` is a/b.py or
    a/b/__init__.py; ``a.*`` is every module of package a; ``*`` every top-level package's
    modules."""
    if name == "*":
        try:
            folders = sorted(e for e in os.listdir(root) if os.path.isfile(os.path.join(root, e, "__init__.py")))
        except OSError:
            return []
        return [f for folder in folders for f in _module_files(root, folder + ".*")]
    if name.endswith(".*"):
        folder = os.path.join(root, *name[:-2].split("."))
        try:
            return [os.path.join(folder, e) for e in sorted(os.listdir(folder)) if e.endswith(".py")]
        except OSError:
            return []
    base = os.path.join(root, *name.split("."))
    return [base + ".py", os.path.join(base, "__init__.py")]


def models_built(path: str, own: bool = False):
    """(class name, its file, the line) of a model class of the project's that the file builds
    (``vae = DenoisingVAE(config)``, the class imported from ``dvae/models.py``), read without
    running anything; None where it builds none. ``own``: a model class of the file itself too."""
    import ast

    from vaelint.frontends.discover import models_defined
    from vaelint.source.files import read_source

    try:
        tree = ast.parse(read_source(path))
    except (OSError, SyntaxError, ValueError):
        return None
    called = {(n.func.id, n.lineno) for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    if not called:
        return None
    for file in [path] * own + list(project_imports(path)):
        defined = set(models_defined(file))
        for name, line in sorted(called, key=lambda c: c[1]):
            if name in defined:
                return name, os.path.relpath(file), line
    return None
