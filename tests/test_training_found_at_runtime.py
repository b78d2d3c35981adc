"""Training code whose parts are found only when it runs: a model module imported by the name
an option gives, a loader wrapper whose generator yields the batches, a data set that asserts
its folder, a logger imported where it is used, and code that needs CUDA."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
from json_cli import check_json
from training_cli import RUNNING, run
from training_cli import write_script as _script

from vaelint.frontends.training.repofiles import neighbours
from vaelint.frontends.training.scriptness import is_training_file

APP = os.path.join(RUNNING, "model_by_name")


@pytest.mark.parametrize(
    "how",
    [
        '"models." + name + "_model"',
        'f"models.{name}_model"',
        '"models.%s_model" % name',
        "name",  # a bare name: any module of the repository's packages
    ],
)
def test_a_module_imported_by_a_name_made_at_run_time_is_read_for_the_step(tmp_path, monkeypatch, how):
    shutil.copytree(APP, tmp_path / "app")
    init = tmp_path / "app" / "models" / "__init__.py"
    text = init.read_text()
    assert '"models." + name + "_model"' in text
    init.write_text(text.replace('"models." + name + "_model"', how))
    monkeypatch.chdir(tmp_path / "app")
    files = {os.path.relpath(f.path, tmp_path / "app") for f in neighbours(str(tmp_path / "app" / "train.py"))}
    assert os.path.join("models", "vae_model.py") in files
    assert is_training_file(str(tmp_path / "app" / "train.py"))


def test_without_the_run_time_import_the_script_trains_nothing_vaelint_can_see(tmp_path, monkeypatch):
    # the near miss: the same application with a models package that never imports vae_model
    shutil.copytree(APP, tmp_path / "app")
    (tmp_path / "app" / "models" / "__init__.py").write_text("def create_model(opt):\n    return None\n")
    monkeypatch.chdir(tmp_path / "app")
    assert not is_training_file(str(tmp_path / "app" / "train.py"))


def test_the_application_is_checked_through_its_loader_wrapper_and_dict_batches(monkeypatch):
    monkeypatch.chdir(APP)
    r = run("train.py", "--format", "json", "--no-cache")
    (res,) = json.loads(r.stdout)["results"]
    assert r.exit_code == 1, r.stdout
    assert [(f["code"], os.path.basename(f["path"]), f["line"]) for f in res["findings"]] == [("VAE002", "vae_model.py", 34)]
    # the batch the code made: the image under its key; the file names are no input
    assert res["notes"][0] == "input batch.A=16x784: inferred from the batch the code made (batch.A=16x784)"


def test_a_data_set_asserting_its_folder_stands_in_and_a_late_logger_import_is_a_no_op(monkeypatch):
    monkeypatch.chdir(RUNNING)
    r = run("dataset_asserts_its_folder.py", "--input", "32x784", "--no-cache")
    assert r.exit_code == 1, r.output
    assert (
        "the data set Faces (dataset_asserts_its_folder.py:20) could not be built here (AssertionError: datasets/faces is not a valid directory)"
        in r.output
    )
    assert "visdom is not installed; it stands in as a no-op" in r.output
    assert "(args.kl_weight = 0.1 at dataset_asserts_its_folder.py:54)" in r.output


def test_an_assert_that_is_not_about_files_stops_the_run_as_written(tmp_path, monkeypatch):
    # the near miss: a data set whose constructor asserts its arguments does not stand in (the
    # step is then found by reading the code, which says why the run did not get there)
    _script(
        tmp_path,
        *textwrap.dedent("""
        import torch
        from torch.utils.data import DataLoader, Dataset
        from vae_common import VAE, elbo

        class Rows(Dataset):
            def __init__(self, size):
                assert size % 64 == 0, "size must be a multiple of the batch"
                self.size = size

            def __len__(self):
                return self.size

            def __getitem__(self, i):
                return torch.rand(784)

        loader = DataLoader(Rows(100), batch_size=64)
        model = VAE()
        for x in loader:
            recon, mu, logvar = model(x)
            elbo(recon, x, mu, logvar).backward()
    """).splitlines(),
    )
    monkeypatch.chdir(tmp_path)
    r = run("train.py", "--input", "64x784", "--no-cache")
    assert "stands in" not in r.output
    assert (
        "running the code as written did not reach its step (running it stopped at train.py:8: AssertionError: size must be a multiple of the batch)"
        in r.output
    )


def test_code_that_asserts_cuda_and_moves_to_a_device_ordinal_runs_on_the_cpu(tmp_path, monkeypatch):
    _script(
        tmp_path,
        *textwrap.dedent("""
        import torch
        from torch.utils.data import DataLoader, TensorDataset
        from vae_common import VAE, elbo

        def init_net(net, gpu_ids=(0,)):
            if len(gpu_ids) > 0:
                assert torch.cuda.is_available()
                net.to(gpu_ids[0])
            return net

        model = init_net(VAE())
        loader = DataLoader(TensorDataset(torch.rand(64, 784)), batch_size=16)
        for (x,) in loader:
            recon, mu, logvar = model(x)
            elbo(recon, x, mu, logvar).backward()
    """).splitlines(),
    )
    monkeypatch.chdir(tmp_path)
    r = run("train.py", "--no-cache")
    # the assert is let past as a GPU machine would, and net.to(0) (a CUDA ordinal) keeps the
    # model on the CPU: the step is checked (before: 'the code needs CUDA', exit 2)
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())
    assert "the code's check at train.py:8 stops it without CUDA: vaelint let it past" in said
    assert "VAE.to('cuda:0') stayed on the CPU" in said


def test_a_named_function_that_returns_nothing_is_run_as_training_code_not_built_as_a_model():
    """``cli/main.py:main`` of a package's command line (argparse subcommands, ``args.func(args)``,
    the loop two modules away) returns nothing, so it builds no model: it is run to its step.
    A function that returns what it builds stays a model factory (the near miss)."""
    import ast

    from vaelint.frontends.training import _calls_without_returning

    def body(text):
        return ast.parse(text).body[0].body

    assert _calls_without_returning(body("def main():\n    args = parse()\n    args.func(args)\n"))
    assert not _calls_without_returning(body("def build(latent=8):\n    model = VAE(latent)\n    return model\n"))
    assert not _calls_without_returning(body("def main():\n    def inner():\n        return 1\n    return inner()\n"))
    assert _calls_without_returning(body("def main():\n    def make():\n        return VAE()\n    train(make())\n    return None\n"))
    assert not _calls_without_returning(body("def main():\n    pass\n"))  # calls nothing: nothing to run


def test_a_top_level_if_that_calls_the_files_own_training_function_makes_a_script():
    """``if weights in os.listdir(d): load() else: train(model)`` at the top of a file: a script.
    The near miss: a model file's optional import (``try: import x except ImportError:
    warnings.warn(...)``) calls no function of its own and stays a library."""
    from vaelint.frontends.training import is_script
    from vaelint.frontends.training.sites import parse_file

    def script(text, tmp):
        tmp.write_text(text)
        return is_script(parse_file(str(tmp)))

    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = __import__("pathlib").Path(d) / "m.py"
        assert script("def train(m):\n    pass\n\nif 'w.pt' in files:\n    load()\nelse:\n    train(model)\n", path)
        assert not script("try:\n    import einops\nexcept ImportError:\n    warnings.warn('no einops')\n\nclass VAE:\n    pass\n", path)
        assert not script("def train(m):\n    pass\n\nif CUDA:\n    device = 'cuda'\n", path)


DRIVER = os.path.join(RUNNING, "src_layout_driver")


@pytest.mark.parametrize(
    "adds",
    [
        'sys.path.insert(0, os.path.join(HERE, "..", "src"))',
        'sys.path.append(str(Path(__file__).resolve().parents[1] / "src"))',
        'sys.path.insert(0, f"{HERE}/../src")',
        "site.addsitedir(SRC)",
    ],
)
def test_a_thin_drivers_training_function_on_a_path_it_adds_is_training_code(tmp_path, monkeypatch, adds):
    """The class of `sys.path.insert(0, <a path computed from __file__>)` then `from pkg import learn`:
    the backward is in a file neither beside the driver nor under the current folder (before: exit 0,
    "no VAE targets")."""
    shutil.copytree(DRIVER, tmp_path / "repo")
    driver = tmp_path / "repo" / "tools" / "train_driver.py"
    text = driver.read_text()
    line = 'sys.path.insert(0, os.path.join(HERE, "..", "src"))'
    assert line in text
    head = "import site\nfrom pathlib import Path\n" + 'SRC = os.path.join(HERE, "..", "src")\n'
    driver.write_text(text.replace(line, head + adds))
    monkeypatch.chdir(driver.parent)
    files = {os.path.relpath(f.path, tmp_path / "repo") for f in neighbours(str(driver))}
    assert os.path.join("src", "vaetrain", "loop.py") in files
    assert is_training_file(str(driver))


def test_a_path_the_driver_computes_at_run_time_only_is_not_guessed(tmp_path, monkeypatch):
    shutil.copytree(DRIVER, tmp_path / "repo")
    driver = tmp_path / "repo" / "tools" / "train_driver.py"
    driver.write_text(driver.read_text().replace('os.path.join(HERE, "..", "src")', 'os.environ["SRC_DIR"]'))
    monkeypatch.chdir(driver.parent)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    assert not is_training_file(str(driver))


def test_a_driver_whose_imports_resolve_through_pythonpath_is_checked(tmp_path, monkeypatch):
    """PYTHONPATH=src python tools/plain.py: the same driver without its sys.path line, the
    path given as the user runs it; checked through to the package's loss (VAE002 there)."""
    shutil.copytree(DRIVER, tmp_path / "repo")
    driver = tmp_path / "repo" / "tools" / "train_driver.py"
    driver.write_text(driver.read_text().replace('sys.path.insert(0, os.path.join(HERE, "..", "src"))', ""))
    monkeypatch.chdir(driver.parent)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    assert not is_training_file(str(driver))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "repo" / "src"))
    assert is_training_file(str(driver))
    # PYTHONPATH is read when Python starts: the command as the user runs it
    out = subprocess.run(
        [sys.executable, "-m", "vaelint", "check", str(driver), "--format", "json", "--no-cache"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    data = json.loads(out.stdout)["results"][0]
    assert [(f["code"], os.path.basename(f["path"]), f["line"]) for f in data["findings"]] == [("VAE002", "loop.py", 13)]


def test_a_setup_line_that_runs_the_step_itself_is_said_not_a_crash(monkeypatch):
    """sfujim/BCQ's shape: the script stops as written (env.seed, an API the installed library
    lacks), and reading the code, the setup line that calls train() reaches the step's backward
    itself. vaelint's own signal from that backward used to escape as 'a bug in vaelint'."""
    monkeypatch.chdir(os.path.join(RUNNING, "agent_from_main"))
    result = run("main.py", "--input", "64x784", "--no-cache")
    assert result.exit_code == 2
    assert "runs the training step itself" in result.output and "bug in vaelint" not in result.output
    # the run's own stop, the likelier cause, is said beside the read code's
    assert "Running it as written stopped first, at main.py:37: AttributeError: 'Env' object has no attribute 'seed'" in result.output


@pytest.mark.parametrize("name, line", [("cuda_required_by_a_check.py", 16), ("cuda_required_by_an_assert.py", 14)])
def test_a_check_that_stops_the_code_without_cuda_is_let_past(monkeypatch, name, line):
    """`if not torch.cuda.is_available(): raise ...` / `assert torch.cuda.is_available()`: the code is
    run as written past that check (answered as a GPU machine would), not read around it; its
    device choice elsewhere (`"cuda" if torch.cuda.is_available() else "cpu"`) is the CPU."""
    monkeypatch.chdir(RUNNING)
    result = run(name, "--no-cache")
    assert f"the code's check at {name}:{line} stops it without CUDA: vaelint let it past" in " ".join(result.output.split())
    assert "did not reach its step" not in result.output


@pytest.mark.parametrize("inputs", [(), ("--input", "32x784")])
def test_a_second_batch_the_step_draws_meets_the_first_at_every_batch_size(monkeypatch, inputs):
    """`x_other = next(iter(loader))` in the step, compared row by row with the loop's batch: the
    step's own draw is made at the size the step runs with (the capture runs it at several), so no
    batch size is 'written down' (a false VAE005 on the draw before), and the loop's batch is the
    input, with --input or from the code's own data."""
    monkeypatch.chdir(RUNNING)
    r, result = check_json("second_batch_in_the_step.py", *inputs)
    assert result["error"] is None, r.output
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE001", 22)], r.output
    assert result["flow"][0]["name"] == "x"


def test_a_loader_cycled_for_ever_by_a_model_with_no_sampler_is_checked_at_its_first_backward(monkeypatch):
    # `iterator = iter(cycle(loader))`, `next(iterator)` in a long index loop: no backward reaches a
    # sample, so vaelint stops at its cap of batches; the first backward it passed over is the step
    monkeypatch.chdir(RUNNING)
    r, result = check_json("loader_cycled_for_ever_no_sample.py")
    assert r.exit_code == 0 and result["error"] is None, r.output
    assert result["loss"] == "the training step of loader_cycled_for_ever_no_sample.py (lines 34-37, backward at line 37)"
    assert any("reaches no random sample" in n for n in result["notes"]), result["notes"]


@pytest.mark.parametrize(
    "function, shape",
    [
        ("lambda x: x - 0.5", "3x32x32"),  # shape kept
        ("lambda x: x.mean(0, keepdim=True)", "1x32x32"),  # the function's own shape: grey
    ],
)
def test_a_function_in_a_data_sets_transforms_is_run_for_the_items_shape(tmp_path, monkeypatch, function, shape):
    text = open(os.path.join(RUNNING, "transform_with_a_lambda.py")).read().replace("lambda x: x - 0.5", function)
    text = text.replace("nn.Conv2d(3, 16", f"nn.Conv2d({shape[0]}, 16")
    (tmp_path / "main.py").write_text(text)
    monkeypatch.chdir(tmp_path)
    r, result = check_json("main.py", "--no-dynamic")
    assert any(f"input 32x{shape} 32:int64:10: inferred from datasets.CIFAR10" in n for n in result["notes"]), r.output
    # a function of PIL images before ToTensor runs on a blank PIL image of the shape so far (pillow
    # is in the test extra, as torchvision's users have it): its shape is known too
    (tmp_path / "main.py").write_text(
        text.replace(f"[transforms.ToTensor(), {function}]", "[lambda img: img.convert('RGB'), transforms.ToTensor()]")
    )
    r, result = check_json("main.py", "--no-dynamic")
    said = result["error"]["message"] if result["error"] else " ".join(result["notes"])
    # its 3 channels, inferred (the grey variant's first layer takes 1: the model's own error says so)
    assert ("32x3x32x32" in said or "[32, 3, 32, 32]" in said) and "transformed by function" not in said, r.output
    # the near miss: one that reads what only the real files have (a crop per file, CUB's boxes): still asked for
    (tmp_path / "main.py").write_text(
        text.replace(f"[transforms.ToTensor(), {function}]", "[lambda img: img.crop(BOXES[img.filename]), transforms.ToTensor()]")
    )
    r, result = check_json("main.py", "--no-dynamic")
    assert r.exit_code == 2 and "transformed by function" in result["error"]["message"], r.output


def test_a_script_inside_its_package_imports_its_siblings_as_written(monkeypatch):
    # src/cfgvae/train.py imports cfgvae.config, whose `with open(params.json)` block is script code:
    # run as written, it runs (the latent size 6 comes from the file)
    monkeypatch.chdir(os.path.join(RUNNING, "src_package"))
    r, result = check_json("src/cfgvae/train.py")
    assert r.exit_code == 0 and result["error"] is None, r.output
    assert [row["sizes"] for row in result["flow"] if row["name"] == "mu"] == [{"B": 32, "Z": 6}], result["flow"]


def test_the_code_read_after_a_run_imports_the_users_modules_afresh(monkeypatch):
    """The run builds the model, whose constructor reverses the config module's list in place, and
    stops at a data file it cannot stand in; reading the code builds the model again, and it was
    built from the reversed list: a false "your --input ... does not fit the model's first layer"
    (KTH-FlowAI's Beta-VAE). The user's modules the run imported are imported afresh."""
    monkeypatch.chdir(os.path.join(RUNNING, "config_changed_by_its_model"))
    result = run("train.py", "--input", "16x1x28x28", "--no-cache")
    assert result.exit_code == 0, result.output
    assert "the step was found by reading the code" in result.output
    assert "does not fit" not in result.output and "no findings in 1 target" in result.output


def test_a_setup_line_that_fails_on_the_installed_torch_is_said_first(tmp_path, monkeypatch):
    """The model sized from a first batch fetched with Python 2's ``it.next()``, which DataLoader
    iterators no longer have: the user's own run stops there. Said first, with the model-alone
    command; before, the read code's advice ('name the function ... or give --input') came back
    unchanged however it was followed (helper A, rhychen/Householder-flow-VAE)."""
    (tmp_path / "train.py").write_text(
        "import torch\nimport torch.nn as nn\nfrom torch.utils.data import DataLoader, TensorDataset\n"
        "loader = DataLoader(TensorDataset(torch.rand(64, 12)), batch_size=8)\n"
        "(first,) = iter(loader).next()\n"
        "class VAE(nn.Module):\n"
        "    def __init__(self, d):\n"
        "        super().__init__()\n"
        "        self.enc, self.dec = nn.Linear(d, 8), nn.Linear(4, d)\n"
        "    def forward(self, x):\n"
        "        mu, logvar = self.enc(x).chunk(2, 1)\n"
        "        return self.dec(mu + torch.randn_like(mu) * (0.5 * logvar).exp()), mu, logvar\n"
        "model = VAE(first.shape[1])\n"
        "for (x,) in loader:\n"
        "    recon, mu, logvar = model(x)\n"
        "    loss = ((recon - x) ** 2).sum() - 0.5 * (1 + logvar - mu**2 - logvar.exp()).sum()\n"
        "    loss.backward()\n"
    )
    monkeypatch.chdir(tmp_path)
    for extra in ([], ["--input", "8x12"]):
        result = run("train.py", "--no-cache", *extra)
        text = " ".join(result.output.split())
        assert result.exit_code == 2, result.output
        assert text.count("running the code as written stops at train.py:5: AttributeError") == 1, text
        assert "`vaelint check train.py:VAE --input SHAPE`" in text, text
        assert "give the inputs with --input" not in text, text


def test_installed_packages_on_pythonpath_are_no_project_files(tmp_path):
    """``pip install --target site`` with PYTHONPATH=site: a package there is installed, not the
    project's. Read as the project's, its code's ``.to(device)`` made CPU-only training code
    'place tensors on a device' and VAE012 fire on a simulated GPU (helper B, a VRNN repo
    importing scipy)."""
    site = tmp_path / "site"
    (site / "fakesci").mkdir(parents=True)
    (site / "fakesci" / "__init__.py").write_text("def move(t, device):\n    return t.to(device)\n")
    (site / "fakesci-1.0.dist-info").mkdir()
    (tmp_path / "helpers.py").write_text("X = 1\n")
    (tmp_path / "train.py").write_text("import fakesci\nimport helpers\n")
    code = "from vaelint.frontends.training.repofiles import project_imports; print(project_imports('train.py'))"
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "helpers.py" in out.stdout and "fakesci" not in out.stdout, out.stdout
