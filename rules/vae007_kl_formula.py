"""VAE007 kl-formula: the KL term is not the Gaussian KL of the sampler's mean and std."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from vaelint.facts.context import loc_of
from vaelint.facts.klcheck import clamped_kl_weights, kl_reading, kl_readings, maximised_elbo, why_no_kl_reading
from vaelint.facts.kldirection import reversed_learned_kl
from vaelint.facts.samplekl import biased_sample_kl
from vaelint.facts.samplernoise import added_noise, sampler_scale, uniform_noise
from vaelint.rulebase import Example, Observed, Rule, SkipRule, fill
from vaelint.vocab import FixAvailability, Need, Severity

_MODEL = """import torch
import torch.nn as nn


class VAE(nn.Module):
    def __init__(self, latent=4):
        super().__init__()
        self.enc = nn.Linear(20, 2 * latent)
        self.dec = nn.Linear(latent, 20)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(z)), mu, logvar


def loss_function(recon, x, mu, logvar):
    rec = nn.functional.binary_cross_entropy(recon, x, reduction="sum")
    kl = {KL}  # <- finding
    return rec + kl
"""


def _model(kl: str) -> str:
    return fill(_MODEL, kl=kl)


def _negated_elbo(kl: str, elbo: str) -> str:
    """The loss returned as an ELBO times -1 (``elbo.mul(-1)``, as ilkhem/iVAE's step writes it)."""
    return _model(kl).replace("return rec + kl", f"return ({elbo}).mul(-1)")


# KL(N(mu, var) || N(0, s^2 I)) with s = 0.1 (log s^2 = -4.605...), times {c}
_AGAINST_S = "{c} * torch.sum(1 + logvar - (mu.pow(2) + logvar.exp()) / 0.01 + 4.605170185988091)"


# a conditional prior p(z | c) = N(mu_p, exp(logvar_p)) computed by a network of its own
_LEARNED = """import torch
import torch.nn as nn


class VAE(nn.Module):
    def __init__(self, latent=4):
        super().__init__()
        self.enc = nn.Linear(20, 2 * latent)
        self.prior = nn.Linear(3, 2 * latent)
        self.dec = nn.Linear(latent, 20)

    def forward(self, x, c):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        mu_p, logvar_p = self.prior(c).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(z)), mu, logvar, mu_p, logvar_p


def loss_function(recon, x, mu, logvar, mu_p, logvar_p):
    rec = nn.functional.binary_cross_entropy(recon, x, reduction="sum")
    kl = {KL}  # <- finding
    return rec + kl
"""
_TWO = "{c} * torch.sum(logvar_p - logvar + (logvar.exp() + (mu - mu_p).pow(2)) / logvar_p.exp() - 1)"
# the same two Gaussians the wrong way round, KL(p || q): the sampler's variance divides
_TWO_REVERSED = "0.5 * torch.sum(logvar - logvar_p + (logvar_p.exp() + (mu_p - mu).pow(2)) / logvar.exp() - 1)"


# a std by softplus (no log-variance to read): the KL is read in the sampler's own std
_SOFTPLUS = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self, latent=4):
        super().__init__()
        self.enc = nn.Linear(20, 2 * latent)
        self.dec = nn.Linear(latent, 20)

    def forward(self, x):
        mu, s = self.enc(x).chunk(2, dim=1)
        std = F.softplus(s) + 1e-4
        z = mu + torch.randn_like(std) * std
        return self.dec(z), mu, s


def loss_function(recon, x, mu, s):
    rec = F.mse_loss(recon, x, reduction="sum")
    std = F.softplus(s) + 1e-4
    kl = {KL}  # <- finding
    return rec + kl
"""


# the heads of an LSTM's last state, (1, B, Z), squeezed to B x Z for the KL (text VAEs)
_SQUEEZED = (
    _MODEL.replace("self.enc(x).chunk(2, dim=1)", "self.enc(x).unsqueeze(0).chunk(2, dim=-1)")
    .replace("torch.sigmoid(self.dec(z)), mu", "torch.sigmoid(self.dec(z)).squeeze(0), mu")
    .replace("    kl = {KL}", "    mu, logvar = mu.squeeze(0), logvar.squeeze(0)\n    kl = {KL}")
)


# a wide latent (256 dims) whose noise is scaled, as Keras ports write epsilon_std: the ratio of
# z - mu to the noise times std is read to the model's rounding, element by element
_WIDE = (
    _MODEL.replace("latent=4", "latent=256")
    .replace(
        "z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)",
        "eps = {NOISE}  # <- noise\n        z = torch.exp(0.5 * logvar) * eps + mu",
    )
    .replace("{KL}  # <- finding", "-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())")
)


class KLFormula(Rule):
    code = "VAE007"
    fix_availability = FixAvailability.SOMETIMES
    name = "kl-formula"
    severity = Severity.ERROR
    # the sampler's noise is read without a loss (a model checked alone); the KL needs these too
    needs = ()  # a sampler (REPARAM), or one written with + where * belongs (check)
    kl_needs = (Need.LOSS, Need.KL_TERM, Need.CLEAN_RUN)
    summary = "The KL term is not the Gaussian KL of the mean and log-variance the sampler uses."
    what = """
