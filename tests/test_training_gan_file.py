"""A file that trains a GAN, no VAE (a VAE-vs-GAN comparison repository's gan.py): running it, no
backward's loss reaches a random sample through a sampler, the step checked is the discriminator's,
no KL and no reconstruction of the data: exit 2 saying it holds no VAE or autoencoder, never "no
findings" (helper h33b, GETYCOMFORSURE/vae_gan_mnist); a plain autoencoder's step beside a second
backward is checked as what it is."""

import textwrap

from helpers import check

GAN = """
import torch
from torch import nn
from torch.nn import functional as F

gen = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 20), nn.Sigmoid())
disc = nn.Sequential(nn.Linear(20, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
opt_g, opt_d = torch.optim.Adam(gen.parameters()), torch.optim.Adam(disc.parameters())
data = torch.rand(64, 20)
for real in data.split(16):
    fake = gen(torch.randn(real.size(0), 4))
    d_loss = F.binary_cross_entropy_with_logits(disc(real), torch.ones(real.size(0), 1)) + F.binary_cross_entropy_with_logits(
        disc(fake.detach()), torch.zeros(real.size(0), 1)
    )
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    g_loss = F.binary_cross_entropy_with_logits(disc(fake), torch.ones(real.size(0), 1))
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
"""


def test_a_gan_file_is_said_to_hold_no_vae(tmp_path, monkeypatch):
    (tmp_path / "gan.py").write_text(textwrap.dedent(GAN))
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "gan.py"), "-", [])
    assert result.error is not None, [f.code for f in result.findings]
    assert "holds no VAE or autoencoder" in result.error.message, result.error.message


AE = """
import torch
from torch import nn
from torch.nn import functional as F

ae = nn.Sequential(nn.Linear(20, 4), nn.ReLU(), nn.Linear(4, 20))
probe = nn.Linear(20, 3)
opt, opt_probe = torch.optim.Adam(ae.parameters()), torch.optim.Adam(probe.parameters())
data, labels = torch.rand(64, 20), torch.randint(0, 3, (64,))
for x, y in zip(data.split(16), labels.split(16)):
    loss = F.mse_loss(ae(x), x, reduction="sum") / x.size(0)
    opt.zero_grad()
    loss.backward()
    opt.step()
    probe_loss = F.cross_entropy(probe(x), y)
    opt_probe.zero_grad()
    probe_loss.backward()
    opt_probe.step()
"""


def test_a_plain_autoencoder_beside_a_second_backward_is_checked_as_what_it_is(tmp_path, monkeypatch):
    (tmp_path / "ae.py").write_text(textwrap.dedent(AE))
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "ae.py"), "-", [])
    assert result.error is None, result.error.message
