"""A data set class whose import failed, built while training code runs with ``--input`` giving the
batch (:mod:`.livedata`): ``from paired_data import PairDataset`` where paired_data.py was left out of
the checkout, or a data set of a package not installed. Its files would not be here either; like a
data set of the code's own that finds no data, it stands in, its items samples of --input, and the
report says which import failed. A name that is no data set class (``Model``, ``load_data``) is not
made one: using it says the import failed, as without --input. A library's data set the code
imports as it runs stands in too (:func:`vaelint.frontends.training.livedata.standing_in`), said as the
code's own subclass where one is being built (``owner``)."""

from __future__ import annotations

import re

from vaelint.source.cells import where

# class names a data set goes by: PairDataset, MoleculeDataSet, ShapeNetData
_DATA_SET = re.compile(r"^[A-Z]\w*(Dataset|DataSet|Data)$")


def missing_data_sets(patches, notes: list) -> None:
    """While the run runs, calling a data set class whose import failed builds a stand-in."""
    from vaelint.frontends import placeholders

    missing = placeholders.MissingImport
    real_call = missing.__call__

    def __call__(self, *args, **kwargs):
        name, module, path, line, error = object.__getattribute__(self, "_info")
        if type(self) is not missing or not _DATA_SET.match(name) or not placeholders._used_by_the_code():
            return real_call(self, *args, **kwargs)
        if "SyntaxError" in str(error):
            # its module is here and does not parse (Python 2's print): no data set to stand in for, a
            # file to fix (before: 'the data set stands in: its import failed'; Amigoshan/sketch_rnn_pytorch)
            return real_call(self, *args, **kwargs)
        note = (
            f"the data set {name} ({where(path, line)} imports it from {module!r}, which could not be imported: {error}) "
            "stands in, its items samples of --input"
        )
        if note not in notes:
            notes.append(note)
        return _stand_in_data_set(name)

    patches.set(missing, "__call__", __call__)


def _stand_in_data_set(name: str):
    from torch.utils.data import Dataset

    from vaelint.frontends.training.livedata import standing_class
    from vaelint.frontends.training.runtime import StandIn

    def __getattr__(self, item):
        if item.startswith("_"):
            raise AttributeError(item)
        return StandIn(f"{name}.{item} (the data set stands in: its import failed)")

    return standing_class(name, Dataset, __getattr__)()


def owner(obj, cls, init) -> type:
    """The class a stand-in is said as: a library constructor's (ImageFolder's) stands for the code's
    own subclass being built (``Frames(ImageFolder)``), a constructor of the code's for its class."""
    from vaelint.source.frames import is_user_file

    return cls if is_user_file(getattr(getattr(init, "__code__", None), "co_filename", "")) else type(obj)


def vaelints(filename: str) -> bool:
    """Is the file vaelint's own (its stand-ins' data sets are no library's)?"""
    import os

    from vaelint.source.frames import _VAELINT_DIR

    return os.path.realpath(filename).startswith(_VAELINT_DIR + os.sep)
