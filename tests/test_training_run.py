"""Training code found by running it (vaelint/frontends/training/live*.py): each class of
training code the old reading of the loop's syntax missed reaches its step, checked by the
command a user types. What the step needs from around it: test_training_run_setup.py; what the
run must never do: test_training_run_sandbox.py; a Hydra main: test_training_run_hydra.py."""

import os

import pytest
from json_cli import check_json as _json
from training_cli import RUNNING
from training_cli import check_in as _check_in
from training_cli import write_script as _script


@pytest.mark.parametrize(
    "script, step, batch",
    [
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
        # a generator of the code's own over one tensor: the loop's target is the batch
        ("generator_batches.py", "the training step of generator_batches.py (lines 22-26, backward at line 26)", ["x"]),
        # a counter zipped beside the loader (zip(tqdm(range(n)), loader)): its item is no batch
        ("zip_counter_loader.py", "the training step of zip_counter_loader.py (lines 35-39, backward at line 39)", ["x"]),
        # next() of a cycled loader inside an expression: the batch bound on its own, the expression run on it
        ("next_of_cycle_expression.py", "the training step of next_of_cycle_expression.py (lines 21-26, backward at line 26)", ["batch"]),
        # two batches drawn from one iterator in the step (x, then x_aux): the first is the step's batch
        ("two_batches_one_iterator.py", "the training step of two_batches_one_iterator.py (lines 16-25, backward at line 25)", ["x"]),
        # one tensor of token ids the step slices (teacher forcing): a slice is no item of a tuple batch
        ("teacher_forcing_slices.py", "the training step of teacher_forcing_slices.py (lines 38-47, backward at line 47)", ["x"]),
        # full-batch training on a graph: every epoch runs the model on the same tensors
        ("graph_full_batch.py", "the training step of graph_full_batch.py (lines 45-46, backward at line 41)", ["features", "adj_norm"]),
    ],
)
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


@pytest.mark.parametrize("clean", [False, True], ids=["kl-mean", "kl-per-sample-sum"])
def test_a_discriminator_step_that_raises_at_other_batch_sizes_pins_no_dim_of_the_vae(clean):
    # its targets, torch.full((args.batch, 1), 1.0), raise at every batch but the argument's: that
    # code reaches no output of the VAE's loss, so the runs at other batch sizes go on without it
    # (takahiro-itazuri/vaegan-pytorch: mu "32 x 16", "divided by 32 (the batch size written
    # down)", "beta_eff ... changes with the batch size": an error-level VAE002 that was not so)
    name = "gan_discriminator_first_targets_sized_by_an_argument" + ("_clean" if clean else "")
    r, result = _json(os.path.join(RUNNING, name + ".py"))
    assert result["error"] is None, r.output
    shapes = {row["name"]: row["shape"] for row in result["flow"]}
    assert shapes["mu"] == ["B", "Z"] and shapes["recon"] == ["B", "784"], result["flow"]
    found = [(f["code"], f["severity"]) for f in result["findings"]]
    assert found == ([] if clean else [("VAE002", "warning")]), r.output
    assert "written down" not in r.output and "changes with the batch size" not in r.output


def test_a_critic_s_steps_on_one_batch_are_passed_over(monkeypatch):
    # WGAN-GP's n_critic inner loop: the critic's backward runs 5 times on the batch before the
    # VAE's backward on it (GaParmar/VAE-GAN). Its repeats are not full-batch training coming
    # round: the run reaches the VAE's step (line 34) instead of stopping and reading the code
    monkeypatch.chdir(RUNNING)
    r, result = _json("critic_steps_on_one_batch.py")
    assert result["error"] is None, r.output
    assert result["loss"] == "the training step of critic_steps_on_one_batch.py (lines 20-34, backward at line 34)", r.output
    assert not any("found by reading the code" in n for n in result["notes"]), result["notes"]
    assert any("passed over the backward at critic_steps_on_one_batch.py:26" in n for n in result["notes"]), result["notes"]


def test_a_critic_that_draws_a_batch_each_step_reaches_the_vaes_step(monkeypatch):
    # caogang/wgan-gp's inf_train_gen: `while True: for x in loader: yield x`, and each critic
    # step takes `next(gen)`. Ending the data where the loader came round made the generator
    # loop for ever (100 rounds, then the step was read from the code): the loader that just
    # ended, taken from again with nothing done since, gives its next batch
    monkeypatch.chdir(RUNNING)
    r, result = _json("critic_draws_a_batch_each_step.py", "--input", "32x784")
    assert result["error"] is None, r.output
    assert result["loss"].endswith("backward at line 45)"), result["loss"]
    assert not any("found by reading the code" in n for n in result["notes"]), result["notes"]
    assert any("passed over the backward at critic_draws_a_batch_each_step.py:36" in n for n in result["notes"]), result["notes"]
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE002", 42)], r.output


