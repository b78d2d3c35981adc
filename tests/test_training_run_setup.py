"""What a training run needs from around its step (vaelint/frontends/training/live*.py): the
script's own folders, arguments and names, and, where the code cannot be checked, an exit 2 that
says why and what to give. CUDA on a machine without it is in test_training_run_devices.py, data
that is not here in test_training_run_standins.py, the libraries the code imports in
test_training_run_libraries.py, the weights on its loss terms in test_training_run_weights.py."""

import os
import shutil
import textwrap

import pytest
from json_cli import check_json as _json
from training_cli import RUNNING, run
from training_cli import write_script as _script


def test_a_step_whose_own_loss_fails_says_so_with_its_line(tmp_path, monkeypatch):
    # gae-pytorch on current torch: pos_weight given as a float; the step was reached
    _script(
        tmp_path,
        "import torch",
        "import torch.nn.functional as F",
        "from vae_common import VAE",
        "model = VAE()",
        "x = torch.rand(8, 784)",
        "for epoch in range(3):",
        "    recon, mu, logvar = model(x)",
        "    loss = F.binary_cross_entropy_with_logits(recon, x, pos_weight=2.0)",
        "    loss.backward()",
    )
    monkeypatch.chdir(tmp_path)
    r = run("train.py")
    text = " ".join(r.output.split())
    assert r.exit_code == 2, r.output
    assert "the training step raised at train.py:8, after the model ran" in text and "pos_weight" in text, text


def test_a_step_that_fails_inside_its_model_says_while_the_model_ran(tmp_path, monkeypatch):
    """The near miss of the test above: the error is raised in a module's forward (a layer of
    the model), not in the step's code after it, and the message says which."""
    _script(
        tmp_path,
        "import torch",
        "import torch.nn as nn",
        "from vae_common import VAE",
        "",
        "class Checked(VAE):",
        "    def forward(self, x):",
        "        if x.max() < 2:",
        "            raise ValueError('the data must be in counts')",
        "        return super().forward(x)",
        "",
        "model = Checked()",
        "x = torch.rand(8, 784)",
        "for epoch in range(3):",
        "    recon, mu, logvar = model(x)",
        "    loss = recon.sum() + mu.sum()",
        "    loss.backward()",
    )
    monkeypatch.chdir(tmp_path)
    r = run("train.py")
    text = " ".join(r.output.split())
    assert r.exit_code == 2, r.output
    assert "raised at train.py:8, while its model ran" in text and "counts" in text, text


def test_a_file_that_trains_without_its_data_is_refused_with_what_to_give(tmp_path, monkeypatch):
    _script(
        tmp_path,
        "import numpy as np",
        "import torch",
        "from torch.utils.data import DataLoader, TensorDataset",
        "from vae_common import VAE, elbo",
        "data = torch.from_numpy(np.load('features.npy'))",
        "model = VAE()",
        "for (x,) in DataLoader(TensorDataset(data), batch_size=16):",
        "    recon, mu, logvar = model(x)",
        "    elbo(recon, x, mu, logvar).backward()",
    )
    monkeypatch.chdir(tmp_path)
    r = run("train.py")
    assert r.exit_code == 2 and "no VAE targets" not in r.output, r.output
    assert "features.npy" in r.output, r.output
    ok = run("train.py", "--input", "16x784", "--no-cache")  # the batch given: the loader gives it
    assert ok.exit_code == 0, ok.output


