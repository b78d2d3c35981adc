"""Training code whose setup meets what is not there: a package not installed, a data or
settings file, a checkpoint to resume from, a GPU, a Trainer in another package, a
method that trains. The check goes as far as the step needs, and says what stood in or
what stopped it, at the line where it happened."""

import json
import os
import shutil

import pytest
from training_cli import TRAINING, run


def _variant(path, copy, old: str, new: str) -> str:
    """A copy of a fixture with one piece of its code written another way."""
    source = open(path).read()
    assert old in source, old
    copy.write_text(source.replace(old, new))
    return str(copy)


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
    r = run(
        _variant(
            path, tmp_path / "moving.py", "    logits, mu, logvar = model(x)", "    x = x.to(DEVICE)\n    logits, mu, logvar = model(x)"
        ),
        "--input",
        "8x784",
        "--format",
        "json",
    )
    assert r.exit_code == 0, r.output
    notes = json.loads(r.output)["results"][0]["notes"]
    assert any("torch.device('cuda') stayed on the CPU" in n for n in notes)
    # the step naming CUDA itself (lyeoni's notebook: data = data.cuda()): the move leaves the batch
    # on the CPU here, said with its line
    r = run(
        _variant(
            path,
            tmp_path / "literal.py",
            "    logits, mu, logvar = model(x)",
            "    x = x.to('cuda')\n    x = x.cuda()\n    logits, mu, logvar = model(x)",
        ),
        "--input",
        "8x784",
        "--format",
        "json",
    )
    assert r.exit_code == 0, r.output
    notes = json.loads(r.output)["results"][0]["notes"]
    assert any("the step's .to('cuda') at" in n and "left its tensor on the CPU: this machine has no CUDA" in n for n in notes)
    assert any("the step's .cuda() at" in n for n in notes)
    # the model's own forward naming CUDA, in training code written for a GPU: checked here too,
    # the move said with its line (VAE012's simulated GPU still sees it as a move). The forward
    # moves its own copy of the batch; the step's loss compares the GPU logits with the batch the
    # loader gave, on the CPU, which fails on a GPU: VAE012 there (before, the simulated move shared
    # the batch's memory and counted the step's own x as moved too)
    r = run(
        _variant(path, tmp_path / "forward.py", "    def forward(self, x):\n", "    def forward(self, x):\n        x = x.cuda()\n"),
        "--input",
        "8x784",
        "--format",
        "json",
    )
    assert r.exit_code == 1, r.output
    result = json.loads(r.output)["results"][0]
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE012", 33)], result["findings"]
    assert any("the step's .cuda() at" in n and "forward.py:20 left its tensor on the CPU" in n for n in result["notes"]), result["notes"]


def test_a_trainer_in_a_package_the_script_imports_is_found_and_flag_guarded_moves_are_not_decided(monkeypatch):
    # Schlumberger/joint-vae's layout: main.py builds a Trainer from jointvae/training.py and calls train()
    monkeypatch.chdir(os.path.join(TRAINING, "package_trainer_repo"))
    r = run("main.py", "--input", "8x1x16x16", "--format", "json", "--no-cache")
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)["results"][0]
    assert result["loss"].startswith("the training step of capvae/training.py:Trainer"), result["loss"]
    assert result["findings"] == [] and result["beta_effective"] == "1"
    undecided = [n for n in result["notes"] if n.startswith("VAE012 did not decide")]
    # the model's `if self.use_cuda: eps = eps.cuda()` is decided as a GPU machine decides it (the flag
    # turned on while the simulated GPU runs: confirm/simswitches.py); the trainer object's, which is
    # no module of the model, is not
    assert [n.split(":")[0:2] for n in undecided] == [["VAE012 did not decide capvae/training.py", "46"]]
    assert all("`if self.use_cuda:`" in n for n in undecided)


def test_a_with_block_whose_file_is_missing_is_skipped_and_named_when_the_step_needs_it(tmp_path, monkeypatch):
    # pickled_folds_loop.py reads a data fold the check does not need; here the
    # model's size comes from a JSON file read the same way, and that one it does need
    source = open(os.path.join(TRAINING, "pickled_folds_loop.py")).read()
    source = source.replace(
        "    vae = VAE()\n", '    with open("config.json") as fh:\n        cfg = json.load(fh)\n    vae = VAE(cfg["latent"])\n'
    )
    (tmp_path / "train.py").write_text("import json\n" + source)
    monkeypatch.chdir(tmp_path)
    r = run("train.py", "--input", "8x3x32x32")
    assert r.exit_code == 2, r.output
    text = " ".join(r.output.split())
    assert "train.py:32 sets 'cfg' in the training setup" in text and "No such file or directory: 'config.json'" in text
    # config.json is nowhere under the folder: bring it (a file elsewhere below: run from there)
    assert "config.json is a configuration file, nowhere under this folder" in text and "at module level" not in text
    (tmp_path / "config.json").write_text('{"latent": 16}')
    r = run("train.py", "--input", "8x3x32x32")
    assert r.exit_code == 0 and "no findings" in r.output, r.output


