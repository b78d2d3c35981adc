"""Edited sources that stand in for the user's files during one analysis,
without writing them: how a fix is checked again before it is offered
(vaelint/fixes/verify.py).

Everything that reads a user file reads it through here: ``read_source`` (vaelint/source/files.py)
(the model file, its package siblings, the training front end's scripts),
``linecache`` (``inspect.getsource``, the lines a report quotes), and the import
system (a loss module the model file imports as ``import losses``).
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import linecache
import os
import sys

_sources: dict[str, str] = {}  # real path -> the text that stands in for the file


def text_of(path: str) -> str | None:
    """The edited text standing in for ``path``, or None (read the file)."""
    return _sources.get(os.path.realpath(path)) if _sources else None


class _Finder(importlib.abc.MetaPathFinder):
    """Imports an edited file from its edited text (and writes no bytecode for it)."""

    def find_spec(self, fullname, path, target=None):
        return spec_of(fullname, path, edited_only=True)


def spec_of(fullname: str, path=None, edited_only: bool = False):
    """The module's spec as the file system has it, its edited text standing in where
    there is one; ``edited_only``: None for a file not edited."""
    spec = importlib.machinery.PathFinder.find_spec(fullname, path)
    if spec is None or not spec.origin or os.path.realpath(spec.origin) not in _sources:
        return None if edited_only else spec
    spec.loader = _Loader(fullname, spec.origin)
    return spec


class _Loader(importlib.machinery.SourceFileLoader):
    def get_data(self, path):
        text = text_of(path)
        return text.encode("utf-8") if text is not None else super().get_data(path)

    def get_code(self, fullname):
        return compile(text_of(self.path), self.path, "exec", dont_inherit=True)


@contextlib.contextmanager
def standing_in(sources: dict[str, str]):
    """While inside: each path of ``sources`` reads as its text."""
    if not sources:
        yield
        return
    saved_cache = {}
    finder = _Finder()
    for path, text in sources.items():
        real = os.path.realpath(path)
        _sources[real] = text
        saved_cache[real] = linecache.cache.get(real)
        # no modification time: linecache.checkcache keeps the entry as it is
        linecache.cache[real] = (len(text), None, text.splitlines(keepends=True), real)
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for real, entry in saved_cache.items():
            _sources.pop(real, None)
            if entry is None:
                linecache.cache.pop(real, None)
            else:
                linecache.cache[real] = entry
