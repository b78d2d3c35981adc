"""The pytest plugin (vaelint/pytest_plugin.py, entry point ``pytest11``) and
``vaelint.testing.assert_vae_ok``, on a temporary project run by pytester."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

MODELS = """
import torch
import torch.nn as nn


class Clean(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(12, 6)
        self.dec = nn.Linear(3, 12)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=-1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z), mu, logvar

    def loss_function(self, recon, x, mu, logvar):
        rec = ((recon - x) ** 2).sum(dim=1).mean()
        return rec - 0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp(), dim=1).mean()


class Buggy(Clean):
    def loss_function(self, recon, x, mu, logvar):
        rec = ((recon - x) ** 2).sum(dim=1).mean()
        return rec - 0.5 * torch.mean(1 + logvar - mu ** 2 - logvar.exp())
"""

PYPROJECT = """
[tool.vaelint]

[[tool.vaelint.targets]]
target = "models.py:Buggy"
input = ["8x12"]

[[tool.vaelint.targets]]
target = "models.py:Clean"
input = ["8x12"]
"""


@pytest.fixture
def project(pytester, monkeypatch):
    monkeypatch.delenv("VAELINT_NO_CACHE", raising=False)  # the plugin's re-runs are cached, as a user's are
    pytester.makepyfile(models=MODELS)
    pytester.makefile(".toml", pyproject=PYPROJECT)
    return pytester


def test_the_plugin_is_registered_by_its_entry_point():
    from importlib.metadata import entry_points

    assert [e.value for e in entry_points(group="pytest11") if e.name == "vaelint"] == ["vaelint.pytest_plugin"]


def test_each_configured_target_is_an_item_that_fails_with_its_findings(project):
    result = project.runpytest_subprocess("--vaelint", "-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*models.py::vaelint[[]Buggy[]] FAILED*", "*models.py::vaelint[[]Clean[]] PASSED*"])
    result.stdout.fnmatch_lines(["models.py:24:28: VAE002 kl-reduction: *", "  fix: *kl.sum(dim=-1).mean()*"])
    assert "from the cache" not in result.stdout.str()
    again = project.runpytest_subprocess("--vaelint", "-p", "no:cacheprovider")
    again.assert_outcomes(passed=1, failed=1)  # the same verdicts, answered from the cache
    again.stdout.fnmatch_lines(["models.py:Buggy *(from the cache: nothing it reads has changed)*"])


def test_without_the_option_nothing_is_added(project):
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert not (project.path / ".vaelint_cache").exists()


def test_a_target_that_cannot_be_checked_fails(project):
    project.makefile(".toml", pyproject=PYPROJECT.replace("8x12", "8x13", 1))
    result = project.runpytest_subprocess("--vaelint", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*could not be analysed*"])


def test_assert_vae_ok_in_a_users_own_test(project):
    project.makepyfile(
        test_mine=textwrap.dedent("""
        from models import Buggy, Clean
        from vaelint.testing import assert_vae_ok

        def test_clean():
            report = assert_vae_ok(Clean(), "8x12")
            assert report.ok

        def test_buggy():
            assert_vae_ok(Buggy(), "8x12")
    """)
    )
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "test_mine.py")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*vaelint: 1 finding (VAE002)*", "*VAE002 kl-reduction*"])
