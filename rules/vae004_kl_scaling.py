"""VAE004 kl-scaling: an explicit factor on the KL term makes beta_eff differ from the declared beta."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from vaelint.facts.adaptedweights import adapted_weight
from vaelint.facts.context import loc_of
from vaelint.facts.countedweights import counted_weight
from vaelint.facts.klelements import AS_WRITTEN
from vaelint.facts.lossroles import term_kind
from vaelint.facts.lossscales import BetaEff, beta_eff, loss_scales, one_batch_size, split_loss, why_no_loss_scales
from vaelint.facts.schedules import scheduled_weight
from vaelint.facts.standinlength import stood_in_length
from vaelint.facts.unsampled import dropped_kl
from vaelint.facts.weightsource import _factor_side, factor_source, named_weight, unit_weight
from vaelint.rulebase import Example, Observed, Rule, SkipRule, fill
from vaelint.vocab import FixAvailability, Need, Severity

_MODEL = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self, latent=4, beta={BETA}):
        super().__init__()
        self.beta = beta
        self.enc = nn.Linear(20, 2 * latent)
        self.dec = nn.Linear(latent, 20)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(z)), mu, logvar

    def loss_function(self, recon, x, mu, logvar, kld_weight=1.0):
        rec = F.binary_cross_entropy(recon, x, reduction="sum")
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return rec + {KL}  # <- finding
"""


def _model(kl: str, beta: str = "1.0") -> str:
    return fill(_MODEL, kl=kl, beta=beta)


_IWAE_TWICE = """import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self, k=3):
        super().__init__()
        self.k = k
        self.hidden, self.mu, self.logvar = nn.Linear(20, 16), nn.Linear(16, 4), nn.Linear(16, 4)
        self.dec = nn.Linear(4, 20)

    def q(self, x):
        h = torch.tanh(self.hidden(x))
        return self.mu(h), self.logvar(h)

    def forward(self, x):
        mu, logvar = self.q(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z), z

    def loss_function(self, x):
        x = x.repeat_interleave(self.k, dim=0)
        logits, z = self(x)
        log_px = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
        log_pz = (-0.5 * (math.log(2 * math.pi) + z**2)).sum(-1)
        mu, logvar = self.q(x)  # the heads again, for log q(z|x)
        log_qz = (-0.5 * (math.log(2 * math.pi) + logvar + (z - mu) ** 2 / logvar.exp())).sum(-1)
        log_w = (log_px + log_pz - log_qz).view(-1, self.k)
        return -torch.logsumexp(log_w, dim=1).mean()
"""


def _no_kl(std: str) -> str:
    """The model sampling with ``std`` and a loss of the reconstruction alone."""
    model = _MODEL.replace("  # <- finding", "").replace(
        "        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)", f"        z = mu + torch.randn_like(mu) * {std}  # <- finding"
    )
    model = model.replace("        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())\n", "")
    return fill(model.replace("        return rec + {KL}", "        return rec"), beta="1.0")


def _set_twice(kl: str) -> str:
    """The model with the weight set, then set again under an ``if`` the run does not take."""
    return fill(
        _MODEL.replace(
            "        return rec + {KL}", "        w = 0.1\n        if x.size(0) > 100:\n            w = 1.0\n        return rec + {KL}"
        ),
        kl=kl,
        beta="1.0",
    )


def _weighted(rec: str, kl: str) -> str:
    """The model with the reconstruction term written too."""
    return fill(_MODEL.replace("return rec + {KL}", "return {REC} + {KL}"), rec=rec, kl=kl, beta="1.0")


def _gamma(rec: str, kl: str) -> str:
    """The model whose loss takes a reconstruction weight ``gamma`` = 3 (``gamma * rec + kl``)."""
    return _weighted(rec, kl).replace("kld_weight=1.0):", "kld_weight=1.0, gamma=3.0):")


# the KL kept on self and weighted by an option (MONet, CycleGAN-style models): the factor is
# the option, never the attribute that holds the KL
# why a KL held at a capacity has no beta to compare
CAPACITY = (
    "the KL is held at a capacity (gamma * |KL - C|, Burgess et al.'s objective): its factor is the strength "
    "that holds it there, not a beta"
)

# why no KL is asked of a step whose encoder takes no gradient
FROZEN_ENCODER = (
    "the sampler's heads take no gradient (the encoder is frozen: requires_grad_(False)): the step trains the "
    "decoder on its samples, and a KL term would train nothing"
)

