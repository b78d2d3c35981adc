"""Noise a step draws itself, outside any model's forward, where no loader gives the batch (a batch
the code samples, full-batch training): drawn once a model has run in the step (eps for the
encoder's mu), it is the step's reparameterisation, and the step is checked as a VAE's, with no
note that none was seen (helper D, Codeuser0717/CVAE-GAN's class-balanced trainer). Data the code
makes before any model runs (x = torch.rand(...)) is still no noise."""

from helpers import check

SCRIPT = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Linear(12, 8)

    def forward(self, x):
        return self.net(x).chunk(2, dim=1)


enc, dec = Encoder(), nn.Sequential(nn.Linear(4, 12), nn.Sigmoid())
opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()])
data = torch.rand(400, 12)
for step in range(3):
    x = data[torch.randint(0, len(data), (32,))]
    mu, logvar = enc(x)
    z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
    recon = dec(z)
    rec = F.binary_cross_entropy(recon, x, reduction="sum") / x.size(0)
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.size(0)
    loss = rec + kl
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def test_noise_the_step_draws_after_its_encoder_is_its_reparameterisation(tmp_path, monkeypatch):
    (tmp_path / "train.py").write_text(SCRIPT)
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", [])
    assert result.error is None, result.error.message
    assert not any("reaches no random sample" in n for n in result.notes), result.notes
    assert ("reparam", "z") in [(r.stage, r.name) for r in result.flow]
    assert not result.findings, [f.message for f in result.findings]


def test_noise_drawn_as_a_leaf_that_requires_grad_is_noise_too(tmp_path, monkeypatch):
    # eps = torch.randn_like(std, requires_grad=True), an older tutorials' form (helper F, Amaranth819/VAE)
    (tmp_path / "train.py").write_text(SCRIPT.replace("torch.randn_like(mu)", "torch.randn_like(mu, requires_grad=True)"))
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", [])
    assert result.error is None, result.error.message
    assert not any("reaches no random sample" in n for n in result.notes), result.notes
