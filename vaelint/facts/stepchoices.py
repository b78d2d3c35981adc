"""Random choices a training step makes in Python (``if np.random.random() < p:``, modality
dropout; ``random.choice(...)`` of a branch): which parts of the model run then differs from one
step to the next, and one captured step cannot tell a module that never trains from one this step
left out (VAE011 reads it)."""

from __future__ import annotations

import ast

from vaelint.source.files import read_source

# the Python-level draws a branch may be decided by (torch's draws are values in the graph)
_DRAWS = ("random", "rand", "randint", "choice", "uniform", "binomial", "normal", "randn", "sample", "shuffle", "permutation")
_MODULES = ("random", "np.random", "numpy.random", "rng", "self.rng", "generator")


def random_branch(program) -> str | None:
    """``"numpy.random.random() at train.py:199"``: the first ``if`` or conditional expression in
    the step's own lines whose test draws a random number in Python; None when there is none."""
    step = getattr(program, "step", None)
    loc, lines = getattr(step, "loc", None), getattr(step, "lines", None)
    if loc is None or not lines:
        return None
    try:
        tree = ast.parse(read_source(loc.path))
    except (OSError, SyntaxError, ValueError):
        return None
    first, last = lines
    for node in ast.walk(tree):
        if isinstance(node, (ast.If, ast.IfExp, ast.While)) and first <= node.lineno <= last:
            for call in ast.walk(node.test):
                said = _draw(call)
                if said is not None:
                    return f"{said} at {loc.display_path()}:{call.lineno}"
    return None


def _draw(node) -> str | None:
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute) or node.func.attr not in _DRAWS:
        return None
    owner = ast.unparse(node.func.value)
    return f"{owner}.{node.func.attr}()" if owner in _MODULES or owner.endswith((".random", "_rng", ".rng")) else None