_KL_ON_SELF = """from types import SimpleNamespace

import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self, latent=4):
        super().__init__()
        self.opt = SimpleNamespace(beta=0.5)
        self.enc = nn.Linear(20, 2 * latent)
        self.dec = nn.Linear(latent, 20)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z), mu, logvar

    def loss_function(self, recon, x, mu, logvar):
        n = x.size(0)
        self.loss_E = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        self.loss_E /= n
        self.loss_D = F.mse_loss(recon, x, reduction="sum") / n
        return self.loss_D + {KL}  # <- finding
"""


class KLScaling(Rule):
    code = "VAE004"
    fix_availability = FixAvailability.SOMETIMES
    name = "kl-scaling"
    severity = Severity.WARNING
    needs = (Need.LOSS, Need.POSTERIOR, Need.REC_TERM, Need.CLEAN_RUN)  # no KL term: one computed and dropped (below)
    summary = "An explicit factor on the KL term makes beta_eff differ from the declared beta."
    what = """
A number multiplies the KL term: a literal (``0.01 * kl``), a model or loss attribute (``self.beta``),
a loss keyword (``kld_weight``, ``M_N``); or the loss computes the KL and returns a value without it
(``loss = mse + kld; return mse``), so it weighs nothing; or the model samples from a learned mean
and scale and the loss has no KL term at all (a noise of fixed scale, a denoising autoencoder's, is
no VAE's sampler and is left alone). vaelint finds the factor on the KL term's
path in the graph, says where its value comes from, and compares the resulting beta_eff with the beta
you declared (``--beta``, default 1). A KL held at a capacity, ``gamma * |KL - C|`` (Burgess et al.'s
objective), has no beta: its factor is not judged. An annealed weight is judged where it settles
(a cyclical one, at each cycle's top).
"""
    why = """
A factor on the KL term changes the objective: below 1 the latent code is barely regularised (samples
from the prior decode to garbage), above 1 the posterior collapses. Factors that were meant for
something else (``M_N``, a batch-to-dataset ratio) are easy to leave in by accident.
"""
    example = """
kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) * 0.01
"""
    fix = """
Remove the factor, or declare the weight you intend: ``vaelint check ... --beta 0.01`` (or ``beta = 0.01`` for the target in ``[tool.vaelint]``).
"""
    VALID = [
        Example(_model("kl"), inputs=("8x20",)),
        Example(_model("self.beta * kl"), inputs=("8x20",)),
        Example(_model("kld_weight * kl"), inputs=("8x20",)),
        Example(fill(_KL_ON_SELF, kl="self.loss_E"), inputs=("6x20",)),
        # both terms weighed alike: the ELBO, scaled (the near miss of 0.5 * kl)
        Example(_weighted("0.5 * rec", "0.5 * kl"), inputs=("8x20",)),
        # both terms weighed by the same named weight: the ELBO scaled, beta_eff = 1
        Example(_gamma("gamma * rec", "gamma * kl"), inputs=("8x20",)),
        # a capacity objective: gamma holds the KL at C, it is no beta (the near miss of 1000 * kl)
        Example(_model("1000.0 * (kl - 25.0).abs()"), inputs=("8x20",)),
        # noise of a fixed scale and no KL: a denoising autoencoder, no VAE (the near miss of a learned scale)
        Example(_no_kl("0.1").replace("  # <- finding", ""), inputs=("8x20",)),
        # an IWAE whose log q(z|x) runs the encoder's heads again: the KL is inside log w, not missing
        Example(_IWAE_TWICE, inputs=("6x20",)),
    ]
    INVALID = [
        # a sampler of a learned scale, and a loss of the reconstruction alone: no KL at all
        Example(_no_kl("torch.exp(0.5 * logvar)"), inputs=("8x20",), at="finding", message="the loss has no KL term"),
        # the KL computed, added, and left out of what the loss returns: it weighs nothing
        Example(
            _model("kl").replace("        return rec + kl  # <- finding", "        total = rec + kl  # <- finding\n        return rec"),
            inputs=("8x20",),
            at="finding",
            message="beta_eff = 0",
        ),
        Example(_model("0.01 * kl"), inputs=("8x20",), at="finding", message="the literal 0.01", fixed=_model("kl"), unsafe=True),
        Example(
            _model("self.beta * kl", beta="4.0"),
            inputs=("8x20",),
            at="finding",
            message="the attribute self.beta = 4",
            fixed=_model("kl", beta="4.0"),
            unsafe=True,
        ),
        Example(_model("kl * 0.5"), inputs=("8x20",), at="finding", message="beta_eff = 0.5", fixed=_model("kl"), unsafe=True),
        # the reconstruction averaged over its values: beta_eff as the header and VAE002 say it
        Example(
            _weighted("F.binary_cross_entropy(recon, x, reduction='sum') / x.numel() * x.size(0)", "1e-3 * kl"),
            inputs=("8x20",),
            at="finding",
            message="with the reductions' D = 20 (VAE002), beta_eff = 0.001*D = 0.02 while",
            fixed=_weighted("F.binary_cross_entropy(recon, x, reduction='sum') / x.numel() * x.size(0)", "kl"),
            unsafe=True,
        ),
        # the reconstruction weighed 10 and the KL 0.5: beta_eff = 0.05
        Example(_weighted("10 * rec", "0.5 * kl"), inputs=("8x20",), at="finding", message="beta_eff = 0.5/10 = 0.05 while"),
        # the near miss of the terms weighed alike: the reconstruction alone weighed, beta_eff = 1/3
        Example(_gamma("gamma * rec", "kl"), inputs=("8x20",), at="finding", message="beta_eff = 1/3 = 0.333 while the declared beta is 1"),
        # a likelihood scaling (MMVAE's llik_scaling) is such a weight too
        Example(
            _weighted("llik_scaling * rec", "kl").replace("kld_weight=1.0):", "kld_weight=1.0, llik_scaling=3.0):"),
            inputs=("8x20",),
            at="finding",
            message="beta_eff = 1/3 = 0.333 while the declared beta is 1",
        ),
        # set twice: the message quotes the assignment that gave 0.1, not the if's that did not run
        Example(_set_twice("w * kl"), inputs=("8x20",), at="finding", message="as `w = 0.1`)", fixed=_set_twice("kl"), unsafe=True),
        Example(
            fill(_KL_ON_SELF, kl="self.opt.beta * self.loss_E"),
            inputs=("6x20",),
            at="finding",
            message="(self.opt.beta = 0.5 at",
            fixed=fill(_KL_ON_SELF, kl="self.loss_E"),
            unsafe=True,
        ),
    ]

    def check(self, ctx):
        matrix = any(r.matrix for r in ctx.roles.reparams)  # a scale matrix's KL: not read (facts/context.py)
        if matrix or split_loss(ctx):  # or a loss backpropagated in parts (facts/lossscales.py)
            raise SkipRule(ctx.unmet(Need.KL_TERM) if matrix else split_loss(ctx))
        if not ctx.roles.kl_terms:
            dropped = dropped_kl(ctx)
            if dropped is not None:
                yield self.report(DroppedKLSeen(dropped.at("mu"), ctx.beta), loc_of(dropped.term), node=dropped.term)
                return
            r = ctx.roles.reparam
            if r is None or not ctx.view.reads_a_layer(r.logvar if r.logvar is not None else r.std) or ctx.beta == 0:
                raise SkipRule(ctx.unmet(Need.KL_TERM))
            if not any(ctx.view.reads_a_trained_layer(h) for h in (r.mu, r.logvar if r.logvar is not None else r.std)):
                raise SkipRule(FROZEN_ENCODER)  # a decoder fine-tuned on a frozen encoder's samples: a KL trains nothing
            if _reads_the_heads_beside_the_sample(ctx, r):
                # log q(z|x) inside one term with the rest (an importance-weighted bound's logsumexp over
                # samples of log p(x|z) + log p(z) - log q(z|x)): a KL there, in no term of its own
                raise SkipRule(
                    "the loss reads the sampler's mean and scale beside its sample (log q(z|x)) inside a term it does not "
                    "split into reconstruction and KL (an importance-weighted bound's logsumexp over samples, say): no KL "
                    "term of its own to read"
                )
            # a sampler of a learned mean and scale, and no KL at all in the loss (a course VAE's BCE alone)
            where = loc_of(r.z)
            yield self.report(NoKLSeen(where.where() if where else "?", ctx.beta), where, node=r.z)
            return
        scales = loss_scales(ctx)
        if scales is None:
            raise SkipRule(why_no_loss_scales(ctx))
        kls = list(scales.each_kl())
        if all(one.kl.target == "capacity" for one in kls):
            raise SkipRule(CAPACITY)
        if _class_weighted(scales.rec.element):
            raise SkipRule(CLASS_WEIGHTED)
        for one in kls:
            if one.kl.target != "capacity":
                yield from self._check_term(ctx, one)

    def _check_term(self, ctx, scales):
        scheduled = scheduled_weight(ctx, scales.kl)
        if scheduled is not None:
            yield from self._check_schedule(ctx, scales, scheduled)
            return
        factor = scales.kl.explicit
        if math.isclose(factor, ctx.beta, rel_tol=1e-3):
            # the KL weighed as declared, but a weight on the reconstruction (3 * rec + kl) weighs it
            # down as a beta does: beta_eff = 1/3, as the header says
            said = beta_eff(scales, ctx)
            rec_weight = said.rec_weight or 1.0
            # where the reductions differ, VAE002 says beta_eff with them (D/1024): said once, there
            alike = not scales.batch_power and math.isclose(said.reductions_value, 1.0, rel_tol=1e-3)
            if alike and math.isclose(factor, 1.0, rel_tol=1e-3) and not math.isclose(1.0 / rec_weight, ctx.beta, rel_tol=1e-3):
                # at the reconstruction's weight (3 * rec), where the code weighs the terms unlike
                # only a weight the code names as one (GAMMA * rec, args.lambda_rec * rec): a likelihood's own
                # constant (0.5 * (x - mu)**2 / var, a data variance) weighs nothing
                weight = next((f for f in scales.rec.factors if f.kind == "const" and not math.isclose(abs(f.value), 1.0)), None)
                if weight is not None and _WEIGHT_NAME.search(_named(ctx, weight)):
                    yield self.report(UnweightedKL(ctx.beta, rec_weight), weight.loc or loc_of(scales.kl.term), node=scales.kl.term)
            return
        consts = [f for f in scales.kl.factors if f.kind == "const" and not math.isclose(abs(f.value), 1.0)]
        norm = abs(scales.kl.normalization)
        if scales.kl.read_as == AS_WRITTEN and any(math.isclose(abs(f.value), c, rel_tol=1e-3) for f in consts for c in (0.5, 2.0)):
            raise SkipRule(HALF_AS_WRITTEN)
        if not math.isclose(norm, 1.0, rel_tol=1e-3):
            # the KL formula's own constant (the -0.5 of -0.5 * sum(1 + logvar - ...), the
            # innermost factor) is no weight
            own = next((f for f in reversed(consts) if math.isclose(abs(f.value) * norm, 1.0, rel_tol=1e-3)), None)
            consts = [f for f in consts if f is not own]
        if not consts:
            if math.isclose(factor, 1.0, rel_tol=1e-3):
                # a reconstruction weighted (2 * rec, or one added in twice) weighs the KL down as a beta does
                said = beta_eff(scales, ctx)
                rec_weight = said.rec_weight or 1.0
                if math.isclose(1.0 / rec_weight, ctx.beta, rel_tol=1e-3):
                    return
                if scales.batch_power or not math.isclose(said.reductions_value, 1.0, rel_tol=1e-3):
                    # the reductions differ: the whole beta_eff (D/1024) is VAE002's to say, once, and it is the
                    # declared beta's match (--beta 0.765625 declares it whole)
                    return
                loc = loc_of(scales.kl.term)
                weight = unit_weight(ctx, scales.kl.term) if math.isclose(rec_weight, 1.0, rel_tol=1e-3) else None
                yield self.report(UnweightedKL(ctx.beta, rec_weight, weight), loc, node=scales.kl.term)
            return  # the KL formula itself is off by a constant: VAE007's business
        written = math.prod(abs(f.value) for f in consts)
        named = all(named_weight(ctx, f) for f in consts)
        if (
            named
            and written
            and math.isclose(abs(factor) / written, 2.0, rel_tol=1e-3)
            and not math.isclose(abs(factor), 2.0, rel_tol=1e-3)
        ):
            factor = factor / 2  # the formula's own missing 1/2 is VAE007's finding, not a weight
            if math.isclose(factor, ctx.beta, rel_tol=1e-3):
                return
        beta = beta_eff(scales, ctx)
        if beta.rec_weight and math.isclose(factor / beta.rec_weight, ctx.beta, rel_tol=1e-3):
            return  # 0.5 * rec + 0.5 * kl: the terms weighed alike
        if (not scales.batch_power or one_batch_size(ctx)) and math.isclose(
            beta.reductions_value * factor / (beta.rec_weight or 1.0), ctx.beta, rel_tol=1e-3
        ):
            # the weight undoes the reductions' ratio (a graph VAE's KL / n beside a mean over n x n): the
            # ELBO's; a ratio that goes with B too where every batch has this one's size (full-batch training)
            return
        main = max(consts, key=lambda f: abs(math.log(abs(f.value))))
        counted = counted_weight(main) or adapted_weight(main)
        if counted is not None:  # a warm-up no schedule was read of, a controller's weight: its first value is no beta
            raise SkipRule(f"the KL's weight changes from step to step ({counted}): its value at the step checked, {factor:g}, is no beta")
        loc = main.loc
        source = factor_source(ctx, main)
        said = BetaEff(beta.reductions, beta.reductions_value, factor, beta.rec_weight)
        yield self.report(KLFactorSeen(factor, source, ctx.beta, said, stood_in_length(ctx, main)), loc, node=scales.kl.term)

    def autofix(self, finding, ctx):
        """Unsafe (the loss's scale changes): the KL term's factor written as the declared beta: ``0.01 * kld`` -> ``kld``."""
        import torch.fx as fx

        from vaelint.fixes.edits import UNSAFE, Fix
        from vaelint.fixes.source import expr_at

        scales = next((s for s in (loss_scales(ctx).each_kl() if loss_scales(ctx) else ()) if s.kl.term is finding.node), None)
        if scales is None or scheduled_weight(ctx, scales.kl) is not None:
            return None
        if getattr(finding.observed, "weight", None):
            return None  # a weight in the code at 1 here (self.beta): writing the number in would drop it
        if not math.isclose(scales.rec.explicit or 1.0, 1.0, rel_tol=1e-3):
            return None  # the reconstruction weighed too: the edit is the user's to choose
        factor = next((f for f in scales.kl.factors if f.kind == "const" and f.loc == finding.loc), None)
        if factor is None or ctx.view.op(factor.node) != "mul":
            return None
        if " times " in factor_source(ctx, factor) or factor_source(ctx, factor).startswith("the factor "):
            # beta * 0.5 * sum(...), -0.5 / n * sum(...): the number holds the KL's own 1/2 (and its sign),
            # which the edit would drop
            return None
        expr = expr_at(factor.loc)
        operands = expr.operands() if expr is not None else []
        args = list(factor.node.args)
        if len(operands) != 2 or len(args) != 2:
            return None
        texts = [expr.code(o) for o in operands]
        side = _factor_side(factor, texts)
        if side is not None:
            # the factor's side read from the source, whichever side the run recorded
            # it on (a recorded ``self.beta * kld`` is kld.mul(4): the graph reads the other way)
            text = texts[1 - side]
        else:
            kept = [i for i, a in enumerate(args) if isinstance(a, fx.Node) and a.op != "get_attr"]
            if len(kept) != 1:
                return None
            text = texts[kept[0]]
        new = text if math.isclose(ctx.beta, 1.0) else f"{ctx.beta:g} * {text}"
        return Fix(f"weigh the KL term by the declared beta: {new}", (expr.replace(new),), UNSAFE)

    def _check_schedule(self, ctx, scales, scheduled):
        """An annealed weight: judged by where it settles, not by its value at the step run."""
        s, top, end = scheduled.schedule, scheduled.top, scheduled.limit
        # the reductions' own ratio (a mean reconstruction beside a KL summed over Z: D), the same at every
        # step where it holds no B: the weight the schedule ends at is times it (the header's beta_eff)
        said = beta_eff(scales, ctx)
        times = said.reductions_value / (said.rec_weight or 1.0) if said.reductions not in ("1",) and "B" not in said.reductions else 1.0
        if scheduled.reaches(ctx.beta):  # the reductions' ratio beside it is VAE002's to say
            ctx.notes.append(f"the KL weight is annealed: {s.text()}; {'each cycle' if top else 'it'} reaches beta = {ctx.beta:g}")
            return
        if not math.isclose(times, 1.0) and end is not None and top is None and math.isclose(end * times, ctx.beta, rel_tol=0.02):
            ctx.notes.append(
                f"the KL weight is annealed: {s.text()}; with the reductions' {said.reductions} it reaches beta = {ctx.beta:g}"
            )
            return
        reductions = (said.reductions, times) if not math.isclose(times, 1.0) else ("", 1.0)
        seen = AnnealedKLSeen(s.name, s.counter, s.text(), end, ctx.beta, s.last is not None, top, reductions)
        yield self.report(seen, s.loc, node=scales.kl.term)

    def confirm(self, finding, ctx, observed):
        """In the real run, the KL term's value over the closed-form KL of the sampler's mean and std is the
        weight the loss gives it (a KL left out: the loss is the reconstruction term's value, the KL beside it is not 0)."""
        if isinstance(finding.observed, DroppedKLSeen):
            return _left_out(ctx, finding, observed)
        if isinstance(finding.observed, NoKLSeen):
            return None  # nothing to weigh: the run shows the same loss as the code
        scales = loss_scales(ctx)
        if scales is None or observed.result is None or scales.kl.read_as is not None:
            # a KL weighed by its log q(z) or over stacked steps: no closed form of the heads to weigh it by
            return None
        t = observed.result.tensors
        r = ctx.roles.reparam
        term, mu, std = t.get(scales.kl.term), t.get(r.mu), t.get(r.std)
        if term is None or mu is None or std is None:
            return None
        mu, std = mu.double().cpu(), std.double().cpu().expand_as(mu).clamp_min(1e-12)
        closed = float((0.5 * (mu**2 + std**2 - 1 - 2 * std.log())).sum())
        z = t.get(r.z)
        if term_kind(ctx.view, ctx.roles, scales.kl.term) == "latent" and z is not None and z.shape == mu.shape:
            # log q(z) - log p(z) at the run's own sample (a Monte Carlo KL): its value at that z, not the
            # closed form it estimates (one draw of B x Z values is no match for it)
            z = z.detach().double().cpu()
            closed = float((0.5 * (z**2 - ((z - mu) / std) ** 2) - std.log()).sum())
        if abs(closed) < 1e-9:
            return None
        # a term still per sample ((rec + beta * kl).mean()) shares the outer mean with rec:
        # its value carries only its own reductions
        weight = abs(float(term.double().sum()) / closed)
        power, sizes = scales.kl.own()
        expected = scales.kl.explicit * ctx.batch**power / sizes
        return math.isclose(weight, expected, rel_tol=0.05)


