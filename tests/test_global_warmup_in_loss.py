"""A KL warm-up the loss function moves itself, each call, through a module global
(``global beta; beta = min(1.0, beta + 0.05)`` in ``loss_fn``): read as the annealed weight it is,
from the function the step calls, as the same update written in the loop is. Before, the weight was
read as a constant at its value after vaelint's own runs of the step: a false VAE004 ('multiplied by
0.1 ... set at line 7', where line 7 sets 0 and the weight rises to 1); and each of vaelint's runs of
the step moved the global once more, so where the model is recorded (torch.fx cannot trace it) the
runs compared disagreed on the KL's weight and the KL went unread ('not checked: VAE002, VAE004',
exit 0). Each run now starts from the global's value when the batch came in."""

from __future__ import annotations

from json_cli import check_json

SCRIPT = """import torch
import torch.nn as nn
import torch.nn.functional as F

beta = 0


def loss_fn(recon, x, mu, logvar):
    bce = F.binary_cross_entropy(recon, x, reduction="none")
    bce = torch.mean(torch.sum(bce, (1, 2)))
    kld = torch.mean(-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), 1))
    global beta
    beta = min(CAP, beta + 0.05)
    return bce + beta * kld


class SeqVAE(nn.Module):
    def __init__(self, nf=12, h=32, z=8):
        super().__init__()
        self.enc = nn.LSTM(nf, h, batch_first=True)
        self.mu, self.lv = nn.Linear(h, z), nn.Linear(h, z)
        self.dec = nn.LSTM(nf + z, h, batch_first=True)
        self.out = nn.Linear(h, nf)

    def forward(self, x):
        o, _ = self.enc(x)
        mu, logvar = self.mu(o[:, -1]), self.lv(o[:, -1])
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        zx = torch.cat([x, z.unsqueeze(1).expand(-1, x.size(1), -1)], 2)
        d, _ = self.dec(zx)
        return torch.sigmoid(self.out(d)), mu, logvar


model = SeqVAE()
opt = torch.optim.Adam(model.parameters())
data = torch.rand(64, 20, 12).round()
for (x,) in torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data), batch_size=16):
    recon, mu, logvar = model(x)
    loss = loss_fn(recon, x, mu, logvar)
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


RECORDED = (
    "        o, _ = self.enc(x)\n",
    "        mask = (torch.FloatTensor(x.shape[0], x.shape[1]).uniform_() < 0.2).float().unsqueeze(2)\n"
    "        o, _ = self.enc((1 - mask) * x)\n",
)


def _check(tmp_path, cap: str, name: str, recorded: bool = False):
    path = tmp_path / f"{name}.py"
    source = SCRIPT.replace("CAP", cap)
    path.write_text(source.replace(*RECORDED) if recorded else source)
    return check_json(str(path))


def test_a_warm_up_the_loss_moves_through_a_global_is_read_as_annealed(tmp_path):
    r, result = _check(tmp_path, "1.0", "gwl_to_one")
    assert r.exit_code == 0, r.output
    assert result["findings"] == [], result["findings"]
    said = [n for n in result["notes"] if "annealed" in n]
    assert said and "beta = min(1.0, beta + 0.05)" in said[0] and "it reaches beta = 1" in said[0], result["notes"]
    assert "0.05 at step = 0" in said[0], said  # the first step's, not the value after vaelint's own runs


def test_a_recorded_model_reads_the_kl_the_warm_up_weighs(tmp_path):
    # torch.fx cannot trace the forward (a tensor made by torch.FloatTensor(...).uniform_()): recorded
    r, result = _check(tmp_path, "1.0", "gwl_recorded", recorded=True)
    assert r.exit_code == 0, r.output
    assert result["capture"] != "torch.fx", result["capture"]
    assert not [s for s in result["skipped"] if s["code"] in ("VAE002", "VAE004", "VAE007")], result["skipped"]
    assert any("0.05 at step = 0" in n for n in result["notes"]), result["notes"]


def test_a_warm_up_that_stops_short_is_still_reported(tmp_path):
    # the near miss: the same update capped at 0.1: the weight ends at 0.1, a KL weighed down for good
    r, result = _check(tmp_path, "0.1", "gwl_capped")
    assert r.exit_code == 1, r.output
    assert [f["code"] for f in result["findings"]] == ["VAE004"], result["findings"]
