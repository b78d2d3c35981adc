"""Load the user's model without running the file's script code.

Public VAE files often parse ``sys.argv``, download a data set and train at
module level. We execute only what defines the model: imports (a missing
package becomes a placeholder that fails only if the model uses it), class and
function definitions, and the module-level assignments those definitions read
(``latent_dim = 20``, ``args = parser.parse_args()`` with the parser's
defaults). Everything else -- loops, ``if __name__ == "__main__":``, data
loaders, ``model = VAE()``, ``train()`` -- is never run.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib
import importlib.abc
import importlib.util
import os
import sys
import types

from vaelint.errors import VaelintError, error_text
from vaelint.frontends.importroots import namespace_roots, package_context, src_layouts
from vaelint.frontends.installed import installed_module
from vaelint.frontends.ownmodules import definitions_of, own_module_spec
from vaelint.frontends.placeholders import SETUP, LoggerStandIn, MissingImport, Unavailable, cause_among, is_logger
from vaelint.frontends.starimports import star_cause
from vaelint.source.files import compile_user_code, missing_file, read_source, undecodable
from vaelint.source.frames import display_path
from vaelint.source.modulefiles import file_of
from vaelint.source.statements import assigned_names, select_statements


def split_target(spec: str) -> tuple[str, str | None]:
    """``models/vae.py:VAE`` -> (path, name); a bare path -> (path, None)."""
    from vaelint.frontends.base import parse_ref

    ref = parse_ref(spec)
    return ref.path, ref.name


class ImportPolicy:
    """How a front end reads a file's imports; the default runs them as written.
    (The Keras front end picks the torch backend before the file's ``import
    keras`` and reads ``tensorflow.keras`` as Keras 3.)"""

    def prepare(self, path: str, tree: ast.Module) -> None:
        """Called once the file is parsed, before any of its lines run."""

    def run_import(self, stmt: ast.stmt, module: types.ModuleType) -> ast.stmt | None:
        """The import statement to run instead of ``stmt``; None when this policy has
        bound its names itself."""
        return stmt


PLAIN_IMPORTS = ImportPolicy()


@contextlib.contextmanager
def _script_guard(path: str, argv: list[str] | None):
    """While the model file's kept lines run: argv holds only the file name
    (argparse takes its defaults), or the script's arguments a front end gives."""
    saved_argv = sys.argv
    sys.argv = [path, *(argv or [])]
    try:
        yield
    finally:
        sys.argv = saved_argv


def _parsed_file(path: str) -> tuple[str, ast.Module]:
    """The file's real path and syntax tree; a clear error for a missing, non-Python
    or unparsable file."""
    if not os.path.exists(path):
        raise VaelintError("load", f"{path}: {missing_file(path)}")
    if os.path.isdir(path) or not path.endswith((".py", ".ipynb")):
        raise VaelintError("load", f"{path}: not a Python file. A target is PATH.py:NAME, e.g. models/vae.py:VAE.")
    abspath = os.path.realpath(path)
    undecodable(abspath)
    source = read_source(abspath)
    try:
        return abspath, ast.parse(source, filename=abspath)
    except SyntaxError as e:
        from vaelint.source.files import newer_python

        newer = newer_python(abspath, e.msg)
        fix = (
            newer[:1].upper() + newer[1:] if newer else f"Fix the syntax error; `python -m py_compile {display_path(abspath)}` shows it too"
        )
        raise VaelintError(
            "load", f"{display_path(abspath)}:{e.lineno or 1}:{e.offset or 1}: the model file does not parse ({e.msg}). {fix}."
        ) from None


def _module_name(abspath: str, package: str | None) -> str:
    """The module's name: in its package when it has one, else unique to the file."""
    stem = os.path.splitext(os.path.basename(abspath))[0]
    if not stem.isidentifier():
        stem = "".join(c if c.isalnum() else "_" for c in stem)
    if package:
        return f"{package}.{stem}"
    digest = hashlib.sha1(abspath.encode()).hexdigest()[:10]
    return f"_vaelint_model_{stem}_{digest}"


