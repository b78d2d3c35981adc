"""A target vaelint calls itself (``wrapper.py:TabVAE.fit`` whose script stopped before it): what
its parameters nothing passes say when the code uses one (liverun._arguments), and the run's stop
said from that call, with where the script's own way stopped first (livewhy._why_stopped)."""

from __future__ import annotations

from vaelint.errors import VaelintError

NOTHING_PASSES = "which nothing passes"


def named_call_stop(stops: list, where: str, text: str) -> str | None:
    """The run's stop as the named target's own call said it, where the script stopped first
    and vaelint's call of the target then lacked a parameter's value; else None."""
    last = stops[-1][1] if stops else None
    if len(stops) < 2 or not isinstance(last, VaelintError) or NOTHING_PASSES not in last.message:
        return None
    first = f" (the script's own way to it stopped first, at {where}: {text.removeprefix(f'{where}: ')})" if where else ""
    return f"running it stopped: {last.message.rstrip('.')}{first}"
