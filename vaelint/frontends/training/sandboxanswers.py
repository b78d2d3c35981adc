"""What the sandbox (:mod:`.sandbox`) answers in place of what it does not do: the value a
write not performed gives back, the output of a program not started, weights read from
torch.hub's cache instead of downloaded."""

from __future__ import annotations

import io


class NoOutput(io.StringIO):
    """``os.popen(command)`` of a program that is not there: no output; ``close()`` gives the
    shell's exit status for a command not found."""

    def close(self):
        super().close()
        return 127 << 8


def from_hub_cache(real, sandbox):
    """``load_state_dict_from_url(url)`` of pretrained weights (a perceptual loss's VGG or LPIPS
    weights, torchvision's ``weights=``): read from torch.hub's cache where they are there,
    nothing downloaded; where they are not, the weights stay as built, as for a checkpoint that
    is not here (the check needs shapes, not trained weights), with a note."""

    def load_state_dict_from_url(url, model_dir=None, *args, file_name=None, **kwargs):
        import os
        from urllib.parse import urlparse

        import torch

        from vaelint.frontends.training.livepickle import MissingCheckpoint

        folder = model_dir or os.path.join(torch.hub.get_dir(), "checkpoints")
        cached = os.path.join(folder, file_name or os.path.basename(urlparse(url).path))
        if not os.path.isfile(cached):
            sandbox._note(f"pretrained weights {os.path.basename(cached)} (torch.hub, not downloaded)", sandbox.unloaded)
            return MissingCheckpoint(url)
        kwargs.pop("progress", None)
        kwargs.pop("check_hash", None)
        return real(url, model_dir, *args, file_name=file_name, progress=False, check_hash=False, **kwargs)

    return load_state_dict_from_url


def _copied_to(src, dst, *_a, **_k):
    """Where shutil.copy would have put the file: into ``dst``, a folder, under its own name."""
    import os

    return os.path.join(dst, os.path.basename(os.fspath(src))) if os.path.isdir(dst) else dst


# what a write the sandbox does not perform gives back, as the real one would
RETURNS = {
    "copy": _copied_to,
    "copy2": _copied_to,
    "copyfile": lambda src, dst, *a, **k: dst,
    "copytree": lambda src, dst, *a, **k: dst,
    "move": _copied_to,
    "Path.write_text": lambda self, data, *a, **k: len(data),
    "Path.write_bytes": lambda self, data, *a, **k: len(memoryview(data)),
    "Path.rename": lambda self, target, *a, **k: type(self)(target),
    "Path.replace": lambda self, target, *a, **k: type(self)(target),
}


def a_pause() -> bool:
    """Is the ``input()`` the code calls now a statement of its own, its answer unread (``input("Press
    Enter to start")``)? Then the run goes on as a user pressing Enter would; a prompt whose answer is
    used (``float(input("KL weight: "))``) is refused, said with its prompt."""
    import ast

    from vaelint.source.facts import line_text
    from vaelint.source.frames import user_frame

    loc = user_frame()
    try:
        stmt = ast.parse(line_text(loc.path, loc.line).strip()).body if loc else []
    except SyntaxError:
        return False
    return len(stmt) == 1 and isinstance(stmt[0], ast.Expr) and isinstance(stmt[0].value, ast.Call) and _named_input(stmt[0].value.func)


def _named_input(func) -> bool:
    import ast

    return isinstance(func, ast.Name) and func.id == "input"


def numpy_batches(sandbox) -> None:
    """``torch.from_numpy(xb)`` where the code's loop yields NumPy arrays and vaelint gave a batch
    of --input's shape in their place (a tensor, marked as vaelint's): the tensor as it is, as
    ``from_numpy`` gives for the array it stands for. Any other tensor fails as in a run of the code."""
    import torch

    from vaelint.inputs import MADE

    real = torch.from_numpy

    def from_numpy(value):
        if isinstance(value, torch.Tensor) and getattr(value, MADE, False):
            return value
        return real(value)

    sandbox._patch(torch, "from_numpy", from_numpy)


class _Screen:
    """A curses window on no terminal: each call draws nothing; its size is a terminal's, and no key is pressed."""

    def getmaxyx(self):
        return (24, 80)

    def getch(self, *args):
        return -1

    def getkey(self, *args):
        return ""

    def subwin(self, *args):
        return _Screen()

    derwin = newwin = subwin

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def terminal_ui(sandbox, curses) -> None:
    """A training script that draws its progress with curses (``curses.wrapper(run)``) runs with no
    terminal under vaelint: its screen draws nothing (its own run, in a terminal, draws there), so its
    training is reached instead of ``nocbreak() returned ERR`` and escape codes in the report."""
    if curses is None:
        return

    def wrapper(fn, *args, **kwargs):
        return fn(_Screen(), *args, **kwargs)

    sandbox._patch(curses, "wrapper", wrapper)
    sandbox._patch(curses, "initscr", lambda: _Screen())
    sandbox._patch(curses, "newwin", lambda *a: _Screen())
    sandbox._patch(curses, "color_pair", lambda n: 0)
    sandbox._patch(curses, "has_colors", lambda: False)
    for name in (
        "start_color",
        "use_default_colors",
        "init_pair",
        "init_color",
        "cbreak",
        "nocbreak",
        "echo",
        "noecho",
        "curs_set",
        "endwin",
        "raw",
        "noraw",
        "napms",
        "beep",
        "flash",
        "doupdate",
        "resizeterm",
        "mousemask",
    ):
        if hasattr(curses, name):
            sandbox._patch(curses, name, lambda *a, **k: None)
