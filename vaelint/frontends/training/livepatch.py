"""Attributes of torch, the standard library and the user's classes set while training code
runs (:mod:`.live`, :mod:`.livecuda`, :mod:`.liverun`), and put back exactly as they were."""

from __future__ import annotations

_MISSING = object()  # a class attribute that was inherited: put back by deleting the class's own


class Patches:
    def __init__(self):
        self.saved: list = []

    def set(self, owner, name: str, value) -> None:
        if not hasattr(owner, name):
            return
        own = owner.__dict__.get(name, _MISSING) if isinstance(owner, type) else getattr(owner, name)
        self.saved.append((owner, name, own))
        setattr(owner, name, value)

    def restore(self) -> None:
        while self.saved:
            owner, name, own = self.saved.pop()
            if own is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, own)
