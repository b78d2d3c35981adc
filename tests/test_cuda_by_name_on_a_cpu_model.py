"""A step that puts a tensor on the GPU by name (``torch.randn(n, z).cuda()`` in forward, ``device="cuda"``)
while the code places its model on a device it chooses (``"cuda" if args.cuda else "cpu"``,
``torch.cuda.is_available()``): where the choice is the CPU, as run here, the step fails ("Torch not
compiled with CUDA enabled"; on a GPU machine with the switch off, "Expected all tensors to be on the same
device"). vaelint kept the move on the CPU, noted it, and said "no findings"; its simulated GPU took the
GPU branch, where the two agree (helper-found). Now VAE012 at the move. Code that is GPU-only (the model
moved with .cuda(), a GPU asserted), a move guarded by the tensor's own device, and noise made on the
input's device are clean."""

from __future__ import annotations

import pytest
from json_cli import check_json

SCRIPT = """import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F


class TinyVAE(nn.Module):
    def __init__(self, d=784, z=8):
        super().__init__()
        self.z = z
        self.enc = nn.Linear(d, 2 * z)
        self.dec = nn.Linear(z, d)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        eps = NOISE
        z = mu + eps * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(z)), mu, logvar


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cuda", action="store_true")
    args = p.parse_args()
    GUARD
    device = torch.device(CHOICE)
    model = TinyVAE()PLACE
    opt = torch.optim.Adam(model.parameters())
    loader = torch.utils.data.DataLoader(torch.rand(64, 784), batch_size=16)
    for x in loader:
        x = x.to(device)
        recon, mu, logvar = model(x)
        rec = F.binary_cross_entropy(recon, x, reduction="sum") / x.size(0)
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.size(0)
        loss = rec + kl
        opt.zero_grad()
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
"""

_FLAG = '"cuda" if args.cuda else "cpu"'
_AVAILABLE = '"cuda" if torch.cuda.is_available() else "cpu"'


def _script(tmp_path, noise, choice=_FLAG, place=".to(device)", guard="pass"):
    path = tmp_path / "train.py"
    path.write_text(SCRIPT.replace("NOISE", noise).replace("CHOICE", choice).replace("PLACE", place).replace("GUARD", guard))
    return path


def _line_of(path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.mark.parametrize(
    ("noise", "choice", "said"),
    [("torch.randn(x.size(0), self.z).cuda()", _FLAG, ".cuda()"), ('torch.randn(x.size(0), self.z).to("cuda")', _AVAILABLE, ".to('cuda')")],
    ids=["cuda() with a --cuda switch", "to('cuda') with is_available()"],
)
def test_noise_put_on_the_gpu_by_name_beside_a_chosen_device_is_VAE012(tmp_path, noise, choice, said):
    path = _script(tmp_path, noise, choice)
    r, result = check_json(str(path))
    assert r.exit_code == 1, r.output
    assert [f["code"] for f in result["findings"]] == ["VAE012"], result["findings"]
    finding = result["findings"][0]
    assert finding["line"] == _line_of(path, "eps = "), finding
    assert said in finding["message"] and "Torch not compiled with CUDA enabled" in finding["message"], finding["message"]
    assert "x.device" in finding["fix"], finding["fix"]
    assert finding["confirmed"] is True


@pytest.mark.parametrize(
    ("noise", "place", "guard"),
    [
        ("torch.randn(x.size(0), self.z).cuda()", ".cuda()", "pass"),  # GPU-only code: the model moved by name
        ("torch.randn(x.size(0), self.z).cuda()", ".to(device)", "assert torch.cuda.is_available()"),  # a GPU asserted
        ("torch.randn(x.size(0), self.z).cuda() if x.is_cuda else torch.randn(x.size(0), self.z)", ".to(device)", "pass"),
        ("torch.randn(x.size(0), self.z).to(x.device)", ".to(device)", "pass"),
    ],
    ids=["gpu-only model.cuda()", "gpu asserted", "guarded by x.is_cuda", "made on x.device"],
)
def test_code_that_is_gpu_only_or_follows_its_input_is_clean(tmp_path, noise, place, guard):
    path = _script(tmp_path, noise, place=place, guard=guard)
    r, result = check_json(str(path))
    assert r.exit_code == 0, r.output
    assert not any(f["code"] == "VAE012" for f in result["findings"]), result["findings"]
