"""An error the code catches and prints around its whole program (``try: main() except Exception:
log.error(..., exc_info=True)``): the run ends with no error of its own and no backward. The message
says that error and the user's line it was raised at, with what to give, not only that no batch
was taken; given that, the step is checked."""

from training_cli import check_in, run, write_script

SCRIPT = """
import logging
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

log = logging.getLogger("train")


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(20, 8), nn.Linear(4, 20)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, -1)
        return self.dec(mu + torch.randn_like(mu) * (0.5 * logvar).exp()), mu, logvar


def main():
    features = np.load("data/features.npy")
    loader = DataLoader(TensorDataset(torch.tensor(features, dtype=torch.float32)), batch_size=16)
    model = VAE()
    opt = torch.optim.Adam(model.parameters())
    for (x,) in loader:
        rec, mu, logvar = model(x)
        loss = ((rec - x) ** 2).sum(1).mean() - 0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:
        PRINT
"""

PRINTS = {"logging": 'log.error("training failed: %s", exc, exc_info=True)', "traceback": "import traceback; traceback.print_exc()"}


def _write(tmp_path, monkeypatch, how):
    (tmp_path / "train.py").write_text(SCRIPT.replace("PRINT", PRINTS[how]))
    monkeypatch.chdir(tmp_path)


def test_the_caught_error_is_said_with_its_line(tmp_path, monkeypatch):
    for how in PRINTS:
        _write(tmp_path, monkeypatch, how)
        r = run("train.py", "--timeout", "120")
        assert r.exit_code == 2, r.output
        text = " ".join(r.output.split())
        assert "the code caught an error and printed it, then went on: FileNotFoundError" in text, text
        assert "features.npy" in text and "(raised at train.py:22)" in text, text


def test_an_error_the_code_does_not_print_is_not_said(tmp_path, monkeypatch):
    (tmp_path / "train.py").write_text(SCRIPT.replace("PRINT", "pass"))
    monkeypatch.chdir(tmp_path)
    r = run("train.py", "--timeout", "120")
    assert r.exit_code == 2, r.output
    assert "caught an error and printed it" not in r.output, r.output


def test_given_the_batch_the_step_is_checked(tmp_path, monkeypatch):
    _write(tmp_path, monkeypatch, "logging")
    r = run("train.py", "--input", "16x20", "--timeout", "120")
    assert r.exit_code == 0, r.output
    assert "caught an error" not in r.output, r.output


def test_a_missing_file_the_code_catches_without_a_traceback_is_said(tmp_path, monkeypatch):
    """A sweep over settings that prints each failure and goes on (``except Exception as e:
    print(e); continue``): nothing formats a traceback, but the read of a file that is not here is
    said, with its line and what to give."""
    sweep = SCRIPT.replace(
        """    try:
        main()
    except Exception as exc:
        PRINT""",
        """    for setting in ("small", "large"):
        try:
            main()
        except Exception as exc:
            print("skipping", setting, exc)
            continue""",
    )
    (tmp_path / "train.py").write_text(sweep)
    monkeypatch.chdir(tmp_path)
    r = run("train.py", "--timeout", "120")
    assert r.exit_code == 2, r.output
    text = " ".join(r.output.split())
    assert "the code read 'data/features.npy' at train.py:22, which is not here, and went on past the error" in text, text
    assert "--input" in text, text


NO_NOISE = """
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

from colab_drive_fetch import fetch  # not installed here

fetch("dataset-id", "/content/data.zip")


class Coder(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(20, 8), nn.Linear(4, 20)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, -1)
        return self.dec(mu), mu, logvar


model = Coder()
opt = torch.optim.Adam(model.parameters())
for epoch in range(3):
    for (x,) in DataLoader(TensorDataset(torch.rand(64, 20)), batch_size=64):
        recon, mu, logvar = model(x)
        loss = ((recon - x) ** 2).sum(1).mean() - 0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
"""


def test_a_failed_line_the_run_went_past_is_not_what_ended_it(tmp_path, monkeypatch):
    # a download through a package not installed fails, the run goes on and trains a model whose loss
    # reaches no random sample (the decoder reads mu): the message blamed the download (helper Q, VQVAE-Clean)
    (tmp_path / "train.py").write_text(NO_NOISE)
    monkeypatch.chdir(tmp_path)
    r = run("train.py", "--timeout", "120")
    assert r.exit_code == 2, r.output
    text = " ".join(r.output.split())
    assert "no training step to check: running it took" in text and "whose loss reaches no random sample" in text, text
    assert "(on the way, at train.py:8," in text and "the run went on past it" in text, text


TRAIN_THEN_EVAL = """
import torch
from torch.utils.data import DataLoader, TensorDataset

from vae_common import VAE, elbo

train = DataLoader(TensorDataset(torch.rand(256, 784) * 3 - 0.5), batch_size=64)
test = DataLoader(TensorDataset(torch.rand(100, 784)), batch_size=50)
model = VAE()
opt = torch.optim.Adam(model.parameters())
for (x,) in train:
    recon, mu, logvar = model(x)
    loss = elbo(recon, x, mu, logvar)
    opt.zero_grad()
    loss.backward()
    opt.step()

zs = []
with torch.no_grad():
    for (x,) in test:
        zs.append(model(x)[1])
print(torch.cat(zs).shape)
"""


def test_a_step_that_raises_is_said_with_its_own_batch_not_a_later_loops(tmp_path):
    # the loss raises (BCE of targets outside [0, 1]); the script runs on into an eval loop that takes
    # batches of its own: the step's batch is the training loop's (line 10), not the eval's (line 19),
    # and no loop's data had been ended when it raised (helper C2, kimjy99/vae-mnist's notebook)
    write_script(tmp_path, TRAIN_THEN_EVAL.strip())
    r = check_in(tmp_path, "train.py")
    assert r.returncode == 2, r.stdout + r.stderr
    text = " ".join(r.stdout.split())
    assert "the training step (its batch taken at train.py:10) raised" in text, text
    assert "ended the data of a loop" not in text, text
