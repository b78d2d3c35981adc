"""Console packages the code imports and this environment lacks (loguru, termcolor, colorama,
colorful, colorlog, coloredlogs): what they give is text for the terminal and nothing reaches the
model or the loss, so a missing one stands in as text passed through. ``colored("epoch 3", "red")``
is ``"epoch 3"``, ``Fore.RED`` is ``""``, ``logger.info(...)`` prints nothing and ``@logger.catch``
hands back the function it decorates (a check that stopped at ``from loguru import logger`` blamed a
logging package: helper-found on music and sketch VAEs)."""

from __future__ import annotations

import types

from vaelint.frontends.standinbase import _StandInModule

CONSOLE = ("loguru", "termcolor", "colorama", "colorful", "colorlog", "coloredlogs")


class ConsoleText(str):
    """Text for the terminal: every name of it is more such text; a call gives back what it was
    given (the text to colour, the function to decorate), or more text."""

    def __getattr__(self, item):
        if item.startswith("__"):
            raise AttributeError(item)
        return ConsoleText()

    def __call__(self, *args, **kwargs):
        return args[0] if args else ConsoleText()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def console(fullname: str) -> types.ModuleType:
    from vaelint.frontends.placeholders import note

    if "." not in fullname:
        note(f"{fullname} is not installed; it stands in as plain text (console output: nothing it gives reaches the model or the loss)")
    return _StandInModule(fullname, lambda item: ConsoleText())


def imported_by_the_code() -> bool:
    """Is the import being found written in the user's code (the first frame outside the import
    system and vaelint)? A library's optional import of a console package is its own to fail."""
    import os
    import sys

    from vaelint.source.frames import _VAELINT_DIR, is_user_file

    own = _VAELINT_DIR + os.sep
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if not name.startswith("<frozen") and "importlib" not in name and not os.path.realpath(name).startswith(own):
            return is_user_file(name)
        frame = frame.f_back
    return False
