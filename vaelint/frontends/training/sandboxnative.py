"""Writers that do not go through Python's ``open`` (:mod:`.sandbox`): OpenCV's ``cv2.imwrite``,
``cv2.VideoWriter``, soundfile's ``write``, torchvision's ``io.write_*`` and ``h5py.File`` open their files in C,
so the guard on ``open`` never sees them. Each is replaced by a no-op that notes what it would
have written, in a module already imported, or as soon as the code imports it."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys

# module -> its functions that write a file named by their first argument
WRITERS = {
    "cv2": ("imwrite", "imwritemulti", "VideoWriter"),
    "soundfile": ("write",),
    "torchvision.io": ("write_png", "write_jpeg", "write_file", "write_video"),
    "imageio": ("imwrite", "imsave", "mimwrite", "mimsave", "volwrite"),
    "h5py": ("File",),
}


def _TRUE(*args, **kwargs):  # noqa: N802 - what cv2.imwrite answers for a written file
    return True


class _Sink:
    """What ``cv2.VideoWriter(...)`` gives: frames written to it go nowhere."""

    def __init__(self, *args, **kwargs):
        pass

    def write(self, *args, **kwargs):
        return None

    def isOpened(self):  # noqa: N802 - OpenCV's name
        return True

    def release(self):
        return None


class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: it has the real finders find a writer module, and patches the
    module once its code has run."""

    def __init__(self, patch_module, names=WRITERS):
        self.patch_module = patch_module
        self.names = names
        self.busy: set = set()

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.names or fullname in self.busy:
            return None
        self.busy.add(fullname)
        try:
            spec = next(
                (
                    s
                    for f in sys.meta_path
                    if f is not self and hasattr(f, "find_spec")
                    for s in [f.find_spec(fullname, path, target)]
                    if s is not None
                ),
                None,
            )
        finally:
            self.busy.discard(fullname)
        if fullname in sys.modules:
            # another finder imported it while it looked (vaelint's stand-in finder tries the real
            # package): the import hands back that module, so it is patched now
            self.patch_module(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _Then(spec.loader, lambda: self.patch_module(fullname))
        return spec


class _Then(importlib.abc.Loader):
    def __init__(self, loader, after):
        self.loader, self.after = loader, after

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        self.after()

    def __getattr__(self, name):
        return getattr(self.loader, name)


def guard_native_writers(sandbox) -> None:
    """Patch the writers of ``WRITERS`` through ``sandbox._patch`` (undone when it ends), in
    modules imported now and in those imported while it lasts."""

    def patch_module(name: str) -> None:
        module = sys.modules.get(name)
        if module is None:
            return
        for func in WRITERS[name]:
            real = getattr(module, func, None)
            if real is None or getattr(real, "__vaelint_sink__", False):
                continue
            if func == "VideoWriter":
                fake = _video_writer(sandbox, name)
            elif func == "File":
                fake = _h5_file(sandbox, real)
            else:
                fake = sandbox._skipped(f"{name}.{func}", real, _TRUE if func.startswith("imwrite") else None)
            try:
                fake.__vaelint_sink__ = True
            except AttributeError:
                pass
            sandbox._patch(module, func, fake)

    after_import(sandbox, WRITERS, patch_module)


def after_import(sandbox, names, patch_module) -> None:
    """``patch_module(name)`` for each of ``names`` imported now, and for each the code imports
    while the sandbox lasts, once its code has run; the import hook goes when the sandbox ends."""
    for name in names:
        patch_module(name)
    finder = _AfterImport(patch_module, names)
    sys.meta_path.insert(0, finder)
    sandbox._patches.append((_MetaPath(finder), "active", True, True))


def _h5_file(sandbox, real):
    """``h5py.File(path, "w")``: the same file in memory, never written to the disk (reads as
    written; a file opened to append is read into memory and its changes kept there)."""

    def h5_file(name=None, mode="r", *args, **kwargs):
        import os

        writes = mode not in ("r", None)
        if mode == "r+" and isinstance(name, (str, bytes, os.PathLike)) and not os.path.exists(name):
            # read-write of a file that is not here fails as a read does: the data is missing (the
            # in-memory file made for it read empty, and the code's first dataset failed inside h5py)
            return real(name, "r", *args, **kwargs)
        if writes and isinstance(name, (str, bytes, os.PathLike)) and not sandbox._allowed(name):
            sandbox._note(f"h5py.File({str(name)!r}, {mode!r})")
            kwargs.update(driver="core", backing_store=False)
            if not os.path.exists(name):
                mode = "w"
        return real(name, mode, *args, **kwargs)

    return h5_file


def _video_writer(sandbox, module: str):
    def video_writer(filename=None, *args, **kwargs):
        sandbox._note(f"{module}.VideoWriter({str(filename)!r})")
        return _Sink()

    return video_writer


class _MetaPath:
    """Undoes the finder when the sandbox puts its patches back (setattr of ``active``)."""

    def __init__(self, finder):
        self.finder = finder

    def __setattr__(self, name, value):
        if name == "active":
            if self.__dict__["finder"] in sys.meta_path:
                sys.meta_path.remove(self.__dict__["finder"])
            return
        object.__setattr__(self, name, value)
