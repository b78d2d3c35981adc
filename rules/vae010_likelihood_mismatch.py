"""VAE010 likelihood-mismatch: the decoder output does not fit the reconstruction loss."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.fx as fx

from vaelint.capture.ops import CAST_OPS, RESHAPE_OPS
from vaelint.errorkinds import kind_of
from vaelint.facts.context import loc_of
from vaelint.rulebase import Example, Observed, Rule, fill
from vaelint.vocab import ErrorKind, FixAvailability, Need, Severity

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
        return {OUT}, mu, logvar


def loss_function(recon, x, mu, logvar):
    rec = {REC}  # <- finding
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return rec + kl
"""


_BCE_SUM = 'F.binary_cross_entropy(recon, x, reduction="sum")'


def _model(out: str, rec: str) -> str:
    return fill(_MODEL, out=out, rec=rec)


# tokens: a categorical decoder over a vocabulary of 12, five tokens a sample
_TOKENS = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self, vocab=12, length=5, latent=4):
        super().__init__()
        self.emb = nn.Embedding(vocab, 8)
        self.enc = nn.Linear(8 * length, 2 * latent)
        self.dec = nn.Linear(latent, vocab * length)
        self.vocab, self.length = vocab, length

    def forward(self, x):
        mu, logvar = self.enc(self.emb(x).flatten(1)).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        logits = self.dec(z).view(-1, self.length, self.vocab)
        return {OUT}, mu, logvar


def loss_function(out, x, mu, logvar):
    rec = {REC}  # <- finding
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return rec + kl
"""
_NLL = 'F.nll_loss(out.transpose(1, 2), x, reduction="sum")'
_CE = 'F.cross_entropy(out.transpose(1, 2), x, reduction="sum")'


def _tokens(out: str, rec: str) -> str:
    return fill(_TOKENS, out=out, rec=rec)


# ops whose output lies in [0, 1]
_BOUNDED = {"sigmoid", "softmax", "hardsigmoid", "clamp", "clip"}


class LikelihoodMismatch(Rule):
    code = "VAE010"
    fix_availability = FixAvailability.SOMETIMES
    name = "likelihood-mismatch"
    severity = Severity.ERROR
    needs = (Need.LOSS, Need.RECON)
    summary = "The decoder output does not fit the reconstruction loss."
    what = """
The reconstruction loss fixes what the decoder must output.
``binary_cross_entropy`` takes probabilities: the decoder must end in a sigmoid
(or another op bounded to [0, 1]). ``binary_cross_entropy_with_logits`` takes
logits and applies the sigmoid itself: a decoder that already ends in a sigmoid
gets it twice, and one that ends in an activation bounding its output (``relu``,
``softplus``, ``elu``, ``tanh``) gives logits that never reach a probability near
0 (``relu``: every probability is at least 0.5). Over categories likewise: ``nll_loss``
takes log-probabilities (a ``log_softmax`` last, not a ``softmax``), and ``cross_entropy``
takes logits (a ``softmax`` before it is applied twice). A distance (``mse_loss``, ``l1_loss``)
between a decoder that ends in ``sigmoid``, ``tanh`` or ``relu`` (``softplus``, ``exp``) and data
beyond that range (images a ``Normalize((0.5,), (0.5,))`` put in [-1, 1], against a sigmoid; data
standardised below 0, against a ReLU) leaves part of every value out of reach: read from the data's values on the run. Both take (the model's output, the data): the data given first is
read as the logits or probabilities and the reconstruction as the target. vaelint
follows the reconstruction from the loss back through reshapes to the decoder's
last op.
"""
    why = """
An unbounded output into ``binary_cross_entropy`` crashes as soon as an output
leaves [0, 1] (``all elements of input should be between 0 and 1``), often
after some training. A double sigmoid squeezes the reconstruction into
(0.5, 0.73): the model cannot fit the data and the loss plateaus high.
"""
    example = """
return self.fc_out(h)                                  # logits, unbounded
loss = F.binary_cross_entropy(recon, x, reduction="sum")
"""
    fix = """
