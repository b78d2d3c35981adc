"""The user's modules put in training or evaluation mode without running a ``train`` of theirs
that is no mode switch (an adversarial autoencoder's ``def train(self, x)`` is its step:
"TypeError: AAE.train() missing 1 required positional argument: 'x'", an internal error, in
CUN-bjy/pytorch-adversarial-autoencoder's layout); an override that takes a mode is kept
(vaelint/modes.py)."""

from __future__ import annotations

import torch
import torch.nn as nn

from vaelint.modes import set_training


class StepAsTrain(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(4, 2)
        self.steps = 0

    def train(self, x):  # the model's training step, shadowing nn.Module.train
        self.steps += 1
        return self.enc(x).sum()


class FrozenPart(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.BatchNorm1d(4)
        self.head = nn.Linear(4, 2)

    def train(self, mode=True):  # a mode switch of its own: the backbone stays in eval mode
        super().train(mode)
        self.backbone.eval()
        return self


def test_a_train_that_is_a_training_step_is_not_run():
    model = nn.Sequential(StepAsTrain(), nn.Dropout())
    set_training(model, False)
    assert not any(m.training for m in model.modules())
    set_training(model, True)
    assert all(m.training for m in model.modules())
    assert model[0].steps == 0


def test_a_train_that_takes_a_mode_is_run():
    model = nn.Sequential(FrozenPart())
    set_training(model, True)
    assert model[0].head.training and not model[0].backbone.training


def test_plain_modules_are_set_as_nn_module_sets_them():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout())
    set_training(model, False)
    assert not any(m.training for m in model.modules())
    set_training(model)
    assert all(m.training for m in model.modules())


def test_the_check_of_such_a_model_runs(tmp_path):
    from helpers import check

    script = tmp_path / "model.py"
    script.write_text(
        "import torch, torch.nn as nn\n"
        "class VAE(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.enc, self.dec = nn.Linear(8, 4), nn.Linear(2, 8)\n"
        "    def train(self, x):\n"
        "        raise AssertionError('the step is not vaelint\\'s to run')\n"
        "    def forward(self, x):\n"
        "        mu, logvar = self.enc(x).chunk(2, dim=1)\n"
        "        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)\n"
        "        return self.dec(z), mu, logvar\n"
    )
    result = check(str(script), "VAE", ["4x8"])
    assert result.error is None, result.error.message
    assert result.confirmed_on == "cpu"
    assert torch.is_grad_enabled()
