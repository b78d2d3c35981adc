"""VAE009 noise-bypassed: in training mode the decoder input does not depend on the noise."""

from __future__ import annotations

from dataclasses import dataclass, field

from vaelint.confirm.forward_backward import gradient_of
from vaelint.facts.context import loc_of, stack_of
from vaelint.facts.reparams import find_reparams
from vaelint.facts.unsampled import UnsampledKL, unsampled_kl
from vaelint.rulebase import Example, Observed, Rule, SkipRule, fill
from vaelint.source.frames import call_site
from vaelint.vocab import ConfirmNeed, FixAvailability, Need, Severity

_MODEL = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self, latent=4):
        super().__init__()
        self.enc = nn.Linear(20, 2 * latent)
        self.dec = nn.Linear(latent, 20)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        if not self.training:
            z = mu
        return torch.sigmoid(self.dec({DECODER_INPUT})), mu, logvar  # <- finding


def loss_function(recon, x, mu, logvar):
    rec = F.binary_cross_entropy(recon, x, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return rec + kl
"""


def _model(decoder_input: str) -> str:
    return fill(_MODEL, decoder_input=decoder_input)


# VaDE's loss: a second draw from the same posterior, for the clusters' responsibilities
_TWO_DRAWS = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self, latent=4, clusters=3):
        super().__init__()
        self.enc = nn.Linear(20, 2 * latent)
        self.dec = nn.Linear(latent, 20)
        self.centres = nn.Parameter(torch.randn(clusters, latent))

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        z2 = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        gamma = torch.softmax(-((z2.unsqueeze(1) - self.centres) ** 2).sum(2), dim=1)
        return torch.sigmoid(self.dec(z)), mu, logvar, gamma


def loss_function(recon, x, mu, logvar, gamma):
    rec = F.binary_cross_entropy(recon, x, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return rec + kl + (gamma * gamma.log()).sum()
"""


# a deterministic code decoded beside heads only the KL reads: no sample drawn anywhere
_NO_SAMPLE = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self, latent=4):
        super().__init__()
        self.enc = nn.Linear(20, 3 * latent)
        self.dec = nn.Linear(latent, 20)

    def forward(self, x):
        code, mu, logvar = self.enc(x).chunk(3, dim=1)
        return torch.sigmoid(self.dec(code)), mu, logvar  # <- finding


def loss_function(recon, x, mu, logvar):
    rec = F.binary_cross_entropy(recon, x, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return rec + kl
"""


# the sampling step left out: the decoder is fed the mean, no sample drawn, the KL of both heads kept
_MEAN_ONLY = _NO_SAMPLE.replace("3 * latent", "2 * latent").replace(
    """        code, mu, logvar = self.enc(x).chunk(3, dim=1)
        return torch.sigmoid(self.dec(code)), mu, logvar  # <- finding""",
    """        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu
        return torch.sigmoid(self.dec(z)), mu, logvar  # <- finding""",
)

# its near miss: an autoencoder whose code carries an L2 penalty, no KL of a scale head: nothing bypassed
_PENALISED_CODE = _MEAN_ONLY.replace("  # <- finding", "").replace(
    "kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())", "kl = 0.01 * mu.pow(2).sum()"
)


