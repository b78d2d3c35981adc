"""Training code whose step is found by reading it (vaelint/frontends/training/slicer.py,
region.py), where running it as written stops first: enumerate wherever the loop holds it, a
model wrapped for parallel training taken as the model, an argument parser's groups kept."""

import pytest
from training_cli import run


@pytest.mark.parametrize(
    "loop, batch",
    [
        # enumerate held in a variable, inside a progress wrapper: the index is no item of the batch
        (["it = progress(enumerate(loader), total=len(loader))", "for i, (x, y) in it:"], ["x", "y"]),
        (["it = enumerate(loader)", "for i, (x, y) in it:"], ["x", "y"]),
        (["for i, (x, y) in progress(enumerate(loader)):"], ["x", "y"]),
        # set in either branch of an if (a progress bar unless a tracker logs): deepakdhull80/vqvae-pytorch
        (
            [
                "if True:",
                "    it = progress(enumerate(loader), total=len(loader))",
                "else:",
                "    it = enumerate(loader)",
                "for i, (x, y) in it:",
            ],
            ["x", "y"],
        ),
        # the near miss: a loader held in a variable with no enumerate: both names are the batch's
        (["it = progress(loader)", "for x, y in it:"], ["x", "y"]),
    ],
)
def test_read_code_finds_enumerate_wherever_the_loop_holds_it(tmp_path, monkeypatch, loop, batch):
    import json as _jsonlib

    monkeypatch.setenv("VAELINT_TRAINING", "read")  # the step read from the code, not run
    body = [
        "import torch",
        "from vae_common import VAE, elbo",
        "def progress(xs, total=None):",
        "    return xs",
        "model = VAE()",
        "opt = torch.optim.Adam(model.parameters())",
        "loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.rand(64, 784), torch.zeros(64)), batch_size=16)",
        *loop,
        "    recon, mu, logvar = model(x)",
        "    loss = elbo(recon, x, mu, logvar)",
        "    opt.zero_grad()",
        "    loss.backward()",
        "    opt.step()",
    ]
    from training_cli import write_script

    write_script(tmp_path, *body)
    monkeypatch.chdir(tmp_path)
    r = run("train.py", "--input", "16x784", "--input", "16", "--format", "json", "--no-cache")
    (result,) = _jsonlib.loads(r.stdout)["results"]
    assert result["error"] is None, r.output
    assert [row["name"] for row in result["flow"] if row["stage"] == "input"][:1] == batch[:1], result["flow"]


@pytest.mark.parametrize("wrap", ["torch.nn.DataParallel(VAE())", "torch.nn.parallel.DistributedDataParallel(VAE())", "VAE()"])
def test_read_code_takes_a_parallel_wrapped_model_as_the_model(tmp_path, monkeypatch, wrap):
    # the step read from the code (not run) builds its setup as one process too: the wrapper
    # is the model itself. Its forward was not traced through: "no reparameterisation" and a
    # false VAE011 "module (VAE) gets no gradient"
    import json as _jsonlib

    from training_cli import write_script

    monkeypatch.setenv("VAELINT_TRAINING", "read")
    write_script(
        tmp_path,
        "import torch",
        "from vae_common import VAE, elbo",
        f"model = {wrap}",
        "opt = torch.optim.Adam(model.parameters())",
        "loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.rand(64, 784)), batch_size=16)",
        "for epoch in range(3):",
        "    for (x,) in loader:",
        "        recon, mu, logvar = model(x)",
        "        loss = elbo(recon, x, mu, logvar)",
        "        opt.zero_grad()",
        "        loss.backward()",
        "        opt.step()",
    )
    monkeypatch.chdir(tmp_path)
    r = run("train.py", "--format", "json", "--no-cache")
    (result,) = _jsonlib.loads(r.stdout)["results"]
    assert result["error"] is None and result["findings"] == [], r.output
    assert [row["stage"] for row in result["flow"]].count("reparam") == 2, result["flow"]


@pytest.mark.parametrize("part", ['parser.add_argument_group("Model")', "parser.add_mutually_exclusive_group()"])
def test_read_code_keeps_the_arguments_a_parsers_group_adds(tmp_path, monkeypatch, part):
    # group = parser.add_argument_group(...); group.add_argument("--z", ...): before, the read code
    # left the group's arguments out and the parser refused --z ("unrecognized arguments",
    # nadavbh12/VQ-VAE's main)
    import json as _jsonlib

    from training_cli import write_script

    monkeypatch.setenv("VAELINT_TRAINING", "read")
    write_script(
        tmp_path,
        "import argparse, torch",
        "from vae_common import VAE, elbo",
        "def main():",
        "    parser = argparse.ArgumentParser()",
        f"    group = {part}",
        '    group.add_argument("--z", type=int, default=16)',
        "    args = parser.parse_args()",
        "    model = VAE(z_dim=args.z)",
        "    opt = torch.optim.Adam(model.parameters())",
        '    data = torch.load("data.pt")',
        "    for x in data.split(64):",
        "        recon, mu, logvar = model(x)",
        "        loss = elbo(recon, x, mu, logvar)",
        "        opt.zero_grad()",
        "        loss.backward()",
        "        opt.step()",
        "main()",
    )
    monkeypatch.chdir(tmp_path)
    r = run("train.py", "--input", "64x784", "--script-args", "--z 4", "--format", "json", "--no-cache")
    (result,) = _jsonlib.loads(r.stdout)["results"]
    assert result["error"] is None, r.output
    mu = next(row for row in result["flow"] if row["name"] == "mu")
    assert mu["sizes"].get("Z") == 4, mu  # the group's --z reached the model


