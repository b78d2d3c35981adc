"""Can the captured computation mix samples at all? Read off the graph's shape facts before
VAE006 runs the model twice to see (vaelint/facts/batchdeps.py). Where every op from the inputs
to the mean, the log-variance and the reconstruction keeps each sample's row its own
(convolutions, linear layers, per-sample norms, elementwise ops, reshapes and slices that keep
the batch in front, batched products, attention over each sample's tokens), no run can show
mixing, and the two runs are spared: for a latent-diffusion VAE they were a quarter of the check.

A k*B dim made by a reshape that keeps the batch in front (a video VAE's ``(b t) c h w``, a
transformer's ``(b h) l d``) keeps each sample's rows together, k of them in a block: such a
reshape, and the per-row ops on its blocks, keep samples apart too. Any op not known here, a batch
axis the shapes do not pin down (two batch-sized dims, B+1 rows), or a reduction over the batch
means "maybe": the runs decide, as before.
"""

from __future__ import annotations

import torch.fx as fx

from vaelint.capture.ops import CREATION_OPS, RANDOM_OPS

# elementwise and one-input ops: a row of the output is made from the same row of each input
_ELEMENTWISE = {
    "add", "sub", "rsub", "mul", "div", "neg", "pow", "exp", "log", "sqrt", "rsqrt", "abs", "clamp", "clamp_min",
    "clamp_max", "relu", "silu", "gelu", "sigmoid", "tanh", "softplus", "leaky_relu", "elu", "mish", "erf",
    "dropout", "contiguous", "float", "to", "type_as", "maximum", "minimum", "where", "square",
    "leakyrelu", "relu6", "hardtanh", "identity", "dropout2d", "alphadropout", "clone", "detach", "expand", "expand_as",
}  # fmt: skip
# ops that treat dim 0 as the batch (each sample on its own): convolutions, per-sample norms, resampling
_BATCH_FIRST = {
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "group_norm",
    "instance_norm", "interpolate", "upsample", "pad", "avg_pool1d", "avg_pool2d", "avg_pool3d", "max_pool1d",
    "max_pool2d", "max_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "pixel_shuffle", "pixel_unshuffle",
    # the same as modules (their class names, lowercased)
    "convtranspose1d", "convtranspose2d", "convtranspose3d", "groupnorm", "instancenorm1d", "instancenorm2d",
    "instancenorm3d", "upsamplingnearest2d", "upsamplingbilinear2d", "maxpool1d", "maxpool2d", "maxpool3d",
    "avgpool1d", "avgpool2d", "avgpool3d", "adaptiveavgpool1d", "adaptiveavgpool2d", "adaptiveavgpool3d",
    "pixelshuffle", "pixelunshuffle", "zeropad2d", "reflectionpad2d", "replicationpad2d", "constantpad2d",
}  # fmt: skip
_RESHAPES = {"view", "reshape", "flatten", "unflatten"}
# the batch's rows as they were, its axis moved or dims of 1 added or dropped around it
_MOVES = {"transpose", "permute", "movedim", "swapaxes", "swapdims", "squeeze", "unsqueeze", "t"}
_SPLITS = {"chunk", "split", "unbind", "tensor_split"}
# ops that reduce or normalise along their ``dim`` (each sample's own where that is not the batch's)
_ALONG_DIM = {"softmax", "log_softmax", "normalize"}
_UNKNOWN = object()


def cannot_mix(ctx, targets: list[fx.Node], budget: int = 20_000) -> bool:
    """True when no op between the inputs and ``targets`` can move a sample's values into
    another sample's row (the runs then cannot show mixing); False when one might."""
    nodes = set(targets).union(*(ctx.view.ancestors(t) for t in targets))
    if len(nodes) > budget:
        return False
    return all(_keeps_rows(ctx, n) for n in nodes) and all(isinstance(_axis(ctx, t), int) and _rows_each(ctx, t) == 1 for t in targets)


def _axis(ctx, node):
    """The position of ``node``'s batch dim; None: it has none; _UNKNOWN: no tensor, or no one dim
    of k*B (k >= 1: each sample's k rows in a block, where the ops below made them)."""
    fact = ctx.shape(node)
    if fact is None or fact.dims is None:
        return _UNKNOWN
    batched = [i for i, d in enumerate(fact.dims) if d.batch_dependent]
    if not batched:
        return None
    dim = fact.dims[batched[0]]
    return batched[0] if len(batched) == 1 and dim.coef >= 1 and dim.const == 0 else _UNKNOWN


def _rows_each(ctx, node) -> int:
    """k of the node's k*B batch dim (1: one row a sample)."""
    fact = ctx.shape(node)
    return next(d.coef for d in fact.dims if d.batch_dependent)


