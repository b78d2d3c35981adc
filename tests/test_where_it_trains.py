"""A model checked alone with no loss found names the code that trains it
(vaelint/frontends/trainingsites.py), and that method, checked with --input, takes the batch
through its parameters (vaelint/frontends/training/liveparams.py)."""

from __future__ import annotations

import os

from conftest import FIXTURES
from helpers import check, found

CASE = os.path.join(FIXTURES, "training", "agent_update_takes_the_batch.py")
INIT = {"state_dim": 6, "action_dim": 3}


def test_a_model_without_a_loss_names_the_method_that_trains_it():
    result = check(CASE, "ActionVAE", ["32x6", "32x3"], init=INIT)
    assert result.error is None, result.error
    note = next(n for n in result.notes if n.startswith("no loss found"))
    assert "The code that trains it: " in note and "agent_update_takes_the_batch.py:BehaviourCloner.update (line 34)" in note, note
    assert "check that with its --input (vaelint check " in note, note


def test_the_method_takes_the_input_tensors_as_its_batch_parameters():
    result = check(CASE, "BehaviourCloner.update", ["32x6", "32x3"], init=INIT)
    assert result.error is None, result.error
    assert found(result) == {("VAE002", 37), ("VAE004", 38)}, result.findings
    assert any("the parameters state, action of BehaviourCloner.update, which nothing passes, are the batch" in n for n in result.notes), (
        result.notes
    )


def test_a_model_with_no_training_code_beside_it_says_no_more(tmp_path):
    (tmp_path / "wit_vae.py").write_text(
        "import torch\nfrom torch import nn\n\n\nclass VAE(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.enc = nn.Linear(10, 4)\n        self.dec = nn.Linear(2, 10)\n\n"
        "    def forward(self, x):\n        mu, logvar = self.enc(x).chunk(2, dim=1)\n"
        "        return self.dec(mu + torch.randn_like(mu) * logvar.mul(0.5).exp()), mu, logvar\n"
    )
    result = check(str(tmp_path / "wit_vae.py"), "VAE", ["8x10"])
    note = next(n for n in result.notes if n.startswith("no loss found"))
    assert "The code that trains it" not in note, note


def test_a_step_function_takes_the_input_as_its_batch_parameter(tmp_path, monkeypatch):
    # def train_on_batch(x): ... with the model built at the module's top: --input is x
    (tmp_path / "wit_step.py").write_text(
        "import torch\nimport torch.nn.functional as F\nfrom torch import nn\n\n\nclass VAE(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.enc = nn.Linear(12, 4)\n        self.dec = nn.Linear(2, 12)\n\n"
        "    def forward(self, x):\n        mu, logvar = self.enc(x).chunk(2, dim=1)\n"
        "        return self.dec(mu + torch.randn_like(mu) * logvar.mul(0.5).exp()), mu, logvar\n\n\n"
        "model = VAE()\noptimizer = torch.optim.Adam(model.parameters())\n\n\n"
        "def train_on_batch(x):\n    recon, mu, logvar = model(x)\n"
        "    rec = F.mse_loss(recon, x)\n    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.size(0)\n"
        "    optimizer.zero_grad()\n    (rec + kl).backward()\n    optimizer.step()\n"
    )
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "wit_step.py"), "train_on_batch", ["8x12"])
    assert result.error is None, result.error
    assert {code for code, _line in found(result)} == {"VAE002"}, result.findings
    assert any(
        "the parameter x of train_on_batch, which nothing passes, is the batch it trains on: it takes --input 8x12" in n
        for n in result.notes
    )


