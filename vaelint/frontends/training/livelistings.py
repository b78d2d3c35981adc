"""A data folder the code lists that is not here, while --input gives the batch
(:mod:`.livedata`): ``os.listdir("datasets/train/SMAP")`` or ``glob.glob("data/*.npz")`` of a
folder that does not exist (or ``Path(folder).glob``, ``.rglob``, ``.iterdir()``) answers with stand-in file names, which the code's readers
(np.load, pd.read_csv, torch.load) then read as samples of --input, so that a script whose
training runs inside ``for file in files:`` reaches its step (Du-Team/VAEAT). Only the code's own
calls are answered so: a library's listing keeps its error. The report says so."""

from __future__ import annotations

import contextlib
import os
import sys

from vaelint.source.frames import is_user_file, user_frame

# one stand-in file of each common kind of data file, so that a filter by extension keeps one; an
# image one opens with PIL as a sample of --input (stood_in_images)
IMAGES = ("vaelint_stand_in.png", "vaelint_stand_in.jpg")
_REAL_LISTDIR = os.listdir  # the folder's own entries, whatever the run has patched
NAMES = ("vaelint_stand_in.npy", "vaelint_stand_in.npz", "vaelint_stand_in.csv", "vaelint_stand_in.pt", *IMAGES)


def folder_listings(patches, said: list, spec=None) -> None:
    import glob

    if spec is not None:
        stood_in_images(patches, spec)

    real_listdir, real_glob = os.listdir, glob.glob

    def listdir(path="."):
        try:
            found = real_listdir(path)
        except FileNotFoundError:
            if not _from_user_code():
                raise
            found = None
        if found is not None and not (placeholders_only(found) and _from_user_code()):
            return found
        _say(said, os.fspath(path), "os.listdir", NAMES)
        return list(NAMES)

    def glob_(pathname, *args, **kwargs):
        found = real_glob(pathname, *args, **kwargs)
        folder, pattern = os.path.split(os.fspath(pathname))
        folder = _fixed_part(folder)  # glob(os.path.join(data_dir, "**", "*.npy"), recursive=True): data_dir
        if found or not folder or (os.path.exists(folder) and not _held_empty(folder)) or not _from_user_code():
            return found
        names = names_for(pattern, folder)
        _say(said, folder, "glob.glob", names)
        return [os.path.join(folder, n) for n in names]

    real_walk = os.walk

    def walk(top, *args, **kwargs):
        if (os.path.exists(top) and not _held_empty(top)) or not _from_user_code():
            return real_walk(top, *args, **kwargs)
        _say(said, os.fspath(top), "os.walk", NAMES)
        return iter([(os.fspath(top), [], list(NAMES))])  # the folder, no subfolders, its stand-in files

    patches.set(os, "listdir", listdir)
    patches.set(os, "walk", walk)
    patches.set(glob, "glob", glob_)
    _pathlib_listings(patches, said)
    _existence_checks(patches, said)


def _existence_checks(patches, said: list) -> None:
    """The code's own check that its data is here, ``assert os.path.exists(root)``, ``if not
    exists(root): raise`` (``from os.path import exists``), ``assert all(map(Path.exists, dirs))``
    or ``all(d.is_dir() for d in dirs)`` in the setup (deepakdhull80/vqvae-pytorch, mgp123/nvae,
    Szakulli07/coopertunes), is answered yes for a path that is not here, as its listing and its
    readers are: the run goes on to the step. Every other question about the path is told the truth."""
    from pathlib import Path

    for owner, names in ((os.path, ("exists", "isdir", "isfile")), (Path, ("exists", "is_dir", "is_file"))):
        for name in names:
            real = getattr(owner, name)

            def asked(path, *args, real=real, name=name, **kwargs):
                if real(path, *args, **kwargs):
                    return True
                if _stand_in_file(path) and _from_user_code(2):  # a name the listing gave: a file (sum(isfile(...)) counts it)
                    return name in ("exists", "isfile", "is_file")
                return _answered_yes(path, name, said)

            patches.set(owner, name, asked)


def _stand_in_file(path) -> bool:
    try:
        name = os.path.basename(os.fspath(path))
    except TypeError:
        return False
    return name in NAMES or name in _MADE


def _answered_yes(path, name: str, said: list) -> bool:
    from vaelint.frontends.training.livecudaguard import guard_at

    frame = sys._getframe(2)
    if not _from_user_code(3) or not guard_at(frame, lambda test: _asks_path(test, name)):
        return False  # a data set's own check (its class stands in whole), a library's
    loc = user_frame()
    note = (
        f"the code's check that {os.fspath(path)} exists{f' ({loc.where()})' if loc else ''} was answered yes: its "
        "data is not here, and its listings and readers stand in for it"
    )
    if note not in said:
        said.append(note)
    return True


