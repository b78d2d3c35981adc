"""A loop whose data the run would end because it came round with no backward of a VAE loss, that
holds a backward which has not run yet (:mod:`.live`): GAN and VAE-GAN trainers that alternate which
network trains by whole epochs (``if train_disc: d_loss.backward()`` / ``if not train_disc:
loss.backward()`` in one batch loop, the flag flipped after each epoch). Its next pass may take the
other branch, so it gets a batch again; a pretraining loop, whose every backward has run, still ends
there (before, the alternating trainer's later epochs got no batch and the check stopped with 'a
condition on the way was false': helper V, CTaylah/vae_gan)."""

from __future__ import annotations

import ast
import os

# passes of one loop given a batch again while a backward of its own has not run: an epoch flag
# alternates within two; a counter that switches every few epochs within a handful
MAX_PASSES = 4


def passes_again(watch, site, frame, where) -> bool:
    """A loop whose data ended once, taken from on a later pass of the loop around it, that holds a
    backward which has not run: one more batch, up to MAX_PASSES."""
    if site not in watch.ended or frame is None or watch.again.get(site, 0) >= MAX_PASSES:
        return False
    if not holds_an_unrun_backward(frame, where[0], watch.passed):
        return False
    watch.again[site] = watch.again.get(site, 0) + 1
    del watch.ended[site]
    return True


def holds_an_unrun_backward(frame, line: int, passed: list) -> bool:
    """Does the loop at ``line`` of ``frame``'s file hold a ``.backward()`` call (in its own body, not
    a function it calls) at a line no backward the run passed over ran at?"""
    from vaelint.frontends.training.sites import parse_file

    path = frame.f_code.co_filename
    file = parse_file(path)
    if file is None:
        return False
    loops = [n for n in ast.walk(file.tree) if isinstance(n, (ast.For, ast.AsyncFor, ast.While)) and n.lineno == line]
    if not loops:
        return False
    calls = {
        n.lineno
        for stmt in loops[-1].body
        for n in ast.walk(stmt)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("backward", "manual_backward")
    }
    here = os.path.realpath(path)
    ran = {
        c.frames[-1][1][0] for c in passed if getattr(c, "frames", None) and os.path.realpath(c.frames[-1][0].f_code.co_filename) == here
    }
    return bool(calls - ran)
