"""VAE001 noise-shape: the noise that multiplies std is not shaped like std."""

from __future__ import annotations

import math
from dataclasses import dataclass

from vaelint.facts.context import loc_of
from vaelint.rulebase import Example, Observed, Rule, fill
from vaelint.vocab import FixAvailability, Need, Severity

_MODEL = """import torch
import torch.nn as nn


class VAE(nn.Module):
    def __init__(self, latent_dim=8):
        super().__init__()
        self.latent_dim = latent_dim
        self.enc = nn.Linear(784, 2 * latent_dim)
        self.dec = nn.Linear(latent_dim, 784)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        std = torch.exp(0.5 * logvar)
        eps = {NOISE}  # <- finding
        z = mu + eps * std
        return torch.sigmoid(self.dec(z)), mu, logvar
"""


def _model(noise: str) -> str:
    return fill(_MODEL, noise=noise)


# a full-covariance posterior: mu + L @ eps with L a Cholesky factor (B x Z x Z); one draw a
# latent dim is Z numbers a sample, not Z x Z
_FULL = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self, latent_dim=4):
        super().__init__()
        self.latent_dim = latent_dim
        self.enc = nn.Linear(784, latent_dim + latent_dim * latent_dim)
        self.dec = nn.Linear(latent_dim, 784)

    def forward(self, x):
        z_dim = self.latent_dim
        h = self.enc(x)
        mu, raw = h[:, :z_dim], h[:, z_dim:].view(-1, z_dim, z_dim)
        L = torch.tril(raw, -1) + torch.diag_embed(F.softplus(torch.diagonal(raw, dim1=1, dim2=2)))
        eps = {NOISE}  # <- finding
        z = mu + torch.matmul(L, eps.unsqueeze(-1)).squeeze(-1)
        return torch.sigmoid(self.dec(z)), mu, L
"""


# k importance samples drawn at once (an IWAE's k x B x Z): the noise keeps its sample dim
_SAMPLES = """import torch
import torch.nn as nn


class VAE(nn.Module):
    def __init__(self, latent_dim=8, k=5):
        super().__init__()
        self.latent_dim, self.k = latent_dim, k
        self.enc = nn.Linear(784, 2 * latent_dim)
        self.dec = nn.Linear(latent_dim, 784)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        std = torch.exp(0.5 * logvar)
        eps = {NOISE}  # <- finding
        z = mu + eps * std
        return torch.sigmoid(self.dec(z)), mu, logvar
"""


class NoiseShape(Rule):
    code = "VAE001"
    fix_availability = FixAvailability.SOMETIMES
    name = "noise-shape"
    severity = Severity.ERROR
    needs = (Need.REPARAM, Need.CLEAN_RUN)
    summary = "The noise multiplied with the standard deviation does not have its shape."
    what = """
In the reparameterization ``z = mu + eps * std`` the noise ``eps`` must hold one
independent draw per sample and latent dim: the shape of ``std`` (B x Z).
vaelint finds the product in the graph (one factor depends on a random op, the
other does not) and compares the noise as drawn with std: ``torch.randn(Z)``,
``torch.randn(1, Z)`` or ``torch.randn(std.shape[1:])`` give one draw that
broadcasting shares across the whole batch; ``torch.randn(B, 1)`` shares one
draw across the latent dims.
"""
    why = """
Nothing fails: broadcasting stretches the single draw over the batch, the loss
looks normal, and every sample of a batch gets the same perturbation. The
gradient estimate of the ELBO is then correlated across the batch and the
encoder's variance is learned from one draw per step.
"""
    example = """
std = torch.exp(0.5 * logvar)          # B x Z
eps = torch.randn(self.latent_dim)     # Z: one draw for the whole batch
z = mu + eps * std
"""
    fix = """
