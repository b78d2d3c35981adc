"""Does row i of the mean, the log-variance or the reconstruction depend on
sample j != i? Decided by running, not by shapes.

A reshape that keeps every shape ``B x ...`` can still mix samples: a
bidirectional GRU's final hidden state is ``(2, B, H)``, and ``.view(B, -1)``
puts halves of two samples in one row. The shapes stage cannot see that. Here
the captured computation runs twice in evaluation mode (BatchNorm and dropout
frozen, so their legitimate batch effects are out), with the same noise, on
the user's batch and on the same batch with sample 0 changed. In a model that
keeps samples apart only sample 0's slices move; the first op whose output
moves in other samples' slices is where samples mix. A tensor with ``a*B``
rows (IWAE's repeated samples) may move in ``a`` of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.fx as fx

from vaelint.capture.ops import CAST_OPS, RANDOM_OPS, RESHAPE_OPS
from vaelint.capture.result import NodeValues
from vaelint.facts.rowsafe import cannot_mix
from vaelint.facts.shapes import make_inputs
from vaelint.modes import mode_held, set_training


@dataclass
class Mixing:
    """Where samples first mix: the op, its batch axis, and which of its slices
    moved when only sample 0 changed."""

    node: fx.Node
    axis: int
    moved: list[int]  # indices along the batch axis that changed
    owned: int  # how many of them one sample may own (a of a*B)
    source: fx.Node | None  # the input the op reads (shapes before)
    target: str  # which of mu, logvar, recon reads other samples
    # the reduction over the batch of another tensor the op reads (a flow's parameters averaged over
    # the batch: self.flow_params(h).mean(0)): where the samples meet, and where the fix goes
    statistic: fx.Node | None = None


def batch_mixing(ctx) -> Mixing | str:
    """The first op that mixes samples, or why there is none to report."""
    roles = ctx.roles
    r = roles.reparam
    if r is None and roles.recon is None:
        return "no reparameterisation found"
    # a model with no sampler (a VQ-VAE, an autoencoder): its reconstruction alone
    heads = ((r.mu, "the mean"), (r.logvar, "the log-variance")) if r is not None else ()
    targets = [(n, name) for n, name in (*heads, (roles.recon, "the reconstruction")) if n is not None]
    # a batch of one sample shows no mixing: the runs take 2 samples, as they do of a batch of two
    # (no gradients, and they hold only what the rule reads): a video VAE trained one clip at a
    # time peaked 4.6 GiB over its capture's 40.7 at 3 samples (H200)
    batch = max(ctx.batch, 2)
    if any(getattr(s, "indexes_batch", False) for s in ctx.specs):
        # a graph's nodes: message passing reads the neighbours an edge list names, by design
        return "the batch's rows are a graph's nodes (an input indexes them): each reads its neighbours"
    if cannot_mix(ctx, [n for n, _name in targets]):
        return ""  # every op keeps each sample's row its own: no run could show mixing
    # first the targets alone, at a small batch (mixing is structural: 3 samples show
    # it as well as 64 do, and the shape facts say which axis is the batch at any
    # size): a clean model, the common case, pays two forwards of 3 samples and never
    # holds two runs' activations at once. A model that does not run at 3 is tried at
    # the smallest batch the shapes stage ran, then at the user's
    small = min((b for b in ctx.extra_batches if 2 <= b < batch and ctx.failure_at(b) is None), default=batch)
    for b in dict.fromkeys(([3] if batch > 3 else []) + [small, batch]):
        first, second = _two_runs(ctx, b, keep={n for n, _name in targets})
        if first.failure is None and second.failure is None:
            break
    else:
        return "the model did not run in evaluation mode"
    if not any(_moved_elsewhere(ctx, n, first, second) is not None for n, _name in targets):
        return ""
    # samples mix: run again at the user's batch keeping every value, to find the first op that mixes them
    first, second = _two_runs(ctx, batch, keep=None)
    if first.failure is not None or second.failure is not None:
        return "the model did not run in evaluation mode"
    mixed = [(n, name) for n, name in targets if _moved_elsewhere(ctx, n, first, second) is not None]
    if not mixed:
        return ""
    node, name = mixed[0]
    candidates = sorted(ctx.view.ancestors(node), key=lambda n: ctx.view.order.get(n, 0))
    for n in candidates:
        got = _moved_elsewhere(ctx, n, first, second)
        if got is not None:
            if _through_statistic(ctx, n, first, second):
                # samples meet only through a statistic of the whole batch ((x - x.mean()) / x.std(),
                # BatchNorm's batch statistics): normalisation, not a rearrangement of samples
                return "samples meet only through statistics of the whole batch"
            axis, moved, owned = got
            source = next((a for a in n.all_input_nodes if a.op != "get_attr" and ctx.shape(a) is not None), None)
            return Mixing(n, axis, moved, owned, source, name, _statistic_read(ctx, n, first, second))
    return ""


def _two_runs(ctx, batch: int, keep: set | None):
    """The captured computation in evaluation mode on a batch and on the same batch
    with sample 0 changed, with the same noise; ``keep``: the nodes whose values the
    runs hold on to (None: all)."""
    capture = ctx.capture
    inputs = make_inputs(ctx.specs, batch, seed=0)
    changed = perturbed_inputs(inputs, ctx.specs)
    wrapper = capture.wrapper
    was_training = wrapper.training
    try:
        with mode_held(wrapper, False), torch.no_grad(), torch.random.fork_rng(devices=[]):
            capture.reseed(0)
            # a run holds only what the rule reads (and the draws it replays), not every activation
            hold = frozenset(keep) if keep is not None else True
            first = capture.run(inputs, batch, hold=hold)
            noise = {n: t for n, t in first.tensors.items() if ctx.view.op(n) in RANDOM_OPS}
            _hold_only(first, keep, noise)
            capture.reseed(0)
            second = capture.run(changed, batch, replay=noise, hold=hold)
            _hold_only(second, keep, {})
    finally:
        set_training(wrapper, was_training)
    return first, second


def _hold_only(run, keep: set | None, noise: dict) -> None:
    if keep is not None:
        run.tensors = NodeValues((n, t) for n, t in run.tensors.items() if n in keep or n in noise)


def _through_statistic(ctx, node, first, second) -> bool:
    """Does the op read a value with no batch axis that moved with sample 0 (a
    reduction over the batch, broadcast back)?"""
    for arg in node.all_input_nodes:
        fact = ctx.shape(arg)
        if fact is None or fact.dims is None or any(d.batch_dependent for d in fact.dims):
            continue
        a, b = first.tensors.get(arg), second.tensors.get(arg)
        if a is not None and b is not None and a.shape == b.shape and not torch.equal(a, b) and _its_own_statistic(ctx, node, arg):
            return True
    return False


def _statistic_read(ctx, node, first, second) -> fx.Node | None:
    """The reduction over the batch whose result ``node`` reads, where that result has no batch axis
    and moved with sample 0 (``self.flow_params(h).mean(0)``): the node that reduced it."""
    for arg in node.all_input_nodes:
        if _batch_bearing(ctx, arg) or ctx.shape(arg) is None:
            continue
        a, b = first.tensors.get(arg), second.tensors.get(arg)
        if a is None or b is None or a.shape != b.shape or torch.equal(a, b):
            continue
        n = arg
        for _ in range(20):  # back to the op whose input has the batch axis: the reduction itself
            inner = [i for i in n.all_input_nodes if ctx.shape(i) is not None]
            if not inner or any(_batch_bearing(ctx, i) for i in inner):
                return n
            n = inner[0]
    return None


def _batch_bearing(ctx, node) -> bool:
    fact = ctx.shape(node)
    return fact is not None and fact.dims is not None and any(d.batch_dependent for d in fact.dims)


def _its_own_statistic(ctx, node, statistic) -> bool:
    """Is the statistic one of the very values the op applies it to (``x - x.mean(0)``, ``(h - m) /
    h.std(0)``: the tensor it reduces over the batch is the other operand or computed into it)? A
    statistic of another tensor (``z + self.shift(h).mean(0)``, a flow's parameters averaged over the
    batch) brings the other samples' values into each sample's: mixing, not normalisation."""
    reduced, stack, seen = set(), [statistic], set()
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        for a in n.all_input_nodes:
            if _batch_bearing(ctx, a):
                if ctx.view.op(n) not in _REDUCTIONS:
                    return True  # a sample or a step picked (h[-1]), no statistic: the batch's own, as before
                reduced.add(a)
            else:
                stack.append(a)
    others = [a for a in node.all_input_nodes if a is not statistic and _batch_bearing(ctx, a)]
    roots = {_under_views(ctx, r) for r in reduced}  # x.flatten(1), mu.detach(): the values of x, of mu
    return any(r in ctx.view.ancestors(o) for r in roots | reduced for o in others)


# ops that reduce the batch to a statistic of it
_REDUCTIONS = frozenset(
    {"mean", "sum", "std", "var", "std_mean", "var_mean", "max", "min", "amax", "amin", "logsumexp", "norm", "median", "prod"}
)

# reshapes and casts: the same values, laid out or typed anew
_VIEWS = RESHAPE_OPS | CAST_OPS


def _under_views(ctx, node):
    """The tensor ``node`` views or copies (through reshapes, casts and detach): the same values."""
    for _ in range(16):
        inputs = [a for a in node.all_input_nodes if ctx.shape(a) is not None]
        if ctx.view.op(node) not in _VIEWS or len(inputs) != 1:
            return node
        node = inputs[0]
    return node


def perturbed_inputs(inputs: tuple, specs) -> tuple:
    """The inputs with sample 0's data drawn again; its length, label or index kept (a batch
    sorted by length would otherwise reorder, and a permutation of rows is no mixing of samples)."""
    data = [_is_data(x) for x in inputs]
    if not any(data):
        data = [True] * len(inputs)  # item ids alone: they are the data
    return tuple(_perturbed(x, spec) if d else x for x, spec, d in zip(inputs, specs, data))


def _is_data(x) -> bool:
    """Floats, or integers with a dim past the batch's (token ids); not one integer per sample
    (a length, a label, an index)."""
    return not isinstance(x, torch.Tensor) or x.is_floating_point() or x.dim() >= 2


def _perturbed(x: torch.Tensor, spec) -> torch.Tensor:
    """The same batch with sample 0 (along the spec's batch dim) drawn again (a sparse input,
    a graph's features or a user-item matrix, changed as a dense one and made sparse again)."""
    if x.layout != torch.strided:
        return _perturbed(x.to_dense(), spec).to_sparse(layout=x.layout) if x.layout == torch.sparse_coo else x.to_dense()
    dim = spec.batch_dim if spec.batch_dim < x.dim() else 0
    other = spec.make(x.shape[dim], generator=torch.Generator().manual_seed(1))
    if other.layout != torch.strided:  # a sparse spec's draw: its rows as a dense one's
        other = other.to_dense()
    other = other.movedim(dim, 0)
    y = x.clone()
    rows, old = y.movedim(dim, 0), x.movedim(dim, 0)  # views: writing rows[0] writes y
    rows[0] = other[0]
    if torch.equal(rows[0], old[0]):
        # the same draw (integers of a tiny range; a spec that gives the code's own data): another
        # sample's values, in the data's own range (a BCE target stays in [0, 1]: shifted by 0.5 it
        # raised there, and on CUDA it was a device-side assert that took the GPU from every later run)
        rows[0] = next((old[i] for i in range(1, old.shape[0]) if not torch.equal(old[i], old[0])), _shifted(old[0], spec))
    return y


def _shifted(row: torch.Tensor, spec) -> torch.Tensor:
    """Values other than ``row``'s within its range: integers moved by one below ``high``, floats in
    [0, 1] mirrored (1 - v), other floats moved by half."""
    if not row.is_floating_point():
        return (row + 1) % (spec.high or 2)
    if row.numel() and float(row.min()) >= 0 and float(row.max()) <= 1 and not torch.equal(1 - row, row):
        return 1 - row
    return row + 0.5


def _moved_elsewhere(ctx, node, first, second):
    """(batch axis, indices that moved, how many one sample owns) when the node's
    value moved outside sample 0's own slices; else None."""
    a, b = first.tensors.get(node), second.tensors.get(node)
    fact = ctx.shape(node)
    if a is None or b is None or a.shape != b.shape or fact is None or fact.dims is None or a.dim() == 0:
        return None
    axes = [i for i, d in enumerate(fact.dims) if d.batch_dependent]
    if len(axes) != 1 or fact.dims[axes[0]].const != 0:
        return None
    # a*B rows: one sample owns a of them; a part of the batch (B/2, a FactorVAE's half): one at most
    axis, owned = axes[0], max(1, math.ceil(fact.dims[axes[0]].coef))
    if not a.is_floating_point():
        a, b = a.double(), b.double()
    diff = (a - b).abs()
    scale = max(float(a.abs().max()), float(b.abs().max()), 1e-12)
    moved_mask = diff.movedim(axis, 0).reshape(diff.shape[axis], -1).amax(dim=1) > 1e-5 * scale + 1e-7
    moved = [int(i) for i in torch.nonzero(moved_mask).flatten()]
    return (axis, moved, owned) if len(moved) > owned else None
