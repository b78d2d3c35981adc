"""A name a failed import left (a size read off a class whose module imports a package not
installed) handed to torch, which type-checks it before any method of the stand-in runs: the stop
names the import and the package, not torch's "element of type Unavailable" at a correct line of
the model (helper A, world-model repositories: sizes in ``utils/misc.py`` read off a gym environment
class; vaelint/frontends/training/standinvalue.py)."""

from helpers import check

ENV = "import gym_not_installed_here as gym\n\n\nclass GridEnv(gym.Env):\n    num_agents = 1\n"
SIZES = "from grid_env import GridEnv\n\nASIZE, LSIZE = GridEnv.num_agents, 8\n"
TRAIN = """
import torch
import torch.nn as nn
from sizes import LSIZE


class VAE(nn.Module):
    def __init__(self, latent):
        super().__init__()
        self.enc, self.head = nn.Linear(20, 32), nn.Linear(32, 2 * latent)
        self.dec = nn.Linear(latent, 20)

    def forward(self, x):
        mu, logvar = self.head(torch.relu(self.enc(x))).chunk(2, dim=1)
        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar


data = torch.randn(256, 20)
model = VAE(LSIZE)
opt = torch.optim.Adam(model.parameters())
for i in range(0, len(data), 32):
    x = data[i : i + 32]
    recon, mu, logvar = model(x)
    loss = ((recon - x) ** 2).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def test_a_size_from_a_failed_import_handed_to_torch_names_the_import_and_the_package(tmp_path, monkeypatch):
    for name, text in (("grid_env.py", ENV), ("sizes.py", SIZES), ("train.py", TRAIN)):
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", [])
    assert result.error is not None and result.findings == []
    message = result.error.message
    assert "grid_env.py:1 imports 'gym' from 'gym_not_installed_here', which could not be imported" in message, message
    assert "Install the package that provides 'gym_not_installed_here'" in message
    assert "Unavailable" not in message


def test_the_same_sizes_with_the_package_there_check_clean(tmp_path, monkeypatch):
    (tmp_path / "gym_not_installed_here.py").write_text("class Env:\n    pass\n")  # the package, installed
    for name, text in (("grid_env.py", ENV), ("sizes.py", SIZES), ("train.py", TRAIN)):
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", [])
    assert result.error is None, result.error.message
    assert result.findings == []