HALF_AS_WRITTEN = (
    "the KL stacks a time loop's per-step KLs, read per element as written (their constant against a Gaussian KL "
    "is not read): a 1/2 or 2 written on it may be the KL formula's own, so its weight is not judged"
)

_WEIGHT_NAME = re.compile(r"gamma|lambda|lamb|lmbda|alpha|beta|weight|factor|coef|\bw_|_w\b|scale|scaling", re.I)


def _named(ctx, factor) -> str:
    """How the code names a factor (the source text of ``factor_source``), less where it is: a file
    named train_weight.ipynb names no weight."""
    text = factor_source(ctx, factor)
    if factor.loc is not None:
        text = text.replace(factor.loc.where(), "")
    return re.sub(r"\S*\.(?:py|ipynb)\b\S*", "", text)  # every location said in it (set at beta_vae.py:17)


@dataclass
class UnweightedKL(Observed):
    """The KL term has no weight in the code, but a beta was declared."""

    beta: float
    rec_weight: float = 1.0  # a weight on the reconstruction (2 * rec): the KL's relative weight is its inverse
    weight: str | None = None  # an attribute weighting the KL that holds 1 on this check (self.beta of a loss class)

    def message(self) -> str:
        if self.weight:
            return (
                f"the KL term's weight {self.weight} is 1 on this check (beta_eff = 1) but --beta {self.beta:g} was declared: "
                "the object that holds it was built with its defaults, or the code sets it to 1."
            )
        if not math.isclose(self.rec_weight, 1.0, rel_tol=1e-3):
            return (
                f"the KL term carries no weight in the code and the reconstruction is multiplied by {self.rec_weight:g}, "
                f"so beta_eff = 1/{self.rec_weight:g} = {1 / self.rec_weight:.3g} while the declared beta is {self.beta:g}."
            )
        return f"the KL term carries no weight in the code (beta_eff = 1) but --beta {self.beta:g} was declared."

    def fix(self) -> str:
        if self.weight:
            name = self.weight.removeprefix("self.")
            return (
                f"check it built as your training builds it (a loss class: --loss-kwarg {name}={self.beta:g} goes to its "
                f"constructor), or set {self.weight} = {self.beta:g}; or drop --beta"
            )
        if not math.isclose(self.rec_weight, 1.0, rel_tol=1e-3):
            weight = self.beta * self.rec_weight
            return (
                f"weigh the KL term by {weight:g} beside the reconstruction's {self.rec_weight:g} (loss = {self.rec_weight:g} * rec + "
                f"{weight:g} * kl), or declare the weight you intend with --beta {1 / self.rec_weight:.3g}"
            )
        return f"multiply the KL term by beta (loss = rec + {self.beta:g} * kl), or drop --beta"


