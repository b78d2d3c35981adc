"""The user's own modules outside the model's package tree (``utils/misc.py`` beside
a training script): imported as written, and where that fails (it imports ``gym``,
which this environment lacks), loaded again with their definitions, module-level
values and imports only, with a note for the report. ctallec/world-models'
trainvae.py takes its sizes from such a module."""

from __future__ import annotations

import ast
import importlib.abc
import importlib.machinery
import os
import sys

from vaelint.errors import error_text
from vaelint.frontends.placeholders import note
from vaelint.source.frames import display_path
from vaelint.source.overlay import spec_of
from vaelint.source.statements import assigned_names, select_statements


def own_module_spec(fullname: str, path, folders: list[str], imports):
    """The spec of a module of the user's (a file under ``folders``, not an installed
    package), its loader made tolerant; None for any other module. Found as the file
    system has it, an edited text standing in (vaelint/source/overlay.py); other
    finders are not asked, as they may import (the stand-ins' finder tries the real
    package) while the import system walks the finders."""
    spec = spec_of(fullname, path)
    if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
        return None
    if not _users_file(spec.origin, folders):
        return None
    spec.loader = _AsWrittenElseDefinitions(spec.loader, imports)
    return spec


def definitions_of(path: str) -> list[ast.stmt] | None:
    """What a module of the user's exports, to run without its script code: its
    definitions, its module-level names (``SIZE = 7``) and what it imports (a
    package's API); its loops, main guard and bare calls are left out. None: it does
    not parse."""
    from vaelint.source.files import read_source

    try:
        tree = ast.parse(read_source(path), filename=path)
    except SyntaxError:
        return None
    exported = {st.name for st in tree.body if isinstance(st, (ast.ClassDef, ast.FunctionDef))}
    for st in tree.body:
        if isinstance(st, (ast.Assign, ast.AnnAssign)):
            exported |= assigned_names(st)
        elif isinstance(st, (ast.Import, ast.ImportFrom)):
            exported |= {(a.asname or a.name).split(".")[0] for a in st.names if a.name != "*"}
    return select_statements(tree, exported)


def _users_file(origin: str | None, folders: list[str]) -> bool:
    """Is ``origin`` a file of the user's project: under one of its folders, and not in
    an installed package (a virtual environment inside the repository included)?"""
    if not origin:
        return False
    real = os.path.realpath(origin)
    parts = real.split(os.sep)
    if "site-packages" in parts or "dist-packages" in parts:
        return False
    installed = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    installed.add(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))  # vaelint itself
    if any(real.startswith(p + os.sep) for p in installed):
        return False
    return any(real.startswith(os.path.realpath(f) + os.sep) for f in folders if f)


class _AsWrittenElseDefinitions(importlib.abc.Loader):
    """A module of the user's imported as written; if its import fails, its
    definitions only (``definitions_of``), each failed line a placeholder."""

    def __init__(self, loader, imports):  # vaelint/frontends/load.py ImportPolicy
        self.loader, self.imports = loader, imports

    def __getattr__(self, name):  # get_source, get_data, ...: the file's own loader answers
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        try:
            self.loader.exec_module(module)
            return
        except (Exception, SystemExit) as e:  # noqa: BLE001 - its own line failed, or an import of it
            error = error_text(e)
        path = module.__file__
        statements = definitions_of(path)
        if statements is None:
            raise ImportError(f"{path}: {error}")
        for key in [k for k in module.__dict__ if not (k.startswith("__") and k.endswith("__"))]:
            del module.__dict__[key]  # what ran before the failure: run again, without script code
        note(
            f"{display_path(path)} could not be imported as written ({error}); its definitions, "
            "module-level values and imports were loaded without its other lines"
        )
        from vaelint.frontends.load import run_statement

        for stmt in statements:
            run_statement(stmt, module, path, self.imports)
