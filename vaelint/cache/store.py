"""A result cache, as ruff's: a target checked again with nothing it depends on
changed is answered from disk, before torch is imported.

A result is stored under a key of what the check was asked (the target, the
options, the current directory) and what ran it (vaelint's code, torch's and
Python's versions); beside it, the content digest of every file the check read:
the target's file and every user module and file its code opened (recorded in
the worker while it ran, vaelint/worker.py), and what it looked for and did not
find (a data file, a package: vaelint/cache/reads.py ``missing``). A result whose
recorded files all still hold the same bytes, and whose missing files and packages
are still missing, is reused; any change misses. Only results that the
same inputs always give are stored: not a timeout, a killed worker or a bug of
vaelint's, nor a check with edited sources standing in (``--fix`` rounds).

The folder is ``.vaelint_cache/`` beside the project's ``pyproject.toml`` (else
in the current directory), or ``VAELINT_CACHE_DIR``; it ignores itself for git.
``--no-cache`` (or ``VAELINT_NO_CACHE=1``) neither reads nor writes it;
``vaelint clean`` removes it.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import pickle
import platform
import sys
import tempfile

FOLDER = ".vaelint_cache"
FORMAT = 1  # of the entries: a new layout is a new number

# what a result is not stored for: it depends on the machine's state, not the inputs
_NOT_STORED = {"timeout", "killed", "internal", "exit"}


def folder_for(project_root: str | None) -> str:
    return os.environ.get("VAELINT_CACHE_DIR") or os.path.join(project_root or os.getcwd(), FOLDER)


def disabled() -> bool:
    return os.environ.get("VAELINT_NO_CACHE", "") not in ("", "0")


def digest(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return None


@functools.lru_cache(maxsize=1)
def code_roots() -> tuple[str, ...]:
    """The folders of vaelint's own code: the package and its rules (which a
    development checkout keeps apart, in rules/)."""
    import importlib.util

    import vaelint

    roots = [os.path.dirname(os.path.realpath(vaelint.__file__))]
    try:
        spec = importlib.util.find_spec("vaelint.rules")
        roots += [os.path.realpath(p) for p in (spec.submodule_search_locations or [])] if spec else []
    except ImportError:
        pass
    return tuple(sorted(set(roots)))


@functools.lru_cache(maxsize=1)
def _code_fingerprint() -> str:
    """vaelint's own code as it is installed (a development checkout changes without a new version)."""
    import vaelint

    h = hashlib.sha256(vaelint.__version__.encode())
    for root in code_roots():
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(f for f in files if f.endswith(".py")):
                st = os.stat(os.path.join(folder, name))
                h.update(f"{os.path.relpath(os.path.join(folder, name), root)}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def _torch_version() -> str:
    try:
        from importlib.metadata import version

        return version("torch")
    except Exception:  # noqa: BLE001 - a torch without metadata: its absence is a version too
        return "unknown"


def key(target: str, options) -> str:
    """What the check was asked and what runs it (the files it reads are checked apart)."""
    asked = {
        f.name: getattr(options, f.name)
        for f in dataclasses.fields(options)
        if f.name not in ("progress", "on_model", "sources", "timeout", "max_memory")
    }
    text = repr((
        FORMAT, os.path.abspath(target.partition(":")[0]), target.partition(":")[2], os.getcwd(),
        sorted((k, repr(v)) for k, v in asked.items()),
        _code_fingerprint(), _torch_version(), sys.version, platform.machine(),
        os.environ.get("CUDA_VISIBLE_DEVICES"),
    ))
    return hashlib.sha256(text.encode()).hexdigest()


def _mentions(path: str, names: list[str]) -> bool:
    """Does a file read only to find these names (a call of the loss) hold one now?"""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return False  # gone: it holds nothing
    return any(name in text for name in names)


class Cache:
    def __init__(self, folder: str):
        self.folder = folder

    def _entry(self, k: str) -> str:
        return os.path.join(self.folder, "results", k[:2], f"{k}.pickle")

    def get(self, target: str, options):
        """The stored result, when every file it read holds the same bytes; else None."""
        try:
            with open(self._entry(key(target, options)), "rb") as fh:
                stored = pickle.load(fh)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError):
            return None
        if not isinstance(stored, dict) or not stored.get("files"):
            return None
        if any(digest(path) != sha for path, sha in stored["files"].items()):
            return None
        if any(_mentions(path, names) for path, names in stored.get("absent", {}).items()):
            return None
        result = stored["result"]
        from vaelint.cache.reads import still_missing

        if not still_missing(*getattr(result, "missing", ((), (), ()))):
            return None  # a data file it looked for is there now, or a package it lacked is installed
        result.cached = True
        return result

    def put(self, target: str, options, result) -> bool:
        """Store ``result`` (its ``dependencies`` were recorded while it ran)."""
        if options.sources or not result.dependencies:
            return False
        if result.error is not None and result.error.kind in _NOT_STORED:
            return False
        files = {path: digest(path) for path in result.dependencies}
        if any(sha is None for sha in files.values()):
            return False
        self._prepare()
        path = self._entry(key(target, options))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # written whole, then moved in place: a reader never sees half an entry
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump({"files": files, "absent": dict(result.absent_names), "result": result}, fh)
        os.replace(tmp, path)
        return True

    def _prepare(self) -> None:
        if os.path.isdir(self.folder):
            return
        os.makedirs(self.folder, exist_ok=True)
        with open(os.path.join(self.folder, ".gitignore"), "w") as fh:
            fh.write("# Automatically created by vaelint.\n*\n")
        with open(os.path.join(self.folder, "CACHEDIR.TAG"), "w") as fh:
            fh.write("Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by vaelint.\n")


def clean(folder: str) -> bool:
    """Remove the cache folder; whether there was one."""
    import shutil

    if not os.path.isdir(folder):
        return False
    shutil.rmtree(folder)
    return True
