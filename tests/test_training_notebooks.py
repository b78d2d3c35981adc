"""Notebooks as training code: their code cells run in order, IPython's magics and shell lines
(and Colab's magics written without their %) passed over, and what the report says of them read
at nb.ipynb:cell N:M."""

import json
import os

import pytest
from training_cli import TRAINING, run


def test_a_notebook_is_reported_by_cell_in_every_format():
    path = os.path.join(TRAINING, "vae_cells.ipynb")
    text = run(path, "--input", "8x3x64x64", "-q")
    assert "vae_cells.ipynb:cell 5:12:15: VAE012" in text.output
    assert "vae_cells.ipynb:cell 7:3:" in text.output
    data = json.loads(run(path, "--input", "8x3x64x64", "--format", "json").output)["results"][0]
    assert {(f["code"], f["cell"], f["line"]) for f in data["findings"]} == {("VAE012", 5, 12), ("VAE002", 7, 3)}
    assert data["loss"] == "the training step of " + os.path.relpath(path) + " (cell 9, lines 2-6, backward at line 6)"


def _notebook(path, cells: list[str]):
    """A notebook of code cells written at ``path``."""
    nb = {"cells": [{"cell_type": "code", "source": c} for c in cells], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))
    return path


def test_a_percent_sign_that_continues_a_line_is_python_not_a_magic(tmp_path):
    # rasbt's notebooks: print('Epoch: %03d | Cost: %.4f'\n      %(epoch, cost)) inside the training loop;
    # read as a magic, the line became `pass` and the notebook did not parse
    from vaelint.source.cells import notebook_text

    cells = [
        "%load_ext watermark\n!pip list\nimport torch",
        "epoch, cost = 1, 2.0\nprint('Epoch: %03d | Cost: %.4f'\n      %(epoch, cost))\nwidth = 10 \\\n    % 3\n"
        "doc = '''\n%s is kept\n'''\n%time width",
    ]
    path = _notebook(tmp_path / "nb.ipynb", cells)
    lines = notebook_text(str(path)).text.splitlines()
    assert lines[:3] == ["pass", "pass", "import torch"]  # the magic and the shell line
    assert "      %(epoch, cost))" in lines and "    % 3" in lines and "%s is kept" in lines
    assert lines[-2] == "pass"  # %time on its own line is still a magic
    namespace: dict = {}
    exec(compile("\n".join(lines[3:]), "nb", "exec"), namespace)  # noqa: S102 - the test's own cells
    assert namespace["width"] == 1


def test_magics_written_without_their_percent_are_magics_unless_the_notebook_binds_the_name(tmp_path):
    # Colab notebooks: `cd VAE_MNIST` did not parse, `cd /content/drive/MyDrive/x` parsed as a
    # division (bala1802/ERA_Session18); IPython's automagic runs them as %cd. A name the
    # notebook binds (`env = make_env()`) is Python
    from vaelint.source.cells import notebook_text

    cells = ["cd VAE_MNIST\npip install torchsummary", "cd /content/drive/MyDrive/Session-18\nls -la data", "env = 3\nenv\ncat = [1]"]
    lines = notebook_text(str(_notebook(tmp_path / "nb.ipynb", cells))).text.splitlines()
    assert lines[:6] == ["pass", "pass", "", "pass", "pass", ""], lines
    assert lines[6:9] == ["env = 3", "env", "cat = [1]"], lines


def test_ipythons_last_output_names_alone_on_a_line_show_a_value_and_bind_nothing(tmp_path):
    # a stray `_` opening a cell (IPython's last output) stopped the run with "NameError: name '_'
    # is not defined" (aisven/beta-vae-oxford-flowers); `_` as Python's throwaway name is kept
    from vaelint.source.cells import notebook_text

    cells = ["_  # the last output\n__\n_12", "for x, _ in pairs:\n    _ = x\nprint(_)"]
    lines = notebook_text(str(_notebook(tmp_path / "nb.ipynb", cells))).text.splitlines()
    assert lines[:4] == ["pass", "pass", "pass", ""], lines
    assert lines[4:7] == ["for x, _ in pairs:", "    _ = x", "print(_)"], lines


