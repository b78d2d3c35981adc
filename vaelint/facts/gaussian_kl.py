"""The Gaussian KL element, read to within its rounding error.

Several readings compare the model's KL element (the tensor its KL term
reduces) with the closed form ``0.5 * (mu^2 + sigma^2 - 1 - log sigma^2)``
and ask for the constant ratio between them: 1 for a textbook KL, -1 for a
flipped sign, no constant at all for a formula that is no KL.

That question is ill-posed on the values a float32 run computed. An untrained
encoder gives ``|mu|, |logvar|`` around 1e-3, where ``1 + logvar - mu**2 -
exp(logvar)`` cancels down to about 1e-6 and keeps a relative error of a few
percent (up to 160% measured) against the exact value. So the reading here
never divides the run's float32 element by anything:

1. **Replay in float64.** The part of the captured graph between the encoder's
   heads (mean and scale head) and the KL element is evaluated again, node by
   node, in float64 from the run's own head values (exact when widened). That
   is the user's formula, spelled however they spelled it, without float32
   rounding.
2. **A cancellation-free closed form.** ``sigma^2 - 1 - log sigma^2`` is
   ``expm1(L) - L`` with ``L = log sigma^2``, accurate to float64 precision
   even where ``L`` is 1e-12.
3. **An error bound, not a fixed tolerance.** Each element is compared within
   ``rtol`` plus a bound on its rounding error (``K * eps * M``, ``M`` the
   magnitude of the terms a Gaussian KL adds up). When the graph cannot be
   replayed, the run's own element is used with its dtype's ``eps``; when no
   element then carries enough signal, the answer is "cannot tell", never
   "not a KL".
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Callable

import torch
import torch.fx as fx
from jaxtyping import Float
from torch import Tensor

from vaelint.facts.klreplay import replay


def _shape_checked(fn):
    """``jaxtyped(typechecker=beartype)`` where the annotations are checked: under the
    test suite (VAELINT_CHECK_SHAPES=1, tests/conftest.py), as jaxtyping advises for a
    library's own code. A check does not pay beartype's import (about 0.07 s) for it."""
    if not os.environ.get("VAELINT_CHECK_SHAPES"):
        return fn
    from beartype import beartype
    from jaxtyping import jaxtyped

    return jaxtyped(typechecker=beartype)(fn)


RTOL = 1e-3  # how close to a constant multiple the element must be
_K = 16  # rounding-error bound, in units of eps times the terms' magnitude
STABILISER = 1e-5  # log(1e-8 + std**2): what a std read inside a stabilised log may be shifted by


@_shape_checked
def closed_form(mu: Float[Tensor, "*shape"], log_var: Float[Tensor, "*shape"]) -> Float[Tensor, "*shape"]:
    """Elementwise KL(N(mu, sigma^2) || N(0, 1)) from ``log sigma^2``, without cancellation."""
    return 0.5 * (mu.pow(2) + torch.expm1(log_var) - log_var)


def log_var_of_std(std: Tensor) -> Tensor:
    """``log sigma^2`` of a standard deviation (float64)."""
    return 2 * torch.log(std.abs().clamp_min(1e-300))


# How a scale head h can define log sigma^2 (the readings of the sampler and the KL).
LOG_VAR_READINGS: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor], str]] = {
    "log-variance": (lambda h: h, lambda h: torch.exp(0.5 * h), "std = exp(0.5 * logvar)"),
    "log-std": (lambda h: 2 * h, lambda h: torch.exp(h), "std = exp(logvar)"),
    "std": (lambda h: log_var_of_std(h), lambda h: h, "std = the head itself"),
    "variance": (lambda h: torch.log(h.clamp_min(1e-300)), lambda h: torch.sqrt(h.clamp_min(0)), "std = sqrt(the head)"),
}


def sampler_reading(h: Tensor, std: Tensor) -> str | None:
    """The first of LOG_VAR_READINGS by which the sampler makes ``std`` of the scale head ``h``; None."""
    for name, (_log_var, to_std, _text) in LOG_VAR_READINGS.items():
        try:
            if torch.allclose(to_std(h).double(), std.double().expand_as(h), rtol=1e-4, atol=1e-6):
                return name
        except RuntimeError:
            continue
    return None


def magnitude(mu: Tensor, log_var: Tensor) -> Tensor:
    """The size of the terms a Gaussian KL element adds up (1, log sigma^2, mu^2, sigma^2):
    the scale of its rounding error, whatever the spelling."""
    return 1 + mu.pow(2) + log_var.abs() + torch.exp(log_var.clamp(max=700))


@dataclass(frozen=True)
class Ratio:
    """``element / closed form``: a constant ``value``, or none (``decided`` says
    whether that is known: False when rounding hides the answer)."""

    value: float | None
    decided: bool

    @property
    def constant(self) -> bool:
        # a run whose values overflowed (a flow's exp(s) at inf) gives no number to read
        return self.value is not None and math.isfinite(self.value)


UNKNOWN = Ratio(None, False)
NOT_CONSTANT = Ratio(None, True)


def ratio(element: Tensor, reference: Tensor, error: Tensor, rtol: float = RTOL) -> Ratio:
    """Is ``element`` a constant multiple of ``reference`` within ``rtol`` plus each
    element's absolute ``error`` bound? All three float64, one shape (else: not decided)."""
    if element.shape != reference.shape or not _fits(error.shape, element.shape):
        return UNKNOWN  # a B x 1 element beside B heads: no element-by-element reading
    signal = (reference.abs() > 0) & (error <= 0.1 * rtol * element.abs())
    if int(signal.sum()) == 0:
        # nothing is known well enough to fix the constant; an element that is
        # clearly non-zero where the closed form is exactly zero still decides
        if bool(((reference == 0) & (element.abs() > error)).any()):
            return NOT_CONSTANT
        return UNKNOWN
    c = float((element[signal] / reference[signal]).median())
    if c == 0 or not math.isfinite(c):
        return NOT_CONSTANT
    ref_error = 8 * torch.finfo(torch.float64).eps * reference.abs()
    # the error bounds are the reference's (a stabiliser's shift of log std^2, its rounding): an element
    # that is c times the reference carries them c times (a KL with its 1/2 missing and 1e-6 in its log)
    allowed = rtol * (c * reference).abs() + max(1.0, abs(c)) * error + abs(c) * ref_error
    if bool(((element - c * reference).abs() > allowed).any()):
        return NOT_CONSTANT
    return Ratio(c, True)


