"""--diff and --fix: edits offered with findings, each checked again before it is offered.

The rules' own examples test each fix's edit (tests/test_rule_examples.py);
here: the command line, the reports, the re-check that refuses a bad edit, the
source overlay the re-check reads, and fixes on whole fixture models.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import FIXTURES
from typer.testing import CliRunner

from vaelint.cli import app

runner = CliRunner()

NOISE = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self, latent=4):
        super().__init__()
        self.latent = latent
        self.enc = nn.Linear(20, 2 * latent)
        self.dec = nn.Linear(latent, 20)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        std = torch.exp(0.5 * logvar)
        eps = torch.randn(self.latent)   # one draw for the batch   (a comment to keep)
        z = mu + eps * std
        return torch.sigmoid(self.dec(z)), mu, logvar


def loss_function(recon, x, mu, logvar):
    rec = F.binary_cross_entropy(recon, x, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return rec + {KL}
"""

# the edit that fixes VAE001 elsewhere (torch.randn_like(std)) cannot work here: the draw comes
# before the heads (std and mu alike, so randn_like(mu) cannot stand in), so the edited model
# raises and the fix is refused
STD_LATE = NOISE.replace(
    "        mu, logvar = self.enc(x).chunk(2, dim=1)\n        std = torch.exp(0.5 * logvar)\n"
    "        eps = torch.randn(self.latent)   # one draw for the batch   (a comment to keep)\n",
    "        eps = torch.randn(self.latent)   # one draw for the batch   (a comment to keep)\n"
    "        mu, logvar = self.enc(x).chunk(2, dim=1)\n        std = torch.exp(0.5 * logvar)\n",
)
assert STD_LATE != NOISE


def run(*args, cwd=None):
    here = os.getcwd()
    if cwd:
        os.chdir(cwd)
    try:
        r = runner.invoke(app, list(args))
    finally:
        os.chdir(here)
    assert "Traceback" not in r.output, r.output
    return r


def model(tmp_path, text=NOISE, kl="kl", name="vae.py"):
    path = tmp_path / name
    path.write_text(text.replace("{KL}", kl))
    return path


def test_diff_shows_the_fix_changes_nothing_and_applies_as_fix_writes(tmp_path):
    path = model(tmp_path)
    before = path.read_text()
    r = run("check", "vae.py:VAE", "--input", "6x20", "--diff", cwd=tmp_path)
    assert r.exit_code == 1  # as ruff: fixes to show
    assert path.read_text() == before
    assert r.stdout.startswith("--- a/vae.py\n+++ b/vae.py\n")
    assert "-        eps = torch.randn(self.latent)   # one draw" in r.stdout
    assert "+        eps = torch.randn_like(std)   # one draw for the batch   (a comment to keep)" in r.stdout
    assert "would fix 2 findings in 1 file" in r.stderr  # VAE001 and VAE012 at that line: one edit
    # the diff is a real patch: applied, it gives what --fix writes
    patched = tmp_path / "patched"
    patched.mkdir()
    shutil.copy(path, patched / "vae.py")
    subprocess.run(["patch", "-p1", "-s"], input=r.stdout, text=True, cwd=patched, check=True)
    fixed = run("check", "vae.py:VAE", "--input", "6x20", "--fix", cwd=tmp_path)
    assert (patched / "vae.py").read_text() == path.read_text() != before
    assert fixed.exit_code == 0 and "fixed 2 findings in 1 file" in fixed.stderr
    assert "no findings in 1 target" in fixed.stdout  # what remains, checked again
    # only the edited line changed: formatting and comments are kept
    changed = [(a, b) for a, b in zip(before.splitlines(), path.read_text().splitlines()) if a != b]
    assert changed == [
        (
            "        eps = torch.randn(self.latent)   # one draw for the batch   (a comment to keep)",
            "        eps = torch.randn_like(std)   # one draw for the batch   (a comment to keep)",
        )
    ]


