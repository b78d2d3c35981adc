"""A number written in an op of a recorded graph (``kl * 0.5``, ``loss / 64``), as each run at
another batch size had it: the same everywhere (a constant), or following the batch (a size the
code read and passed on as a Python number). :class:`vaelint.facts.reductions.TermWalker` asks."""

from __future__ import annotations

import re
from fractions import Fraction

from vaelint.capture.ops import flat_args


def same_at_all_batches(runs, node, value) -> bool:
    """The number is in the op's arguments in every run, at every batch size."""
    seen = [r.args.get(node) for r in runs.runs.values() if node in r.args]
    return len(seen) > 1 and all(value in flat_args(s) for s in seen)


def not_a_size(runs, node, value) -> bool:
    """A number in an op only the user's batch reached (the runs at other batch sizes failed
    before it: a decoder fed buffers built for one batch size): one that is no multiple of the
    batch (``-0.5 * kl``) is no size."""
    ran = sum(1 for r in runs.runs.values() if node in r.args)
    batch = runs.batch
    return ran == 1 and not (float(value).is_integer() and batch and int(value) % batch == 0)


def values_in_args(runs, node, value) -> dict:
    """The number at the same argument position in each run (recording route)."""
    first = flat_args(runs.runs[runs.batch].args.get(node, ()))
    if value not in first:
        return {}
    pos = first.index(value)
    out = {}
    for b, r in runs.runs.items():
        args = flat_args(r.args.get(node, ()))
        if len(args) > pos and isinstance(args[pos], (int, float)):
            out[b] = args[pos]
    return out


def per_batch(values: dict) -> int | Fraction | None:
    """k when every value is k times its batch size (k a whole number, or 1/2, 1/3, 1/4: the size
    of a part of the batch, ``x1.size(0)`` of ``x1, x2 = x.chunk(2)``; only runs at batch sizes
    the part divides see that, facts/shapes.batch_parts)."""
    if len(values) < 2 or any(not isinstance(v, (int, float)) or isinstance(v, bool) for v in values.values()):
        return None
    if any(isinstance(v, float) and not v.is_integer() for v in values.values()):
        return None  # float(x.size(0)) is a size; 0.5 * B is no size of the batch's
    ks = {Fraction(int(v), b) for b, v in values.items()}
    if len(ks) != 1:
        return None
    k = ks.pop()
    if k.denominator == 1:
        return int(k) if k >= 1 else None
    return k if k.numerator == 1 and k.denominator <= 4 else None


def size_said(batch_size_text: str, k, value: float) -> tuple[str, int]:
    """(how a divisor of k*B is said, k as it weighs): ``x.size(0)``, ``a size of 4*B (256)``; a
    part of the batch (k = 1/2, ``x1.size(0)`` of a FactorVAE's half) is the batch the VAE trains on,
    and weighs as B does."""
    from vaelint.facts.shapes import batch_text

    shown = batch_size_text if k == 1 else f"a size of {batch_text(k)} ({int(value)})"
    return shown, k if isinstance(k, int) else 1


def times_the_batch(values: dict) -> float | None:
    """c when every value is c times its batch size, c any positive number (``N * sigma ** 2``:
    the batch size and a likelihood's variance in one divisor); None otherwise."""
    if len(values) < 2 or any(not isinstance(v, (int, float)) or isinstance(v, bool) for v in values.values()):
        return None
    ks = [v / b for b, v in values.items()]
    return ks[0] if ks[0] > 0 and all(abs(k - ks[0]) <= 1e-9 * abs(ks[0]) for k in ks) else None


def written_as_the_batch(ctx, runs, node, arg) -> bool:
    """A divisor equal to the user's batch size that no run at another batch size reached (they
    failed before it: a prior sample made the batch size long, decoded first), written in the code
    as ``x.size(0)`` / ``x.shape[0]``: the batch's size, not the number 64 written down (helper D's
    VAE-GAN: a false VAE005 and a VAE002 fix the code had already applied)."""
    import torch.fx as fx

    from vaelint.source.facts import divides_by_a_batch_size

    if isinstance(arg, fx.Node):
        seen = {b: r.values.get(arg) for b, r in runs.runs.items() if arg in r.values}
    elif isinstance(arg, (int, float)) and not isinstance(arg, bool):
        seen = values_in_args(runs, node, arg)
    else:
        return False
    loc = node.meta.get("loc")
    if loc is None or len(seen) != 1 or next(iter(seen.values())) != ctx.batch or ctx.view.op(node) != "div":
        return False
    return divides_by_a_batch_size(loc.path, loc.line) is not None


def literal_times(view, arg, k) -> int:
    """2 when a divisor k*B is 2 written in the code times a size (``2 * n``, ``n * 2`` with
    ``n = x.size(0)``; ``2 * x.numel()``, the size D*B), else 0: the 1/2 of a Gaussian's NLL or KL
    spread over the batch (``kl.sum() / (2 * n)``), a weight, not part of a size of 2*B it averages
    over. Other numbers written there are sizes (``x.size(0) * 784``: a mean over the data's dims)."""
    import torch.fx as fx

    if not isinstance(k, int) or k < 2 or k % 2 or not isinstance(arg, fx.Node) or view.op(arg) != "mul" or len(arg.args) != 2:
        return 0
    numbers = [a for a in arg.args if isinstance(a, int) and not isinstance(a, bool)]
    if numbers != [2] or not isinstance(next(a for a in arg.args if a is not numbers[0]), fx.Node):
        return 0
    # the 2 written on the line itself: fx writes an attribute's int in too (self.samples * x.size(0),
    # two Monte Carlo samples averaged over: a size of 2*B)
    return 2 if _TWO_WRITTEN.search(_line_of(arg)) else 0


_TWO_WRITTEN = re.compile(r"(?<![\w.*])2\s*\*(?!\*)|(?<!\*)\*\s*2(?![\w.])")


def _line_of(node) -> str:
    from vaelint.source.facts import line_text

    loc = node.meta.get("loc")
    return line_text(loc.path, loc.line) if loc is not None else ""


def names_a_batch(loc) -> bool:
    """Does the line at ``loc`` name a batch (``/ args.batch_size``, ``/ BATCH``, ``/ bs``)?"""
    import re

    from vaelint.source.files import read_source

    if loc is None:
        return False
    try:
        line = read_source(loc.path).splitlines()[loc.line - 1]
    except (OSError, IndexError, ValueError):
        return False
    return re.search(r"batch|\bbs\b|\bn_?b\b", line, re.I) is not None
