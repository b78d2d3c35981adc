"""The user's run at B0 holding the values one reading needs.

Past HOLD_ALL_BYTES (vaelint/capture/recording.py) a recorded run lets go of every tensor wider
than its inputs, as a plain forward would. A latent wider than the data (256 latent channels at
the input's resolution: an overcomplete autoencoder) then leaves the run without the encoder's
heads or the KL element, and the KL could not be read at all. Where a reading needs values the
run let go of, the same run (same inputs, same seed) is made again holding only those."""

from __future__ import annotations

import torch.fx as fx

from vaelint.capture.result import RunResult
from vaelint.facts.klreplay import replay_reads
from vaelint.facts.shapes import run_once


def run_holding(ctx, nodes) -> RunResult:
    """The run at B0, or the same run again holding ``nodes`` where it let go of one of them."""
    run0 = ctx.runs.runs[ctx.runs.batch]
    wanted = _with_operands(n for n in nodes if n is not None)
    if not [n for n in wanted if n in run0.shapes and n not in run0.tensors and n not in run0.values]:
        return run0
    key = ("run_holding", wanted)
    if key not in ctx.cache:
        again = run_once(ctx.capture, ctx.specs, ctx.runs.batch, hold=wanted)
        ctx.cache[key] = run0 if again.failure is not None else again
    return ctx.cache[key]


def kl_reads(ctx, element: fx.Node, mu: fx.Node, head: fx.Node, std, z) -> set[fx.Node]:
    """The values reading a KL element from its layer's heads takes from the run."""
    seeds = [mu] if head is None or head is mu else [mu, head]
    targets = [n for n in (element, std, z) if n is not None]
    return replay_reads(ctx.capture.graph, targets, seeds) | set(targets) | set(seeds)


def _with_operands(nodes) -> frozenset:
    """The nodes, and for each one vaelint added to the graph after the run (a KL joined from two
    terms, ``meta["vaelint_derived"]``), the operands it is computed from, which the run must hold."""
    out, stack = set(), list(nodes)
    while stack:
        n = stack.pop()
        if n in out:
            continue
        out.add(n)
        if isinstance(n, fx.Node) and n.meta.get("vaelint_derived"):
            stack.extend(n.all_input_nodes)
    return frozenset(out)