def load_module(
    path: str,
    wanted: set[str] | None = None,
    imports: ImportPolicy = PLAIN_IMPORTS,
    *,
    statements: list[ast.stmt] | None = None,
    overrides: dict[str, list[ast.stmt]] | None = None,
    argv: list[str] | None = None,
    inject: dict | None = None,
    failures: list | None = None,
    as_written: bool = False,
) -> types.ModuleType:
    """Execute the model-defining statements of ``path`` in a fresh module.

    A front end that rewrote the code may give the ``statements`` to run instead,
    ``overrides`` (file path -> statements) for files the code imports, the
    script's ``argv``, and names to ``inject`` in each of those modules first;
    ``failures`` collects (line, error) for each top-level line that failed; ``as_written``
    (a training run): its package tree's other modules are imported as written too."""
    abspath, tree = _parsed_file(path)
    imports.prepare(abspath, tree)
    root, package = package_context(abspath, max((n.level for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)), default=0))
    installed = installed_module(abspath, root, package)
    if installed is not None:
        return installed
    # The file's folder, its package root, the current directory (run from the repo root); last, a src/
    # folder (``pip install -e .``'s; src/vae/timevae.py's importing vae.base_vae).
    # A package's __main__.py runs as `python -m PKG` does: its own folder is not first on the path (a
    # module named like the package there, textvae/textvae.py, would hide the package: altescy/textvae)
    main = os.path.basename(abspath) == "__main__.py" and os.path.isfile(os.path.join(os.path.dirname(abspath), "__init__.py"))
    last = (*namespace_roots(abspath, tree), *src_layouts(abspath))
    for folder in (*last, os.getcwd(), root, *(() if main else (os.path.dirname(abspath),))):
        if folder not in sys.path:
            sys.path.insert(0, folder)

    if statements is None:
        if wanted is None:
            wanted = {s.name for s in tree.body if isinstance(s, (ast.ClassDef, ast.FunctionDef))}
        statements = select_statements(tree, wanted)
    try:
        return _import_filtered(abspath, tree, statements, package, root, imports, overrides, inject, failures, argv, as_written)
    except VaelintError as e:
        if not getattr(e, "package_failed", False) or _relative_imports(tree):
            raise
        # the folder's __init__.py fails (a Python 2 one, a package of scripts never imported as
        # one), and the file needs no package of its own: load it as `python FILE` does, alone
        return _import_filtered(abspath, tree, statements, None, root, imports, overrides, inject, failures, argv, as_written)


def _relative_imports(tree: ast.Module) -> bool:
    return any(isinstance(n, ast.ImportFrom) and n.level for n in ast.walk(tree))


def _import_filtered(abspath, tree, statements, package, root, imports, overrides, inject, failures, argv, as_written=False):
    modname = _module_name(abspath, package)
    # Import through a finder of our own, so that a package __init__ that
    # imports this very module (``from .vanilla_vae import *``) gets the
    # filtered module too, as a normal import would give it the real one.
    finder = _FilteredFinder(modname, abspath, statements, package, os.path.dirname(abspath), imports, overrides, inject)
    finder.failures, finder.as_written = failures, as_written
    sys.modules.pop(modname, None)
    sys.meta_path.insert(0, finder)
    shadowed = _evict(overrides or {})
    try:
        with _script_guard(abspath, argv), _siblings_first(tree, [os.path.dirname(abspath), root, os.getcwd()]):
            try:
                module = importlib.import_module(modname)
            except VaelintError:
                raise
            except Exception as e:  # noqa: BLE001 - the package's own __init__ failed
                error = VaelintError(
                    "load",
                    f"{display_path(abspath)}: importing {f'its package {package!r}' if package else 'it'} failed "
                    f"({type(e).__name__}: {e})."
                    + (" Fix the package's __init__.py, or check a copy of the model file outside the package." if package else ""),
                )
                error.package_failed = True
                raise error from None
    finally:
        sys.meta_path.remove(finder)
        for key, mod in shadowed.items():
            sys.modules[key] = mod
    return module


def _evict(overrides: dict) -> dict:
    """Take out of sys.modules (until the load is done) the modules of the files a
    front end rewrote, so that importing them runs the rewritten statements."""
    wanted = {os.path.realpath(p) for p in overrides}
    if not wanted:
        return {}  # the common case: resolving every loaded module's path costs 0.1 s
    names = {os.path.basename(p) for p in wanted}
    out = {}
    for key, mod in list(sys.modules.items()):
        origin = file_of(mod)
        if origin and os.path.basename(origin) in names and os.path.realpath(origin) in wanted:
            out[key] = sys.modules.pop(key)
    return out


