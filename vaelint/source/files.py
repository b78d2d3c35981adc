"""Reading a named source file as Python would: its text (a notebook's code cells
joined; a fix being checked again stands in for the file), and why it cannot be read
(not in its encoding, a link to nothing or to itself)."""

from __future__ import annotations

import errno
import os

from vaelint.errors import VaelintError
from vaelint.source.frames import display_path

# what marks a project's root folder (a repository's top): the import roots and the cache's layout read it
PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")


def read_source(path: str) -> str:
    """The Python source of a file (a notebook's code cells, joined:
    vaelint/frontends/notebook.py)."""
    from vaelint.source.overlay import text_of

    edited = text_of(path)  # a fix being checked again (vaelint/source/overlay.py)
    if edited is not None:
        return edited
    if path.endswith(".ipynb"):
        from vaelint.source.cells import notebook_source

        return notebook_source(path).text  # the code cells as one Python text (vaelint/source/cells.py)
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        text = fh.read()
    if text.lstrip().startswith("{") and '"nbformat"' in text:
        _notebook_json(path, text)
    from vaelint.source.cells import ipython_lines_passed

    return ipython_lines_passed(text) or text  # a notebook exported as .py with its !pip lines: read as its cells are


def _notebook_json(path: str, text: str) -> None:
    """A notebook's JSON saved under a .py name parses as one Python dict and defines nothing:
    passed over, it would be "no VAE targets" (exit 0) on code never read. Exit 2, saying so."""
    import json

    try:
        held = json.loads(text)
    except ValueError:
        return
    if isinstance(held, dict) and "cells" in held and "nbformat" in held:
        raise VaelintError(
            "input",
            f"{display_path(path)} holds a Jupyter notebook's JSON, not Python (a notebook saved under a .py name): "
            "rename it to .ipynb and check that (vaelint reads a notebook's code cells), or export it as Python.",
        )


def undecodable(path: str) -> None:
    """A Python file whose bytes are not in its encoding (UTF-8, or what a coding line
    declares) does not import: exit 2 with where, as Python would refuse it (read_source
    itself is lenient, for the files it only scans)."""
    if not path.endswith(".py"):
        return
    import io
    import tokenize

    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return  # said by the read itself
    encoding = "utf-8"
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        data.decode(encoding)
    except LookupError as e:
        raise VaelintError("load", f"{display_path(path)}:1:1: the file declares an encoding Python does not know ({e}).") from None
    except (SyntaxError, UnicodeDecodeError) as e:  # SyntaxError: not UTF-8 in its first two lines, and no coding line
        e = e if isinstance(e, UnicodeDecodeError) else _first_bad_byte(data)
        line = data[: e.start].count(b"\n") + 1
        raise VaelintError(
            "load",
            f"{display_path(path)}:{line}:1: the file is not valid {encoding} (byte {data[e.start]:#x}), so Python cannot "
            "import it: save it as UTF-8, or declare its encoding on its first line (# -*- coding: latin-1 -*-).",
        ) from None


def _first_bad_byte(data: bytes) -> UnicodeDecodeError:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        return e
    return UnicodeDecodeError("utf-8", data, 0, 1, "not UTF-8")


def missing_file(path: str) -> str:
    """Why a named file cannot be opened, in words: absent, or a link to nothing or to itself."""
    if os.path.islink(path):
        try:
            os.stat(path)
        except OSError as e:
            if e.errno == errno.ELOOP:
                return "a symbolic link that leads back to itself, so there is no file to read. Point it at the model file."
        return f"a symbolic link to {os.readlink(path)}, which does not exist. Point it at the model file."
    return "no such file. Check the path in the target (PATH.py:NAME); it is relative to the current directory."


def compile_user_code(code, path: str, mode: str):
    """``compile(code, path, mode)`` as Python compiles the user's file: with its own ``from
    __future__`` imports and never vaelint's (``from __future__ import annotations`` of the
    vaelint module that compiles would make the user's annotations strings, and a dataclass
    parsed by tyro or pydantic then fails: bkuen/active-rlhf)."""
    return compile(code, path, mode, flags=_future_flags(path), dont_inherit=True)


def _future_flags(path: str) -> int:
    import __future__

    import ast

    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError:
        return 0
    key = (path, mtime)
    if key not in _FLAGS:
        flags = 0
        try:
            tree = ast.parse(read_source(path))
        except (SyntaxError, ValueError, OSError):
            tree = ast.Module(body=[], type_ignores=[])
        for stmt in tree.body:
            if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
                for alias in stmt.names:
                    feature = getattr(__future__, alias.name, None)
                    flags |= getattr(feature, "compiler_flag", 0)
            elif not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)):
                break  # future imports come first (after the docstring)
        _FLAGS[key] = flags
    return _FLAGS[key]


_FLAGS: dict = {}


def newer_python(path: str, message: str) -> str:
    """Where a file that does not parse is written for a newer Python than this one: the
    sentence that says so (the project's ``requires-python``, or an f-string that nests its
    quotes, Python 3.12's); "" where it reads as a plain syntax error."""
    import re
    import sys

    here = sys.version_info[:2]
    wanted = _required_python(path)
    if wanted is not None and wanted > here:
        why = f"the project asks for Python >={wanted[0]}.{wanted[1]} (requires-python)"
    elif here < (3, 12) and re.match(r"f-string\b", message or ""):
        why = "an f-string that nests its quotes or spans lines is Python 3.12's syntax"
    else:
        return ""
    return (
        f"it is written for a newer Python than this one ({here[0]}.{here[1]}): {why}. Run vaelint with the Python "
        "the code is written for (install it in that environment)"
    )


def _required_python(path: str) -> tuple[int, int] | None:
    """The lowest Python the nearest pyproject.toml above ``path`` allows (``>=3.12``), if it says."""
    import re

    folder = os.path.dirname(os.path.abspath(path))
    for _ in range(8):
        config = os.path.join(folder, "pyproject.toml")
        if os.path.isfile(config):
            try:
                with open(config, encoding="utf-8", errors="replace") as fh:
                    text = fh.read()
            except OSError:
                return None
            spec = re.search(r"""requires-python\s*=\s*["']([^"']+)["']""", text)
            low = re.search(r">=?\s*3\.(\d+)", spec.group(1)) if spec else None
            return (3, int(low.group(1))) if low else None
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent
    return None
