"""Training code as a target: scripts, functions, Solver methods, notebooks and
Lightning, checked by the commands a user types, with nothing but the step run."""

import json
import os
import shutil
import sys

import pytest
from typer.testing import CliRunner

from vaelint.cli import app

from conftest import FIXTURES

TRAINING = os.path.join(FIXTURES, "training")
runner = CliRunner()


def run(*args):
    result = runner.invoke(app, ["check", *args])
    assert "Traceback" not in result.output, result.output
    return result


def _files(folder) -> set:
    return {os.path.relpath(os.path.join(d, f), folder) for d, _s, fs in os.walk(folder) for f in fs if "__pycache__" not in d}


# one case per front end and form: the folder the check runs in, the command's arguments
NOTHING_ELSE_RUNS = [
    ("script, train() called from the main guard", ".", ["mnist_train_function.py", "--input", "8x1x28x28"], 0),
    ("script, inputs inferred from datasets.MNIST", ".", ["mnist_train_function.py"], 0),
    ("a function", ".", ["mnist_train_function.py:train", "--input", "8x1x28x28"], 0),
    ("a loop at module level", ".", ["module_level_loop.py", "--input", "16x784"], 0),
    ("a loss nested in main()", ".", ["nested_loss_in_main.py", "--input", "16x1x28x28"], 1),
    ("a Solver method reached from main.py", "solver_repo", ["solver.py:Solver.train", "--input", "8x3x32x32"], 1),
    ("the script that runs the Solver", "solver_repo", ["main.py", "--input", "8x3x32x32"], 1),
    ("run.py + YAML config + Lightning", "lightning_repo", ["run.py", "--input", "8x3x64x64"], 1),
    ("a LightningModule's training_step", "lightning_repo", ["experiment.py:VAEXperiment.training_step", "--input", "8x3x64x64"], 1),
    ("manual optimisation", ".", ["lightning_modules.py:ManualVAE", "--input", "8x784"], 0),
    ("a notebook", ".", ["vae_cells.ipynb", "--input", "8x3x64x64"], 1),
    ("a dict batch", ".", ["dict_batch.py", "--input", "batch.image=8x1x16x16"], 0),
    ("a Trainer class, AMP, accumulation, a JSON config", "trainer_repo", ["train.py", "--input", "8x784"], 0),
    ("a Trainer's method", "trainer_repo", ["train.py:Trainer.train", "--input", "8x784"], 0),
    ("accelerate, not installed", ".", ["accelerate_loop.py", "--input", "8x784"], 0),
    ("sizes from a helper that imports a simulator not installed", "simulator_settings_repo", ["train.py", "--input", "8x3x32x32"], 0),
    ("a script whose Trainer lives in a package it imports", "package_trainer_repo", ["main.py", "--input", "8x1x16x16"], 0),
    ("a script whose model returns distributions", ".", ["distribution_decoder_loop.py", "--input", "16x784"], 1),
    ("a data file not here, a batcher not installed", ".", ["pickled_folds_loop.py", "--input", "8x3x32x32"], 0),
    ("a loop at the top level calls train(), CUDA hard-coded", ".", ["cuda_step_module_loop.py", "--input", "16x1x28x28", "--input", "16:int64:10"], 0),
    ("a function its script cannot reach (no checkpoint to resume)", ".", ["resume_from_checkpoint.py:train", "--input", "16x784"], 0),
    ("a data set that makes its folder and starts curl", ".", ["downloading_dataset.py", "--input", "16x784"], 0),
    ("a pre-training method called on the model", ".", ["pretrain_method.py", "--input", "16x784"], 0),
    ("two loaders zipped, a nested pattern", ".", ["paired_loaders.py", "--input", "16x784", "--input", "16:int64:10", "--input", "16x784"], 0),
]


