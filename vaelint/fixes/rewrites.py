"""Edits several rules word the same way: noise drawn with std's shape, the batch
size taken from a tensor, a keyword added to a call.

Each returns a ``Fix`` or None when the source does not line up with the graph
(the finding then keeps its fix in words only). None of them has to be right
in every case: the re-check (verify.py) rejects an edit that does not remove
the finding or brings another.
"""

from __future__ import annotations

from vaelint.fixes.edits import SAFE, UNSAFE, Fix
from vaelint.fixes.source import Expr, dotted_name, expr_at, is_plain_reference, module_prefix, operand_for

NOISE_CALLS = ("randn", "normal", "rand", "empty")


def _last(callee: str | None) -> str:
    return (callee or "").rsplit(".", 1)[-1]


def std_text(ctx, layer) -> str | None:
    """The source of std where the reparameterization multiplies it with the noise."""
    found = operand_for(ctx, layer.product, layer.std)
    if found is None:
        return None
    expr, operand = found
    return expr.code(operand)


def noise_like_std(ctx, layer, noise_node=None) -> Fix | None:
    """``torch.randn(Z)`` (or ``randn(64, Z)``) that draws a layer's noise -> ``torch.randn_like(std)``."""
    from vaelint.facts.context import loc_of

    call = expr_at(loc_of(noise_node if noise_node is not None else layer.noise))
    if call is None or not call.is_call:
        return None
    randn = _last(call.callee()) == "randn" and not call.callee().startswith(".")
    # torch.FloatTensor(Z).normal_() (legacy code): the draw is the whole call
    legacy = _last(call.callee()) == "normal_" and not call.node.args
    if not (randn or legacy):
        return None
    std = std_text(ctx, layer)
    if std is None:
        return None
    if (
        getattr(layer, "matrix", False)
        or not std.replace(".", "").replace("_", "").isalnum()
        or _made_after(layer, loc_of(noise_node if noise_node is not None else layer.noise))
    ):
        # std written inline (eps * torch.exp(0.5 * logvar)), or a scale matrix (mu + L @ eps, L of
        # Z x Z a sample): mu has the noise's shape and a name
        found = operand_for(ctx, layer.z, layer.mu)
        if found is not None and is_plain_reference(*found):
            std = found[0].code(found[1])
    extra = _sample_dims(ctx, layer, noise_node)
    if extra:
        # eps = torch.randn(k, 1, Z) beside a B x Z std: the k samples an importance-weighted bound reduces
        # over stay, the batch is added (randn_like(std) would drop them, and the bound then runs over the batch)
        sizes = call.positional()
        if not randn or len(sizes) <= extra or any(_is_sequence(a) for a in sizes):
            return None
        lead = ", ".join(call.code(a) for a in sizes[:extra])
        new = f"{module_prefix(call.callee())}randn({lead}, *{std}.shape, device={std}.device, dtype={std}.dtype)"
    else:
        new = f"{module_prefix(call.callee()) if randn else ''}randn_like({std})"
    new = new if new.startswith(("torch.", "th.")) or "." in new.split("(")[0] else f"torch.{new}"
    return Fix(f"draw the noise with std's shape: {new}", (call.replace(new),), SAFE)


def _made_after(layer, at) -> bool:
    """Is std computed below the draw and mu above it (``eps = torch.randn(Z)`` then ``std =
    logvar.mul(0.5).exp_()``): ``randn_like(std)`` would read std before it exists; mu has its shape."""
    from vaelint.facts.context import loc_of

    std, mu = loc_of(layer.std), loc_of(layer.mu) if layer.mu is not None else None
    same = [w for w in (std, mu) if w is not None and at is not None and w.path == at.path]
    return len(same) == 2 and std.line > at.line > mu.line


def _sample_dims(ctx, layer, noise_node) -> int:
    """How many leading dims the noise has beyond std's (the K of K x 1 x Z beside B x Z): 0 where it
    has no more, or the shapes are not known."""
    noise, std = ctx.shape(noise_node if noise_node is not None else layer.noise), ctx.shape(layer.std)
    if noise is None or std is None or noise.sizes is None or std.sizes is None:
        return 0
    return max(0, len(noise.sizes) - len(std.sizes))