def _paired_loaders_weighted_by(tmp_path, monkeypatch, alpha: str):
    """paired_loaders.py with its classifier weight set by ``alpha = EXPR`` at line 27, checked."""
    source = open(os.path.join(TRAINING, "paired_loaders.py")).read()
    source = source.replace("vae = VAE()\n", f"vae = VAE()\nalpha = {alpha}\n")
    source = source.replace("0.1 * classification", "alpha * classification")
    (tmp_path / "train.py").write_text(source)
    monkeypatch.chdir(tmp_path)
    r = run("train.py", "--input", "16x784", "--input", "16:int64:10", "--input", "16x784")
    return r, " ".join(r.output.split())


def test_a_failed_top_level_line_of_a_script_is_named_as_the_setups(tmp_path, monkeypatch):
    r, text = _paired_loaders_weighted_by(tmp_path, monkeypatch, 'float(open("alpha.txt").read())')
    assert r.exit_code == 2 and "train.py:27 sets 'alpha' in the training setup" in text, r.output
    assert "No such file or directory: 'alpha.txt'" in text and "at module level" not in text


def test_a_setup_line_that_uses_an_undefined_name_is_said_as_the_codes_own_error(tmp_path, monkeypatch):
    # AliLotfi92/Disentangling_by_Factorising calls normal_init, which it never defines: the advice
    # was to give the script's arguments, which sets no name
    r, text = _paired_loaders_weighted_by(tmp_path, monkeypatch, "weight_for(vae)")
    assert r.exit_code == 2 and "train.py:27 sets 'alpha' in the training setup" in text, r.output
    assert "NameError: name 'weight_for' is not defined" in text and "uses a name it does not define" in text
    assert "--script-args" not in text


def test_a_function_its_script_cannot_reach_is_called_directly_and_the_script_says_why_not():
    # bhpfelix/Variational-Autoencoder-PyTorch: the main guard resumes from the last checkpoint,
    # max() of none fails, and train() was never reached, even when named as the target
    path = os.path.join(TRAINING, "resume_from_checkpoint.py")
    r = run(path + ":train", "--input", "16x784", "--format", "json", "--no-cache")
    result = json.loads(r.output)["results"][0]
    assert r.exit_code == 0 and result["error"] is None, r.output
    assert any(
        "the script's own way to train did not reach it" in n
        and "max() arg is an empty sequence" in n
        and "vaelint called train itself" in n
        for n in result["notes"]
    )
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
    (repo / "capvae" / "training.py").write_text(
        training.replace(
            "    def train(self, data_loader, epochs=10):",
            "    def __call__(self, data_loader, epochs=10):\n        return self.train(data_loader, epochs)\n\n"
            "    def train(self, data_loader, epochs=10):",
        )
    )
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
    wrapped = "\n".join(
        [
            "import json",
            body[0],
            "def main():",
            '    settings = json.load(open("settings.json"))',
            *["    " + line.replace("latent=8", 'latent=settings["latent"]') for line in lines],
            "",
            "if __name__ == '__main__':",
            "    main()",
            "",
        ]
    )
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
    # the script moves its batch and never its models: on a GPU the encoder's first layer fails (VAE012 at
    # the line that builds it); before, the simulated GPU took the models to be there and said nothing
    assert r.exit_code == 1 and result["error"] is None, r.output
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE012", 15)], result["findings"]  # the encoder's
    assert "is never moved to the device" in result["findings"][0]["message"]
    assert any("the step's .cuda() at" in n and "moved.py:24" in n for n in result["notes"]), result["notes"]
    # with the models moved too where they are built, the step is clean
    both = source.replace("        stats = encoder(x)\n", "        x = x.cuda()\n        stats = encoder(x)\n")
    both = both.replace("decoder = nn.Sequential(", "encoder.cuda()\ndecoder = nn.Sequential(").replace(
        "\nparams", "\ndecoder.cuda()\nparams", 1
    )
    (tmp_path / "moved.py").write_text(both)
    r = run(str(tmp_path / "moved.py"), "--input", "16x784", "--format", "json", "--no-cache")
    result = json.loads(r.output)["results"][0]
    assert r.exit_code == 0 and result["error"] is None and not result["findings"], r.output
    # on VAE012's simulated GPU the step's move is real: a CPU tensor it moves meets nothing there,
    # the same tensor left unmoved does
    import torch

    from vaelint.confirm.simdevice import simulate
    from vaelint.frontends.training.runtime import Runtime

    runtime = Runtime(str(tmp_path / "moved.py"))

    class Step(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 4)

        def forward(self, x):
            return (self.lin(x) * self.place(torch.ones(3, 4))).sum()

    class Moved(Step):
        def place(self, noise):
            return runtime.moved(noise, "cuda", 1)

    class Left(Step):  # not under a flag: a flag a GPU machine sets is turned on (confirm/simswitches.py)
        def place(self, noise):
            return noise

    assert simulate(Moved(), (torch.rand(3, 4),)).meetings == []
    assert [m.op for m in simulate(Left(), (torch.rand(3, 4),)).meetings] == ["mul"]
    assert runtime.moved(torch.ones(2), "to", 1, "cuda", torch.float64).dtype == torch.float64  # the dtype still applies


