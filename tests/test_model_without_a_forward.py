"""A model class that defines no forward(): its training code calls a method of it
(``loss = -model.elbo(x, w)``), as sequence VAEs of protein families, Pyro model/guide pairs and
world models' ``compute_loss`` do. Checking the class names its methods that take data and how to
check through the loss (one --input per parameter): before, "running the model raised
NotImplementedError: Module [X] is missing the required forward function ... fix it so the model
runs" (helper-found, three repositories). Given its inputs, the method is the step; an ELBO it
returns to be maximised, a log-likelihood written out (``x * log_softmax``) minus the KL, is read as
such: before, a false [confirmed] VAE007 'the KL enters with the wrong sign'. Its near miss, the KL
added to that ELBO, is VAE007."""

from __future__ import annotations

import pytest
from json_cli import check_json

MODEL = """import torch
from torch import nn
import torch.nn.functional as F


class SeqVAE(nn.Module):
    def __init__(self, length=10, alphabet=4, latent=2):
        super().__init__()
        self.length, self.alphabet = length, alphabet
        self.enc = nn.Linear(length * alphabet, 16)
        self.mu = nn.Linear(16, latent)
        self.logvar = nn.Linear(16, latent)
        self.dec = nn.Linear(latent, length * alphabet)

    def encode(self, x):
        h = torch.tanh(self.enc(x))
        return self.mu(h), self.logvar(h)

    def decode(self, z):
        h = self.dec(z).view(z.size(0), self.length, self.alphabet)
        return F.log_softmax(h, dim=-1).view(z.size(0), -1)

    def weighted_elbo(self, x, w):
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        log_px = torch.sum(x * self.decode(z), -1)
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), -1)
        w = w / w.sum()
        return torch.sum((log_px SIGN kld) * w)
"""


def test_a_model_without_forward_names_its_methods_and_what_to_give(tmp_path):
    path = tmp_path / "seqvae.py"
    path.write_text(MODEL.replace("SIGN", "-"))
    r, result = check_json(f"{path}:SeqVAE", "--input", "16x40")
    assert r.exit_code == 2, r.output
    message = result["error"]["message"]
    assert "SeqVAE defines no forward()" in message and "encode(x), decode(z), weighted_elbo(x, w)" in message, message
    assert "takes 2 inputs (x, w): give one --input per parameter" in message, message
    assert "missing the required" not in message


@pytest.mark.parametrize(("sign", "codes"), [("-", []), ("+", ["VAE007"])], ids=["ELBO, KL subtracted", "KL added"])
def test_an_elbo_method_of_a_log_likelihood_is_read_as_maximised(tmp_path, sign, codes):
    path = tmp_path / "seqvae.py"
    path.write_text(MODEL.replace("SIGN", sign))
    r, result = check_json(f"{path}:SeqVAE", "--input", "16x40", "--input", "16")
    assert [f["code"] for f in result["findings"]] == codes, r.output
    assert r.exit_code == (1 if codes else 0), r.output
    assert not result["skipped"], result["skipped"]
    if not codes:
        assert any("read as an ELBO to maximise" in n for n in result["notes"]), result["notes"]