def batch_size_arg(call: Expr, index: int, tensor: str, description: str) -> Fix | None:
    """Size argument ``index`` of a call (a literal or a configured name) -> ``tensor.size(0)``."""
    sizes = call.positional()
    if len(sizes) == 1 and _is_sequence(sizes[0]):
        sizes = [e.value for e in sizes[0].elements]  # view((64, -1)) / zeros([64, Z])
    if not 0 <= index < len(sizes):
        return None
    new = f"{tensor}.size(0)"
    return Fix(f"{description}: {new}", (call.replace(new, sizes[index]),), SAFE)


def _is_sequence(node) -> bool:
    import libcst as cst

    return isinstance(node, (cst.Tuple, cst.List))


def tensor_beside(ctx, node) -> str | None:
    """A plain name for a tensor that follows the batch and meets ``node``
    elementwise (``h`` in ``h + torch.zeros(64, Z)``)."""
    for user in node.users:
        for other in user.all_input_nodes:
            if other is node:
                continue
            fact = ctx.shape(other)
            if fact is None or not fact.dims or not fact.dims[0].batch_dependent or fact.dims[0].coef != 1:
                continue
            found = operand_for(ctx, user, other)
            if found is not None and is_plain_reference(*found):
                return found[0].code(found[1])
    return None


def with_keyword(call: Expr, name: str, value: str, description: str) -> Fix | None:
    """``torch.zeros(n)`` -> ``torch.zeros(n, device=x.device)`` (the call's last argument gains a keyword)."""
    if not call.is_call or call.keyword(name) is not None:
        return None
    if not call.node.args:  # nn.MSELoss() -> nn.MSELoss(reduction="sum")
        new = f"{call.code(call.node.func)}({name}={value})"
        return Fix(f"{description}: {name}={value}", (call.replace(new),), SAFE)
    last = call.node.args[-1]
    if last.star:
        return None
    text = f", {name}={value}"
    return Fix(f"{description}: {name}={value}", (call.insert_after(last.value, text),), SAFE)


def renamed_call(call: Expr, old: str, new: str, description: str, applicability: str = SAFE) -> Fix | None:
    """``F.old(...)`` / ``nn.Old()(...)`` -> the same call of ``new``."""
    import libcst as cst

    func = call.node.func if call.is_call else None
    if isinstance(func, cst.Call):  # nn.BCELoss(reduction="sum")(recon, x)
        func = func.func
    target = func.attr if isinstance(func, cst.Attribute) else func if isinstance(func, cst.Name) else None
    if target is None or target.value != old:
        return None
    return Fix(f"{description}: {new}", (call.replace(new, target),), applicability)


def a_batch_tensor(ctx, node, call: Expr) -> str | None:
    """A name for a tensor of this batch where ``call`` stands: one ``node`` meets
    elementwise, else the first parameter of the function around it (``x`` in
    ``forward(self, x)``, ``recon`` in ``loss(recon, x, mu, logvar)``)."""
    beside = tensor_beside(ctx, node) if node is not None else None
    if beside:
        return beside
    params = call.enclosing_parameters()
    # the data, not the reconstruction: a size read off the decoder's output ties the
    # term to it, and the KL term would no longer read as the KL alone
    data = [p for p in params if p in _DATA_NAMES]
    if data:
        return data[0]
    # a training function's parameters are mostly not tensors (train(args, model, loader)): the
    # step's own batch variable, as its graph names it, where the code uses that name
    used = call.names_in_function()
    inputs = [n.name for n in getattr(getattr(ctx, "roles", None), "inputs", []) if n.name.isidentifier()]
    named = [name for name in _DATA_NAMES if name in used] + [name for name in inputs if name in used]
    if named:
        return named[0]
    tensors = [p for p in params if p not in _NOT_TENSORS]
    return (tensors or [None])[0]


