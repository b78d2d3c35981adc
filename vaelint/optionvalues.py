"""The command line's option values, converted without typer's pydantic layer.

typer 0.2x converts every option's value through a pydantic ``TypeAdapter``,
built on first use: importing pydantic and building check's 23 adapters costs
about 0.09 s of every command, more than half of a re-check answered from the
result cache. vaelint's options are plain (str, int, float, a str Enum, bool
flags, lists of str), so a well-formed value is converted here, to what typer
would give; anything else (a malformed number, an unknown choice, a value below
the option's minimum, a type not listed here) goes to typer's own conversion,
so its messages and exit status are typer's. A typer without that layer (before
0.2x: plain click types) is left as it is.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Any, get_args, get_origin

from typer.core import TyperCommand, TyperGroup

_INT = re.compile(r"[+-]?[0-9]+\Z")
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")


class _PlainValues:
    def parse_args(self, ctx, args):
        for param in self.get_params(ctx):  # --help too
            _install(param)
        return super().parse_args(ctx, args)


class PlainValuesCommand(_PlainValues, TyperCommand):
    """A typer command whose plain option values skip pydantic (``app.command(cls=...)``)."""


class PlainValuesGroup(_PlainValues, TyperGroup):
    """The same for the application's own options (``--version``)."""


def _install(param) -> None:
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or getattr(param, "_runtime_param", False) is not None:
        return  # not typer 0.2x's layer, or converted once already
    info = descriptor.parameter_info
    if info.max is not None or info.parser is not None or getattr(info, "click_type", None) is not None:
        return
    kind, many = _kind(descriptor.annotation)
    if kind is not None:
        param._runtime_param = _PlainValue(param, kind, many, info.min)


def _kind(annotation) -> tuple[type | None, bool]:
    """(the element type, whether it is a list) for the types converted here."""
    if get_origin(annotation) is list:
        (inner,) = get_args(annotation) or (None,)
        return (str, True) if inner is str else (None, False)
    if annotation in (str, int, float, bool) or (isinstance(annotation, type) and issubclass(annotation, Enum)):
        return annotation, False
    return None, False


class _PlainValue:
    """The value typer's adapter would give, for a well-formed value; else typer's own."""

    def __init__(self, param, kind: type, many: bool, low):
        self.param, self.kind, self.many, self.low = param, kind, many, low

    def coerce(self, value: Any, param, ctx) -> Any:
        multi = param.multiple or param.nargs == -1
        if value is None:
            return () if multi else None
        if self.many and isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return list(value)
        if not self.many and not multi:
            converted = self._one(value)
            if converted is not _NO:
                return converted
        return self._typers_own().coerce(value, param=param, ctx=ctx)

    def _one(self, value):
        kind = self.kind
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            out = value
        elif not isinstance(value, str):
            return _NO
        elif kind is str:
            out = value
        elif kind is int and _INT.match(value):
            out = int(value)
        elif kind is float and _FLOAT.match(value):
            out = float(value)
        elif issubclass(kind, Enum) and value in kind._value2member_map_:
            out = kind(value)
        else:
            return _NO
        if self.low is not None and kind in (int, float) and out < self.low:
            return _NO
        return out

    def _typers_own(self):
        from typer._coercion import build_runtime_param

        return build_runtime_param(self.param.type_descriptor)


_NO = object()
