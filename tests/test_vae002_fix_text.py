"""VAE002's fix names the code's own reconstruction loss summed: a torch.nn loss module the model
calls (criterion = nn.BCELoss()) as that module with reduction='sum', not F.mse_loss (helper I,
SUNGBEOMCHOI/pytorch-VAE-MNIST)."""

from helpers import check

MODEL = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(20, 8), nn.Linear(4, 20)
        self.criterion = {CRITERION}

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return torch.sigmoid(self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar))), mu, logvar

    def loss_function(self, recon, x, mu, logvar):
        return {REC} - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1).mean()
"""


def _fix(tmp_path, criterion: str, rec: str) -> str:
    (tmp_path / "m.py").write_text(MODEL.replace("{CRITERION}", criterion).replace("{REC}", rec))
    result = check(str(tmp_path / "m.py"), "VAE", ["8x20"])
    assert result.error is None, result.error.message
    return next(f.fix for f in result.findings if f.code == "VAE002")


def test_a_loss_module_is_named_in_the_fix(tmp_path):
    assert "nn.BCELoss(reduction='sum')(recon, x) / x.size(0)" in _fix(tmp_path, "nn.BCELoss()", "self.criterion(recon, x)")


def test_a_functional_loss_is_named_in_the_fix(tmp_path):
    assert "F.binary_cross_entropy(..., reduction='sum') / x.size(0)" in _fix(tmp_path, "None", "F.binary_cross_entropy(recon, x)")
