"""The README's examples are true: Quickstart, configuration, suppression, pre-commit, CI."""

import os
import re
import shutil

from conftest import ROOT
from typer.testing import CliRunner

from vaelint.cli import app
from vaelint.settings.pyproject import load_config
from vaelint.settings.suppress import inline_codes

README = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()


def blocks(lang: str, after: str) -> list[str]:
    section = README[README.index(after) :]
    return re.findall(rf"```{lang}\n(.*?)```", section, re.S)


def test_quickstart_has_exactly_two_commands_that_install_check_and_test():
    quick = README[README.index("## Quickstart") :]
    first = re.search(r"```\w*\n(.*?)```", quick, re.S).group(1).strip().splitlines()
    assert len(first) == 2
    assert "pip install" in first[0] and "vaelint check fixtures/" in first[0] and "torch==2.13.0" in first[0]
    assert "pip install" in first[1] and "pytest" in first[1] and "[test]" in first[1]
    target = re.search(r"vaelint check (\S+)", first[0]).group(1)
    assert os.path.exists(os.path.join(ROOT, target.split(":")[0]))


def test_the_configuration_example_loads_and_runs(tmp_path, monkeypatch):
    (toml,) = blocks("toml", "## Configuration")[:1]
    (tmp_path / "pyproject.toml").write_text(toml)
    cfg = load_config(str(tmp_path / "pyproject.toml"))
    assert cfg.targets and cfg.fail_on == "warning" and cfg.per_file_ignores == {"legacy/*.py": ["VAE004"]}
    dest = tmp_path / "fixtures" / "clean"
    dest.mkdir(parents=True)
    shutil.copy(os.path.join(ROOT, "fixtures", "clean", "mlp_vae.py"), dest)
    (tmp_path / "fixtures" / "training").mkdir()
    shutil.copy(os.path.join(ROOT, "fixtures", "training", "required_args.py"), tmp_path / "fixtures" / "training")
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["check"])
    assert r.exit_code == 0, r.output
    assert "no findings in 2 targets" in r.output
    assert "the training step of fixtures/training/required_args.py:main" in r.output


def test_the_suppression_examples_parse():
    (py,) = blocks("python", "### Suppressing a finding")[:1]
    first, noqa, second = py.strip().splitlines()
    open_ = lambda text: lambda p: (p.write_text(text + "\n"), str(p))[1]  # noqa: E731
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        a = open_(first)(Path(d) / "a.py")
        n = open_(noqa)(Path(d) / "n.py")
        b = open_(second)(Path(d) / "b.py")
        assert inline_codes(a, 1) == {"VAE004"}
        assert inline_codes(n, 1) == {"VAE004"}
        assert inline_codes(b, 1) == set()


def test_the_pre_commit_snippet_names_the_hook_this_repo_defines():
    yaml = next(b for b in blocks("yaml", "## pre-commit and CI") if "repos:" in b)
    assert "- id: vaelint" in yaml
    hooks = open(os.path.join(ROOT, ".pre-commit-hooks.yaml")).read()
    for line in ("- id: vaelint", "entry: vaelint check", "language: python", "types: [python]", "require_serial: true"):
        assert line in hooks


def test_the_ci_example_prints_the_workflow_and_the_action_uploads_sarif_and_gates():
    from vaelint.cisetup import Source, render

    workflow = render("github", Source("https://github.com/someone/vaelint", "v0.1.0", "--repo"))
    assert "uses: someone/vaelint@v0.1.0" in workflow and 'sarif: "true"' in workflow
    assert "security-events: write" in workflow  # the SARIF upload needs it
    assert "|| true" not in workflow  # it would hide usage errors too
    action = open(os.path.join(ROOT, "action.yml")).read()
    assert "upload-sarif" in action and "sarif_file: vaelint.sarif" in action
    assert "--output-format github" in action and "--also-output" in action
    assert "pip install vaelint\n" not in action  # not on PyPI: the action installs its own checkout
    (ci,) = blocks("bash", "In GitHub Actions")[:1]
    assert ci.strip() == "vaelint ci github > .github/workflows/vaelint.yml"
    (hook,) = [b for b in blocks("bash", "## pre-commit and CI") if "vaelint ci pre-commit" in b]
    assert hook.strip() == "vaelint ci pre-commit > .pre-commit-config.yaml"
    one_run = blocks("bash", "Without the action")[0]
    assert "--format github --also-output sarif=vaelint.sarif" in one_run


def test_no_placeholder_repository_anywhere_in_the_docs_or_the_action():
    """The project has no fixed home: nothing names a made-up one (`your-org`, `URL-OF-...`)."""
    for name in ("README.md", "action.yml", ".pre-commit-hooks.yaml"):
        text = open(os.path.join(ROOT, name)).read()
        assert "your-org" not in text and "URL-OF" not in text, name
    for folder, _, files in os.walk(os.path.join(ROOT, "docs")):
        for f in files:
            text = open(os.path.join(folder, f), encoding="utf-8").read()
            assert "your-org" not in text and "URL-OF" not in text, f


