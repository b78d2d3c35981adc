"""Which stack frame is "the user's line".

Every fact vaelint reports points at the innermost frame that lies in the
user's own files, not in torch, the standard library, site-packages or
vaelint itself.
"""

from __future__ import annotations

import contextlib
import os
import sys
import sysconfig
from dataclasses import dataclass
from functools import lru_cache
from types import FrameType

from vaelint.source.cells import cell_of, where
from vaelint.source.paths import display_path

_VAELINT_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))  # the package: vaelint/source/..


@dataclass(frozen=True)
class SourceLoc:
    path: str  # absolute path
    line: int
    column: int  # 1-based; 1 when unknown
    function: str = ""
    end_line: int | None = None  # where the expression ends (Python 3.11 positions), when known
    end_column: int | None = None  # 1-based, exclusive

    def display_path(self) -> str:
        return display_path(self.path)

    def where(self, column: bool = False) -> str:
        """``path:line`` for people (``nb.ipynb:cell 3:4`` in a notebook), ``:column`` on request."""
        return where(self.path, self.line, self.column if column else None)

    @property
    def cell(self) -> int | None:
        """The notebook cell this line is in (None outside notebooks)."""
        found = cell_of(self.path, self.line)
        return found[0] if found else None

    @property
    def shown_line(self) -> int:
        """The line a person looks for: in a notebook, the line within its cell."""
        found = cell_of(self.path, self.line)
        return found[1] if found else self.line

    def __str__(self) -> str:
        return self.where()


def _library_roots() -> tuple[str, ...]:
    roots = {_VAELINT_DIR}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        p = sysconfig.get_paths().get(key)
        if p:
            roots.add(os.path.realpath(p))
    for p in sys.path:
        if isinstance(p, str) and p and ("site-packages" in p or "dist-packages" in p):
            roots.add(os.path.realpath(p))
    roots.update(_PIP_TARGETS)
    import importlib.util

    import torch

    roots.add(os.path.dirname(os.path.realpath(torch.__file__)))
    # vaelint's rules (vaelint.rules), which an editable install keeps outside vaelint/
    rules = importlib.util.find_spec("vaelint.rules")
    roots.update(os.path.realpath(p) for p in (rules.submodule_search_locations or ()) if rules is not None)
    return tuple(sorted(roots))


def _holds_installed_packages(folder: str) -> bool:
    """A folder on the path that pip installed packages into (``pip install --target site``, put on
    PYTHONPATH): it holds their ``*.dist-info`` records. A project's own folder holds none (an
    ``*.egg-info`` of ``pip install -e .`` may sit in it: not read)."""
    try:
        return any(name.endswith(".dist-info") for name in os.listdir(folder))
    except OSError:
        return False


# read once, as vaelint starts: the path's folders are PYTHONPATH's by then, and nothing is patched
_PIP_TARGETS = tuple(
    os.path.realpath(p) for p in sys.path if isinstance(p, str) and p and os.path.isdir(p) and _holds_installed_packages(p)
)


_claimed: set[str] = set()  # installed packages checked as the user's code (a target inside one)


def claim(folder: str) -> None:
    """Count ``folder`` (an installed package that holds the target: ``diffusers``) as the
    user's code, so findings and shapes point at its lines."""
    _claimed.add(os.path.realpath(folder))
    is_user_file.cache_clear()


def unclaim_all() -> None:
    """Forget the folders claimed as the user's code (:func:`claim`): each check claims its own (a
    Trainer's library claimed where a script holds no backward, then the next target checked in the
    same process, by a worker or the API, read that library's lines as the user's)."""
    _claimed.clear()
    is_user_file.cache_clear()


@lru_cache(maxsize=4096)
def is_user_file(filename: str) -> bool:
    if not filename or filename.startswith("<"):
        return False
    real = os.path.realpath(filename)
    if any(real.startswith(root + os.sep) for root in _claimed):
        return True
    for root in _roots():
        if real == root or real.startswith(root + os.sep):
            return False
    return True


@lru_cache(maxsize=1)
def _roots() -> tuple[str, ...]:
    return _library_roots()


