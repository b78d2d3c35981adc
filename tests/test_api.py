"""The Python API (vaelint/api.py): ``vaelint.check`` on model objects, classes,
factories, target strings and tensors gives the command's findings."""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest
import torch
import torch.nn as nn
from conftest import FIXTURES
from fixture_cases import all_cases, result_of

import vaelint

MODEL_CASES = [c for c in all_cases("buggy") + all_cases("clean") if c.target != "-" and c.path.endswith(".py")]


def _import(path: str):
    """The fixture file imported as a user's notebook or test imports its models."""
    name = "_api_" + os.path.relpath(path, FIXTURES).replace(os.sep, "_").removesuffix(".py")
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, os.path.dirname(path))
    argv, sys.argv = sys.argv, [path]  # a module that reads its arguments at import
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(os.path.dirname(path))
        sys.argv = argv
    return module


def _loss_object(case, module):
    """The case's loss as a user hands it to the API: the function itself, an instance of a loss class."""
    if case.loss is None:
        return None
    obj = getattr(module, case.loss)
    return obj() if isinstance(obj, type) else obj


def _needs_cuda(target) -> bool:
    """A model class that moves itself to CUDA when built (``device="cuda"`` by default): on a
    machine without CUDA a user cannot build it, and hands the API the class to build."""
    if not isinstance(target, type) or torch.cuda.is_available():
        return False
    try:
        target()
    except AssertionError as e:
        return "CUDA" in str(e)
    except Exception:  # noqa: BLE001 - anything else: the object case as before
        return False
    return False


@pytest.mark.parametrize("case", MODEL_CASES, ids=lambda c: c.id)
def test_a_model_object_gets_the_commands_findings(case):
    try:
        module = _import(case.path)
    except ImportError as e:  # a fixture of a package not installed here: a user could not import it either
        pytest.skip(f"the fixture's module does not import here: {e}")
    target = getattr(module, case.target)
    if isinstance(target, type) and issubclass(target, torch.jit.ScriptModule):
        # old-style TorchScript built here runs as TorchScript: the API says to check its file
        with pytest.raises(vaelint.UsageError, match="Check it from its file"):
            vaelint.check(target(), *case.inputs)
        return
    # built as the command builds it (seed 0): a model object built from whatever state the global
    # generator was left in by earlier tests has other weights, and a confirmation that depends on
    # them (a tanh decoder's output all inside [0, 1) or not) would differ by test order
    torch.manual_seed(0)
    obj = target if case.init or _needs_cuda(target) else (target() if isinstance(target, type) else target)
    here = os.getcwd()
    os.chdir(os.path.dirname(FIXTURES))
    try:
        report = vaelint.check(
            obj, *case.inputs, loss=_loss_object(case, module), init=case.init or None, beta=case.beta, loss_kwargs=case.loss_kwargs
        )
    finally:
        os.chdir(here)
    assert report.error is None, report.error.message
    found = {(f.code, f.line) for f in report.findings}
    assert found == case.expect, report.text()
    command = result_of(case)  # the command line's check of the same case (computed once a session)
    assert sorted((f.code, f.loc.line, f.confirmed) for f in command.findings) == sorted(
        (f.code, f.line, f.confirmed) for f in report.findings
    )
    # at the model's file, or a loss file beside it (losses.py found for vae.py)
    assert all(os.path.dirname(f.path) == os.path.dirname(os.path.realpath(case.path)) for f in report.findings)
    assert report.ok == (not case.expect and not report.skipped)


