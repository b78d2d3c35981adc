"""Text data files that are not here, while training code runs with ``--input`` (:mod:`.livedata`).

Much VAE code parses its data by hand: ``with open("data/binarized_mnist_train.amat") as f:
lines = f.readlines()`` then ``[[int(i) for i in line.split()] for line in lines]``, a CSV
walked with ``csv.reader``, a corpus of one sentence a line. With ``--input`` giving the batch,
the code's own open of such a file that is not here (read, text mode, a data file's extension)
gives lines of the first ``--input``'s samples, one sample a line, each value a whole number in
the input's range (``int()`` and ``float()`` both read it), separated as the extension says.
The code's own parsing, loaders and arithmetic then run on them. A file that is here is read as
written, and so is one in another folder of the repository (the error says to run from the
code's folder); an open the code guards with ``except FileNotFoundError`` raises as it does here;
without ``--input`` nothing stands in."""

from __future__ import annotations

import io
import os
import sys

_TEXT_DATA = (".amat", ".txt", ".csv", ".tsv", ".dat", ".data", ".tok", ".tokens")
_TEXT_ONLY = (".csv", ".tsv", ".txt")
_SEPARATORS = {".csv": ",", ".tsv": "\t"}


class MissingTextFile(io.StringIO):
    """The code's open of a text data file that is not here: lines of stood-in samples."""

    def __init__(self, text: str, path: str):
        super().__init__(text)
        self.name = path


class MissingBinaryTextFile(io.BytesIO):
    """The same, opened in binary mode (``np.loadtxt(open("data/moons.csv", "rb"), delimiter=",")``)."""

    def __init__(self, text: str, path: str):
        super().__init__(text.encode())
        self.name = path


def stood_in_text(file, mode: str, note, spec):
    """A :class:`MissingTextFile` for ``open(file, mode)`` called by the code's own line, or None
    when the real open should run (a file that is here, not a data file, not the code's open)."""
    from vaelint.frontends.training.livepickle import _caught_by_the_code
    from vaelint.source.frames import is_user_file, user_frame

    if not isinstance(file, (str, os.PathLike)) or any(c in mode for c in "wax+"):
        return None
    path = os.fspath(file)
    ext = os.path.splitext(path)[1].lower()
    if ext not in (_TEXT_DATA if "b" not in mode else _TEXT_ONLY) or os.path.exists(path):
        return None  # in binary mode, only files that are text whatever reads them (a .dat may be raw bytes)
    from vaelint.frontends.placeholders import found_below

    if found_below(os.path.basename(path)):
        return None  # it is in the repository, elsewhere: run from the code's folder (the error says so)
    caller = sys._getframe(2)  # the open's caller: the code's own line, not a library's reader
    if not is_user_file(caller.f_code.co_filename) or _caught_by_the_code(user_frame(caller)):
        return None
    sep = _SEPARATORS.get(ext, " ")
    rows = note(spec, path, "open", "is not here", lines=sep)
    flat = rows.reshape(rows.shape[0], -1)
    text = "".join(sep.join(str(int(round(float(v)))) for v in row) + "\n" for row in flat)
    return MissingBinaryTextFile(text, path) if "b" in mode else MissingTextFile(text, path)
