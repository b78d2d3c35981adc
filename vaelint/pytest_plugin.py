"""pytest plugin (entry point ``pytest11``): ``pytest --vaelint`` adds one test item
per configured ``[[tool.vaelint.targets]]`` in the files pytest collects, as
pytest-mypy adds one per file. An item fails with the text report when its target
has findings at or above ``fail-on``, or could not be checked. Unchanged targets are
answered from the result cache (``.vaelint_cache``), so a re-run costs nothing.

Imports nothing of torch or of vaelint's pipeline unless ``--vaelint`` is given.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("vaelint")
    group.addoption(
        "--vaelint",
        action="store_true",
        default=False,
        help="check each [[tool.vaelint.targets]] entry of the collected files with vaelint",
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "vaelint: a vaelint check of a configured target")


def pytest_collect_file(file_path, parent):
    if not parent.config.getoption("vaelint") or file_path.suffix not in (".py", ".ipynb"):
        return None
    settings = _settings(parent.config)
    targets = settings.for_file(str(file_path)).targets_in(str(file_path))
    return VaelintFile.from_parent(parent, path=file_path) if targets else None


def _settings(config):
    """One Settings for the session (each pyproject.toml read once)."""
    from vaelint.settings.per_file import CommandLine, Settings

    if not hasattr(config, "_vaelint_settings"):
        config._vaelint_settings = Settings(CommandLine())
    return config._vaelint_settings


class VaelintFile(pytest.File):
    def collect(self):
        from vaelint.runtime.runner import shown_target

        settings = _settings(self.config)
        config = settings.for_file(str(self.path))
        for tc in config.targets_in(str(self.path)):
            name = shown_target(tc.target).rpartition(":")[2] if ":" in tc.target else "script"
            item = VaelintItem.from_parent(self, name=f"vaelint[{name}]", target=tc, target_config=config)
            item.add_marker("vaelint")
            yield item


class VaelintFailure(Exception):
    """A target with findings, or one that could not be checked: its text report."""


class VaelintItem(pytest.Item):
    def __init__(self, *, target, target_config, **kwargs):
        super().__init__(**kwargs)
        self.target, self.target_config = target, target_config

    def runtest(self):
        from vaelint.api import Report, _request
        from vaelint.runtime.runner import check_jobs

        settings = _settings(self.config)
        _unused, request = _request()  # nothing over the configuration
        results, failing = check_jobs(
            [(self.target.target, self.target, self.target_config)], request.options_for, settings, fresh=False, use_cache=True
        )
        report = Report(results)
        if failing or report.error is not None:
            raise VaelintFailure(report.text())

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, VaelintFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, f"vaelint {self.target.target}"
