"""Never green without a check: a failed confirmation run, an input torch cannot make, an input
the model's first layer cannot take, a report path over source, and what a model's code starts
or signals: each is said (exit 2 with why), never "no findings", never a lost report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest
from conftest import FIXTURES
from typer.testing import CliRunner

from vaelint.cli import app

runner = CliRunner()

# the bundled MLP VAE with a reconstruction term that takes the log of 0 (line 37)
NAN_VAE = (
    open(f"{FIXTURES}/clean/mlp_vae.py")
    .read()
    .replace('bce = F.binary_cross_entropy(recon_x, x, reduction="sum")', "bce = -(x * torch.log(recon_x - recon_x)).sum()")
)


def check(*args):
    r = runner.invoke(app, ["check", *args, "--no-cache"])
    assert "Traceback" not in r.output, r.output
    return r


def test_a_loss_that_is_not_finite_is_never_clean(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nan.py").write_text(NAN_VAE)
    r = check("nan.py:VAE", "--input", "4x784", "--format", "json")
    (res,) = json.loads(r.stdout)["results"]
    assert r.exit_code == 2 and res["status"] == "error" and res["error"]["kind"] == "loss"
    message = res["error"]["message"]
    assert "the confirmation run failed (loss inf" in message
    # where it began: the log of 0 at its line, with its shape
    assert "The first value that is not finite is `log` at nan.py:37, of shape B x 784 (4 x 784)" in message
    sarif = json.loads(check("nan.py:VAE", "--input", "4x784", "--format", "sarif").stdout)
    (note,) = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert note["level"] == "error" and sarif["runs"][0]["invocations"][0]["executionSuccessful"] is False
    text = check("nan.py:VAE", "--input", "4x784")
    assert text.exit_code == 2 and "could not be analysed" in text.stdout and "no findings in 1 target; 1 could not" in text.stdout


def test_a_loss_that_is_not_finite_beside_findings_is_said_in_a_note(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # the same model with a shared noise draw (VAE001): findings, and the failed run in a note
    (tmp_path / "nan.py").write_text(NAN_VAE.replace("torch.randn_like(std)", "torch.randn(1, 16)"))
    r = check("nan.py:VAE", "--input", "4x784", "--format", "json")
    (res,) = json.loads(r.stdout)["results"]
    assert r.exit_code == 1 and "VAE001" in [f["code"] for f in res["findings"]]
    assert any(n.startswith("the confirmation run failed: loss inf") for n in res["notes"])


@pytest.mark.parametrize(
    "spec,said",
    [
        ("1000000x1000000", "the input alone would take 3.64 TB, more than this machine's memory"),
        ("99999999999999999999999x784", "more than a tensor can hold"),
        ("2" + "x1" * 30 + "x784", "has 32 dims; torch's GPU kernels take at most 25"),
    ],
)
def test_an_input_torch_cannot_make_is_a_usage_error(spec, said):
    r = check(f"{FIXTURES}/clean/mlp_vae.py:VAE", "--input", spec)
    assert r.exit_code == 2 and said in r.output and "bug in vaelint" not in r.output


def test_an_input_past_max_memory_is_a_usage_error():
    r = check(f"{FIXTURES}/clean/mlp_vae.py:VAE", "--input", "100000x784", "--max-memory", "100M")
    assert r.exit_code == 2 and "the input alone would take 299 MB, more than --max-memory (100 MB)" in r.output


@pytest.mark.parametrize(
    "spec,expects",
    [
        (
            "8x784",
            "encoder.0 (Conv2d) at fixtures/clean/conv_vae.py:29 expects in_channels=1 at dim 1 of a 4-D B x C x H x W, and got B x 784",
        ),
        ("8x3x28x28", "expects in_channels=1 at dim 1 of a 4-D B x C x H x W, and got B x 3 x 28 x 28"),
    ],
)
def test_an_input_the_first_layer_cannot_take_is_the_inputs_fault(spec, expects, monkeypatch):
    monkeypatch.chdir(os.path.dirname(FIXTURES))
    r = check("fixtures/clean/conv_vae.py:ConvVAE", "--input", spec, "--format", "json")
    (res,) = json.loads(r.stdout)["results"]
    assert r.exit_code == 2 and res["error"]["kind"] == "input" and res["findings"] == []
    assert f"your --input {spec} does not fit the model's first layer: " in res["error"]["message"]
    assert expects in res["error"]["message"]


def test_a_size_the_model_works_out_itself_stays_a_finding(tmp_path, monkeypatch):
    # the near miss: the input reaches the layer through the model's own reshape, so the
    # layer's size (worked out in __init__ for 28x28) is the model's: VAE013, as its example says
    from vaelint.rules import all_rules

    vae013 = next(rule for rule in all_rules() if rule.code == "VAE013")
    example = next(e for e in vae013.INVALID if e.inputs == ("4x1x32x32",) and "self.flat = 28 * 28" in e.code)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.py").write_text(example.code)
    r = check("model.py:VAE", "--input", "4x1x32x32", "--format", "json")
    (res,) = json.loads(r.stdout)["results"]
    assert r.exit_code == 1 and res["error"] is None and [f["code"] for f in res["findings"]] == ["VAE013"]


def test_a_report_is_never_written_over_source(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = tmp_path / "victim.py"
    model.write_text(open(f"{FIXTURES}/clean/mlp_vae.py").read())
    before = model.read_text()
    for option in (["--output-file", "victim.py"], ["--also-output", "json=victim.py"], ["--output-file", "pyproject.toml"]):
        (tmp_path / "pyproject.toml").write_text("[tool.other]\n")
        r = check("victim.py:VAE", "--input", "4x784", *option)
        assert r.exit_code == 2 and "the report would replace it" in r.output
    assert model.read_text() == before and (tmp_path / "pyproject.toml").read_text() == "[tool.other]\n"
    r = check("victim.py:VAE", "--input", "4x784", "--output-file", "report.json", "--format", "json")
    assert r.exit_code == 0 and json.loads((tmp_path / "report.json").read_text())["results"]
    assert check("victim.py:VAE", "--input", "4x784", "--output-file", "report.json", "--format", "json").exit_code == 0  # a report again


HOSTILE = textwrap.dedent("""
    import os
    import signal
    import time

    import torch
    import torch.nn as nn

    from vae_base import Base


    class Forks(Base):
        def forward(self, x):
            if os.fork() == 0:  # a child left behind, holding the worker's pipe
                time.sleep(4)
                open("LEFTOVER", "w").write("alive")
                os._exit(0)
            return super().forward(x)


    class SignalsParent(Base):
        def forward(self, x):
            os.kill(os.getppid(), signal.SIGTERM)
            return super().forward(x)
