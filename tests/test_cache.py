"""The result cache: a re-check of an unchanged target is answered from disk,
before torch is imported; a change to anything it read, its options or the
versions that ran it checks it again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from typer.testing import CliRunner

from vaelint.cli import app

runner = CliRunner()

MODEL = textwrap.dedent("""
    import json
    import os

    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    from layers import make_encoder

    CONFIG = json.load(open(os.path.join(os.path.dirname(__file__), "config.json")))


    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.latent = CONFIG["latent"]
            self.enc = make_encoder(20, 2 * self.latent)
            self.dec = nn.Linear(self.latent, 20)

        def forward(self, x):
            mu, logvar = self.enc(x).chunk(2, dim=1)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            return torch.sigmoid(self.dec(z)), mu, logvar


    def loss_function(recon, x, mu, logvar):
        rec = F.binary_cross_entropy(recon, x, reduction="sum")
        return rec + 0.5 * -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
""")


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.delenv("VAELINT_NO_CACHE", raising=False)
    monkeypatch.delenv("VAELINT_CACHE_DIR", raising=False)
    (tmp_path / "vae.py").write_text(MODEL)
    (tmp_path / "layers.py").write_text("import torch.nn as nn\n\n\ndef make_encoder(n, m):\n    return nn.Linear(n, m)\n")
    (tmp_path / "config.json").write_text('{"latent": 4}')
    (tmp_path / "notes.txt").write_text("not read by the model\n")
    (tmp_path / "pyproject.toml").write_text("[tool.vaelint]\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def check(*extra, fmt="json"):
    r = runner.invoke(app, ["check", "vae.py:VAE", "--input", "6x20", "--no-dynamic", "--format", fmt, *extra])
    assert "Traceback" not in r.output, r.output
    return r


def result(*extra) -> dict:
    return json.loads(check(*extra).stdout)["results"][0]


def test_an_unchanged_target_is_answered_from_the_cache(repo):
    first = result()
    assert first["cached"] is False and [f["code"] for f in first["findings"]] == ["VAE004"]
    again = result()
    assert again["cached"] is True
    assert {k: v for k, v in again.items() if k != "cached"} == {k: v for k, v in first.items() if k != "cached"}
    text = check(fmt="text").stdout
    assert "(from the cache: nothing it reads has changed)" in text and text.rstrip().endswith("; from the cache")
    assert (repo / ".vaelint_cache" / ".gitignore").read_text().endswith("*\n")
    assert (repo / ".vaelint_cache" / "CACHEDIR.TAG").exists()


@pytest.mark.parametrize("changed", ["vae.py", "layers.py", "config.json"])
def test_a_change_to_anything_the_check_read_checks_again(repo, changed):
    result()
    assert result()["cached"] is True
    path = repo / changed
    path.write_text(path.read_text() + ("\n" if changed != "config.json" else " "))
    assert result()["cached"] is False
    assert result()["cached"] is True


def test_a_file_the_check_did_not_read_changes_nothing(repo):
    result()
    (repo / "notes.txt").write_text("changed\n")
    (repo / "new.py").write_text("x = 1\n")
    assert result()["cached"] is True


def test_options_and_versions_are_part_of_the_key(repo, monkeypatch):
    import vaelint.cache.store as cache

    result()
    assert result("--beta", "0.5")["cached"] is False  # another question
    assert result("--beta", "0.5")["cached"] is True
    assert result("--select", "VAE004")["cached"] is False
    assert "from the cache" in check(fmt="github").stderr + check(fmt="text").stdout  # the format is how the answer is written
    monkeypatch.setattr(cache, "_torch_version", lambda: "9.9.9")
    assert result()["cached"] is False


def _config_read_as(repo, code: str) -> None:
    """The model's CONFIG read by ``code`` instead of its one ``json.load``."""
    (repo / "vae.py").write_text(MODEL.replace('CONFIG = json.load(open(os.path.join(os.path.dirname(__file__), "config.json")))', code))


def _cached_until_written(path, text: str) -> None:
    """The second check is served from the cache; once ``path`` is written, one more is made."""
    assert result()["cached"] is False
    assert result()["cached"] is True
    path.write_text(text)
    assert result()["cached"] is False
    assert result()["cached"] is True


def test_a_data_file_put_in_place_after_a_check_that_missed_it_checks_again(repo):
    # the model reads an optional file when it is there: a check that found it missing holds
    # only while it is still missing (the error that told the user to add it is never served again)
    _config_read_as(
        repo,
        (
            "HERE = os.path.dirname(__file__)\n"
            'try:\n    CONFIG = json.load(open(os.path.join(HERE, "local.json")))\n'
            'except FileNotFoundError:\n    CONFIG = json.load(open(os.path.join(HERE, "config.json")))'
        ),
    )
    _cached_until_written(repo / "local.json", '{"latent": 4}')