def _fits(shape, into) -> bool:
    try:
        return torch.broadcast_shapes(shape, into) == into
    except RuntimeError:
        return False


def rounding_error(dtype: torch.dtype, mu: Tensor, log_var: Tensor) -> Tensor:
    """A bound on the absolute rounding error of a KL element computed in ``dtype``."""
    eps = torch.finfo(dtype).eps if dtype.is_floating_point else torch.finfo(torch.float64).eps
    return _K * eps * magnitude(mu, log_var)


def _kept(shape) -> list[int]:
    """A shape's sizes without its dims of 1."""
    return [d for d in shape if d != 1]


def _as_the_heads(value, heads: Tensor) -> Tensor | None:
    """``value`` (the sampler's std, its sample) in the heads' shape, in float64: as it is, or with
    the dims of 1 dropped that a sampler adds for its samples (sqrt(var.unsqueeze(1)), one sample
    B x 1 x Z beside B x Z heads); None when it is not of their shape."""
    if not isinstance(value, Tensor) or value.numel() != heads.numel():
        return None
    if value.shape != heads.shape and [d for d in value.shape if d != 1] != [d for d in heads.shape if d != 1]:
        return None
    return value.detach().double().cpu().reshape(heads.shape)


class KLElement:
    """The model's KL element as a function of the encoder's heads.

    ``at(mu, head)`` replays the user's formula in float64 on any head values
    (None when the graph cannot be replayed); ``ratio_to(reading)`` compares it
    with the closed form on the run's values, and where those are too close to
    zero for any reading to tell (an untrained encoder at 1e-6), on values
    spread around them, since the question is about the formula, not the point.
    """

    def __init__(
        self,
        capture,
        run,
        element: fx.Node,
        mu: fx.Node,
        head: fx.Node,
        std: fx.Node | None,
        z: fx.Node | None = None,
        freeze_sample: bool = False,
        std_of_head: Callable[[Tensor], Tensor] | None = None,
    ):
        self.capture, self.run = capture, run
        # where no node holds the std (heads stacked over time steps, vaelint/facts/stackedheads.py),
        # the std made of the scale head as the sampler makes it
        self.std_of_head = std_of_head
        self.nodes = (element, mu, head, std, z)
        # hold the sample at the run's value while the heads move: a prior computed
        # from it (p(z1 | z2), z2 drawn from z1) then stays the prior it was
        self.freeze_sample = freeze_sample and z is not None
        t = run.tensors
        e, m, h = t.get(element), t.get(mu), t.get(head)
        full = summed = False
        if e is not None and m is not None and h is not None and h.shape == m.shape:
            # the element of the heads as they are, or of the heads with their dims of 1 dropped (an
            # LSTM's (1, B, Z) state squeezed to B x Z before the KL); or already summed over Z
            full = e.shape == m.shape or (e.numel() == m.numel() and _kept(e.shape) == _kept(m.shape))
            # a spatial latent's element flattened per sample before its sum (kl.view(B, -1).sum(1))
            full = full or (e.dim() == 2 and m.dim() > 2 and e.shape[0] == m.shape[0] and e.numel() == m.numel())
            # the heads flattened whole before the loss (a forward returning mu.reshape(-1): OmniAnomaly ports)
            full = full or (e.dim() == 1 and m.dim() > 1 and e.numel() == m.numel())
            # latent groups folded into the rows ((B*L) x D heads), the element unfolded per sample (B x L*D)
            full = full or (e.dim() == 2 and m.dim() == 2 and e.numel() == m.numel() and m.shape[0] % e.shape[0] == 0)
            summed = m.dim() > 1 and (
                e.shape == m.shape[:-1] or (e.numel() * m.shape[-1] == m.numel() and _kept(e.shape) == _kept(m.shape[:-1]))
            )
        self.valid = full or summed
        self.prior_offset = 0.0  # ratio_to_some_prior's constant beside the KL, per element
        self.prior_fit = None  # and its prior's (1 / variance, mean) per element, where it fits one
        if not self.valid:
            return
        # log q(z).sum(-1) - log p(z).sum(-1): an element already summed over the latent dim
        self.summed = not full
        plain = e.shape == m.shape or e.shape == m.shape[:-1]
        # the heads laid out as the element reads them (None: as they are)
        self.layout = None if plain else (tuple(e.shape) if full else (*e.shape, m.shape[-1]))
        self.shape = e.shape
        self.dtype = e.dtype
        self.mu, self.head = m.detach().double().cpu(), h.detach().double().cpu()
        self.std = _as_the_heads(t.get(std) if std is not None else None, m)
        if self.std is None and std_of_head is not None:
            self.std = std_of_head(self.head)
        self.z = _as_the_heads(t.get(z) if z is not None else None, m)
        replayed = self.at(self.mu, self.head)
        self.replayable = replayed is not None
        if replayed is not None:
            self.element, std, z_again, self.precision = replayed
            self.std = std if std is not None else self.std
            self.z = z_again if z_again is not None else self.z
        else:
            self.element, self.precision = e.detach().double().cpu(), self.dtype

    def at(self, mu: Tensor, head: Tensor):
        """(element, std, z, precision) replayed from these head values, or None."""
        element, mu_node, head_node, std_node, z_node = self.nodes
        seeds = {mu_node: mu, head_node: head} if mu_node is not head_node else {mu_node: mu}
        fixed = {}
        if self.freeze_sample and isinstance(self.run.tensors.get(z_node), Tensor):
            fixed[z_node] = self.run.tensors[z_node].detach().cpu()
        extra = [n for n in (std_node, z_node) if n is not None and n not in fixed]
        done = replay(self.capture.graph, self.capture.modules, [element] + extra, seeds, self.run, fixed)
        got = done.values if done is not None else {}
        if not isinstance(got.get(element), Tensor) or got[element].shape != self.shape:
            return None

        def same_shape(node):
            v = got.get(node) if node is not None else None
            return v if isinstance(v, Tensor) and v.shape == mu.shape else None

        std = same_shape(std_node) if std_node is not None or self.std_of_head is None else self.std_of_head(head)
        return got[element], std, same_shape(z_node), done.dtype

    def ratio_to(self, reading: str | None) -> Ratio:
        """The element / the Gaussian KL when the head is read as ``reading``
        (None: as the sampler's own std, recomputed from the head; "monte-carlo":
        the element / ``log q(z) - log p(z)`` of the run's own sample; "entropy": the element /
        ``-H[q] - log p(z)``, q's entropy in closed form)."""
        if not self.valid:
            return UNKNOWN
        found = self._ratio(self.element, self.mu, self.head, self.std, self.z, reading, self.precision)
        # one number (a batch of one sample summed over Z): any ratio of it is "constant", so a second
        # point must agree (an MMD of one sample read as a Monte Carlo KL: a false VAE002/VAE004)
        single = self.element.numel() == 1 and reading in ("monte-carlo", "entropy")
        if (found.decided and not single) or not self.replayable:
            return UNKNOWN if single else found
        g = torch.Generator().manual_seed(0)
        mu = self.mu + torch.randn(self.mu.shape, generator=g, dtype=torch.float64)
        spread = torch.randn(self.head.shape, generator=g, dtype=torch.float64) * 0.5
        positive = bool((self.head > 0).all())
        head = (
            self.head * torch.exp(spread)
            if positive and reading in (None, "std", "variance", "monte-carlo", "entropy")
            else self.head + spread
        )
        again = self.at(mu, head)
        if again is None:
            return UNKNOWN if single else found
        second = self._ratio(again[0], mu, head, again[1], again[2], reading, again[3])
        if single:
            agree = found.constant and second.constant and math.isclose(found.value, second.value, rel_tol=1e-3)
            return second if agree else NOT_CONSTANT if found.decided and second.decided else UNKNOWN
        return second

    def ratio_to_some_prior(self) -> Ratio:
        """The element / ``KL(N(mu, std^2) || N(m, s^2))`` for a Gaussian prior that
        the heads do not move (a learned or conditional prior: the upper layers of
        a ladder VAE), whatever ``m`` and ``s`` are per element.

        Such an element is ``0.5 * k * (A e^L + A (mu - b)^2 - 1 - L - log A)`` in
        ``mu`` and ``L = log std^2`` with ``A = 1/s^2 > 0`` and ``b = m``: replayed at
        five head values around the run's, the curvature in ``mu`` gives ``k*A``,
        the slope in ``L`` gives ``k``, and the other points must agree; ``k`` must
        be one constant for every element.
        """
        if not self.valid or not self.replayable or self.summed:
            return UNKNOWN
        d = 0.5
        points = [
            (self.mu, self.head),
            (self.mu + d, self.head),
            (self.mu - d, self.head),
            (self.mu, self._spread(self.head, 0.4)),
            (self.mu + 0.3, self._spread(self.head, -0.3)),
        ]
        got = [self.at(m, h) for m, h in points]
        if any(g is None or g[1] is None for g in got):
            return UNKNOWN
        e = [g[0] for g in got]
        # the heads laid out as the element reads them (a bmm's B x Z x 1 of B x Z heads)
        lay = (lambda t: t.reshape(self.layout)) if self.layout is not None else (lambda t: t)
        lv = [lay(log_var_of_std(g[1])) for g in got]
        if any(torch.finfo(g[3]).eps > torch.finfo(torch.float64).eps for g in got):
            return UNKNOWN  # the formula computes in lower precision: differences would be noise
        c2 = (e[1] + e[2] - 2 * e[0]) / d**2
        dl = lv[3] - lv[0]
        if bool((dl.abs() < 1e-6).any()) or bool((c2 == 0).any()):
            return UNKNOWN
        k = (c2 * (lv[3].exp() - lv[0].exp()) - 2 * (e[3] - e[0])) / dl
        a = c2 / k
        if not bool(torch.isfinite(a).all()) or bool((a <= 0).any()):
            return NOT_CONSTANT
        b = lay(self.mu) - (e[1] - e[2]) / (2 * d * c2)

        def predicted(mu, log_var):
            return 0.5 * k * (a * log_var.exp() + a * (mu - b).pow(2) - 1 - log_var - a.log())

        # a constant beside it, the same for every element (``- K`` written where ``- 1`` belongs):
        # the same gradients, a value off by that constant
        c = e[0] - predicted(lay(points[0][0]), lv[0])
        c_mid = float(c.median())
        tol = 1e-6 * (1 + e[0].abs() + k.abs())
        if bool(((c - c_mid).abs() > tol).any()):
            return NOT_CONSTANT
        if bool(((predicted(lay(points[4][0]), lv[4]) + c_mid - e[4]).abs() > 1e-6 * (1 + e[4].abs() + k.abs())).any()):
            return NOT_CONSTANT
        k_mid = float(k.median())
        if k_mid == 0 or bool(((k - k_mid).abs() > 1e-4 * abs(k_mid)).any()):
            return NOT_CONSTANT
        # per unit of the KL; one below what the fit can tell from rounding (the tolerance it held to) is none
        noise = 1e-6 * (1 + float(e[0].abs().median()) + abs(k_mid))
        self.prior_offset = c_mid / k_mid if abs(c_mid) > noise else 0.0
        self.prior_fit = (a, b)
        return Ratio(k_mid, True)

    def _spread(self, head: Tensor, amount: float) -> Tensor:
        """Head values moved by ``amount`` in log-variance terms, keeping a positive head positive."""
        return head * math.exp(amount) if bool((head > 0).all()) else head + amount

    def _ratio(self, element, mu, head, std, z, reading, precision: torch.dtype) -> Ratio:
        if self.layout is not None:
            mu, head, std, z = (t.reshape(self.layout) if t is not None else None for t in (mu, head, std, z))
        if reading in (None, "monte-carlo", "entropy"):
            if std is None:
                return UNKNOWN
            log_var = log_var_of_std(std)
        else:
            log_var = LOG_VAR_READINGS[reading][0](head)
        if not bool(torch.isfinite(log_var).all()):
            return UNKNOWN
        if reading in ("monte-carlo", "entropy"):
            if z is None:
                return UNKNOWN
            # log q(z) - log p(z) for q = N(mu, std^2), p = N(0, 1): the constants cancel; with q's
            # entropy in closed form, -H[q] - log p(z), eps^2 is its mean, 1
            eps = (z - mu) / std if reading == "monte-carlo" else torch.ones_like(z)
            reference = 0.5 * (z.pow(2) - eps.pow(2)) - 0.5 * log_var
            scale = 1 + z.pow(2) + eps.pow(2) + log_var.abs()
            eps_p = torch.finfo(precision).eps if precision.is_floating_point else torch.finfo(torch.float64).eps
            error = _K * eps_p * scale
        else:  # a std near 0 (a ReLU head) read in log(eps + std**2) may be off by the stabiliser's shift
            shift = 0.5 * torch.log1p(STABILISER / log_var.exp()) if reading in (None, "std", "variance") else 0
            error, reference = rounding_error(precision, mu, log_var) + shift, closed_form(mu, log_var.expand_as(mu))
        if self.summed:
            reference, error = reference.sum(-1), error.sum(-1)
        return ratio(element, reference, error)
