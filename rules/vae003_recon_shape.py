"""VAE003 recon-shape: the loss compares reconstruction and input element for element wrongly."""

from __future__ import annotations

from dataclasses import dataclass

from vaelint.capture.ops import CLASS_INDEX_LOSSES
from vaelint.facts.context import loc_of
from vaelint.facts.maskedafter import masked_after_reduction
from vaelint.facts.selfcompared import compared_with_itself
from vaelint.rulebase import Example, Observed, Rule, fill
from vaelint.vocab import FixAvailability, Need, Severity

_BASE = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self, latent_dim=8):
        super().__init__()
        self.enc = nn.Linear(784, 2 * latent_dim)
        self.dec = nn.Linear(latent_dim, 784)

    def forward(self, x):
        mu, logvar = self.enc(x.view(-1, 784)).chunk(2, dim=-1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(z)){RESHAPE}, mu, logvar


def loss_function(recon_x, x, mu, logvar):
    rec = F.binary_cross_entropy(recon_x, {TARGET}, reduction="sum")  # <- finding
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return rec + kl
"""


# token ids and their lengths: the padding masked after the loss function reduced (or did not)
_MASKED = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self, vocab=30, latent=4):
        super().__init__()
        self.embed, self.heads = nn.Embedding(vocab, 2 * latent), nn.Linear(2 * latent, 2 * latent)
        self.dec = nn.Linear(latent, vocab)

    def forward(self, tokens, lengths):
        mu, logvar = self.heads(self.embed(tokens).mean(1)).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z).unsqueeze(2).expand(-1, -1, tokens.size(1)), mu, logvar


def loss_function(logits, tokens, lengths, mu, logvar):
    mask = (torch.arange(tokens.size(1))[None, :] < lengths[:, None]).float()
    rec = F.cross_entropy(logits, tokens, {reduction})
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return ((rec * mask).sum() + kl) / tokens.size(0)  # <- finding
"""


# a mixture density decoder: each input element against each of its M components' Gaussians
_MIXTURE = """import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self, latent=4, components=5):
        super().__init__()
        self.enc, self.dec = nn.Linear(12, 2 * latent), nn.Linear(latent, 12 * components * 3)
        self.components = components

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        out = self.dec(z).view(-1, 12, self.components, 3)
        return out[..., 0], out[..., 1], out[..., 2], mu, logvar


def loss_function(logit_pi, means, log_std, x, mu, logvar):
    log_n = -0.5 * (({DATA} - means) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)  # <- finding
    rec = -torch.logsumexp(F.log_softmax(logit_pi, -1) + log_n, dim=-1).sum()
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return (rec + kl) / x.size(0)
"""


def _model(reshape: str = "", target: str = "x.view(-1, 784)") -> str:
    return fill(_BASE, reshape=reshape, target=target)