Draw the noise with std's shape: ``eps = torch.randn_like(std)`` (also right on
the GPU and in half precision).
"""
    VALID = [
        Example(_model("torch.randn_like(std)")),
        Example(_model("torch.randn(std.shape, device=std.device)")),
        Example(_model("torch.randn(mu.size(0), self.latent_dim, device=mu.device)")),
        Example(_model("torch.randn(*std.size(), device=std.device)")),
        Example(_model("torch.empty_like(std).normal_()")),
        Example(fill(_FULL, noise="torch.randn_like(mu)")),
        Example(fill(_SAMPLES, noise="torch.randn(self.k, *std.shape, device=std.device)")),
    ]
    INVALID = [
        Example(
            fill(_FULL, noise="torch.randn(1, z_dim)"),
            at="finding",
            message="one draw is shared by all 4 samples",
            fixed=fill(_FULL, noise="torch.randn_like(mu)"),
        ),
        Example(
            _model("torch.randn(self.latent_dim)"),
            at="finding",
            message="one draw is shared by all 4 samples",
            fixed=_model("torch.randn_like(std)"),
        ),
        Example(_model("torch.randn(1, self.latent_dim)"), at="finding", message="1 x Z", fixed=_model("torch.randn_like(std)")),
        Example(_model("torch.randn(std.shape[1:])"), at="finding", fixed=_model("torch.randn_like(std)")),
        Example(_model("torch.randn(mu.size(0), 1)"), at="finding", message="latent dims", fixed=_model("torch.randn_like(std)")),
        # the k samples stay (randn_like(std) would drop them): the batch is what the draw lacks
        Example(
            fill(_SAMPLES, noise="torch.randn(self.k, 1, self.latent_dim)"),
            at="finding",
            fixed=fill(_SAMPLES, noise="torch.randn(self.k, *std.shape, device=std.device, dtype=std.dtype)"),
        ),
    ]

    def check(self, ctx):
        for r in ctx.roles.reparams:  # every stochastic layer
            yield from self._check_layer(ctx, r)

    def _check_layer(self, ctx, r):
        noise, std = ctx.shape(r.noise), ctx.shape(r.std)
        if noise is None or std is None or noise.sizes is None or std.sizes is None:
            return
        if noise.dims is None or std.dims is None:
            return  # not solved at several batch sizes: VAE005 looks at pinned sizes
        std_batch = any(d.batch_dependent for d in std.dims)
        noise_batch = any(d.batch_dependent for d in noise.dims)
        pairs = zip(reversed(noise.dims), reversed(std.dims))
        if any(s.batch_dependent and not n.batch_dependent and n.const == ctx.batch for n, s in pairs):
            return  # the batch written down as a number (randn(64, Z)): VAE005
        noise_t, std_t = ctx.shape_text(r.noise), ctx.shape_text(r.std)
        mu = ctx.shape(r.mu)
        # mu + L @ eps with a full scale matrix: one draw a latent dim is L's rows' worth, not its entries
        drawn = (
            math.prod(std.sizes[:-1])
            if r.matrix and mu is not None and mu.sizes is not None and len(std.sizes) == len(mu.sizes) + 1
            else math.prod(std.sizes)
        )
        if std_batch and not noise_batch:
            shared = f"one draw is shared by all {ctx.batch} samples of the batch"
        elif math.prod(noise.sizes) < drawn:
            shared = "each sample's one draw is shared across its latent dims"
        else:
            return
        yield self.report(NoiseSeen(noise_t, std_t, shared), loc_of(r.noise), node=r.product)

    def autofix(self, finding, ctx):
        """``eps = torch.randn(Z)`` -> ``eps = torch.randn_like(std)``, std as the product names it."""
        from vaelint.fixes.rewrites import noise_like_std

        layer = next((r for r in ctx.roles.reparams if r.product is finding.node), None)
        return noise_like_std(ctx, layer) if layer is not None else None

    def confirm(self, finding, ctx, observed):
        """Recover each sample's noise from the real run, (z - mu) / std, and
        see whether the rows (or the latent dims) are identical."""
        r = next((r for r in ctx.roles.reparams if r.product is finding.node), None)
        if r is None or observed.result is None:
            return None
        t = observed.result.tensors
        z, mu, std = t.get(r.z), t.get(r.mu), t.get(r.std)
        if z is None or mu is None or std is None or mu.dim() < 2 or z.dim() < mu.dim() or z.shape[-mu.dim() :] != mu.shape:
            return None
        eps = ((z - mu) / std.expand_as(z)).detach().float().cpu()
        b = z.dim() - mu.dim()  # the batch's dim: after the samples' of k x B x Z
        same_rows = bool((eps - eps.narrow(b, 0, 1)).abs().max() < 1e-4)
        same_cols = bool((eps - eps.narrow(-1, 0, 1)).abs().max() < 1e-4)
        return same_rows or same_cols


@dataclass
class NoiseSeen(Observed):
    """The noise as drawn beside the std it multiplies, both as ``B x Z (32 x 16)``."""

    noise: str
    std: str
    shared: str  # what the draw is shared by

    def message(self) -> str:
        return f"the noise has shape {self.noise} but std has {self.std}: {self.shared}."

    def fix(self) -> str:
        return "eps = torch.randn_like(std)"
