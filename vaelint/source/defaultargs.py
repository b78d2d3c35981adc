"""Was a parameter left at the default its ``def`` writes? Read from the source of the running
frame and of its caller's call (Python 3.11 positions), never from values: a ``device='cpu'``
default and a ``'cpu'`` the caller chose after asking ``torch.cuda.is_available()`` are the same
interned string, and only the call's text tells them apart."""

from __future__ import annotations

import ast
import os
from types import FrameType

from vaelint.source.facts import _parse, def_node
from vaelint.source.frames import frame_loc, is_user_file


def given_as_a_default(frame: FrameType, keyword: str) -> bool:
    """Is the call running at ``frame`` (``t.to(device)``, ``torch.zeros(1, device=device)``) given a
    parameter of the frame's function that its caller left at its default?"""
    name = argument_name(frame, keyword)
    return name is not None and left_at_default(frame, name)


def argument_name(frame: FrameType, keyword: str) -> str | None:
    """The name given as the first argument (or as ``keyword=``) of the call running at ``frame``'s
    position (``t.to(device)``: ``"device"``); None where it is no plain name."""
    call = _call_at(frame)
    if call is None:
        return None
    given = next((k.value for k in call.keywords if k.arg == keyword), call.args[0] if call.args else None)
    return given.id if isinstance(given, ast.Name) else None


def left_at_default(frame: FrameType, name: str) -> bool:
    """Is ``name`` a parameter of the function running in ``frame`` that has a default and that the
    caller's call passes nothing for (``VAE()`` for ``def __init__(self, device='cpu')``)? False
    wherever that cannot be read (no source, ``*args``/``**kwargs`` at the call, a caller in a library)."""
    parsed = _parse(os.path.realpath(frame.f_code.co_filename))
    fn = def_node(parsed[0], frame.f_code) if parsed is not None else None
    if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    positional = [a.arg for a in (*fn.args.posonlyargs, *fn.args.args)]
    keyword_only = [a.arg for a in fn.args.kwonlyargs]
    if name in positional:
        index = positional.index(name)
        if index < len(positional) - len(fn.args.defaults):
            return False  # no default
    elif name in keyword_only:
        if fn.args.kw_defaults[keyword_only.index(name)] is None:
            return False
        index = None
    else:
        return False
    caller = frame.f_back
    if caller is None or not is_user_file(caller.f_code.co_filename):
        return False
    call = _call_at(caller)
    if call is None or any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return False
    if any(k.arg == name for k in call.keywords):
        return False
    if index is None:
        return True
    bound_self = bool(positional) and positional[0] in ("self", "cls") and not _explicit_self(call)
    return index - (1 if bound_self else 0) >= len(call.args)


def _explicit_self(call: ast.Call) -> bool:
    """``Base.__init__(self, ...)``: the instance passed by hand (``super().__init__(...)`` binds it)."""
    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr != "__init__":
        return False
    value = func.value
    return not (isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "super")


def _call_at(frame: FrameType) -> ast.Call | None:
    """The call expression the frame is executing, found by its exact source span."""
    loc = frame_loc(frame)
    parsed = _parse(loc.path)
    if parsed is None or loc.end_line is None or loc.end_column is None:
        return None
    for node in ast.walk(parsed[0]):
        if (
            isinstance(node, ast.Call)
            and node.lineno == loc.line
            and node.col_offset == loc.column - 1
            and node.end_lineno == loc.end_line
            and node.end_col_offset == loc.end_column - 1
        ):
            return node
    return None