def test_a_notebook_s_notes_and_stops_name_the_cell(tmp_path):
    # what running a notebook did not do, and where it stopped, is said at "cell N:M" as its
    # findings are, not at a line of the notebook's joined Python (intro_dgm: ":383" beside "cell 1:6")
    cells = [
        "import os\nimport torch\nimport torch.nn as nn",
        "class VAE(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.enc = nn.Linear(8, 4)\n        self.dec = nn.Linear(2, 8)\n\n"
        "    def forward(self, x):\n        mu, logvar = self.enc(x).chunk(2, dim=1)\n"
        "        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)\n        return self.dec(z), mu, logvar",
        "model = VAE()\nos.mkdir('results')\nloader = torch.utils.data.DataLoader(torch.randn(32, 8), batch_size=4)",
        "for x in loader:\n    recon, mu, logvar = model(x)\n    kl = -0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp(), 1)\n"
        "    loss = (((recon - x) ** 2).sum(1) + kl).mean()\n    loss.backward()",
    ]
    path = _notebook(tmp_path / "nb.ipynb", cells)
    r = run(str(path), "--no-cache")
    said = " ".join(r.output.split())
    assert r.exit_code == 0 and f"os.mkdir('results') at {path}:cell 3:2 was not performed" in said, r.output
    assert not (tmp_path / "results").exists()
    cells[2] = "from vaelint_no_such_package import make_data\nmodel = VAE()\nloader = make_data()"
    _notebook(path, cells)
    r = run(str(path), "--no-cache")
    said = " ".join(r.output.split())
    assert r.exit_code == 2 and f"running it stopped at {path}:cell 3:3: {path}:cell 3:1 imports" in said, r.output


@pytest.mark.parametrize("line", ["!python main.py --epochs 3", "%run main.py --epochs 3", "%run -i 'main.py' --epochs 3"])
def test_a_notebook_that_only_runs_a_script_names_the_command_that_checks_it(tmp_path, monkeypatch, line):
    # its one code cell starts the training script (vaelint never starts programs): exit 2 saying
    # what to check, not "name the model as PATH.py:NAME"; the near miss defines a model of its own
    (tmp_path / "main.py").write_text("print('training')\n")
    _notebook(tmp_path / "run.ipynb", ["import os", f"# Example\n{line}"])
    monkeypatch.chdir(tmp_path)
    r = run("run.ipynb", "--input", "8x784")
    text = " ".join(r.output.split())
    assert r.exit_code == 2 and "runs main.py by a shell line (cell 2:" in text, r.output
    assert "Check the script: vaelint check main.py --script-args '--epochs 3'" in text, r.output
    _notebook(tmp_path / "run.ipynb", ["import torch.nn as nn\nclass VAE(nn.Module):\n    pass", line])
    r = run("run.ipynb", "--input", "8x784")
    assert r.exit_code == 2 and "name the model" in " ".join(r.output.split()), r.output


def test_a_notebook_whose_cells_run_as_training_code_and_reach_no_step_names_the_script_a_cell_runs(tmp_path, monkeypatch):
    # cells that make a folder, then `%run -i 'train.py'` (the notebook trains through the script):
    # its cells ran and reached no backward; the script is what to check (helper-found:
    # arnemonsees/mnist-vae). Before: "running it took no batch ... and reached no backward"
    (tmp_path / "train.py").write_text("print('training')\n")
    _notebook(tmp_path / "colab.ipynb", ["import os\nos.makedirs('data', exist_ok=True)", "%run -i 'train.py'"])
    monkeypatch.chdir(tmp_path)
    r = run("colab.ipynb", "--no-cache")
    text = " ".join(r.output.split())
    assert r.exit_code == 2 and "Check the script: vaelint check train.py" in text, r.output


SHAPES_LIB = """
import torch
import torch.nn as nn


class PointVAE(nn.Module):
    def __init__(self, n=64, z=4):
        super().__init__()
        self.enc, self.dec = nn.Linear(n * 3, 2 * z), nn.Linear(z, n * 3)

    def forward(self, x):
        mu, logvar = self.enc(x.flatten(1)).chunk(2, 1)
        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)).view_as(x), mu, logvar
"""


