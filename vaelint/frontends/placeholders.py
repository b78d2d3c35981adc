"""Placeholders for what a model file's kept lines could not define.

A failed import binds a :class:`MissingImport`, a failed module-level
assignment an :class:`Unavailable`: both stand in silently until the model
uses them, and then say which line failed and why (exit 2), so a missing
package the model never touches costs nothing.
"""

from __future__ import annotations

import os
import re

from vaelint.errors import VaelintError
from vaelint.frontends.installadvice import also_missing, install_advice, missing_before, missing_package, noted_not_installed, pip_hint  # noqa: F401 - said here, callers import it from here
from vaelint.source.cells import where

# what each use of a name whose import failed raised, in this check (a run that ends with no
# backward says the first: a sweep's `try: run(cfg) except Exception: continue` hides it)
MISSING_USED: list[str] = []
# imports of the repository's own modules that are not here (``import lib.dist`` with no lib/), in
# the order they failed: the user's run stops at the first, wherever vaelint's run stopped
LEFT_OUT: list[str] = []


class MissingImport:
    """Stands for a name whose import failed; using it explains why."""

    def __init__(self, name: str, module: str, path: str, line: int, error: str):
        object.__setattr__(self, "_info", (name, module, path, line, error))
        noted_not_installed(module, path, error)
        advice = install_advice(module, error)
        if "left out of its checkout" in advice and "No module named" in str(error):
            said = f"{where(path, line)} imports {module!r}: {advice}"
            if said not in LEFT_OUT:
                LEFT_OUT.append(said)

    def _fail(self, *_a, **_k):
        name, module, path, line, error = object.__getattribute__(self, "_info")
        failure = VaelintError(
            "load",
            f"{where(path, line)} imports {name!r} from {module!r}, which could not be "
            f"imported ({error}), and the code checked uses it. {_advice(module, error)}{also_missing_beside(module, path, error)}, or move "
            "that import out of the code the check runs.",
        )
        if failure.message not in MISSING_USED and _used_by_the_code():
            MISSING_USED.append(failure.message)  # said even where the code's own `except Exception` swallows it
        raise failure

    def explanation(self) -> VaelintError:
        """The error a use of this name raises."""
        try:
            object.__getattribute__(self, "_fail")()
        except VaelintError as e:
            return e
        raise AssertionError("a placeholder's _fail always raises")

    def __getattr__(self, item):
        if item.startswith("__") and item.endswith("__") and item != "__version__":
            raise AttributeError(item)  # Python's own protocols (__iter__, __len__): no use of the package
        self._fail()  # `pyro.__version__.startswith("1.")` is a use: the missing package said, not "AttributeError"

    def __call__(self, *_a, **_k):  # a subclass's own _fail (Unavailable's) explains the call
        object.__getattribute__(self, "_fail")()

    __mro_entries__ = None  # set below; subclassing a missing base is a use

    def __instancecheck__(self, _obj):  # isinstance(x, Planar) of a missing Planar is a use: said as the import's failure
        object.__getattribute__(self, "_fail")()

    def __subclasscheck__(self, _cls):  # not "issubclass() arg 2 must be a class", far from the import (helper Z)
        object.__getattribute__(self, "_fail")()

    def __repr__(self):
        return f"<missing import {object.__getattribute__(self, '_info')[0]}>"


def _used_by_the_code() -> bool:
    """Is the use of a placeholder the code's own (a user file's frame calls it), not vaelint's
    own look at the names a module defines, which is no use of the package by the code?"""
    import sys

    from vaelint.source.frames import is_user_file

    frame = sys._getframe(2)
    for _ in range(3):  # _fail <- __getattr__/__call__/_mro_entries <- the caller
        if frame is None:
            return False
        name = frame.f_code.co_filename
        if not name.endswith("placeholders.py"):
            return is_user_file(name)
        frame = frame.f_back
    return False


def _mro_entries(self, bases):
    self._fail()


MissingImport.__mro_entries__ = _mro_entries


def also_missing_beside(module: str, path: str, error) -> str:
    """The other packages the code imported that are not installed, beside a failed import's advice."""
    return also_missing(missing_package(module, error), path) if "No module named" in str(error) else ""


def _advice(module: str, error) -> str:
    said = install_advice(module, error)
    return (
        f"Install the package that provides {missing_package(module, error)!r} in this environment{pip_hint(missing_package(module, error))}"
        if said.startswith("Install")
        else said
    )


def cause_among(error: BaseException, values) -> BaseException:
    """Why a line failed: a placeholder among the values it read explains it better than
    what the library said of it (``torch.empty(LSIZE)`` with LSIZE from a module that
    could not be imported: a TypeError about a MissingImport). ``error`` otherwise."""
    if isinstance(error, VaelintError):
        return error
    for value in values:
        if isinstance(value, MissingImport):
            return value.explanation()
    return error


# Operators look their method up on the type, not through __getattr__: without
# these, ``2 * LATENT`` would raise "unsupported operand ... 'Unavailable'"
# instead of the import's or the assignment's own error.
for _op in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor", "lshift", "rshift"):
    setattr(MissingImport, f"__{_op}__", lambda self, *a: self._fail())
    setattr(MissingImport, f"__r{_op}__", lambda self, *a: self._fail())
