"""The rule catalogue: one module per rule (installed as ``vaelint.rules``).

Each module defines one :class:`vaelint.rulebase.Rule` subclass with its page
(what it finds, why it is bad, example, fix) and VALID/INVALID examples that
the test suite runs.
"""

from __future__ import annotations

import importlib
import pkgutil

from vaelint.rulebase import Rule


def rule_codes() -> list[str]:
    """The catalogue's codes, read from its module names (``vae001_noise_shape`` ->
    ``VAE001``) without importing a rule (and so torch): the command line checks
    --select/--ignore with them before a cached result is read."""
    names = sorted(info.name for info in pkgutil.iter_modules(__path__) if info.name.startswith("vae"))
    return [name.split("_", 1)[0].upper() for name in names]


def rule_file(code: str) -> str | None:
    """The file of rule ``code`` (its page and examples), without importing it."""
    import os

    for info in pkgutil.iter_modules(__path__):
        if info.name.split("_", 1)[0].upper() == code:
            return os.path.join(info.module_finder.path, f"{info.name}.py")
    return None


def all_rules() -> list[type[Rule]]:
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("vae"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Rule) and value is not Rule and value.__module__ == module.__name__:
                found.append(value)
    return sorted(found, key=lambda r: r.code)