def test_a_plain_check_offers_the_rules_edit_and_checks_it_again_only_when_asked(tmp_path, monkeypatch):
    # issue 33: a fixable finding costs no re-check of its target until --fix or --diff asks
    import vaelint.fixes.verify as verify

    model(tmp_path)
    calls = []
    real = verify.verify
    monkeypatch.setattr(verify, "verify", lambda *a, **k: (calls.append(a[0]), real(*a, **k))[1])
    r = run("check", "vae.py:VAE", "--input", "6x20", "-q", cwd=tmp_path)
    assert r.exit_code == 1 and calls == []
    assert (
        "[*] fixable with --fix (checked again before it is written; --diff shows it): draw the noise with std's shape: torch.randn_like(std)"
        in r.stdout
    )
    shown = run("check", "vae.py:VAE", "--input", "6x20", "--diff", cwd=tmp_path)
    assert calls and "+        eps = torch.randn_like(std)" in shown.stdout


def test_a_fix_whose_recheck_fails_is_never_offered(tmp_path):
    path = model(tmp_path, STD_LATE)
    before = path.read_text()
    # a plain check offers the rule's edit unchecked; --diff and --fix check it again first
    text = run("check", "vae.py:VAE", "--input", "6x20", "-q", cwd=tmp_path)
    assert "VAE001" in text.stdout and "[*] fixable with --fix (checked again before it is written" in text.stdout
    report = json.loads(run("check", "vae.py:VAE", "--input", "6x20", "--format", "json", cwd=tmp_path).stdout)
    offered = [f["autofix"] for f in report["results"][0]["findings"] if f["code"] == "VAE001"][0]
    assert offered["verified"] is False and offered["rejected"] is None
    diff = run("check", "vae.py:VAE", "--input", "6x20", "--diff", cwd=tmp_path)
    assert diff.exit_code == 0 and diff.stdout == "" and "would fix 0 findings in 0 files" in diff.stderr
    fixed = run("check", "vae.py:VAE", "--input", "6x20", "--fix", cwd=tmp_path)
    assert path.read_text() == before and fixed.exit_code == 1
    assert (
        "no automatic fix: the edit `draw the noise with std's shape: torch.randn_like(std)` was tried and the edited model could not be checked"
        in fixed.stdout
    )
    report = json.loads(run("check", "vae.py:VAE", "--input", "6x20", "--fix", "--format", "json", cwd=tmp_path).stdout)
    offered = [f["autofix"] for f in report["results"][0]["findings"] if f["code"] == "VAE001"][0]
    assert offered["verified"] is False and "could not be checked" in offered["rejected"]
    sarif = json.loads(run("check", "vae.py:VAE", "--input", "6x20", "--fix", "--format", "sarif", cwd=tmp_path).stdout)
    assert all("fixes" not in res for res in sarif["runs"][0]["results"] if res["ruleId"] == "VAE001")


def test_unsafe_fixes_need_unsafe_fixes(tmp_path):
    path = model(tmp_path, NOISE.replace("torch.randn(self.latent)", "torch.randn_like(std)"), kl="0.01 * kl")
    before = path.read_text()
    r = run("check", "vae.py:VAE", "--input", "6x20", "-q", cwd=tmp_path)
    assert "VAE004" in r.stdout and "[*] fixable with --fix --unsafe-fixes" in r.stdout
    safe = run("check", "vae.py:VAE", "--input", "6x20", "--fix", cwd=tmp_path)
    assert path.read_text() == before and safe.exit_code == 1
    assert "1 unsafe fix left out (--unsafe-fixes)" in safe.stderr
    shown = run("check", "vae.py:VAE", "--input", "6x20", "--diff", "--unsafe-fixes", cwd=tmp_path)
    assert "-    return rec + 0.01 * kl\n+    return rec + kl\n" in shown.stdout
    unsafe = run("check", "vae.py:VAE", "--input", "6x20", "--fix", "--unsafe-fixes", cwd=tmp_path)
    assert unsafe.exit_code == 0 and "return rec + kl\n" in path.read_text()


