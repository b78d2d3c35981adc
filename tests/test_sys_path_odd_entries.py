"""Code that puts something other than a folder's name on the import path (``sys.path.append(dir)``
with ``dir`` the builtin, a notebook's Colab folder variable read before it is set): vaelint's own
readers of sys.path pass it over, as Python's import system does. Before, the check ended in an
internal error (``TypeError: stat: path should be string ... not builtin_function_or_method``) where
the missing module was the cause to say. In the whole suite's order it still did: vaelint reads
installed packages' metadata after such code ran (its rule plugins' entry points, once their cache
is cleared; a package's requirements; torch's version), and ``importlib.metadata`` stats every
entry of sys.path: those reads see the folder names only."""

from __future__ import annotations

import sys

import pytest
from json_cli import check_json

SCRIPT = """import sys

import torch

sys.path.append(dir)
from spe_absent_vae_module import VAE


def train(vae, loader, optimizer):
    for x, y in loader:
        loss = vae(x).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


vae = VAE()
train(vae, [(torch.rand(8, 784), torch.zeros(8))], torch.optim.Adam(vae.parameters()))
"""


def test_a_builtin_on_the_import_path_is_no_internal_error(tmp_path):
    path = tmp_path / "spe_train.py"
    path.write_text(SCRIPT)
    r, result = check_json(str(path))
    assert r.exit_code == 2, r.output
    assert result["error"]["kind"] != "internal", result["error"]
    assert "Traceback" not in r.output and "This is a bug in vaelint" not in r.output, r.output


@pytest.fixture
def builtin_on_the_path():
    sys.path.append(dir)
    try:
        yield
    finally:
        sys.path.remove(dir)


def test_vaelints_metadata_reads_pass_over_what_is_no_folder(builtin_on_the_path):
    from vaelint import plugins
    from vaelint.cache import store
    from vaelint.frontends.standinbase import _installed_version
    from vaelint.frontends.training.livelightning import _installed
    from vaelint.frontends.training.torchlibs import _declared_requirements

    plugins.registered.cache_clear()
    store._torch_version.cache_clear()
    try:
        assert any(p.name == "vaelint" for p in plugins.rule_packs())
        assert store._torch_version() != "unknown"
        assert _installed_version("torch") != "0.0.0"
        assert _installed("torch") and not _installed("spe-no-such-package")
        assert _declared_requirements("torch") is not None
    finally:
        plugins.registered.cache_clear()
        store._torch_version.cache_clear()
    assert sys.path[-1] is dir  # put back as it was


def test_the_import_path_is_put_back_with_its_odd_entry_where_it_was(builtin_on_the_path):
    from vaelint.source.frames import readable_import_path

    before = list(sys.path)
    with readable_import_path():
        assert dir not in sys.path and len(sys.path) == len(before) - 1
    assert sys.path == before
