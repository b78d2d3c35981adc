"""Noise drawn with ``MultivariateNormal(torch.zeros(k), torch.eye(k)).sample(...)`` in the model's
forward is the step's noise: the draw goes through the ``_standard_normal`` that
torch.distributions' modules bind by name, and the sample's no_grad meets the prior's constant
parameters, not a frozen head's values. Before, the run passed the VAE's backward over as another
network's and went on through every epoch before checking it as the model's step (with a pause or a
validation pass per epoch, a timeout that said the step was never reached)."""

from __future__ import annotations

import pytest
from json_cli import check_json

SCRIPT = """import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


class VAE(nn.Module):
    def __init__(self, k=8):
        super().__init__()
        self.k = k
        self.enc = nn.Linear(784, 2 * k)
        self.dec = nn.Linear(k, 784)

    def forward(self, x):
        mu, logvar = torch.split(self.enc(x), self.k, dim=1)
        std = torch.exp(0.5 * logvar)
        eps = torch.distributions.MultivariateNormal(torch.zeros(self.k), torch.eye(self.k)).sample(SHAPE)
        return self.dec(mu + std * eps), mu, logvar


loader = DataLoader(TensorDataset(torch.rand(500, 784), torch.zeros(500)), batch_size=50)
model = VAE()
opt = torch.optim.Adam(model.parameters())
for epoch in range(3):
    for x, _ in loader:
        opt.zero_grad()
        out, mu, logvar = model(x)
        rec = nn.functional.binary_cross_entropy_with_logits(out, x, reduction="sum")
        kl = -0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp())
        loss = (rec + kl) / x.size(0)
        loss.backward()
        opt.step()
"""


@pytest.mark.parametrize(("shape", "codes"), [("", ["VAE001"]), ("(x.size(0),)", [])], ids=["one draw", "a draw per sample"])
def test_a_multivariate_normal_draw_is_the_steps_noise(tmp_path, shape, codes):
    path = tmp_path / f"mvn_noise_{'one' if codes else 'each'}.py"
    path.write_text(SCRIPT.replace("SHAPE", shape))
    r, result = check_json(str(path))
    assert r.exit_code == (1 if codes else 0), r.output
    assert [f["code"] for f in result["findings"]] == codes, result["findings"]
    rows = {row["name"] for row in result["flow"]}
    assert {"eps", "z", "kl"} <= rows, result["flow"]
    # reached as the VAE's own backward, at the first batch: not a backward passed over, every epoch run
    assert not [n for n in result["notes"] if "reaches no random sample" in n], result["notes"]


def test_a_frozen_vae_with_zero_initialised_heads_stays_frozen(tmp_path):
    # the near miss: a frozen VAE's mu + eps * std written out, its encoder zero-initialised (mu all 0, std
    # all 1, as a standard prior's): a frozen head's sample, not noise, wherever the values are one
    import os

    here = os.path.join(os.path.dirname(__file__), "..", "fixtures", "training", "running", "frozen_vae_world_model.py")
    source = open(here, encoding="utf-8").read()
    anchor = "        self.encoder = nn.Linear("
    assert anchor in source
    line = next(li for li in source.splitlines() if li.startswith(anchor))
    zeroed = line + "\n        nn.init.zeros_(self.encoder.weight)\n        nn.init.zeros_(self.encoder.bias)"
    path = tmp_path / "mvn_frozen_zero.py"
    path.write_text(source.replace(line, zeroed))
    r, result = check_json(str(path))
    assert r.exit_code == 2, r.output
    assert "drawn under torch.no_grad()" in result["error"]["message"], result["error"]
