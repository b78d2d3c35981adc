"""What a loss term is about (:func:`term_kind`): the reconstruction's likelihood, a closed-form KL
of the encoder's heads, or a term of the sample alone (a Monte Carlo KL's log p(z) or log q(z|x),
an MMD). Read by :mod:`.lossroles` to split the loss, and by the KL checks."""

from __future__ import annotations

import torch.fx as fx

from vaelint.facts.categorical import reads_a_categorical_posterior
from vaelint.facts.dataweights import data_weight
from vaelint.facts.graphview import GraphView
from vaelint.facts.roles import Roles


def term_kind(view: GraphView, roles: Roles, node) -> str | None:
    """What a loss term is about: "rec" (it reads the reconstruction), "kl" (the
    encoder's heads only: a closed-form KL candidate), "latent" (the sample but
    not the reconstruction: a Monte Carlo KL, MMD, total correlation), "label" (a classifier of
    the batch's labels on the sample, beside the likelihood), "scale" (the
    likelihood's part a decoder's scale head gives: -log(x_std), a learned log-variance)."""
    if not isinstance(node, fx.Node):
        return None
    if roles.recon is not None and view.depends_on(node, roles.recon):
        return "rec"
    if node.meta.get("vaelint_entropy"):
        return "latent"  # the posterior's entropy beside -log p(z), weighed apart (densitypairs)
    layers = roles.reparams
    if _a_second_sample(view, layers, node):
        return "latent"  # log q(z') - log p(z') of a z' drawn again for the KL alone: Monte Carlo
    # closed form for some layer: its heads without its own sample (an upper layer's KL reads the lower layers' samples through its heads)
    if any(
        (view.depends_on(node, r.mu) or view.depends_on(node, r.logvar))
        and not (view.depends_on(node, r.z) or view.depends_on(node, r.noise))
        for r in layers
    ):
        return "kl"
    if any(view.depends_on(node, r.z) or view.depends_on(node, r.noise) for r in layers):
        # a sample's term that also reads the data itself, not through the encoder's heads, is
        # a likelihood of the data: a recurrent VAE's NLL of step t, whose decoder output is no
        # one reconstruction (x[t] against dec(z_t, h)); a Monte Carlo KL or MMD reads no data
        if _decoded_only(view, roles, node):
            # -log(x_std) of a learned-variance likelihood: the decoder's scale head, no density of z (nor
            # the reconstruction's comparison: split from it, its factors shared, as before)
            return "scale"
        if not _reads_the_data(view, roles, node):
            return "latent"
        # a classifier of the batch's labels on z (a utility or supervised head: CLUB, M2): no part
        # of the data's likelihood, which the reconstruction's own term compares
        return "label" if _labels_only(view, roles, node) else "rec"
    if reads_a_categorical_posterior(view, roles.categorical, node):
        return "kl"  # sum q * log(q * K) of a Gumbel-softmax posterior's logits: its KL to the uniform prior
    return None


def _decoded_only(view: GraphView, roles: Roles, node: fx.Node) -> bool:
    """Does the term read the samples only through the decoder's layers (those on the reconstruction's
    path), and the encoder's heads only through the samples: a part of the likelihood the decoder's
    other head gives (``-log(sqrt(2 pi) * x_std)`` beside ``(x - x_mu)**2 / (2 x_std**2)``), not a
    density of z (log p(z) and log q(z|x) read z itself; a KL reads the heads)."""
    if roles.recon is None or not _shaped_as_the_data(node, roles.recon):
        return False  # a likelihood's part is elementwise over the data; a flow's log-det is one per sample
    decoder = sample_layers(view, roles)
    # and the decoder's other heads that give an output of the data's shape (a learned scale, dec_scale(z)
    # beside the mean's sigmoid(dec_mean(z))): off the reconstruction's path, the likelihood's all the same
    decoder |= _heads_shaped_as_the_data(view, roles, node)
    return bool(decoder) and reads_samples_through(view, roles, node, decoder)


def _heads_shaped_as_the_data(view: GraphView, roles: Roles, node: fx.Node) -> frozenset:
    """The layers the term reads that read a sample and give a tensor of the reconstruction's shape."""
    from vaelint.facts.reparams import samples_of

    samples = samples_of(roles.reparams)
    return frozenset(
        n
        for n in view.with_parameters() & view.value_ancestors(node)
        if _shaped_as_the_data(n, roles.recon) and any(view.depends_on(n, s) for s in samples)
    )


