"""How the sampler and the KL term read the encoder's scale head.

The head ``h`` (``logvar`` in most code) can mean a log-variance, a log-std, a
std or a variance. The sampler's reading is the one under which ``std`` (the
factor of the noise) equals the head's transform; the KL term's reading is the
one under which its elementwise tensor is a constant multiple of the
closed-form ``KL(N(mu, sigma) || N(0, 1))``. VAE007 and VAE008 compare them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vaelint.facts.countedout import cancels, count_above
from vaelint.facts.gaussian_kl import LOG_VAR_READINGS, sampler_reading
from vaelint.facts.halfprior import unnamed_half_prior
from vaelint.facts.klelements import kl_element, layer_for
from vaelint.facts.kloffset import offset_ratio
from vaelint.facts.klparts import joined_element, kl_parts
from vaelint.facts.learnedprior import LEARNED_PRIOR, against_a_learned_prior, kl_beside_a_log_det
from vaelint.facts.stackedheads import stacked_layers
from vaelint.facts.termkinds import term_kind
from vaelint.facts.termscale import term_scale

READINGS = {name: (to_std, text) for name, (_lv, to_std, text) in LOG_VAR_READINGS.items()}


@dataclass
class KLReading:
    sampler: str | None  # how the sampler reads the head
    kl: str | None  # how the KL term reads it (None: no reading fits, or undecided)
    coefficient: float | None  # signed weight of the Gaussian KL in the total (per the reductions)
    explicit: list  # non-unit constant factors written on the KL term
    node: object  # the KL term
    element: object  # its elementwise tensor
    undecided: str | None = None  # why no reading could be decided (rounding hides it)
    offset: float = 0.0  # the element is the Gaussian KL plus this constant (its - 1 left out)
    clamped: bool = False  # held above a floor (free bits: clamp(kl - l, min=0)): read inside the clamp
    other_prior: bool = False  # read against a Gaussian prior other than N(0, 1) (learned, conditional, N(0, s^2))
    half_prior: bool = False  # the KL to N(0, 1/2) that no line names: the 1/2 of its mu^2 + std^2 part missing


_CLAMPS = {"clamp", "clip", "max", "maximum", "relu", "where", "softplus"}


def clamped_kl_weights(ctx) -> list[tuple[object, float]]:
    """(the KL term, its signed weight) of each closed-form KL term clamped for free bits
    (``beta * torch.max(kl - free_bits, 0)``): not read against the closed form, but its weight's
    sign is plain (a subtracted clamp rewards a KL above the free bits)."""
    roles, view, out = ctx.roles, ctx.view, []
    for term in roles.kl_terms:
        if term_kind(view, roles, term) != "kl":
            continue
        scale = term_scale(ctx, term)
        if scale is None or scale.element is None or view.op(scale.element) not in _CLAMPS:
            continue
        out.append((term, scale.written * scale.normalization))
    return out


def kl_reading(ctx, run=None) -> KLReading | None:
    """Read the model's closed-form KL term at the user's batch (or on ``run``,
    another run's :class:`vaelint.capture.result.RunResult`)."""
    if run is not None:
        got = _kl_reading(ctx, run)
        return got if isinstance(got, KLReading) else None
    return ctx.reading("kl_reading", _user_run_reading, KLReading)[0]  # VAE007 and VAE008 both read it


def kl_readings(ctx, run=None) -> list[KLReading]:
    """The reading of every closed-form KL term, one per stochastic layer of a hierarchical VAE
    (``kl_reading`` is the one the header and most rules quote); on ``run``, another run's."""
    if run is None and "kl_readings" in ctx.cache:
        return ctx.cache["kl_readings"]
    roles, view = ctx.roles, ctx.view
    out = []
    if roles.reparam is not None and ctx.runs.failure is None:
        for term in roles.kl_terms:
            # a lower layer's KL against p(z1 | z2), z2 drawn from z1: it reads the sample through the
            # prior's layers, and is read with the sample held (the prior then stays the run's)
            upper = against_a_learned_prior(view, roles, term)
            if upper or term_kind(view, roles, term) == "kl" or kl_beside_a_log_det(view, roles, term) is not None:
                got = _read_term(ctx, term, run, through_the_sample=upper)
                if isinstance(got, KLReading):
                    out.append(got)
    if run is None:
        ctx.cache["kl_readings"] = out
    return out


def _other_head_terms(ctx, term) -> list:
    """The loss's other terms, no reconstruction, that read the sampler's heads along a path through
    no sample (the rest of a KL written in parts)."""
    from vaelint.facts.reparams import heads_of, samples_of

    roles, view = ctx.roles, ctx.view
    heads, samples = heads_of(roles.reparams), samples_of(roles.reparams)
    rec = set(roles.rec_terms)
    return [t for _s, t in roles.loss_terms if t is not term and t not in rec and view.reads_around(t, heads, samples)]


def maximised_elbo(ctx) -> bool:
    """Is the loss vaelint found by name (no training step) an ELBO written to be maximised: its
    reconstruction, a loss op (BCE, MSE...), enters negated as the KL does (``return -(rec + kl)``,
    ``log_px - kl``)? Then the KL's sign is the objective's, no bug of the KL: the training code
    minimises its negation (stefanknegt/Probabilistic-Unet-Pytorch's ``elbo()``)."""
    from vaelint.capture.ops import RECON_LOSS_OPS

    roles = ctx.roles
    step = ctx.program.step
    if (step is not None and not step.loss_method) or len(set(roles.rec_terms)) != 1:
        return False
    rec = roles.rec_terms[0]
    scale = term_scale(ctx, rec)
    if scale is None or scale.element is None:
        return False
    sign = next((s for s, t in roles.loss_terms if t is rec), 1) * scale.written
    if ctx.view.op(scale.element) in RECON_LOSS_OPS:
        return sign < 0  # a loss (BCE, MSE) negated: -(rec + kl)
    # a log-likelihood written out (x * log_softmax(logits), a distribution's log_prob) added: log_px - kl;
    # its value says which it is (a log-probability is below 0; -target * log_softmax, a loss, above)
    return _a_log_likelihood(ctx.view, scale.element) and _entered_below_zero(
        ctx, rec, next((s for s, t in roles.loss_terms if t is rec), 1)
    )


def _entered_below_zero(ctx, term, sign: int) -> bool:
    """Is the term, with the sign it enters the total with, below 0 on the run (a log-likelihood added)?"""
    values = ctx.values(term)
    value = values[0] if values else None
    if value is None or value.numel() == 0:
        return False
    total = float(value.detach().float().sum())
    return sign * total < 0


_LOG_PROBABILITIES = {"log_softmax", "log_sigmoid", "logsigmoid", "log_prob"}


def _a_log_likelihood(view, element, depth: int = 4) -> bool:
    """Is the reconstruction's element a log-probability of the data: a log_softmax, log-sigmoid or
    distribution's log_prob within a few ops of it (``x * F.log_softmax(h, -1)``), no loss op?"""
    seen, frontier = set(), [element]
    for _ in range(depth):
        nxt = []
        for node in frontier:
            if node in seen:
                continue
            seen.add(node)
            if view.op(node) in _LOG_PROBABILITIES:
                return True
            nxt += [a for a in node.all_input_nodes if view.op(a) in _LOG_PROBABILITIES or view.op(a) in _PASSING]
        frontier = nxt
    return False


_PASSING = {"mul", "view", "reshape", "flatten", "sum", "add", "getitem", "transpose", "permute", "squeeze", "unsqueeze"}


def _where(node) -> str:
    loc = node.meta.get("loc")
    return loc.where() if loc is not None else node.name


def why_no_kl_reading(ctx) -> str:
    return ctx.reading("kl_reading", _user_run_reading, KLReading)[1]


def _user_run_reading(ctx) -> KLReading | str:
    return _kl_reading(ctx, None)


def _kl_reading(ctx, run) -> KLReading | str:
    """The reading of the closed-form KL term: among several candidates (a KL
    beside an L2 penalty on mu, say), the one that reads as a Gaussian KL; a
    single candidate is read whatever it is (VAE007 reports a broken one)."""
    roles, view = ctx.roles, ctx.view
    r = roles.reparam
    if r is None or ctx.runs.failure is not None:
        return "no reparameterisation, or the model raised"
    # a closed-form KL, or one with a flow's log-determinant subtracted before it is reduced
    closed = [t for t in roles.kl_terms if term_kind(view, roles, t) == "kl" or kl_beside_a_log_det(view, roles, t) is not None]
    if not closed:
        if roles.kl_terms and all(against_a_learned_prior(view, roles, t) for t in roles.kl_terms):
            return LEARNED_PRIOR
        if roles.kl_terms:
            return "the KL is a Monte Carlo estimate (it reads the sample z): there is no closed form to check"
        return "no KL term found in the loss"
    readings, reasons = [], []
    for term in closed:
        got = _read_term(ctx, term, run)
        (readings if isinstance(got, KLReading) else reasons).append(got)
    for reading in readings:
        if reading.kl is not None:
            return reading
    joined = _read_in_parts(ctx, run)
    if joined is not None:
        return joined
    if len(closed) == 1 and readings and readings[0].undecided is None:
        others = _other_head_terms(ctx, closed[0])
        if others:
            # VaDE's KL to its mixture prior, written over Loss += ... and Loss -= ...: a part is no KL
            return (
                f"the KL term at {_where(closed[0])} is no Gaussian KL by itself, and {len(others)} other term(s) of the loss "
                f"read the encoder's heads too ({', '.join(_where(t) for t in others)}): a KL written over several "
                "terms (a mixture prior's, say) is not read as one: not checked"
            )
        return readings[0]  # the one KL candidate is no Gaussian KL: VAE007
    if len(closed) > 1 and readings and all(r.undecided is None for r in readings) and _one_formula(view, roles, closed):
        # one KL line applied per stochastic level (a loop over [(mu1, logstd1), (mu2, logstd2)], a helper
        # called per layer): the levels the heads fit read it as no Gaussian KL, so the formula is none
        return readings[0]
    if readings and readings[0].undecided:
        return readings[0].undecided
    if reasons:
        return reasons[0]
    return f"{len(closed)} terms of the loss read the encoder's heads and none is the Gaussian KL of the sampler's mean and std"


def _one_formula(view, roles, terms) -> bool:
    """Are these KL terms one formula: all made at one line of the user's code (the same formula,
    per level), or parts of one expression of the heads alone (``0.5 * (sum(var) + sum(mu**2) -
    clamp(sum(logvar)))`` written over several lines)?"""
    places = {(loc.path, loc.line) if loc is not None else None for loc in (t.meta.get("loc") for t in terms)}
    if len(places) == 1 and None not in places:
        return True
    joined = next((n for n in view.graph.nodes if all(view.depends_on(n, t) for t in terms)), None)
    return joined is not None and term_kind(view, roles, joined) == "kl"


def _read_term(ctx, term, run, through_the_sample: bool = False) -> KLReading | str:
    roles, view = ctx.roles, ctx.view
    scale = term_scale(ctx, term)
    if scale is None or scale.element is None:
        return "the KL term's reductions could not be followed"
    r = layer_for(ctx, scale.element)
    if view.op(scale.element) in _CLAMPS:
        return "the KL is clamped on purpose (free bits): not checked against the closed form"
    prior_net = _reads_a_prior(view, scale.element, r)
    if prior_net and not through_the_sample and against_a_learned_prior(view, roles, term):
        return LEARNED_PRIOR
    r, element = _element_and_layer(ctx, scale.element, run, r)
    if not element.valid or element.std is None:
        return "the KL element and the encoder's heads do not share a shape"
    sampler = sampler_reading(element.head, element.std)
    if sampler is None and element.std is not None:
        # a std made by a transform no reading inverts (softplus(h), softplus(h) + 1e-4,
        # sigmoid(h) * k): the sampler's std itself is the head both the sampler and the KL read
        element, sampler = _std_as_head(ctx, scale.element, r, run), "std"
        if element is None:
            return "the sampler's std is no plain reading of the scale head (exp, softplus, ...)"
    kl_name, ratio, undecided, other_prior, half = None, None, None, False, False
    order = [] if prior_net else [sampler] + [n for n in READINGS if n != sampler]
    for name in order:
        found = element.ratio_to(name)
        if found.constant:
            kl_name, ratio = name, found.value
            break
        if not found.decided:
            undecided = (
                "the KL element is too close to zero on this run to be read in the model's "
                f"precision ({element.dtype}), and its formula could not be replayed in float64"
            )
    shifted = offset_ratio(element, sampler) if kl_name is None and sampler is not None and not prior_net else None
    if kl_name is None and sampler is not None and shifted is None:
        # the closed-form KL against a fixed Gaussian prior other than N(0, I) (a prior scale the
        # user chose, N(0, s^2 I)): the same KL of the sampler's mean and std, its prior another
        against = kl_element(ctx, scale.element, run, layer=r, freeze_sample=True)
        some = against.ratio_to_some_prior()
        half = some.constant and unnamed_half_prior(ctx, scale.element, against, r)
        if some.constant and not half:
            kl_name, ratio, other_prior = sampler, some.value, True
    if prior_net and kl_name is None:
        return (
            "the KL is taken against a learned prior or reads another network, and is no Gaussian KL of the "
            "sampler's mean and std against a prior the heads do not move: not checked"
        )
    offset = against.prior_offset if other_prior else 0.0
    if kl_name is None and shifted is not None:  # the KL plus a constant: the same gradients
        (ratio, offset), kl_name = shifted, sampler
        offset = _not_counted_out(ctx, [term], scale, offset)
    if kl_name is not None:
        undecided = None
    sign = next((s for s, t in roles.loss_terms if t is term), 1)
    consts, explicit = _weights_written(scale)
    coefficient = None
    if ratio is not None:
        coefficient = sign * math.prod(f.value for f in consts) * ratio
    floor = scale.target == "floor"
    return KLReading(sampler, kl_name, coefficient, explicit, term, scale.element, undecided, offset, floor, other_prior, half)


def _read_in_parts(ctx, run) -> KLReading | None:
    """The KL written over several terms of the loss, read as one (vaelint/facts/klparts.py),
    where their sum is a Gaussian KL of the sampler's heads under some reading; else None."""
    parts = kl_parts(ctx)
    element = joined_element(ctx, parts, run) if parts is not None else None
    sampler = sampler_reading(element.head, element.std) if element is not None else None
    if sampler is None:
        return None
    first = parts.scales[0]
    explicit = _weights_written(first)[1]
    for name in [sampler] + [n for n in READINGS if n != sampler]:
        found = element.ratio_to(name)
        if found.constant:
            return KLReading(sampler, name, parts.first_weight * found.value, explicit, parts.terms[0], first.element)
    # the parts' sum plus a constant, none of them clamped (a clamp of one part is no constant)
    shifted = offset_ratio(element, sampler) if not any(s.target for s in parts.scales) else None
    if shifted is None:
        return None
    # the parts' sum plus a constant: the count of latent dims taken away once they are joined, or left out
    ratio, offset = shifted
    offset = _not_counted_out(ctx, parts.terms, first, offset)
    return KLReading(sampler, sampler, parts.first_weight * ratio, explicit, parts.terms[0], first.element, offset=offset)


def _not_counted_out(ctx, terms: list, scale, offset: float) -> float:
    """The KL's constant ``offset`` per element, or 0 where the code takes it away as a count: after the
    term's own sum (``sum(...) - mu.numel()``) or once the terms are joined (``kl = kl - latent_dim``)."""
    counted = scale.counted_out or count_above(ctx, terms, scale)
    return 0.0 if counted is not None and cancels(ctx, counted, offset) else offset


def _weights_written(scale) -> tuple[list, list]:
    """(the numbers written on a KL term, those other than the formula's own 1 and 1/2): a weight of
    0 at the step checked (a warm-up's first step) is no part of the KL's form."""
    consts = [f for f in scale.factors if f.kind == "const" and f.value != 0]
    return consts, [f for f in consts if not math.isclose(abs(f.value), 1.0) and not math.isclose(abs(f.value), 0.5)]


def _element_and_layer(ctx, node, run, r):
    """(layer, the KL element read against it): the default layer's, or where the element does not share
    its heads' shape, a recurrent VAE's KL of every step at once, read against the steps' heads stacked alike."""
    element = kl_element(ctx, node, run)
    if not element.valid:
        for stacked in stacked_layers(ctx, node):
            joined = kl_element(ctx, node, run, layer=stacked)
            if joined.valid:
                return stacked, joined
    return r, element


def _reads_a_prior(view, element, r) -> bool:
    """Does the KL element read a layer or parameter the sampler's heads do not: a prior another
    network computes, from a sample (p(z_t | z_t-1), p(z1 | z2)) or from what the heads do not
    move (a conditional prior p(z | c), a learned one held as parameters)?"""
    allowed = view.ancestors(r.mu) | view.ancestors(r.logvar) | view.ancestors(r.std)
    layers = view.with_parameters()  # a recorded graph's layers are ops reading their weights
    return any(
        a not in allowed
        and (a in layers or a.op == "call_module" or (a.op == "get_attr" and a.users and not str(a.target).startswith("_constant")))
        for a in view.ancestors(element)
    )


def _std_as_head(ctx, node, r, run):
    """The KL element as a function of the mean and the sampler's std (the std is the head)."""
    from dataclasses import replace

    from vaelint.facts.gaussian_kl import KLElement
    from vaelint.facts.heldrun import kl_reads, run_holding

    layer = replace(r, logvar=r.std)
    run0 = run if run is not None else run_holding(ctx, kl_reads(ctx, node, layer.mu, layer.logvar, layer.std, layer.z))
    element = KLElement(ctx.capture, run0, node, layer.mu, layer.logvar, layer.std, layer.z, False)
    return element if element.valid and element.std is not None else None