def test_a_vae_gan_s_discriminator_and_decoder_steps_are_passed_over_by_their_optimisers(monkeypatch):
    # takahiro-itazuri/vaegan-pytorch: the discriminator's loss reaches the sample (its fake is
    # not detached), yet the optimiser stepped right after it holds none of the encoder's
    # parameters: another network's step. The encoder's is the step, and its runs at other batch
    # sizes no longer leave at the code's drop of an incomplete batch
    monkeypatch.chdir(RUNNING)
    r, result = _json("vaegan_three_optimisers.py", "--input", "32x784")
    assert result["error"] is None, r.output
    assert result["loss"].endswith("backward at line 62)"), result["loss"]
    said = "passed over the backwards at vaegan_three_optimisers.py:49, vaegan_three_optimisers.py:54 before the VAE's: the optimiser"
    assert any(said in n for n in result["notes"]), result["notes"]
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE002", 59)], r.output


@pytest.mark.parametrize("epochs, read", [(5, False), (300, True)])
def test_a_classifier_trained_first_is_passed_over_to_the_vaes_step(epochs, read, tmp_path, monkeypatch):
    # its loop comes round to the batch it took with no VAE backward since: that loop's data
    # ends there, and the VAE's loop is the step. Past 100 such rounds the run stops, and reading
    # the code tries the classifier's backward, which the run passed over, last
    text = (
        open(os.path.join(RUNNING, "classifier_trained_first.py"))
        .read()
        .replace("for epoch in range(5):", f"for epoch in range({epochs}):")
    )
    (tmp_path / "train.py").write_text(text)
    (tmp_path / "vae_common.py").write_text(open(os.path.join(RUNNING, "vae_common.py")).read())
    monkeypatch.chdir(tmp_path)
    r, result = _json("train.py")
    assert result["error"] is None, r.output
    assert result["loss"] == "the training step of train.py (lines 36-42, backward at line 42)", result["loss"]
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE002", 39)], r.output
    assert any("found by reading the code" in n for n in result["notes"]) == read, result["notes"]
    assert not any("VAE011" == f["code"] for f in result["findings"])


def test_a_named_method_or_function_is_reached_through_the_script(monkeypatch):
    monkeypatch.chdir(RUNNING)
    r, result = _json("trainer_object.py:Trainer.fit")
    assert result["error"] is None and "Trainer.fit" in result["loss"], r.output
    r, result = _json("launcher_main.py:main", "--script-args", "--latent 4")
    assert result["error"] is None and "launcher_main.py:main" in result["loss"], r.output


LIGHTNING_SCRIPT = """
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
"""


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


@pytest.mark.parametrize(
    "script, args",
    [
        ("batch_to_helper.py", []),  # x, y, lengths = prep(batch): the batch stays whole
        ("ddp_spawn.py", []),  # mp.spawn, an NCCL group, set_device, DistributedDataParallel
        ("laplace_posterior.py", []),  # Laplace.rsample: uniform noise, transformed
        ("imagefolder_item.py", ["--input", "8x3x32x32"]),  # dataset[0] of an ImageFolder that is not here
        ("numpy_onehot_labels.py", []),  # numpy probing a tensor's __index__
        ("../paired_loaders.py", ["--input", "16x784", "--input", "16:int64:10", "--input", "16x784"]),  # zip of two loaders
    ],
)
def test_running_the_code_reaches_these_steps_itself(script, args, monkeypatch):
    # VAELINT_TRAINING=run: no fallback to reading the code, so the run itself must get there
    monkeypatch.setenv("VAELINT_TRAINING", "run")
    r, result = _json(os.path.join(RUNNING, script), *args)
    assert result["error"] is None and r.exit_code == 0, r.output
    assert not any("reaches no random sample" in n for n in result["notes"]), result["notes"]


def test_numpy_rows_sliced_and_converted_in_the_step_are_the_batch_at_every_size(monkeypatch):
    # cov = torch.from_numpy(cov); mask = torch.from_numpy(mask): both are items of the batch, bound
    # as the capture's tensors (a mask fixed at the run's 64 rows made the loss "divided by 64")
    monkeypatch.setenv("VAELINT_TRAINING", "run")
    r, result = _json(os.path.join(RUNNING, "numpy_slices_from_numpy.py"))
    assert result["error"] is None, r.output
    assert [(row["name"], row["shape"]) for row in result["flow"] if row["stage"] == "input"] == [
        ("cov_batch", ["B", "12"]),
        ("mask_batch", ["B", "12"]),
    ]
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE002", 36)]