class NoiseBypassed(Rule):
    code = "VAE009"
    fix_availability = FixAvailability.SOMETIMES
    name = "noise-bypassed"
    severity = Severity.ERROR
    needs = (Need.RECON, Need.CLEAN_RUN)  # no sampler: a KL of heads the decoder never reads (below)
    summary = "In training mode the decoder input does not depend on the noise."
    what = """
In training mode the decoder must decode the sample ``z = mu + eps * std``.
vaelint follows the graph from the noise to the reconstruction: when the
decoder is fed ``mu``, or the sample is detached (``z.detach()``,
``z.data``) on its way, the reconstruction does not depend on the noise
through any path that carries a gradient. Where no sample is drawn at all,
yet the loss holds the Gaussian KL of two heads (a term reading one head as
it is and under ``exp`` beside the square of the other:
``1 + logvar - mu.pow(2) - logvar.exp()``) and the decoder reads neither (a
training step that decodes an encoder's deterministic branch), or the mean
alone (``z = mu``: the sampling step left out), the sampler is bypassed
altogether. A draw made with ``Normal(mu, std).sample()`` (torch.normal,
under no_grad) is a sample, but one that passes ``mu`` and ``std`` no gradient:
reported too, with ``.rsample()`` as the fix. A VQ-VAE's quantiser is its twin:
code vectors looked up by the nearest code (``codebook(dist.argmin(1))``) that the
codebook and commitment terms read but the reconstruction does not (the decoder fed
the encoder's output where the straight-through ``q`` was meant).
"""
    why = """
The reconstruction term then trains a plain autoencoder on ``mu``, the
log-variance head gets its gradient from the KL term alone (which pushes it to
the prior), and samples from the prior decode to nothing the model has learnt.
Nothing fails and the loss goes down.
"""
    example = """
z = self.reparameterize(mu, logvar)
recon = self.decode(mu)        # should be z
"""
    fix = """
Decode the sample in training: ``recon = self.decode(z)``; use ``mu`` only in
evaluation (``if not self.training: z = mu``), and never detach ``z``.
"""
    VALID = [
        Example(_model("z"), inputs=("6x20",)),
        Example(_model("z.view(z.size(0), -1)"), inputs=("6x20",)),
        Example(_TWO_DRAWS, inputs=("6x20",)),
        # the noise detached before it is scaled: randn has no gradient to lose (the near miss of z.detach())
        Example(_model("z").replace("torch.randn_like(mu) * torch", "torch.randn_like(mu).detach() * torch"), inputs=("6x20",)),
        Example(_model("torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).rsample()"), inputs=("6x20",)),
        Example(_PENALISED_CODE, inputs=("6x20",)),
    ]
    INVALID = [
        Example(_NO_SAMPLE, inputs=("6x20",), at="finding", message="no sample is drawn"),
        Example(_MEAN_ONLY, inputs=("6x20",), at="finding", message="fed the mean"),
        Example(_model("mu"), inputs=("6x20",), at="finding", message="fed the mean", fixed=_model("z")),
        Example(_model("z.detach()"), inputs=("6x20",), at="finding", message="detach", fixed=_model("z")),
        # a draw with no gradient: Distribution.sample() (the near miss is .rsample(), in VALID)
        Example(
            _model("torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).sample()"),
            inputs=("6x20",),
            at="finding",
            message="drawn by torch.normal",
        ),
    ]

    def check(self, ctx):
        reparams, recon, view = ctx.roles.reparams, ctx.roles.recon, ctx.view
        if not reparams:
            yield from self._no_sample(ctx)
            return
        for i, r in enumerate(reparams):
            # another draw from the same posterior whose sample the decoder does read (VaDE draws
            # a second z for its clusters' responsibilities): the decoding path has its noise
            if any(q is not r and q.mu is r.mu and view.depends_on(recon, q.noise) for q in reparams):
                continue
            # a latent the decoder never reads, beside another whose sample it decodes (GMVAE's w, which
            # conditions only the mixture prior, and x, drawn by the same helper): not bypassed. A draw whose
            # sample is the reconstruction itself (a Gaussian likelihood's) is no latent the decoder reads
            if not view.depends_on(recon, r.mu) and any(
                q is not r and q.z is not recon and view.depends_on(recon, q.noise) for q in reparams
            ):
                continue
            # a later layer counts when the reconstruction reads its mean: it is on the decoding path
            if i == 0 or view.depends_on(recon, r.mu):
                yield from self._check_layer(ctx, r)

    def _check_layer(self, ctx, r):
        recon, view = ctx.roles.recon, ctx.view
        blocked = {"detach", "data"}
        if view.depends_through(recon, r.noise, blocked):
            return
        if r.z is not None and view.depends_on(r.z, r.noise) and view.depends_through(recon, r.z, blocked):
            return  # the noise detached before it is scaled (randn_like(std).detach()): no gradient is lost
        if view.depends_on(recon, r.noise):
            cut = next(n for n in ctx.nodes_by_op() if view.op(n) in blocked and view.depends_on(n, r.noise) and view.depends_on(recon, n))
            how = f"the sample is cut from the graph by {view.op(cut)}"
            loc = loc_of(cut)
            node = cut
        elif _draw_without_gradient(ctx) is not None:
            draw = _draw_without_gradient(ctx)  # a sampler written, but the decoder reads Normal(mu, std).sample()
            yield self.report(UngradedDraw(ctx.shape_text(draw), draw), loc_of(draw), node=draw)
            return
        elif not any(view.depends_on(recon, q.mu) for q in find_reparams(view)):
            # the decoder reads no draw's sample nor its mean (an RNN decoder not handed its h0 = fc(z))
            use = next((n for n in ctx.nodes_by_op() if r.z in n.all_input_nodes), None)
            seen = SampleNotDecoded(ctx.shape_text(recon), loc_of(recon), ctx.view.op(use) if use is not None else "")
            yield self.report(seen, loc_of(use) or loc_of(recon), node=use if use is not None else recon)
            return
        else:
            entry = next((n for n in ctx.nodes_by_op() if r.mu in n.all_input_nodes and view.depends_on(recon, n) and n is not r.z), None)
            how = f"the decoder is fed the mean, {ctx.shape_text(r.mu)}, instead of the sample z"
            target = entry if entry is not None else recon
            # the line in forward that hands mu to the decoder, not the decoder's first op
            loc = call_site(stack_of(target), stack_of(r.z)) or loc_of(target)
            node = entry
        yield self.report(BypassSeen(how), loc, node=node)

    def _no_sample(self, ctx):
        """No sample is drawn, yet the loss holds the Gaussian KL of two heads the decoder never
        reads (a training step that decodes a deterministic branch): the strongest bypass. Or the
        decoder reads a draw torch.normal made from the encoder's heads (``Normal(mu, std).sample()``):
        a sample, but one that passes the heads no gradient."""
        draw = _draw_without_gradient(ctx)
        if draw is not None:
            yield self.report(UngradedDraw(ctx.shape_text(draw), draw), loc_of(draw), node=draw)
            return
        found = unsampled_kl(ctx)
        if found is None:
            codes = _codes_not_decoded(ctx)
            if codes is not None:  # a VQ-VAE's quantiser, its code vectors read by no reconstruction
                yield self.report(CodesBypassed(ctx.shape_text(codes)), loc_of(codes), node=codes)
                return
            raise SkipRule(ctx.unmet(Need.REPARAM))
        recon, view = ctx.roles.recon, ctx.view
        if found.noise_left_out:
            # z = mu + std: said where the two heads first meet on the way to the decoder
            entry = next(
                (
                    n
                    for n in ctx.nodes_by_op()
                    if view.depends_on(n, found.mu) and view.depends_on(n, found.log) and view.depends_on(recon, n)
                ),
                recon,
            )
            how = (
                f"no noise is drawn: the decoder reads {ctx.shape_text(entry)} made of the mean ({found.at('mu')}) and "
                f"the scale head ({found.at('log')}) alone, with no eps ~ N(0, 1) (z = mu + std where mu + eps * std "
                "belongs), so the latent is deterministic and the KL at "
                f"{found.at('term')} trains a spread the decoder never sees"
            )
            yield self.report(BypassSeen(how, unsampled=found), loc_of(entry), node=entry)
            return
        if found.mean_decoded:
            # z = mu with no sampler: said where the mean is handed to the decoder, as a fed mean is
            entry = next((n for n in ctx.nodes_by_op() if found.mu in n.all_input_nodes and view.depends_on(recon, n)), recon)
            how = (
                f"the decoder is fed the mean, {ctx.shape_text(found.mu)} made at {found.at('mu')}, and no sample is drawn "
                f"(the log-variance made {'there' if found.at('log') == found.at('mu') else 'at ' + found.at('log')} reaches "
                f"the loss only through the KL at {found.at('term')})"
            )
            loc = call_site(stack_of(entry), stack_of(found.mu)) or loc_of(entry)
            yield self.report(BypassSeen(how, unsampled=found), loc, node=entry)
            return
        how = (
            f"no sample is drawn, yet the loss holds the Gaussian KL of {ctx.shape_text(found.mu)} "
            f"(mean, {found.at('mu')}) and {ctx.shape_text(found.log)} (log-variance, {found.at('log')}) at "
            f"{found.at('term')}, and the decoder reads neither"
        )
        seen = BypassSeen(how, unsampled=found)
        yield self.report(seen, loc_of(recon), node=recon)

    def autofix(self, finding, ctx):
        """``self.dec(z.detach())`` / ``z.data`` -> ``z``; ``self.decode(mu)`` -> ``self.decode(z)``
        (z as forward names it)."""
        import libcst as cst

        from vaelint.fixes.edits import SAFE, Fix
        from vaelint.fixes.rewrites import assigned_name
        from vaelint.fixes.source import expr_at, is_plain_reference

        if isinstance(finding.observed, (UngradedDraw, CodesBypassed)):
            return None  # .sample() -> .rsample() is the user's edit: where the draw is written is not this line

        expr = expr_at(finding.loc)
        if expr is None:
            return None
        if finding.node is not None and ctx.view.op(finding.node) in ("detach", "data"):
            inner = expr.receiver() if expr.is_call else expr.node.value if isinstance(expr.node, cst.Attribute) else None
            if inner is None:
                return None
            return Fix(f"keep the sample in the graph: {expr.code(inner)}", (expr.replace(expr.code(inner)),), SAFE)
        layer = next((r for r in ctx.roles.reparams if finding.node is None or ctx.view.depends_on(finding.node, r.mu)), None)
        if layer is None:
            return None
        z = assigned_name(call_site(stack_of(layer.z), stack_of(finding.node or ctx.roles.recon)) or loc_of(layer.z))
        # mu as the code names it where z is made (z = mu + eps * std), else as the decoder call takes it
        from vaelint.fixes.source import operand_for

        found = operand_for(ctx, layer.z, layer.mu)
        mu = found[0].code(found[1]) if found is not None and is_plain_reference(*found) else None
        if mu is None and expr.is_call and len(expr.positional()) == 1 and is_plain_reference(expr, expr.positional()[0]):
            mu = expr.code(expr.positional()[0])
        if z is None or mu is None or mu == z:
            return None
        uses = expr.find(lambda n: isinstance(n, (cst.Name, cst.Attribute)) and expr.code(n) == mu)
        if len(uses) != 1:
            return None  # mu read twice where the decoder is fed: which one is meant is a choice
        return Fix(f"decode the sample: {z} for {mu}", (expr.replace(z, uses[0]),), SAFE)

    def confirm_needs(self, finding, ctx):
        return {ConfirmNeed.GRAPH}  # d recon / d std, after the backward

    def confirm(self, finding, ctx, observed):
        """The real run's gradient of the reconstruction w.r.t. std is zero."""
        recon = ctx.roles.recon
        if isinstance(finding.observed, UngradedDraw):  # the heads the draw reads: no gradient through it
            heads = [a for a in finding.observed.node.all_input_nodes if ctx.view.reads_a_layer(a)]
            grads = [gradient_of(observed, recon, h) for h in heads]
            return None if not grads or any(g is None for g in grads) else all(g == 0.0 for g in grads)
        if isinstance(finding.observed, CodesBypassed):  # the code vectors: no gradient from the reconstruction
            grad = gradient_of(observed, recon, finding.node)
            return None if grad is None else grad == 0.0
        if isinstance(finding.observed, SampleNotDecoded):  # neither head: no gradient from the reconstruction
            grads = [gradient_of(observed, recon, h) for r in ctx.roles.reparams[:1] for h in (r.mu, r.std)]
            return None if not grads or any(g is None for g in grads) else all(g == 0.0 for g in grads)
        if finding.observed.unsampled is not None and finding.observed.unsampled.noise_left_out:
            return None  # a latent with no noise: the gradients flow as for a sample; only its determinism shows it
        if finding.observed.unsampled is not None:  # the scale head the KL reads: no gradient from the reconstruction
            grad = gradient_of(observed, recon, finding.observed.unsampled.log)
            return None if grad is None else grad == 0.0
        r = next((r for r in ctx.roles.reparams if finding.node is not None and ctx.view.depends_on(finding.node, r.mu)), ctx.roles.reparam)
        grad = gradient_of(observed, recon, r.std)
        return None if grad is None else grad == 0.0


