"""A KeyError on a dict the code built itself (``out["recon_logits"]`` where the forward returns
``dict(recon=..., mu=..., logvar=...)``): a key the code never wrote, not a keyword vaelint was
not given. Told as such, with the keys the dict has and the closest of them."""

from __future__ import annotations

import difflib


def missing_key_hint(error: BaseException, key: str) -> str | None:
    """The hint for a KeyError whose innermost user frame holds a dict, named on the failing line,
    that lacks ``key`` and has string keys of its own; None where no such dict is seen."""
    from vaelint.source.frames import is_user_file

    tb, frame = error.__traceback__, None
    while tb is not None:
        if is_user_file(tb.tb_frame.f_code.co_filename):
            frame, line = tb.tb_frame, tb.tb_lineno
        tb = tb.tb_next
    if frame is None:
        return None
    import linecache

    text = linecache.getline(frame.f_code.co_filename, line)
    for name, value in list(frame.f_locals.items()):
        if not isinstance(value, dict) or key in value or not value or f"{name}[" not in text.replace(" ", ""):
            continue
        keys = [k for k in value if isinstance(k, str)]
        if len(keys) != len(value):
            continue
        close = difflib.get_close_matches(key, keys, n=1, cutoff=0.5)
        shown = ", ".join(repr(k) for k in keys[:8]) + (", ..." if len(keys) > 8 else "")
        meant = f" (did you mean {close[0]!r}?)" if close else ""
        return (
            f"The code reads {name}[{key!r}], but {name} holds {shown} and no {key!r}{meant}: a key the code itself "
            "never wrote. Read a key it has, or write that key where the dict is made."
        )
    return None
