"""Find each VAE role in the graph itself, not from variable names.

* noise: a random op (``randn``, ``randn_like``, ``normal_``, ...).
* the reparameterization: a product ``eps * std`` where one factor depends on
  the noise and the other does not, added to a term ``mu`` that does not.
* logvar: walking back from ``std`` through elementwise ops (exp, 0.5*, ...)
  to the encoder output it is computed from.
* reconstruction: a forward output that depends on the sample ``z``.
* loss terms: the total split over ``+``/``-``; the term that depends on the
  reconstruction is the reconstruction term, one that depends on mu/logvar
  only is the KL term.
* comparisons: the ops where the loss compares the reconstruction with the
  input (``mse_loss(recon, x.view(-1, 784))``, ``recon - x``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.fx as fx

from vaelint.capture.outputs import get_path
from vaelint.facts.categorical import categorical_heads
from vaelint.facts.graphview import GraphView
from vaelint.facts.reparams import Reparam, find_reparams, through_broadcast  # noqa: F401 - Reparam: the roles' type


@dataclass
class Comparison:
    """A place where the loss compares the reconstruction with the input."""

    node: fx.Node
    op: str
    recon_side: fx.Node
    data_side: fx.Node


@dataclass
class Roles:
    inputs: list[fx.Node]
    forward_outputs: dict  # path -> node
    reparam: Reparam | None = None  # the first stochastic layer
    reparams: list[Reparam] = field(default_factory=list)  # every stochastic layer, in graph order
    recon: fx.Node | None = None
    recon_path: tuple | None = None
    loss_total: fx.Node | None = None
    loss_parts: list[fx.Node] = field(default_factory=list)  # terms the loss returns unsummed
    total_paths: list[tuple] = field(default_factory=list)  # where the total (or its parts) sit in the loss's return
    # the forward's own loss, one value per sample (``return qy, z, xm, total_loss``): its mean is the total checked
    total_per_sample: bool = False
    loss_terms: list[tuple[int, fx.Node]] = field(default_factory=list)  # (sign, node)
    # term -> the reductions and factors applied to a whole sum it is part of, outermost first
    term_outer: dict = field(default_factory=dict)
    rec_terms: list[fx.Node] = field(default_factory=list)
    kl_terms: list[fx.Node] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    categorical: list = field(default_factory=list)  # Gumbel-softmax posteriors (vaelint/facts/categorical.py)

    def total_value(self, out):
        """The total loss from the loss's return value, as the graph read it (the
        element that sums the others, or the sum of independent terms)."""
        if isinstance(out, torch.Tensor):
            return out
        values = []
        for path in self.total_paths:
            try:
                value = get_path(out, path)
            except (KeyError, IndexError, TypeError):
                return None
            if not isinstance(value, torch.Tensor):
                return None
            values.append(value)
        if self.total_per_sample and len(values) == 1:
            return values[0].mean()  # as the training step reduces it (the mean or the sum: the same beta_eff)
        return sum(values[1:], values[0]) if values else None

    def path_of(self, node: fx.Node | None) -> tuple | None:
        for path, n in self.forward_outputs.items():
            if n is node:
                return path
        return None


def forward_roles(view: GraphView, forward_outputs: dict) -> Roles:
    roles = Roles(view.placeholders(), dict(forward_outputs))
    found = find_reparams(view)
    # a sample nothing uses (an rsample() left in the loss) is no stochastic layer of the
    # model, unless it is the only one (a decoder fed the mean leaves the model's own unused)
    used = [r for r in found if r.z in view.used() or r.product in view.used()]
    roles.reparams = _decoded_first(view, used or found, found)
    roles.reparam = roles.reparams[0] if roles.reparams else None
    roles.categorical = categorical_heads(view)
    z = roles.reparam.z if roles.reparam else None
    if z is not None:
        candidates = [
            (path, node)
            for path, node in _recon_candidates(forward_outputs)
            if node is not z and view.depends_on(node, z) and node not in _reparam_nodes(roles.reparam) and not _is_scalar(node)
        ]  # a loss the forward returns is no reconstruction
        # of the outputs the sample reaches, one of an input's shape first: a step that runs the
        # decoder's parts (AutoencoderKL.decode: post_quant_conv on the latent, then the decoder)
        # has a latent-shaped output before the image
        inputs = {_sizes(p) for p in roles.inputs} - {None}
        shaped = [(p, n) for p, n in candidates if _sizes(n) in inputs]
        # what a likelihood compares with the data is the reconstruction, whatever its shape
        # (TD-VAE's B x 784 frame beside the B x T x 784 input, the other outputs latent-sized)
        compared = _reaching_the_output(view, list(_compared(view, roles)))
        hit = [(p, n) for p, n in candidates if n in compared]
        # compared with the data and of its shape first: an auxiliary classifier's logits, compared
        # with the labels, come before the reconstruction in (logits, mu, logvar, x_rec)
        both = [h for h in hit if h in shaped]
        if hit or shaped or candidates:
            roles.recon_path, roles.recon = (both or hit or shaped or candidates)[0]
        if compared and not hit and not shaped:
            roles.recon_path, roles.recon = None, compared[0]
    r = roles.reparam
    if roles.recon is None and r is not None:
        # A decoder fed the mean instead of the sample: the output computed
        # from the encoder's heads that is none of them.
        heads = (r.mu, r.logvar)
        for path, node in _recon_candidates(forward_outputs):
            if node in _reparam_nodes(r) or node.op == "placeholder" or _is_scalar(node):
                continue
            if any(view.depends_on(node, h) for h in heads) and not any(view.depends_on(h, node) for h in heads):
                roles.recon, roles.recon_path = node, path
                break
    if roles.recon is None and r is not None:
        roles.recon = _inner_recon(view, roles)
    if roles.recon is None and r is None and roles.categorical:
        roles.recon_path, roles.recon = _decoded_from_a_categorical(view, roles, forward_outputs)
    if roles.recon is None:
        # no sampler (a VQ-VAE, a plain autoencoder), or a decoder that reads neither the sample nor
        # the mean (an RNN decoder not handed its h0 = fc(z)): the reconstruction is the output the
        # loss compares with the data, so the shape and likelihood rules (VAE003, VAE010) still run
        # and VAE009 says the sample is not decoded
        compared = {_below_reshapes(view, c) for c in _compared_with_data(view)}
        hit = [(p, n) for p, n in _recon_candidates(forward_outputs) if n in compared and not _is_scalar(n)]
        if hit:
            roles.recon_path, roles.recon = hit[0]
    return roles


def _decoded_from_a_categorical(view: GraphView, roles: Roles, forward_outputs: dict) -> tuple:
    """(path, node) of the output a categorical or Dirichlet sample reaches (a topic model's theta,
    no Gaussian sampler), of an input's shape first; (None, None) where none does."""
    samples = [c.sample for c in roles.categorical]
    reached = [
        (p, n)
        for p, n in _recon_candidates(forward_outputs)
        if n not in samples and not _is_scalar(n) and any(view.depends_on(n, s) for s in samples)
    ]
    inputs = {_sizes(p) for p in roles.inputs} - {None}
    shaped = [(p, n) for p, n in reached if _sizes(n) in inputs]
    return (shaped or reached or [(None, None)])[0]


