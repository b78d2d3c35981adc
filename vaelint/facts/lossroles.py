"""The loss side's roles: the total, its terms split over + and -, what each term is
about (reconstruction, KL, latent), and where the loss compares the reconstruction
with the input. The forward's roles are found first (vaelint/facts/roles.py)."""

from __future__ import annotations

import torch.fx as fx

from vaelint.capture.ops import CAST_OPS, RECON_LOSS_OPS
from vaelint.facts.dataweights import data_weight
from vaelint.facts.densitypairs import join_entropy_and_cross_entropy, join_expanded_kl, join_log_densities
from vaelint.facts.graphview import GraphView, is_size
from vaelint.facts.reparams import heads_of, samples_of
from vaelint.facts.roles import Comparison, Roles, broadcast_input
from vaelint.facts.termkinds import term_kind

# ops that hand on the same value (a copy, a cast, a dim of size 1 dropped): the terms are inside
_SAME_VALUE = {"clone", "written", "contiguous", "float", "double", "to", "type", "squeeze", "view_as", "reshape_as"}


def loss_roles(view: GraphView, roles: Roles, loss_output) -> None:
    """Fill in the loss's total, terms and comparisons (after forward+loss capture)."""
    total, parts = _total_of(view, loss_output)
    roles.loss_total = total
    roles.loss_parts = parts
    roles.total_paths = _paths_of(loss_output, [total] if total is not None else parts)
    if total is None and not parts:
        return

    def kind(node):
        return term_kind(view, roles, node)

    tops = [(1, total)] if total is not None else [(1, p) for p in parts]
    apart = _layers_apart(view, roles) if len(roles.reparams) > 1 else None
    roles.loss_terms = [part for sign, top in tops for part in _split_terms(view, top, sign, kind, outer=roles.term_outer, apart=apart)]
    join_log_densities(view, roles, kind)  # log_px + log_pz - log_qz: one Monte Carlo KL, not two terms
    join_entropy_and_cross_entropy(view, roles, kind)  # -H[q] - log p(z): the same KL, its entropy closed
    join_expanded_kl(view, roles, kind)  # sum(1 + logvar) - sum(mu**2) - sum(exp(logvar)): one KL, written out
    for _sign, term in roles.loss_terms:
        k = kind(term)
        if k == "rec":
            roles.rec_terms.append(term)
        elif k in ("kl", "latent"):
            roles.kl_terms.append(term)
    roles.comparisons = find_comparisons(view, roles)


def _total_of(view: GraphView, out) -> tuple[fx.Node | None, list[fx.Node]]:
    """(the total, or None; the scalar parts when the loss returns terms it does
    not add up itself: ``return rec, kl`` that the training step sums)."""
    if isinstance(out, fx.Node):
        return out, []
    if isinstance(out, dict):
        named = next((out[k] for k in TOTAL_KEYS if isinstance(out.get(k), fx.Node)), None)
        if named is not None:
            return named, []
        nodes = [v for v in out.values() if isinstance(v, fx.Node)]
        total = next((c for c in nodes if len(nodes) > 1 and all(_covers(view, c, o) for o in nodes if o is not c)), None)
        return (total, []) if total is not None else (None, [v for v in nodes if is_scalar(v)])
    if isinstance(out, (tuple, list)) and out:
        # numbers handed back for logging (rec.item(), float(kl)) carry no gradient: no part of the loss
        nodes = [o for o in out if isinstance(o, fx.Node) and view.op(o) not in _NUMBERS]
        terms = [o for o in out if isinstance(o, dict) and any(isinstance(v, fx.Node) for v in o.values())]
        if not nodes and terms:
            # (its terms, a record of numbers): the dict that names its total (MercuriXito/DisVAEs' get_loss)
            named = [t for t in terms if any(isinstance(t.get(k), fx.Node) for k in TOTAL_KEYS)]
            if len(named) == 1 or len(terms) == 1:
                return _total_of(view, (named or terms)[0])
            totals = [got for got in (_total_of(view, t) for t in terms) if got[0] is not None]
            if len(totals) == 1:  # the one dict with a value computed from all its others
                return totals[0]
        for candidate in nodes:  # an element computed from all the others is the total
            others = [o for o in nodes if o is not candidate]
            if others and all(_covers(view, candidate, o) for o in others):
                return candidate, []
        scalars = [o for o in nodes if is_scalar(o)]
        independent = [o for o in scalars if not any(o is not p and _covers(view, p, o) for p in scalars)]
        if len(independent) >= 2:
            return None, independent
        if nodes and len(nodes) == 1:
            return nodes[0], []
    return None, []


