"""The switches a ruff/mypy user reaches for (issue: "The CLI a ruff/mypy user expects")."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from conftest import FIXTURES
from typer.testing import CliRunner

from vaelint.cli import app

runner = CliRunner()
BROADCAST = os.path.join(FIXTURES, "buggy", "recon_broadcast_mse.py")  # VAE003 at line 26
WARNING_ONLY = os.path.join(FIXTURES, "buggy", "mmd_beside_kl_mean.py")  # one VAE002 warning


# the OASIS SARIF 2.1.0 schema, vendored so the check runs everywhere, offline
SARIF_SCHEMA = os.path.join(os.path.dirname(__file__), "schemas", "sarif-2.1.0.json")


def run(*args, **kw):
    r = runner.invoke(app, list(args), **kw)
    assert "Traceback" not in r.output, r.output
    return r


def test_version_and_short_help():
    assert run("--version").output.strip() == run("-V").output.strip()
    assert run("-V").output.startswith("vaelint ")
    assert "Usage" in run("check", "-h").output


def test_output_format_and_its_alias():
    a = json.loads(run("check", f"{BROADCAST}:VAE", "--input", "4x784", "--no-dynamic", "--output-format", "json").output)
    b = json.loads(run("check", f"{BROADCAST}:VAE", "--input", "4x784", "--no-dynamic", "--format", "json").output)
    assert a == b and a["results"][0]["findings"][0]["code"] == "VAE003"


def test_exit_zero_keeps_usage_errors_at_2():
    assert run("check", f"{BROADCAST}:VAE", "--input", "4x784", "--no-dynamic", "--exit-zero").exit_code == 0
    assert run("check", f"{BROADCAST}:VAE", "--input", "4x784", "--no-dynamic").exit_code == 1
    assert run("check", f"{BROADCAST}:VAE", "--input", "x", "--exit-zero").exit_code == 2


def test_quiet_and_statistics():
    r = run("check", f"{BROADCAST}:VAE", "--input", "4x784", "--no-dynamic", "--quiet", "--statistics")
    assert "stage" not in r.output and "encoder" not in r.output
    assert "VAE003 recon-shape" in r.output
    assert "    1  VAE003  recon-shape" in r.output
    assert "1 finding (1 error) in 1 target" in r.output


def test_fail_on_error_on_the_command_line():
    assert run("check", f"{WARNING_ONLY}:VAE", "--input", "8x20", "--no-dynamic").exit_code == 1
    assert run("check", f"{WARNING_ONLY}:VAE", "--input", "8x20", "--no-dynamic", "--fail-on", "error").exit_code == 0
    assert run("check", f"{WARNING_ONLY}:VAE", "--input", "8x20", "--fail-on", "sometimes").exit_code == 2


def test_extend_select_and_extend_ignore():
    r = run("check", f"{BROADCAST}:VAE", "--input", "4x784", "--no-dynamic", "--extend-ignore", "VAE003", "--format", "json")
    assert json.loads(r.output)["results"][0]["findings"] == [] and r.exit_code == 0
    r = run(
        "check",
        f"{BROADCAST}:VAE",
        "--input",
        "4x784",
        "--no-dynamic",
        "--select",
        "VAE001",
        "--extend-select",
        "VAE003",
        "--format",
        "json",
    )
    assert [f["code"] for f in json.loads(r.output)["results"][0]["findings"]] == ["VAE003"]


def _project(tmp_path, ignore="VAE003"):
    sub = tmp_path / "sub"
    sub.mkdir()
    shutil.copy(BROADCAST, sub / "model.py")
    (sub / "pyproject.toml").write_text(f'[tool.vaelint]\nignore = ["{ignore}"]\n')
    return sub


def test_configuration_is_found_per_checked_file(tmp_path, monkeypatch):
    _project(tmp_path)
    monkeypatch.chdir(tmp_path)  # the parent folder: its own config is not the file's
    r = run("check", "sub/model.py:VAE", "--input", "4x784", "--no-dynamic", "--format", "json")
    assert json.loads(r.output)["results"][0]["findings"] == [], r.output


def test_config_path_and_isolated(tmp_path, monkeypatch):
    sub = _project(tmp_path)
    other = tmp_path / "other.toml"
    other.write_text('[tool.vaelint]\nignore = ["VAE001"]\n')
    monkeypatch.chdir(sub)
    isolated = run("check", "model.py:VAE", "--input", "4x784", "--no-dynamic", "--isolated", "--format", "json")
    assert [f["code"] for f in json.loads(isolated.output)["results"][0]["findings"]] == ["VAE003"]
    named = run("check", "model.py:VAE", "--input", "4x784", "--no-dynamic", "--config", str(other), "--format", "json")
    assert [f["code"] for f in json.loads(named.output)["results"][0]["findings"]] == ["VAE003"]
    assert run("check", "model.py:VAE", "--input", "4x784", "--config", "missing.toml").exit_code == 2


def test_show_settings_says_where_each_value_came_from(tmp_path, monkeypatch):
    sub = _project(tmp_path)
    monkeypatch.chdir(sub)
    out = run("check", "model.py:VAE", "--show-settings", "--fail-on", "error").output
    assert "ignore" in out and "VAE003" in out and "pyproject.toml" in out
    assert "fail-on              error  (command line)" in out


def test_noqa_is_honoured(tmp_path):
    lines = open(BROADCAST).read().splitlines()
    lines[25] += "  # noqa: VAE003"
    path = tmp_path / "noqa_model.py"
    path.write_text("\n".join(lines) + "\n")
    r = run("check", f"{path}:VAE", "--input", "4x784", "--no-dynamic", "--format", "json")
    result = json.loads(r.output)["results"][0]
    assert result["findings"] == [] and result["suppressed"] == 1
    lines[25] = lines[25].replace("VAE003", "E501")  # another tool's code silences nothing of ours
    path.write_text("\n".join(lines) + "\n")
    r = run("check", f"{path}:VAE", "--input", "4x784", "--no-dynamic", "--format", "json")
    assert [f["code"] for f in json.loads(r.output)["results"][0]["findings"]] == ["VAE003"]


@pytest.mark.parametrize(
    "args, words",
    [
        (["--input", "4x784", "--output-file", "no/such/folder/report.json"], "does not exist"),
        (["--input", "4x784", "--beta", "nan"], "--beta"),
    ],
)
def test_option_values_are_checked_before_any_model_is_loaded(tmp_path, args, words):
    marker = tmp_path / "loaded"
    model = tmp_path / "m.py"
    model.write_text(open(BROADCAST).read().replace("class VAE", f"open({str(marker)!r}, 'w').close()\n\n\nclass VAE", 1))
    r = run("check", f"{model}:VAE", *args)
    assert r.exit_code == 2 and words in r.output
    assert not marker.exists()


def test_confirmed_in_three_states():
    dyn = run("check", f"{BROADCAST}:VAE", "--input", "4x784").output
    assert "[confirmed]" in dyn
    static = run("check", f"{BROADCAST}:VAE", "--input", "4x784", "--no-dynamic").output
    assert "[unconfirmed: no confirmation pass (--no-dynamic)]" in static


def test_json_end_positions_and_rule_pages():
    r = run("check", f"{BROADCAST}:VAE", "--input", "4x784", "--no-dynamic", "--format", "json")
    f = json.loads(r.output)["results"][0]["findings"][0]
    assert f["line"] == 26 and f["end_line"] >= 26 and f["end_column"] > f["column"]
    assert f["help_uri"] is None  # no [project.urls] home: no link is made up (tests/test_rule_pages.py)


def test_sarif_is_valid_against_the_sarif_2_1_0_schema():
    import jsonschema

    schema = json.load(open(SARIF_SCHEMA))
    r = run("check", f"{BROADCAST}:VAE", "--input", "4x784", "--no-dynamic", "--format", "sarif")
    sarif = json.loads(r.output)
    jsonschema.validate(sarif, schema)
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    # no home configured: each rule's page is carried whole, and no link is made up
    assert all(rule["help"]["markdown"].startswith(f"# {rule['id']} ") and "helpUri" not in rule for rule in rules)
    region = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
    assert {"startLine", "startColumn", "endLine", "endColumn"} <= set(region)


def test_markdown_report_draws_the_shape_flow():
    r = run("check", f"{BROADCAST}:VAE", "--input", "4x784", "--no-dynamic", "--output-format", "markdown")
    out = r.output
    assert out.startswith("## vaelint: 1 finding (1 error) in 1 target")
    assert "```mermaid\nflowchart LR" in out
    assert 'subgraph encoder["encoder"]' in out and "input --> encoder" in out and "decoder --> loss" in out
    assert "class n6 finding" in out  # the loss box the VAE003 finding points at
    assert "| :x: | VAE003 recon-shape |" in out and "recon.view_as(x)" in out


def test_file_mode_without_targets_says_so(tmp_path):
    plain = tmp_path / "plain.py"
    plain.write_text("x = 1\n")
    r = run("check", str(plain))
    assert r.exit_code == 0
    assert "no VAE targets in 1 file: configure [[tool.vaelint.targets]] or annotate forward inputs" in r.output


def test_json_reports_follow_the_schema_in_docs(tmp_path):
    import jsonschema

    schema = json.load(open(os.path.join(os.path.dirname(FIXTURES), "docs", "report.schema.json")))
    jsonschema.Draft202012Validator.check_schema(schema)
    missing = tmp_path / "missing.py"
    r = run("check", f"{BROADCAST}:VAE", f"{WARNING_ONLY}:VAE", f"{missing}:VAE", "--input", "8x784", "--format", "json")
    report = json.loads(r.output)
    jsonschema.validate(report, schema)
    # the 20-wide model's first layer cannot take 8x784: an input error; the missing file: a load error
    assert [x["status"] for x in report["results"]] == ["findings", "error", "error"]
    assert [x["error"]["kind"] for x in report["results"][1:]] == ["input", "load"]


@pytest.mark.parametrize("fmt", ["json", "sarif", "github", "markdown"])
def test_machine_formats_write_a_document_when_no_file_holds_a_target(tmp_path, fmt):
    # a CI step that parses the report must not break on a commit with no model in it
    plain = tmp_path / "plain.py"
    plain.write_text("x = 1\n")
    r = run("check", str(plain), "--format", fmt)
    assert r.exit_code == 0
    assert "no VAE targets in 1 file" in r.stderr
    if fmt == "json":
        report = json.loads(r.stdout)
        assert report["results"] == [] and "no VAE targets in 1 file" in report["notes"][0]
        import jsonschema

        jsonschema.validate(report, json.load(open(os.path.join(os.path.dirname(FIXTURES), "docs", "report.schema.json"))))
    elif fmt == "sarif":
        import jsonschema

        sarif = json.loads(r.stdout)
        jsonschema.validate(sarif, json.load(open(SARIF_SCHEMA)))
        assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"] == []
        notes = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        assert "no VAE targets" in notes[0]["message"]["text"]
    elif fmt == "github":
        assert r.stdout == ""  # no annotation: nothing to say on the diff
    else:
        assert r.stdout.startswith("## vaelint: no VAE targets in 1 file")


def test_machine_format_document_goes_to_the_output_file_too(tmp_path):
    plain = tmp_path / "plain.py"
    plain.write_text("x = 1\n")
    out = tmp_path / "report.json"
    r = run("check", str(plain), "--format", "json", "--output-file", str(out))
    assert r.exit_code == 0 and r.stdout == ""
    assert json.loads(out.read_text())["results"] == []


def test_also_output_writes_more_formats_from_the_same_run(tmp_path):
    sarif, summary = tmp_path / "v.sarif", tmp_path / "summary.md"
    r = run(
        "check",
        f"{BROADCAST}:VAE",
        "--input",
        "4x784",
        "--no-dynamic",
        "--no-fixes",
        "--format",
        "github",
        "--also-output",
        f"sarif={sarif}",
        "--also-output",
        f"markdown={summary}",
    )
    assert r.exit_code == 1 and r.stdout.startswith("::error file=")
    assert json.loads(sarif.read_text())["runs"][0]["results"][0]["ruleId"] == "VAE003"
    assert summary.read_text().startswith("## vaelint: 1 finding (1 error) in 1 target")
    bad = run("check", f"{BROADCAST}:VAE", "--input", "4x784", "--also-output", "yaml=out.yml")
    assert bad.exit_code == 2 and "FORMAT=PATH" in bad.stderr


def test_jobs_run_targets_side_by_side_and_keep_their_order():
    targets = [f"{BROADCAST}:VAE", f"{WARNING_ONLY}:VAE", os.path.join(FIXTURES, "clean", "mlp_vae.py") + ":VAE"]
    one = json.loads(run("check", *targets, "--input", "8x784", "--no-dynamic", "--format", "json", "--jobs", "1").stdout)
    three = json.loads(run("check", *targets, "--input", "8x784", "--no-dynamic", "--format", "json", "--jobs", "3").stdout)
    assert [r["target"] for r in three["results"]] == [r["target"] for r in one["results"]]
    assert three == one  # the same results, in the targets' order
    assert run("check", *targets, "--input", "8x784", "--jobs", "0").exit_code == 2


def test_default_jobs_are_the_cores_bounded_by_targets_and_memory(monkeypatch):
    from vaelint.runtime import concurrency

    monkeypatch.setattr(concurrency.os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    monkeypatch.setattr(concurrency, "_available_memory", lambda: 64 << 30)
    assert concurrency.default_jobs(20) == 8 and concurrency.default_jobs(3) == 3
    monkeypatch.setattr(concurrency, "_available_memory", lambda: 5 << 30)  # room for two 2 GiB workers
    assert concurrency.default_jobs(20) == 2
    monkeypatch.setattr(concurrency, "_available_memory", lambda: 1 << 30)
    assert concurrency.default_jobs(20) == 1
    assert concurrency.threads_per_worker(2) == 4 and concurrency.threads_per_worker(16) == 1


def test_a_batch_of_one_sample_is_checked_at_one_and_says_so():
    """``--input 1x...`` (a big VAE trained one sample per device): with one sample a mean over B
    is a sum and a view pinned to the batch holds, yet the check runs at one, as the step trains
    (at two it held twice the step's activations), and reads the batch dim from the runs at other
    batch sizes, in a note; before, it was refused. The batch bugs show as they do at any batch."""
    r = CliRunner().invoke(
        app, ["check", os.path.join(FIXTURES, "clean/mlp_vae.py:VAE"), "--input", "1x784", "--format", "json", "--no-cache"]
    )
    assert r.exit_code == 0, r.output
    result = json.loads(r.output)["results"][0]
    assert result["findings"] == [] and any("a batch of one sample, checked at B=1" in n for n in result["notes"])
    assert result["flow"][0]["sizes"]["B"] == 1 and result["flow"][0]["shape"] == ["B", "784"]
    # a mean over B is a sum at B=1: the batch-dependent beta_eff still shows
    r = CliRunner().invoke(
        app, ["check", os.path.join(FIXTURES, "buggy/mc_kl_mean_vs_sum.py:VAE"), "--input", "1x16", "--format", "json", "--no-cache"]
    )
    found = json.loads(r.output)["results"][0]["findings"]
    assert [(f["code"], f["line"]) for f in found] == [("VAE002", 26)], r.output
    assert "it is 1 only at a batch of one sample" in found[0]["message"]
    # a view pinned to a batch of 1 holds at B=1 and breaks at any other: found at its line, as
    # the batch written down (at a batch of two it was found as the shape error it makes there)
    r = CliRunner().invoke(
        app,
        [
            "check",
            os.path.join(FIXTURES, "buggy/view_pinned_batch.py:ConvVAE"),
            "--input",
            "1x1x8x8",
            "--init",
            "batch_size=1",
            "--format",
            "json",
            "--no-cache",
        ],
    )
    findings = json.loads(r.output)["results"][0]["findings"]
    assert [(f["code"], f["line"]) for f in findings] == [("VAE005", 23)], r.output
    assert "x.size(0)" in findings[0]["fix"] and "writes the batch size down as 1" in findings[0]["message"]
