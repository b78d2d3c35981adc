"""The real torchvision's data sets of known shapes (MNIST, CIFAR10, CelebA, ...) when their
data is not here: a download vaelint refuses, no files under ``root``. They stand in as they
do where torchvision is not installed (:mod:`vaelint.frontends.standins`): items of the data
set's known shape through the code's own transform, labels of its classes, and a note in the
report. A data set whose files are here is built and read as written."""

from __future__ import annotations

import functools
import sys


def without_their_data():
    """Patch the constructors of torchvision's known data sets; the returned patches undo it."""
    from vaelint.frontends.training.datasets import KNOWN
    from vaelint.frontends.training.livepatch import Patches

    patches = Patches()
    module = sys.modules.get("torchvision.datasets")
    if module is None:
        try:
            import torchvision.datasets as module
        except Exception:  # noqa: BLE001 - a torchvision that does not load: its stand-in serves
            return patches
    for name in KNOWN:
        cls = getattr(module, name, None)
        if isinstance(cls, type) and "__init__" in cls.__dict__:
            patches.set(cls, "__init__", _tolerant(cls, cls.__dict__["__init__"]))
    return patches


def _tolerant(cls, init):
    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        try:
            init(self, *args, **kwargs)
        except Exception as e:  # noqa: BLE001 - which ones say "no data" is _no_data's
            from vaelint.frontends.training.livedata import STOOD_IN, _no_data

            if type(self) is not cls or not _no_data(e):
                raise
            from vaelint.frontends.standins import _dataset_class

            self.__class__ = _dataset_class(cls.__name__)
            self._vaelint_args, self._vaelint_kwargs = args, kwargs
            root = kwargs.get("root", args[0] if args else "")
            said = str(e).splitlines()[0] if str(e) else type(e).__name__
            why = "it would be downloaded, and vaelint never downloads" if getattr(e, "refused", False) else said[:100]
            if any(n.startswith(f"torchvision's {cls.__name__} data set (root {str(root)!r})") for n in STOOD_IN):
                return  # its test split beside its training split: said once
            STOOD_IN.append(
                f"torchvision's {cls.__name__} data set (root {str(root)!r}) is not here ({why}): it stands in, "
                f"its items of {cls.__name__}'s shape through the code's transform"
            )

    return __init__