class ReconShape(Rule):
    code = "VAE003"
    fix_availability = FixAvailability.SOMETIMES
    name = "recon-shape"
    severity = Severity.ERROR
    needs = (Need.LOSS, Need.RECON)
    summary = "The loss compares reconstruction and input that do not correspond element for element."
    what = """
Where the loss compares the reconstruction with the input (mse_loss,
binary_cross_entropy, l1_loss, cross_entropy, recon - x), the two tensors must
have the same shape, so that each output element is compared with the input
element it reconstructs. vaelint finds the comparison in the graph and checks
the shapes that meet there: a size mismatch, a silent broadcast
(``B x 1 x 784`` against ``B x 784``), a sequence of the wrong length; and a
loss whose both sides are the reconstruction (``binary_cross_entropy(recon,
recon)``), which reads no data at all.
Consistent reshapes (a flattened reconstruction against ``x.view(-1, 784)``)
are fine. A mask of the elements (padding) must meet them before the loss
function reduces them: ``(nn.CrossEntropyLoss()(logits, x) * mask).sum() /
mask.sum()`` multiplies a mean already taken over every element, padding
included, and gives it back (use ``reduction="none"``).
"""
    why = """
A broadcast does not fail: ``F.mse_loss`` of ``B x 1 x 784`` and ``B x 784``
compares every reconstruction with every input of the batch (a ``B x B x 784``
tensor) and only emits a UserWarning. The model trains to the batch mean and
the loss scale is off by a factor of B.
"""
    example = """
recon = self.dec(z).view(-1, 1, 784)        # B x 1 x 784
loss = F.mse_loss(recon, x.view(-1, 784))   # x: B x 784 -> broadcast to B x B x 784
"""
    fix = """
Bring both sides to the same shape before comparing: ``recon.view_as(x)``, or
``recon.squeeze(1)``; reshape the input with its own batch size
(``x.view(x.size(0), -1)``).
"""
    VALID = [
        # the mask meets each token's loss before it is summed (the near miss of _MASKED)
        Example(_MASKED.format(reduction='reduction="none"'), inputs=("4x9:int64:30", "4:int64:10")),
        Example(_model()),
        Example(_model(), inputs=("4x1x28x28",)),
        Example(_model(".view(-1, 1, 28, 28)", "x"), inputs=("4x1x28x28",)),
        # the near miss of the reconstruction compared with itself: its target is the input, detached
        Example(_model("", "x.view(-1, 784).detach()")),
        # the input's axis written by the code against each of the decoder's mixture components
        Example(fill(_MIXTURE, data="x.unsqueeze(-1)"), inputs=("4x12",)),
        Example(fill(_MIXTURE, data="x[:, :, None]"), inputs=("4x12",)),
    ]
    INVALID = [
        Example(_MASKED.format(reduction=""), inputs=("4x9:int64:30", "4:int64:10"), at="finding", message="reduction='mean'"),
        Example(_model(".view(-1, 1, 784)"), at="finding", message="B x 1 x 784"),
        Example(
            _model(".view(-1, 1, 28, 28)", "x"),
            inputs=("4x784",),
            at="finding",
            message="B x 784",
            fixed=_model(".view(-1, 1, 28, 28)", "x").replace("entropy(recon_x, x,", "entropy(recon_x.view_as(x), x,"),
        ),
        Example(_model("", "x.view(-1, 392)"), inputs=("4x784",), at="finding"),
        # the target is the reconstruction again (a typo of x): the loss reads no data
        Example(_model("", "recon_x"), at="finding", message="compares the reconstruction with itself"),
        # its near miss: the new axis written at the batch's place, every input against every sample's components
        Example(fill(_MIXTURE, data="x.unsqueeze(0).unsqueeze(-1)"), inputs=("4x12",), at="finding"),
    ]

    def check(self, ctx):
        failure = ctx.failure
        for cmp in ctx.roles.comparisons:
            rec, data = ctx.shape(cmp.recon_side), ctx.shape(cmp.data_side)
            if rec is None or data is None or rec.sizes is None or data.sizes is None:
                continue
            rec_t, data_t = ctx.shape_text(cmp.recon_side), ctx.shape_text(cmp.data_side)
            loc = loc_of(cmp.node)
            failed = failure is not None and failure.node is cmp.node
            if cmp.op in CLASS_INDEX_LOSSES and len(rec.sizes) == len(data.sizes) + 1:
                expected = rec.sizes[:1] + rec.sizes[2:]
                if tuple(expected) == tuple(data.sizes):
                    continue
                yield self.report(LogitsTargetsSeen(cmp.op, rec_t, data_t, tuple(expected)), loc, node=cmp.node)
                continue
            if rec.sizes == data.sizes and _same_symbols(rec, data) or _per_sample(ctx, cmp, rec, data):
                continue
            if _against_each_component(ctx, cmp, rec, data):
                continue
            rec_syms, data_syms = rec.symbols(), data.symbols()
            out_syms = _broadcast(rec_syms, data_syms)
            if not failed and _stripped(rec_syms) == _stripped(data_syms):
                continue  # 1 x D against D: a leading 1 only, each value still meets its own (no repeat)
            if failed or out_syms is None:
                what = "they cannot be compared element for element"
                fix = _fix(rec, data)
            elif rec.sizes == data.sizes:
                what = "their sizes agree only at this batch size"
                fix = "reshape with the tensor's own batch size: x.view(x.size(0), -1)"
            elif sum("B" in sym for sym in out_syms) >= 2:
                what = f"{cmp.op} broadcasts them to {' x '.join(out_syms)}, comparing every reconstruction with every input of the batch"
                fix = _fix(rec, data)
            else:
                what = (
                    f"{cmp.op} broadcasts them to {' x '.join(out_syms)}: a size-1 dim of one side "
                    "is repeated against the other, so one reconstructed element stands for several inputs"
                )
                fix = f"make the decoder produce the input's shape {data.text()} (e.g. repeat z over the steps before decoding), or compare like with like"
            yield self.report(ReconInputSeen(rec_t, data_t, what, fix), loc, node=cmp.node)
        for node in compared_with_itself(ctx):
            yield self.report(SelfComparedSeen(ctx.view.op(node)), loc_of(node), node=node)
        for found in masked_after_reduction(ctx):
            seen = MaskedAfterSeen(ctx.view.op(found.loss), found.reduction, ctx.shape_text(found.mask))
            yield self.report(seen, loc_of(found.mul) or loc_of(found.loss), node=found.mul)

    def autofix(self, finding, ctx):
        """Where the two sides hold the same number of values per sample but broadcast
        (B x 1 x 784 against B x 784): the reconstruction as the input's shape,
        ``recon.view_as(x)``."""
        import math

        from vaelint.fixes.edits import SAFE, Fix
        from vaelint.fixes.source import is_plain_reference, operand_for

        cmp = next((c for c in ctx.roles.comparisons if c.node is finding.node), None)
        if cmp is None:
            return None
        rec, data = ctx.shape(cmp.recon_side), ctx.shape(cmp.data_side)
        if rec is None or data is None or rec.sizes is None or data.sizes is None:
            return None
        if math.prod(rec.sizes) != math.prod(data.sizes) or rec.sizes == data.sizes:
            return None
        mine, theirs = operand_for(ctx, cmp.node, cmp.recon_side), operand_for(ctx, cmp.node, cmp.data_side)
        if mine is None or theirs is None or not is_plain_reference(*theirs):
            return None
        expr, operand = mine
        text = expr.code(operand)
        if not is_plain_reference(expr, operand):
            text = f"({text})"
        new = f"{text}.view_as({expr.code(theirs[1])})"
        return Fix(f"compare like with like: {new}", (expr.replace(new, operand),), SAFE)

    def confirm(self, finding, ctx, observed):
        if isinstance(finding.observed, SelfComparedSeen):
            return None  # read from the graph: the shapes agree, no run shows more
        shapes = observed.shapes_at(finding.node)
        if shapes is None:
            return None
        if isinstance(finding.observed, MaskedAfterSeen):  # the real run's mask multiplies a 0-dim loss
            return any(len(s) == 0 for s in shapes) and any(len(s) > 0 for s in shapes)
        if len(shapes) == 2 and shapes[0] == shapes[1]:
            # torch.distributions broadcast the pair first (broadcast_all(logits, value)): the run's shapes there
            joined = _broadcast_of(finding.node)
            shapes = observed.shapes_at(joined) if joined is not None else shapes
        return shapes is not None and len(shapes) == 2 and shapes[0] != shapes[1]