def sample_layers(view: GraphView, roles: Roles) -> frozenset:
    """The layers (nodes with parameters) on the reconstruction's path that read a sample: the
    decoder's, and a flow's between the sample and the decoder."""
    from vaelint.facts.reparams import samples_of

    samples = samples_of(roles.reparams)
    if roles.recon is None or not samples:
        return frozenset()
    return frozenset(n for n in view.with_parameters() & view.value_ancestors(roles.recon) if any(view.depends_on(n, s) for s in samples))


def reads_samples_through(view: GraphView, roles: Roles, node: fx.Node, layers: frozenset) -> bool:
    """Does ``node`` read the samples only through ``layers``, and the encoder's heads only through
    the samples (no density of z, which reads z itself; no KL, which reads the heads)?"""
    from vaelint.facts.reparams import heads_of, samples_of

    samples, heads = samples_of(roles.reparams), heads_of(roles.reparams)
    return not view.reads_around(node, samples, layers) and not view.reads_around(node, heads, samples)


def _sample_weights(view: GraphView, node: fx.Node) -> frozenset:
    """The weights the data gives each sample inside a term (``beta * log_pz`` with ``beta`` a
    per-sample share of observed points: Donut's M-ELBO): they read the data, the term does not."""
    found = set()
    for n in view.value_ancestors(node):
        if view.op(n) not in ("mul", "div") or (value := data_weight(view, n)) is None:
            continue
        weight = next((a for a in n.args[:2] if a is not value), None)
        fact = weight.meta.get("shape") if isinstance(weight, fx.Node) else None
        if fact is not None and fact.sizes is not None and all(s == 1 for s in fact.sizes[1:]):
            found.add(weight)  # a mask over each value (B x W) is part of a likelihood: not a weight
    return frozenset(found)


def _a_second_sample(view: GraphView, layers, node) -> bool:
    """Does the term read a sample drawn from the same heads as another sampler's, without that
    other's sample (the KL's own z' beside the decoder's z)?"""
    for r in layers:
        if view.depends_on(node, r.z) or view.depends_on(node, r.noise):
            continue
        if any(o is not r and o.mu is r.mu and view.depends_on(node, o.z) for o in layers):
            return True
    return False


def _reads_the_data(view: GraphView, roles: Roles, node) -> bool:
    """Does the term read the data as data: along a path through neither the sampler's heads nor
    a layer's parameters? A likelihood compares the data itself (``x[t]``, token ids); a KL of a
    lower layer whose posterior is a residual on its prior reads the data only through the
    encoder's layers (``dmu1 = enc(x)``: NVAE's, intro_dgm's hierarchical VAEs)."""
    heads = frozenset(n for r in roles.reparams for n in (r.mu, r.logvar, r.std, r.z, r.noise, r.eps) if isinstance(n, fx.Node))
    data = frozenset(n for n in roles.inputs if isinstance(n, fx.Node))
    return bool(data) and view.reads_around(node, data, heads | view.with_parameters() | _sample_weights(view, node))


def _labels_only(view: GraphView, roles: Roles, node: fx.Node) -> bool:
    """Does the term read, of the data, only integer inputs (class labels) that no term of the
    reconstruction reads?"""
    if roles.recon is None:
        return False
    heads = frozenset(n for r in roles.reparams for n in (r.mu, r.logvar, r.std, r.z, r.noise, r.eps) if isinstance(n, fx.Node))
    blockers = heads | view.with_parameters() | _sample_weights(view, node)
    read = [i for i in roles.inputs if isinstance(i, fx.Node) and view.reads_around(node, frozenset({i}), blockers)]
    if not read or not all(str(i.meta.get("dtype", "")).startswith(("int", "uint", "bool")) for i in read):
        return False
    # what compares the reconstruction with those inputs (a text VAE's token ids), apart from the sums
    # that add this term in
    return not any(
        view.depends_on(n, roles.recon) and not view.depends_on(n, node) and any(view.depends_on(n, i) for i in read)
        for n in view.graph.nodes
    )


def _shaped_as_the_data(node: fx.Node, recon: fx.Node) -> bool:
    mine, theirs = node.meta.get("shape"), recon.meta.get("shape")
    if mine is None or theirs is None or mine.sizes is None or theirs.sizes is None:
        return False
    return len(mine.sizes) >= 2 and tuple(mine.sizes) == tuple(theirs.sizes)
