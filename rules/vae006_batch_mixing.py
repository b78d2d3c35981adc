"""VAE006 batch-mixing: samples of the batch mix, by a reshape that turns the
batch dim into something other than B, or by one that keeps every shape (decided
by running: does row i depend on sample j?)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from vaelint.capture.ops import RESHAPE_OPS
from vaelint.facts.batchdeps import Mixing, batch_mixing
from vaelint.facts.batchpairs import batch_pairings
from vaelint.facts.batchweights import weights_over_the_batch
from vaelint.facts.context import loc_of
from vaelint.facts.rowfolds import merges_whole_dims, restored, tiled_copies
from vaelint.rulebase import Example, Observed, Rule, SkipRule, fill
from vaelint.vocab import FixAvailability, Need, Severity

_MODEL = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self, latent=4):
        super().__init__()
        self.conv = nn.Conv2d(1, 16, 3, stride=2, padding=1)  # 16 x 8 x 8 for 16x16 input
        self.fc = nn.Linear({FEATURES}, 2 * latent)
        self.dec = nn.Linear(latent, 256)

    def forward(self, x):
        h = F.relu(self.conv(x))
        h = {FLATTEN}  # <- finding
        mu, logvar = self.fc(h).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z), mu, logvar
"""


def _model(flatten: str, features: int) -> str:
    return fill(_MODEL, flatten=flatten, features=str(features))


# a loss weighing each sample's reconstruction by a weight of its own
_WEIGHTED = """import torch
import torch.nn as nn


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(12, 8)
        self.dec = nn.Linear(4, 12)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar

    def loss_function(self, recon, x, mu, logvar):
        weights = 0.5 + x[:, {COLUMN}]
        rec = ((recon - x) ** 2).sum(dim=1)
        rec = (rec * weights).mean()  # <- finding
        kl = (-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(dim=1)).mean()
        return rec + kl
"""


# an importance-weighted bound kept as M x K x B with M = K = 1, the K dim squeezed away: M x B,
# the batch at dim 1 all along (dims of 1 dropped move no value)
_SQUEEZED = _WEIGHTED.replace(
    """        weights = 0.5 + x[:, {COLUMN}]
        rec = ((recon - x) ** 2).sum(dim=1)
        rec = (rec * weights).mean()  # <- finding
""",
    """        w = -((recon - x) ** 2).sum(dim=1).view(1, 1, -1)  # M x K x B
        rec = -w.squeeze(1).mean(0).mean()  # M x B
""",
)


