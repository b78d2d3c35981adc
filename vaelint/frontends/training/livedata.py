"""The user's own data whose files are not here, while training code runs (:mod:`.liverun`).

With ``--input`` given, the batches are of the specs, so a data set is only ever asked for
what the setup reads of it (``len``, ``dataset[0]``). A ``Dataset`` subclass of the user's
whose constructor cannot find its files, or tries to download them (refused by the sandbox),
would end the run before any loader exists; instead it stands in: ``len`` is some number,
its items are samples of the specs, and an attribute it never set says what it is if used.

Data read as arrays by the setup itself (``train = np.load("data/train.npy")`` at the top of
a script, a helper that returns ``pd.read_csv(path).values``, then batches sliced from it
in an index loop) stands in the same way: a read of a file that is not here returns rows of
the first ``--input``'s samples (``n_items = train.shape[1]`` is its width), and the report
says which file stood in. A file that is here is read as written.
Without ``--input`` nothing stands in: the run stops and says which file was missing."""

from __future__ import annotations

import contextlib
import functools
import inspect

from vaelint.errors import VaelintError, error_text
from vaelint.frontends.training.livemissingdata import owner, vaelints
from vaelint.source.cells import where

STOOD_IN: list[str] = []  # notes for the report: which data set stood in, and why
MADE: list = []  # the stood-in rows of the run's file reads: vaelint/frontends/training/livedatafit.py


def _no_data(error: BaseException) -> bool:
    """Is this how a data set says its data is not here?"""
    if isinstance(error, OSError):
        return True
    if isinstance(error, VaelintError):
        return getattr(error, "refused", False)  # a download or a program the sandbox refused
    text = str(error).lower()
    if isinstance(error, RuntimeError) and ("not found" in text or "download" in text):
        return True
    if any(words in text for words in _NO_DATA_WORDS):
        return True
    return isinstance(error, AssertionError) and _checks_a_path(error)


_NO_DATA_WORDS = ("does not exist", "no such file", "not a valid directory", "not a directory", "found 0 ")
_PATH_CHECKS = ("exists(", "isdir(", "isfile(", "is_dir(", "is_file(", "glob(", "listdir(")


def _checks_a_path(error: BaseException) -> bool:
    """``assert os.path.isdir(root)``, ``assert len(glob(...)) > 0``: an assert about files, the
    line that raised it read from the traceback."""
    from vaelint.source.frames import raising_line

    return any(check in raising_line(error) for check in _PATH_CHECKS)


def _stand_in(obj, cls, error: BaseException, init, on_stood_in: bool = False) -> None:
    from vaelint.frontends.training.runtime import StandIn

    name = cls.__name__

    def __getattr__(self, item):
        if item.startswith("_"):
            raise AttributeError(item)  # a private attribute, a probe (vaelint's, pickle's, copy's)
        from vaelint.frontends.training.datasets import GIVEN
        from vaelint.frontends.training.livevocab import given_attribute

        told = given_attribute(item, GIVEN)
        if told is not None:  # len(train.w2i), dataset.num_classes: what the --input's ids or labels give
            value, said = told
            note = f"the data set {name}'s {item} is {said}"
            if note not in STOOD_IN:
                STOOD_IN.append(note)
            self.__dict__[item] = value  # the same one when the step reads it again
            return value
        found = probed(self, cls)  # what the constructor sets, run on stand-in files (input_size = np.load(f).shape)
        if item in found:
            note = f"the data set {name}'s {item} is what its constructor sets on stand-in files of --input's samples"
            if note not in STOOD_IN:
                STOOD_IN.append(note)
            self.__dict__[item] = found[item]
            return found[item]
        failed = self.__dict__.get("_vaelint_probe_failed")
        again = f"; its constructor, run again on stand-in files, stopped at {failed}" if failed else ""
        from vaelint.frontends.training.livevocab import how_to_give

        return StandIn(f"{name}.{item} (the data set stands in: its data is not here{again})", how_to_give(item))

    obj.__class__ = standing_class(name, cls, __getattr__)
    said = str(error).splitlines()[0] if str(error) else type(error).__name__
    said = said if len(said) <= 120 else said[:117] + "..."
    built = "on the data standing in for its files" if on_stood_in else "here"
    why = f"holds no items here ({said})" if isinstance(error, _Empty) else f"could not be built {built} ({type(error).__name__}: {said})"
    STOOD_IN.append(f"the data set {name} ({_defined_at(cls, init)}) {why}: it stands in, its items samples of --input")


