"""The user's modules imported by a run that did not reach its step, forgotten before the code is
read and built again: a constructor that changes a config module's state in place
(``filters.reverse()`` on a class attribute's list) changed it in the run, and the second build
read it changed (a false VAE013 blaming --input: KTH-FlowAI's Beta-VAE). Python runs a program's
modules once; the read way, importing them afresh, sees them as a first run does."""

from __future__ import annotations

import os
import sys

from vaelint.source.modulefiles import file_of


def forget_modules_since(before: set, folders: list[str]) -> list[str]:
    """Take out of sys.modules the modules imported since ``before`` whose files lie under one of
    ``folders`` (the user's, not an installed package's): their names."""
    roots = tuple(os.path.realpath(f) + os.sep for f in folders)
    gone = []
    for name in [n for n in sys.modules if n not in before]:
        origin = file_of(sys.modules.get(name))
        if not origin or "site-packages" in origin or "dist-packages" in origin:
            continue
        if os.path.realpath(origin).startswith(roots):
            sys.modules.pop(name, None)
            gone.append(name)
    return gone