# parameter names that hold no tensor of the batch: a configuration, the model, an optimiser
_NOT_TENSORS = frozenset(
    (
        "self",
        "cls",
        "args",
        "opt",
        "opts",
        "config",
        "cfg",
        "conf",
        "hparams",
        "hp",
        "params",
        "options",
        "flags",
        "model",
        "net",
        "optimizer",
        "optim",
        "device",
        "epoch",
        "step",
        "writer",
        "logger",
        "loader",
        "dataloader",
        "train_loader",
    )
)
_DATA_NAMES = ("x", "inputs", "input", "data", "images", "imgs", "img", "batch", "x_true", "target", "targets")


def batch_of_divisor(ctx, div_node, batch: int) -> Fix | None:
    """``loss / args.batch_size`` (or ``/ 64``, ``/= args.batch_size * 784``): the batch
    written down in the divisor -> ``x.size(0)``."""
    import libcst as cst

    from vaelint.facts.context import loc_of

    expr = expr_at(loc_of(div_node))
    if expr is None:
        return None
    node = expr.node
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Divide):
        divisor = node.right
    else:
        divisor = _augmented_divisor(expr)
    if divisor is None:
        return None
    sub = Expr(expr.path, divisor, expr.module, expr.positions)

    def is_batch(n) -> bool:
        if isinstance(n, cst.Integer):
            return n.evaluated_value == batch
        dotted = dotted_name(n)
        return dotted is not None and dotted.rsplit(".", 1)[-1] in ("batch_size", "bs", "batch")

    hits = sub.find(is_batch)
    tensor = a_batch_tensor(ctx, None, expr)
    if not hits or tensor is None:
        return None
    new = f"{tensor}.size(0)"
    return Fix(f"divide by the batch's own size: {new}", (expr.replace(new, hits[0]),), UNSAFE)


def _augmented_divisor(expr: Expr):
    """``kld /= args.batch_size * 784``: its right-hand side is the divisor."""
    import libcst as cst

    node = expr.node
    if isinstance(node, cst.AugAssign) and isinstance(node.operator, cst.DivideAssign):
        return node.value
    return None


def reduce_by_sum(ctx, factor, description: str, applicability: str) -> Fix | None:
    """A mean that reduces a loss term -> a sum: ``F.mse_loss(recon, x)`` ->
    ``F.mse_loss(recon, x, reduction="sum")``; ``kl.mean()`` -> ``kl.sum()``; a loss
    module's reduction where it is built (``nn.MSELoss()`` -> ``nn.MSELoss(reduction="sum")``)."""
    import libcst as cst

    module = ctx.module_of(factor.node) if factor.node.op == "call_module" else None
    site = ctx.program.module_sites.get(id(module)) if module is not None else None
    if factor.node.op == "call_module" and site is None:
        return None
    call = expr_at(site or factor.loc)
    if call is None or not call.is_call:
        return None
    if factor.op == "mean":
        fix = renamed_call(call, "mean", "sum", description, applicability)
        return fix
    if not _names_the_loss(call, type(module).__name__ if module is not None else getattr(factor.node.target, "__name__", "")):
        return None  # criterion(recon, x) of a loss module built elsewhere: its call takes no reduction=
    if isinstance(call.node.func, cst.Call):  # nn.BCELoss()(recon, x): the module built there takes it
        inner = call.node.func
        if inner.args:
            return None
        return Fix(f'{description}: reduction="sum"', (call.replace(f'{call.code(inner.func)}(reduction="sum")', inner),), applicability)
    current = call.keyword("reduction")
    if current is not None:
        if not isinstance(current, cst.SimpleString):
            return None
        quote = current.value[-1]
        return Fix(f"{description}: reduction={quote}sum{quote}", (call.replace(f"{quote}sum{quote}", current),), applicability)
    fix = with_keyword(call, "reduction", '"sum"', description)
    if fix is not None:
        fix.applicability = applicability
    return fix


# torch.nn's loss modules by the function each computes (nn.BCELoss -> F.binary_cross_entropy)
_LOSS_MODULES = {
    "bceloss": "binarycrossentropy",
    "bcewithlogitsloss": "binarycrossentropywithlogits",
    "crossentropyloss": "crossentropy",
    "kldivloss": "kldiv",
}


