"""A script whose training runs under a module-level switch through a function of its own package
(``if DO_TRAIN: fit(...)``, ``from trainlib.loops import fit``) is a script: its step is checked.
Before, it read as building a model and training none (exit 2 "no training step")."""

import os
import shutil

from training_cli import TRAINING, run

REPO = os.path.join(TRAINING, "guarded_imported_call_repo")


def test_a_switched_call_of_the_projects_training_function_is_the_scripts_step(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    shutil.copytree(REPO, repo, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.chdir(repo)
    r = run("train.py", "--timeout", "120")
    assert r.exit_code == 1, r.output
    text = " ".join(r.output.split())
    assert "VAE002" in text and "loops.py:11" in text, text
    assert "no training step" not in text, text