""")


def test_what_the_models_code_starts_ends_with_it_and_its_signals_stay_inside(tmp_path):
    (tmp_path / "vae_base.py").write_text(open(f"{FIXTURES}/clean/mlp_vae.py").read().replace("class VAE(", "class Base("))
    (tmp_path / "hostile.py").write_text(HOSTILE)
    run = [sys.executable, "-m", "vaelint", "check", "--input", "4x784", "--no-dynamic", "--no-cache", "--format", "json"]
    forks = subprocess.run([*run, "hostile.py:Forks"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert forks.returncode == 0 and json.loads(forks.stdout)["results"][0]["status"] == "clean"
    time.sleep(5)
    assert not (tmp_path / "LEFTOVER").exists()  # the child ended with the worker
    signals = subprocess.run([*run, "hostile.py:SignalsParent"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    (res,) = json.loads(signals.stdout)["results"]  # vaelint lived to write its report
    assert signals.returncode == 2 and "signals only the processes the model's code started" in res["error"]["message"]


def test_an_exception_of_vaelints_own_is_ours_and_a_models_base_exception_is_its_own(tmp_path):
    (tmp_path / "vae_base.py").write_text(open(f"{FIXTURES}/clean/mlp_vae.py").read().replace("class VAE(", "class Base("))
    (tmp_path / "interrupts.py").write_text(
        "from vae_base import Base\n\n\nclass VAE(Base):\n    def forward(self, x):\n        raise KeyboardInterrupt\n"
    )
    args = ["check", "--input", "4x784", "--no-cache", "--format", "json"]
    # vaelint's machinery raising a BaseException (as the step's stop signal would, escaping the user's backward)
    driver = (
        "import sys, vaelint.analyze\n"
        "def analyse(target, options):\n    options.progress('forward')\n    raise GeneratorExit('the step is over')\n"
        "vaelint.analyze.analyse = analyse\n"
        "from vaelint.cli import app\n"
        f"app({[*args, 'interrupts.py:VAE']!r})\n"
    )
    ours = subprocess.run([sys.executable, "-c", driver], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    (res,) = json.loads(ours.stdout)["results"]
    assert ours.returncode == 2 and res["error"]["kind"] == "internal"
    assert res["error"]["message"].startswith(
        "vaelint failed while analysing interrupts.py:VAE, in forward: GeneratorExit: the step is over"
    )
    assert "This is a bug in vaelint, not in your code" in res["error"]["message"]
    theirs = subprocess.run(
        [sys.executable, "-m", "vaelint", *args, "interrupts.py:VAE"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    (res,) = json.loads(theirs.stdout)["results"]
    assert theirs.returncode == 2 and res["error"]["kind"] == "exit"
    assert "the model's code raised KeyboardInterrupt at interrupts.py:6" in res["error"]["message"]


def test_a_keyword_input_the_forward_does_not_take_is_a_usage_error(monkeypatch):
    monkeypatch.chdir(os.path.dirname(FIXTURES))
    r = check("fixtures/clean/mlp_vae.py:VAE", "--input", "4x784", "--input", "labels=4:int64:10", "--format", "json")
    (res,) = json.loads(r.stdout)["results"]
    assert r.exit_code == 2 and res["error"]["kind"] == "input"
    assert "the model's forward takes no parameter 'labels' (it takes x)" in res["error"]["message"]
    # the near miss: a forward that reads **kwargs takes it (the conditional VAE fixture)
    r = check("fixtures/clean/keyword_input_cvae.py:CVAE", "--input", "6x20", "--input", "labels=6:int64:3")
    assert r.exit_code == 0, r.output


def test_a_skipped_weight_load_in_another_module_than_the_script_is_quoted_from_its_own_file(tmp_path, monkeypatch):
    # the step lives in pkg/algo.py, past the entry script's last line: its text was cut from the
    # entry script's (an IndexError, "a bug in vaelint"; a wrong quote where the script was longer)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VAELINT_TRAINING", "read")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "vae.py").write_text(open(f"{FIXTURES}/clean/mlp_vae.py").read())
    (tmp_path / "pkg" / "algo.py").write_text(
        textwrap.dedent("""
        import torch
        from vae import VAE, loss_function


        class Learner:
            def train(self, resume):
                model = VAE()
                if resume:
                    model.load_state_dict(torch.load("ckpt.pt"))
                opt = torch.optim.Adam(model.parameters())
                for x in torch.utils.data.DataLoader(torch.rand(32, 784), batch_size=8):
                    loss = loss_function(*model(x)[:1], x, *model(x)[1:])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
    """)
    )
    (tmp_path / "train_model.py").write_text("from pkg.algo import Learner\nLearner().train(resume=True)\n")
    r = check("train_model.py", "--input", "8x784", "--format", "json")
    (res,) = json.loads(r.stdout)["results"]
    assert res["error"] is None, res["error"]
    assert any(n.startswith('pkg/algo.py:10: model.load_state_dict(torch.load("ckpt.pt")) was not run') for n in res["notes"]), res["notes"]

    # (the near miss, a file that only imports tensorflow for its data, is the test above's data.py)


def test_script_options_after_the_target_point_at_script_args(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text("import torch\n")
    r = runner.invoke(app, ["check", "train.py", "--", "--algo", "dreamer", "--epochs", "1"])
    assert r.exit_code == 2, r.output
    assert "'--algo' is not a target" in r.output and '--script-args "--algo dreamer --epochs 1"' in r.output
    # the near miss: a word that is no option is still "not a target" with the plain advice
    r = runner.invoke(app, ["check", "train.py", "dreamer"])
    assert r.exit_code == 2 and "write PATH.py:NAME or PATH.py" in r.output


def test_an_assert_on_the_data_that_random_input_fails_is_said_as_the_datas(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.py").write_text(
        textwrap.dedent("""
        import torch, torch.nn as nn, torch.nn.functional as F
        class VAE(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc, self.dec = nn.Linear(5, 4), nn.Linear(2, 5)
            def forward(self, x):
                assert torch.all(x[:, 2:].sum(-1) == 1), "pen state must be one-hot"
                mu, logvar = self.enc(x).chunk(2, -1)
                z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
                return self.dec(z), mu, logvar
    """)
    )
    r = check("m.py:VAE", "--input", "8x5")
    text = " ".join(r.output.split())
    assert r.exit_code == 2, r.output
    assert "AssertionError: pen state must be one-hot. The code's own assert (`assert torch.all(" in text, text
    assert "it checks the data, not the model" in text
    # the near miss: an error that is no assert keeps the plain message
    (tmp_path / "m.py").write_text(
        (tmp_path / "m.py")
        .read_text()
        .replace('assert torch.all(x[:, 2:].sum(-1) == 1), "pen state must be one-hot"', "x = x.new_tensor(x.tolist()).item()")
    )
    r = check("m.py:VAE", "--input", "8x5")
    assert r.exit_code == 2 and "it checks the data" not in r.output, r.output


def test_a_loss_of_per_sample_terms_says_what_it_gave_and_what_to_check(tmp_path, monkeypatch):
    # a loss that returns per-sample (rec, kl) vectors, reduced by a training step vaelint was not
    # given: exit 2 named only 'loss not a scalar' (helper-found: wassname/world-models-sonic-pytorch)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "vae.py").write_text(
        textwrap.dedent("""
        import torch
        import torch.nn as nn
        import torch.nn.functional as F

        class VAE(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc, self.dec = nn.Linear(20, 8), nn.Linear(4, 20)

            def forward(self, x):
                mu, logvar = self.enc(x).chunk(2, dim=1)
                z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
                return torch.sigmoid(self.dec(z)), mu, logvar

        def per_sample(recon, x, mu, logvar):
            rec = F.binary_cross_entropy(recon, x, reduction="none").sum(1)
            kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
            return rec, kl
    """)
    )
    r = runner.invoke(app, ["check", "vae.py:VAE", "--input", "6x20", "--loss", "vae.py:per_sample", "--no-cache"])
    assert r.exit_code == 2, r.output
    said = " ".join(r.output.split())
    assert "loss not a scalar: 2 tensors of shapes 6, 6" in said, said
    assert "check the training script that reduces these terms" in said, said


def test_a_step_found_by_reading_that_holds_no_vae_is_not_clean(tmp_path, monkeypatch):
    # the data is not here, so the run stops at its read and the step is found by reading the code;
    # the loop read trains a plain forecaster (no sampler, no KL) while the file backpropagates a VAE's
    # loss elsewhere: every VAE rule was skipped, "no findings", exit 0 (helper Y: a baseline before
    # its LSTM-VAE)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text(
        textwrap.dedent("""
        import numpy as np
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        from torch.utils.data import DataLoader, TensorDataset

        series = np.loadtxt("data/series.csv", delimiter=",", dtype=np.float32)
        loader = DataLoader(TensorDataset(torch.from_numpy(series[:, :12]), torch.from_numpy(series[:, 12:])), batch_size=32)
        model = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 2))
        opt = torch.optim.Adam(model.parameters())
        for x, y in loader:
            opt.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            opt.step()

        def train_vae(vae, loader):  # the VAE's own loop, in a function nothing here calls
            for x, _y in loader:
                recon, mu, logvar = vae(x)
                elbo = F.mse_loss(recon, x) - 0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())
                elbo.backward()
    """)
    )
    r = check("train.py", "--input", "32x12", "--input", "32x2")
    assert r.exit_code == 2, r.output
    said = " ".join(r.output.split())
    assert "found by reading the code, holds no VAE" in said, said
    assert "Running the code as written did not reach a step (running it stopped at train.py:" in said, said


def test_a_read_step_of_an_autoencoder_or_before_a_probe_is_checked_as_it_is(tmp_path, monkeypatch):
    # the day's review: a VQ-style autoencoder (no sampler, its reconstruction compared with its own
    # input) beside another loop is no "step that holds no VAE" (exit 2 only while its data is missing);
    # and a linear probe on the encoder's mu after the VAE's loop does not outrank it (the word mu)
    monkeypatch.chdir(tmp_path)
    head = (
        "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\nfrom rowsio import read_rows\n"
        "data = torch.as_tensor(read_rows('data/rows.bin'), dtype=torch.float32)\n"
        "loader = torch.utils.data.DataLoader(data, batch_size=16)\n"
    )
    (tmp_path / "ae.py").write_text(
        head + "ae = nn.Sequential(nn.Linear(20, 4), nn.Linear(4, 20))\nopt = torch.optim.Adam(ae.parameters())\n"
        "for x in loader:\n    loss = F.mse_loss(ae(x), x)\n    opt.zero_grad()\n    loss.backward()\n    opt.step()\n"
        "prior = nn.Linear(4, 4)\npopt = torch.optim.Adam(prior.parameters())\n"
        "for x in loader:\n    codes = ae[0](x).detach()\n    ploss = F.mse_loss(prior(codes), codes)\n    popt.zero_grad()\n"
        "    ploss.backward()\n    popt.step()\n"
    )
    r = check("ae.py", "--input", "16x20")
    assert r.exit_code == 0 and "holds no VAE" not in r.output, r.output
    (tmp_path / "probe.py").write_text(
        head + "class VAE(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.enc, self.dec = nn.Linear(20, 8), nn.Linear(4, 20)\n"
        "    def encode(self, x):\n        return self.enc(x).chunk(2, dim=1)\n"
        "    def forward(self, x):\n        mu, logvar = self.encode(x)\n"
        "        z = mu + torch.randn(4) * torch.exp(0.5 * logvar)\n        return self.dec(z), mu, logvar\n"
        "vae = VAE()\nopt = torch.optim.Adam(vae.parameters())\n"
        "for x in loader:\n    recon, m, lv = vae(x)\n"
        "    loss = F.mse_loss(recon, x, reduction='sum') / x.size(0) - 0.5 * torch.sum(1 + lv - m**2 - lv.exp()) / x.size(0)\n"
        "    opt.zero_grad()\n    loss.backward()\n    opt.step()\n"
        "probe = nn.Linear(4, 3)\npopt = torch.optim.Adam(probe.parameters())\n"
        "for x in loader:\n    mu = vae.encode(x)[0].detach()\n    ploss = probe(mu).logsumexp(1).mean()\n"
        "    popt.zero_grad()\n    ploss.backward()\n    popt.step()\n"
    )
    r = check("probe.py", "--input", "16x20")
    assert r.exit_code == 1 and "VAE001" in r.output, r.output
