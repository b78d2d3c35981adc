"""The registries a package outside vaelint joins by entry points, as mypy's plugins and
Fixit's rule packs do: vaelint's own rules are registered the same way (pyproject.toml).

* ``vaelint.rules``: NAME = a module or package whose ``Rule`` subclasses are rules (a rule
  pack, each submodule of a package read), or one ``Rule`` class: ``module:Class``.
* ``vaelint.reporters``: NAME = a reporter (vaelint/report/reporters.py, ``Reporter``): a module
  or object with ``render(results, context) -> str``, or a class making one; ``--format NAME``.

A checkout run without its package's metadata still has its own pack: it is always first.
Reading the registry costs no import; loading a pack imports it.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from dataclasses import dataclass

from vaelint.errors import VaelintError

RULES = "vaelint.rules"
OWN_RULES = "vaelint.rules"  # the module of vaelint's own rule pack


@dataclass(frozen=True)
class Registered:
    """One entry of a registry: its name, what it names (``module`` or ``module:attr``), and
    the distribution that registered it (None: vaelint's own, registered or not)."""

    name: str
    value: str
    by: str | None


@functools.cache
def registered(group: str) -> tuple[Registered, ...]:
    """The entries of ``group``: vaelint's own first, then the others by distribution and name."""
    from importlib.metadata import entry_points

    from vaelint.source.frames import readable_import_path

    own, others = [], []
    with readable_import_path():
        found = list(entry_points(group=group))
    for ep in found:
        dist = getattr(ep, "dist", None)
        by = dist.metadata["Name"] if dist is not None else None
        if by is not None and by.lower() == "vaelint":
            own.append(Registered(ep.name, ep.value, None))
        elif (ep.name, ep.value, by) not in {(o.name, o.value, o.by) for o in others}:
            others.append(Registered(ep.name, ep.value, by))
    return tuple(own) + tuple(sorted(others, key=lambda r: (r.by or "", r.name)))


def rule_packs() -> tuple[Registered, ...]:
    """The rule packs: vaelint's own (registered or not: a checkout) and the plugins'."""
    packs = registered(RULES)
    if not any(p.value == OWN_RULES for p in packs):
        packs = (Registered("vaelint", OWN_RULES, None),) + packs
    return packs


def plugin_rule_packs() -> tuple[Registered, ...]:
    return tuple(p for p in rule_packs() if p.value != OWN_RULES)


def load(entry: Registered):
    """What ``entry`` names: a module, or ``module:attr``'s attribute. A plugin that fails to
    import is the user's install to mend: a VaelintError naming it and its distribution."""
    module_name, _, attr = entry.value.partition(":")
    try:
        obj = importlib.import_module(module_name.strip())
        for part in filter(None, attr.strip().split(".")):
            obj = getattr(obj, part)
    except Exception as e:  # noqa: BLE001 - any failure of a plugin's import is said, never a traceback
        by = f" (installed by {entry.by})" if entry.by else ""
        raise VaelintError(
            "usage",
            f"the plugin {entry.name} = {entry.value}{by} could not be loaded: {type(e).__name__}: {e}; "
            "mend or uninstall it (vaelint reads the entry points of every installed package)",
        ) from None
    return obj


def rules_of(obj) -> list[type]:
    """The ``Rule`` subclasses a pack holds: a class itself, a module's own classes, and those
    of each submodule of a package."""
    from vaelint.rulebase import Rule

    if isinstance(obj, type):
        return [obj] if issubclass(obj, Rule) and obj is not Rule else []
    modules = [obj]
    if hasattr(obj, "__path__"):
        for info in sorted(pkgutil.iter_modules(obj.__path__), key=lambda m: m.name):
            if not info.name.startswith("_"):
                modules.append(importlib.import_module(f"{obj.__name__}.{info.name}"))
    found = []
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Rule) and value is not Rule and value.__module__ == module.__name__:
                found.append(value)
    return found


def plugin_rules(own_codes: list[str]) -> list[type]:
    """The rules of every plugin pack, each code once (a plugin cannot take a code another
    rule has: that is a VaelintError naming both)."""
    taken = {code: "vaelint" for code in own_codes}
    out = []
    for pack in plugin_rule_packs():
        for rule in rules_of(load(pack)):
            if rule.code in taken:
                raise VaelintError(
                    "usage",
                    f"the rule {rule.code} of the plugin {pack.name} ({pack.by or pack.value}) has the code of a rule "
                    f"of {taken[rule.code]}: one of them must change its code",
                )
            taken[rule.code] = pack.by or pack.name
            out.append(rule)
    return out


def _plugin_reporters() -> list[Registered]:
    """The entries of ``vaelint.reporters`` that are not vaelint's own formats."""
    from vaelint.report.reporters import OWN, REPORTERS

    return [e for e in registered(REPORTERS) if not (e.by is None and OWN.get(e.name) == e.value)]


def format_names() -> tuple[str, ...]:
    """The output formats: vaelint's own (registered or not: a checkout), then the plugins'
    (a plugin cannot take the name of one of vaelint's: a VaelintError naming it)."""
    from vaelint.report.reporters import OWN

    names = list(OWN)
    for entry in _plugin_reporters():
        if entry.name in names:
            raise VaelintError(
                "usage",
                f"the reporter {entry.name} = {entry.value}{f' (installed by {entry.by})' if entry.by else ''} has the name "
                "of another output format: one of them must change its name",
            )
        names.append(entry.name)
    return tuple(names)


def check_format(name: str) -> str:
    """``name`` when it names an output format; else a VaelintError listing them. vaelint's own
    formats are known without reading the installed packages' entry points."""
    from vaelint.report.reporters import OWN

    if name in OWN:
        return name
    names = format_names()
    if name not in names:
        raise VaelintError("input", f"--format {name!r} is not an output format: one of {', '.join(names)}.")
    return name


def reporter(name: str):
    """The reporter of the output format ``name`` (check_format has accepted it), imported."""
    from vaelint.report.reporters import OWN, Reporter

    if name in OWN:
        return importlib.import_module(OWN[name])
    (entry,) = [e for e in _plugin_reporters() if e.name == name]
    obj = load(entry)
    if isinstance(obj, type):
        obj = obj()
    if not isinstance(obj, Reporter):
        raise VaelintError(
            "usage",
            f"the reporter {entry.name} = {entry.value} (installed by {entry.by or 'an unnamed package'}) has no "
            "render(results, context) method: mend or uninstall it",
        )
    return obj
