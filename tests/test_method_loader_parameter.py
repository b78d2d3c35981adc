"""A ``Class.method`` target whose data is a loader parameter nothing passes (``Solver.train(self,
train_loader)``, ``fit(self, dataloader)``: trainer objects a script builds and hands a loader): with
--input it stands in as a loader of --input's batches, each batch in the pattern the loop unpacks
(``for i, (images, _) in enumerate(train_loader)``: the images and labels). Before, only a parameter
the code built its data from (``TensorDataset(X)``) stood in, and an iterated one stopped the run:
the step was then read off the code's syntax (ljtsparky/VAEGAN's three backwards: the wrong one)."""

import textwrap

from helpers import check, found

SOURCE = """
import torch
from torch import nn


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(784, 2 * 8)
        self.dec = nn.Linear(8, 784)

    def forward(self, x):
        mu, logvar = self.enc(x.flatten(1)).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(z)), mu, logvar


class Solver:
    def __init__(self, epochs=3):
        self.model = VAE()
        self.opt = torch.optim.Adam(self.model.parameters())
        self.epochs = epochs

    def train(self, train_loader):
        for epoch in range(self.epochs):
            for LOOP:
                recon, mu, logvar = self.model(images)
                rec = nn.functional.binary_cross_entropy(recon, images.flatten(1), reduction="sum")
                kl = -0.5 * torch.REDUCE(1 + logvar - mu.pow(2) - logvar.exp())
                loss = rec + kl
                self.opt.zero_grad()
                loss.backward()
                self.opt.step()
"""


def _write(tmp_path, loop: str, reduce: str = "sum") -> str:
    path = tmp_path / "loaderparam_solver.py"
    path.write_text(textwrap.dedent(SOURCE).replace("LOOP", loop).replace("REDUCE", reduce))
    return str(path)


def _stood_in(result) -> bool:
    return any("the parameter 'train_loader' of Solver.train" in n and "a loader of --input 32x1x28x28" in n for n in result.notes)


def test_an_enumerated_loader_parameter_gives_batches_in_the_loops_pattern(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = check(_write(tmp_path, "i, (images, _) in enumerate(train_loader)", "mean"), "Solver.train", ["32x1x28x28"])
    assert result.error is None, result.error.message
    assert _stood_in(result), result.notes
    assert not any("was found by reading the code" in n for n in result.notes), result.notes  # the run reached it
    assert ("VAE002", 29) in found(result), found(result)


def test_a_loader_parameter_looped_over_directly_is_clean_where_the_loss_is(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = check(_write(tmp_path, "images in train_loader"), "Solver.train", ["32x1x28x28"])
    assert result.error is None, result.error.message
    assert _stood_in(result), result.notes
    assert found(result) == set(), found(result)


def test_without_input_the_loader_parameter_is_asked_for(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = check(_write(tmp_path, "images in train_loader"), "Solver.train", [])
    said = result.error.message if result.error is not None else " ".join(result.notes)
    assert "the parameter 'train_loader' of Solver.train" in said, said
    assert "--input" in said, said


def test_an_api_removed_from_the_installed_library_in_the_setup_is_said_first(tmp_path, monkeypatch):
    """The method's setup reads ``np.Inf`` (removed in NumPy 2: pytorchtools' EarlyStopping): the user's own
    run stops there too, said first with the line (it came second, after advice about the loader)."""
    import numpy

    monkeypatch.chdir(tmp_path)
    monkeypatch.delattr(numpy, "Inf", raising=False)  # a library an earlier test imported may have put it back
    path = _write(tmp_path, "images in train_loader")
    source = (
        open(path)
        .read()
        .replace("        for epoch in range(self.epochs):\n", "        best = np.Inf\n        for epoch in range(self.epochs):\n", 1)
    )
    (tmp_path / "loaderparam_solver.py").write_text("import numpy as np\n" + source)
    result = check(path, "Solver.train", ["32x1x28x28"])
    assert result.error is not None, (result.notes, [f.code for f in result.findings])
    said = result.error.message
    assert (
        said.startswith("running the code as written stops") and "loaderparam_solver.py:26: AttributeError: `np.Inf` was removed" in said
    ), said
    assert "the user's own run stops there too" in said, said
