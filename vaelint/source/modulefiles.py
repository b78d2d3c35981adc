"""The file a module was loaded from, where it has one."""

from __future__ import annotations


def file_of(module) -> str:
    """The module's ``__file__`` where it is a path, else "" (a module that replaced itself in
    sys.modules with an object, ``sys.modules[__name__] = Ndim()``, answers with what its
    ``__getattr__`` gives: a function, not a path)."""
    try:
        path = getattr(module, "__file__", None)
    except Exception:  # noqa: BLE001 - an object's __getattr__ standing in for a module
        return ""
    return path if isinstance(path, str) else ""
