"""VAE002 kl-reduction: KL and reconstruction reduced differently, so beta_eff depends on B, D or Z."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from vaelint.facts.adaptedweights import adapted_kl_weight
from vaelint.facts.batchpairs import batch_pairings
from vaelint.facts.context import loc_of
from vaelint.facts.datasize import data_size
from vaelint.facts.flowlogdet import log_det_unlike
from vaelint.facts.klelements import AS_WRITTEN
from vaelint.facts.klpartsunlike import kl_parts_unlike
from vaelint.facts.lossscales import BetaEff, loss_scales, one_batch_size, why_no_loss_scales
from vaelint.facts.reductionfix import reductions_fix
from vaelint.facts.schedules import scheduled_weight
from vaelint.facts.termscale import parts_reduced_unlike
from vaelint.facts.unevenrec import uneven_reconstruction
from vaelint.rulebase import Example, Observed, Rule, SkipRule, fill
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
        return torch.sigmoid(self.dec(z)), mu, logvar


def loss_function(recon, x, mu, logvar):
    kl_elem = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
    rec = {REC}
    kl = {KL}  # <- finding
    return rec + kl
"""


def _model(rec: str, kl: str) -> str:
    return fill(_MODEL, rec=rec, kl=kl)


# a tabular VAE: three numeric columns and a categorical one of four classes (one-hot in the input)
_TABULAR = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(7, 8)
        self.dec = nn.Linear(4, 7)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar

    def loss_function(self, recon, x, mu, logvar):
        numeric = F.mse_loss(recon[:, :3], x[:, :3], reduction="sum")
        category = F.cross_entropy(recon[:, 3:], x[:, 3:].argmax(dim=1){REDUCTION})  # <- finding
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return (numeric + category + kl) / x.size(0)
"""


# a flow posterior: one planar flow after the base Gaussian, its log-det a loss term of its own
_FLOW = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(20, 8)
        self.u, self.w = nn.Parameter(torch.full((4,), 0.1)), nn.Parameter(torch.full((4,), 0.1))
        self.dec = nn.Linear(4, 20)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z0 = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        lin = z0 @ self.w
        z = z0 + self.u * torch.tanh(lin).unsqueeze(1)
        log_det = torch.log(torch.abs(1 + (1 - torch.tanh(lin) ** 2) * (self.w @ self.u)) + 1e-8)
        return torch.sigmoid(self.dec(z)), mu, logvar, log_det

    def loss_function(self, recon, x, mu, logvar, log_det):
        rec = F.binary_cross_entropy(recon, x, reduction="sum")
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return rec + kl - {LOG_DET}  # <- finding
"""


# sequence-first, as nn.GRU's default layout: x is (T, B, F), so the batch size is x.size(1)
_SEQUENCE_FIRST = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self, latent=4):
        super().__init__()
        self.enc = nn.GRU(3, 2 * latent)
        self.dec = nn.Linear(latent, 3)

    def forward(self, x):
        _, h = self.enc(x)
        mu, logvar = h[-1].chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z).unsqueeze(0).expand_as(x), mu, logvar


def loss_function(recon, x, mu, logvar):
    rec = F.mse_loss(recon, x, reduction="sum") / x.size(1)
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / {DIVISOR}  # <- finding
    return rec + kl
"""


# a VRNN-style time loop: each step's KL against a learned prior p(z_t | h_t-1), stacked over the steps
_STACKED_STEPS = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self, x_dim=3, h_dim=8, z_dim=2):
        super().__init__()
        self.h_dim = h_dim
        self.post = nn.Linear(x_dim + h_dim, 2 * z_dim)
        self.prior = nn.Linear(h_dim, 2 * z_dim)
        self.dec = nn.Linear(z_dim, x_dim)
        self.cell = nn.GRUCell(x_dim + z_dim, h_dim)

    def forward(self, x):
        h = x.new_zeros(x.size(0), self.h_dim)
        recons, kls = [], []
        for t in range(x.size(1)):
            mu, logvar = self.post(torch.cat([x[:, t], h], 1)).chunk(2, 1)
            p_mu, p_logvar = self.prior(h).chunk(2, 1)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            recons.append(self.dec(z))
            kls.append(0.5 * (p_logvar - logvar + (logvar.exp() + (mu - p_mu) ** 2) / p_logvar.exp() - 1))
            h = self.cell(torch.cat([x[:, t], z], 1), h)
        return torch.stack(recons, 1), torch.stack(kls, 1)


def loss_function(out, x):
    recon, kl = out
    rec = F.mse_loss(recon, x, reduction="none").sum(dim=(1, 2)).mean()
    kld = {KL}  # <- finding
    return rec + kld
"""


