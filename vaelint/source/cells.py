"""Files whose Python is not the file's text: Jupyter notebooks.

A notebook's code cells are run as one Python text (cells in order, magics and
shell lines blanked, one empty line between cells), so every frame and node
of its code has a line in that text. Here that line is mapped back to the
cell and the line in it, which is what a person sees (``nb.ipynb:cell 3:4``,
as ruff writes it; cells counted from the top, markdown cells included).
"""

from __future__ import annotations

import io
import json
import os
import re
import tokenize
from dataclasses import dataclass
from functools import lru_cache

from vaelint.source.paths import display_path


@dataclass(frozen=True)
class NotebookText:
    text: str
    # one entry per line of text: (cell number, line in the cell); (0, 0) between cells
    lines: tuple[tuple[int, int], ...]


# cell magics whose body is still Python (the rest run another language, or write files)
_PYTHON_CELL_MAGICS = ("%%time", "%%timeit", "%%capture", "%%prun", "%%memit")


# line magics and shell aliases IPython runs without their % (automagic, on by default: Colab's
# `cd VAE_MNIST`, `pip install x`, `ls data`), unless the notebook binds the name itself
_AUTOMAGICS = frozenset(
    "cd pwd ls ll pip conda env pushd popd dhist bookmark load_ext matplotlib mkdir rmdir rm cp mv cat less more man clear".split()
)
_AUTOMAGIC = re.compile(r"([A-Za-z_]\w*)(?:\s+(?![=+\-*/%&|^<>!]=|=)\S.*)?$")


_LAST_OUTPUT = re.compile(r"^(?:_{1,3}|_\d+)\s*(?:#.*)?$")


def _code_line(line: str, bound: frozenset = frozenset()) -> str:
    """A cell's line as Python: IPython's magics (%...), shell escapes (!...), help (?obj)
    and magics written without their % (``cd data``) become ``pass`` at the same indentation."""
    stripped = line.lstrip()
    if stripped.startswith(("%", "!", "?")) or (stripped.endswith("?") and not stripped.startswith("#")) or "= !" in stripped:
        return line[: len(line) - len(stripped)] + "pass"
    if _LAST_OUTPUT.match(stripped):  # `_` alone: IPython's last output shown again (a name only IPython binds)
        return line[: len(line) - len(stripped)] + "pass"
    magic = _AUTOMAGIC.match(stripped)
    if magic and magic.group(1) in _AUTOMAGICS and magic.group(1) not in bound and not stripped.startswith(f"{magic.group(1)}("):
        return line[: len(line) - len(stripped)] + "pass"
    return line


def _bound_names(sources: list[str]) -> frozenset:
    """The automagic names the notebook binds as Python names (``ls = ...``, ``def cd``,
    ``import env``, ``for rm in``): there a line that starts with one is Python."""
    text = "\n".join(sources)
    binds = (
        r"^[ \t]*(?:[\w.]+\s*,\s*)*{n}\s*(?:,[^=\n]*)?(?::[^=\n]*)?=(?!=)",  # n = ..., a, n = ..., n: int = ...
        r"\b(?:def|class|as|global|nonlocal)\s+{n}\b",
        r"\bimport\s+(?:[\w.]+\s*,\s*)*{n}\b",
        r"\bfor\s+(?:[\w]+\s*,\s*)*{n}\b",
    )
    return frozenset(n for n in _AUTOMAGICS if any(re.search(b.format(n=n), text, re.M) for b in binds))