@dataclass
class KLFactorSeen(Observed):
    """An explicit factor on the KL term, and where it comes from."""

    factor: float
    source: str  # "a literal", "self.kld_weight", ...
    beta: float
    said: BetaEff | None = None  # beta_eff with the reductions and the reconstruction's weight, as the header says it
    stood_in: str = ""  # the factor reads the data set's length, and the data stood in (its note)

    def message(self) -> str:
        if self.stood_in:
            return (
                f"the KL term is multiplied by a factor computed from the data set's length ({self.source}), so beta_eff "
                f"is not the declared beta {self.beta:g}; here the data is vaelint's stand-in ({self.stood_in}), so the "
                f"factor's value on this run, {self.factor:.6g}, is the stand-in's: on your data it is the same formula "
                "over your data set's length."
            )
        said = self.said
        if said is None or said.reductions == "1" and math.isclose(said.rec_weight or 1.0, 1.0, rel_tol=1e-3):
            return (
                f"the KL term is multiplied by {self.factor:.6g} ({self.source}), so beta_eff = {self.factor:.6g} "
                f"while the declared beta is {self.beta:g}."
            )
        parts = []
        if said.reductions != "1":
            # the reductions are VAE002's finding, unless the factor undoes them (an ELBO / K)
            undone = math.isclose(said.reductions_value * self.factor, 1.0, rel_tol=1e-3)
            parts.append(f"the reductions' {said.reductions} = {said.reductions_value:.6g}{'' if undone else ' (VAE002)'}")
        if said.rec_weight and not math.isclose(said.rec_weight, 1.0, rel_tol=1e-3):
            parts.append(f"the reconstruction's weight {said.rec_weight:g}")
        return (
            f"the KL term is multiplied by {self.factor:.6g} ({self.source}); with {' and '.join(parts)}, "
            f"{said.said()} while the declared beta is {self.beta:g}."
        )

    def fix(self) -> str:
        if self.stood_in:
            return (
                "weigh the KL by the beta you mean, not by a ratio of the batch to the data set's length (which makes "
                "beta_eff change with the data set's size), or declare that weight with --beta, computed on your data"
            )
        said = self.said
        weight = self.factor / (said.rec_weight or 1.0) if said is not None else self.factor
        if said is not None and said.reductions != "1" and math.isclose(said.reductions_value * self.factor, 1.0, rel_tol=1e-3):
            weight = said.value  # the factor undoes the reductions (an ELBO / K): beta_eff is the beta to declare
        elif said is not None and said.reductions != "1" and "B" not in said.reductions and said.reductions_value > 1 > self.factor > 0:
            # the factor beside reductions that differ by a size (VAE002's D): the weight to declare is the whole
            # one, or VAE002 still stands (a latent-diffusion autoencoder's 1e-6 beside a mean reconstruction)
            return (
                f"remove the factor, or declare the weight you intend with --beta {said.value:.6g} ({weight:.6g} times "
                f"the reductions' {said.reductions} = {said.reductions_value:.6g}; --beta {weight:.6g} leaves VAE002)"
            )
        return f"remove the factor, or declare the weight you intend with --beta {weight:.6g}"


