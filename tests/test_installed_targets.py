"""A model from an installed package, named by its import path (``pkg.module:Class``, as
uvicorn and pytest take them) or by the path of its file: imported whole, in its package
(relative imports and a lazy ``__getattr__`` package work), with findings at its lines."""

import json
import os
import subprocess
import sys

from conftest import FIXTURES

LAZY_INIT = '''
import importlib


def __getattr__(name):  # a lazy package, as diffusers' is: the class is imported on first use
    if name == "VAE":
        return importlib.import_module(".models.vae", __name__).VAE
    raise AttributeError(name)
'''


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
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
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
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 2 and "no module 'no_such_pkg_xyz.models' is installed here" in out.stderr
