"""A model whose forward is for inference (it decodes the mean) and whose own method trains it
(``fit_on_data``: the loop, the sampler, ``loss_function``, ``backward``). Checked as a model, the
loss cannot be bound to what forward returns: the error names the method that trains it, as the
target to check; ``--loss fit_on_data`` is told it names a training loop, not a loss (before: 'loss
not a scalar', or 'backward through the graph a second time ... fix it so the model runs'). The
method named as the target is checked."""

from __future__ import annotations

from json_cli import check_json

SCRIPT = """import torch
import torch.nn as nn


class Enc(nn.Module):
    def __init__(self, n, zdim):
        super().__init__()
        self.mu = nn.Linear(n, zdim)
        self.lv = nn.Linear(n, zdim)

    def forward(self, x):
        h = x.flatten(1)
        mu, logvar = self.mu(h), self.lv(h)
        return mu, logvar, mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)


class SeqVAE(nn.Module):
    def __init__(self, seq_len=20, feat=3, zdim=4):
        super().__init__()
        self.encoder = Enc(seq_len * feat, zdim)
        self.decoder = nn.Sequential(nn.Linear(zdim, seq_len * feat), nn.Unflatten(1, (seq_len, feat)))

    def forward(self, x):
        mu, logvar, z = self.encoder(x)
        return self.decoder(mu)

    def loss_function(self, x, recon, mu, logvar):
        rec = ((x - recon) ** 2).sum()
        kl = -0.5 * torch.KL(1 + logvar - mu.pow(2) - logvar.exp())
        return rec + kl, rec, kl

    def fit_on_data(self, data, epochs=1, bs=8):
        opt = torch.optim.Adam(self.parameters())
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.as_tensor(data, dtype=torch.float32)), batch_size=bs)
        for _ in range(epochs):
            for batch in loader:
                x = batch[0]
                opt.zero_grad()
                mu, logvar, z = self.encoder(x)
                loss, rec, kl = self.loss_function(x, self.decoder(z), mu, logvar)
                loss = loss / x.size(0)
                loss.backward()
                opt.step()
"""


def _write(tmp_path, name: str, kl: str = "sum") -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(SCRIPT.replace("KL", kl))
    return str(path)


def test_the_model_checked_alone_names_the_method_that_trains_it(tmp_path):
    path = _write(tmp_path, "tmm_alone")
    r, result = check_json(f"{path}:SeqVAE", "--input", "8x20x3")
    assert r.exit_code == 2, r.output
    assert "The code that trains it" in result["error"]["message"], result["error"]
    assert "tmm_alone.py:SeqVAE.fit_on_data" in result["error"]["message"], result["error"]


def test_a_training_method_given_as_the_loss_is_said_to_be_one(tmp_path):
    path = _write(tmp_path, "tmm_as_loss")
    r, result = check_json(f"{path}:SeqVAE", "--input", "8x20x3", "--loss", "fit_on_data")
    assert r.exit_code == 2, r.output
    message = result["error"]["message"]
    assert "trains the model (it calls backward" in message and "tmm_as_loss.py:SeqVAE.fit_on_data" in message, message


def test_the_method_named_as_the_target_is_checked(tmp_path):
    for kl, codes in (("sum", []), ("mean", ["VAE002"])):
        path = _write(tmp_path, f"tmm_target_{kl}", kl)
        r, result = check_json(f"{path}:SeqVAE.fit_on_data", "--input", "8x20x3")
        assert r.exit_code == (1 if codes else 0), r.output
        assert [f["code"] for f in result["findings"]] == codes, result["findings"]