@pytest.mark.parametrize(
    "imported, called", [("from pkg.steps import train as run_training", "run_training"), ("from pkg import *", "train")]
)
def test_read_code_follows_a_step_imported_under_another_name_or_by_star(tmp_path, monkeypatch, imported, called):
    # the step's function imported as another name, or with every name of its package: the way to
    # it from the script was not found ("no training step") where running the code stopped before
    # it (le-big-mac/Semi-Supervised_Models)
    import json as _jsonlib
    import shutil

    from training_cli import RUNNING

    monkeypatch.setenv("VAELINT_TRAINING", "read")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("from .steps import train\n")
    (tmp_path / "pkg" / "steps.py").write_text(
        "import torch\n"
        "from vae_common import VAE, elbo\n\n\n"
        "def train(data):\n"
        "    model = VAE()\n"
        "    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data), batch_size=16)\n"
        "    for (x,) in loader:\n"
        "        recon, mu, logvar = model(x)\n"
        "        elbo(recon, x, mu, logvar).backward()\n"
    )
    shutil.copy(f"{RUNNING}/vae_common.py", tmp_path)
    (tmp_path / "main.py").write_text(f"import torch\n{imported}\n\n{called}(torch.rand(64, 784))\n")
    monkeypatch.chdir(tmp_path)
    r = run("main.py", "--format", "json", "--no-cache")
    (result,) = _jsonlib.loads(r.stdout)["results"]
    assert result["error"] is None, r.output
    assert result["loss"].startswith("the training step of pkg/steps.py:train"), result["loss"]


def test_a_step_in_try_except_continue_is_read_in_a_loop_of_one_pass(monkeypatch):
    # `except Exception: print(e); continue` around the step: the read step's function kept the
    # `continue` outside any loop, "importing its package None failed (SyntaxError: 'continue'
    # not properly in loop)" on a file that parses (hello-maker/JTVAE_Python3)
    import json as _jsonlib

    from training_cli import TRAINING

    monkeypatch.chdir(TRAINING)
    monkeypatch.setenv("VAELINT_TRAINING", "read")
    r = run("step_skips_a_failed_batch.py", "--input", "32x784", "--format", "json", "--no-cache")
    (result,) = _jsonlib.loads(r.stdout)["results"]
    assert result["error"] is None, r.output
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE002", 43)]
    monkeypatch.delenv("VAELINT_TRAINING")
    r = run("step_skips_a_failed_batch.py", "--no-cache")
    assert r.exit_code == 2 and "SyntaxError" not in r.output and "package None" not in r.output, r.output
    said = " ".join(r.output.split())
    assert "the data loader's data set Molecules gave no batch here (ValueError: Can't kekulize mol" in said, said


def test_a_schedule_read_from_the_code_reads_the_arguments_of_its_function(monkeypatch):
    # kl_weight = 0.05 * epoch / args.epochs if epoch > args.epochs / 2 else 0 inside train(args):
    # args is a variable of the frame that reached the step, not of the step itself
    from json_cli import check_json
    from training_cli import RUNNING

    monkeypatch.setenv("VAELINT_TRAINING", "read")
    monkeypatch.chdir(RUNNING)
    r, result = check_json("anneal_in_a_train_function_of_args.py")
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE004", 28)], r.output
    assert any("checked at epoch = 20 (kl_weight = 0.05)" in n for n in result["notes"]), result["notes"]
    assert result["loss"].startswith("the training step of anneal_in_a_train_function_of_args.py:train"), result["loss"]


def test_code_read_for_its_step_that_names_no_device_runs_on_the_cpu(tmp_path, monkeypatch):
    # labels made on the CPU in the step (a critic's), in code that names no device: VAE012 does not
    # apply, as for a run of it; the near miss moves the model to the GPU where there is one
    import shutil

    from json_cli import check_json
    from training_cli import RUNNING

    monkeypatch.setenv("VAELINT_TRAINING", "read")
    for name in ("labels_made_in_a_step_that_names_no_device.py", "vae_common.py"):
        shutil.copy(f"{RUNNING}/{name}", tmp_path / name)
    monkeypatch.chdir(tmp_path)
    r, result = check_json("labels_made_in_a_step_that_names_no_device.py", "--input", "64x784")
    assert (
        result["findings"] == []
        and {"code": "VAE012", "reason": "the training code never places a tensor on a device: it runs on the CPU as written"}
        in result["skipped"]
    ), r.output
    text = (tmp_path / "labels_made_in_a_step_that_names_no_device.py").read_text()
    (tmp_path / "on_a_gpu.py").write_text(text.replace("model = VAE()", "model = VAE().to('cuda' if torch.cuda.is_available() else 'cpu')"))
    r, result = check_json("on_a_gpu.py", "--input", "64x784")
    assert [f["code"] for f in result["findings"]] == ["VAE012"], r.output