@dataclass
class AnnealedKLSeen(Observed):
    """A KL weight annealed by the step's counter to a limit other than beta (None: none)."""

    name: str
    counter: str
    schedule: str
    limit: float | None
    beta: float
    ends: bool = False  # the limit is the value at the last pass of the counter's loop
    peak: float | None = None  # a cyclical weight's top
    reductions: tuple = ("", 1.0)  # the reductions' formula and ratio beside it (VAE002's D): ("", 1) for none

    @property
    def whole(self) -> float | None:
        """The beta_eff the schedule ends at, the reductions' ratio included."""
        top = self.peak if self.peak is not None else self.limit
        return None if top is None else top * self.reductions[1]

    def message(self) -> str:
        times = f" times the reductions' {self.reductions[0]}" if self.reductions[0] else ""
        if self.peak is not None:
            where, ends = f"cycles up to {self.peak:.6g}", f"{self.whole:.6g} at each cycle's top{times and ' (' + times.strip() + ')'}"
        elif self.limit is None:
            where, ends = "never settles", "no fixed value"
        else:
            where = f"{'ends' if self.ends else 'settles'} at {self.limit:.6g}"
            ends = f"{self.limit:.6g}{times} = {self.whole:.6g}" if times else f"{self.limit:.6g}"
        # a weight written inline (min(0.5, step / warmup) * kl) is named by its schedule's text alone
        # (and a variable called weight is not "the weight weight")
        weight = "weight" if self.schedule.startswith(f"{self.name} (") or self.name == "weight" else f"weight {self.name}"
        return (
            f"the KL term's {weight} is annealed with {self.counter} ({self.schedule}) and {where}, so "
            f"beta_eff ends at {ends} while the declared beta is {self.beta:g}."
        )

    def fix(self) -> str:
        if self.limit is None and self.peak is None:
            return "anneal towards a fixed weight, or check with --beta at the weight you intend"
        return f"make the schedule end at the beta you intend ({self.beta:g}), or declare where it ends with --beta {self.whole:.6g}"


