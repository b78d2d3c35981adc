"""A reconstruction loss whose two sides are both the reconstruction (``binary_cross_entropy(
input=recon, target=recon)``, a typo of ``target=x``): the loss reads no data, so the decoder is
trained toward its own output whatever the input (BCE(p, p) is p's entropy). VAE003 says so."""

from __future__ import annotations

import torch.fx as fx

from vaelint.capture.ops import CLASS_INDEX_LOSSES, RECON_LOSS_OPS
from vaelint.facts.reparams import heads_of

# the reconstruction losses that compare two tensors element for element (not a class index's, nor a
# likelihood with a third tensor or a divergence)
COMPARING = tuple(sorted(RECON_LOSS_OPS - CLASS_INDEX_LOSSES - {"gaussian_nll_loss", "poisson_nll_loss", "kl_div"}))


def compared_with_itself(ctx) -> list[fx.Node]:
    """The comparing losses in the loss whose both sides are computed from the reconstruction and
    neither reads the data other than through the encoder."""
    roles = ctx.roles
    recon, total = roles.recon, roles.loss_total
    data = frozenset(n for n in roles.inputs if isinstance(n, fx.Node))
    if recon is None or total is None or not data or roles.comparisons:
        return []  # a loss that compares the reconstruction with the data elsewhere: a consistency term beside it
    around = frozenset(heads_of(roles.reparams))  # the data read through the encoder is no data the loss reads
    out = []
    for node in ctx.nodes_by_op(*COMPARING):
        sides = [a for a in (*node.args[:2], node.kwargs.get("input"), node.kwargs.get("target")) if isinstance(a, fx.Node)]
        if len(sides) != 2 or not ctx.view.depends_on(total, node):
            continue
        if all(ctx.view.depends_on(s, recon) for s in sides) and not any(ctx.view.reads_around(s, data, around) for s in sides):
            out.append(node)
    return out
