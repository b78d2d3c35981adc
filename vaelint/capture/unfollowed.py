"""A call site's argument vaelint cannot replay (:mod:`.bindnames`, :mod:`.binding`): the model's
own modules applied outside its forward (``graph_loss(model.dec(z), adj, mu, logvar)``, a target
``model.embed(xc, xk)``). A guess in its place would check another loss, so binding it says so."""

from __future__ import annotations

from dataclasses import dataclass

from vaelint.errors import VaelintError


@dataclass(frozen=True)
class Unfollowed:
    code: str  # its text at the call site

    def error(self, where: str, loss: str, param: str) -> VaelintError:
        """Exit 2: where the code calls the loss, with what, and what to check instead."""
        return VaelintError(
            "loss",
            f"{where} calls the loss {loss} with {param} = {self.code}, which vaelint cannot make from the model's "
            "inputs and outputs (the model's own modules applied outside its forward), and a guess would check "
            f"another loss. Check the training code that calls it instead: vaelint check {where.split(':')[0]}",
        )