Match the pair: logits with ``F.binary_cross_entropy_with_logits``, or a
``torch.sigmoid`` at the decoder's end with ``F.binary_cross_entropy``.
"""
    VALID = [
        Example(_model("torch.sigmoid(self.dec(z))", 'F.binary_cross_entropy(recon, x, reduction="sum")'), inputs=("6x20",)),
        Example(_model("self.dec(z)", 'F.binary_cross_entropy_with_logits(recon, x, reduction="sum")'), inputs=("6x20",)),
        Example(_model("torch.sigmoid(self.dec(z)).view(-1, 20)", 'F.binary_cross_entropy(recon, x, reduction="sum")'), inputs=("6x20",)),
        Example(_model("self.dec(z)", 'F.mse_loss(recon, x, reduction="sum")'), inputs=("6x20",)),
        # probabilities resampled (a spatial transformer's warp, a resize): blends of values in [0, 1] stay there
        Example(
            _model("F.interpolate(torch.sigmoid(self.dec(z)).unsqueeze(1), scale_factor=1.0, mode='linear').squeeze(1)", _BCE_SUM),
            inputs=("6x20",),
        ),
        # probabilities through an op that keeps [0, 1] in [0, 1]: a ReLU of them, a smoothing 0.98 * p + 0.01
        Example(_model("torch.relu(torch.sigmoid(self.dec(z)))", _BCE_SUM), inputs=("6x20",)),
        Example(_model("0.98 * torch.sigmoid(self.dec(z)) + 0.01", _BCE_SUM), inputs=("6x20",)),
        # an epsilon below the rounding of values near 1 (float32): p + 1e-10 is p
        Example(_model("torch.sigmoid(self.dec(z)) + 1e-10", _BCE_SUM), inputs=("6x20",)),
        # a ReLU inside the decoder, a linear layer last: unbounded logits
        Example(_model("self.dec(torch.relu(z))", 'F.binary_cross_entropy_with_logits(recon, x, reduction="sum")'), inputs=("6x20",)),
        # a tanh decoder against data scaled to [-1, 1]: within its reach
        Example(_model("torch.tanh(self.dec(z))", 'F.mse_loss(recon, x * 2 - 1, reduction="sum")'), inputs=("6x20",)),
        # a final ReLU against data in [0, 1] (or above): every value is within its reach
        Example(_model("torch.relu(self.dec(z))", 'F.mse_loss(recon, x, reduction="sum")'), inputs=("6x20",)),
        # a categorical decoder: log-probabilities into nll_loss, logits into cross_entropy
        Example(_tokens("torch.log_softmax(logits, dim=-1)", _NLL), inputs=("6x5:int64:12",)),
        Example(_tokens("logits", _CE), inputs=("6x5:int64:12",)),
        # a decoder's steps each through a sigmoid, joined: probabilities at every element
        Example(
            _model("torch.cat([torch.sigmoid(self.dec(z)[:, :8]), torch.sigmoid(self.dec(z)[:, 8:])], dim=1)", _BCE_SUM), inputs=("6x20",)
        ),
        # a positive value over itself plus a positive one (a Beta's mean, a / (a + b)): in (0, 1)
        Example(_model("(a := F.softplus(self.dec(z))) / (a + 1.0)", _BCE_SUM), inputs=("6x20",)),
        # logits clamped for stability are still logits
        Example(
            _model("torch.clamp(self.dec(z), -10, 10)", 'F.binary_cross_entropy_with_logits(recon, x, reduction="sum")'), inputs=("6x20",)
        ),
    ]
    INVALID = [
        # probabilities scaled past 1 (2 * p) are no probabilities: the near-miss of 0.98 * p + 0.01
        Example(_model("2.0 * torch.sigmoid(self.dec(z))", _BCE_SUM), inputs=("6x20",), at="finding", message="ends in mul"),
        # its near miss: an addend of 0.1 takes p past 1
        Example(_model("torch.sigmoid(self.dec(z)) + 0.1", _BCE_SUM), inputs=("6x20",), at="finding", message="ends in add"),
        # a / (a + b) with b a free parameter: positive at its start, nothing keeps it so
        Example(
            _model("(a := F.softplus(self.dec(z))) / (a + self.dec.bias)", _BCE_SUM),
            inputs=("6x20",),
            at="finding",
            message="ends in div",
            fixed=_model(
                "(a := F.softplus(self.dec(z))) / (a + self.dec.bias)", 'F.binary_cross_entropy_with_logits(recon, x, reduction="sum")'
            ),
        ),
        # the near miss of a / (a + b): over itself less a number, past 1
        Example(
            _model("(a := F.softplus(self.dec(z))) / (a - 0.01)", _BCE_SUM),
            inputs=("6x20",),
            at="finding",
            message="ends in div",
            fixed=_model("(a := F.softplus(self.dec(z))) / (a - 0.01)", 'F.binary_cross_entropy_with_logits(recon, x, reduction="sum")'),
        ),
        # the near miss of the tanh decoder: a sigmoid cannot reach the data's negative half
        Example(
            _model("torch.sigmoid(self.dec(z))", 'F.mse_loss(recon, x * 2 - 1, reduction="sum")'),
            inputs=("6x20",),
            at="finding",
            message="whose output lies in (0, 1)",
        ),
        # the near miss of the ReLU decoder: data standardised below 0, which a ReLU never reaches
        Example(
            _model("torch.relu(self.dec(z))", 'F.mse_loss(recon, (x - 0.5) / 0.25, reduction="sum")'),
            inputs=("6x20",),
            at="finding",
            message="whose output lies in [0, inf)",
        ),
        # a tanh decoder into BCE: logits of [-1, 1] would never pass 0.73, so the tanh becomes the sigmoid
        Example(
            _model("torch.tanh(self.dec(z))", _BCE_SUM),
            inputs=("6x20",),
            at="finding",
            message="the decoder ends in tanh",
            fixed=_model("torch.sigmoid(self.dec(z))", _BCE_SUM),
            unsafe=True,
        ),
        # probabilities where log-probabilities belong, and a softmax before cross_entropy's own
        Example(_tokens("torch.softmax(logits, dim=-1)", _NLL), inputs=("6x5:int64:12",), at="finding", message="takes log-probabilities"),
        Example(_tokens("torch.softmax(logits, dim=-1)", _CE), inputs=("6x5:int64:12",), at="finding", message="softmax twice"),
        # the near miss of the resampled probabilities: logits resampled are logits still
        Example(
            _model("F.interpolate(self.dec(z).unsqueeze(1), scale_factor=1.0, mode='linear').squeeze(1)", _BCE_SUM),
            inputs=("6x20",),
            at="finding",
            message="not bounded",
            fixed=_model(
                "F.interpolate(self.dec(z).unsqueeze(1), scale_factor=1.0, mode='linear').squeeze(1)",
                'F.binary_cross_entropy_with_logits(recon, x, reduction="sum")',
            ),
        ),
        # the near miss of the joined steps: one part a sigmoid's, the other raw logits
        Example(
            _model("torch.cat([torch.sigmoid(self.dec(z)[:, :8]), self.dec(z)[:, 8:]], dim=1)", _BCE_SUM),
            inputs=("6x20",),
            at="finding",
            message="the decoder ends in cat",
        ),
        # the data first: binary_cross_entropy_with_logits(x, recon) reads the data as the logits
        Example(
            _model("self.dec(z)", 'F.binary_cross_entropy_with_logits(x, recon, reduction="sum")'),
            inputs=("6x20",),
            at="finding",
            message="the data comes first",
        ),
        Example(
            _model("self.dec(z)", 'F.binary_cross_entropy(recon, x, reduction="sum")'),
            inputs=("6x20",),
            at="finding",
            message="not bounded",
            fixed=_model("self.dec(z)", 'F.binary_cross_entropy_with_logits(recon, x, reduction="sum")'),
        ),
        Example(
            _model("torch.sigmoid(self.dec(z))", 'F.binary_cross_entropy_with_logits(recon, x, reduction="sum")'),
            inputs=("6x20",),
            at="finding",
            message="sigmoid twice",
            fixed=_model("torch.sigmoid(self.dec(z))", 'F.binary_cross_entropy(recon, x, reduction="sum")'),
        ),
        # logits bounded below by a final ReLU: every probability >= 0.5
        Example(
            _model("torch.relu(self.dec(z))", 'F.binary_cross_entropy_with_logits(recon, x, reduction="sum")'),
            inputs=("6x20",),
            at="finding",
            message="ends in relu",
        ),
        # the decoder's sigmoid a module at the end of its Sequential, the loss a module too
        Example(
            _model("nn.Sequential(self.dec, nn.Sigmoid())(z)", 'nn.BCEWithLogitsLoss(reduction="sum")(recon, x)'),
            inputs=("6x20",),
            at="finding",
            message="sigmoid twice",
            fixed=_model("nn.Sequential(self.dec, nn.Sigmoid())(z)", 'nn.BCELoss(reduction="sum")(recon, x)'),
        ),
        # a clamp into [0, 1] after the sigmoid changes nothing: still probabilities
        Example(
            _model("torch.clamp(torch.sigmoid(self.dec(z)), 0, 1)", 'F.binary_cross_entropy_with_logits(recon, x, reduction="sum")'),
            inputs=("6x20",),
            at="finding",
            message="sigmoid twice",
            fixed=_model("torch.clamp(torch.sigmoid(self.dec(z)), 0, 1)", 'F.binary_cross_entropy(recon, x, reduction="sum")'),
        ),
    ]

    def explains(self, failure, ctx):
        return kind_of(failure.error) is ErrorKind.RANGE and any(c.node is failure.node for c in ctx.roles.comparisons)

    def check(self, ctx):
        for cmp in ctx.roles.comparisons:
            last = _last_op(ctx, cmp.recon_side)
            name = ctx.view.op(last) if last is not None else "?"
            loc = loc_of(cmp.node)
            if cmp.op in _BCE and list(cmp.node.args)[:2] == [cmp.data_side, cmp.recon_side]:
                # F.binary_cross_entropy_with_logits(x, recon): the data in the model output's place
                yield self.report(ArgumentsSwapped(cmp.op), loc, node=cmp.node)
            elif cmp.op == "binary_cross_entropy" and name not in _BOUNDED and _may_leave_the_unit_interval(ctx, name, cmp.recon_side):
                yield self.report(UnboundedIntoBCE(name, _at(last)), loc, node=cmp.node)
            elif cmp.op == "binary_cross_entropy_with_logits" and _sigmoid_under(ctx, last) is not None:
                yield self.report(SigmoidTwice(_at(_sigmoid_under(ctx, last))), loc, node=cmp.node)
            elif cmp.op == "binary_cross_entropy_with_logits" and name in _BOUNDED_LOGITS:
                yield self.report(BoundedLogits(name, *_BOUNDED_LOGITS[name], _at(last)), loc, node=cmp.node)
            elif cmp.op in ("nll_loss", "cross_entropy") and name == "softmax":
                yield self.report(SoftmaxIntoCategorical(cmp.op, _at(last)), loc, node=cmp.node)
            elif (cmp.op in _DISTANCES or cmp.op == "binary_cross_entropy") and name in _OUTPUT_RANGES:
                spread = _data_spread(ctx, cmp.data_side)
                under, low, high, end = _reach(ctx, last, name)
                if cmp.op not in _DISTANCES and not under:
                    continue  # probabilities of a plain sigmoid: the BCE's own checks
                if spread is not None and _beyond(spread, low, high):
                    yield self.report(OutOfReach(cmp.op, name, low, high, *spread, _at(end), under), loc, node=cmp.node)

    def autofix(self, finding, ctx):
        """``F.binary_cross_entropy`` on an unbounded decoder output ->
        ``F.binary_cross_entropy_with_logits`` (``nn.BCELoss()`` -> ``nn.BCEWithLogitsLoss()``), and
        the other way round after a decoder that ends in a sigmoid (twice through the sigmoid)."""
        from vaelint.fixes.rewrites import renamed_call
        from vaelint.fixes.source import expr_at

        op = ctx.view.op(finding.node) if finding.node is not None else None
        call = expr_at(finding.loc) if op in ("binary_cross_entropy", "binary_cross_entropy_with_logits") else None
        if call is None:
            return None
        if isinstance(finding.observed, BoundedLogits):
            return None  # the decoder's activation is to go: which logits it meant is the user's to say
        if isinstance(finding.observed, UnboundedIntoBCE) and finding.observed.last_op in _JOINS:
            return None  # parts joined, some probabilities already: which are logits is the user's to say
        if isinstance(finding.observed, UnboundedIntoBCE) and _bounded_just_under(ctx, finding.node):
            return None  # 2 * sigmoid(h): probabilities scaled past 1, no logits; what was meant is the user's
        if isinstance(finding.observed, UnboundedIntoBCE) and finding.observed.last_op in ("tanh", "hardtanh"):
            # logits a tanh bounds to [-1, 1] never reach a probability past 0.73: the decoder's tanh
            # becomes the sigmoid that gives the BCE its probabilities
            return _tanh_to_sigmoid(ctx, finding)
        if op == "binary_cross_entropy_with_logits":
            # the decoder's own sigmoid (a function or an nn.Sigmoid() in its Sequential) stays;
            # the loss takes its output as the probabilities it is
            return renamed_call(
                call, "binary_cross_entropy_with_logits", "binary_cross_entropy", "take the decoder's output as probabilities"
            ) or renamed_call(call, "BCEWithLogitsLoss", "BCELoss", "take the decoder's output as probabilities")
        return renamed_call(
            call, "binary_cross_entropy", "binary_cross_entropy_with_logits", "take the decoder's output as logits"
        ) or renamed_call(call, "BCELoss", "BCEWithLogitsLoss", "take the decoder's output as logits")

    def confirm(self, finding, ctx, observed):
        if observed.error is not None:
            return kind_of(observed.error) is ErrorKind.RANGE
        if observed.result is None:
            return None
        cmp = next((c for c in ctx.roles.comparisons if c.node is finding.node), None)
        value = observed.value(cmp.recon_side) if cmp is not None else None
        if value is None:
            return None
        if isinstance(finding.observed, OutOfReach) and finding.observed.under:  # sigmoid(relu): never below 0.5
            return bool(value.min() >= finding.observed.low - 1e-6)
        if ctx.view.op(finding.node) == "binary_cross_entropy":
            return bool((value < 0).any() or (value > 1).any())
        if isinstance(finding.observed, BoundedLogits):  # the logits the run gave stay in the bounds
            lo, hi = finding.observed.low, finding.observed.high
            return bool((lo is None or value.min() >= lo) and (hi is None or value.max() <= hi))
        # the loss's own sigmoid only ever sees these non-negative values: >= 0.5
        return bool(value.min() >= 0)


def _may_leave_the_unit_interval(ctx, name: str, recon) -> bool:
    """Can the reconstruction BCE reads fall outside [0, 1]? Not a ratio of a positive value to
    itself plus another positive one (``a / (a + b)``, a Beta's mean: ``Beta(a, b).mean`` with
    softplus heads), each positive by how it is made (softplus, exp, sigmoid, a positive number
    added), not only on the run's values (a free parameter positive at its start)."""
    if name != "div":
        return True
    last = _last_op(ctx, recon)
    num, den = (list(last.args) + [None, None])[:2] if last is not None else (None, None)
    if not isinstance(num, fx.Node) or not isinstance(den, fx.Node) or ctx.view.op(den) != "add" or "alpha" in den.kwargs:
        return True
    others = [a for a in den.args if a is not num]
    if len(others) != 1 or num not in den.args:
        return True
    return not (_positive(ctx, num) and _positive(ctx, others[0]))


