"""`vaelint ci github|pre-commit`: the CI configuration printed with the repository this
vaelint came from, never a placeholder; exit 2 when nothing says where that is."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

import vaelint.cisetup as cisetup


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "vaelint", "ci", *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def nowhere(monkeypatch):
    """No [project.urls] home, no pip record of a git install."""
    monkeypatch.setattr(cisetup, "_from_metadata", lambda: None)
    monkeypatch.setattr(cisetup, "_direct_url", lambda: (None, None))


def test_repo_option_names_github_slug_or_url(nowhere):
    assert cisetup.find_source("someone/vaelint", None).url == "https://github.com/someone/vaelint"
    assert cisetup.find_source("git@github.com:someone/vaelint.git", "abc").github_slug == "someone/vaelint"
    assert cisetup.find_source("https://gitlab.com/a/vaelint.git", None).github_slug is None
    assert cisetup.find_source("someone/vaelint", None).ref == f"v{cisetup.__version__}"


def test_project_urls_home_comes_first(monkeypatch):
    monkeypatch.setattr(cisetup, "_from_metadata", lambda: "https://github.com/home/vaelint")
    monkeypatch.setattr(cisetup, "_direct_url", lambda: ("https://github.com/other/vaelint", "deadbeef"))
    source = cisetup.find_source(None, None)
    assert source.github_slug == "home/vaelint" and "[project.urls]" in source.found


def test_a_git_install_is_pinned_to_what_pip_installed(nowhere, monkeypatch):
    monkeypatch.setattr(cisetup, "_direct_url", lambda: ("https://github.com/o/vaelint.git", "v0.2.0"))
    source = cisetup.find_source(None, None)
    assert (source.github_slug, source.ref) == ("o/vaelint", "v0.2.0")
    assert "uses: o/vaelint@v0.2.0" in cisetup.render("github", source)


def test_direct_url_json_is_read_for_git_installs_only(monkeypatch):
    class Dist:
        def __init__(self, record):
            self.record = record

        def read_text(self, name):
            return json.dumps(self.record) if name == "direct_url.json" else None

    import importlib.metadata as md

    git = {"url": "https://github.com/o/vaelint", "vcs_info": {"vcs": "git", "commit_id": "c0ffee", "requested_revision": "main"}}
    monkeypatch.setattr(md, "distribution", lambda name: Dist(git))
    assert cisetup._direct_url() == ("https://github.com/o/vaelint", "main")
    monkeypatch.setattr(md, "distribution", lambda name: Dist({"url": "file:///src/vaelint", "dir_info": {"editable": True}}))
    assert cisetup._direct_url() == (None, None)


def test_an_editable_checkout_names_its_origin_and_commit(nowhere, tmp_path):
    git = tmp_path / "vaelint-src" / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "config").write_text('[core]\n\tbare = false\n[remote "origin"]\n\turl = git@github.com:team/vaelint.git\n')
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "packed-refs").write_text("# pack-refs\n1234abcd refs/heads/main\n")
    package = tmp_path / "vaelint-src" / "vaelint"
    package.mkdir()
    source = cisetup.find_source(None, None, package_dir=str(package))
    assert (source.github_slug, source.ref) == ("team/vaelint", "1234abcd")
    (git / "refs" / "heads" / "main").write_text("feedf00d\n")
    assert cisetup.find_source(None, None, package_dir=str(package)).ref == "feedf00d"
    assert "origin remote" in source.found


def test_nothing_says_where_vaelint_lives(nowhere, tmp_path):
    assert cisetup.find_source(None, None, package_dir=str(tmp_path / "vaelint")) is None


def test_the_command_prints_yaml_and_writes_nothing(tmp_path):
    done = _run("pre-commit", "--repo", "https://gitlab.com/a/vaelint.git", "--ref", "v9", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(done.stdout)
    assert config["repos"] == [
        {
            "repo": "https://gitlab.com/a/vaelint.git",
            "rev": "v9",
            "hooks": [{"id": "vaelint", "additional_dependencies": ["torch", "numpy"]}],
        }
    ]
    assert os.listdir(tmp_path) == []


def test_the_command_refuses_without_a_home_and_an_unknown_kind(nowhere, monkeypatch):
    from typer.testing import CliRunner

    from vaelint.cli import app

    monkeypatch.setattr(cisetup, "_checkout_origin", lambda package_dir: (None, None))
    refused = CliRunner().invoke(app, ["ci", "github"])
    assert refused.exit_code == 2 and "--repo OWNER/NAME" in refused.output and refused.exception.__class__ is SystemExit
    bad = _run("gitlab")
    assert bad.returncode == 2 and "github" in bad.stderr and "Traceback" not in bad.stderr


def test_a_clone_of_a_local_folder_is_no_home(nowhere, tmp_path):
    git = tmp_path / "src" / ".git"
    git.mkdir(parents=True)
    (git / "config").write_text('[remote "origin"]\n\turl = /work/elsewhere/vaelint\n')
    assert cisetup.find_source(None, None, package_dir=str(tmp_path / "src" / "vaelint")) is None