def test_fix_and_diff_are_one_or_the_other(tmp_path):
    model(tmp_path)
    r = run("check", "vae.py:VAE", "--input", "6x20", "--fix", "--diff", cwd=tmp_path)
    assert r.exit_code == 2 and "give one of the two" in r.stderr
    r = run("check", "vae.py:VAE", "--input", "6x20", "--fix", "--no-fixes", cwd=tmp_path)
    assert r.exit_code == 2 and "--no-fixes" in r.stderr


def test_no_fixes_skips_the_recheck(tmp_path):
    model(tmp_path)
    report = json.loads(run("check", "vae.py:VAE", "--input", "6x20", "--format", "json", "--no-fixes", cwd=tmp_path).stdout)
    assert [f["autofix"] for f in report["results"][0]["findings"]] == [None, None]


def test_json_and_sarif_carry_the_edits_and_follow_their_schemas(tmp_path):
    import jsonschema

    model(tmp_path)
    report = json.loads(run("check", "vae.py:VAE", "--input", "6x20", "--format", "json", cwd=tmp_path).stdout)
    schema = json.load(open(os.path.join(os.path.dirname(FIXTURES), "docs", "report.schema.json")))
    jsonschema.validate(report, schema)
    f = next(f for f in report["results"][0]["findings"] if f["code"] == "VAE001")
    assert f["fix"] == "eps = torch.randn_like(std)"  # the words stay as they were
    assert f["autofix"] == {
        "message": "draw the noise with std's shape: torch.randn_like(std)",
        "applicability": "safe",
        "verified": False,
        "rejected": None,  # offered, not checked again: --diff, --fix do that
        "edits": [{"path": "vae.py", "line": 16, "column": 15, "end_line": 16, "end_column": 39, "content": "torch.randn_like(std)"}],
    }
    sarif = json.loads(run("check", "vae.py:VAE", "--input", "6x20", "--format", "sarif", cwd=tmp_path).stdout)
    jsonschema.validate(sarif, json.load(open(os.path.join(os.path.dirname(__file__), "schemas", "sarif-2.1.0.json"))))
    res = next(r for r in sarif["runs"][0]["results"] if r["ruleId"] == "VAE001")
    change = res["fixes"][0]["artifactChanges"][0]
    assert change["artifactLocation"]["uri"].endswith("vae.py")
    assert change["replacements"] == [
        {
            "deletedRegion": {"startLine": 16, "startColumn": 15, "endLine": 16, "endColumn": 39},
            "insertedContent": {"text": "torch.randn_like(std)"},
        }
    ]
    github = run("check", "vae.py:VAE", "--input", "6x20", "--format", "github", cwd=tmp_path).stdout
    assert "(fixable: vaelint check --fix)" in github


def test_fix_writes_only_the_file_it_edits(tmp_path):
    model(tmp_path)
    (tmp_path / "notes.txt").write_text("kept\n")
    listing = sorted(os.listdir(tmp_path))
    run("check", "vae.py:VAE", "--input", "6x20", "--fix", cwd=tmp_path)
    assert sorted(os.listdir(tmp_path)) == listing and (tmp_path / "notes.txt").read_text() == "kept\n"


def test_overlay_stands_in_for_a_file_in_every_way_it_is_read(tmp_path):
    import importlib
    import linecache

    from vaelint.source.files import read_source
    from vaelint.source.overlay import standing_in

    helper = tmp_path / "overlay_helper_mod.py"
    helper.write_text("VALUE = 1\n")
    sys.path.insert(0, str(tmp_path))
    try:
        with standing_in({str(helper): "VALUE = 2\n"}):
            assert read_source(str(helper)) == "VALUE = 2\n"
            assert linecache.getline(str(helper), 1) == "VALUE = 2\n"
            linecache.checkcache(str(helper))  # the file on disk differs: the edited text stays
            assert linecache.getline(str(helper), 1) == "VALUE = 2\n"
            sys.modules.pop("overlay_helper_mod", None)
            assert importlib.import_module("overlay_helper_mod").VALUE == 2
        sys.modules.pop("overlay_helper_mod", None)
        assert read_source(str(helper)) == "VALUE = 1\n" and helper.read_text() == "VALUE = 1\n"
        assert importlib.import_module("overlay_helper_mod").VALUE == 1
        assert not (tmp_path / "__pycache__").exists() or not any("overlay" in f for f in os.listdir(tmp_path / "__pycache__"))
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("overlay_helper_mod", None)


