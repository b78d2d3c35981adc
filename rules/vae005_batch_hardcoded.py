"""VAE005 batch-hardcoded: a size or normaliser pinned to the example batch size."""

from __future__ import annotations

import math
from dataclasses import dataclass

from vaelint.capture.ops import CREATION_OPS, RESHAPE_OPS
from vaelint.facts.context import loc_of
from vaelint.facts.termscale import each_part_averaged_over_the_batch
from vaelint.rulebase import Example, Observed, Rule, fill
from vaelint.vocab import ConfirmNeed, FixAvailability, Severity

_ELEMENTWISE = {"add", "sub", "rsub", "mul", "div", "rdiv", "cat", "stack", "where", "maximum", "minimum"}

_MODEL = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self, latent=4):
        super().__init__()
        self.latent = latent
        self.enc = nn.Linear(64, 2 * latent)
        self.dec = nn.Linear(latent, 64)

    def forward(self, x):
        h = {FLAT}  # <- view
        mu, logvar = self.enc(h).chunk(2, dim=1)
        eps = {NOISE}  # <- noise
        z = mu + eps * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(z)), mu, logvar


def loss_function(recon, x, mu, logvar):
    rec = F.binary_cross_entropy(recon, x.view(x.size(0), -1), reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return (rec + kl) / {NORM}  # <- norm
"""


# a recurrent encoder's hidden state, laid out num_layers x B x H
_RECURRENT = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self, latent=4, hidden=12):
        super().__init__()
        self.hidden = hidden
        self.rnn = nn.GRU(6, hidden, batch_first=True)
        self.enc = nn.Linear(hidden, 2 * latent)
        self.dec = nn.Linear(latent, 60)

    def forward(self, x):
        h0 = {HIDDEN}  # <- hidden
        _, h = self.rnn(x, h0)
        mu, logvar = self.enc(h[-1]).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z).view(-1, 10, 6), mu, logvar


def loss_function(recon, x, mu, logvar):
    rec = F.mse_loss(recon, x, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return (rec + kl) / x.size(0)
"""


def _model(flat="x.view(x.size(0), -1)", noise="torch.randn_like(mu)", norm="x.size(0)") -> str:
    return fill(_MODEL, flat=flat, noise=noise, norm=norm)


class BatchHardcoded(Rule):
    code = "VAE005"
    fix_availability = FixAvailability.SOMETIMES
    name = "batch-hardcoded"
    severity = Severity.ERROR
    summary = "A size or normaliser is pinned to the example batch size."
    what = """
A batch size written into the code as a number: ``torch.randn(64, Z)``,
``x.view(64, -1)``, a loss divided by ``args.batch_size`` or ``128``. vaelint
runs the model at your batch size and at two others; a size that stays at your
batch size while the batch changes, or an op that then fails, is reported at
the line that wrote the number down, not where it later breaks.
"""
    why = """
It works until the batch size changes: the last batch of an epoch is usually
smaller, evaluation often uses another size, and then the model crashes far from
the cause (``torch.export`` even suggests pinning the batch). A normaliser
written as a number does not crash: it silently rescales the loss of every
batch that is not the configured size.
"""
    example = """
eps = torch.randn(64, self.latent_dim)   # 64 = the configured batch size
h = h.view(64, -1)
loss = (rec + kl) / args.batch_size
"""
    fix = """
Take sizes from the tensors: ``torch.randn_like(std)``, ``h.view(h.size(0), -1)``,
``loss / x.size(0)``.
"""
    VALID = [
        Example(_model(), inputs=("8x64",)),
        Example(_model(noise="torch.randn(mu.size(0), self.latent, device=mu.device)"), inputs=("8x64",)),
        Example(_model(flat="x.view(-1, 64)"), inputs=("8x64",)),
        Example(_model(norm="len(x)"), inputs=("8x64",)),
        # the near miss of "divided by 8": a number the code logs beside the loss, under torch.no_grad(), divided so
        Example(
            _model()
            .replace("def loss_function(", "LOGGED = []\n\n\ndef loss_function(")
            .replace(
                "    return (rec + kl) / x.size(0)  # <- norm",
                "    with torch.no_grad():\n        LOGGED.append((rec + kl) / 8)\n    return (rec + kl) / x.size(0)",
            ),
            inputs=("8x64",),
        ),
        # two terms, each averaged over the batch, averaged with "/ 2": no batch size, even with a batch of 2
        Example(
            _model().replace(
                "    return (rec + kl) / x.size(0)  # <- norm",
                "    rec, kl = rec / x.size(0), kl / x.size(0)\n    bound = F.mse_loss(recon, x.view(x.size(0), -1)) + F.l1_loss(recon, x.view(x.size(0), -1))\n"
                "    return rec + kl + (bound) / 2",
            ),
            inputs=("2x64",),
        ),
        # a 4 x 4 matrix is no batch, even with a batch of 4
        Example(
            _model(
                flat="x.view(x.size(0), -1) @ torch.eye(64, device=x.device)[:, :64]",
                noise="torch.randn_like(mu) @ torch.eye(4, device=mu.device)",
            ),
            inputs=("4x64",),
        ),
        Example(fill(_RECURRENT, hidden="x.new_zeros(1, x.size(0), self.hidden)"), inputs=("8x10x6",)),
    ]
    INVALID = [
        # the batch written down at dim 1 of a hidden state (num_layers x B x H): a smaller batch fails in the GRU
        Example(
            fill(_RECURRENT, hidden="x.new_zeros(1, 8, self.hidden)"),
            inputs=("8x10x6",),
            at="hidden",
            message="writes the batch size down as 8",
        ),
        Example(
            _model(noise="torch.randn(8, self.latent)"),
            inputs=("8x64",),
            at="noise",
            message="randn",
            fixed=_model(noise="torch.randn_like(mu)"),
        ),
        Example(_model(flat="x.view(8, -1)"), inputs=("8x64",), at="view", message="view", fixed=_model(flat="x.view(x.size(0), -1)")),
        Example(_model(norm="8"), inputs=("8x64",), at="norm", message="divided by 8", fixed=_model(norm="x.size(0)"), unsafe=True),
        # the near miss of the averaged terms: a loss summed over a batch of 2, divided by 2, is divided by the batch
        Example(_model(norm="2"), inputs=("2x64",), at="norm", message="divided by 2", fixed=_model(norm="x.size(0)"), unsafe=True),
    ]

    def check(self, ctx):
        pinned = list(self._pinned_terms(ctx))
        yield from pinned
        b0 = ctx.batch
        failures = [ctx.failure_at(b) for b in ctx.extra_batches]
        failures = [f for f in failures if f is not None and not _fails_at_every_batch(ctx, f)]
        seen = {f.node for f in pinned} | _pinned_factor_nodes(ctx)  # a term's own pin is judged above, whole
        sized = {op for op in CREATION_OPS if not op.endswith("_like")} | RESHAPE_OPS | {"repeat", "new_zeros", "new_ones", "new_empty"}
        lines = {getattr(loc_of(f.node), "line", None) for f in pinned}
        for node in ctx.nodes_by_op(*sized, "div"):
            op = ctx.view.op(node)
            if node in seen:
                continue
            if op in sized:
                if b0 not in ctx.literal_sizes(node) or not self._pinned(ctx, node, failures) or _every_batch_is(ctx, b0, node):
                    continue
                if _batch_sized_beside(ctx, node, op):
                    continue  # x.new_zeros(x.size(1), Z) with Z == B: the batch has its dim, Z only equals it
                other = ctx.extra_batches[0] if ctx.extra_batches else b0 + 1
                noise = any(r.noise is node for r in ctx.roles.reparams)
                consequence = self._consequence(ctx, node, failures)
                written = BatchWrittenDown(op, b0, ctx.shape_text(node), other, consequence, noise, ctx.batch_size_text)
                lines.add(getattr(loc_of(node), "line", None))
                yield self.report(written, loc_of(node), node=node)
            elif self._normaliser(ctx, node, b0):
                if not _every_batch_is(ctx, b0, node) and not _a_length(node):
                    yield self.report(LossOverWrittenBatch(b0), loc_of(node), node=node)
            elif op == "div" and self._configured_normaliser(ctx, node):
                n = ctx.program.configured_batch
                if not _every_batch_is(ctx, n, node):
                    yield self.report(LossOverConfiguredBatch(n, ctx.program.configured_batch_text, b0), loc_of(node), node=node)
        yield from self._made_before_the_step(ctx, failures, seen, lines)

    def _made_before_the_step(self, ctx, failures, seen, lines):
        """A tensor the batch's length long, made before the step (``index_vec = torch.tensor([i * k for
        i in range(batch_size)])``: a constant to the graph), where the run at another batch size failed
        as it met the batch's tensor: a smaller last batch fails there (nicolaefilat/Importance_Weighted_
        Autoencoders' resampling offsets, helper-found)."""
        for failure in failures:
            meet = failure.node
            if meet is None or meet in seen or ctx.view.op(meet) not in _ELEMENTWISE:
                continue
            made = next((a for a in meet.all_input_nodes if a.op == "get_attr" and _leading(ctx, a) == ctx.batch), None)
            if made is None or getattr(loc_of(meet), "line", None) in lines or _every_batch_is(ctx, ctx.batch, meet):
                continue  # said on its line already (randn(64, Z) written down), or every batch is that long
            seen.add(meet)
            said = str(failure.error).strip().splitlines()[0][:160] if str(failure.error).strip() else type(failure.error).__name__
            seen_at = MadeBeforeTheStep(ctx.shape_text(made), ctx.batch, failure.batch, said, ctx.view.op(meet))
            yield self.report(seen_at, loc_of(meet), node=meet)

    @staticmethod
    def _pinned(ctx, node, failures) -> bool:
        return _pinned_dim(ctx, node, failures) is not None

    @staticmethod
    def _consequence(ctx, node, failures) -> str:
        hit = next((f for f in failures if f.node is not None and (f.node is node or ctx.view.depends_on(f.node, node))), None)
        if hit is None:
            return "is combined with a tensor of the wrong batch size"
        where = f" at {hit.loc.where()}" if hit.loc else ""
        return f"makes the model fail{where} ({str(hit.error).strip().splitlines()[0]})"

    def autofix(self, finding, ctx):
        """The batch written as a number, taken from a tensor instead: the noise of a
        reparameterization -> ``torch.randn_like(std)``; ``h.view(64, -1)`` ->
        ``h.view(h.size(0), -1)``; ``torch.zeros(64, Z)`` beside ``h`` -> ``torch.zeros(h.size(0), Z)``."""
        from vaelint.fixes.rewrites import batch_of_divisor, batch_size_arg, noise_like_std, tensor_beside
        from vaelint.fixes.source import expr_at, is_plain_reference

        node = finding.node
        op = ctx.view.op(node) if node is not None else None
        if op == "div":
            configured = ctx.program.configured_batch if self._configured_normaliser(ctx, node) else None
            return batch_of_divisor(ctx, node, configured or ctx.batch)
        if op is None or (op not in CREATION_OPS and op not in RESHAPE_OPS):
            return None
        layer = next((r for r in ctx.roles.reparams if r.noise is node), None)
        if layer is not None:
            return noise_like_std(ctx, layer)
        call = expr_at(loc_of(node))
        if call is None or not call.is_call:
            return None
        failures = [f for f in (ctx.failure_at(b) for b in ctx.extra_batches) if f is not None]
        index = _pinned_dim(ctx, node, failures) or 0
        if op in RESHAPE_OPS:
            src = node.args[0] if node.args else None
            fact = ctx.shape(src) if src is not None else None
            receiver = call.receiver()
            if fact is None or not fact.dims or fact.dims[0].coef != 1 or fact.dims[0].const != 0:
                return None
            if receiver is None or not is_plain_reference(call, receiver):
                return None
            return batch_size_arg(call, index, call.code(receiver), "take the batch size from the tensor")
        tensor = tensor_beside(ctx, node)
        return batch_size_arg(call, index, tensor, "take the batch size from the tensor it meets") if tensor else None

    def _pinned_terms(self, ctx):
        """A loss term divided by the batch size written as a number (``KLD /=
        args.batch_size * 784``): right at that one batch size, and beta_eff = B/b
        at any other (a smaller last batch)."""
        from vaelint.facts.lossscales import loss_scales

        scales = loss_scales(ctx)
        if scales is None:
            return
        pins = {name: [f for f in term.factors if f.pinned] for name, term in (("rec", scales.rec), ("kl", scales.kl))}
        for name, factors in pins.items():
            for f in factors:
                other = pins["kl" if name == "rec" else "rec"]
                if any(o.pinned == f.pinned for o in other):
                    continue  # both terms: beta_eff keeps; the whole-loss normaliser below says the rest
                if _every_batch_is(ctx, f.pinned, f.node):
                    continue
                mine, theirs = (scales.rec, scales.kl) if name == "rec" else (scales.kl, scales.rec)
                if mine.batch_power != theirs.batch_power:
                    # read as the batch's size, the number still leaves this term averaged over the batch
                    # and the other summed (rec.sum() + kl.sum() / args.batch_size): it was no average
                    # meant, and dividing by x.size(0) would not fix it; VAE002 says the mismatch
                    continue
                b, B = f.pinned, ctx.batch
                formula = f"B/{b}" if name == "kl" else f"{b}/B"
                now = B / b if name == "kl" else b / B
                other_batch = ctx.extra_batches[0] if ctx.extra_batches else B + 1
                later = other_batch / b if name == "kl" else b / other_batch
                what = "KL" if name == "kl" else "reconstruction"
                seen = TermOverWrittenBatch(what, f.over, b, formula, now, B, later, other_batch)
                yield self.report(seen, loc_of(f.node), node=f.node)

    @classmethod
    def _configured_normaliser(cls, ctx, node) -> bool:
        """A scalar loss divided by the loader's configured batch size, checked at
        another batch size (the literal no longer equals the batch it got)."""
        n = getattr(ctx.program, "configured_batch", None)
        return bool(n) and n != ctx.batch and cls._normaliser(ctx, node, n)

    @staticmethod
    def _normaliser(ctx, node, b0) -> bool:
        if len(node.args) < 2 or not hasattr(node.args[0], "op"):
            return False
        if b0 not in ctx.literal_sizes(node) or node.args[1] != b0 and ctx.ints_are_literals:
            return False
        fact = ctx.shape(node)
        if fact is None or fact.sizes != ():
            return False  # only a scalar loss divided by the batch size
        total = ctx.roles.loss_total
        if total is not None and node is not total and not ctx.view.depends_on(total, node):
            return False  # a number the code logs beside the loss (under torch.no_grad()): not what it trains on
        forward = set(ctx.roles.forward_outputs.values())
        if not any(ctx.view.depends_on(node, f) for f in forward):
            return False
        return not each_part_averaged_over_the_batch(ctx, node.args[0])  # (a + b) / 2: two terms averaged

    def confirm_needs(self, finding, ctx):
        return {ConfirmNeed.DOUBLED_BATCH}  # every case is shown at twice the batch

    def confirm(self, finding, ctx, observed):
        """The confirmation pass's second batch (the same samples twice) fails
        at or after the pinned size, or a loss divided by a number doubles."""
        node = finding.node
        doubled = observed.doubled
        if ctx.view.op(node) == "div":
            if observed.result is None or doubled is None:
                return None
            one, two = observed.value(node), observed.value(node, doubled=True)
            if one is None or two is None or float(one) == 0:
                return None
            return math.isclose(float(two) / float(one), 2.0, rel_tol=0.25)
        if observed.result is None or observed.result.failure is not None:
            return None
        if doubled is None:
            # forward at 2*B did not run: the pass stops at the first failure
            return None
        failure = doubled.failure
        return failure is not None and failure.node is not None and (failure.node is node or ctx.view.depends_on(failure.node, node))


@dataclass
class BatchWrittenDown(Observed):
    """A size or shape argument that is the example batch size written as a number."""

    op: str
    batch: int  # the example batch size, as written
    shape: str  # the result's shape, ``64 x 16``
    other: int  # another batch size the consequence is told at
    consequence: str
    noise: bool = True  # it draws a sampler's noise (else a prior sample, a GAN's latent: no std to draw it like)
    size: str = "x.size(0)"  # how the batch size is read of the input: x.size(1) where the batch is dim 1

    def message(self) -> str:
        return (
            f"{self.op} writes the batch size down as {self.batch}: its result is {self.shape} "
            f"whatever the batch, so a batch of {self.other} samples (a smaller last batch) {self.consequence}."
        )

    def fix(self) -> str:
        if self.op in RESHAPE_OPS:
            return f"take the batch from the tensor: x.view({self.size}, -1)"
        if (self.op.startswith("rand") or self.op in ("normal", "empty")) and not self.noise:
            return f"take the batch size from a tensor of the batch: torch.randn({self.size}, ..., device=x.device)"
        if self.op.startswith("rand") or self.op in ("normal", "empty"):
            return "draw noise with the tensor's shape: torch.randn_like(std)"
        return f"take the batch size from the tensor: {self.size}, or use torch.zeros_like / new_zeros"


def _leading(ctx, node):
    fact = ctx.shape(node)
    return fact.sizes[0] if fact is not None and fact.sizes else None


@dataclass
class MadeBeforeTheStep(Observed):
    """A tensor made before the step with the batch's length, meeting the batch in the step."""

    shape: str  # the tensor's shape, ``20``
    batch: int  # the example batch size it is as long as
    other: int  # the batch size the run failed at
    error: str  # what it raised there
    op: str  # where it meets the batch

    def message(self) -> str:
        return (
            f"a tensor of shape {self.shape}, the batch size {self.batch} long, made before the step (a constant of the "
            f"setup, such as torch.tensor([i * k for i in range(batch_size)])), meets the batch's tensor in {self.op}: at a "
            f"batch of {self.other} samples (a smaller last batch) the step raises {self.error!r}."
        )

    def fix(self) -> str:
        return (
            "make it in the step from the batch's own size (torch.arange(x.size(0)) * k), or drop the incomplete last "
            "batch (DataLoader(..., drop_last=True))"
        )


@dataclass
class LossOverWrittenBatch(Observed):
    """The loss divided by the example batch size written as a number."""

    batch: int

    def message(self) -> str:
        return (
            f"the loss is divided by {self.batch}, a fixed number (the batch size the code was set up with, "
            "written down or held: args.batch_size, self.batch_size), not the batch's own size: a batch of "
            f"another size (a smaller last batch) is divided by {self.batch} all the same, so its loss is "
            "scaled instead of averaged."
        )

    def fix(self) -> str:
        return "divide by the batch's own size: loss / x.size(0)"


@dataclass
class LossOverConfiguredBatch(Observed):
    """The loss divided by the batch size the data loader is configured with."""

    configured: int
    configured_text: str  # ``DataLoader(batch_size=128) at train.py:40``
    batch: int

    def message(self) -> str:
        n, b0 = self.configured, self.batch
        return (
            f"the loss is divided by {n}, the batch size the code is configured with "
            f"({self.configured_text}), not by the batch's own size: a batch of B "
            f"samples (this one of {b0}, a smaller last batch) gets B/{n} times the per-sample "
            f"average (here {b0 / n:g}), so the step size moves with the batch size."
        )

    def fix(self) -> str:
        return "divide by the batch's own size: loss / x.size(0)"


@dataclass
class TermOverWrittenBatch(Observed):
    """One loss term divided by a batch size written down, the other not: beta_eff = B/b."""

    what: str  # "KL" or "reconstruction"
    over: str  # what it is divided by, as written
    pinned: int  # the batch size written down
    formula: str  # "B/64"
    now: float  # beta_eff at this batch
    batch: int
    later: float  # beta_eff at another batch
    other_batch: int

    def message(self) -> str:
        return (
            f"the {self.what} term is divided by {self.over}: right at batch {self.pinned} only, so beta_eff = "
            f"{self.formula} ({self.now:g} at this batch of {self.batch}, {self.later:g} for a batch of "
            f"{self.other_batch}, such as a smaller last batch): the KL weight moves with the batch size."
        )

    def fix(self) -> str:
        return (
            "divide by the batch's own size: x.size(0) (times the size it also divides by), or reduce "
            "both terms the same way: per-sample sums averaged over the batch"
        )


def _every_batch_is(ctx, n: int, node) -> bool:
    """Does every batch the training code takes have ``n`` samples (its DataLoader of batch size
    ``n`` drops the last incomplete batch)? A loss divided by ``n`` written down is then right for
    each: said in a note, not a finding."""
    program = ctx.program
    why = getattr(program, "full_batches", "")
    if not why or getattr(program, "configured_batch", None) != n:
        return False
    loc = loc_of(node)
    what = (
        "the loss is divided by the batch size written down"
        if ctx.view.op(node) == "div"
        else f"{ctx.view.op(node)} writes the batch size down"
    )
    note = f"{what} ({n}{f' at {loc.where()}' if loc else ''}): right for every batch, as {why}; " + (
        "a loader without it breaks that"
        if "drop_last" in why
        else "a batch made another way may not"
        if "makes every batch" in why
        else "another data set's length may not"
    )
    if note not in ctx.notes:
        ctx.notes.append(note)
    return True


def _a_length(node) -> bool:
    """The loss divided by ``len(batch)``, a Python list's length (which the run sees as a number)."""
    from vaelint.source.facts import divides_by_a_length

    loc = loc_of(node)
    return loc is not None and divides_by_a_length(loc.path, loc.line)


def _pinned_factor_nodes(ctx) -> set:
    """The ops that divide a loss term by the batch size written down beside a term reduced unlike it
    over the batch: VAE002's mismatch (rec.sum() + kl.sum() / 256), not a normaliser's."""
    from vaelint.facts.lossscales import loss_scales

    scales = loss_scales(ctx)
    if scales is None or scales.rec.batch_power == scales.kl.batch_power:
        return set()  # both alike (each divided by the number): the whole-loss normaliser's to say
    return {f.node for term in (scales.rec, scales.kl) for f in term.factors if f.pinned}


def _fails_at_every_batch(ctx, failure) -> bool:
    """The run at another batch size failed where the run at the user's batch fails too (a loss
    given tensors that never line up): no size written down makes it fail, whatever equals B."""
    first = ctx.failure
    if first is None:
        return False
    where = lambda f: (getattr(loc_of(f.node), "line", None), ctx.view.op(f.node) if f.node is not None else None)  # noqa: E731
    return where(first) == where(failure)


def _pinned_dim(ctx, node, failures) -> int | None:
    """The dim of a made tensor that holds the example batch size written down: dim 0 where it meets
    the batch (or a run at another batch size failed through it), or a later one where such a run
    failed through it (an RNN's hidden state, ``torch.zeros(n_layers, BATCH_SIZE, h)``)."""
    fact = ctx.shape(node)
    if fact is None or not fact.sizes:
        return None
    failed = any(f.node is not None and (f.node is node or ctx.view.depends_on(f.node, node)) for f in failures)
    if fact.sizes[0] != ctx.batch or (fact.dims is not None and fact.dims[0].batch_dependent):
        if failed:
            return next(
                (i for i, n in enumerate(fact.sizes) if n == ctx.batch and (fact.dims is None or not fact.dims[i].batch_dependent)), None
            )
        return None
    return 0 if failed or _meets_the_batch(ctx, node, fact) else None


def _meets_the_batch(ctx, node, fact) -> bool:
    """Does it meet, elementwise and dim 0 against dim 0, a tensor that does follow the batch (a matmul
    with a B0 x B0 matrix is not a batch)?"""
    for user in node.users:
        if ctx.view.op(user) not in _ELEMENTWISE:
            continue
        for other in user.all_input_nodes:
            o = ctx.shape(other)
            if other is not node and o is not None and o.dims and o.dims[0].batch_dependent and len(o.dims) == len(fact.sizes):
                return True
    return False


def _batch_sized_beside(ctx, node, op: str) -> bool:
    """A factory (zeros, new_zeros, randn, full) given the batch read from a tensor for one size and a
    number that equals the batch for another (an RSSM's state ``x.new_zeros(x.size(1), Z)`` with Z =
    16 = B): the batch already has its dim, the number is another size that happens to equal it. A
    reshape is not such a call: its -1 follows the batch whatever is written beside it."""
    if op in RESHAPE_OPS or op == "repeat":
        return False
    fact = ctx.shape(node)
    return fact is not None and fact.dims is not None and any(d.batch_dependent for d in fact.dims)
