"""The sandbox's file guards (:mod:`.sandbox`): what the code writes outside the temporary and
cache folders goes nowhere, and is noted; each call answers as the real one answers.

``open`` for writing gives a sink; ``os.open`` for writing (``tempfile.mkstemp(dir=".")``, which
``wget.download`` makes its partial file with) gives a descriptor that writes to the null device,
so no file appears in the user's folder; ``os`` makedirs/remove/rename..., ``shutil`` copies and
removals, ``pathlib.Path`` writes, ``torch.save``, ``plt.savefig`` and pandas' ``to_excel`` do nothing."""

from __future__ import annotations

import io
import os

from vaelint.frontends.training.livecaught import missed
from vaelint.frontends.training.sandboxanswers import RETURNS
from vaelint.frontends.training.sandboxoverlay import guard_reads_back, kept_file, path_text, read_back
from vaelint.frontends.training.sandboxparts import Sink

# the os and shutil functions that write or remove, guarded here and, for the code's threads that
# outlive a run, in sandboxthreads.py
OS_WRITES = ("makedirs", "mkdir", "remove", "unlink", "rmdir", "rename", "replace", "removedirs", "symlink")
SHUTIL_WRITES = ("rmtree", "copy", "copy2", "copyfile", "copytree", "move")
_WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def guard_writes(sandbox) -> None:
    import builtins
    import pathlib
    import shutil
    import sys

    from vaelint.frontends.training.sandboxoverlay import Overlay

    if getattr(sandbox, "overlay", None) is None:
        sandbox.overlay = Overlay()  # what the code writes, kept for its own reads in this run (every guarded phase)
    opened = guarded_open(sandbox, builtins.open)
    sandbox._patch(builtins, "open", opened)
    sandbox._patch(io, "open", opened)
    sandbox._patch(os, "open", guarded_os_open(sandbox, os.open))
    for name in OS_WRITES:
        sandbox._patch(os, name, skipped(sandbox, f"os.{name}", getattr(os, name)))
    for name in SHUTIL_WRITES:
        sandbox._patch(shutil, name, skipped(sandbox, f"shutil.{name}", getattr(shutil, name), RETURNS.get(name)))
    for name in ("mkdir", "touch", "unlink", "rmdir", "write_text", "write_bytes", "rename", "replace"):
        real = getattr(pathlib.Path, name)
        sandbox._patch(pathlib.Path, name, skipped(sandbox, f"Path.{name}", real, RETURNS.get(f"Path.{name}")))
    guard_reads_back(sandbox, sandbox.overlay)  # torch.save kept, torch.load and os.path.exists read it
    datasource = getattr(getattr(sys.modules.get("numpy"), "lib", None), "_datasource", None)
    if datasource is not None:
        # np.savetxt makes its file with open(...), then opens it again through numpy's DataSource,
        # which finds no file where the first open gave a sink: the second is a sink as well
        sandbox._patch(datasource, "open", guarded_open(sandbox, datasource.open, say=False))
    from vaelint.frontends.training.sandboxnative import after_import

    after_import(sandbox, ("pandas",), lambda name: _pandas_writes(sandbox, sys.modules.get(name)))
    from vaelint.frontends.training.sandboxanswers import terminal_ui

    after_import(sandbox, ("curses",), lambda name: terminal_ui(sandbox, sys.modules.get(name)))  # a curses dashboard
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        sandbox._patch(plt, "savefig", skipped(sandbox, "plt.savefig"))
        sandbox._patch(plt, "show", lambda *a, **k: None)


def _pandas_writes(sandbox, pandas) -> None:
    """``df.to_excel(...)``: a write that needs openpyxl, which an environment may lack for it alone."""
    for kind in ("DataFrame", "Series"):
        owner = getattr(pandas, kind, None) if pandas is not None else None
        if owner is not None and callable(getattr(owner, "to_excel", None)):
            fake = skipped(sandbox, f"{kind}.to_excel")

            def to_excel(self, *args, _fake=fake, **kwargs):  # a method: its frame is the data's, not a path
                return _fake(*args, **kwargs)

            sandbox._patch(owner, "to_excel", to_excel)


def guarded_open(sandbox, real_open, say: bool = True):
    overlay = getattr(sandbox, "overlay", None)

    def opened(file, mode="r", *args, **kwargs):
        if isinstance(mode, str) and any(c in mode for c in "wax+") and not (_is_path(file) and sandbox._allowed(file)):
            if say:
                sandbox._note(f"open({path_text(file)!r}, {mode!r})")
            # kept for the code's own reads of it in this run (a cache written, then read back)
            return kept_file(file, mode, overlay) if overlay is not None and _is_path(file) else Sink(path_text(file), "b" in mode)
        if overlay is not None and isinstance(mode, str) and _is_path(file):
            got = read_back(file, mode, overlay)
            if got is not None:
                return got
        try:
            return real_open(file, mode, *args, **kwargs)
        except FileNotFoundError as error:
            missed(error)  # said where the code catches it and goes on (livecaught.py)
            raise

    return opened


def guarded_os_open(sandbox, real_open):
    """``os.open(path, flags)`` for writing, outside the free folders: the null device opened with
    the flags that write, so the caller gets a descriptor and no file is made."""

    def opened(path, flags, mode=0o777, *args, **kwargs):
        if flags & _WRITES and not (_is_path(path) and sandbox._allowed(_at(path, kwargs))):
            sandbox._note(f"os.open({path_text(path)!r})")
            return real_open(os.devnull, flags & (os.O_WRONLY | os.O_RDWR | os.O_APPEND))
        return real_open(path, flags, mode, *args, **kwargs)

    return opened


def skipped(sandbox, what: str, real=None, returns=None):
    """A write not performed: noted, and answered as the real call answers (``returns``: the
    path shutil.copy gives back, the count write_text gives), else None."""

    def fn(*args, **kwargs):
        target = args[0] if args else ""
        if real is not None and _is_path(target) and sandbox._allowed(_at(target, kwargs)):
            return real(*args, **kwargs)
        sandbox._note(f"{what}({path_text(target)!r})" if target != "" else f"{what}()")
        try:
            return returns(*args, **kwargs) if returns is not None else None
        except (TypeError, ValueError, IndexError):
            return None

    return fn


def _at(target, kwargs: dict):
    """A path given relative to a folder's descriptor (``os.unlink(name, dir_fd=fd)``, as
    ``shutil.rmtree`` and ``TemporaryDirectory``'s clean-up call it) as the path it names: a
    library's probe file in the temporary folder is its own, a name in the user's folder is theirs.
    Where the folder cannot be read back from its descriptor, the name stays as given (refused)."""
    fd = kwargs.get("dir_fd")
    if fd is None or os.path.isabs(os.fsdecode(target)):
        return target
    try:
        return os.path.join(os.readlink(f"/proc/self/fd/{fd}"), os.fsdecode(target))
    except (OSError, TypeError, ValueError):
        return target


def _is_path(target) -> bool:
    return isinstance(target, (str, bytes, os.PathLike))