def _continued_lines(source: str) -> set[int]:
    """The cell's lines (1-based) that continue the line before: inside brackets,
    after a backslash, inside a string. There a leading ``%`` is Python's operator
    (``print('%03d' \\n % (epoch, cost))``, rasbt's notebooks), not a magic."""
    out: set[int] = set()
    depth = 0
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.OP and tok.string in "([{":
                depth += 1
            elif tok.type == tokenize.OP and tok.string in ")]}":
                depth = max(0, depth - 1)
            elif tok.type == tokenize.NL and depth:
                out.add(tok.start[0] + 1)
            elif tok.type == tokenize.STRING and tok.end[0] > tok.start[0]:
                out.update(range(tok.start[0] + 1, tok.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):
        pass  # a cell that does not tokenize (a magic's own syntax): its lines as they come
    lines = source.split("\n")
    out.update(k + 1 for k, line in enumerate(lines, start=1) if line.rstrip().endswith("\\"))
    return out


@lru_cache(maxsize=32)
def _read(path: str, mtime: int) -> NotebookText:
    with open(path, encoding="utf-8") as fh:
        nb = json.load(fh)
    out: list[str] = []
    lines: list[tuple[int, int]] = []
    sources = {
        number: "".join(cell.get("source", "")) if isinstance(cell.get("source", ""), list) else str(cell.get("source", ""))
        for number, cell in enumerate(nb.get("cells", []), start=1)
        if cell.get("cell_type") == "code"
    }
    bound = _bound_names(list(sources.values()))
    for number, source in sources.items():
        cell_lines = source.split("\n")
        first = cell_lines[0].strip() if cell_lines else ""
        skip_all = first.startswith("%%") and not first.startswith(_PYTHON_CELL_MAGICS)
        continued = _continued_lines(source)
        shell = False  # the line before is IPython's (!cmd \): its continuation is IPython's too
        for k, line in enumerate(cell_lines, start=1):
            text = "" if skip_all or (k == 1 and first.startswith("%%")) else line if k in continued else _code_line(line, bound)
            if shell and k in continued:
                text = ""
            shell = (text.strip() == "pass" and text != line or shell and k in continued) and line.rstrip().endswith("\\")
            out.append(text)
            lines.append((number, k))
        out.append("")
        lines.append((0, 0))
    return NotebookText("\n".join(out) + "\n", tuple(lines))


def notebook_text(path: str) -> NotebookText:
    """The Python of a notebook, with its line map (``ValueError`` if it is not JSON)."""
    real = os.path.realpath(path)
    try:
        return _read(real, os.stat(real).st_mtime_ns)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not a notebook (not JSON: {e})") from None


def cell_of(path: str, line: int) -> tuple[int, int] | None:
    """(cell, line in the cell) for a line of a notebook's Python, else None."""
    if not path.endswith(".ipynb"):
        return None
    try:
        lines = notebook_text(path).lines
    except (OSError, ValueError):
        return None
    if 0 < line <= len(lines) and lines[line - 1][0]:
        return lines[line - 1]
    return None


def where(path: str, line: int, column: int | None = None) -> str:
    """``path:line[:column]`` for people (relative when under the current
    directory), ``nb.ipynb:cell 3:4[:column]`` in a notebook."""
    cell = cell_of(path, line)
    head = f"{display_path(path)}:cell {cell[0]}:{cell[1]}" if cell else f"{display_path(path)}:{line}"
    return f"{head}:{column}" if column is not None else head


def notebook_source(path: str):
    """The notebook's Python and line map; its lines are registered with
    ``linecache`` so that ``inspect.getsource`` and tracebacks read the code, not
    the JSON."""
    import linecache

    real = os.path.realpath(path)
    nb = notebook_text(real)
    lines = nb.text.splitlines(True)
    linecache.cache[real] = (len(nb.text), None, lines, real)
    return nb


_ESCAPE_LINE = re.compile(r"^[ \t]*[!%]", re.M)


def ipython_lines_passed(text: str) -> str | None:
    """A .py file exported from a notebook (Colab's "Download .py") that keeps its shell escapes and
    magics (``!pip install ...``, ``%matplotlib inline``) and so does not parse: the same text with
    those lines as ``pass``, as a notebook's are read (each at its place), where that parses; else
    None (a file Python can run, or one that does not parse for another reason)."""
    import ast

    if not _ESCAPE_LINE.search(text):
        return None
    try:
        ast.parse(text)
        return None
    except (SyntaxError, ValueError):
        pass
    continued = _continued_lines(text)
    lines = text.split("\n")
    out = [line if k in continued or not line.lstrip().startswith(("!", "%")) else _code_line(line) for k, line in enumerate(lines, 1)]
    converted = "\n".join(out)
    try:
        ast.parse(converted)
    except (SyntaxError, ValueError):
        return None
    return converted


def exported_notebook(path: str) -> list[str]:
    """The report's note for a .py file read with its IPython lines passed over ([] for any other)."""
    import os

    if not path.endswith(".py"):
        return []
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return []
    if ipython_lines_passed(text) is None:
        return []
    continued = _continued_lines(text)
    escapes = [k for k, line in enumerate(text.split("\n"), 1) if k not in continued and line.lstrip().startswith(("!", "%"))]
    shown = os.path.relpath(path) if not os.path.relpath(path).startswith("..") else path  # as the report shows paths
    return [
        f"{shown} is a notebook exported as .py: its {len(escapes)} IPython line(s) (shell escapes and magics, "
        f"the first at line {escapes[0]}) were passed over, as a notebook's are; python itself would not run the file"
    ]
