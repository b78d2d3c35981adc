"""Plotting packages the code imports and this environment lacks (matplotlib, seaborn, plotly): a
no-op, as a missing logger is. ``matplotlib.use("Agg")`` at a script's top, ``fig, ax =
plt.subplots()`` and ``plt.savefig(...)`` after an epoch draw nothing that reaches the model or the
loss; a run that stopped at them blamed the package while its data was what was missing
(chentong1023/Two-stage-VAE-pytorch, ahmerb/GPPVAE). Reading an image with one (``plt.imread``) is
a use of the data: that says what is missing."""

from __future__ import annotations

import types

from vaelint.errors import VaelintError
from vaelint.frontends.standinbase import _Anything, _StandInModule

PLOTTING = ("matplotlib", "seaborn", "plotly")
_READERS = ("imread", "imread_collection", "load_dataset")


class _Drawing(_Anything):
    """A figure, an axes or an array of them: unpacked (``fig, ax = plt.subplots()``), indexed and
    iterated as the code does, drawing nothing."""

    def __getattr__(self, item):
        if item.startswith("__"):
            raise AttributeError(item)
        return _Drawing()

    def __call__(self, *args, **kwargs):
        return _Drawing()

    def __getitem__(self, key):
        return _Drawing()

    def __iter__(self):
        return iter((_Drawing(), _Drawing()))

    def __len__(self):
        return 2


def plotting(fullname: str) -> types.ModuleType:
    from vaelint.frontends.placeholders import note

    top = fullname.split(".")[0]
    if "." not in fullname:
        note(f"{fullname} is not installed; it stands in as a no-op (plotting: nothing it draws reaches the model or the loss)")

    def make(item):
        if item in _READERS:

            def read(*args, **kwargs):
                raise VaelintError(
                    "load",
                    f"the code reads data with {fullname}.{item}, and {top} is not installed: install it, or give the batch "
                    "with --input, one per item of the batch, e.g. --input 64x3x64x64",
                )

            return read
        return _Drawing()

    return _StandInModule(fullname, make)