@pytest.mark.parametrize("what,folder,args,code", NOTHING_ELSE_RUNS, ids=[c[0] for c in NOTHING_ELSE_RUNS])
def test_only_the_step_runs(what, folder, args, code, tmp_path, monkeypatch):
    """The check of each form exits as it should, and nothing past the step (a
    second step, an optimiser step, the rest of the loop) nor any data set or
    download ran: the fixtures print 'vaelint-fixture: ...' from exactly those
    places, and write files there; no file appears in the repository's folder."""
    copy = tmp_path / "repo"
    shutil.copytree(TRAINING, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.chdir(copy / folder)
    before = _files(copy)
    r = run(*args, "--timeout", "120")
    assert r.exit_code == code, r.output
    assert "vaelint-fixture" not in r.output, r.output
    assert "could not be analysed" not in r.output, r.output
    assert _files(copy) == before


def test_a_script_and_its_function_check_the_same_step():
    script = run(os.path.join(TRAINING, "mnist_train_function.py"), "--input", "8x1x28x28", "--format", "json")
    function = run(os.path.join(TRAINING, "mnist_train_function.py") + ":train", "--input", "8x1x28x28", "--format", "json")
    a, b = json.loads(script.output)["results"][0], json.loads(function.output)["results"][0]
    assert a["loss"] == b["loss"] and "the training step of" in a["loss"] and ":train (lines" in a["loss"]
    assert [r["name"] for r in a["flow"]] == [r["name"] for r in b["flow"]]
    assert a["beta_effective"] == "1"


def test_the_input_is_inferred_from_a_known_data_set_and_said_so():
    r = run(os.path.join(TRAINING, "mnist_train_function.py"))
    assert r.exit_code == 0, r.output
    assert "input B x 1 x 28 x 28 (B=64)" in r.output
    assert "inferred from datasets.MNIST (1x28x28 after ToTensor()) and batch_size=64" in r.output


def test_file_mode_takes_a_training_script_only_when_its_input_is_known(tmp_path, monkeypatch):
    """pre-commit passes every changed file: a script whose data set shapes are
    unknown is said on stderr, not failed."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(os.path.join(TRAINING, "required_args.py"), tmp_path)
    r = run("required_args.py")
    assert r.exit_code == 0
    assert "has a training step but no input shape" in r.output


def test_required_script_arguments_are_asked_for_by_name():
    path = os.path.join(TRAINING, "required_args.py")
    r = run(path, "--input", "8x784")
    assert r.exit_code == 2
    assert "the following arguments are required: --data-dir, --latent" in r.output
    assert "--script-args" in r.output
    ok = run(path, "--input", "8x784", "--script-args", "--data-dir data --latent 6")
    assert ok.exit_code == 0, ok.output


def test_script_args_are_configured_per_target(tmp_path, monkeypatch):
    shutil.copy(os.path.join(TRAINING, "required_args.py"), tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        '[[tool.vaelint.targets]]\ntarget = "required_args.py"\ninput = "8x784"\nscript-args = "--data-dir data --latent 6"\n'
    )
    monkeypatch.chdir(tmp_path)
    r = run()
    assert r.exit_code == 0, r.output
    assert "the training step of required_args.py:main" in r.output


def test_a_loss_nested_in_main_is_a_loss_name():
    path = os.path.join(TRAINING, "nested_loss_in_main.py")
    r = run(f"{path}:VAE", "--init", "sizes=[784,256]", "--init", "latent=4", "--input", "16x1x28x28", "--loss", f"{path}:main.loss_fn", "-q")
    assert r.exit_code == 1, r.output
    assert "nested_loss_in_main.py:42:22: VAE002" in r.output


def test_a_solver_method_is_a_loss_name(monkeypatch):
    monkeypatch.chdir(os.path.join(TRAINING, "solver_repo"))
    r = run("model.py:VAE", "--input", "8x3x32x32", "--loss", "solver.py:Solver.vae_loss", "--loss-kwarg", "beta=1.0", "-q")
    assert r.exit_code == 1, r.output
    assert "solver.py:83:22: VAE002" in r.output


def test_a_dict_batch_names_the_key_to_give():
    r = run(os.path.join(TRAINING, "dict_batch.py"), "--input", "8x1x16x16")
    assert r.exit_code == 2
    assert "the step reads batch['image'], a dict batch" in r.output
    assert "--input batch.image=" in r.output


def test_a_notebook_is_reported_by_cell_in_every_format():
    path = os.path.join(TRAINING, "vae_cells.ipynb")
    text = run(path, "--input", "8x3x64x64", "-q")
    assert "vae_cells.ipynb:cell 5:12:15: VAE012" in text.output
    assert "vae_cells.ipynb:cell 7:3:" in text.output
    data = json.loads(run(path, "--input", "8x3x64x64", "--format", "json").output)["results"][0]
    assert {(f["code"], f["cell"], f["line"]) for f in data["findings"]} == {("VAE012", 5, 12), ("VAE002", 7, 3)}
    assert data["loss"] == "the training step of " + os.path.relpath(path) + " (cell 9, lines 2-6, backward at line 6)"


def test_an_annealed_kl_weight_is_a_schedule_not_a_scaling():
    path = os.path.join(TRAINING, "annealed_kl.py")
    r = run(path, "--input", "16x784")
    assert r.exit_code == 0, r.output
    assert "beta_eff = 0.00193 at step 0, annealed (kl_weight) to 1" in r.output
    assert "0.00193 at step = 0, 1 from step = 5000; it reaches beta = 1" in r.output
    linear = run(path, "--input", "16x784", "--script-args", "--anneal linear --x0 500")
    assert linear.exit_code == 0, linear.output
    assert "kl_weight is 0 at step = 0, so the step is checked at step = 10" in linear.output
    capped = run(path, "--input", "16x784", "--script-args", "--kl-max 0.1", "-q")
    assert capped.exit_code == 1
    assert "is annealed with step" in capped.output and "settles at 0.1" in capped.output


def test_a_quiet_clean_report_says_which_rules_did_not_run(tmp_path):
    path = tmp_path / "noloss.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\n"
        "class VAE(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n        self.e = nn.Linear(8, 4)\n        self.d = nn.Linear(2, 8)\n"
        "    def forward(self, x):\n"
        "        mu, lv = self.e(x).chunk(2, 1)\n"
        "        return self.d(mu + torch.randn_like(mu) * torch.exp(0.5 * lv)), mu, lv\n"
    )
    for fmt, needle in (("text", "no findings in 1 target; 7 rules not checked (no loss found)"), ("github", "::notice"), ("markdown", "7 rules not checked")):
        r = run(f"{path}:VAE", "--input", "4x8", "-q", "--format", fmt)
        assert r.exit_code == 0
        assert needle in r.output, (fmt, r.output)
    sarif = json.loads(run(f"{path}:VAE", "--input", "4x8", "--format", "sarif").output)
    notes = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert any("VAE002 not checked: no loss found" in n["message"]["text"] for n in notes)


def test_lightning_need_not_be_installed(monkeypatch):
    """With pytorch_lightning unimportable, a LightningModule still checks: its
    import stands in (vaelint/frontends/standins.py)."""
    import importlib.abc

    from helpers import check

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path=None, target=None):
            if fullname.split(".")[0] in ("pytorch_lightning", "lightning"):
                raise ImportError(f"no {fullname} here")
            return None

    for key in [k for k in sys.modules if k.split(".")[0] in ("pytorch_lightning", "lightning", "lightning_fabric")]:
        monkeypatch.delitem(sys.modules, key)
    monkeypatch.setattr(sys, "meta_path", [Block(), *sys.meta_path])
    result = check(os.path.join(TRAINING, "lightning_modules.py"), "StepVAE", ["8x784"], init={"input_dim": 784})
    assert result.error is None, result.error.message
    assert {f.code for f in result.findings} == {"VAE004"}
    assert "pytorch_lightning" not in sys.modules or getattr(sys.modules["pytorch_lightning"], "__vaelint_stand_in__", False)


def test_torchvision_stands_in_with_known_shapes():
    """torchvision does not load beside this torch: its data sets and transforms
    stand in, and a model that uses torchvision.models says the package is missing."""
    from vaelint.frontends import standins
    from vaelint.frontends.training.datasets import infer_inputs, stand_in

    with standins.installed():
        import torchvision.datasets as datasets
        import torchvision.transforms as T
        from torchvision.models import vgg19_bn

        dataset = stand_in(datasets.CelebA, ("root",), {"transform": T.Compose([T.CenterCrop(148), T.Resize(64), T.ToTensor()])})
        loader = stand_in(__import__("torch").utils.data.DataLoader, (dataset,), {"batch_size": 16})
        inferred = infer_inputs(loader)
        assert inferred.specs == ["16x3x64x64", "16x40:int64:2"]
        from vaelint.errors import VaelintError

        with pytest.raises(VaelintError, match="torchvision is not installed"):
            vgg19_bn()


def test_a_model_from_a_package_not_installed_is_named_with_what_to_install(tmp_path, monkeypatch):
    """The model comes from a package that is not installed: the message names the
    package and the line that could not run, not a name 'nothing defines'."""
    (tmp_path / "train.py").write_text(
        "import torch\n"
        "import vaelint_missing_models as zoo\n"
        "\n"
        "model = zoo.ConvVAE(latent=16)\n"
        "opt = torch.optim.Adam(model.parameters())\n"
        "loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(8, 784), torch.zeros(8)), batch_size=8)\n"
        "for x, _ in loader:\n"
        "    recon, mu, logvar = model(x)\n"
        "    loss = ((recon - x) ** 2).sum() - 0.5 * (1 + logvar - mu**2 - logvar.exp()).sum()\n"
        "    loss.backward()\n"
    )
    monkeypatch.chdir(tmp_path)
    r = run("train.py", "--input", "8x784")
    assert r.exit_code == 2, r.output
    assert "vaelint_missing_models" in r.output and "'model'" in r.output, r.output
    assert "nothing before it defines" not in r.output, r.output


def test_arguments_a_helper_adds_are_parsed_and_a_name_no_branch_defined_asks_for_them():
    path = os.path.join(TRAINING, "args_from_helper.py")
    missing = run(path, "--input", "8x784")
    assert missing.exit_code == 2
    words = " ".join(missing.output.split())
    assert "uses 'model', which the setup did not define with these arguments" in words and "args_from_helper.py:40" in words
    assert "--script-args" in words
    ok = run(path, "--input", "8x784", "--script-args", "--posterior mean-field", "--format", "json")
    assert ok.exit_code == 0, ok.output
    flow = {row["name"]: row["sizes"] for row in json.loads(ok.output)["results"][0]["flow"]}
    assert flow["mu"] == {"B": 8, "Z": 6}  # --latent's default, added by add_args(parser)


def test_a_name_the_running_step_lacks_is_explained_with_the_setup_lines_that_failed():
    from vaelint.capture.inputcheck import unexplained
    from vaelint.capture.result import Failure
    from vaelint.inputs import parse_input_spec

    error = NameError("name 'variational' is not defined", name="variational")
    failed = ["train.py:213: NameError: name 'variational' is not defined", "train.py:225: FileNotFoundError: data.h5"]
    message = unexplained("train.py", [parse_input_spec("8x784")], Failure(None, error, None, 8), failed + failed[1:]).message
    assert "'variational' is not defined when the step runs" in message and "--script-args" in message
    assert message.count("train.py:225") == 1  # each failed line said once
    plain = unexplained("m.py:VAE", [parse_input_spec("8x784")], Failure(None, error, None, 8)).message
    assert "This is not a shape error vaelint can explain" in plain  # no setup: the plain words


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a machine with CUDA moves the model for real")
def test_a_setup_that_moves_the_model_to_a_cuda_this_machine_lacks_is_checked_on_the_cpu(tmp_path):
    path = os.path.join(TRAINING, "cuda_device_setup.py")
    ok = run(path, "--input", "8x784", "--format", "json")
    assert ok.exit_code == 0, ok.output
    notes = json.loads(ok.output)["results"][0]["notes"]
    assert any("the setup's torch.device('cuda') stayed on the CPU: this machine has no CUDA" in n for n in notes)
    # the step moving its batch to the setup's hard-coded device: that device stands for the CPU
    moving = tmp_path / "moving.py"
    moving.write_text(open(path).read().replace("    logits, mu, logvar = model(x)", "    x = x.to(DEVICE)\n    logits, mu, logvar = model(x)"))
    r = run(str(moving), "--input", "8x784", "--format", "json")
    assert r.exit_code == 0, r.output
    notes = json.loads(r.output)["results"][0]["notes"]
    assert any("torch.device('cuda') stayed on the CPU" in n for n in notes)
    # the step naming CUDA itself (lyeoni's notebook: data = data.cuda()): the move leaves the batch
    # on the CPU here, said with its line
    literal = tmp_path / "literal.py"
    literal.write_text(open(path).read().replace("    logits, mu, logvar = model(x)", "    x = x.to('cuda')\n    x = x.cuda()\n    logits, mu, logvar = model(x)"))
    r = run(str(literal), "--input", "8x784", "--format", "json")
    assert r.exit_code == 0, r.output
    notes = json.loads(r.output)["results"][0]["notes"]
    assert any("the step's .to('cuda') at" in n and "left its tensor on the CPU: this machine has no CUDA" in n for n in notes)
    assert any("the step's .cuda() at" in n for n in notes)
    # the model's own forward naming CUDA is the model's: it still cannot run here, and says so
    forward = tmp_path / "forward.py"
    source = open(path).read()
    assert "    def forward(self, x):\n" in source
    forward.write_text(source.replace("    def forward(self, x):\n", "    def forward(self, x):\n        x = x.cuda()\n"))
    r = run(str(forward), "--input", "8x784")
    words = " ".join(r.output.split())
    assert r.exit_code == 2 and "moves a tensor to CUDA by itself" in words and "GPU machine" in words


def test_a_trainer_in_a_package_the_script_imports_is_found_and_flag_guarded_moves_are_not_decided(monkeypatch):
    # Schlumberger/joint-vae's layout: main.py builds a Trainer from jointvae/training.py and calls train()
    monkeypatch.chdir(os.path.join(TRAINING, "package_trainer_repo"))
    r = run("main.py", "--input", "8x1x16x16", "--format", "json", "--no-cache")
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)["results"][0]
    assert result["loss"].startswith("the training step of capvae/training.py:Trainer"), result["loss"]
    assert result["findings"] == [] and result["beta_effective"] == "1"
    undecided = [n for n in result["notes"] if n.startswith("VAE012 did not decide")]
    assert [n.split(":")[0:2] for n in undecided] == [["VAE012 did not decide capvae/models.py", "21"], ["VAE012 did not decide capvae/training.py", "46"]]
    assert all("`if self.use_cuda:`" in n for n in undecided)


def test_a_percent_sign_that_continues_a_line_is_python_not_a_magic(tmp_path):
    # rasbt's notebooks: print('Epoch: %03d | Cost: %.4f'\n      %(epoch, cost)) inside the training loop;
    # read as a magic, the line became `pass` and the notebook did not parse
    from vaelint.frontends.sourcemap import notebook_text

    cells = [
        "%load_ext watermark\n!pip list\nimport torch",
        "epoch, cost = 1, 2.0\nprint('Epoch: %03d | Cost: %.4f'\n      %(epoch, cost))\nwidth = 10 \\\n    % 3\n"
        "doc = '''\n%s is kept\n'''\n%time width",
    ]
    nb = {"cells": [{"cell_type": "code", "source": c} for c in cells], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(nb))
    lines = notebook_text(str(path)).text.splitlines()
    assert lines[:3] == ["pass", "pass", "import torch"]  # the magic and the shell line
    assert "      %(epoch, cost))" in lines and "    % 3" in lines and "%s is kept" in lines
    assert lines[-2] == "pass"  # %time on its own line is still a magic
    namespace: dict = {}
    exec(compile("\n".join(lines[3:]), "nb", "exec"), namespace)  # noqa: S102 - the test's own cells
    assert namespace["width"] == 1


def test_a_with_block_whose_file_is_missing_is_skipped_and_named_when_the_step_needs_it(tmp_path, monkeypatch):
    # pickled_folds_loop.py reads a data fold the check does not need; here the
    # model's size comes from a JSON file read the same way, and that one it does need
    source = open(os.path.join(TRAINING, "pickled_folds_loop.py")).read()
    source = source.replace("    vae = VAE()\n", '    with open("config.json") as fh:\n        cfg = json.load(fh)\n    vae = VAE(cfg["latent"])\n')
    (tmp_path / "train.py").write_text("import json\n" + source)
    monkeypatch.chdir(tmp_path)
    r = run("train.py", "--input", "8x3x32x32")
    assert r.exit_code == 2, r.output
    text = " ".join(r.output.split())
    assert "train.py:32 sets 'cfg' in the training setup" in text and "No such file or directory: 'config.json'" in text
    assert "run the check from the folder you run the script from" in text and "at module level" not in text
    (tmp_path / "config.json").write_text('{"latent": 16}')
    r = run("train.py", "--input", "8x3x32x32")
    assert r.exit_code == 0 and "no findings" in r.output, r.output


def test_a_weight_from_an_iterator_the_step_advances_is_read_as_a_schedule():
    # wohlert/semi-supervised-pytorch's Ladder VAE: elbo = likelihood - next(beta) * kl with a
    # DeterministicWarmup. Each of the check's runs advanced the user's object, so every run saw
    # another weight and the factor could not be read; now each run starts from a copy
    r = run(os.path.join(TRAINING, "iterator_warmup.py"), "--input", "16x784", "--format", "json", "--no-cache")
    result = json.loads(r.output)["results"][0]
    assert r.exit_code == 0 and not result["findings"], r.output
    assert result["beta_effective"] == "0.01 at step 0, annealed (beta) to 1"
    assert any("beta = next(beta)" in n and "0.01 at step = 0, 1 from step = 100" in n for n in result["notes"])


def test_a_nested_batch_pattern_takes_the_items_in_order():
    # for (x, y), (u, _) in zip(cycle(labelled), unlabelled): the batch was bound as (x, u) and
    # its first item unpacked into (x, y): "too many values to unpack"
    r = run(os.path.join(TRAINING, "paired_loaders.py"), "--input", "16x784", "--input", "16:int64:10",
            "--input", "16x784", "--format", "json", "--no-cache")
    result = json.loads(r.output)["results"][0]
    assert r.exit_code == 0 and result["error"] is None, r.output
    inputs = {row["name"]: row["shape"] for row in result["flow"] if row["stage"] == "input"}
    assert inputs == {"x": ["B", "784"], "y": ["B"], "u": ["B", "784"]}


def test_a_failed_top_level_line_of_a_script_is_named_as_the_setups(tmp_path, monkeypatch):
    source = open(os.path.join(TRAINING, "paired_loaders.py")).read()
    source = source.replace("vae = VAE()\n", 'vae = VAE()\nalpha = float(open("alpha.txt").read())\n')
    source = source.replace("0.1 * classification", "alpha * classification")
    (tmp_path / "train.py").write_text(source)
    monkeypatch.chdir(tmp_path)
    r = run("train.py", "--input", "16x784", "--input", "16:int64:10", "--input", "16x784")
    text = " ".join(r.output.split())
    assert r.exit_code == 2 and "train.py:27 sets 'alpha' in the training setup" in text, r.output
    assert "No such file or directory: 'alpha.txt'" in text and "at module level" not in text


def test_a_function_its_script_cannot_reach_is_called_directly_and_the_script_says_why_not():
    # bhpfelix/Variational-Autoencoder-PyTorch: the main guard resumes from the last checkpoint,
    # max() of none fails, and train() was never reached, even when named as the target
    path = os.path.join(TRAINING, "resume_from_checkpoint.py")
    r = run(path + ":train", "--input", "16x784", "--format", "json", "--no-cache")
    result = json.loads(r.output)["results"][0]
    assert r.exit_code == 0 and result["error"] is None, r.output
    assert any("the script's own way to train did not reach it" in n and "max() arg is an empty sequence" in n
               and "vaelint called train itself" in n for n in result["notes"])
    r = run(path, "--input", "16x784")
    text = " ".join(r.output.split())
    assert r.exit_code == 2 and "never reached the training step" in text, r.output
    assert "resume_from_checkpoint.py:51 did not set 'start'" in text and ".." not in text
    assert text.count("max() arg is an empty sequence") == 1


def test_a_trainer_called_as_a_function_and_imported_from_its_package_is_followed(tmp_path, monkeypatch):
    # YannDubs/disentangling-vae: `from disvae import Trainer` (re-exported by the package's
    # __init__), trainer = Trainer(...), then trainer(train_loader, epochs=...): its __call__
    # trains. A failed line of main() is named in main.py, not in the Trainer's file
    repo = tmp_path / "repo"
    shutil.copytree(os.path.join(TRAINING, "package_trainer_repo"), repo, ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "capvae" / "__init__.py").write_text("from capvae.training import Trainer\n")
    training = (repo / "capvae" / "training.py").read_text()
    (repo / "capvae" / "training.py").write_text(training.replace(
        "    def train(self, data_loader, epochs=10):",
        "    def __call__(self, data_loader, epochs=10):\n        return self.train(data_loader, epochs)\n\n"
        "    def train(self, data_loader, epochs=10):",
    ))
    main = (repo / "main.py").read_text()
    main = main.replace("from capvae.training import Trainer", "from capvae import Trainer")
    main = main.replace("trainer.train(loader, 100)", "trainer(loader, epochs=100)")
    (repo / "main.py").write_text(main)
    monkeypatch.chdir(repo)
    r = run("main.py", "--input", "8x1x16x16", "--format", "json", "--no-cache")
    result = json.loads(r.output)["results"][0]
    assert result["error"] is None, r.output
    assert "capvae/training.py" in result["loss"] and result["beta_effective"] is not None
    # the same, with main() reading a settings file that is not here
    body = main.split("use_cuda = torch.cuda.is_available()\n", 1)
    lines = ("use_cuda = torch.cuda.is_available()\n" + body[1]).splitlines()
    wrapped = "\n".join(["import json", body[0], "def main():", '    settings = json.load(open("settings.json"))',
                         *["    " + line.replace("latent=8", 'latent=settings["latent"]') for line in lines],
                         "", "if __name__ == '__main__':", "    main()", ""])
    (repo / "main.py").write_text(wrapped)
    r = run("main.py", "--input", "8x1x16x16")
    text = " ".join(r.output.split())
    assert r.exit_code == 2 and "No such file or directory: 'settings.json'" in text, r.output
    line = wrapped.splitlines().index('    settings = json.load(open("settings.json"))') + 1
    assert f"main.py:{line}" in text and f"training.py:{line}" not in text


def test_a_step_that_moves_its_batch_with_cuda_runs_on_a_machine_without_one_and_keeps_the_gpu_check(tmp_path):
    # lyeoni/pytorch-mnist-VAE: data = data.cuda() in the loop stopped every CPU check; now the move
    # leaves the batch where it is, and the report says so with the line
    source = open(os.path.join(TRAINING, "module_level_loop.py")).read()
    assert "        stats = encoder(x)\n" in source
    (tmp_path / "moved.py").write_text(source.replace("        stats = encoder(x)\n", "        x = x.cuda()\n        stats = encoder(x)\n"))
    r = run(str(tmp_path / "moved.py"), "--input", "16x784", "--format", "json", "--no-cache")
    result = json.loads(r.output)["results"][0]
    assert r.exit_code == 0 and result["error"] is None and not result["findings"], r.output
    assert any("the step's .cuda() at" in n and "moved.py:24" in n for n in result["notes"]), result["notes"]
    # on VAE012's simulated GPU the step's move is real: a CPU tensor it moves meets nothing there,
    # the same tensor left unmoved does
    import torch

    from vaelint.confirm.simdevice import simulate
    from vaelint.frontends.training.runtime import Runtime

    runtime = Runtime(str(tmp_path / "moved.py"))

    class Step(torch.nn.Module):
        def __init__(self, move):
            super().__init__()
            self.lin, self.move = torch.nn.Linear(4, 4), move

        def forward(self, x):
            noise = torch.ones(3, 4)
            if self.move:
                noise = runtime.moved(noise, "cuda", 1)
            return (self.lin(x) * noise).sum()

    assert simulate(Step(True), (torch.rand(3, 4),)).meetings == []
    assert [m.op for m in simulate(Step(False), (torch.rand(3, 4),)).meetings] == ["mul"]
    assert runtime.moved(torch.ones(2), "to", 1, "cuda", torch.float64).dtype == torch.float64  # the dtype still applies


def test_a_method_of_the_model_that_trains_is_left_out_and_said():
    # GuHongyang/VaDE-pytorch: vade.module.pre_train(DL, pre_epoch=50) before the loop ran its
    # own training loop in the setup (the sandbox stopped its data loader and optimiser)
    r = run(os.path.join(TRAINING, "pretrain_method.py"), "--input", "16x784", "--format", "json", "--no-cache")
    result = json.loads(r.output)["results"][0]
    assert r.exit_code == 0 and result["error"] is None, r.output
    assert any("model.pre_train(loader, epochs=50) was not run: VAE.pre_train (its backward at" in n
               and "trains, and vaelint never trains on the user's behalf" in n for n in result["notes"]), result["notes"]
    assert "pre-training ran" not in r.output
