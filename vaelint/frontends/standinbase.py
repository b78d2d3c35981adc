"""What the stand-in packages (:mod:`vaelint.frontends.standins`) are made of: a module
whose names are made on first use, and a class, function or object that takes anything and
does nothing."""

from __future__ import annotations

import abc
import types

# a stand-in logger's ids, names, folders and addresses are text: code puts them in os.environ,
# paths and f-strings (os.environ["MLFLOW_RUN_ID"] = run.info.run_id, jurgisp/pydreamer)
_TEXT_WORDS = frozenset({"id", "uri", "url", "name", "dir", "path", "key"})


class StandInText(str):
    """What a stand-in logger answers for its ``run_id``, ``artifact_uri``, ``log_dir``: text
    that says where it came from."""


class _AnythingType(abc.ABCMeta):
    """Class-level names of a stand-in class (``Trainer.from_argparse_args``,
    ``Callback.some_hook``) are stand-ins too. An ABCMeta, so that a class of the code's that is
    both (``class BaseDataModule(pl.LightningDataModule, ABC)``) has one metaclass, as with the
    real package."""

    def __getattr__(cls, item):
        if item.startswith("__"):
            raise AttributeError(item)
        return _Anything()

    # isinstance(x, L.Trainer) with a stand-in class: by the classes' own bases. ABCMeta's check
    # called the class's __subclasscheck__, which is the instances' (a stand-in object used as a
    # class: nothing is one), with one argument too few: a TypeError inside vaelint stopped the run
    def __instancecheck__(cls, instance):
        return cls in type(instance).__mro__

    def __subclasscheck__(cls, subclass):
        return isinstance(subclass, type) and cls in subclass.__mro__


class _Anything(metaclass=_AnythingType):
    """A class, function or object of a stand-in package that is only passed around
    (a logger, a callback, a plugin): it takes any arguments and does nothing."""

    def __init__(self, *args, **kwargs):
        self._vaelint_args, self._vaelint_kwargs = args, kwargs

    def __call__(self, *args, **kwargs):
        return self

    def __getattr__(self, item):
        if item.startswith("__"):
            raise AttributeError(item)
        if item.rsplit("_", 1)[-1].lower() in _TEXT_WORDS:
            return StandInText(f"vaelint-stand-in-{item}")
        return _Anything()

    def __getitem__(self, key):  # run["train/loss"].log(v), neptune's way: a field that records nothing
        return _Anything()

    def __setitem__(self, key, value):  # run["parameters"] = params: kept nowhere
        pass

    def __enter__(self):  # with wandb.init(...) as run: a run that records nothing
        return self

    def __instancecheck__(self, instance):  # isinstance(logger, pl.loggers.WandbLogger): nothing is one
        return False

    def __subclasscheck__(self, cls):
        return False

    def __exit__(self, *exc):
        return False


def _installed_version(name: str) -> str:
    from importlib import metadata

    from vaelint.source.frames import readable_import_path

    try:
        with readable_import_path():
            return metadata.version(name)
    except Exception:  # noqa: BLE001 - not installed (or its metadata is not readable)
        return "0.0.0"


class _StandInModule(types.ModuleType):
    """A module whose names are made on first use by ``make(name)``."""

    def __init__(self, name: str, make):
        super().__init__(name)
        self.__file__ = f"<vaelint stand-in for {name}>"
        self.__path__ = []  # a package: submodules import
        self._make = make
        self.__vaelint_stand_in__ = True
        if "." not in name:
            # the code compares it (version.parse(accelerate.__version__) >= version.parse("0.16.0")): the
            # installed distribution's where one is there (a build for another torch), else 0.0.0
            self.__version__ = _installed_version(name)

    def __getattr__(self, item):
        if item.startswith("__"):
            raise AttributeError(item)
        value = self._make(item)
        setattr(self, item, value)
        return value


def real_spec(top: str):
    """The spec of the package ``top`` as the path finds it; None where what it finds is a folder of
    that name holding no Python (wandb's run-log folder ./wandb/, committed with the code): imported,
    it is an empty namespace package, and the code's wandb.init() failed where the stand-in serves."""
    import importlib.machinery
    import os

    spec = importlib.machinery.PathFinder.find_spec(top)
    if spec is None or spec.origin not in (None, "namespace"):
        return spec
    places = list(spec.submodule_search_locations or [])
    if any(name.endswith(".py") or os.path.isfile(os.path.join(p, name, "__init__.py")) for p in places for name in _listing(p)):
        return spec
    return None


def _listing(folder: str) -> list:
    import os

    try:
        return os.listdir(folder)
    except OSError:
        return []
