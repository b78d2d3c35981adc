"""The CUDA path, tested through the CPU path (scripts/gpu_checks.py runs every
fixture with --device cuda where a GPU is): what differs on a machine with a GPU."""

from __future__ import annotations

import textwrap

import torch
from helpers import check

# On a machine with a GPU this model's own code picks CUDA (as DEVICE = "cuda" if
# torch.cuda.is_available() else "cpu" does); the error stands in for the one
# torch raises when that tensor meets vaelint's CPU stages.
CHOOSES_CUDA = textwrap.dedent("""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    ON_GPU = torch.cuda.is_available()


    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc, self.dec = nn.Linear(12, 8), nn.Linear(4, 12)

        def forward(self, x):
            if ON_GPU:
                raise RuntimeError("Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!")
            mu, logvar = self.enc(x).chunk(2, dim=1)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            return torch.sigmoid(self.dec(z)), mu, logvar


    def loss_function(recon, x, mu, logvar):
        rec = F.binary_cross_entropy(recon, x, reduction="sum")
        return rec - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
""")


def test_a_model_that_puts_itself_on_the_gpu_is_checked_as_on_a_cpu_machine(tmp_path, monkeypatch):
    path = tmp_path / "chooses.py"
    path.write_text(CHOOSES_CUDA)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a machine with a GPU
    result = check(str(path), "VAE", ["6x12"], device="cpu")
    assert result.error is None, result.error.message
    assert result.findings == [] and result.confirmed_on == "cpu"
    assert "checked with CUDA hidden, as on a machine without a GPU" in result.notes[0]
    assert "chooses.py:16)" in result.notes[0]  # the line that raised
    assert torch.cuda.is_available()  # restored afterwards


def test_without_a_gpu_the_same_error_is_reported_as_before(tmp_path):
    path = tmp_path / "chooses.py"
    path.write_text(CHOOSES_CUDA.replace("ON_GPU = torch.cuda.is_available()", "ON_GPU = True"))
    result = check(str(path), "VAE", ["6x12"], device="cpu")
    assert result.error is not None and result.error.kind == "trace"
    assert "moves a tensor to CUDA by itself" in result.error.message


def test_a_model_that_raises_is_confirmed_on_the_cpu_not_on_cuda(tmp_path, monkeypatch):
    # binary_cross_entropy on logits raises on the CPU, but is a device-side assert on
    # CUDA, after which the process has no usable GPU: confirm where it raises
    import vaelint.analyze as analyze
    import vaelint.confirm.stage as confirm_stage

    path = tmp_path / "logits.py"
    path.write_text(
        CHOOSES_CUDA.replace("torch.sigmoid(self.dec(z))", "self.dec(z)").replace(
            '            if ON_GPU:\n                raise RuntimeError("Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!")\n',
            "",
        )
    )
    seen = {}
    real = confirm_stage.confirm_run

    def confirm_run(cap, specs, device, *a, **k):
        seen["device"] = device
        return real(cap, specs, "cpu", *a, **k)

    monkeypatch.setattr(confirm_stage, "confirm_run", confirm_run)
    monkeypatch.setattr(analyze, "_check_device", lambda options: "cuda")  # as --device cuda on a GPU machine
    result = check(str(path), "VAE", ["6x12"])
    assert [f.code for f in result.findings] == ["VAE010"]
    assert seen["device"] == "cpu"
    assert any("confirmation pass ran there as well" in n for n in result.notes)


def test_a_device_chosen_in_an_imported_config_module_is_chosen_again(tmp_path, monkeypatch):
    # the choice lives in a module the model file imports: the retry imports it again
    (tmp_path / "gpu_settings_mod.py").write_text("import torch\n\nON_GPU = torch.cuda.is_available()\n")
    path = tmp_path / "chooses.py"
    path.write_text(CHOOSES_CUDA.replace("ON_GPU = torch.cuda.is_available()", "from gpu_settings_mod import ON_GPU"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.chdir(tmp_path)
    import sys

    try:
        result = check(str(path), "VAE", ["6x12"], device="cpu")
        assert result.error is None, result.error.message
        assert result.confirmed_on == "cpu" and "checked with CUDA hidden" in result.notes[0]
    finally:
        sys.modules.pop("gpu_settings_mod", None)
