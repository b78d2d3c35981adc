"""What the Python API reads off a model object it is handed (vaelint/api.py): the class or
function that defines it and its file, how the report names it, and the configuration of the
project that holds it."""

from __future__ import annotations

import os


def config_for(obj, settings):
    """The configuration of the project that holds the model's file (else the current folder's)."""
    _thing, path = source_of(obj)
    return settings.for_file(path) if path else settings.base()


def label(obj) -> str:
    """How the report names a model object: ``vae.py:VAE`` (its class's file), or the class."""
    from vaelint.source.frames import display_path

    thing, path = source_of(obj)
    name = thing.__qualname__.replace(".<locals>.", ".")
    return f"{display_path(path)}:{name}" if path else name


def source_of(obj):
    """(the class or function that defines the model, the file it is defined in or None)."""
    import inspect

    thing = obj if inspect.isclass(obj) or inspect.isfunction(obj) else type(obj)
    try:
        path = inspect.getsourcefile(thing)
    except TypeError:  # defined in the interpreter (python -c, a REPL)
        path = None
    return thing, path if path and os.path.exists(path) else None
