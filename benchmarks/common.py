"""What every benchmark sets up before it measures.

vaelint's own modules are measured as a user's machine runs them: with their
bytecode cached (the first `vaelint check` writes it). In an editable install under
an environment that turns the cache off (PYTHONDONTWRITEBYTECODE, as some CI images
set) no bytecode is ever written, and every check compiles vaelint's ~80 modules
again (about 0.13 s on a 2-core machine) while torch's, compiled by pip, are read:
the ratios would measure that setting, not vaelint.
"""

from __future__ import annotations

import compileall
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def with_bytecode_cache() -> None:
    """Compile vaelint (and its rule catalogue) once, and let the measured processes read it."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    for folder in ("vaelint", "rules"):
        compileall.compile_dir(os.path.join(ROOT, folder), quiet=1)
