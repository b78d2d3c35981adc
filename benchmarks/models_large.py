"""Large, untrained VAEs for the memory benchmark (built on demand, never in tests)."""

import torch
import torch.nn as nn
import torch.nn.functional as F


class WideMLPVAE(nn.Module):
    """8192 -> 16384 -> 128 -> 16384 -> 8192: about 2.7e8 parameters."""

    def __init__(self, dim=8192, hidden=16384, latent=128):
        super().__init__()
        self.enc = nn.Linear(dim, hidden)
        self.mu = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent)
        self.dec1 = nn.Linear(latent, hidden)
        self.dec2 = nn.Linear(hidden, dim)

    def forward(self, x):
        h = F.relu(self.enc(x))
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec2(F.relu(self.dec1(z)))), mu, logvar


def loss_function(recon, x, mu, logvar):
    rec = F.binary_cross_entropy(recon, x, reduction="sum")
    return rec - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
