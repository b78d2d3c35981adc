"""A Gaussian likelihood with a learned decoder variance from a head of its own (``s = dec_scale(z)``,
off the reconstruction's path), summed per sample and divided by the data size
(``sum((x - m)**2 / var + log(2 var) / 2, 1).mean() / D``): the ``log var`` part is the likelihood's,
and ``/ D`` the reconstruction's own normaliser. Before, the log-variance part was read as a second
KL term and ``/ D`` as a constant the two shared, dropped: beta_eff 0.03125 [confirmed], advice
``--beta 0.03125``, where it is 24.5 (helper-found on a tutorial VAE)."""

from __future__ import annotations

import pytest
from json_cli import check_json

SCRIPT = """import torch
import torch.nn as nn

D, Z = 64, 8


class VarDecVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(D, 2 * Z)
        self.dec_mean = nn.Linear(Z, D)
        self.dec_scale = nn.Linear(Z, D)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec_scale(z), torch.sigmoid(self.dec_mean(z)), mu, logvar


model = VarDecVAE()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
x = torch.rand(16, D)
for _ in range(2):
    s, m, mu, logvar = model(x)
    var = s**2 + 0.5
    rec = torch.sum((x - m) ** 2 / var + torch.log(2 * var) / 2, 1).mean() / D
    kl = torch.sum(0.5 * (mu**2 + logvar.exp() - 1 - logvar), 1).mean() / Z
    loss = rec + 0.5 * kl
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


@pytest.mark.parametrize(
    ("weight", "args", "said"),
    [
        ("0.5", [], "0.0625/0.015625 = 4 while the declared beta is 1"),
        ("0.5", ["--beta", "4"], None),
        ("0.25", ["--beta", "4"], "= 2 while"),
    ],
    ids=["declared 1", "declared as it is", "half of it"],
)
def test_the_data_size_divides_the_likelihood_its_log_variance_included(tmp_path, weight, args, said):
    path = tmp_path / "vardec.py"
    path.write_text(SCRIPT.replace("0.5 * kl", f"{weight} * kl"))
    r, result = check_json(str(path), *args)
    assert [f["code"] for f in result["findings"]] == (["VAE004"] if said else []), r.output
    assert r.exit_code == (1 if said else 0), r.output
    if said:
        assert said in result["findings"][0]["message"], result["findings"][0]["message"]
