"""LightningModules the code builds and hands to a trainer: a module whose building line failed
(or whose __init__ raised after super().__init__()), a step that fails on the trainer's batch,
an installed Lightning's Trainer asking for a GPU, LightningCLI scripts, a step's batch index under
any name, and the stand-in loggers' runs."""

import os
import shutil
import textwrap

import pytest
from json_cli import check_json as _json
from training_cli import write_script as _script


def test_a_lightning_module_the_setup_cannot_build_says_the_line_that_failed(tmp_path, monkeypatch):
    """``vae = LitVAE(input_height=32)`` for a constructor that takes no such argument, then
    ``trainer.fit(vae, ...)``: the message is that line's failure (before: "the model trained is a
    Unavailable, not a LightningModule"); the same script with the right argument is checked."""
    from helpers import check
    from training_cli import RUNNING

    source = open(os.path.join(RUNNING, "lightning1_argparse.py")).read()
    main = source[source.index("def cli_main():") :]
    lines = source[: source.index("def cli_main():")] + (
        "vae = LitVAE(kl_coeff=0.1, input_height=32)\n"
        "trainer = pl.Trainer(max_epochs=1)\n"
        "trainer.fit(vae, DataLoader(TensorDataset(torch.rand(64, 784)), batch_size=16))\n"
    )
    assert "def cli_main" in main
    (tmp_path / "train.py").write_text(lines)
    shutil.copy(os.path.join(RUNNING, "vae_common.py"), tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    result = check(str(tmp_path / "train.py"), "-", ["16x784"])
    assert result.error is not None
    assert "train.py:36 sets 'vae'" in result.error.message and "unexpected keyword argument 'input_height'" in result.error.message, (
        result.error.message
    )
    (tmp_path / "train.py").write_text(lines.replace(", input_height=32", ""))
    result = check(str(tmp_path / "train.py"), "-", ["16x784"])
    assert result.error is None and [(f.code, f.loc.line) for f in result.findings] == [("VAE004", 30)], result.findings


def _lit_vae_script(tmp_path, monkeypatch, *lines: str) -> str:
    """train.py: the LitVAE of lightning1_argparse.py (its KL weighted at line 30), then ``lines``."""
    from training_cli import RUNNING

    source = open(os.path.join(RUNNING, "lightning1_argparse.py")).read()
    (tmp_path / "train.py").write_text(source[: source.index("def cli_main():")] + "".join(f"{line}\n" for line in lines))
    shutil.copy(os.path.join(RUNNING, "vae_common.py"), tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return str(tmp_path / "train.py")


def test_an_installed_lightning_trainer_asking_for_a_gpu_runs_on_the_cpu(tmp_path, monkeypatch):
    """``Trainer(accelerator="gpu", devices=[0])`` with Lightning installed, on a machine without
    a GPU: the trainer is built for the CPU as one process (said in a note), its loop runs the
    module's training_step, and the step is checked (before: "No supported gpu backend found!",
    then "no input shape"). The near miss asks for the CPU itself: nothing is changed or said."""
    import torch
    from helpers import check

    pytest.importorskip("pytorch_lightning")
    if torch.cuda.is_available():
        pytest.skip("a machine with a GPU builds the trainer as asked")
    script = _lit_vae_script(
        tmp_path,
        monkeypatch,
        "model = LitVAE()",
        "trainer = pl.Trainer(accelerator='gpu', devices=[0], max_epochs=1, logger=False, enable_checkpointing=False)",
        "trainer.fit(model, DataLoader(TensorDataset(torch.rand(64, 784)), batch_size=16))",
    )
    lines = open(script).read()
    result = check(script, "-", [])
    assert result.error is None, result.error.message
    assert [(f.code, f.loc.line) for f in result.findings] == [("VAE004", 30)], result.findings
    assert any(
        "Trainer(accelerator='gpu', devices=[0]) at " in n and "train.py:37 ran on this machine's CPU as one process" in n
        for n in result.notes
    ), result.notes
    (tmp_path / "train.py").write_text(lines.replace("accelerator='gpu', devices=[0]", "accelerator='cpu'"))
    result = check(str(tmp_path / "train.py"), "-", [])
    assert result.error is None and not any("ran on this machine's CPU" in n for n in result.notes), result.notes


def test_lightning_1x_argparse_code_runs_on_an_installed_lightning_2(monkeypatch):
    """lightning1_argparse.py (``Trainer.add_argparse_args(parser)``, ``Trainer.from_argparse_args
    (args)``) with a Lightning 2.x installed, which dropped both: the Trainer gets the stand-in's
    two methods for the run, the report says so, and the step is checked (before: "type object
    'Trainer' has no attribute 'add_argparse_args'", exit 2: wilson1yan/VideoGPT, stat-ml/mcvae)."""
    import torch
    from helpers import check
    from training_cli import RUNNING

    pl = pytest.importorskip("pytorch_lightning")
    if hasattr(pl.Trainer, "add_argparse_args") or torch.cuda.is_available():
        pytest.skip("a Lightning 1.x has the methods itself")
    monkeypatch.chdir(RUNNING)
    monkeypatch.syspath_prepend(RUNNING)
    result = check(os.path.join(RUNNING, "lightning1_argparse.py"), "-", [])
    assert result.error is None, result.error.message
    assert [f.code for f in result.findings] == ["VAE004"], result.findings
    assert any("Trainer.from_argparse_args(...) at lightning1_argparse.py" in n and "Lightning 1.x's" in n for n in result.notes)
    assert not hasattr(pl.Trainer, "add_argparse_args")  # taken away again after the run


def test_an_installed_lightnings_tracker_logger_without_its_package_logs_nothing(tmp_path, monkeypatch):
    """``pl.loggers.WandbLogger(project=...)`` where wandb is not installed: Lightning checks wandb's
    installed version, which its stand-in import cannot give, and the setup stopped
    (jonboypy/world-models). It is Lightning's DummyLogger now, said in a note."""
    import importlib.util

    from helpers import check

    pytest.importorskip("pytorch_lightning")
    if importlib.util.find_spec("wandb") is not None:
        pytest.skip("wandb is installed: its logger is the real one")
    script = _lit_vae_script(
        tmp_path,
        monkeypatch,
        "model = LitVAE()",
        "logger = pl.loggers.WandbLogger(project='vae', log_model=True)",
        # the class stays itself, as LightningCLI's `class_path: WandbLogger` reads it: one class of
        # that name, its own signature (before: a second class of that name, 'ambiguous')
        "import inspect",
        "def every(c):",
        "    return [c] + [d for s in c.__subclasses__() for d in every(s)]",
        "named = [c for c in every(pl.loggers.logger.Logger) if c.__name__ == 'WandbLogger']",
        "if named != [pl.loggers.WandbLogger] or 'log_model' not in inspect.signature(named[0]).parameters:",
        "    model = None  # a top-level failure is passed over: no model, no step",
        "trainer = pl.Trainer(max_epochs=1, logger=logger, enable_checkpointing=False)",
        "trainer.fit(model, DataLoader(TensorDataset(torch.rand(64, 784)), batch_size=16))",
    )
    result = check(script, "-", [])
    assert result.error is None, result.error.message
    assert [(f.code, f.loc.line) for f in result.findings] == [("VAE004", 30)], result.findings
    assert any("WandbLogger(...) logs nothing (wandb is not installed)" in n for n in result.notes), result.notes
    # said as it is, never run together with the CPU trainer's note ("... ran on this machine's CPU")
    assert not any("logs nothing" in n and "CPU" in n for n in result.notes), result.notes


def test_a_lightning_cli_script_is_training_code_and_the_cpu_trainer_keeps_its_signature(tmp_path):
    """A main.py that only calls ``LightningCLI()`` trains through the library (before: exit 0, "no
    VAE targets"); the Trainer built for the CPU keeps the signature LightningCLI reads its options
    from (before: "Subcommand 'fit' does not accept option 'trainer.max_epochs'"). The near miss: a
    file that calls no trainer is no training script."""
    import inspect

    from vaelint.frontends.training.sandbox import Sandbox
    from vaelint.frontends.training.sites import parse_file
    from vaelint.frontends.training.ways import trains_through_a_library

    cli = tmp_path / "main.py"
    cli.write_text(
        "import torch\nfrom lightning.pytorch.cli import LightningCLI\n\n\ndef main():\n    LightningCLI()\n\n\nif __name__ == '__main__':\n    main()\n"
    )
    assert trains_through_a_library(parse_file(str(cli)))
    other = tmp_path / "other.py"
    other.write_text("import torch\n\n\ndef main():\n    print(torch.zeros(2))\n")
    assert not trains_through_a_library(parse_file(str(other)))
    pl = pytest.importorskip("pytorch_lightning")
    with Sandbox(str(cli)).active():
        assert "max_epochs" in inspect.signature(pl.Trainer.__init__).parameters


def test_a_lightning_step_whose_batch_index_has_any_name_is_called_as_lightning_calls_it(tmp_path):
    """``training_step(self, batch, _)``: Lightning gives the batch index second, whatever its name
    (before: "missing 1 required positional argument: '_'", exit 2). The near miss: one with a
    default is left to it."""
    from helpers import check

    pytest.importorskip("pytorch_lightning")
    for signature in ("self, batch, _", "self, batch, index=None"):
        path = tmp_path / "lit.py"
        path.write_text(
            "import torch, torch.nn as nn, torch.nn.functional as F\nimport pytorch_lightning as pl\n\n\n"
            "class LitVAE(pl.LightningModule):\n    def __init__(self):\n        super().__init__()\n"
            "        self.enc, self.dec = nn.Linear(20, 8), nn.Linear(4, 20)\n\n"
            f"    def training_step({signature}):\n        (x,) = batch\n"
            "        mu, logvar = self.enc(x).chunk(2, 1)\n        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)\n"
            "        rec = F.mse_loss(self.dec(z), x, reduction='sum')\n"
            "        return (rec - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())) / x.size(0)\n\n"
            "    def configure_optimizers(self):\n        return torch.optim.Adam(self.parameters())\n"
        )
        result = check(str(path), "LitVAE", ["8x20"])
        assert result.error is None and result.findings == [], (signature, result.error)


def test_a_stand_in_logger_run_is_a_context_manager():
    """``with wandb.init(project=...) as run:`` where wandb is not installed: its stand-in run
    enters and leaves, and what the block calls on it does nothing."""
    from vaelint.frontends.standinbase import _Anything

    with _Anything("project")() as run:
        assert run.log({"loss": 1.0}) is not None


@pytest.mark.parametrize("installed", [True, False])
def test_a_lightning_module_whose_base_is_a_name_set_in_a_try_is_one(monkeypatch, installed):
    """``Base = pl.LightningModule`` (``nn.Module`` where the import fails), ``class LitVAE(Base)``
    with a training_step: the step is checked, Lightning installed or not (before: "no loss
    found", exit 0); a plain module of the same file with no training_step stays a model."""
    from conftest import FIXTURES
    from helpers import check
    from test_training import _without_lightning

    from vaelint.frontends.lightning import _lightning_classes
    from vaelint.frontends.training.sites import parse_file

    path = os.path.join(FIXTURES, "training", "lightning_base_alias.py")
    if installed:
        pytest.importorskip("pytorch_lightning")
    else:
        _without_lightning(monkeypatch)
    result = check(path, "LitVAE", ["32x784"])
    assert result.error is None, result.error.message
    assert [(f.code, f.loc.line) for f in result.findings] == [("VAE002", 35)]
    assert _lightning_classes(parse_file(os.path.realpath(os.path.join(FIXTURES, "clean", "mlp_vae.py")))) == set()


def test_the_stand_in_save_hyperparameters_keeps_what_lightning_keeps():
    """The Lightning-Hydra template's ``__init__(self, D, ..., **kwargs)`` with
    ``self.save_hyperparameters()`` reads ``self.hparams.beta`` given as a config key: the
    stand-in spreads **kwargs as Lightning does (before: stored under 'kwargs', AttributeError:
    beta, vrvrv/Variational-Inference-with-Normalizing-Flows), keeps only the init's arguments,
    and takes the names, the ignore list or the one dict given."""
    from vaelint.frontends.standinlightning import _lightning_module_class

    base = _lightning_module_class()

    class Model(base):
        def __init__(self, D: int, encoder: dict, *args, flows=2, **kwargs):
            super().__init__()
            unrelated = 5  # noqa: F841 - a local of the init, not an argument: not kept
            self.save_hyperparameters(ignore=["encoder"])

    m = Model(10, {"h": 3}, flows=4, beta=0.5, lr=1e-3)
    assert dict(m.hparams) == {"D": 10, "flows": 4, "beta": 0.5, "lr": 1e-3}
    assert m.hparams.beta == 0.5

    class Named(base):
        def __init__(self, latent, beta=1.0):
            super().__init__()
            self.save_hyperparameters("beta")

    assert dict(Named(8).hparams) == {"beta": 1.0}

    class FromDict(base):
        def __init__(self, config):
            super().__init__()
            self.save_hyperparameters(config)

    assert FromDict({"beta": 0.1, "latent": 4}).hparams.latent == 4

    # hparams_initial: what was saved, as first saved (GenTS reads self.hparams_initial.seq_len;
    # before, "'LitVAE' object has no attribute 'hparams_initial'", blamed on the user's code)
    kept = Named(8, beta=0.25)
    kept.hparams.beta = 2.0
    assert kept.hparams_initial.beta == 0.25 and dict(kept.hparams_initial) == {"beta": 0.25}
    assert base().global_rank == 0 and base().local_rank == 0


def test_isinstance_against_a_stand_in_class_is_false_not_a_type_error():
    # isinstance(logger, pl.loggers.wandb.WandbLogger) in the template's utils: before, TypeError
    from vaelint.frontends.standinbase import _Anything

    stand_in = _Anything().loggers.wandb.WandbLogger
    assert isinstance(object(), stand_in) is False
    assert issubclass(int, stand_in) is False
    assert isinstance(3, (int, stand_in))


def test_a_stand_in_loggers_ids_and_paths_are_text(monkeypatch):
    # os.environ["MLFLOW_RUN_ID"] = run.info.run_id (jurgisp/pydreamer): before, "str expected, not _Anything"
    import os

    from vaelint.frontends.standinbase import StandInText, _Anything

    run = _Anything()
    monkeypatch.setenv("MLFLOW_RUN_ID", run.info.run_id)
    assert os.environ["MLFLOW_RUN_ID"] == "vaelint-stand-in-run_id"
    assert isinstance(run.info.artifact_uri, StandInText) and os.path.join(run.log_dir, "x").endswith("log_dir/x")
    # the near miss: what is not named as an id, a name, a folder or an address stays a stand-in object
    assert isinstance(run.info, _Anything) and isinstance(run.experiment.add_image, _Anything)


def test_a_stand_in_data_module_is_also_an_abstract_base_class():
    # class BaseDataModule(pl.LightningDataModule, ABC) where Lightning is not installed: the
    # stand-in's metaclass conflicted with ABCMeta and the setup line failed
    # (mattia-scardecchia/Generative-Data-Augmentation)
    from abc import ABC, abstractmethod

    from vaelint.frontends.standinlightning import _lightning_name

    class BaseDataModule(_lightning_name("LightningDataModule"), ABC):
        @abstractmethod
        def make_dataset(self): ...

    class Digits(BaseDataModule):
        def make_dataset(self):
            return "digits"

    assert Digits(data_dir="nowhere").make_dataset() == "digits"
    with pytest.raises(TypeError):
        BaseDataModule()  # abstract, as with the real package


def test_a_lightning_module_whose_init_raised_is_not_checked_half_built(tmp_path, monkeypatch):
    # its __init__ stops after super().__init__() (a perceptual loss's weights file, read as bytes,
    # is not here): the module was seen built, but it has no decoder; the run's stop is what the
    # user hears (a torch.load of a missing checkpoint would leave the weights as built instead)
    lines = [
        "import torch, torch.nn as nn, torch.nn.functional as F",
        "from pytorch_lightning import LightningModule, Trainer",
        "from vae_common import VAE",
        "class LitVAE(LightningModule):",
        "    def __init__(self, weights='weights/lpips.pth'):",
        "        super().__init__()",
        "        self.enc = VAE()",
        "        self.perceptual = open(weights, 'rb').read()",
        "        self.dec = nn.Identity()",
        "    def training_step(self, batch, batch_idx):",
        "        (x,) = batch",
        "        recon, mu, logvar = self.enc(x)",
        "        return F.mse_loss(self.dec(recon), x)",
        "    def configure_optimizers(self):",
        "        return torch.optim.Adam(self.parameters())",
        "loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.rand(64, 784)), batch_size=16)",
        "Trainer(max_epochs=1).fit(LitVAE(), loader)",
    ]
    _script(tmp_path, *lines)
    monkeypatch.chdir(tmp_path)
    r, result = _json("train.py", "--input", "16x784")
    assert r.exit_code == 2, r.output
    assert "stopped at train.py:8: FileNotFoundError" in result["error"]["message"], result["error"]
    assert "has no attribute" not in result["error"]["message"]
    # the near miss: the same module whose weights are there is checked
    torch_save = "import torch; import os; os.makedirs('weights'); torch.save(torch.zeros(1), 'weights/lpips.pth')"
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", torch_save], cwd=tmp_path, check=True)
    r, result = _json("train.py", "--input", "16x784")
    assert result["error"] is None, r.output
    assert result["loss"].startswith("LitVAE.training_step"), result["loss"]


@pytest.mark.parametrize("unpack, fails", [("x = batch", True), ("(x,) = batch", False)])
def test_a_lightning_step_that_fails_on_the_trainers_batch_is_what_the_user_hears(tmp_path, monkeypatch, unpack, fails):
    # Lightning's optimizer.step(closure) runs training_step inside the closure: the sandbox's
    # optimizer leaves out the update, not the closure (before, "the closure hasn't been executed",
    # and the step read from the code was checked on a tensor: exit 0 on a crash)
    pytest.importorskip("pytorch_lightning")
    _script(
        tmp_path,
        *textwrap.dedent(f"""
        import torch, pytorch_lightning as pl
        from vae_common import VAE, elbo
        class Lit(pl.LightningModule):
            def __init__(self):
                super().__init__()
                self.vae = VAE()
            def training_step(self, batch, batch_idx):
                {unpack}
                recon, mu, logvar = self.vae(x)
                return elbo(recon, x, mu, logvar)
            def configure_optimizers(self):
                return torch.optim.Adam(self.parameters())
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.rand(64, 784)), batch_size=16)
        pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False).fit(Lit(), loader)
    """).splitlines(),
    )
    monkeypatch.chdir(tmp_path)
    r, result = _json("train.py")
    if fails:
        assert r.exit_code == 2 and "must be Tensor, not list" in result["error"]["message"], r.output
    else:
        assert r.exit_code == 0 and result["error"] is None, r.output


def test_the_stand_in_trainers_argparse_flags_are_numbers_where_they_are_numbers():
    # `args.gpus / 8.` after Trainer.add_argparse_args(parser): the stand-in gave "1", and the
    # setup raised "unsupported operand type(s) for /: 'str' and 'float'" (SongweiGe/TATS)
    import argparse

    from vaelint.frontends.standinlightning import _Trainer

    parser = _Trainer.add_argparse_args(argparse.ArgumentParser())
    args = parser.parse_args(["--gpus", "1", "--max_epochs", "3", "--precision", "bf16", "--val_check_interval", "0.25"])
    assert (args.gpus, args.max_epochs, args.precision, args.val_check_interval) == (1, 3, "bf16", 0.25)
    assert parser.parse_args(["--gpus", "0,"]).gpus == "0," and parser.parse_args(["--deterministic", "true"]).deterministic is True
    assert parser.parse_args([]).gpus is None


@pytest.mark.skipif(__import__("importlib").util.find_spec("lightning") is not None, reason="the real lightning package is here")
def test_lightning_cli_where_lightning_is_not_installed_says_so_and_names_the_module(tmp_path, monkeypatch):
    # LightningCLI(LitVAE, DataModule) of the `lightning` package, not installed: its stand-in did
    # nothing, and the run ended with "took no batch ... reached no backward", naming nothing missing
    # (helper-found: Kyaw-Thiha/resnet-cvae without lightning)
    (tmp_path / "model.py").write_text(
        textwrap.dedent("""
        import torch
        import lightning as L
        from vae_common import VAE, elbo

        class LitVAE(L.LightningModule):
            def __init__(self):
                super().__init__()
                self.vae = VAE()

            def training_step(self, batch, batch_idx):
                (x,) = batch
                return elbo(x, *self.vae(x))
    """)
    )
    _script(tmp_path, "from lightning.pytorch.cli import LightningCLI", "from model import LitVAE", "LightningCLI(LitVAE)")
    monkeypatch.chdir(tmp_path)
    r, result = _json("train.py", "--script-args", "fit")
    assert r.exit_code == 2, r.output
    said = result["error"]["message"]
    assert "trains through LightningCLI" in said and "is not installed here" in said, said
    assert "vaelint check model.py:LitVAE --input SHAPE" in said, said


def test_a_trainers_library_claimed_for_one_check_is_a_library_again_for_the_next(monkeypatch):
    """A script whose files hold no backward (a Hydra app handing its module to a Trainer) claims
    the Trainer's library as the user's code for its check. Checked next in the same process (the
    API, a worker checking several targets), a Lightning script's step was read at Lightning's own
    line (``backward at module.py:1137``) and the critic's loss taken as the VAE's: a false VAE011."""
    from helpers import check, found
    from training_cli import RUNNING

    monkeypatch.chdir(os.path.join(RUNNING, "hydra_lightning"))
    assert found(check(os.path.join(RUNNING, "hydra_lightning", "main.py"), "-", [])) == {("VAE004", 28)}
    monkeypatch.chdir(RUNNING)
    result = check(os.path.join(RUNNING, "lightning_critic_first_on_detached_z.py"), "-", [])
    assert result.error is None and not result.findings, [f.message for f in result.findings]
    assert result.loss_name.endswith("(lines 23-35, backward at line 35)"), result.loss_name


def test_a_checkpoint_folder_the_code_made_answers_as_made_and_nothing_is_written(tmp_path, monkeypatch):
    # os.makedirs(run_dir) then ModelCheckpoint(dirpath=run_dir): vaelint makes no folder, so fsspec's
    # stat of it raised inside Lightning and the check said "its data is not here" (helper-found twice)
    from training_cli import RUNNING

    shutil.copy(os.path.join(RUNNING, "lightning_checkpoint_in_a_folder_it_made.py"), tmp_path / "train.py")
    monkeypatch.chdir(tmp_path)
    r, result = _json("train.py")
    assert result["error"] is None and not result["findings"], r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.py"], list(tmp_path.iterdir())


def test_a_stand_in_lightnings_submodules_hold_its_trainer_and_module():
    """``from pytorch_lightning.trainer import Trainer`` (and Lightning 1.x's ``from
    pytorch_lightning.core.lightning import LightningModule``) where Lightning is not installed:
    the stand-in's Trainer and LightningModule, not an object that does nothing. Before,
    ``Trainer.add_argparse_args(parser)`` gave such an object and ``opt, unknown =
    parser.parse_known_args()`` stopped with "too many values to unpack" (helper-found)."""
    import argparse

    from vaelint.frontends.standinlightning import _lightning, _Trainer

    trainer = _lightning("pytorch_lightning.trainer").Trainer
    assert trainer is _Trainer
    opt, unknown = trainer.add_argparse_args(argparse.ArgumentParser()).parse_known_args([])
    assert opt.gpus is None and unknown == []
    module = _lightning("pytorch_lightning.core.lightning").LightningModule
    assert isinstance(module, type) and issubclass(module, __import__("torch").nn.Module)
