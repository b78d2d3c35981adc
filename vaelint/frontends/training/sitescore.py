"""The order in which several backward sites of one file are tried by the step reader: how much
a backpropagated loss looks like a VAE's, from its name, its function's name and the statements
beside it."""

from __future__ import annotations

import re

from vaelint.frontends.training.sites import Site, enclosing_blocks
from vaelint.source.astutil import segment_of


def site_score(site: Site, text: str) -> int:
    """How much a backpropagated loss looks like a VAE's (its name, its function's, and the block
    that holds it: a KL, a log-variance read there, not a mean alone, which a probe on the
    encoder's mu reads too): the order in which several sites of one file are tried."""
    name = (segment_of(text, site.loss) or "").lower()
    score = 0
    if any(w in name for w in ("vae", "elbo", "kl", "recon")):
        score += 3
    if any(w in name for w in ("disc", "dsc", "task", "critic", "gan", "adv", "_d", "d_loss", "cls")):
        score -= 3
    func = site.place.scope.name.lower()
    if any(w in func for w in ("test", "eval", "valid")):
        score -= 5
    if _VAE_WORDS.search(_block_text(site, text)):
        # the statements beside the backward read a KL, the heads or the ELBO: a script that trains
        # a plain baseline first (an LSTM forecaster, then its VAE, each in a loop of its own) is
        # checked at the VAE's loop, not the first one read
        score += 2
    return score


_VAE_WORDS = re.compile(r"\b(kl\w*|kld\w*|elbo\w*|logvar|log_var|logsigma\w*|reparam\w*)\b", re.IGNORECASE)


def _block_text(site: Site, text: str) -> str:
    """The source of the block that holds the site's backward, inside its scope (a loop's body;
    a module's whole text only where the backward stands at its top level)."""
    from vaelint.source.astutil import source_segment

    blocks = enclosing_blocks(site.place)
    if len(blocks) < 2:
        return ""
    block, _index = blocks[-1]
    return "\n".join(source_segment(text, stmt) or "" for stmt in block)
