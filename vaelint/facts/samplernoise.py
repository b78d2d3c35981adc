"""What the sampler draws, read on a run (VAE007 reads it before any KL): the noise's scale,
(z - mu) / (noise * std), 1 for a standard normal sample; and noise drawn uniformly and used as
it is. Both are seen from the model alone, without a loss."""

from __future__ import annotations


def sampler_scale(ctx, layer, run=None) -> float | None:
    """(z - mu) / (noise * std) on a run: 1 for z = mu + eps * std with eps ~ N(0, 1);
    another constant when the noise (or the product) is scaled. None when it is no
    constant (the noise reshaped or reordered) or the run lacks the values."""
    import torch

    values = ctx.values(layer.noise, layer.std, layer.mu, layer.z, run=run)
    if any(v is None for v in values):
        return None
    precision = values[3].dtype if values[3].is_floating_point() else torch.float64
    noise, std, mu, z = (v.detach().double().cpu() for v in values)
    try:
        spread = noise * std
        if spread.shape != z.shape or (z - mu).shape != z.shape:
            return None
    except RuntimeError:
        return None
    big = spread.abs() > 1e-6
    if int(big.sum()) < 4:
        return None
    ratio = (z - mu)[big] / spread[big]
    c = float(ratio.median())
    # z - mu loses the digits of mu in the model's precision: a small spread (a scaled noise, 1e-2 *
    # randn, times a small std) reads its ratio only to that rounding, element by element
    rounding = 4 * torch.finfo(precision).eps * (z.abs() + mu.abs())[big] / spread[big].abs()
    if not bool(((ratio - c).abs() <= 1e-3 * abs(c) + 1e-6 + rounding).all()):
        return None
    return c * drawn_std(ctx, layer.noise)


def drawn_std(ctx, noise) -> float:
    """The standard deviation a Gaussian draw is given as a number (``zeros_like(std).normal_(mean=0,
    std=0.01)``, ``torch.normal(0.0, 0.01, size=...)``, Mult-VAE's ports): the noise is that times a
    N(0, 1) draw; a std given as a tensor of one value throughout is that value. 1 for any other draw."""
    op = ctx.view.op(noise) if noise is not None else None
    if op not in ("normal_", "normal"):
        return 1.0
    args = list(noise.args)
    if op == "normal_":
        args = args[1:]  # the tensor it fills
    given = noise.kwargs.get("std", args[1] if len(args) > 1 else 1.0)
    if hasattr(given, "op"):  # a tensor of one value throughout (0.01 * torch.ones_like(mu)): that value
        value = ctx.values(given)[0]
        flat = value.detach().flatten() if value is not None and value.numel() else None
        given = float(flat[0]) if flat is not None and bool((flat == flat[0]).all()) else 1.0
    return float(given) if isinstance(given, (int, float)) and not isinstance(given, bool) and given > 0 else 1.0


def uniform_noise(ctx, layer) -> bool:
    """Is the noise that multiplies the std drawn uniformly (``torch.rand_like(std)``) and used as
    it is? Uniform draws transformed first (a Laplace's ``u.sign() * log1p(-u.abs())``, a Gumbel's
    ``-log(-log(u))``) are other distributions' samples, not this mistake."""
    noise = layer.noise
    if noise is None or ctx.view.op(noise) not in ("rand", "rand_like"):
        return False
    node = layer.eps
    for _ in range(6):  # through reshapes and casts only
        if node is noise:
            return True
        if node is None or ctx.view.op(node) not in ("view", "reshape", "expand", "expand_as", "to", "type_as", "float", "contiguous"):
            return False
        node = next((a for a in node.all_input_nodes), None)
    return False


_GAUSSIAN_DRAWS = ("randn", "randn_like", "normal", "normal_")
_POSITIVE = ("exp", "softplus", "sqrt")


def added_noise(ctx):
    """(the sum, the noise) of a sampler written with ``+`` where ``*`` belongs: Gaussian noise
    added to an encoder head beside a positive transform of another head (``mu + randn_like(s) +
    exp(s)``), the sum reaching what the forward gives back. z is then N(mu + std, 1), whatever
    the encoder's scale. None for anything else (noise added to the data, a fixed-variance sampler
    ``mu + randn_like(mu)``, noise that is scaled first)."""
    view = ctx.view
    outputs = list(ctx.roles.forward_outputs.values()) if ctx.roles is not None else []
    for noise in ctx.nodes_by_op(*_GAUSSIAN_DRAWS):
        node, others = noise, []
        for _ in range(4):  # up through additions only
            users = [u for u in node.users if view.op(u) in ("add", "sub")]
            if len(users) != 1:
                break
            top = users[0]
            others += [a for a in top.all_input_nodes if a is not node]
            node = top
        if node is noise or not any(view.depends_on(out, node) for out in outputs):
            continue
        heads = [a for a in others if view.reads_a_layer(a)]
        scales = [a for a in heads if view.op(a) in _POSITIVE]
        means = [a for a in heads if a not in scales]
        # the scale and the mean heads of one encoder: they share what the encoder computed (its hidden
        # h), not a conditioning input's own layer added to a fixed-variance sample (z + softplus(fc(c)))
        if any(_computed(view, s) & _computed(view, m) for s in scales for m in means):
            return node, noise
    return None


def _computed(view, node) -> set:
    """The computed values ``node`` is made from (no inputs, no weights)."""
    return {a for a in view.ancestors(node) if a.op not in ("placeholder", "get_attr")}
