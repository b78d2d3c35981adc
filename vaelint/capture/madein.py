"""Whose code an op the recorder sees was called by: torch.distributions' own (a log_prob's -0.5,
MultivariateNormal's batch-flattening reshape) is its maths, not the user's, for the rules that
read a graph's reshapes (VAE006) and weights (the reductions)."""

from __future__ import annotations

import os

_DISTRIBUTIONS = f"{os.sep}torch{os.sep}distributions{os.sep}"


def in_distributions() -> str:
    """The torch.distributions function the op being recorded is called by (the first frame below
    the recorder that is neither vaelint's nor torch's dispatch), or ""."""
    import sys

    f = sys._getframe(3)
    for _ in range(12):
        if f is None:
            return ""
        name = f.f_code.co_filename
        if _DISTRIBUTIONS in name:
            return f.f_code.co_name
        if f"{os.sep}vaelint{os.sep}" not in name and not name.endswith(("overrides.py", "_tensor.py", "functional.py")):
            return ""
        f = f.f_back
    return ""
