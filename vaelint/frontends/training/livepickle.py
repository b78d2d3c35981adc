"""Pickled data whose file is not here, while training code runs (:mod:`.livedata`).

``with open("data/train.pkl", "rb") as f: data = pickle.load(f)`` (and ``joblib.load(path)``,
``torch.load("data/train.pt")`` of a file named for data, not a checkpoint)
is how much tabular, molecular and text VAE code reads its data set. With ``--input`` giving
the batch, the open of a pickle file that is not here gives an empty stand-in file, and
unpickling it gives rows of the first ``--input``'s samples, as ``np.load`` of a missing file
does: ``data["features"]``, ``data.shape``, ``torch.tensor(data)`` and slices of it all read
those rows. A file that is here is read as written; without ``--input`` nothing stands in."""

from __future__ import annotations

import io
import operator
import os

import numpy as np

_PICKLES = (".pkl", ".pickle", ".p", ".pk", ".pck", ".joblib")


class MissingFile(io.BytesIO):
    """An open of a pickle file that is not here: empty, named for the report."""

    def __init__(self, path: str):
        super().__init__(b"")
        self.name = path


class PickledRows(np.ndarray):
    """The stood-in rows, also answering as the dict a pickle often holds: any key is the rows."""

    def __getitem__(self, key):
        if isinstance(key, str):
            return np.asarray(self)
        return super().__getitem__(key)

    def keys(self):
        return []

    def get(self, key, default=None):
        return np.asarray(self)


def pickled_reads(patches, spec, note) -> None:
    """``open(missing.pkl, "rb")`` gives a :class:`MissingFile`; ``pickle.load`` of one, and
    ``joblib.load`` of a missing file, give rows of ``spec``'s samples (``note`` makes them and
    says so in the report)."""
    import builtins
    import importlib
    import pickle
    import sys

    from vaelint.frontends.training.livetext import stood_in_text
    from vaelint.source.frames import user_frame

    real_open = builtins.open

    def open_(file, mode="r", *args, **kwargs):
        if (
            isinstance(file, (str, os.PathLike))
            and "r" in mode
            and "b" in mode
            and os.fspath(file).lower().endswith(_PICKLES)
            and not os.path.exists(file)
            and user_frame() is not None
        ):
            return MissingFile(os.fspath(file))
        text = stood_in_text(file, mode, note, spec)  # a text data file: lines of the samples
        return text if text is not None else real_open(file, mode, *args, **kwargs)

    def loader(real, label):
        def load(*args, **kwargs):
            # pickle.load(file=f), joblib.load(filename=path): the file by its keyword too
            key = "filename" if "filename" in kwargs else "file"
            if not args and key not in kwargs:
                return real(*args, **kwargs)
            file = args[0] if args else kwargs.pop(key)
            args = args[1:]
            if isinstance(file, MissingFile):
                return note(spec, file.name, label, "is not here").view(PickledRows)
            if label == "joblib.load" and isinstance(file, (str, os.PathLike)) and not os.path.exists(file) and user_frame() is not None:
                return note(spec, os.fspath(file), label, "is not here").view(PickledRows)
            return real(file, *args, **kwargs)

        return load

    import torch

    real_load = torch.load

    def torch_load(f, *args, **kwargs):
        if isinstance(f, (str, os.PathLike)) and not os.path.exists(f) and _data_file(os.fspath(f)) and user_frame() is not None:
            return torch.from_numpy(note(spec, os.fspath(f), "torch.load", "is not here"))
        return real_load(f, *args, **kwargs)

    patches.set(torch, "load", torch_load)
    patches.set(builtins, "open", open_)
    patches.set(io, "open", open_)
    patches.set(pickle, "load", loader(pickle.load, "pickle.load"))
    import importlib.util

    joblib = sys.modules.get("joblib") or (importlib.import_module("joblib") if importlib.util.find_spec("joblib") else None)
    if joblib is not None:  # imported now: the setup's own import finds it patched
        patches.set(joblib, "load", loader(joblib.load, "joblib.load"))


_CHECKPOINT_WORDS = (
    "ckpt",
    "checkpoint",
    "model",
    "weight",
    "state",
    "epoch",
    "best",
    "last",
    "optim",
    "net",
    "vae",
    "encoder",
    "decoder",
    "discriminator",
    "generator",
    "gan",
)


def _data_file(path: str) -> bool:
    """A ``torch.load`` of data (``data/train.pt``), not of a checkpoint (``model_best.pth``,
    ``checkpoints/epoch_10.pt``): a checkpoint that is not here stays an error. Judged by the
    file's name and its folder's, not by the folders above: a project folder named
    ``Variational-Autoencoder`` or ``vae-model`` holds data too (korintia/Variational-Autoencoder)."""
    low = path.lower().replace("\\", "/")
    if not low.endswith((".pt", ".pth", ".tensor")):
        return False
    near = "/".join(low.rstrip("/").split("/")[-2:])  # the folder it is in, and its own name
    return not any(w in near for w in _CHECKPOINT_WORDS)