_POSITIVE = {"softplus", "exp", "sigmoid", "softmax"}
_THROUGH = {"getitem", "chunk", "split", "view", "reshape", "unsqueeze", "squeeze", "expand", "contiguous", "flatten", "select"}


def _positive(ctx, value, depth: int = 0) -> bool:
    """Is ``value`` positive by construction: a positive number, an op whose values are positive,
    the sum of such, read through indexing and reshapes?"""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value > 0
    if not isinstance(value, fx.Node) or depth > 8:
        return False
    op = ctx.view.op(value)
    if op in _POSITIVE:
        return True
    if op in _THROUGH and value.args:
        return _positive(ctx, value.args[0], depth + 1)
    if op == "add" and "alpha" not in value.kwargs and len(value.args) == 2:
        return all(_positive(ctx, a, depth + 1) for a in value.args)
    if op == "broadcast_tensors":  # torch.distributions' broadcast_all(a, b): each of them as given
        return all(_positive(ctx, a, depth + 1) for a in value.args)
    if op in ("stack", "cat") and value.args and isinstance(value.args[0], (list, tuple)):
        return all(_positive(ctx, a, depth + 1) for a in value.args[0])  # Beta's torch.stack([a, b], -1)
    return False


def _tanh_to_sigmoid(ctx, finding):
    """The decoder's final ``torch.tanh(h)`` / ``nn.Tanh()`` -> ``torch.sigmoid(h)`` / ``nn.Sigmoid()``
    (unsafe: the model's output range changes), at the call or where the module is built."""
    from vaelint.fixes.edits import UNSAFE
    from vaelint.fixes.rewrites import renamed_call
    from vaelint.fixes.source import expr_at

    cmp = next((c for c in ctx.roles.comparisons if c.node is finding.node), None)
    last = _last_op(ctx, cmp.recon_side) if cmp is not None else None
    if last is None:
        return None
    module = ctx.module_of(last) if last.op == "call_module" else None
    site = ctx.program.module_sites.get(id(module)) if module is not None else loc_of(last)
    call = expr_at(site) if site is not None else None
    if call is None or not call.is_call:
        return None
    why = "end the decoder in the sigmoid BCE needs"
    for old, new in (("Tanh", "Sigmoid"), ("tanh", "sigmoid")):
        fix = renamed_call(call, old, new, why, UNSAFE)
        if fix is not None:
            return fix
    return None