def _asks_path(test, name: str) -> bool:
    """``os.path.exists(...)``, ``exists(...)``, ``p.exists()`` (or isdir, is_dir...) is the test, or
    one side of an ``and``, or what ``all``/``any`` asks of each path (``all(map(Path.exists,
    dirs))``, ``all(d.exists() for d in dirs)``)."""
    import ast

    def called(func) -> str | None:
        return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None

    tests = test.values if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And) else [test]
    for t in tests:
        if isinstance(t, ast.Call) and called(t.func) in ("all", "any") and t.args:
            each = t.args[0]
            if isinstance(each, (ast.GeneratorExp, ast.ListComp)):
                t = each.elt
            elif isinstance(each, ast.Call) and called(each.func) == "map" and each.args:
                t = ast.Call(each.args[0], [], [])
        if isinstance(t, ast.Call) and called(t.func) == name:
            return True
    return False


def placeholders_only(names: list) -> bool:
    """A folder's entries that are only what keeps an empty folder in a repository (``.gitkeep``,
    ``.keep``, ``.gitignore``): the data folder committed empty, its data made by another script."""
    return bool(names) and all(str(n).startswith(".") for n in names)


def _held_empty(folder) -> bool:
    """Is ``folder`` a folder committed empty (placeholders only)? Its data is not here, as for a
    folder that is not there at all."""
    try:
        return os.path.isdir(folder) and placeholders_only(_REAL_LISTDIR(folder))
    except OSError:
        return False


def _pathlib_listings(patches, said: list) -> None:
    """``Path(folder).glob("*.npy")``, ``.rglob(...)`` and ``.iterdir()`` of a folder that is not
    here, as os.listdir and glob.glob are answered."""
    from pathlib import Path

    real_glob, real_rglob, real_iterdir = Path.glob, Path.rglob, Path.iterdir

    def globbing(real, how):
        def glob_(self, pattern, *args, **kwargs):
            found = list(real(self, pattern, *args, **kwargs))
            if found or (self.exists() and not _held_empty(self)) or "/" in pattern or not _from_user_code():
                return iter(found)
            names = names_for(pattern, os.fspath(self))
            _say(said, os.fspath(self), how, names)
            return iter([self / n for n in names])

        return glob_

    def iterdir(self):
        if (self.exists() and not _held_empty(self)) or not _from_user_code():
            return real_iterdir(self)
        _say(said, os.fspath(self), "Path.iterdir", NAMES)
        return iter([self / n for n in NAMES])

    patches.set(Path, "glob", globbing(real_glob, "Path.glob"))
    patches.set(Path, "rglob", globbing(real_rglob, "Path.rglob"))
    patches.set(Path, "iterdir", iterdir)


def stood_in_images(patches, spec) -> None:
    """``Image.open(path)`` of a stand-in name a listing gave (an image folder read in a generator
    of the code's own, ``if path.endswith(".png")``; or every name of a listing opened with PIL,
    the .csv one too: the code reads the folder as images): a sample of ``spec`` as an 8-bit image
    (channels last; one channel is grey). Any other path is PIL's own."""
    import importlib.util

    if importlib.util.find_spec("PIL") is None:
        return
    from PIL import Image

    real = Image.open

    def open_(fp, *args, **kwargs):
        if not isinstance(fp, (str, os.PathLike)) or os.path.basename(os.fspath(fp)) not in NAMES or os.path.exists(fp):
            return real(fp, *args, **kwargs)
        import numpy as np

        from vaelint.frontends.training.livedata import stood_in_rows

        sample = np.asarray(stood_in_rows(spec)[0], dtype=np.float32)
        if sample.ndim == 3 and sample.shape[0] in (1, 3, 4) and sample.shape[-1] not in (1, 3, 4):
            sample = sample.transpose(1, 2, 0)  # C x H x W -> H x W x C
        sample = sample[..., 0] if sample.ndim == 3 and sample.shape[-1] == 1 else sample
        if sample.ndim not in (2, 3):
            return real(fp, *args, **kwargs)
        scale = 255.0 if sample.max() <= 1.0 else 1.0
        return Image.fromarray(np.clip(sample * scale, 0, 255).astype(np.uint8))

    patches.set(Image, "open", open_)


def names_for(pattern: str, folder: str = "") -> list[str]:
    """The stand-in names a listing by ``pattern`` keeps; where the pattern names its files
    (``train*.h5``, ``part_?.pkl``), one name made from it, so that the files the code looks
    for are listed: the wildcards filled in, a stand-in's mark in place of the first ``*``. Not
    for saved weights (``checkpoints/epoch_*.pt``): a run resumed from none is the code's own
    case, and a name made up for one is parsed for its epoch."""
    import re

    names = [n for n in NAMES if _fits(n, pattern)]
    if names or not any(c in pattern for c in "*?[") or _weights(folder, pattern):
        return names
    made = re.sub(r"\[!?([^\]])[^\]]*\]", lambda m: "0" if m.group(0).startswith("[!") else m.group(1), pattern)
    made = made.replace("**/", "").replace("**", "*").replace("*", _MARK, 1).replace("*", "").replace("?", "0")
    if not _fits(made, pattern):
        return []
    _MADE.add(made)
    return [made]