For ``q = N(mu, std^2)`` and the prior ``N(0, 1)``, the KL term is
``0.5 * sum(mu^2 + std^2 - 1 - log std^2)``. vaelint evaluates the model's KL
term on the real mean and std of a run and compares it with this closed form:
a wrong sign (the KL subtracted: the loss rewards leaving the prior), a
missing 1/2 (the KL counted twice), or a formula that is no KL at all (a
missing ``mu**2``, ``logvar`` where ``logvar.exp()`` belongs, ``F.kl_div(mu, sigma)``:
torch's KL of two discrete distributions, given the Gaussian's heads). Against a Gaussian
prior the heads do not move (a conditional prior ``p(z | c)`` from a network of its
own, a prior held as parameters, ``N(0, s^2)``) the term is compared with the KL of
two Gaussians, ``0.5 * sum(logvar_p - logvar + (std^2 + (mu - mu_p)^2) / var_p - 1)``. Against a
learned or conditional prior, a closed-form KL in which the sampler's own std or variance divides
(``kl_divergence(prior, posterior)``, the two Gaussians' parts swapped) is KL(p || q), taken the
wrong way round.
Monte Carlo estimates (``log q(z) - log p(z)``), mixture priors and priors computed
from the sample itself are not checked. A KL
clamped for free bits (``torch.max(kl - free_bits, 0)``) is not compared with the
closed form, but one that enters the loss with a negative weight is reported.
"""
    why = """
The loss still goes down. With the sign flipped the encoder is pushed away from
the prior without bound; a factor of 2 is a hidden beta = 2; a broken formula
regularises something other than the posterior.
"""
    example = """
kl = 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())    # sign flipped
kl = -torch.sum(1 + logvar - mu.pow(2) - logvar.exp())         # missing 1/2
"""
    fix = """
``kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())``, or
``torch.distributions.kl_divergence(q, p)``; and add it to the reconstruction
term.
"""
    VALID = [
        Example(_model("-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())"), inputs=("6x20",)),
        Example(_model("0.5 * torch.sum(mu.pow(2) + logvar.exp() - 1 - logvar)"), inputs=("6x20",)),
        Example(_model("torch.sum(-0.5 * (1 + logvar - mu ** 2 - torch.exp(logvar)))"), inputs=("6x20",)),
        # its 1/2 written into a divisor beside the batch size: / (2 * n) is 1/2 on a batch mean (x.size(0) times it back)
        Example(_model("-torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / (2 * x.size(0)) * x.size(0)"), inputs=("6x20",)),
        # free bits: a KL clamped from below on purpose is not checked against the closed form
        Example(_model("torch.clamp(-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()), min=0.1).sum()"), inputs=("6x20",)),
        Example(fill(_SOFTPLUS, kl="torch.sum(-torch.log(std) + 0.5 * (std**2 + mu**2) - 0.5)"), inputs=("6x20",)),
        # the KL against a prior the user chose, N(0, 0.1^2 I): a Gaussian KL of the same sampler
        Example(_model(_AGAINST_S.format(c="-0.5")), inputs=("6x20",)),
        # against N(0, 1/2) named as a divisor of the mean's part (/ prior_var) and as a filled tensor
        Example(fill(_SOFTPLUS, kl="torch.sum(0.5 * ((std**2 + mu**2) / 0.5 - 1 - torch.log(std**2 / 0.5)))"), inputs=("6x20",)),
        Example(
            fill(_SOFTPLUS, kl="torch.sum(0.5 * ((std**2 + mu**2) / torch.full_like(std, 0.5) - 1 - torch.log(std**2 / 0.5)))"),
            inputs=("6x20",),
        ),
        # against N(0, 1/2) named in the formula (its log, -0.693): a prior the user chose
        Example(
            fill(_SOFTPLUS, kl="torch.sum(0.5 * ((std**2 + mu**2) / 0.5 - 1 - torch.log(std**2) - 0.6931471805599453))"), inputs=("6x20",)
        ),
        # against a learned conditional prior: the KL of two Gaussians, the prior's network's heads fixed
        Example(fill(_LEARNED, kl=_TWO.format(c="0.5")), inputs=("6x20", "6x3")),
        # the two Gaussians' KL with its log-ratio written as log(std_p / std_q): the sampler's std
        # divides only under the log, as KL(q || p) has it (the near miss of _TWO_REVERSED)
        Example(
            fill(
                _LEARNED,
                kl="torch.sum(torch.log(torch.exp(0.5 * logvar_p) / torch.exp(0.5 * logvar)) "
                "+ (logvar.exp() + (mu - mu_p).pow(2)) / (2 * logvar_p.exp()) - 0.5)",
            ),
            inputs=("6x20", "6x3"),
        ),
        # the - 1 left out: the KL plus a constant, the same gradients (a note, not a finding)
        Example(_model("0.5 * torch.sum(mu.pow(2) + logvar.exp() - logvar)"), inputs=("6x20",)),
        Example(fill(_WIDE, noise="torch.randn_like(logvar)").replace("  # <- noise", ""), inputs=("32x20",)),
        # kl_div where it belongs, on the data's distribution (the reconstruction), beside the Gaussian KL
        Example(
            _model("-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())").replace(
                'nn.functional.binary_cross_entropy(recon, x, reduction="sum")',
                'nn.functional.kl_div(torch.log(recon), x.softmax(dim=1), reduction="sum")',
            ),
            inputs=("6x20",),
        ),
        # (1, B, Z) heads squeezed to B x Z before the KL: the same heads, read in the element's layout
        Example(fill(_SQUEEZED, kl="-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())"), inputs=("6x20",)),
        # a loss method that returns the ELBO itself, to be maximised: -(rec + kl), its KL negated as its reconstruction is
        Example(
            _model("-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())").replace("return rec + kl", "return -(rec + kl)"),
            inputs=("6x20",),
        ),
        # the ELBO (the KL written negated, added) minimised as elbo.mul(-1): the number flips every term, as -elbo does
        Example(_negated_elbo("0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())", "-rec + kl"), inputs=("6x20",)),
    ]
    INVALID = [
        # an ELBO returned to be maximised that adds the KL: maximising it pushes the posterior away
        Example(
            _model("-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())").replace("return rec + kl", "return -rec + kl"),
            inputs=("6x20",),
            at="finding",
            message="wrong sign",
            fixed=_model("0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())").replace("return rec + kl", "return -rec + kl"),
        ),
        # its near miss: the negated KL subtracted inside the ELBO, so the loss takes the KL away
        Example(
            _negated_elbo("0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())", "-rec - kl"),
            inputs=("6x20",),
            at="finding",
            message="subtracted",
            fixed=_negated_elbo("0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())", "-rec + kl"),
        ),
        # torch's kl_div (of discrete distributions, log-probabilities against probabilities) given the heads
        Example(_model("-nn.functional.kl_div(mu, logvar.exp())"), inputs=("6x20",), at="finding", message="F.kl_div is given"),
        Example(
            _model("0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())"),
            inputs=("6x20",),
            at="finding",
            message="subtracted",
            fixed=_model("-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())"),
        ),
        Example(
            _model("-torch.sum(1 + logvar - mu.pow(2) - logvar.exp())"),
            inputs=("6x20",),
            at="finding",
            message="missing 1/2",
            fixed=_model("-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())"),
        ),
        Example(_model("-0.5 * torch.sum(1 + logvar - logvar.exp())"), inputs=("6x20",), at="finding", message="not the Gaussian KL"),
        # the near miss of the divisor (2 * n): the batch size alone divides, and the 1/2 is missing
        Example(
            _model("-torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / (1 * x.size(0)) * x.size(0)"),
            inputs=("6x20",),
            at="finding",
            message="missing 1/2",
        ),
        Example(
            fill(_SQUEEZED, kl="-torch.sum(1 + logvar - mu.pow(2) - logvar.exp())"),
            inputs=("6x20",),
            at="finding",
            message="missing 1/2",
            fixed=fill(_SQUEEZED, kl="-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())"),
        ),
        # the tutorial's KL, the 1/2 missing from its std^2 + mu^2 part: the KL to N(0, 1/2), a prior no line names
        Example(
            fill(_SOFTPLUS, kl="torch.sum(std**2 + mu**2 - torch.log(std) - 0.5)"),
            inputs=("6x20",),
            at="finding",
            message="the KL to N(0, 1/2)",
        ),
        # against N(0, 0.1^2 I) too, the 1/2 is the formula's own
        Example(
            _model(_AGAINST_S.format(c="-1")),
            inputs=("6x20",),
            at="finding",
            message="missing 1/2",
            fixed=_model(_AGAINST_S.format(c="-0.5")),
        ),
        Example(
            fill(_LEARNED, kl=_TWO.format(c="1")),
            inputs=("6x20", "6x3"),
            at="finding",
            message="twice the KL between the sampler's Gaussian and its Gaussian prior",
            fixed=fill(_LEARNED, kl=_TWO.format(c="0.5")),
        ),
        Example(fill(_LEARNED, kl=_TWO_REVERSED), inputs=("6x20", "6x3"), at="finding", message="taken the wrong way round, KL(p || q)"),
        Example(
            fill(_SOFTPLUS, kl="-0.5 * torch.sum(1 + s - mu.pow(2) - s.exp())"),
            inputs=("6x20",),
            at="finding",
            message="not the Gaussian KL of the mean and std the sampler uses",
        ),
        Example(fill(_WIDE, noise="1e-2 * torch.randn_like(logvar)"), inputs=("32x20",), at="noise", message="scaled by 0.01"),
        # the same scale given as a tensor of one value (Mult-VAE ports' torch.normal(zeros, 0.01 * ones))
        Example(
            fill(_WIDE, noise="torch.normal(mean=torch.zeros_like(logvar), std=0.01 * torch.ones_like(logvar))"),
            inputs=("32x20",),
            at="noise",
            message="scaled by 0.01",
        ),
        # uniform noise (torch.rand_like where randn_like was meant): no Gaussian sample
        Example(
            _model("-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())")
            .replace("  # <- finding", "")
            .replace(
                "z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)",
                "z = mu + torch.rand_like(mu) * torch.exp(0.5 * logvar)  # <- noise",
            ),
            inputs=("6x20",),
            at="noise",
            message="uniform on [0, 1)",
        ),
    ]

    def check(self, ctx):
        if not ctx.roles.reparams:
            added = added_noise(ctx)
            if added is None:
                raise SkipRule(ctx.unmet(Need.REPARAM))
            # mu + eps + std: the noise added beside the std, not multiplied by it
            yield self.report(FormulaSeen("added_noise"), loc_of(added[0]) or loc_of(added[1]), node=added[0])
            return
        for layer in ctx.roles.reparams:
            if uniform_noise(ctx, layer):
                # eps = torch.rand_like(std): U(0, 1) noise, mean 1/2, no Gaussian sample at all
                yield self.report(FormulaSeen("uniform_noise"), loc_of(layer.noise) or loc_of(layer.product), node=layer.product)
                return
            scale = sampler_scale(ctx, layer)
            if scale is not None and not math.isclose(scale, 1.0, rel_tol=1e-3):
                # the sampler draws N(mu, (scale * std)^2): no KL of N(mu, std^2) is its KL
                yield self.report(FormulaSeen("scaled_noise", scale), loc_of(layer.eps) or loc_of(layer.product), node=layer.product)
                try:  # the KL's own formula as well: a second mistake is not hidden behind the first
                    yield from self._formula(ctx)
                except SkipRule:
                    pass
                return
        yield from self._formula(ctx)

    def _formula(self, ctx):
        """The KL term's formula read against the sampler's heads."""
        biased = biased_sample_kl(ctx) if kl_reading(ctx) is None else None
        if biased is not None:
            # a KL that reads the sample and is no estimate of the KL (the sample where the mean belongs)
            seen = FormulaSeen("biased_sample", expected=biased.expected, closed=biased.closed)
            yield self.report(seen, loc_of(biased.element) or loc_of(biased.term), node=biased.term)
            return
        unmet = next((why for why in map(ctx.unmet, self.kl_needs) if why), None)
        if unmet:
            raise SkipRule(unmet)
        misread = _kl_div_of_heads(ctx)
        if misread is not None:
            sign = next((float(sg) for sg, t in ctx.roles.loss_terms if t is misread or ctx.view.depends_on(t, misread)), 1.0)
            yield self.report(FormulaSeen("kl_div_of_heads", sign), loc_of(misread), node=misread)
            return
        backwards = reversed_learned_kl(ctx)
        if backwards is not None:
            yield self.report(FormulaSeen("reversed_prior"), loc_of(backwards), node=backwards)
            return
        reading = kl_reading(ctx)
        if reading is None:
            # a KL clamped for free bits is not read against the closed form; a subtracted one is wrong whatever it is
            for term, weight in clamped_kl_weights(ctx):
                if weight < 0:
                    yield self.report(FormulaSeen("wrong_sign", weight, clamped=True), loc_of(term), node=term)
                    return
            raise SkipRule(why_no_kl_reading(ctx))
        if reading.undecided:
            raise SkipRule(reading.undecided)
        if reading.sampler is None:
            return
        from vaelint.facts.reparams import heads_of

        # a KL written in parts (sum(var) + sum(mu**2) - clamp(sum(logvar))): its element is a head the
        # encoder made, not a line of the KL's; the term's line is the KL's
        in_heads = reading.element in heads_of(ctx.roles.reparams)
        loc = (None if in_heads else loc_of(reading.element)) or loc_of(reading.node)
        if reading.offset:
            where = f" at {loc.where()}" if loc else ""
            ctx.notes.append(
                f"the KL term{where} is the Gaussian KL against its fixed prior plus a constant ({reading.offset:.4g} per "
                "latent dim and sample: a '- K' where each dim's '- 1' belongs, say): training is the same, but the value "
                "it reports is off by that constant"
                if reading.other_prior
                else f"the KL term{where} is the Gaussian KL plus a constant (the - 1 of each latent dim is left out): "
                "training is the same, but the value it reports is off by that constant (1/2 per latent dim and sample)"
            )
        if reading.kl is None:
            kind = "half_prior" if reading.half_prior else "not_gaussian"
            yield self.report(FormulaSeen(kind, sampler=reading.sampler), loc, node=reading.node)
            return
        yield from self._weighed(ctx, reading, loc)
        # a hierarchical VAE's other layers: each KL term against its own prior
        for other in kl_readings(ctx):
            if other.node is not reading.node and other.kl is not None and not other.undecided:
                yield from self._weighed(ctx, other, loc_of(other.element) or loc_of(other.node))

    def _weighed(self, ctx, reading, loc):
        """A KL term read as the sampler's Gaussian KL, times a constant: its sign and its 1/2."""
        if reading.coefficient is None:
            return
        # a different reading of the head is VAE008's; the KL's sign is the term's whatever the reading
        # (a subtracted KL beside a log-std/log-variance mismatch went unsaid: helper-found)
        mismatched = reading.kl != reading.sampler
        c = reading.coefficient
        if maximised_elbo(ctx):
            # return -(rec + kl) from a loss found by name: an ELBO to maximise, read as its negation
            note = "the loss is read as an ELBO to maximise (its reconstruction enters as a log-likelihood: a loss negated, or a log-probability added): its negation is checked"
            if note not in ctx.notes:
                ctx.notes.append(note)
            c = -c
        if c < 0 and reading.clamped:
            # the sign is written where the clamped KL enters the loss, not where the KL is computed
            yield self.report(FormulaSeen("wrong_sign", c, clamped=True), loc_of(reading.node) or loc, node=reading.node)
        elif c < 0:
            yield self.report(FormulaSeen("wrong_sign", c, other_prior=reading.other_prior), loc, node=reading.node)
        elif (
            not mismatched and math.isclose(_own_constant(c, reading.explicit), 2.0, rel_tol=1e-3) and _weights_only(ctx, reading.explicit)
        ):
            # twice the Gaussian KL once the weights written on it are taken out (b * -torch.sum(...)
            # with b = 0.7: 1.4 = 0.7 * 2): the 1/2 is missing whatever the weight
            own = _own_constant(c, reading.explicit)
            yield self.report(FormulaSeen("missing_half", own, weight=c / own, other_prior=reading.other_prior), loc, node=reading.node)

    def autofix(self, finding, ctx):
        """A KL with its sign flipped or its 1/2 missing, written as a number times the
        sum: the number made right (``0.5 * torch.sum(...)`` -> ``-0.5 * torch.sum(...)``,
        ``-torch.sum(...)`` -> ``-0.5 * torch.sum(...)``)."""
        import libcst as cst

        from vaelint.fixes.edits import SAFE, Fix
        from vaelint.fixes.source import expr_at

        seen = finding.observed
        if seen.kind not in ("wrong_sign", "missing_half") or not seen.coefficient or finding.node is None:
            return None
        if seen.kind == "wrong_sign" and math.isclose(seen.coefficient, -1.0, rel_tol=1e-3):
            # a KL written right but subtracted from the loss (rec - kld): add it
            for user in finding.node.users:
                expr = expr_at(loc_of(user)) if ctx.view.op(user) == "sub" and user.args[1:2] == (finding.node,) else None
                if expr is not None and isinstance(expr.node, cst.BinaryOperation) and isinstance(expr.node.operator, cst.Subtract):
                    text = f"{expr.code(expr.node.left)} + {expr.code(expr.node.right)}"
                    # (the range excludes the parentheses it may be written in: they stay)
                    return Fix("add the KL term to the loss, not subtract it", (expr.replace(text),), SAFE)
        for node in (finding.node, *finding.node.users):
            expr = expr_at(loc_of(node))
            if expr is None:
                continue
            e = expr.node
            if isinstance(e, cst.BinaryOperation) and isinstance(e.operator, cst.Multiply):
                number = next((o for o in (e.left, e.right) if _number(o) is not None), None)
                if number is None:
                    continue
                value = _number(number) / seen.coefficient
                return Fix(f"the Gaussian KL's own factor: {value:g}", (expr.replace(f"{value:g}", number),), SAFE)
            if isinstance(e, cst.UnaryOperation) and isinstance(e.operator, cst.Minus) and _number(e) is None:
                value = -1 / seen.coefficient
                text = f"{value:g} * {expr.code(e.expression)}"
                return Fix(f"the Gaussian KL's own factor: {value:g}", (expr.replace(text),), SAFE)
        return None

    def confirm(self, finding, ctx, observed):
        if observed.result is None:
            return None
        if finding.observed.kind == "added_noise":
            # the run's sample is its deterministic part plus noise of unit spread, whatever the encoder's std
            added = added_noise(ctx)
            noise = observed.value(added[1]) if added is not None else None
            total = observed.value(added[0]) if added is not None else None
            if noise is None or total is None or noise.numel() < 8:
                return None
            return abs(float(noise.float().std()) - 1.0) < 0.25 and bool(total.isfinite().all())
        if finding.observed.kind == "uniform_noise":
            # the run's noise is all in [0, 1): no standard normal draw would be (a few of 2*B*Z values at least)
            layer = next((r for r in ctx.roles.reparams if r.product is finding.node), None)
            noise = observed.value(layer.noise) if layer is not None else None
            return None if noise is None else bool((noise >= 0).all() and (noise < 1).all())
        if finding.observed.kind == "scaled_noise":
            layer = next((r for r in ctx.roles.reparams if r.product is finding.node), None)
            again = sampler_scale(ctx, layer, observed.result) if layer is not None else None
            return None if again is None else not math.isclose(again, 1.0, rel_tol=1e-3)
        if finding.observed.kind == "wrong_sign" and finding.observed.clamped:
            # the clamp is open on the run (the KL above its free bits): the loss falls as the KL grows
            value = observed.value(finding.node)
            return None if value is None else (bool(value.detach().abs().sum() > 0) or None)
        if finding.observed.kind == "biased_sample":
            again = biased_sample_kl(ctx, observed.result)
            return again is not None and again.term is finding.node
        # the same term read on the confirmation's run (a hierarchical VAE has one per layer)
        again = next((r for r in kl_readings(ctx, observed.result) if r.node is finding.node), None) or kl_reading(ctx, observed.result)
        if again is None or again.sampler is None:
            return None
        if finding.observed.kind == "not_gaussian":
            return again.kl is None
        if finding.observed.kind == "half_prior":
            return again.kl is None and again.half_prior
        if again.coefficient is None:
            return None
        if finding.observed.kind == "wrong_sign":
            return again.coefficient < 0
        return math.isclose(_own_constant(again.coefficient, again.explicit), 2.0, rel_tol=1e-2)


