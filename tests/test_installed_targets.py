"""A model from an installed package, named by its import path (``pkg.module:Class``, as
uvicorn and pytest take them) or by the path of its file: imported whole, in its package
(relative imports and a lazy ``__getattr__`` package work), with findings at its lines."""

import json
import os
import subprocess
import sys

from conftest import FIXTURES

LAZY_INIT = """
import importlib


def __getattr__(name):  # a lazy package, as diffusers' is: the class is imported on first use
    if name == "VAE":
        return importlib.import_module(".models.vae", __name__).VAE
    raise AttributeError(name)
"""


def _site_packages(tmp_path):
    site = tmp_path / "lib" / "site-packages"
    models = site / "mypkg" / "models"
    models.mkdir(parents=True)
    (site / "mypkg" / "__init__.py").write_text(LAZY_INIT)
    (site / "mypkg" / "layers.py").write_text("import torch.nn as nn\n\n\ndef linear(n, m):\n    return nn.Linear(n, m)\n")
    (models / "__init__.py").write_text("")
    buggy = open(os.path.join(FIXTURES, "buggy", "recon_broadcast_mse.py")).read()
    (models / "vae.py").write_text("from ..layers import linear  # noqa: F401 - a relative import to a sibling package\n" + buggy)
    return site


def _check(tmp_path, site, target):
    env = {**os.environ, "PYTHONPATH": str(site), "VAELINT_NO_CACHE": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "vaelint", "check", target, "--input", "8x784", "--format", "json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "Traceback" not in out.stderr, out.stderr
    return out.returncode, json.loads(out.stdout)["results"][0]


def test_an_import_path_target_is_checked_with_findings_at_the_packages_lines(tmp_path):
    site = _site_packages(tmp_path)
    for target in ("mypkg.models.vae:VAE", "mypkg:VAE", f"{site}/mypkg/models/vae.py:VAE"):
        code, res = _check(tmp_path, site, target)
        assert code == 1 and [f["code"] for f in res["findings"]] == ["VAE003"], (target, res)
        (finding,) = res["findings"]
        assert finding["path"].endswith("mypkg/models/vae.py") and finding["line"] == 27, finding


def test_an_import_path_that_names_nothing_installed_is_a_usage_error(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "vaelint", "check", "no_such_pkg_xyz.models:VAE", "--input", "8x784"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2 and "no module 'no_such_pkg_xyz.models' is installed here" in out.stderr


TRAINER_LIB = """
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class TVAE:  # a trainer object of an installed library: the script never says torch
    def __init__(self, epochs=10):
        self.epochs = epochs

    def fit(self, data):
        data = torch.from_numpy(np.asarray(data, dtype="float32"))
        enc, dec = nn.Linear(data.shape[1], 16), nn.Linear(8, data.shape[1])
        opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()))
        for _ in range(self.epochs):
            for (x,) in DataLoader(TensorDataset(data), batch_size=50):
                mu, logvar = enc(x).chunk(2, dim=1)
                z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
                rec = ((dec(z) - x) ** 2).sum() / x.size(0)
                kl = -0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp())
                opt.zero_grad()
                (rec + kl).backward()
                opt.step()
"""

SYNTH = """import numpy as np
from {pkg} import TVAE

data = np.loadtxt("adult.csv", delimiter=",")
model = TVAE(epochs=5)
model.fit(data)
"""


def test_a_script_that_trains_through_an_installed_torch_library_is_checked(tmp_path):
    """A script that never imports torch and calls a torch library's trainer (``TVAE().fit``)
    holds training code: it is run to the library's backward, with the findings at the library's
    lines (before: "no VAE targets", exit 0). The near miss: the same script over a library
    without torch has no VAE target."""
    site = tmp_path / "lib" / "site-packages"
    (site / "tablib").mkdir(parents=True)
    (site / "tablib" / "__init__.py").write_text("from .tvae import TVAE\n")
    (site / "tablib" / "tvae.py").write_text(TRAINER_LIB)
    (site / "plainfit").mkdir()
    (site / "plainfit" / "__init__.py").write_text(
        "class TVAE:\n    def __init__(self, epochs):\n        pass\n\n    def fit(self, data):\n        return data\n"
    )
    (tmp_path / "synth.py").write_text(SYNTH.format(pkg="tablib"))
    (tmp_path / "plain.py").write_text(SYNTH.format(pkg="plainfit"))
    env = {**os.environ, "PYTHONPATH": str(site), "VAELINT_NO_CACHE": "1"}

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "vaelint", "check", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )

    out = run("synth.py", "--input", "32x14", "--format", "json")
    assert out.returncode == 1, out.stdout + out.stderr
    (finding,) = json.loads(out.stdout)["results"][0]["findings"]
    assert finding["code"] == "VAE002" and finding["path"].endswith("tablib/tvae.py") and finding["line"] == 21  # the KL line
    # without --input the run stops at the data file and says what to give: exit 2, not green
    out = run("synth.py")
    assert out.returncode == 2 and "adult.csv" in out.stdout and "--input" in out.stdout
    out = run("plain.py")
    assert out.returncode == 0 and "no VAE targets" in out.stderr


def test_a_library_is_a_torch_one_by_its_declared_requirements_or_its_files(tmp_path, monkeypatch):
    from vaelint.frontends.training import torchlibs

    assert not torchlibs._trains_with_torch("rich")  # installed, requires no torch
    assert not torchlibs._trains_with_torch("no_such_pkg_xyz")
    if torchlibs._declared_requirements("torchmetrics") is not None:
        assert torchlibs._trains_with_torch("torchmetrics")  # installed, requires torch
    (tmp_path / "folderlib").mkdir()
    (tmp_path / "folderlib" / "__init__.py").write_text("")
    (tmp_path / "folderlib" / "deep.py").write_text("x = 1\nfrom torch import nn\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert torchlibs._trains_with_torch("folderlib")  # no metadata: read from its files
