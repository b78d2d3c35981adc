"""A result cache, as ruff's: a target checked again with nothing it depends on
changed is answered from disk, before torch is imported.

A result is stored under a key of what the check was asked (the target, the
options, the current directory) and what ran it (vaelint's code, torch's and
Python's versions); beside it, the content digest of every file the check read:
the target's file and every user module and file its code opened (recorded in
the worker while it ran, vaelint/runtime/worker.py), and what it looked for and did not
find (a data file, a package: vaelint/cache/reads.py ``missing``), and which of the
names it imported the folders that decide its imports hold (an ``__init__.py`` put in
place: vaelint/cache/layout.py). A result whose recorded files all still hold the same
bytes, and whose missing files and packages are still missing, is reused; any change
misses. Only results that the same inputs always give are stored: not a timeout, a
killed worker or a bug of vaelint's, nor a check with edited sources standing in
(``--fix`` rounds).

Entries are JSON (vaelint/cache/codec.py), never pickle: reading one builds only
vaelint's own result records, so a planted entry cannot run code. Each holds the
full text of its key, compared on read: an entry copied over another target's,
truncated, foreign or of another format is a miss, and is replaced. A result also
holds while every environment variable the check read has the value it saw. A
cache that cannot be read or written (a file where the folder should be, a
read-only or full disk) is a check without it, said in one note; never a lost report.

The folder is ``.vaelint_cache/`` beside the project's ``pyproject.toml`` (else
in the current directory), or ``VAELINT_CACHE_DIR``; it ignores itself for git.
``--no-cache`` (or ``VAELINT_NO_CACHE=1``) neither reads nor writes it;
``vaelint clean`` removes it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import platform
import sys
import tempfile

from vaelint.cache import codec
from vaelint.cache.roots import code_roots
from vaelint.diagnostics import TargetResult

FOLDER = ".vaelint_cache"
FORMAT = 3  # of the entries: a new layout is a new number (1 was pickle; 2 had no listings)

# what a result is not stored for: it depends on the machine's state, not the inputs
_NOT_STORED = {"timeout", "killed", "internal", "exit"}


def _met_the_network(result) -> bool:
    """Did the check's run try a download or a connection (refused, as every one is)? Its outcome
    then hangs on what is outside the files it read (a weights file fetched when
    ``os.path.exists`` says it is absent): such a result is not stored."""
    said = [result.error.message] if result.error is not None else []
    # the words every refusal of the sandbox says (vaelint/frontends/training/sandbox.py, NO_DOWNLOADS)
    return any("vaelint never downloads" in text for text in said + list(result.notes))


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


def plugin_files() -> list[str]:
    """The files of the installed plugins' rule packs (vaelint/plugins.py), found without
    importing them: a plugin rule changed or installed is a new check."""
    import importlib.util

    from vaelint.plugins import plugin_rule_packs

    files = []
    for pack in plugin_rule_packs():
        try:
            spec = importlib.util.find_spec(pack.value.partition(":")[0].strip())
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.origin or not os.path.exists(spec.origin):
            files.append(f"{pack.by}:{pack.value}")  # the check will say it cannot load it
            continue
        for folder in spec.submodule_search_locations or ():
            for here, dirs, names in os.walk(folder):
                dirs[:] = sorted(d for d in dirs if d != "__pycache__")
                files += [os.path.join(here, n) for n in sorted(names) if n.endswith(".py")]
        if not spec.submodule_search_locations:
            files.append(spec.origin)
    return files


@functools.lru_cache(maxsize=1)
def _code_fingerprint() -> str:
    """vaelint's own code as it is installed (a development checkout changes without a new version)."""
    from vaelint.version import __version__

    h = hashlib.sha256(__version__.encode())
    for path in plugin_files():
        st = os.stat(path) if os.path.exists(path) else None
        h.update(f"{path}:{st.st_size}:{st.st_mtime_ns};".encode() if st else f"{path};".encode())
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

        from vaelint.source.frames import readable_import_path

        with readable_import_path():
            return version("torch")
    except Exception:  # noqa: BLE001 - a torch without metadata: its absence is a version too
        return "unknown"