_CLOSED_FORM = "kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())"
# the closed form in the head the sampler reads, by its reading (z = mu + eps * exp(logstd): a log-std head)
_SAMPLER_FORMS = {
    "log-std": "kl = -0.5 * torch.sum(1 + 2 * logstd - mu.pow(2) - torch.exp(2 * logstd)) for the log-std head the sampler "
    "reads (std = exp(logstd))",
    "std": "kl = -0.5 * torch.sum(1 + torch.log(std.pow(2)) - mu.pow(2) - std.pow(2)) for the std head the sampler reads",
    "variance": "kl = -0.5 * torch.sum(1 + torch.log(var) - mu.pow(2) - var) for the variance head the sampler reads (std = sqrt(var))",
}
# against a prior N(mu_p, exp(logvar_p)) (learned, conditional, a ladder's upper layer)
_TWO_GAUSSIANS = "kl = 0.5 * torch.sum(logvar_p - logvar + (logvar.exp() + (mu - mu_p).pow(2)) / logvar_p.exp() - 1)"


@dataclass(frozen=True)
class FormulaSeen(Observed):
    """The KL term read against the closed form of the sampler's mean and std."""

    kind: Literal[
        "not_gaussian",
        "half_prior",
        "wrong_sign",
        "missing_half",
        "scaled_noise",
        "uniform_noise",
        "added_noise",
        "kl_div_of_heads",
        "reversed_prior",
        "biased_sample",
    ]
    coefficient: float | None = None  # the term over the closed form, where it is a constant
    weight: float = 1.0  # a weight written on the KL beside its missing 1/2 (b * -torch.sum(...))
    clamped: bool = False  # the KL is clamped for free bits (max(kl - free_bits, 0)): only its sign is read
    other_prior: bool = False  # the KL is taken against a Gaussian prior other than N(0, 1) (learned, conditional)
    expected: float = 0.0  # a KL of the sample: its mean over the noise, summed (biased_sample)
    closed: float = 0.0  # and the closed-form KL of the same heads
    sampler: str | None = None  # how the sampler reads its scale head (LOG_VAR_READINGS' names): the fix's form

    def message(self) -> str:
        if self.kind == "added_noise":
            return (
                "the sampler adds the noise to the mean and to the std instead of scaling it by the std (mu + eps + std "
                "where mu + eps * std belongs): z ~ N(mu + std, 1) whatever the encoder's scale, so the scale head only "
                "shifts the mean and the Gaussian KL of N(mu, std^2) is not the distribution the decoder is trained on."
            )
        if self.kind == "uniform_noise":
            return (
                "the noise that multiplies the std is uniform on [0, 1) (torch.rand / rand_like), not N(0, 1): the "
                "sampler's z = mu + u * std is no Gaussian sample (its mean is mu + std / 2), so the Gaussian KL "
                "and the reparameterisation disagree."
            )
        if self.kind == "scaled_noise":
            return (
                f"the noise is scaled by {self.coefficient:.3g} before it meets the std: the sampler draws "
                f"z ~ N(mu, ({self.coefficient:.3g} * std)^2), not N(mu, std^2), so the KL term, written for "
                "N(mu, std^2), is not the KL of the distribution the decoder is trained on."
            )
        if self.kind == "kl_div_of_heads":
            return (
                "F.kl_div is given the encoder's mean and scale heads: it is the KL between two discrete distributions "
                "given as log-probabilities and probabilities (sum target * (log target - input)), not the KL of "
                "N(mu, std^2) against N(0, 1), so the term does not pull the posterior towards the prior"
                + (", and it is subtracted from the loss." if (self.coefficient or 1) < 0 else ".")
            )
        if self.kind == "reversed_prior":
            return (
                "the KL against the learned prior is taken the wrong way round, KL(p || q): the sampler's own std "
                "divides in it, where the ELBO's KL(q || p) divides by the prior's. It pulls the prior towards the "
                "posterior's spread instead of the posterior towards the prior (kl_divergence(prior, posterior))."
            )
        if self.kind == "biased_sample":
            return (
                "the KL term reads the sample z, and is no estimate of the KL: averaged over draws of the noise it is "
                f"{self.expected:.4g} where KL(N(mu, std^2) || N(0, 1)) of the same heads is {self.closed:.4g} "
                "(no constant multiple of it). A closed form written with the sample where the mean belongs, or a "
                "Monte Carlo estimate missing a part of log q(z|x) - log p(z)."
            )
        if self.kind == "half_prior":
            return (
                "the KL term is the KL to N(0, 1/2), not to N(0, 1): its mu^2 + std^2 part lacks the 1/2 of the Gaussian "
                "KL (0.5 * (mu^2 + std^2) - log std - 0.5), so it pulls every posterior std towards 0.71 and the means in "
                "twice as hard, while samples of the prior are drawn from N(0, 1)."
            )
        if self.kind == "not_gaussian":
            return (
                "the KL term is not the Gaussian KL of the mean and std the sampler uses: on the run's "
                "values it is no constant multiple of 0.5 * sum(mu^2 + std^2 - 1 - log std^2)."
            )
        if self.kind == "wrong_sign" and self.clamped:
            return (
                f"the KL term, clamped for free bits, enters the loss with the wrong sign (weight {self.coefficient:.3g}): "
                "above the free bits the KL is subtracted, so minimising the loss drives it up, pushing the posterior "
                "away from the prior."
            )
        if self.kind == "wrong_sign":
            return (
                f"the KL term enters the loss with the wrong sign (weight {self.coefficient:.3g}): the KL is "
                "subtracted, so minimising the loss pushes the posterior away from the prior."
            )
        gaussian = "the KL between the sampler's Gaussian and its Gaussian prior" if self.other_prior else "the Gaussian KL"
        if self.weight and not math.isclose(self.weight, 1.0, rel_tol=1e-3):
            return (
                f"the KL term is twice {gaussian} (a missing 1/2), and weighted by {self.weight:g}: "
                f"beta_eff = 2 * {self.weight:g} = {2 * self.weight:g}, not the {self.weight:g} the weight says."
            )
        return f"the KL term is twice {gaussian} (a missing 1/2): beta_eff = 2."

    def fix(self) -> str:
        if self.kind == "added_noise":
            return "multiply the noise by the std: z = mu + torch.randn_like(std) * std"
        if self.kind == "uniform_noise":
            return "draw standard normal noise: eps = torch.randn_like(std)"
        if self.kind == "scaled_noise":
            return "draw standard normal noise: eps = torch.randn_like(std) (a smaller spread belongs in the encoder's std)"
        if self.kind == "reversed_prior":
            return "take the KL of the posterior against the prior: kl_divergence(q, p), q the distribution the sample is drawn from"
        if self.kind == "kl_div_of_heads":
            return (
                f"write the Gaussian KL of the heads in closed form instead: {_CLOSED_FORM} for a log-variance head, or "
                "kl = -0.5 * torch.sum(1 + torch.log(std.pow(2)) - mu.pow(2) - std.pow(2)) for a std head"
            )
        if self.kind == "biased_sample":
            return (
                f"write the KL of the encoder's heads, not of the sample: {_CLOSED_FORM}; or, at the sample, both parts: "
                "log q(z|x) - log p(z) = Normal(mu, std).log_prob(z).sum(-1) - Normal(0, 1).log_prob(z).sum(-1)"
            )
        if self.kind in ("not_gaussian", "half_prior"):
            return _SAMPLER_FORMS.get(self.sampler, f"{_CLOSED_FORM} for a log-variance head")
        if self.kind == "wrong_sign" and self.clamped:
            return "add the clamped KL to the loss with a positive weight: beta * torch.clamp(kl - free_bits, min=0)"
        closed = _TWO_GAUSSIANS if self.other_prior else _CLOSED_FORM
        if self.kind == "wrong_sign":
            return f"{closed}, added to the reconstruction term"
        return closed