class KLReduction(Rule):
    code = "VAE002"
    fix_availability = FixAvailability.SOMETIMES
    name = "kl-reduction"
    severity = Severity.ERROR
    needs = (Need.LOSS, Need.POSTERIOR, Need.REC_TERM, Need.KL_TERM, Need.CLEAN_RUN)
    summary = "The KL and reconstruction terms are reduced differently, so beta_eff depends on B, D or Z."
    what = """
The ELBO weighs the KL term against the reconstruction term per sample:
``sum_d rec + sum_z kl`` for each sample, then the same average (or sum) over
the batch for both. vaelint follows each term down to its elementwise tensor,
notes every reduction (``mean`` divides by the sizes it reduces, ``sum`` does
not, ``reduction=`` of loss functions included) and writes the effective KL
weight ``beta_eff = c / a`` as a formula in B, D and Z with its value. A
reconstruction of several parts (a tabular VAE's MSE of its numeric columns and
cross-entropy of each categorical one) must reduce them alike: a part averaged
over the batch beside one summed over it weighs 1/B of it, and no one beta_eff
holds; vaelint names the parts and how each is reduced. Parts reduced alike over
the batch but each averaged over its own values (an MSE over 8 numeric columns
beside a cross-entropy per categorical column) weigh the KL differently: vaelint
gives its beta_eff against each part. An RMSE (``torch.sqrt(F.mse_loss(...))``)
has a gradient of the MSE's over 2*RMSE: the KL's weight against it moves with
the error, and vaelint says its value at the step run.
"""
    why = """
``F.mse_loss(recon, x)`` averages over B*D elements while ``torch.sum(kl)``
sums over B*Z: the KL then weighs B*D times more than intended (25088 for a
batch of 32 MNIST images) and the posterior collapses; the opposite mix makes
the KL vanish. A beta_eff that depends on B also changes with the batch size.
"""
    example = """
rec = F.mse_loss(recon, x)                                   # mean over B, D
kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())  # sum over B, Z
"""
    fix = """
Reduce both terms the same way: per-sample sums averaged over the batch,
``F.mse_loss(recon, x, reduction="sum") / B`` and ``kl.sum() / B``; or sum both
over everything.
"""
    VALID = [
        Example(_model('F.binary_cross_entropy(recon, x, reduction="sum")', "kl_elem.sum()"), inputs=("8x20",)),
        Example(_model('F.binary_cross_entropy(recon, x, reduction="sum") / x.size(0)', "kl_elem.sum() / x.size(0)"), inputs=("8x20",)),
        # the Gaussian NLL's and the KL's 1/2 written into the batch divisor, the KL as a sum of its parts:
        # (1 / (2 * n)) * (sum mu^2 + sum var - sum logvar) - Z / 2 is the batch-mean KL, as the NLL is
        Example(
            _model(
                "((recon - x) ** 2).sum() / (2 * x.size(0))",
                "(1 / (2 * x.size(0))) * (mu.pow(2).sum() + logvar.exp().sum() - logvar.sum()) - mu.size(1) / 2",
            ),
            inputs=("8x20",),
        ),
        Example(_model('F.mse_loss(recon, x, reduction="none").sum(dim=1).mean()', "kl_elem.sum(dim=1).mean()"), inputs=("8x20",)),
        Example(_model("((recon - x) ** 2).sum(1).mean(0)", "torch.mean(kl_elem.sum(1))"), inputs=("8x20",)),
        # JointVAE's "unnormalise": a mean over pixels multiplied back by their number is a per-sample sum
        Example(_model("F.binary_cross_entropy(recon, x) * 20", "torch.sum(torch.mean(kl_elem, dim=0))"), inputs=("8x20",)),
        Example(_model("F.binary_cross_entropy(recon, x) * x[0].numel()", "kl_elem.sum(dim=1).mean()"), inputs=("8x20",)),
        # (T, B, F) into a sequence-first GRU: the batch is dim 1, and both terms are divided by it
        Example(fill(_SEQUENCE_FIRST, divisor="x.size(1)"), inputs=("10x6x3",)),
        # averaged over the data dims, and the KL divided by their number: a weight that undoes a
        # ratio no batch size changes (a graph VAE's -0.5 / n * KL): beta_eff = 1
        Example(_model('F.mse_loss(recon, x, reduction="none").mean(1).sum()', "kl_elem.sum() / 20"), inputs=("8x20",)),
        # a time loop's per-step KLs against a learned prior, stacked: summed per sequence as the reconstruction is
        Example(fill(_STACKED_STEPS, kl="kl.sum(dim=(1, 2)).mean()"), inputs=("6x5x3",)),
        # every part of a tabular reconstruction summed over the batch, as the KL is
        Example(fill(_TABULAR, reduction=', reduction="sum"'), inputs=("6x7",)),
        # the flow's log-det summed over the batch as the KL is
        Example(fill(_FLOW, log_det="log_det.sum()"), inputs=("8x20",)),
        # the KL written as its mean's part plus its variance's, both summed over the batch as the reconstruction is
        Example(
            _model(
                'F.binary_cross_entropy(recon, x, reduction="sum")', "0.5 * (torch.sum(mu.pow(2)) + torch.sum(logvar.exp() - logvar - 1))"
            ),
            inputs=("8x20",),
        ),
        # parts each summed over their own values per sample, one a mean multiplied back by its 10 values
        Example(
            _model(
                'F.mse_loss(recon[:, :10], x[:, :10]) * 10 + F.binary_cross_entropy(recon[:, 10:], x[:, 10:], reduction="sum") / x.size(0)',
                "kl_elem.sum(dim=1).mean()",
            ),
            inputs=("8x20",),
        ),
    ]
    INVALID = [
        # a flow's log-det averaged over the batch beside a KL summed over it: 1/B of the KL it belongs to
        Example(fill(_FLOW, log_det="log_det.mean()"), inputs=("8x20",), at="finding", message="the flow's log-determinant term"),
        # reduced again after a whole sum (a 0-d tensor's .sum(-1).mean(): Khamies/LSTM-VAE's):
        # those reduce nothing and are not said ("mean over , sum over , sum over B, 4" before)
        Example(
            _model("F.mse_loss(recon, x)", "kl_elem.sum().sum(-1).mean()"),
            inputs=("8x20",),
            at="finding",
            message="but the KL term as sum over B, 4: beta_eff = B*D = 160",
            fixed=_model('F.mse_loss(recon, x, reduction="sum")', "kl_elem.sum().sum(-1).mean()"),
            unsafe=True,
        ),
        Example(
            _model("F.mse_loss(recon, x)", "kl_elem.sum()"),
            inputs=("8x20",),
            at="finding",
            message="beta_eff = B*D = 160",
            fixed=_model('F.mse_loss(recon, x, reduction="sum")', "kl_elem.sum()"),
            unsafe=True,
        ),
        # averaged over the batch and the latent dims beside a per-sample sum averaged over the batch: the
        # fix sums each sample's KL and then averages (a plain sum would sum the batch too)
        Example(
            _model('F.mse_loss(recon, x, reduction="sum") / x.size(0)', "kl_elem.mean()"),
            inputs=("8x20",),
            at="finding",
            message="beta_eff = 1/Z = 0.25",
            fixed=_model('F.mse_loss(recon, x, reduction="sum") / x.size(0)', "kl_elem.sum(dim=-1).mean()"),
            unsafe=True,
        ),
        Example(
            _model('F.mse_loss(recon, x, reduction="sum") / x.size(0)', "kl_elem.sum(dim=0).mean()"),
            inputs=("8x20",),
            at="finding",
            message="B/Z",
        ),
        # both averaged over every element: both become per-sample sums (the KL summed alone would be worse, D)
        Example(
            _model("F.mse_loss(recon, x)", "kl_elem.mean()"),
            inputs=("8x20",),
            at="finding",
            message="beta_eff = D/Z = 5",
            fixed=_model('F.mse_loss(recon, x, reduction="sum") / x.size(0)', "kl_elem.sum(dim=-1).mean()"),
            unsafe=True,
        ),
        # the near miss: a weight that undoes half the ratio
        Example(
            _model('F.mse_loss(recon, x, reduction="none").mean(1).sum()', "kl_elem.sum() / 10"),
            inputs=("8x20",),
            at="finding",
            message="beta_eff = 0.1*D = 2",
        ),
        # PyTorch-VAE's form: the KL a per-sample sum averaged over the batch, the reconstruction a mean of everything
        Example(
            _model("F.mse_loss(recon, x)", "kl_elem.sum(dim=1).mean(dim=0)"),
            inputs=("8x20",),
            at="finding",
            message="beta_eff = D = 20",
            fixed=_model('F.mse_loss(recon, x, reduction="sum") / x.size(0)', "kl_elem.sum(dim=1).mean(dim=0)"),
            unsafe=True,
        ),
        # multiplied back by a number that is not the size the mean divided by: still a mean, weighted,
        # and the weight is in beta_eff (the ELBO's a in c / a)
        Example(
            _model("F.mse_loss(recon, x) * 10", "kl_elem.sum(dim=1).mean(dim=0)"),
            inputs=("8x20",),
            at="finding",
            message="beta_eff = D/10 = 2:",
            fixed=_model('(F.mse_loss(recon, x, reduction="sum") / x.size(0)) * 10', "kl_elem.sum(dim=1).mean(dim=0)"),
            unsafe=True,
        ),
        # the same, the KL divided by the sequence length (dim 0) instead of the batch size
        Example(fill(_SEQUENCE_FIRST, divisor="x.size(0)"), inputs=("10x6x3",), at="finding", message="divided by x.size(1)"),
        # a weight on the KL beside the reductions: one beta_eff, as the header and VAE004 say it
        Example(
            _model("F.mse_loss(recon, x)", "1e-3 * kl_elem.sum(dim=1).mean(dim=0)"),
            inputs=("8x20",),
            at="finding",
            message="the reductions give D = 20 (B=8), and the KL term is multiplied by 0.001, so beta_eff = 0.001*D = 0.02:",
            fixed=_model('F.mse_loss(recon, x, reduction="sum") / x.size(0)', "1e-3 * kl_elem.sum(dim=1).mean(dim=0)"),
            unsafe=True,
        ),
        # the same per-step KLs averaged over the time steps too: read per element as written, beta_eff = 1/T
        Example(
            fill(_STACKED_STEPS, kl="kl.sum(dim=-1).mean()"),
            inputs=("6x5x3",),
            at="finding",
            message="beta_eff = 1/5 = 0.2 (B=6), so the KL term weighs 0.2 times what the ELBO gives it. (Reading the KL per element as written",
        ),
        # the categorical part averaged over the batch by its default, the numeric one summed
        Example(fill(_TABULAR, reduction=""), inputs=("6x7",), at="finding", message="parts are reduced unlike each other"),
        # parts averaged over their own values (the MSE over 15 values, the BCE over the other 5,
        # the two averaged): the KL weighs 30 against one, 10 against the other, no one beta_eff
        Example(
            _model(
                "(F.mse_loss(recon[:, :15], x[:, :15]) + F.binary_cross_entropy(recon[:, 15:], x[:, 15:])) / 2", "kl_elem.sum(dim=1).mean()"
            ),
            inputs=("8x20",),
            message="the reconstruction's parts weigh the data's values unlike each other",
        ),
        # the KL's variance part averaged over the batch, its mean's part summed over it (a split KL, rho_VAE's)
        Example(
            _model(
                'F.binary_cross_entropy(recon, x, reduction="sum")',
                "0.5 * (torch.sum(mu.pow(2)) + torch.mean(torch.sum(logvar.exp() - logvar - 1, dim=1)))",
            ),
            inputs=("8x20",),
            message="the KL's parts are reduced unlike each other over the batch",
        ),
        # an RMSE: the square root of a mean, whose weight moves with the error
        Example(_model("torch.sqrt(F.mse_loss(recon, x))", "kl_elem.sum(dim=1).mean()"), inputs=("8x20",), message="square root of a mean"),
    ]

    def check(self, ctx):
        scales = loss_scales(ctx)
        unlike = parts_reduced_unlike(ctx) if scales is None else None
        if unlike:
            # the reconstruction's own parts reduced unlike each other over the batch: no one beta_eff
            seen = PartsUnlike(tuple((ctx.view.op(_element(s, n)), loc_of(n), s.describe()) for n, s in unlike), ctx.batch)
            averaged = min(unlike, key=lambda p: p[1].own()[0])[0]  # the first part averaged over the batch
            yield self.report(seen, loc_of(averaged), node=averaged)
            return
        kl_unlike = kl_parts_unlike(ctx) if scales is None else None
        if kl_unlike:
            # the KL written in parts (its mean's, its variance's) reduced unlike each other over the batch
            seen = KLPartsUnlike(tuple((ctx.view.op(s.element), loc_of(n), s.describe()) for n, s in kl_unlike), ctx.batch)
            averaged = min(kl_unlike, key=lambda p: p[1].batch_power)[0]  # a part averaged over the batch
            yield self.report(seen, loc_of(averaged), node=averaged)
            return
        uneven = uneven_reconstruction(ctx) if scales is None else None
        if uneven is not None and not uneven.even(ctx.beta):
            # no one reduction holds for the reconstruction: the KL's beta_eff against each of its parts
            seen = UnevenParts(tuple((p.op, loc_of(p.node), p.reduced, p.beta) for p in uneven.parts), uneven.root_value)
            at = loc_of(uneven.root if uneven.root is not None else uneven.rec_term)
            yield self.report(seen, at, node=uneven.kl_term, severity=Severity.WARNING)
            return
        if scales is None:
            raise SkipRule(why_no_loss_scales(ctx))
        paired = [p for p in batch_pairings(ctx) if ctx.view.depends_on(scales.rec.term, p.node)]
        if paired:
            # a reconstruction whose per-sample values broadcast to B x B is no per-sample term (VAE006)
            raise SkipRule(
                f"the reconstruction term pairs the batch's samples (B x B at {loc_of(paired[0].node).where()}: VAE006), so its reduction is not per-sample"
            )
        for one in scales.each_kl():
            yield from self._check_term(ctx, one)
            unlike_det = log_det_unlike(ctx, one.kl)
            if unlike_det is not None:
                # a flow's log-det term of its own (- sum_log_det.mean()) reduced unlike the KL it belongs to
                term, det = unlike_det
                seen = LogDetUnlike(
                    det.describe(),
                    one.kl.describe(),
                    ctx.batch,
                    det.batch_power < one.kl.batch_power,
                    term,
                    one.kl.term,
                    2.0 ** (one.kl.own()[0] - det.own()[0]),
                )
                yield self.report(seen, loc_of(term), node=term)

    def _check_term(self, ctx, scales):
        if _pairs_samples(scales.rec) and _compared_at_unlike_shapes(ctx):
            # B x B from a reconstruction broadcast against the data (B x 1 x D beside B x D): VAE003's
            # finding, whose fix gives the reductions back; a ratio read off it would mislead
            raise SkipRule(
                "the reconstruction is compared with the data at shapes that broadcast (VAE003): its reductions follow from that"
            )
        ratio = scales.reduction_ratio(ctx.batch)
        if math.isclose(ratio, 1.0, rel_tol=1e-6) and not (scales.batch_power and ctx.batch == 1):
            return  # (a weight of B is 1 at a batch of one sample, and B at any other)
        if (
            (not scales.batch_power or one_batch_size(ctx))
            and scheduled_weight(ctx, scales.kl) is None
            and scales.kl.target != "capacity"
            and (
                math.isclose(ratio * scales.kl.explicit / (scales.rec.explicit or 1.0), ctx.beta, rel_tol=1e-3)
                # the KL divided by the data's size beside a reconstruction averaged over it (an ELBO / K): the
                # reductions agree; a weight on the reconstruction (1 / 2 sigma^2) is VAE004's to say
                or math.isclose(ratio * scales.kl.explicit, 1.0, rel_tol=1e-3)
            )
        ):
            # a weight on the KL undoes a ratio no batch size changes (a graph VAE's -0.5 / n * KL
            # beside a reconstruction averaged over n x n entries): beta_eff is the declared beta;
            # or one that goes with B, where every batch has this one's size
            if scales.batch_power:
                note = f"beta_eff goes with the batch size, and is right at every step: {one_batch_size(ctx)}"
                if note not in ctx.notes:
                    ctx.notes.append(note)
            return
        adapted = None if scales.batch_power else adapted_kl_weight(scales.kl)
        if adapted is not None:
            # a controller moves the weight toward its own target (a KL value, soft free bits, GECO): a
            # constant ratio of the reductions is a factor it absorbs; one that moves with B is not
            raise SkipRule(
                f"the KL's weight is adapted as training goes ({adapted}): the reductions' constant ratio "
                f"({scales.formula(data_size(ctx), ctx.latent_size)}) is a factor the controller absorbs, no beta_eff of its own"
            )
        data = data_size(ctx)
        kl_red = [f for f in scales.kl.reductions() if not f.shared]  # the KL's own, not the whole sum's
        loc = (kl_red[0].loc if kl_red else None) or loc_of(scales.kl.term)
        seen = ReductionsSeen(
            rec=scales.rec.describe(),
            kl=scales.kl.describe(),
            formula=scales.pinned_constant(ctx.batch) or scales.formula(data, ctx.latent_size),
            ratio=ratio,
            batch=ctx.batch,
            size=ctx.batch_size_text,
            # a batch size written down is the same number at every batch: beta_eff does not move with it
            batch_power=scales.batch_power + (scales.pins if scales.pinned_constant(ctx.batch) else 0),
            rec_term=scales.rec.term,
            kl_term=scales.kl.term,
            # the terms' values carry their own reductions, not those of a sum they share
            expected_move=2.0 ** (scales.kl.own()[0] - scales.rec.own()[0]),
            # with what a sum they share does to both: the reductions beta_eff is read from
            rec_own=_reduced(scales.rec),
            kl_own=_reduced(scales.kl),
            kl_dims=_sample_dims(ctx, scales.kl),
            kl_batch_dim=_batch_dim(ctx, scales.kl),
            as_written=scales.kl.read_as == AS_WRITTEN,
            pairwise=_pairs_samples(scales.rec) or _pairs_samples(scales.kl),
            rec_weight=scales.rec.explicit,
            # an annealed weight's value at the step run is no weight of the reductions' (the header says the
            # schedule), nor is the strength that holds a KL at a capacity (gamma * |KL - C|)
            kl_weight=1.0 if scheduled_weight(ctx, scales.kl) is not None or scales.kl.target == "capacity" else scales.kl.explicit,
        )
        yield self.report(seen, loc, node=scales.kl.term, severity=Severity.ERROR if scales.batch_power else Severity.WARNING)

    def autofix(self, finding, ctx):
        """Unsafe (it changes the loss's scale): a reconstruction averaged by its loss
        function beside a summed KL gets ``reduction="sum"``; a KL averaged with
        ``.mean()`` beside a summed reconstruction gets ``.sum()``."""
        from vaelint.fixes.edits import UNSAFE, Fix
        from vaelint.fixes.rewrites import per_sample_sum, reduce_by_sum, summed_per_sample

        seen = finding.observed
        scales = next((s for s in (loss_scales(ctx).each_kl() if loss_scales(ctx) else ()) if s.kl.term is seen.kl_term), None)
        if scales is None or scales.rec.parts > 1:
            return None  # one edit would sum one part of a reconstruction written in parts
        rec = [f for f in scales.rec.reductions() if not f.shared]
        kl = [f for f in scales.kl.reductions() if not f.shared]
        rec_means = [f for f in rec if f.kind == "mean"]
        kl_means = [f for f in kl if f.kind == "mean"]
        if len(rec_means) == 1 and not kl_means and rec_means[0].op != "mean":
            return reduce_by_sum(ctx, rec_means[0], "sum the reconstruction as the KL is summed", UNSAFE)
        both = _sample_means(scales.rec), _sample_means(scales.kl)
        if all(len(m) == 1 for m in both) and both[0][0].node is not both[1][0].node:
            # each term averaged over its own sample's dims (logp.mean(1), kl.mean(1)): both summed, one edit each
            edits = [reduce_by_sum(ctx, m[0], "", UNSAFE) for m in both]
            if all(e is not None for e in edits):
                return Fix("sum each term over its sample's dims: sum", edits[0].edits + edits[1].edits, UNSAFE)
        if len(kl_means) == 1 and kl_means[0].op == "mean" and _over_the_batch_and_more(kl_means[0]) and scales.rec.batch_power == -1:
            # a KL averaged over the batch and the latent dims beside a per-sample reconstruction averaged
            # over the batch: each sample's KL summed, then averaged (a plain sum would sum the batch too)
            dims = _sample_dims(ctx, scales.kl)
            summed = summed_per_sample(ctx, kl_means[0], dims, "sum the KL over each sample's dims as the reconstruction", UNSAFE)
            if not any(f.kind == "mean" and f.const_sizes > 1 for f in rec):
                return summed  # the reconstruction is a per-sample sum: the KL alone is to change
            # both averaged over every element (mse_loss(...) + kl.mean()): summing the KL alone would make it worse
            again = per_sample_sum(ctx, rec_means[0], "", UNSAFE) if len(rec_means) == 1 and rec_means[0].op != "mean" else None
            if summed is None or again is None:
                return None
            return Fix("reduce both terms as per-sample sums averaged over the batch", again.edits + summed.edits, UNSAFE)
        if len(kl_means) == 1 and not rec_means and kl_means[0].op == "mean":
            return reduce_by_sum(ctx, kl_means[0], "sum the KL as the reconstruction is summed", UNSAFE)
        if len(rec_means) == 1 and rec_means[0].op != "mean" and [f.over for f in kl_means] == ["B"]:
            # the KL is a per-sample sum averaged over the batch (AntixK's VanillaVAE): so the reconstruction
            return per_sample_sum(ctx, rec_means[0], "reduce the reconstruction as the KL: per-sample sums averaged over the batch", UNSAFE)
        return None

    def confirm_needs(self, finding, ctx):
        return {ConfirmNeed.DOUBLED_BATCH} if finding.observed.shows_at_twice_the_batch else set()

    def confirm(self, finding, ctx, observed):
        """Run the same samples twice over (a batch of 2*B): a term summed over
        the batch doubles, an averaged one stays. The KL/reconstruction ratio
        then moves by 2**p when beta_eff goes as B**p."""
        seen = finding.observed
        if not seen.shows_at_twice_the_batch:
            return None
        ratios = []
        for run in (observed.result, observed.doubled):
            if run is None:
                return None
            rec, kl = run.tensors.get(seen.rec_term), run.tensors.get(seen.kl_term)
            if rec is None or kl is None or float(rec.sum()) == 0:
                return None
            ratios.append(abs(float(kl.sum()) / float(rec.sum())))
        moved = ratios[1] / ratios[0] if ratios[0] else 0.0
        return math.isclose(moved, seen.expected_move, rel_tol=0.25)


