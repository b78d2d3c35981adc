"""Inputs that hold one length per sample of padded sequences (``for x, lengths in loader:
model(x, lengths)`` with ``pack_padded_sequence(e, lengths)`` inside): drawn as other 1-D integers
were, in [1, HIGH), the longest was shorter than the padded batch, pad_packed_sequence gave back
fewer steps than the tokens had, and the loss line got a false VAE013 [confirmed] (helper-found, a
SMILES/trajectory VAE). Such an input, named for lengths where the step or the forward takes it and
given the padded length as its HIGH, is drawn in [1, HIGH] with the longest HIGH, longest first."""

from __future__ import annotations

import inspect
from dataclasses import replace

_LENGTH_WORDS = ("len", "length", "lengths", "lens", "seq_len", "seq_lens", "seq_lengths", "lengths_x", "x_len", "x_lens")


def lengths_marked(program, given: list, notes: list) -> list:
    """``given`` with each lengths input marked (InputSpec.lengths), and a note of it."""
    return marked_by_names(given, _names(program), notes)


def marked_by_names(given: list, names: list, notes: list) -> list:
    """``given`` with each lengths input marked, ``names`` the step's or forward's names for them in order
    (a training run's loop target, ``for x, lengths in loader``: vaelint/frontends/training/livebatch.py)."""
    out = []
    for i, s in enumerate(given):
        name = s.name or (names[i] if i < len(names) else "")
        padded = {d for o in given if o is not s for d in o.sample_shape}
        if s.dtype.startswith(("int", "uint")) and len(s.shape) == 1 and s.high is not None and s.high in padded and _a_length(name):
            s = replace(s, lengths=True)
            notes.append(f"input {name} holds one length per sample: drawn in [1, {s.high}], the longest {s.high}, the padded length")
        out.append(s)
    return out


def _a_length(name: str) -> bool:
    word = name.rsplit(".", 1)[-1].lower()
    return word in _LENGTH_WORDS or word.endswith(("_len", "_lens", "_lengths", "_length"))


def _names(program) -> list[str]:
    """The names the step gives its batch's items, else the forward's parameters."""
    step = getattr(program, "step", None)
    if step is not None:
        return list(step.names)
    try:
        params = list(inspect.signature(program.model.forward).parameters.values())
    except (TypeError, ValueError, AttributeError):
        return []
    return [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
