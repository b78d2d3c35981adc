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


AFTER = """    global beta
    loss = bce + beta * kld
    beta = min(1.0, beta + 0.05)
    return loss
"""


def test_a_warm_up_moved_after_the_loss_reads_it_is_checked_at_its_first_weight(tmp_path):
    # the loss weighs by beta (0 at the start), then moves it: each run starts from its first value off 0,
    # so the KL is weighed and a real VAE002 (the KL summed over the batch) is confirmed
    source = SCRIPT.replace("CAP", "1.0").replace("    global beta\n    beta = min(1.0, beta + 0.05)\n    return bce + beta * kld\n", AFTER)
    source = source.replace(
        "kld = torch.mean(-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), 1))",
        "kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())",
    )
    assert AFTER in source and "kld = -0.5 * torch.sum(1 + logvar" in source
    path = tmp_path / "gwl_after.py"
    path.write_text(source)
    r, result = check_json(str(path))
    assert r.exit_code == 1, r.output
    assert [(f["code"], f["confirmed"]) for f in result["findings"]] == [("VAE002", True)], result["findings"]


HELPERS = """beta = 0.0


def tick():
    global beta
    beta = min(0.999, beta + 0.05)
"""


def test_another_modules_global_of_the_same_name_is_no_kl_weight(tmp_path):
    # the near miss: the script weighs its KL by its own beta = 0.01; a helper it calls warms up a global
    # of its own module named beta too (an EMA's momentum), which weighs nothing it returns
    (tmp_path / "gwl_helpers.py").write_text(HELPERS)
    source = SCRIPT.replace("beta = 0\n", "from gwl_helpers import tick\n\nbeta = 0.01\n", 1)
    source = source.replace("    global beta\n    beta = min(CAP, beta + 0.05)\n", "")
    source = source.replace("    loss = loss_fn(recon, x, mu, logvar)\n", "    tick()\n    loss = loss_fn(recon, x, mu, logvar)\n")
    assert "tick()" in source and "global beta" not in source
    path = tmp_path / "gwl_other.py"
    path.write_text(source)
    r, result = check_json(str(path))
    assert r.exit_code == 1, r.output
    assert [f["code"] for f in result["findings"]] == ["VAE004"], result["findings"]
    assert not [n for n in result["notes"] if "annealed" in n], result["notes"]
