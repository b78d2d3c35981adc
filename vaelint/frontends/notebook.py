"""The notebook front end: ``nb.ipynb``, ``nb.ipynb:VAE``, ``nb.ipynb:loss_fn``.

A notebook's code cells are read as one Python text (:mod:`vaelint.source.cells`:
magics and shell lines blanked, each line mapped back to its cell), and the
target is then what that text is: a training loop in a cell (the training
front end checks its first step), a LightningModule, or a model class or
factory defined in a cell (the plain front end builds it and runs no other
cell). Reports place every line in its cell: ``nb.ipynb:cell 14:3``.
"""

from __future__ import annotations

import os
import re

from vaelint.errors import VaelintError
from vaelint.frontends.base import FrontendBase, LoadRequest, Program, TargetRef
from vaelint.source.cells import notebook_source


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
        inner = self._inner(ref)
        if ref.name is None and not isinstance(inner, _training_frontends()):
            _runs_a_script(ref.path)
        try:
            return inner.load(ref, request)
        except VaelintError:
            if ref.name is None:
                _runs_a_script(ref.path)  # its cells reached no step: the script a cell runs is what trains
            raise

    def _inner(self, ref: TargetRef):
        """The front end for what the notebook's code is."""
        from vaelint.frontends.lightning import LightningFrontend
        from vaelint.frontends.plain import PlainFrontend
        from vaelint.frontends.training import TrainingFrontend

        for frontend in (LightningFrontend(), TrainingFrontend()):
            if frontend.detect_source(ref):
                return frontend
        return PlainFrontend()


def _training_frontends() -> tuple:
    from vaelint.frontends.lightning import LightningFrontend
    from vaelint.frontends.training import TrainingFrontend

    return (LightningFrontend, TrainingFrontend)


# !python train.py ARGS, %run train.py ARGS, %run -i 'train.py' (its options, the name quoted or not)
_SCRIPT_RUN = re.compile(r"""^\s*(?:!\s*python3?\s+(?!-)|%run\s+(?:-\w+\s+)*)['"]?(?P<script>[^\s'"]+\.py)['"]?(?P<args>.*)$""")


def _runs_a_script(path: str) -> None:
    """A notebook with no model or training code of its own that runs a script by a shell line or
    ``%run`` (``!python main.py --epochs 5``): exit 2 naming the command that checks the script
    (vaelint never starts programs, and the notebook itself holds nothing to check)."""
    import ast
    import json
    import shlex

    from vaelint.source.frames import display_path

    try:
        with open(path, encoding="utf-8") as fh:
            cells = json.load(fh).get("cells", [])
        defined = any(isinstance(n, (ast.ClassDef, ast.FunctionDef)) for n in ast.walk(ast.parse(notebook_source(path).text)))
    except (OSError, ValueError, SyntaxError):
        return
    if defined:
        return  # a model or a loss of its own: named as PATH.ipynb:NAME, as the plain front end says
    for number, cell in enumerate(cells, start=1):
        source = cell.get("source", "")
        for line in ("".join(source) if isinstance(source, list) else str(source)).splitlines():
            found = _SCRIPT_RUN.match(line) if cell.get("cell_type") == "code" else None
            if found is None:
                continue
            script = found["script"]
            beside = os.path.join(os.path.dirname(path), script)
            shown = display_path(os.path.realpath(beside)) if os.path.isfile(beside) else script
            args = found["args"].strip()
            command = f"vaelint check {shown}" + (f" --script-args {shlex.quote(args)}" if args else "")
            raise VaelintError(
                "load",
                f"{path}: its code defines no model or training step; it runs {script} by a shell line "
                f"(cell {number}: `{line.strip()}`), which vaelint does not start. Check the script: {command}",
            )
