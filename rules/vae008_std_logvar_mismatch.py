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
the common one.
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
    ]
    INVALID = [
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
        if reading.sampler is None or reading.kl is None or reading.kl == reading.sampler:
            return
        loc = loc_of(reading.element) or loc_of(reading.node)
        yield self.report(ReadingsDiffer(reading.sampler, READINGS[reading.sampler][1], reading.kl), loc, node=reading.node)

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
