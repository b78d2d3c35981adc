"""Where the batch is in inputs vaelint read off the code's own batch (no --input given): an input
whose dim 0 disagrees with the others' batch while its dim 1 is that batch is a transposed copy
(``model(x, x.T)``, a cell x gene VAE's per-gene path), its batch at dim 1. Before, the inputs
vaelint had inferred were refused as the user's "--input specs that disagree", with advice
(``--batch-dim N``, one dim for all) that could not place them."""

from __future__ import annotations

from collections import Counter


def placed_batch(specs: list, notes: list) -> list:
    """The specs with the batch at dim 1 of those that have it there (said in a note)."""
    plain = [s for s in specs if not s.name and not getattr(s, "indexes_batch", False) and s.shape]
    if len(plain) < 2 or len({s.batch for s in plain}) == 1:
        return specs
    batch, _count = Counter(s.shape[0] for s in plain).most_common(1)[0]
    out = []
    for s in specs:
        moved = s in plain and s.shape[0] != batch and len(s.shape) >= 2 and s.shape[1] == batch and s.batch_dim == 0
        if moved:
            s = s.with_batch_dim(1)
            notes.append(f"input {s.text()}: its dim 1 is the batch ({batch}) the other inputs have at dim 0 (a transposed copy)")
        out.append(s)
    return out
