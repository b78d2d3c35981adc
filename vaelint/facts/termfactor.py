"""One factor of a loss term's scale (a reduction, a size, a number written on it): what
:class:`vaelint.facts.reductions.TermWalker` collects on its way down a term."""

from __future__ import annotations

from dataclasses import dataclass

import torch.fx as fx

from vaelint.source.frames import SourceLoc


@dataclass
class Factor:
    kind: str  # "sum", "mean", "size", "const"
    value: float  # multiplicative factor at the user's batch size (1 for a sum)
    batch_power: int  # power of B it contributes
    const_sizes: float  # constant sizes this factor divides by (a mean's, a numel's D)
    over: str  # "B, 784" for reductions; the number for constants
    node: fx.Node
    op: str
    shared: bool = False  # a reduction of a whole sum of terms ((rec + kl).mean()), not the term's own
    # a number that is the batch size written down (KLD /= args.batch_size * 784): the batch it pins
    pinned: int | None = None

    @property
    def loc(self) -> SourceLoc | None:
        return self.node.meta.get("loc")