def _reduced(term) -> tuple[int, float, float]:
    """(batch power, sizes its means divide by, sizes its other divisions divide by)."""
    means = math.prod(f.const_sizes for f in term.factors if f.kind == "mean")
    others = math.prod(f.const_sizes for f in term.factors if f.kind != "mean")
    return term.batch_power, means, others


def _sample_means(term) -> list:
    """The ``.mean(dim)`` calls that average a term over its sample's dims only (not the batch)."""
    return [f for f in term.reductions() if f.kind == "mean" and f.op == "mean" and f.batch_power == 0]


def _over_the_batch_and_more(factor) -> bool:
    """Does this mean reduce the batch and each sample's dims together (``kl.mean()`` of B x Z)?"""
    over = [d.strip() for d in str(factor.over).split(",")]
    return "B" in over and len(over) > 1


def _compared_at_unlike_shapes(ctx) -> bool:
    """Does the loss compare the reconstruction with the data at shapes that broadcast to more values
    than either has (B x 1 x D against B x D: every reconstruction with every input, VAE003's)? A
    class-index loss's extra class dim, or L samples per input against the input, is no such broadcast."""
    import torch

    for cmp in ctx.roles.comparisons:
        if cmp.op in ("cross_entropy", "nll_loss"):
            continue
        rec, data = ctx.shape(cmp.recon_side), ctx.shape(cmp.data_side)
        if rec is None or data is None or rec.sizes is None or data.sizes is None or tuple(rec.sizes) == tuple(data.sizes):
            continue
        try:
            joined = torch.Size(torch.broadcast_shapes(tuple(rec.sizes), tuple(data.sizes))).numel()
        except RuntimeError:
            continue
        if joined > max(torch.Size(rec.sizes).numel(), torch.Size(data.sizes).numel()):
            return True
    return False


