"""The methods of the code's own data set class, on a data set that stands in (its data is not
here): a method the code calls before it iterates (``loader.dataset.load_next_buffer()``, a
``shuffle()`` or ``set_epoch()`` of its own) reads the files its constructor never listed; it runs
as written where it can, and where it stops it is passed over with a note, its result a stand-in
that says what it stands for if the step uses it."""

from __future__ import annotations

import functools

from vaelint.errors import error_text

_OWN = {"__len__", "__getitem__", "__getattr__", "__init__", "__iter__"}


def tolerant_methods(base: type, name: str, notes: list) -> dict:
    """``{method name: a wrapper}`` for each plain method the code's classes in ``base``'s MRO
    define (not its dunders, not the item access the stand-in gives)."""
    from vaelint.source.frames import is_user_file

    out: dict = {}
    for klass in reversed(base.__mro__):
        for attr, value in vars(klass).items():
            code = getattr(value, "__code__", None)
            if attr.startswith("__") or attr in _OWN or code is None or not is_user_file(code.co_filename):
                continue
            out[attr] = _tolerant(value, name, attr, notes)
    return out


def _tolerant(method, name: str, attr: str, notes: list):
    @functools.wraps(method)
    def run(self, *args, **kwargs):
        from vaelint.frontends.training.standinvalue import StandIn

        try:
            return method(self, *args, **kwargs)
        except (AttributeError, OSError) as e:  # what its constructor never set, a file not here: it stands in
            note = f"the data set {name}'s {attr}() stopped ({error_text(e)}): passed over, as the data set stands in"
            if note not in notes:
                notes.append(note)
            return StandIn(f"what {name}.{attr}() returns (the data set stands in: its data is not here)")

    return run