def test_a_method_of_the_model_that_trains_first_is_passed_over_and_said():
    # GuHongyang/VaDE-pytorch: vade.module.pre_train(DL, pre_epoch=50) before the loop. Run as
    # written, its backward (a plain autoencoder loss: no random sample) is passed over without
    # gradients, its loop ends when it comes round, and the VAE's loop is the step; nothing trains
    r = run(os.path.join(TRAINING, "pretrain_method.py"), "--input", "16x784", "--format", "json", "--no-cache")
    result = json.loads(r.output)["results"][0]
    assert r.exit_code == 0 and result["error"] is None, r.output
    assert result["loss"].endswith("(lines 42-47, backward at line 47)"), result["loss"]
    assert any(
        n.startswith("running it passed over the backward at fixtures/training/pretrain_method.py:31 before the VAE's")
        and "no optimiser stepped" in n
        for n in result["notes"]
    ), result["notes"]
    assert "the optimizer stepped" not in r.output


def test_a_method_of_the_model_that_trains_is_left_out_of_the_step_read_from_the_code(monkeypatch):
    # the same, the step read from the code (the run could not get there): the method is not
    # called (the sandbox would stop its loader and optimiser), and the report says so
    monkeypatch.setenv("VAELINT_TRAINING", "read")
    r = run(os.path.join(TRAINING, "pretrain_method.py"), "--input", "16x784", "--format", "json", "--no-cache")
    result = json.loads(r.output)["results"][0]
    assert r.exit_code == 0 and result["error"] is None, r.output
    assert any(
        "model.pre_train(loader, epochs=50) was not run: VAE.pre_train (its backward at" in n
        and "trains, and vaelint never trains on the user's behalf" in n
        for n in result["notes"]
    ), result["notes"]
    assert "pre-training ran" not in r.output


def test_a_missing_file_at_a_path_the_code_builds_is_not_blamed_on_the_folder_vaelint_runs_in(tmp_path, monkeypatch):
    # miguelgondu/minimal_vae_on_selfies builds Path(__file__).parent.parent.parent / "data": one folder
    # off; the file is under the folder the check runs in, so running from elsewhere would not help
    from vaelint.frontends.placeholders import missing_file_fix

    (tmp_path / "data" / "processed").mkdir(parents=True)
    (tmp_path / "data" / "processed" / "tokens.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    built = str(tmp_path / "src" / "data" / "processed" / "tokens.json")
    said = missing_file_fix(f"FileNotFoundError: [Errno 2] No such file or directory: '{built}'")
    assert "The code builds that path itself" in said and "data/processed/tokens.json" in said, said
    assert "relative to the folder vaelint runs in" not in said
    # the near miss: a relative path the code reads from the folder it runs in
    said = missing_file_fix("FileNotFoundError: [Errno 2] No such file or directory: 'processed/tokens.json'")
    assert "relative to the folder vaelint runs in" in said
    # a folder written with its trailing slash (os.listdir('faces/img/')) is named by its own name, which
    # is nowhere here: --input is said, not the folder vaelint runs in (its name had been read as '')
    said = missing_file_fix("FileNotFoundError: [Errno 2] No such file or directory: 'faces/img/'")
    assert "img is nowhere under this folder" in said and "--input" in said, said


def test_the_failed_setup_lines_are_each_said_once():
    # kabbas570's script: the same failure reached from two lines was listed twice, each with its
    # place written twice ("vae_mnist_train.py:37: vae_mnist_train.py:37: the step uses ...")
    from vaelint.frontends.training.nomodel import said_once

    failed = [
        "train.py:196: train.py:37: the step uses what get_dataloaders_mnist(...) returns.",
        "train.py:37: train.py:37: the step uses what get_dataloaders_mnist(...) returns",
        "nb.ipynb:12: nb.ipynb:cell 3:2: the step uses what load() returns",
        "train.py:295: NameError: name 'path_to_save' is not defined",
    ]
    assert said_once(failed) == [
        "train.py:37: the step uses what get_dataloaders_mnist(...) returns",
        "nb.ipynb:cell 3:2: the step uses what load() returns",
        "train.py:295: NameError: name 'path_to_save' is not defined",
    ]
