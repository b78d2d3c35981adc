"""A model whose constructor moves itself under a switch (``if use_cuda: self.cuda()``, the switch set
from ``torch.cuda.is_available()`` as the step's device is): VAE012 said "the model is never moved to the
device" [confirmed], since this run, without a GPU, left the switch off (helper-found, a beta-TCVAE). A GPU
run takes the switch, and the weights go where the batch goes: no finding. The same model without the
move in its constructor, or with a dtype cast there (``self.to(torch.float32)``: reviewer), is still never moved."""

from __future__ import annotations

import pytest
from json_cli import check_json

SCRIPT = """import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class VAE(nn.Module):
    def __init__(self, use_cuda=False):
        super().__init__()
        self.enc = nn.Linear(784, 16)
        self.dec = nn.Linear(8, 784)
        MOVE


    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z), mu, logvar


def main():
    use_cuda = torch.cuda.is_available()
    device = torch.device("cuda" if use_cuda else "cpu")
    loader = DataLoader(TensorDataset(torch.rand(64, 784)), batch_size=32, shuffle=True)
    model = VAE(use_cuda=use_cuda)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    for (x,) in loader:
        x = x.to(device)
        recon, mu, logvar = model(x)
        rec = F.binary_cross_entropy_with_logits(recon, x, reduction="sum") / x.size(0)
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.size(0)
        loss = rec + kl
        opt.zero_grad()
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
"""


@pytest.mark.parametrize(
    ("move", "flagged"),
    [("if use_cuda:\n            self.cuda()", False), ("pass", True), ("self.to(torch.float32)", True)],
    ids=["moves itself under its switch", "never moved", "a dtype cast is no move"],
)
def test_a_constructor_that_moves_its_model_is_a_move(tmp_path, move, flagged):
    path = tmp_path / "train.py"
    path.write_text(SCRIPT.replace("MOVE", move))
    r, result = check_json(str(path))
    codes = [f["code"] for f in result["findings"]]
    assert ("VAE012" in codes) is flagged, r.output
    if flagged:
        assert "never moved" in next(f for f in result["findings"] if f["code"] == "VAE012")["message"]
    else:
        assert r.exit_code == 0, r.output