_NUMBERS = frozenset({"item", "tolist", "float_", "__float__"})

# the keys a loss's dict names its total by
TOTAL_KEYS = ("loss", "total_loss", "total", "loss_total", "elbo", "neg_elbo", "nelbo")


def _paths_of(out, nodes: list) -> list[tuple]:
    """Where each of ``nodes`` sits in the loss's return value (() for a bare scalar; a path
    into a dict inside a tuple, (0, "total_loss"), for one returned beside records)."""
    found: dict = {}

    def walk(value, path: tuple, depth: int) -> None:
        if isinstance(value, fx.Node):
            found.setdefault(id(value), path)
        elif depth < 2 and isinstance(value, dict):
            for k, v in value.items():
                walk(v, (*path, k), depth + 1)
        elif depth < 2 and isinstance(value, (tuple, list)):
            for i, v in enumerate(value):
                walk(v, (*path, i), depth + 1)

    walk(out, (), 0)
    return [found[id(n)] for n in nodes if id(n) in found]


def _covers(view: GraphView, total: fx.Node, part: fx.Node) -> bool:
    """``total`` is computed from ``part``, or ``part`` is a detached copy of something it is
    computed from (``return loss, rec.detach(), kl.detach()``), or a copy of it divided by a size
    or a number as the total is (``return rec / n, kl / n, loss / n`` with ``loss = rec + kl``), or
    a reduction of a piece the total is made of (``return (kl - log_px).mean(), log_px.mean(),
    kl.mean()``: values to log, reduced on their own; argos-uach/IWAE-torch's negELBO)."""
    while True:
        if view.depends_on(total, part):
            return True
        if view.op(part) in CAST_OPS and part.all_input_nodes:
            part = part.all_input_nodes[0]
            continue
        inputs = [a for a in part.all_input_nodes if not is_size(a)]
        if view.op(part) in ("div", "mul") and len(inputs) == 1 and view.op(total) == view.op(part):
            part = inputs[0]
            continue
        if view.op(part) in ("mean", "sum") and len(inputs) == 1:
            part = inputs[0]
            continue
        return False


def is_scalar(node: fx.Node) -> bool:
    fact = node.meta.get("shape")
    return fact is not None and fact.scalar_like()


def _layers_apart(view: GraphView, roles: Roles):
    """``apart(a, b)``: are ``a`` and ``b`` the KLs of two different stochastic layers, each reading
    the heads of one layer (not through a sample: a lower layer's KL reads the upper's heads through
    its sample), as ``kl1.mean(1) + kl2.mean(1)`` of a two-level VAE are?"""
    samples = samples_of(roles.reparams)

    def layers_of(n) -> set:
        return {i for i, r in enumerate(roles.reparams) if view.reads_around(n, heads_of([r]), samples)}

    def apart(a, b) -> bool:
        # kl1 + kl2, or an accumulator's ((kl1 + kl2) + kl3): sides that read the heads of no layer in common
        la, lb = layers_of(a), layers_of(b)
        return bool(la) and bool(lb) and not la & lb

    return apart