class BatchMixing(Rule):
    code = "VAE006"
    fix_availability = FixAvailability.SOMETIMES
    name = "batch-mixing"
    severity = Severity.ERROR
    summary = "Samples of the batch mix: a reshape turns the batch dim into something other than B, or interleaves samples in it."
    what = """
A ``view``/``reshape`` whose first dim is ``-1`` lets PyTorch choose the batch
size. When the other sizes were worked out for another input (a flatten size
for 64x64 images fed 128x128), a ``B x 4096`` tensor silently becomes
``4*B x 1024``: every sample is dealt out over 4 rows that the rest of the model
treats as 4 samples. vaelint solves each dim as a function of the batch, so it
sees ``B`` become ``4*B`` at the reshape. Merging whole dims into the batch
(``B x T x V`` to ``T*B x V`` for a token loss) is fine.

In the loss, a per-sample term of shape ``B`` multiplied by per-sample weights
kept as a ``B x 1`` column (``w = x[:, :1]``) broadcasts to ``B x B``: each
sample's term meets every sample's weight, and the mean over it weighs the
batch, not the samples. vaelint reports that product (VAE002 then says nothing
of the term's reduction, which is no per-sample one).

A reshape can also keep every shape and still mix: a bidirectional GRU's final
state is ``2 x B x H``, and ``.view(B, -1)`` lays the directions of different
samples side by side in each row. vaelint decides this by running the model
twice in evaluation mode with the same noise, the second time with sample 0 of
the batch changed: in a model that keeps samples apart only sample 0's rows of
the mean, log-variance and reconstruction move. The first op that moves other
rows is reported. Batch statistics (BatchNorm in training, standardising by the
batch's own mean) are not mixing. Folding bars or positions into the batch and
unfolding them after row-wise layers (an embedding, a batch-first LSTM per bar, a
softmax over the vocabulary: a hierarchical decoder) is not mixing either; a
softmax given no dim (``nn.Softmax()``) is: for a 3-D input PyTorch normalises
over dim 0, the batch. Where the rows are a graph's nodes, indexed by an edge list
among the inputs (``--input 500x128 --input 2x2000:int64:500``), a graph
convolution reads each node's neighbours by design: the run is left out, and only
a reshape that changes the batch dim is reported.
"""
    why = """
The model still runs: layers after the reshape accept the smaller rows, and the
loss later compares or averages over 4*B "samples". Training goes on with each
image split into pieces that are encoded separately.
"""
    example = """
h = self.encoder(x)          # B x 256 x 4 x 4 = B x 4096 for 128x128 input
h = h.view(-1, 1024)         # 4*B x 1024: written for 64x64 input (256 x 2 x 2)
"""
    fix = """
Keep the batch dim and let the feature size follow: ``h.view(h.size(0), -1)``
or ``h.flatten(1)``; then size the next layer for the real feature count (or use
``nn.LazyLinear``).
"""
    VALID = [
        Example(_model("h.view(h.size(0), -1)", 1024), inputs=("4x1x16x16",)),
        Example(_model("h.flatten(1)", 1024), inputs=("4x1x16x16",)),
        Example(_model("h.view(-1, 16 * 8 * 8)", 1024), inputs=("4x1x16x16",)),
        # rows of 64 treated one by one (a per-row softmax), then folded back to B rows
        Example(_model("torch.softmax(h.view(-1, 64), dim=-1).view(h.size(0), -1)", 1024), inputs=("4x1x16x16",)),
        # one row per position with its channels (a vector quantiser's lookup, channels moved last)
        Example(_model("h.permute(0, 2, 3, 1).reshape(-1, 16)", 16), inputs=("4x1x16x16",)),
        # one weight per sample, a vector as the per-sample term is: paired sample by sample
        Example(fill(_WEIGHTED, column="0"), inputs=("6x12",)),
        Example(_SQUEEZED, inputs=("6x12",)),
        # K = 2 copies of each sample (an IWAE's particles): repeated along the first dim after the
        # batch, then cut into rows of one whole copy each, as x.repeat_interleave(2, 0) makes them
        Example(_model("h.flatten(1).repeat(1, 2).reshape(-1, 1024)", 1024), inputs=("4x1x16x16",)),
        # standardised by the batch statistics of its own values (a hand-written batch norm): normalisation
        Example(_model("((h - h.mean(0)) / (h.std(0) + 1e-5)).flatten(1)", 1024), inputs=("4x1x16x16",)),
    ]
    INVALID = [
        # a statistic over the batch of another tensor added into each sample (a flow's parameters, a
        # shift, averaged over the batch): mixing, found at the reduction
        Example(
            _model("h.flatten(1) + self.conv(x).flatten(1).mean(0)", 1024),
            inputs=("4x1x16x16",),
            at="finding",
            message="a mean over the batch of a B x 1024",
        ),
        Example(
            _model("h.view(-1, 256)", 256),
            inputs=("4x1x16x16",),
            at="finding",
            message="4*B x 256",
            fixed=_model("h.view(h.size(0), -1)", 1024),
            unsafe=True,
        ),
        Example(
            _model("h.reshape(-1, 512)", 512),
            inputs=("4x1x16x16",),
            at="finding",
            message="B x 16 x 8 x 8 (4 x 16 x 8 x 8) into 2*B x 512",
            fixed=_model("h.reshape(h.size(0), -1)", 1024),
            unsafe=True,
        ),
        # its near miss: repeated along a later dim, each row takes half of one copy's channels twice
        Example(_model("h.repeat(1, 1, 2, 1).reshape(-1, 1024)", 1024), inputs=("4x1x16x16",), at="finding", message="2*B x 1024"),
        # the same lookup with the channels left first (a VQ-VAE tutorial's): rows of 16 values along W
        Example(_model("h.reshape(-1, 16)", 16), inputs=("4x1x16x16",), at="finding", message="not along its 16 channels"),
        # the weights kept as a B x 1 column against the B vector: B x B
        Example(fill(_WEIGHTED, column=":1"), inputs=("6x12",), at="finding", message="broadcasts to B x B"),
    ]

    def check(self, ctx):
        for pair in batch_pairings(ctx):
            seen = PairedSeen(ctx.view.op(pair.node), loc_of(pair.vector), loc_of(pair.column), ctx.batch)
            yield self.report(seen, loc_of(pair.node), node=pair.node)
        for weights in weights_over_the_batch(ctx):
            seen = WeightsOverTheBatch(
                ctx.view.op(weights.node), ctx.shape_text(weights.source), weights.dim, weights.samples, ctx.batch, weights.source.name
            )
            yield self.report(seen, loc_of(weights.node), node=weights.node)
        found = list(self._by_shape(ctx))
        yield from found
        if found:
            return
        if ctx.failure is not None:
            # the shapes up to where it raised keep each sample in its row; whether a row reads
            # other samples is the batch-mixing run's to say, and that run needs the model to finish
            raise SkipRule(ctx.unmet(Need.CLEAN_RUN))
        # every shape kept B x ...: does a row still read other samples?
        mixing, _why = ctx.reading("batch_mixing", batch_mixing, Mixing)
        if mixing is not None:
            seen = MixingSeen(
                ctx.view.op(mixing.node),
                ctx.shape_text(mixing.source) if mixing.source is not None else "?",
                ctx.shape_text(mixing.node),
                tuple(mixing.moved),
                mixing.owned,
                mixing.target,
                ctx.batch,
                mixing.source is not None and _batch_axis(ctx, mixing.source) not in (None, 0),
                _implicit_dim(ctx, mixing.node),
                f"self.{str(mixing.node.target).removeprefix('model.')}" if mixing.node.op == "call_module" else "",
                _statistic_said(ctx, mixing.statistic),
            )
            at = mixing.statistic if mixing.statistic is not None and loc_of(mixing.statistic) else mixing.node
            yield self.report(seen, loc_of(at), node=mixing.node)

    def _by_shape(self, ctx):
        for node in ctx.nodes_by_op(*RESHAPE_OPS):
            if ctx.view.made_by_a_distribution(node):
                continue  # a distribution's own reshape (MultivariateNormal's batch-flattening Mahalanobis): its maths
            src = next((a for a in node.all_input_nodes if a.op != "get_attr"), None)
            before, after = ctx.shape(src), ctx.shape(node)
            if before is None or after is None or before.dims is None or after.dims is None:
                continue
            if not before.dims or not after.dims:
                continue
            if _ones_only(before.dims) == _ones_only(after.dims):
                continue  # dims of 1 dropped or added around the others (w.squeeze(1) of M x 1 x B): no value moves
            b0, a0 = before.dims[0], after.dims[0]
            axis = next((i for i, d in enumerate(before.dims) if d.coef == 1 and d.const == 0), None)
            if axis not in (None, 0):
                # rows that keep the batch's count (B x ...) are the two-batch run's to show, with its words
                # (a bidirectional RNN's state, tokens made channels first); rows k*B of them are read here
                folded = len(after.sizes) < len(before.sizes) and not (a0.coef == 1 and a0.const == 0)
                folded = folded and not _merged_behind_kept_dims(before, after, axis)
                folded = folded and not _batch_kept(before.sizes, after.sizes, axis)
                crossed = _rows_across_samples(before.sizes, after.sizes, axis) if folded else 0
                if crossed and not restored(ctx, node):
                    seen = BatchAxisInRows(ctx.view.op(node), ctx.shape_text(src), ctx.shape_text(node), axis, crossed, after.sizes[-1])
                    yield self.report(seen, loc_of(node), node=node)
                continue
            if not (b0.coef == 1 and b0.const == 0) or not a0.batch_dependent:
                continue
            if a0.coef == 1 and a0.const == 0:
                continue
            if a0.const == 0 and merges_whole_dims(a0.coef, before.sizes[1:]):
                continue
            if restored(ctx, node) or tiled_copies(ctx, node):
                continue  # rows processed one by one, then folded back; or whole copies of each sample
            # B x C x H x W -> (H*W*B) x C: rows of C values that run along W, not along the
            # channels (a vector quantiser's lookup written without moving the channels last)
            channels_first = (
                len(before.sizes) >= 3
                and len(after.sizes) == 2
                and after.sizes[1] == before.sizes[1]
                and a0.const == 0
                and a0.coef == math.prod(before.sizes[2:])
            )
            seen = BatchDimSplit(
                ctx.view.op(node),
                ctx.shape_text(src),
                ctx.shape_text(node),
                a0.text(),
                a0.coef,
                math.prod(before.sizes[1:]),
                before.sizes[1] if channels_first else 0,
                " x ".join(str(n) for n in before.sizes[2:]) if channels_first else "",
            )
            yield self.report(seen, loc_of(node), node=node)

    def autofix(self, finding, ctx):
        """``h.view(-1, 128)`` that folds samples into rows -> ``h.view(h.size(0), -1)``
        (h's first dim is the batch), with the Linear layers after it sized for the features
        (unsafe); not offered where what reads the folded rows cannot be resized with it."""
        import libcst as cst

        from vaelint.fixes.edits import SAFE, Fix
        from vaelint.fixes.source import expr_at, is_plain_reference

        node = finding.node
        if node is None or not isinstance(finding.observed, BatchDimSplit) or ctx.view.op(node) not in ("view", "reshape"):
            return None
        if finding.observed.channels:
            return None  # rows per position or per sample: which one the code means, the words ask
        call = expr_at(finding.loc)
        receiver = call.receiver() if call is not None and call.is_call else None
        if receiver is None or not is_plain_reference(call, receiver):
            return None
        sizes = call.positional()
        if len(sizes) == 1 and isinstance(sizes[0], (cst.Tuple, cst.List)):
            return None  # view((-1, N)): rare; the words say it
        first = sizes[0] if sizes else None
        if not (isinstance(first, cst.UnaryOperation) and call.code(first).replace(" ", "") == "-1"):
            return None
        batch = f"{call.code(receiver)}.size(0)"
        src = next((a for a in node.all_input_nodes if a.op != "get_attr"), None)
        fact, made = ctx.shape(src) if src is not None else None, ctx.shape(node)
        features = math.prod(fact.sizes[1:]) if fact is not None and fact.sizes else None
        if len(sizes) != 2:
            # view(-1, 16, 7, 7) -> view(B, 16, 7, 7) holds a sample only where 16 x 7 x 7 are its values
            rows = math.prod(made.sizes[1:]) if made is not None and made.sizes else None
            if features is None or rows != features:
                return None
            return Fix(f"keep the batch dim: {batch} for -1", (call.replace(batch, first),), SAFE)
        # (-1, N) -> (B, -1): the features are what is left
        r0, r1 = call.positions[sizes[0]], call.positions[sizes[1]]
        from vaelint.fixes.edits import UNSAFE, Edit

        edit = Edit(call.path, r0.start.line, r0.start.column + 1, r1.end.line, r1.end.column + 1, f"{batch}, -1")
        message = f"keep the batch dim: {call.code(receiver)}.{ctx.view.op(node)}({batch}, -1)"
        layers = _next_linears(ctx, node) if features else []
        # the layers after it were sized for the folded rows: size them for the features
        # (unsafe: the layers' weights change shape); what reads the rows as they were folded (a
        # layer whose width the edit cannot change, the loss comparing them) fails with the view alone
        sized = [_in_features_edit(ctx, layer, features) for layer in layers]
        if not layers or any(e is None for e in sized):
            return None
        which = "the next Linear takes" if len(sized) == 1 else f"the {len(sized)} Linear layers after it take"
        return Fix(f"{message}, and {which} {features} features", (edit, *sized), UNSAFE)

    def confirm(self, finding, ctx, observed):
        if isinstance(finding.observed, MixingSeen):
            return True  # decided by running the model on two batches
        if isinstance(finding.observed, BatchAxisInRows):  # the two batches that differ in one sample say it
            mixing, _why = ctx.reading("batch_mixing", batch_mixing, Mixing)
            return True if mixing is not None else None
        if isinstance(finding.observed, WeightsOverTheBatch):  # the run reduced a dim as long as its batch
            src = observed.result.shapes.get(finding.node.args[0]) if observed.result is not None else None
            return None if not src or finding.observed.dim >= len(src) else src[finding.observed.dim] == ctx.batch
        if isinstance(finding.observed, PairedSeen):  # the run's own B x B
            out = observed.result.shapes.get(finding.node) if observed.result is not None else None
            return None if out is None else len(out) == 2 and out[0] == out[1] == ctx.batch
        shapes = observed.shapes_at(finding.node)
        if not shapes or observed.result is None:
            return None
        out = observed.result.shapes.get(finding.node)
        return out is not None and out[0] != shapes[0][0]


