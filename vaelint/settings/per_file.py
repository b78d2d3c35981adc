"""The settings of one run: command-line options over ``[tool.vaelint]``, per checked file.

Like ruff, each checked file is governed by the nearest ``pyproject.toml`` above
it that has a ``[tool.vaelint]`` section, else by the current directory's
(``--config PATH`` names one for all, ``--isolated`` reads none); options on
the command line override it.
``--show-settings`` prints the merged values and where each one came from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from vaelint.errors import VaelintError
from vaelint.settings.pyproject import Config, find_pyproject, load_config


@dataclass
class CommandLine:
    """What the command line said about the settings that configuration also holds."""

    select: list[str] = field(default_factory=list)
    extend_select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    extend_ignore: list[str] = field(default_factory=list)
    fail_on: str | None = None
    timeout: float | None = None
    device: str | None = None
    config: str | None = None  # --config PATH
    isolated: bool = False


class Settings:
    """The configuration files a run reads, and the merged values for a target."""

    def __init__(self, cli: CommandLine):
        self.cli = cli
        if cli.config is not None and not os.path.isfile(cli.config):
            raise VaelintError("input", f"--config {cli.config}: no such file.")
        self._cache: dict[str | None, Config] = {}

    def base(self) -> Config:
        """The configuration of the current directory (targets listed there, file-less runs)."""
        if self.cli.isolated:
            return Config()
        return self._load(self.cli.config or find_pyproject())

    def for_file(self, path: str) -> Config:
        if self.cli.isolated:
            return Config()
        if self.cli.config is not None:
            return self._load(self.cli.config)
        found = find_pyproject(os.path.dirname(os.path.abspath(path)))
        config = self._load(found) if found else Config()
        if config.has_section:
            return config
        return self.base()  # no [tool.vaelint] above the file: the current directory's, as ruff does

    def _load(self, path: str | None) -> Config:
        if path not in self._cache:
            self._cache[path] = load_config(path)
        return self._cache[path]

    # merged values --------------------------------------------------------

    def select(self, config: Config) -> list[str] | None:
        base = self.cli.select or config.select
        if self.cli.extend_select:
            return (base or []) + self.cli.extend_select if base else None
        return base

    def ignore(self, config: Config) -> list[str]:
        return (self.cli.ignore or config.ignore) + self.cli.extend_ignore

    def fail_on(self, config: Config) -> str:
        return self.cli.fail_on or config.fail_on

    def timeout(self, config: Config) -> float | None:
        value = self.cli.timeout if self.cli.timeout is not None else config.timeout
        return value or None

    def device(self, config: Config) -> str:
        return self.cli.device or config.device

    def explain(self, config: Config) -> list[tuple[str, str, str]]:
        """(setting, value, where it came from), for --show-settings."""
        default = "default (--isolated)" if self.cli.isolated else "default"

        def source(cli_value, key: str) -> str:
            """The command line, the [tool.vaelint] key that set it, or the default."""
            if cli_value:
                return "command line"
            return f"[tool.vaelint] in {config.path}" if key in config.keys and not self.cli.isolated else default

        rows = [
            ("select", ", ".join(self.select(config) or ["all rules"]), source(self.cli.select or self.cli.extend_select, "select")),
            ("ignore", ", ".join(self.ignore(config)) or "none", source(self.cli.ignore or self.cli.extend_ignore, "ignore")),
            ("fail-on", self.fail_on(config), source(self.cli.fail_on, "fail-on")),
            ("timeout", f"{self.timeout(config):g} s" if self.timeout(config) else "none", source(self.cli.timeout is not None, "timeout")),
            ("device", self.device(config), source(self.cli.device, "device")),
            (
                "per-file-ignores",
                "; ".join(f"{k}: {', '.join(v)}" for k, v in config.per_file_ignores.items()) or "none",
                source(False, "per-file-ignores"),
            ),
            ("targets", ", ".join(t.target for t in config.targets) or "none", source(False, "targets")),
            ("configuration file", config.path or "none", "--config" if self.cli.config else "found" if config.path else "-"),
        ]
        return rows
