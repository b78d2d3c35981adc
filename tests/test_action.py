"""The GitHub Action (action.yml): valid against GitHub's schema for actions, and
its steps, run here as the runner would run them, check a repository, annotate,
write the summary and SARIF, and gate on the exit status."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ACTION = os.path.join(ROOT, "action.yml")


def _vendored_schema(name: str) -> dict:
    """GitHub's schemas as check-jsonschema ships them (SchemaStore's), offline."""
    from importlib.resources import files

    return json.loads(files("check_jsonschema.builtin_schemas.vendor").joinpath(f"{name}.json").read_text())


def _action() -> dict:
    with open(ACTION) as fh:
        return yaml.safe_load(fh)


def test_action_follows_githubs_schema_for_actions():
    import jsonschema

    jsonschema.validate(_action(), _vendored_schema("github-actions"))
    action = _action()
    assert action["runs"]["using"] == "composite"
    # every input a step reads is declared, and every declared input is read
    text = open(ACTION).read()
    used = set(re.findall(r"inputs\.([a-z-]+)", text))
    assert used == set(action["inputs"])


@pytest.mark.parametrize(
    "url, uses", [("https://github.com/someone/vaelint.git", "someone/vaelint@v0.1.0"), ("https://gitlab.com/someone/vaelint", None)]
)
def test_the_printed_workflow_is_a_valid_workflow(url, uses):
    """`vaelint ci github`: the action on github.com; pip-installed steps from anywhere else."""
    import jsonschema

    from vaelint.cisetup import Source, render

    workflow = yaml.safe_load(render("github", Source(url, "v0.1.0", "--repo")))
    workflow["on"] = workflow.pop(True)  # YAML 1.1 reads the key `on` as true; GitHub does not
    jsonschema.validate(workflow, _vendored_schema("github-workflows"))
    steps = workflow["jobs"]["vaelint"]["steps"]
    if uses:
        assert [s.get("uses") for s in steps] == ["actions/checkout@v4", uses]
        assert steps[1]["with"] == {"sarif": "true"}
    else:
        runs = [s["run"] for s in steps if "run" in s]
        assert f'pip install "vaelint @ git+{url}@v0.1.0"' in runs and runs[-1] == "vaelint check --format github"


BUGGY = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(20, 8)
        self.dec = nn.Linear(4, 20)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(z)), mu, logvar


def loss_function(recon, x, mu, logvar):
    rec = F.binary_cross_entropy(recon, x, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return rec + 0.1 * kl
"""


def _run_step(step: dict, inputs: dict, outputs: dict, env: dict, cwd) -> subprocess.CompletedProcess:
    """One composite step as the runner runs it: its expressions filled in, its env set, bash."""

    def fill(text: str) -> str:
        text = re.sub(r"\$\{\{\s*inputs\.([a-z-]+)\s*\}\}", lambda m: inputs[m.group(1)], text)
        return re.sub(r"\$\{\{\s*steps\.check\.outputs\.([a-z-]+)\s*\}\}", lambda m: outputs.get(m.group(1), ""), text)

    step_env = {**env, **{k: fill(str(v)) for k, v in step.get("env", {}).items()}}
    return subprocess.run(["bash", "-e", "-c", fill(step["run"])], cwd=cwd, env=step_env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("fail_on_findings", ["true", "false"])
def test_the_actions_steps_check_a_repository(tmp_path, fail_on_findings):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "vae.py").write_text(BUGGY)
    (repo / "pyproject.toml").write_text(
        textwrap.dedent("""
        [tool.vaelint]
        [[tool.vaelint.targets]]
        target = "vae.py:VAE"
        input = ["6x20"]
    """)
    )
    action = _action()
    inputs = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
    inputs.update({"sarif": "true", "torch": "", "fail-on-findings": fail_on_findings})
    github_output, summary = tmp_path / "output", tmp_path / "summary.md"
    github_output.write_text("")
    bin_dir = os.path.dirname(sys.executable)  # this environment's vaelint, as the install step leaves it
    env = {
        **os.environ,
        "PATH": bin_dir + os.pathsep + os.environ["PATH"],
        "GITHUB_OUTPUT": str(github_output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_ACTION_PATH": ROOT,
        "GITHUB_WORKSPACE": str(repo),
    }
    steps = {step.get("name"): step for step in action["runs"]["steps"]}
    # the install step (pip from the network) is left out: vaelint is installed here
    check = _run_step(steps["vaelint check"], inputs, {}, env, repo)
    assert check.returncode == 0, check.stderr
    outputs = dict(line.split("=", 1) for line in github_output.read_text().splitlines())
    assert outputs == {"exit-code": "1"}
    assert check.stdout.startswith("::warning file=vae.py,line=21,") and "VAE004" in check.stdout
    sarif = json.loads((repo / "vaelint.sarif").read_text())
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["VAE004"]
    assert summary.read_text().startswith("## vaelint: 1 finding (1 warning) in 1 target")
    assert "```mermaid" in summary.read_text()
    gate = _run_step(steps["Gate"], inputs, outputs, env, repo)
    assert gate.returncode == (1 if fail_on_findings == "true" else 0)
    # a target that cannot be analysed fails the job whatever fail-on-findings says
    assert _run_step(steps["Gate"], inputs, {"exit-code": "2"}, env, repo).returncode == 2


def test_the_action_keeps_pip_and_vaelints_results_between_runs(tmp_path):
    action = _action()
    steps = {step.get("name"): step for step in action["runs"]["steps"]}
    assert action["inputs"]["cache"]["default"] == "true"
    pip, results = steps["Cache pip"], steps["Cache vaelint results"]
    for step in (pip, results):
        assert step["uses"] == "actions/cache@v4" and step["if"] == "inputs.cache == 'true'"
        # a new vaelint (another ref of the action) never reads the entries of an old one
        assert "${{ github.action_ref }}" in step["with"]["key"] and step["with"]["key"].startswith(
            step["with"]["restore-keys"].rstrip("-")
        )
    assert results["with"]["path"] == "${{ github.workspace }}/.vaelint_cache"
    assert pip["with"]["path"] == "~/.cache/pip"
    # the check writes its results where the cache step keeps them, and a second run reads them
    repo = tmp_path / "repo"
    (repo / "models").mkdir(parents=True)
    (repo / "models" / "vae.py").write_text(BUGGY)
    (repo / "models" / "pyproject.toml").write_text('[tool.vaelint]\n[[tool.vaelint.targets]]\ntarget = "vae.py:VAE"\ninput = ["6x20"]\n')
    inputs = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
    inputs.update({"torch": "", "summary": "false", "args": "models/vae.py:VAE --input 6x20"})
    github_output = tmp_path / "output"
    github_output.write_text("")
    env = {
        **os.environ,
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"],
        "GITHUB_OUTPUT": str(github_output),
        "GITHUB_WORKSPACE": str(repo),
    }
    env.pop("VAELINT_NO_CACHE", None)
    assert _run_step(steps["vaelint check"], inputs, {}, env, repo).returncode == 0
    assert os.path.isdir(repo / ".vaelint_cache") and not os.path.exists(repo / "models" / ".vaelint_cache")
    again = subprocess.run(
        [sys.executable, "-m", "vaelint", "check", "models/vae.py:VAE", "--input", "6x20", "--format", "json"],
        cwd=repo,
        env={**env, "VAELINT_CACHE_DIR": str(repo / ".vaelint_cache")},
        capture_output=True,
        text=True,
    )
    assert json.loads(again.stdout)["results"][0]["cached"] is True