def _ones_only(dims) -> list:
    """The dims that are not always 1: a reshape that keeps them, in order, only drops or adds dims of 1."""
    return [(d.coef, d.const) for d in dims if not (d.coef == 0 and d.const == 1)]


def _batch_axis(ctx, node):
    fact = ctx.shape(node)
    if fact is None or fact.dims is None:
        return None
    axes = [i for i, d in enumerate(fact.dims) if d.batch_dependent]
    return axes[0] if len(axes) == 1 else None


@dataclass(frozen=True)
class MixingSeen(Observed):
    """Samples mixing with every shape kept: changing sample 0 moved other samples' rows."""

    op: str
    before: str
    after: str
    moved: tuple  # indices along the batch axis that changed
    owned: int
    target: str  # "the mean", "the reconstruction"
    batch: int
    batch_not_first: bool  # the input's batch axis is not dim 0 (an RNN's (layers, B, H) state)
    implicit_dim: bool = False  # a softmax given no dim: PyTorch's legacy choice, dim 0 of a 3-D input
    module: str = ""  # the module that ran it (self.out.1), where one did
    statistic: str = ""  # "mean over the batch of a B x 17 tensor": what the op read of the other samples

    def message(self) -> str:
        rows = ", ".join(map(str, self.moved[:6])) + (", ..." if len(self.moved) > 6 else "")
        if self.statistic:
            return (
                f"a {self.statistic} goes into each sample's values (read by {self.op}): changing "
                f"only sample 0 of the batch changed rows {rows}, so {self.target} of each sample reads other "
                "samples' values (seen by running the model twice in evaluation mode with the same noise). A "
                "statistic of the batch is normalisation only where it is taken of the values it normalises."
            )
        if self.implicit_dim:
            return (
                f"{self.op}{f' ({self.module})' if self.module else ''} is given no dim, so for its {self.after} input PyTorch normalises over dim 0, the batch "
                f"(its legacy implicit dim for a 3-D input): changing only sample 0 of the batch changed rows {rows} of "
                f"its output, so {self.target} of each sample reads other samples' values (seen by running the model "
                "twice in evaluation mode with the same noise)."
            )
        return (
            f"{self.op} mixes samples of the batch while keeping its size: it turns {self.before} into "
            f"{self.after}, and changing only sample 0 of the batch changed rows {rows} of its output, "
            f"so {self.target} of each sample reads other samples' values (seen by running the model twice "
            "in evaluation mode with the same noise)."
        )

    def fix(self) -> str:
        if self.implicit_dim:
            module, function = _SOFTMAXES[self.op]
            return f"name the dim it normalises over: nn.{module}(dim=-1) (or F.{function}(x, dim=-1))"
        if self.batch_not_first and self.op in RESHAPE_OPS:
            return (
                "put the batch axis first before flattening: h.transpose(0, 1).reshape(h.size(1), -1), or for a "
                "bidirectional RNN's last layer torch.cat([h[-2], h[-1]], dim=1)"
            )
        if self.statistic:
            return (
                "compute it per sample, keeping the batch dim (params = self.flow_params(h), one set per sample), "
                "or make it the model's own nn.Parameter where one value is meant for every sample"
            )
        return "keep each sample's values in its own row: reduce and reshape along the other axes only"