def frame_loc(frame: FrameType) -> SourceLoc:
    code = frame.f_code
    line = frame.f_lineno
    col = 1
    end_line = end_col = None
    try:
        # Python 3.11+: positions of the instruction being executed.
        positions = list(code.co_positions())
        pos = positions[frame.f_lasti // 2]
        if pos[0] is not None:
            line = pos[0]
        if pos[2] is not None:
            col = pos[2] + 1
        if pos[1] is not None and pos[3] is not None:
            end_line, end_col = pos[1], pos[3] + 1
    except (AttributeError, IndexError):
        pass
    return SourceLoc(os.path.realpath(code.co_filename), line, col, code.co_name, end_line, end_col)


_BOUNDARIES: set = set()


def boundary(func):
    """Mark a vaelint function that calls into the user's code: the search for
    the user's frame stops there, so whatever called vaelint (a test, a
    notebook) is never taken for the model's code."""
    _BOUNDARIES.add(func.__code__)
    return func


def user_frame(start: FrameType | None = None) -> SourceLoc | None:
    """The innermost frame of the current stack that is in the user's files."""
    f = innermost_user_frame(start or sys._getframe(1))
    return frame_loc(f) if f is not None else None


def innermost_user_frame(start: FrameType | None = None) -> FrameType | None:
    """That frame itself (its locals and its caller: vaelint/source/defaultargs.py)."""
    f = start or sys._getframe(1)
    while f is not None:
        code = f.f_code
        if code in _BOUNDARIES:
            return None
        if is_user_file(code.co_filename):
            return f
        f = f.f_back
    return None


def user_stack(start: FrameType | None = None, limit: int = 12) -> tuple[SourceLoc, ...]:
    """The user's frames on the current stack, innermost first."""
    out = []
    f = start or sys._getframe(1)
    while f is not None and len(out) < limit:
        code = f.f_code
        if code in _BOUNDARIES:
            break
        if is_user_file(code.co_filename):
            out.append(frame_loc(f))
        f = f.f_back
    return tuple(out)


_MODULE_CALLS = frozenset({"__call__", "_call_impl", "call", "forward"})


def running_module_site(sites: dict, replayers: tuple = ()) -> tuple[SourceLoc, ...]:
    """The line that built the innermost running module with a known site
    (``sites``: id(module) -> SourceLoc), when the user's own frames say less:
    there is none on the stack, or the module runs inside a ``replayers``
    instance (a Keras functional model replays its layers itself, so the user's
    innermost frame is only the line that called the whole model). Else ()."""
    f = sys._getframe(1)
    site = None
    while f is not None:
        code = f.f_code
        if code in _BOUNDARIES:
            break
        if is_user_file(code.co_filename):
            return ()  # the user's own line is the innermost place: it wins
        if code.co_name in _MODULE_CALLS and code.co_varnames[:1] == ("self",):
            me = f.f_locals.get("self")
            if site is None:
                site = sites.get(id(me))
            if site is not None and replayers and isinstance(me, replayers):
                return (site,)
        f = f.f_back
    return (site,) if site is not None else ()


def call_site(stack: tuple, other: tuple) -> SourceLoc | None:
    """The frame of ``stack`` in the innermost function it shares with ``other``:
    for an op inside ``decode`` called from ``forward``, the ``self.decode(mu)``
    line when ``other`` is an op made in ``forward`` (or below it)."""
    functions = {(loc.path, loc.function) for loc in other}
    return next((loc for loc in stack if (loc.path, loc.function) in functions), None)


def raising_line(error: BaseException) -> str:
    """The source text of the line that raised ``error`` (its traceback's innermost frame)."""
    import linecache

    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return ""
    filename = tb.tb_frame.f_code.co_filename
    linecache.checkcache(filename)  # a file changed since it was cached (a worker checks several) is read again
    lines = linecache.getlines(filename)
    return "".join(lines[tb.tb_lineno - 1 : _statement_end(lines, tb.tb_lineno)])


def _statement_end(lines: list, first: int) -> int:
    """The last line of the statement that starts at ``first`` (1-based): a statement black wrapped
    over several lines (``assert (\n Path(root) / "data.mdb"\n ).exists(), ...``) is read whole."""
    import ast

    for last in range(first, min(first + 12, len(lines)) + 1):
        try:
            ast.parse("".join(lines[first - 1 : last]).strip())
        except SyntaxError:
            continue
        return last
    return first


def user_frame_of_traceback(tb) -> SourceLoc | None:
    """The innermost user frame of an exception's traceback."""
    found = None
    while tb is not None:
        if is_user_file(tb.tb_frame.f_code.co_filename):
            f = tb.tb_frame
            col = 1
            try:
                pos = list(f.f_code.co_positions())[tb.tb_lasti // 2]
                line = pos[0] or tb.tb_lineno
                if pos[2] is not None:
                    col = pos[2] + 1
            except (AttributeError, IndexError):
                line = tb.tb_lineno
            found = SourceLoc(os.path.realpath(f.f_code.co_filename), line, col, f.f_code.co_name)
        tb = tb.tb_next
    return found


@contextlib.contextmanager
def readable_import_path():
    """``sys.path`` holding folder names only, while vaelint reads the installed packages'
    metadata (``importlib.metadata`` stats every entry and raises TypeError on any other, as code
    doing ``sys.path.append(dir)`` with the builtin leaves it): the other entries are put back
    after, where they were, as Python's import system passes them over."""
    saved = sys.path[:]
    kept = [p for p in saved if isinstance(p, (str, os.PathLike))]
    if len(kept) == len(saved):
        yield
        return
    sys.path[:] = kept
    try:
        yield
    finally:
        if sys.path == kept:
            sys.path[:] = saved