class MissingCheckpoint(dict):
    """What ``torch.load`` of a checkpoint that is not here gives while code runs: loading it into
    a module or an optimiser does nothing (the check needs shapes, not trained weights), and any
    key of it (``ckpt["model"]``) is such a checkpoint too."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def __missing__(self, key):
        return MissingCheckpoint(self.path)

    # a number read from it (``range(ckpt["epoch"], epochs)``, ``best = ckpt["best_loss"]``) is a
    # fresh start's: 0 (o-tawab/Variational-Autoencoder-pytorch's resume outside a try)
    def __index__(self):
        return 0

    __int__ = __index__

    def __float__(self):
        return 0.0

    # a whole pickled model (torch.save(model)) moved or set up after its load: nothing to move, it stays
    # what it is (a helper network the step may never call); called, it says which file is not here
    def _kept(self, *args, **kwargs):
        return self

    to = cuda = cpu = eval = train = requires_grad_ = float = half = double = share_memory = _kept

    def parameters(self, *args, **kwargs):
        return iter(())

    def __call__(self, *args, **kwargs):
        raise FileNotFoundError(
            f"{self.path} is not here: the code calls what torch.load reads from it (a model an earlier run saved); "
            "put the file there, or check the model the step trains alone (PATH.py:CLASS --input SHAPE)"
        )


def _as_a_fresh_start(name: str, fn, reflected: bool):
    def op(self, other):  # ckpt["epoch"] + 1, best > ckpt["loss"]: a fresh start's 0 in its place
        try:
            return fn(other, 0) if reflected else fn(0, other)
        except ZeroDivisionError:  # n / ckpt["batch_size"]: no error of the user's code, 0 as the rest
            return 0

    op.__name__ = name
    return op


# a number read from a checkpoint computed with (``start_epoch = ckpt["epoch"] + 1``): as 0 would be
_ARITHMETIC = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow")
for _name, _fn in {n: getattr(operator, n) for n in _ARITHMETIC}.items():
    setattr(MissingCheckpoint, f"__{_name}__", _as_a_fresh_start(f"__{_name}__", _fn, False))
    setattr(MissingCheckpoint, f"__r{_name}__", _as_a_fresh_start(f"__r{_name}__", _fn, True))
for _name in ("lt", "le", "gt", "ge"):
    setattr(MissingCheckpoint, f"__{_name}__", _as_a_fresh_start(f"__{_name}__", getattr(operator, _name), False))
for _name in ("neg", "pos", "abs"):
    setattr(MissingCheckpoint, f"__{_name}__", lambda self: 0)
MissingCheckpoint.__round__ = lambda self, ndigits=None: 0


def missing_checkpoints(sandbox) -> None:
    """``torch.load(missing_checkpoint)`` gives a :class:`MissingCheckpoint`, and
    ``load_state_dict`` of one keeps the initial weights; each is noted."""
    import torch

    from vaelint.source.frames import user_frame

    real_load = torch.load

    def load(f, *args, **kwargs):
        if (
            isinstance(f, (str, os.PathLike))
            and not os.path.exists(f)
            and not _data_file(os.fspath(f))
            and user_frame() is not None
            and not _caught_by_the_code(user_frame())
        ):
            # a data file that is not here stays the code's error (rows stand in for it with --input)
            sandbox._note(f"checkpoint torch.load({os.fspath(f)!r})", sandbox.unloaded)
            return MissingCheckpoint(os.fspath(f))
        return real_load(f, *args, **kwargs)

    def keeping(real):
        def load_state_dict(self, state, *args, **kwargs):
            if isinstance(state, MissingCheckpoint):
                return torch.nn.modules.module._IncompatibleKeys([], []) if isinstance(self, torch.nn.Module) else None
            return real(self, state, *args, **kwargs)

        return load_state_dict

    sandbox._patch(torch, "load", load)
    sandbox._patch(torch.nn.Module, "load_state_dict", keeping(torch.nn.Module.load_state_dict))
    sandbox._patch(torch.optim.Optimizer, "load_state_dict", keeping(torch.optim.Optimizer.load_state_dict))


_CATCHES_A_MISSING_FILE = {"FileNotFoundError", "OSError", "IOError", "EnvironmentError", "Exception", "BaseException"}


def _caught_by_the_code(loc) -> bool:
    """Is the load inside a ``try:`` of the code's own whose ``except`` catches a missing file
    (``try: ck = torch.load(path) ... except: start fresh``)? Then the code's own way without a
    checkpoint runs, as it would here: the load raises as the real one does (o-tawab/
    Variational-Autoencoder-pytorch read ``checkpoint['epoch']`` of the stand-in)."""
    import ast

    from vaelint.frontends.training.sites import parse_file

    file = parse_file(os.path.realpath(loc.path)) if loc is not None else None
    for node in ast.walk(file.tree) if file else ():
        if not isinstance(node, ast.Try) or not node.body:
            continue
        if not node.body[0].lineno <= loc.line <= (node.body[-1].end_lineno or node.body[-1].lineno):
            continue
        for handler in node.handlers:
            caught = [handler.type] if not isinstance(handler.type, ast.Tuple) else handler.type.elts
            if handler.type is None or any(getattr(c, "id", getattr(c, "attr", None)) in _CATCHES_A_MISSING_FILE for c in caught):
                return True
    return False