def test_a_notebooks_module_in_a_folder_of_the_repository_is_said_to_be_there(tmp_path, monkeypatch):
    # a Colab notebook that fetched its modules at the top (lib/ in the repository here): the message led
    # with "the training step calls no nn.Module that vaelint can see" and said to install 'shapes_lib'
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "shapes_lib.py").write_text(SHAPES_LIB)
    cells = [
        "import torch\nfrom shapes_lib import PointVAE",
        "model = PointVAE()\nopt = torch.optim.Adam(model.parameters())\nx = torch.randn(8, 64, 3)",
        "for _ in range(3):\n    recon, mu, logvar = model(x)\n"
        "    loss = ((recon - x) ** 2).sum() / 8 - 0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp()) / 8\n"
        "    opt.zero_grad()\n    loss.backward()\n    opt.step()",
    ]
    _notebook(tmp_path / "points.ipynb", cells)
    monkeypatch.chdir(tmp_path)
    r = run("points.ipynb", "--format", "json")
    message = json.loads(r.output)["results"][0]["error"]["message"]
    assert "'shapes_lib' is not installed, but lib/shapes_lib.py is here" in message, message
    assert "run vaelint with PYTHONPATH=lib" in message, message
    monkeypatch.setenv("PYTHONPATH", "lib")
    monkeypatch.syspath_prepend(str(tmp_path / "lib"))
    r = run("points.ipynb", "--format", "json")
    assert json.loads(r.output)["results"][0]["error"] is None, r.output


def test_a_missing_import_the_run_stopped_at_leads_where_reading_found_no_model():
    # what reading the code says ("calls no nn.Module that vaelint can see") came after the cause
    from vaelint.errors import VaelintError
    from vaelint.frontends.training.ways import worth_telling

    stop = (
        "nb.ipynb:cell 2:5: nb.ipynb:cell 1:2 imports 'PointVAE' from 'shapes_lib', which could not be imported "
        "(ModuleNotFoundError: No module named 'shapes_lib'), and the code checked uses it."
    )
    run_error = VaelintError("load", f"nb.ipynb: no training step to check: running it stopped at {stop}")
    read_error = VaelintError("load", "nb.ipynb:cell 3:7: the training step calls no nn.Module that vaelint can see; check the model.")
    told = worth_telling(read_error, run_error).message
    assert told.startswith("running it as written stopped at nb.ipynb:cell 2:5: nb.ipynb:cell 1:2 imports 'PointVAE'"), told
    assert told.endswith("Reading the code then found no model it could see: " + read_error.message), told


def test_a_colab_notebook_mounting_its_drive_is_said_as_its_data_not_a_package_to_install(tmp_path):
    # `from google.colab import drive; drive.mount(...)`: google.colab exists only on Colab; the report
    # advised installing 'google' (helper-found: hyeju1123/musicVAE-4bar). It stands in; what the notebook
    # reads from the Drive is the data that is not here, and --input checks it
    cells = [
        "from google.colab import drive\ndrive.mount('/content/drive')",
        "import torch\nimport torch.nn as nn",
        "class VAE(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.enc = nn.Linear(8, 4)\n        self.dec = nn.Linear(2, 8)\n\n"
        "    def forward(self, x):\n        mu, logvar = self.enc(x).chunk(2, dim=1)\n"
        "        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)\n        return self.dec(z), mu, logvar",
        "data = torch.load('/content/drive/MyDrive/train.pt')\nloader = torch.utils.data.DataLoader(data, batch_size=4)\nmodel = VAE()",
        "for x in loader:\n    recon, mu, logvar = model(x)\n    kl = -0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp(), 1)\n"
        "    loss = (((recon - x) ** 2).sum(1) + kl).mean()\n    loss.backward()",
    ]
    path = _notebook(tmp_path / "colab.ipynb", cells)
    r = run(str(path), "--no-cache")
    said = " ".join(r.output.split())
    assert r.exit_code == 2 and "google" not in said.split("running it stopped", 1)[-1], r.output
    assert "/content/drive/MyDrive/train.pt" in said and "give the batch with --input" in said, r.output
    r = run(str(path), "--no-cache", "--input", "4x8")
    said = " ".join(r.output.split())
    assert r.exit_code == 0 and "google.colab is Colab's own and not here; it stands in" in said, r.output
