"""The target file run as ``python FILE`` runs it (:mod:`.liverun`): its module is ``__main__``."""

from __future__ import annotations

import ast
import contextlib
import sys


def main_name() -> list[ast.stmt]:
    """``__name__ = '__main__'`` at line 1, and the module is ``sys.modules['__main__']`` while it
    runs: the module runs as ``python FILE`` runs it (``typing.get_type_hints`` of a dataclass the
    script defines, which tyro and pydantic read, and pickle look the script's names up there)."""
    main = ast.parse("__name__ = '__main__'\n__import__('sys').modules['__main__'] = __import__('sys').modules[__spec__.name]").body
    for n in (n for stmt in main for n in ast.walk(stmt)):
        if hasattr(n, "lineno"):
            n.lineno = n.end_lineno = 1
            n.col_offset = n.end_col_offset = 0
    return main


@contextlib.contextmanager
def main_module_kept():
    """vaelint's own ``__main__`` back once the run is over."""
    saved = sys.modules.get("__main__")
    try:
        yield
    finally:
        if saved is not None:
            sys.modules["__main__"] = saved