def standing_class(name: str, base: type, getattr_) -> type:
    """A data set class that stands in for ``base``: some number of items, each samples of --input
    (:func:`.datasets.known_item`), and ``getattr_`` for what the code reads of it."""
    from vaelint.frontends.training.datasets import STOOD_IN_LENGTH, known_item
    from vaelint.frontends.training.standinmethods import tolerant_methods

    return type(
        name,
        (base,),
        {
            **tolerant_methods(base, name, STOOD_IN),
            "__len__": lambda self: STOOD_IN_LENGTH,
            "__getitem__": lambda self, i: known_item(name, i, length=STOOD_IN_LENGTH),
            "__getattr__": getattr_,
            "__module__": base.__module__,
            "__vaelint_stood_in__": True,
        },
    )


def _defined_at(cls, init) -> str:
    """Where the data set's constructor is written, or where the class is, for a constructor a
    library wrote (``class Frames(ImageFolder)``: torchvision's)."""
    from vaelint.source.frames import is_user_file

    code = init.__code__
    if not is_user_file(code.co_filename):
        try:
            return where(inspect.getsourcefile(cls), inspect.getsourcelines(cls)[1])
        except (OSError, TypeError):
            pass
    return where(code.co_filename, code.co_firstlineno)


class _Empty(Exception):
    """A data set built fine that holds no items: its folder is here, its files are not."""


def _empty(dataset) -> bool:
    try:
        return len(dataset) == 0
    except Exception:  # noqa: BLE001 - a data set without a length (an iterable one): not empty
        return False


def _of_the_users(cls, is_user_file) -> bool:
    """Is the class written in the code (a method of its own in the user's files)?"""
    return any(is_user_file(getattr(getattr(v, "__code__", None), "co_filename", "")) for v in vars(cls).values())


def _a_librarys(init, is_user_file) -> bool:
    """A constructor a library wrote (not the code's, nor one made tolerant already)."""
    code = getattr(init, "__code__", None)
    return code is not None and not getattr(init, "__vaelint_tolerant__", False) and not is_user_file(code.co_filename)


def _tolerant(cls, init):
    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        made = len(MADE)
        try:
            init(self, *args, **kwargs)
        except Exception as e:  # noqa: BLE001 - which ones say "no data" is _no_data's
            # or it read a file that stands in and what it read broke it (a pickled dict in an .npz,
            # files["metadata"][()]["latents_sizes"]): made-up rows lack what the real file holds
            if not (_no_data(e) or len(MADE) > made) or getattr(type(self), "__vaelint_stood_in__", False):
                raise
            _stand_in(self, owner(self, cls, init), e, init, on_stood_in=not _no_data(e))
            self.__dict__["_vaelint_call"] = (init, args, kwargs)  # for what its constructor sets (probed)
            return
        if type(self).__init__ is __init__ and _empty(self):
            # its folder is here but holds none of its files (glob found nothing): no data here either
            _stand_in(self, owner(self, cls, init), _Empty("its files are not here"), init)
            return
        if len(MADE) > made and type(self).__init__ is __init__:  # its own rows, not a subclass's yet
            from vaelint.frontends.training.livedatafit import fit_items

            fit_items(self, MADE[made:])

    __init__.__vaelint_tolerant__ = True
    return __init__


