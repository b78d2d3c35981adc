"""A package outside the repository joins vaelint's registries by entry points
(vaelint/plugins.py): installed beside vaelint, its rule runs in `vaelint check`, its page shows
in `vaelint rule`, --select/--ignore know its code, and a plugin that cannot load is exit 2 naming
it. The plugin is a real installed distribution (a package and its .dist-info, as pip writes
them) on the path of a fresh `python -m vaelint`."""

import json
import os
import subprocess
import sys

import pytest
from test_readme import blocks

MODEL = """import torch
import torch.nn as nn


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(8, 4), nn.Linear(2, 8)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        eps = torch.rand_like(mu)
        return self.dec(mu + eps * torch.exp(0.5 * logvar)), mu, logvar
"""


def install(site, name: str, modules: dict[str, str], entry_points: str) -> None:
    """A distribution as pip installs it: its modules, and its METADATA and entry_points.txt."""
    for path, text in modules.items():
        file = site / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text)
    info = site / f"{name.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)


def vaelint(site, cwd, *args):
    env = {**os.environ, "PYTHONPATH": str(site), "VAELINT_NO_CACHE": "1"}
    return subprocess.run([sys.executable, "-m", "vaelint", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def acme(tmp_path):
    """The README's example rule (VAE900, uniform noise), shipped as a plugin's rule pack."""
    (rule,) = blocks("python", "### Writing a rule")[:1]
    (reporter,) = blocks("python", "### Writing an output format")[:1]
    (registered,) = blocks("toml", "### Writing an output format")[:1]
    site = tmp_path / "site"
    install(
        site,
        "acme-vaelint",
        {
            "acme_vaelint/__init__.py": '"""ACME\'s own VAE rules."""\n',
            "acme_vaelint/uniform.py": rule,
            "acme_tsv/__init__.py": "",
            "acme_tsv/tsv.py": reporter,
        },
        "[vaelint.rules]\nacme = acme_vaelint\n\n"
        + registered.replace('[project.entry-points."vaelint.reporters"]', "[vaelint.reporters]").replace(
            '"acme_vaelint.tsv"', "acme_tsv.tsv"
        ),
    )
    (tmp_path / "model.py").write_text(MODEL)
    return site


def test_a_plugin_rule_runs_in_a_check_and_is_selected_ignored_and_shown_by_its_code(acme, tmp_path):
    r = vaelint(acme, tmp_path, "check", "model.py:VAE", "--input", "4x8", "--format", "json")
    assert r.returncode == 1, r.stdout + r.stderr
    (result,) = json.loads(r.stdout)["results"]
    # VAE007 says the same noise is no standard normal draw; the plugin's rule, at the same line
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE007", 12), ("VAE900", 12)]
    r = vaelint(acme, tmp_path, "check", "model.py:VAE", "--input", "4x8", "--format", "json", "--ignore", "VAE900")
    assert [f["code"] for f in json.loads(r.stdout)["results"][0]["findings"]] == ["VAE007"], r.stdout + r.stderr
    r = vaelint(acme, tmp_path, "check", "model.py:VAE", "--input", "4x8", "--format", "json", "--select", "VAE9")
    assert [f["code"] for f in json.loads(r.stdout)["results"][0]["findings"]] == ["VAE900"], r.stdout + r.stderr
    r = vaelint(acme, tmp_path, "rule", "VAE900")
    assert r.returncode == 0 and "VAE900 uniform-noise (warning)" in r.stdout and "Edit offered (--fix): never" in r.stdout
    r = vaelint(acme, tmp_path, "rule", "--all")
    assert "VAE014" in r.stdout and "VAE900  uniform-noise" in r.stdout


def test_a_plugin_reporter_is_an_output_format_of_check_and_of_also_output(acme, tmp_path):
    r = vaelint(acme, tmp_path, "check", "model.py:VAE", "--input", "4x8", "--format", "acme-tsv", "--also-output", "acme-tsv=out.tsv")
    assert r.returncode == 1, r.stdout + r.stderr
    rows = [line.split("\t") for line in r.stdout.splitlines()]
    assert [(path, line, code) for path, line, code, _ in rows] == [("model.py", "12", "VAE007"), ("model.py", "12", "VAE900")]
    assert "U(0, 1) by rand_like" in rows[1][3]
    assert (tmp_path / "out.tsv").read_text() == r.stdout
    r = vaelint(acme, tmp_path, "check", "model.py:VAE", "--input", "4x8", "--format", "tsv")
    assert (
        r.returncode == 2
        and "--format 'tsv' is not an output format: one of text, json, sarif, github, markdown, junit, gitlab, acme-tsv." in r.stderr
    )


def test_a_reporter_that_cannot_join_is_exit_2_naming_it(tmp_path):
    site = tmp_path / "site"
    install(
        site, "acme-vaelint", {"acme_json.py": "TITLE = 'no render here'\n"}, "[vaelint.reporters]\njson = acme_json\nacme = acme_json\n"
    )
    (tmp_path / "model.py").write_text(MODEL)
    r = vaelint(site, tmp_path, "check", "model.py:VAE", "--input", "4x8", "--format", "acme")
    assert (
        r.returncode == 2 and "the reporter json = acme_json (installed by acme-vaelint) has the name of another output format" in r.stderr
    )
    (info,) = site.glob("*.dist-info")
    (info / "entry_points.txt").write_text("[vaelint.reporters]\nacme = acme_json\n")
    r = vaelint(site, tmp_path, "check", "model.py:VAE", "--input", "4x8", "--format", "acme")
    assert r.returncode == 2 and "the reporter acme = acme_json (installed by acme-vaelint) has no render(results, context)" in r.stderr
    assert "Traceback" not in r.stderr
    r = vaelint(site, tmp_path, "check", "model.py:VAE", "--input", "4x8", "--format", "json")  # vaelint's own: never read from a plugin
    assert r.returncode == 1 and json.loads(r.stdout)["results"][0]["findings"], r.stderr


def test_without_the_plugin_its_code_is_unknown(tmp_path):
    (tmp_path / "model.py").write_text(MODEL)
    r = vaelint(tmp_path / "empty-site", tmp_path, "check", "model.py:VAE", "--input", "4x8", "--select", "VAE900")
    assert r.returncode == 2 and "unknown rule code 'VAE900'" in r.stderr, r.stderr


@pytest.mark.parametrize(
    "modules, entry, said",
    [
        ({}, "acme = acme_missing", "the plugin acme = acme_missing (installed by acme-vaelint) could not be loaded"),
        (
            {"acme_clash.py": "from vaelint.rulebase import Rule\n\n\nclass Clash(Rule):\n    code, name = 'VAE001', 'clash'\n"},
            "acme = acme_clash",
            "the rule VAE001 of the plugin acme (acme-vaelint) has the code of a rule of vaelint",
        ),
    ],
    ids=["missing-module", "taken-code"],
)
def test_a_plugin_that_cannot_join_is_exit_2_naming_it(tmp_path, modules, entry, said):
    site = tmp_path / "site"
    install(site, "acme-vaelint", modules, f"[vaelint.rules]\n{entry}\n")
    (tmp_path / "model.py").write_text(MODEL)
    for args in (("check", "model.py:VAE", "--input", "4x8"), ("rule", "--all")):
        r = vaelint(site, tmp_path, *args)
        assert r.returncode == 2 and said in r.stderr, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr


def test_a_plugin_rule_pack_s_files_are_part_of_what_a_cached_result_depends_on(acme, monkeypatch):
    from vaelint.cache.store import plugin_files
    from vaelint.plugins import registered

    monkeypatch.syspath_prepend(str(acme))
    registered.cache_clear()
    try:
        assert sorted(os.path.relpath(f, acme) for f in plugin_files()) == ["acme_vaelint/__init__.py", "acme_vaelint/uniform.py"]
    finally:
        monkeypatch.undo()
        registered.cache_clear()
    assert plugin_files() == []
