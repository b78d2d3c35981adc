"""`vaelint annotate`: jaxtyping annotations written from the solved shapes, as a
diff that applies, keeping the file's formatting, and holding in the round trip
(VAE014 finds nothing, and jaxtyped(typechecker=beartype) accepts every call)."""

from __future__ import annotations

import difflib
import importlib
import os
import shutil
import sys

import pytest
import torch
from conftest import FIXTURES
from typer.testing import CliRunner

from vaelint.cli import app
from vaelint.contracts.proposals import dim_name

runner = CliRunner()


def _call_standard(mod, model, xs):
    recon, mu, logvar = model(*xs)[:3]
    return mod.loss_function(recon, xs[0], mu, logvar)


def _call_method_loss(mod, model, xs):
    recon, mu, logvar = model(*xs)
    return model.loss_function(recon, xs[0], mu, logvar)


# fixture, target, inputs (at two batch sizes the jaxtyped run uses), how the loss is called
CASES = [
    ("mlp_vae.py", "VAE", ["4x784"], _call_standard),
    ("conv_vae.py", "ConvVAE", ["4x1x28x28"], _call_method_loss),
    ("gru_sequence_vae.py", "SequenceVAE", ["4x12x3"], _call_standard),
    ("conditional_vae.py", "CVAE", ["6x20", "6x3"], _call_standard),
]


def _annotate(path, target, inputs, *extra):
    args = ["annotate", f"{path}:{target}"] + [a for i in inputs for a in ("--input", i)] + list(extra)
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result


@pytest.mark.parametrize("name,target,inputs,call", CASES, ids=[c[0] for c in CASES])
def test_the_round_trip_holds(name, target, inputs, call, tmp_path, monkeypatch):
    src = os.path.join(FIXTURES, "clean", name)
    path = tmp_path / name
    shutil.copy(src, path)
    original = path.read_text()
    monkeypatch.chdir(tmp_path)

    diff = _annotate(name, target, inputs).stdout
    assert path.read_text() == original  # the diff alone changes nothing
    assert diff.startswith(f"--- a/{name}") and "Float[torch.Tensor" in diff

    _annotate(name, target, inputs, "--write")
    annotated = path.read_text()
    # the printed diff is exactly the change --write made
    assert diff == "".join(difflib.unified_diff(original.splitlines(True), annotated.splitlines(True), f"a/{name}", f"b/{name}"))
    # formatting and comments kept: every line but the signatures is unchanged
    before = [ln for ln in original.splitlines() if not ln.lstrip().startswith("def ")]
    after = [ln for ln in annotated.splitlines() if not ln.lstrip().startswith("def ") and ln != "from jaxtyping import Float"]
    assert before == after
    assert annotated.count("from jaxtyping import Float") == 1

    # VAE014 holds them, and nothing else changed in the report
    check = runner.invoke(
        app, ["check", f"{name}:{target}", *[a for i in inputs for a in ("--input", i)], "--format", "json", "--no-dynamic"]
    )
    assert '"VAE014"' not in check.stdout, check.stdout

    # jaxtyping itself, with beartype, on every call, at two batch sizes
    from jaxtyping import install_import_hook

    module = f"annotated_{name[:-3]}"
    shutil.copy(path, tmp_path / f"{module}.py")
    sys.path.insert(0, str(tmp_path))
    try:
        with install_import_hook(module, "beartype.beartype"):
            mod = importlib.import_module(module)
        model = getattr(mod, target)()
        for batch in (4, 7):
            xs = [torch.rand(batch, *(int(s) for s in spec.split("x")[1:])) for spec in inputs]
            loss = call(mod, model, xs)
            assert loss.dim() == 0
        with pytest.raises(Exception, match="Type-check error"):  # the checker is really on
            model(*[torch.zeros(4, 5, dtype=torch.int64) for _ in inputs])
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(module, None)


def test_existing_annotations_are_kept_and_a_second_run_has_nothing_to_add(tmp_path, monkeypatch):
    shutil.copy(os.path.join(FIXTURES, "clean", "jaxtyping_vae.py"), tmp_path / "m.py")
    monkeypatch.chdir(tmp_path)
    first = _annotate("m.py", "VAE", ["4x24"]).stdout
    assert "-    def forward(" not in first  # forward was annotated by its author
    assert "+def loss_function(recon: Float[Tensor, " in first  # the file's own Tensor import is used
    assert "from torch import Tensor" not in [ln[1:] for ln in first.splitlines() if ln.startswith("+")]
    _annotate("m.py", "VAE", ["4x24"], "--write")
    again = _annotate("m.py", "VAE", ["4x24"])
    assert again.stdout == "" and "nothing to annotate" in again.stderr


def test_bad_targets_exit_2_with_a_message(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.py").write_text("x = 1\n")
    for args in (["annotate", "m.py"], ["annotate", "m.py:VAE", "--input", "4x8"], ["annotate", "nowhere.py:VAE", "--input", "4x8"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert (tmp_path / "m.py").read_text() == "x = 1\n"


@pytest.mark.parametrize(
    "attribute,name",
    [
        ("latent_dim", "latent"),
        ("hidden_size", "hidden"),
        ("z_dim", "z"),
        ("n_channels", "channels"),
        ("num_features", "features"),
        ("lr", None),
        ("batch_size", None),
        ("latent", "latent"),
    ],
)
def test_dim_names_come_from_the_models_sizes(attribute, name):
    assert dim_name(attribute) == name
