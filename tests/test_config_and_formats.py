"""[tool.vaelint] configuration, file mode, suppression, SARIF/GitHub output, colour."""

import json
import os
import shutil
import textwrap

import pytest
from conftest import FIXTURES
from typer.testing import CliRunner

from vaelint.cli import app
from vaelint.errors import VaelintError
from vaelint.settings.pyproject import load_config

runner = CliRunner()
BUGGY = os.path.join(FIXTURES, "buggy", "kl_attribute_weight.py")  # one VAE004 warning at line 25
BROADCAST = os.path.join(FIXTURES, "buggy", "recon_broadcast_mse.py")  # one VAE003 error at line 26
CLEAN = os.path.join(FIXTURES, "clean", "mlp_vae.py")


def project(tmp_path, toml: str, files: dict[str, str] | None = None):
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent(toml))
    for name, src in (files or {}).items():
        dest = tmp_path / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dest)
    return tmp_path


def invoke(*args):
    r = runner.invoke(app, ["check", *args])
    assert "Traceback" not in r.output
    return r


FULL = """
[tool.vaelint]
select = ["VAE"]
ignore = ["VAE011"]
fail-on = "error"
timeout = 30
device = "cpu"

[[tool.vaelint.targets]]
target = "models/vae.py:VAE"
input = ["8x24"]
init = { latent = 4 }
loss = "models/vae.py:loss_function"
loss-kwargs = { temperature = 1.0 }
beta = 2.0

[tool.vaelint.per-file-ignores]
"legacy/*.py" = ["VAE004"]
"""


def test_a_full_configuration_parses(tmp_path):
    path = project(tmp_path, FULL) / "pyproject.toml"
    cfg = load_config(str(path))
    assert cfg.select == ["VAE"] and cfg.ignore == ["VAE011"] and cfg.fail_on == "error"
    assert cfg.timeout == 30 and cfg.device == "cpu"
    (t,) = cfg.targets
    assert t.target == f"{tmp_path}/models/vae.py:VAE" and t.inputs == ["8x24"] and t.init == {"latent": 4}
    assert t.loss == f"{tmp_path}/models/vae.py:loss_function" and t.loss_kwargs == {"temperature": 1.0} and t.beta == 2.0
    assert cfg.per_file_ignores == {"legacy/*.py": ["VAE004"]}


@pytest.mark.parametrize(
    "snippet,needles",
    [
        ("colour = 1", ["colour = 1", "unknown key", "fail-on"]),
        ('fail-on = "sometimes"', ["fail-on = 'sometimes'", '"warning"', '"error"']),
        ('timeout = "soon"', ["timeout = 'soon'", "seconds"]),
        ('device = "tpu"', ["device = 'tpu'", "auto, cpu, cuda"]),
        ('select = ["XYZ1"]', ["select", "'XYZ1' is no rule code"]),
        ("ignore = 3", ["ignore = 3", "list of rule codes"]),
        ('per-file-ignores = ["a"]', ["per-file-ignores", "glob"]),
        ('[[tool.vaelint.targets]]\ntarget = "models/vae.txt:VAE"', ["targets[0].target", "path/to/model.py:Name"]),
        ('[[tool.vaelint.targets]]\ntarget = "m.py:VAE"\ninput = ["32x"]', ["targets[0].input", "empty size"]),
        ('[[tool.vaelint.targets]]\ntarget = "m.py:VAE"\ninit = 4', ["targets[0].init", "table"]),
        ('[[tool.vaelint.targets]]\ntarget = "m.py:VAE"\nbeta = "big"', ["targets[0].beta", "number"]),
        ('[[tool.vaelint.targets]]\ntarget = "m.py:VAE"\nwidth = 3', ["targets[0].width", "target, input, init"]),
    ],
)
def test_invalid_configuration_is_exit_2_naming_key_value_and_what_is_allowed(tmp_path, monkeypatch, snippet, needles):
    toml = "[tool.vaelint]\n" + snippet + "\n"
    if snippet.startswith("[["):
        toml = snippet + "\n"
    project(tmp_path, toml)
    monkeypatch.chdir(tmp_path)
    r = invoke()
    assert r.exit_code == 2
    for needle in needles:
        assert needle in r.output, r.output
    with pytest.raises(VaelintError):
        load_config(str(tmp_path / "pyproject.toml"))


def test_configured_targets_run_with_no_argument_and_cli_overrides(tmp_path, monkeypatch):
    project(
        tmp_path,
        """
        [tool.vaelint]
        [[tool.vaelint.targets]]
        target = "m/broadcast.py:VAE"
        input = "8x784"
        """,
        {"m/broadcast.py": BROADCAST},
    )
    monkeypatch.chdir(tmp_path)
    r = invoke("--format", "json")
    assert r.exit_code == 1
    (res,) = json.loads(r.output)["results"]
    assert res["flow"][0]["sizes"] == {"B": 8}
    # the command line's --input and --ignore win over the configuration
    r = invoke("--format", "json", "--input", "5x784")
    assert json.loads(r.output)["results"][0]["flow"][0]["sizes"] == {"B": 5}
    assert invoke("--ignore", "VAE003").exit_code == 0
    # a configured target named on the command line takes its configured input
    assert invoke("m/broadcast.py:VAE", "--format", "json").exit_code == 1


