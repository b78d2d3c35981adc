"""Training code found by running it (vaelint/frontends/training/live*.py): each class of
training code the old reading of the loop's syntax missed, checked by the command a user
types, and what the run must never do."""

import json
import os
import shutil
import sys

import pytest
from training_cli import TRAINING, run

RUNNING = os.path.join(TRAINING, "running")


def _json(*args):
    r = run(*args, "--format", "json", "--no-cache")
    return r, json.loads(r.output)["results"][0]


@pytest.mark.parametrize("script, step, batch", [
    # minibatches drawn by index from one tensor, no loader: the batch is what the model is given
    ("permutation_loop.py", "the training step of permutation_loop.py (lines 19-23, backward at line 23)", ["x"]),
    # a progress bar held in a variable, enumerate under it: the index is not the batch
    ("tqdm_variable.py", "the training step of tqdm_variable.py:train (lines 22-28, backward at line 28)", ["x", "_"]),
    # enumerate held in a variable (a progress bar around it): told by the value the loop reads
    ("enumerate_in_a_variable.py", "the training step of enumerate_in_a_variable.py (lines 28-32, backward at line 32)", ["x", "_"]),
    # the index's name taken over by the labels in the same target
    ("index_name_reused.py", "the training step of index_name_reused.py (lines 16-20, backward at line 20)", ["x", "_"]),
    # the loop in a method of a plain object, built in main()
    ("trainer_object.py", "the training step of trainer_object.py:Trainer.fit (lines 20-24, backward at line 24)", ["batch"]),
    # main handed to a launcher function; the model class chosen by name
    ("launcher_main.py", "the training step of launcher_main.py:main (lines 19-23, backward at line 23)", ["x"]),
    # full-batch training on a graph: every epoch runs the model on the same tensors
    ("graph_full_batch.py", "the training step of graph_full_batch.py (lines 45-46, backward at line 41)", ["features", "adj_norm"]),
])
def test_each_loop_shape_reaches_its_step(script, step, batch, monkeypatch):
    monkeypatch.chdir(RUNNING)
    r, result = _json(script)
    assert result["error"] is None, r.output
    assert result["loss"] == step, result["loss"]
    assert [row["name"] for row in result["flow"] if row["stage"] == "input"] == batch, result["flow"]


def test_a_discriminator_that_steps_first_is_passed_over():
    # its backward's loss reaches no random sample; the VAE's does (line 32, not line 24)
    r, result = _json(os.path.join(RUNNING, "gan_discriminator_first.py"))
    assert result["error"] is None, r.output
    assert result["loss"].endswith("backward at line 32)"), result["loss"]


def test_a_hydra_main_runs_with_its_config_and_overrides(monkeypatch):
    monkeypatch.chdir(os.path.join(RUNNING, "hydra_app"))
    before = sorted(os.listdir("."))
    r, result = _json("train.py")
    assert r.exit_code == 0 and result["error"] is None and not result["findings"], r.output
    r, result = _json("train.py", "--script-args", "train.kl_weight=4")
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE004", 25)], r.output
    assert sorted(os.listdir(".")) == before  # Hydra's outputs/ folder was not made
    assert any("outputs" in n and "was not performed" in n for n in result["notes"])


def test_what_the_setup_reads_of_a_data_set_is_there(monkeypatch):
    # np.var(train_set.data / 255), len(train_set.classes), train_set.targets, a model sized from
    # next(iter(test_loader)): a torchvision data set that is not here answers as MNIST would
    monkeypatch.chdir(RUNNING)
    r, result = _json("dataset_attributes.py")
    assert result["error"] is None, r.output
    assert any("inferred from datasets.MNIST" in n for n in result["notes"]), result["notes"]