def _pairs_samples(term) -> bool:
    """Is the term reduced over pairs of samples (a graph's N x N adjacency, a kernel over the
    batch's pairs)? Two copies of the batch are then no batch of the same samples twice: the
    pairs across the copies are new."""
    return any(f.kind in ("sum", "mean") and abs(f.batch_power) > 1 for f in term.reductions())


def _sample_dims(ctx, term) -> int:
    """How many dims each sample's KL element has (1 for B x Z, 3 for B x C x H x W)."""
    fact = ctx.shape(term.element) if term.element is not None else None
    return max(1, len(fact.dims) - 1) if fact is not None and fact.dims else 1


@dataclass(frozen=True)
class ReductionsSeen(Observed):
    """How the reconstruction and KL terms are reduced, and the beta_eff it makes."""

    rec: str  # "mean over B, 784"
    kl: str
    formula: str  # "B*D"
    ratio: float  # beta_eff at the user's batch
    batch: int
    batch_power: int  # beta_eff goes as B**batch_power
    rec_term: object = field(compare=False)  # the terms' nodes, for the confirmation's values
    kl_term: object = field(compare=False)
    expected_move: float = 1.0  # of the KL/reconstruction ratio, at twice the batch
    # each term's (batch power, sizes its means divide by, sizes it is divided by otherwise
    # (x.numel())): what the fix says to change (``_reduced``)
    rec_own: tuple = (0, 1.0, 1.0)
    size: str = "x.size(0)"  # how the code reads the batch size: x.size(1) for (T, B, F) data
    kl_own: tuple = (0, 1.0, 1.0)
    rec_weight: float = 1.0  # a number written on the reconstruction term (rec * alpha): the ELBO's weight a
    kl_weight: float = 1.0  # a number written on the KL term (1e-5 * kl): VAE004's, but in beta_eff all the same
    kl_dims: int = 1  # the KL element's dims per sample: 3 for a B x C x H x W latent
    pairwise: bool = False  # a term reduced over pairs of samples (B x B): no doubled batch shows it
    kl_batch_dim: int = 0  # where the batch is in the KL element (1 for per-step KLs stacked as T x B x Z)
    as_written: bool = False  # the KL read per element as written (a time loop's per-step KLs stacked)

    @property
    def shows_at_twice_the_batch(self) -> bool:
        # a constant ratio looks the same at every batch (a Monte Carlo KL is shown too:
        # the doubled batch replays the first run's noise)
        return bool(self.batch_power) and not self.pairwise

    def message(self) -> str:
        value = f"{self.ratio:.6g}"
        reads = value if self.formula == value else f"{self.formula} = {value}"  # a length written in: 29, not 29 = 29
        changes = ", and changes with the batch size" if self.batch_power else ""
        if self.batch_power and self.batch == 1 and math.isclose(self.ratio, 1.0, rel_tol=1e-6):
            changes += " (it is 1 only at a batch of one sample)"
        beta = BetaEff(self.formula, self.ratio, self.kl_weight, self.rec_weight)
        if beta.weighted:
            # rec * alpha, 1e-5 * kl: the weight the ELBO's terms get is the reductions' ratio times
            # the KL's weight over the reconstruction's, as the report's header says it
            weights = [
                f"the {name} term is multiplied by {w:g}"
                for name, w in (("KL", self.kl_weight), ("reconstruction", self.rec_weight))
                if w and not math.isclose(w, 1.0, rel_tol=1e-3)
            ]
            return (
                f"the reconstruction term is reduced as {self.rec} but the KL term as {self.kl}: the reductions give "
                f"{reads} (B={self.batch}), and {' and '.join(weights)}, so {beta.said()}: the KL term "
                f"weighs {beta.value:.6g} times what the ELBO gives it{changes}.{self._as_written()}"
            )
        return (
            f"the reconstruction term is reduced as {self.rec} but the KL term as {self.kl}: beta_eff = "
            f"{reads} (B={self.batch}), so the KL term weighs {value} times what the ELBO "
            f"gives it{changes}.{self._as_written()}"
        )

    def _as_written(self) -> str:
        if not self.as_written:
            return ""
        return (
            " (Reading the KL per element as written: it stacks a time loop's per-step KLs, each of one form and "
            "shape, whose constant against a Gaussian KL is not read; the reductions are compared as for one layer.)"
        )

    def fix(self) -> str:
        fix = reductions_fix(self.rec_own, self.kl_own, self.kl, self.kl_dims, self.size, self.rec_term)
        if self.kl_batch_dim:  # the batch is no first dim of the KL's (T x B x Z): a sum of all over the batch size
            fix = re.sub(r"kl\.sum\(dim=(?:\([\d, ]+\)|-1)\)\.mean\(\)", f"kl.sum() / {self.size}", fix)
        pinned = re.search(r"divided by (\d+) \(the batch size \d+ written down", self.kl)
        if pinned:  # the number stays the same at a smaller last batch; the batch's own size does not
            fix += f", and divide the KL by {self.size}, not by the number {pinned.group(1)}"
        beta = BetaEff(self.formula, self.ratio, self.kl_weight, self.rec_weight)
        if beta.weighted and not self.batch_power and self.ratio > 1 and self.kl_weight < 1:
            # a small KL weight tuned with reductions that favour the KL by a size (latent-diffusion
            # autoencoders: a mean reconstruction and 1e-6 on a summed KL): the whole weight is what to declare
            fix += (
                f"; or, where the KL's weight {self.kl_weight:g} was tuned with these reductions (latent-diffusion "
                f"autoencoders are), declare the whole weight: --beta {beta.value:.6g}"
            )
        return fix


