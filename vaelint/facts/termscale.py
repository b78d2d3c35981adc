"""A loss term's scale: its own factors and reductions (read by vaelint/facts/reductions.py's
walker), and the factors outside it that scale the total it is part of."""

from __future__ import annotations

import dataclasses
import math

import torch.fx as fx

from vaelint.facts.argnumbers import literal_times, size_said
from vaelint.facts.countedout import minus_a_count
from vaelint.facts.datasize import by_the_data_size
from vaelint.facts.oversize import constant_over_size
from vaelint.facts.partweights import weights_of
from vaelint.facts.reductions import Factor, TermScale, TermWalker


def reads_inputs(ctx, node) -> bool:
    return any(a.op == "placeholder" for a in ctx.view.ancestors(node))


def term_scale(ctx, term: fx.Node) -> TermScale | None:
    walker = TermWalker(ctx)
    scale = own_scale(ctx, walker, term)
    if scale is None:
        return None
    outer = _outer_factors(walker, ctx.roles.term_outer.get(term, ()), term, _shared_with_others(ctx, term, walker))
    if outer is None:
        return None
    scale.factors = _undone_means(outer + scale.factors)
    if term in ctx.roles.rec_terms:
        scale.factors = [_likelihood_variance(ctx, f) for f in scale.factors]
    return scale


def _likelihood_variance(ctx, factor):
    """A division of the reconstruction by a fixed variance whose log the term adds too (``sq / (2 *
    vy) + 0.5 * log(vy)``: a Gaussian likelihood written out in full): the likelihood's own constant,
    no weight on the reconstruction (kind "likelihood": neither beta_eff's weight nor a reduction)."""
    node = factor.node
    if factor.kind != "const" or factor.op != "div" or not isinstance(node, fx.Node) or len(node.args) != 2:
        return factor
    view = ctx.view
    divisor = node.args[1]
    if not isinstance(divisor, fx.Node) or reads_inputs(ctx, divisor):
        return factor
    leaves = {a for a in view.value_ancestors(divisor) if a.op == "get_attr"}
    total = ctx.roles.loss_total
    around = view.ancestors(total) if isinstance(total, fx.Node) else frozenset(ctx.view.graph.nodes)
    logs = [n for n in around if view.op(n) == "log" and not reads_inputs(ctx, n)]  # its log-variance, added beside it
    if leaves and any(leaves & {a for a in view.value_ancestors(n) if a.op == "get_attr"} for n in logs):
        return dataclasses.replace(factor, kind="likelihood")
    return factor


def _undone_means(factors: list[Factor]) -> list[Factor]:
    """A number written on a term that equals the sizes one of its means divided by
    (``F.binary_cross_entropy(recon, x) * num_pixels``: JointVAE's "unnormalise")
    undoes that mean: the term is a sum over those sizes, not weighted by them. It
    becomes a size factor, so neither beta_eff's reductions nor the weight count it."""
    means = [f for f in factors if f.kind == "mean" and f.const_sizes > 1]
    out = []
    for f in factors:
        undone = next((m for m in means if f.kind == "const" and f.op == "mul" and math.isclose(f.value, m.const_sizes)), None)
        if undone is None:
            out.append(f)
            continue
        means.remove(undone)
        shown = f"{int(f.value)}, which undoes the division of the mean over {undone.over}"
        out.append(Factor("size", 1.0, 0, 1 / f.value, shown, f.node, f.op, shared=f.shared))
    return out