class _FilteredFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves one module name with the model-defining statements of its file, and
    the other modules and packages of its package tree the same way (the user's
    other modules: vaelint/frontends/ownmodules.py):
    definitions and guarded imports, no script code. A package whose ``__init__``
    imports a sibling that needs a missing package (AntixK's ``models/__init__``
    star-imports a model built on torchvision) then loads as long as the model
    itself does not use it."""

    def __init__(
        self,
        modname: str,
        path: str,
        statements: list[ast.stmt],
        package: str | None = None,
        folder: str | None = None,
        imports: ImportPolicy = PLAIN_IMPORTS,
        overrides: dict | None = None,
        inject: dict | None = None,
    ):
        self.modname, self.path, self.statements = modname, path, statements
        self.package, self.folder, self.imports = package, folder, imports
        self.overrides = {os.path.realpath(p): st for p, st in (overrides or {}).items()}
        self.inject, self.as_written = inject or {}, False  # as_written: its package tree imported as written
        self._siblings: dict[str, tuple[str, list[ast.stmt]]] = {}
        self._packages: dict[str, str] = {}  # a package served here -> its folder

    def find_spec(self, fullname, path=None, target=None):
        origin = self._origin(fullname) or self._override(fullname, path)
        if origin is None:
            return self._users_own(fullname, path)
        folder = self._packages.get(fullname)
        spec = importlib.util.spec_from_loader(fullname, self, origin=origin, is_package=folder is not None)
        if folder is not None:
            spec.submodule_search_locations = [folder]
        spec.has_location = True
        return spec

    def _override(self, fullname: str, path) -> str | None:
        """A file the front end rewrote, imported under whatever name resolves to it."""
        if not self.overrides:
            return None
        parts = fullname.split(".")
        entries = [p for p in sys.path if isinstance(p, str)]  # code may put anything there (sys.path.append(dir))
        roots = [os.path.join(p, parts[-1]) for p in (path or [])] or [os.path.join(p or os.getcwd(), *parts) for p in entries]
        for root in roots:
            candidate = os.path.realpath(root + ".py")
            if candidate in self.overrides:
                self._siblings[fullname] = (candidate, self.overrides[candidate])
                return candidate
        return None

    def _origin(self, fullname: str) -> str | None:
        if fullname == self.modname:
            return self.path
        if not self.package or fullname in sys.modules or self.as_written:
            return None
        # any module of the package tree the model file sits in: a grandparent
        # __init__ that imports the training code (disvae's imports its Trainer,
        # which imports imageio) loads as long as the model does not use it
        top = self.package.split(".")[0]
        if fullname != top and not fullname.startswith(top + "."):
            return None
        top_folder = self.folder
        for _ in range(self.package.count(".") + 1):
            top_folder = os.path.dirname(top_folder)
        base = os.path.join(top_folder, *fullname.split("."))
        package = os.path.isfile(os.path.join(base, "__init__.py")) and not os.path.isfile(base + ".py")
        candidate = os.path.join(base, "__init__.py") if package else base + ".py"
        if not os.path.isfile(candidate):
            return None  # a namespace package, or no such file: the normal import
        statements = definitions_of(candidate)
        if statements is None:
            return None  # let the normal import report its syntax error
        self._siblings[fullname] = (candidate, statements)
        if package:
            self._packages[fullname] = base
        return candidate

    def _users_own(self, fullname: str, path):
        """A module of the user's own folders (not an installed package) outside the
        model's package tree: imported as written, and where that fails (it imports
        ``gym``, which is not installed here), loaded again with its definitions,
        module-level values and imports only, as the package tree is, with a note."""
        if self.folder is None:
            return None
        # and the folders the code put on sys.path itself (sys.path.append("../utils/")); installed
        # places (site-packages, the interpreter's own) are never the user's (ownmodules._users_file)
        folders = [
            self.folder,
            os.path.dirname(self.path),
            os.getcwd(),
            *(p for p in sys.path if isinstance(p, str) and p and os.path.isdir(p)),
        ]
        return own_module_spec(fullname, path, folders, self.imports)

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        if module.__name__ == self.modname:
            path, statements = self.path, self.statements
        else:
            path, statements = self._siblings[module.__name__]
        module.__file__ = path
        module.__dict__.update(self.inject)
        for stmt in statements:
            run_statement(stmt, module, path, self.imports, getattr(self, "failures", None) if module.__name__ == self.modname else None)


@contextlib.contextmanager
def _siblings_first(tree: ast.Module, folders: list[str]):
    """A sibling ``helpers.py`` wins over an unrelated ``helpers`` module that
    is already imported in this process (another model's, or a test's)."""
    shadowed = {}
    for stmt in tree.body:
        names = []
        if isinstance(stmt, ast.Import):
            names = [a.name.split(".")[0] for a in stmt.names]
        elif isinstance(stmt, ast.ImportFrom) and stmt.module and not stmt.level:
            names = [stmt.module.split(".")[0]]
        for name in names:
            mod = sys.modules.get(name)
            if mod is None or name in shadowed:
                continue
            local = [f for f in folders if os.path.exists(os.path.join(f, name + ".py")) or os.path.isdir(os.path.join(f, name))]
            origin = os.path.realpath(file_of(mod))
            if local and not any(origin.startswith(os.path.realpath(f) + os.sep) for f in local):
                shadowed[name] = sys.modules.pop(name)
                for key in [k for k in sys.modules if k.startswith(name + ".")]:
                    shadowed[key] = sys.modules.pop(key)
    try:
        yield
    finally:
        for key, mod in shadowed.items():
            sys.modules[key] = mod


class _ReachedTheStep(Exception):
    """A line of the setup ran the training step itself (its backward), as the script's own
    ``main()`` does: the line is left out, as a line that fails is, and the step runs once, by
    vaelint, with the values the rest of the setup built."""

    def __init__(self, line: int):
        super().__init__(f"line {line} runs the training step itself; the step is run on its own instead")
        self.short = "it runs the training step itself (left out: the step is run on its own)"


def run_statement(
    stmt: ast.stmt, module: types.ModuleType, path: str, imports: ImportPolicy = PLAIN_IMPORTS, failures: list | None = None
) -> None:
    """Run one top-level statement of the user's file; a failure binds placeholders
    for the names it would have bound (they explain the failure if used)."""
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        stmt = imports.run_import(stmt, module)
        if stmt is None:
            return
    code = compile_user_code(ast.Module(body=[stmt], type_ignores=[]), path, "exec")
    from vaelint.frontends.training.runtime import StepLoss

    try:
        try:
            exec(code, module.__dict__)
        except StepLoss as reached:  # a setup line that trains (main() -> train() -> backward): the step runs by itself
            raise _ReachedTheStep(stmt.lineno) from reached
    except (Exception, SystemExit) as e:  # noqa: BLE001 - any failure of the user's line
        if not isinstance(stmt, (ast.Import, ast.ImportFrom)):
            from vaelint.source.astutil import loads

            e = star_cause(cause_among(e, [module.__dict__.get(n) for n in sorted(loads(stmt))]), [module.__dict__])
        error = error_text(e)
        if failures is not None and not isinstance(stmt, (ast.Import, ast.ImportFrom)):
            failures.append((stmt.lineno, getattr(e, "short", None) or (e.message if isinstance(e, VaelintError) else error)))
        if isinstance(e, VaelintError):
            error = e
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            modname = stmt.module if isinstance(stmt, ast.ImportFrom) else None
            for alias in stmt.names:
                name = (alias.asname or alias.name).split(".")[0]
                if name in module.__dict__:
                    continue
                source = modname or alias.name
                if is_logger(source):
                    module.__dict__[name] = LoggerStandIn(name, source, path, stmt.lineno)
                else:
                    module.__dict__[name] = MissingImport(name, source, path, stmt.lineno, error)
            return
        # ``failures`` is kept for a training script's setup (vaelint/frontends/training/execute.py):
        # its placeholders speak of the setup, not of a model file's module level
        context = SETUP if failures is not None else ""
        for name in assigned_names(stmt):
            if name not in module.__dict__:
                module.__dict__[name] = Unavailable(name, context, path, stmt.lineno, error)