_STEP_IN = {
    # a bare `except:` around the step, and a `finally` whose own call is refused: the stop comes
    # back through both, and the step ends at its backward
    "swallowed": (
        "for epoch in range(100):",
        "    for (x,) in loader:",
        "        try:",
        "            recon, mu, logvar = model(x)",
        "            elbo(recon, x, mu, logvar).backward()",
        "            opt.step()",
        "        except:",
        "            print('vaelint-fixture: skipped a batch')",
        "        finally:",
        "            __import__('urllib.request').request.urlopen('http://127.0.0.1:9/')",
    ),
    # a counter counted before the backward, at the top level: every run starts from 0 + 1
    "top-level counter": (
        "step = 0",
        "for (x,) in loader:",
        "    step += 1",
        "    assert step == 1, step",
        "    recon, mu, logvar = model(x)",
        "    elbo(recon, x, mu, logvar).backward()",
    ),
    # the same in a function, with a KL weight annealed from it (the README's own example)
    "annealed in a function": (
        "def main():",
        "    step = 0",
        "    for epoch in range(10):",
        "        for (x,) in loader:",
        "            step += 1",
        "            beta = min(1.0, step / 1000)",
        "            recon, mu, logvar = model(x)",
        "            rec = F.binary_cross_entropy(recon, x, reduction='sum')",
        "            kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())",
        "            ((rec + beta * kl) / x.size(0)).backward()",
        "main()",
    ),
    # a distributed step: the one-process group is still there when the check runs the step
    "distributed step": (
        "import torch.distributed as dist",
        "dist.init_process_group('nccl', init_method='tcp://127.0.0.1:23456', rank=0, world_size=4)",
        "for (x,) in loader:",
        "    recon, mu, logvar = model(x)",
        "    (elbo(recon, x, mu, logvar) / dist.get_world_size()).backward()",
    ),
}


@pytest.mark.parametrize("case", sorted(_STEP_IN))
def test_the_run_gets_through_what_the_code_does_around_its_step(case, tmp_path, monkeypatch):
    _script(
        tmp_path,
        "import torch",
        "import torch.nn.functional as F",
        "from torch.utils.data import DataLoader, TensorDataset",
        "from vae_common import VAE, elbo",
        "model = VAE()",
        "opt = torch.optim.Adam(model.parameters())",
        "loader = DataLoader(TensorDataset(torch.rand(64, 784)), batch_size=16)",
        *_STEP_IN[case],
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
        tmp_path,
        "import torch",
        "import torch.nn as nn",
        "import torch.nn.functional as F",
        "from torch.utils.data import DataLoader, TensorDataset",
        "enc, dec = nn.Linear(784, 80), nn.Linear(80, 784)",
        "for (x,) in DataLoader(TensorDataset(torch.rand(64, 784)), batch_size=16):",
        "    logits = enc(x).view(-1, 8, 10)",
        "    z = F.gumbel_softmax(logits, tau=1.0)",
        "    recon = torch.sigmoid(dec(z.view(-1, 80)))",
        "    q = F.softmax(logits, -1)",
        "    kl = (q * (torch.log(q + 1e-20) - torch.log(torch.tensor(0.1)))).sum()",
        "    (F.binary_cross_entropy(recon, x, reduction='sum') + kl).backward()",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VAELINT_TRAINING", "run")
    r, result = _json("train.py")
    assert result["error"] is None, r.output
    assert not any("reaches no random sample" in n for n in result["notes"]), result["notes"]


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


@pytest.mark.parametrize("helper", ["step", "compute"])
def test_a_helper_of_the_code_named_like_the_step_is_the_codes_own(tmp_path, monkeypatch, helper):
    # RL and sequence code often calls its own `step(model, batch)` in the loop: the compiled
    # step must not shadow it (it recursed into itself); another name is the near miss
    _script(
        tmp_path,
        "import torch",
        "from vae_common import VAE, elbo",
        f"def {helper}(model, x):",
        "    recon, mu, logvar = model(x)",
        "    return elbo(recon, x, mu, logvar)",
        "model = VAE()",
        "opt = torch.optim.Adam(model.parameters())",
        "loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.rand(32, 784)), batch_size=8)",
        "for (x,) in loader:",
        f"    loss = {helper}(model, x)",
        "    opt.zero_grad()",
        "    loss.backward()",
        "    opt.step()",
    )
    monkeypatch.chdir(tmp_path)
    r, result = _json("train.py")
    assert result["error"] is None, r.output
    assert result["loss"].startswith("the training step of train.py"), result["loss"]


def test_a_step_that_fails_on_the_codes_own_batch_is_what_the_user_hears(tmp_path, monkeypatch):
    # `for x in loader` over a TensorDataset hands the model a list: the user's own run fails there,
    # so the step read from the code (checked on a tensor) must not turn it into "no findings"
    lines = [
        "import torch",
        "from vae_common import VAE, elbo",
        "model = VAE()",
        "opt = torch.optim.Adam(model.parameters())",
        "loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.rand(64, 784)), batch_size=16)",
        "for x in loader:",
        "    recon, mu, logvar = model(x)",
        "    loss = elbo(recon, x, mu, logvar)",
        "    opt.zero_grad()",
        "    loss.backward()",
        "    opt.step()",
    ]
    _script(tmp_path, *lines)
    monkeypatch.chdir(tmp_path)
    r, result = _json("train.py")
    assert r.exit_code == 2 and result["error"] is not None, r.output
    message = " ".join(result["error"]["message"].split())
    assert "must be Tensor, not list" in message and "unpack it, e.g. `for (x,) in loader`" in message, message
    # the near miss: the batch unpacked, the step is checked
    _script(tmp_path, *[line.replace("for x in loader:", "for (x,) in loader:") for line in lines])
    r, result = _json("train.py")
    assert r.exit_code == 0 and result["error"] is None, r.output