def _last_op(ctx, node):
    """The reconstruction's producing op, looking through reshapes and casts."""
    seen = 0
    while node is not None and seen < 20:
        name = ctx.view.op(node)
        if name == "setitem" and len(node.args) > 2 and isinstance(node.args[2], type(node)):
            node, seen = node.args[2], seen + 1  # probs[:, j] = p in a time loop: what was written is p
            continue
        if name == "written" and len(node.args) > 1 and isinstance(node.args[1], type(node)):
            node, seen = node.args[1], seen + 1  # the buffer after probs[:, t] = p (a traced graph's): that setitem
            continue
        if name in _WITHIN_RANGE and _keeps_range(node) and isinstance(node.args[0] if node.args else None, type(node)):
            node, seen = node.args[0], seen + 1  # sigmoid, then a bilinear warp of it: still in [0, 1]
            continue
        if name in _JOINS:
            return _joined_end(ctx, node)
        kept = _unit_kept(ctx, node, name)
        if kept is not None:
            return kept  # relu(sigmoid(h)), 0.98 * sigmoid(h) + 0.01: probabilities still
        if name not in RESHAPE_OPS and name not in CAST_OPS and name != "getitem":
            return node
        inputs = [a for a in node.all_input_nodes if a.op != "get_attr"]
        node = inputs[0] if inputs else None
        seen += 1
    return node