for _name in (
    "__getitem__",
    "__iter__",
    "__len__",
    "__index__",
    "__int__",
    "__float__",
    "__bool__",
    "__neg__",
    "__lt__",
    "__le__",
    "__gt__",
    "__ge__",
    "__contains__",
    # next(it), with ...: looked up on the type too (``bg_it = iter(bg)`` failed for want of a
    # data set whose import failed, then ``next(bg_it)``: "'Unavailable' object is not an iterator")
    "__next__",
    "__enter__",
    "__exit__",
    "__setitem__",
    "__delitem__",
    "__abs__",
    "__pos__",
    "__invert__",
    "__round__",
):
    setattr(MissingImport, _name, lambda self, *a: self._fail())


SETUP = "setup"  # Unavailable's context: a line of training code's setup (vaelint/frontends/training)


class Unavailable(MissingImport):
    """Stands for a name whose defining statement failed: a model file's module-level
    line, or (context ``SETUP``) a line of the training setup before the step."""

    def __init__(self, name: str, context: str, path: str, line: int, error):
        object.__setattr__(self, "_info", (name, context, path, line, error))  # no module: no package to advise

    def _fail(self, *_a, **_k):
        name, context, path, line, error = object.__getattribute__(self, "_info")
        if isinstance(error, VaelintError):  # e.g. a class built on a missing import
            raise error
        fix = _fix_for(str(error), context)
        kind = _definition_at(path, line)
        if kind is not None:
            # the class or function itself could not be defined (an annotation this torch lacks:
            # torch.Tuple): `python` stops at that line too, whatever vaelint does
            failure = VaelintError(
                "load",
                f"{where(path, line)} defines the {kind} {name!r}, and Python could not define it ({error}): running the "
                "code with `python` stops there too. Fix that line; the error says what it lacks.",
            )
            failure.definition = True
            raise failure
        own_cause = str(error).startswith(("FileNotFoundError", "NotADirectoryError")) or "before Module.__init__() call" in str(error)
        if not own_cause:  # a missing file, a module built before its super().__init__(): their own causes
            fix = missing_before(path, line) or fix
        if context != SETUP:
            raise VaelintError(
                "load",
                f"{where(path, line)} defines {name!r} at module level, the code checked uses it, and running that line failed ({error}). {fix}",
            )
        failure = VaelintError(
            "load", f"{where(path, line)} sets {name!r} in the training setup, and running that line failed ({error}). {fix}"
        )
        # how a later setup line that failed for want of it is listed among the failed lines
        failure.short = f"{where(path, line)} did not set {name!r}"
        raise failure


def _definition_at(path: str, line: int) -> str | None:
    """ "class" or "function" where the statement at ``path:line`` defines one, else None."""
    import ast

    from vaelint.source.files import read_source

    try:
        tree = ast.parse(read_source(path))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            if first <= line <= node.lineno:
                return "class" if isinstance(node, ast.ClassDef) else "function"
    return None


def _fix_for(error: str, context) -> str:
    """What to do about a line that failed, by its error and where it ran."""
    if error.startswith("PackageNotFoundError"):  # __version__ = importlib.metadata.version("textvae")
        return "It reads the metadata of a package that is not installed: install the project into this environment (pip install -e .)."
    if error.startswith(("FileNotFoundError", "NotADirectoryError")):
        return missing_file_fix(error)  # a data folder read at module level too (a data set built on import)
    if "before Module.__init__() call" in error:  # cannot assign module before Module.__init__() call
        return (
            "The module's __init__ sets a layer before it calls super().__init__(), and `python` stops there too: "
            "add super().__init__() as the first line of that __init__."
        )
    if context != SETUP:
        return "Make the value a plain constant or compute it inside the model's __init__."
    if error.startswith(("NameError", "UnboundLocalError")):
        return "No argument sets it: the code uses a name it does not define there, and `python` stops at it too."
    return "Give the script's arguments with --script-args, or check the model with PATH:MODEL --loss PATH:LOSS."