def _decoded_first(view: GraphView, reparams: list, found: list) -> list:
    """A stochastic layer drawn twice in one step (FactorVAE's: once for the discriminator's total
    correlation term, again in the ELBO): the draw whose sample reaches what the loss compares with
    the data is the model's, first (the other one's sample reaches no reconstruction: a false VAE009).
    A draw whose sample nothing uses (its decoder reads the mean) is among ``found``, not ``reparams``."""
    if len(found) < 2:
        return reparams
    # a likelihood written out (x * log(p) + (1 - x) * log(1 - p): lib.dist's Bernoulli) where no
    # loss op compares a value with the data
    compared = set(_compared_with_data(view)) or set(_compared_with_data(view, ("mul",)))

    def decoded(r, head) -> bool:
        return any(view.depends_on(c, getattr(r, head)) for c in compared)

    def layer(r) -> frozenset:
        return frozenset(a.target for a in view.ancestors(r.mu) if a.op == "get_attr")

    first = reparams[0]
    twins = [r for r in found if r is not first and layer(r) == layer(first)]
    # the draw the decoder reads the sample of; else (a decoder fed the mean: VAE009) the draw whose mean it reads
    for head in ("z", "mu"):
        if decoded(first, head):
            return reparams
        twin = next((r for r in twins if decoded(r, head)), None)
        if twin is not None:
            return [twin, *(r for r in reparams if r is not twin)]
    return reparams


def _below_reshapes(view: GraphView, node: fx.Node) -> fx.Node:
    """The value a loss op's operand is a reshape of (``nll(logp.reshape(-1, V), y.reshape(-1))``)."""
    for _ in range(8):
        if view.op(node) not in ("view", "reshape", "flatten", "contiguous", "squeeze", "unsqueeze") or not node.args:
            break
        src = node.args[0]
        if not isinstance(src, fx.Node):
            break
        node = src
    return node


def _compared_with_data(view: GraphView, ops=None):
    """Operands of a loss op (or a difference; or of ``ops``) whose other operand is the data alone."""
    from vaelint.capture.ops import RECON_LOSS_OPS

    for node in view.graph.nodes:
        if (view.op(node) not in ops) if ops else (view.op(node) not in RECON_LOSS_OPS and view.op(node) not in ("sub", "rsub")):
            continue
        operands = [a for a in list(node.args)[:2] if isinstance(a, fx.Node)]
        if len(operands) == 2:
            for a, b in (operands, operands[::-1]):
                if view.is_data_only(b) and not view.is_data_only(a):
                    yield a


