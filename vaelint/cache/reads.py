"""What a check read, for the result cache (vaelint/cache/store.py).

The worker records every file the check opens (vaelint/worker.py). One kind of
read is weaker: vaelint scans the model's folder for a call of the loss
(vaelint/capture/bindnames.py), and a file that does not even contain the loss's name
cannot hold one. Such a file is no dependency while it still lacks the name,
so a change to a sibling model does not invalidate every target in its folder:
the scan reads it unrecorded and notes the name as absent.
"""

from __future__ import annotations

import contextlib
import os
import sys

_quiet = False
_absent: dict[str, set[str]] = {}
_read: set[str] = set()


def recording() -> bool:
    """Whether the worker's record of opened files should take this open."""
    return not _quiet


@contextlib.contextmanager
def unrecorded():
    """Opens inside are not recorded (the caller says what they meant)."""
    global _quiet
    saved, _quiet = _quiet, True
    try:
        yield
    finally:
        _quiet = saved


def name_absent(path: str, name: str) -> None:
    _absent.setdefault(os.path.realpath(path), set()).add(name)


def read(path: str) -> None:
    """``path`` is a dependency after all (a scan found what it looked for)."""
    _read.add(os.path.realpath(path))


def reset() -> None:
    """A worker starts with nothing read (the parent's own warm-up check read some)."""
    global _quiet
    _quiet = False
    _absent.clear()
    _read.clear()


def absent() -> dict[str, list[str]]:
    return {path: sorted(names) for path, names in _absent.items()}


def explicit() -> set[str]:
    return set(_read)


def record_opens() -> set:
    """Every file this worker opens from now on (Python's audit hook: ``open`` and
    ``io.open_code``, so imports too). The worker is this target's alone, so the
    hook, which cannot be removed, ends with it."""
    opened: set = set()

    reset()

    def audit(event, args):
        if event == "open" and args and isinstance(args[0], str) and recording():
            opened.add(args[0])

    sys.addaudithook(audit)
    return opened


def dependencies(opened: set, modules_before: set) -> list[str]:
    """The user's files the check read: what the result cache digests (vaelint/cache/store.py).
    vaelint's own code and the interpreter's are the cache key's, not a target's."""
    from vaelint.cache.store import code_roots
    from vaelint.frames import is_user_file

    files = set(opened) | explicit()
    files |= {getattr(sys.modules[m], "__file__", None) or "" for m in set(sys.modules) - modules_before}
    ours = tuple(root + os.sep for root in code_roots()) + (os.path.realpath(sys.prefix) + os.sep,)
    out = set()
    for path in files:
        if not path or path.startswith(("/proc/", "/sys/", "/dev/")) or not is_user_file(path):
            continue
        real = os.path.realpath(path)
        if os.path.isfile(real) and not real.startswith(ours):
            out.add(real)
    return sorted(out)