def missing_file_fix(error: str) -> str:
    """What to do about a file the setup reads that is not where it looks: run from another
    folder when the file is somewhere below this one, else bring it (or check the model alone)."""

    from vaelint.frontends.training.livelistings import NAMES

    quoted = re.search(r"'([^']+)'", error)
    base = os.path.basename(quoted.group(1).rstrip("/\\")) if quoted else ""  # a folder: faces/img/
    if base in NAMES:
        # a file of the stand-in listing of a data folder that is not here, read by a reader that
        # does not stand in (gzip.open, open(), pickle): the folder is what is missing
        folder = os.path.dirname(quoted.group(1)) or "."
        return (
            f"The data folder {folder} is not here (vaelint never downloads data): with --input it lists stand-in "
            "files, but the code reads them with a reader that does not stand in (open(), gzip.open, pickle): put "
            "the folder's data where the code reads it, or check the model alone with PATH:MODEL --input SPEC."
        )
    found = found_below(base)
    if found and os.path.isabs(quoted.group(1)):
        # a path the code builds itself (Path(__file__).parent / "data"): the folder vaelint runs in is not why
        return (
            f"The code builds that path itself, and {base} is not there; a file of that name is at "
            f"{os.path.relpath(found)}: the path the code builds does not lead to it (as it would not for "
            "`python` run on the same code), or a setting gives it: fix the path, or give the script's "
            "arguments with --script-args."
        )
    if not base or found:
        return (
            "The code reads that file relative to the folder vaelint runs in: run the check from the "
            "folder you run the script from, or give the script's arguments with --script-args."
        )
    if base.lower().endswith(CONFIG_FILES):
        # yaml.safe_load(open("vae_config.yaml")): a configuration, which no --input stands in for (helper V)
        return (
            f"{base} is a configuration file, nowhere under this folder: --input cannot stand in for it. Put it where "
            "the code reads it (the folder you run the script from), or give the script's arguments that name "
            "another with --script-args."
        )
    return (
        f"{base} is nowhere under this folder (vaelint never downloads data). With --input giving the batch, "
        "data read through a Dataset, np.load, pd.read_*, h5py.File or the code's own open() of a text data file (.txt, .csv, "
        ".amat, ...) stands in, but not a file read another way: put the file where the code reads it, or check the "
        "model alone with PATH:MODEL --input SPEC."
    )


CONFIG_FILES = (".yaml", ".yml", ".json", ".toml", ".cfg", ".ini", ".conf", ".gin")


def config_hint(error) -> str:
    """Where a run stopped at a missing configuration file (``yaml.safe_load(open("vae.yaml"))``), what
    to do, in parentheses; "" for any other error: --input stands in for data, never for a config."""
    name = str(getattr(error, "filename", "") or "") if isinstance(error, FileNotFoundError) else ""
    if not name.lower().endswith(CONFIG_FILES):
        return ""
    return (
        " (a configuration file the code opens relative to the folder it runs in, not data: --input cannot stand in for "
        "it. Run the check from the folder you run the script from, or put the file there, or name another with --script-args)"
    )


def found_below(base: str) -> str | None:
    """A file named ``base`` somewhere below the folder vaelint runs in (the code run from
    another folder than its own), or None."""

    return next((os.path.join(root, base) for root, _dirs, files in _walk_limited(os.getcwd()) if base in files), None) if base else None


def _walk_limited(top: str, limit: int = 5000):
    """os.walk below ``top``, at most ``limit`` folders, hidden folders and environments left out."""

    for seen, (root, dirs, files) in enumerate(os.walk(top)):
        if seen >= limit:
            return
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("node_modules", "venv", "__pycache__")]
        yield root, dirs, files


# Experiment loggers and visualisers: what training code hands its numbers to.
# Nothing they return feeds the model or the loss, so a missing one stands in as
# a no-op (the report says so) instead of stopping the check at its first call
# (``visdom.Visdom(port=...)`` in a Solver's __init__, ``wandb.init()`` in main).
LOGGERS = frozenset(
    {
        "visdom",
        "wandb",
        "tensorboardX",
        "tensorboard",
        "torch.utils.tensorboard",
        "mlflow",
        "comet_ml",
        "neptune",
        "clearml",
        "aim",
        "swanlab",
        "dvclive",
    }
)
_stood_in: list[str] = []  # the report's notes on what stood in for what, in load order


def is_logger(module: str) -> bool:
    return module in LOGGERS or module.split(".")[0] in LOGGERS


class LoggerStandIn:
    """A missing logger: every attribute, call and ``with`` is another no-op."""

    def __init__(self, name: str, module: str, path: str, line: int):
        note(
            f"{where(path, line)}: {module} is not installed; it stands in as a no-op (a logger: nothing it returns reaches the model or the loss)"
        )
        object.__setattr__(self, "_name", name)

    def __getattr__(self, item):
        if item.startswith("__") and item.endswith("__"):
            raise AttributeError(item)
        return self

    def __call__(self, *_a, **_k):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        return False

    def __iter__(self):
        return iter(())

    def __setattr__(self, _name, _value):
        pass

    __getitem__ = __call__  # logger.experiment["run"]
    __setitem__ = __setattr__  # run.experiment["hparams"] = vars(args): nothing kept

    def __mro_entries__(self, bases):
        return ()  # a class built on a missing logger's class is built on object

    def __repr__(self):
        return f"<stand-in for the missing logger {object.__getattribute__(self, '_name')}>"


def note(text: str) -> None:
    """A note for the report on what a load put in place of the user's code."""
    _stood_in.append(text)


def notes_mark() -> int:
    """Where the next load's notes begin: ``stood_in(notes_mark())`` after it are that load's."""
    return len(_stood_in)


def stood_in(since: int = 0) -> list[str]:
    """What the loaded files' missing loggers and unimportable modules were replaced by
    (for the report's notes), from the ``since``-th on (see ``notes_mark``)."""
    return list(dict.fromkeys(_stood_in[since:]))  # a file loaded twice says it once