@dataclass
class DroppedKLSeen(Observed):
    """A Gaussian KL of the sampler's heads the loss computes but does not return."""

    heads: str  # where the mean head is computed
    beta: float

    def message(self) -> str:
        return (
            f"the loss computes the Gaussian KL of the sampler's mean and log-variance (the heads at {self.heads}) here, but "
            f"what it returns does not include it: the KL weighs nothing (beta_eff = 0) while the declared beta is {self.beta:g}, "
            "and the model trains as a plain autoencoder."
        )

    def fix(self) -> str:
        return "return the loss with the KL in it (return rec + beta * kl), not the reconstruction term alone"


@dataclass
class NoKLSeen(Observed):
    """A sampler of a learned mean and scale, and no KL term in the loss at all."""

    sampler: str  # where the sample is drawn
    beta: float

    def message(self) -> str:
        return (
            f"the model samples z from a learned mean and scale (at {self.sampler}), but the loss has no KL term: "
            f"the KL weighs nothing (beta_eff = 0) while the declared beta is {self.beta:g}; the scale is pulled to 0 "
            "and the model trains as a noisy autoencoder, with no prior to sample from."
        )

    def fix(self) -> str:
        return "add the KL to the loss: kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1).mean(); loss = rec + beta * kl"


def _reads_the_heads_beside_the_sample(ctx, r) -> bool:
    """Does the loss read the sampler's heads along a path that is not through its sample?"""
    import torch.fx as fx

    from vaelint.facts.reparams import heads_of, samples_of

    total = ctx.roles.loss_total
    heads, samples = heads_of([r]), samples_of([r])
    # the heads' layers run again by the loss (log q(z|x) of stochastic-layer objects: self.q_params(x)
    # once more) read the same mean and scale
    heads = frozenset(heads) | {twin for h in heads for twin in ctx.view.layer_twins(h)}
    # heads tiled for K samples (mu.repeat_interleave(K, 0)): the loss may tile the untiled ones again itself
    heads = heads | {src for h in heads for src in _untiled(ctx.view, h)}
    return isinstance(total, fx.Node) and bool(heads) and ctx.view.reads_around(total, heads, samples)


