"""Lightning not installed, lightning_utilities installed (it comes with torchmetrics): importing
Lightning sets ``rank_zero_only.rank``, and the lightning-hydra-template's ``RankedLogger`` reads it
before the Trainer starts. Lightning's stand-in sets it too, so the run goes on to the step (it
stopped at "The `rank_zero_only.rank` needs to be set before use")."""

import importlib.util

import pytest
from training_cli import check_in

SCRIPT = """
import logging

import lightning
import torch
import torch.nn as nn
from lightning_utilities.core.rank_zero import rank_zero_only
from torch.utils.data import DataLoader, TensorDataset


class RankLog(logging.LoggerAdapter):
    def log(self, level, msg, *args, **kwargs):
        rank = getattr(rank_zero_only, "rank", None)
        if rank is None:
            raise RuntimeError("The `rank_zero_only.rank` needs to be set before use")
        if rank == 0:
            self.logger.log(level, f"[rank {rank}] {msg}", *args, **kwargs)


log = RankLog(logging.getLogger("run"), {})


class Tabular(lightning.LightningModule):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(12, 6), nn.Linear(3, 12)

    def training_step(self, batch, batch_idx):
        (x,) = batch
        mu, logvar = self.enc(x).chunk(2, dim=-1)
        z = mu + torch.randn(3) * torch.exp(0.5 * logvar)
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)
        return (((self.dec(z) - x) ** 2).sum(1) + kl).mean()

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters())


if __name__ == "__main__":
    log.info("building the model")
    rows = DataLoader(TensorDataset(torch.randn(300, 12)), batch_size=30)
    lightning.Trainer(max_epochs=3).fit(Tabular(), rows)
"""


@pytest.mark.skipif(importlib.util.find_spec("lightning_utilities") is None, reason="lightning_utilities is not installed")
@pytest.mark.skipif(importlib.util.find_spec("lightning") is not None, reason="the real lightning is installed: no stand-in")
def test_a_rank_aware_logger_before_the_trainer_reaches_the_step(tmp_path):
    (tmp_path / "train.py").write_text(SCRIPT)
    r = check_in(tmp_path, "train.py")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "rank_zero_only" not in r.stdout, r.stdout
    assert "train.py:31:18: VAE001" in r.stdout, r.stdout
