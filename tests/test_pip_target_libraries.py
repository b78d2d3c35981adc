"""Packages installed into a folder of their own and put on PYTHONPATH (``pip install --target
site``) are libraries, not the user's code: a run that stops inside one is said at the user's
line that called it (it was said at the library's own line, and its guarded optional imports as
"the code checked uses it"). Such a folder holds pip's ``*.dist-info`` records; a project folder
on PYTHONPATH without them is still the user's (helper-found)."""

from __future__ import annotations

from training_cli import check_in

LIBRARY = "def flatten(rows):\n    return rows.ravel()  # fails on a list\n"
SCRIPT = """
import torch
import tinylib

rows = tinylib.flatten([[0.0] * 10] * 64)
x = torch.tensor(rows).view(64, 10)
for i in range(0, 64, 16):
    mu, logvar = x[i : i + 16, :5], x[i : i + 16, 5:]
    z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
    (z.pow(2).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())).backward()
"""


def _layout(tmp_path, installed: bool):
    site, project = tmp_path / "site", tmp_path / "project"
    (site / "tinylib").mkdir(parents=True)
    (site / "tinylib" / "__init__.py").write_text(LIBRARY)
    if installed:
        (site / "tinylib-1.0.dist-info").mkdir()
    project.mkdir()
    (project / "train.py").write_text(SCRIPT)
    return site, project


def test_a_run_that_stops_in_a_pip_target_library_is_said_at_the_users_line(tmp_path):
    site, project = _layout(tmp_path, installed=True)
    out = check_in(project, "train.py", env_extra={"PYTHONPATH": str(site)})
    said = " ".join((out.stdout + out.stderr).split())
    assert out.returncode == 2, said
    assert "stopped at train.py:5: AttributeError" in said and "tinylib/__init__.py" not in said, said


def test_a_folder_on_pythonpath_without_pip_records_is_the_users_own(tmp_path):
    # the near miss: PYTHONPATH=src of a project's own modules, read as the user's code
    site, project = _layout(tmp_path, installed=False)
    out = check_in(project, "train.py", env_extra={"PYTHONPATH": str(site)})
    said = " ".join((out.stdout + out.stderr).split())
    assert out.returncode == 2 and "tinylib/__init__.py:2" in said, said


def test_a_module_of_the_project_that_does_not_parse_is_said_as_such_not_as_shadowed(tmp_path, monkeypatch):
    # pkg/model.py written with Python 3.12's `def unwrap[T](...)`: the import's SyntaxError was read as
    # another 'pkg' found first ("meant to run as python -m") (helper-found); the near miss, a module
    # not here, keeps the package advice
    from vaelint.frontends.installadvice import install_advice

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "model.py").write_text("def unwrap[T](x: T) -> T:\n    return x\n")
    monkeypatch.chdir(tmp_path)
    error = ImportError(f"{tmp_path}/pkg/model.py: SyntaxError: expected '(' (model.py, line 1)")
    said = install_advice("pkg.model", error)
    assert said.startswith("model.py does not parse with this Python") and "at line 1" in said, said
    assert "python -m" not in said
    assert install_advice("absentpkg.model", ModuleNotFoundError("No module named 'absentpkg'")) == "Install absentpkg"


DATA_LIBRARY = """
import torch
from torch.utils.data import Dataset


class ChestScans(Dataset):
    def __init__(self, split="train", root="~/.chestscans"):
        raise RuntimeError("Dataset not found.  You can set `download=True` to download it.")

    def __len__(self):
        return 0

    def __getitem__(self, i):
        raise IndexError(i)
"""
DATA_SCRIPT = """
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader
from chestscans import ChestScans


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(784, 16), nn.Linear(8, 784)

    def forward(self, x):
        mu, logvar = self.enc(x.flatten(1)).chunk(2, 1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z).view_as(x), mu, logvar


model = VAE()
opt = torch.optim.Adam(model.parameters())
for x, _y in DataLoader(ChestScans(split="train"), batch_size=32):
    recon, mu, logvar = model(x)
    rec = F.binary_cross_entropy_with_logits(recon, x, reduction="sum")
    loss = (rec - 0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())) / x.size(0)
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def test_a_librarys_data_set_without_its_files_stands_in_when_input_is_given(tmp_path):
    # medmnist's ChestMNIST(split="train") raising "Dataset not found. You can set download=True":
    # a library's data set the code imports stood in only where the code subclassed it; with
    # --input giving the batch, it stands in (3liFi/FactorVAE)
    site, project = tmp_path / "site", tmp_path / "project"
    (site / "chestscans").mkdir(parents=True)
    (site / "chestscans" / "__init__.py").write_text(DATA_LIBRARY)
    (site / "chestscans-1.0.dist-info").mkdir()
    project.mkdir()
    (project / "train.py").write_text(DATA_SCRIPT)
    env = {"PYTHONPATH": str(site)}
    out = check_in(project, "train.py", "--input", "32x1x28x28", "--input", "32", env_extra=env)
    said = " ".join((out.stdout + out.stderr).split())
    assert out.returncode == 1 and "VAE002" in said, said
    assert "the data set ChestScans" in said and "Dataset not found" in said and "stands in" in said, said
    # without --input the user hears that the data is not there
    out = check_in(project, "train.py", env_extra=env)
    said = " ".join((out.stdout + out.stderr).split())
    assert out.returncode == 2 and "Dataset not found" in said, said
