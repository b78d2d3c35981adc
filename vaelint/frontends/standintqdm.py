"""tqdm where this environment lacks it: a progress bar draws text for the terminal and hands
the loop its iterable unchanged, so a missing one stands in as that iterable passed through. A
check that stopped at ``from tqdm import tqdm`` ("install tqdm") never reached the model (three
helpers met it on VQ-VAE, flow and VRNN repositories in one session). ``tqdm(loader)``,
``trange(n)``, ``tqdm.auto``/``tqdm.notebook``, ``with tqdm(total=n) as bar: bar.update(1)``,
``bar.set_postfix(loss=...)``, ``tqdm.write(...)``, ``len(bar)`` and the bar's ``.iterable`` (which
the front end reads to find the loader a bar wraps) behave as tqdm's do; nothing is drawn. Only
the code's own imports stand in: a library that imports tqdm fails as it expects."""

from __future__ import annotations

import types

from vaelint.frontends.standinbase import _StandInModule

PROGRESS = ("tqdm",)


class ProgressBar:
    """tqdm's bar, drawing nothing: it iterates what it wraps and counts in ``n``."""

    def __init__(self, iterable=None, *args, total=None, **kwargs):
        self.iterable, self.n = iterable, 0
        self.total = total if total is not None else _length(iterable)

    def __iter__(self):
        for item in self.iterable if self.iterable is not None else ():
            yield item
            self.n += 1

    def __len__(self):
        return int(self.total or 0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n=1):
        self.n += n

    def __getattr__(self, item):
        if item.startswith("__"):
            raise AttributeError(item)
        return _nothing  # set_description, set_postfix, close, refresh, reset, clear, display, ...

    @staticmethod
    def write(*args, **kwargs):
        return None

    @classmethod
    def pandas(cls, *args, **kwargs):
        return None


def _nothing(*args, **kwargs):
    return None


def _length(iterable):
    try:
        return len(iterable)
    except TypeError:
        return None


def trange(*args, **kwargs):
    return ProgressBar(range(*args), **kwargs)


def tenumerate(iterable, start=0, **kwargs):
    return ProgressBar(enumerate(iterable, start), **kwargs)


_NAMES = {"tqdm": ProgressBar, "trange": trange, "tnrange": trange, "tqdm_notebook": ProgressBar, "tenumerate": tenumerate}


def progress(fullname: str) -> types.ModuleType:
    from vaelint.frontends.placeholders import note

    if "." not in fullname:
        note(
            "tqdm is not installed; it stands in as its loop passed through (a progress bar: nothing it draws reaches the model or the loss)"
        )
    return _StandInModule(fullname, lambda item: _NAMES.get(item, _nothing))
