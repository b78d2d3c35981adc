"""What the code writes outside the free folders is not written (:mod:`.sandboxwrites`), but it is
kept, in memory, for the code's own reads in the same run: a processed cache made on the first
run and read back two lines later (``torch.save(data, "processed.pt")`` then ``torch.load``, as
PyG's ``InMemoryDataset.process()`` does; a vocabulary pickled and loaded again; ``np.save`` and
``np.load``). Before, the read found no file and the check blamed the data ("its data is not
here") that the code had just made. Nothing reaches the disk; the memory kept is bounded."""

from __future__ import annotations

import io
import os

_LIMIT = 512 << 20  # bytes kept in all: a cache larger than this is not kept (the read fails as before)


def path_text(target) -> str:
    """A path as the code means it: ``b'runs/x'`` (tensorboard's event files are opened by bytes
    paths) is ``runs/x``, for the overlay's names as for the notes."""
    try:
        return os.fsdecode(os.fspath(target))
    except (TypeError, ValueError):
        return str(target)


class Overlay:
    def __init__(self):
        self.files: dict[str, bytes | str] = {}
        self.read_back: list[str] = []  # the paths the code read back from what it wrote

    def children(self, target) -> list[str]:
        """The names of what the run wrote or made directly in the folder ``target``."""
        key = self.key(target) if isinstance(target, (str, bytes, os.PathLike)) else None
        if key is None:
            return []
        return sorted({os.path.basename(k) for k in self.files if os.path.dirname(k) == key})

    @staticmethod
    def key(target) -> str | None:
        try:
            return os.path.realpath(os.fsdecode(os.fspath(target)))
        except (TypeError, ValueError):
            return None

    def keep(self, target, data) -> None:
        key = self.key(target)
        if key is None:
            return
        used = sum(len(v) for k, v in self.files.items() if k != key)
        if used + len(data) <= _LIMIT:
            self.files[key] = data

    def get(self, target, reading: bool = True):
        """What the run wrote to ``target`` (None: nothing); ``reading=False`` where it appends."""
        key = self.key(target) if isinstance(target, (str, bytes, os.PathLike)) else None
        data = self.files.get(key) if key is not None else None
        if reading and data is not None and key not in self.read_back:
            self.read_back.append(key)
        return data

    def has(self, target) -> bool:
        key = self.key(target) if isinstance(target, (str, bytes, os.PathLike)) else None
        return key is not None and key in self.files


class _Kept:
    """A file opened to write outside the free folders: what is written stays in the overlay when
    it is closed (``with open(p, "wb") as f: pickle.dump(vocab, f)``)."""

    def _kept_init(self, name: str, overlay: Overlay, binary: bool):
        self.name, self._overlay, self._binary = name, overlay, binary

    def close(self):
        if not self.closed:
            self._overlay.keep(self.name, self.getvalue())
        super().close()

    @property
    def mode(self):
        return "wb" if self._binary else "w"


class KeptBytes(_Kept, io.BytesIO):
    def __init__(self, name: str, overlay: Overlay, start: bytes = b""):
        io.BytesIO.__init__(self, start)
        self.seek(0, io.SEEK_END)
        self._kept_init(name, overlay, True)


class KeptText(_Kept, io.StringIO):
    def __init__(self, name: str, overlay: Overlay, start: str = ""):
        io.StringIO.__init__(self, start)
        self.seek(0, io.SEEK_END)
        self._kept_init(name, overlay, False)


def kept_file(file, mode: str, overlay: Overlay):
    """The file object a write outside the free folders gets: it keeps what is written."""
    start = overlay.get(file, reading=False) if "a" in mode else None
    if "b" in mode:
        return KeptBytes(path_text(file), overlay, start if isinstance(start, bytes) else b"")
    return KeptText(path_text(file), overlay, start if isinstance(start, str) else "")


def read_back(file, mode: str, overlay: Overlay):
    """``open(p, "rb")`` of a file the run wrote: its content from the overlay; None where the run
    wrote no such file (the real open answers)."""
    data = overlay.get(file)
    if data is None:
        return None
    if "b" in mode:
        out = io.BytesIO(data if isinstance(data, bytes) else data.encode())
    else:
        out = io.StringIO(data if isinstance(data, str) else data.decode(errors="replace"))
    out.name = path_text(file)
    return out


def guard_reads_back(sandbox, overlay: Overlay) -> None:
    """torch.save keeps its bytes, torch.load and the existence tests read them: the rest of the
    code's reads of what it wrote go through ``open`` (:func:`read_back`)."""
    import pathlib

    import torch

    real_save, real_load = torch.save, torch.load

    def save(obj, f, *args, **kwargs):
        if not isinstance(f, (str, bytes, os.PathLike)):
            return real_save(obj, f, *args, **kwargs)  # a file object: a kept file, or the code's own buffer
        if sandbox._allowed(f):
            return real_save(obj, f, *args, **kwargs)
        sandbox._note(f"torch.save({path_text(f)!r})")
        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        overlay.keep(f, buffer.getvalue())
        return None

    def load(f, *args, **kwargs):
        data = overlay.get(f) if isinstance(f, (str, bytes, os.PathLike)) else None
        return real_load(io.BytesIO(data) if isinstance(data, bytes) else f, *args, **kwargs)

    sandbox._patch(torch, "save", save)
    sandbox._patch(torch, "load", load)
    for name in ("exists", "isfile", "lexists"):
        real = getattr(os.path, name)
        sandbox._patch(os.path, name, lambda p, _real=real: overlay.has(p) or _real(p))
    for name in ("exists", "is_file"):
        real = getattr(pathlib.Path, name)
        sandbox._patch(pathlib.Path, name, lambda self, *a, _real=real, **k: overlay.has(self) or _real(self, *a, **k))
    real_getsize = os.path.getsize
    sandbox._patch(os.path, "getsize", lambda p: len(overlay.files[overlay.key(p)]) if overlay.has(p) else real_getsize(p))