@contextlib.contextmanager
def standing_in(specs):
    """While the run runs, a user ``Dataset`` whose constructor finds no data stands in (only
    when --input gives the batch: otherwise the missing file is what the user must hear)."""
    from torch.utils.data import Dataset

    from vaelint.frontends.training.livepatch import Patches
    from vaelint.source.frames import is_user_file

    STOOD_IN.clear()
    MADE.clear()
    if not any(not s.name or "." in s.name for s in specs):  # the batch's items, or its keys (batch.image=)
        from vaelint.frontends.training.livelistings import note_missing_listings

        noted = Patches()
        note_missing_listings(noted)  # listed as Python lists it (nothing), and said if the run stops
        try:
            yield
        finally:
            noted.restore()
        return
    # the rows a file not here stands in with: of the batch's first item, or of its first key where
    # the batch is a dict given by its keys (--input data.x=8x7 --input data.y=8x20x3)
    spec = next((s for s in specs if not s.name), None) or next((s for s in specs if "." in (s.name or "")), None)

    def __init_subclass__(cls, **kwargs):
        super(Dataset, cls).__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        code = getattr(init, "__code__", None)
        if code is not None and is_user_file(code.co_filename):
            cls.__init__ = _tolerant(cls, init)
        elif init is None and _of_the_users(cls, is_user_file) and _a_librarys(cls.__init__, is_user_file):
            # the code's subclass of a library's data set with no constructor of its own (class
            # Frames(ImageFolder) with its own __getitem__): the library's constructor, which finds
            # no folder here, stands in as the code's own would (torchvision installed)
            cls.__init__ = _tolerant(cls, cls.__init__)
        elif code is not None and _a_librarys(init, is_user_file) and not vaelints(code.co_filename):
            # a library's data set the code imports as it runs (medmnist's ChestMNIST: "Dataset not
            # found. You can set download=True"): with --input giving the batch, it stands in too
            cls.__init__ = _tolerant(cls, init)

    patches = Patches()
    patches.set(Dataset, "__init_subclass__", classmethod(__init_subclass__))
    if spec is not None:
        from vaelint.frontends.training.livemissingdata import missing_data_sets

        missing_data_sets(patches, STOOD_IN)  # a data set class whose import failed
        _array_reads(patches, spec)
        from vaelint.frontends.training.livelistings import folder_listings

        folder_listings(patches, STOOD_IN, spec)  # a data folder that is not here lists stand-in files
    try:
        yield
    finally:
        patches.restore()


# the readers of data files a setup calls: (module, function, what it returns)
_READERS = (
    ("numpy", "load", "array"),
    ("numpy", "loadtxt", "array"),
    ("numpy", "genfromtxt", "array"),
    ("numpy", "fromfile", "array"),
    ("pandas", "read_csv", "frame"),
    ("pandas", "read_table", "frame"),
    ("pandas", "read_json", "frame"),
    ("pandas", "read_pickle", "frame"),
    ("pandas", "read_parquet", "frame"),
    ("pandas", "read_feather", "frame"),
    ("pandas", "read_hdf", "frame"),
    ("pandas", "read_excel", "frame"),
    # an HDF5 file (scientific and medical data): f["u"][:], np.array(f["images"]), with h5py.File(...) as f
    ("h5py", "File", "archive"),
    # a MATLAB file (academic data sets): scipy.io.loadmat(path)["X"], a dict of arrays
    ("scipy.io", "loadmat", "archive"),
)
_ROWS_BYTES = 64 << 20  # a stood-in array holds at most this much (and 2 to 512 rows)


def _array_reads(patches, spec) -> None:
    """np.load, pd.read_csv, ... of a file that is not here give rows of ``spec``'s samples."""
    import importlib
    import importlib.util
    import sys

    for module_name, name, kind in _READERS:
        if module_name not in sys.modules and importlib.util.find_spec(module_name) is None:
            continue
        module = importlib.import_module(module_name)  # imported now: the setup's own import finds it patched
        real = getattr(module, name, None)
        if real is not None:
            label = {"numpy": "np", "pandas": "pd"}.get(module_name, module_name)
            patches.set(module, name, _reader(real, f"{label}.{name}", kind, spec))
    from vaelint.frontends.training.livepickle import pickled_reads

    pickled_reads(patches, spec, _stood_in_note)


