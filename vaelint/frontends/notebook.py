"""The notebook front end: ``nb.ipynb``, ``nb.ipynb:VAE``, ``nb.ipynb:loss_fn``.

A notebook's code cells are read as one Python text (:mod:`vaelint.frontends.sourcemap`:
magics and shell lines blanked, each line mapped back to its cell), and the
target is then what that text is: a training loop in a cell (the training
front end checks its first step), a LightningModule, or a model class or
factory defined in a cell (the plain front end builds it and runs no other
cell). Reports place every line in its cell: ``nb.ipynb:cell 14:3``.
"""

from __future__ import annotations

import os

from vaelint.errors import VaelintError
from vaelint.frontends.base import FrontendBase, LoadRequest, Program, TargetRef


def notebook_source(path: str):
    """The notebook's Python and line map; its lines are registered with
    ``linecache`` so that ``inspect.getsource`` and tracebacks read the code, not
    the JSON."""
    import linecache

    from vaelint.frontends.sourcemap import notebook_text

    real = os.path.realpath(path)
    nb = notebook_text(real)
    lines = nb.text.splitlines(True)
    linecache.cache[real] = (len(nb.text), None, lines, real)
    return nb


class NotebookFrontend(FrontendBase):
    name = "notebook"
    infers_inputs = True

    def detect(self, ref: TargetRef) -> bool:
        return ref.path.endswith(".ipynb")

    def load(self, ref: TargetRef, request: LoadRequest) -> Program:
        if not os.path.isfile(ref.path):
            raise VaelintError("load", f"{ref.path}: no such file. Check the path in the target; it is relative to the current directory.")
        try:
            notebook_source(ref.path)
        except (OSError, ValueError) as e:
            raise VaelintError("load", f"{ref.path}: not a readable Jupyter notebook ({e}).") from None
        return self._inner(ref).load(ref, request)

    def _inner(self, ref: TargetRef):
        """The front end for what the notebook's code is."""
        from vaelint.frontends.lightning import LightningFrontend
        from vaelint.frontends.plain import PlainFrontend
        from vaelint.frontends.training import TrainingFrontend

        for frontend in (LightningFrontend(), TrainingFrontend()):
            if frontend.detect_source(ref):
                return frontend
        return PlainFrontend()
