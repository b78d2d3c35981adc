"""An installed Lightning's loggers whose package is missing, and what a Lightning run that stops
before its first batch says (issue "Any training code, found by running it": a library failing on
a stand-in is named, not hidden behind "no input shape")."""

import importlib.util

import pytest
from test_training_lightning import _lit_vae_script


def test_a_tensorboard_logger_without_tensorboard_logs_nothing(tmp_path, monkeypatch):
    """``TensorBoardLogger("logs")`` where neither tensorboard nor tensorboardX is installed: its
    hparams went to torch.utils.tensorboard's no-op stand-in, whose return Lightning unpacks
    (``exp, ssi, sei = hparams(...)``): the run stopped before a batch and the report said "no
    input shape". It is Lightning's DummyLogger now, said in a note."""
    from helpers import check

    pytest.importorskip("pytorch_lightning")
    if any(importlib.util.find_spec(p) is not None for p in ("tensorboard", "tensorboardX")):
        pytest.skip("tensorboard is installed: its logger is the real one")
    script = _lit_vae_script(
        tmp_path,
        monkeypatch,
        "model = LitVAE()",
        "trainer = pl.Trainer(max_epochs=1, logger=pl.loggers.TensorBoardLogger('logs', name='vae'), enable_checkpointing=False)",
        "trainer.fit(model, DataLoader(TensorDataset(torch.rand(64, 784)), batch_size=16))",
    )
    result = check(script, "-", [])
    assert result.error is None, result.error.message
    assert [(f.code, f.loc.line) for f in result.findings] == [("VAE004", 30)], result.findings
    assert any("TensorBoardLogger(...) logs nothing (tensorboard is not installed)" in n for n in result.notes), result.notes
    assert not (tmp_path / "logs").exists()


def test_a_logger_of_nothing_passes_through_hydras_instantiate(tmp_path, monkeypatch):
    """``hydra.utils.instantiate(cfg.trainer, logger=[TensorBoardLogger(...)], _convert_="partial")``:
    the DummyLogger answered every special name too, so OmegaConf took it for a structured config
    and the run stopped ("'function' object is not subscriptable", IML-DKFZ/m-pax_lib)."""
    from helpers import check

    pytest.importorskip("pytorch_lightning")
    pytest.importorskip("hydra")
    if any(importlib.util.find_spec(p) is not None for p in ("tensorboard", "tensorboardX")):
        pytest.skip("tensorboard is installed: its logger is the real one")
    script = _lit_vae_script(
        tmp_path,
        monkeypatch,
        "import hydra",
        "from omegaconf import OmegaConf",
        "cfg = OmegaConf.create({'_target_': 'pytorch_lightning.Trainer', 'max_epochs': 1, 'enable_checkpointing': False})",
        "logger = [pl.loggers.TensorBoardLogger('logs', name='vae')]",
        "trainer = hydra.utils.instantiate(cfg, logger=logger, _convert_='partial')",
        "trainer.fit(LitVAE(), DataLoader(TensorDataset(torch.rand(64, 784)), batch_size=16))",
    )
    result = check(script, "-", [])
    assert result.error is None, result.error.message
    assert [(f.code, f.loc.line) for f in result.findings] == [("VAE004", 30)], result.findings
    assert any("TensorBoardLogger(...) logs nothing" in n for n in result.notes), result.notes


def test_a_lightning_run_that_stops_before_its_first_batch_says_where(tmp_path, monkeypatch):
    """A hook that raises before the first batch (a data module that is not here): the module the
    trainer was handed is read, its batch has no shape, and the error says where the run stopped."""
    from helpers import check

    pytest.importorskip("pytorch_lightning")
    script = _lit_vae_script(
        tmp_path,
        monkeypatch,
        "def on_fit_start(self):",
        "    raise RuntimeError('the data module is not here')",
        "LitVAE.on_fit_start = on_fit_start",
        "model = LitVAE()",
        "trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False)",
        "trainer.fit(model, DataLoader(TensorDataset(torch.rand(64, 784)), batch_size=16))",
    )
    result = check(script, "-", [])
    message = result.error.message
    assert message.startswith("no input shape") and "RuntimeError: the data module is not here" in message, message


LOG_DIR_AS_A_PATH = """
import pathlib

import torch
import torch.nn as nn
import torch.nn.functional as F
from pytorch_lightning.loggers import TensorBoardLogger


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(64, 16), nn.Linear(8, 64)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, 1)
        return torch.sigmoid(self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar))), mu, logvar


writer = TensorBoardLogger(save_dir="logs", name="vae")
checkpoints = pathlib.Path(writer.log_dir) / "checkpoints"
checkpoints.mkdir(parents=True, exist_ok=True)
model = VAE()
opt = torch.optim.Adam(model.parameters())
for _ in range(10):
    x = torch.rand(16, 64)
    recon, mu, logvar = model(x)
    loss = (F.binary_cross_entropy(recon, x, reduction="sum") - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())) / x.size(0)
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def test_a_logger_of_nothing_has_the_folders_the_code_reads_as_paths(tmp_path, monkeypatch):
    # pathlib.Path(writer.log_dir) / "checkpoints" with tensorboard missing: the logger of nothing had
    # log_dir None, and the run stopped at "expected str, bytes or os.PathLike object, not NoneType",
    # tensorboard named nowhere (helper-found: tomoya-yamanokuchi/C-DSVAE)
    from helpers import check

    pytest.importorskip("pytorch_lightning")
    if any(importlib.util.find_spec(p) is not None for p in ("tensorboard", "tensorboardX")):
        pytest.skip("tensorboard is installed: its logger is the real one")
    (tmp_path / "train.py").write_text(LOG_DIR_AS_A_PATH)
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", [])
    assert result.error is None and result.findings == [], (result.error, result.findings)
    assert any("Path.mkdir('logs/vae/version_0/checkpoints')" in n for n in result.notes), result.notes
    assert not (tmp_path / "logs").exists()
