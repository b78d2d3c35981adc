"""The reconstruction and KL terms read down to their elements: the facts behind
beta_eff, computed once per target (beta_eff, VAE002 and VAE004 read them).

The KL element is normalised against the Gaussian KL of the sampler's mean and
std (``vaelint/facts/gaussian_kl.py``): closed form for a term of the heads alone,
``log q(z) - log p(z)`` for one that reads the sample. The terms beside it
(an MMD, a total-correlation penalty) are kept as ``others``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch.fx as fx

from vaelint.facts.categorical import CATEGORICAL, categorical_only
from vaelint.facts.datasize import data_size
from vaelint.facts.dimwords import mixed_batch_parts
from vaelint.facts.gaussian_kl import UNKNOWN, Ratio
from vaelint.facts.klelements import AS_WRITTEN, candidate_layers, kl_element, stacked_step_kls
from vaelint.facts.klnormal import kl_normalization
from vaelint.facts.kloffset import offset_ratio
from vaelint.facts.klparts import joined_element, kl_parts
from vaelint.facts.learnedprior import LEARNED_PRIOR, against_a_learned_prior
from vaelint.facts.montecarlokl import log_q_averaged, monte_carlo_kl
from vaelint.facts.recunread import why_rec_unread
from vaelint.facts.reductions import Factor, TermScale, TermWalker
from vaelint.facts.schedules import scheduled_weight
from vaelint.facts.termscale import reduced_leaves, term_scale


@dataclass
class LossScales:
    """The reconstruction term and one Gaussian KL term, read down to their elements.

    ``kls`` holds every Gaussian KL of the loss (one per stochastic layer) and
    ``others`` the terms beside them (MMD, total correlation): read, not judged.
    """

    rec: TermScale
    kl: TermScale
    kls: list[TermScale] = field(default_factory=list)
    others: list[fx.Node] = field(default_factory=list)
    kl_parts: list[fx.Node] = field(default_factory=list)  # the terms a KL written in parts is made of

    def each_kl(self) -> list[LossScales]:
        return [LossScales(self.rec, kl, self.kls, self.others, self.kl_parts) for kl in (self.kls or [self.kl])]

    @property
    def batch_power(self) -> int:
        return self.kl.batch_power - self.rec.batch_power

    @property
    def pins(self) -> int:
        """The batch sizes written down as numbers (``kl / args.batch_size``), the KL's less the
        reconstruction's: read as B in ``batch_power``, they are constants at any other batch."""
        return sum(1 for f in self.kl.factors if f.pinned) - sum(1 for f in self.rec.factors if f.pinned)

    def pinned_constant(self, batch: int) -> str | None:
        """beta_eff as the number it is at every batch size, where only a batch size written down
        makes it look like it moves with B (``rec.sum() + kl.sum() / 256``: 1/256); else None."""
        if not self.pins or self.batch_power == 0 or self.batch_power + self.pins != 0:
            return None
        value = self.reduction_ratio(batch)
        inverse = 1 / value if value else 0
        return f"1/{round(inverse)}" if inverse and math.isclose(inverse, round(inverse), rel_tol=1e-9) else f"{value:.6g}"

    def reduction_ratio(self, batch: int) -> float:
        """beta_eff from the reductions alone (no explicit factors)."""
        return (batch**self.batch_power) * self.rec.mean_sizes / self.kl.mean_sizes

    def formula(self, data_size: int, latent_size: int | None) -> str:
        """beta_eff from the reductions, in B, D and Z: ``B*D``, ``1/Z``, ``D/Z``."""
        const = self.rec.mean_sizes / self.kl.mean_sizes
        z = latent_size or 0
        # each term's own averaged size named (D, Z), never a symbol whose value merely matches the
        # ratio: a reconstruction averaged over 16384 discriminator features beside a KL averaged
        # over Z = 128 is 16384/Z, not Z
        rec_said, kl_said = _size_symbol(self.rec.mean_sizes, data_size, z), _size_symbol(self.kl.mean_sizes, data_size, z)
        said = {rec_said, kl_said}
        if None not in said and rec_said != kl_said and said & {"D", "Z"} and all(t in ("1", "D", "Z") or t.isdigit() for t in said):
            num, den = [rec_said] if rec_said != "1" else [], [kl_said] if kl_said != "1" else []
        elif math.isclose(const, 1.0, rel_tol=1e-9):
            num, den = [], []
        else:
            num, den = ([f"{const:g}"], []) if const >= 1 else ([], [f"{1 / const:g}"])
        p = self.batch_power
        num = ["B"] * max(p, 0) + num
        den = ["B"] * max(-p, 0) + den
        top = "*".join(num) or "1"
        if not den:
            return top
        bottom = den[0] if len(den) == 1 else "(" + "*".join(den) + ")"
        return f"{top}/{bottom}"


