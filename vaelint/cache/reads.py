"""What a check read, for the result cache (vaelint/cache/store.py).

The worker records every file the check opens (vaelint/runtime/worker.py). One kind of
read is weaker: vaelint scans the model's folder for a call of the loss
(vaelint/capture/bindnames.py), and a file that does not even contain the loss's name
cannot hold one. Such a file is no dependency while it still lacks the name,
so a change to a sibling model does not invalidate every target in its folder:
the scan reads it unrecorded and notes the name as absent.
"""

from __future__ import annotations

import contextlib
import os
import sys

from vaelint.source.modulefiles import file_of

_quiet = False
_absent: dict[str, set[str]] = {}
_read: set[str] = set()
_imported: set[str] = set()  # the top-level names the check's code tried to import
_imported_full: set[str] = set()  # and the full names (vaelint/cache/layout.py)
_modules_read: list[str] = []  # the user's module files among the dependencies (layout.py)
_listed: set[str] = set()  # the folders the code listed (os.listdir, os.scandir, so glob and pathlib too)


def recording() -> bool:
    """Whether the worker's record of opened files should take this open."""
    return not _quiet


@contextlib.contextmanager
def unrecorded():
    """Opens inside are not recorded (the caller says what they meant)."""
    global _quiet
    saved, _quiet = _quiet, True
    try:
        yield
    finally:
        _quiet = saved


def name_absent(path: str, name: str) -> None:
    _absent.setdefault(os.path.realpath(path), set()).add(name)


def read(path: str) -> None:
    """``path`` is a dependency after all (a scan found what it looked for)."""
    _read.add(os.path.realpath(path))


def reset() -> None:
    """A worker starts with nothing read (the parent's own warm-up check read some)."""
    global _quiet
    _quiet = False
    _absent.clear()
    _read.clear()
    _imported.clear()
    _imported_full.clear()
    _modules_read.clear()
    _listed.clear()


def absent() -> dict[str, list[str]]:
    return {path: sorted(names) for path, names in _absent.items()}


def explicit() -> set[str]:
    return set(_read)


def record_opens() -> set:
    """Every file this worker opens from now on (Python's audit hook: ``open`` and
    ``io.open_code``, so imports too), and every path the code asked about that was not
    there (``os.path.exists``, ``Path.is_file``: ``os.stat`` and ``os.lstat``), and the
    folders it listed. The worker is this target's alone, so the hook, which cannot be
    removed, and the patches end with it."""
    opened: set = set()

    reset()

    def audit(event, args):
        if event == "open" and args and isinstance(args[0], str) and recording():
            opened.add(args[0])
        elif event == "import" and args and isinstance(args[0], str):
            _imported.add(args[0].partition(".")[0])
            _imported_full.add(args[0])
        elif event in ("os.listdir", "os.scandir") and args and recording():
            folder = _path_of(args[0] if args[0] is not None else ".")
            if folder is not None and _for_the_code():
                _listed.add(folder)

    sys.addaudithook(audit)
    _record_probes(opened)
    _record_environment()
    return opened


def _path_of(arg) -> str | None:
    """An absolute path of what a call was given (a str, bytes or path object; not a file descriptor)."""
    if isinstance(arg, int):
        return None
    try:
        return os.path.abspath(os.fsdecode(os.fspath(arg)))
    except (TypeError, ValueError):
        return None


def _for_the_code() -> bool:
    """Does the call come, however deep, from the user's code (or a library it called)? vaelint's
    own scans of the project (the files beside a script, a loss's callers) run with no user
    frame on the stack and decide nothing a user's change to the folder would undo."""
    from vaelint.source.frames import is_user_file

    frame, found = sys._getframe(2), False
    for _ in range(400):
        if frame is None:
            return False  # not inside a check (the worker's own book-keeping after it)
        name = frame.f_code.co_filename
        if name in _BASE:
            return found  # what called the check (a launcher, a test) is not the code checked
        if name.startswith("<frozen importlib") and not found:
            return False  # the import system's own look-ups: what they find is in ``missing`` and the files read
        found = found or is_user_file(name)
        frame = frame.f_back
    return False


# the check's own entry: frames below it are whatever started the check
_BASE = {os.path.join(os.path.dirname(os.path.dirname(f(__file__))), "analyze.py") for f in (os.path.abspath, os.path.realpath)}


