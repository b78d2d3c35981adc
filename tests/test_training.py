"""Training code as a target: scripts, functions, Solver methods, notebooks and
Lightning, checked by the commands a user types, with nothing but the step run."""

import json
import os
import shutil
import sys

import pytest
from training_cli import TRAINING, run


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
    ("manual optimisation, two optimisers", ".", ["lightning_modules.py:TwoOptimiserVAE", "--input", "8x784"], 0),
    ("a notebook", ".", ["vae_cells.ipynb", "--input", "8x3x64x64"], 1),
    ("a dict batch", ".", ["dict_batch.py", "--input", "batch.image=8x1x16x16"], 0),
    ("a Trainer class, AMP, accumulation, a JSON config", "trainer_repo", ["train.py", "--input", "8x784"], 0),
    ("a Trainer's method", "trainer_repo", ["train.py:Trainer.train", "--input", "8x784"], 0),
    ("accelerate, not installed", ".", ["accelerate_loop.py", "--input", "8x784"], 0),
    ("sizes from a helper that imports a simulator not installed", "simulator_settings_repo", ["train.py", "--input", "8x3x32x32"], 0),
    ("a script whose Trainer lives in a package it imports", "package_trainer_repo", ["main.py", "--input", "8x1x16x16"], 0),
    ("a script whose model returns distributions", ".", ["distribution_decoder_loop.py", "--input", "16x784"], 1),
    ("a data file not here, a batcher not installed", ".", ["pickled_folds_loop.py", "--input", "8x3x32x32"], 0),
    (
        "a loop at the top level calls train(), CUDA hard-coded",
        ".",
        ["cuda_step_module_loop.py", "--input", "16x1x28x28", "--input", "16:int64:10"],
        0,
    ),
    ("a function its script cannot reach (no checkpoint to resume)", ".", ["resume_from_checkpoint.py:train", "--input", "16x784"], 0),
    ("a data set that makes its folder and starts curl", ".", ["downloading_dataset.py", "--input", "16x784"], 0),
    ("a data set that downloads with torchvision.datasets.utils", ".", ["torchvision_download_utils.py", "--input", "16x64x64"], 0),
    ("a batch of strings the step encodes", ".", ["smiles_strings_encoded_in_step.py"], 1),
    ("a batch of sentences the step tokenises", ".", ["sentences_tokenised_in_step.py"], 0),
    ("a pre-training method called on the model", ".", ["pretrain_method.py", "--input", "16x784"], 0),
    (
        "two loaders zipped, a nested pattern",
        ".",
        ["paired_loaders.py", "--input", "16x784", "--input", "16:int64:10", "--input", "16x784"],
        0,
    ),
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


def test_a_training_script_named_alone_is_checked_or_refused_never_passed_over(tmp_path, monkeypatch):
    """A file that trains, named without ``:NAME`` and without --input (as pre-commit passes
    it), is a target: here its required arguments are missing, which is exit 2 naming them,
    not exit 0 with "no VAE targets"."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(os.path.join(TRAINING, "required_args.py"), tmp_path)
    r = run("required_args.py")
    assert r.exit_code == 2, r.output
    assert "the following arguments are required: --data-dir, --latent" in r.output
    assert "no VAE targets" not in r.output


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
    r = run(
        f"{path}:VAE", "--init", "sizes=[784,256]", "--init", "latent=4", "--input", "16x1x28x28", "--loss", f"{path}:main.loss_fn", "-q"
    )
    assert r.exit_code == 1, r.output
    assert "nested_loss_in_main.py:42:22: VAE002" in r.output


def test_a_solver_method_is_a_loss_name(monkeypatch):
    monkeypatch.chdir(os.path.join(TRAINING, "solver_repo"))
    r = run("model.py:VAE", "--input", "8x3x32x32", "--loss", "solver.py:Solver.vae_loss", "--loss-kwarg", "beta=1.0", "-q")
    assert r.exit_code == 1, r.output
    assert "solver.py:83:22: VAE002" in r.output


_SETUP_WITH_A_STATIC_LOSS = """from abc import ABC, abstractmethod

import torch
import torch.nn.functional as F


class Setup(ABC):
    def __init__(self, model, optimizer):
        self.model, self.optimizer = model, optimizer

    @abstractmethod
    def build(self): ...

    @{kind}
    def elbo({first}rec, x, mu, logvar):
        bce = F.binary_cross_entropy_with_logits(rec, x, reduction="sum")
        return bce - 0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())