# ops whose every output value is a convex combination (or a copy) of its input's values, so a
# reconstruction bounded to [0, 1] stays so through them: a spatial transformer's warp
# (grid_sample), resizing (interpolate, but bicubic, which overshoots), average pooling, flips
_WITHIN_RANGE = {
    "grid_sample",
    "interpolate",
    "upsample",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "flip",
    "roll",
}


# ops that join tensors: each value of the result is a value of one of them
_JOINS = {"cat", "concat", "concatenate", "stack", "hstack", "vstack", "dstack"}


def _joined_end(ctx, node):
    """What a join of the decoder's steps ends in (``torch.cat([sigmoid(out(h_t)) for t ...], 1)``: a
    step-by-step decoder's probabilities): the parts' last op where every part ends in the same
    one, else the join itself (a sigmoid's part beside a linear layer's is not bounded)."""
    parts = node.args[0] if node.args and isinstance(node.args[0], (list, tuple)) else ()
    ends = [_last_op(ctx, part) for part in parts if isinstance(part, type(node))]
    if ends and len(ends) == len(parts) and all(e is not None for e in ends) and len({ctx.view.op(e) for e in ends}) == 1:
        return ends[0]
    return node


# ops that leave a value in [0, 1] in [0, 1]: relu(p) = p, abs(p) = p, relu6(p) = p
_UNIT_KEEPING = {"relu", "relu6", "abs", "leaky_relu", "elu", "celu"}