def _statistic_said(ctx, node) -> str:
    """``mean over the batch of a B x 17 tensor`` for the reduction ``node``; "" for none."""
    if node is None:
        return ""
    reduced = next((a for a in node.all_input_nodes if ctx.shape(a) is not None), None)
    of = f" of a {ctx.shape_text(reduced)} tensor" if reduced is not None else ""
    return f"{ctx.view.op(node)} over the batch{of}"


# the op (as a function and as a module) -> (its module, its function)
_SOFTMAXES = {
    "softmax": ("Softmax", "softmax"),
    "log_softmax": ("LogSoftmax", "log_softmax"),
    "logsoftmax": ("LogSoftmax", "log_softmax"),
    "softmin": ("Softmin", "softmin"),
}


def _implicit_dim(ctx, node) -> bool:
    """A softmax given no dim (``nn.Softmax()``, ``F.softmax(x)``): PyTorch picks dim 0 for a
    0-, 1- or 3-D input, dim 1 otherwise."""
    if ctx.view.op(node) not in _SOFTMAXES:
        return False
    if node.op == "call_module":
        return getattr(ctx.module_of(node), "dim", 0) is None
    return len(node.args) < 2 and node.kwargs.get("dim") is None


def _next_linears(ctx, node) -> list:
    """The ``nn.Linear`` layers that take this reshape's output (through activations)."""
    import torch.nn as nn

    found, frontier = [], list(node.users)
    for _ in range(4):
        nxt = []
        for user in frontier:
            module = ctx.module_of(user)
            if isinstance(module, nn.Linear):
                found += [module] if all(module is not m for m in found) else []
            elif ctx.view.op(user) in ("relu", "leaky_relu", "gelu", "tanh", "sigmoid", "dropout", "contiguous", "elu", "silu"):
                nxt += list(user.users)
        frontier = nxt
    return found