def test_a_package_installed_after_a_check_that_lacked_it_checks_again(repo):
    # exit 2 "install the package": once it is installed, the check runs again, not the error
    (repo / "vae.py").write_text(MODEL.replace("from layers import make_encoder", "from vaelint_absent_extra_xyz import make_encoder"))
    first = result()
    assert first["cached"] is False and "vaelint_absent_extra_xyz" in first["error"]["message"]
    assert result()["cached"] is True
    (repo / "vaelint_absent_extra_xyz").mkdir()
    (repo / "vaelint_absent_extra_xyz" / "__init__.py").write_text((repo / "layers.py").read_text())
    again = result()
    assert again["cached"] is False and again["error"] is None and [f["code"] for f in again["findings"]] == ["VAE004"]


def test_suppressions_apply_to_a_cached_result(repo):
    assert [f["code"] for f in result()["findings"]] == ["VAE004"]
    (repo / "pyproject.toml").write_text('[tool.vaelint]\n[tool.vaelint.per-file-ignores]\n"vae.py" = ["VAE004"]\n')
    again = result()
    assert again["cached"] is True and again["findings"] == [] and again["suppressed"] == 1


def test_no_cache_neither_reads_nor_writes(repo, monkeypatch):
    result("--no-cache")
    assert not (repo / ".vaelint_cache").exists()
    monkeypatch.setenv("VAELINT_NO_CACHE", "1")
    result()
    assert not (repo / ".vaelint_cache").exists()


