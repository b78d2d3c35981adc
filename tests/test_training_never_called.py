"""A script whose main block never reaches its training function (``# main(args)`` commented out,
``predict(args)`` left in: wwhlyw/graphvae) says so where the run stops, and names the function to
check; a main block that reaches it, by a call or by handing it on (mp.spawn(main)), says nothing."""

import ast
import textwrap

import pytest
from helpers import check

from vaelint.frontends.training.uncalled import training_never_called

SCRIPT = """
import torch
import torch.nn as nn


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(10, 8), nn.Linear(4, 10)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar


def train(loader, model):
    for (x,) in loader:
        recon, mu, logvar = model(x)
        (((recon - x) ** 2).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())).backward()


def main():
    x = torch.load("data/features.pt")
    train(torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x), batch_size=4), VAE())


def predict():
    model = VAE()
    model.load_state_dict(torch.load("checkpoints/last.pth"))


if __name__ == "__main__":
    {MAIN}
"""


def _tree(main: str) -> ast.Module:
    return ast.parse(textwrap.dedent(SCRIPT).replace("{MAIN}", main))


def test_a_main_block_that_runs_another_function_never_trains():
    assert training_never_called(_tree("# main()\n    predict()")) == ("main", 19, [("predict", 34)])


@pytest.mark.parametrize(
    "main", ["main()", "predict()\n    main()", "import torch.multiprocessing as mp\n    mp.spawn(main, nprocs=1)", "globals()['main']()"]
)
def test_a_main_block_that_reaches_the_training_says_nothing(main):
    assert training_never_called(_tree(main)) is None


def test_the_run_that_stops_in_the_prediction_says_the_script_never_trains(tmp_path, monkeypatch):
    (tmp_path / "main.py").write_text(textwrap.dedent(SCRIPT).replace("{MAIN}", "# main()\n    predict()"))
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "main.py"), "-", [])
    assert result.error is not None
    message = result.error.message
    assert "as written the script never trains: what it runs calls predict() (line 34)" in message, message
    assert "check main.py:main with --input" in message, message


NESTED_GUARD = """
import argparse

import torch
import torch.nn as nn


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(10, 8), nn.Linear(4, 10)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar


def train(args):
    model = VAE()
    for x in torch.randn(args.steps, 4, 10):
        recon, mu, logvar = model(x)
        (((recon - x) ** 2).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())).backward()

    if __name__ == "__main__":
        parser = argparse.ArgumentParser()
        parser.add_argument("--steps", type=int, default=3)
        train(parser.parse_args())
"""


def test_a_main_guard_indented_into_the_training_function_is_said(tmp_path, monkeypatch):
    """The main block indented into train() (a fork's slip): running the file defines train and never calls
    it. Said with the guard's line and the function to check; it was only "defines the model VAE but
    names no target" (train's call of itself inside its own body counted as a call)."""
    from typer.testing import CliRunner

    from vaelint.cli import app

    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text(textwrap.dedent(NESTED_GUARD))
    r = CliRunner().invoke(app, ["check", "train.py", "--no-cache"])
    assert r.exit_code == 2, r.output
    said = " ".join(r.output.split())
    assert "it defines train() at line 18, which trains but nothing in the file calls" in said, said
    assert 'main guard, `if __name__ == "__main__":` at line 24, is indented into train()' in said, said
    assert "`vaelint check train.py:train`" in said, said