def test_the_example_rule_in_the_readme_runs(tmp_path, monkeypatch):
    """The 20-line rule of 'Writing a rule' works as written, through the real engine."""
    (code,) = blocks("python", "### Writing a rule")[:1]
    namespace: dict = {}
    exec(compile(code, "readme_rule.py", "exec"), namespace)  # noqa: S102 - the README's own example
    rule = namespace["UniformNoise"]
    import vaelint.analyze as analyze

    monkeypatch.setattr(analyze, "selected_rules", lambda options: [rule()])
    model = tmp_path / "uniform.py"
    model.write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass VAE(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.enc, self.dec = nn.Linear(8, 4), nn.Linear(2, 8)\n\n"
        "    def forward(self, x):\n        mu, logvar = self.enc(x).chunk(2, dim=1)\n"
        "        eps = torch.rand_like(mu)\n"
        "        return self.dec(mu + eps * torch.exp(0.5 * logvar)), mu, logvar\n"
    )
    from vaelint.inputs import parse_input_spec

    result = analyze.analyse(f"{model}:VAE", analyze.Options(inputs=[parse_input_spec("4x8")], dynamic=False))
    assert [(f.code, f.loc.line) for f in result.findings] == [("VAE900", 12)]
    assert "rand_like" in result.findings[0].message and "B x Z" in result.findings[0].message


def test_the_example_capture_route_in_the_readme_is_one_class_and_one_list_entry(tmp_path, monkeypatch):
    """'Adding a capture route': the README's route, put in the list where it says,
    is tried in order and named by the report, with the reason the route before it gave."""
    route_code, list_code = blocks("python", "### Adding a capture route")[:2]
    namespace: dict = {}
    exec(compile(route_code, "readme_route.py", "exec"), namespace)  # noqa: S102 - the README's own example
    import vaelint.capture.routes as routes_mod
    from vaelint.capture.recording import RecordingRoute
    from vaelint.capture.symbolic import SymbolicRoute

    namespace.update(Route=routes_mod.Route, SymbolicRoute=SymbolicRoute, RecordingRoute=RecordingRoute)
    exec(compile(list_code, "readme_routes.py", "exec"), namespace)  # noqa: S102
    monkeypatch.setattr(routes_mod, "routes", namespace["routes"])
    model = tmp_path / "branchy.py"
    model.write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass VAE(nn.Module):\n    check_in_eval = True\n\n"
        "    def __init__(self):\n        super().__init__()\n        self.enc, self.dec = nn.Linear(8, 4), nn.Linear(2, 8)\n"
        "        self.drop = nn.Dropout(0.5)\n\n"
        "    def forward(self, x):\n        if x.sum() > -1e9:  # data-dependent: fx cannot trace it\n"
        "            x = self.drop(x)\n        mu, logvar = self.enc(x).chunk(2, dim=1)\n"
        "        eps = torch.randn_like(mu)\n"
        "        return self.dec(mu + eps * torch.exp(0.5 * logvar)), mu, logvar\n"
    )
    import vaelint.analyze as analyze
    from vaelint.inputs import parse_input_spec

    result = analyze.analyse(f"{model}:VAE", analyze.Options(inputs=[parse_input_spec("4x8")], dynamic=False))
    assert result.error is None, result.error
    assert result.capture_method == "recording-eval"
    assert result.fallback_reason.startswith("torch.fx could not trace it symbolically")
    assert [r.stage for r in result.flow][:2] == ["input", "encoder"]


def test_every_heading_appears_once():
    import collections

    headings = [ln for ln in README.splitlines() if ln.startswith(("## ", "### "))]
    repeated = [h for h, n in collections.Counter(headings).items() if n > 1]
    assert not repeated, repeated


def test_what_you_see_is_the_real_output(monkeypatch):
    """The README's example report is what the command prints now (trailing spaces aside);
    ``VAELINT_REGOLD=1`` writes the real output into the README."""
    monkeypatch.chdir(ROOT)
    section = README[README.index("## What you see") :]
    block = re.search(r"```\n(.*?)```", section, re.S).group(1)
    command, *shown = block.splitlines()
    args = command.removeprefix("$ vaelint ").split()
    r = CliRunner().invoke(app, [*args, "--no-cache", "--color", "never"])
    real = [line.rstrip() for line in r.stdout.splitlines()]
    if os.environ.get("VAELINT_REGOLD"):
        text = README.replace(block, "\n".join([command, *real]) + "\n")
        open(os.path.join(ROOT, "README.md"), "w", encoding="utf-8").write(text)
        return
    # the measured values may differ in their last digit on another CPU: the rest must be the same
    measured = lambda lines: [re.sub(r"[0-9.e+-]+ ok", "N ok", line.rstrip()) for line in lines]  # noqa: E731
    assert r.exit_code == 1 and measured(shown) == measured(real)