def _batch_dim(ctx, term) -> int:
    """Where the batch is in the KL element (1 for a time loop's KLs stacked as T x B x Z)."""
    fact = ctx.shape(term.element) if term.element is not None else None
    dims = fact.dims if fact is not None and fact.dims else ()
    return next((i for i, d in enumerate(dims) if d.coef), 0)


def _element(scale, node):
    return scale.element if scale.element is not None else node


@dataclass(frozen=True)
class PartsUnlike(Observed):
    """A reconstruction of several parts (one a slice of the data each) not reduced alike over the batch."""

    parts: tuple  # (op, SourceLoc, how it is reduced) of each part
    batch: int
    shows_at_twice_the_batch = False  # read from the graph (the confirmation reads the terms, not the parts)

    def message(self) -> str:
        said = "; ".join(f"{op}{f' at {loc.where()}' if loc else ''} as {how}" for op, loc, how in self.parts[:4])
        return (
            f"the reconstruction's parts are reduced unlike each other over the batch ({said}): a part averaged over the "
            f"batch weighs 1/B ({1 / self.batch:.3g} at B={self.batch}) of one summed over it, and so of the KL beside them."
        )

    def fix(self) -> str:
        return (
            "reduce every part alike, as per-sample sums averaged over the batch: reduction='sum' for each part averaged "
            "over it (F.cross_entropy(logits, y, reduction='sum')), and divide the whole loss by the batch size once"
        )


