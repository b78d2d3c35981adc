"""Folders the code made while it ran (:mod:`.sandbox`). vaelint creates no folder: the code's
``os.makedirs(out_dir)`` does nothing. Code that then looks into the folder it just made
(``if name in os.listdir(out_dir)``, ``os.path.exists(out_dir)``, ``Path(out_dir).glob("*.npz")``) would fail or take the other
branch, for a reason of vaelint's own. So a folder the code made answers as the empty folder it
would be: it exists, it is a folder (its status a folder's), it lists nothing."""

from __future__ import annotations

import os
import pathlib


def made_folders(sandbox) -> None:
    """Record what the code's mkdir calls would have made; answer for it afterwards."""
    made: set[str] = set()

    def real_path(path) -> str | None:
        try:
            return os.path.realpath(os.fsdecode(os.fspath(path)))
        except (TypeError, ValueError):
            return None

    def recording(fn, path_of=lambda a: a[0] if a else None):
        def wrapped(*args, **kwargs):
            target = path_of(args) if args else kwargs.get("name", kwargs.get("path"))
            out = fn(*args, **kwargs)
            where = real_path(target) if target is not None else None
            while where is not None and not os.path.isdir(where) and where not in made:
                made.add(where)  # and the folders above it that makedirs makes too
                where = os.path.dirname(where) if os.path.dirname(where) != where else None
            return out

        return wrapped

    def answering(real, answer):
        def wrapped(path=".", *args, **kwargs):
            if not made:  # the common case: nothing to answer for, no path to resolve
                return real(path, *args, **kwargs)
            where = real_path(path)
            if where is not None and where in made and not _really_there(where):
                return answer(where) if callable(answer) else answer
            return real(path, *args, **kwargs)

        return wrapped

    for name in ("makedirs", "mkdir"):
        sandbox._patch(os, name, recording(getattr(os, name)))
    sandbox._patch(pathlib.Path, "mkdir", recording(pathlib.Path.mkdir, lambda a: a[0]))
    # what the code wrote into it in this run (a feature cache built, then listed: kept in memory)
    overlay = getattr(sandbox, "overlay", None)

    def listed(where) -> list:  # the files the run wrote there, and the folders it made there
        files = overlay.children(where) if overlay is not None else []
        return sorted({*files, *(os.path.basename(m) for m in made if os.path.dirname(m) == where)})

    sandbox._patch(os, "listdir", answering(os.listdir, listed))
    sandbox._patch(os.path, "exists", answering(os.path.exists, True))
    sandbox._patch(os.path, "isdir", answering(os.path.isdir, True))
    # writable, as the folder it made would be (LightningCLI's config saving asks of its log folder)
    sandbox._patch(os, "access", answering(os.access, True))
    _made_paths(sandbox, made, overlay)
    sandbox._patch(os, "scandir", answering(os.scandir, _NoEntries()))
    # its status, a folder's (fsspec's ls, under Lightning's ModelCheckpoint, stats the folder first)
    real_stat = os.stat

    def stat(path, *args, **kwargs):
        if made and not isinstance(path, int) and _made(path, made):
            return real_stat(os.getcwd())
        return real_stat(path, *args, **kwargs)

    sandbox._patch(os, "stat", stat)


def _made_paths(sandbox, made: set, overlay) -> None:
    """pathlib's answers for a folder the code made: there, a folder, listing what the run wrote in it."""
    real_exists, real_is_dir, real_iterdir = pathlib.Path.exists, pathlib.Path.is_dir, pathlib.Path.iterdir
    sandbox._patch(pathlib.Path, "exists", lambda self, *a, **k: _made(self, made) or real_exists(self, *a, **k))
    sandbox._patch(pathlib.Path, "is_dir", lambda self, *a, **k: _made(self, made) or real_is_dir(self, *a, **k))

    def written(folder, pattern: str = "*"):  # what the run wrote into a folder it made (kept in memory)
        import fnmatch

        names = overlay.children(folder) if overlay is not None else []
        return iter([folder / n for n in names if fnmatch.fnmatch(n, pattern)])

    sandbox._patch(pathlib.Path, "iterdir", lambda self: written(self) if _made(self, made) else real_iterdir(self))
    real_glob, real_rglob = pathlib.Path.glob, pathlib.Path.rglob  # traindir.glob("*.npz") in the folder just made
    sandbox._patch(
        pathlib.Path,
        "glob",
        lambda self, pattern, *a, **k: written(self, pattern) if _made(self, made) else real_glob(self, pattern, *a, **k),
    )
    sandbox._patch(pathlib.Path, "rglob", lambda self, *a, **k: iter(()) if _made(self, made) else real_rglob(self, *a, **k))


class _NoEntries:
    """What ``os.scandir`` gives for an empty folder: an iterator and a context manager."""

    def __iter__(self):
        return iter(())

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def close(self) -> None:
        return None


def _made(path, made: set) -> bool:
    if not made:
        return False
    where = os.path.realpath(os.fspath(path))
    return where in made and not _really_there(where)


_REAL_STAT = os.stat  # as the module found it: the folder really there, whatever is patched


def _really_there(where: str) -> bool:
    try:
        _REAL_STAT(where)
        return True
    except OSError:
        return False