def _size_symbol(size: float, data_size: int, latent_size: int) -> str | None:
    """How a term's averaged size is said: 1, D (the data's size), Z (the latent's) or the number."""
    if math.isclose(size, 1.0, rel_tol=1e-9):
        return "1"
    if data_size and math.isclose(size, float(data_size), rel_tol=1e-9):
        return "D"
    if latent_size and math.isclose(size, float(latent_size), rel_tol=1e-9):
        return "Z"
    return f"{size:g}" if size > 0 else None


@dataclass(frozen=True)
class BetaEff:
    """beta_eff of one KL term, said one way everywhere (the report's header, VAE002, VAE004):
    the reductions' formula, times the KL's written weight, over the reconstruction's."""

    reductions: str  # "D", "B*D", "1"
    reductions_value: float  # at the user's batch
    kl_weight: float
    rec_weight: float

    @property
    def formula(self) -> str:
        f = self.reductions
        if self.rec_weight and math.isclose(self.kl_weight, self.rec_weight, rel_tol=1e-3):
            return f  # 0.5 * rec + 0.5 * kl: both terms weighed alike
        if not math.isclose(self.kl_weight, 1.0, rel_tol=1e-3):
            f = f"{self.kl_weight:g}" if f == "1" else f"{self.kl_weight:g}*{f}"
        if self.rec_weight and not math.isclose(self.rec_weight, 1.0, rel_tol=1e-3):
            f = f"{f}/{self.rec_weight:g}" if f != "1" else f"1/{self.rec_weight:g}"  # rec * alpha
        return f

    @property
    def value(self) -> float:
        return self.reductions_value * self.kl_weight / (self.rec_weight or 1.0)

    @property
    def weighted(self) -> bool:
        """Does a weight written on a term change what the reductions give?"""
        return not math.isclose(self.value, self.reductions_value, rel_tol=1e-3)

    def said(self) -> str:
        """``beta_eff = 1e-05*D = 0.00784``."""
        if self.formula == f"{self.value:g}":
            return f"beta_eff = {self.formula}"
        return f"beta_eff = {self.formula} = {self.value:.6g}"


def beta_eff(one: LossScales, ctx) -> BetaEff:
    """beta_eff of ``one`` (a LossScales of one KL term) at the context's batch."""
    data = data_size(ctx)
    return BetaEff(one.formula(data, ctx.latent_size), one.reduction_ratio(ctx.batch), one.kl.explicit, one.rec.explicit)


def one_batch_size(ctx) -> str:
    """Why every batch the step trains on has the check's own size (a loader that drops the last
    incomplete batch, batches the code makes of one size, full-batch training), or "": a beta_eff
    that goes with B then has one value, the one read at this batch."""
    program = getattr(ctx, "program", None)
    why = getattr(program, "full_batches", "") or ""
    return why if why and getattr(program, "configured_batch", None) == ctx.batch else ""


# why beta_eff is not read where the KL's weight is 0 at the step checked (analyze.py names the line)
ZERO_WEIGHT = "the KL term is multiplied by 0 at the step checked: a term weighted 0 has no beta_eff"