@dataclass(frozen=True)
class SampleNotDecoded(Observed):
    """A sample drawn, and a reconstruction that depends on neither it nor the mean."""

    shape: str  # the reconstruction's
    recon: object  # where it is made (a SourceLoc or None)
    use: str  # the op that reads z (linear: h0 = fc(z)), "" for none

    def message(self) -> str:
        at = f" ({self.recon.where()})" if self.recon else ""
        used = f"what it is made into ({self.use} of z)" if self.use else "the sample"
        return (
            f"the reconstruction, {self.shape}{at}, depends on neither the sample z nor the mean: {used} reaches no "
            "output the loss reads, so the decoder learns to reconstruct without the latent and the KL only pulls "
            "q(z|x) to the prior (posterior collapse by wiring)."
        )

    def fix(self) -> str:
        return (
            "hand the decoder what it makes of z: an RNN decoder takes it as its initial state "
            "(out, _ = self.gru(inputs, h0) with h0 = self.fc(z).unsqueeze(0)); another decoder, as an input"
        )


@dataclass
class BypassSeen(Observed):
    """How the decoder's input came to skip the noise (fed mu, a detached sample, ...)."""

    how: str
    unsampled: UnsampledKL | None = field(default=None, compare=False)  # no sampler: the KL's heads

    def message(self) -> str:
        if self.unsampled is not None and self.unsampled.noise_left_out:
            return f"in training mode the reconstruction depends on no noise: {self.how}."
        if self.unsampled is not None and not self.unsampled.mean_decoded:
            return (
                f"in training mode the reconstruction does not depend on any noise: {self.how}, so the "
                "reconstruction term trains a plain autoencoder and the KL trains heads nothing decodes."
            )
        return (
            f"in training mode the reconstruction does not depend on the noise: {self.how}, so the "
            "reconstruction term trains a plain autoencoder and the log-variance head learns from the KL alone."
        )

    def fix(self) -> str:
        if self.unsampled is not None:
            return (
                "decode a sample of the heads the KL reads: z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar), "
                "then recon = decoder(z)"
            )
        return "decode the sample in training: recon = self.decode(z); keep mu for evaluation only (if not self.training: z = mu)"