def test_cache_dir_and_clean(repo, monkeypatch, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("cache") / "vc"
    monkeypatch.setenv("VAELINT_CACHE_DIR", str(elsewhere))
    result()
    assert result()["cached"] is True and elsewhere.is_dir() and not (repo / ".vaelint_cache").exists()
    r = runner.invoke(app, ["clean"])
    assert r.exit_code == 0 and f"removed {elsewhere}" in r.stderr and not elsewhere.exists()
    assert "no cache at" in runner.invoke(app, ["clean"]).stderr


def test_what_the_machine_decides_is_not_stored(tmp_path):
    from vaelint.cache.store import Cache
    from vaelint.diagnostics import TargetResult
    from vaelint.errors import VaelintError
    from vaelint.settings.options import Options

    model = tmp_path / "m.py"
    model.write_text("x = 1\n")
    store = Cache(str(tmp_path / "c"))
    timed_out = TargetResult("m.py:VAE", error=VaelintError("timeout", "too slow"), dependencies=[str(model)])
    assert store.put("m.py:VAE", Options([]), timed_out) is False
    wrong_input = TargetResult("m.py:VAE", error=VaelintError("input", "bad --input"), dependencies=[str(model)])
    assert store.put("m.py:VAE", Options([]), wrong_input) is True
    assert store.get("m.py:VAE", Options([])).error.kind == "input"
    edited = Options([], sources={str(model): "x = 2\n"})  # a --fix round: the text is not on disk
    assert store.put("m.py:VAE", edited, wrong_input) is False


def test_a_cached_answer_imports_no_torch(repo):
    driver = (
        "import sys\nfrom vaelint.cli import app\n"
        "try:\n    app(['check', 'vae.py:VAE', '--input', '6x20', '--no-dynamic', '-q'])\nexcept SystemExit:\n    pass\n"
        "print('torch imported:', 'torch' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "VAELINT_NO_CACHE"}
    runs = [subprocess.run([sys.executable, "-c", driver], cwd=repo, env=env, capture_output=True, text=True) for _ in range(2)]
    assert "torch imported: True" in runs[0].stdout  # the first check runs the model
    assert "torch imported: False" in runs[1].stdout and "from the cache" in runs[1].stdout


def test_a_sibling_models_change_leaves_the_others_cached_until_it_calls_their_loss(repo):
    # vaelint scans the folder for a call of the loss; a sibling that cannot call it
    # (it does not name the loss's module) is no dependency
    sibling = repo / "other.py"
    sibling.write_text(MODEL.replace('self.latent = CONFIG["latent"]', "self.latent = 3"))
    result()
    assert result()["cached"] is True
    sibling.write_text(sibling.read_text() + "# edited\n")
    assert result()["cached"] is True
    # now it imports the loss from vae.py: where it calls it may bind its parameters
    sibling.write_text(sibling.read_text() + "from vae import loss_function  # noqa\n")
    assert result()["cached"] is False


def test_a_check_that_met_a_refused_download_is_not_stored_and_an_editable_install_is_seen(tmp_path, monkeypatch):
    """A check whose run tried a download (refused: the LPIPS/VQGAN pattern fetches weights when
    ``os.path.exists`` says they are absent) hangs on what the download would fetch: it is not
    stored, so putting the file in place checks again. A package installed with ``pip install -e``
    (found by its finder on sys.meta_path, not on sys.path) ends "still missing"."""
    import importlib.abc
    import importlib.machinery
    import sys

    from vaelint.cache.reads import still_missing
    from vaelint.cache.store import Cache
    from vaelint.diagnostics import TargetResult
    from vaelint.errors import VaelintError
    from vaelint.settings.options import Options

    model = tmp_path / "m.py"
    model.write_text("x = 1\n")
    store = Cache(str(tmp_path / "c"))
    refused = TargetResult(
        "m.py:VAE",
        error=VaelintError(
            "load",
            "the training code tried to download a file (urlretrieve) at m.py:9; vaelint never downloads or connects while it checks.",
        ),
        dependencies=[str(model)],
    )
    assert store.put("m.py:VAE", Options([]), refused) is False
    other = TargetResult("m.py:VAE", error=VaelintError("load", "m.py:3: NameError: name 'nz' is not defined"), dependencies=[str(model)])
    assert store.put("m.py:VAE", Options([]), other) is True  # the near miss: an error of the files themselves

    class Editable(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            return importlib.machinery.ModuleSpec(name, None) if name == "vaelint_editable_xyz" else None

    assert still_missing([], ["vaelint_editable_xyz"], [])
    monkeypatch.setattr(sys, "meta_path", [Editable(), *sys.meta_path])
    assert not still_missing([], ["vaelint_editable_xyz"], [])


def test_a_file_the_code_only_asked_about_then_put_in_place_checks_again(repo):
    # `if os.path.exists(...)` decided what ran without opening the file: a check made while it was
    # absent holds only while it still is (before: the stale answer was served after it appeared)
    _config_read_as(
        repo,
        (
            "HERE = os.path.dirname(__file__)\n"
            'if os.path.exists(os.path.join(HERE, "big.flag")):\n    CONFIG = {"latent": 6}\n'
            'else:\n    CONFIG = json.load(open(os.path.join(HERE, "config.json")))'
        ),
    )
    _cached_until_written(repo / "big.flag", "")


def test_a_folder_the_code_lists_that_gains_a_file_checks_again(repo):
    # a data set found by a glob (empty when the check ran) is what the folder holds, not a file read
    (repo / "shards").mkdir()
    _config_read_as(
        repo,
        ('import glob\nHERE = os.path.dirname(__file__)\nCONFIG = {"latent": 4 + len(glob.glob(os.path.join(HERE, "shards", "*.npy")))}'),
    )
    assert result()["cached"] is False
    (repo / "notes.txt").write_text("a folder the code did not list\n")
    assert result()["cached"] is True
    (repo / "shards" / "__pycache__").mkdir()  # what appears by itself is no change
    assert result()["cached"] is True
    (repo / "shards" / "part0.npy").write_text("")
    assert result()["cached"] is False
    assert result()["cached"] is True


def test_a_reinstalled_package_the_model_imports_checks_again(repo, monkeypatch):
    from vaelint.source import frames

    site = repo / "env" / "site-packages"
    (site / "vaelint_dep_xyz").mkdir(parents=True)
    init = site / "vaelint_dep_xyz" / "__init__.py"
    init.write_text((repo / "layers.py").read_text())
    monkeypatch.syspath_prepend(str(site))
    frames._roots.cache_clear(), frames.is_user_file.cache_clear()  # the folder is a library's, as pip puts it
    (repo / "vae.py").write_text(MODEL.replace("from layers import make_encoder", "from vaelint_dep_xyz import make_encoder"))
    assert result()["cached"] is False
    assert result()["cached"] is True
    stat = init.stat()
    os.utime(init, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # pip install -U: new files
    assert result()["cached"] is False
    frames._roots.cache_clear(), frames.is_user_file.cache_clear()


def test_another_environment_or_pythonpath_is_another_key(repo, monkeypatch):
    import sys

    from vaelint.cache.store import key_text
    from vaelint.settings.options import Options

    options = Options([])
    here = key_text("vae.py:VAE", options)
    monkeypatch.setenv("PYTHONPATH", "/somewhere/else")
    assert key_text("vae.py:VAE", options) != here
    monkeypatch.delenv("PYTHONPATH")
    monkeypatch.setattr(sys, "prefix", "/another/venv")
    assert key_text("vae.py:VAE", options) != here


def test_a_findings_severity_comes_back_from_the_cache_as_it_went_in():
    # Severity is a str: it was stored as the plain string and came back one, so the text summary of a
    # cached result counted its errors as warnings ("2 findings (2 warnings) ... from the cache"; the
    # fresh check said 2 errors) (helper Y)
    from vaelint.cache.codec import decode, encode
    from vaelint.vocab import Severity

    for severity in Severity:
        back = decode(json.loads(json.dumps(encode([severity, {"k": severity}]))))
        assert back[0] is severity and back[1]["k"] is severity, back