def _record_probes(opened: set) -> None:
    """A path the code asks about and does not find (``if not os.path.exists("data/train.npy"):
    sys.exit(...)``) is looked for as much as a file it fails to open: it joins ``opened``, so
    ``missing`` holds it, and a check that stopped there is done again once the file is there."""
    for name in ("stat", "lstat"):
        original = getattr(os, name)

        def probe(path, *args, _original=original, **kwargs):
            if not isinstance(path, (str, bytes, int, os.PathLike)):
                # no path at all (sys.path.append(dir) with the builtin): no file there, as os.path.isdir and
                # the import path's readers take it, whoever asks (vaelint's own lookups after such code ran)
                raise FileNotFoundError(2, "No such file or directory", repr(path))
            try:
                return _original(path, *args, **kwargs)
            except (FileNotFoundError, NotADirectoryError):
                if recording() and kwargs.get("dir_fd") is None:
                    where = _path_of(path)
                    if where is not None and _for_the_code():
                        opened.add(where)
                raise

        setattr(os, name, probe)
        for supports in (os.supports_dir_fd, os.supports_fd, os.supports_follow_symlinks, os.supports_effective_ids):
            if original in supports:  # shutil and others ask these sets what os.stat takes
                supports.add(probe)


_SCRATCH = {".vaelint_cache", "__pycache__", ".ipynb_checkpoints"}


def _listing(folder: str) -> str | None:
    """The digest of the names a folder holds (None: no such folder); vaelint's cache and
    Python's bytecode caches, which appear by themselves, are left out."""
    import hashlib

    try:
        names = sorted(n for n in os.listdir(folder) if n not in _SCRATCH)
    except OSError:
        return None
    return hashlib.sha256("\0".join(names).encode("utf-8", "surrogateescape")).hexdigest()


def listings() -> dict[str, str | None]:
    """The user's folders the code listed, each with the digest of what it held: a data file
    added to a folder a glob reads (a data set that was empty) is a new check. With them, what
    decided how its imports resolved (vaelint/cache/layout.py: an ``__init__.py`` put in place)."""
    from vaelint.cache import layout
    from vaelint.source.frames import is_user_file

    out = {folder: _listing(folder) for folder in sorted(_listed) if is_user_file(folder)}
    searched = list(dict.fromkeys([*_searched(), os.getcwd()]))
    return {**out, **layout.record(_imported_full, _modules_read, searched)}


def same_listings(recorded: dict) -> bool:
    from vaelint.cache import layout

    if not layout.same({k: v for k, v in recorded.items() if layout.is_layout_key(k)}):
        return False
    return all(_listing(folder) == digest for folder, digest in recorded.items() if not layout.is_layout_key(folder))


def installed() -> dict[str, str]:
    """The installed packages the check's code imported (not vaelint, not stand-ins), each by
    its top module file's size and time: ``pip install -U einops`` after a check is a new check."""
    from vaelint.source.frames import is_user_file

    out = {}
    for name in sorted(_imported):
        module = sys.modules.get(name)
        path = file_of(module) if _imported_for_real(name) else None
        if not path or name == "vaelint" or is_user_file(path) or not _in_site_packages(path):
            continue  # the standard library is Python's version, in the key
        signature = _signature(path)
        if signature is not None:
            out[os.path.realpath(path)] = signature
    return out


def _in_site_packages(path: str) -> bool:
    import sysconfig

    real = os.path.realpath(path)
    roots = {os.path.realpath(p) for p in (sysconfig.get_paths().get(k) for k in ("purelib", "platlib")) if p}
    return "site-packages" in real or "dist-packages" in real or any(real.startswith(r + os.sep) for r in roots)


def _signature(path: str) -> str | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return f"{st.st_size}:{st.st_mtime_ns}"


def same_installed(recorded: dict) -> bool:
    return all(_signature(path) == signature for path, signature in recorded.items())


_environment: dict[str, str | None] = {}  # the variables the check read: name -> value (None: unset)
# what a terminal or a shell sets that no check's result depends on
_NOT_RECORDED = {"COLUMNS", "LINES", "TERM", "PWD", "OLDPWD", "SHLVL", "_", "VAELINT_NO_CACHE", "VAELINT_CACHE_DIR"}


def _record_environment() -> None:
    """Every environment variable the check reads from now on (``os.environ[...]``, ``.get``,
    ``os.getenv``, ``in``: all go through ``__getitem__``), with the value it saw. The worker is
    this target's alone, so the patch ends with it."""
    _environment.clear()
    original = os._Environ.__getitem__

    def getitem(self, key):
        try:
            value = original(self, key)
        except KeyError:
            if self is os.environ and isinstance(key, str) and key not in _NOT_RECORDED:
                _environment.setdefault(key, None)
            raise
        if self is os.environ and isinstance(key, str) and key not in _NOT_RECORDED:
            _environment.setdefault(key, value)
        return value

    os._Environ.__getitem__ = getitem