def _draw_without_gradient(ctx):
    """A ``normal`` op (torch.normal, what Distribution.sample() calls under no_grad) whose mean or
    std the encoder computes, read by the reconstruction: None when there is none."""
    view, recon = ctx.view, ctx.roles.recon
    if recon is None:
        return None
    for node in ctx.nodes_by_op("normal"):
        if view.depends_on(recon, node) and any(view.reads_a_layer(a) for a in node.all_input_nodes):
            return node
    return None


@dataclass
class UngradedDraw(Observed):
    """The decoder reads a draw of the encoder's Gaussian that carries no gradient (``.sample()``)."""

    shape: str
    node: object = field(default=None, compare=False, repr=False)

    def message(self) -> str:
        return (
            f"in training mode the reconstruction passes no gradient to the encoder's mean and std: the latent "
            f"it decodes, {self.shape}, is drawn by torch.normal from them (Distribution.sample() draws so, without "
            "gradient), so the reconstruction term trains the decoder alone and the encoder learns from the KL alone."
        )

    def fix(self) -> str:
        return "draw the latent with q.rsample(), or as mu + std * torch.randn_like(std), so its gradient reaches mu and std"


def _codes_not_decoded(ctx):
    """A vector quantiser's code vectors, looked up in a codebook by the index of the nearest code
    (``codebook(dist.argmin(1))``, ``codebook.weight[idx]``), that the loss reads (its codebook and
    commitment terms) but the reconstruction does not: the decoder is fed the encoder's output
    instead (the VQ twin of a decoder fed the mean). The lookup's node, or None."""
    view, recon = ctx.view, ctx.roles.recon
    if recon is None:
        return None
    nearest = [n for n in ctx.nodes_by_op("argmin", "argmax") if view.reads_a_layer(n)]
    if not nearest or any(view.depends_on(recon, n) for n in nearest):
        # the reconstruction reads a code the nearest index picked: a second lookup of the codebook (a
        # quantiser called twice, once on a detached codebook for the decoder) is what the decoder reads
        return None
    terms = [t for _s, t in ctx.roles.loss_terms]
    for node in ctx.nodes_by_op("embedding", "getitem", "index_select"):
        if not any(view.depends_on(node, n) for n in nearest) or not view.reads_a_layer(node):
            continue
        if view.depends_on(recon, node) or not any(view.depends_on(t, node) for t in terms):
            continue
        return node
    return None


@dataclass
class CodesBypassed(Observed):
    """A vector quantiser whose code vectors the decoder never reads."""

    shape: str

    def message(self) -> str:
        return (
            f"in training mode the reconstruction does not depend on the quantiser's code vectors ({self.shape}): "
            "the decoder is fed the encoder's output instead, so the model trains as a plain autoencoder while the "
            "codebook and commitment terms train codes nothing decodes."
        )

    def fix(self) -> str:
        return "decode the quantised value: q = h + (q - h).detach(), then hand q (not h) to the decoder"