def _in_features_edit(ctx, module, features: int):
    """``nn.Linear(50, 20)`` -> ``nn.Linear(100, 20)``, where the layer is built with a literal size."""
    import libcst as cst

    from vaelint.fixes.source import expr_at

    site = ctx.program.module_sites.get(id(module))
    call = expr_at(site) if site is not None else None
    if call is None or not call.is_call:
        return None
    given = call.keyword("in_features") or (call.positional() or [None])[0]
    if not isinstance(given, cst.Integer) or given.evaluated_value == features:
        return None
    return call.replace(str(features), given)


@dataclass(frozen=True)
class BatchDimSplit(Observed):
    """A reshape whose batch dim is a multiple of B: each sample split over several rows."""

    op: str
    before: str
    after: str
    batch_dim: str  # "4*B"
    rows: int  # rows per sample
    features: int  # the per-sample size the next layer should take
    # B x C x H x W -> (H*W*B) x C: C (0: not this case), and "H x W"
    channels: int = 0
    positions: str = ""

    def message(self) -> str:
        if self.channels:
            return (
                f"{self.op} turns {self.before} into {self.after}: each row takes {self.channels} consecutive values "
                f"of one sample, which in this layout run along its last dims ({self.positions}), not along its "
                f"{self.channels} channels, so the {self.batch_dim} rows are neither samples nor positions."
            )
        return (
            f"{self.op} turns {self.before} into {self.after}: the batch dim becomes {self.batch_dim}, so each "
            f"sample is split over {self.rows} rows that later layers treat as separate samples."
        )

    def fix(self) -> str:
        if self.channels:
            return (
                f"for one row per position with its {self.channels} channels, move the channels last first: "
                f"x.permute(0, 2, 3, 1).reshape(-1, {self.channels}); for one row per sample, x.flatten(1)"
            )
        return f"keep the batch dim: x.view(x.size(0), -1) or x.flatten(1), and size the next layer for {self.features} features"