def own_scale(ctx, walker: TermWalker, term: fx.Node) -> TermScale | None:
    """The term's reductions and factors, from the term down to its element."""
    scale = walker.walk(term)
    if scale is None or scale.element is None:
        return None
    if term in ctx.roles.rec_terms and not scale.reductions():
        parts = _parts_alike(ctx, walker, scale.element)
        if parts is not None:
            part = min(parts, key=lambda p: len(p.reductions()))  # one without a mean undone, where there is one
            overs = [_overs(p) for p in parts]
            part.factors = (
                scale.factors + [_each_part(f, overs, i) for i, f in enumerate(part.reductions())] + weights_of(ctx, parts, scale.element)
            )
            part.term = term
            part.parts = len(parts)
            return part
    if term in ctx.roles.rec_terms:
        from vaelint.facts.stackedparts import stacked_parts

        stacked = stacked_parts(ctx, scale, lambda part: own_scale(ctx, walker, part))
        if isinstance(stacked, str):
            return None  # parts reduced unlike each other: no reduction of the term to read
        if stacked is not None:
            return stacked
    if ctx.view.op(scale.element) in ("add", "sub") and not scale.reductions():
        sub = minus_a_count(ctx, walker, scale.element, lambda part: own_scale(ctx, walker, part))
        if sub is not None:  # 0.5 * (torch.sum(...) - mu.numel()): the KL's - 1 outside its sum
            sub.factors = scale.factors + sub.factors
            sub.term = term
            return sub
    if ctx.view.op(scale.element) in ("add", "sub"):
        from vaelint.facts.learnedprior import kl_beside_a_log_det

        kl = kl_beside_a_log_det(ctx.view, ctx.roles, scale.element)
        sub = own_scale(ctx, walker, kl) if kl is not None else None
        if sub is not None:
            # (kl - log_det).sum(): the KL's own reductions inside the term's (the flow's log-det beside it)
            sub.factors = scale.factors + sub.factors
            sub.term = term
            return sub
    if term in ctx.roles.kl_terms and ctx.view.op(scale.element) in ("add", "sub") and not scale.reductions():
        sub = _monte_carlo_in_parts(ctx, walker, scale.element)
        if sub is not None:
            sub.factors = scale.factors + sub.factors
            sub.term = term
            return sub
    if ctx.view.op(scale.element) in ("add", "sub") and not scale.reductions():
        # a sum of scalar parts (BCE + a normalising constant): use one that reduces
        parts = scale.element.all_input_nodes
        for part in parts:
            if any(reads_inputs(ctx, other) for other in parts if other is not part):
                continue  # log q - log p: both sides carry the term, neither is a constant
            sub = own_scale(ctx, walker, part)
            if sub is not None and sub.reductions():
                sub.factors = scale.factors + sub.factors
                sub.term = term
                return sub
    return scale


def _monte_carlo_in_parts(ctx, walker: TermWalker, element: fx.Node) -> TermScale | None:
    """A Monte Carlo KL whose parts are reduced one by one, alike (``torch.sum(log_q_z0 - log_p_zk)
    - torch.sum(ldj)``: a flow posterior's KL as the sylvester-flows loss writes it), each part a
    number: the scale of the one part that reads the sampler's heads beside their sample (``log q(z)``,
    added, not taken away); every part reads the sample. None for any other sum."""
    from vaelint.facts.montecarlokl import signed_parts
    from vaelint.facts.reparams import heads_of, samples_of

    view, layers = ctx.view, ctx.roles.reparams
    shape = ctx.shape(element)
    if shape is None or shape.sizes is None or len(shape.sizes) > 0:
        return None  # per sample (log q(z) - log p(z), each summed over Z): read whole, as it is
    heads, samples = heads_of(layers), samples_of(layers)
    parts = signed_parts(view, element)
    own = [i for i, (_sign, p) in enumerate(parts) if view.reads_around(p, heads, samples)]
    if len(parts) < 2 or len(own) != 1 or parts[own[0]][0] < 0:
        return None
    if any(not any(view.depends_on(p, s) for s in samples) for _sign, p in parts):
        return None
    scales = [own_scale(ctx, walker, p) for _sign, p in parts]
    if any(s is None or not s.reductions() for s in scales):
        return None
    overs = [[(f.kind, f.over) for f in s.reductions()] for s in scales]
    return scales[own[0]] if all(o == overs[0] for o in overs) else None


