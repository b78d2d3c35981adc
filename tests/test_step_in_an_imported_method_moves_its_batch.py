"""A training step in a method of a module the script imports (``model.train_epochs(loader)``,
aae_lib.py's), which moves its batch (``x = x.to("cpu")``): the runtime's record of the step's moves
stays a method. Before (a regression of the same day: the runtime's ``moved`` was overwritten by the
globals kept for a warm-up), the check ended in exit 2 'TypeError: 'dict' object is not callable ...
fix it so the model runs', blaming the user's line."""

from __future__ import annotations

import pytest
from json_cli import check_json

LIB = """import torch
from torch import nn


class VAE(nn.Module):
    def __init__(self, x_dim=784, z_dim=8):
        super().__init__()
        self.encoder = nn.Linear(x_dim, 2 * z_dim)
        self.decoder = nn.Sequential(nn.Linear(z_dim, x_dim), nn.Sigmoid())
        self.opt = torch.optim.SGD(self.parameters(), lr=0.01)

    def train_epochs(self, loader, epochs):
        for epoch in range(epochs):
            for x, _ in loader:
                x = x.to(DEVICE)
                self.opt.zero_grad()
                mu, logvar = self.encoder(x).chunk(2, dim=1)
                z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
                rec = nn.functional.binary_cross_entropy(self.decoder(z), x, reduction="sum") / x.size(0)
                kl = -0.5 * torch.KL(1 + logvar - mu.pow(2) - logvar.exp()) / x.size(0)
                (rec + kl).backward()
                self.opt.step()
"""

SCRIPT = """import torch
from torch.utils.data import DataLoader, TensorDataset

from LIBNAME import VAE

model = VAE()
X = torch.load("digits_flat.pt")
loader = DataLoader(TensorDataset(X, torch.zeros(len(X))), batch_size=100, shuffle=True)
model.train_epochs(loader, epochs=2)
"""


@pytest.mark.parametrize(("kl", "codes"), [("sum", []), ("mean", ["VAE002"])], ids=["clean", "KL averaged"])
@pytest.mark.parametrize("device", ['"cpu"', "torch.device('cuda' if torch.cuda.is_available() else 'cpu')"], ids=["cpu", "chosen"])
def test_a_step_in_an_imported_method_that_moves_its_batch_is_checked(tmp_path, kl, codes, device):
    lib = f"sim_lib_{kl}_{len(device)}"
    (tmp_path / f"{lib}.py").write_text(LIB.replace("KL", kl).replace("DEVICE", device))
    path = tmp_path / f"sim_train_{kl}_{len(device)}.py"
    path.write_text(SCRIPT.replace("LIBNAME", lib))
    r, result = check_json(str(path), "--input", "100x784")
    assert r.exit_code == (1 if codes else 0), r.output
    assert [f["code"] for f in result["findings"]] == codes, result["findings"]


AE_LIB = """import torch
from torch import nn


class AE(nn.Module):
    def __init__(self, x_dim, z_dim, recon_loss_fn):
        super().__init__()
        self.recon_loss = recon_loss_fn
        self.encoder = nn.Sequential(nn.Linear(x_dim, 64), nn.ReLU(), nn.Linear(64, z_dim))
        self.decoder = nn.Sequential(nn.Linear(z_dim, 64), nn.ReLU(), nn.Linear(64, x_dim), nn.Sigmoid())
        self.critic = nn.Sequential(nn.Linear(z_dim, 32), nn.ReLU(), nn.Linear(32, 1))
        self.ae_opt = torch.optim.SGD(list(self.encoder.parameters()) + list(self.decoder.parameters()), lr=0.01)
        self.critic_opt = torch.optim.SGD(self.critic.parameters(), lr=0.1)
        self.adv = nn.BCEWithLogitsLoss()

    def train_epochs(self, loader, epochs):
        for epoch in range(epochs):
            for x, _ in loader:
                x = x.to("cpu")
                self.ae_opt.zero_grad()
                loss = self.recon_loss(self.decoder(self.encoder(x)), x)
                loss.backward()
                self.ae_opt.step()
                self.critic_opt.zero_grad()
                real = self.critic(torch.randn(x.size(0), 8) * 5.0)
                fake = self.critic(self.encoder(x).detach())
                c = self.adv(real, torch.ones_like(real)) + self.adv(fake, torch.zeros_like(fake))
                c.backward()
                self.critic_opt.step()
"""


def test_an_adversarial_autoencoders_step_passed_over_and_then_checked_moves_its_batch(tmp_path):
    # an adversarial autoencoder (a critic on the codes, no sampler): the run passes its backwards over (no
    # reparameterised sample reached) and checks the first as the model's step
    (tmp_path / "sim_ae_lib.py").write_text(AE_LIB)
    path = tmp_path / "sim_ae_train.py"
    script = SCRIPT.replace("LIBNAME", "sim_ae_lib").replace("import VAE", "import AE")
    path.write_text(script.replace("model = VAE()", "model = AE(784, 8, torch.nn.MSELoss())"))
    r, result = check_json(str(path), "--input", "100x784")
    assert r.exit_code == 0, r.output
    assert result["error"] is None, result["error"]
    assert [s["code"] for s in result["skipped"] if "no reparameterisation" in s["reason"]], result["skipped"]
