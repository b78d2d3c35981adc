"""A step whose loss reaches no reparameterised sample (a VQ-VAE's codebook and straight-through
estimator), in a function nested in main, on batches a generator cycles for ever: the run passes
over its backward batch after batch. Where reading the code then finds no step but that same
backward, the run's own is the step, on the batch the code gave it (reading the code took another
way through the setup in xyfJASON/vqvae-pytorch and never reached it: "the step ran to its end",
exit 2). Gaussian noise the step draws with NumPy, which the run cannot follow into the loss,
leaves the choice to reading the code (tests/test_training.py's numpy noise cases)."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
from conftest import FIXTURES
from helpers import check, found

from vaelint.errors import VaelintError
from vaelint.frontends.base import TargetRef
from vaelint.frontends.training import TrainingFrontend

RUNNING = os.path.join(FIXTURES, "training", "running")


@pytest.mark.parametrize("inputs", [[], ["16x1x28x28"]])
def test_a_vq_vaes_nested_step_is_checked(inputs):
    result = check(os.path.join(RUNNING, "vq_step_in_a_nested_function.py"), "-", inputs)
    assert result.error is None, result.error.message
    assert found(result) == {("VAE010", 57)}
    assert any(n.startswith("the loss this step backpropagates reaches no random sample") for n in result.notes), result.notes


def _frontend_where(monkeypatch, tmp_path, passed: bool, numpy_noise: bool):
    """The front end with its run stopped after passing over a backward (``build``) and its
    reading of the code returning a program of that backward (``passed``) or another."""
    import vaelint.frontends.training.liveprogram as liveprogram

    run_program, read_program = SimpleNamespace(name="run"), SimpleNamespace(name="read", inputs=[], notes=[], passed_by_the_run=passed)

    def live(*_a, **_k):
        error = VaelintError("load", "no training step to check: the code took 16 batches")
        error.build, error.passed_sites, error.noise_elsewhere = (lambda: run_program), {("x", 1)}, numpy_noise
        raise error

    monkeypatch.setattr(liveprogram, "live_program", live)
    monkeypatch.setattr(TrainingFrontend, "_read", lambda *a, **k: read_program)
    script = tmp_path / "train.py"
    script.write_text("x = 1\n")
    ref = TargetRef(str(script), str(script), None)
    return TrainingFrontend().load(ref, SimpleNamespace(inputs=["8x4"], script_args=None, progress=lambda *_: None))


@pytest.mark.parametrize(("passed", "numpy_noise", "chosen"), [(True, False, "run"), (False, False, "read"), (True, True, "read")])
def test_the_runs_step_is_taken_where_reading_found_only_the_backward_it_passed(monkeypatch, tmp_path, passed, numpy_noise, chosen):
    assert _frontend_where(monkeypatch, tmp_path, passed, numpy_noise).name == chosen


NUMPY_NOISE = """
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class Encoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(40, 2 * 8)

    def forward(self, x):
        return self.fc(x).chunk(2, 1)


class Trainer:  # no module: a plain object holding the networks, its noise drawn with NumPy
    def __init__(self):
        self.encoder, self.decoder = Encoder(), torch.nn.Linear(8, 40)
        self.loader = DataLoader(TensorDataset(torch.rand(64, 40).round()), batch_size=16)

    def sample(self, mean, log_var):
        noise = torch.FloatTensor(np.random.normal(0, 1, size=tuple(mean.shape)))
        return mean + noise * torch.exp(log_var / 2)

    def loss(self, x):
        mean, log_var = self.encoder(x)
        x_hat = torch.sigmoid(self.decoder(self.sample(mean, log_var)))
        rec = F.binary_cross_entropy(x_hat, x, reduction="none").sum(1)
        kl = -0.5 * torch.mean(1 + log_var - mean.pow(2) - log_var.exp(), dim=1)
        return torch.mean(rec + kl)

    def train(self):
        opt = torch.optim.Adam([*self.encoder.parameters(), *self.decoder.parameters()])
        for _ in range(2):
            for (x,) in self.loader:
                opt.zero_grad()
                self.loss(x).backward()
                opt.step()


Trainer().train()
"""


def test_noise_drawn_with_numpy_leaves_the_step_to_reading_the_code(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(NUMPY_NOISE)
    result = check(str(script), "-", [])
    assert result.error is None, result.error.message
    assert found(result) == {("VAE002", 30)}
    # the sampler is the model's: not checked as a step whose loss reaches no random sample
    assert not any(n.startswith("the loss this step backpropagates reaches no random sample") for n in result.notes), result.notes
    assert any("the step was found by reading the code" in n for n in result.notes), result.notes


def test_an_aae_stepped_by_its_own_train_method_is_checked_at_its_step():
    # the epoch's mean over its losses divides by zero once vaelint ends the data of the loop that
    # came round: that stop is vaelint's, so the step the run passed over is the step (a false
    # VAE011 on the discriminator and "the step raised" were said before)
    result = check(os.path.join(RUNNING, "aae_train_method_epoch_mean.py"), "-", [])
    assert result.error is None, result.error.message
    assert found(result) == {("VAE005", 24)}
    assert not any("ZeroDivisionError" in n for n in result.notes), result.notes


def test_a_stop_after_vaelint_ended_a_loops_data_says_so():
    from vaelint.frontends.training.livewhy import why_not

    def said(rounds: int, model_calls: list) -> str:
        from vaelint.frontends.training.liverun import LiveRuntime

        runtime = LiveRuntime("train.py")
        runtime.stops, runtime.stopped_here, runtime.failures = [("train.py:9", ZeroDivisionError("division by zero"))], False, []
        watch = SimpleNamespace(rounds=rounds, model_calls=model_calls, taken=None, specs=[], batches=1, passed=[])
        return why_not(runtime, watch, SimpleNamespace(path="train.py"))

    ended = "after vaelint had ended the data of a loop that came round with no backward of a VAE loss"
    for calls in ([], ["model"]):
        assert "ZeroDivisionError" in said(1, calls) and ended in said(1, calls), said(1, calls)
        assert ended not in said(0, calls)  # the code's own stop: nothing of vaelint's said


def test_a_loss_backpropagated_in_parts_is_read_in_part_and_said_so(monkeypatch):
    # kl.backward(retain_graph=True) then rec.backward() before one optimiser step: the KL's
    # backward reaches no sample and was passed over as another network's, then the KL, computed
    # and not in the reconstruction's loss, "weighs nothing" (a false VAE004)
    from json_cli import check_json

    monkeypatch.chdir(os.path.join(FIXTURES, "training", "running"))
    r, result = check_json("kl_backpropagated_by_itself.py")
    assert r.exit_code == 0 and result["findings"] == [], r.output
    skipped = {s["code"]: s["reason"] for s in result["skipped"]}
    assert "backpropagates part of its loss by its own backward (kl_backpropagated_by_itself.py:20)" in skipped["VAE004"]
    assert any("the backward at kl_backpropagated_by_itself.py:20 backpropagates part of the VAE's loss" in n for n in result["notes"])
    assert not any("another network's, a pretraining phase's" in n for n in result["notes"]), result["notes"]
