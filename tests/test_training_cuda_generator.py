"""A script that asks a CPU build of torch for a CUDA generator (``DataLoader(...,
generator=torch.Generator(device="cuda"))`` beside ``torch.set_default_device("cuda")``) is said
as code that needs CUDA, with the option to give, not as torch's paragraph on dynamic linkers
and ``ldd`` (helper h33d, chataignault/models)."""

import textwrap

import pytest
import torch
from helpers import check

SCRIPT = """
import torch
from torch import nn

device = "cuda"
torch.set_default_device(device)
data = torch.utils.data.TensorDataset(torch.rand(64, 10, device="cpu"))
loader = torch.utils.data.DataLoader(data, batch_size=16, shuffle=True, generator=torch.Generator(device=device))
enc, dec = nn.Linear(10, 4), nn.Linear(2, 10)
for (x,) in loader:
    mu, logvar = enc(x).chunk(2, dim=-1)
    recon = dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar))
    loss = ((recon - x) ** 2).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    loss.backward()
"""


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CUDA generator exists where CUDA is")
def test_a_cuda_generator_on_a_cpu_build_is_said_as_needing_cuda(tmp_path, monkeypatch):
    (tmp_path / "train.py").write_text(textwrap.dedent(SCRIPT))
    monkeypatch.chdir(tmp_path)
    said = check(str(tmp_path / "train.py"), "-", []).error.message
    assert "the code needs CUDA, which this machine does not have" in said and "--device cpu" in said, said
    assert "ldd" not in said and "no-as-needed" not in said, said


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CUDA generator exists where CUDA is")
def test_the_codes_default_device_is_not_left_set_after_its_check(tmp_path, monkeypatch):
    # the script sets torch's default device to CUDA: the next check in the same process (a worker
    # that checks several targets, the tests) must not make its tensors there
    (tmp_path / "train.py").write_text(textwrap.dedent(SCRIPT))
    monkeypatch.chdir(tmp_path)
    check(str(tmp_path / "train.py"), "-", [])
    assert torch.get_default_device() == torch.device("cpu")
    assert torch.zeros(2).device.type == "cpu"