@dataclass(frozen=True)
class KLPartsUnlike(Observed):
    """A Gaussian KL written in parts (its mean's, its variance's) not reduced alike over the batch."""

    parts: tuple  # (op, SourceLoc, how it is reduced) of each part
    batch: int
    shows_at_twice_the_batch = False  # read from the graph: the parts' sum is the KL at any batch

    def message(self) -> str:
        said = "; ".join(f"{op}{f' at {loc.where()}' if loc else ''} as {how}" for op, loc, how in self.parts[:4])
        return (
            f"the KL's parts are reduced unlike each other over the batch ({said}): together they are the Gaussian KL, "
            f"but a part averaged over the batch weighs 1/B ({1 / self.batch:.3g} at B={self.batch}) of one summed over it, "
            "so the KL has no one weight against the reconstruction and its mean and variance are pulled unlike the ELBO's."
        )

    def fix(self) -> str:
        return (
            "reduce every part of the KL alike, as the reconstruction is: sum each over the latent dims and the batch "
            "(torch.sum(...)), or sum each over the latent dims and average over the batch (torch.sum(..., dim=1).mean())"
        )


@dataclass(frozen=True)
class UnevenParts(Observed):
    """A reconstruction with no one reduction: parts weighed unlike per value (``root`` 0), or the
    square root of a mean (an RMSE of ``root`` at the step run), with the KL's beta_eff against each."""

    parts: tuple  # (op, SourceLoc, how it is reduced, beta_eff against it) of each part
    root: float = 0.0
    shows_at_twice_the_batch = False  # a ratio no batch size moves: read from the graph

    def message(self) -> str:
        if self.root:
            op, loc, how, beta = self.parts[0]
            return (
                f"the reconstruction is the square root of a mean (an RMSE, {self.root:.3g} at this step, of {op}"
                f"{f' at {loc.where()}' if loc else ''} as {how}): its gradient is the mean's divided by 2*RMSE, so the KL "
                f"weighs beta_eff = 2*RMSE*{beta / (2 * self.root):.3g} = {beta:.3g} at this step against the data's "
                "log-likelihood, and that weight falls as the "
                "error falls: no one beta_eff holds through training."
            )
        alike: dict = {}  # the parts said once each with how many there are (one cross-entropy per column)
        for op, loc, how, beta in self.parts:
            alike.setdefault((op, loc.where() if loc else "", how, round(beta, 6)), []).append(beta)
        said = "; ".join(
            f"{f'{len(b)} x ' if len(b) > 1 else ''}{op}{f' at {where}' if where else ''} ({how}): beta_eff = {b[0]:.3g}"
            for (op, where, how, _r), b in list(alike.items())[:4]
        ) + ("; ..." if len(alike) > 4 else "")
        betas = [p[3] for p in self.parts]
        return (
            f"the reconstruction's parts weigh the data's values unlike each other, so the KL has no one weight against them "
            f"({said}): it weighs {min(betas):.3g} to {max(betas):.3g} times what the ELBO gives it, and a value of one part "
            "counts for more than a value of another."
        )

    def fix(self) -> str:
        if self.root:
            return (
                "train on the squared error itself, summed over each sample's values: "
                "F.mse_loss(recon, x, reduction='sum') / x.size(0) (or a Gaussian NLL), not its square root"
            )
        return (
            "sum every part over its own values per sample and add the parts without averaging them: "
            "F.mse_loss(..., reduction='sum') / x.size(0) + each F.cross_entropy(..., reduction='sum') / x.size(0), "
            "so every value of the data weighs alike against the KL"
        )


