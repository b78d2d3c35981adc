"""A graph VAE trained on its whole graph (``model(features, adj_norm)`` each epoch: the features a
stacked 1 x N x F, the adjacency N x N), its batch made by the code: the adjacency is no second loader
stream and is never resized, and a KL divided by N (Kipf's normalisation) beside a mean over N x N is
the ELBO's balance for the one batch size the step has. Before, the adjacency was cut to 1 x N as a
stream of another batch size ('several streams'), a false [confirmed] VAE013 at torch.mm, the loss
never read (helper-found on a SIG-VAE); and the KL / N was a VAE004 'beta_eff = 1 while the declared
beta is 1'. Its near miss, the KL not divided by N, still weighs N times the ELBO's: a finding."""

from __future__ import annotations

import pytest
from json_cli import check_json

SCRIPT = """import torch
import torch.nn as nn
import torch.nn.functional as F

N, FEAT, H, Z = 40, 12, 16, 8
features = torch.rand(1, N, FEAT)
a = (torch.rand(N, N) < 0.1).float()
adj = ((a + a.t()) > 0).float() + torch.eye(N)
adj_norm = adj / adj.sum(1, keepdim=True)


class GVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.w1 = nn.Parameter(torch.randn(FEAT, H) * 0.1)
        self.w_mu = nn.Parameter(torch.randn(H, Z) * 0.1)
        self.w_lv = nn.Parameter(torch.randn(H, Z) * 0.1)

    def gcn(self, x, a, w):
        return torch.stack([torch.mm(a, torch.mm(xi, w)) for xi in x.unbind(0)])

    def forward(self, x, a):
        h = F.relu(self.gcn(x, a, self.w1))
        mu, logvar = self.gcn(h, a, self.w_mu), self.gcn(h, a, self.w_lv)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.bmm(z, z.transpose(1, 2)), mu, logvar


model = GVAE()
opt = torch.optim.Adam(model.parameters(), lr=0.01)
for epoch in range(5):
    opt.zero_grad()
    logits, mu, logvar = model(features, adj_norm)
    rec = F.binary_cross_entropy_with_logits(logits[0], adj)
    kl = KL_WEIGHT * torch.mean(torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), -1))
    loss = rec + kl
    loss.backward()
    opt.step()
"""


@pytest.mark.parametrize(("weight", "clean"), [("-0.5 / N", True), ("-0.5", False)], ids=["KL over N", "KL not over N"])
def test_a_whole_graph_is_checked_as_the_code_trains_it(tmp_path, weight, clean):
    path = tmp_path / "gvae.py"
    path.write_text(SCRIPT.replace("KL_WEIGHT", weight))
    r, result = check_json(str(path))
    assert result["error"] is None, result["error"]
    assert "VAE013" not in [f["code"] for f in result["findings"]], r.output
    adjacency = next(row for row in result["flow"] if row["name"] == "adj_norm")
    assert adjacency["shape"] == ["40", "40"], adjacency
    assert (result["findings"] == []) == clean, r.output


def test_only_a_tensor_sized_by_the_samples_is_whole_beside_the_batch():
    """Zipped loaders of 20 and 30 rows the code made are two streams (aligned at 20, as before); an
    N x N adjacency beside 1 x N x F features is the graph's whole (the golden file's zip fixture)."""
    from vaelint.inputs import MADE_BY_THE_CODE, at_one_batch, parse_input_spec

    streams, said = at_one_batch([parse_input_spec("20x256"), parse_input_spec("30x5")], MADE_BY_THE_CODE)
    assert [s.shape for s in streams] == [(20, 256), (20, 5)] and "several streams" in said
    graph, said = at_one_batch([parse_input_spec("1x50x12"), parse_input_spec("50x50")], MADE_BY_THE_CODE)
    assert [s.shape for s in graph] == [(1, 50, 12), (50, 50)] and graph[1].unbatched == 1 and "whole graph" in said