def loss_scales(ctx) -> LossScales | None:
    """The reduction facts of the reconstruction and KL terms, when both are clear (once per target)."""
    return ctx.reading("loss_scales", _read, LossScales)[0]


def why_no_loss_scales(ctx) -> str:
    """Why :func:`loss_scales` found no reading (for the report's skipped list)."""
    return ctx.reading("loss_scales", _read, LossScales)[1]


def _read(ctx) -> LossScales | str:
    # a loss backpropagated in parts: the one backward read is part of it (split_loss)
    return split_loss(ctx) or mixed_batch_parts(_loss_scales(ctx))


def _loss_scales(ctx) -> LossScales | str:
    roles = ctx.roles
    if roles.reparam is None and not roles.categorical:
        return "no reparameterisation found"
    if ctx.runs.failure is not None:
        return "the model raised before the loss was computed"
    rec_terms, times = the_likelihood(ctx)
    if len(rec_terms) != 1:
        return f"the loss has {len(rec_terms) or 'no'} reconstruction terms; vaelint reads one"
    if not roles.kl_terms:
        return "no KL term found in the loss"
    unread = why_rec_unread(ctx, rec_terms[0])
    if unread:
        return unread
    rec = term_scale(ctx, rec_terms[0])
    if rec is None or not rec.reductions():
        return _unfollowed(ctx, rec)
    if times != 1.0:
        rec = _added_times(rec, times)
    return scales_against(ctx, rec)


UNFOLLOWED = "the reconstruction term's reduction could not be followed"


def _unfollowed(ctx, rec: TermScale | None) -> str:
    """Why no one reduction is read for the reconstruction: VAE002 reads a sum of parts weighed
    unlike and the square root of a mean part by part (facts/unevenrec.py)."""
    op = ctx.view.op(rec.element) if rec is not None and rec.element is not None else None
    if op == "sqrt":
        return f"{UNFOLLOWED}: it is the square root of a mean, whose weight moves with the error"
    leaves = reduced_leaves(ctx, TermWalker(ctx), rec.element) if op == "add" else None
    if leaves and len({(s.batch_power, s.own()) for _part, s in leaves}) > 1:
        return f"{UNFOLLOWED}: its parts are reduced unlike each other"
    return UNFOLLOWED


def scales_against(ctx, rec: TermScale) -> LossScales | str:
    """The loss's KL terms read against the reconstruction scale ``rec`` (the term's, or one
    part's of a reconstruction reduced part by part); else why no KL is read."""
    roles = ctx.roles
    kls, others, undecided = [], [], None
    for term in roles.kl_terms:
        kl = term_scale(ctx, term)
        if kl is None:
            others.append(term)
            continue
        if any(f.kind == "const" and f.value == 0 for f in kl.factors) and scheduled_weight(ctx, kl) is None:
            if kl.reductions() and not kl_normalization(ctx, kl).constant:
                # lam * (p ** 2).sum() with lam = 0: a penalty switched off, no KL of the sampler's: the KL is another term
                others.append(term)
                continue
            return ZERO_WEIGHT  # a warm-up read as a schedule is judged where it goes; any other 0 is no beta
        if categorical_only(ctx, term):  # sum q * log(q * K) of a Gumbel-softmax posterior: weighed as written
            kl.read_as = CATEGORICAL
            kls.append(kl) if kl.reductions() else others.append(term)
            continue
        norm = kl_normalization(ctx, kl)
        element = kl_element(ctx, kl.element) if kl.element is not None else None
        if element is not None and element.valid and element.summed:
            # log q(z).sum(-1) - log p(z).sum(-1): the sum over the latent dim sits inside
            z = ctx.latent_size
            kl.factors.append(Factor("sum", 1.0, 0, 1, f"{z if z else 'Z'} (inside log q - log p)", kl.element, "sum"))
        if not kl.reductions():
            others.append(term)
            continue
        if not norm.constant and element is not None and element.valid:
            # log q(z) - log p(z) against a learned, mixture or flow prior: weighed by its log q(z)
            mc = monte_carlo_kl(ctx, kl.element)
            if mc.constant:
                norm, kl.read_as = log_q_averaged(ctx, kl, mc), "log q(z)"
        if not norm.constant and stacked_step_kls(ctx, kl.element) is not None:
            # a time loop's per-step KLs (against a learned prior) of one form and shape, stacked: per element
            norm, kl.read_as = Ratio(1.0, True), AS_WRITTEN
        if not norm.constant:
            others.append(term)
            undecided = _why_not_read(ctx, term, kl, norm) or undecided
            continue
        # float32 noise: -2.0000005 is the KL formula's -2
        value = norm.value
        nice = round(value * 8) / 8
        kl.normalization = nice if nice and abs(value - nice) < 1e-3 * abs(value) else value
        kls.append(kl)
    joined = None if kls else _written_in_parts(ctx)
    if joined is not None:
        kls, others = [joined[0]], [t for t in others if t not in joined[1]]
    if not kls:
        return undecided or (
            "no term of the loss reads as the Gaussian KL of the sampler's mean and std "
            "(closed form or log q(z) - log p(z)), so beta_eff cannot be written"
        )
    others += [t for t in roles.rec_terms if t is not rec.term]
    return LossScales(rec, kls[0], kls, others, joined[1] if joined is not None else [])