def _broadcast_of(node):
    """The ``torch.broadcast_tensors`` node both operands of ``node`` are outputs of, or None."""
    import operator

    import torch.fx as fx

    joined = {a.args[0] for a in list(getattr(node, "args", ()))[:2] if isinstance(a, fx.Node) and a.target is operator.getitem}
    one = next(iter(joined), None) if len(joined) == 1 else None
    return one if isinstance(one, fx.Node) and "broadcast_tensors" in str(one.target) else None


def _per_sample(ctx, cmp, rec, data) -> bool:
    """L reconstructions per input (z drawn L times, ``q.rsample([L])``) compared with the
    input broadcast over the samples (``x.unsqueeze(0)``, or x as it is): a Monte Carlo
    estimate, each input against its own reconstructions."""
    k = ctx.sample_positions(cmp.recon_side)
    if not k or ctx.sample_positions(cmp.data_side):
        return False
    sizes = (1,) * (len(rec.sizes) - len(data.sizes)) + tuple(data.sizes)
    if len(sizes) != len(rec.sizes) or any(s != 1 for s in sizes[:k]) or tuple(sizes[k:]) != tuple(rec.sizes[k:]):
        return False
    if rec.dims is None or data.dims is None:
        return True
    dims = data.dims[len(data.dims) - (len(rec.dims) - k) :]
    return tuple(rec.dims[k:]) == tuple(dims)


