"""A notebook's (or script's) training read as a run reads it: a model moved under
``if torch.cuda.is_available():`` is on the GPU of a GPU machine (VAE012 decides, vaelint/confirm/
simrun.py), the training loops after the step's own are said not checked (the run takes no second
batch: vaelint/frontends/training/livenotes.py later_loops), and notes name notebook places as
cell:line."""

import json
import os

from conftest import FIXTURES
from helpers import check, found

TRAINING = os.path.join(FIXTURES, "training")

_CELLS = [
    """import torch
from torch import nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

loader = DataLoader(TensorDataset(torch.rand(256, 784)), batch_size=64)


class VAE(nn.Module):
    def __init__(self, z=8):
        super().__init__()
        self.enc = nn.Linear(784, 2 * z)
        self.dec = nn.Linear(z, 784)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(z)), mu, logvar""",
    """model = VAE()
opt = torch.optim.Adam(model.parameters())""",
    """for (x,) in loader:
    recon, mu, logvar = model(x)
    loss = F.binary_cross_entropy(recon, x, reduction="sum") - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    opt.zero_grad()
    loss.backward()
    opt.step()""",
    """model2 = VAE(z=16)
opt2 = torch.optim.Adam(model2.parameters())""",
    """for (x,) in loader:
    recon, mu, logvar = model2(x)
    loss = F.binary_cross_entropy(recon, x, reduction="sum") - 0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())
    opt2.zero_grad()
    loss.backward()
    opt2.step()""",
]


def _notebook(path, cells):
    made = [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": c} for c in cells]
    path.write_text(json.dumps({"cells": made, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return str(path)


def test_a_model_moved_when_cuda_is_available_is_on_the_gpu_of_a_gpu_machine():
    result = check(os.path.join(TRAINING, "notebook_guarded_model_move.ipynb"), "-", [])
    assert result.error is None, result.error.message
    assert found(result) == set()
    assert "VAE012" not in dict(result.skipped), result.skipped


def test_a_later_training_loop_is_said_not_checked_with_its_cell(tmp_path):
    result = check(_notebook(tmp_path / "two_models.ipynb", _CELLS), "-", [])
    assert result.error is None, result.error.message
    said = [n for n in result.notes if n.startswith("not checked: the training loop")]
    assert len(said) == 1 and "two_models.ipynb:cell 5:5" in said[0], result.notes
    # the data's note names the notebook's place as a cell and its line
    assert any("batch_size=64 at " in n and "two_models.ipynb:cell 1:6" in n for n in result.notes), result.notes


def test_one_training_loop_has_no_such_note(tmp_path):
    result = check(_notebook(tmp_path / "one_model.ipynb", _CELLS[:3]), "-", [])
    assert result.error is None, result.error.message
    assert not [n for n in result.notes if n.startswith("not checked: the training loop")], result.notes


_TRAIN = """def train(model, opt):
    for (x,) in loader:
        recon, mu, logvar = model(x)
        loss = F.binary_cross_entropy(recon, x, reduction="sum") - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        opt.zero_grad()
        loss.backward()
        opt.step()"""


def test_a_later_call_of_a_training_function_is_said_not_checked(tmp_path):
    """The second model trained by ``train()`` defined again in a later cell and called there: no loop
    of the cell holds a backward, the function it calls does. Before, no note said it was not checked."""
    cells = [_CELLS[0], _CELLS[1], _TRAIN, "train(model, opt)", _CELLS[3], _TRAIN.replace("torch.sum", "torch.mean"), "train(model2, opt2)"]
    result = check(_notebook(tmp_path / "two_trainings.ipynb", cells), "-", [])
    assert result.error is None, result.error.message
    said = [n for n in result.notes if n.startswith("not checked: the training loop")]
    assert len(said) == 1 and "two_trainings.ipynb:cell 7:1" in said[0], result.notes
    once = [_CELLS[0], _CELLS[1], _TRAIN, "train(model, opt)"]
    result = check(_notebook(tmp_path / "one_training.ipynb", once), "-", [])
    assert not [n for n in result.notes if n.startswith("not checked: the training loop")], result.notes