def _split_terms(
    view: GraphView, node: fx.Node, sign: int, kind, depth: int = 0, outer: dict | None = None, chain: tuple = (), apart=None
) -> list[tuple[int, fx.Node]]:
    """The additive terms of the total, split only where the two sides play
    different roles (reconstruction vs KL), so a KL's own ``1 + logvar - mu**2``
    stays one term. Reductions and constant factors applied to a whole sum
    (``(rec + kl).mean()``, ``(rec + kl) / B``) apply to each term: ``outer``
    gets, for each term split out, that chain of nodes (outermost first)."""
    if outer is None:
        outer = {}
    if depth > 200:  # a sum accumulated over a recurrent VAE's time steps is as deep as they are many
        return [(sign, node)]
    name = view.op(node)
    operands = [a for a in node.args if isinstance(a, fx.Node)]
    if name in {"add", "sub", "rsub"} and len(operands) == 2:
        a, b = node.args[0], node.args[1]
        # split where the roles differ, between reduced terms that read the
        # encoder's heads (a KL beside an L2 penalty on mu), and where one side is
        # itself a sum of different roles ((nll + kl) + adversarial, both sides reading
        # the reconstruction); never inside one term
        if _constant(view, a) != _constant(view, b):
            # loss += alpha * torch.tensor(0.) (a placeholder for a term an unlabelled batch has
            # not): the constant adds nothing; the terms are those of the other side
            other, flip = (b, name == "sub") if _constant(view, a) else (a, name == "rsub")
            return _split_terms(view, other, -sign if flip else sign, kind, depth + 1, outer, chain, apart)
        if _one_density(a, b, kind) or _constant(view, a) or _constant(view, b):
            return _term(sign, node, chain, outer)
        # two KLs of two layers, each of one layer (kl1.mean(1) + kl2.mean(1)): two terms, each read on its own
        layers = kind(a) == "kl" == kind(b) and apart is not None and apart(a, b)
        if (
            kind(a) != kind(b)
            or (kind(a) == "kl" and is_scalar(a) and is_scalar(b))
            or layers
            or _mixes(view, a, kind)
            or _mixes(view, b, kind)
        ):
            sb = -sign if name == "sub" else sign
            sa = -sign if name == "rsub" else sign
            parts = _split_terms(view, a, sa, kind, depth + 1, outer, chain, apart)
            parts += _split_terms(view, b, sb, kind, depth + 1, outer, chain, apart)
            return parts
        return _term(sign, node, chain, outer)
    tensor_operands = [a for a in operands if is_tensor_valued(a)]
    if name in {"add", "sub", "rsub"} and len(tensor_operands) == 1 and len(node.args) == 2 and _a_number(node.args) and is_scalar(node):
        # loss = vae(x) - log_det with log_det = 0, rec + kl + 0.0 (a regulariser switched off): the
        # number adds nothing to a loss; the terms are those of the other side, its sign flipped in
        # c - loss (a number inside a term, the KL's 1 + logvar, stays in it)
        (a, b), other = node.args, tensor_operands[0]
        flip = (name == "sub" and b is other) or (name == "rsub" and a is other)
        return _split_terms(view, other, -sign if flip else sign, kind, depth + 1, outer, chain, apart)
    if name in _SAME_VALUE and len(tensor_operands) == 1:  # loss.clone(), loss.float(): the same terms
        return _split_terms(view, tensor_operands[0], sign, kind, depth + 1, outer, chain, apart)
    if name in {"mul", "div"} and len(tensor_operands) == 2:
        tensor_operands = [w] if (w := data_weight(view, node)) is not None else tensor_operands  # (rec - kl) * w
    if name in {"mean", "sum", "div", "mul", "neg"} and len(tensor_operands) == 1:
        inner = {}
        flip = name == "neg" or _by_a_negative_number(name, node)
        parts = _split_terms(view, tensor_operands[0], -sign if flip else sign, kind, depth + 1, inner, chain + (node,), apart)
        if len(parts) > 1:
            outer.update(inner)
            return parts
    return _term(sign, node, chain, outer)


def _by_a_negative_number(name: str, node: fx.Node) -> bool:
    """``elbo.mul(-1)``, ``-1 * elbo``, ``elbo / -2``: a scaling of a whole sum that flips the sign of
    every term under it, as ``-elbo`` does (its size is no term's weight: beta_eff keeps it out)."""
    if name == "div":
        numbers = node.args[1:2]
    elif name == "mul":
        numbers = node.args
    else:
        return False
    return any(isinstance(a, (int, float)) and not isinstance(a, bool) and a < 0 for a in numbers)


def _a_number(args) -> bool:
    return any(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args)


def _constant(view: GraphView, node) -> bool:
    """A tensor computed from the values of no input, parameter or module (``torch.tensor(0.0).to(device)``;
    ``-0.5 * (log(2 pi) + torch.zeros_like(z))``, a standard prior's log-density constant, which takes z's
    shape only)."""
    if not isinstance(node, fx.Node) or node.op in ("placeholder", "get_attr", "call_module"):
        return False
    return not any(a.op in ("placeholder", "get_attr", "call_module") for a in view.value_ancestors(node))


def _mixes(view: GraphView, node, kind, depth: int = 0) -> bool:
    """Is ``node`` a sum (through scalings) of terms of different roles?"""
    if not isinstance(node, fx.Node) or depth > 200:
        return False
    name = view.op(node)
    operands = [a for a in node.args if isinstance(a, fx.Node)]
    if name in {"add", "sub", "rsub"} and len(operands) == 2:
        a, b = node.args[0], node.args[1]
        if _constant(view, a) != _constant(view, b):
            return _mixes(view, b if _constant(view, a) else a, kind, depth + 1)
        if _one_density(a, b, kind) or _constant(view, a) or _constant(view, b):
            return False
        return kind(a) != kind(b) or _mixes(view, a, kind, depth + 1) or _mixes(view, b, kind, depth + 1)
    tensors = [a for a in operands if is_tensor_valued(a)]
    if name in {"mul", "div"} and len(tensors) == 2:
        tensors = [w] if (w := data_weight(view, node)) is not None else tensors
    if name in {"mean", "sum", "div", "mul", "neg"} | _SAME_VALUE and len(tensors) == 1:
        return _mixes(view, tensors[0], kind, depth + 1)
    return False


