"""Models from installed packages: a target named by its import path
(``diffusers.models:AutoencoderKL``) found as a file without importing, and a file of an
installed package imported whole, in its package, with its package counted as the
user's code for the report's lines."""

from __future__ import annotations

import importlib
import os
import types

from vaelint.errors import VaelintError, error_text
from vaelint.source.frames import display_path


def installed_module(abspath: str, root: str, package: str | None) -> types.ModuleType | None:
    """A file of an installed package (``diffusers/models/autoencoders/autoencoder_kl.py``,
    or a ``pkg.module:Class`` target) is imported as Python imports it, in its package, never
    filtered: a library's lazy modules and relative imports need it whole. Its package then
    counts as the user's code, so findings point at its lines. None for the user's own files."""
    from vaelint.source.frames import claim, is_user_file

    if package is None or is_user_file(abspath):
        return None
    stem = os.path.splitext(os.path.basename(abspath))[0]
    name = package if stem == "__init__" else f"{package}.{stem}"
    claim(os.path.join(root, package.split(".")[0]))
    try:
        return importlib.import_module(name)
    except Exception as e:  # noqa: BLE001 - the package does not import here
        raise VaelintError(
            "load",
            f"importing {name} (installed at {display_path(abspath)}) failed: {error_text(e)}. "
            "Check that it imports in this environment: python -c 'import " + name + "'.",
        ) from None


def module_file(dotted: str) -> str | None:
    """The file of an importable module named by its import path (``diffusers``,
    ``diffusers.models.autoencoders.autoencoder_kl``), found without importing it: its
    package's ``__init__.py`` or its ``.py`` file; None when there is none."""
    import importlib.util

    parts = dotted.split(".")
    if not all(p.isidentifier() for p in parts):
        return None
    try:
        spec = importlib.util.find_spec(parts[0])
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    path = spec.origin
    for part in parts[1:]:
        folder = os.path.dirname(path)
        candidates = [os.path.join(folder, part, "__init__.py"), os.path.join(folder, part + ".py")]
        path = next((c for c in candidates if os.path.isfile(c)), None)
        if path is None or not os.path.basename(path) == "__init__.py" and part != parts[-1]:
            return None
    return path
