"""A weight the code computes from its data set's length (``kld_weight = batch_size / len(dataset)``,
PyTorch-VAE's M_N), where the data is not here and vaelint stood in for it: the number the run
gives is the stand-in's, not the code's (helper L: a beta_eff of 0.5 and '--beta 0.5' made of
vaelint's 512 stand-in rows, 1400 times the weight on the real dSprites)."""

from __future__ import annotations

import re

from vaelint.source.facts import line_text, module_assignment

_LENGTH = re.compile(r"\blen\(|__len__\(|\bnum_(train|samples|imgs|images|examples)\w*\b|\bn_(train|samples|data)\b")
_NAME = re.compile(r"\b([A-Za-z_]\w*)\b")


def stood_in_length(ctx, factor) -> str:
    """The note of the data that stood in, where the factor's line, or the line that sets a
    module-level name on it, reads a length; "" otherwise."""
    notes = [n for n in getattr(ctx.program, "notes", None) or [] if n.startswith(("the data file ", "the data set ")) and "stands in" in n]
    loc = factor.loc
    if not notes or loc is None:
        return ""
    text = line_text(loc.path, loc.line)
    lines = [text]
    for name in dict.fromkeys(_NAME.findall(text)):
        set_at = module_assignment(loc.path, name)
        if set_at is not None and set_at.line != loc.line:
            lines.append(line_text(loc.path, set_at.line))
    return notes[0] if any(_LENGTH.search(t) for t in lines) else ""