def environment() -> dict[str, str | None]:
    return dict(_environment)


def same_environment(recorded: dict) -> bool:
    """Does every variable the check read hold the value it read (or is it still unset)?"""
    return all(os.environ.get(name) == value for name, value in recorded.items())


def dependencies(opened: set, modules_before: set) -> list[str]:
    """The user's files the check read: what the result cache digests (vaelint/cache/store.py).
    vaelint's own code and the interpreter's are the cache key's, not a target's."""
    from vaelint.cache.roots import code_roots
    from vaelint.source.frames import is_user_file

    files = set(opened) | explicit()
    # a module that replaced itself in sys.modules with an object (sys.modules[__name__] = Ndim()) may
    # answer __file__ with anything its __getattr__ gives: only a path is a file
    files |= {file_of(sys.modules.get(m)) for m in set(sys.modules) - modules_before}
    ours = tuple(root + os.sep for root in code_roots()) + (os.path.realpath(sys.prefix) + os.sep,)
    out = set()
    for path in files:
        if not path or path.startswith(("/proc/", "/sys/", "/dev/")) or not is_user_file(path):
            continue
        real = os.path.realpath(path)
        if os.path.isfile(real) and not real.startswith(ours):
            out.add(real)
    from vaelint.cache.layout import module_files

    _modules_read[:] = module_files(sorted(out))
    return sorted(out)


def _searched() -> list[str]:
    """The folders on the import path that are not the interpreter's (the script's own, the
    project's): where a module the code lacked could appear."""
    prefixes = tuple(os.path.realpath(p) + os.sep for p in {sys.prefix, sys.base_prefix, sys.exec_prefix})
    return [
        p for p in sys.path if isinstance(p, str) and p and os.path.isdir(p) and not (os.path.realpath(p) + os.sep).startswith(prefixes)
    ]


def missing(opened: set, read: list[str] = ()) -> tuple[list[str], list[str], list[str]]:
    """What the check looked for and did not find, which a result depends on as much as on
    the files it read: (user files it tried to open that did not exist, the top-level modules
    it tried to import that are not installed, the user folders searched for them: those on
    the import path, the current one and those of the files it ``read``). A data file put in
    place or a package installed after a check that missed them is a new check."""
    from vaelint.cache.roots import code_roots
    from vaelint.source.frames import is_user_file

    ours = tuple(os.path.realpath(p) + os.sep for p in {sys.prefix, sys.base_prefix, *code_roots()})
    files = set()
    for path in list(opened):
        if not path or path.startswith(("/proc/", "/sys/", "/dev/")) or "__pycache__" in path:
            continue
        real = os.path.realpath(path)
        if not os.path.exists(real) and is_user_file(real) and not real.startswith(ours):
            files.add(real)
    searched = list(dict.fromkeys([*_searched(), os.getcwd(), *sorted({os.path.dirname(f) for f in read})]))
    modules = sorted(
        top
        for top in _imported
        if top.isidentifier() and top not in sys.builtin_module_names and not _imported_for_real(top) and not _findable(top, searched)
    )
    return sorted(files)[:500], modules, searched


def _imported_for_real(top: str) -> bool:
    """Is ``top`` a module the run imported (not one that failed, nor a stand-in of ours)?"""
    module = sys.modules.get(top)
    return module is not None and getattr(module, "__spec__", None) is not None and not getattr(module, "__vaelint_stand_in__", False)


def _findable(top: str, searched: list[str]) -> bool:
    """Can ``top`` be imported now: from the folders searched and ``sys.path``, or through an
    import hook of the environment (``pip install -e`` puts an editable package's finder on
    ``sys.meta_path``, where no path lookup sees it)?"""
    import importlib.machinery

    try:
        if importlib.machinery.PathFinder.find_spec(top, searched + sys.path) is not None:
            return True
    except (ImportError, ValueError, OSError):
        pass
    for finder in sys.meta_path:
        if finder is importlib.machinery.PathFinder or not hasattr(finder, "find_spec"):
            continue
        try:
            if finder.find_spec(top, None) is not None:
                return True
        except Exception:  # noqa: BLE001 - a finder that cannot answer: it found nothing
            continue
    return False


def still_missing(files: list[str], modules: list[str], searched: list[str]) -> bool:
    """Is every file a check found missing still missing, and every module still not installed?"""
    return not any(os.path.exists(f) for f in files) and not any(_findable(m, searched) for m in modules)
