"""The rule catalogue: one module per rule (installed as ``vaelint.rules``).

Each module defines one :class:`vaelint.rulebase.Rule` subclass with its page
(what it finds, why it is bad, example, fix) and VALID/INVALID examples that
the test suite runs.
"""

from __future__ import annotations

import importlib
import pkgutil

from vaelint.rulebase import Rule


def own_rule_codes() -> list[str]:
    """The codes of vaelint's own rules, read from its module names (``vae001_noise_shape`` ->
    ``VAE001``) without importing a rule (and so torch)."""
    names = sorted(info.name for info in pkgutil.iter_modules(__path__) if info.name.startswith("vae"))
    return [name.split("_", 1)[0].upper() for name in names]


def rule_codes() -> list[str]:
    """Every rule's code: the command line checks --select/--ignore with them before a cached
    result is read. Plugin packs (vaelint/plugins.py) are imported only where one is installed."""
    from vaelint.plugins import plugin_rule_packs, plugin_rules

    own = own_rule_codes()
    return own + sorted(r.code for r in plugin_rules(own)) if plugin_rule_packs() else own


def rule_file(code: str) -> str | None:
    """The file of rule ``code`` (its page and examples), without importing vaelint's own."""
    import inspect
    import os

    for info in pkgutil.iter_modules(__path__):
        if info.name.split("_", 1)[0].upper() == code:
            return os.path.join(info.module_finder.path, f"{info.name}.py")
    from vaelint.plugins import plugin_rule_packs, plugin_rules

    if plugin_rule_packs():
        for rule in plugin_rules(own_rule_codes()):
            if rule.code == code:
                return inspect.getsourcefile(rule)
    return None


def own_rules() -> list[type[Rule]]:
    from vaelint.plugins import rules_of

    return sorted(rules_of(importlib.import_module(__name__)), key=lambda r: r.code)


def all_rules() -> list[type[Rule]]:
    """vaelint's rules and those of the installed plugin packs (entry points ``vaelint.rules``)."""
    from vaelint.plugins import plugin_rules

    own = own_rules()
    return sorted(own + plugin_rules([r.code for r in own]), key=lambda r: r.code)
