"""Notebook progress bars where no notebook is (:mod:`.sandbox`): ``from tqdm.notebook import
tnrange, tqdm`` draws its bar with ipywidgets, which a machine without Jupyter lacks ("IProgress not
found. Please update jupyter and ipywidgets", before the first step: nitarshan/variational-
autoencoder). There, tqdm's own text bars stand in for them; the code's loop is unchanged."""

from __future__ import annotations

import importlib.util
import sys


def text_bars_for_notebook_ones(sandbox) -> None:
    from vaelint.frontends.training.sandboxnative import after_import

    def patch_module(name: str) -> None:
        module = sys.modules.get(name)
        if module is None or _widgets_here():
            return
        import tqdm.std

        for attr, text in (
            ("tqdm", tqdm.std.tqdm),
            ("tqdm_notebook", tqdm.std.tqdm),
            ("trange", tqdm.std.trange),
            ("tnrange", tqdm.std.trange),
        ):
            if hasattr(module, attr):
                sandbox._patch(module, attr, text)

    after_import(sandbox, ("tqdm.notebook",), patch_module)


def _widgets_here() -> bool:
    try:
        return importlib.util.find_spec("ipywidgets") is not None
    except (ImportError, ValueError):
        return False