def _against_each_component(ctx, cmp, rec, data) -> bool:
    """Each input element against each of K components the decoder gives it (a mixture density
    network's means, B x D x M, against ``x.unsqueeze(-1)``, B x D x 1; importance samples
    B x K x D against ``x[:, None]``): the input's new axis is written by the code itself
    (unsqueeze or None indexing), the two sides have one rank, and where the input has that 1 the
    reconstruction's dim is no batch. A broadcast the code did not ask for stays a finding."""
    view = ctx.view
    node = cmp.data_side
    explicit = view.op(node) == "unsqueeze" or (
        view.op(node) == "getitem" and len(node.args) > 1 and isinstance(node.args[1], tuple) and None in node.args[1]
    )
    if not explicit or len(rec.sizes) != len(data.sizes):
        return False
    spread = [i for i, (r, d) in enumerate(zip(rec.sizes, data.sizes)) if d == 1 and r != 1]
    others_agree = all(r == d for i, (r, d) in enumerate(zip(rec.sizes, data.sizes)) if i not in spread)
    symbols = rec.symbols()
    return bool(spread) and others_agree and not any("B" in symbols[i] for i in spread)


def _same_symbols(a, b) -> bool:
    if a.dims is None or b.dims is None:
        return True
    return a.dims == b.dims


def _stripped(syms: list[str]) -> list[str]:
    """A symbolic shape without its leading size-1 dims (which a broadcast adds without repeating)."""
    first = next((i for i, s in enumerate(syms) if s != "1"), len(syms))
    return list(syms[first:])


def _broadcast(a: list[str], b: list[str]) -> list[str] | None:
    """Broadcast two symbolic shapes (right-aligned, as torch does); None if they cannot."""
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else "1"
        y = b[-i] if i <= len(b) else "1"
        if x == y or y == "1":
            out.append(x)
        elif x == "1":
            out.append(y)
        else:
            return None
    return out[::-1]


def _fix(rec, data) -> str:
    import math

    r, d = rec.sizes, data.sizes
    if math.prod(r) == math.prod(d):
        return "reshape one side to the other's shape before the loss: recon.view_as(x)"
    if len(r) == len(d) + 1 and 1 in r:
        return "drop the extra dim: recon.squeeze(1), or recon.view_as(x)"
    if len(r) == len(d) and r[0] == d[0]:
        diff = [i for i in range(len(r)) if r[i] != d[i]]
        k = diff[0]
        return f"make the decoder's output the input's shape {data.text()}: dim {k} is {r[k]} in the reconstruction but {d[k]} in the input"
    return (
        "make the decoder's output size equal the input's per-sample size, and reshape the input "
        "with its own batch size: x.view(x.size(0), -1)"
    )


@dataclass
class LogitsTargetsSeen(Observed):
    """A class-index loss whose targets are not the logits' shape less the class dim."""

    op: str
    recon: str
    data: str
    expected: tuple  # the targets' sizes that would line up

    def message(self) -> str:
        return (
            f"{self.op} compares logits of shape {self.recon} with targets of shape {self.data}: "
            f"the targets should have the logits' shape without the class dim "
            f"({' x '.join(map(str, self.expected))}); a sequence of the wrong length or a "
            "flattened batch does not line up sample for sample."
        )

    def fix(self) -> str:
        return (
            "make the decoder produce one step per input position, and flatten both sides "
            "the same way: F.cross_entropy(logits.reshape(-1, V), x.reshape(-1))"
        )


@dataclass
class ReconInputSeen(Observed):
    """A reconstruction compared with an input it does not match element for element."""

    recon: str
    data: str
    what: str  # what goes wrong: a size error, a silent broadcast, ...
    remedy: str

    def message(self) -> str:
        return f"the reconstruction has shape {self.recon} but the input it is compared with has {self.data}: {self.what}."

    def fix(self) -> str:
        return self.remedy


@dataclass
class SelfComparedSeen(Observed):
    """A reconstruction loss whose both sides are the reconstruction: it reads no data."""

    op: str

    def message(self) -> str:
        return (
            f"{self.op} compares the reconstruction with itself: both of its sides are computed from the decoder's "
            "output and neither reads the input, so the loss trains the decoder toward its own output whatever the data"
        )

    def fix(self) -> str:
        return f"compare the reconstruction with the input it reconstructs: {self.op}(recon, x)"


@dataclass
class MaskedAfterSeen(Observed):
    """A per-element mask multiplying a reconstruction loss its function already reduced."""

    op: str
    reduction: str  # "mean" or "sum"
    mask: str

    def message(self) -> str:
        return (
            f"{self.op} already reduced the reconstruction's elements to one number (reduction='{self.reduction}'), "
            f"so the mask of shape {self.mask} multiplies that number: every element counts, the masked ones "
            "(padding) included, and dividing by the mask's sum gives the number back."
        )

    def fix(self) -> str:
        return f"mask the elements before reducing them: {self.op}(..., reduction='none'), then (loss * mask).sum() / mask.sum()"
