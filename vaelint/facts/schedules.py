"""Is a KL term's weight one of the step's schedules (an annealed KL weight)?

A training step that anneals its KL weight (``loss = rec + kl_weight * kl``
with ``kl_weight`` computed from the step counter) is checked at one step,
where the weight has one value; the front end read the schedule behind it
(:class:`vaelint.frontends.base.Schedule`). beta_eff and VAE004 read the
weight through here: a schedule that settles on the declared beta is no
finding, and the report shows where it starts and where it goes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from vaelint.facts.weightsource import handed_expression
from vaelint.source.facts import line_text


@dataclass
class ScheduledWeight:
    schedule: object  # vaelint.frontends.base.Schedule
    rest: float  # the KL term's other constant factors, the formula's own normalised away

    @property
    def limit(self) -> float | None:
        limit = self.schedule.limit
        return None if limit is None else abs(limit * self.rest)

    @property
    def peak(self) -> float:
        """A cyclical weight's top, as the KL term is weighed there."""
        return abs(self.schedule.peak * self.rest)

    @property
    def top(self) -> float | None:
        """Where a cyclical weight peaks each cycle (None: it is no cyclical one)."""
        return self.peak if self.schedule.cycling else None

    def reaches(self, beta: float) -> bool:
        """Does it settle on ``beta``, or (a cyclical anneal, Fu et al.) reach it each cycle? Within
        2%: a schedule read where its loop ends, or at the last step of a cycle, stops just short of
        its top (a cosine cycle of 20 epochs is 0.994 at its 20th), which is no other beta."""
        end = self.top if self.top is not None else self.limit
        return end is not None and math.isclose(end, beta, rel_tol=0.02)


def scheduled_weight(ctx, kl_scale) -> ScheduledWeight | None:
    """The schedule one of the KL term's constant factors is, if any: its line
    names the schedule's variable and the factor has the schedule's value at
    the step run."""
    schedules = getattr(ctx.program, "schedules", None) or []
    if not schedules:
        return None
    consts = [f for f in kl_scale.factors if f.kind == "const"]
    for factor in consts:
        loc = factor.loc
        text = line_text(loc.path, loc.line) if loc else ""
        if loc is not None:
            # a weight the step hands the loss (model.loss(x, kl_weight=warm)): the caller's expression names it
            text = f"{text}\n{handed_expression(factor, text)}"
        for s in schedules:
            if getattr(s, "values_from", None) is not None and re.search(rf"\b{re.escape(s.name)}\b", text):
                s = s.from_value(factor.value)  # an accumulating weight: it goes on from what the run saw
            # by its name on the factor's line, or written on that line itself (an inline weight)
            named = re.search(rf"\b{re.escape(s.name)}\b", text) or (
                loc is not None and s.loc is not None and (s.loc.path, s.loc.line) == (loc.path, loc.line)
            )
            # `- beta * kl`: the run folds the minus into the factor; the sign is the KL's (VAE007's), the weight the schedule's
            if named and math.isclose(abs(factor.value), abs(s.now), rel_tol=1e-6, abs_tol=1e-12):
                rest = math.prod(f.value for f in consts if f is not factor) * kl_scale.normalization
                return ScheduledWeight(s, rest)
    return None