def test_cuda_in_the_models_forward_is_checked_on_a_cpu_machine(monkeypatch):
    monkeypatch.chdir(RUNNING)
    r, result = _json("cuda_in_forward.py")
    assert result["error"] is None and not result["findings"], r.output
    assert any("the step's .cuda() at cuda_in_forward.py:27" in n for n in result["notes"]), result["notes"]
    assert any("the setup's VAE.cuda() stayed on the CPU" in n for n in result["notes"]), result["notes"]
    # the same model drawing its noise on the CPU fails on a GPU: seen on the simulated one
    r, result = _json("cuda_noise_left_on_cpu.py")
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE012", 19)], r.output


def test_nothing_after_the_step_runs_and_nothing_is_written(tmp_path):
    # run as a user runs it (a process of its own): what the code prints comes back in the report
    import subprocess

    for name in ("after_the_step.py", "vae_common.py"):
        shutil.copy(os.path.join(RUNNING, name), tmp_path)
    env = {**os.environ, "VAELINT_NO_CACHE": "1", "NO_COLOR": "1", "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "vaelint", "check", "after_the_step.py"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(os.listdir(tmp_path)) == ["after_the_step.py", "vae_common.py"]  # no folder, file, checkpoint
    # one batch of four items, read once: no second batch; nothing after the backward
    items = [line.strip(" |") for line in done.stdout.splitlines() if "vaelint-fixture: item" in line]
    assert items == [f"vaelint-fixture: item {i}" for i in range(4)], done.stdout
    assert "after the backward" not in done.stdout and "optimiser stepped" not in done.stdout
    assert "os.makedirs('runs/vaelint_fixture') at after_the_step.py:39 was not performed" in " ".join(done.stdout.split())


def test_a_named_method_or_function_is_reached_through_the_script(monkeypatch):
    monkeypatch.chdir(RUNNING)
    r, result = _json("trainer_object.py:Trainer.fit")
    assert result["error"] is None and "Trainer.fit" in result["loss"], r.output
    r, result = _json("launcher_main.py:main", "--script-args", "--latent 4")
    assert result["error"] is None and "launcher_main.py:main" in result["loss"], r.output


def _script(folder, *lines):
    """train.py of the given lines in ``folder``, beside the fixtures' shared model file."""
    (folder / "train.py").write_text("".join(f"{line}\n" for line in lines))
    shutil.copy(os.path.join(RUNNING, "vae_common.py"), folder)


def test_a_step_whose_own_loss_fails_says_so_with_its_line(tmp_path, monkeypatch):
    # gae-pytorch on current torch: pos_weight given as a float; the step was reached
    _script(
        tmp_path, "import torch", "import torch.nn.functional as F", "from vae_common import VAE",
        "model = VAE()", "x = torch.rand(8, 784)", "for epoch in range(3):", "    recon, mu, logvar = model(x)",
        "    loss = F.binary_cross_entropy_with_logits(recon, x, pos_weight=2.0)", "    loss.backward()",
    )
    monkeypatch.chdir(tmp_path)
    r = run("train.py")
    text = " ".join(r.output.split())
    assert r.exit_code == 2, r.output
    assert "the training step raised at train.py:8, after the model ran" in text and "pos_weight" in text, text


def test_a_file_that_trains_without_its_data_is_refused_with_what_to_give(tmp_path, monkeypatch):
    _script(
        tmp_path, "import numpy as np", "import torch", "from torch.utils.data import DataLoader, TensorDataset",
        "from vae_common import VAE, elbo", "data = torch.from_numpy(np.load('features.npy'))", "model = VAE()",
        "for (x,) in DataLoader(TensorDataset(data), batch_size=16):", "    recon, mu, logvar = model(x)",
        "    elbo(recon, x, mu, logvar).backward()",
    )
    monkeypatch.chdir(tmp_path)
    r = run("train.py")
    assert r.exit_code == 2 and "no VAE targets" not in r.output, r.output
    assert "features.npy" in r.output, r.output
    ok = run("train.py", "--input", "16x784", "--no-cache")  # the batch given: the loader gives it
    assert ok.exit_code == 0, ok.output


def test_a_program_a_library_starts_is_missing_and_the_users_own_is_refused():
    import sysconfig

    from vaelint.errors import VaelintError
    from vaelint.frontends.training.sandbox import Sandbox

    library = os.path.join(sysconfig.get_paths()["purelib"], "vaelint_test_fontlib.py")
    namespace: dict = {}
    exec(compile("import subprocess\ndef list_fonts():\n    return subprocess.run(['fc-list'])\n", library, "exec"), namespace)
    user = os.path.join(RUNNING, "user_code.py")
    exec(compile("import subprocess\ndef fetch():\n    return subprocess.run(['curl', 'x'])\n", user, "exec"), namespace)
    with Sandbox(user).active():
        with pytest.raises(FileNotFoundError):
            namespace["list_fonts"]()
        with pytest.raises(VaelintError, match="tried to run a program"):
            namespace["fetch"]()


def test_an_optimiser_class_the_code_defines_while_it_runs_does_not_step():
    import torch

    from vaelint.frontends.training.sandbox import Sandbox

    with Sandbox(__file__).active() as sandbox:
        class Mine(torch.optim.Optimizer):
            def __init__(self, params):
                super().__init__(params, {})

            def step(self, closure=None):
                raise AssertionError("stepped")

        p = torch.nn.Parameter(torch.ones(2))
        Mine([p]).step()
    assert sandbox.optimizer_steps == 1 and torch.equal(p.detach(), torch.ones(2))
    sys.modules.pop("vaelint_test_fontlib", None)


def test_a_script_whose_loop_is_in_a_trainer_library_is_not_passed_over(tmp_path, monkeypatch):
    # pythae's pipeline(train_data=...), a Trainer(...).fit(...): the backward is in the library,
    # so no line of the repository backpropagates; named alone, the file is still checked or refused
    _script(
        tmp_path, "import torch", "from vae_common import VAE", "from trainer_library_not_installed import Trainer",
        "if __name__ == '__main__':", "    Trainer(VAE(), lr=1e-3).fit(torch.rand(64, 784))",
    )
    monkeypatch.chdir(tmp_path)
    r = run("train.py")
    assert r.exit_code == 2 and "no VAE targets" not in r.output, r.output
    assert "trainer_library_not_installed" in r.output, r.output


def test_a_named_file_that_does_not_parse_is_exit_2_with_its_line(tmp_path, monkeypatch):
    # rtqichen/beta-tcvae: x.cuda(async=True) is a SyntaxError since Python 3.7
    (tmp_path / "vae_quant.py").write_text("import torch\n\ndef step(x):\n    return x.cuda(async=True)\n")
    monkeypatch.chdir(tmp_path)
    r = run("vae_quant.py")
    assert r.exit_code == 2 and "vae_quant.py:4:" in r.output and "does not parse" in r.output, r.output


def _check_in(folder, *args, env_extra=None):
    """``vaelint check ARGS`` as a user runs it, in a process of its own, in ``folder``."""
    import subprocess

    env = {**os.environ, "VAELINT_NO_CACHE": "1", "NO_COLOR": "1", "COLUMNS": "200", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "vaelint", "check", *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600)


LIGHTNING_SCRIPT = '''
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
IMPORT_LIGHTNING


class Noisy(pl.LightningModule):
    def __init__(self, latent=8):
        super().__init__()
        self.enc, self.dec = torch.nn.Linear(784, 2 * latent), torch.nn.Linear(latent, 784)

    def training_step(self, batch, batch_idx):
        (x,) = batch
        mu, logvar = self.enc(x).chunk(2, dim=1)
        recon = torch.sigmoid(self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)))
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return (F.binary_cross_entropy(recon, x, reduction="sum") + kl) / x.size(0)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters())

    def on_train_batch_end(self, *args, **kwargs):
        print("vaelint-fixture: after the batch")
        open("after_the_batch.txt", "w").write("x")


models = {"vae": Noisy}
model = models["vae"](latent=4)
loader = DataLoader(TensorDataset(torch.rand(64, 784)), batch_size=8)
pl.Trainer(max_epochs=3).fit(model, loader)
torch.save(model.state_dict(), "final.pt")
'''


@pytest.mark.parametrize("imported", ["import pytorch_lightning as pl", "import lightning.pytorch as pl"])
def test_a_lightning_module_handed_to_a_trainer_is_the_step_and_nothing_after_it_runs(tmp_path, imported):
    # the module comes from a registry (reading the code cannot tell which), the Trainer writes
    # its logs and checkpoints, a hook of the module writes after each batch: none of it happens.
    # pytorch_lightning is installed with the test extra (its real Trainer runs the loop);
    # lightning is not (its Trainer stands in and takes the first batch)
    (tmp_path / "fit.py").write_text(LIGHTNING_SCRIPT.replace("IMPORT_LIGHTNING", imported))
    done = _check_in(tmp_path, "fit.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Noisy.training_step" in done.stdout and "input 8x784" in done.stdout, done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.py"]
    assert "after the batch" not in done.stdout


@pytest.mark.parametrize("script, args", [
    ("batch_to_helper.py", []),  # x, y, lengths = prep(batch): the batch stays whole
    ("ddp_spawn.py", []),  # mp.spawn, an NCCL group, set_device, DistributedDataParallel
    ("laplace_posterior.py", []),  # Laplace.rsample: uniform noise, transformed
    ("imagefolder_item.py", ["--input", "8x3x32x32"]),  # dataset[0] of an ImageFolder that is not here
    ("numpy_onehot_labels.py", []),  # numpy probing a tensor's __index__
    ("../paired_loaders.py", ["--input", "16x784", "--input", "16:int64:10", "--input", "16x784"]),  # zip of two loaders
])
def test_running_the_code_reaches_these_steps_itself(script, args, monkeypatch):
    # VAELINT_TRAINING=run: no fallback to reading the code, so the run itself must get there
    monkeypatch.setenv("VAELINT_TRAINING", "run")
    r, result = _json(os.path.join(RUNNING, script), *args)
    assert result["error"] is None and r.exit_code == 0, r.output
    assert not any("reaches no random sample" in n for n in result["notes"]), result["notes"]


_STEP_IN = {
    # a bare `except:` around the step, and a `finally` whose own call is refused: the stop comes
    # back through both, and the step ends at its backward
    "swallowed": (
        "for epoch in range(100):", "    for (x,) in loader:", "        try:", "            recon, mu, logvar = model(x)",
        "            elbo(recon, x, mu, logvar).backward()", "            opt.step()", "        except:",
        "            print('vaelint-fixture: skipped a batch')", "        finally:",
        "            __import__('urllib.request').request.urlopen('http://127.0.0.1:9/')",
    ),
    # a counter counted before the backward, at the top level: every run starts from 0 + 1
    "top-level counter": (
        "step = 0", "for (x,) in loader:", "    step += 1", "    assert step == 1, step",
        "    recon, mu, logvar = model(x)", "    elbo(recon, x, mu, logvar).backward()",
    ),
    # the same in a function, with a KL weight annealed from it (the README's own example)
    "annealed in a function": (
        "def main():", "    step = 0", "    for epoch in range(10):", "        for (x,) in loader:",
        "            step += 1", "            beta = min(1.0, step / 1000)", "            recon, mu, logvar = model(x)",
        "            rec = F.binary_cross_entropy(recon, x, reduction='sum')",
        "            kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())",
        "            ((rec + beta * kl) / x.size(0)).backward()", "main()",
    ),
    # a distributed step: the one-process group is still there when the check runs the step
    "distributed step": (
        "import torch.distributed as dist", "dist.init_process_group('nccl', init_method='tcp://127.0.0.1:23456', rank=0, world_size=4)",
        "for (x,) in loader:", "    recon, mu, logvar = model(x)",
        "    (elbo(recon, x, mu, logvar) / dist.get_world_size()).backward()",
    ),
}


@pytest.mark.parametrize("case", sorted(_STEP_IN))
def test_the_run_gets_through_what_the_code_does_around_its_step(case, tmp_path, monkeypatch):
    _script(
        tmp_path, "import torch", "import torch.nn.functional as F", "from torch.utils.data import DataLoader, TensorDataset",
        "from vae_common import VAE, elbo", "model = VAE()", "opt = torch.optim.Adam(model.parameters())",
        "loader = DataLoader(TensorDataset(torch.rand(64, 784)), batch_size=16)", *_STEP_IN[case],
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VAELINT_TRAINING", "run")
    r, result = _json("train.py")
    assert result["error"] is None and r.exit_code == 0, r.output
    if case == "annealed in a function":
        assert result["beta_effective"] == "0.001 at step 1, annealed (beta) to 1", result["beta_effective"]


def test_a_gumbel_softmax_posterior_is_a_vae_step(tmp_path, monkeypatch):
    # F.gumbel_softmax draws with exponential_: its backward reaches noise
    _script(
        tmp_path, "import torch", "import torch.nn as nn", "import torch.nn.functional as F",
        "from torch.utils.data import DataLoader, TensorDataset",
        "enc, dec = nn.Linear(784, 80), nn.Linear(80, 784)",
        "for (x,) in DataLoader(TensorDataset(torch.rand(64, 784)), batch_size=16):",
        "    logits = enc(x).view(-1, 8, 10)", "    z = F.gumbel_softmax(logits, tau=1.0)",
        "    recon = torch.sigmoid(dec(z.view(-1, 80)))", "    q = F.softmax(logits, -1)",
        "    kl = (q * (torch.log(q + 1e-20) - torch.log(torch.tensor(0.1)))).sum()",
        "    (F.binary_cross_entropy(recon, x, reduction='sum') + kl).backward()",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VAELINT_TRAINING", "run")
    r, result = _json("train.py")
    assert result["error"] is None, r.output
    assert not any("reaches no random sample" in n for n in result["notes"]), result["notes"]


def test_a_process_pool_of_the_setup_is_not_started(tmp_path, monkeypatch):
    _script(
        tmp_path, "import multiprocessing", "import torch", "from torch.utils.data import DataLoader, TensorDataset",
        "from vae_common import VAE, elbo", "pool = multiprocessing.Pool(2)", "model = VAE()",
        "for (x,) in DataLoader(TensorDataset(torch.rand(64, 784)), batch_size=16):",
        "    recon, mu, logvar = model(x)", "    elbo(recon, x, mu, logvar).backward()",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VAELINT_TRAINING", "run")
    r = run("train.py", "--no-cache")
    # the pool's line fails (its workers are a library's processes: none is started, none runs
    # inline), the setup goes on without it, and the step is reached
    assert r.exit_code == 0 and "the training step of train.py" in r.output, r.output


def test_the_run_leaves_torch_and_the_tracer_as_it_found_them(tmp_path, monkeypatch):
    import torch

    from vaelint.frontends.base import LoadRequest, parse_ref
    from vaelint.frontends.training import TrainingFrontend
    from vaelint.frontends.training.liveprogram import live_program
    from vaelint.frontends.training.sites import parse_file

    def tracer(frame, event, arg):
        return None

    before = (torch.Tensor.backward, torch.Tensor.cuda, torch.Tensor.to, torch.Tensor.type, torch.randn,
              torch.utils.data.DataLoader.__iter__, torch.nn.Module.__init__, torch.cuda.is_available)
    shutil.copy(os.path.join(RUNNING, "vae_common.py"), tmp_path)
    (tmp_path / "train.py").write_text(open(os.path.join(RUNNING, "../paired_loaders.py")).read())
    monkeypatch.chdir(tmp_path)
    sys.settrace(tracer)
    try:
        program = live_program(TrainingFrontend(), parse_ref("train.py"), LoadRequest(), parse_file(str(tmp_path / "train.py")))
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(None)
    after = (torch.Tensor.backward, torch.Tensor.cuda, torch.Tensor.to, torch.Tensor.type, torch.randn,
             torch.utils.data.DataLoader.__iter__, torch.nn.Module.__init__, torch.cuda.is_available)
    assert before == after
    assert torch._C._len_torch_function_stack() == 0
    assert program.step is not None


def test_a_step_that_calls_the_decoders_parts_reads_the_decoders_last_product():
    # diffusers-style scripts: vae.decode(z) runs post_quant_conv(z) first, at the top level;
    # the reconstruction was that layer's B x 4 x 16 x 16 output, not the B x 3 x 64 x 64 image
    r, result = _json(os.path.join(RUNNING, "decoder_parts_in_the_step.py"))
    assert result["error"] is None and not result["findings"], r.output
    recon = next(row for row in result["flow"] if row["stage"] == "decoder")
    assert recon["shape"] == ["B", "3", "64", "64"], recon


def test_full_batch_training_with_no_sample_stops_when_its_backward_comes_round_again(monkeypatch):
    # a graph autoencoder trained full-batch for 2000 epochs: no batch is ever taken, and no
    # backward reaches a sample; the run ends at the second pass of the same backward (it ran
    # every epoch until the time limit before) and the step is checked at the first
    monkeypatch.chdir(RUNNING)
    r, result = _json("graph_autoencoder_full_batch.py")
    assert result["error"] is None, r.output
    assert result["loss"] == "the training step of graph_autoencoder_full_batch.py (lines 41-42, backward at line 37)"
    assert any("reaches no random sample" in n for n in result["notes"]), result["notes"]
    assert r.exit_code == 0 and result["findings"] == []


@pytest.mark.parametrize("relative", [False, True])
def test_a_script_in_a_folder_whose_init_fails_runs_as_python_runs_it(tmp_path, monkeypatch, relative):
    # `python train.py` never imports the folder's __init__.py (here Python 2 code); vaelint
    # loads the script alone when the package's __init__ fails and the script needs no package
    # (no relative import). One that does import relatively is told what failed.
    repo = tmp_path / "aae"
    repo.mkdir()
    (repo / "__init__.py").write_text("print 'python 2'\n")
    shutil.copy(os.path.join(RUNNING, "vae_common.py"), repo / ("vae_common.py"))
    source = open(os.path.join(RUNNING, "index_name_reused.py")).read()
    if relative:
        source = source.replace("from vae_common import", "from .vae_common import")
    (repo / "train.py").write_text(source)
    monkeypatch.chdir(repo)
    r, result = _json("train.py")
    if relative:
        assert r.exit_code == 2 and "importing its package 'aae' failed" in result["error"]["message"], r.output
    else:
        assert result["error"] is None and r.exit_code == 0, r.output


def test_a_data_set_of_the_users_whose_data_is_not_here_stands_in_when_input_is_given(monkeypatch):
    # its constructor runs curl for the missing file (refused: no program is started); with
    # --input the batches are of the spec, so the data set stands in and the step is reached
    from torch.utils.data import Dataset

    monkeypatch.chdir(RUNNING)
    before = Dataset.__dict__.get("__init_subclass__")
    r, result = _json("dataset_without_its_data.py", "--input", "32x784")
    assert result["error"] is None and r.exit_code == 0, r.output
    assert result["loss"] == "the training step of dataset_without_its_data.py (lines 36-40, backward at line 40)"
    note = next(n for n in result["notes"] if "the data set Shapes" in n)
    assert "dataset_without_its_data.py:17" in note and "curl" in note and "stands in" in note
    assert Dataset.__dict__.get("__init_subclass__") is before  # the hook is gone with the run
    # without --input nothing stands in: the user hears what the code tried to do
    r, result = _json("dataset_without_its_data.py")
    assert r.exit_code == 2 and "tried to run a program (curl" in result["error"]["message"], r.output
    assert ".." not in result["error"]["message"]