def test_a_replay_buffer_and_a_count_take_no_input_tensor(tmp_path, monkeypatch):
    # BCQ.train(self, replay_buffer, iterations): an object asked .sample(), a count in range(): no
    # batch parameters, so nothing of --input is bound to them (a review found an invented TypeError)
    (tmp_path / "wit_agent.py").write_text(
        "import torch\nfrom torch import nn\n\n\nclass Agent:\n    def __init__(self):\n        self.net = nn.Linear(4, 4)\n"
        "        self.opt = torch.optim.Adam(self.net.parameters())\n\n"
        "    def train(self, replay_buffer, iterations):\n        for _ in range(iterations):\n"
        "            x = replay_buffer.sample(8)\n            loss = self.net(x).pow(2).mean()\n"
        "            self.opt.zero_grad()\n            loss.backward()\n            self.opt.step()\n"
    )
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "wit_agent.py"), "Agent.train", ["8x4", "8x4"])
    assert result.error is not None
    assert "Running it as written stopped first" not in result.error.message, result.error.message
    assert not any("which nothing passes, are the batch" in n or "which nothing passes, is the batch" in n for n in result.notes)


def test_another_models_training_code_in_the_models_file_is_not_named(tmp_path):
    (tmp_path / "wit_models.py").write_text(
        "import torch\nimport torch.nn.functional as F\nfrom torch import nn\n\n\nclass VAE(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.enc = nn.Linear(10, 4)\n        self.dec = nn.Linear(2, 10)\n\n"
        "    def forward(self, x):\n        mu, logvar = self.enc(x).chunk(2, dim=1)\n"
        "        return self.dec(mu + torch.randn_like(mu) * logvar.mul(0.5).exp()), mu, logvar\n\n\n"
        "class Classifier(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(10, 3)\n\n"
        "    def forward(self, x):\n        return self.fc(x)\n\n\n"
        "def train_classifier(clf, x, y):\n    F.cross_entropy(clf(x), y).backward()\n"
    )
    result = check(str(tmp_path / "wit_models.py"), "VAE", ["8x10"])
    note = next(n for n in result.notes if n.startswith("no loss found"))
    assert "train_classifier" not in note, note


_LATENT = (
    "import torch\nfrom torch import nn\n\n\nclass Latent(nn.Module):\n"
    "    def __init__(self):\n        super().__init__()\n        self.enc = nn.Linear(10, 4)\n        self.dec = nn.Linear(2, 10)\n\n"
    "    def forward(self, x):\n        mu, logvar = self.enc(x).chunk(2, dim=1)\n"
    "        return self.dec(mu + torch.randn_like(mu) * logvar.mul(0.5).exp()), mu, logvar\n"
)
_TRAINS = "\n\ndef fit(data):\n    model = Latent()\n    out = model(data)\n    out[0].sum().backward()\n"


def test_the_files_own_top_level_loop_is_named_before_other_files(tmp_path):
    """A model file that trains it at its top level (helper-found: the hint named other files'
    trainers of other classes called Latent, never the file's own loop)."""
    (tmp_path / "own.py").write_text(_LATENT + "\n\nmodel = Latent()\nloss = model(torch.rand(8, 10))[0].sum()\nloss.backward()\n")
    result = check(str(tmp_path / "own.py"), "Latent", ["8x10"])
    note = next(n for n in result.notes if n.startswith("no loss found"))
    assert "this file's own training loop (its backward at line 18); check the file itself (vaelint check " in note, note


def test_trainers_of_another_class_of_the_same_name_are_not_named(tmp_path):
    (tmp_path / "mdl.py").write_text(_LATENT)
    (tmp_path / "other.py").write_text(_LATENT.replace("10", "12"))
    (tmp_path / "agent.py").write_text("import torch\nfrom other import Latent" + _TRAINS)  # the other module's Latent
    (tmp_path / "lookalike.py").write_text(
        "import torch\nfrom other import Latent as LatentNet\n" + _TRAINS.replace("Latent()", "LatentNet()")
    )
    (tmp_path / "trainer.py").write_text("import torch\nfrom mdl import Latent" + _TRAINS)  # this one's
    result = check(str(tmp_path / "mdl.py"), "Latent", ["8x10"])
    note = next(n for n in result.notes if n.startswith("no loss found"))
    assert "trainer.py:fit (line" in note and "agent.py" not in note and "lookalike.py" not in note and "other.py" not in note, note