def test_a_script_whose_loop_is_in_a_trainer_library_is_not_passed_over(tmp_path, monkeypatch):
    # pythae's pipeline(train_data=...), a Trainer(...).fit(...): the backward is in the library,
    # so no line of the repository backpropagates; named alone, the file is still checked or refused
    _script(
        tmp_path,
        "import torch",
        "from vae_common import VAE",
        "from trainer_library_not_installed import Trainer",
        "if __name__ == '__main__':",
        "    Trainer(VAE(), lr=1e-3).fit(torch.rand(64, 784))",
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


def test_a_method_that_needs_the_scripts_arguments_is_reached_through_the_script(monkeypatch):
    # solver.py:Solver.train, Solver(args) built by main.py from its argparse defaults
    monkeypatch.chdir(os.path.join(RUNNING, "solver_app"))
    r, result = _json("solver.py:Solver.train", "--input", "64x784")
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE002", 41)], r.output
    assert (
        "Solver.train was reached through main.py, the script that calls it, run as `python main.py` runs it "
        "(--script-args gives its arguments)" in result["notes"]
    )
    # the script's own arguments reach the solver: a latent of 4 instead of 10
    r, result = _json("solver.py:Solver.train", "--input", "64x784", "--script-args", "--z_dim 4")
    assert "beta_eff = 1/Z = 0.25" in result["findings"][0]["message"], r.output
    # without --input the data is what is missing, and the message says so (not the read code's
    # "Solver.__init__() missing 1 required positional argument")
    r, result = _json("solver.py:Solver.train")
    assert r.exit_code == 2 and "No such file or directory: 'data/shapes.pt'" in result["error"]["message"], r.output
    assert "give the batch with --input" in result["error"]["message"]


def test_a_key_read_of_a_batch_made_as_a_tensor_is_the_inputs_error_never_a_finding(tmp_path, monkeypatch):
    # a data set whose items are dicts built key by key: nothing says its keys; the step's
    # batch[key] of the tensor vaelint made is an input error naming --input batch.KEY=SPEC,
    # never VAE013 at the user's line
    _script(
        tmp_path,
        "import torch",
        "from torch.utils.data import DataLoader, Dataset",
        "from vae_common import VAE, elbo",
        "class Items(Dataset):",
        "    def __init__(self):",
        "        self.files = open('list.txt').read().split()",
        "    def __len__(self):",
        "        return len(self.files)",
        "    def __getitem__(self, i):",
        "        item = {}",
        "        item['pixels'] = torch.load(self.files[i])",
        "        return item",
        "KEY = 'pixels'",
        "model = VAE()",
        "for batch in DataLoader(Items(), batch_size=8):",
        "    x = batch[KEY]",
        "    recon, mu, logvar = model(x)",
        "    elbo(recon, x, mu, logvar).backward()",
    )
    monkeypatch.chdir(tmp_path)
    r, result = _json("train.py", "--input", "8x784")
    assert r.exit_code == 2 and not result["findings"], r.output
    message = result["error"]["message"]
    assert "the code reads its batch by a key at train.py:16" in message and "--input batch.KEY=SPEC" in message, message
    r, result = _json("train.py", "--input", "batch.pixels=8x784")
    assert result["error"] is None, r.output


def test_the_runs_own_error_is_told_over_the_read_codes_argument_error(tmp_path, monkeypatch):
    # argparse argument groups: the script's parser takes --latent 4 as it runs; the step then
    # fails in the model (an attribute it never set): that is what the user hears, not
    # "unrecognized arguments: --latent 4" from the code read without the group's lines
    _script(
        tmp_path,
        "import argparse",
        "import torch",
        "from torch.utils.data import DataLoader, TensorDataset",
        "from vae_common import VAE, elbo",
        "class Broken(VAE):",
        "    def forward(self, x):",
        "        recon, mu, logvar = super().forward(x)",
        "        return self.squash(recon), mu, logvar",
        "parser = argparse.ArgumentParser()",
        "group = parser.add_argument_group('model')",
        "group.add_argument('--latent', type=int, default=8)",
        "args = parser.parse_args()",
        "model = Broken(784, args.latent)",
        "for x, in DataLoader(TensorDataset(torch.rand(32, 784)), batch_size=8):",
        "    recon, mu, logvar = model(x)",
        "    elbo(recon, x, mu, logvar).backward()",
    )
    monkeypatch.chdir(tmp_path)
    r, result = _json("train.py", "--script-args", "--latent 4")
    assert r.exit_code == 2, r.output
    assert "'Broken' object has no attribute 'squash'" in result["error"]["message"], result["error"]["message"]


def test_a_distribution_parameter_outside_its_constraint_is_said_never_a_shape_finding(tmp_path, monkeypatch):
    # RelaxedBernoulli(temperature, probs=<the decoder's unbounded output>): torch's argument
    # validation names the tensor's shape, but this is a value error (pvae): exit 2 saying so
    _script(
        tmp_path,
        "import torch",
        "import torch.distributions as D",
        "from vae_common import VAE",
        "class Relaxed(VAE):",
        "    def forward(self, x):",
        "        recon, mu, logvar = super().forward(x)",
        "        return D.RelaxedBernoulli(torch.tensor(1.0), probs=recon * 4 - 2), mu, logvar",
        "model = Relaxed()",
        "x = torch.rand(8, 784).clamp(0.01, 0.99)",
        "for epoch in range(2):",
        "    px, mu, logvar = model(x)",
        "    loss = -px.log_prob(x).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())",
        "    loss.backward()",
    )
    monkeypatch.chdir(tmp_path)
    r, result = _json("train.py")
    assert r.exit_code == 2 and not result["findings"], r.output
    assert "given a parameter outside what it allows" in result["error"]["message"], result["error"]["message"]


def test_lines_that_failed_for_one_reason_are_said_once_with_their_lines():
    from vaelint.frontends.training.execute import _grouped

    why = "main.py:8 imports 'easydict' from 'easydict', which could not be imported"
    failed = [f"main.py:{n}: {why}" for n in (135, 150, 38, 151, 152, 155)] + ["data.py:4: FileNotFoundError: x.npy"]
    assert _grouped(failed) == [f"main.py:38, 135, 150, 151 and 2 more: {why}", "data.py:4: FileNotFoundError: x.npy"]
    # the near miss: the same reason in another file is its own entry
    assert len(_grouped([f"a.py:1: {why}", f"b.py:1: {why}"])) == 2


def test_float64_code_given_float32_inputs_is_told_the_dtype_not_cuda(tmp_path, monkeypatch):
    # torch.DoubleTensor(batch) of a float32 batch: "expected TensorOptions(dtype=double, device=cpu ...)"
    # is a dtype error (it was read as a CUDA move for its "device=")
    _script(
        tmp_path,
        *textwrap.dedent("""
        import torch
        from vae_common import VAE, elbo
        model = VAE().double()
        opt = torch.optim.Adam(model.parameters())
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.rand(32, 784)), batch_size=8)
        for (xb,) in loader:
            x = torch.DoubleTensor(xb)
            recon, mu, logvar = model(x)
            loss = elbo(recon, x, mu, logvar)
            opt.zero_grad(); loss.backward(); opt.step()
    """).splitlines(),
    )
    monkeypatch.chdir(tmp_path)
    r = run("train.py", "--input", "8x784", "--no-cache")
    text = " ".join(r.output.split())
    assert r.exit_code == 2 and "give the dtype with the input, --input 8x784:float64" in text, r.output
    assert "CUDA" not in text
    # the near miss: given as float64, it is checked
    r = run("train.py", "--input", "8x784:float64", "--no-cache")
    assert r.exit_code == 0, r.output


def test_a_helper_folder_the_script_puts_on_sys_path_is_the_users_own(tmp_path, monkeypatch):
    # scripts/train.py appends ../utils/ to sys.path; utils/vaetools.py imports a package that is not
    # installed and never uses it (named unlike the tests' own helpers.py): the helper loads with its definitions, as one beside the script does
    (tmp_path / "utils").mkdir()
    (tmp_path / "scripts").mkdir()
    helpers = "from not_installed_debugger import embed\nfrom vae_common import elbo\n\ndef vae_loss(recon, x, mu, logvar):\n    return elbo(recon, x, mu, logvar)\n"
    (tmp_path / "utils" / "vaetools.py").write_text(helpers)
    _script(
        tmp_path / "scripts",
        *textwrap.dedent("""
        import sys
        sys.path.append("../utils/")
        import torch
        from vaetools import *
        from vae_common import VAE
        model = VAE()
        opt = torch.optim.Adam(model.parameters())
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.rand(64, 784)), batch_size=16)
        for (x,) in loader:
            recon, mu, logvar = model(x)
            loss = vae_loss(recon, x, mu, logvar)
            opt.zero_grad(); loss.backward(); opt.step()
    """).splitlines(),
    )
    shutil.copy(tmp_path / "scripts" / "vae_common.py", tmp_path / "utils")
    monkeypatch.chdir(tmp_path / "scripts")
    r, result = _json("train.py")
    assert result["error"] is None, r.output
    assert any("vaetools.py could not be imported as written" in n for n in result["notes"]), result["notes"]
    # the near miss: the helper uses the missing package: the message names it
    (tmp_path / "utils" / "vaetools.py").write_text(
        helpers.replace("return elbo(recon, x, mu, logvar)", "return embed(elbo(recon, x, mu, logvar))")
    )
    r, result = _json("train.py")
    assert result["error"] is not None and "not_installed_debugger" in result["error"]["message"], r.output


def test_a_ragged_list_batch_is_one_input_said_plainly(monkeypatch):
    # a collate function returning a list of variable-length sequences: before, each was taken for
    # an --input of its own and the check refused with a list of specs the user never gave
    monkeypatch.chdir(RUNNING)
    r = run("ragged_list_batch.py", "--no-cache")
    text = " ".join(r.output.split())
    assert r.exit_code == 2, r.output
    assert "the code's batch is a list of 32 tensors of different shapes (13, 12, 11, ...): a ragged batch" in text, text
    assert "pad_sequence" in text and "disagree" not in text and len(r.output) < 2000, text


def test_specs_that_disagree_are_listed_briefly():
    from vaelint.capture.inputcheck import check_inputs
    from vaelint.errors import VaelintError
    from vaelint.inputs import parse_input_spec

    specs = [parse_input_spec(f"{n}x5") for n in range(2, 40)]
    with pytest.raises(VaelintError) as raised:
        check_inputs(specs)
    assert "2x5: 2 at dim 0, 3x5: 3 at dim 0, 4x5: 4 at dim 0, 5x5: 5 at dim 0, and 34 more)" in raised.value.message


@pytest.mark.parametrize("own_future", [False, True], ids=["annotations-as-written", "script-own-future-import"])
def test_a_scripts_annotations_and_names_are_as_python_runs_it(tmp_path, monkeypatch, own_future):
    # a dataclass config read by tyro/pydantic (typing.get_type_hints) and pickled: vaelint's own
    # `from __future__ import annotations` leaked into the user's compiled lines (annotations
    # became strings: 'List' not defined), and the script was not sys.modules['__main__'], where
    # get_type_hints and pickle look its names up (bkuen/active-rlhf: exit 2)
    _script(
        tmp_path,
        *(["from __future__ import annotations"] if own_future else []),
        "import pickle, typing",
        "from dataclasses import dataclass, field",
        "from typing import List",
        "import torch",
        "from torch.utils.data import DataLoader, TensorDataset",
        "from vae_common import VAE, elbo",
        "@dataclass",
        "class Args:",
        "    hidden: List[int] = field(default_factory=lambda: [32])",
        "    epochs: int = 2",
        "def main():",  # the script's setup fails as a whole where a line of main() fails
        "    hints = typing.get_type_hints(Args)",
        "    assert hints['hidden'] == List[int], hints",
        f"    assert isinstance(Args.__annotations__['epochs'], {'str' if own_future else 'type'})",
        "    assert pickle.loads(pickle.dumps(Args())).epochs == 2",
        "    model = VAE()",
        "    for (x,) in DataLoader(TensorDataset(torch.rand(64, 784)), batch_size=16):",
        "        recon, mu, logvar = model(x)",
        "        elbo(recon, x, mu, logvar).backward()",
        "if __name__ == '__main__':",
        "    main()",
    )
    import json

    from training_cli import check_in

    r = check_in(tmp_path, "train.py", "--format", "json")  # in a process of its own, as a user runs it
    result = json.loads(r.stdout)["results"][0]
    assert result["error"] is None, r.stdout + r.stderr
    assert not any("did not reach its step" in n for n in result["notes"]), result["notes"]


def test_an_iterator_api_torch_dropped_is_the_codes_error_in_torchs_words(tmp_path, monkeypatch):
    # iter(loader).next(), torch 0.4's (1Konny/VQ-VAE): the report named vaelint's own class
    # ("'OneBatch' object has no attribute 'next'"); it is what Python says of torch's iterator
    _script(
        tmp_path,
        "import torch",
        "from vae_common import VAE, elbo",
        "model = VAE()",
        "loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.rand(64, 784)), batch_size=16)",
        "def main():",
        "    for it in range(100):",
        "        (x,) = iter(loader).next()",
        "        recon, mu, logvar = model(x)",
        "        elbo(recon, x, mu, logvar).backward()",
        "main()",
    )
    monkeypatch.chdir(tmp_path)
    r, result = _json("train.py")
    said = result["error"]["message"]
    assert "'_SingleProcessDataLoaderIter' object has no attribute 'next'" in said and "OneBatch" not in said, said