def _inner_recon(view: GraphView, roles: Roles) -> fx.Node | None:
    """A forward that returns its loss and not the reconstruction (``return rec + kl``):
    the value its own reconstruction loss compares with the data, computed from a sample."""
    return next(_compared(view, roles), None)


def _compared(view: GraphView, roles: Roles):
    """The values computed from a sample that a likelihood compares with the data, in graph
    order: an operand of a loss op (or a difference) whose other operand is the data, then
    the ``p`` of a likelihood written out (``x * log(p) + (1 - x) * log(1 - p)``)."""
    from vaelint.capture.ops import RECON_LOSS_OPS

    samples = [x for r in roles.reparams for x in (r.z, r.noise) if x is not None]
    seen = set()
    for written in (False, True):
        for node in view.graph.nodes:
            op = view.op(node)
            if (op != "mul") if written else (op not in RECON_LOSS_OPS and op not in ("sub", "rsub")):
                continue
            operands = [broadcast_input(view, a) for a in list(node.args)[:2] if isinstance(a, fx.Node)]
            made = [a for a in operands if any(view.depends_on(a, s) for s in samples)]
            if len(operands) != 2 or len(made) != 1 or not any(view.is_data_only(a) for a in operands if a is not made[0]):
                continue
            value = _before_log(view, made[0]) if written else made[0]
            if value not in seen:
                seen.add(value)
                yield value


def broadcast_input(view: GraphView, node: fx.Node) -> fx.Node:
    """The input a ``torch.broadcast_tensors`` output is of (torch.distributions' ``broadcast_all(logits,
    value)`` before ``Bernoulli.log_prob``): what the likelihood compares, not the pair joined."""
    import operator

    if node.op == "call_function" and node.target is operator.getitem and isinstance(node.args[0], fx.Node):
        joined, index = node.args[0], node.args[1]
        if view.op(joined) == "broadcast_tensors" and isinstance(index, int) and index < len(joined.args):
            inner = joined.args[index]
            return inner if isinstance(inner, fx.Node) else node
    return node


def _reaching_the_output(view: GraphView, compared: list) -> list:
    """Of the values a likelihood compares with the data, those whose comparison the graph's
    output (the loss backpropagated) reads, where any does: a VAE-GAN's decoder step on
    ``decoder(z.detach())``, passed over before the encoder's step decodes ``z`` again, is not the
    reconstruction of the loss checked (a false VAE009 before, helper V). All of them otherwise."""
    outputs = [a for n in view.graph.nodes if n.op == "output" for a in n.all_input_nodes]
    reaching = [c for c in compared if any(view.depends_on(o, u) for o in outputs for u in c.users)]
    return reaching or compared


def _before_log(view: GraphView, node: fx.Node) -> fx.Node:
    """The value under a log of a likelihood (``log(p)``, ``log(1 - p + eps)``: ``p``)."""
    seen = node
    while view.op(seen) in ("log", "log1p", "clamp", "clamp_min", "add", "rsub", "sub"):
        inner = [a for a in seen.args if isinstance(a, fx.Node)]
        if len(inner) != 1:
            break
        seen = inner[0]
    return seen if view.op(node) in ("log", "log1p") or seen is not node else node


_LOSS_WORDS = ("loss", "kl", "kld", "elbo", "nll", "reg", "penalty", "bce", "mse")
_RECON_WORDS = ("recon", "reconstruction", "x_hat", "xhat", "decoded", "logits", "x_rec", "output")


def _recon_candidates(forward_outputs: dict) -> list[tuple[tuple, fx.Node]]:
    """Forward outputs in the order to try as the reconstruction: a record's key
    that names it (``recon_x``) first, keys that name a loss (``recon_loss``,
    ``kl``: a forward that computes its loss too) last, output order otherwise."""

    def rank(item) -> int:
        key = item[0][-1] if item[0] else None
        if not isinstance(key, str):
            return 1
        name = key.lstrip(".").lower()
        if any(w in name for w in _LOSS_WORDS):
            return 2
        return 0 if any(w in name for w in _RECON_WORDS) else 1

    return sorted(forward_outputs.items(), key=rank)


def _is_scalar(node: fx.Node) -> bool:
    fact = node.meta.get("shape")
    return fact is not None and fact.scalar_like()


def _sizes(node: fx.Node):
    fact = node.meta.get("shape")
    return tuple(fact.sizes) if fact is not None and fact.sizes is not None else None


def _reparam_nodes(r: Reparam) -> set:
    return {r.noise, r.eps, r.std, r.product, r.mu, r.z, r.logvar}
