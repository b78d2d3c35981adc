"""Large, untrained VAEs for the memory benchmark (built on demand, never in tests)."""

import torch
import torch.nn as nn
import torch.nn.functional as F


def loss_function(recon, x, mu, logvar):
    rec = F.binary_cross_entropy(recon, x, reduction="sum")
    return rec - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


class MLPVAE(nn.Module):
    """dim -> hidden -> latent -> hidden -> dim, for the size ladder."""

    def __init__(self, dim=4096, hidden=1024, latent=128):
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


class WideMLPVAE(MLPVAE):
    """8192 -> 16384 -> 128 -> 16384 -> 8192: about 2.7e8 parameters (bench_memory.py)."""

    def __init__(self, dim=8192, hidden=16384, latent=128):
        super().__init__(dim, hidden, latent)


class ConvVAE(nn.Module):
    """3 x size x size images, four stride-2 convs each way, latent 128."""

    def __init__(self, size=64, latent=128, width=32):
        super().__init__()
        chans = [3, width, 2 * width, 4 * width, 8 * width]
        self.side = size // 16
        self.enc = nn.Sequential(*[layer for a, b in zip(chans, chans[1:]) for layer in (nn.Conv2d(a, b, 4, 2, 1), nn.ReLU())])
        flat = chans[-1] * self.side * self.side
        self.mu = nn.Linear(flat, latent)
        self.logvar = nn.Linear(flat, latent)
        self.dec_in = nn.Linear(latent, flat)
        rev = chans[::-1]
        layers = []
        for a, b in zip(rev, rev[1:]):
            layers += [nn.ConvTranspose2d(a, b, 4, 2, 1), nn.ReLU()]
        self.dec = nn.Sequential(*layers[:-1])
        self.top = chans[-1]

    def forward(self, x):
        h = self.enc(x).flatten(1)
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        d = self.dec_in(z).view(-1, self.top, self.side, self.side)
        return torch.sigmoid(self.dec(d)), mu, logvar


class _ResBlock(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(ch, ch, 3, padding=1), nn.BatchNorm2d(ch)
        self.conv2, self.bn2 = nn.Conv2d(ch, ch, 3, padding=1), nn.BatchNorm2d(ch)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(x + self.bn2(self.conv2(h)))


class ResVAE(nn.Module):
    """A residual conv VAE: blocks of conv-BN-ReLU at each end (8 each: about 140 graph
    nodes), 3 x size x size images, latent 128. Its check is mostly vaelint's own Python
    (trace, shapes, rules) on one core: what --jobs has to share out (bench_cache.py)."""

    def __init__(self, blocks=8, width=32, latent=128, size=64):
        super().__init__()
        self.stem = nn.Conv2d(3, width, 4, 2, 1)
        self.enc = nn.Sequential(*[_ResBlock(width) for _ in range(blocks)])
        self.down = nn.Conv2d(width, width, 4, 2, 1)
        self.width, self.side = width, size // 4
        flat = width * self.side * self.side
        self.mu = nn.Linear(flat, latent)
        self.logvar = nn.Linear(flat, latent)
        self.dec_in = nn.Linear(latent, flat)
        self.dec = nn.Sequential(*[_ResBlock(width) for _ in range(blocks)])
        self.up1 = nn.ConvTranspose2d(width, width, 4, 2, 1)
        self.up2 = nn.ConvTranspose2d(width, 3, 4, 2, 1)

    def forward(self, x):
        h = self.down(self.enc(F.relu(self.stem(x)))).flatten(1)
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        d = self.dec(self.dec_in(z).view(-1, self.width, self.side, self.side))
        return torch.sigmoid(self.up2(F.relu(self.up1(d)))), mu, logvar


class LSTMVAE(nn.Module):
    """A sequence VAE: LSTM encoder, z repeated over the steps, LSTM decoder."""

    def __init__(self, features=32, hidden=256, latent=64):
        super().__init__()
        self.encoder = nn.LSTM(features, hidden, batch_first=True)
        self.mu = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent)
        self.decoder = nn.LSTM(latent, hidden, batch_first=True)
        self.out = nn.Linear(hidden, features)

    def forward(self, x):
        _, (h, _) = self.encoder(x)
        mu, logvar = self.mu(h[-1]), self.logvar(h[-1])
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        steps = z.unsqueeze(1).expand(-1, x.size(1), -1)
        d, _ = self.decoder(steps)
        return torch.sigmoid(self.out(d)), mu, logvar


def per_sample_loss(recon, x, mu, logvar):
    rec = F.binary_cross_entropy(recon, x, reduction="sum") / x.size(0)
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.size(0)
    return rec + kl