def key_text(target: str, options) -> str:
    """What the check was asked and what runs it (the files it reads are checked apart)."""
    asked = {
        f.name: getattr(options, f.name)
        for f in dataclasses.fields(options)
        if f.name not in ("progress", "on_model", "sources", "timeout", "max_memory")
    }
    return repr(
        (
            FORMAT,
            os.path.abspath(target.partition(":")[0]),
            target.partition(":")[2],
            os.getcwd(),
            sorted((k, repr(v)) for k, v in asked.items()),
            _code_fingerprint(),
            _torch_version(),
            sys.version,
            platform.machine(),
            os.environ.get("CUDA_VISIBLE_DEVICES"),
            # which environment's packages (another venv sharing the project's cache folder), and
            # where Python looked for modules before any code ran
            os.path.realpath(sys.prefix),
            os.environ.get("PYTHONPATH"),
        )
    )


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
        self.problem: str | None = None  # why the cache could not be used this time, for one note

    def _entry(self, text: str) -> str:
        """The entry's file, named by the digest of its key's text."""
        k = hashlib.sha256(text.encode()).hexdigest()
        return os.path.join(self.folder, "results", k[:2], f"{k}.json")

    def get(self, target: str, options):
        """The stored result, when it is this target's and every file it read holds the same bytes; else None."""
        text = key_text(target, options)
        try:
            with open(self._entry(text), encoding="utf-8") as fh:
                stored = json.load(fh)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, RecursionError):  # unreadable, truncated, not JSON: a miss
            return None
        try:
            result = self._valid(stored, text, target)
        except (codec.Malformed, TypeError, ValueError, KeyError, AttributeError, RecursionError):
            return None  # foreign, planted or another target's: a miss, replaced by this check's
        if result is None:
            return None
        result.cached = True
        return result

    @staticmethod
    def _valid(stored, text: str, target: str):
        if not isinstance(stored, dict) or stored.get("format") != FORMAT or stored.get("key") != text:
            return None
        files, absent, env = stored["files"], stored["absent"], stored["environment"]
        listed, installed = stored["listings"], stored["installed"]
        if not files or not all(isinstance(d, dict) for d in (files, absent, env, listed, installed)):
            return None
        if any(digest(path) != sha for path, sha in files.items()):
            return None
        if any(_mentions(path, names) for path, names in absent.items()):
            return None
        from vaelint.cache.reads import same_environment, same_installed, same_listings, still_missing

        if not same_environment(env):
            return None  # a variable the check read has another value now
        if not same_listings(listed) or not same_installed(installed):
            return None  # a folder the code listed holds other files; a package it imported was reinstalled
        result = codec.decode(stored["result"])
        if not isinstance(result, TargetResult) or result.target != target:
            return None
        if not still_missing(*result.missing):
            return None  # a data file it looked for is there now, or a package it lacked is installed
        return result

    def put(self, target: str, options, result) -> bool:
        """Store ``result`` (its ``dependencies`` were recorded while it ran); a cache that
        cannot be written is said once (``problem``), never raised."""
        if options.sources or not result.dependencies:
            return False
        if result.error is not None and result.error.kind in _NOT_STORED:
            return False
        if _met_the_network(result):
            return False  # a refused download decided it: what the download would fetch is no file read
        files = {path: digest(path) for path in result.dependencies}
        if any(sha is None for sha in files.values()):
            return False
        text = key_text(target, options)
        try:
            entry = {
                "format": FORMAT,
                "key": text,
                "files": files,
                "absent": dict(result.absent_names),
                "environment": dict(result.environment),
                "listings": dict(result.listings),
                "installed": dict(result.installed),
                "result": codec.encode(result),
            }
            data = json.dumps(entry)
        except (codec.Unstorable, TypeError, ValueError):
            return False  # a value of a kind the cache does not hold: checked again next time
        try:
            self._prepare()
            path = self._entry(text)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            # written whole, then moved in place: a reader never sees half an entry
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(data)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as e:
            self.problem = f"the result cache at {self.folder} could not be written ({e.strerror or e}), so this check was not stored"
            return False
        return True

    def _prepare(self) -> None:
        if os.path.isdir(self.folder):
            return
        os.makedirs(self.folder, exist_ok=True)
        with open(os.path.join(self.folder, ".gitignore"), "w") as fh:
            fh.write("# Automatically created by vaelint.\n*\n")
        with open(os.path.join(self.folder, "CACHEDIR.TAG"), "w") as fh:
            fh.write("Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by vaelint.\n")


def clean(folder: str) -> str:
    """Remove the cache folder; what was done, in words. A path that is not a cache folder is
    left alone, and a folder that cannot be removed is said, never raised."""
    import shutil

    if not os.path.lexists(folder):
        return f"no cache at {folder}"
    if not os.path.isdir(folder) or os.path.islink(folder):
        return f"{folder} is not a cache folder (a file or a link): left as it is"
    try:
        shutil.rmtree(folder)
    except OSError as e:
        return f"could not remove {folder} ({e.strerror or e}): remove it by hand"
    return f"removed {folder}"
