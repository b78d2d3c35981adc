"""What a finding's fix says, where examples alone do not pin it down: VAE002's change named term
by term, and the tensor or dims a fix names being the ones the code has (a batch tensor, not the
function's first parameter; every per-sample dim of a spatial latent)."""

import os

from conftest import FIXTURES
from helpers import check


def test_vae002_says_what_to_change_in_each_term():
    # the fix names the reductions that differ from per-sample sums averaged over the batch
    from vaelint.rules.vae002_kl_reduction import ReductionsSeen

    def fix(rec, kl):
        return ReductionsSeen("r", "k", "f", 2.0, 8, 1, None, None, rec_own=rec, kl_own=kl).fix()

    both = fix((-1, 784.0, 1.0), (0, 1.0, 1.0))  # F.mse_loss(recon, x) beside kl.sum()
    assert "sum the reconstruction over each sample's values" in both and "average the KL over the batch" in both
    assert fix((-1, 1.0, 1.0), (-1, 4.0, 1.0)).endswith("sum the KL over the latent dims instead of averaging them (kl.sum(dim=-1).mean())")
    assert "average the reconstruction over the batch as the KL is" in fix((0, 1.0, 1.0), (-1, 1.0, 1.0))
    assert "not by a count of values" in fix((-1, 1.0, 1.0), (-1, 1.0, 784.0))  # kl / x.numel()
    assert fix((-1, 1.0, 1.0), (-1, 1.0, 1.0)).startswith("reduce both terms the same way")  # nothing to name


TRAIN_DIVIDES_BY_ARGS = """import argparse

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from vae_common import VAE


def train(args, model, loader, optimizer):
    for batch_id, sample in enumerate(loader):
        input = sample[0]
        recon, mu, logvar = model(input)
        nll = F.binary_cross_entropy(recon, input, reduction="sum") / args.batch_size
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / args.batch_size
        loss = nll + kl
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--batch_size", type=int, default=100)
    args = p.parse_args()
    model = VAE()
    loader = DataLoader(TensorDataset(torch.rand(250, 784)), batch_size=args.batch_size)
    train(args, model, loader, torch.optim.Adam(model.parameters()))
"""


def test_vae005s_fix_divides_by_a_tensor_of_the_batch_not_a_parameter_of_the_function(tmp_path, monkeypatch):
    """`/ args.batch_size` in train(args, model, loader, optimizer): the fix reads the size off the
    batch tensor the function uses (`input`), never off its first parameter (`args.size(0)`, which
    satyam-cyc/variational-autoencoder was offered), nor off the batch list (`sample`)."""
    import json
    import shutil

    from json_cli import runner

    from vaelint.cli import app

    (tmp_path / "train.py").write_text(TRAIN_DIVIDES_BY_ARGS)
    shutil.copy(os.path.join(FIXTURES, "training", "running", "vae_common.py"), tmp_path)
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["check", "train.py", "--format", "json", "--no-cache"])
    findings = json.loads(r.output)["results"][0]["findings"]
    fixes = {f["line"]: f["autofix"]["message"] for f in findings if f["code"] == "VAE005"}
    assert fixes == {14: "divide by the batch's own size: input.size(0)", 15: "divide by the batch's own size: input.size(0)"}


CONV_KL_MEAN = """import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Conv2d(3, 16, 4, 2, 1)
        self.dec = nn.ConvTranspose2d(8, 3, 4, 2, 1)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(z)), mu, logvar


def loss_function(recon, x, mu, logvar):
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).mean()
    return F.mse_loss(recon, x) + kl
"""


def test_vae002s_fix_sums_a_spatial_latents_kl_over_all_its_dims(tmp_path):
    """A B x C x H x W latent (LukeDitria/CNN-VAE's B x 256 x 4 x 4): summing the KL over dim -1
    alone would leave C x H averaged; the fix sums dims 1, 2 and 3. A flat latent keeps dim -1."""
    path = tmp_path / "m.py"
    path.write_text(CONV_KL_MEAN)
    (finding,) = [f for f in check(str(path), "ConvVAE", ["8x3x16x16"], dynamic=False).findings if f.code == "VAE002"]
    assert "kl.sum(dim=(1, 2, 3)).mean()" in finding.fix and "dim=-1" not in finding.fix


def test_a_layer_built_in_forward_is_said_so_and_gets_no_device_edit(fixtures_dir):
    """timeVAE's TrendLayer built inside forward: VAE012 said torch's own `empty` made a CPU tensor
    and offered, as safe, device=seq_len.device inside the layer's __init__, where seq_len is an
    int. It says a layer is built while the model runs, and offers no edit."""
    from helpers import check

    result = check(f"{fixtures_dir}/buggy/layer_built_in_forward.py", "TimeVAE", ["16x24x5"])
    (finding,) = [f for f in result.findings if f.code == "VAE012"]
    assert "a layer is built while the model runs" in finding.message, finding.message
    assert "build the layer once, in the model's __init__" in finding.fix
    assert finding.autofix is None