def _written_in_parts(ctx) -> tuple[TermScale, list] | None:
    """(the first part's scale, weighed as the whole, and the parts) of a KL written over several
    terms of the loss (vaelint/facts/klparts.py) whose sum is a Gaussian KL; else None."""
    parts = kl_parts(ctx)
    element = joined_element(ctx, parts) if parts is not None else None
    norm = element.ratio_to(None) if element is not None else UNKNOWN
    clamped = parts is not None and any(s.target for s in parts.scales)
    shifted = offset_ratio(element) if element is not None and not norm.constant and not clamped else None
    if shifted is not None:  # the parts' sum plus a constant (a count taken away once joined): the same weight
        norm = Ratio(shifted[0], True)
    if not norm.constant:
        return None
    first = parts.scales[0]
    first.normalization = norm.value
    if element.summed:  # parts each one per sample (an MVN's KL): the sum over the latent dim sits inside
        z = ctx.latent_size
        first.factors.append(Factor("sum", 1.0, 0, 1, f"{z if z else 'Z'} (inside the KL's parts)", first.element, "sum"))
    return first, parts.terms


def the_likelihood(ctx) -> tuple[list, float]:
    """The reconstruction terms the likelihood is among, and how often the one term is added in."""
    roles = ctx.roles
    rec_terms = roles.rec_terms
    if len(rec_terms) > 1:
        # the likelihood compares the reconstruction with the input; an adversarial or
        # perceptual term beside it reads the reconstruction alone: read, not judged
        # (through a detached weight, a GAN term's adaptive weight made of the likelihood's
        # gradient norms, it compares nothing)
        comparing = [t for t in rec_terms if any(ctx.view.depends_through(t, c.node, {"detach"}) for c in roles.comparisons)]
        if len(comparing) > 1:
            # of those, the ones comparing with data the encoder reads: a head on the reconstruction scored
            # against labels the model never encodes (an auxiliary classifier's BCE on one_hot(y)) is no likelihood
            encoded = [t for t in comparing if any(ctx.view.depends_through(t, c.node, {"detach"}) for c in _of_encoded_data(ctx))]
            comparing = encoded if len(encoded) == 1 else comparing
        if len(comparing) == 1:
            rec_terms = comparing
    if len(rec_terms) > 1 and all(t is rec_terms[0] for t in rec_terms):
        # one reconstruction added in twice (a VAE-GAN's loss_enc = kl + rec, loss_dec = rec, their
        # sum backpropagated): one term, weighted by how often it is added, with its signs
        return rec_terms[:1], float(sum(sign for sign, t in roles.loss_terms if t is rec_terms[0]))
    return rec_terms, 1.0