@dataclass(frozen=True)
class LogDetUnlike(Observed):
    """A flow's log-determinant term reduced over the batch unlike the closed-form KL it belongs to."""

    log_det: str  # "mean over B"
    kl: str  # "sum over B, 20"
    batch: int
    averaged: bool  # the log-det is the one averaged over the batch
    # the confirmation's reading (as ReductionsSeen's): the KL/log-det ratio moves at twice the batch
    rec_term: object = field(compare=False, default=None)  # the log-det term, in the reconstruction's place
    kl_term: object = field(compare=False, default=None)
    expected_move: float = 1.0
    shows_at_twice_the_batch = True

    def message(self) -> str:
        weighs = f"1/B ({1 / self.batch:.3g} at B={self.batch})" if self.averaged else f"B ({self.batch})"
        return (
            f"the flow's log-determinant term is reduced as {self.log_det} but the KL it belongs to as {self.kl}: "
            f"KL(q_K || p) = KL(q_0 || p) - E[sum log|det J|], and here the log-det weighs {weighs} times what "
            "that KL gives it, so the flows are trained to a bound that is not the ELBO."
        )

    def fix(self) -> str:
        return (
            "reduce the log-det term as the KL: sum_log_det.sum() beside a KL summed over the batch, sum_log_det.mean() beside one averaged"
        )