def _reader(real, label: str, kind: str, spec):
    import os

    from vaelint.source.frames import user_frame

    @functools.wraps(real)
    def read(path=None, *args, **kwargs):
        target = path if path is not None else kwargs.get("filepath_or_buffer", kwargs.get("file"))
        why = "is not here"
        if lfs_pointer(target) and user_frame() is not None:
            why = "is a Git LFS pointer, not its data (`git lfs pull` fetches it)"
        else:
            try:
                return real(path, *args, **kwargs) if path is not None else real(*args, **kwargs)
            except OSError:
                if not isinstance(target, (str, os.PathLike)) or os.path.exists(target) or user_frame() is None:
                    raise
            except ImportError as e:  # read_parquet without pyarrow, read_excel without openpyxl
                if not isinstance(target, (str, os.PathLike)) or user_frame() is None:
                    raise
                why = f"cannot be read here ({getattr(e, 'name', None) or 'its reader'} is not installed)"
        rows = _stood_in_note(spec, os.fspath(target), label, why)
        if kind == "frame":
            from vaelint.frontends.training.livetables import stand_in_frame

            return stand_in_frame(rows, kwargs)
        if kind == "archive" or (label == "np.load" and os.fspath(target).endswith(".npz")):
            from vaelint.frontends.training.livearchive import Archive
            from vaelint.frontends.training.livetables import keys_read_on_the_line

            MADE[-1].archive = Archive(rows, keys_read_on_the_line())
            return MADE[-1].archive  # np.load of an .npz: every array it is asked for
        return rows

    return read


_LFS_HEAD = b"version https://git-lfs.github.com/spec/v1"


def lfs_pointer(target) -> bool:
    """Is ``target`` a Git LFS pointer (a clone made without ``git lfs``): a small text file in
    place of the data, which the code's reader would take for its data and fail on?"""
    import os

    if not isinstance(target, (str, os.PathLike)):
        return False
    try:
        if os.path.getsize(target) > 1024:
            return False
        with open(target, "rb") as fh:
            return fh.read(len(_LFS_HEAD)) == _LFS_HEAD
    except (OSError, ValueError):
        return False


def _stood_in_note(spec, target: str, label: str, why: str, lines: str | None = None):
    """Rows of ``spec``'s samples for a data file that is not here, said in the report; ``lines``:
    the separator of a text file's lines the rows are written as (livetext.py)."""
    from vaelint.frontends.training.livedatafit import Made
    from vaelint.source.frames import user_frame

    rows = stood_in_rows(spec)
    if label in ("np.loadtxt", "np.genfromtxt") and rows.ndim > 2:
        rows = rows.reshape(rows.shape[0], -1)  # a text file's table: at most 2-D, as its reader gives it
    loc = user_frame()
    made = (
        f"{rows.shape[0]} text lines, each one of --input {spec.text()}'s samples (whole numbers, {lines!r}-separated)"
        if lines is not None
        else f"{' x '.join(str(n) for n in rows.shape)} {rows.dtype} rows of --input {spec.text()}'s samples"
    )
    STOOD_IN.append(f"the data file {target} ({label} at {loc.where() if loc else '?'}) {why}: it stands in as {made}")
    MADE.append(Made(rows, spec, len(STOOD_IN) - 1))
    return rows


def stood_in_rows(spec):
    """Rows of the spec's samples, as many as fit in a small array (at least twice the batch)."""
    import math

    sample = max(1, math.prod(spec.sample_shape)) * 4
    n = max(2 * spec.batch, min(512, _ROWS_BYTES // sample))
    return spec.with_batch_dim(0).make(n).numpy() if spec.batch_dim == 0 else spec.make(n).movedim(spec.batch_dim, 0).numpy()


def probed(dataset, cls) -> dict:
    """The attributes ``cls``'s constructor sets when it runs again, with its calls, on stand-in
    files (its folder listed as stand-in files, which its readers read as samples of --input):
    what a data set that stands in as a whole lacks and the code reads (a model sized from
    ``dataset.input_size``). Run once per data set; empty where that run fails too (why, kept)."""
    from vaelint.frontends.training.livelistings import listed_inside_data_sets

    held = dataset.__dict__
    if "_vaelint_probe" not in held:
        init, args, kwargs = held.get("_vaelint_call", (None, (), {}))
        found: dict = {}
        if init is not None:
            fresh = cls.__new__(cls)
            try:
                with listed_inside_data_sets():
                    init(fresh, *args, **kwargs)
                found = dict(vars(fresh))
            except Exception as e:  # noqa: BLE001 - the constructor fails on stand-in files too: nothing to read
                from vaelint.source.frames import user_frame_of_traceback

                at = user_frame_of_traceback(e.__traceback__)
                held["_vaelint_probe_failed"] = f"{at.where() + ': ' if at else ''}{getattr(e, 'message', None) or error_text(e)}"
        held["_vaelint_probe"] = found
    return held["_vaelint_probe"]
