"""A Hydra main run as written (issue "Any training code, found by running it": "@hydra.main"):
its config folder and overrides in --script-args, its own error said rather than Hydra's exit,
and a config a Hydra plugin provides said as such."""

import os
import shutil

import pytest
from json_cli import check_json as _json
from training_cli import RUNNING


def test_a_hydra_main_runs_with_its_config_and_overrides(monkeypatch):
    monkeypatch.chdir(os.path.join(RUNNING, "hydra_app"))
    before = sorted(os.listdir("."))
    r, result = _json("train.py")
    assert r.exit_code == 0 and result["error"] is None and not result["findings"], r.output
    r, result = _json("train.py", "--script-args", "train.kl_weight=4")
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE004", 25)], r.output
    assert sorted(os.listdir(".")) == before  # Hydra's outputs/ folder was not made
    assert any("outputs" in n and "was not performed" in n for n in result["notes"])


def test_an_error_in_a_hydra_task_is_said_not_hydras_exit(tmp_path, monkeypatch):
    # Hydra prints what its task raised and exits 1: the report said "SystemExit: 1"
    # (MLShukai/PrimitiveAMI); with HYDRA_FULL_ERROR set in the run, the error itself is said
    shutil.copytree(os.path.join(RUNNING, "hydra_app"), tmp_path / "app")
    script = tmp_path / "app" / "train.py"
    script.write_text(script.read_text().replace("cfg.model.z_dim)", "cfg.model.z_dim + undefined_width)", 1))
    monkeypatch.chdir(tmp_path / "app")
    r, result = _json("train.py")
    said = " ".join(r.output.split())
    assert result["error"] is not None and "NameError: name 'undefined_width' is not defined" in said, r.output
    assert "SystemExit: 1" not in said


def test_a_hydra_config_a_plugin_provides_is_said_as_such_not_as_missing_data(tmp_path, monkeypatch):
    # `override hydra/job_logging: colorlog` without hydra-colorlog: Hydra's MissingConfigException is
    # an OSError, and the report added "its data is not here: give the batch with --input" (IML-DKFZ/m-pax_lib)
    pytest.importorskip("hydra")
    shutil.copytree(os.path.join(RUNNING, "hydra_app"), tmp_path / "app")
    config = tmp_path / "app" / "conf" / "config.yaml"
    config.write_text("defaults:\n  - override hydra/job_logging: colorlog\n\n" + config.read_text())
    monkeypatch.chdir(tmp_path / "app")
    r, result = _json("train.py")
    said = " ".join(result["error"]["message"].split())
    assert r.exit_code == 2 and "Hydra has no config 'colorlog' for hydra/job_logging" in said, r.output
    assert 'choose one that is there with --script-args "hydra/job_logging=default"' in said, r.output
    assert "its data is not here" not in said


def test_a_config_group_the_command_line_chooses_is_said_with_its_options(tmp_path, monkeypatch):
    # @hydra.main with no config_name, its model group chosen on the command line (+model=...): run
    # with none, OmegaConf's "Key 'model' is not in struct" was all the user got, behind an artefact
    # of reading the code (helper-found: kpandey008/DiffuseVAE)
    shutil.copytree(os.path.join(RUNNING, "hydra_app"), tmp_path / "app")
    app = tmp_path / "app"
    (app / "conf" / "model").mkdir()
    (app / "conf" / "model" / "small.yaml").write_text("x_dim: 64\nz_dim: 4\n")
    (app / "conf" / "model" / "large.yaml").write_text("x_dim: 784\nz_dim: 32\n")
    script = app / "train.py"
    script.write_text(script.read_text().replace('config_path="conf", config_name="config"', 'config_path="conf"'))
    monkeypatch.chdir(app)
    r, result = _json("train.py")
    assert r.exit_code == 2, r.output
    message = " ".join(result["error"]["message"].split())
    assert "Key 'model' is not in struct (Hydra's config has no 'model': it is a config group the command line chooses" in message, message
    assert '--script-args "+model=large"; conf/model holds large, small)' in message, message


def test_a_hydra_main_that_calls_its_config_is_run_to_the_step_it_names(monkeypatch):
    # `call(cfg.job)` with `_target_: jobs.fitting.fit` in conf/fit.yaml: run.py imports no training code,
    # so it was read as a model file ("no VAE targets", exit 0) (helper-found: kumatheworld/fakeglyph)
    monkeypatch.chdir(os.path.join(RUNNING, "hydra_call_app"))
    before = sorted(os.listdir("."))
    r, result = _json("run.py")
    assert r.exit_code == 1 and result["error"] is None, r.output
    assert [(f["code"], os.path.basename(f["path"]), f["line"]) for f in result["findings"]] == [("VAE002", "fitting.py", 12)]
    assert sorted(os.listdir(".")) == before


def test_the_config_targets_are_the_entry_points_imports():
    from vaelint.frontends.training.repofiles import config_targets
    from vaelint.frontends.training.sites import parse_file

    file = parse_file(os.path.realpath(os.path.join(RUNNING, "hydra_call_app", "run.py")))
    assert config_targets(file) == [
        "jobs.fitting",
        "jobs.fitting.fit",
        "jobs.networks",
        "jobs.networks.TableVAE",
        "torch.optim",
        "torch.optim.Adam",
    ]


def test_a_hydra_plugin_is_named_as_its_package():
    from vaelint.frontends.training.hydramissing import hydra_plugin

    assert hydra_plugin("hydra/launcher", "joblib") == "hydra-joblib-launcher"
    assert hydra_plugin("hydra/launcher", "submitit_slurm") == "hydra-submitit-launcher"
    assert hydra_plugin("hydra/sweeper", "optuna") == "hydra-optuna-sweeper"
    assert hydra_plugin("hydra/job_logging", "colorlog") == "hydra-colorlog"
