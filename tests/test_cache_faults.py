"""The cache never lies and cannot be used to get in: every entry is verified against its
full key on read, anything malformed, foreign or planted is a miss (and is replaced), and a
cache that cannot be written is a check without it, said in one note, never a lost report."""

from __future__ import annotations

import errno
import json
import pickle

from test_cache import MODEL, check, repo, result, runner  # noqa: F401 - repo is a fixture

from vaelint.cli import app


def _entries(root) -> list:
    return sorted((root / ".vaelint_cache" / "results").glob("*/*.json"))


def _two_targets(repo):
    """Two cached targets: vae.py (a VAE004 finding) and clean.py (no finding)."""
    (repo / "clean.py").write_text(MODEL.replace("rec + 0.5 * -0.5", "rec + -0.5"))
    assert result()["findings"] and result()["cached"] is True
    clean = json.loads(runner.invoke(app, ["check", "clean.py:VAE", "--input", "6x20", "--no-dynamic", "--format", "json"]).stdout)
    assert clean["results"][0]["status"] == "clean"
    (entry_vae,) = [e for e in _entries(repo) if "vae.py" in json.loads(e.read_text())["key"]]
    (entry_clean,) = [e for e in _entries(repo) if "clean.py" in json.loads(e.read_text())["key"]]
    return entry_vae, entry_clean


def test_entries_are_json_that_holds_their_whole_key(repo):
    result()
    (entry,) = _entries(repo)
    stored = json.loads(entry.read_text())  # JSON, not a pickle
    assert stored["format"] == 3 and "vae.py" in stored["key"] and "'VAE'" in stored["key"]
    assert stored["result"]["class"] == "TargetResult"


def test_an_entry_copied_over_another_targets_is_a_miss_then_replaced(repo):
    entry_vae, entry_clean = _two_targets(repo)
    entry_vae.write_bytes(entry_clean.read_bytes())  # clean.py's answer under vae.py's name
    again = result()
    assert again["cached"] is False and [f["code"] for f in again["findings"]] == ["VAE004"]
    assert result()["cached"] is True  # replaced by this check's own


def test_truncated_foreign_and_malformed_entries_are_misses(repo):
    result()
    (entry,) = _entries(repo)
    good = entry.read_text()
    stored = json.loads(good)
    shapes = [
        good[: len(good) // 2],  # truncated
        "[1, 2, 3]",  # foreign JSON
        json.dumps({**stored, "format": 1}),  # another format
        json.dumps({**stored, "result": {"class": "os.system", "fields": {}}}),  # a class it does not build
        json.dumps({**stored, "result": {"class": "TargetResult", "fields": {"target": "vae.py:VAE", "bogus": 1}}}),
        json.dumps({**stored, "result": {"class": "Finding", "fields": {}}}),  # not a result
        json.dumps({**stored, "files": "x"}),
    ]
    for text in shapes:
        entry.write_text(text)
        again = result()
        assert again["cached"] is False and [f["code"] for f in again["findings"]] == ["VAE004"], text


def test_a_planted_pickle_is_never_unpickled(repo, tmp_path):
    result()
    (entry,) = _entries(repo)
    marker = tmp_path / "ran"

    class Planted:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    entry.write_bytes(pickle.dumps(Planted()))
    (entry.parent / (entry.stem + ".pickle")).write_bytes(pickle.dumps(Planted()))  # the old format's name too
    assert result()["cached"] is False
    assert not marker.exists()


def test_an_environment_variable_the_check_read_is_part_of_the_answer(repo, monkeypatch):
    (repo / "vae.py").write_text(MODEL.replace('CONFIG["latent"]', 'int(os.environ.get("LATENT", CONFIG["latent"]))'))
    monkeypatch.delenv("LATENT", raising=False)
    result()
    assert result()["cached"] is True
    monkeypatch.setenv("LATENT", "3")
    again = result()
    assert again["cached"] is False and next(r for r in again["flow"] if r["name"] == "mu")["sizes"]["Z"] == 3
    monkeypatch.setenv("UNREAD_BY_THE_MODEL", "1")
    assert result()["cached"] is True


def test_a_file_where_the_cache_folder_should_be_is_a_check_without_it(repo, monkeypatch):
    (repo / "afile").write_text("mine\n")
    monkeypatch.setenv("VAELINT_CACHE_DIR", str(repo / "afile"))
    for _ in range(2):
        r = check()
        res = json.loads(r.stdout)["results"][0]
        assert res["cached"] is False and [f["code"] for f in res["findings"]] == ["VAE004"]
        assert any("could not be written" in n for n in res["notes"])
    assert (repo / "afile").read_text() == "mine\n"
    cleaned = runner.invoke(app, ["clean"])
    assert cleaned.exit_code == 2 and "not a cache folder" in cleaned.stderr and "Traceback" not in cleaned.output
    assert (repo / "afile").read_text() == "mine\n"


def test_a_read_only_or_full_cache_is_a_check_without_it(repo, monkeypatch):
    import tempfile

    for code in (errno.EROFS, errno.ENOSPC, errno.EACCES):

        def refuse(*args, code=code, **kwargs):
            raise OSError(code, "refused by the test")

        monkeypatch.setattr(tempfile, "mkstemp", refuse)
        r = check(fmt="text")
        assert r.exit_code == 1 and "VAE004" in r.stdout and "result cache" in r.stdout and "could not be written" in r.stdout


def test_clean_that_cannot_remove_says_so(repo, monkeypatch):
    import shutil

    result()

    def refuse(path, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(shutil, "rmtree", refuse)
    r = runner.invoke(app, ["clean"])
    assert r.exit_code == 2 and "could not remove" in r.stderr and "Traceback" not in r.output
