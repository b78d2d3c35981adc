"""A line that fails for want of what a missing package would have done is said with that package:
python-dotenv's load_dotenv() sets the environment a later os.environ[...] reads (World-Models
projects), and the KeyError alone advised "make the value a plain constant" (helper-found,
Sveali41/World_Models_Grid_World)."""

import importlib.util

import pytest
from json_cli import check_json as _json
from training_cli import RUNNING


@pytest.mark.skipif(importlib.util.find_spec("dotenv") is not None, reason="python-dotenv is installed here")
def test_a_setup_line_that_fails_after_a_missing_import_names_that_import(monkeypatch):
    monkeypatch.chdir(RUNNING)
    r, result = _json("env_from_a_missing_package.py")
    assert r.exit_code == 2, r.output
    message = result["error"]["message"]
    assert "Before it, env_from_a_missing_package.py:8 imports 'dotenv', which is not installed here" in message, message


def test_a_failing_line_with_every_import_before_it_installed_says_nothing_of_imports(tmp_path):
    from vaelint.frontends.installadvice import missing_before

    script = tmp_path / "settings.py"
    script.write_text("import os\nimport torch\nfrom os import path\nROOT = os.environ['NOT_SET_ANYWHERE']\n")
    assert missing_before(str(script), 4) == ""
    script.write_text("import os\nimport vaelint_no_such_package_here as env\nenv.load()\nROOT = os.environ['NOT_SET_ANYWHERE']\n")
    assert "settings.py:2 imports 'vaelint_no_such_package_here'" in missing_before(str(script), 4)
    assert missing_before(str(script), 2) == ""  # only the imports before the line


def test_a_missing_import_nothing_reads_before_the_failing_line_is_not_its_cause(tmp_path):
    # tensorboardX's SummaryWriter, imported at the top for logging later, did nothing a vocabulary
    # lookup missed: the failure is the code's own (helper-found: memray/Sentence-VAE)
    from vaelint.frontends.installadvice import missing_before

    script = tmp_path / "train.py"
    script.write_text(
        "import os\nfrom vaelint_no_such_package_here import SummaryWriter\nROOT = os.environ['NOT_SET']\nwriter = SummaryWriter(ROOT)\n"
    )
    assert missing_before(str(script), 3) == ""
    assert "train.py:2 imports 'vaelint_no_such_package_here'" in missing_before(str(script), 4)  # read at the line


def test_a_data_folder_read_at_module_level_of_an_imported_file_is_said_as_missing_data(tmp_path, monkeypatch):
    # dataset_all = Snippets("./traindata") at the top of dataset.py, imported by the script (ms0k/voxel-vae):
    # the advice was "make the value a plain constant or compute it inside the model's __init__"
    from vaelint.frontends.placeholders import _fix_for

    monkeypatch.chdir(tmp_path)
    said = _fix_for("FileNotFoundError: [Errno 2] No such file or directory: './traindata'", "model")
    assert "traindata is nowhere under this folder" in said and "--input" in said, said
    assert "plain constant" in _fix_for("KeyError: 'ROOT'", "model")


def test_a_class_check_against_a_name_whose_import_failed_says_the_import(tmp_path, monkeypatch):
    # the project's own package imports a module it does not have (flows/flow.py: from flows.planar
    # import Planar, the file living elsewhere); the code then asks issubclass(kind, Planar): the
    # message was Python's "issubclass() arg 2 must be a class" at the user's line (helper Z)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "__init__.py").write_text("")
    (tmp_path / "flows" / "flow.py").write_text(
        "import torch.nn as nn\nfrom flows.planar import Planar\n"
        "def make(kind):\n    return nn.Identity() if issubclass(kind, Planar) else nn.Linear(2, 2)\n"
    )
    (tmp_path / "train.py").write_text(
        "import torch\nimport torch.nn as nn\nfrom flows.flow import make\n"
        "class VAE(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.enc, self.dec, self.flow = nn.Linear(2, 4), nn.Linear(2, 2), make(nn.Linear)\n"
        "    def forward(self, x):\n"
        "        mu, logvar = self.enc(x).chunk(2, dim=1)\n"
        "        z = self.flow(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar))\n"
        "        return self.dec(z), mu, logvar\n"
        "model = VAE()\nopt = torch.optim.Adam(model.parameters())\n"
        "for x in torch.utils.data.DataLoader(torch.randn(64, 2), batch_size=16):\n"
        "    recon, mu, logvar = model(x)\n"
        "    loss = ((recon - x) ** 2).sum(1).mean() - 0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp(), 1).mean()\n"
        "    opt.zero_grad()\n    loss.backward()\n    opt.step()\n"
    )
    r, result = _json("train.py")
    assert r.exit_code == 2, r.output
    message = result["error"]["message"]
    assert "flows/flow.py:2 imports 'Planar' from 'flows.planar'" in message, message
    assert "issubclass() arg 2" not in message, message


def test_a_missing_packages_version_read_says_the_package(tmp_path, monkeypatch):
    # assert somepkg.__version__.startswith("1.") on a package not installed: its use, said as such
    # (was "AttributeError: __version__.")
    (tmp_path / "train.py").write_text(
        "import torch\nfrom torch import nn\nimport vaelint_no_such_package as ppl\n\n\n"
        "class VAE(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.enc = nn.Linear(6, 4)\n"
        "        self.dec = nn.Linear(2, 6)\n\n    def forward(self, x):\n        mu, logvar = self.enc(x).chunk(2, dim=1)\n"
        "        return self.dec(mu + torch.randn_like(mu) * logvar.exp()), mu, logvar\n\n\n"
        "if __name__ == '__main__':\n    assert ppl.__version__.startswith('1.')\n    model = VAE()\n"
        "    opt = torch.optim.Adam(model.parameters())\n    for x in torch.utils.data.DataLoader(torch.rand(8, 6), batch_size=4):\n"
        "        recon, mu, logvar = model(x)\n        loss = ((recon - x) ** 2).sum() - 0.5 * (1 + logvar - mu**2 - logvar.exp()).sum()\n"
        "        opt.zero_grad()\n        loss.backward()\n        opt.step()\n"
    )
    monkeypatch.chdir(tmp_path)
    r, result = _json("train.py")
    assert r.exit_code == 2, r.output
    message = result["error"]["message"]
    assert "imports 'ppl' from 'vaelint_no_such_package'" in message and "No module named 'vaelint_no_such_package'" in message, message
    assert "AttributeError: __version__" not in message, message
