"""``--diff`` and ``--fix`` say why an edit the report offered was not kept: each one tried and
dropped is a line naming the finding, the edit and what checking it again found (before, a
plain "would fix 0 findings in 0 files", with no word on the edits the report had offered)."""

import os
import shutil

from conftest import FIXTURES
from typer.testing import CliRunner

from vaelint.cli import app


def test_a_dropped_edit_is_said_with_what_checking_it_again_found(tmp_path, monkeypatch):
    shutil.copy(os.path.join(FIXTURES, "buggy", "mlp_view_half_width.py"), tmp_path / "model.py")
    monkeypatch.chdir(tmp_path)
    before = (tmp_path / "model.py").read_text()
    r = CliRunner().invoke(app, ["check", "model.py:VAE", "--input", "6x784", "--diff", "--no-cache"])
    said = r.output
    assert "not fixed: VAE006 at model.py:18: the edit `keep the batch dim: x.view(x.size(0), -1)` was tried" in said, said
    assert "a new VAE013 at line 18" in said and "in_features=392" in said, said
    assert "would fix 0 findings in 0 files" in said
    assert (tmp_path / "model.py").read_text() == before  # --diff writes nothing
