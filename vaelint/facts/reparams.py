"""The reparameterised samples of a graph (:mod:`.roles`): each ``mu + eps * std`` (or ``mu +
L @ eps`` through a scale matrix), its noise, mean, scale and the head the scale is made from."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch.fx as fx

from vaelint.capture.ops import CAST_OPS, ELEMENTWISE_UNARY, PARAMETRIC_DRAWS, RANDOM_OPS, RESHAPE_OPS
from vaelint.facts.graphview import GraphView, is_made_constant

# why the KL rules do not read a sample drawn through a scale matrix (Context.unmet)
MATRIX_KL = (
    "the sample is drawn through a scale matrix (mu + L @ eps: a MultivariateNormal's rsample, a full-covariance "
    "posterior), whose KL is not read against the diagonal Gaussian's closed form"
)


@dataclass
class Reparam:
    noise: fx.Node  # the random op
    eps: fx.Node  # the factor that multiplies std
    std: fx.Node
    product: fx.Node  # eps * std
    mu: fx.Node
    z: fx.Node
    logvar: fx.Node  # the encoder output std is computed from
    scale_ops: list[str] = field(default_factory=list)  # ops from logvar to std
    matrix: bool = False  # mu + L @ eps: drawn through a scale matrix (_matrix_reparam)


def heads_of(layers) -> frozenset:
    """The sampler heads (mean, scale head, std) of these stochastic layers, as graph nodes."""
    return frozenset(h for r in layers for h in (r.mu, r.logvar, r.std) if isinstance(h, fx.Node))


def samples_of(layers) -> frozenset:
    """The samples and the noise of these stochastic layers, as graph nodes."""
    return frozenset(n for r in layers for n in (r.z, r.noise) if isinstance(n, fx.Node))


def find_reparams(view: GraphView) -> list[Reparam]:
    """Every ``mu + eps * std`` of the graph, one per noise source (a hierarchical
    VAE has one per stochastic layer; a later layer's mean and std may depend on
    an earlier layer's noise, never on their own). Where torch draws no noise at
    all, a tensor made outside torch (``torch.Tensor(np.random.normal(...))``) that
    multiplies the scale is the noise; where it draws some that makes no such sample
    (a von Mises-Fisher's rsample), a tensor made outside torch is no noise (a Bessel
    function's values, made by SciPy inside an autograd Function)."""
    found: list[Reparam] = []
    claimed: set = set()
    drawn = [n for n in view.graph.nodes if view.op(n) in RANDOM_OPS and view.op(n) not in PARAMETRIC_DRAWS]
    for noise in drawn:
        if noise in claimed:
            continue
        got = _reparam_of(view, noise)
        if got is not None:
            found.append(got)
            claimed |= {a for a in view.ancestors(got.eps) if view.op(a) in RANDOM_OPS}
    if not found and not drawn:
        found = [got for got in map(lambda n: _reparam_of(view, n), view.made_constants()) if got is not None]
    return found


def _reparam_of(view: GraphView, noise: fx.Node) -> Reparam | None:
    """The ``mu + eps * std`` that ``noise`` makes, or None."""
    for node in view.graph.nodes:
        op = view.op(node)
        if op in ("matmul", "bmm") and view.depends_on(node, noise):
            got = _matrix_reparam(view, node, noise)
            if got is not None:
                return got
            continue
        if op not in ("mul", "addcmul") or not view.depends_on(node, noise):
            continue
        # mu.addcmul(std, eps) is mu + std * eps in one op (semi-supervised-pytorch's
        # Stochastic layer): the op is both the product and the sample
        fused = op == "addcmul"
        if fused and (node.kwargs.get("value", 1) != 1 or len(node.args) != 3):
            continue
        factors = [a for a in (node.args[1:] if fused else node.args) if isinstance(a, fx.Node)]
        if len(factors) != 2:
            continue
        noisy = [f for f in factors if view.depends_on(f, noise)]
        if len(noisy) != 1:
            continue
        eps = noisy[0]
        std = factors[1] if factors[0] is eps else factors[0]
        if not any(a.op == "placeholder" for a in view.value_ancestors(std)):  # a size (1 / x.size(0)) is no scale
            continue
        mean = node.args[0] if fused else None
        if fused and (not isinstance(mean, fx.Node) or view.depends_on(mean, noise)):
            continue
        got = (node, mean) if fused else _find_sum_with_mean(view, node, noise)
        if got is None:
            continue
        z, mu = got
        mu = through_broadcast(view, mu)
        logvar, ops = _scale_source(view, through_broadcast(view, std))
        if noise.op == "get_attr" and not ops:
            continue  # a constant times a head that is no scale (exp, softplus, ...) is no sample
        return Reparam(noise, eps, std, node, mu, z, logvar, ops)
    return None


def _matrix_reparam(view: GraphView, node: fx.Node, noise: fx.Node) -> Reparam | None:
    """``mu + L @ eps`` (a full-covariance posterior's sample; MultivariateNormal's rsample through
    its scale_tril): the noise times a matrix the encoder computed. A diagonal one
    (``diag_embed(std)``) is ``mu + std * eps``, its std the diagonal; a full one's scale is the
    matrix itself (no log-variance head: the KL rules that read one do not apply)."""
    factors = [a for a in node.args[:2] if isinstance(a, fx.Node)]
    if len(factors) != 2 or not view.depends_on(factors[1], noise) or view.depends_on(factors[0], noise):
        return None
    scale, eps = factors
    if not any(a.op == "placeholder" for a in view.ancestors(scale)) or scale in view.with_parameters():
        return None  # a layer's weight times the noise: a generator's latent, no sample
    params = frozenset(a for a in view.ancestors(eps) if a.op == "get_attr" and not is_made_constant(a))
    if params and view.reads_around(eps, params, frozenset({noise})):
        return None  # x @ (w_mu + eps * w_std).T: a Bayesian layer's drawn weights (weight noise), no posterior's
    got = _find_sum_with_mean(view, node, noise)
    if got is None:
        return None
    z, mu = got
    diagonal = scale.args[0] if view.op(scale) == "diag_embed" and isinstance(scale.args[0], fx.Node) else None
    std = through_broadcast(view, diagonal if diagonal is not None else scale)
    logvar, ops = _scale_source(view, std) if diagonal is not None else (std, [])
    # a diagonal scale_tril is a diagonal Gaussian: the KL rules read it as mu + std * eps
    return Reparam(noise, eps, std, node, through_broadcast(view, mu), z, logvar, ops, matrix=diagonal is None)


def through_broadcast(view: GraphView, node: fx.Node) -> fx.Node:
    """The tensor a broadcast hands on unchanged: ``torch.distributions.Normal(mu,
    std)`` broadcasts its arguments (``broadcast_tensors``) before ``rsample`` reads
    them, so the sampler's mean and scale are the encoder's heads behind that."""
    while True:
        name = view.op(node)
        if name == "getitem" and isinstance(node.args[0], fx.Node) and view.op(node.args[0]) == "broadcast_tensors":
            index = node.args[1]
            inputs = [a for a in node.args[0].args if isinstance(a, fx.Node)]
            if isinstance(index, int) and index < len(inputs) and len(inputs) == len(node.args[0].args):
                node = inputs[index]
                continue
        if (name in ("expand", "expand_as", "broadcast_to") or _adds_a_dim(view, node)) and isinstance(node.args[0], fx.Node):
            node = node.args[0]
            continue
        return node


def _adds_a_dim(view: GraphView, node: fx.Node) -> bool:
    """``mu.unsqueeze(1)``, ``mu[:, None]``: the head with a dim of 1 added (several samples per data
    point, ``mu.unsqueeze(1) + eps * std.unsqueeze(1)`` with eps B x S x Z): the same values."""
    name = view.op(node)
    if name == "unsqueeze":
        return True
    if name != "getitem" or not node.args or not isinstance(node.args[0], fx.Node) or len(node.args) < 2:
        return False
    index = node.args[1] if isinstance(node.args[1], tuple) else (node.args[1],)
    full = slice(None)
    return any(i is None for i in index) and all(i is None or i == full or i is Ellipsis for i in index)


def _path_back(view: GraphView, node: fx.Node) -> list[fx.Node]:
    """Ancestors of ``node`` from the nearest outwards."""
    return sorted(view.ancestors(node), key=lambda n: -view.order.get(n, 0))


def _find_sum_with_mean(view: GraphView, product: fx.Node, noise: fx.Node):
    """The ``mu + product`` node: an add whose other operand does not depend on this noise."""
    frontier = [product]
    seen = set()
    while frontier:
        n = frontier.pop(0)
        if n in seen or len(seen) > 50:
            continue
        seen.add(n)
        for user in n.users:
            if view.op(user) == "add":
                operands = [a for a in user.args if isinstance(a, fx.Node)]
                others = [a for a in operands if a is not n]
                if len(others) == 1 and not view.depends_on(others[0], noise):
                    return user, others[0]
            name = view.op(user)
            if name in RESHAPE_OPS or name in CAST_OPS:
                frontier.append(user)
            elif name in ("mul", "div") and not any(view.depends_on(a, noise) for a in user.all_input_nodes if a is not n):
                frontier.append(user)  # eps * std * temperature
    return None


def _scale_source(view: GraphView, std: fx.Node) -> tuple[fx.Node, list[str]]:
    """Walk from std back through one-input elementwise ops to the encoder output: the head
    the forward hands to the loss (std itself, if returned), or the one it is made from when
    the forward hands over both (``return mu, std, logvar`` with ``std = exp(0.5 * logvar)``:
    CTGAN's TVAE encoder, whose loss's KL reads logvar)."""
    node, ops = _walk_to_output(view, std, [])
    if node.meta.get("forward_output") is not None:
        deeper, more = _walk_to_output(view, node, [], past_start=True)
        # the head std is made from, where something else reads it (a KL, in the loss or in the
        # forward itself: `return recon, kl, std` with kl computed from logvar in forward)
        if deeper is not node and more and _read_elsewhere(view, deeper, node):
            return deeper, ops + more
    return node, ops


def _read_elsewhere(view: GraphView, head: fx.Node, made: fx.Node) -> bool:
    """Does anything but the ops that make ``made`` from ``head`` read ``head`` (a KL term)?
    A returned logvar nothing reads is no head: the loss reads the std it makes."""
    chain, todo = set(), [made]
    while todo:
        n = todo.pop()
        if n in chain or n is head:
            continue
        chain.add(n)
        todo += list(n.all_input_nodes)
    return any(u not in chain and u.op != "output" for u in head.users)


def _walk_to_output(view: GraphView, start: fx.Node, ops: list, past_start: bool = False) -> tuple[fx.Node, list[str]]:
    node = start
    while True:
        if node.meta.get("forward_output") is not None and not (past_start and node is start):
            return node, ops
        name = view.op(node)
        tensor_inputs = [a for a in node.all_input_nodes if a.op != "get_attr"]
        if (name in CAST_OPS or _adds_a_dim(view, node)) and len(tensor_inputs) == 1:
            # a dtype or device cast (Keras's ops convert their inputs), a dim of 1 added for several
            # samples (sqrt(var.unsqueeze(1))): it reads the same head
            node = tensor_inputs[0]
            continue
        ones = [a for a in tensor_inputs if view.op(a) in ("ones", "ones_like")]
        if name == "mul" and len(tensor_inputs) == 2 and len(ones) == 1:
            node = next(a for a in tensor_inputs if a is not ones[0])  # ones(Z) * exp(0.5 * logvar): the same scale
            continue
        if name in ELEMENTWISE_UNARY or (name in {"mul", "div", "pow", "add", "sub"} and len(tensor_inputs) == 1):
            if len(tensor_inputs) != 1:
                return node, ops
            ops.append(name)
            node = tensor_inputs[0]
            continue
        return node, ops
