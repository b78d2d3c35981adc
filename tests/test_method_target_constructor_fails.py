"""A ``Class.method`` target (a model that carries its own training loop: ``SeqVAE.fit``) whose
constructor raises: said at the constructor's line, as the model target's failure is, with the
--init advice. It was said at the method's ``def`` line with --script-args advice for a file that
has no script (BaratiLab/LSTM-VAE-for-dominant-motion-extraction: ``self.use_cuda`` set only where
CUDA is, read in __init__)."""

import textwrap

from helpers import check

SOURCE = """
import torch
import torch.nn as nn


class SeqVAE(nn.Module):
    def __init__(self, features=6, latent=4):
        super().__init__()
        if torch.cuda.is_available():
            self.use_cuda = True
        self.enc = nn.GRU(features, 16, batch_first=True)
        self.heads = nn.Linear(16, 2 * latent)
        self.dec = nn.Linear(latent, features)
        if self.use_cuda:
            self.cuda()

    def forward(self, x):
        _, h = self.enc(x)
        mu, logvar = self.heads(h[-1]).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z).unsqueeze(1).expand_as(x), mu, logvar

    def fit(self, x, epochs=1):
        opt = torch.optim.Adam(self.parameters())
        for _ in range(epochs):
            recon, mu, logvar = self(x)
            loss = ((recon - x) ** 2).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            opt.zero_grad()
            loss.backward()
            opt.step()
"""


def test_the_constructor_of_a_method_target_failing_is_said_at_its_line(tmp_path, monkeypatch):
    (tmp_path / "ctorfail_seqvae.py").write_text(textwrap.dedent(SOURCE))
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "ctorfail_seqvae.py"), "SeqVAE.fit", ["8x20x6"])
    said = result.error.message
    assert "building SeqVAE for SeqVAE.fit failed at ctorfail_seqvae.py:14: AttributeError" in said, said
    assert "Check the constructor and the --init values" in said and "--script-args" not in said, said