def test_no_target_and_nothing_configured_is_a_usage_error(tmp_path, monkeypatch):
    project(tmp_path, "[tool.other]\nx = 1\n")
    monkeypatch.chdir(tmp_path)
    r = invoke()
    assert r.exit_code == 2 and "no target given" in r.output


def test_file_mode_checks_configured_files_and_skips_the_rest_quietly(tmp_path, monkeypatch):
    project(
        tmp_path,
        """
        [[tool.vaelint.targets]]
        target = "m/broadcast.py:VAE"
        input = ["8x784"]
        """,
        {"m/broadcast.py": BROADCAST, "m/clean.py": CLEAN},
    )
    (tmp_path / "m" / "utils.py").write_text("def helper():\n    return 1\n")
    monkeypatch.chdir(tmp_path)
    # nothing checked, and said in one line (stderr)
    assert invoke("m/utils.py").exit_code == 0 and "no VAE targets in 1 file" in invoke("m/utils.py").output
    # named by hand, a model file with no target is not passed over as clean: exit 2, what to write
    r = invoke("m/clean.py")
    assert r.exit_code == 2 and "m/clean.py defines the model VAE but names no target" in r.output
    assert "vaelint check m/clean.py:VAE --input SHAPE" in r.output
    r = invoke("m/clean.py", "--input", "8x784")
    assert r.exit_code == 2 and "vaelint check m/clean.py:VAE --input 8x784" in r.output
    # --input with a file that has neither a model nor training code: nothing for it to go to
    r = invoke("m/utils.py", "--input", "8x784")
    assert r.exit_code == 2 and "--input has nothing to go to" in r.output
    # pre-commit hands every changed file: the model file without a target is listed in one note
    monkeypatch.setenv("PRE_COMMIT", "1")
    r = invoke("m/utils.py", "m/broadcast.py", "m/clean.py")
    assert r.exit_code == 1 and "VAE003" in r.output
    assert "1 file defines a model with no target configured, not checked: m/clean.py (VAE)" in r.output


def test_fail_on_error_lets_warnings_pass(tmp_path, monkeypatch):
    project(tmp_path, '[tool.vaelint]\nfail-on = "error"\n')
    monkeypatch.chdir(tmp_path)
    r = invoke(f"{BUGGY}:VAE", "--input", "6x24")
    assert "VAE004" in r.output and r.exit_code == 0
    assert invoke(f"{BROADCAST}:VAE", "--input", "8x784").exit_code == 1


def _copy_with_line(tmp_path, src, lineno, suffix):
    lines = open(src).read().splitlines()
    lines[lineno - 1] += suffix
    dest = tmp_path / os.path.basename(src)
    dest.write_text("\n".join(lines) + "\n")
    return str(dest)


@pytest.mark.parametrize(
    "suffix,line,suppressed",
    [
        ("  # vaelint: ignore[VAE004]", 25, True),
        ("  # vaelint: ignore[VAE001, VAE004]", 25, True),
        ("  # vaelint: ignore", 25, True),
        ("  # vaelint: ignore[VAE001]", 25, False),
        ("  # vaelint: ignore[VAE004]", 24, False),  # the wrong line
    ],
)
def test_inline_suppression(tmp_path, monkeypatch, suffix, line, suppressed):
    monkeypatch.chdir(tmp_path)
    path = _copy_with_line(tmp_path, BUGGY, line, suffix)
    r = invoke(f"{path}:VAE", "--input", "6x24", "--format", "json")
    res = json.loads(r.output)["results"][0]
    assert ([f["code"] for f in res["findings"]] == []) is suppressed
    assert res["suppressed"] == (1 if suppressed else 0)
    assert r.exit_code == (0 if suppressed else 1)
    if suppressed:
        text = invoke(f"{path}:VAE", "--input", "6x24").output
        assert "no findings in 1 target (1 suppressed)" in text


def test_per_file_ignores(tmp_path, monkeypatch):
    project(tmp_path, '[tool.vaelint.per-file-ignores]\n"legacy/*.py" = ["VAE004"]\n', {"legacy/old.py": BUGGY, "new/old.py": BUGGY})
    monkeypatch.chdir(tmp_path)
    assert invoke("legacy/old.py:VAE", "--input", "6x24").exit_code == 0
    assert invoke("new/old.py:VAE", "--input", "6x24").exit_code == 1