def _unit_kept(ctx, node, name):
    """The bounded op (sigmoid, softmax, ...) under ``node`` where ``node`` maps [0, 1] into [0, 1]
    (relu, abs, relu6 of probabilities; ``a * p + b`` with numbers a, b >= 0 and a + b <= 1;
    hardtanh or clamp into [0, 1]); None else."""
    inputs = [a for a in node.all_input_nodes if a.op != "get_attr"]
    if len(inputs) != 1:
        return None
    numbers = [a for a in (*node.args, *node.kwargs.values()) if isinstance(a, (int, float)) and not isinstance(a, bool)]
    if name in _UNIT_KEEPING:
        keeps = True
    elif name == "hardtanh":
        low, high = (list(node.args[1:3]) + [node.kwargs.get("min_val", -1.0), node.kwargs.get("max_val", 1.0)])[:2]
        keeps = isinstance(low, (int, float)) and isinstance(high, (int, float)) and 0 <= low and high <= 1
    elif name in ("mul", "add") and len(numbers) == 1:
        keeps = _affine_keeps_unit(ctx, node, name, numbers[0])
    else:
        return None
    if not keeps:
        return None
    below = _last_op(ctx, inputs[0])
    return below if below is not None and ctx.view.op(below) in _BOUNDED else None


def _affine_keeps_unit(ctx, node, name, number) -> bool:
    """``a * p`` with 0 <= a <= 1, or ``q + b`` where q = a * p and b >= 0, a + b <= 1."""
    if name == "mul":
        return 0 <= number <= 1
    inner = next((a for a in node.all_input_nodes if a.op != "get_attr"), None)
    scale = [a for a in inner.args if isinstance(a, (int, float)) and not isinstance(a, bool)] if inner is not None else []
    a = scale[0] if ctx.view.op(inner) == "mul" and len(scale) == 1 else 1.0
    # p + 1e-10: an addend below the rounding of values near 1 in the run's precision leaves p <= 1
    (held,) = ctx.values(node)
    rounding = torch.finfo(held.dtype).eps / 4 if held is not None and held.is_floating_point() else 0.0
    return number >= 0 and 0 <= a and a + number <= 1 + rounding


def _bounded_just_under(ctx, loss_node) -> bool:
    """Is the BCE's input a few ops from a sigmoid or softmax (``2 * torch.sigmoid(h)``)?"""
    node = loss_node.args[0] if loss_node.args else None
    for _ in range(4):
        if not isinstance(node, type(loss_node)):
            return False
        if ctx.view.op(node) in _BOUNDED:
            return True
        inputs = [a for a in node.all_input_nodes if a.op != "get_attr"]
        node = inputs[0] if len(inputs) == 1 else None
    return False


def _keeps_range(node) -> bool:
    mode = node.kwargs.get("mode")
    return not (isinstance(mode, str) and "cubic" in mode)