def _names_the_loss(call, op: str) -> bool:
    """Is ``call`` written as the loss it computes: ``F.mse_loss(...)``, ``nn.MSELoss()`` (or
    ``nn.MSELoss()(...)``), not a name bound to a module elsewhere (``criterion(recon, x)``), whose
    call a ``reduction=`` keyword would only break (a TypeError)?"""
    import libcst as cst

    func = call.node.func
    if isinstance(func, cst.Call):
        func = func.func
    name = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""
    key, want = name.lower().replace("_", ""), op.lower().replace("_", "")
    return bool(key) and (key == want or _LOSS_MODULES.get(key, key.removesuffix("loss")) == want.removesuffix("loss"))


def assigned_name(loc) -> str | None:
    """The name an assignment binds to the value at ``loc`` (``z`` in ``z = self.reparameterize(mu, logvar)``)."""
    import libcst as cst

    expr = expr_at(loc)
    if expr is None:
        return None
    for node in expr.positions:
        if isinstance(node, cst.Assign) and node.value is expr.node and len(node.targets) == 1:
            target = node.targets[0].target
            if isinstance(target, cst.Name):
                return target.value
    return None


def per_sample_sum(ctx, factor, description: str, applicability: str) -> Fix | None:
    """A loss function's mean over the batch and the data -> its sum divided by the
    batch size: ``F.mse_loss(recon, x)`` -> ``F.mse_loss(recon, x, reduction="sum") / x.size(0)``."""
    import libcst as cst

    from vaelint.facts.context import loc_of

    cmp = next((c for c in ctx.roles.comparisons if c.node is factor.node), None)
    call = expr_at(loc_of(factor.node))
    if cmp is None or call is None or not call.is_call or factor.node.op == "call_module":
        return None
    found = operand_for(ctx, cmp.node, cmp.data_side)
    if found is None or not is_plain_reference(*found):
        return None
    summed = reduce_by_sum(ctx, factor, description, applicability)
    if summed is None or len(summed.edits) != 1:
        return None
    from vaelint.fixes.edits import apply_edits

    whole = call.replace(call.text)  # the call's own range, to word it with the sum inside
    inner = apply_edits(call.text, [_shifted(summed.edits[0], whole)])
    text = f"{inner} / {found[0].code(found[1])}.size(0)"
    assigned = any(isinstance(n, cst.Assign) and n.value is call.node for n in call.positions)
    return Fix(f"{description}: {text}", (call.replace(text if assigned else f"({text})"),), applicability)


def _shifted(edit, whole):
    """``edit`` (in the file) as an edit of the text of the expression spanning ``whole``."""
    from vaelint.fixes.edits import Edit

    def at(line, column):
        return line - whole.line + 1, column - (whole.column - 1 if line == whole.line else 0)

    (l1, c1), (l2, c2) = at(edit.line, edit.column), at(edit.end_line, edit.end_column)
    return Edit(edit.path, l1, c1, l2, c2, edit.content)


def summed_per_sample(ctx, factor, sample_dims: int, description: str, applicability: str) -> Fix | None:
    """A mean over the batch and each sample's dims -> each sample's sum averaged over the batch:
    ``torch.mean(e)`` -> ``torch.sum(e, dim=-1).mean()``, ``e.mean()`` -> ``e.sum(dim=-1).mean()``
    (``dim=(1, 2, 3)`` for a sample of three dims). A plain ``sum`` would sum the batch too."""
    import libcst as cst

    call = expr_at(factor.loc)
    if call is None or not call.is_call or call.keyword("dim") is not None or not isinstance(call.node.func, cst.Attribute):
        return None
    func = call.node.func
    if func.attr.value != "mean" or any(a.keyword is not None or a.star for a in call.node.args):
        return None
    dims = "-1" if sample_dims == 1 else repr(tuple(range(1, sample_dims + 1)))
    owner = call.code(func.value)
    if owner == "torch" and len(call.node.args) == 1:  # torch.mean(e)
        text = f"torch.sum({call.code(call.node.args[0].value)}, dim={dims}).mean()"
    elif owner != "torch" and not call.node.args:  # e.mean()
        text = f"{owner}.sum(dim={dims}).mean()"
    else:
        return None
    return Fix(f"{description}: {text}", (call.replace(text),), applicability)