def _untiled(view, node) -> list:
    """What a head was tiled or reshaped from (``mu_k = mu.repeat_interleave(K, 0)``: mu)."""
    out = []
    while len(out) < 3 and view.op(node) in ("repeat_interleave", "repeat", "expand", "tile", "unsqueeze", "view", "reshape"):
        node = node.args[0]
        if not hasattr(node, "op"):
            break
        out.append(node)
    return out


def _left_out(ctx, finding, observed) -> bool | None:
    dropped, rec = observed.value(finding.node), ctx.roles.rec_terms
    if dropped is None or len(rec) != 1 or observed.loss_value is None or observed.value(rec[0]) is None:
        return None
    kept = float(observed.value(rec[0]).detach().sum())
    return math.isclose(kept, observed.loss_value, rel_tol=1e-5) and float(dropped.detach().abs().sum()) > 0


CLASS_WEIGHTED = (
    "the reconstruction is re-weighted per class (pos_weight=, as a graph VAE's adjacency likelihood is): the KL's "
    "weight against it is no beta of the ELBO, so it is not compared with the declared beta"
)


def _class_weighted(element) -> bool:
    """A likelihood whose positive entries are weighed by ``pos_weight`` (Kipf and Welling's VGAE:
    ``norm * BCE_with_logits(logits, adj, pos_weight=(N^2 - E) / E)``): its scale is the re-weighting's,
    and a 1/N on the KL beside it (the paper's objective) is no stray beta."""
    if element is None or getattr(element, "op", None) is None:
        return False
    weight = element.kwargs.get("pos_weight")
    if weight is None and len(element.args) > 6:
        weight = element.args[6]  # binary_cross_entropy_with_logits(input, target, weight, ..., pos_weight)
    return weight is not None
