"""VAE008 std-logvar-mismatch: the sampler and the KL read the encoder's scale output differently."""

from __future__ import annotations

from dataclasses import dataclass

from vaelint.facts.context import loc_of
from vaelint.facts.klcheck import READINGS, kl_reading, why_no_kl_reading
from vaelint.rulebase import Example, Observed, Rule, SkipRule, fill
from vaelint.vocab import FixAvailability, Need, Severity

_MODEL = """import torch
import torch.nn as nn


class VAE(nn.Module):
    def __init__(self, latent=4):
        super().__init__()
        self.enc = nn.Linear(20, 2 * latent)
        self.dec = nn.Linear(latent, 20)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        std = {STD}
        z = mu + torch.randn_like(std) * std
        return torch.sigmoid(self.dec(z)), mu, logvar


def loss_function(recon, x, mu, logvar):
    rec = nn.functional.binary_cross_entropy(recon, x, reduction="sum")
    kl = {KL}  # <- finding
    return rec + kl
"""

_LOGVAR_KL = "-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())"
# the same KL written as two terms, neither a KL by itself (VaDE-pytorch's ``Loss += ...; Loss -= ...``)
_KL_IN_PARTS = "0.5 * torch.sum(logvar.exp() + mu.pow(2)) - 0.5 * torch.sum(1 + logvar)"


def _model(std: str, kl: str = _LOGVAR_KL) -> str:
    return fill(_MODEL, std=std, kl=kl)


# the scale head's own activation, the head read as a log-variance by the sampler and the KL
_HEAD_MODEL = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self, latent=4):
        super().__init__()
        self.body = nn.Linear(20, 16)
        self.mu, self.lv = nn.Linear(16, latent), nn.Linear(16, latent)
        self.dec = nn.Linear(latent, 20)

    def forward(self, x):
        h = torch.relu(self.body(x))
        mu, logvar = self.mu(h), {HEAD}  # <- finding
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(z)), mu, logvar


def loss_function(recon, x, mu, logvar):
    rec = F.binary_cross_entropy(recon, x, reduction="sum")
    return rec - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
"""


def _head(head: str) -> str:
    return fill(_HEAD_MODEL, head=head)


class StdLogvarMismatch(Rule):
    code = "VAE008"
    fix_availability = FixAvailability.SOMETIMES
    name = "std-logvar-mismatch"
    severity = Severity.ERROR
    needs = (Need.LOSS, Need.REPARAM, Need.KL_TERM, Need.CLEAN_RUN)
    summary = "The sampler and the KL read the encoder's scale output differently."
    what = """
The encoder's second head may be a log-variance, a log-std, a std or a
variance, but the sampler and the KL term must agree on which. vaelint finds
the sampler's reading from the run (``std`` equals ``exp(0.5 * h)``, ``exp(h)``,
``h`` or ``sqrt(h)``) and the KL term's reading from its values, and reports a
disagreement: ``std = torch.exp(logvar)`` with the log-variance KL formula is
the common one. A head both read as a log-scale but made by an activation that is
never negative (``logvar = F.softplus(self.fc_logvar(h))``, ``relu``, ``sigmoid``)
is reported too: every std is then at least 1.
"""
    why = """
The KL then regularises a distribution other than the one the decoder is
trained on: with ``std = exp(logvar)`` and the log-variance KL, the sampled
noise is the square of what the KL term assumes, and the posterior widths
learnt are wrong by that power.
"""
    example = """
std = torch.exp(logvar)                                       # log-std reading
kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())  # log-variance reading
"""
    fix = """
