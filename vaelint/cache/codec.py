"""A result as data: the cache's entries are JSON, never pickle.

Reading an entry builds only the dataclasses listed here, through their
constructors, from JSON values; nothing in an entry can name a class, a
function or a module to load, so a planted or foreign file can at worst be a
miss. Tuples, sets and enums keep their types by a tag; a value of any other
type makes the result unstorable (it is then not cached, and checked each time).
"""

from __future__ import annotations

import dataclasses
import math

from vaelint.diagnostics import Check, Finding, FlowRow, TargetResult
from vaelint.errors import VaelintError
from vaelint.fixes.edits import Edit, Fix
from vaelint.source.frames import SourceLoc
from vaelint.vocab import Severity

_CLASSES = {cls.__name__: cls for cls in (TargetResult, Finding, FlowRow, Check, SourceLoc, Fix, Edit)}
_ENUMS = {"Severity": Severity}
# fields that hold what stays in the worker (a graph node): never stored, rebuilt as their default
_LEFT_OUT = {("FlowRow", "node"), ("TargetResult", "cached")}


class Unstorable(TypeError):
    """A value the cache does not store (the result is checked again next time)."""


class Malformed(ValueError):
    """An entry that is not one this version wrote: a miss."""


def encode(value):
    if isinstance(value, Severity):  # a str too: tagged before the plain strings, or it comes back one
        return {"enum": "Severity", "value": value.value}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, (tuple, frozenset, set)):
        kind = "tuple" if isinstance(value, tuple) else "frozenset" if isinstance(value, frozenset) else "set"
        items = [encode(v) for v in value]
        return {kind: items if kind == "tuple" else sorted(items, key=repr)}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {"dict": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, VaelintError):
        extra = {k: encode(v) for k, v in vars(value).items() if k not in ("kind", "message")}
        return {"error": [value.kind, value.message], "attrs": extra}
    name = type(value).__name__
    if dataclasses.is_dataclass(value) and _CLASSES.get(name) is type(value):
        return {
            "class": name,
            "fields": {
                f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init and (name, f.name) not in _LEFT_OUT
            },
        }
    raise Unstorable(f"a {name} is not stored in the cache")


def decode(data):
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict) or len(data) not in (1, 2):
        raise Malformed("an entry of an unknown shape")
    (tag, body), *rest = data.items()
    if tag == "float" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag in ("tuple", "frozenset", "set") and isinstance(body, list):
        return {"tuple": tuple, "frozenset": frozenset, "set": set}[tag](decode(v) for v in body)
    if tag == "dict" and isinstance(body, list) and all(isinstance(p, list) and len(p) == 2 for p in body):
        return {_hashable(decode(k)): decode(v) for k, v in body}
    if tag == "enum" and rest and _ENUMS.get(body):
        try:
            return _ENUMS[body](rest[0][1])
        except ValueError:
            raise Malformed(f"an unknown {body}") from None
    if tag == "error" and isinstance(body, list) and len(body) == 2 and all(isinstance(b, str) for b in body):
        error = VaelintError(*body)
        attrs = rest[0][1] if rest and rest[0][0] == "attrs" and isinstance(rest[0][1], dict) else {}
        for k, v in attrs.items():
            setattr(error, str(k), decode(v))
        return error
    if tag == "class" and rest and isinstance(rest[0][1], dict) and body in _CLASSES:
        return _build(_CLASSES[body], rest[0][1])
    raise Malformed("an entry of an unknown shape")


def _build(cls, fields: dict):
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    if not set(fields) <= known:
        raise Malformed(f"a {cls.__name__} with fields this version does not have")
    try:
        return cls(**{k: decode(v) for k, v in fields.items()})
    except TypeError as e:
        raise Malformed(f"a {cls.__name__} that does not build: {e}") from None


def _hashable(key):
    if isinstance(key, (list, dict, set)):
        raise Malformed("a key that is not hashable")
    return key