def _keeps_rows(ctx, node: fx.Node) -> bool:
    if node.op in ("placeholder", "get_attr", "output"):
        return True
    op = ctx.view.op(node)
    out = _axis(ctx, node)
    ins = [a for a in node.all_input_nodes if a.op != "get_attr"]
    if out is _UNKNOWN:
        # a value that is no tensor: a tuple of chunks (read by getitem), a size
        if op in _SPLITS:
            source = _axis(ctx, node.args[0])
            dim = _dim_arg(ctx, node, 1 if op == "unbind" else 2, node.args[0], default=0)
            return source is not _UNKNOWN and dim is not None and dim != source
        if op in ("size", "getattr", "dim", "numel"):
            return True  # x.shape, x.size(0): sizes, no values
        return all(_axis(ctx, a) is _UNKNOWN for a in ins)  # made of sizes and pieces only (hh * ww)
    if op == "getitem" and isinstance(node.args[0], fx.Node) and ctx.view.op(node.args[0]) in _SPLITS:
        return True  # a piece of a split (chunk(2, dim=1)): the split itself is read above
    batched = [a for a in ins if isinstance(_axis(ctx, a), int)]
    if any(_axis(ctx, a) is _UNKNOWN and _a_tensor(ctx, a) for a in ins):
        return False  # a tensor whose batch the shapes do not pin down (B+1 rows, two batch-sized dims)
    if not batched:
        return True  # made from no sample (a noise draw the runs replay, a constant, a parameter)
    if out is None or op in RANDOM_OPS or op in CREATION_OPS:
        return op in ("randn_like", "rand_like", "zeros_like", "ones_like", "empty_like") and out is not None
    axes = {_axis(ctx, a) for a in batched}
    rank = len(ctx.shape(node).dims)
    rows = _rows_each(ctx, node) if out is not None else None
    # the same batch axis, rank and rows a sample in every input and the output
    same = axes == {out} and all(len(ctx.shape(a).dims) == rank and _rows_each(ctx, a) == rows for a in batched)
    if op in _ELEMENTWISE:
        return same
    if op in _BATCH_FIRST or (op == "layer_norm" and node.op == "call_function"):
        return same and out == 0 and (op != "layer_norm" or rank > len(_shape_arg(node)))
    if op == "linear":
        return same and out != rank - 1
    if op in _ALONG_DIM:
        return same and _dim_arg(ctx, node, 1, node, default=1 if op == "normalize" else None) not in (None, out)
    if op in _RESHAPES:
        # the batch in front before and after: sample i's values, read in order, stay its block of rows
        return axes == {0} and out == 0
    if op in _MOVES:
        return len(batched) == 1
    if op == "getitem":
        return axes == {0} and out == 0 and _full_first(node.args[1])
    if op == "cat":
        return same and _dim_arg(ctx, node, 1, node, default=0) not in (None, out)
    if op == "stack":  # a new dim beside the batch's: each sample's rows where they were
        new = _dim_arg(ctx, node, 1, node, default=0)
        return new is not None and new != out and axes == {out - (new < out)} and all(_rows_each(ctx, a) == rows for a in batched)
    if op in ("scaled_dot_product_attention", "bmm", "baddbmm", "matmul"):
        rows_alike = all(_rows_each(ctx, a) == rows for a in batched)
        return (
            axes == {0} and out == 0 and rows_alike and all(len(ctx.shape(a).dims) >= 3 for a in batched) or _left_rows(ctx, node, batched)
        )
    return False


def _a_tensor(ctx, node: fx.Node) -> bool:
    fact = ctx.shape(node)
    return fact is not None and fact.sizes is not None


def _left_rows(ctx, node: fx.Node, batched: list) -> bool:
    """x @ W with W no sample's: each row of x times the same matrix."""
    return ctx.view.op(node) == "matmul" and batched == [node.args[0]] and _axis(ctx, node.args[0]) == 0


def _dim_arg(ctx, node: fx.Node, position: int, of: fx.Node, default=None):
    """The ``dim`` an op takes (positional or by keyword; ``default`` when not given), made
    non-negative by the rank of ``of``; None when it is not a plain int."""
    dim = node.kwargs.get("dim", node.args[position] if len(node.args) > position else default)
    fact = ctx.shape(of)
    if not isinstance(dim, int) or isinstance(dim, bool) or fact is None or fact.dims is None:
        return None
    return dim + len(fact.dims) if dim < 0 else dim


def _shape_arg(node: fx.Node) -> tuple:
    shape = node.kwargs.get("normalized_shape", node.args[1] if len(node.args) > 1 else ())
    return tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)


def _full_first(index) -> bool:
    """An index that keeps every row: ``x[:, :k]``, ``x[:, 0]`` (its first element a full slice)."""
    first = index[0] if isinstance(index, tuple) and index else index
    return isinstance(first, slice) and first == slice(None)