Pick one reading for both: a log-variance head with ``std = torch.exp(0.5 *
logvar)`` and the KL above, or a log-std head with ``std = torch.exp(logstd)``
and ``kl = torch.sum(0.5 * (mu**2 + std**2) - logstd - 0.5)``.
"""
    VALID = [
        Example(_model("torch.exp(0.5 * logvar)"), inputs=("6x20",)),
        Example(_model("torch.exp(logvar)", "torch.sum(0.5 * (mu.pow(2) + logvar.exp().pow(2)) - logvar - 0.5)"), inputs=("6x20",)),
        Example(_model("torch.exp(0.5 * logvar)", _KL_IN_PARTS), inputs=("6x20",)),
        # a log-variance head left unconstrained, or clamped for stability: negative where it must be
        Example(_head("self.lv(h)"), inputs=("6x20",)),
        Example(_head("torch.clamp(self.lv(h), -8.0, 8.0)"), inputs=("6x20",)),
    ]
    INVALID = [
        # a std's activation on a log-variance head: every std at least 1
        Example(_head("F.softplus(self.lv(h))"), inputs=("6x20",), at="finding", message="never negative"),
        Example(_head("torch.relu(self.lv(h))"), inputs=("6x20",), at="finding", message="made by relu"),
        Example(_model("torch.exp(logvar)"), inputs=("6x20",), at="finding", message="log-std", fixed=_model("torch.exp(0.5 * logvar)")),
        Example(_model("logvar.exp().sqrt().pow(2)"), inputs=("6x20",), at="finding", message="log-variance"),
        Example(
            _model("torch.exp(logvar)", _KL_IN_PARTS),
            inputs=("6x20",),
            at="finding",
            message="log-std",
            fixed=_model("torch.exp(0.5 * logvar)", _KL_IN_PARTS),
        ),
    ]

    def check(self, ctx):
        reading = kl_reading(ctx)
        if reading is None:
            raise SkipRule(why_no_kl_reading(ctx))
        if reading.undecided:
            raise SkipRule(reading.undecided)
        yield from self._log_scale_never_negative(ctx, reading)
        if reading.sampler is None or reading.kl is None or reading.kl == reading.sampler:
            return
        loc = loc_of(reading.element) or loc_of(reading.node)
        yield self.report(ReadingsDiffer(reading.sampler, READINGS[reading.sampler][1], reading.kl), loc, node=reading.node)

    def _log_scale_never_negative(self, ctx, reading):
        """A head both the sampler and the KL read as a log-scale, made by an activation that is
        never negative (``logvar = F.softplus(fc(h))``): std = exp(0.5 * logvar) >= 1 always, so no
        posterior is ever narrower than the prior."""
        layer = ctx.roles.reparam
        if layer is None or reading.sampler not in _LOG_READINGS or reading.kl not in (None, reading.sampler):
            return
        head = _below_views(ctx, layer.logvar)
        op = ctx.view.op(head) if head is not None else None
        if op in _NEVER_NEGATIVE:
            yield self.report(LogScaleNeverNegative(op, reading.sampler, _at(head)), loc_of(head) or loc_of(layer.logvar), node=head)

    def autofix(self, finding, ctx):
        """The sampler reads a log-variance head as a log-std (``std = torch.exp(logvar)``)
        while the KL reads it as a log-variance: ``torch.exp(0.5 * logvar)``."""
        from vaelint.fixes.edits import SAFE, Fix
        from vaelint.fixes.source import expr_at, is_plain_reference

        reading = kl_reading(ctx)
        layer = ctx.roles.reparam
        if reading is None or layer is None or (reading.sampler, reading.kl) != ("log-std", "log-variance"):
            return None
        if ctx.view.op(layer.std) != "exp" or not layer.std.args or layer.std.args[0] is not layer.logvar:
            return None
        call = expr_at(loc_of(layer.std))
        if call is None or not call.is_call:
            return None
        operand = call.receiver() if call.callee() and call.callee().startswith(".") else (call.positional() or [None])[0]
        if operand is None:
            return None
        text = call.code(operand)
        half = f"0.5 * {text}" if call.positional() and operand is call.positional()[0] else f"(0.5 * {text})"
        if not is_plain_reference(call, operand):
            half = f"0.5 * ({text})" if half.startswith("0.5") else f"(0.5 * ({text}))"
        return Fix(f"std from a log-variance: {call.code(call.node).replace(text, half, 1)}", (call.replace(half, operand),), SAFE)

    def confirm(self, finding, ctx, observed):
        if observed.result is None:
            return None
        if isinstance(finding.observed, LogScaleNeverNegative):
            layer = ctx.roles.reparam
            (std,) = ctx.values(layer.std, run=observed.result) if layer is not None else (None,)
            return None if std is None else bool(std.detach().min() >= 1 - 1e-6)  # every std at least 1
        again = kl_reading(ctx, observed.result)
        if again is None or again.sampler is None or again.kl is None:
            return None
        return again.kl != again.sampler


@dataclass
class ReadingsDiffer(Observed):
    """The sampler's and the KL's readings of the scale head (vaelint/facts/klcheck.py)."""

    sampler: str  # "log-variance", "log-std", "std", ...
    sampler_formula: str  # how the sampler turns the head into std
    kl: str

    def message(self) -> str:
        return (
            f"the sampler reads the encoder's scale head as a {self.sampler} ({self.sampler_formula}) but the KL "
            f"term treats it as a {self.kl}: the KL regularises a different distribution from the one the "
            "decoder is trained on."
        )

    def fix(self) -> str:
        return (
            "use one reading in both places: for a log-variance head, std = torch.exp(0.5 * logvar) with "
            "kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())"
        )


# readings of the scale head as a logarithm: negative where the posterior is narrower than N(0, 1)
_LOG_READINGS = ("log-variance", "log-std")
# activations whose output is never negative: a std's or a variance's, not a log's
_NEVER_NEGATIVE = {"softplus", "relu", "relu6", "sigmoid", "abs", "exp", "square", "elu_plus_one"}
_VIEWS = {"view", "reshape", "flatten", "squeeze", "unsqueeze", "getitem", "chunk", "split", "contiguous", "clone"}


def _below_views(ctx, node):
    """The op that made ``node``, through views and the pieces of a split head."""
    seen = 0
    while node is not None and ctx.view.op(node) in _VIEWS and node.args and seen < 10:
        node, seen = node.args[0] if hasattr(node.args[0], "op") else None, seen + 1
    return node


def _at(node) -> str:
    loc = loc_of(node) if node is not None else None
    return f" at {loc.where()}" if loc else ""


@dataclass
class LogScaleNeverNegative(Observed):
    """The head read as a log-scale comes out of an activation that is never negative."""

    op: str  # softplus, relu, sigmoid, ...
    reading: str  # "log-variance" or "log-std"
    at: str

    def message(self) -> str:
        half = "0.5 * " if self.reading == "log-variance" else ""
        return (
            f"the encoder's scale head is made by {self.op}{self.at}, which is never negative, but it is read as a "
            f"{self.reading}: std = exp({half}head) is at least 1 for every sample, so no posterior is ever narrower "
            "than the N(0, 1) prior."
        )

    def fix(self) -> str:
        return (
            f"drop the {self.op} (a {self.reading} is unconstrained: logvar = self.fc_logvar(h)), or keep it and read "
            "the head as the std (or variance) it then is: std = head, with the KL written for a std"
        )