"""


@pytest.mark.parametrize("kind,first", [("staticmethod", ""), ("classmethod", "cls, ")])
def test_a_static_or_class_method_of_a_class_that_cannot_be_built_is_a_loss_name(tmp_path, monkeypatch, kind, first):
    # an abstract class (or one needing a model and an optimiser) holding its loss as a @staticmethod:
    # before, vaelint built the class to take the method, and refused ("give the loss as a function")
    (tmp_path / "setups.py").write_text(_SETUP_WITH_A_STATIC_LOSS.format(kind=kind, first=first))
    (tmp_path / "model.py").write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass VAE(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.enc = nn.Linear(30, 8)\n        self.dec = nn.Linear(4, 30)\n\n"
        "    def forward(self, x):\n        mu, logvar = self.enc(x).chunk(2, dim=1)\n"
        "        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)\n        return self.dec(z), mu, logvar\n"
    )
    monkeypatch.chdir(tmp_path)
    r = run("model.py:VAE", "--input", "4x30", "--loss", "setups.py:Setup.elbo", "-q")
    assert r.exit_code == 1, r.output
    assert "setups.py:17:28: VAE002" in r.output, r.output


def test_a_dict_batch_takes_an_unnamed_spec_by_the_key_the_step_reads():
    r = run(os.path.join(TRAINING, "dict_batch.py"), "--input", "8x1x16x16")
    assert r.exit_code == 0, r.output
    assert "the batch is a dict the step reads by key: ['image'] = --input 8x1x16x16" in " ".join(r.output.split())


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
    for fmt, needle in (
        ("text", "no findings in 1 target; 7 rules not checked (no loss found)"),
        ("github", "::notice"),
        ("markdown", "7 rules not checked"),
    ):
        r = run(f"{path}:VAE", "--input", "4x8", "-q", "--format", fmt)
        assert r.exit_code == 0
        assert needle in r.output, (fmt, r.output)
    sarif = json.loads(run(f"{path}:VAE", "--input", "4x8", "--format", "sarif").output)
    notes = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert any("VAE002 not checked: no loss found" in n["message"]["text"] for n in notes)


def test_lightning_need_not_be_installed(monkeypatch):
    """With pytorch_lightning unimportable, a LightningModule still checks: its
    import stands in (vaelint/frontends/standins.py)."""
    from helpers import check

    _without_lightning(monkeypatch)
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
    r = run(
        os.path.join(TRAINING, "paired_loaders.py"),
        "--input",
        "16x784",
        "--input",
        "16:int64:10",
        "--input",
        "16x784",
        "--format",
        "json",
        "--no-cache",
    )
    result = json.loads(r.output)["results"][0]
    assert r.exit_code == 0 and result["error"] is None, r.output
    inputs = {row["name"]: row["shape"] for row in result["flow"] if row["stage"] == "input"}
    # the unlabelled loader's labels, which no --input gives, come as the code made them
    assert inputs == {"x": ["B", "784"], "y": ["B"], "u": ["B", "784"], "_": ["B"]}


def test_a_lightning_1_script_runs_on_the_stand_in(monkeypatch):
    # Trainer.add_argparse_args / from_argparse_args (Lightning 1.x) where Lightning 1.x is not
    # here: its stand-in takes them, the script's --gpus too
    from helpers import check
    from training_cli import RUNNING

    _without_lightning(monkeypatch)
    monkeypatch.syspath_prepend(RUNNING)
    path = os.path.join(RUNNING, "lightning1_argparse.py")
    for args in ([], ["--gpus", "0,", "--max_epochs", "3"]):
        result = check(path, "-", ["16x784"], script_args=args)
        assert result.error is None, result.error.message
        assert [(f.code, f.loc.line) for f in result.findings] == [("VAE004", 30)], result.findings


def test_installed_lightning_is_used_after_torchvision_stood_in(monkeypatch):
    # `import torchvision` (not installed: it stands in) before `import pytorch_lightning`: the
    # real Lightning still imports, finding torchvision's stand-in, and serves
    from vaelint.frontends import standins

    pytest.importorskip("pytorch_lightning")
    for key in [k for k in sys.modules if k.split(".")[0] in ("pytorch_lightning", "lightning_fabric", "torchvision")]:
        monkeypatch.delitem(sys.modules, key)
    with standins.installed():
        import pytorch_lightning as pl
        import torchvision  # noqa: F401

        assert not getattr(pl, "__vaelint_stand_in__", False) and hasattr(pl, "__version__")


def _without_lightning(monkeypatch):
    """Lightning cannot be imported (as where it is not installed): its stand-in serves."""
    import importlib.abc

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path=None, target=None):
            if fullname.split(".")[0] in ("pytorch_lightning", "lightning"):
                raise ImportError(f"no {fullname} here")
            return None

    for key in [k for k in sys.modules if k.split(".")[0] in ("pytorch_lightning", "lightning", "lightning_fabric")]:
        monkeypatch.delitem(sys.modules, key)
    monkeypatch.setattr(sys, "meta_path", [Block(), *sys.meta_path])


def test_a_batch_read_by_attribute_takes_its_keys_from_the_input(tmp_path, monkeypatch):
    # torchtext's and PyG's batches are read by attribute (batch.sentence, data.x): --input
    # batch.KEY=SPEC gives a record read either way (it was a dict: "'dict' object has no attribute")
    import json as _jsonlib

    from training_cli import write_script

    write_script(
        tmp_path,
        "import torch",
        "from vae_common import VAE, elbo",
        "def batches():",
        "    raise FileNotFoundError(2, 'No such file or directory', 'data/ptb.train.txt')",
        "model = VAE()",
        "opt = torch.optim.Adam(model.parameters())",
        "for batch in batches():",
        "    x = batch.sentence",
        "    recon, mu, logvar = model(x)",
        "    loss = elbo(recon, x, mu, logvar)",
        "    opt.zero_grad()",
        "    loss.backward()",
        "    opt.step()",
    )
    monkeypatch.chdir(tmp_path)
    r = run("train.py", "--input", "batch.sentence=8x784", "--format", "json", "--no-cache")
    (result,) = _jsonlib.loads(r.stdout)["results"]
    assert result["error"] is None, r.output
    # the near miss: a key the step does not read is still missing, by name
    r = run("train.py", "--input", "batch.text=8x784", "--format", "json", "--no-cache")
    (result,) = _jsonlib.loads(r.stdout)["results"]
    assert result["error"] is not None and "sentence" in result["error"]["message"], r.output
