"""How the check's imports resolved, for the result cache (store.py): which of the names its code
imported each folder that decides them holds, and as what (a module file, a package, a folder
with no ``__init__.py``), and whether the folder is a package itself. The folders are those of
the user's modules the check read, with those above them up to the project's root (the current
directory, or a folder with a pyproject.toml, setup.py, setup.cfg or .git), and the user's
folders on the import path. ``touch src/__init__.py``, or a ``utils.py`` put beside a ``utils/``
the code imports, is a new check; a new file of another name is none. One listing a folder, no
walk of the tree.

The record rides in the result's ``listings`` (reads.py ``listings``), under keys no folder has:
``NAMES`` holds the names looked for, ``PREFIX`` + folder what that folder holds of them.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import os
import sys

from vaelint.source.files import PROJECT_MARKERS
from vaelint.source.modulefiles import file_of

NAMES = "imports"  # not an absolute path: no folder of the listings has it
PREFIX = "imports:"
_UP = 8  # folders above a module's own, at most, when no project root stops the climb first


def is_layout_key(key: str) -> bool:
    return key == NAMES or key.startswith(PREFIX)


def record(imported: set[str], modules: list[str], searched: list[str]) -> dict[str, str | None]:
    """The record of a check that imported the modules named ``imported`` (full dotted names),
    read the user's module files ``modules`` and searched the user's folders ``searched``."""
    names = _looked_for(imported)
    out: dict[str, str | None] = {NAMES: "\n".join(sorted(names))}
    for folder in _folders(modules, searched):
        out[PREFIX + folder] = _state(folder, names)
    return out


def same(recorded: dict) -> bool:
    """Does every folder recorded hold what it held of the names looked for?"""
    names = set(str(recorded.get(NAMES) or "").split("\n")) - {""}
    return all(_state(key[len(PREFIX) :], names) == state for key, state in recorded.items() if key.startswith(PREFIX))


def _looked_for(imported: set[str]) -> set[str]:
    """Each top-level name imported (a file of that name in a user's folder on the path would come
    first), the submodules' names of the user's own packages (where the import looked for them),
    and ``__init__``: whether a folder is a package."""
    out = {"__init__"}
    for name in imported:
        parts = name.split(".")
        out.add(parts[0])
        if len(parts) > 1 and _users(parts[0]):
            out.update(parts[1:])
    return {n for n in out if n.isidentifier()}


def _users(top: str) -> bool:
    """Is the package ``top`` the user's (or one that failed to import: where it was looked for)?"""
    from vaelint.source.frames import is_user_file

    module = sys.modules.get(top)
    if module is None or getattr(module, "__spec__", None) is None:
        return True
    where = [file_of(module)] + [str(p) for p in (getattr(module, "__path__", None) or ()) if isinstance(p, str)]
    return any(p and is_user_file(p) for p in where)


def _folders(modules: list[str], searched: list[str]) -> list[str]:
    """The folders of the module files and those above them, up to the project's root, and the folders searched."""
    here = os.path.realpath(os.getcwd())
    out = dict.fromkeys(os.path.realpath(p) for p in searched)
    walked: set[str] = set()
    for path in modules:
        d = os.path.dirname(os.path.realpath(path))
        for _ in range(_UP + 1):
            if d in walked:
                break
            walked.add(d)
            out[d] = None
            parent = os.path.dirname(d)
            if d == here or parent == d or any(os.path.exists(os.path.join(d, m)) for m in PROJECT_MARKERS):
                break
            d = parent
    return sorted(out)


def module_files(paths) -> list[str]:
    """Of the files a check read, those an import finds (and notebooks, which import from their folder)."""
    suffixes = (*importlib.machinery.all_suffixes(), ".ipynb")
    return [p for p in paths if p.endswith(suffixes)]


def _state(folder: str, names: set[str]) -> str | None:
    """The digest of what ``folder`` holds of ``names`` (None: no such folder)."""
    try:
        entries = sorted(os.listdir(folder))
    except OSError:
        return None
    suffixes = tuple(importlib.machinery.all_suffixes())
    found = []
    for entry in entries:
        stem = entry.partition(".")[0]
        if stem not in names:
            continue
        path = os.path.join(folder, entry)
        if entry == stem and os.path.isdir(path):  # a package, or a folder a namespace package may take
            package = any(os.path.isfile(os.path.join(path, "__init__" + s)) for s in suffixes)
            found.append(entry + ("/__init__" if package else "/"))
        elif entry != stem and entry.endswith(suffixes):
            found.append(entry)
    return hashlib.sha256("\0".join(found).encode("utf-8", "surrogateescape")).hexdigest()
