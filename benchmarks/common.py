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
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def with_bytecode_cache() -> None:
    """Compile vaelint (and its rule catalogue) once, and let the measured processes read it."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    for folder in ("vaelint", "rules"):
        compileall.compile_dir(os.path.join(ROOT, folder), quiet=1)


def timed(cmd: list[str], cwd: str = ROOT, env: dict | None = None) -> float:
    """Wall time of one command; it must exit 0 or 1 (findings)."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    return elapsed
