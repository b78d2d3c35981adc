"""``sys.argv`` for the script as ``python PATH ARGS`` gives it, while its code runs (the run's
and the read code's setup alike), and argparse's errors as vaelint's messages."""

from __future__ import annotations

import contextlib

from vaelint.errors import VaelintError


@contextlib.contextmanager
def script_argv(path: str, args: list[str], record=None):
    """``sys.argv`` as ``python PATH ARGS`` gives it, and argparse's errors as
    messages about --script-args instead of an exit (the first one is kept on
    ``record.argv_error``: a setup line that fails binds placeholders, but a
    script whose arguments do not parse cannot be checked)."""
    import argparse
    import sys

    from vaelint.source.frames import display_path

    saved_argv, saved_error = sys.argv, argparse.ArgumentParser.error

    def error(parser, message):
        given = " ".join(args)
        hint = f" (given: --script-args {given!r})" if args else ""
        e = VaelintError(
            "input",
            f"{display_path(path)}: the script's argument parser stops: {message}{hint}. Give the script's "
            'arguments as `python script.py ARGS` would take them, with --script-args "ARGS" '
            '(e.g. --script-args "--data-dir data --epochs 1").',
        )
        e.argv = True  # the script's own arguments: neither way to the step can help
        if record is not None and getattr(record, "argv_error", None) is None:
            record.argv_error = e
        raise e

    sys.argv = [path, *args]
    argparse.ArgumentParser.error = error
    try:
        yield
    finally:
        sys.argv = saved_argv
        argparse.ArgumentParser.error = saved_error