def _merged_behind_kept_dims(before, after, axis: int) -> bool:
    """A sequence-first T x B x K x E made T x B*K x E: the dims before the batch kept as they are,
    the batch merged with whole dims after it, so each of the merged rows is one sample's (its
    segment k: a bar of a song, a sentence of a document)."""
    if len(after.dims) <= axis or tuple(after.dims[:axis]) != tuple(before.dims[:axis]):
        return False
    merged = after.dims[axis]
    return merged.const == 0 and merged.coef > 1 and merges_whole_dims(merged.coef, before.sizes[axis + 1 :])


def _batch_kept(before: tuple, after: tuple, axis: int) -> bool:
    """A reshape that keeps the batch a dim of its own where it was: the dims before it and the
    batch end at the same places in memory order (``K x B x C x H x W`` viewed as ``K x B x CHW``,
    ``lpx_z.view(*batch_shape[:2], -1)`` of K samples of each data point), so each row is still
    one sample's."""
    ends = {1} | {math.prod(after[: i + 1]) for i in range(len(after))}
    return math.prod(before[:axis]) in ends and math.prod(before[: axis + 1]) in ends


def _rows_across_samples(before: tuple, after: tuple, axis: int) -> int:
    """A reshape of a tensor whose batch is dim ``axis`` > 0 (``h.permute(1, 2, 0)``: D x T x B)
    into rows (``.view(-1, D)``): read in memory order, a row of ``prod(after[1:])`` values spans
    several samples where the values of one sample at one index of the dims before the batch run
    shorter than a row. The number of samples a row takes values from (0: none spans two)."""
    if len(after) < 2 or len(before) <= axis:
        return 0
    row = math.prod(after[1:])
    inner = math.prod(before[axis + 1 :])  # consecutive values of one sample
    if row <= 0 or inner <= 0 or inner % row == 0:
        return 0
    return min(before[axis], -(-row // inner))


@dataclass(frozen=True)
class BatchAxisInRows(Observed):
    """A reshape into rows of a tensor whose batch is not its first dim: each row reads several samples."""

    op: str
    before: str
    after: str
    axis: int  # where the batch is in ``before``
    samples: int  # how many samples one row reads
    width: int  # a row's values (the code vector's size)

    def message(self) -> str:
        return (
            f"{self.op} turns {self.before} into {self.after}, but the batch is dim {self.axis} of {self.before}: read in "
            f"memory order, each row takes values of {self.samples} different samples, so every row (a code vector, a "
            "feature row) mixes the batch, and one sample's output depends on the others'."
        )

    def fix(self) -> str:
        return (
            f"move the batch to the front before the rows are made (h.movedim({self.axis}, 0)), with the {self.width} "
            f"features last: for a B x {self.width} x T map, h.permute(0, 2, 1).reshape(-1, {self.width}) (one row per "
            "sample and position)"
        )


@dataclass(frozen=True)
class PairedSeen(Observed):
    """A per-sample vector (B) and a per-sample column (B x 1) broadcast to B x B."""

    op: str
    vector: object  # where the B tensor was made (a SourceLoc or None)
    column: object  # where the B x 1 tensor was made
    batch: int

    def message(self) -> str:
        at = lambda loc: f" ({loc.where()})" if loc else ""  # noqa: E731
        return (
            f"{self.op} of a per-sample B tensor{at(self.vector)} and a B x 1 tensor{at(self.column)} broadcasts to "
            f"B x B ({self.batch} x {self.batch}): each sample's value meets every sample's, so what belongs to one "
            "sample is no longer paired with it (and a mean over the result weighs the batch, not the samples)."
        )

    def fix(self) -> str:
        return "give both one shape: the column as a vector (w.view(-1), w.squeeze(1)) or the vector as a column (v.unsqueeze(1))"


@dataclass(frozen=True)
class WeightsOverTheBatch(Observed):
    """Importance weights normalised over the batch's dim instead of each data point's samples."""

    op: str  # "logsumexp"
    shape: str  # "B x 5"
    dim: int  # the batch's dim, reduced
    samples: int  # the samples' dim
    batch: int
    name: str  # the log weights' node

    def message(self) -> str:
        return (
            f"{self.op} over dim {self.dim} of the log weights ({self.shape}) reduces over the batch: each bound is "
            f"taken across the {self.batch} data points of the batch instead of across one data point's own samples "
            f"(dim {self.samples}), so every sample's loss and gradient read the others' and the objective is no "
            "bound on log p(x)."
        )

    def fix(self) -> str:
        return f"reduce over the samples' dim: torch.{self.op}(log_w, dim={self.samples}), then average over the batch"
