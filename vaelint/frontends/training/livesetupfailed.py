"""The code's own setup failing before its first batch, on nothing vaelint stood in for
(``torch.optim.Adam(params, lr=args.lr)`` with ``--lr`` parsed as a string: a TypeError at every
run). The user's run stops there too: the step that reading the code finds past it is never
trained as written, and checking it in place of the program would pass for a check of code that
cannot run (exit 0, the stop a note). Said as the reason the check stops (exit 2), with the line."""

from __future__ import annotations

import re

from vaelint.errors import VaelintError
from vaelint.frontends.training.livehints import _SIGNATURE

_REMOVED = re.compile(r"(was|has been) removed")
# vaelint's own stand-ins, which a message names where the value that failed was one of them
_STANDINS = ("MissingImport", "StandIn", "Unavailable", "_Anything", "MissingCheckpoint", "Placeholder")


def own_setup_failed(runtime, request, sandbox, said: str = "") -> bool:
    """Did the run first stop in the setup (before any batch was taken; the run goes on past a failed
    top-level statement) at a TypeError or ValueError of the code's own line, where nothing stood in (no --input, no data file,
    checkpoint or library replaced) and the error names none of vaelint's stand-ins?"""
    from vaelint.frontends.training.livecaught import missed_before_the_stop
    from vaelint.frontends.training.livedata import STOOD_IN

    if not runtime.stops or " not here" in said or "is empty here" in said or missed_before_the_stop(runtime):
        # explained by what this machine lacks (the data set's files, read in a try the code went on past:
        # an empty vocabulary of documents that are not here): the user's run has them
        return False
    if (getattr(runtime, "stop_batches", None) or [1])[0] != 0:
        return False  # the first stop came once a batch was taken: the step's, not the setup's
    where, error = runtime.stops[0]
    if type(error) is AttributeError and _REMOVED.search(str(error)) and where:
        return True  # np.Inf under NumPy 2: an API the installed library no longer has, whatever stood in
    if request.inputs or STOOD_IN or any(getattr(sandbox, n, None) for n in ("unloaded", "stood_in", "changed", "adapted", "blocked")):
        return False
    if not where or type(error) not in (TypeError, ValueError) or isinstance(error, VaelintError):
        return False
    text = f"{type(error).__name__}: {error}"
    if _SIGNATURE.search(text):
        return False  # a call of the code's own constructor or function: said with its own advice (--init)
    return not any(name in text for name in _STANDINS) and "cuda" not in text.lower()


def setup_failed_error(run_error: VaelintError) -> VaelintError:
    """What to say for a run that :func:`own_setup_failed`: where, and that nothing past it runs."""
    from vaelint.frontends.training.ways import why

    return VaelintError(
        "load",
        f"running the code as written stops before its first training step ({why(run_error)}): the user's own run stops "
        "there too, so its training step never runs and was not checked. Fix that line.",
    )
