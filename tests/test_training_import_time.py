"""A module the script imports that trains a VAE at its top level (a notebook exported as a module,
no main guard): running the program as Python does reaches that backward first. A function named
as the target is then not reached: exit 2 saying which import trained what, and what to change;
the script as the target checks that first step and says whose it is. With the module's training
under a main guard, the named function's own step is checked."""

import os
import shutil

from training_cli import TRAINING, run

REPO = os.path.join(TRAINING, "import_time_training_repo")


def _copy(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    shutil.copytree(REPO, repo, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.chdir(repo)
    return repo


def test_a_named_function_behind_an_import_that_trains_is_a_clear_exit_2(tmp_path, monkeypatch):
    _copy(tmp_path, monkeypatch)
    r = run("train.py:fit_windows", "--timeout", "120")
    assert r.exit_code == 2, r.output
    text = " ".join(r.output.split())
    assert "importing a module trains a VAE before fit_windows runs" in text, text
    assert "embeddings.py:29" in text and "the import at train.py:6" in text, text
    assert 'if __name__ == "__main__":' in text, text


def test_the_script_checks_the_imported_step_and_says_whose_it_is(tmp_path, monkeypatch):
    _copy(tmp_path, monkeypatch)
    r = run("train.py", "--timeout", "120")
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "the step checked is the one at embeddings.py:29, run when the code imports its module (train.py:6)" in text, text


def test_with_the_module_guarded_the_function_is_checked(tmp_path, monkeypatch):
    repo = _copy(tmp_path, monkeypatch)
    module = (repo / "embeddings.py").read_text()
    guarded = module.replace("for sweep in range(3):", 'if __name__ == "__main__":\n  for sweep in range(3):')
    (repo / "embeddings.py").write_text(guarded.replace("\n    for first", "\n      for first").replace("\n        ", "\n          "))
    r = run("train.py:fit_windows", "--timeout", "120")
    assert r.exit_code == 1, r.output
    assert "VAE001" in r.output and "train.py:19" in r.output, r.output
    assert "imports its module" not in r.output, r.output