def test_a_fix_in_an_imported_loss_module_is_checked_with_the_edited_module(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # as without PYTHONDONTWRITEBYTECODE
    # the loss lives in losses.py, which the model file imports (a plain import, not vaelint's loader)
    (tmp_path / "losses.py").write_text(
        "import torch\nimport torch.nn.functional as F\n\n\n"
        "def loss_function(recon, x, mu, logvar):\n"
        '    rec = F.binary_cross_entropy(recon, x, reduction="sum")\n'
        "    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())\n"
        "    return rec + kl\n"
    )
    text = NOISE.replace("torch.randn(self.latent)", "torch.randn_like(std)").replace("torch.sigmoid(self.dec(z))", "self.dec(z)")
    text = text.split("\n\ndef loss_function")[0] + "\n\nfrom losses import loss_function  # noqa: E402\n"
    model(tmp_path, text)
    r = run("check", "vae.py:VAE", "--input", "6x20", "--fix", cwd=tmp_path)
    assert "binary_cross_entropy_with_logits(recon, x" in (tmp_path / "losses.py").read_text()
    assert r.exit_code == 0, r.stdout
    assert sorted(os.listdir(tmp_path)) == ["losses.py", "vae.py"]  # the import wrote no __pycache__


# the loss raises on logits (binary_cross_entropy of an unbounded output), which hides
# the shared noise draw: the first round fixes the loss, the second the draw it revealed
HIDDEN = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(20, 8)
        self.dec = nn.Linear(4, 20)

    def reparameterize(self, mu, logvar):
        std = logvar.mul(0.5).exp_()
        eps = torch.randn(mu.size(1), device=mu.device)
        return eps.mul(std).add_(mu)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return self.dec(self.reparameterize(mu, logvar)), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x, reduction="sum")
    return bce - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