def _one_density(a, b, kind) -> bool:
    """Are ``a`` and ``b`` two halves of one log-density, elementwise over the latent
    dims (``-0.5 * (log 2pi + logvar) - 0.5 * (z - mu)**2 / var`` in a Monte Carlo KL or a
    total-correlation estimate), not two terms of the loss? One reads the encoder's heads
    only, the other the sample, and neither is reduced to a number per sample yet."""
    if not (isinstance(a, fx.Node) and isinstance(b, fx.Node)) or {kind(a), kind(b)} not in ({"kl", "latent"}, {None, "latent"}):
        return False
    # a learned prior's halves, log(2 pi * pvar) beside (z - pmu)**2 / pvar: the first reads a prior
    # network's scale (p(z | y) of GMVAE, a label-conditional prior) and neither head nor sample
    return all(_rank(n) >= 2 for n in (a, b))


def _rank(node: fx.Node) -> int:
    fact = node.meta.get("shape")
    return len(fact.sizes) if fact is not None and fact.sizes is not None else 0


def _term(sign: int, node: fx.Node, chain: tuple, outer: dict) -> list[tuple[int, fx.Node]]:
    if chain:
        outer[node] = chain
    return [(sign, node)]


def is_tensor_valued(node: fx.Node) -> bool:
    """False for size queries (``x.size(0)``) and their arithmetic (``math.log(K)``). A node the run
    never reached (it raised before: BCE given logits) has no shape either; it is a tensor where it
    is computed from one, so the loss's terms are split alike whether or not the run got there."""
    stack, seen = [node], set()
    while stack and len(seen) < 400:  # each node once: an unreached loss of many steps stays linear
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        if n.meta.get("shape") is not None or n.op in ("placeholder", "get_attr") or "shape" in n.meta:
            return True
        if not (is_size(n) or (n.op == "call_method" and n.target in _NUMBERS)):
            stack.extend(n.all_input_nodes)
    return False


# methods that hand back a Python number, not a tensor
_NUMBERS = {"item", "tolist", "numel", "dim", "ndimension", "nelement", "element_size", "get_device"}


def find_comparisons(view: GraphView, roles: Roles) -> list[Comparison]:
    if roles.recon is None:
        return []
    out = []
    # the forward's own computation: what its outputs need, except outputs computed
    # from the reconstruction (a forward that returns its loss too)
    forward = {f for f in roles.forward_outputs.values() if f is roles.recon or not view.depends_on(f, roles.recon)}
    for node in view.graph.nodes:
        name = view.op(node)
        if name not in RECON_LOSS_OPS and name not in {"sub", "rsub"}:
            continue
        if node in forward or any(view.depends_on(f, node) for f in forward):
            continue  # part of the forward, not the loss
        # through torch.distributions' broadcast_all(logits, value): the values as the code made them
        operands = [broadcast_input(view, a) for a in list(node.args)[:2] if isinstance(a, fx.Node)]
        if len(operands) != 2:
            continue
        rec = [a for a in operands if view.depends_on(a, roles.recon)]
        data = [a for a in operands if view.is_data_only(a)]
        if len(rec) == 1 and len(data) == 1 and rec[0] is not data[0]:
            out.append(Comparison(node, name, rec[0], data[0]))
    return out


def zero_weighted(view: GraphView, roles: Roles) -> list[fx.Node]:
    """The KL terms multiplied by a weight of exactly 0 at the step checked (``self.beta * kl``
    at a KL warm-up's first step, the weight set by code the check does not vary): nothing of such
    a term reaches the loss's value or its gradient, so it cannot be read."""
    out = []
    for _sign, term in roles.loss_terms:
        if term_kind(view, roles, term) not in ("kl", "latent"):
            continue  # a penalty on the weights (weight_decay * l2 with weight_decay 0): no KL of the sampler's
        node = term
        for _ in range(4):
            if not isinstance(node, fx.Node) or view.op(node) != "mul":
                break
            if any(isinstance(a, (int, float)) and not isinstance(a, bool) and a == 0 for a in node.args):
                out.append(term)
                break
            tensors = [a for a in node.args if isinstance(a, fx.Node)]
            node = tensors[0] if len(tensors) == 1 else None
    return out
