"""A training function checked by name (``train.py:vae_train``) whose model is a parameter, while the
code's own call of it sits behind setup that did not run (a data file not here, read in a layout
--input cannot stand in for): the message names the parameter, the line that builds the module the
code hands it, and the model to check alone; not "the step calls no nn.Module" (helper E's
advice loop, jacobmatthewmiller264043/Credit-Card-Transaction-Risk-Quantification's notebook)."""

from helpers import check

SCRIPT = """
import json

import torch
import torch.nn as nn
from torch.utils.data import DataLoader


class TabularVAE(nn.Module):
    def __init__(self, d_in, z_dim=4):
        super().__init__()
        self.enc = nn.Linear(d_in, 2 * z_dim)
        self.dec = nn.Linear(z_dim, d_in)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z), mu, logvar


def vae_train(model, optimizer, loader, epochs):
    for _epoch in range(epochs):
        for x in loader:
            recon, mu, logvar = model(x)
            rec = 0.5 * ((recon - x) ** 2).sum()
            kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            loss = (rec + kl) / x.size(0)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


with open("data/columns.json") as fh:
    spec = json.load(fh)
X = torch.tensor(spec["rows"], dtype=torch.float32)
net = TabularVAE(X.shape[1])
opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
vae_train(net, opt, DataLoader(X, batch_size=64, shuffle=True), epochs=5)
"""


def test_a_model_parameter_whose_setup_did_not_run_is_named_with_where_it_is_built(tmp_path, monkeypatch):
    (tmp_path / "train.py").write_text(SCRIPT)
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "vae_train", ["64x20"], init={"epochs": 1})
    message = result.error.message
    assert "the training step calls model(...), the parameter 'model' of vae_train" in message, message
    assert "built at train.py:36 (net = TabularVAE(X.shape[1])), which did not run" in message, message
    assert "train.py:TabularVAE --input SPEC" in message, message
    assert "calls no nn.Module that vaelint can see" not in message, message


def test_the_model_checked_alone_as_the_message_says_is_checked(tmp_path, monkeypatch):
    (tmp_path / "train.py").write_text(SCRIPT)
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "TabularVAE", ["64x20"], init={"d_in": 20})
    assert result.error is None, result.error.message
    assert [r.stage for r in result.flow][:2] == ["input", "encoder"]