def _sigmoid_under(ctx, node):
    """The sigmoid the reconstruction ends in, also under a clamp or clip of it (``clamp(sigmoid(h),
    0, 1)``, ``sigmoid(h).clamp(eps, 1 - eps)``: probabilities still); None where it ends in none."""
    for _ in range(3):
        name = ctx.view.op(node) if node is not None else "?"
        if name == "sigmoid":
            return node
        if name not in ("clamp", "clip", "clamp_", "clip_"):
            return None
        inputs = [a for a in node.all_input_nodes if a.op != "get_attr"]
        node = _last_op(ctx, inputs[0]) if inputs else None
    return None


_BCE = ("binary_cross_entropy", "binary_cross_entropy_with_logits")
# a decoder's last activation that bounds the logits it gives: (lowest, highest; None: none)
_BOUNDED_LOGITS = {
    "relu": (0, None),
    "relu6": (0, 6),
    "softplus": (0, None),
    "exp": (0, None),
    "abs": (0, None),
    "elu": (-1, None),
    "tanh": (-1, 1),
    "hardtanh": (-1, 1),
}


# a distance between the reconstruction and the data, and what the decoder's last op can reach
_DISTANCES = {"mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"}
# (low, high); None: no bound on that side (a final ReLU reaches every value above 0, none below)
_OUTPUT_RANGES = {
    "sigmoid": (0.0, 1.0),
    "tanh": (-1.0, 1.0),
    "hardsigmoid": (0.0, 1.0),
    "relu": (0.0, None),
    "relu6": (0.0, 6.0),
    "softplus": (0.0, None),
    "exp": (0.0, None),
    "abs": (0.0, None),
    "elu": (-1.0, None),
}


def _reach(ctx, last, name: str) -> tuple[str, float, float | None, object]:
    """(the op under it that bounds it, or "", lowest, highest, the op that bounds it) of what the decoder's last op gives:
    a sigmoid or tanh of a ReLU (a hidden block's ReLU copied onto the last layer, the sigmoid put on
    top in decode()) gives only its upper half, sigmoid(relu(h)) in [0.5, 1)."""
    import math

    low, high = _OUTPUT_RANGES[name]
    squash = {"sigmoid": lambda v: 1 / (1 + math.exp(-v)), "tanh": math.tanh}.get(name)
    inputs = [a for a in last.all_input_nodes if a.op != "get_attr"] if squash is not None else []
    inner = _last_op(ctx, inputs[0]) if inputs else None
    kind = ctx.view.op(inner) if inner is not None else "?"
    if kind in _OUTPUT_RANGES and kind not in ("sigmoid", "tanh", "hardsigmoid"):
        below, above = _OUTPUT_RANGES[kind]
        return kind, squash(below), squash(above) if above is not None else high, inner
    return "", low, high, last


def _data_spread(ctx, node) -> tuple[float, float] | None:
    """The least and greatest value of the data the reconstruction is compared with, on the run."""
    (value,) = ctx.values(node)
    if value is None or not hasattr(value, "is_floating_point") or not value.is_floating_point() or not value.numel():
        return None
    return float(value.min()), float(value.max())


def _beyond(spread: tuple[float, float], low: float, high: float | None) -> bool:
    """Does the data reach well past what the output can (a tenth of the output's range beyond
    either end; of the data's own, where the output has no upper bound)?"""
    margin = 0.1 * ((high - low) if high is not None else max(spread[1] - spread[0], 0.0))
    return spread[0] < low - margin or (high is not None and spread[1] > high + margin)


def _at(node) -> str:
    loc = loc_of(node)
    return f" at {loc.where()}" if loc else ""


@dataclass
class UnboundedIntoBCE(Observed):
    """binary_cross_entropy on a decoder output that is not bounded to [0, 1]."""

    last_op: str  # the decoder's last op
    at: str  # " at model.py:20", or ""

    def message(self) -> str:
        return (
            f"binary_cross_entropy needs probabilities, but the reconstruction is not bounded to "
            f"[0, 1]: the decoder ends in {self.last_op}{self.at}."
        )

    def fix(self) -> str:
        return "use F.binary_cross_entropy_with_logits(recon, x) on the logits, or end the decoder with torch.sigmoid"


@dataclass
class SigmoidTwice(Observed):
    """binary_cross_entropy_with_logits on a decoder output that ends in a sigmoid."""

    at: str

    def message(self) -> str:
        return (
            f"binary_cross_entropy_with_logits applies a sigmoid, and the decoder already ended in "
            f"one{self.at}: the output goes through the sigmoid twice and can only reach (0.5, 0.73)."
        )

    def fix(self) -> str:
        return "drop the decoder's final sigmoid (apply it only when sampling), or use F.binary_cross_entropy"


