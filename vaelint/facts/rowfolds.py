"""Reshapes that fold other dims into the batch's rows and back (VAE006 reads them): rows
processed one by one between the fold and the unfold (``B x T x V -> T*B x V``, a hierarchical
decoder's bars folded into the batch) keep the samples apart."""

from __future__ import annotations

import math

from vaelint.capture.ops import RESHAPE_OPS

# ops that treat each row on its own: folding samples into rows and back is harmless around them
_ROW_WISE = {
    "linear",
    "relu",
    "leaky_relu",
    "gelu",
    "silu",
    "elu",
    "tanh",
    "sigmoid",
    "softmax",
    "log_softmax",
    "logsoftmax",
    "softmin",
    "gumbel_softmax",
    "dropout",
    "layer_norm",
    "layernorm",
    "exp",
    "log",
    "neg",
    "add",
    "sub",
    "mul",
    "div",
    "pow",
    "clamp",
    "abs",
    "contiguous",
    "float",
    "to",
    # a token's embedding; a recurrent layer run over each row (its input, or its initial state
    # one row per sequence), and the output it hands back in a tuple: a hierarchical decoder
    # folds its bars into the batch and back (MusicVAE). A recurrent layer that reads the rows
    # as time steps mixes them: the runtime check below sees that, since no shape is flagged
    "embedding",
    "lstm",
    "gru",
    "rnn",
    "getitem",
    "unsqueeze",
    "squeeze",
    "zeros_like",
    # a distribution built on the folded rows (Normal(mu.reshape(-1, D), ...): its parameters
    # broadcast together, row by row) and the element-wise ops of its sample and its KL
    "broadcast_tensors",
    "softplus",
    "sqrt",
    "rsqrt",
    "square",
    "reciprocal",
}


def restored(ctx, node, budget: int = 20_000) -> bool:
    """Does a later reshape, reached through row-wise ops only, give the batch back (B)? However
    many such ops lie between (a Sylvester flow orthogonalises its folded matrices over a hundred
    batched products before it unfolds them), up to ``budget`` nodes."""
    outputs = [n for n in ctx.view.graph.nodes if n.op == "output"]
    live = ctx.view.ancestors(outputs[0]) if outputs else None  # what the forward and the loss are made of
    frontier, seen, back = [node], {node}, False
    while frontier and len(seen) < budget:
        nxt = []
        for n in frontier:
            for user in n.users:
                if user in seen:
                    continue
                seen.add(user)
                op = ctx.view.op(user)
                if op in RESHAPE_OPS:
                    fact = ctx.shape(user)
                    if fact is not None and fact.dims and fact.dims[0].coef == 1 and fact.dims[0].const == 0:
                        back = True  # this way gives the batch back; the folded rows' other users still count
                        continue
                    nxt.append(user)
                elif op in _ROW_WISE or _row_wise_join(user, op) or _keeps_rows(user, op, n):
                    nxt.append(user)
                elif op in _REDUCTIONS and _loss_only(ctx, user):
                    back = True  # the loss's own reduction over the rows (kl.sum(-1).mean()): the batch's, as any loss's
                elif op not in _ASKS_SHAPE and (live is None or user in live):
                    # the rows meet (a mean over them, a matmul across them) before the batch is back;
                    # a value made of them that nothing the model gives goes into (a convergence test's
                    # torch.max(norms).item(): gradient-boosted-normalizing-flows' Sylvester flow) is no mixing
                    return False
        frontier = nxt
    return back and not frontier


_ASKS_SHAPE = {"size", "dim", "numel", "getattr"}


def _loss_only(ctx, node) -> bool:
    """A reduction to one number that goes into the loss and into nothing the model hands back
    (a forward output other than a loss: the rows meeting there would mix samples)."""
    fact = ctx.shape(node)
    if fact is None or fact.dims:
        return False
    outputs = [n for n in ctx.roles.forward_outputs.values() if n is not node and _has_dims(ctx, n)]  # a loss forward returns: one number
    return not any(ctx.view.depends_on(o, node) for o in outputs)


def _has_dims(ctx, node) -> bool:
    fact = ctx.shape(node)
    return fact is not None and bool(fact.dims)


_REDUCTIONS = ("norm", "sum", "mean", "amax", "amin", "logsumexp", "std", "var", "prod")


def _keeps_rows(node, op: str, source) -> bool:
    """Ops that keep each row to itself by their arguments: a batched product (``bmm``, or a
    ``matmul`` with the rows on the left), a transpose or permute that leaves dim 0 in place, a
    reduction over a dim other than the rows' (``norm(q, dim=1)``)."""
    if op in ("bmm", "baddbmm"):
        return True
    if op == "matmul":
        return bool(node.args) and node.args[0] is source
    dims = [a for a in node.args[1:] if isinstance(a, int)]
    if op in ("transpose", "swapaxes", "swapdims"):
        return len(dims) == 2 and 0 not in dims
    if op == "permute":
        order = node.args[1] if len(node.args) == 2 and isinstance(node.args[1], (tuple, list)) else node.args[1:]
        return bool(order) and order[0] == 0
    if op in _REDUCTIONS:
        at = 2 if op == "norm" else 1  # torch.norm(x, p, dim)
        dim = node.kwargs.get("dim", node.args[at] if len(node.args) > at else None)
        dims = dim if isinstance(dim, (tuple, list)) else [dim]
        return all(isinstance(d, int) and d != 0 for d in dims)
    return False


def _row_wise_join(node, op: str) -> bool:
    """``torch.cat((start, emb[:, :-1]), 1)``, ``h.repeat(1, T, 1)``: joined or repeated along
    a dim other than the rows' (a teacher-forcing shift, a state repeated over the steps)."""
    if op in ("cat", "concat", "concatenate", "stack"):
        dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else 0)
        return isinstance(dim, int) and dim != 0
    if op in ("repeat", "expand", "tile"):
        sizes = node.args[1:] if len(node.args) > 1 and not isinstance(node.args[1], (tuple, list)) else (node.args[1:2] or [()])[0]
        return bool(sizes) and sizes[0] in (1, -1)
    return False


def merges_whole_dims(coef: int, rest) -> bool:
    """``B x T x V -> T*B x V``: the factor is a product of leading whole dims."""
    prod = 1
    for size in rest:
        prod *= size
        if prod == coef:
            return True
        if prod > coef:
            return False
    return False


def tiled_copies(ctx, node) -> bool:
    """``x.repeat(1, K).reshape(B * K, -1)`` (an IWAE's or a particle filter's K copies of each
    sample): B x D repeated along its first dim after the batch, B x K*D, then cut into rows of
    D, so row b*K + k is a whole copy of sample b (``x.repeat_interleave(K, 0)``), never a part
    of two. ``node`` is the reshape; read from the shapes (repeat and tile alike)."""
    src = next((a for a in node.all_input_nodes if a.op != "get_attr"), None)
    if src is None or ctx.view.op(src) not in ("repeat", "tile"):
        return False
    orig = next((a for a in src.all_input_nodes if a.op != "get_attr"), None)
    shapes = [ctx.shape(n) for n in (orig, src, node)]
    if any(s is None or s.sizes is None for s in shapes):
        return False
    (o, r, a) = (tuple(s.sizes) for s in shapes)
    if len(o) != len(r) or len(o) < 2 or o[0] != r[0] or o[2:] != r[2:] or r[1] % o[1] or len(a) < 2:
        return False  # repeated along a dim after the first one: a sample's copies interleave
    copies = r[1] // o[1]
    return copies > 1 and math.prod(a[1:]) == math.prod(o[1:]) and a[0] == o[0] * copies