def _scaling(walker: TermWalker, node: fx.Node) -> list[Factor] | None:
    """A mul/div by a number or a batch size, as factors (what walk() reads)."""
    args = list(node.args)
    tensors = [a for a in args if isinstance(a, fx.Node) and walker.ctx.shape(a) is not None]
    if len(args) != 2 or len(tensors) != 1:
        return None
    other = args[1] if args[0] is tensors[0] else args[0]
    op = walker.view.op(node)
    if op == "div" and other is args[0]:
        return None
    num = walker.scalar_of(node, other)
    if num is None and op == "mul":  # (0.5 / n) * (mu.pow(2).sum() + ...): a number over a size
        held = TermScale(node, None)
        return held.factors if constant_over_size(walker, held, other) else None
    if num is None or num[0] == 0:
        return None
    value, power, k = num
    c = literal_times(walker.view, other, k) if power and op == "div" else 0
    if c:  # / (2 * n): a size, and a weight 1/2 the code wrote (a Gaussian KL's, spread over the batch)
        shown, k = size_said(walker.ctx.batch_size_text, k // c, value / c)
        return [Factor("size", 1.0, -1, k, shown, node, op), Factor("const", 1 / c, 0, 1, f"{1 / c:g}", node, op)]
    if power and isinstance(k, float):
        return None  # B times a weight (N * sigma ** 2) above the terms: not read here
    if power:
        sign = -1 if op == "div" else 1
        shown, k = size_said(walker.ctx.batch_size_text, k, value)
        return [Factor("size", 1.0, sign, k if op == "div" else 1 / k, shown, node, op)]
    value = 1 / value if op == "div" else value
    return [Factor("const", value, 0, 1, f"{value:g}", node, op)]


def _shared_with_others(ctx, term: fx.Node, walker=None) -> set:
    """The nodes of a term's outer chain that the terms of the other role (KL for
    a reconstruction, reconstruction for a KL) go through as well."""
    from vaelint.facts.termkinds import term_kind

    roles = ctx.roles
    others = list(roles.kl_terms if term in roles.rec_terms else roles.rec_terms)
    if term in roles.rec_terms:
        # the likelihood's scale part split off (-0.5 * (sq / var + log var)): a factor it shares with the
        # reconstruction is the likelihood's own constant, as one shared with the KL is the whole sum's
        done = set(roles.rec_terms) | set(roles.kl_terms)
        scales = [t for _s, t in roles.loss_terms if t not in done and term_kind(ctx.view, roles, t) == "scale"]
        kl_shared = {n for t in others for n in roles.term_outer.get(t, ())}
        # ... but a division by the data's size over both (sum(sq / var + log var, 1).mean() / D) is the
        # reconstruction's mean over its values written out, its own normaliser: not shared away
        # and so is a division by the batch's size over both (0.5 * sum(log var + sq / var) / x.size(0): a false
        # VAE002 "sum over B" [confirmed] before, helper-found)
        own = lambda n: by_the_data_size(ctx, n) or (walker is not None and any(f.batch_power for f in _scaling(walker, n) or ()))  # noqa: E731
        return kl_shared | {n for t in scales for n in roles.term_outer.get(t, ()) if n in kl_shared or not own(n)}
    return {n for t in others for n in roles.term_outer.get(t, ())}


def _outer_factors(walker: TermWalker, outer: tuple, term: fx.Node, shared: set | None = None) -> list[Factor] | None:
    """The reductions a whole sum of terms goes through (``(rec + kl).mean()``),
    as they act on one term: a mean over dims the term is broadcast along (a
    scalar KL added to a per-sample reconstruction) leaves that term as it is,
    and applies to the dims the term has. None: a sum along a broadcast dim,
    which multiplies the term by a size this walk does not follow."""
    own = walker.ctx.shape(term)
    if own is None or own.sizes is None:
        return [] if not outer else None
    factors = []
    sizes = list(own.sizes)  # the term's dims as the chain reduces them (`.sum(1)` then `.mean()`)
    for node in reversed(outer):  # innermost first
        op = walker.view.op(node)
        if op in ("div", "mul") and shared is not None and node not in shared:
            # above a split the other role does not share (sum(nll) / nll.shape[0], where the
            # NLL's learned log-variance was split off): this term's own factor
            # its sign is the term's (lossroles reads a negative number there as -elbo): its size only
            factors += [dataclasses.replace(f, value=abs(f.value)) for f in _scaling(walker, node) or ()]
            continue
        if op not in ("sum", "mean"):
            continue  # a factor on the whole sum scales every term alike: beta_eff keeps it out
        src = next((a for a in node.args if isinstance(a, fx.Node)), None)
        fact = walker.ctx.shape(src) if src is not None else None
        if fact is None or fact.sizes is None:
            return None
        if len(sizes) > len(fact.sizes):
            # fewer dims than the term's: it was squeezed on its way in (rec.sum(-1, keepdim=True)
            # .squeeze(1)); as many of its dims of 1 dropped as it lost, from the last, the others kept
            sizes = _squeezed(sizes, len(sizes) - len(fact.sizes))
        rank, offset = len(fact.sizes), len(fact.sizes) - len(sizes)
        positions = walker._reduced_positions(node, rank, walker._int_value)
        has = [p for p in positions if p >= offset and sizes[p - offset] == fact.sizes[p]]
        broadcast = [p for p in positions if p not in has and not fact.one_at(p)]
        if op == "sum" and broadcast:
            return None
        if not _keeps_dims(node):
            sizes = [size for k, size in enumerate(sizes) if k + offset not in positions]
        if not has:
            continue
        text, power, consts, samples = walker.labels(src, has)
        if op == "mean":
            factors.append(Factor("mean", 1.0, -power, consts, text, node, op, shared=True))
        else:
            factors.append(Factor("sum", 1.0, 0, 1 / samples, text, node, op, shared=True))
    return factors[::-1]  # outermost first, as the chain is


def _squeezed(sizes: list, lost: int) -> list:
    """``sizes`` less ``lost`` of its dims of 1, the last ones first (a batch of 1 in front is kept)."""
    out = list(sizes)
    for k in range(len(out) - 1, -1, -1):
        if lost and out[k] == 1:
            del out[k]
            lost -= 1
    return out


def _keeps_dims(node: fx.Node) -> bool:
    keep = node.kwargs.get("keepdim", node.args[2] if len(node.args) > 2 else False)
    return keep is True


def summands(view, node: fx.Node) -> list[fx.Node]:
    """The parts of a chain of additions (``rec = rec + part`` in a loop over columns)."""
    if view.op(node) != "add" or len(node.kwargs):
        return [node]
    out = []
    for arg in node.args:
        if isinstance(arg, fx.Node):
            out.extend(summands(view, arg))
    return out


def _parts_alike(ctx, walker: TermWalker, element: fx.Node) -> list[TermScale] | None:
    """A reconstruction written as a sum of parts, each a likelihood of its own slice of the data
    (a tabular VAE's MSE of each numeric column plus the cross-entropy of each categorical one),
    all reduced alike: the parts' scales. None where there are fewer than two, a part reads no
    data, or two are reduced differently (then no one reduction holds for the term). Parts may be
    weighted differently (``0.7 * l1 + 0.3 * mse``): the term weighs the sum of the weights."""
    leaves = reduced_leaves(ctx, walker, element)
    if leaves is None or len(leaves) < 2:
        return None
    from vaelint.facts.stackedparts import reduced_alike

    scales = [s for _part, s in leaves]
    # a part summed per row beside one that is a number per row already (a cross-entropy) are alike,
    # where no number is written on either (sum(...) / 6 is a mean over the 6 columns: unlike a CE)
    per_sample = all(s.written == 1 for s in scales)
    return scales if reduced_alike(scales, per_sample=per_sample) else None


def reduced_leaves(ctx, walker: TermWalker, node: fx.Node, above: list | None = None, depth: int = 0) -> list | None:
    """[(part, its scale with the factors written above it)] of a sum of parts, each reading the
    data and reduced, sub-sums opened (``mse + sum(ce_j) / n``: the MSE, and each cross-entropy
    divided by n); a number that undoes a part's mean (``mse * n_columns``) makes it a sum. None
    where a part reads no data or has no reduction of its own."""
    if depth > 4 or ctx.view.op(node) != "add":
        return None  # no sum (the term itself, a square root): no parts
    out = []
    for part in summands(ctx.view, node):
        if not reads_inputs(ctx, part):
            return None
        scale = own_scale(ctx, walker, part)
        if scale is None or scale.element is None:
            return None
        factors = [*(above or []), *scale.factors]
        opened = ctx.view.op(scale.element) == "add" and not any(f.kind in ("sum", "mean") for f in scale.factors)
        if scale.reductions() and not opened:
            out.append((part, dataclasses.replace(scale, factors=_undone_means(factors))))
            continue
        if not opened:
            return None
        inner = reduced_leaves(ctx, walker, scale.element, factors, depth + 1)
        if inner is None:
            return None
        out.extend(inner)
    return out


def _overs(scale: TermScale) -> list[str]:
    """What a part's reductions are over, a mean undone by a number said with it (``B, 4 times 4``)."""
    undone = [f for f in scale.reductions() if f.kind == "size" and f.batch_power == 0]
    times = f" times {1 / undone[0].const_sizes:g}" if undone and undone[0].const_sizes else ""
    return [f.over + (times if f.kind == "mean" else "") for f in scale.reductions() if f not in undone]


def _each_part(factor: Factor, overs: list[list[str]], i: int) -> Factor:
    """A part's reduction, said as the whole term's: ``sum over each part's own dims (B, 1; B) in
    its 4 parts``."""
    said = list(dict.fromkeys(o[i] for o in overs if i < len(o)))
    if len(said) == 1:
        return dataclasses.replace(factor, over=f"{said[0]} in each of its {len(overs)} parts")
    text = "; ".join(said[:3]) + ("; ..." if len(said) > 3 else "")
    return dataclasses.replace(factor, over=f"each part's own dims ({text}) in its {len(overs)} parts")


def parts_reduced_unlike(ctx) -> list | None:
    """The reconstruction's parts, each a likelihood of its own slice of the data, where they are
    not reduced alike over the batch (a tabular VAE's MSE of its numeric columns summed over the
    batch beside a cross-entropy of a categorical one averaged over it, by its default): [(part
    node, its scale)], or None where there is one part, or all are reduced alike."""
    rec_terms = ctx.roles.rec_terms
    if len(rec_terms) != 1:
        return None
    walker = TermWalker(ctx)
    scale = walker.walk(rec_terms[0])
    if scale is None or scale.element is None or scale.reductions():
        return None
    parts = summands(ctx.view, scale.element)
    if len(parts) < 2 or any(not reads_inputs(ctx, p) for p in parts):
        return None
    scales = [own_scale(ctx, walker, p) for p in parts]
    if any(s is None or not s.reductions() for s in scales) or len({s.own()[0] for s in scales}) < 2:
        return None
    return list(zip(parts, scales))


def each_part_averaged_over_the_batch(ctx, node: fx.Node) -> bool:
    """Is every additive part of ``node`` (through ``+`` and ``-``) averaged over the batch? Then a number ``node`` is divided
    by averages parts, not samples: ``(bce_fake + bce_real) / 2`` at a batch of 2 is no batch size
    written down (mel-vae's critic terms: a false VAE005). False where a part's reading is unknown."""
    parts, stack = [], [node]
    while stack:
        n = stack.pop()
        if ctx.view.op(n) in ("add", "sub") and len(n.all_input_nodes) == 2:
            stack.extend(n.all_input_nodes)
        else:
            parts.append(n)
    walker = TermWalker(ctx)
    for part in parts:
        scale = own_scale(ctx, walker, part)
        if scale is None or scale.batch_power >= 0:  # a sum over the batch is B**0; a mean over it B**-1
            return False
    return True
