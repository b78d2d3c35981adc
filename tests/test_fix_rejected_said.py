"""``--diff`` and ``--fix`` say why an edit the report offered was not kept: each one tried and
dropped is a line naming the finding, the edit and what checking it again found (before, a
plain "would fix 0 findings in 0 files", with no word on the edits the report had offered). VAE006
offers no view edit where what reads the folded rows cannot be resized with it (a layer sized
by an attribute, a loss comparing them, a view whose other sizes are not a sample's values)."""

import os
import shutil

from conftest import FIXTURES
from typer.testing import CliRunner

from vaelint.cli import app


def test_a_dropped_edit_is_said_with_what_checking_it_again_found(tmp_path, monkeypatch):
    shutil.copy(os.path.join(FIXTURES, "buggy", "conv_view_minus_one.py"), tmp_path / "model.py")
    monkeypatch.chdir(tmp_path)
    before = (tmp_path / "model.py").read_text()
    r = CliRunner().invoke(app, ["check", "model.py:VAE", "--input", "4x1x32x32", "--diff", "--unsafe-fixes", "--no-cache"])
    said = r.output
    edit = "the edit `keep the batch dim: h.view(h.size(0), -1), and the 2 Linear layers after it take 512 features` was tried"
    assert f"not fixed: VAE006 at model.py:24: {edit} and checked again" in said, said
    assert "would fix 0 findings in 0 files" in said
    assert (tmp_path / "model.py").read_text() == before  # --diff writes nothing


def test_a_view_edit_is_not_offered_where_the_layer_after_it_cannot_be_resized():
    from helpers import check

    result = check(os.path.join(FIXTURES, "buggy", "mlp_view_half_width.py"), "VAE", ["6x784"])
    views = [f for f in result.findings if f.code == "VAE006"]
    assert len(views) == 2 and all(f.autofix is None for f in views), [f.autofix for f in views]