def _of_encoded_data(ctx) -> list:
    """The comparisons whose data side reads an input the sampler's heads are computed from (the data the
    model encodes), not only inputs it never encodes (class labels scored by an auxiliary head)."""
    view, roles = ctx.view, ctx.roles
    heads = [h for r in roles.reparams for h in (r.mu, r.logvar) if isinstance(h, fx.Node)]
    encoded = [i for i in roles.inputs if isinstance(i, fx.Node) and any(view.depends_on(h, i) for h in heads)]
    return [c for c in roles.comparisons if any(c.data_side is i or view.depends_on(c.data_side, i) for i in encoded)]


def _added_times(rec, times: float):
    """The reconstruction's scale with the number of times it is added to the loss as a factor."""
    from dataclasses import replace

    from vaelint.facts.reductions import Factor

    shown = f"{times:g} (the same term added {int(abs(times))} times)"
    return replace(rec, factors=[*rec.factors, Factor("const", times, 0, 1, shown, rec.term, "add")])


def _why_not_read(ctx, term, kl, norm) -> str | None:
    """Why a KL term's element is no constant multiple of a Gaussian KL the check can read."""
    several = len(candidate_layers(ctx, kl.element)) > 1
    if several and _from_several_steps(ctx, kl.element, _REDUCTIONS):
        return SEVERAL_LAYERS
    if against_a_learned_prior(ctx.view, ctx.roles, term):
        return LEARNED_PRIOR
    if several and _from_several_steps(ctx, kl.element, _REDUCTIONS | _ELEMENTWISE):
        return SEVERAL_LAYERS  # the heads a time loop wrote into buffers, read by the KL's formula
    element = kl_element(ctx, kl.element) if kl.element is not None else None
    if element is not None and not element.valid:
        # no shape of it lines up with the heads': not a number too small to read (a false reason before, helper Y)
        return "the KL element's values do not line up with the encoder's heads (their shapes differ), so its scale is not read"
    if not norm.decided:
        return (
            "the KL element is too close to zero on this run to be read in the model's "
            "precision, and its formula could not be replayed in float64"
        )
    return None


SEVERAL_LAYERS = (
    "the KL term holds the KLs of several stochastic layers in one tensor (a time loop's steps, stacked or "
    "written into one buffer), each read through another layer's sample: its scale per layer is not read"
)


# ops a per-step KL element goes through down to where its steps were joined: its reductions and
# reshapes, and (for heads written into buffers) the KL formula's own elementwise ops
_REDUCTIONS = frozenset({"sum", "mean", "mul", "div", "neg", "view", "reshape", "flatten", "squeeze", "unsqueeze"})
_ELEMENTWISE = frozenset({"add", "sub", "rsub", "pow", "exp", "log", "square"})


def _from_several_steps(ctx, element, through: frozenset) -> bool:
    """Is the KL element a stack or concatenation of per-layer KLs (``torch.stack(kls, 1)``), or of
    heads a time loop wrote into one buffer (``mu_all[:, t] = mu``)?"""
    view = ctx.view
    todo, seen = [element], set()
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        if view.op(node) in ("stack", "cat", "setitem", "index_put", "index_put_", "slice_scatter", "select_scatter"):
            return True
        if view.op(node) in through:
            todo.extend(a for a in node.all_input_nodes)
    return False


def split_loss(ctx) -> str | None:
    """Why the terms' weights are not judged where the training step backpropagates part of its
    loss by a backward of its own before the one read (``kl.backward(retain_graph=True)`` then
    ``rec.backward()``, one optimiser step): the backward read holds part of the loss only."""
    places = getattr(ctx.program, "split_backward", None) or []
    if not places:
        return None
    return (
        f"the step backpropagates part of its loss by its own backward ({', '.join(places[:3])}) beside the one "
        "read, into the same parameters and optimiser step: the loss is read in part, so its terms' weights are not judged"
    )
