"""A VAE written in NumPy arrays (a course's assignment: its sample drawn with NumPy, its KL
computed by hand, no torch imported), named for checking: said as code vaelint does not check,
exit 2, as a TensorFlow file is. Before, "no VAE targets" and exit 0, or a stop at its argument
parser with nothing said of NumPy (helper-found). A NumPy script with no KL (data preparation)
stays a file with no VAE target."""

from __future__ import annotations

from json_cli import runner

from vaelint.cli import app

VAE = """import numpy as np

rng = np.random.default_rng(0)
D, Z = 64, 4
W_enc = rng.normal(0, 0.1, (2 * Z, D))
W_dec = rng.normal(0, 0.1, (D, Z))


def step(x):
    h = W_enc @ x
    mean, logvar = h[:Z], h[Z:]
    z = mean + np.exp(0.5 * logvar) * rng.standard_normal(mean.shape)
    p = 1.0 / (1.0 + np.exp(-(W_dec @ z)))
    rec = -np.sum(x * np.log(p + 1e-8) + (1 - x) * np.log(1 - p + 1e-8))
    kl = -0.5 * np.sum(1 + logvar - mean**2 - np.exp(logvar))
    return rec + kl, p, z


def train(x, lr=1e-2):
    global W_dec
    for _ in range(3):
        loss, p, z = step(x)
        W_dec -= lr * np.outer(p - x, z)
"""

PREP = """import numpy as np

rng = np.random.default_rng(0)
X = rng.normal(0, 1, (100, 8))
np.save("features.npy", (X - X.mean(0)) / X.std(0))
"""


def test_a_numpy_vae_is_said_as_not_pytorch(tmp_path, monkeypatch):
    (tmp_path / "vae_numpy.py").write_text(VAE)
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["check", "vae_numpy.py", "--no-cache"])
    assert r.exit_code == 2, r.output
    assert "vae_numpy.py is written for NumPy (a VAE's KL at line 15" in r.output and "vaelint checks PyTorch code" in r.output, r.output


def test_a_numpy_kl_helper_of_a_pytorch_project_is_no_numpy_vae(tmp_path, monkeypatch):
    """A NumPy helper (a KL metric, a sample drawn) that trains nothing, named or imported by a PyTorch
    driver, is no NumPy VAE (reviewer: the driver was refused as 'trains through a NumPy file')."""
    (tmp_path / "metrics.py").write_text(VAE.split("def train")[0])
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["check", "metrics.py", "--no-cache"])
    assert "NumPy" not in r.output, r.output


def test_a_numpy_script_with_no_vae_is_no_target(tmp_path, monkeypatch):
    (tmp_path / "prep.py").write_text(PREP)
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["check", "prep.py", "--no-cache"])
    assert "NumPy" not in r.output and "no VAE targets" in r.output, r.output