@dataclass
class OutOfReach(Observed):
    """A bounded decoder output (a final sigmoid, tanh or ReLU) compared by a distance with data beyond its range."""

    op: str  # mse_loss, l1_loss, ...
    last_op: str  # sigmoid, tanh, relu
    low: float
    high: float | None  # None: no upper bound (relu, softplus, exp)
    data_low: float
    data_high: float
    at: str
    under: str = ""  # a bounded op under the last one (sigmoid of a relu: [0.5, 1))

    def message(self) -> str:
        if self.under:
            return (
                f"the decoder ends in {self.last_op} of a {self.under}{self.at}: the {self.under} gives it no negative input, "
                f"so its output lies in {self._range()}, but {self.op} compares it with data from {self.data_low:.3g} to "
                f"{self.data_high:.3g}: every value below {self.low:.3g} is out of reach, and the reconstructions come out washed out."
            )
        return (
            f"the decoder ends in {self.last_op}{self.at}, whose output lies in {self._range()}, but {self.op} "
            f"compares it with data from {self.data_low:.3g} to {self.data_high:.3g} (a Normalize shifts it there): part of "
            "every value's range cannot be reconstructed, and the loss never falls to what the model could fit."
        )

    def _range(self) -> str:
        return f"({self.low:g}, {self.high:g})" if self.high is not None else f"[{self.low:g}, inf)"

    def fix(self) -> str:
        if self.under:
            return f"drop the decoder's last {self.under} (the one under the {self.last_op}): {self.last_op} alone reaches the data's range"
        if self.high is None:
            return f"drop the decoder's final {self.last_op} (a Gaussian's mean needs no bound), or compare with data at or above {self.low:g}: drop the Normalize"
        if self.data_low < 0 and self.low >= 0:
            return "end the decoder in tanh (outputs in (-1, 1)) or in no activation, or compare with data in (0, 1): drop the Normalize"
        return f"drop the decoder's final {self.last_op}, or scale the data into {self._range()}"


@dataclass
class SoftmaxIntoCategorical(Observed):
    """nll_loss on probabilities (it takes log-probabilities), or cross_entropy after a softmax."""

    op: str  # "nll_loss" or "cross_entropy"
    at: str

    def message(self) -> str:
        if self.op == "nll_loss":
            return (
                f"nll_loss takes log-probabilities, and the decoder ends in a softmax{self.at}: it gives probabilities, so "
                "the term is minus the mean probability of the data's classes, no log-likelihood (its gradient vanishes "
                "as the probability falls)."
            )
        return (
            f"cross_entropy applies a log-softmax itself, and the decoder already ended in a softmax{self.at}: the "
            "logits go through the softmax twice, the probabilities squeezed towards uniform, and the loss cannot fall."
        )

    def fix(self) -> str:
        if self.op == "nll_loss":
            return "end the decoder in torch.log_softmax (or give F.cross_entropy the logits)"
        return "give cross_entropy the decoder's logits: drop the final softmax (apply it only when sampling)"


@dataclass
class BoundedLogits(Observed):
    """binary_cross_entropy_with_logits on a decoder output that ends in an activation bounding it."""

    op: str
    low: float | None
    high: float | None
    at: str

    def message(self) -> str:
        import math

        p = lambda v: f"{1 / (1 + math.exp(-v)):.2g}"  # noqa: E731
        if self.high is None:
            bounds, probs = f">= {self.low:g}", f"at least {p(self.low)} for every element: it can never reconstruct a 0"
        else:
            bounds, probs = f"within [{self.low:g}, {self.high:g}]", f"within [{p(self.low)}, {p(self.high)}]: never near 0 or 1"
        return (
            f"binary_cross_entropy_with_logits takes logits, and the decoder ends in {self.op}{self.at}, so its logits are "
            f"{bounds}; the sigmoid the loss applies gives probabilities {probs}."
        )

    def fix(self) -> str:
        return f"drop the decoder's final {self.op} so it outputs unbounded logits (apply torch.sigmoid only when sampling)"


@dataclass
class ArgumentsSwapped(Observed):
    """A binary cross-entropy given the data first and the reconstruction as its target."""

    op: str

    def message(self) -> str:
        what = "logits" if self.op.endswith("logits") else "probabilities"
        return (
            f"{self.op} takes (the model's output, the data), and here the data comes first: the data is read as "
            f"the {what} and the reconstruction as the target, so the decoder is trained towards the data's own "
            "cross-entropy, not to reconstruct it."
        )

    def fix(self) -> str:
        return f"swap the arguments: F.{self.op}(recon, x)"
