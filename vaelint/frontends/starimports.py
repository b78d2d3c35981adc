"""A NameError whose cause is a ``from M import *`` that failed: in the file that raised it or in
the namespaces the failing line read, said at that import (:mod:`.placeholders` stands in for it)."""

from __future__ import annotations

import os

from vaelint.errors import VaelintError
from vaelint.frontends.installadvice import pip_hint
from vaelint.frontends.placeholders import MissingImport, missing_package
from vaelint.source.cells import where


def star_cause(error: BaseException, namespaces) -> BaseException:
    """A NameError in a file whose ``from M import *`` failed: that import is the cause
    (``from modules import *`` with modules.py not in the repository, then
    ``ResNet_VAE(...)``: 'name ResNet_VAE is not defined'). ``error`` otherwise."""
    if not isinstance(error, NameError):
        return error
    # and the module the NameError was raised in (a class of an imported file: SeqVAE() whose
    # module's star import failed, its Encoder then undefined)
    for namespace in [*namespaces, _raised_in(error)]:
        star = namespace.get("*") if isinstance(namespace, dict) else None
        if isinstance(star, MissingImport):
            _name, module, path, line, failure = object.__getattribute__(star, "_info")
            missing = getattr(error, "name", None)
            what = f"{missing!r} is not defined, and would have come from it" if missing else "the names it would have defined are missing"
            above = _own_folder_above(module, path)
            fix = (
                f"The code imports its own folder as the package {module.split('.')[0]!r}, which Python finds only from "
                f"the folder above it: run the check there (cd {os.path.relpath(above)} and give the file's path from it)."
                if above
                else f"Install the package that provides {missing_package(module, failure)!r} in this environment"
                f"{pip_hint(missing_package(module, failure))} "
                f"(or add {module.replace('.', '/')}.py, if it is the repository's own module)."
            )
            return VaelintError(
                "load", f"{where(path, line)} imports * from {module!r}, which could not be imported ({failure}): {what}. {fix}"
            )
    return error


def _own_folder_above(module: str, path: str) -> str:
    """The folder above the one a file's package import names (``from seqvae.models.nets import *``
    in seqvae/models/vae.py, the repository importing itself by its folder's name), where that
    folder holds the module; "" otherwise."""
    parts = module.split(".")
    folder = os.path.dirname(os.path.abspath(path))
    while folder and os.path.dirname(folder) != folder:
        if os.path.basename(folder) == parts[0]:
            above = os.path.dirname(folder)
            target = os.path.join(above, *parts)
            return above if os.path.isfile(target + ".py") or os.path.isdir(target) else ""
        folder = os.path.dirname(folder)
    return ""


def _raised_in(error: BaseException) -> dict | None:
    """The globals of the frame an exception was raised in."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_globals if tb is not None else None
