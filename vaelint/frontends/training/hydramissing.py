"""Hydra's MissingConfigException, said: the config option the code's defaults name that Hydra does
not have, most often a plugin's, with the package that provides it and an option that is there."""

from __future__ import annotations

import re

_HYDRA_MISSING = re.compile(r"Could not (?:find|load) '(?P<group>[\w./-]+)/(?P<option>[\w.-]+)'")


def hydra_plugin(group: str, option: str) -> str:
    """The package of Hydra's plugin that provides ``option`` of ``group``: ``hydra/launcher`` and
    ``hydra/sweeper`` options are named for their kind (hydra-joblib-launcher, hydra-optuna-sweeper),
    logging's ``colorlog`` is hydra-colorlog."""
    kind = group.rpartition("/")[2]
    base = option.split("_")[0]
    return f"hydra-{base}-{kind}" if kind in ("launcher", "sweeper") else f"hydra-{option}"


def hydra_config_missing(text: str) -> str:
    """Hydra's MissingConfigException (an OSError, not a data file): the config option the code's
    defaults name, most often a plugin's (``hydra/job_logging: colorlog`` needs hydra-colorlog)."""
    found = _HYDRA_MISSING.search(text)
    if found is None or not ("Config search path" in text or "MissingConfigException" in text or text.startswith("In '")):
        return ""
    group, option = found.group("group"), found.group("option")
    listed = re.search(rf"Available options in '{re.escape(group)}':\s*\n\s*(\S+)", text)
    other = f' or choose one that is there with --script-args "{group}={listed.group(1)}"' if listed else ""
    plugin = f" (a plugin's: {hydra_plugin(group, option)} is not installed here?)" if group.startswith("hydra/") else ""
    return f" (Hydra has no config {option!r} for {group}{plugin}: install what provides it,{other})"