"""


def test_fix_runs_rounds_a_fix_revealing_a_finding_a_crash_hid(tmp_path):
    path = model(tmp_path, HIDDEN)
    first = json.loads(run("check", "vae.py:VAE", "--input", "6x20", "--format", "json", cwd=tmp_path).stdout)["results"][0]
    assert [f["code"] for f in first["findings"]] == ["VAE010"]  # the crash hides VAE001
    assert any(s["code"] == "VAE001" for s in first["skipped"])
    # the re-check shows VAE001, whose rule could not run before: revealed, not brought by the edit
    assert first["findings"][0]["autofix"]["rejected"] is None
    diff = run("check", "vae.py:VAE", "--input", "6x20", "--diff", cwd=tmp_path)
    assert "+        eps = torch.randn_like(std)" in diff.stdout
    assert "binary_cross_entropy_with_logits(recon_x, x" in diff.stdout
    assert "would fix 2 findings in 1 file" in diff.stderr
    fixed = run("check", "vae.py:VAE", "--input", "6x20", "--fix", cwd=tmp_path)
    assert fixed.exit_code == 0 and "no findings in 1 target" in fixed.stdout
    assert "torch.randn_like(std)" in path.read_text()


def test_the_decoder_fed_mu_inside_an_expression_is_fed_z(tmp_path):
    text = NOISE.replace("torch.randn(self.latent)", "torch.randn_like(std)").replace(
        "torch.sigmoid(self.dec(z))", "torch.sigmoid(self.dec(torch.cat([mu], dim=1)))"
    )
    path = model(tmp_path, text)
    run("check", "vae.py:VAE", "--input", "6x20", "--fix", cwd=tmp_path)
    assert "self.dec(torch.cat([z], dim=1))" in path.read_text()


def test_a_kl_subtracted_from_the_loss_is_added_not_negated(tmp_path):
    text = (
        NOISE.replace("torch.randn(self.latent)", "torch.randn_like(std)")
        .replace("    return rec + {KL}\n", "    return rec - (-kl)  # written as a subtraction\n")
        .replace("kl = -0.5 * torch.sum", "kl = 0.5 * torch.sum")
    )
    path = model(tmp_path, text)
    before = path.read_text()
    fixed = run("check", "vae.py:VAE", "--input", "6x20", "--fix", cwd=tmp_path)
    assert "fixed 1 finding in 1 file" in fixed.stderr and path.read_text() != before
    again = json.loads(run("check", "vae.py:VAE", "--input", "6x20", "--format", "json", cwd=tmp_path).stdout)["results"][0]
    assert again["findings"] == []


def test_a_kl_written_right_but_subtracted_gets_a_plus(tmp_path):
    text = NOISE.replace("torch.randn(self.latent)", "torch.randn_like(std)").replace("    return rec + {KL}\n", "    return rec - kl\n")
    model(tmp_path, text)
    r = run("check", "vae.py:VAE", "--input", "6x20", "--diff", cwd=tmp_path)
    assert "-    return rec - kl\n+    return rec + kl\n" in r.stdout


def test_a_reconstruction_written_in_parts_is_not_offered_an_edit_of_one_part(tmp_path):
    # 0.7 * l1 + 0.3 * mse beside a summed KL: reduction="sum" on one part would leave the other
    # averaged (the re-check refuses it), so a plain check must not call the finding fixable
    name = "recon_weighted_parts_beside_summed_kl.py"
    shutil.copy(os.path.join(FIXTURES, "buggy", name), tmp_path / name)
    out = json.loads(run("check", f"{name}:VAE", "--input", "16x784", "--no-dynamic", "--format", "json", cwd=tmp_path).stdout)
    (finding,) = out["results"][0]["findings"]
    assert finding["code"] == "VAE002" and "beta_eff = B*D" in finding["message"]
    assert finding["autofix"] is None


CRITERION = NOISE.replace("torch.randn(self.latent)", "torch.randn_like(std)").replace(
    '    rec = F.binary_cross_entropy(recon, x, reduction="sum")\n', "    rec = {REC}\n"
)


@pytest.mark.parametrize(
    ("rec", "offered"),
    [
        ("criterion(recon, x)", None),  # a module bound elsewhere: its call takes no reduction=
        ("nn.BCELoss()(recon, x)", 'nn.BCELoss(reduction="sum")(recon, x)'),
        ("F.binary_cross_entropy(recon, x)", 'F.binary_cross_entropy(recon, x, reduction="sum")'),
    ],
)
def test_a_reduction_is_offered_only_where_the_call_names_the_loss_it_computes(tmp_path, rec, offered):
    # helper C, reoneo97/vae-playground: criterion = nn.MSELoss() in the loss, then criterion(x, x_out);
    # the plain check offered `criterion(x, x_out, reduction="sum")` (a TypeError), and --diff then
    # fixed nothing, exit 0
    text = CRITERION.replace("{REC}", rec).replace(
        "def loss_function(recon, x, mu, logvar):\n", "def loss_function(recon, x, mu, logvar):\n    criterion = nn.BCELoss()\n"
    )
    model(tmp_path, text)
    out = json.loads(run("check", "vae.py:VAE", "--input", "6x20", "--format", "json", cwd=tmp_path).stdout)
    (finding,) = out["results"][0]["findings"]
    assert finding["code"] == "VAE002"
    if offered is None:
        assert finding["autofix"] is None
        return
    assert finding["autofix"] is not None
    diff = run("check", "vae.py:VAE", "--input", "6x20", "--diff", "--unsafe-fixes", cwd=tmp_path).stdout
    assert f"+    rec = {offered}\n" in diff