def _number(node) -> float | None:
    """A number literal (``0.5``, ``-1``, ``- 0.5``) as a float, else None."""
    import libcst as cst

    if isinstance(node, (cst.Float, cst.Integer)):
        return float(node.evaluated_value)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = _number(node.expression)
        return -inner if inner is not None else None
    return None


def _weights_only(ctx, explicit: list) -> bool:
    """Are the numbers written on the KL all weights read from a name (``b``, ``self.beta``,
    a keyword)? A literal (``0.25 * -torch.sum(...)``, ``0.5 * -0.5`` folded into one) may hold the
    formula's own 1/2 with the weight: the KL may be right, and no missing 1/2 is claimed."""
    from vaelint.facts.weightsource import named_weight

    return all(named_weight(ctx, f) for f in explicit)


def _own_constant(coefficient: float, explicit: list) -> float:
    """The KL formula's own constant: the coefficient with the weights written on it taken out."""
    weights = math.prod(abs(f.value) for f in explicit) if explicit else 1.0
    return coefficient / weights if weights else coefficient


def _kl_div_of_heads(ctx):
    """A KL term computed with ``F.kl_div`` on the sampler's heads (``F.kl_div(mu, sigma)``): the
    op of two discrete distributions, whatever it is given; its ``kl_div`` node."""
    view = ctx.view
    heads = [(r.mu, r.logvar, r.std) for r in ctx.roles.reparams]
    for term in ctx.roles.kl_terms:
        for node in [term, *view.ancestors(term)]:
            if view.op(node) != "kl_div":
                continue
            args = [a for a in node.args[:2] if hasattr(a, "op")]
            if any(any(h is not None and (a is h or view.depends_on(a, h)) for h in hs) for a in args for hs in heads):
                return node
    return None
