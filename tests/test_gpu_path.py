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


# A constructor whose default device is CUDA (no fallback) and a forward that moves its input
# there: on a machine with a GPU the first run meets vaelint's CPU inputs (here, with a CPU-only
# torch, the move itself raises, as the meeting does there); the check again with CUDA hidden must
# keep those moves on the CPU, as on a machine without a GPU (scripts/gpu_checks.py found the
# retry moving them to the real GPU: "Expected all tensors to be on the same device", exit 2).
CUDA_BY_DEFAULT = textwrap.dedent("""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F


    class VAE(nn.Module):
        def __init__(self, device="cuda"):
            super().__init__()
            self.device = device
            self.enc, self.dec = nn.Linear(12, 8), nn.Linear(4, 12)

        def forward(self, x):
            x = x.to(self.device)
            mu, logvar = self.enc(x).chunk(2, dim=1)
            z = mu + torch.randn(mu.shape, device=self.device) * torch.exp(0.5 * logvar)
            return torch.sigmoid(self.dec(z)), mu, logvar


    def loss_function(recon, x, mu, logvar):
        rec = F.binary_cross_entropy(recon, x, reduction="sum")
        return rec - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
""")


def test_the_check_with_cuda_hidden_keeps_the_codes_moves_on_the_cpu(tmp_path, monkeypatch):
    path = tmp_path / "cuda_default.py"
    path.write_text(CUDA_BY_DEFAULT)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a machine with a GPU
    result = check(str(path), "VAE", ["6x12"], device="cpu")
    assert result.error is None, result.error.message
    assert result.findings == [] and result.confirmed_on == "cpu"
    assert "checked with CUDA hidden, as on a machine without a GPU" in result.notes[0]
    # the moves the second check kept on the CPU are said as such, not as a machine without CUDA
    kept = [n for n in result.notes if "stayed on the CPU" in n]
    assert kept and all("CUDA is hidden for this check" in n and "this machine has no CUDA" not in n for n in kept)


# Training code whose step moves its target to the GPU where there is one, after the model (left on
# the CPU) ran: on a machine with a GPU the step stops where tensors of two devices meet (the error
# stands in for the one torch raises there).
# The run is checked again as on a machine without a GPU instead of ending at torch's error
# ("no training step to check ... Expected all tensors to be on the same device", exit 2).
STEP_MEETS_THE_GPU = textwrap.dedent("""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.utils.data import DataLoader, TensorDataset


    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc, self.dec = nn.Linear(12, 8), nn.Linear(4, 12)

        def forward(self, x):
            mu, logvar = self.enc(x).chunk(2, dim=1)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            return torch.sigmoid(self.dec(z)), mu, logvar


    model = VAE()
    opt = torch.optim.Adam(model.parameters())
    loader = DataLoader(TensorDataset(torch.rand(64, 12)), batch_size=8)
    for (x,) in loader:
        recon, mu, logvar = model(x)
        if torch.cuda.is_available():  # the target moved to the GPU, the model left on the CPU
            raise RuntimeError("Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!")
        rec = F.binary_cross_entropy(recon, x, reduction="sum") / x.size(0)
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.size(0)
        loss = rec + kl
        opt.zero_grad()
        loss.backward()
        opt.step()
""")


def test_a_training_run_stopped_by_two_devices_is_checked_as_without_a_gpu(tmp_path, monkeypatch):
    path = tmp_path / "train.py"
    path.write_text(STEP_MEETS_THE_GPU)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a machine with a GPU
    monkeypatch.chdir(tmp_path)
    result = check(str(path), "-", [], device="cpu")
    assert result.error is None, result.error.message
    assert result.confirmed_on == "cpu" and "checked with CUDA hidden, as on a machine without a GPU" in result.notes[0]
    assert "train.py:" in result.notes[0]  # where the run met the other device


def test_without_a_gpu_the_training_run_is_checked_once(tmp_path, monkeypatch):
    path = tmp_path / "train.py"
    path.write_text(STEP_MEETS_THE_GPU)
    monkeypatch.chdir(tmp_path)
    result = check(str(path), "-", [], device="cpu")
    assert result.error is None, result.error.message
    assert not any("CUDA hidden" in n for n in result.notes)
    assert any("inferred from the batch the code made" in n or "input 8x12" in n for n in result.notes)


def test_the_confirmation_takes_the_shape_runs_forward_where_the_model_already_is():
    # the shapes stage's run at the user's batch ran where the model's weights are: on the device the
    # confirmation runs on, its forward (kept with its graph) is taken, not run again; a model on the
    # CPU confirmed on a GPU is moved there and runs its own
    from vaelint.confirm.forward_backward import lives_on

    model = torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.BatchNorm1d(2))
    assert lives_on(model, "cpu") and not lives_on(model, "cuda") and not lives_on(model, "cuda:0")
    assert lives_on(torch.nn.ReLU(), "cpu") and not lives_on(torch.nn.ReLU(), "cuda")  # no weights: the stages' CPU
    meta = torch.nn.Linear(4, 2, device="meta")  # weights on another device than the CPU
    assert lives_on(meta, "meta") and not lives_on(meta, "cpu")


def test_a_model_of_two_devices_does_not_live_on_either():
    from vaelint.confirm.forward_backward import lives_on

    mixed = torch.nn.ModuleDict({"a": torch.nn.Linear(2, 2), "b": torch.nn.Linear(2, 2, device="meta")})
    assert not lives_on(mixed, "cpu") and not lives_on(mixed, "meta")


def test_only_torchs_words_of_two_devices_check_the_run_again_without_cuda(monkeypatch):
    from vaelint.frontends.training.livecudaguard import met_another_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a machine with a GPU
    assert met_another_device(
        RuntimeError("Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!")
    )
    assert met_another_device(ValueError("SyncBatchNorm expected input tensor to be on GPU or XPU or privateuseone"))
    assert met_another_device(
        RuntimeError(
            "Input type (torch.FloatTensor) and weight type (torch.cuda.FloatTensor) should be the same or input should be a MKLDNN tensor"
        )
    )
    assert not met_another_device(KeyError("device"))  # a config's key
    assert not met_another_device(AssertionError("this run needs 2 GPUs"))
    assert not met_another_device(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert not met_another_device(RuntimeError("Expected all tensors to be on the same device"))
