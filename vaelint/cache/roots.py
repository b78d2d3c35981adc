"""Where vaelint's own code lives: what the cache key fingerprints (store.py) and what a check's
reads leave out as not the user's (reads.py)."""

from __future__ import annotations

import functools
import os


@functools.lru_cache(maxsize=1)
def code_roots() -> tuple[str, ...]:
    """The folders of vaelint's own code: the package and its rules (which a
    development checkout keeps apart, in rules/)."""
    import importlib.util

    roots = [os.path.dirname(os.path.dirname(os.path.realpath(__file__)))]  # vaelint/, above cache/
    try:
        spec = importlib.util.find_spec("vaelint.rules")
        roots += [os.path.realpath(p) for p in (spec.submodule_search_locations or [])] if spec else []
    except ImportError:
        pass
    return tuple(sorted(set(roots)))