def _weights(folder: str, pattern: str) -> bool:
    import re

    words = re.split(r"[\\/_.\-]+", f"{folder}/{pattern}".lower())
    return bool({"checkpoint", "checkpoints", "ckpt", "ckpts", "weights", "saved", "pth", "safetensors"} & set(words))


_MARK = "vaelint_stand_in"
_MADE: set[str] = set()  # the names made from the code's own patterns


def _fits(name: str, pattern: str) -> bool:
    import fnmatch

    return fnmatch.fnmatch(name, pattern) or fnmatch.fnmatch(name, pattern.replace("[!.]", ""))


_PROBING: list = []  # while a stood-in data set's constructor runs again on stand-in files


@contextlib.contextmanager
def listed_inside_data_sets():
    """While a data set's constructor runs again for what it sets (livedata.probed), its own
    listings of a folder that is not here stand in too."""
    _PROBING.append(True)
    try:
        yield
    finally:
        _PROBING.pop()


def _fixed_part(folder: str) -> str:
    """The folders of a glob's pattern before its first wildcard (``data/**`` -> ``data``)."""
    parts = []
    for part in folder.split(os.sep):
        if any(c in part for c in "*?["):
            break
        parts.append(part)
    return os.sep.join(parts)


def _from_user_code(depth: int = 2) -> bool:
    """Called by the code's own line (``depth`` frames up), and not while a data set of its own is
    being built: such a data set whose folder is not here stands in as a whole, its items samples
    of --input (vaelint/frontends/training/livedata.py), which serves its step better than
    made-up files."""
    caller = sys._getframe(depth)
    if not is_user_file(caller.f_code.co_filename):
        return False
    if _PROBING:
        return True  # a data set's constructor run again for what it sets (probed): its listings stand in
    from torch.utils.data import Dataset

    frame = caller
    while frame is not None:
        if frame.f_code.co_name == "__init__" and isinstance(frame.f_locals.get("self"), Dataset):
            return False
        frame = frame.f_back
    return True


def _say(said: list, folder: str, how: str, names) -> None:
    loc = user_frame()
    where = f" ({how} at {loc.where()})" if loc else ""
    note = (
        f"the data folder {folder}{where} is not here: it lists {', '.join(names) or 'no file the pattern keeps'}, "
        "which the code's readers take as samples of --input"
    )
    if note not in said:
        said.append(note)


# folders the code listed in a run without --input that are not here, or hold only the placeholder
# that keeps an empty folder in a repository (.gitkeep): its data is made elsewhere
LISTED_MISSING: list[str] = []
# the folders committed empty (a .gitkeep only) that the code listed in this check's runs, kept
# from the run as written to the reading of the code after it (cleared where a check starts)
HELD_EMPTY: list[str] = []


def note_missing_listings(patches) -> None:
    """Without --input: the code's ``os.walk``, ``glob.glob``, ``Path.glob``/``rglob``, ``os.listdir``
    and ``Path.iterdir`` of a folder that is not here (or holds only a ``.gitkeep``) answer as Python
    does (nothing), and the folder is noted, so that a run that then
    stops in the data code's own arithmetic (``pos % len(self.files)`` of no files: a
    ZeroDivisionError, an IndexError) says its data is not here and which folder it looked in."""
    import glob
    from pathlib import Path

    LISTED_MISSING.clear()
    real_walk, real_glob, real_pglob, real_rglob = os.walk, glob.glob, Path.glob, Path.rglob

    def note(folder) -> None:
        folder = os.fspath(folder)
        if folder and (not os.path.exists(folder) or _held_empty(folder)) and is_user_file(sys._getframe(2).f_code.co_filename):
            if folder not in LISTED_MISSING:
                LISTED_MISSING.append(folder)

    real_listdir, real_iterdir = os.listdir, Path.iterdir

    def listdir(path="."):
        found = real_listdir(path)  # a folder not here raises, as it does for the code
        if placeholders_only(found) and is_user_file(sys._getframe(1).f_code.co_filename):
            note(path)
            if os.fspath(path) not in HELD_EMPTY:
                HELD_EMPTY.append(os.fspath(path))
        return found

    def iterdir(self):
        note(self)
        return real_iterdir(self)

    def walk(top, *args, **kwargs):
        note(top)
        return real_walk(top, *args, **kwargs)

    def glob_(pathname, *args, **kwargs):
        found = real_glob(pathname, *args, **kwargs)
        folder = _fixed_part(os.path.dirname(os.fspath(pathname)))
        if not found and folder:
            note(folder)
        return found

    def path_glob(real):
        def glob_in(self, pattern, *args, **kwargs):
            note(self)
            return real(self, pattern, *args, **kwargs)

        return glob_in

    patches.set(os, "walk", walk)
    patches.set(os, "listdir", listdir)
    patches.set(Path, "iterdir", iterdir)
    patches.set(glob, "glob", glob_)
    patches.set(Path, "glob", path_glob(real_pglob))
    patches.set(Path, "rglob", path_glob(real_rglob))