def test_sarif_field_by_field(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()
    path = tmp_path / "models" / "vae.py"
    path.parent.mkdir()
    shutil.copy(BROADCAST, path)
    r = invoke("models/vae.py:VAE", "--input", "8x784", "--format", "sarif")
    assert r.exit_code == 1
    sarif = json.loads(r.output)
    assert sarif["$schema"].endswith("sarif-2.1.0.json") and sarif["version"] == "2.1.0"
    (run,) = sarif["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "vaelint" and driver["version"] == "0.1.0" and "informationUri" not in driver
    codes = [rule["id"] for rule in driver["rules"]]
    assert "VAE003" in codes and "VAE013" in codes
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert "What it finds" in rule["help"]["text"] and "Fix" in rule["help"]["text"]
    (res,) = run["results"]
    assert res["ruleId"] == "VAE003" and res["level"] == "error" and "B x 1 x 784" in res["message"]["text"]
    (loc,) = res["locations"]
    assert loc["physicalLocation"]["artifactLocation"]["uri"] == "models/vae.py"
    assert loc["physicalLocation"]["region"] == {"startLine": 26, "startColumn": 11, "endLine": 26, "endColumn": 48}
    assert len(res["partialFingerprints"]["primaryLocationLineHash"]) > 8
    assert driver["rules"][res["ruleIndex"]]["id"] == "VAE003"


def test_github_annotations_for_each_severity_and_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(os.path.dirname(FIXTURES))
    r = invoke(
        "fixtures/buggy/recon_broadcast_mse.py:VAE",
        "fixtures/buggy/kl_attribute_weight.py:VAE",
        "missing.py:VAE",
        "--input",
        "6x784",
        "--format",
        "github",
    )
    lines = r.output.splitlines()
    assert any(
        ln.startswith("::error file=fixtures/buggy/recon_broadcast_mse.py,line=26,col=11,title=VAE003 recon-shape::") for ln in lines
    )
    # at 6x784 the 24-wide model's first layer cannot take its input: the input's error, said
    assert any(
        ln.startswith("::error title=vaelint (input)::fixtures/buggy/kl_attribute_weight.py:VAE: your --input 6x784") for ln in lines
    ), lines
    assert any(ln.startswith("::error title=vaelint (load)::missing.py:VAE") for ln in lines)
    assert r.exit_code == 2


def test_github_warning_line(tmp_path, monkeypatch):
    monkeypatch.chdir(os.path.dirname(FIXTURES))
    r = invoke("fixtures/buggy/kl_attribute_weight.py:VAE", "--input", "6x24", "--format", "github")
    (line,) = r.output.splitlines()
    assert line.startswith("::warning file=fixtures/buggy/kl_attribute_weight.py,line=25,col=25,title=VAE004 kl-scaling::")
    assert "%0A" not in line and "\x1b[" not in line


def test_colour_follows_no_color_and_the_terminal(monkeypatch):
    # CliRunner is not a terminal: plain text
    plain = invoke(f"{BROADCAST}:VAE", "--input", "8x784")
    assert "\x1b[" not in plain.output
    forced = invoke(f"{BROADCAST}:VAE", "--input", "8x784", "--color", "always")
    assert "\x1b[" in forced.output
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in invoke(f"{BROADCAST}:VAE", "--input", "8x784").output
    for fmt in ("json", "sarif", "github"):
        assert "\x1b[" not in invoke(f"{BROADCAST}:VAE", "--input", "8x784", "--format", fmt, "--color", "always").output


def test_file_mode_finds_models_that_annotate_their_input_shape(tmp_path, monkeypatch):
    monkeypatch.chdir(os.path.dirname(FIXTURES))
    r = invoke("fixtures/clean/annotated_input_vae.py", "--format", "json")
    (res,) = json.loads(r.output)["results"]
    assert r.exit_code == 0 and res["target"].endswith("annotated_input_vae.py:VAE")
    assert res["flow"][0]["shape"] == ["B", "1", "28", "28"] and res["flow"][0]["sizes"] == {"B": 8}
    # named (not numeric) dims give no input shape: named by hand, exit 2 with what to write
    r = invoke("fixtures/clean/jaxtyping_vae.py")
    assert r.exit_code == 2 and "vaelint check fixtures/clean/jaxtyping_vae.py:VAE --input SHAPE" in r.output
    # passed by pre-commit, listed in one note
    monkeypatch.setenv("PRE_COMMIT", "1")
    quiet = invoke("fixtures/clean/jaxtyping_vae.py")
    assert quiet.exit_code == 0 and quiet.output.startswith("vaelint: no VAE targets in 1 file")
    assert "fixtures/clean/jaxtyping_vae.py (VAE" in quiet.output


def test_file_mode_runs_nothing_of_files_that_declare_no_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "script.py").write_text("import os\nopen('touched.txt', 'w').write('x')\nclass A:\n    pass\n")
    r = invoke("script.py")
    assert r.exit_code == 0 and r.output.startswith("vaelint: no VAE targets in 1 file")
    assert not (tmp_path / "touched.txt").exists()