def _vae_file(tmp_path, body: str):
    path = tmp_path / "api_models.py"
    path.write_text(body)
    sys.path.insert(0, str(tmp_path))
    try:
        spec = importlib.util.spec_from_file_location(f"api_models_{id(path)}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(tmp_path))
    return module


KL_MEAN = """
import torch
import torch.nn as nn


class VAE(nn.Module):
    def __init__(self, dim=12, latent=3):
        super().__init__()
        self.enc = nn.Linear(dim, 2 * latent)
        self.dec = nn.Linear(latent, dim)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=-1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z), mu, logvar


def vae_loss(recon, x, mu, logvar):
    rec = ((recon - x) ** 2).sum(dim=1).mean()
    kl = -0.5 * torch.mean(1 + logvar - mu ** 2 - logvar.exp())
    return rec + kl


def clean_loss(recon, x, mu, logvar):
    rec = ((recon - x) ** 2).sum(dim=1).mean()
    kl = -0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp(), dim=1).mean()
    return rec + kl
"""


def test_findings_are_typed_records_at_the_users_line(tmp_path):
    module = _vae_file(tmp_path, KL_MEAN)
    report = vaelint.check(module.VAE(), "8x12", loss=module.vae_loss)
    (finding,) = report.findings
    assert (finding.code, finding.name, finding.severity) == ("VAE002", "kl-reduction", "warning")
    assert finding.path == os.path.realpath(tmp_path / "api_models.py") and finding.line == 20 and finding.col
    assert "kl.sum" in finding.fix or "sum" in finding.fix
    assert finding.confirmed is None and finding.beta_eff == "1/Z"  # a run cannot show a reduction's weight
    assert not report.ok and report.error is None
    assert [row.stage for row in report.flow][:2] == ["input", "encoder"]
    assert "VAE002" in repr(report) and "api_models.py:20" in repr(report)
    assert report.to_dict()["results"][0]["findings"][0]["code"] == "VAE002"
    assert "VAE002" in report.__rich__().plain  # rich (a notebook with rich's extension) shows the text report
    assert report._repr_html_().startswith("<pre>") and "api_models.py:20" in report._repr_html_()


def test_a_clean_model_is_ok_and_the_callers_model_is_untouched(tmp_path):
    module = _vae_file(tmp_path, KL_MEAN)
    model = module.VAE().eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for isolate in (True, False):
        report = vaelint.check(model, "8x12", loss=module.clean_loss, isolate=isolate)
        assert report.ok, report.text()
        assert report.findings == [] and report.skipped == []
    assert not model.training and all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_scripted_functions_are_read_as_python_and_put_back(monkeypatch):
    # @torch.jit.script sampler and KL: found through (VAE002 at the scripted KL's caller), and
    # the caller's module keeps its scripted functions after an in-process check
    module = _import(os.path.join(FIXTURES, "buggy", "jit_scripted_kl_mean.py"))
    assert isinstance(module.draw_gaussian, torch.jit.ScriptFunction)
    for isolate in (True, False):
        report = vaelint.check(module.VAE(), "16x784", loss=module.loss_function, isolate=isolate)
        assert [(f.code, f.line) for f in report.findings] == [("VAE002", 36)], report.text()
        assert isinstance(module.draw_gaussian, torch.jit.ScriptFunction)
        assert isinstance(module.gaussian_kl, torch.jit.ScriptFunction)


def test_a_file_loads_with_torchscript_off_and_torchscript_is_on_again_after():
    from torch.jit import _state

    from vaelint.frontends import LoadRequest, load_program

    program = load_program(os.path.join(FIXTURES, "clean", "jit_scripted_sampler.py") + ":VAE", LoadRequest())
    scripted = sys.modules[type(program.model).__module__].draw_gaussian
    assert not isinstance(scripted, torch.jit.ScriptFunction) and callable(scripted)
    assert bool(_state._enabled)
    # old-style ScriptModule subclasses load as plain modules; torch's own class is back after
    script_module = torch.jit.ScriptModule
    program = load_program(os.path.join(FIXTURES, "clean", "old_style_script_module.py") + ":VAE", LoadRequest())
    assert not isinstance(program.model, script_module) and isinstance(program.model, torch.nn.Module)
    assert torch.jit.ScriptModule is script_module


def test_a_class_a_factory_and_a_target_string_agree(tmp_path):
    module = _vae_file(tmp_path, KL_MEAN)
    spec = f"{tmp_path / 'api_models.py'}:VAE"
    reports = [
        vaelint.check(module.VAE, "8x12", loss=module.vae_loss, init={"latent": 4}),
        vaelint.check(lambda: module.VAE(latent=4), "8x12", loss=module.vae_loss),
        vaelint.check(spec, "8x12", loss=f"{tmp_path / 'api_models.py'}:vae_loss", init={"latent": 4}),
        vaelint.check(module.VAE(latent=4), "8x12"),  # vae_loss found by name beside the class
    ]
    assert [[(f.code, f.line) for f in r.findings] for r in reports] == [[("VAE002", 20)]] * 4


def test_tensors_are_inputs_with_their_values(tmp_path):
    module = _vae_file(tmp_path, KL_MEAN)
    x = torch.rand(8, 12)
    report = vaelint.check(module.VAE(), x, loss=module.vae_loss)
    assert [f.code for f in report.findings] == ["VAE002"]
    assert report.results[0].input_text.startswith("B x 12")
    ids = vaelint.api._spec(torch.tensor([[3, 1], [0, 2]]))
    assert (ids.shape, ids.dtype, ids.high) == ((2, 2), "int64", 4) and ids.real is not None


def test_a_model_that_fails_is_an_error_never_ok():
    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Linear(5, 4)

        def forward(self, x):
            return self.enc(x)

    report = vaelint.check(Broken(), "4x7")
    assert report.error is not None and not report.ok
    assert "could not be analysed" in report.text()


def test_mistakes_in_the_call_raise_usage_errors():
    model = nn.Linear(3, 3)
    with pytest.raises(vaelint.UsageError, match="unknown dtype"):
        vaelint.check(model, "4x3:float99")
    with pytest.raises(vaelint.UsageError, match="unknown rule code"):
        vaelint.check(model, "4x3", select=["VAE999"])
    with pytest.raises(vaelint.UsageError, match="device"):
        vaelint.check(model, "4x3", device="tpu")
    with pytest.raises(vaelint.UsageError, match="not a dict"):
        vaelint.check(model, {"x": 1})
    report = vaelint.check(42, "4x3")
    assert report.error is not None and "nn.Module" in report.error.message


def test_the_package_imports_the_api_only_when_asked():
    import subprocess

    code = "import sys, vaelint; assert 'vaelint.api' not in sys.modules; vaelint.check; assert 'vaelint.api' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_process_with_cuda_set_up_is_checked_in_process(tmp_path, monkeypatch):
    # a forked worker cannot use the CUDA its parent set up (a notebook that moved its model to the GPU)
    module = _vae_file(tmp_path, KL_MEAN)
    model = module.VAE()
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr("vaelint.runtime.worker.run_target", lambda *a, **k: pytest.fail("forked a worker"))
    report = vaelint.check(model, "8x12", loss=module.vae_loss, device="cpu")
    assert [f.code for f in report.findings] == ["VAE002"]
    assert any("CUDA set up" in n for n in report.notes)
    assert model.training and all(p.grad is None for p in model.parameters())
